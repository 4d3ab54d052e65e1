"""The filter framework: steps, parameters, outcomes, reason codes and the registry.

A *step* is one small, named rule of a filter chain. There are two kinds:

* :class:`Filter` — ``measure(view) -> signals`` (pure scoring) and ``judge(signals) ->
  Failure | None`` (thresholds only). Because the two are separate, a ``tag`` run can keep
  every signal and re-threshold later without re-measuring.
* :class:`Transform` — a cleaner that rewrites the text (remove lines, trim a footer,
  normalise punctuation) and reports how much it removed as signals; it may also reject (for
  example when nothing is left).

Every step has a registry name (``ja.hiragana_fraction``), typed and validated parameters (a
pydantic ``Params`` model: unknown or out-of-range parameters fail before a job starts, with the
allowed names listed), the languages it applies to, a *category* (``length`` rules can be
excluded from evaluations on short snippets), and stable reason codes
``<id>.<cause>`` such as ``ja.hiragana_fraction.too_low``. ``id`` defaults to the registry
name; a profile may give a second instance of the same rule another id.

Signals are floats named ``<id>`` (a rule's main value) or ``<id>.<key>`` (further values).

New rules (a URL/host blocklist, a fastText quality-classifier score) are ordinary
subclasses registered with :func:`register`; heavy resources load in :meth:`Step.setup`, which
the Beam DoFn calls once per worker, and the constructor stays cheap to pickle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

from corpusflow.core.model import StrictModel
from corpusflow.core.registry import Registry
from corpusflow.filters.text import TextView

CATEGORIES = ("length", "composition", "sentence", "repetition", "ngword", "content", "url", "cleaner", "model")


class Failure(NamedTuple):
    """Why a step rejects: ``cause`` (reason suffix), deciding signal key, its value, the limit.

    ``op`` says how the value compares with the limit to fail: ``"<"`` (below a minimum),
    ``">"`` (above a maximum), ``">="``, ``"<="``, ``"=="`` or ``"is"`` (a categorical rule).
    """

    cause: str
    key: str = ""
    value: float | str | None = None
    limit: float | str | None = None
    op: str = ""


class Outcome(NamedTuple):
    """Result of one step on one text: signals (short keys), an optional failure, new text.

    Short keys are turned into full signal names (:meth:`Step.signal_name`) by the chain.
    """

    signals: dict[str, float]
    failure: Failure | None = None
    text: str | None = None


class StepParams(StrictModel):
    """Base of every step's parameters (each step subclasses it as ``Params``)."""


class Step:
    """Base class of filters and transforms. Subclasses set the class attributes below."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "filter"
    category: ClassVar[str] = "content"
    languages_default: ClassVar[frozenset[str] | None] = None  # None: any language
    causes: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[StepParams]] = StepParams

    def __init__(
        self,
        params: StepParams | Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        languages: Iterable[str] | None = None,
    ) -> None:
        if params is None:
            params = self.Params()
        elif not isinstance(params, StepParams):
            params = self.Params.model_validate(dict(params))
        self.params = params
        self.id = id or self.name
        self.languages: frozenset[str] | None = (
            frozenset(languages) if languages is not None else self.languages_default
        )
        self._signal_names: dict[str, str] = {}

    # --- naming -----------------------------------------------------------------------------
    def reason(self, cause: str) -> str:
        return f"{self.id}.{cause}"

    def reason_codes(self) -> list[str]:
        return [self.reason(c) for c in self.causes]

    def signal_name(self, key: str) -> str:
        full = self._signal_names.get(key)
        if full is None:
            full = self.id if key == "" else f"{self.id}.{key}"
            self._signal_names[key] = full
        return full

    def applies_to(self, lang: str | None) -> bool:
        return self.languages is None or lang in self.languages

    def setup(self) -> None:
        """Load heavy resources (word lists, models). Called once per worker before use."""

    def run(self, view: TextView) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "category": self.category,
            "languages": sorted(self.languages) if self.languages is not None else None,
            "params": self.params.model_dump(mode="json"),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, params={self.params.model_dump()})"


class Filter(Step):
    """A rule that measures a document and judges the measurement; it never changes the text."""

    kind: ClassVar[str] = "filter"

    def measure(self, view: TextView) -> dict[str, float]:  # pragma: no cover - abstract
        """Signals of the text, keyed ``""`` (main value) or a short key. Pure scoring."""
        raise NotImplementedError

    def judge(self, signals: Mapping[str, float]) -> Failure | None:  # pragma: no cover
        """``None`` to keep, or the :class:`Failure` that drops the document. Thresholds only."""
        raise NotImplementedError

    def run(self, view: TextView) -> Outcome:
        m = self.measure(view)
        return Outcome(m, self.judge(m))


class Transform(Step):
    """A cleaner: returns the new text and signals saying how much it changed."""

    kind: ClassVar[str] = "transform"
    category: ClassVar[str] = "cleaner"

    def transform(self, view: TextView) -> tuple[str | None, dict[str, float], Failure | None]:
        """(new text or ``None`` if unchanged, signals, failure). Pure."""
        raise NotImplementedError  # pragma: no cover

    def run(self, view: TextView) -> Outcome:
        text, m, f = self.transform(view)
        return Outcome(m, f, text)


# Helpers for judges -------------------------------------------------------------------------


def below(signals: Mapping[str, float], key: str, limit: float | None, cause: str) -> Failure | None:
    """Failure if ``signals[key] < limit`` (``limit`` None: rule off)."""
    if limit is None:
        return None
    v = signals[key]
    return Failure(cause, key, v, limit, "<") if v < limit else None


def above(signals: Mapping[str, float], key: str, limit: float | None, cause: str) -> Failure | None:
    """Failure if ``signals[key] > limit`` (``limit`` None: rule off)."""
    if limit is None:
        return None
    v = signals[key]
    return Failure(cause, key, v, limit, ">") if v > limit else None


def at_least(signals: Mapping[str, float], key: str, limit: float | None, cause: str) -> Failure | None:
    """Failure if ``signals[key] >= limit`` (Swallow's NG fraction uses >=)."""
    if limit is None:
        return None
    v = signals[key]
    return Failure(cause, key, v, limit, ">=") if v >= limit else None


def ratio(num: float, den: float) -> float:
    return float(num) / den if den else 0.0


# Registry -----------------------------------------------------------------------------------

FILTERS: Registry[type[Step]] = Registry("filter")


def register(name: str):  # type: ignore[no-untyped-def]
    """Class decorator: register a step under ``name`` and set its ``name`` attribute."""

    def deco(cls: type[Step]) -> type[Step]:
        cls.name = name
        FILTERS.register(name)(cls)
        return cls

    return deco


class FilterConfigError(ValueError):
    """A bad filter name, parameter or profile (raised before any job starts)."""


def params_help(cls: type[Step]) -> str:
    parts = []
    for fname, f in cls.Params.model_fields.items():
        default = f.default if f.default is not None or not f.is_required() else "required"
        parts.append(f"{fname} (default {default!r})")
    return ", ".join(parts) or "(none)"
