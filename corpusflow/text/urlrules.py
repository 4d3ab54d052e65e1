"""URL and host rules: a host/domain blocklist (suffix match) and an optional TLD allowlist.

Where the rules come from (docs/design.md#url-and-host-rules):

* Swallow (``ngurl.py``) rejects hosts under ``*.5ch.net`` and ``*wikipedia.org`` and any host
  listed in chosen categories of the UT1 blacklist. Here a blocklist is any number of files of
  hosts or domains, one per line (UT1's ``domains`` files can be used as they are), plus hosts
  given inline. An entry blocks the host itself and every subdomain: ``5ch.net`` blocks
  ``5ch.net`` and ``egg.5ch.net`` but not ``not5ch.net`` (we match whole labels, unlike a plain
  ``endswith``).
* llm-jp v1 (``has_valid_domain``) keeps a page only if the last label of its hostname is one
  of 13 TLDs (``resources/tld/llm_jp_valid_tlds.txt``). The list is shipped but **off by
  default**: a practitioner review found it removed ~2% of lang=ja Common Crawl, much of it
  usable (docs/design.md#pitfalls, pitfall 3). llm-jp also drops ``https://ja.wikipedia.org/`` because
  Wikipedia is added as its own source; put ``wikipedia.org`` in the blocklist for that.

Hosts are compared in a normal form: lower case, no port, no trailing dot, internationalised
names in their ASCII (punycode) form, so a list written either way matches. An IP address is a
host like any other (and has no TLD: it fails the TLD allowlist).

Reason codes: ``url.invalid`` (no parsable host), ``url.blocked_host``, ``url.tld_not_allowed``.
Pure Python (no Beam import); the stage is :mod:`corpusflow.steps.urls`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from corpusflow.core.paths import resolve_path

REASON_INVALID = "url.invalid"
REASON_BLOCKED = "url.blocked_host"
REASON_TLD = "url.tld_not_allowed"

log = logging.getLogger(__name__)

_HOST_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?)*$")
_IPV6_RE = re.compile(r"^\[[0-9a-f:.]+\]$")


def normalize_host(host: str) -> str | None:
    """Lower-case, strip port/dots/wildcards, IDNA-encode; None if it is not a host name.

    Accepts list entries in the usual spellings: ``Example.COM``, ``*.example.com``,
    ``.example.com``, ``example.com.``, ``http://example.com/path``, ``例え.jp``.
    """
    h = host.strip()
    if not h:
        return None
    if "://" in h:
        try:
            h = urlsplit(h).hostname or ""
        except ValueError:
            return None
    h = h.lower()
    if h.startswith("*."):
        h = h[2:]
    h = h.strip(".")
    if _IPV6_RE.match(h):
        return h
    if ":" in h:
        h = h.rsplit(":", 1)[0] if h.count(":") == 1 else h
    if not h:
        return None
    if not h.isascii():
        try:
            h = h.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return h if _HOST_RE.match(h) else None


def url_host(url: str) -> str | None:
    """The normalised host of a URL (None if the URL has none).

    A URL written without a scheme (``example.com/page``, as some Common Crawl derivatives
    store them) is read as ``http://example.com/page``; a relative path (``/page``) or another
    scheme without a host (``mailto:``) has no host.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        if host is None and not parts.scheme and not url.startswith(("/", ".", "?", "#")):
            host = urlsplit("//" + url).hostname
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host and not host.startswith("["):  # IPv6 literal as returned by urlsplit
        return f"[{host}]"
    return normalize_host(host)


def read_list(lines: Iterable[str]) -> list[str]:
    """Entries of a list file: one per line, ``#`` starts a comment, blank lines ignored."""
    out: list[str] = []
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(entry)
    return out


def load_list_file(path: str) -> list[str]:
    """Read a list file from a local path, a ``pkg:`` path or an object-store URL."""
    import smart_open  # lazy: heavy or optional dependency, loaded only when used


    with smart_open.open(resolve_path(path), "r", encoding="utf-8") as fh:
        return read_list(fh)


class HostBlocklist:
    """A set of blocked domains; a host matches when it or any parent domain is listed.

    Lookup cost is one set probe per label of the host (``a.b.example.com``: 4 probes).
    """

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._domains: set[str] = set()
        self.invalid: list[str] = []
        for e in entries:
            self.add(e)

    def add(self, entry: str) -> None:
        h = normalize_host(entry)
        if h is None:
            self.invalid.append(entry)
        else:
            self._domains.add(h)

    def __len__(self) -> int:
        return len(self._domains)

    def match(self, host: str) -> str | None:
        """The listed domain that blocks ``host`` (already normalised), or None."""
        if not self._domains:
            return None
        if host in self._domains:
            return host
        i = host.find(".")
        while i >= 0:
            suffix = host[i + 1 :]
            if suffix in self._domains:
                return suffix
            i = host.find(".", i + 1)
        return None


@dataclass(frozen=True, slots=True)
class UrlVerdict:
    """``reason`` is None when the URL passes; ``detail`` says which entry or TLD decided."""

    reason: str | None
    detail: str = ""
    host: str | None = None


class UrlRules:
    """Blocklist + optional TLD allowlist, applied in that order."""

    def __init__(
        self,
        blocklist: HostBlocklist | None = None,
        allowed_tlds: Iterable[str] | None = None,
        reject_invalid: bool = True,
    ) -> None:
        self.blocklist = blocklist or HostBlocklist()
        self.allowed_tlds = (
            frozenset(t.strip().lower().lstrip(".") for t in allowed_tlds) if allowed_tlds is not None else None
        )
        self.reject_invalid = reject_invalid

    def check(self, url: str | None) -> UrlVerdict:
        """Verdict for one URL; a missing or empty URL passes (nothing to judge)."""
        if not url or not url.strip():
            return UrlVerdict(None)
        host = url_host(url)
        if host is None:
            if self.reject_invalid:
                return UrlVerdict(REASON_INVALID, f"no host in {url[:200]!r}")
            return UrlVerdict(None)
        hit = self.blocklist.match(host)
        if hit is not None:
            return UrlVerdict(REASON_BLOCKED, f"{host} matches blocked {hit}", host)
        if self.allowed_tlds is not None:
            tld = "" if host.startswith("[") else host.rsplit(".", 1)[-1]
            if tld not in self.allowed_tlds:
                return UrlVerdict(REASON_TLD, f"TLD {tld!r} of {host} not allowed", host)
        return UrlVerdict(None, host=host)


def rules_from_config(cfg: object) -> UrlRules:
    """Build :class:`UrlRules` from a :class:`~corpusflow.text.config.UrlFilterConfig`.

    List entries that are not hosts or domains (external lists such as UT1 have a few) are
    skipped with a warning that counts them and shows the first few.
    """
    entries: list[str] = list(getattr(cfg, "blocked_hosts", []))
    for path in getattr(cfg, "blocklist_files", []):
        entries.extend(load_list_file(path))
    blocklist = HostBlocklist(entries)
    if blocklist.invalid:
        sample = ", ".join(repr(e) for e in blocklist.invalid[:5])
        log.warning("skipped %d blocklist entries that are not hosts or domains: %s",
                    len(blocklist.invalid), sample)
    tlds = load_list_file(cfg.tld_allowlist_file) if getattr(cfg, "tld_allowlist", False) else None  # type: ignore[attr-defined]
    return UrlRules(blocklist, tlds, getattr(cfg, "reject_invalid", True))
