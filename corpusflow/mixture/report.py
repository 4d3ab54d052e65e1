"""The mixture report (manifest["mixture"]) and the plan table (no Beam; the dataset card is
:mod:`corpusflow.export.card`).

The report joins what was planned (from the census, before anything was written) with what
was measured in the written shards, so the manifest *proves* the mixture: target vs achieved
tokens, documents and copies per cell and per group, per-shard rows / tokens / bytes / sha256,
and checks that the shards add up to the plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

SHARD_STAT_KEYS = ("file", "rows", "bytes", "sha256", "tokens", "chars", "text_bytes", "max_copy")


def merge_shard_stats(stats: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Sum the per-cell measurements of all shards: ``"source/lang" -> {docs, copies, tokens, chars}``."""
    out: dict[str, dict[str, int]] = {}
    for s in stats:
        for cell, m in s.get("by_cell", {}).items():
            acc = out.setdefault(cell, {"copies": 0, "tokens": 0, "chars": 0, "max_copy": -1})
            acc["copies"] += m["copies"]
            acc["tokens"] += m["tokens"]
            acc["chars"] += m["chars"]
            acc["max_copy"] = max(acc["max_copy"], m["max_copy"])
    return dict(sorted(out.items()))


def build_report(
    plan: dict[str, Any],
    shard_stats: list[dict[str, Any]],
    *,
    tokenizer: dict[str, Any],
    count: dict[str, Any],
    pool: dict[str, Any],
    name: str = "",
) -> dict[str, Any]:
    shards = sorted(shard_stats, key=lambda s: s["file"])
    measured = merge_shard_stats(shards)
    total_tokens = sum(m["tokens"] for m in measured.values())
    unit = plan["unit"]
    cells_out = []
    checks: dict[str, Any] = {}
    mismatches = []
    too_many_copies = []
    for c in plan["cells"]:
        key = f"{c['source']}/{c['lang']}"
        m = measured.get(key, {"copies": 0, "tokens": 0, "chars": 0, "max_copy": -1})
        row = dict(c)
        row["measured_copies"] = m["copies"]
        row["measured_tokens"] = m["tokens"]
        row["measured_chars"] = m["chars"]
        row["measured_max_copies_per_doc"] = m["max_copy"] + 1
        row["measured_share_of_tokens"] = round(m["tokens"] / total_tokens, 6) if total_tokens else 0.0
        if m["copies"] != c["copies_total"] or m["tokens"] != c["achieved_tokens"]:
            mismatches.append(key)
        if m["max_copy"] + 1 > _ceil(c["max_epochs"]):
            too_many_copies.append(key)
        cells_out.append(row)
    groups_out = {}
    for g, gp in plan["groups"].items():
        members = set(gp["cells"])
        tok = sum(m["tokens"] for k, m in measured.items() if k in members)
        chars = sum(m["chars"] for k, m in measured.items() if k in members)
        d = dict(gp)
        d["measured_tokens"] = tok
        d["measured_chars"] = chars
        d["measured_share_of_tokens"] = round(tok / total_tokens, 6) if total_tokens else 0.0
        groups_out[g] = d
    checks["shards_match_plan"] = not mismatches
    if mismatches:
        checks["mismatched_cells"] = mismatches
    checks["max_copies_respected"] = not too_many_copies
    if too_many_copies:
        checks["cells_over_max_epochs"] = too_many_copies
    checks["shard_count"] = len(shards) == plan["num_shards"]
    checks["rows_sum"] = sum(s["rows"] for s in shards) == sum(c["copies_total"] for c in plan["cells"])
    if unit == "tokens":
        checks["max_abs_share_error_pp"] = max(
            (abs(100.0 * (gp["measured_share_of_tokens"] - gp["share"])) for gp in groups_out.values()),
            default=0.0,
        )
    totals = {
        "documents_in_pool": sum(c["docs"] for c in plan["cells"]),
        "documents_selected": sum(c["selected_docs"] for c in plan["cells"]),
        "rows": sum(s["rows"] for s in shards),
        "tokens": total_tokens,
        "chars": sum(s["chars"] for s in shards),
        "text_bytes": sum(s["text_bytes"] for s in shards),
        "file_bytes": sum(s["bytes"] for s in shards),
        "shards": len(shards),
        "min_shard_rows": min((s["rows"] for s in shards), default=0),
        "max_shard_rows": max((s["rows"] for s in shards), default=0),
    }
    return {
        "name": name,
        "tokenizer": tokenizer,
        "count": count,
        "unit": unit,
        "seed": plan["seed"],
        "budget": plan["budget"],
        "on_shortfall": plan["on_shortfall"],
        "total_target": plan["total_target"],
        "total_capacity": plan["total_capacity"],
        "total_achieved": plan["total_achieved"],
        "shrunk_from": plan["shrunk_from"],
        "shortfall": plan["shortfall"],
        "groups": groups_out,
        "cells": cells_out,
        "excluded_cells": plan["excluded_cells"],
        "shuffle": {
            "mode": "global",
            "num_shards": plan["num_shards"],
            "shard_target_bytes": plan["shard_target_bytes"],
            "shard_multiple": plan["shard_multiple"],
            "selection_key": "xxh3_64(seed; 'mix.select', source, id), top 16 bits = bucket",
            "order_key": "xxh3_64(seed; 'mix.order', source, id, copy)",
            "shard": "(order_key * num_shards) >> 64, rows sorted by order_key",
        },
        "totals": totals,
        "shards": [{k: s[k] for k in SHARD_STAT_KEYS if k in s} for s in shards],
        "pool": pool,
        "checks": checks,
    }


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-9)


def _fmt(x: float | int | None) -> str:
    if x is None:
        return "-"
    x = float(x)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.2f}{unit}"
    return f"{x:.0f}"


def plan_table(plan: dict[str, Any]) -> str:
    """Human-readable plan (what ``--dry-run`` prints)."""
    unit = plan["unit"]
    lines = [
        f"budget: {plan['budget']}  target total: {_fmt(plan['total_target'])} {unit}  "
        f"capacity at these shares: {_fmt(plan['total_capacity'])}  planned: {_fmt(plan['total_achieved'])}"
        + (f"  (shrunk from {_fmt(plan['shrunk_from'])})" if plan.get("shrunk_from") else ""),
        f"shards: {plan['num_shards']} (multiple of {plan['shard_multiple']}, target "
        f"{_fmt(plan['shard_target_bytes'])}B of text each)",
        "",
        f"{'source/lang':<28} {'group':<8} {'docs':>9} {'available':>10} {'target':>10} {'rate':>7} "
        f"{'epochs':>10} {'selected':>9} {'copies':>9} {'binding':<10}",
    ]
    for c in plan["cells"]:
        epochs = f"{c['full_copies']}-{c['full_copies'] + 1}" if c["extra_bucket"] else f"{c['full_copies']}"
        lines.append(
            f"{c['source'] + '/' + c['lang']:<28} {c['group'] or '-':<8} {c['docs']:>9} "
            f"{_fmt(c['available']):>10} {_fmt(c['target']):>10} {c['rate']:>7.3f} {epochs:>10} "
            f"{c['selected_docs']:>9} {c['copies_total']:>9} {c['binding'] or '':<10}"
        )
    lines += ["", f"{'group':<8} {'share':>7} {'target':>10} {'planned':>10} {'achieved':>9} {'err pp':>8} "
              f"{'of chars':>9} {'of bytes':>9} {'shortfall':>10}"]
    for g, gp in plan["groups"].items():
        lines.append(
            f"{g:<8} {gp['share']:>7.3f} {_fmt(gp['target']):>10} {_fmt(gp['achieved']):>10} "
            f"{gp['achieved_share']:>9.4f} {gp['error_pp']:>8.3f} {gp['share_of_chars']:>9.4f} "
            f"{gp['share_of_bytes_est']:>9.4f} {_fmt(gp['shortfall']) if gp['shortfall'] else '':>10}"
        )
    if plan["shortfall"]:
        lines += ["", "SHORTFALL:"] + [f"  {m}" for m in plan["shortfall"]]
    if plan["excluded_cells"]:
        lines += ["", "not in any group (kept in the pool, not selected): " + ", ".join(plan["excluded_cells"])]
    return "\n".join(lines)
