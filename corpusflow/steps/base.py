"""The per-document step contract.

A step takes one :class:`~corpusflow.core.document.Document` and returns one outcome: the
(possibly changed) document to pass on, or a :class:`~corpusflow.core.document.Rejected` /
:class:`~corpusflow.core.document.ErrorRecord` naming its stage. So a step never drops a
document silently. Steps are plain Python: the Beam wing runs any list of them in one DoFn
(:class:`corpusflow.stages.chain.DocumentStages`), and tests run them directly.
"""

from __future__ import annotations

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.core.process_cache import per_process

__all__ = ["DocStep", "per_process"]


class DocStep:
    """One per-document stage as plain Python: a document in, one outcome out.

    :meth:`apply` returns the (possibly changed) :class:`~corpusflow.core.document.Document` to pass
    on, or a :class:`~corpusflow.core.document.Rejected` / :class:`~corpusflow.core.document.ErrorRecord`
    naming this stage. The runner of the steps counts the outcomes (``in``, ``kept``,
    ``rejected.<reason>``, ``error.<class>``: :mod:`corpusflow.core.outcomes`) from what
    :meth:`apply` returns; a step counts only extra facts with :meth:`info` (``info.<name>``).
    Counts go to :attr:`counts` (name -> n, Beam namespace :attr:`stage`) and are published by
    the DoFn that runs the step, a batch at a time (:class:`corpusflow.stages.chain.DocumentStages`),
    so a document costs a dict addition per counter instead of a Beam metric update. Subclasses load their models in :meth:`setup` and
    keep their constructors cheap to pickle.
    """

    stage: str = ""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        #: Ledger counts ``(kind, source, stage, detail) -> n`` beyond the outcomes (e.g. benchmark
        #: hits of decontamination), added to the run's ledger by the DoFn that runs the step.
        self.ledger_extra: dict[tuple[str, str, str, str], int] = {}

    def setup(self) -> None:
        """Load models and tables (once per DoFn instance, on the worker)."""

    def teardown(self) -> None:
        """Release what :meth:`setup` acquired (worker processes, pools)."""

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        raise NotImplementedError

    def info(self, name: str, n: int = 1) -> None:
        """Count ``info.<name>`` (a fact that is not an outcome: a language seen, a page parsed)."""
        key = "info." + name
        counts = self.counts
        counts[key] = counts.get(key, 0) + n
