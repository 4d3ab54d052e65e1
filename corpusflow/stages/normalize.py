"""NormalizeText: Unicode form, newlines, whitespace and control characters (see corpusflow.normalize)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from corpusflow.config import NormalizeConfig
from corpusflow.document import Document, Rejected, error_from_exception
from corpusflow.normalize import normalize_text
from corpusflow.stages.base import TAG_ERRORS, TAG_REJECTED, StageCounters, StageOutputs

REASON_EMPTY = "normalize.empty"


class _NormalizeFn(beam.DoFn):
    def __init__(self, cfg: NormalizeConfig) -> None:
        self._cfg = cfg

    def setup(self) -> None:
        self._counters = StageCounters("normalize")
        c = self._cfg
        self._kw = dict(unicode_form=c.unicode_form, remove_control=c.remove_control,
                        collapse_spaces=c.collapse_spaces, max_blank_lines=c.max_blank_lines)

    def process(self, doc: Document) -> Iterator[Any]:
        try:
            text = normalize_text(doc.text, **self._kw)
        except Exception as exc:  # one bad record must not fail the job
            self._counters.inc("errors")
            yield pvalue.TaggedOutput(TAG_ERRORS, error_from_exception(doc, "normalize", exc))
            return
        if not text.strip():
            self._counters.inc(f"rejected.{REASON_EMPTY}")
            yield pvalue.TaggedOutput(TAG_REJECTED, Rejected(doc, "normalize", REASON_EMPTY))
            return
        yield doc if text == doc.text else doc.replace(text=text)


class NormalizeText(beam.PTransform):
    """Normalises every document; documents left with no text are rejected (``normalize.empty``)."""

    def __init__(self, cfg: NormalizeConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def expand(self, docs: beam.PCollection) -> StageOutputs:
        outs = docs | "Normalize" >> beam.ParDo(_NormalizeFn(self._cfg)).with_outputs(
            TAG_REJECTED, TAG_ERRORS, main="kept")
        return StageOutputs(kept=outs.kept, rejected=outs[TAG_REJECTED], errors=outs[TAG_ERRORS])
