"""The contract every stage PTransform follows.

A stage takes a ``PCollection[Document]`` and returns :class:`StageOutputs`: the documents it
keeps, plus any of rejected (:class:`~corpusflow.core.document.Rejected`), duplicates
(:class:`~corpusflow.core.document.Duplicate`) and errors (:class:`~corpusflow.core.document.ErrorRecord`).
The pipeline builder (``pipelines/``, :mod:`corpusflow.pipeline`) chains ``kept`` into the next
stage and flattens the other outputs into the writers, which also count them for the manifest.
So a stage never drops a document silently: whatever leaves ``kept`` leaves through one of the
other three outputs.

DoFns load models in ``setup()``, batch their work, and keep their constructors cheap to pickle.
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from corpusflow.core import outcomes
from corpusflow.run import progress

# Tagged-output names used by multi-output DoFns.
TAG_REJECTED = "rejected"
TAG_DUPLICATES = "duplicates"
TAG_ERRORS = "errors"
#: Ledger counts ``((kind, source, stage, reason), n)`` that a stage counted itself (see
#: :class:`corpusflow.stages.chain.DocumentStages`): its records need no ledger step downstream.
TAG_LEDGER = "ledger"


class StageOutputs(NamedTuple):
    kept: beam.PCollection
    rejected: beam.PCollection | None = None
    duplicates: beam.PCollection | None = None
    errors: beam.PCollection | None = None
    #: When set, ``((kind, source, stage, reason), n)`` counts of this stage's rejected and error
    #: records (and of its kept documents when it was asked to count them); the pipeline then
    #: adds these to the ledger instead of counting the records one by one.
    ledger: beam.PCollection | None = None


class StageCounters:
    """Caches Beam counters of one stage (namespace = stage), named in the outcome vocabulary of
    :mod:`corpusflow.core.outcomes`: use :meth:`received`, :meth:`kept`, :meth:`rejected`,
    :meth:`duplicate`, :meth:`error` and :meth:`info`. The live progress of a run
    (:mod:`corpusflow.run.progress`) reads the same increments.
    """

    def __init__(self, namespace: str) -> None:
        self._ns = namespace
        self._cache: dict[str, object] = {}
        # --- progress: a plain dict slot while a run is watched, else None.
        self._progress = progress.acquire(namespace)

    def inc(self, name: str, n: int = 1) -> None:
        c = self._cache.get(name)
        if c is None:
            c = Metrics.counter(self._ns, name)
            self._cache[name] = c
        c.inc(n)  # type: ignore[attr-defined]
        # --- progress: one dict addition, no lock, no I/O.
        p = self._progress
        if p is not None:
            p[name] = p.get(name, 0) + n

    def received(self, n: int = 1) -> None:
        self.inc(outcomes.IN, n)

    def kept(self, n: int = 1) -> None:
        self.inc(outcomes.KEPT, n)

    def rejected(self, reason: str, n: int = 1) -> None:
        self.inc(outcomes.counter(outcomes.REJECTED, reason), n)

    def duplicate(self, kind: str, n: int = 1) -> None:
        self.inc(outcomes.counter(outcomes.DUPLICATE, kind), n)

    def error(self, error_class: str, n: int = 1) -> None:
        self.inc(outcomes.counter(outcomes.ERROR, error_class), n)

    def info(self, name: str, n: int = 1) -> None:
        self.inc(outcomes.info(name), n)

    # A progress slot belongs to one process: re-acquire it after unpickling.
    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_progress"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._progress = progress.acquire(self._ns)
