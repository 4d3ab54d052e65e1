"""Benchmark decontamination on real text: index build, matching, actions, the step, a pipeline run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from corpusflow.core.document import Document, Rejected
from corpusflow.decontam.config import BenchmarkSpec, DecontamStageConfig, IndexBuildConfig, IndexSettings
from corpusflow.decontam.index import FORMAT_VERSION, DecontamIndexError, build_index, load_index, save_index
from corpusflow.decontam.match import cut_spans, decide, find_hits, merged_spans
from corpusflow.decontam.ngrams import unit_codes, units_with_offsets
from corpusflow.steps.decontam import DecontamStep, summarize_decontam
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import load_manifest, read_parquet_rows, run_cli

# Real English benchmark-style text (GSM8K-like word problem from the C4 sample is not a benchmark;
# this is the first test question of GSM8K, public, used as an item to plant).
GSM8K_Q = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
           "for her friends every day with four. She sells the remainder at the farmers' market daily for $2 "
           "per fresh duck egg. How much in dollars does she make every day at the farmers' market?")


@pytest.fixture(scope="module")
def wiki(shared_data: Path) -> dict[str, list[dict]]:
    rows = read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz")
    return {
        "jsquad": [r for r in rows if r["source"] == "JSQuAD/valid" and len(r["text"]) >= 200][:40],
        "other": [r for r in rows if r["source"] == "JSQuAD/test" and len(r["text"]) >= 200][:40],
        "kwdlc": read_jsonl(shared_data / "ja" / "kwdlc_leads.jsonl", limit=50),
    }


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory, wiki) -> Path:
    d = tmp_path_factory.mktemp("bench")
    rows = [{"id": f"q{i}", "context": r["text"], "question": "この文章の主題は何か。", "answer": r["title"]}
            for i, r in enumerate(wiki["jsquad"])]
    rows += [{"id": "shared", "context": wiki["jsquad"][0]["text"], "question": "別の質問です。", "answer": "x"}]
    write_jsonl(d / "jsquad.jsonl", rows)
    pq.write_table(pa.Table.from_pylist([{"question": GSM8K_Q, "answer": "18"}]), d / "gsm8k.parquet")
    (d / "mgsm.csv").write_text("question,answer\n"
                                "ジャネットのアヒルは1日に16個の卵を産みます。ジャネットは毎朝朝食に3個を消費し、毎日4個を使って友達向けに"
                                "マフィンを焼きます。残りを市場で1個あたり2ドルの価格で売ります。彼女は毎日市場でいくら手に入れていますか?,18\n"
                                "短い問題,1\n", encoding="utf-8")
    return d


def _spec(bench_dir: Path) -> IndexBuildConfig:
    return IndexBuildConfig(benchmarks=[
        BenchmarkSpec(name="jsquad", paths=[str(bench_dir / "jsquad.jsonl")], lang="ja",
                      fields=["context", "question", "answer"]),
        BenchmarkSpec(name="gsm8k", paths=[str(bench_dir / "gsm8k.parquet")], lang="en", id=None,
                      fields=["question"]),
        BenchmarkSpec(name="mgsm_ja", paths=[str(bench_dir / "mgsm.csv")], lang="ja", id=None,
                      fields=["question"]),
    ])


@pytest.fixture(scope="module")
def index(bench_dir: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("idx")
    save_index(build_index(_spec(bench_dir)), str(out))
    return load_index(str(out)), out


# ---- units and offsets ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["char", "word"])
def test_offset_units_equal_fast_units_on_real_text(scheme: str, wiki, shared_data: Path) -> None:
    texts = [r["text"] for r in wiki["jsquad"][:20]] + [r["text"] for r in read_jsonl(
        shared_data / "en" / "c4_sample.jsonl.gz", limit=20)]
    for t in texts:
        u = units_with_offsets(t, scheme)
        assert np.array_equal(u.codes, unit_codes(t, scheme))
        assert (u.starts < u.ends).all() and (u.ends <= len(t)).all()


# ---- index ----------------------------------------------------------------------------------------


def test_index_minimum_length_shared_texts_and_formats(index) -> None:
    idx, _out = index
    stats = idx.stats["benchmarks"]
    # 41 items x 3 fields: the one-line question and the title answers are shorter than 30 characters
    assert stats["jsquad"]["items"] == 41
    assert stats["jsquad"]["segments"] == 40  # the context of item "shared" is stored once ...
    assert stats["jsquad"]["too_short"] == 41 * 2
    seg = idx.segments.to_pylist()
    first = next(s for s in seg if s["benchmark"] == "jsquad" and s["item_id"] == "q0")
    assert first["n_items"] == 2  # ... and counts both items
    assert stats["gsm8k"] == {"lang": "en", "files": 1, "items": 1, "texts": 1, "too_short": 0, "segments": 1}
    assert stats["mgsm_ja"]["segments"] == 1 and stats["mgsm_ja"]["too_short"] == 1  # CSV: "短い問題" skipped
    assert {s["field"] for s in seg} == {"context", "question"}


def test_boilerplate_ngrams_are_dropped(tmp_path: Path, wiki) -> None:
    template = "次の文章を読んで、以下の質問に最も適切な答えを選択肢の中から一つ選んでください。"
    rows = [{"id": str(i), "q": template + r["text"]} for i, r in enumerate(wiki["jsquad"][:25])]
    write_jsonl(tmp_path / "b.jsonl", rows)
    cfg = IndexBuildConfig(benchmarks=[BenchmarkSpec(name="b", paths=[str(tmp_path / "b.jsonl")], lang="ja",
                                                     fields=["q"])])
    idx = build_index(cfg)
    assert idx.stats["boilerplate_ngrams_dropped"]["char"] > 0
    page = "お知らせ\n" + template + "\n以上です。"
    assert find_hits(page, idx, 0.01) == []  # the shared instruction alone never matches


def test_load_refuses_other_versions(index, tmp_path: Path) -> None:
    _idx, out = index
    for name in ("ngrams.parquet", "segments.parquet"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    meta = json.loads((out / "index.json").read_text())
    meta["version"] = FORMAT_VERSION + 1
    (tmp_path / "index.json").write_text(json.dumps(meta))
    with pytest.raises(DecontamIndexError, match="version"):
        load_index(str(tmp_path))
    with pytest.raises(DecontamIndexError, match="not a decontamination index"):
        load_index(str(tmp_path / "nothing"))


def test_settings_refuse_min_length_below_n() -> None:
    with pytest.raises(ValueError, match="min_chars_ja"):
        IndexSettings(ja_ngram_chars=40, min_chars_ja=30)


# ---- matching -------------------------------------------------------------------------------------


def _fullwidth(t: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in t).replace("、", ", ")


def _edit(t: str, every: int) -> str:
    return "".join("■" if i % every == every - 1 else c for i, c in enumerate(t))


CASES = [
    # (name, build(wiki) -> page text, expected benchmark of the top hit or None)
    ("verbatim in a page", lambda w: w["kwdlc"][0]["text"] + "\n" + w["jsquad"][3]["text"] + "\n"
     + w["kwdlc"][1]["text"], "jsquad"),
    ("full-width and punctuation", lambda w: _fullwidth(w["jsquad"][4]["text"]), "jsquad"),
    ("one edit every 80 characters", lambda w: _edit(w["jsquad"][5]["text"], 80), "jsquad"),
    ("first half only", lambda w: w["jsquad"][6]["text"][: len(w["jsquad"][6]["text"]) // 2], "jsquad"),
    ("other JSQuAD paragraph", lambda w: w["other"][0]["text"], None),
    ("clean web leads", lambda w: "\n".join(r["text"] for r in w["kwdlc"][:10]), None),
    ("short common string", lambda w: "東京都の天気。" * 3, None),
    ("English question quoted in a Japanese page", lambda w: w["kwdlc"][2]["text"] + "\n" + GSM8K_Q, "gsm8k"),
    ("English question, other case and spacing", lambda w: GSM8K_Q.upper().replace(" ", "  "), "gsm8k"),
    ("MGSM item from a CSV file", lambda w: "問題：ジャネットのアヒルは1日に16個の卵を産みます。ジャネットは毎朝朝食に3個を消費し、"
     "毎日4個を使って友達向けにマフィンを焼きます。残りを市場で1個あたり2ドルの価格で売ります。", "mgsm_ja"),
]


@pytest.mark.parametrize("name, build, expected", CASES, ids=[c[0] for c in CASES])
def test_find_hits(name: str, build, expected: str | None, index, wiki) -> None:
    idx, _ = index
    text = build(wiki)
    hits = find_hits(text, idx, 0.2)
    assert (hits[0].benchmark if hits else None) == expected
    for h in hits:
        for s, e in h.spans:
            assert 0 <= s < e <= len(text)


def test_span_covers_the_planted_paragraph(index, wiki) -> None:
    idx, _ = index
    before, item, after = wiki["kwdlc"][0]["text"], wiki["jsquad"][3]["text"], wiki["kwdlc"][1]["text"]
    text = f"{before}\n{item}\n{after}"
    hits = find_hits(text, idx, 0.2)
    assert hits[0].overlap == 1.0 and hits[0].item_id == "q3"
    (s, e), = hits[0].spans
    assert text[s:e].strip() == item.strip()
    assert cut_spans(text, merged_spans(hits)) == f"{before}\n{after}"


@pytest.mark.parametrize("action, remaining, outcome, kept", [
    ("drop", 0, "dropped", False),
    ("tag", 0, "tagged", True),
    ("cut", 50, "cut", True),
    ("cut", 100_000, "cut_too_short", False),
])
def test_decide(action: str, remaining: int, outcome: str, kept: bool, index, wiki) -> None:
    idx, _ = index
    text = "\n".join(r["text"] for r in wiki["kwdlc"][:8]) + "\n" + wiki["jsquad"][3]["text"]
    cfg = DecontamStageConfig(enabled=True, index="x", action=action, min_remaining_chars=remaining,
                              min_remaining_fraction=0.3)
    d = decide(text, find_hits(text, idx, cfg.min_overlap), idx, cfg)
    assert d.outcome == outcome and (d.text is not None) == kept
    assert d.reason == "decontam.jsquad" and d.records[0]["item"] == "q3"
    if outcome == "cut":
        assert wiki["jsquad"][3]["text"][:40] not in d.text and wiki["kwdlc"][0]["text"] in d.text


def test_step_outcomes_and_ledger(index, wiki) -> None:
    _idx, out = index
    step = DecontamStep(DecontamStageConfig(enabled=True, index=str(out), action="drop"))
    step.setup()
    bad = Document(id="a", text=wiki["jsquad"][7]["text"], source="web", lang="ja")
    good = Document(id="b", text=wiki["other"][1]["text"], source="web", lang="ja")
    r = step.apply(bad)
    assert isinstance(r, Rejected) and r.stage == "decontam" and r.reason == "decontam.jsquad"
    detail = json.loads(r.detail)
    assert detail["outcome"] == "dropped" and detail["hits"][0]["item"] == "q7"
    assert detail["hits"][0]["excerpt"] == wiki["jsquad"][7]["text"][:300]
    assert step.apply(good) is good
    assert summarize_decontam(step.ledger_extra) == {"by_benchmark": {"jsquad": {"dropped": 1}},
                                                     "by_source": {"web": 1}}
    tag = DecontamStep(DecontamStageConfig(enabled=True, index=str(out), action="tag"))
    tag.setup()
    t = tag.apply(bad)
    assert isinstance(t, Document) and t.text == bad.text and t.meta["decontam"][0]["benchmark"] == "jsquad"


def test_stage_config_needs_an_index() -> None:
    with pytest.raises(ValueError, match="index is required"):
        DecontamStageConfig(enabled=True)


# ---- command and pipeline ---------------------------------------------------------------------------


def test_pipeline_run_inspect_and_manifest(tmp_path: Path, bench_dir: Path, wiki, capsys) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"benchmarks": [{"name": "jsquad", "paths": [str(bench_dir / "jsquad.jsonl")],
                                                    "lang": "ja", "fields": ["context", "question"]}]}))
    assert run_cli("decontam-index", spec, "--output", tmp_path / "idx") == 0
    docs = [{"id": f"clean{i}", "text": r["text"]} for i, r in enumerate(wiki["other"][:20])]
    docs += [{"id": "planted", "text": wiki["kwdlc"][5]["text"] + "\n" + wiki["jsquad"][9]["text"]}]
    write_jsonl(tmp_path / "in.jsonl", docs)
    cfg = {"name": "t", "sources": [{"name": "web", "paths": [str(tmp_path / "in.jsonl")], "lang": "ja"}],
           "stages": {"langid": {"mode": "tag"}, "filters": {"enabled": False}, "dedup": {"enabled": False},
                      "decontam": {"enabled": True, "index": str(tmp_path / "idx")}}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert run_cli("run", tmp_path / "cfg.yaml", "--output", tmp_path / "out") == 0
    rej = read_parquet_rows(tmp_path / "out" / "rejected" / "*.parquet")
    assert [(r["id"], r["reason"]) for r in rej] == [("planted", "decontam.jsquad")]
    m = load_manifest(tmp_path / "out")
    assert m["decontamination"]["by_benchmark"] == {"jsquad": {"dropped": 1}}
    assert m["counts"]["total"]["kept"] == 20
    capsys.readouterr()
    assert run_cli("inspect", tmp_path / "out", "--reason", "decontam.*", "--width", "140") == 0
    shown = capsys.readouterr().out
    assert "BENCHMARK ITEM" in shown and "⟦" in shown and "q9" in shown


@pytest.mark.parametrize(("manifest", "rows"), [
    ({}, []),
    ({"decontamination": {"by_benchmark": {"jsquad": {"dropped": 3, "cut": 1}, "mmlu": {"tagged": 2}}}},
     [("jsquad", "cut", 1), ("jsquad", "dropped", 3), ("mmlu", "tagged", 2)]),
])
def test_report_counts_hits_per_benchmark(manifest: dict, rows: list) -> None:
    from corpusflow.report.build import decontam_rows

    assert decontam_rows(manifest) == rows
