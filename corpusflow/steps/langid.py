"""Language-ID step: fastText lid.176 loaded once per process, language + score on each document.

In ``filter`` mode other languages and low scores are rejected (``langid.other_language``,
``langid.low_score``, ``langid.ja_without_kana``, ``langid.empty``: see :mod:`corpusflow.text.langid`);
in ``tag`` mode nothing is rejected.
"""

from __future__ import annotations

import functools
import os
import tempfile

from corpusflow.core.document import Document, ErrorRecord, Rejected, error_from_exception
from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.io.filesystems import read_bytes
from corpusflow.steps.base import DocStep, per_process
from corpusflow.text.config import LangIdConfig
from corpusflow.text.langid import FastTextLangId, identify

STAGE = "langid"


def _load_model(path: str) -> FastTextLangId:
    """One model per process, shared by the DoFn instances of all threads (read-only)."""
    return per_process("fasttext", path, lambda p: FastTextLangId(_localize(p)))


def _localize(path: str) -> str:
    """fastText loads from a local file; copy an object-store model to a temp file once."""
    resolved = resolve_path(path)
    if not is_remote(resolved):
        return resolved
    fd, tmp = tempfile.mkstemp(suffix=os.path.basename(resolved))
    with os.fdopen(fd, "wb") as f:
        f.write(read_bytes(resolved))
    return tmp


class LangIdStep(DocStep):
    """Language ID on one document (extra counters: ``info.lang.<code>`` / ``info.lang.other``)."""

    stage = STAGE

    def __init__(self, cfg: LangIdConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def setup(self) -> None:
        self._model = _load_model(self._cfg.model)
        c = self._cfg
        self._languages = frozenset(c.languages)
        self._identify = functools.partial(
            identify, languages=self._languages, min_score=c.min_score, min_score_by_lang=dict(c.min_score_by_lang),
            ja_script_check=c.ja_script_check, min_kana_fraction=c.min_kana_fraction, max_chars=c.max_chars,
        )
        self._filter = c.mode == "filter"

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        try:
            res = self._identify(self._model, doc.text)
        except Exception as exc:  # one bad record must not fail the job
            return error_from_exception(doc, STAGE, exc)
        out = doc.replace(lang=res.lang, lang_score=round(res.score, 6))
        if res.reason is not None and self._filter:
            return Rejected(out, STAGE, res.reason)
        self.info(f"lang.{res.lang}" if res.lang in self._languages else "lang.other")
        return out
