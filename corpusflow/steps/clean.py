"""Source cleaners as a per-document step: Aozora Bunko markup and web boilerplate.

:class:`CleanStep` runs the pure cleaners of :mod:`corpusflow.text.cleaners` on the documents
of the sources they are switched on for (``aozora``, ``boilerplate``: ``true`` for every
source, or a list of source names), in that order. It belongs after text extraction and before
normalisation, so that the filters, language ID and dedup see the work's text rather than its
markup (ruby splits otherwise identical editions in dedup) or a site's link blocks.

Outcomes: the document with its cleaned text and, per cleaner that changed it, the signal
``clean.<cleaner>.removed_chars``; a document left with no text is rejected as
``clean.empty``; a cleaner that raises turns the document into an error record (the job goes
on). Counters (namespace ``clean``): ``docs_in``, ``changed``, ``<cleaner>.changed``,
``<cleaner>.chars_removed``, ``rejected.clean.empty``, ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field, field_validator

from corpusflow.configbase import StrictModel
from corpusflow.document import Document, ErrorRecord, Rejected, error_from_exception
from corpusflow.stages.base import DocStep
from corpusflow.text.cleaners import clean_aozora, clean_boilerplate

STAGE = "clean"
REASON_EMPTY = "clean.empty"

#: Cleaner name -> function, in the order they run.
CLEANERS: dict[str, Callable[[str], tuple[str, int]]] = {
    "aozora": clean_aozora,
    "boilerplate": clean_boilerplate,
}


class CleanConfig(StrictModel):
    """Source cleaners, switched on per source (``true``: every source; a list: those sources)."""

    enabled: bool = Field(False, description="Run the source cleaners (after extract, before normalize).")
    aozora: bool | list[str] = Field(
        False, description="Aozora Bunko markup (ruby, ［＃…］ notes, notation header, 底本 footer, gaiji): "
        "true for every source or a list of source names.",
    )
    boilerplate: bool | list[str] = Field(
        False, description="Related-article / link blocks and share-button rows (Japanese and English): "
        "true for every source or a list of source names.",
    )
    signals: bool = Field(True, description="Record clean.<cleaner>.removed_chars in the document's signals.")

    @field_validator("aozora", "boilerplate")
    @classmethod
    def _names(cls, v: bool | list[str]) -> bool | list[str]:
        if isinstance(v, list) and any(not s for s in v):
            raise ValueError("source names must be non-empty")
        return v

    def cleaners_for(self, source: str) -> list[str]:
        """Names of the cleaners that apply to documents of ``source``, in run order."""
        if not self.enabled:
            return []
        out = []
        for name in CLEANERS:
            sel = getattr(self, name)
            if sel is True or (isinstance(sel, list) and source in sel):
                out.append(name)
        return out


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
        self.inc("docs_in")
        names = self._cleaners(doc.source)
        if not names:
            return doc
        text = doc.text
        removed: dict[str, float] = {}
        try:
            for name in names:
                new, n = CLEANERS[name](text)
                if new != text:
                    self.inc(f"{name}.changed")
                    self.inc(f"{name}.chars_removed", max(n, 0))
                    removed[f"clean.{name}.removed_chars"] = float(n)
                    text = new
        except Exception as exc:  # one odd document must not fail the job
            self.inc("errors")
            return error_from_exception(doc, STAGE, exc)
        if not removed:
            return doc
        self.inc("changed")
        changes: dict[str, object] = {"text": text}
        if self._cfg.signals:
            changes["signals"] = {**doc.signals, **removed}
        out = doc.replace(**changes)
        if not text.strip():
            self.inc(f"rejected.{REASON_EMPTY}")
            return Rejected(out, STAGE, REASON_EMPTY)
        return out
