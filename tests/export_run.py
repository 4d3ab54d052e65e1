"""A small finished run on disk (training shards + manifest), without Beam, for the export tests.

Rows are written with the real training schema (``corpusflow.mixture.pool.train_table``) and
``n_tokens`` counted by the real tokenizer, so the export's checks are exercised as on a run.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from corpusflow.core.schemas import shard_name
from corpusflow.mixture.pool import pool_row, train_table
from corpusflow.mixture.tokenizers import load_tokenizer

JA = ["吾輩は猫である。名前はまだ無い。", "どこで生れたかとんと見当がつかぬ。", "東京都の天気は晴れです。",
      "機械学習のための日本語コーパスを構築します。", "「こんにちは」と彼は言った。😀"]
EN = ["The quick brown fox jumps over the lazy dog.", "Pretraining data needs careful filtering.",
      "Tokens per character differ by language.", "It was the best of times, it was the worst of times."]
CELLS = [("ja_wiki", "ja", "ja"), ("ja_cc", "ja", "ja"), ("en_c4", "en", "en")]


def make_run(root: Path, *, tokenizer: str = "llm-jp-v3.1", n_docs: int = 60, n_shards: int = 3,
             seed: int = 0, add_eos: bool = False, licenses: dict[str, str] | None = None) -> Path:
    """Write ``root/data/train-*.parquet`` and ``root/manifest.json``; returns ``root``."""
    rng = random.Random(seed)
    tok = load_tokenizer({"path": load_tokenizer(tokenizer).spec.path, "name": tokenizer, "add_eos": add_eos})
    rows: list[tuple[int, tuple[Any, ...]]] = []
    for i in range(n_docs):
        source, lang, _group = CELLS[i % len(CELLS)]
        pieces = JA if lang == "ja" else EN
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        copy = 1 if i % 11 == 5 else 0  # a few repeats, as a mixture with multipliers writes
        r = pool_row(f"{source}-{i // 2}", text, source, lang, 0.9, f"https://example.org/{i}",
                     {"title": f"t{i}"}, {"q": 0.5}, "in.jsonl", i, n_tokens=int(tok.count([text])[0]))
        rows.append((copy, r))
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    outputs = []
    per = -(-n_docs // n_shards)
    for s in range(n_shards):
        part = rows[s * per : (s + 1) * per]
        name = shard_name("train", s, n_shards)
        pq.write_table(train_table(part), data / name, compression="zstd")
        blob = (data / name).read_bytes()
        outputs.append({"file": name, "rows": len(part), "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()})
    tokens = sum(r[8] for _c, r in rows)
    cells = []
    for source, lang, group in CELLS:
        mine = [r for _c, r in rows if r[2] == source]
        cells.append({"source": source, "lang": lang, "group": group, "docs": len(mine), "rate": 1.0,
                      "measured_copies": len(mine), "measured_tokens": sum(r[8] for r in mine)})
    groups = {}
    for g in ("ja", "en"):
        t = sum(c["measured_tokens"] for c in cells if c["group"] == g)
        groups[g] = {"share": 0.5, "measured_share_of_tokens": t / tokens, "measured_tokens": t, "measured_chars": 0}
    sources = [{"name": s, "paths": [f"{s}/*.jsonl.gz"], "lang": la, **({"license": licenses[s]} if licenses and s in licenses else {})}
               for s, la, _g in CELLS]
    manifest = {
        "corpusflow_version": "test", "name": "export-test", "status": "complete", "config_hash": "0" * 64,
        "seed": seed,
        "counts": {"total": {"input": n_docs, "kept": n_docs, "rejected": 0, "duplicates": 0, "errors": 0,
                             "conserved": True},
                   "by_source": {s: {"input": n_docs // 3, "kept": n_docs // 3, "kept_by_lang": {la: n_docs // 3}}
                                 for s, la, _g in CELLS}},
        "stages": [],
        "outputs": {"data": outputs},
        "mixture": {"tokenizer": tok.info(), "count": {"mode": "exact"}, "unit": "tokens", "budget": "all",
                    "groups": groups, "cells": cells,
                    "totals": {"tokens": tokens, "rows": n_docs, "documents_selected": n_docs,
                               "documents_in_pool": n_docs}},
        "config": {"name": "export-test", "sources": sources,
                   "stages": {"mixture": {"enabled": True, "tokenizer": tok.spec.model_dump(mode="json")}}},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return root


def read_rows(run: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted((run / "data").glob("train-*.parquet")):
        out += pq.read_table(f).to_pylist()
    return out


def make_plain_run(root: Path, *, n_docs: int = 20) -> Path:
    """A run without a mixture: ``data/`` holds document rows (DOC_SCHEMA), no token counts."""
    import pyarrow as pa

    from corpusflow.core.document import Document
    from corpusflow.core.schemas import DOC_SCHEMA, doc_row

    rng = random.Random(1)
    docs = []
    for i in range(n_docs):
        source, lang, _g = CELLS[i % len(CELLS)]
        text = " ".join(rng.choice(JA if lang == "ja" else EN) for _ in range(3))
        docs.append(doc_row(Document(id=f"d{i}", text=text, source=source, lang=lang, lang_score=0.9,
                                     url=f"https://example.org/{i}", meta={"k": i}, signals={"s": 0.5},
                                     file="in.jsonl", line=i)))
    (root / "data").mkdir(parents=True, exist_ok=True)
    name = shard_name("train", 0, 1)
    pq.write_table(pa.Table.from_pylist(docs, schema=DOC_SCHEMA), root / "data" / name)
    blob = (root / "data" / name).read_bytes()
    manifest = {
        "name": "plain", "status": "complete",
        "counts": {"total": {"input": n_docs, "kept": n_docs}, "by_source": {}},
        "outputs": {"data": [{"file": name, "rows": n_docs, "bytes": len(blob),
                              "sha256": hashlib.sha256(blob).hexdigest()}]},
        "config": {"name": "plain", "sources": [], "stages": {}},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root
