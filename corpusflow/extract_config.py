"""Config of the Common Crawl stages: HTML-to-text extraction and URL/host rules (issue #11).

Both models hang under ``stages`` in a pipeline config (``stages.extract``, ``stages.urls``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from corpusflow.configbase import StrictModel

LLM_JP_TLDS = "pkg:resources/tld/llm_jp_valid_tlds.txt"


class ExtractConfig(StrictModel):
    """HTML to text with trafilatura (:mod:`corpusflow.stages.extract`).

    Only documents with ``meta.content_kind == "html"`` (WARC responses) are touched; JSONL,
    Parquet and WET documents pass through unchanged, so the stage is on by default; the
    pipeline adds it to the graph only when a source may read WARC files
    (:func:`extraction_needed`).
    """

    enabled: bool = Field(True, description="Extract the main text of HTML documents.")
    include_comments: bool = Field(
        False, description="Keep user comments (Swallow: off, filters.md §2.1)."
    )
    include_tables: bool = Field(False, description="Keep table cells (Swallow: off, filters.md §2.1).")
    include_links: bool = Field(False, description="Keep link targets in the text (markdown-like).")
    include_images: bool = Field(False, description="Keep image descriptions.")
    favor_precision: bool = Field(False, description="trafilatura: less text, less boilerplate.")
    favor_recall: bool = Field(False, description="trafilatura: more text, more boilerplate.")
    fast: bool = Field(
        False, description="trafilatura: skip the fallback extractors (faster, a little less recall)."
    )
    max_html_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Pages whose HTML (as read, before decoding) is larger are rejected as "
        "extract.too_large without parsing. trafilatura's time grows faster than linearly with "
        "page size; Common Crawl truncates larger payloads anyway (WARC-Truncated).",
    )
    timeout_s: float = Field(
        10.0,
        gt=0,
        description="Wall-clock limit per page; slower pages are rejected as extract.timeout and "
        "the extraction worker is replaced. A safety net against pathological pages: set it well "
        "above the normal time (median ~15 ms, slowest sample page 0.3 s on 2 cores) so the "
        "outcome does not depend on machine speed.",
    )
    isolation: Literal["subprocess", "inprocess"] = Field(
        "subprocess",
        description="'subprocess' runs trafilatura in a child process that can be killed at the "
        "time limit; 'inprocess' is slightly faster but cannot stop a page that never ends "
        "(timeout_s is then not enforced).",
    )
    workers_per_process: int = Field(
        0, ge=0, description="Extraction child processes shared by the threads of one Beam worker "
        "process (0 = one per CPU). More threads than this wait for a free worker.",
    )
    worker_memory_mb: int = Field(
        4096, ge=0, description="Address-space cap of the extraction child process (0 = none)."
    )
    ja_prefilter: bool = Field(
        False,
        description="Before extraction keep only pages that look Japanese: <html lang=ja>, "
        "Content-Language ja, or a title with kana (Swallow's pre-filter, filters.md §2.1). "
        "For Japanese-only runs; others are rejected as extract.ja_prefilter.not_japanese.",
    )


class UrlFilterConfig(StrictModel):
    """URL and host rules (:mod:`corpusflow.stages.urls`), applied before extraction.

    Documents without a URL pass. The pipeline adds the stage to the graph only when it can act
    (:func:`url_rules_needed`): a list is configured or a source reads WARC/WET files; so a
    JSONL-only run without lists has no URL stage. A host is blocked when it equals a listed domain or is a
    subdomain of one (``5ch.net`` blocks ``egg.5ch.net``). The TLD allowlist is llm-jp's
    (13 TLDs, filters.md §1.1) and is off by default: it removes usable Japanese pages (about
    2% of lang=ja Common Crawl, filters.md §8 pitfall 3).
    """

    enabled: bool = Field(True, description="Apply the URL rules (a no-op without lists or bad URLs).")
    blocklist_files: list[str] = Field(
        default_factory=list,
        description="Files of blocked hosts/domains, one per line ('#' comments; UT1 'domains' "
        "files work as they are). Local paths, pkg: paths or object-store URLs.",
    )
    blocked_hosts: list[str] = Field(
        default_factory=list, description="Extra blocked hosts/domains, e.g. [5ch.net, wikipedia.org]."
    )
    tld_allowlist: bool = Field(False, description="Keep only URLs whose TLD is in tld_allowlist_file.")
    tld_allowlist_file: str = Field(
        LLM_JP_TLDS, description="One TLD per line; default llm-jp's list shipped in the package."
    )
    reject_invalid: bool = Field(
        True, description="Reject documents whose URL has no parsable host (url.invalid)."
    )

    @model_validator(mode="after")
    def _check_lists(self) -> UrlFilterConfig:
        import os

        from corpusflow.config import is_remote, resolve_path
        from corpusflow.urlrules import normalize_host

        bad = [h for h in self.blocked_hosts if normalize_host(h) is None]
        if bad:
            raise ValueError(f"blocked_hosts: not a host or domain: {', '.join(map(repr, bad))}")
        files = list(self.blocklist_files) + ([self.tld_allowlist_file] if self.tld_allowlist else [])
        missing = [f for f in files if not is_remote(resolve_path(f)) and not os.path.isfile(resolve_path(f))]
        if missing:
            raise ValueError(f"list file not found: {', '.join(map(repr, missing))}")
        return self


# --------------------------------------------------------------------------------------------
# Whether the stages have anything to do in a given run (used by the pipeline builder)
# --------------------------------------------------------------------------------------------

WEB_FORMATS = frozenset({"warc", "wet"})


def source_formats(cfg: Any) -> set[str]:
    """Formats of a pipeline config's sources, from declared formats or path extensions
    (``unknown`` when an ``auto`` glob does not tell)."""
    from corpusflow.io.readers import detect_format

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
