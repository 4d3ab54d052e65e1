"""Shared, cached measurements of one document text (pure Python + numpy, no Beam).

Many rules look at the same things: character classes, non-empty lines, Japanese sentences,
character n-gram hashes. :class:`TextView` computes each of them once per text, lazily, and
every rule of a chain reads them from the same view. A transform that changes the text starts a
new view.

Everything here is linear (or ``n log n`` for the sorts) in the text length: no backtracking
regular expressions, no quadratic loops. Texts are handled as numpy arrays of code points
(``uint32``), so a 5 MB line or a million repeated characters cost a few vector operations.

With numba, the per-character passes (class counts, tokens, line and sentence spans) run as
compiled kernels (:mod:`corpusflow.filters.kernels`) that give the same numbers; the numpy code
stays as the fallback (``CORPUSFLOW_NO_NUMBA=1``).

Character classes follow the Swallow corpus definitions (``swallow-llm/swallow-corpus``
``quality.py``, see ``docs/design.md#japanese-filter-rules``), with one documented extension for
NFKC-normalised input (docs/design.md#nfc-vs-nfkc): ASCII ``!`` and ``?`` count as sentence ends (*kuten*)
as well as the full-width ``。．！？``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from corpusflow.filters import kernels

if TYPE_CHECKING:
    from corpusflow.core.document import Document

# ---------------------------------------------------------------------------------------------
# Character classes (one lookup table over all of Unicode, 1.1 MB, built once per process)
# ---------------------------------------------------------------------------------------------

C_OTHER = 0
C_HIRAGANA = 1  # U+3041-3096 (Swallow)
C_KATAKANA = 2  # U+30A1-30FA (Swallow)
C_KANJI = 3  # 々 〇 〻 U+3400-9FFF U+F900-FAFF and the supplementary ideograph planes (Swallow)
C_KUTEN = 4  # 。．！？ (Swallow) and ASCII ! ? (NFKC-folded forms)
C_TOTEN = 5  # 、， (Swallow)
C_LATIN = 6  # ASCII letters
C_DIGIT = 7  # ASCII and full-width digits
C_SPACE = 8  # spaces, tabs, ideographic space
C_NEWLINE = 9  # \n
C_CHOON = 10  # ー (prolonged sound mark; part of katakana words but not a Swallow katakana letter)
C_WIDE_LATIN = 11  # full-width Latin letters
C_SYMBOL = 12  # punctuation and symbols other than kuten/toten (ASCII, CJK, general, arrows, ...)
C_HALF_KATAKANA = 13  # U+FF66-FF9F
C_EMOJI = 14  # pictographs and emoji
N_CLASSES = 16

_LUT = np.zeros(0x110001, dtype=np.uint8)


def _set(lo: int, hi: int, cls: int) -> None:
    _LUT[lo : hi + 1] = cls


# Order matters: later assignments override earlier ones.
_set(0x2000, 0x206F, C_SYMBOL)  # general punctuation
_set(0x2190, 0x2BFF, C_SYMBOL)  # arrows, math, technical, box drawing, shapes, dingbats
_set(0x3000, 0x303F, C_SYMBOL)  # CJK symbols and punctuation
_set(0xFF01, 0xFF0F, C_SYMBOL)
_set(0xFF1A, 0xFF20, C_SYMBOL)
_set(0xFF3B, 0xFF40, C_SYMBOL)
_set(0xFF5B, 0xFF65, C_SYMBOL)
_set(0x00A1, 0x00BF, C_SYMBOL)  # Latin-1 punctuation and signs (¡ © « » ° ± · ¿ ...)
_LUT[0x00D7] = C_SYMBOL  # ×
_LUT[0x00F7] = C_SYMBOL  # ÷
_set(0x1F000, 0x1FAFF, C_EMOJI)
_set(0x2600, 0x27BF, C_EMOJI)  # misc symbols and dingbats (☆★♪ ... are "emoji" for HojiChar too)
for _c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~":
    _LUT[ord(_c)] = C_SYMBOL
_set(0x3041, 0x3096, C_HIRAGANA)
_set(0x30A1, 0x30FA, C_KATAKANA)
_LUT[0x30FC] = C_CHOON
_set(0x3400, 0x9FFF, C_KANJI)
_set(0xF900, 0xFAFF, C_KANJI)
_set(0x20000, 0x3FFFF, C_KANJI)
for _c in "々〇〻":
    _LUT[ord(_c)] = C_KANJI
for _c in "。．！？!?":
    _LUT[ord(_c)] = C_KUTEN
for _c in "、，":
    _LUT[ord(_c)] = C_TOTEN
_set(ord("A"), ord("Z"), C_LATIN)
_set(ord("a"), ord("z"), C_LATIN)
_set(ord("0"), ord("9"), C_DIGIT)
_set(0xFF10, 0xFF19, C_DIGIT)
_set(0xFF21, 0xFF3A, C_WIDE_LATIN)
_set(0xFF41, 0xFF5A, C_WIDE_LATIN)
_set(0xFF66, 0xFF9F, C_HALF_KATAKANA)
# Exactly the characters str.split() splits on, except \n (its own class).
for _i in range(0x3001):
    if chr(_i).isspace() and _i != 0x0A:
        _LUT[_i] = C_SPACE
_LUT[ord("\n")] = C_NEWLINE
_LUT[0x110000] = C_OTHER  # sentinel slot, never produced by text

CLASS_LUT = _LUT

# Per class, for the English word statistics (``rules_en.word_stats``): bit 1 = part of a word
# (not whitespace, punctuation, symbols or pictographs), bit 2 = a letter of any script (OTHER
# is mostly non-Latin letters).
_NOT_WORD_CLASSES = (C_SYMBOL, C_KUTEN, C_TOTEN, C_EMOJI, C_SPACE, C_NEWLINE)
_LETTER_CLASSES = (C_LATIN, C_WIDE_LATIN, C_HIRAGANA, C_KATAKANA, C_KANJI, C_CHOON, C_HALF_KATAKANA, C_OTHER)
TOKEN_BITS = np.ones(N_CLASSES, dtype=np.uint8)
TOKEN_BITS[list(_NOT_WORD_CLASSES)] = 0
TOKEN_BITS[list(_LETTER_CLASSES)] |= 2

# Hash constants for character n-gram windows (64-bit, wrap-around arithmetic).
_K_CHAR = np.uint64(0x9E3779B97F4A7C15)
_K_STEP = np.uint64(0xBF58476D1CE4E5B9)

# Swallow sentence: a run of non-terminators followed by at most one terminator, inside a line.
_SENTENCE_RE = re.compile(r"[^。．！？!?\n]+[。．！？!?]?")


def codepoints(text: str) -> np.ndarray:
    """The text as a ``uint32`` array of code points (lone surrogates kept as their value)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def window_hashes(cps: np.ndarray, n_max: int) -> list[np.ndarray]:
    """Hashes of all character n-grams for n = 1..n_max: ``out[n-1][i]`` hashes ``text[i:i+n]``.

    ``h_1 = c * K1`` and ``h_n[i] = h_{n-1}[i] * K2 ^ c[i+n-1] * K1`` (mod 2^64): a chain of
    multiply-xor steps, so equal n-grams always get equal hashes and different ones collide
    with probability ~2^-64. :func:`keyword_hash` computes the same value for a keyword.
    """
    a = cps.astype(np.uint64) * _K_CHAR
    out = [a]
    h = a
    for n in range(2, n_max + 1):
        if len(h) <= 1:
            out.append(h[:0])
            h = h[:0]
            continue
        h = (h[:-1] * _K_STEP) ^ a[n - 1 :]
        out.append(h)
    return out


def keyword_hash(word: str) -> int:
    """The :func:`window_hashes` value of the whole of ``word`` (for keyword lookups)."""
    cps = codepoints(word)
    return int(window_hashes(cps, len(cps))[-1][0])


_B_INV = np.uint64(0x2545F4914F6CDD1D)  # odd, so invertible mod 2^64
_B = np.uint64(pow(0x2545F4914F6CDD1D, -1, 1 << 64))
_POW_CACHE: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B^-k and B^k for k = 0..n (mod 2^64), cached and grown as needed."""
    inv = _POW_CACHE.get("inv")
    if inv is None or len(inv) <= n:
        m = max(n + 1, 2 * len(inv) if inv is not None else 4096)
        inv = np.empty(m, dtype=np.uint64)
        fwd = np.empty(m, dtype=np.uint64)
        inv[0] = fwd[0] = 1
        with np.errstate(over="ignore"):
            inv[1:] = _B_INV
            fwd[1:] = _B
            inv = np.cumprod(inv, dtype=np.uint64)
            fwd = np.cumprod(fwd, dtype=np.uint64)
        _POW_CACHE["inv"], _POW_CACHE["fwd"] = inv, fwd
    return _POW_CACHE["inv"], _POW_CACHE["fwd"]


def span_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hashes of the substrings ``[starts[i], ends[i])``: equal substrings get equal hashes.

    Polynomial hash in B^-1 over a prefix sum (mod 2^64), re-based at each span start and then
    mixed (multiply-xorshift); all vectorised, so hashing every word of a text is a few numpy
    operations.
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64)
    inv, fwd = _powers(len(cps))
    c = cps.astype(np.uint64) * _K_CHAR + np.uint64(1)
    pre = np.zeros(len(cps) + 1, dtype=np.uint64)
    np.cumsum(c * inv[: len(cps)], out=pre[1:])
    h = (pre[ends] - pre[starts]) * fwd[starts]
    h ^= h >> np.uint64(31)
    h *= _K_STEP
    h ^= (ends - starts).astype(np.uint64)
    h ^= h >> np.uint64(29)
    return h


def run_lengths_sorted(s: np.ndarray) -> np.ndarray:
    """Lengths of the runs of equal values in a sorted array (empty array for empty input)."""
    if len(s) == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(s[1:] != s[:-1])
    bounds = np.empty(len(ends) + 2, dtype=np.int64)
    bounds[0] = -1
    bounds[1:-1] = ends
    bounds[-1] = len(s) - 1
    return np.diff(bounds)


def line_iter_nonempty(text: str) -> list[str]:
    """Lines split on ``\\n``, stripped, with empty / whitespace-only lines dropped.

    Dropping blank lines avoids counting them as duplicate paragraphs (docs/design.md#pitfalls, pitfall 4).
    """
    return [ln for ln in (x.strip() for x in text.split("\n")) if ln]


class TextView:
    """Lazily computed, cached measurements of one text. Rules read; nothing is mutated.

    Attributes:
        text: the text measured.
        doc: the document the text belongs to (for URL and metadata rules); may be ``None``.
    """

    __slots__ = (
        "_cc",
        "_cl",
        "_classes",
        "_cps",
        "_hashes",
        "_lines",
        "_raw_lines",
        "_runs",
        "_scratch",
        "_sents",
        "_sorted",
        "_words",
        "doc",
        "n_chars",
        "text",
    )

    def __init__(self, text: str, doc: Document | None = None) -> None:
        self.text = text
        self.doc = doc
        self.n_chars = len(text)
        self._cps: np.ndarray | None = None
        self._classes: np.ndarray | None = None
        self._cc: np.ndarray | None = None
        self._cl: list[int] | None = None
        self._raw_lines: list[str] | None = None
        self._lines: list[str] | None = None
        self._sents: list[str] | None = None
        self._words: list[str] | None = None
        self._hashes: list[np.ndarray] | None = None
        self._sorted: dict[int, np.ndarray] | None = None
        self._runs: dict[int, np.ndarray] | None = None
        self._scratch: dict[str, dict[str, Any]] | None = None

    # --- characters -----------------------------------------------------------------------
    @property
    def cps(self) -> np.ndarray:
        """The text as a ``uint32`` array of code points."""
        if self._cps is None:
            self._cps = codepoints(self.text)
        return self._cps

    @property
    def classes(self) -> np.ndarray:
        """Character class (``C_*``) of every character."""
        if self._classes is None:
            self._classes = CLASS_LUT.take(self.cps)
        return self._classes

    @property
    def class_counts(self) -> np.ndarray:
        """Number of characters of every class, indexed by ``C_*``."""
        if self._cc is None:
            kern = kernels.get()
            if kern is not None and self._classes is None:  # no per-character class array needed
                self._cc = kern.class_counts(self.cps, CLASS_LUT, N_CLASSES)
            else:
                self._cc = np.bincount(self.classes, minlength=N_CLASSES)
        return self._cc

    def count(self, *classes: int) -> int:
        """Characters of the given classes."""
        cl = self.class_list
        return sum([cl[c] for c in classes])

    @property
    def class_list(self) -> list[int]:
        """:attr:`class_counts` as a Python list (cheap scalar access)."""
        cl = self._cl
        if cl is None:
            cl = self._cl = self.class_counts.tolist()
        return cl

    @property
    def n_hiragana(self) -> int:
        return self.class_list[C_HIRAGANA]

    @property
    def n_katakana(self) -> int:
        return self.class_list[C_KATAKANA]

    @property
    def n_kanji(self) -> int:
        return self.class_list[C_KANJI]

    @property
    def n_japanese(self) -> int:
        """Swallow's "Japanese letters": hiragana + katakana + kanji + kuten + toten."""
        cl = self.class_list
        return cl[C_HIRAGANA] + cl[C_KATAKANA] + cl[C_KANJI] + cl[C_KUTEN] + cl[C_TOTEN]

    # --- lines and sentences ----------------------------------------------------------------
    @property
    def raw_lines(self) -> list[str]:
        """``text.split('\\n')`` (blank lines included)."""
        if self._raw_lines is None:
            self._raw_lines = self.text.split("\n")
        return self._raw_lines

    @property
    def lines(self) -> list[str]:
        """Non-empty lines, stripped (blank lines dropped; docs/design.md#pitfalls, pitfall 4)."""
        if self._lines is None:
            self._lines = list(filter(None, map(str.strip, self.raw_lines)))
        return self._lines

    @property
    def ja_sentences(self) -> list[str]:
        """Swallow sentences: ``[^。．！？!?]+[。．！？!?]?`` inside each line, stripped, non-empty."""
        if self._sents is None:
            self._sents = list(filter(None, map(str.strip, _SENTENCE_RE.findall(self.text))))
        return self._sents

    def spans(self, kind: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(starts, ends) of the :attr:`lines` (``kind="lines"``) or of the :attr:`ja_sentences`
        (``"sentences"``) as computed by the compiled kernels, or ``None`` without them (the
        rules then use the string lists)."""
        kern = kernels.get()
        if kern is None:
            return None
        sc = self.cache("spans:" + kind)
        sp = sc.get("spans")
        if sp is None:
            if kind == "lines":
                sp = kern.line_spans(self.cps, CLASS_LUT, C_SPACE, 0x0A)
            elif kind == "sentences":
                sp = kern.sentence_spans(self.cps, CLASS_LUT, C_SPACE, C_KUTEN, 0x0A)
            else:
                raise ValueError(f"unknown span kind {kind!r}")
            sc["spans"] = sp
        return sp

    def span_summary(self, kind: str) -> tuple[int, int, int, int, int]:
        """(items, duplicate occurrences, characters, duplicate characters, longest item) of the
        lines or sentences: :func:`dup_counts` and the longest length, from the kernels (equal
        hashes are confirmed character by character, else the strings are counted). Needs
        :meth:`spans` to be available."""
        sc = self.cache("spans:" + kind)
        r = sc.get("summary")
        if r is None:
            sp = self.spans(kind)
            assert sp is not None, "span_summary needs the compiled kernels"
            starts, ends = sp
            kern = kernels.get()
            assert kern is not None  # spans exist only when the kernels do
            n, dup, chars, dup_chars, longest, exact = kern.span_dups(self.cps, starts, ends)
            if not exact:  # two different strings share a hash: count the strings themselves
                t = self.text
                n, dup, chars, dup_chars = dup_counts([t[a:b] for a, b in zip(starts.tolist(), ends.tolist(),
                                                                           strict=True)])
            r = sc["summary"] = (int(n), int(dup), int(chars), int(dup_chars), int(longest))
        return r

    def count_endings(self, kind: str, suffixes: tuple[str, ...]) -> int:
        """How many lines or sentences end with one of ``suffixes`` (``str.endswith``), from the
        kernels. Needs :meth:`spans` to be available."""
        return self._count_affixes(kind, suffixes, False)

    def count_beginnings(self, kind: str, prefixes: tuple[str, ...]) -> int:
        """How many lines or sentences begin with one of ``prefixes`` (``str.startswith``)."""
        return self._count_affixes(kind, prefixes, True)

    def _count_affixes(self, kind: str, affixes: tuple[str, ...], at_start: bool) -> int:
        sp = self.spans(kind)
        assert sp is not None, "counting line/sentence affixes needs the compiled kernels"
        flat, off = _affix_table(affixes)
        kern = kernels.get()
        assert kern is not None  # spans exist only when the kernels do
        return int(kern.count_affixes(self.cps, sp[0], sp[1], flat, off, at_start))

    @property
    def words(self) -> list[str]:
        """Whitespace-separated tokens (the English word splitter of the Gopher/C4/FineWeb rules)."""
        if self._words is None:
            self._words = self.text.split()
        return self._words

    @property
    def token_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) of the whitespace-separated tokens (same tokens as :attr:`words`)."""
        sc = self.cache("tokens")
        sp = sc.get("spans")
        if sp is None:
            kern = kernels.get()
            if kern is not None:
                starts, ends, words, word_chars, alpha = kern.tokens(
                    self.cps, CLASS_LUT, C_SPACE, C_NEWLINE, TOKEN_BITS
                )
                sp = sc["spans"] = (starts, ends)
                sc["stats"] = (words, word_chars, alpha)
                return sp
            cls = self.classes
            space = (cls == C_SPACE) | (cls == C_NEWLINE)
            edge = np.empty(len(cls) + 1, dtype=bool)
            if len(cls):
                edge[0] = not space[0]
                edge[1:-1] = space[:-1] != space[1:]
                edge[-1] = not space[-1]
            else:
                edge[0] = False
            b = np.flatnonzero(edge)
            sp = (b[0::2], b[1::2])
            sc["spans"] = sp
        return sp

    # --- character n-grams ------------------------------------------------------------------
    @property
    def token_stats(self) -> tuple[int, int, int] | None:
        """(tokens with a word character, word characters, tokens with a letter) when the
        compiled token kernel produced :attr:`token_spans`, else ``None``."""
        _ = self.token_spans
        return self.cache("tokens").get("stats")

    def hashes(self, n: int) -> np.ndarray:
        """Hashes of all character n-grams of the text (cached, computed incrementally)."""
        hs = self._hashes
        if hs is None or len(hs) < n:
            hs = window_hashes(self.cps, max(n, 5))
            self._hashes = hs
        return hs[n - 1]

    def sorted_hashes(self, n: int) -> np.ndarray:
        if self._sorted is None:
            self._sorted = {}
        s = self._sorted.get(n)
        if s is None:
            s = np.sort(self.hashes(n))
            self._sorted[n] = s
        return s

    def ngram_runs(self, n: int) -> np.ndarray:
        """Occurrence counts of the distinct character n-grams (order unspecified)."""
        if self._runs is None:
            self._runs = {}
        r = self._runs.get(n)
        if r is None:
            r = run_lengths_sorted(self.sorted_hashes(n))
            self._runs[n] = r
        return r

    def cache(self, key: str) -> dict[str, Any]:
        """A per-view scratch dict for rules that share private measurements."""
        if self._scratch is None:
            self._scratch = {}
        d = self._scratch.get(key)
        if d is None:
            d = self._scratch[key] = {}
        return d


_AFFIX_TABLES: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}


def _affix_table(affixes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Code points and offsets of ``affixes`` for :func:`kernels.count_affixes` (cached)."""
    t = _AFFIX_TABLES.get(affixes)
    if t is None:
        cps = [codepoints(x).astype(np.int64) for x in affixes]
        off = np.zeros(len(cps) + 1, dtype=np.int64)
        off[1:] = np.cumsum([len(c) for c in cps])
        flat = np.concatenate(cps) if cps else np.zeros(0, dtype=np.int64)
        t = _AFFIX_TABLES[affixes] = (flat, off)
    return t


#: A line that ends like a line of Japanese verse or song: in hiragana, 、, … or a dash, not in a
#: noun (menu items, keywords) nor in 。 (prose sentences). Used through :func:`ja_verse_line_share`
#: by ``ja.avg_sentence_length`` (verse is exempt from its minimum) and ``text.length``
#: (``verse_min_chars``).
JA_VERSE_LINE_END = re.compile(r"[ぁ-ゖ、…―ー]\s*$")
#: Verse lines are short: 20 characters on average at most (a line of modern Japanese verse is
#: 5-20 characters; prose sentences and paragraphs are longer).
JA_VERSE_MAX_MEAN_LINE = 20
#: A line that ends as a prose sentence: in 。 or ．, maybe before closing brackets (lines are
#: stripped). The lines ``ja.bbs_comments`` leaves out, and the closed lines of verse
#: (:func:`ja_verse_line_share`).
JA_PROSE_LINE_END = re.compile(r"[。．][」』）)]*\s*$")
_KANA_ONLY = re.compile(r"[ぁ-ゖァ-ヺー、・／/\s]+")


def ja_verse_line_share(lines: list[str]) -> float:
    """Share of ``lines`` that end like verse (:data:`JA_VERSE_LINE_END`). In a lineated text —
    at least a quarter of its lines end like verse — the lines that end in 。 count too when they
    are verse-short (20 characters on average at most): a poem's stanza closes its sentence
    (赤い鳥がないていた。) without becoming prose. Prose set one sentence to a line has longer
    sentences, and its kana-only reading lines (ほにゅうるい) do not make it lineated."""
    if not lines:
        return 0.0
    ends = [ln for ln in lines if JA_VERSE_LINE_END.search(ln)]
    verse = len(ends)
    # kana-only lines between sentences are readings (ほにゅうるい), not verse lines
    if sum(1 for ln in ends if not _KANA_ONLY.fullmatch(ln)) * 4 >= len(lines):
        closed = [len(ln) for ln in lines if JA_PROSE_LINE_END.search(ln)]
        if closed and sum(closed) <= JA_VERSE_MAX_MEAN_LINE * len(closed):
            verse += len(closed)
    return verse / len(lines)



def dup_counts(items: list[str]) -> tuple[int, int, int, int]:
    """(items, duplicate occurrences, characters, duplicate characters) of a list of strings.

    A duplicate occurrence is any occurrence after the first of the same string (Swallow's
    ``Σ(freq−1)`` and ``Σ len×(freq−1)``).
    """
    n = len(items)
    if n == 0:
        return 0, 0, 0, 0
    if len(set(items)) == n:
        return n, 0, sum(map(len, items)), 0
    counts = Counter(items)
    dup = n - len(counts)
    total_chars = sum(len(s) for s in items)
    dup_chars = sum(len(s) * (c - 1) for s, c in counts.items() if c > 1)
    return n, dup, total_chars, dup_chars


_WARM: dict[str, bool] = {}


def warm_up_kernels() -> bool:
    """Compile (or load from numba's disk cache) every kernel now; True when numba is used."""
    k = kernels.get()
    if k is None:
        return False
    if not _WARM.get("done"):
        cps = np.frombuffer("ab cd ab cd ab cd ef".encode("utf-32-le"), dtype=np.uint32)
        lut = np.zeros(0x110001, dtype=np.bool_)
        i64 = np.zeros(16, dtype=np.int64)
        for fold in (False, True):
            k.kw_find(cps, fold, fold, lut, lut, np.zeros(1024, dtype=np.uint64), np.zeros(4096, dtype=np.uint64),
                      True, np.zeros(16, dtype=np.uint64), np.full(16, -1, dtype=np.int64), i64, i64[:1], 2,
                      np.empty((4, 3), dtype=np.int64))
        k.char_repetition_counts(cps, 5)
        k.longest_run(cps)

        inv, fwd = _powers(len(cps))
        st = np.array([0, 3, 6], dtype=np.int64)
        k.gopher_ngrams(cps, st, st + 2, inv, fwd, np.array([2, 3], dtype=np.int64),
                        np.array([5, 6], dtype=np.int64))
        k.class_counts(cps, CLASS_LUT, N_CLASSES)
        k.tokens(cps, CLASS_LUT, C_SPACE, C_NEWLINE, TOKEN_BITS)
        ls, le = k.line_spans(cps, CLASS_LUT, C_SPACE, 10)
        k.sentence_spans(cps, CLASS_LUT, C_SPACE, C_KUTEN, 10)
        k.span_dups(cps, ls, le)
        k.first_date_candidate(cps)
        for at_start in (False, True):
            k.count_affixes(cps, ls, le, np.zeros(1, dtype=np.int64), np.array([0, 1], dtype=np.int64), at_start)
        _WARM["done"] = True
    return True
