"""Rehydration: copies of a kept document by the size of the duplicate cluster it came from (no Beam).

Global dedup keeps one document per cluster and so flattens the web's own signal of what people
copy. FineWeb-2 (Penedo et al. 2025, "FineWeb2: One Pipeline to Scale Them All", section on
rehydration) measured, per language, the share of documents the quality filters remove as a
function of the duplicate-cluster size, found that documents from mid-sized clusters are removed
less often than singletons while very large clusters (templates, spam) are removed more often,
and upsampled the kept documents by their cluster size up to a cap, with per-language weights
derived from those rates. Here:

* dedup records ``meta["cluster_size"]`` on every kept document (exact and near copies counted);
* a mixture group may have a ``copies_by_cluster_size`` table (smallest cluster size of a bucket
  -> copies), given in the config or proposed by :func:`propose_tables` from a run
  (``corpusflow rehydration-weights RUN``);
* the mixture then counts every document as ``copies`` documents in its census and writes
  ``copies x`` the copies the allocation gives its cell, so the plan, computed on the rehydrated
  census, still meets each group's token target (see :mod:`corpusflow.stages.mixture`).

The proposal rule (:func:`propose_tables`): a bucket whose documents pass the filters at least as
often as the language's documents overall gets as many copies as its smallest cluster size (the
documents the cluster had, never more), capped at ``max_copies``; a bucket whose documents pass
less often than average gets 1 copy. Everything is a pure function of the counts: deterministic.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field, field_validator

from corpusflow.core.model import StrictModel

#: Smallest cluster size of each bucket of the report and of proposed tables.
DEFAULT_BUCKETS: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 50, 100, 1000)
META_CLUSTER_SIZE = "cluster_size"
META_FILTER_REASONS = "filter_reasons"


class RehydrationConfig(StrictModel):
    """``stages.mixture.rehydration``: copies of a document by the size of its duplicate cluster."""

    enabled: bool = False
    copies_by_cluster_size: dict[str, dict[int, int]] = Field(
        default_factory=dict, description="Group key -> {smallest cluster size of a bucket: copies}; a "
        "document gets the copies of the largest bound <= its cluster size. Groups without a table: 1.")

    @field_validator("copies_by_cluster_size")
    @classmethod
    def _check(cls, v: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
        for group, table in v.items():
            if not table:
                raise ValueError(f"{group}: empty table")
            if 1 not in table:
                raise ValueError(f"{group}: the table needs an entry for cluster size 1 (a singleton)")
            for size, copies in table.items():
                if size < 1 or copies < 1 or copies > 1000:
                    raise ValueError(f"{group}: {size}: {copies}: sizes and copies must be >= 1 (copies <= 1000)")
        return v


class CopyTable:
    """Lookup of copies by group and cluster size (a sorted list of bounds per group)."""

    def __init__(self, tables: Mapping[str, Mapping[int, int]]) -> None:
        self._bounds = {g: sorted(t) for g, t in tables.items()}
        self._copies = {g: [t[b] for b in sorted(t)] for g, t in tables.items()}

    def copies(self, group: str, cluster_size: int) -> int:
        bounds = self._bounds.get(group)
        if bounds is None:
            return 1
        i = bisect.bisect_right(bounds, max(int(cluster_size), 1)) - 1
        return self._copies[group][max(i, 0)]


def cluster_size_of(meta: dict[str, Any] | str | None) -> int:
    """``cluster_size`` of a pool row's ``metadata`` (the struct as a dict, or the JSON string of
    a pool written before the struct); 1 when absent: no dedup, or a singleton."""
    if not meta:
        return 1
    if isinstance(meta, str):
        if META_CLUSTER_SIZE not in meta:
            return 1
        try:
            return int(json.loads(meta).get(META_CLUSTER_SIZE, 1))
        except (ValueError, TypeError, AttributeError):
            return 1
    size = meta.get(META_CLUSTER_SIZE)
    return 1 if size is None else int(size)


def bucket_label(size: int, buckets: tuple[int, ...] = DEFAULT_BUCKETS) -> str:
    i = bisect.bisect_right(buckets, max(size, 1)) - 1
    lo = buckets[max(i, 0)]
    hi = buckets[i + 1] - 1 if i + 1 < len(buckets) else None
    return f"{lo}" if hi == lo else (f"{lo}-{hi}" if hi is not None else f"{lo}+")


def filter_rates(rows: Iterable[tuple[str, int, bool]],
                 buckets: tuple[int, ...] = DEFAULT_BUCKETS) -> dict[str, dict[str, dict[str, Any]]]:
    """Per language and cluster-size bucket: documents, documents the filters would remove, rate.

    ``rows`` are ``(lang, cluster_size, removed_by_filters)``; the overall row of a language is
    under the key ``"all"``.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for lang, size, removed in rows:
        for key in (bucket_label(size, buckets), "all"):
            c = out.setdefault(lang, {}).setdefault(key, {"docs": 0, "removed": 0})
            c["docs"] += 1
            c["removed"] += int(bool(removed))
    for per in out.values():
        for c in per.values():
            c["removal_rate"] = round(c["removed"] / c["docs"], 4) if c["docs"] else 0.0
    order = {bucket_label(b, buckets): i for i, b in enumerate(buckets)}
    return {lang: dict(sorted(per.items(), key=lambda kv: order.get(kv[0], len(order))))
            for lang, per in sorted(out.items())}


def propose_tables(rates: Mapping[str, Mapping[str, Mapping[str, Any]]], *, max_copies: int = 5,
                   min_docs: int = 20, buckets: tuple[int, ...] = DEFAULT_BUCKETS) -> dict[str, dict[int, int]]:
    """``copies_by_cluster_size`` per language from :func:`filter_rates` (rule in the module doc).

    Buckets with fewer than ``min_docs`` documents keep 1 copy (a rate from a handful of
    documents says nothing).
    """
    tables: dict[str, dict[int, int]] = {}
    for lang, per in rates.items():
        overall = per.get("all", {}).get("removal_rate", 0.0)
        table: dict[int, int] = {}
        for b in buckets:
            c = per.get(bucket_label(b, buckets))
            copies = 1
            if c is not None and c["docs"] >= min_docs and c["removal_rate"] <= overall:
                copies = min(max_copies, b)
            table[b] = copies
        tables[lang] = table
    return tables


def row_weights(cfg: Any, sources: list[str], langs: list[str | None], metas: list[Any]) -> list[int] | None:
    """Copies of each pool row under ``cfg`` (a MixtureStageConfig), or None when rehydration is off."""
    rh = cfg.rehydration
    if not rh.enabled:
        return None
    table = CopyTable(rh.copies_by_cluster_size)
    by_source = cfg.group_by == "source"
    return [table.copies(s if by_source else (lg or "und"), cluster_size_of(m))
            for s, lg, m in zip(sources, langs, metas, strict=True)]


def repeat_columns(weights: list[int] | None, *cols: Any) -> tuple[Any, ...]:
    """Each column with every row repeated by its weight (unchanged when ``weights`` is None)."""
    if weights is None:
        return cols
    import numpy as np  # lazy: heavy or optional dependency, loaded only when used

    w = np.asarray(weights, dtype=np.int64)
    out: list[Any] = []
    for c in cols:
        if isinstance(c, np.ndarray):
            out.append(np.repeat(c, w))
        else:
            out.append([v for v, k in zip(c, weights, strict=True) for _ in range(k)])
    return tuple(out)
