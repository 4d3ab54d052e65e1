"""ApplyFilters: the quality-filter stage (one filter chain per language, in one DoFn).

Input: documents with ``lang`` set by language ID. For each document the chain of its
language's profile runs (documents of languages without a profile pass through unchanged):

* ``kept``: documents that pass (text possibly cleaned by the profile's transforms), with the
  measured signals in ``doc.signals`` when ``keep_signals`` is on; in ``tag`` mode every
  document is kept and the reason codes it would have been dropped for are listed in
  ``doc.meta["filter_reasons"]``.
* ``rejected``: :class:`~corpusflow.document.Rejected` with ``stage="filters"``, the stable
  reason code (``ja.hiragana_fraction.too_low``) and ``detail``, a short JSON of the deciding
  signal, its value and the threshold.
* ``errors``: a rule that raises on a document does not crash the job: the document becomes an
  :class:`~corpusflow.document.ErrorRecord` (``stage="filters"``).

Counters (namespace ``filters``): ``docs_in``, ``kept``, ``rejected``, ``rejected.<reason>``,
``tagged.<reason>`` (tag mode), ``unfiltered`` (no profile for the language), ``errors``,
``transformed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from corpusflow.document import Document, ErrorRecord, Rejected
from corpusflow.filters.chain import FilterChain
from corpusflow.filters.config import FilterStageConfig
from corpusflow.filters.profiles import ProfileSpec, build_chain
from corpusflow.stages.base import TAG_ERRORS, TAG_REJECTED, StageCounters, StageOutputs

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


class _FilterFn(beam.DoFn):
    def __init__(self, resolved: dict[str, dict[str, Any]], mode: str, keep_signals: bool) -> None:
        self._resolved = resolved
        self._mode = mode
        self._keep_signals = keep_signals

    def setup(self) -> None:
        self._chains = build_chains(self._resolved, self._mode)
        self._counters = StageCounters(STAGE)

    def process(self, doc: Document) -> Iterator[Any]:
        c = self._counters
        c.inc("docs_in")
        chain = self._chains.get(doc.lang or "") or self._chains.get(FALLBACK)
        if chain is None:
            c.inc("unfiltered")
            c.inc("kept")
            yield doc
            return
        try:
            res = chain.apply(doc)
            signals = res.signals if self._keep_signals else None
        except Exception as exc:  # a rule failed on this document: report it, keep the job going
            c.inc("errors")
            yield pvalue.TaggedOutput(
                TAG_ERRORS,
                ErrorRecord(
                    source=doc.source, file=doc.file, offset=doc.line, offset_kind="line", stage=STAGE,
                    error_class=type(exc).__name__, message=str(exc)[:500], head=_head(doc.text), doc_id=doc.id,
                ),
            )
            return
        changes: dict[str, Any] = {}
        if res.changed:
            changes["text"] = res.text
            c.inc("transformed")
        if signals:
            changes["signals"] = {**doc.signals, **signals}
        if res.failures and self._mode == "filter":
            v = res.failures[0]
            c.inc("rejected")
            c.inc(f"rejected.{v.reason}")
            out = doc.replace(**changes) if changes else doc
            yield pvalue.TaggedOutput(TAG_REJECTED, Rejected(out, STAGE, v.reason, v.detail()))
            return
        if res.failures:
            for v in res.failures:
                c.inc(f"tagged.{v.reason}")
            changes["meta"] = {**doc.meta, "filter_reasons": [v.reason for v in res.failures]}
        c.inc("kept")
        yield doc.replace(**changes) if changes else doc


class ApplyFilters(beam.PTransform):
    """Quality filters: ``docs | ApplyFilters(cfg)`` -> ``StageOutputs(kept, rejected, errors=...)``.

    Args:
        cfg: the validated :class:`~corpusflow.filters.config.FilterStageConfig`; its profiles are
            resolved at construction (launch time) and shipped to the workers with the DoFn.
    """

    def __init__(self, cfg: FilterStageConfig) -> None:
        super().__init__()
        self._cfg = cfg
        self._resolved = cfg.resolved_profiles()

    def expand(self, docs: beam.PCollection) -> StageOutputs:
        outs = docs | "Filter" >> beam.ParDo(
            _FilterFn(self._resolved, self._cfg.mode, self._cfg.keep_signals)
        ).with_outputs(TAG_REJECTED, TAG_ERRORS, main="kept")
        return StageOutputs(kept=outs.kept, rejected=outs[TAG_REJECTED], errors=outs[TAG_ERRORS])
