"""The Deduplicate stage on the FnApiRunner over a small make_corpus build (real JA/EN text)."""

from __future__ import annotations

import collections
import glob
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from corpusflow.core.document import Document
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.stages.dedup import Deduplicate

pytestmark = pytest.mark.shared_data  # every test here needs ../shared (corpora or bench scripts)

_KANA = re.compile(r"[\u3040-\u30ff]")


@pytest.fixture(scope="session")
def corpus(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("dedup_corpus")
    script = shared_data.parent / "bench" / "make_corpus.py"
    subprocess.run([sys.executable, str(script), "--out", str(out), "--docs", "400", "--seed", "5"],
                   check=True, capture_output=True)
    docs = []
    for f in sorted(glob.glob(str(out / "web" / "*.jsonl.gz"))):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                d = json.loads(line)
                lang = "ja" if _KANA.search(d["text"]) else "en"
                docs.append(Document(id=d["id"], text=d["text"], source="web", lang=lang, url=d["url"], file=f, line=n))
    with gzip.open(out / "truth" / "docs.jsonl.gz", "rt", encoding="utf-8") as fh:
        truth = [json.loads(line) for line in fh]
    return docs, truth


def run_dedup(docs, tmp: Path, cfg: DedupStageConfig, *, prio=None, multi=False):
    """Run the stage; return (kept {id: cluster_size}, duplicates {id: (stage, kept_id, size, sim)})."""
    opts = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"] if multi else []
    tmp.mkdir(parents=True, exist_ok=True)
    with beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions(opts)) as p:
        res = p | beam.Create(docs, reshuffle=False) | Deduplicate(cfg, seed=1, source_priority=prio)
        _ = (res.kept | "K" >> beam.Map(lambda d: json.dumps([d.id, d.meta["cluster_size"]]))
             | "WK" >> beam.io.WriteToText(str(tmp / "kept")))
        _ = (res.duplicates
             | "D" >> beam.Map(lambda r: json.dumps([r.doc.id, r.stage, r.kept_id, r.cluster_size, r.similarity]))
             | "WD" >> beam.io.WriteToText(str(tmp / "dups")))
    kept, dups = {}, {}
    for line in _lines(tmp / "kept*"):
        i, n = json.loads(line)
        kept[i] = n
    for line in _lines(tmp / "dups*"):
        r = json.loads(line)
        dups[r[0]] = tuple(r[1:])
    return kept, dups


def _lines(pattern: Path) -> list[str]:
    out: list[str] = []
    for f in sorted(glob.glob(str(pattern))):
        with open(f, encoding="utf-8") as fh:
            out.extend(fh.read().splitlines())
    return out


def score(truth, kept_ids, hi=0.8, lo=0.5):
    """Same definitions as ../shared/bench/score_dedup.py."""
    groups = collections.defaultdict(list)
    wrong = 0
    for t in truth:
        if t["cluster"] and (t["jaccard"] or 0) >= hi:
            groups[t["cluster"]].append(t["id"])
        elif (t["kind"] == "original" or (t["cluster"] and (t["jaccard"] or 0) < lo)) and t["id"] not in kept_ids:
            wrong += 1
    should = ok = 0
    for members in groups.values():
        surv = sum(m in kept_ids for m in members)
        should += len(members) - 1
        ok += min(len(members) - surv, len(members) - 1)
        wrong += surv == 0
    return ok / should, ok / (ok + wrong)


@pytest.fixture(scope="module")
def baseline(corpus, tmp_path_factory):
    docs, _ = corpus
    return run_dedup(docs, tmp_path_factory.mktemp("base"), DedupStageConfig(enabled=True))


def test_every_document_accounted_for_and_scored(corpus, baseline):
    docs, truth = corpus
    kept, dups = baseline
    assert not set(kept) & set(dups)
    assert len(kept) + len(dups) == len(docs)
    # Every dropped document names a document that was kept, and cluster sizes add up.
    assert all(d[1] in kept for d in dups.values())
    pointing = collections.Counter(d[1] for d in dups.values())
    for kid, n in pointing.items():
        assert kept[kid] == n + 1
    assert all(kept[k] == 1 for k in kept if k not in pointing)
    assert {d[0] for d in dups.values()} == {"dedup.exact", "dedup.minhash"}
    exact = [d for d in dups.values() if d[0] == "dedup.exact"]
    assert exact and all(d[3] is not None for d in exact)
    assert all(0.0 <= d[3] <= 1.0 for d in dups.values())
    recall, precision = score(truth, set(kept))
    assert recall >= 0.93, recall
    assert precision >= 0.98, precision


def test_planted_exact_copies_removed_as_exact(corpus, baseline):
    docs, _truth = corpus
    kept, dups = baseline
    text = {d.id: d.text for d in docs}
    by_text = collections.defaultdict(list)
    for d in docs:
        by_text[d.text].append(d.id)
    for ids in by_text.values():
        if len(ids) > 1:
            assert sum(i in kept for i in ids) <= 1
            assert all(dups[i][0] == "dedup.exact" for i in ids if i in dups and text[dups[i][1]] == text[i])


def test_deterministic_across_runs_modes_and_runners(corpus, baseline, tmp_path):
    docs, _ = corpus
    # Same input in reverse order, other shard counts: identical clusters, kept ids and records.
    again = run_dedup(list(reversed(docs)), tmp_path / "again", DedupStageConfig(enabled=True, shards=3))
    assert again == baseline
    star_join = run_dedup(docs, tmp_path / "star", DedupStageConfig(enabled=True, clustering="star", routing="join", shards=7))
    assert star_join == baseline


@pytest.mark.slow
def test_same_result_multi_processing(corpus, baseline, tmp_path):
    docs, _ = corpus
    assert run_dedup(docs, tmp_path / "mp", DedupStageConfig(enabled=True), multi=True) == baseline


def test_verification_only_removes_edges(corpus, baseline, tmp_path):
    docs, _ = corpus
    _kept0, dups0 = baseline
    kept_v, dups_v = run_dedup(docs, tmp_path / "v", DedupStageConfig(enabled=True, verify_threshold=0.9))
    assert len(kept_v) + len(dups_v) == len(docs)
    near0 = {i for i, d in dups0.items() if d[0] == "dedup.minhash"}
    near_v = {i for i, d in dups_v.items() if d[0] == "dedup.minhash"}
    assert len(near_v) < len(near0)
    # A threshold of 0 keeps every candidate edge: same result as no verification.
    assert run_dedup(docs, tmp_path / "v0", DedupStageConfig(enabled=True, verify_threshold=0.0)) == baseline


def test_exact_only_and_minhash_only(corpus, tmp_path):
    docs, _ = corpus
    _kept, dups = run_dedup(docs[:200], tmp_path / "e", DedupStageConfig(enabled=True, minhash=False))
    assert dups and {d[0] for d in dups.values()} == {"dedup.exact"}
    assert all(d[3] == 1.0 for d in dups.values())
    _kept2, dups2 = run_dedup(docs[:200], tmp_path / "m", DedupStageConfig(enabled=True, exact=False))
    assert {d[0] for d in dups2.values()} == {"dedup.minhash"}
    assert set(dups) <= set(dups2)  # exact copies are near-duplicates too


def test_scope_per_source_and_source_priority(corpus, tmp_path):
    docs, truth = corpus
    cluster = {t["id"]: t["cluster"] for t in truth}
    # Put originals in source "wiki" (priority 2) and all copies in "web".
    moved = [d.replace(source="wiki") if cluster[d.id] == d.id else d for d in docs[:250]]
    prio = {"wiki": 2, "web": 0}
    _kept_g, dups_g = run_dedup(moved, tmp_path / "g", DedupStageConfig(enabled=True, keep="priority"), prio=prio)
    _kept_s, dups_s = run_dedup(moved, tmp_path / "s", DedupStageConfig(enabled=True, scope="per_source"), prio=prio)
    src = {d.id: d.source for d in moved}
    # Global scope, keep: priority: an original is never dropped for a web copy (higher priority).
    assert not [i for i, d in dups_g.items() if src[i] == "wiki" and src[d[1]] == "web"]
    # The default keep rule (complete) puts completeness first: a kept document is never in a
    # lower length bucket than one it replaces, whatever the sources; priority breaks ties.
    from corpusflow.dedup.keep import length_bucket

    n = {d.id: len(d.text) for d in moved}
    _kept_d, dups_d = run_dedup(moved, tmp_path / "d", DedupStageConfig(enabled=True), prio=prio)
    assert dups_d and all(length_bucket(n[d[1]]) >= length_bucket(n[i]) for i, d in dups_d.items())
    # Per-source scope: nothing is ever dropped in favour of a document of another source.
    assert all(src[i] == src[d[1]] for i, d in dups_s.items())
    assert len(dups_s) < len(dups_g)


def test_disabled_stage_passes_everything(corpus, tmp_path):
    docs, _ = corpus
    with beam.Pipeline(runner=FnApiRunner()) as p:
        res = p | beam.Create(docs[:20]) | Deduplicate(DedupStageConfig(enabled=False), seed=1)
        _ = res.kept | beam.Map(lambda d: d.id) | beam.io.WriteToText(str(tmp_path / "k"))
    assert len(_lines(tmp_path / "k*")) == 20


@pytest.mark.parametrize("settings", [
    {"minhash": False},  # exact groups only
    {"exact": False},  # near verdicts only
    {"scope": "per_source"},
    {"verify_threshold": 0.9, "shards": 5},
])
def test_join_routing_equals_side_input_routing(corpus, tmp_path, settings):
    """``routing: join`` (no table on any worker) forced on the local runner gives the same kept
    documents and duplicate records as the side-input tables, for several dedup settings."""
    docs, truth = corpus
    cluster = {t["id"]: t["cluster"] for t in truth}
    docs = [d.replace(source="wiki") if cluster[d.id] == d.id and i % 2 else d for i, d in enumerate(docs[:300])]
    side = run_dedup(docs, tmp_path / "s", DedupStageConfig(enabled=True, routing="side_input", **settings))
    join = run_dedup(docs, tmp_path / "j", DedupStageConfig(enabled=True, routing="join", **settings))
    assert side[1] and join == side


def test_routing_auto_is_side_input_only_on_the_local_runner():
    from apache_beam.runners.portability.portable_runner import PortableRunner

    from corpusflow.stages.dedup import routing_of

    auto, forced = DedupStageConfig(enabled=True), DedupStageConfig(enabled=True, routing="side_input")
    assert routing_of(auto, beam.Pipeline(runner=FnApiRunner())) == "side_input"
    assert routing_of(auto, beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"]))) == "side_input"
    assert routing_of(auto, beam.Pipeline(runner=PortableRunner())) == "join"
    assert routing_of(forced, beam.Pipeline(runner=PortableRunner())) == "side_input"


@pytest.mark.parametrize("buffer_rows", [20_000, 7])
def test_many_copies_of_few_tiny_texts(tmp_path, monkeypatch, buffer_rows):
    """Copies pre-combined before the shuffle (a small buffer flushes inside the bundle, too):
    the same verdicts as one row per document; exact off, every copy meets in one LSH bucket per
    band and each candidate edge is verified once."""
    from corpusflow.stages import dedup as stage

    monkeypatch.setattr(stage._SignatureFn, "BUFFER_ROWS", buffer_rows)
    texts = ["今日は良い天気です。", "明日は雨が降るでしょう。", "字", "It rains today."]
    docs = [Document(id=f"t{i:03d}", text=texts[i % 4], source="web", lang="ja" if i % 4 < 3 else "en",
                     file="tiny.jsonl", line=i) for i in range(120)]
    kept, dups = run_dedup(docs, tmp_path / "e", DedupStageConfig(enabled=True))
    assert len(kept) == 4 and set(kept.values()) == {30}
    assert len(dups) == 116 and {d[0] for d in dups.values()} == {"dedup.exact"}
    assert {d[1] for d in dups.values()} == set(kept)
    kept_n, dups_n = run_dedup(docs, tmp_path / "n", DedupStageConfig(enabled=True, exact=False, verify_threshold=0.0))
    assert kept_n == kept and {i: (d[1], d[2]) for i, d in dups_n.items()} == {i: (d[1], d[2]) for i, d in dups.items()}
    assert {d[0] for d in dups_n.values()} == {"dedup.minhash"} and {d[3] for d in dups_n.values()} == {1.0}
    # join routing needs every copy's id hash in its group: there the copies are not pre-combined
    assert run_dedup(docs, tmp_path / "j", DedupStageConfig(enabled=True, routing="join")) == (kept, dups)
