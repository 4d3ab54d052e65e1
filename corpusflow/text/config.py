"""Config of the Common Crawl stages: HTML-to-text extraction and URL/host rules .

Both models hang under ``stages`` in a pipeline config (``stages.extract``, ``stages.urls``).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from corpusflow.core.model import StrictModel
from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.text.urlrules import normalize_host

LLM_JP_TLDS = "pkg:resources/tld/llm_jp_valid_tlds.txt"


class ExtractConfig(StrictModel):
    """HTML to text with trafilatura (:mod:`corpusflow.steps.extract`).

    Only documents with ``meta.content_kind == "html"`` (WARC responses) are touched; JSONL,
    Parquet and WET documents pass through unchanged, so the stage is on by default; the
    pipeline adds it to the graph only when a source may read WARC files
    (:func:`corpusflow.steps.catalog.extraction_needed`).
    """

    enabled: bool = Field(True, description="Extract the main text of HTML documents.")
    include_comments: bool = Field(
        False, description="Keep user comments (Swallow: off, warc2raw.py)."
    )
    include_tables: bool = Field(False, description="Keep table cells (Swallow: off, warc2raw.py).")
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
        "Content-Language ja, or a title with kana (Swallow's pre-filter, warc2raw.py). "
        "For Japanese-only runs; others are rejected as extract.ja_prefilter.not_japanese.",
    )


class UrlFilterConfig(StrictModel):
    """URL and host rules (:mod:`corpusflow.steps.urls`), applied before extraction.

    Documents without a URL pass. The pipeline adds the stage to the graph only when it can act
    (:func:`corpusflow.steps.catalog.url_rules_needed`): a list is configured or a source reads WARC/WET files; so a
    JSONL-only run without lists has no URL stage. A host is blocked when it equals a listed domain or is a
    subdomain of one (``5ch.net`` blocks ``egg.5ch.net``). The TLD allowlist is llm-jp's
    (13 TLDs, llm-jp-corpus ``scripts/filters.py``) and is off by default: it removes usable Japanese
    pages (about 2% of lang=ja Common Crawl, docs/design.md#pitfalls, pitfall 3).
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
        bad = [h for h in self.blocked_hosts if normalize_host(h) is None]
        if bad:
            raise ValueError(f"blocked_hosts: not a host or domain: {', '.join(map(repr, bad))}")
        files = list(self.blocklist_files) + ([self.tld_allowlist_file] if self.tld_allowlist else [])
        missing = [f for f in files if not is_remote(resolve_path(f)) and not os.path.isfile(resolve_path(f))]
        if missing:
            raise ValueError(f"list file not found: {', '.join(map(repr, missing))}")
        return self


class NormalizeConfig(StrictModel):
    """Text normalisation. NFC is the default, not NFKC: see :mod:`corpusflow.text.normalize`."""

    enabled: bool = True
    unicode_form: Literal["NFC", "NFKC", "none"] = Field(
        "NFC",
        description="NFC keeps full-width Japanese punctuation (。！？，．) that the Japanese "
        "filters count; NFKC folds it to ASCII (docs/design.md#nfc-vs-nfkc).",
    )
    remove_control: bool = Field(True, description="Remove C0/C1 control characters except \\n and \\t.")
    collapse_spaces: bool = Field(True, description="Collapse runs of spaces/tabs; strip line ends.")
    max_blank_lines: int = Field(1, ge=0, description="Keep at most this many consecutive blank lines.")


class LangIdConfig(StrictModel):
    """fastText lid.176 language identification."""

    enabled: bool = True
    mode: Literal["filter", "tag"] = Field(
        "filter", description="'filter' rejects other languages and low scores; 'tag' only labels."
    )
    languages: list[str] = Field(default_factory=lambda: ["ja", "en"], min_length=1)
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="Minimum fastText probability.")
    min_score_by_lang: dict[str, float] = Field(
        default_factory=dict, description="Per-language minimum score, overriding min_score."
    )
    ja_script_check: bool = Field(
        True,
        description="Japanese must contain kana: kanji-only (Chinese) text labelled 'ja' is "
        "rejected as langid.ja_without_kana.",
    )
    min_kana_fraction: float = Field(
        0.05, ge=0.0, le=1.0, description="Minimum kana share of the CJK characters for 'ja'."
    )
    model: str = Field(
        "pkg:resources/lid.176.ftz",
        description="fastText model path (shipped in the package; or an object-store URL).",
    )
    max_chars: int = Field(
        2000, ge=100, description="Characters of each document given to fastText (head of the text)."
    )

    @field_validator("min_score_by_lang")
    @classmethod
    def _check_scores(cls, v: dict[str, float]) -> dict[str, float]:
        for k, s in v.items():
            if not 0.0 <= s <= 1.0:
                raise ValueError(f"score for {k!r} must be in [0, 1], got {s}")
        return v


#: The source cleaners of :mod:`corpusflow.text.cleaners`, in the order they run.
CLEANER_NAMES = ("aozora", "boilerplate")


class CleanConfig(StrictModel):
    """Source cleaners, switched on per source (``true``: every source; a list: those sources)."""

    enabled: bool = Field(False, description="Run the source cleaners (after extract, before normalize).")
    aozora: bool | list[str] = Field(
        False, description="Aozora Bunko markup (ruby, ［＃…］ notes, notation header, 底本 footer, gaiji): "
        "true for every source or a list of source names.",
    )
    boilerplate: bool | list[str] = Field(
        False, description="Related-article / link blocks and share-button rows (Japanese and English): "
        "true for every source or a list of source names.",
    )
    signals: bool = Field(True, description="Record clean.<cleaner>.removed_chars in the document's signals.")

    @field_validator("aozora", "boilerplate")
    @classmethod
    def _names(cls, v: bool | list[str]) -> bool | list[str]:
        if isinstance(v, list) and any(not s for s in v):
            raise ValueError("source names must be non-empty")
        return v

    def cleaners_for(self, source: str) -> list[str]:
        """Names of the cleaners that apply to documents of ``source``, in run order."""
        if not self.enabled:
            return []
        out = []
        for name in CLEANER_NAMES:
            sel = getattr(self, name)
            if sel is True or (isinstance(sel, list) and source in sel):
                out.append(name)
        return out
