"""DocumentStages (issue #8): per-document stages fused into one DoFn give the same records,
ledger counts, counters and files as one ParDo per stage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from corpusflow.core.document import Document, ErrorRecord, Rejected, error_from_exception
from corpusflow.stages import chain
from corpusflow.stages import graph as pipeline
from corpusflow.stages.chain import DocumentStages
from corpusflow.steps.base import DocStep
from tests.helpers import load_manifest, run_cli

DEMO = Path(__file__).resolve().parents[1] / "configs" / "pipelines" / "demo.yaml"


class _Upper(DocStep):
    """Upper-cases the text; rejects documents whose text starts with 'x'."""

    stage = "upper"

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        if doc.text.startswith("x"):
            return Rejected(doc, self.stage, "upper.x")
        return doc.replace(text=doc.text.upper())


class _FailOnDigit(DocStep):
    """Fails on documents whose text ends with a digit (an error record, not a crash)."""

    stage = "digits"

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        if doc.text[-1].isdigit():
            self.info("digit_seen")
            return error_from_exception(doc, self.stage, ValueError("digit"))
        return doc


def _docs() -> list[Document]:
    texts = ["abc", "xyz", "ab1", "x1", "hello", "world2", "日本語"]
    return [Document(id=f"d{i}", text=t, source="s" if i % 2 else "t", lang="en", file="f.jsonl", line=i)
            for i, t in enumerate(texts)]


@pytest.mark.parametrize("batch", [256, 1, 2, 3])  # all in finish_bundle; in process; both
def test_steps_run_in_order_and_count_their_outcomes(monkeypatch, batch: int) -> None:
    from apache_beam.testing.test_pipeline import TestPipeline

    monkeypatch.setattr(chain, "BATCH", batch)
    p = TestPipeline(runner="FnApiRunner")
    res = p | beam.Create(_docs()) | DocumentStages([_Upper(), _FailOnDigit()], count_kept=True)
    assert_that(res.kept | "KeptText" >> beam.Map(lambda d: d.text), equal_to(["ABC", "HELLO", "日本語"]),
                label="kept")
    # 'x1' is rejected by the first step and never reaches the second (no error for it).
    assert_that(res.rejected | "Rej" >> beam.Map(lambda r: (r.doc.id, r.stage, r.reason)),
                equal_to([("d1", "upper", "upper.x"), ("d3", "upper", "upper.x")]), label="rejected")
    assert_that(res.errors | "Err" >> beam.Map(lambda e: (e.doc_id, e.stage, e.error_class)),
                equal_to([("d2", "digits", "ValueError"), ("d5", "digits", "ValueError")]), label="errors")
    assert_that(res.ledger | "Sum" >> beam.CombinePerKey(sum), equal_to([
        (("kept", "t", "", "en"), 3),
        (("rejected", "s", "upper", "upper.x"), 2),
        (("error", "t", "digits", "ValueError"), 1),
        (("error", "s", "digits", "ValueError"), 1),
    ]), label="ledger")
    result = p.run()
    result.wait_until_finish()

    def counter(ns: str, name: str) -> int:
        q = result.metrics().query(MetricsFilter().with_namespace(ns).with_name(name))["counters"]
        return sum(c.committed or c.attempted or 0 for c in q)

    # the outcome counters come from the records the steps return (core/outcomes.py vocabulary)
    assert (counter("upper", "in"), counter("upper", "kept"), counter("upper", "rejected.upper.x")) == (7, 5, 2)
    assert (counter("digits", "in"), counter("digits", "kept"), counter("digits", "error.ValueError")) == (5, 3, 2)
    assert counter("digits", "info.digit_seen") == 2


def test_counters_are_published_in_batches(monkeypatch) -> None:
    from apache_beam.testing.test_pipeline import TestPipeline

    monkeypatch.setattr(chain, "FLUSH_EVERY", 2)  # several publications within one bundle
    monkeypatch.setattr(chain, "BATCH", 2)
    p = TestPipeline(runner="FnApiRunner")
    _ = p | beam.Create(_docs()) | DocumentStages([_Upper()])
    result = p.run()
    result.wait_until_finish()
    q = result.metrics().query(MetricsFilter().with_namespace("upper").with_name("in"))["counters"]
    assert sum(c.committed or c.attempted or 0 for c in q) == 7


def test_document_stages_needs_a_step() -> None:
    with pytest.raises(ValueError):
        DocumentStages([])


def test_document_replace_is_a_checked_copy() -> None:
    doc = _docs()[0]
    new = doc.replace(lang="ja", lang_score=0.5)
    assert (new.lang, new.lang_score, new.text, new.meta is doc.meta) == ("ja", 0.5, "abc", True)
    assert (doc.lang, doc.lang_score) == ("en", None)
    with pytest.raises(TypeError, match="nope"):
        doc.replace(nope=1)


def _files_digest(out: Path) -> dict[str, str]:
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(out.rglob("*.parquet"))}


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--set", "stages.dedup.enabled=false", "--set", "stages.mixture.enabled=false"]],
                         ids=["demo", "chain-last"])
def test_fused_and_separate_stages_write_the_same_run(tmp_path: Path, monkeypatch, extra: list[str]) -> None:
    runs = {}
    for fuse in (True, False):
        monkeypatch.setattr(pipeline, "FUSE_STAGES", fuse)
        out = tmp_path / f"fuse_{fuse}"
        assert run_cli("run", DEMO, "--output", out, "--quiet", *extra) == 0
        m = load_manifest(out)
        runs[fuse] = (_files_digest(out), m["counts"], m["stages"], m["outputs"])
    assert runs[True] == runs[False]
    assert runs[True][0]
