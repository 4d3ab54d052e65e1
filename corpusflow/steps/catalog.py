"""Which per-document steps a config runs, in pipeline order: one table, no Beam.

Each row names the stage (as written in the ledger and the manifest), the Beam label of its
step, when the config switches it on, and how to build the step from the config. The Beam wing
(:mod:`corpusflow.stages.graph`) runs consecutive steps in one DoFn; adding a per-document stage
is one row here plus its step class (see ``docs/developing.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from corpusflow.config.pipeline import PipelineConfig
from corpusflow.io.readers import detect_format
from corpusflow.steps.base import DocStep
from corpusflow.steps.clean import CleanStep
from corpusflow.steps.decontam import DecontamStep
from corpusflow.steps.extract import ExtractStep
from corpusflow.steps.filters import FilterStep
from corpusflow.steps.langid import LangIdStep
from corpusflow.steps.normalize import NormalizeStep
from corpusflow.steps.urls import UrlStep

WEB_FORMATS = frozenset({"warc", "wet"})


def source_formats(cfg: Any) -> set[str]:
    """Formats of a pipeline config's sources, from declared formats or path extensions
    (``unknown`` when an ``auto`` glob does not tell)."""
    formats: set[str] = set()
    for s in cfg.sources:
        for pattern in s.paths:
            try:
                formats.add(detect_format(pattern, s.format))
            except ValueError:
                formats.add("unknown")
    return formats


def extraction_needed(cfg: Any) -> bool:
    """ExtractText joins the graph when enabled and a source may hold WARC (HTML) records."""
    return bool(cfg.stages.extract.enabled and source_formats(cfg) & {"warc", "unknown"})


def url_rules_needed(cfg: Any) -> bool:
    """FilterUrls joins the graph when enabled and it can act: a blocklist or the TLD allowlist
    is configured, or a source reads WARC/WET (whose every record has a URL to check)."""
    u = cfg.stages.urls
    if not u.enabled:
        return False
    return bool(u.blocklist_files or u.blocked_hosts or u.tld_allowlist
                or source_formats(cfg) & (WEB_FORMATS | {"unknown"}))


@dataclass(frozen=True)
class StepSpec:
    """One per-document stage: ``name`` in the manifest, Beam ``label``, when it runs, how it is built."""

    name: str
    label: str
    needed: Callable[[PipelineConfig], bool]
    make: Callable[[PipelineConfig], DocStep]


def _filter_step(cfg: PipelineConfig) -> FilterStep:
    f = cfg.stages.filters
    return FilterStep(f.resolved_profiles(), f.mode, f.keep_signals)


#: The per-document stages in pipeline order. URL rules come first (cheapest; blocked pages are
#: never extracted), then HTML extraction (only when a source may hold HTML), the source cleaners
#: (Aozora markup, link blocks; per source), normalisation, language ID, the quality filters and
#: benchmark decontamination.
STEPS: tuple[StepSpec, ...] = (
    StepSpec("urls", "FilterUrls", url_rules_needed, lambda c: UrlStep(c.stages.urls)),
    StepSpec("extract", "ExtractText", extraction_needed, lambda c: ExtractStep(c.stages.extract)),
    StepSpec("clean", "CleanSources", lambda c: c.stages.clean.enabled, lambda c: CleanStep(c.stages.clean)),
    StepSpec("normalize", "Normalize", lambda c: c.stages.normalize.enabled,
             lambda c: NormalizeStep(c.stages.normalize)),
    StepSpec("langid", "IdentifyLanguage", lambda c: c.stages.langid.enabled,
             lambda c: LangIdStep(c.stages.langid)),
    StepSpec("filters", "ApplyFilters", lambda c: c.stages.filters.enabled, _filter_step),
    StepSpec("decontam", "Decontaminate", lambda c: c.stages.decontam.enabled,
             lambda c: DecontamStep(c.stages.decontam)),
)


def document_steps(cfg: PipelineConfig) -> list[tuple[StepSpec, DocStep]]:
    """The steps ``cfg`` switches on, in order, each built from its config section."""
    return [(spec, spec.make(cfg)) for spec in STEPS if spec.needed(cfg)]
