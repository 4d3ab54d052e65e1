"""Handoff (issue #8): elements reach a side-input step through local run files, unchanged."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from corpusflow.core.document import Document
from corpusflow.stages import handoff
from corpusflow.stages.handoff import Handoff


def _docs(n: int) -> list[Document]:
    return [Document(id=f"d{i}", text="本文 text " * (i % 50 + 1), source="s", lang="ja" if i % 2 else None,
                     lang_score=i / n, url=None, meta={"i": i, "名": "値"}, signals={"x": 0.5}, file="f.jsonl", line=i)
            for i in range(n)]


class _Tag(beam.DoFn):
    """A consumer with a side input, like dedup's or the mixture's routing."""

    def process(self, doc: Document, offsets: dict[str, int]) -> list[tuple[str, int, Document]]:
        return [(doc.id, offsets.get(doc.id, 0), doc)]


@pytest.mark.parametrize("local", [True, False])
def test_handoff_passes_every_element_unchanged(tmp_path: Path, monkeypatch, local: bool) -> None:
    monkeypatch.setenv("CORPUSFLOW_SPILL_DIR", str(tmp_path))
    monkeypatch.setattr(handoff, "BATCH", 7)  # several pickles per run, several runs per bundle
    from apache_beam.testing.test_pipeline import TestPipeline

    docs = _docs(300)
    with TestPipeline(runner="FnApiRunner") as p:
        pc = p | beam.Create(docs)
        side = pc | "Offsets" >> beam.Map(lambda d: (d.id, d.line + 1))
        waiting = pc | Handoff("test", [beam.pvalue.AsIter(side)], local=local, run_bytes=2000)
        out = waiting | beam.ParDo(_Tag(), beam.pvalue.AsDict(side))
        assert_that(out, equal_to([(d.id, d.line + 1, d) for d in docs]))
    assert list(tmp_path.iterdir()) == []  # every run file (and the run directory) is gone


def test_handoff_is_a_pass_through_off_local_runners() -> None:
    p = beam.Pipeline(runner="FnApiRunner")
    pc = p | beam.Create([1, 2, 3])
    assert (pc | Handoff("x", [], local=False)) is pc
