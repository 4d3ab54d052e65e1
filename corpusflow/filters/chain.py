"""A filter chain: the steps of one profile run in order on one document (pure Python).

``filter`` mode stops at the first failure (HojiChar ``Compose`` semantics, cheap rules first);
``tag`` mode runs every step, records every signal and every failure, and drops nothing, so a
later run can re-threshold from the stored signals without re-measuring. Transforms (cleaners)
rewrite the text in both modes; the steps after them measure the cleaned text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corpusflow.core.document import Document
from corpusflow.filters.base import Failure, Filter, Step
from corpusflow.filters.keywords import share_indexes
from corpusflow.filters.text import TextView, warm_up_kernels

MODES = ("filter", "tag")


@dataclass(slots=True)
class Verdict:
    """One failed step: the reason code, the step id and the deciding measurement."""

    reason: str
    step: str
    failure: Failure
    signal: str

    def detail(self) -> str:
        """Short JSON of the deciding signal and threshold (the ``Rejected.detail`` field)."""
        f = self.failure
        d: dict[str, Any] = {"rule": self.step, "signal": self.signal}
        if f.value is not None:
            d["value"] = _round(f.value)
        if f.op:
            d["op"] = f.op
        if f.limit is not None:
            d["limit"] = _round(f.limit)
        return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def _round(x: Any) -> Any:
    if isinstance(x, float):
        if math.isinf(x) or math.isnan(x):
            return str(x)
        return float(f"{x:.6g}")
    return x


class ChainResult:
    """Outcome of a chain on one document: final text, signals, failures (empty = keep).

    ``signals`` (full names such as ``ja.hiragana_fraction``) is built on first access.
    """

    __slots__ = ("_measured", "_signals", "changed", "failures", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.failures: list[Verdict] = []
        self.changed = False
        self._measured: list[tuple[Step, dict[str, float]]] = []
        self._signals: dict[str, float] | None = None

    @property
    def signals(self) -> dict[str, float]:
        if self._signals is None:
            out: dict[str, float] = {}
            for step, m in self._measured:
                name = step.signal_name
                for k, v in m.items():
                    out[name(k)] = float(v)
            self._signals = out
        return self._signals

    @property
    def keep(self) -> bool:
        return not self.failures

    @property
    def reason(self) -> str | None:
        return self.failures[0].reason if self.failures else None


def _plan_entry(step: Step) -> tuple[Step, Any, Any]:
    """(step, measure, judge) for a filter that runs as :meth:`Filter.run` does (measure, then
    judge), else (step, None, None): the chain calls ``step.run``."""
    if isinstance(step, Filter) and type(step).run is Filter.run and "run" not in vars(step):
        return step, step.measure, step.judge
    return step, None, None


class FilterChain:
    """Ordered steps applied to documents of one language.

    Args:
        steps: the steps, already built (see :func:`corpusflow.filters.profiles.build_chain`).
        mode: ``filter`` (stop at the first failure) or ``tag`` (run all, drop nothing).
        name: profile name, for descriptions and error messages.
    """

    def __init__(self, steps: Sequence[Step], mode: str = "filter", name: str = "") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        ids = [s.id for s in steps]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"profile {name!r}: step ids must be unique; repeated: {', '.join(dup)} (give each an 'id')")
        self.steps = list(steps)
        self.mode = mode
        self.name = name
        self._ready = False
        self._plan: list[tuple[Step, Any, Any]] = []
        self._plan_of: tuple[Step, ...] = ()

    def setup(self) -> FilterChain:
        """Load word lists and models once (the DoFn calls this in ``setup()``)."""
        if not self._ready:
            warm_up_kernels()  # compile / load the numba kernels here, not on the first document
            share_indexes(self.steps)
            for s in self.steps:
                s.setup()
            self._make_plan()
            self._ready = True
        return self

    def _make_plan(self) -> None:
        self._plan = [_plan_entry(s) for s in self.steps]
        self._plan_of = tuple(self.steps)

    def reason_codes(self) -> list[str]:
        return [r for s in self.steps for r in s.reason_codes()]

    def describe(self) -> list[dict[str, Any]]:
        return [s.describe() for s in self.steps]

    def run(self, text: str, doc: Document | None = None) -> ChainResult:
        """Run the chain on ``text`` (``doc`` gives URL/metadata rules their context)."""
        if not self._ready:
            self.setup()
        if self._plan_of != tuple(self.steps):
            self._make_plan()  # the step list was replaced or changed after setup()
        view = TextView(text, doc)
        res = ChainResult(text)
        measured = res._measured
        stop = self.mode == "filter"
        for step, measure, judge in self._plan:
            if measure is not None:  # a plain filter: Filter.run without the Outcome tuple
                m = measure(view)
                measured.append((step, m))
                f = judge(m)
            else:
                m, f, new_text = step.run(view)
                measured.append((step, m))
                if new_text is not None:
                    view = TextView(new_text, doc)
                    res.text = new_text
                    res.changed = True
            if f is not None:
                res.failures.append(Verdict(step.reason(f.cause), step.id, f, step.signal_name(f.key)))
                if stop:
                    break
        return res

    def apply(self, doc: Document) -> ChainResult:
        return self.run(doc.text, doc)

    def __len__(self) -> int:
        return len(self.steps)
