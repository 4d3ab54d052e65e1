"""SelectByImportance: the DSIR selection stage (logic in :mod:`corpusflow.selection.dsir`).

Graph::

    docs -> Weigh (DoFn, model loaded in setup())
              |-- out of scope (language / source not selected on) --------------------> kept
              |-- fewer than min_units units -> Rejected(dsir.too_short)
              '-- candidates: (key, doc) with key = log w + Gumbel(seed, source, id)
                    |-- (key, id) pairs -> Top.Of(k) -> k-th largest pair (singleton side input)
                    '-- Select: (key, id) >= k-th pair -> kept (signal dsir.log_weight)
                                 otherwise     -> Rejected(dsir.not_selected, detail=weight)

Exact global top-k: ``beam.combiners.Top.Of(k)`` runs over ``(key, id)`` pairs only — never
whole documents — so its memory is O(k) small tuples per combiner (about 100 B each: a few
hundred MB for k = 1M), and the threshold reaches every worker as one side-input value. A
per-document rule with a fixed threshold would avoid the combine but could not guarantee
exactly k. Keys are tied only when two documents have equal keys, and then the id decides, so
exactly ``min(k, candidates)`` documents are selected whatever the runner or bundle order.

Every document leaves through ``kept`` or ``rejected``: input = kept + rejected + errors.
Counters (namespace ``dsir``): ``docs_in``, ``passed``, ``candidates``, ``kept``, ``rejected``,
``rejected.<reason>``, ``errors``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from corpusflow.core.document import Document, Rejected, error_from_exception
from corpusflow.selection.config import DsirStageConfig
from corpusflow.selection.dsir import (
    REASON_NOT_SELECTED,
    REASON_TOO_SHORT,
    DsirModel,
    is_selected,
    selection_key,
)
from corpusflow.stages.base import TAG_ERRORS, TAG_REJECTED, StageCounters, StageOutputs

log = logging.getLogger(__name__)

STAGE = "dsir"
TAG_PASS = "passed"
SIGNAL = "dsir.log_weight"


def _round(x: float) -> float:
    return float(f"{x:.6g}")


class _WeighFn(beam.DoFn):
    """Scores candidates; passes the others through. The model loads once per worker."""

    def __init__(self, cfg: DsirStageConfig, seed: int, model_bytes: bytes | None) -> None:
        self._cfg = cfg
        self._seed = seed
        self._model_bytes = model_bytes  # fitted at launch (cfg.fit), else None: load cfg.model
        self._langs = frozenset(cfg.languages) if cfg.languages is not None else None
        self._sources = frozenset(cfg.sources) if cfg.sources is not None else None

    def setup(self) -> None:
        if self._model_bytes is not None:
            self._model = DsirModel.from_bytes(self._model_bytes, origin="stages.dsir.fit")
        else:
            self._model = DsirModel.load(str(self._cfg.model))
        _ = self._model.log_diff  # compute once, before the first document
        self._counters = StageCounters(STAGE)

    def process(self, doc: Document) -> Iterator[Any]:
        c = self._counters
        c.received()
        if (self._langs is not None and doc.lang not in self._langs) or (
            self._sources is not None and doc.source not in self._sources
        ):
            c.info("passed")
            c.kept()
            yield pvalue.TaggedOutput(TAG_PASS, doc)
            return
        try:
            lw, n_units = self._model.log_weight(doc.text, self._cfg.min_units)
        except Exception as exc:  # a document the featurizer cannot handle: report, go on
            c.error(type(exc).__name__)
            yield pvalue.TaggedOutput(TAG_ERRORS, error_from_exception(doc, STAGE, exc))
            return
        if lw is None:
            c.rejected(REASON_TOO_SHORT)
            detail = json.dumps({"units": n_units, "min_units": self._cfg.min_units}, separators=(",", ":"))
            yield pvalue.TaggedOutput(TAG_REJECTED, Rejected(doc, STAGE, REASON_TOO_SHORT, detail))
            return
        c.info("candidates")
        key = selection_key(lw, doc.source, doc.id, self._seed, self._cfg.noise)
        yield (key, doc.replace(signals={**doc.signals, SIGNAL: _round(lw)}))


class _SelectFn(beam.DoFn):
    def __init__(self, k: int) -> None:
        self._k = k

    def setup(self) -> None:
        self._counters = StageCounters(STAGE)

    def process(self, item: tuple[float, Document], threshold: list[Any] | None) -> Iterator[Any]:
        key, doc = item
        thr = (float(threshold[0]), str(threshold[1])) if threshold else None
        if self._k > 0 and is_selected(key, doc.id, thr):
            self._counters.kept()
            yield doc
            return
        self._counters.rejected(REASON_NOT_SELECTED)
        d = {"log_weight": doc.signals.get(SIGNAL), "key": _round(key), "k": self._k}
        if thr is not None:
            d["kth_key"] = _round(thr[0])
        yield pvalue.TaggedOutput(
            TAG_REJECTED, Rejected(doc, STAGE, REASON_NOT_SELECTED, json.dumps(d, separators=(",", ":")))
        )


def _kth(top: list[tuple[float, str]], k: int) -> list[Any] | None:
    """The k-th largest (key, id) pair, or None when there are fewer than k candidates."""
    if k <= 0 or len(top) < k:
        return None
    key, doc_id = top[k - 1]
    return [key, doc_id]


class SelectByImportance(beam.PTransform):
    """DSIR: ``docs | SelectByImportance(cfg, seed)`` -> ``StageOutputs(kept, rejected, errors=...)``.

    Args:
        cfg: the validated :class:`~corpusflow.selection.config.DsirStageConfig` (checked at launch by
            :func:`corpusflow.config.checks.launch_checks`).
        seed: the pipeline seed (keys the Gumbel noise).
        model_bytes: a model fitted by the run plan (:func:`corpusflow.run.rundir.prepare_resources`,
            ``fit``), shipped to the workers (a few hundred KB); None: the workers load ``cfg.model``.
    """

    def __init__(self, cfg: DsirStageConfig, seed: int, model_bytes: bytes | None = None) -> None:
        super().__init__()
        if cfg.k is None or (cfg.model is None and model_bytes is None):
            raise ValueError("stages.dsir: k and a model (a file, or one fitted by the run plan) are required")
        self._cfg = cfg
        self._seed = seed
        self._model_bytes = model_bytes

    def expand(self, docs: beam.PCollection) -> StageOutputs:
        k = int(self._cfg.k or 0)
        weighed = docs | "Weigh" >> beam.ParDo(
            _WeighFn(self._cfg, self._seed, self._model_bytes)
        ).with_outputs(TAG_PASS, TAG_REJECTED, TAG_ERRORS, main="candidates")
        cands = weighed.candidates
        threshold = (
            cands
            | "KeyAndId" >> beam.Map(lambda kd: (kd[0], kd[1].id))
            | "TopK" >> beam.combiners.Top.Of(max(k, 1))
            | "KthPair" >> beam.Map(_kth, k=k)
        )
        selected = cands | "Select" >> beam.ParDo(
            _SelectFn(k), threshold=pvalue.AsSingleton(threshold)
        ).with_outputs(TAG_REJECTED, main="kept")
        kept = (selected.kept, weighed[TAG_PASS]) | "JoinKept" >> beam.Flatten()
        rejected = (weighed[TAG_REJECTED], selected[TAG_REJECTED]) | "JoinRejected" >> beam.Flatten()
        return StageOutputs(kept=kept, rejected=rejected, errors=weighed[TAG_ERRORS])
