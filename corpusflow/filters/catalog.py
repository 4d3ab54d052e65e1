"""The catalog of built-in filter rules: importing it registers every rule module, and
:func:`build_step` builds a step from its registry name and raw parameters.

It sits above the rule modules (which import :mod:`corpusflow.filters.base`), so ``base`` never
imports its own subclasses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from corpusflow.filters import quality_model, rules_en, rules_ja, rules_text, toxicity  # noqa: F401  (registers the rules)
from corpusflow.filters.base import FILTERS, FilterConfigError, Step, params_help


def ensure_registered() -> None:
    """The built-in rules are registered when this module is imported; kept for callers that
    want to say so explicitly."""


def build_step(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    id: str | None = None,
    languages: Iterable[str] | None = None,
    where: str = "",
) -> Step:
    """Build a step from its registry name and raw parameters, with clear errors.

    Raises:
        FilterConfigError: unknown name (lists the known names) or bad parameters (lists the
            allowed parameters with their defaults).
    """
    ensure_registered()
    prefix = f"{where}: " if where else ""
    if name not in FILTERS:
        raise FilterConfigError(f"{prefix}unknown filter {name!r}; known filters: {', '.join(FILTERS.names())}")
    cls = FILTERS.get(name)
    try:
        p = cls.Params.model_validate(dict(params or {}))
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            key = ".".join(str(x) for x in e.get("loc", ())) or "(params)"
            if e.get("type") == "extra_forbidden":
                problems.append(f"unknown parameter {key!r}")
            else:
                problems.append(f"parameter {key!r}: {e.get('msg')} (got {e.get('input')!r})")
        raise FilterConfigError(
            f"{prefix}filter {name!r}: {'; '.join(problems)}; allowed parameters: {params_help(cls)}"
        ) from None
    return cls(p, id=id, languages=languages)
