"""Source cleaners as a per-document step: Aozora Bunko markup and web boilerplate.

:class:`CleanStep` runs the pure cleaners of :mod:`corpusflow.text.cleaners` on the documents
of the sources they are switched on for (``aozora``, ``boilerplate``: ``true`` for every
source, or a list of source names), in that order. It belongs after text extraction and before
normalisation, so that the filters, language ID and dedup see the work's text rather than its
markup (ruby splits otherwise identical editions in dedup) or a site's link blocks.

Outcomes: the document with its cleaned text and, per cleaner that changed it, the signal
``clean.<cleaner>.removed_chars``; a document left with no text is rejected as
``clean.empty``; a cleaner that raises turns the document into an error record (the job goes
on). Counters (namespace ``clean``): the outcomes, plus ``info.changed``,
``info.<cleaner>.changed`` and ``info.<cleaner>.chars_removed``.
"""

from __future__ import annotations

from collections.abc import Callable

from corpusflow.core.document import Document, ErrorRecord, Rejected, error_from_exception
from corpusflow.steps.base import DocStep
from corpusflow.text.cleaners import clean_aozora, clean_boilerplate
from corpusflow.text.config import CLEANER_NAMES, CleanConfig

STAGE = "clean"
REASON_EMPTY = "clean.empty"

#: Cleaner name -> function, in the order they run.
CLEANERS: dict[str, Callable[[str], tuple[str, int]]] = {
    "aozora": clean_aozora,
    "boilerplate": clean_boilerplate,
}
assert tuple(CLEANERS) == CLEANER_NAMES


class CleanStep(DocStep):
    """The source cleaners on one document (counters: see the module docstring)."""

    stage = STAGE

    def __init__(self, cfg: CleanConfig) -> None:
        super().__init__()
        self._cfg = cfg
        self._plan: dict[str, list[str]] = {}

    def setup(self) -> None:
        self._plan = {}

    def _cleaners(self, source: str) -> list[str]:
        names = self._plan.get(source)
        if names is None:
            names = self._plan[source] = self._cfg.cleaners_for(source)
        return names

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        names = self._cleaners(doc.source)
        if not names:
            return doc
        text = doc.text
        removed: dict[str, float] = {}
        try:
            for name in names:
                new, n = CLEANERS[name](text)
                if new != text:
                    self.info(f"{name}.changed")
                    self.info(f"{name}.chars_removed", max(n, 0))
                    removed[f"clean.{name}.removed_chars"] = float(n)
                    text = new
        except Exception as exc:  # one odd document must not fail the job
            return error_from_exception(doc, STAGE, exc)
        if not removed:
            return doc
        self.info("changed")
        changes: dict[str, object] = {"text": text}
        if self._cfg.signals:
            changes["signals"] = {**doc.signals, **removed}
        out = doc.replace(**changes)
        if not text.strip():
            return Rejected(out, STAGE, REASON_EMPTY)
        return out
