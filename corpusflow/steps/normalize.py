"""Normalisation step: Unicode form, newlines, whitespace and control characters (see :mod:`corpusflow.text.normalize`).

Documents left with no text are rejected (``normalize.empty``).
"""

from __future__ import annotations

import functools

from corpusflow.core.document import Document, ErrorRecord, Rejected, error_from_exception
from corpusflow.steps.base import DocStep
from corpusflow.text.config import NormalizeConfig
from corpusflow.text.normalize import normalize_text

REASON_EMPTY = "normalize.empty"
STAGE = "normalize"


class NormalizeStep(DocStep):
    """The normalise stage on one document (rejects ``normalize.empty``)."""

    stage = STAGE

    def __init__(self, cfg: NormalizeConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def setup(self) -> None:
        c = self._cfg
        self._normalize = functools.partial(
            normalize_text, unicode_form=c.unicode_form, remove_control=c.remove_control,
            collapse_spaces=c.collapse_spaces, max_blank_lines=c.max_blank_lines,
        )

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        try:
            text = self._normalize(doc.text)
        except Exception as exc:  # one bad record must not fail the job
            return error_from_exception(doc, STAGE, exc)
        if not text.strip():
            return Rejected(doc, STAGE, REASON_EMPTY)
        return doc if text == doc.text else doc.replace(text=text)
