"""The dataset card (``RUN/README.md``) of any finished run, built from its ``manifest.json``.

:func:`write_dataset_card` reads the manifest of a finished run (with or without a mixture)
and writes a Hugging Face dataset card: YAML front matter (``configs`` for ``data/train-*``,
languages, licence when the sources declare one), the sources with their licence and
provenance as the config declares them, per-source and per-stage counts, the stage settings,
the mixture (tokenizer, target vs achieved shares, tokens per group and per source), the
shards, and how to load the output with Hugging Face ``datasets``, pandas/pyarrow and
Megatron-LM (through ``corpusflow export``).

Licence and provenance of a source are read from its config entry, under any of the keys in
:data:`PROVENANCE_KEYS` (top level or inside a ``card:`` mapping); a source that declares
none is listed as "not declared", never guessed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from corpusflow.core.schemas import DOC_SCHEMA, TRAIN_SCHEMA, TRAIN_SCHEMA_TOKEN_IDS
from corpusflow.io import filesystems as fs

CARD_NAME = "README.md"
LICENSE_KEYS = ("license", "licence")
PROVENANCE_KEYS = ("provenance", "homepage", "citation", "description", "collected", "terms")


def _source_decl(src: dict[str, Any]) -> dict[str, str]:
    """Licence and provenance fields a config source declares (``card:`` mapping or top level)."""
    merged: dict[str, Any] = {}
    card = src.get("card")
    for where in (src, card if isinstance(card, dict) else {}):
        for k in (*LICENSE_KEYS, *PROVENANCE_KEYS):
            v = where.get(k)
            if v not in (None, "", [], {}):
                merged["license" if k in LICENSE_KEYS else k] = v
    return {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in merged.items()}


def _cell(text: Any) -> str:
    """A value safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _settings(cfg: dict[str, Any]) -> str:
    parts = []
    for k, v in cfg.items():
        if k == "enabled" or v in (None, [], {}):
            continue
        text = v if isinstance(v, str | int | float | bool) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        parts.append(f"`{k}`={text}")
    return "; ".join(parts)


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _num(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else str(x)


def _card_languages(by_source: dict[Any, Any], mixture: dict[str, Any]) -> list[str]:
    """Decide the card's languages: those the mixture wrote rows for, else those with kept documents."""
    langs = sorted({lang for s in by_source.values() for lang, n in (s.get("kept_by_lang") or {}).items()
                    if n and lang not in ("und", None)})
    if mixture.get("cells"):
        langs = sorted({c["lang"] for c in mixture["cells"] if c.get("measured_copies") and c["lang"] != "und"}
                       ) or langs
    return langs


def _front_matter(name: str, langs: list[str], licenses: list[str], decl: dict[Any, dict[str, str]]) -> list[str]:
    """Decide the YAML front matter and title: data files, languages and the licence (one, other or none)."""
    all_declared = bool(decl) and all(d.get("license") for d in decl.values())
    lines = ["---", "configs:", "- config_name: default", "  data_files:", "  - split: train",
             "    path: data/train-*"]
    if langs:
        lines += ["language:", *[f"- {lang}" for lang in langs]]
    if all_declared and len(licenses) == 1:
        lines.append(f"license: {licenses[0]}")
    elif licenses:
        lines.append("license: other")
    lines += ["---", "", f"# {name}", ""]
    return lines


def _intro_lines(manifest: dict[str, Any], upstream: dict[str, Any] | None, cfg: dict[str, Any],
                 total: dict[str, Any], mixture: dict[str, Any], data: list[dict[str, Any]]) -> list[str]:
    """Decide the opening paragraph: what the data is, where a re-mix came from, version and totals."""
    lines = []
    rows = sum(int(s.get("rows", 0)) for s in data)
    if mixture:
        lines.append(
            "Pretraining text built by corpusflow: documents that passed language identification, quality "
            "filters and deduplication, sampled to token targets and globally shuffled into "
            f"{len(data)} Parquet shard(s) (`data/`), {rows:,} rows.")
    else:
        lines.append(
            "Pretraining text built by corpusflow: the documents that passed language identification, quality "
            f"filters and deduplication, in {len(data)} Parquet shard(s) (`data/`), {rows:,} rows.")
    if manifest.get("kind") == "mix":
        up = manifest.get("upstream") or {}
        lines += ["", f"Re-mixed by `corpusflow mix` from the pool of `{manifest.get('from')}` (run "
                  f"{up.get('name')!r}, config hash `{up.get('config_hash')}`)"
                  + ("; sources, counts and stage settings below are that run's." if upstream is not None
                     else "; that run's manifest was not readable, so its sources are not listed.")]
    lines += [
        "",
        f"* corpusflow {manifest.get('corpusflow_version', '?')}, config hash `{manifest.get('config_hash', '?')}`, "
        f"seed {manifest.get('seed', cfg.get('seed', '?'))}; `manifest.json` holds the resolved config, every "
        "count and each shard's sha256.",
        f"* Input: {_num(total.get('input', 0))} documents; kept {_num(total.get('kept', 0))}, rejected "
        f"{_num(total.get('rejected', 0))}, duplicates {_num(total.get('duplicates', 0))}, errors "
        f"{_num(total.get('errors', 0))} (every document accounted for: {total.get('conserved')}).",
        "",
    ]
    return lines


def _sources_lines(sources: list[dict[str, Any]], by_source: dict[Any, Any], decl: dict[Any, dict[str, str]],
                   licenses: list[str]) -> list[str]:
    """Decide the sources table: paths, licence and provenance as declared, and each source's counts."""
    lines = ["## Sources", ""]
    src_rows = []
    for s in sources:
        n = s.get("name")
        c = by_source.get(n, {})
        d = decl.get(n, {})
        prov = "; ".join(f"{k}: {v}" for k, v in d.items() if k != "license") or "not declared"
        src_rows.append([n, ", ".join(s.get("paths") or []), s.get("lang") or "auto", d.get("license", "not declared"),
                         prov, _num(c.get("input", 0)), _num(c.get("kept", 0)), _num(c.get("rejected", 0)),
                         _num(c.get("duplicates", 0)), _num(c.get("errors", 0))])
    for n, c in by_source.items():  # sources the config does not list (e.g. --input)
        if n not in decl:
            src_rows.append([n, "", "auto", "not declared", "not declared", _num(c.get("input", 0)),
                             _num(c.get("kept", 0)), _num(c.get("rejected", 0)), _num(c.get("duplicates", 0)),
                             _num(c.get("errors", 0))])
    lines += _table(["source", "paths", "lang", "licence", "provenance", "input", "kept", "rejected", "duplicates",
                     "errors"], src_rows)
    if not licenses:
        lines += ["", "No source declares a licence in the config (`sources[].license`): check the terms of "
                  "each source before redistributing."]
    return lines


def _processing_lines(base: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """Decide the processing section: per-stage counts and each configured stage's settings."""
    lines = ["", "## Processing", ""]
    stage_cfg = cfg.get("stages") or {}
    st_rows = []
    for st in base.get("stages") or []:
        bs = st.get("by_source") or {}
        n_in = sum(v.get("in", 0) for v in bs.values())
        n_out = sum(v.get("out", 0) for v in bs.values())
        rej = sum(sum((v.get("rejected") or {}).values()) for v in bs.values())
        dup = sum(v.get("duplicates", 0) for v in bs.values())
        st_rows.append([st["stage"], _num(n_in), _num(n_out), _num(rej), _num(dup)])
    if st_rows:
        lines += [*_table(["stage", "in", "out", "rejected", "duplicates"], st_rows), ""]
    set_rows = [[name_, "on" if sc.get("enabled", True) else "off", _settings(sc) if sc.get("enabled", True) else ""]
                for name_, sc in stage_cfg.items() if isinstance(sc, dict)]
    lines += _table(["stage", "enabled", "settings"], set_rows)
    return lines


def _mixture_lines(mixture: dict[str, Any]) -> list[str]:
    """Decide the mixture section: tokenizer, budget and totals, per-group and per-cell tables, shortfalls."""
    tok = mixture.get("tokenizer") or {}
    t = mixture.get("totals") or {}
    lines = [
        "",
        "## Mixture",
        "",
        f"* Tokenizer: **{tok.get('name')}** ({tok.get('kind')}, `{tok.get('path')}`, vocab "
        f"{_num(tok.get('vocab_size'))}, sha256 `{tok.get('sha256', '')}`, EOS counted: {tok.get('add_eos')}); "
        f"counting mode `{(mixture.get('count') or {}).get('mode')}`.",
        f"* Budget `{mixture.get('budget')}` {mixture.get('unit')}; {_num(t.get('tokens', 0))} tokens in "
        f"{_num(t.get('rows', 0))} rows ({_num(t.get('documents_selected', 0))} distinct documents of "
        f"{_num(t.get('documents_in_pool', 0))} kept).",
        "",
    ]
    lines += _table(["group", "target share", "achieved share (tokens)", "tokens", "chars"], [
        [g, f"{gp.get('share', 0):.4f}", f"{gp.get('measured_share_of_tokens', 0):.4f}",
         _num(gp.get("measured_tokens", 0)), _num(gp.get("measured_chars", 0))]
        for g, gp in (mixture.get("groups") or {}).items()])
    lines.append("")
    lines += _table(["source", "lang", "group", "docs kept", "rate", "rows", "tokens"], [
        [c["source"], c["lang"], c.get("group") or "-", _num(c.get("docs", 0)), f"{c.get('rate', 0):.4f}",
         _num(c.get("measured_copies", 0)), _num(c.get("measured_tokens", 0))]
        for c in mixture.get("cells") or []])
    if mixture.get("shortfall"):
        lines += ["", "**Shortfall:**", ""] + [f"* {m}" for m in mixture["shortfall"]]
    return lines


def columns_line(mixture: bool, *, token_ids: bool = False) -> str:
    """The card's column list, from the schema the shards were written with (core/schemas.py)."""
    schema = TRAIN_SCHEMA_TOKEN_IDS if mixture and token_ids else TRAIN_SCHEMA if mixture else DOC_SCHEMA
    notes = {
        "n_tokens": " (in the tokenizer above)",
        "copy": " (0 for a document's first occurrence, 1.. for repeats; `id` + `copy` is unique)",
        "metadata": " (struct: typed fields for the keys corpusflow writes, e.g. `cluster_size`, "
                    "`filter_reasons`, WARC provenance; `extra`: the input's own fields as JSON)",
        "signals": " (JSON: the filters' measurements)",
        "token_ids": " (the ids the run counted, no EOS; `corpusflow export` uses them)",
    }
    return "Columns: " + ", ".join(f"`{f.name}`{notes.get(f.name, '')}" for f in schema) + "."


def _files_lines(data: list[dict[str, Any]], mixture: dict[str, Any]) -> list[str]:
    """Decide the files section: each shard's rows, bytes and sha256, and the columns of this kind of run."""
    lines = ["", "## Files", ""]
    lines += _table(["file", "rows", "bytes", "sha256"],
                    [[s.get("file"), _num(s.get("rows", 0)), _num(s.get("bytes", 0)), f"`{s.get('sha256', '')}`"]
                     for s in data])
    ids = bool((mixture.get("count") or {}).get("keep_token_ids"))
    lines += ["", columns_line(bool(mixture), token_ids=ids)]
    return lines


def _how_to_load_lines(mixture: dict[str, Any]) -> list[str]:
    """Decide the loading recipes (datasets, pandas, Megatron; the export asks for a tokenizer without a mixture)."""
    tok_name = (mixture.get("tokenizer") or {}).get("name")
    return [
        "",
        "## How to load",
        "",
        "Hugging Face `datasets` (this folder, or a Hub copy of it):",
        "",
        "```python",
        "from datasets import load_dataset",
        "ds = load_dataset(\"parquet\", data_files=\"data/train-*.parquet\", split=\"train\")",
        "```",
        "",
        "pandas / pyarrow:",
        "",
        "```python",
        "import json",
        "import pandas as pd",
        "df = pd.read_parquet(\"data/\")            # or pyarrow.dataset.dataset(\"data/\")",
        "extra = df.metadata.map(lambda m: json.loads(m[\"extra\"]))  # metadata is a struct (dict); extra is JSON",
        "```",
        "",
        "Megatron-LM: export token ids as indexed datasets and the blend weights, then train on them:",
        "",
        "```bash",
        f"corpusflow export . --format megatron{'' if tok_name else ' --tokenizer TOKENIZER'} --output megatron/",
        "pretrain_gpt.py ... --data-args-path megatron/data_path.txt",
        "```",
        "",
        "(`--per group` gives one dataset per mixture group, weighted by its tokens; `--format jsonl` writes "
        "JSONL.zst shards with the same rows.)",
        "",
    ]


def dataset_card_text(manifest: dict[str, Any], upstream: dict[str, Any] | None = None) -> str:
    """The card of the run described by ``manifest`` (a dict of ``manifest.json``). For a
    ``corpusflow mix`` output, ``upstream`` is the manifest of the run whose pool it re-mixed:
    its sources, counts and stage settings describe where the documents came from."""
    base = upstream if upstream is not None else manifest
    cfg = base.get("config") or {}
    counts = base.get("counts") or {}
    by_source = counts.get("by_source") or {}
    total = counts.get("total") or {}
    mixture = manifest.get("mixture") or {}
    data = (manifest.get("outputs") or {}).get("data") or []
    sources = cfg.get("sources") or []
    decl = {s.get("name"): _source_decl(s) for s in sources}

    name = manifest.get("name") or cfg.get("name") or "corpusflow dataset"
    licenses = sorted({d["license"] for d in decl.values() if d.get("license")})
    lines = _front_matter(name, _card_languages(by_source, mixture), licenses, decl)
    lines += _intro_lines(manifest, upstream, cfg, total, mixture, data)
    lines += _sources_lines(sources, by_source, decl, licenses)
    lines += _processing_lines(base, cfg)
    if mixture:
        lines += _mixture_lines(mixture)
    lines += _files_lines(data, mixture)
    lines += _how_to_load_lines(mixture)
    return "\n".join(lines)


def _read_manifest(run_dir: str) -> dict[str, Any]:
    return json.loads(fs.read_bytes(fs.join(run_dir, "manifest.json")).decode("utf-8"))


def write_dataset_card(run_dir: str) -> str:
    """Write ``RUN/README.md`` from ``RUN/manifest.json``; returns the card's path. For a
    ``corpusflow mix`` output the upstream run's manifest (``manifest["from"]``) is read too
    when it is still there."""
    manifest = _read_manifest(run_dir)
    upstream = None
    if manifest.get("kind") == "mix" and manifest.get("from"):
        try:
            upstream = _read_manifest(manifest["from"])
        except (OSError, ValueError):
            upstream = None
    path = fs.join(run_dir, CARD_NAME)
    fs.write_bytes_atomic(path, dataset_card_text(manifest, upstream).encode("utf-8"))
    return path


if __name__ == "__main__":  # pragma: no cover - python -m corpusflow.export.card RUN
    import sys

    for d in sys.argv[1:]:
        print(write_dataset_card(os.fspath(d)))
