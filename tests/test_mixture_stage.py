"""The Beam mixture stage (MixDocuments) on real JA/EN text: shares, schema, shuffle, pool,
determinism across runs and runners, seed / re-shard behaviour, upsampling, estimate mode."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from corpusflow.core.document import Document
from corpusflow.mixture.config import MixtureStageConfig
from corpusflow.mixture.pool import POOL_SCHEMA, TRAIN_SCHEMA, order_key, shard_of
from corpusflow.stages.mixture import MixDocuments
from tests.conftest import read_jsonl

pytestmark = pytest.mark.shared_data  # every test here needs ../shared (corpora or bench scripts)

SEED = 5


@pytest.fixture(scope="module")
def docs(shared_data: Path) -> list[Document]:
    out: list[Document] = []
    for name, path, lang, n in (
        ("ja_wiki", "ja/ja_wiki_paragraphs.jsonl.gz", "ja", 500),
        ("ja_web", "ja/kwdlc_leads.jsonl", "ja", 400),
        ("en_news", "en/abc_news.jsonl.gz", "en", 300),
        ("en_c4", "en/c4_sample.jsonl.gz", "en", 200),
    ):
        for i, r in enumerate(read_jsonl(shared_data / path, limit=n)):
            out.append(Document(id=f"{name}-{i}", text=r["text"], source=name, lang=lang, lang_score=0.93,
                                url=r.get("url"), meta={"k": i % 3}, file=path, line=i + 1))
    return out


def mix(docs: list[Document], out: Path, *, seed: int = SEED, mode: str = "in_memory",
        shared_fs: bool = True, **cfg) -> dict:
    from corpusflow.stages.mixture import _write_report as _stash

    mcfg = MixtureStageConfig.model_validate({"enabled": True, "row_group_rows": 100, **cfg})
    argv = ["--runner=FnApiRunner", f"--shared_filesystem={'true' if shared_fs else 'false'}"]
    if mode != "in_memory":
        argv += [f"--direct_running_mode={mode}", "--direct_num_workers=2"]
    with beam.Pipeline(options=PipelineOptions(argv)) as p:
        report, _shards = p | beam.Create(docs) | MixDocuments(mcfg, seed, str(out))
        report | beam.Map(_stash, path=str(out / "report.json"))
    return json.loads((out / "report.json").read_text())


def shards(out: Path, sub: str = "data") -> list[Path]:
    return sorted((out / sub).glob("*.parquet"))


def rows(out: Path) -> list[dict]:
    r: list[dict] = []
    for f in shards(out):
        r.extend(pq.read_table(f).to_pylist())
    return r


def digests(out: Path, sub: str = "data") -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in shards(out, sub)}


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, docs) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("mix") / "a"
    return out, mix(docs, out)


def test_shares_schema_order_and_manifest(base_run, docs) -> None:
    out, rep = base_run
    data = rows(out)
    tokens = Counter()
    for r in data:
        tokens[r["lang"]] += r["n_tokens"]
    share_ja = tokens["ja"] / (tokens["ja"] + tokens["en"])
    assert abs(share_ja - 0.8) < 0.005  # recomputed from the shards
    assert abs(rep["groups"]["ja"]["measured_share_of_tokens"] - share_ja) < 1e-6
    assert rep["checks"]["shards_match_plan"] and rep["checks"]["rows_sum"] and rep["checks"]["shard_count"]
    n = rep["shuffle"]["num_shards"]
    files = shards(out)
    assert [f.name for f in files] == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    for f, info in zip(files, rep["shards"], strict=True):
        pf = pq.ParquetFile(f)
        assert pf.schema_arrow == TRAIN_SCHEMA
        assert pf.metadata.row_group(0).column(1).compression == "ZSTD"
        assert all(pf.metadata.row_group(i).num_rows <= 100 for i in range(pf.num_row_groups))
        assert info["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest() and info["rows"] == pf.metadata.num_rows
        t = pf.read().to_pylist()
        keys = [order_key(SEED, r["source"], r["id"], r["copy"]) for r in t]
        assert keys == sorted(keys)  # sorted by shuffle key ...
        i = int(f.name[6:11])
        assert all(shard_of(k, n) == i for k in keys)  # ... and in the shard of its key range
    # the token counts are the tokenizer's
    from corpusflow.mixture.tokenizers import load_tokenizer

    tok = load_tokenizer("llm-jp-v3.1")
    sample = data[:40]
    assert [r["n_tokens"] for r in sample] == list(tok.count([r["text"] for r in sample]))
    assert all(r["n_chars"] == len(r["text"]) for r in sample)
    assert data[0]["lang_score"] == 0.93 and data[0]["metadata"]["extra"] != "{}"
    # the pool holds every document once, with its count; pool/_pool.json describes it
    pool = [r for f in shards(out, "pool") for r in pq.read_table(f).to_pylist()]
    assert pq.read_schema(shards(out, "pool")[0]) == POOL_SCHEMA
    assert sorted(r["id"] for r in pool) == sorted(d.id for d in docs)
    meta = json.loads((out / "pool" / "_pool.json").read_text())
    assert meta["documents"] == len(docs) and meta["tokenizer"]["name"] == "llm-jp-v3.1"
    # the dataset card is written with the manifest, by the run directory (tests/test_export_card.py)
    assert not (out / "README.md").exists()


@pytest.mark.parametrize("shared_fs", [True, False])
def test_deterministic_across_runs_and_both_paths(base_run, docs, tmp_path, shared_fs) -> None:
    """Local run files (shared file system) and the shuffle through the runner give the same bytes."""
    out, _ = base_run
    again = mix(docs, tmp_path / "b", shared_fs=shared_fs)
    assert again["totals"] == json.loads((out / "report.json").read_text())["totals"]
    assert digests(tmp_path / "b") == digests(out)
    assert digests(tmp_path / "b", "pool") == digests(out, "pool")


@pytest.mark.slow
def test_deterministic_multi_processing(base_run, docs, tmp_path) -> None:
    out, _ = base_run
    mix(docs, tmp_path / "mp", mode="multi_processing")
    assert digests(tmp_path / "mp") == digests(out)
    assert digests(tmp_path / "mp", "pool") == digests(out, "pool")


def test_seed_changes_selection_reshard_does_not(base_run, docs, tmp_path) -> None:
    out, rep = base_run
    base = [(r["id"], r["copy"]) for r in rows(out)]
    other = mix(docs, tmp_path / "seed", seed=SEED + 1)
    sel_other = {(r["id"], r["copy"]) for r in rows(tmp_path / "seed")}
    assert sel_other != set(base)
    assert abs(other["groups"]["ja"]["measured_share_of_tokens"] - 0.8) < 0.005
    n = rep["shuffle"]["num_shards"]
    mix(docs, tmp_path / "reshard", shards={"num_shards": 2 * n + 3})
    resharded = [(r["id"], r["copy"]) for r in rows(tmp_path / "reshard")]
    assert len(shards(tmp_path / "reshard")) == 2 * n + 3
    assert resharded == base  # same selection, and the same global order read shard by shard


def test_upsampling_with_max_epochs_and_shortfall_report(base_run, docs, tmp_path) -> None:
    out = tmp_path / "up"
    # EN (20 %) would need 3x what it has; max_epochs 2 caps it; JA may repeat up to 20 times.
    en_tokens = sum(c["tokens"] for c in base_run[1]["cells"] if c["lang"] == "en")
    budget = int(en_tokens / 0.2 * 3)
    sources = {s: {"max_epochs": 2} for s in ("en_news", "en_c4")} | {
        s: {"max_epochs": 20} for s in ("ja_wiki", "ja_web")}
    rep = mix(docs, out, budget=budget, sources=sources, on_shortfall="report")
    data = rows(out)
    per_doc = Counter(r["id"] for r in data)
    assert max(per_doc.values()) <= 20
    assert max(n for i, n in per_doc.items() if i.startswith("en")) == 2
    assert len(rep["shortfall"]) == 1 and "group 'en'" in rep["shortfall"][0]
    assert rep["groups"]["en"]["shortfall"] > 0 and rep["checks"]["max_copies_respected"]
    # repeated documents land in different shards (independent keys): most pairs are split
    shard_of_copy: dict[str, set[str]] = {}
    for f in shards(out):
        for r in pq.read_table(f, columns=["id"]).to_pylist():
            shard_of_copy.setdefault(r["id"], set()).add(f.name)
    repeated = [i for i, n in per_doc.items() if n == 2]
    split = sum(1 for i in repeated if len(shard_of_copy[i]) == 2)
    assert split / len(repeated) > 0.7

    # on_shortfall: fail keeps the pool (every document, once) and writes no training shard.
    failed = mix(docs, tmp_path / "fail", budget=budget, sources=sources, on_shortfall="fail")
    assert not (tmp_path / "fail" / "data").exists()
    assert len(failed["failed"]) == 1 and "mixture shortfall" in failed["failed"][0]
    assert failed["feasible_overrides"] and failed["feasible_overrides"][0].startswith("budget=")
    assert failed["totals"]["rows"] == 0 and failed["checks"] == {"training_shards_written": False}
    pool_ids = [r["id"] for f in shards(tmp_path / "fail", "pool") for r in pq.read_table(f, columns=["id"]).to_pylist()]
    assert sorted(pool_ids) == sorted(d.id for d in docs)
    assert len(shards(tmp_path / "fail", "pool")) == failed["shuffle"]["num_shards"]


def test_estimate_mode_matches_in_process_counting(docs, tmp_path) -> None:
    from corpusflow.mixture.counting import count_documents
    from corpusflow.mixture.tokenizers import load_tokenizer

    out = tmp_path / "est"
    rep = mix(docs, out, count={"mode": "estimate", "sample_rate": 0.05, "min_sample_docs": 100})
    pool = {r["id"]: r["n_tokens"] for f in shards(out, "pool") for r in pq.read_table(f).to_pylist()}
    res = count_documents(load_tokenizer("llm-jp-v3.1"), [d.text for d in docs],
                          cells=[(d.source, d.lang) for d in docs], ids=[d.id for d in docs], mode="estimate",
                          seed=SEED, sample_rate=0.05, min_sample_docs=100)
    assert [pool[d.id] for d in docs] == res.n_tokens.tolist()
    cal = rep["count"]["calibration"]
    assert set(cal) == {"ja_wiki/ja", "ja_web/ja", "en_news/en", "en_c4/en"}
    assert all(c["sample_docs"] >= 100 and c["rel_stderr"] < 0.05 for c in cal.values())
