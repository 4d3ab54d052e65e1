"""FilterUrls: host/domain blocklist and optional TLD allowlist, before extraction and langid.

Runs first after reading because it is the cheapest rule and saves extracting pages that would
be dropped anyway. Documents without a URL pass. Reason codes (see :mod:`corpusflow.urlrules`):
``url.invalid``, ``url.blocked_host``, ``url.tld_not_allowed``; the rejected document keeps its
text (as read) so the rejection can be audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from corpusflow.document import Document, Rejected
from corpusflow.extract_config import UrlFilterConfig
from corpusflow.stages.base import TAG_REJECTED, StageCounters, StageOutputs
from corpusflow.urlrules import rules_from_config

STAGE = "urls"


class _UrlFn(beam.DoFn):
    def __init__(self, cfg: UrlFilterConfig) -> None:
        self._cfg = cfg

    def setup(self) -> None:
        self._rules = rules_from_config(self._cfg)
        self._counters = StageCounters(STAGE)

    def process(self, doc: Document) -> Iterator[Any]:
        verdict = self._rules.check(doc.url)
        if verdict.reason is None:
            self._counters.inc("kept")
            yield doc
            return
        self._counters.inc(f"rejected.{verdict.reason}")
        if doc.meta.get("content_kind") == "html":
            doc = doc.replace(text="")  # do not copy raw HTML into the rejected output
        yield pvalue.TaggedOutput(TAG_REJECTED, Rejected(doc, STAGE, verdict.reason, verdict.detail))


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

    def expand(self, docs: beam.PCollection) -> StageOutputs:
        if not self._cfg.enabled:
            return StageOutputs(kept=docs)
        outs = docs | "FilterUrls" >> beam.ParDo(_UrlFn(self._cfg)).with_outputs(TAG_REJECTED, main="kept")
        return StageOutputs(kept=outs.kept, rejected=outs[TAG_REJECTED])
