"""Fast multi-list keyword matching for NG-word, advertisement and vocabulary rules.

Python's ``re`` with a 1,500-way alternation (how HojiChar matches its NG lists) costs about
2 ms per 1,000 characters; a trie-shaped regex still ~0.8 ms. Here keywords are matched with
the character n-gram hashes of :mod:`corpusflow.filters.text` instead:

1. length-1 keywords: a boolean lookup table over code points;
2. longer keywords: positions whose 2-gram is a keyword or whose 3-gram begins one are
   candidates (bitmap lookups on the character n-gram hashes, vectorised); candidates are
   verified with exact string lookups.

With numba (:mod:`corpusflow.filters.kernels`), one compiled pass does both steps instead:
a 2^16-bit set of keyword 2-character prefixes and per-prefix length masks pre-select
positions, and each keyword that starts there is confirmed by comparing code points; the hits
are the same, in the same order (``tests/test_filters_kernels.py``).

Several lists (adult, discrimination, violence, advertisement, ...) share one
:class:`KeywordIndex`, so a chain scans a text once whatever the number of lists. The bitmaps
only pre-select: every hit is an exact string match.

Boundary rules (docs/design.md#pitfalls, pitfalls 1 and 2):

* ``katakana``: an all-katakana keyword (``[ァ-ヴー]+``, HojiChar ``ignore_confused``) only
  matches with no katakana character on either side, so ``アス`` does not fire inside
  ``アスパラガス`` nor ``サック`` inside ``リュックサック``;
* ``word``: an ASCII keyword only matches between non-alphanumeric characters (``sm`` not in
  ``prism``);
* ``none``: plain substring.

Japanese words (:class:`MorphemeBoundaries`): a rule may also require each hit to be a word of
the text, checked with a morphological analyser (MeCab via fugashi, UniDic-lite) on a short
window around the hit only, so the fast scan above stays the pre-filter and a document without
hits is never analysed.

Optional folding: ``fold_width`` also matches keywords written in full-width ASCII
(U+FF01–FF5E; each keyword is indexed in both widths), ``ignore_case`` maps ASCII A–Z to a–z
in the text and the keywords.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from corpusflow.core.paths import resolve_path
from corpusflow.filters import kernels
from corpusflow.filters.text import _K_CHAR, _K_STEP, TextView, codepoints, window_hashes

_KATA_LO, _KATA_HI, _CHOON = 0x30A1, 0x30F4, 0x30FC  # HojiChar's [ァ-ヴー]

_IS_KATA = np.zeros(0x110001, dtype=bool)
_IS_KATA[_KATA_LO : _KATA_HI + 1] = True
_IS_KATA[_CHOON] = True
_IS_ALNUM = np.zeros(0x110001, dtype=bool)
_IS_ALNUM[ord("0") : ord("9") + 1] = True
_IS_ALNUM[ord("A") : ord("Z") + 1] = True
_IS_ALNUM[ord("a") : ord("z") + 1] = True
_NOT_ALNUM = ~_IS_ALNUM


def _is_kata(c: str) -> bool:
    """``c`` is in HojiChar's ``[ァ-ヴー]`` (``""``: no character, False)."""
    return "ァ" <= c <= "ヴ" or c == "ー"


def _is_ascii_alnum(c: str) -> bool:
    """``c`` is an ASCII letter or digit (``""``: no character, False)."""
    return c.isascii() and c.isalnum()


def read_wordlist(path: str | Path) -> list[str]:
    """Words of a list file: one per line, stripped; blank lines and ``#`` comments skipped.

    ``pkg:`` paths resolve inside the installed package. Duplicates are removed (first kept).
    """

    p = Path(resolve_path(str(path)))
    words: list[str] = []
    seen: set[str] = set()
    for line in p.read_text(encoding="utf-8").split("\n"):
        w = line.strip()
        if not w or w.startswith("#") or w in seen:
            continue
        seen.add(w)
        words.append(w)
    return words


_LIST_CACHE: dict[str, list[str]] = {}
_LIST_LOCK = threading.Lock()


def load_wordlist(path: str) -> list[str]:
    """:func:`read_wordlist`, cached per process (lists are read once per worker)."""
    with _LIST_LOCK:
        words = _LIST_CACHE.get(path)
        if words is None:
            words = read_wordlist(path)
            _LIST_CACHE[path] = words
        return words


def fold_codepoints(cps: np.ndarray, fold_width: bool, ignore_case: bool) -> np.ndarray:
    if not (fold_width or ignore_case):
        return cps
    out = cps.copy()
    if fold_width:
        m = (out >= 0xFF01) & (out <= 0xFF5E)
        out[m] -= 0xFEE0
    if ignore_case:
        m = (out >= 0x41) & (out <= 0x5A)
        out[m] += 0x20
    return out


def widen_ascii(s: str) -> str:
    """Printable ASCII (U+0021–007E) to its full-width form (U+FF01–FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in s)


def fold_str(s: str, fold_width: bool, ignore_case: bool) -> str:
    if not (fold_width or ignore_case):
        return s
    cps = fold_codepoints(codepoints(s), fold_width, ignore_case)
    return cps.tobytes().decode("utf-32-le", "surrogatepass")


def _boundary_kind(word: str, katakana: bool, latin_word: bool) -> str:
    if katakana and all(_KATA_LO <= ord(c) <= _KATA_HI or ord(c) == _CHOON for c in word):
        return "katakana"
    if latin_word and word.isascii():
        return "word"
    return "none"


class Hit(NamedTuple):
    """One keyword occurrence: list key, start offset, length, the keyword."""

    list_key: str
    start: int
    length: int
    word: str


_BOUNDARY_CODE = {"none": 0, "katakana": 1, "word": 2}
_BITS = 18  # bitmaps of 2^16 booleans (64 KB, cache-resident); index = top bits of a window hash
_SHIFT = np.uint64(64 - _BITS)


@dataclass
class KeywordIndex:
    """Several keyword lists matched together; build with :meth:`add`, then :meth:`finalize`.

    All lists of one index share the folding options (``fold_width``, ``ignore_case``).

    Matching: a position is a candidate when its 2-gram is a whole 2-character keyword or its
    3-gram starts a longer keyword (two bitmap lookups on the window hashes, vectorised);
    candidates are verified by exact string lookups, one-character keywords by a code-point
    table. Typical text has a few dozen candidates per thousand characters.
    """

    fold_width: bool = False
    ignore_case: bool = False
    _lists: dict[str, tuple[list[str], bool, bool]] = field(default_factory=dict)
    _ready: bool = False

    def add(self, key: str, words: Iterable[str], *, katakana_boundary: bool, word_boundary: bool) -> None:
        words = list(words)
        old = self._lists.get(key)
        if old is not None and old != (words, katakana_boundary, word_boundary):
            raise ValueError(f"keyword list {key!r} added twice with different contents")
        self._lists[key] = (words, katakana_boundary, word_boundary)
        self._ready = False

    @property
    def cache_key(self) -> str:
        return f"kw:{int(self.fold_width)}{int(self.ignore_case)}"

    def finalize(self) -> KeywordIndex:
        # folded keyword -> [(list key, original word, boundary code)]
        entries: dict[str, list[tuple[str, str, int]]] = {}
        for key, (words, kb, wb) in self._lists.items():
            for w in words:
                fw = fold_str(w, False, self.ignore_case)
                if not fw:
                    continue
                code = _BOUNDARY_CODE[_boundary_kind(fold_str(fw, True, False), kb, wb)]
                variants = {fw}
                if self.fold_width:
                    # full-width ASCII is matched by indexing the keyword in both widths (a text is
                    # never rewritten for it); mixed-width spellings are not matched
                    variants |= {fold_str(fw, True, False), widen_ascii(fw)}
                for v in variants:
                    lst = entries.setdefault(v, [])
                    if (key, w, code) not in lst:
                        lst.append((key, w, code))
        self._entries = entries
        self._singles = sorted(w for w in entries if len(w) == 1)
        by_prefix: dict[str, set[int]] = {}
        bm2 = np.zeros(1 << _BITS, dtype=bool)
        bm3 = np.zeros(1 << _BITS, dtype=bool)
        for fw in entries:
            if len(fw) == 1:
                continue
            hs = window_hashes(codepoints(fw[:3]), 3)
            if len(fw) == 2:
                bm2[int(hs[1][0]) >> (64 - _BITS)] = True
            else:
                bm3[int(hs[2][0]) >> (64 - _BITS)] = True
                by_prefix.setdefault(fw[:3], set()).add(len(fw))
        self._bm2, self._bm3 = bm2, bm3
        first = np.zeros(0x110001, dtype=bool)  # first characters of the keywords of 2+ characters
        for fw in entries:
            if len(fw) > 1:
                first[ord(fw[0])] = True
        self._first = first
        self._lengths = {k: sorted(v, reverse=True) for k, v in by_prefix.items()}
        self._has_single = bool(self._singles)
        self._has2 = bool(bm2.any())
        self._has3 = bool(bm3.any())
        self._cache_name = f"{self.cache_key}:{id(self)}"
        # when every keyword needs word boundaries (English lists), candidates must start a word
        self._word_starts_only = bool(entries) and all(
            code == 2 for lst in entries.values() for _, _, code in lst
        )
        self._build_exact_table()
        self._ready = True
        return self

    def _build_exact_table(self) -> None:
        """Keywords of 2+ characters for the compiled :func:`~corpusflow.filters.kernels.kw_find`:
        their code points, and an open-addressing table from :func:`keyword_hash` to their ids."""
        multi = sorted(w for w in self._entries if len(w) > 1)
        self._multi = multi
        cps = [codepoints(w).astype(np.int64) for w in multi]
        off = np.zeros(len(multi) + 1, dtype=np.int64)
        off[1:] = np.cumsum([len(c) for c in cps]) if cps else []
        self._kw_cps = np.concatenate(cps) if cps else np.zeros(0, dtype=np.int64)
        self._kw_off = off
        # pre-selection tables (supersets: a bucket shared by two prefixes allows both)
        pre2 = np.zeros(1 << 10, dtype=np.uint64)  # 2^16 bits: top 16 bits of the 2-gram hash
        lenmask3 = np.zeros(1 << 12, dtype=np.uint64)  # per top 12 bits of the 3-gram hash
        for w in multi:
            hs = window_hashes(codepoints(w[:3]), min(len(w), 3))
            t2 = int(hs[1][0]) >> 48
            pre2[t2 >> 6] |= np.uint64(1 << (t2 & 63))
            if len(w) >= 3:
                lenmask3[int(hs[2][0]) >> 52] |= np.uint64(1 << min(len(w), 63))
        self._pre2, self._lenmask3 = pre2, lenmask3
        self._maxlen = max((len(w) for w in multi), default=2)
        cap = 16
        while cap < 4 * len(multi):
            cap *= 2
        bits = cap.bit_length() - 1
        keys = np.zeros(cap, dtype=np.uint64)
        ids = np.full(cap, -1, dtype=np.int64)
        for i, w in enumerate(multi):
            h = np.uint64(int(window_hashes(codepoints(w), len(w))[-1][0]))
            slot = int((int(h) * int(kernels._MIX)) % (1 << 64)) >> (64 - bits)
            while ids[slot] >= 0:
                slot = (slot + 1) & (cap - 1)
            keys[slot] = h
            ids[slot] = i
        self._tkeys, self._tids = keys, ids

    def _folded(self, view: TextView) -> tuple[str, np.ndarray]:
        """Text and code points as matched: as stored, or ASCII-lower-cased for ``ignore_case``."""
        if not self.ignore_case:
            return view.text, view.cps
        sc = view.cache(self.cache_key)
        if "text" not in sc:
            text = view.text
            if text.isascii():
                text = text.lower()
                cps = codepoints(text)
            else:
                cps = fold_codepoints(view.cps, False, True)
                text = cps.tobytes().decode("utf-32-le", "surrogatepass")
            sc["text"], sc["cps"] = text, cps
        return sc["text"], sc["cps"]

    def _find_singles(self, text: str, found: list[tuple[int, int, str]]) -> None:
        """Append (start, 1, keyword) for every occurrence of the one-character keywords."""
        for c in self._singles:
            p = text.find(c)
            while p >= 0:
                found.append((p, 1, c))
                p = text.find(c, p + 1)

    def _verify(self, text: str, cand: np.ndarray, found: list[tuple[int, int, str]]) -> None:
        """Append (start, length, keyword) for the keywords that really start at ``cand``."""
        entries = self._entries
        lengths = self._lengths
        for p in cand.tolist():
            two = text[p : p + 2]
            if two in entries:
                found.append((p, 2, two))
            for k in lengths.get(text[p : p + 3], ()):
                w = text[p : p + k]
                if len(w) == k and w in entries:
                    found.append((p, k, w))

    def _word_start_candidates(self, cps: np.ndarray) -> np.ndarray:
        """Candidates when every keyword needs word boundaries: positions not preceded by an
        ASCII letter or digit whose character begins a keyword of 2+ characters, kept when
        their 2- or 3-gram hash passes the bitmaps. The hashes are those of
        :func:`~corpusflow.filters.text.window_hashes`, computed at these positions only (a
        few hundred instead of every character). Positions left out cannot start a keyword
        that the boundary check would accept, so the matches are the same."""
        n = len(cps)
        ok = self._first.take(cps[: n - 1])
        np.logical_and(ok[1:], _NOT_ALNUM.take(cps[: n - 2]), out=ok[1:])
        pos = ok.nonzero()[0]
        if len(pos) == 0:
            return pos
        a0 = cps.take(pos).astype(np.uint64)
        a0 *= _K_CHAR
        a1 = cps.take(pos + 1).astype(np.uint64)
        a1 *= _K_CHAR
        h2 = a0 * _K_STEP
        h2 ^= a1
        mask = self._bm2.take((h2 >> _SHIFT).view(np.int64))
        m3 = int(np.searchsorted(pos, n - 2))  # positions with a 3-gram (pos is sorted)
        if m3:
            a2 = cps.take(pos[:m3] + 2).astype(np.uint64)
            a2 *= _K_CHAR
            h3 = h2[:m3] * _K_STEP
            h3 ^= a2
            np.logical_or(mask[:m3], self._bm3.take((h3 >> _SHIFT).view(np.int64)), out=mask[:m3])
        return pos[mask]

    def match(self, view: TextView) -> dict[str, list[Hit]]:
        """All occurrences (overlapping) of every list's keywords, by list key (cached per view)."""
        if not self._ready:
            self.finalize()
        sc = view.cache(self._cache_name)
        res = sc.get("hits")
        if res is not None:
            return res
        out: dict[str, list[Hit]] = {k: [] for k in self._lists}
        n = view.n_chars
        if n == 0:
            sc["hits"] = out
            return out
        found: list[tuple[int, int, str]] = []
        kern = kernels.get()
        if kern is not None:
            # one compiled pass over the code points (folded on the fly) finds every keyword that
            # really starts at a position the numpy candidates below would verify; the boundary
            # checks below read the unfolded text: folding A-Z to a-z changes no character's
            # katakana or alphanumeric class
            if self._has_single:
                self._find_singles(self._folded(view)[0], found)
            text = view.text
            if n >= 2 and (self._word_starts_only or self._has2 or self._has3):
                args = (view.cps, self.ignore_case, self._word_starts_only, self._first, _NOT_ALNUM, self._pre2,
                        self._lenmask3, self._has2, self._tkeys, self._tids, self._kw_cps, self._kw_off,
                        self._maxlen)
                rows = np.empty((64, 3), dtype=np.int64)
                k = kern.kw_find(*args, rows)
                if k > len(rows):  # more hits than the buffer holds: again, with room for all
                    rows = np.empty((k, 3), dtype=np.int64)
                    kern.kw_find(*args, rows)
                if k:
                    multi = self._multi
                    found.extend((p, ln, multi[i]) for p, ln, i in rows[:k].tolist())
        else:
            text, cps = self._folded(view)
            if self._has_single:
                self._find_singles(text, found)
            if n >= 2 and self._word_starts_only:
                self._verify(text, self._word_start_candidates(cps), found)
            elif n >= 2 and (self._has2 or self._has3):
                if cps is view.cps:
                    h2 = view.hashes(2)
                    h3 = view.hashes(3)
                else:
                    hs = window_hashes(cps, 3)
                    h2, h3 = hs[1], hs[2]
                # bitmap lookups: ``take`` on the (non-negative) int64 view of the top hash bits
                # avoids numpy's fancy-indexing cast of uint64 indices
                if self._has2:
                    mask = self._bm2.take((h2 >> _SHIFT).view(np.int64))
                else:
                    mask = np.zeros(len(h2), dtype=bool)
                if self._has3 and len(h3):
                    head = mask[: len(h3)]
                    np.logical_or(head, self._bm3.take((h3 >> _SHIFT).view(np.int64)), out=head)
                self._verify(text, mask.nonzero()[0], found)
        # boundary checks on the characters of ``text`` (aligned with ``cps``: folding keeps
        # one character per code point), as plain string comparisons
        for p, k, w in found:
            before = text[p - 1] if p > 0 else ""
            after = text[p + k] if p + k < n else ""
            for key, orig, b in self._entries[w]:
                if b == 1 and (_is_kata(before) or _is_kata(after)):
                    continue
                if b == 2 and (_is_ascii_alnum(before) or _is_ascii_alnum(after)):
                    continue
                out[key].append(Hit(key, p, k, orig))
        sc["hits"] = out
        return out


def non_overlapping(hits: Sequence[Hit]) -> list[Hit]:
    """Leftmost-longest, non-overlapping selection of hits (how ``findall`` would count them)."""
    if len(hits) <= 1:
        return list(hits)
    chosen: list[Hit] = []
    end = -1
    for h in sorted(hits, key=lambda h: (h.start, -h.length)):
        if h.start >= end:
            chosen.append(h)
            end = h.start + h.length
    return chosen


# Shared indexes -------------------------------------------------------------------------------


class KeywordUser:
    """Mixin for steps that match keyword lists; the chain shares one index between them.

    A user declares its lists with :meth:`keyword_lists` and reads its hits with
    :meth:`hits`. Used alone (outside a chain) it builds a private index in ``setup()``.
    """

    fold_width: bool = False
    ignore_case: bool = False
    _kw_index: KeywordIndex | None = None

    def keyword_lists(self) -> list[tuple[str, list[str], bool, bool]]:  # pragma: no cover
        """(list key, words, katakana boundary, word boundary) for every list used."""
        raise NotImplementedError

    def keyword_options(self) -> tuple[bool, bool]:
        return self.fold_width, self.ignore_case

    def attach_index(self, index: KeywordIndex) -> None:
        self._kw_index = index

    def ensure_index(self) -> KeywordIndex:
        if self._kw_index is None:
            fw, ic = self.keyword_options()
            idx = KeywordIndex(fold_width=fw, ignore_case=ic)
            for key, words, kb, wb in self.keyword_lists():
                idx.add(key, words, katakana_boundary=kb, word_boundary=wb)
            self._kw_index = idx.finalize()
        return self._kw_index

    def hits(self, view: TextView, key: str) -> list[Hit]:
        return self.ensure_index().match(view)[key]


def share_indexes(steps: Sequence[object]) -> None:
    """Give keyword-matching steps with the same folding options one shared index."""
    groups: dict[tuple[bool, bool], list[KeywordUser]] = {}
    for s in steps:
        if isinstance(s, KeywordUser):
            groups.setdefault(s.keyword_options(), []).append(s)
    for (fw, ic), users in groups.items():
        idx = KeywordIndex(fold_width=fw, ignore_case=ic)
        for u in users:
            for key, words, kb, wb in u.keyword_lists():
                idx.add(key, words, katakana_boundary=kb, word_boundary=wb)
        idx.finalize()
        for u in users:
            u.attach_index(idx)


# Morpheme boundaries ----------------------------------------------------------------------------

#: Characters a morpheme never spans: the analysis window around a hit stops at them.
_WINDOW_STOPS = frozenset("\n。！？!?．.　 \t「」『』（）()【】[]、，,")
_WINDOW_RADIUS = 48
_INFLECTED = frozenset({"動詞", "形容詞", "助動詞"})


class Morpheme(NamedTuple):
    start: int
    end: int
    pos1: str
    pos2: str


class MorphemeBoundaries:
    """Checks keyword hits against the morphemes of the text around them.

    Analyser: MeCab through ``fugashi`` with the ``unidic-lite`` dictionary (UniDic 2.1.2, short
    unit words; both from PyPI, the dictionary ships inside the package: nothing is downloaded
    at run time). UniDic's short units split 不具合 into 不|具合 and keep 燃えろ as one verb, so a
    keyword that starts or ends inside a morpheme is not a word of the text.

    Only the text around each hit is analysed: from the hit, up to ``_WINDOW_RADIUS`` characters
    each way, stopping at line breaks, sentence ends, spaces and brackets, none of which a
    morpheme spans. A document without hits is never analysed, so the cost is paid on the few
    documents the keyword scan flags (a few dozen microseconds per hit).

    A hit counts when (1) it starts at a morpheme boundary, (2) it ends at one, or inside an
    inflected word (verb, adjective, auxiliary) that begins inside the hit (死ね in 死ねよ,
    えろ in えろい), and (3) none of its morphemes is a proper noun (イマヌエル・カント).
    """

    def __init__(self) -> None:
        self._tagger: Any = None

    def load(self) -> MorphemeBoundaries:
        """Load the analyser now (a worker's ``setup()``), not on the first hit."""
        self._get_tagger()
        return self

    def _get_tagger(self) -> Any:
        if self._tagger is None:
            try:
                import fugashi  # lazy: heavy or optional dependency, loaded only when used
                import unidic_lite  # lazy: heavy or optional dependency, loaded only when used
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise RuntimeError(
                    "keyword boundaries 'morpheme' need the fugashi and unidic-lite packages "
                    "(pip install fugashi unidic-lite)"
                ) from exc
            self._tagger = fugashi.Tagger(f'-d "{unidic_lite.DICDIR}" -r /dev/null')
        return self._tagger

    def morphemes(self, text: str, start: int, end: int) -> list[Morpheme]:
        """Morphemes of ``text[start:end]`` with offsets in ``text``."""
        out: list[Morpheme] = []
        pos = start
        for w in self._get_tagger()(text[start:end]):
            pos += len(w.white_space)
            s = pos
            pos += len(w.surface)
            f = w.feature
            out.append(Morpheme(s, pos, f.pos1 or "", f.pos2 or ""))
        return out

    @staticmethod
    def window(text: str, p: int, k: int) -> tuple[int, int]:
        """The analysis window around a hit at ``p`` of length ``k``."""
        lo = p
        stop = max(0, p - _WINDOW_RADIUS)
        while lo > stop and text[lo - 1] not in _WINDOW_STOPS:
            lo -= 1
        hi = p + k
        stop = min(len(text), p + k + _WINDOW_RADIUS)
        while hi < stop and text[hi] not in _WINDOW_STOPS:
            hi += 1
        return lo, hi

    def accepts(self, ms: Sequence[Morpheme], p: int, end: int) -> bool:
        """Whether a hit on ``[p, end)`` is a word of the analysed text (see the class doc)."""
        starts = False
        for m in ms:
            if m.end <= p:
                continue
            if m.start >= end:
                break
            if m.pos2 == "固有名詞":
                return False
            if m.start < p:
                return False  # starts inside a morpheme
            if m.start == p:
                starts = True
            if m.end > end and not (m.pos1 in _INFLECTED and m.start < end):
                return False  # ends inside a morpheme that is not an inflected word
        return starts

    def filter_hits(self, text: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits that are words of ``text`` (windows shared by neighbouring hits)."""
        out: list[Hit] = []
        cache: dict[tuple[int, int], list[Morpheme]] = {}
        for h in hits:
            lo, hi = self.window(text, h.start, h.length)
            ms = cache.get((lo, hi))
            if ms is None:
                ms = cache[(lo, hi)] = self.morphemes(text, lo, hi)
            if self.accepts(ms, h.start, h.start + h.length):
                out.append(h)
        return out


_MORPH: MorphemeBoundaries | None = None
_MORPH_LOCK = threading.Lock()


def morpheme_boundaries() -> MorphemeBoundaries:
    """The per-process :class:`MorphemeBoundaries` (the tagger loads on first use, ~20 ms)."""
    global _MORPH
    with _MORPH_LOCK:
        if _MORPH is None:
            _MORPH = MorphemeBoundaries()
        return _MORPH
