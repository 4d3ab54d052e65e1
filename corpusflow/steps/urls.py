"""URL step: host/domain blocklist and optional TLD allowlist, before extraction and langid.

Runs first after reading because it is the cheapest rule and saves extracting pages that would
be dropped anyway. Documents without a URL pass. Reason codes (see :mod:`corpusflow.text.urlrules`):
``url.invalid``, ``url.blocked_host``, ``url.tld_not_allowed``; the rejected document keeps its
text (as read) so the rejection can be audited.
"""

from __future__ import annotations

from corpusflow.core.document import Document, Rejected
from corpusflow.steps.base import DocStep
from corpusflow.text.config import UrlFilterConfig
from corpusflow.text.urlrules import rules_from_config

STAGE = "urls"


class UrlStep(DocStep):
    """The URL rules on one document (rejects ``url.*``)."""

    stage = STAGE

    def __init__(self, cfg: UrlFilterConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def setup(self) -> None:
        self._rules = rules_from_config(self._cfg)

    def apply(self, doc: Document) -> Document | Rejected:
        verdict = self._rules.check(doc.url)
        if verdict.reason is None:
            return doc
        if doc.meta.get("content_kind") == "html":
            doc = doc.replace(text="")  # do not copy raw HTML into the rejected output
        return Rejected(doc, STAGE, verdict.reason, verdict.detail)
