"""Quality-filter step: one filter chain per language.

Input: documents with ``lang`` set by language ID. For each document the chain of its
language's profile runs (documents of languages without a profile pass through unchanged):

* ``kept``: documents that pass (text possibly cleaned by the profile's transforms), with the
  measured signals in ``doc.signals`` when ``keep_signals`` is on; in ``tag`` mode every
  document is kept and the reason codes it would have been dropped for are listed in
  ``doc.meta["filter_reasons"]``.
* ``rejected``: :class:`~corpusflow.core.document.Rejected` with ``stage="filters"``, the stable
  reason code (``ja.hiragana_fraction.too_low``) and ``detail``, a short JSON of the deciding
  signal, its value and the threshold.
* ``errors``: a rule that raises on a document does not crash the job: the document becomes an
  :class:`~corpusflow.core.document.ErrorRecord` (``stage="filters"``).

Counters (namespace ``filters``): the outcomes (``in``, ``kept``, ``rejected.<reason>``,
``error.<class>``), plus ``info.tagged.<reason>`` (tag mode), ``info.unfiltered`` (no profile for
the language) and ``info.transformed`` (text changed by a profile's transform).
"""

from __future__ import annotations

from typing import Any

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.filters.chain import FilterChain
from corpusflow.filters.profiles import ProfileSpec, build_chain
from corpusflow.steps.base import DocStep

STAGE = "filters"
FALLBACK = "*"


def build_chains(resolved: dict[str, dict[str, Any]], mode: str) -> dict[str, FilterChain]:
    """Language -> set-up chain, from :meth:`FilterStageConfig.resolved_profiles`."""
    chains = {}
    for lang, r in resolved.items():
        spec = ProfileSpec.model_validate(r["spec"])
        chains[lang] = build_chain(spec, lang=None if lang == FALLBACK else lang, mode=mode).setup()
    return chains


def _head(text: object) -> str:
    return text[:200] if isinstance(text, str) else repr(text)[:200]


class FilterStep(DocStep):
    """The quality filters on one document (counters: see the module docstring)."""

    stage = STAGE

    def __init__(self, resolved: dict[str, dict[str, Any]], mode: str, keep_signals: bool) -> None:
        super().__init__()
        self._resolved = resolved
        self._mode = mode
        self._keep_signals = keep_signals

    def setup(self) -> None:
        self._chains = build_chains(self._resolved, self._mode)

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        info = self.info
        chain = self._chains.get(doc.lang or "") or self._chains.get(FALLBACK)
        if chain is None:
            info("unfiltered")
            return doc
        try:
            res = chain.apply(doc)
            signals = res.signals if self._keep_signals else None
        except Exception as exc:  # a rule failed on this document: report it, keep the job going
            return ErrorRecord(
                source=doc.source, file=doc.file, offset=doc.line, offset_kind="line", stage=STAGE,
                error_class=type(exc).__name__, message=str(exc)[:500], head=_head(doc.text), doc_id=doc.id,
            )
        changes: dict[str, Any] = {}
        if res.changed:
            changes["text"] = res.text
            info("transformed")
        if signals:
            changes["signals"] = {**doc.signals, **signals}
        if res.failures and self._mode == "filter":
            v = res.failures[0]
            out = doc.replace(**changes) if changes else doc
            return Rejected(out, STAGE, v.reason, v.detail())
        if res.failures:
            for v in res.failures:
                info(f"tagged.{v.reason}")
            changes["meta"] = {**doc.meta, "filter_reasons": [v.reason for v in res.failures]}
        return doc.replace(**changes) if changes else doc
