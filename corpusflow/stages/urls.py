"""FilterUrls: host/domain blocklist and optional TLD allowlist, before extraction and langid.

Runs first after reading because it is the cheapest rule and saves extracting pages that would
be dropped anyway. Documents without a URL pass. Reason codes (see :mod:`corpusflow.urlrules`):
``url.invalid``, ``url.blocked_host``, ``url.tld_not_allowed``; the rejected document keeps its
text (as read) so the rejection can be audited.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from corpusflow.document import Document, Rejected
from corpusflow.extract_config import UrlFilterConfig
from corpusflow.stages.base import DocStep, StageOutputs
from corpusflow.urlrules import rules_from_config

STAGE = "urls"


class UrlStep(DocStep):
    """The URL rules on one document (counters: ``kept``, ``rejected.<reason>``)."""

    stage = STAGE

    def __init__(self, cfg: UrlFilterConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def setup(self) -> None:
        self._rules = rules_from_config(self._cfg)

    def apply(self, doc: Document) -> Document | Rejected:
        verdict = self._rules.check(doc.url)
        if verdict.reason is None:
            self.inc("kept")
            return doc
        self.inc(f"rejected.{verdict.reason}")
        if doc.meta.get("content_kind") == "html":
            doc = doc.replace(text="")  # do not copy raw HTML into the rejected output
        return Rejected(doc, STAGE, verdict.reason, verdict.detail)


class FilterUrls(beam.PTransform):
    """Applies :class:`~corpusflow.urlrules.UrlRules` built from a ``UrlFilterConfig``.

    Accepts the ``UrlFilterConfig`` or a whole ``PipelineConfig`` (its ``stages.urls``). The
    lists are loaded in ``setup()`` on each worker (files may be object-store URLs) and once
    more at construction, so a missing or unreadable list fails before the job starts.
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        stages = getattr(cfg, "stages", None)
        self._cfg: UrlFilterConfig = stages.urls if stages is not None else cfg
        if self._cfg.enabled:
            rules_from_config(self._cfg)

    def step(self) -> UrlStep | None:
        """This stage as a :class:`~corpusflow.stages.base.DocStep` (None when switched off)."""
        return UrlStep(self._cfg) if self._cfg.enabled else None

    def expand(self, docs: beam.PCollection) -> StageOutputs:
        step = self.step()
        if step is None:
            return StageOutputs(kept=docs)
        from corpusflow.stages.chain import DocumentStages

        return docs | "FilterUrls" >> DocumentStages([step])
