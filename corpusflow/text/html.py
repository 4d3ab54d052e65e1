"""HTML pages to text: charset decoding, cheap Japanese pre-filter, time-bounded extraction.

Pure Python (no Beam import). The Beam wiring is :mod:`corpusflow.steps.extract`; the WARC
reader (:mod:`corpusflow.io.warc`) uses :func:`decode_html`.

Charset decoding (:func:`decode_html`)
--------------------------------------
Crawled pages declare their encoding in the HTTP ``Content-Type`` header, in a ``<meta>`` tag or
in an XML declaration, and the declaration is often missing or wrong. Japanese pages still use
Shift_JIS and EUC-JP. The bytes are tried in this order, and the first *strict* decoding wins:

1. a byte-order mark (UTF-8, UTF-16);
2. UTF-8, when the bytes contain non-ASCII and are valid UTF-8 (valid multi-byte UTF-8 does not
   happen by chance in Shift_JIS or EUC-JP text, so this overrides a wrong legacy declaration);
3. the HTTP header charset, then the ``<meta>``/XML charset (labels mapped as browsers do:
   ``Shift_JIS`` decodes as Windows-31J/cp932, its superset; ``ISO-8859-1`` as windows-1252);
4. Japanese detection: ISO-2022-JP when its escape sequences are present, else Shift_JIS
   (cp932) and EUC-JP, scored by how much of the non-ASCII text is kana/kanji (wrong guesses
   produce half-width katakana or private-use characters); the best one above
   :data:`JA_DETECT_MIN_SCORE` wins;
5. a declared single-byte Western charset (ISO-8859-1/windows-1252/ASCII): these labels are
   server defaults that decode any bytes, so they only count once the above failed;
6. ``charset_normalizer``'s best guess (other legacy encodings: GBK, windows-1251, ...);
7. lenient: the first declared charset (or UTF-8) with replacement characters, accepted only
   when at most ``max_replacement_fraction`` of the characters are replaced.

Anything else raises :class:`UndecodableHtml` (the reader turns it into an error record).

Japanese pre-filter (:func:`ja_prefilter`)
------------------------------------------
Swallow (``warc2raw.py``) keeps a raw page only if ``<html lang="ja">`` or its ``<title>`` is
Japanese by its own classifier (nanigo, score > 0). We have no nanigo; a title counts as
Japanese when it contains kana (hiragana or katakana), the script that separates Japanese from
Chinese. A kanji-only title (``東京大学``) is therefore not enough by itself; the page still
passes if its ``lang`` attribute or ``Content-Language`` says Japanese.

Extraction (:func:`extract_text`, :class:`TimedExtractor`)
----------------------------------------------------------
Text comes from ``trafilatura.extract`` with Swallow's settings by default (no comments, no
tables; docs/design.md#html-extraction). trafilatura is pure Python and some pages take seconds or minutes
(a 1.2 MB page of 50,000 short paragraphs takes ~8 s here). :class:`TimedExtractor` runs it in a
child interpreter (safe in threaded Beam workers, unlike ``fork``, or ``signal.alarm``, which
only works in the main thread) and kills and replaces the child when a page exceeds its time
limit, so a pathological page costs at most the limit plus a restart (~0.5 s), never a hung
worker.
The datatrove Trafilatura extractor does the same with a per-document timeout (default 0.1 s).
trafilatura's ``deduplicate`` option is never used: its cache is shared across pages, which
would make the output depend on page order.
"""

from __future__ import annotations

import codecs
import contextlib
import html as html_lib
import json
import logging
import os
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Charsets
# --------------------------------------------------------------------------------------------

#: Minimum share of kana/kanji/CJK punctuation among the non-ASCII characters for a Japanese
#: guess (Shift_JIS/EUC-JP) to be accepted. Real Japanese text scores > 0.95; EUC-JP bytes read
#: as Shift_JIS come out as half-width katakana and score near 0.
JA_DETECT_MIN_SCORE = 0.8

#: Bytes searched for ``<meta charset>`` and the XML declaration. The HTML standard's prescan
#: reads 1024 bytes; real pages often put scripts before the meta tag, so we look further.
META_SCAN_BYTES = 8192

_LABELS: dict[str, str] = {}
for _names, _codec in (
    (("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932",
      "ms932", "x-ms-cp932", "shift_jisx0213", "shift_jis_2004"), "cp932"),
    (("euc-jp", "eucjp", "euc_jp", "x-euc-jp", "x-euc", "cseucpkdfmtjapanese", "ujis"), "euc_jp"),
    (("iso-2022-jp", "iso2022jp", "iso_2022_jp", "csiso2022jp", "jis"), "iso2022_jp_ext"),
    (("utf-8", "utf8", "unicode-1-1-utf-8", "utf-8-sig"), "utf-8"),
    (("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "windows-1252",
      "cp1252", "x-cp1252", "ansi_x3.4-1968", "iso_8859-1"), "cp1252"),
    (("gb2312", "gbk", "x-gbk", "gb18030", "euc-cn", "cp936"), "gb18030"),
    (("big5", "big5-hkscs", "x-x-big5"), "big5hkscs"),
    (("euc-kr", "ks_c_5601-1987", "cp949", "windows-949"), "cp949"),
    # A byte stream cannot be UTF-16 without a BOM; browsers read a <meta> "utf-16" as UTF-8.
    (("utf-16", "utf-16le", "utf-16be"), "utf-8"),
):
    for _n in _names:
        _LABELS[_n] = _codec

#: Codecs that decode (almost) any byte string: a declaration of one of them is weak evidence.
WEAK_CODECS = frozenset({"cp1252"})

_META_CHARSET_RE = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_\-:.]+)", re.I)
_XML_ENCODING_RE = re.compile(rb"<\?xml\b[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_\-.]+)", re.I)
_ISO2022_ESC = (b"\x1b$B", b"\x1b$@", b"\x1b(J", b"\x1b(I")


class UndecodableHtml(ValueError):
    """No charset decodes the page well enough; ``reason`` is a short machine-readable cause."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded page: its text, the Python codec used and where the choice came from.

    ``source`` is one of ``bom``, ``utf8``, ``http``, ``meta``, ``detect_ja``, ``http_weak``,
    ``meta_weak``, ``detect``, ``lenient``, ``ascii``.
    """

    text: str
    charset: str
    source: str
    replaced: int = 0


def codec_for_label(label: str | None) -> str | None:
    """Map a charset label from a header or meta tag to a Python codec name (None if unknown)."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    if key in _LABELS:
        return _LABELS[key]
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    return _LABELS.get(name, name)


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """``'text/html; charset=Shift_JIS'`` -> ``('text/html', 'Shift_JIS')`` (mime lower-cased)."""
    if not value:
        return "", None
    parts = value.split(";")
    mime = parts[0].strip().lower()
    charset = None
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset" and v.strip():
            charset = v.strip().strip("\"'")
    return mime, charset


def sniff_declared_charset(body: bytes) -> str | None:
    """The charset label of a ``<meta>`` tag or XML declaration in the first bytes, if any."""
    head = body[:META_SCAN_BYTES]
    m = _META_CHARSET_RE.search(head) or _XML_ENCODING_RE.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def _is_good_ja(cp: int) -> bool:
    return (
        0x3040 <= cp <= 0x30FF  # hiragana, katakana
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified ideographs
        or 0x3000 <= cp <= 0x303F  # CJK punctuation (、。「」)
        or 0xFF01 <= cp <= 0xFF5E  # full-width ASCII forms
        or cp in (0x2026, 0x2025, 0x203B, 0x00D7, 0x00F7)  # … ‥ ※ × ÷
        or 0x2190 <= cp <= 0x21FF  # arrows
        or 0x2460 <= cp <= 0x24FF  # circled numbers
        or 0x25A0 <= cp <= 0x26FF  # geometric shapes, misc symbols (■□◆★☆)
        or 0x2010 <= cp <= 0x201F  # dashes and quotes
        or 0x0391 <= cp <= 0x03C9  # Greek (in JIS X 0208)
        or 0x0410 <= cp <= 0x044F  # Cyrillic (in JIS X 0208)
        or 0x2500 <= cp <= 0x257F  # box drawing (in JIS X 0208)
    )


def japanese_score(text: str) -> float:
    """Share of the non-ASCII characters that are plausible in Japanese text (0 if none)."""
    total = good = 0
    for ch in text:
        cp = ord(ch)
        if cp < 0x80:
            continue
        total += 1
        if _is_good_ja(cp):
            good += 1
    return good / total if total else 0.0


def _try(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect_japanese(body: bytes) -> tuple[str, str] | None:
    """Best strict Japanese decoding of ``body`` scoring at least JA_DETECT_MIN_SCORE."""
    candidates = ["cp932", "euc_jp"]
    if any(esc in body for esc in _ISO2022_ESC):
        candidates.insert(0, "iso2022_jp_ext")
    best: tuple[float, str, str] | None = None
    for codec in candidates:
        text = _try(body, codec)
        if text is None:
            continue
        score = japanese_score(text)
        if codec == "iso2022_jp_ext":
            score = max(score, JA_DETECT_MIN_SCORE) if "\x1b" not in text else 0.0
        if best is None or score > best[0]:
            best = (score, codec, text)
    if best is None or best[0] < JA_DETECT_MIN_SCORE:
        return None
    return best[2], best[1]


def _detect_other(body: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes  # lazy: heavy or optional dependency, loaded only when used
    except ImportError:  # pragma: no cover - a dependency of trafilatura and requests
        return None
    match = from_bytes(body[:200_000]).best()
    if match is None or match.encoding is None:
        return None
    codec = codec_for_label(match.encoding)
    if codec is None:
        return None
    text = _try(body, codec)
    return (text, codec) if text is not None else None


def decode_html(
    body: bytes,
    header_charset: str | None = None,
    *,
    max_replacement_fraction: float = 0.01,
) -> Decoded:
    """Decode an HTML payload; see the module docstring for the order of attempts.

    Args:
        body: the HTTP payload (after transfer and content decoding).
        header_charset: the ``charset`` parameter of the HTTP ``Content-Type`` header, if any.
        max_replacement_fraction: the lenient last resort accepts at most this share of
            replaced (undecodable) characters.

    Raises:
        UndecodableHtml: reason ``undecodable`` when no attempt is good enough.
    """
    if body.startswith(codecs.BOM_UTF8):
        return Decoded(body[3:].decode("utf-8", "replace"), "utf-8", "bom")
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Decoded(body.decode("utf-16", "replace"), "utf-16", "bom")
    declared: list[tuple[str, str]] = []
    http_codec = codec_for_label(header_charset)
    if http_codec:
        declared.append((http_codec, "http"))
    meta_codec = codec_for_label(sniff_declared_charset(body))
    if meta_codec:
        declared.append((meta_codec, "meta"))

    if body.isascii():
        # ISO-2022-JP is 7-bit: its escape sequences mean Japanese, not ASCII.
        if any(esc in body for esc in _ISO2022_ESC):
            text = _try(body, "iso2022_jp_ext")
            if text is not None:
                return Decoded(text, "iso2022_jp_ext", "detect_ja")
        # Every declared charset reads ASCII bytes the same way: report the declaration.
        codec, where = next(((c, w) for c, w in declared if c not in ("iso2022_jp_ext",)), ("ascii", "ascii"))
        return Decoded(body.decode("ascii"), codec, where)

    text = _try(body, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "utf8")
    for codec, where in declared:
        if codec in WEAK_CODECS or codec == "utf-8":
            continue
        text = _try(body, codec)
        if text is not None:
            return Decoded(text, codec, where)

    found = _detect_japanese(body)
    if found is not None:
        return Decoded(found[0], found[1], "detect_ja")

    for codec, where in declared:
        if codec in WEAK_CODECS:
            text = _try(body, codec)
            if text is not None:
                return Decoded(text, codec, f"{where}_weak")

    found = _detect_other(body)
    if found is not None:
        return Decoded(found[0], found[1], "detect")

    codec = declared[0][0] if declared else "utf-8"
    text = body.decode(codec, "replace")
    replaced = text.count("\ufffd")
    if replaced <= max_replacement_fraction * max(1, len(text)):
        return Decoded(text, codec, "lenient", replaced)
    raise UndecodableHtml(
        "undecodable",
        f"no charset decodes the page: declared {[d[0] for d in declared] or 'none'}, "
        f"{codec} leaves {replaced} of {len(text)} characters undecodable",
    )


# --------------------------------------------------------------------------------------------
# Cheap page-level signals (Swallow's pre-filter)
# --------------------------------------------------------------------------------------------

#: Characters of the decoded page searched for ``<html lang>`` and ``<title>``.
HEAD_SCAN_CHARS = 262_144

_HTML_LANG_RE = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.I)
_TITLE_RE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.I | re.S)
_META_LANG_RE = re.compile(
    r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*?content\s*=\s*[\"']?\s*([A-Za-z]{2,3})",
    re.I,
)
_KANA_RE = re.compile(r"[\u3041-\u309F\u30A1-\u30FA\u30FC\uFF66-\uFF9D]")

#: Primary language subtags taken as Japanese. ``jp`` is a country code, not a language code,
#: but ``lang="jp"`` is a frequent mistake on Japanese pages.
JA_LANG_CODES = frozenset({"ja", "jpn", "jp"})


def html_lang(page: str) -> str | None:
    """The ``lang`` (or ``xml:lang``) attribute of the ``<html>`` element, lower-cased."""
    m = _HTML_LANG_RE.search(page, 0, HEAD_SCAN_CHARS)
    return m.group(1).lower().replace("_", "-") if m else None


def html_title(page: str) -> str | None:
    """The text of the first ``<title>``, entity-decoded and whitespace-collapsed."""
    m = _TITLE_RE.search(page, 0, HEAD_SCAN_CHARS)
    if not m:
        return None
    title = " ".join(html_lib.unescape(re.sub(r"<[^>]*>", " ", m.group(1))).split())
    return title or None


def meta_content_language(page: str) -> str | None:
    m = _META_LANG_RE.search(page, 0, HEAD_SCAN_CHARS)
    return m.group(1).lower() if m else None


def has_kana(text: str) -> bool:
    return _KANA_RE.search(text) is not None


def _is_ja_code(code: str | None) -> bool:
    return bool(code) and code.split("-", 1)[0].split(",", 1)[0].strip().lower() in JA_LANG_CODES  # type: ignore[union-attr]


def ja_prefilter(page: str, content_language: str | None = None) -> str | None:
    """Why a page looks Japanese before extraction, or None if nothing says so.

    Returns ``"html_lang"`` (``<html lang="ja…">``), ``"content_language"`` (the HTTP
    ``Content-Language`` header or its ``<meta http-equiv>`` says ``ja``) or ``"title_kana"``
    (the title contains kana); None means the page should be dropped in a Japanese-only run.
    """
    if _is_ja_code(html_lang(page)):
        return "html_lang"
    if _is_ja_code(content_language) or _is_ja_code(meta_content_language(page)):
        return "content_language"
    title = html_title(page)
    if title and has_kana(title):
        return "title_kana"
    return None


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafilaturaOptions:
    """The trafilatura options we expose (defaults: Swallow's ``warc2raw.py``)."""

    include_comments: bool = False
    include_tables: bool = False
    include_links: bool = False
    include_images: bool = False
    favor_precision: bool = False
    favor_recall: bool = False
    fast: bool = False


def extract_text(page: str, options: TrafilaturaOptions, url: str | None = None) -> str | None:
    """Main text of a page with trafilatura (plain text, paragraphs on separate lines)."""
    import trafilatura  # lazy: heavy or optional dependency, loaded only when used

    return trafilatura.extract(
        page,
        url=url,
        output_format="txt",
        include_comments=options.include_comments,
        include_tables=options.include_tables,
        include_links=options.include_links,
        include_images=options.include_images,
        favor_precision=options.favor_precision,
        favor_recall=options.favor_recall,
        fast=options.fast,
        deduplicate=False,
        with_metadata=False,
    )


@dataclass(frozen=True, slots=True)
class ExtractResult:
    """Outcome of one extraction.

    ``status`` is ``ok`` (``text`` may still be None or blank: nothing extracted), ``timeout``
    (the page exceeded the time limit; the worker was replaced), ``error`` (trafilatura raised;
    ``error_class``/``message`` say what) or ``crash`` (the worker process died).
    """

    status: str
    text: str | None = None
    seconds: float = 0.0
    error_class: str = ""
    message: str = ""


def _quiet_loggers() -> None:
    for name in ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _worker_loop(conn: Any, options: dict[str, Any], memory_mb: int) -> None:
    """Child process loop: receive ``(page, url)``, send back a result tuple; None stops it."""
    if memory_mb > 0:
        try:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):  # pragma: no cover - non-Linux
            pass
    _quiet_loggers()
    opts = TrafilaturaOptions(**options)
    with contextlib.suppress(Exception):  # a broken install is reported per page below
        extract_text("<html><body><p>warm up</p></body></html>", opts)
    conn.send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        page, url = msg
        t0 = time.perf_counter()
        try:
            text = extract_text(page, opts, url)
            out: tuple[Any, ...] = ("ok", text, time.perf_counter() - t0)
        except MemoryError:
            out = ("error", None, time.perf_counter() - t0, "MemoryError", f"over {memory_mb} MB")
        except Exception as exc:
            out = ("error", None, time.perf_counter() - t0, type(exc).__name__, str(exc)[:500])
        try:
            conn.send(out)
        except (EOFError, OSError):
            return


def _worker_entry() -> None:
    """Entry point of the extraction child (``python -c ...``; argv: rfd wfd options memory_mb).

    The child talks over two inherited pipe descriptors, never stdout, so anything a library
    prints cannot corrupt the protocol.
    """

    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    options = json.loads(sys.argv[3])
    memory_mb = int(sys.argv[4])

    class _Duplex:
        def __init__(self) -> None:
            self.r = Connection(rfd, writable=False)
            self.w = Connection(wfd, readable=False)

        def recv(self) -> Any:
            return self.r.recv()

        def send(self, obj: Any) -> None:
            self.w.send(obj)

    _worker_loop(_Duplex(), options, memory_mb)


class InProcessExtractor:
    """Extraction in the calling thread: fastest, but cannot stop a page that runs forever.

    For benchmarks and trusted input only; the pipeline default is :class:`TimedExtractor`.
    """

    def __init__(self, options: TrafilaturaOptions) -> None:
        self.options = options
        _quiet_loggers()

    def extract(self, page: str, url: str | None = None) -> ExtractResult:
        t0 = time.perf_counter()
        try:
            text = extract_text(page, self.options, url)
        except Exception as exc:
            return ExtractResult("error", None, time.perf_counter() - t0, type(exc).__name__, str(exc)[:500])
        return ExtractResult("ok", text, time.perf_counter() - t0)

    def close(self) -> None:
        pass


class TimedExtractor:
    """Runs trafilatura in a child process and enforces a per-page wall-clock limit.

    The child is a fresh interpreter (``python -c``, not ``multiprocessing``: a spawned
    multiprocessing child re-imports the parent's ``__main__``, which in a pipeline script could
    start the pipeline again, and ``fork`` is unsafe in threaded Beam workers). It is started on
    first use, imports trafilatura and warms up before the first page is sent, so start-up time
    never counts against a page. When a page exceeds ``timeout_s`` the child is killed and a
    fresh one is started for the next page; when the child dies (segfault, out of memory) the
    page is reported as ``crash``. ``memory_mb`` caps the child's address space (``RLIMIT_AS``;
    0 = no cap) so one page cannot exhaust the worker's memory. One instance per DoFn instance
    (Beam gives each thread its own); a lock makes concurrent calls wait their turn.
    """

    START_TIMEOUT_S = 120.0

    def __init__(self, options: TrafilaturaOptions, timeout_s: float, memory_mb: int = 0) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.options = options
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Any = None
        self._recv: Any = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        code = "import corpusflow.text.html as h; h._worker_entry()"
        args = [sys.executable, "-c", code, str(to_child_r), str(from_child_w),
                json.dumps(asdict(self.options)), str(self.memory_mb)]
        try:
            proc = subprocess.Popen(
                args, pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        send = Connection(to_child_w, readable=False)
        recv = Connection(from_child_r, writable=False)
        self.starts += 1
        try:
            ok = recv.poll(self.START_TIMEOUT_S) and recv.recv() == ("ready",)
        except (EOFError, OSError):
            ok = False
        if not ok:
            code_ = proc.poll()
            send.close()
            recv.close()
            _kill(proc)
            raise RuntimeError(f"extraction worker did not start (exit code {code_}); "
                               "is trafilatura installed for this Python?")
        self._proc, self._send, self._recv = proc, send, recv

    def _stop(self, grace_s: float = 0.0) -> int | None:
        proc = self._proc
        for conn in (self._send, self._recv):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        self._proc = self._send = self._recv = None
        return _kill(proc, grace_s) if proc is not None else None

    def extract(self, page: str, url: str | None = None) -> ExtractResult:
        with self._lock:
            if self._proc is not None and self._proc.poll() is not None:
                self._stop()
            if self._proc is None:
                self._start()
            t0 = time.perf_counter()
            try:
                self._send.send((page, url))
                ready = self._recv.poll(self.timeout_s)
                msg = self._recv.recv() if ready else None
            except (OSError, EOFError):
                code = self._stop()
                return ExtractResult("crash", None, time.perf_counter() - t0, "WorkerDied",
                                     f"extraction worker exited with code {code}")
            if msg is None:
                self._stop()
                return ExtractResult("timeout", None, time.perf_counter() - t0)
            if msg[0] == "ok":
                return ExtractResult("ok", msg[1], msg[2])
            return ExtractResult("error", None, msg[2], msg[3], msg[4])

    def close(self) -> None:
        with self._lock:
            if self._send is not None:
                with contextlib.suppress(OSError, EOFError):
                    self._send.send(None)
            self._stop(grace_s=1.0)

    def __del__(self) -> None:  # pragma: no cover - best effort when teardown() is skipped
        with contextlib.suppress(Exception):
            self.close()


def _kill(proc: subprocess.Popen[bytes], grace_s: float = 0.0) -> int | None:
    """Stop a worker: wait ``grace_s`` for a clean exit, then SIGTERM, then SIGKILL."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        if grace_s > 0:
            proc.wait(grace_s)
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2.0)
    if proc.poll() is None:  # pragma: no cover - ignored SIGTERM
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2.0)
    return proc.poll()
