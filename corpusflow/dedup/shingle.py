"""Text simplification and vectorised 64-bit shingle hashing (no Beam).

Two shingle kinds (docs/design.md#minhash-dedup):

* ``char`` (Japanese and other languages written without spaces): NFKC, lower case, every
  character that is not a letter or digit removed (whitespace, punctuation, symbols, ``_``),
  every decimal digit folded to ``0``; shingles are the character n-grams (Unicode code points),
  as in Swallow/doubri.
* ``word`` (English and other spaced languages): datatrove-style ``simplify_text``: NFKD with
  Latin combining accents removed, lower case, digit runs -> ``0``; words are the runs of
  letters/digits (punctuation acts as a space); shingles are word n-grams.

Hashes: a shingle of elements e_0..e_{k-1} (code points, or xxh3-64 hashes of words) hashes to
``fmix64(sum_j e_j * K^(k-1-j) + k * L + salt)`` mod 2^64 (polynomial, then the MurmurHash3
64-bit finaliser, a bijection). :func:`ngram_hashes` computes this for all n-grams of a document
at once with numpy; :func:`shingle_hash64` is the scalar reference used by the datasketch parity
test. Documents with fewer than ``n`` elements but at least one get exactly one shingle made of
all their elements (the ``k`` term keeps it apart from longer shingles); documents with no
element get no shingle at all and are never near-duplicate candidates (they can still be exact
duplicates).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import xxhash

from corpusflow.core.jit import LazyKernel
from corpusflow.text.normalize import nfkc

MASK64 = (1 << 64) - 1
_K = 0x9E3779B97F4A7C15  # odd: the golden-ratio multiplier
_L = 0xC2B2AE3D27D4EB4F  # length term
SALT_CHAR = 0x243F6A8885A308D3
SALT_WORD = 0x13198A2E03707344

_NON_ALNUM = re.compile(r"[\W_]+")
_DIGIT = re.compile(r"\d")
_DIGITS = re.compile(r"\d+")
# Latin/Greek/Cyrillic combining accents; kana voicing marks (U+3099/309A) are not in these ranges.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"[^\W_]+")
# A ruby reading in Aozora Bunko notation: kana (and ・ー) between 《 》 after the word it reads
# (``漢字《かんじ》``). Aozora publishes each work with ruby and as plain text; the readings put
# kana inside the base text every few words, which breaks the character 5-grams around each one
# (on the 758 works of ``aozora_dev`` the two editions of 96 works fell below the LSH threshold).
# Shingles skip them, so both editions give the same shingles; the text itself is unchanged.
# Kana only, so ``《書名》`` title marks in Chinese text stay.
_RUBY_READING = re.compile("《[\u3041-\u309f\u30a0-\u30ff]{1,40}》")


def strip_ruby(text: str) -> str:
    """``text`` without Aozora ruby readings (``漢字《かんじ》`` -> ``漢字``); unchanged without 《."""
    return _RUBY_READING.sub("", text) if "《" in text else text


def normalize_chars(text: str) -> str:
    """Text for character shingles: ruby readings dropped, NFKC, lower case, non-alphanumerics removed, digits -> 0."""
    text = nfkc(strip_ruby(text))  # exact NFKC; normalises only the runs that can change
    t = _NON_ALNUM.sub("", text.lower())
    return _DIGIT.sub("0", t)


def simplify_words(text: str) -> list[str]:
    """Words for word shingles: NFKD minus accents, lower case, digit runs -> 0, split on non-words."""
    if not text.isascii():  # (NFKD leaves ASCII unchanged)
        text = unicodedata.normalize("NFKD", text)
    words = _table_words(text)
    return words if words is not None else simplify_words_reference(text)


def simplify_words_reference(text: str) -> list[str]:
    """:func:`simplify_words` written plainly with regular expressions (the definition)."""
    t = unicodedata.normalize("NFKD", text)
    t = _ACCENTS.sub("", t).lower()
    return _WORD.findall(_DIGITS.sub("0", t))


# ---- table-driven versions of the two simplifications -------------------------------------------
# Both simplifications act character by character once the text is NFKC/NFKD-normalised, except
# for two things str.lower() does: characters whose lower case is several code points (U+0130)
# and the Greek capital sigma, lowered by context (final sigma). Texts containing either take
# the regular-expression path; for all others one numpy lookup over the code points gives the
# same result (tests/test_dedup_minhash.py compares both on real text and on every BMP
# character). Regex scanning of non-ASCII strings costs ~50 ns per character; the lookup ~3 ns.

_DROP = 0xFFFFFFFF  # "remove this character"
_SPECIAL = 0xFFFFFFFE  # "this text needs the regular-expression path"
_SIGMA = 0x03A3


def _char_code(cp: int) -> int:
    """Code point that character shingling maps ``cp`` to (after NFKC), or _DROP / _SPECIAL."""
    low = chr(cp).lower()
    if len(low) != 1 or cp == _SIGMA:
        return _SPECIAL
    if not low.isalnum():  # re's \w is isalnum() (plus "_", which is removed too)
        return _DROP
    return 0x30 if low.isdecimal() else ord(low)  # re's \d is isdecimal()


def _word_code(cp: int) -> int:
    """What word simplification maps ``cp`` to (after NFKD): a code point, space, _DROP, _SPECIAL."""
    c = chr(cp)
    if _ACCENTS.match(c):
        return _DROP
    low = c.lower()
    if len(low) != 1 or cp == _SIGMA:
        return _SPECIAL
    if not low.isalnum():
        return 0x20
    return 0x30 if low.isdecimal() else ord(low)


_TABLES: dict[str, np.ndarray] = {}
_ASTRAL: dict[str, dict[int, int]] = {}  # codes of characters above U+FFFF met so far (emoji...)


def _table(kind: str) -> np.ndarray:
    tab = _TABLES.get(kind)
    if tab is None:
        fn = _char_code if kind == "char" else _word_code
        tab = _TABLES[kind] = np.array([fn(cp) for cp in range(0x10000)], dtype=np.uint32)
    return tab


def _map_codepoints(text: str, kind: str) -> np.ndarray | None:
    """Mapped code points of ``text`` with dropped ones removed, or None if a special one occurs."""
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    tab = _table(kind)
    if cps.size and int(cps.max()) >= 0x10000:  # astral characters (emoji, rare CJK): one by one
        fn = _char_code if kind == "char" else _word_code
        out = np.empty(cps.size, dtype=np.uint32)
        bmp = cps < 0x10000
        out[bmp] = tab[cps[bmp]]
        astral = cps[~bmp]
        uniq, inv = np.unique(astral, return_inverse=True)
        cache = _ASTRAL.setdefault(kind, {})
        codes = [cache.get(cp) for cp in uniq.tolist()]
        for i, cp in enumerate(uniq.tolist()):
            if codes[i] is None:
                codes[i] = cache[cp] = fn(cp)
        out[~bmp] = np.array(codes, dtype=np.uint32)[inv]
    else:
        out = tab[cps]
    if (out == _SPECIAL).any():
        return None
    return out[out != _DROP]


_ZERO_RUN = re.compile("00+")


def _table_words(nfkd_text: str) -> list[str] | None:
    mapped = _map_codepoints(nfkd_text, "word")
    if mapped is None:
        return None
    t = mapped.tobytes().decode("utf-32-le", "surrogatepass")
    if "00" in t:  # a digit run (any script) -> one "0"
        t = _ZERO_RUN.sub("0", t)
    return t.split()  # only spaces separate: every other character left is alphanumeric


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finaliser (vectorised, uint64 wrap-around arithmetic)."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def _fmix64_int(x: int) -> int:
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    return x ^ (x >> 33)


_POW = [pow(_K, i, 1 << 64) for i in range(65)]


def _build_ngram_kernel(njit: Any) -> Any:
    """numba version of :func:`ngram_hashes_numpy` (no temporaries); built by :data:`_ngram_kernel`.
    Same uint64 wrap-around arithmetic, same values."""

    @njit(cache=True, nogil=True, boundscheck=False)
    def kernel(elements, k, powers, add):  # type: ignore[no-untyped-def]
        cnt = elements.shape[0] - k + 1
        out = np.empty(cnt, dtype=np.uint64)
        for i in range(cnt):
            out[i] = add
        for j in range(k):  # one pass per term: the inner loops vectorise (4 us per 2,000 elements)
            pj = powers[j]
            for i in range(cnt):
                out[i] += elements[i + j] * pj
        s33 = np.uint64(33)
        c1 = np.uint64(0xFF51AFD7ED558CCD)
        c2 = np.uint64(0xC4CEB9FE1A85EC53)
        for i in range(cnt):
            acc = out[i]
            acc ^= acc >> s33
            acc *= c1
            acc ^= acc >> s33
            acc *= c2
            out[i] = acc ^ (acc >> s33)
        return out

    return kernel


_ngram_kernel = LazyKernel(_build_ngram_kernel)  # _ngram_kernel(): compiled, or None (numpy)


def ngram_hashes(elements: np.ndarray, n: int, salt: int) -> np.ndarray:
    """64-bit hashes of all n-grams of ``elements`` (uint64); see the module docstring.

    Compiled with numba when available (:func:`_build_ngram_kernel`); the numpy version
    :func:`ngram_hashes_numpy` gives the same values and is the fallback.
    """
    m = int(elements.shape[0])
    if m == 0:
        return np.empty(0, dtype=np.uint64)
    kernel = _ngram_kernel()
    if kernel is None:
        return ngram_hashes_numpy(elements, n, salt)
    k = min(n, m)
    consts = _KERNEL_CONSTS.get((k, salt))
    if consts is None:
        consts = _KERNEL_CONSTS[(k, salt)] = (
            np.array([_POW[k - 1 - j] for j in range(k)], dtype=np.uint64), np.uint64((k * _L + salt) & MASK64))
    if elements.dtype != np.uint64 or not elements.flags.c_contiguous:
        elements = np.ascontiguousarray(elements, dtype=np.uint64)
    return kernel(elements, k, consts[0], consts[1])


_KERNEL_CONSTS: dict[tuple[int, int], tuple[np.ndarray, np.uint64]] = {}  # (k, salt) -> (K powers, length+salt term)


def ngram_hashes_numpy(elements: np.ndarray, n: int, salt: int) -> np.ndarray:
    """numpy version of :func:`ngram_hashes` (vectorised over n-gram start positions)."""
    m = int(elements.shape[0])
    if m == 0:
        return np.empty(0, dtype=np.uint64)
    k = min(n, m)
    cnt = m - k + 1
    with np.errstate(over="ignore"):
        acc = elements[0:cnt] * np.uint64(_POW[k - 1])
        for j in range(1, k):
            acc += elements[j : j + cnt] * np.uint64(_POW[k - 1 - j])
        acc += np.uint64((k * _L + salt) & MASK64)
        return fmix64(acc)


def shingle_hash64(elements: Sequence[int], salt: int) -> int:
    """Scalar reference of :func:`ngram_hashes` for one shingle (pure Python ints)."""
    k = len(elements)
    acc = 0
    for j, e in enumerate(elements):
        acc = (acc + e * _POW[k - 1 - j]) & MASK64
    acc = (acc + k * _L + salt) & MASK64
    return _fmix64_int(acc)


def word_hash(word: str) -> int:
    """64-bit hash of one word (xxh3-64 of its UTF-8)."""
    return xxhash.xxh3_64_intdigest(word.encode("utf-8", "surrogatepass"))


def char_elements(text: str) -> np.ndarray:
    """Code points of the character-normalised text (:func:`normalize_chars`), as uint64."""
    mapped = _map_codepoints(nfkc(strip_ruby(text)), "char")
    if mapped is None:
        t = normalize_chars(text)
        mapped = np.frombuffer(t.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return mapped.astype(np.uint64)


class WordHasher:
    """Maps words to 64-bit hashes with a bounded cache (words repeat a lot across documents)."""

    def __init__(self, max_cache: int = 500_000) -> None:
        self._cache: dict[str, int] = {}
        self._max = max_cache

    def elements(self, text: str) -> np.ndarray:
        words = simplify_words(text)
        cache = self._cache
        if len(cache) > self._max:
            cache.clear()
        for w in set(words).difference(cache):  # C-level set ops; Python only for new words
            cache[w] = word_hash(w)
        return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def shingle_hashes(text: str, kind: str, n: int, words: WordHasher | None = None) -> np.ndarray:
    """All shingle hashes (uint64, with repeats) of ``text`` for shingle ``kind`` and size ``n``."""
    if kind == "char":
        return ngram_hashes(char_elements(text), n, SALT_CHAR)
    els = (words or WordHasher()).elements(text)
    return ngram_hashes(els, n, SALT_WORD)


# ---- reference path (strings), used by the parity tests and for explaining a decision ----------


def char_shingles(text: str, n: int) -> list[str]:
    t = normalize_chars(text)
    if not t:
        return []
    if len(t) < n:
        return [t]
    return [t[i : i + n] for i in range(len(t) - n + 1)]


def word_shingles(text: str, n: int) -> list[str]:
    w = simplify_words(text)
    if not w:
        return []
    if len(w) < n:
        return [" ".join(w)]
    return [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)]


def hash_char_shingle(shingle: str) -> int:
    """Hash of one character shingle (as produced by :func:`char_shingles`)."""
    return shingle_hash64([ord(c) for c in shingle], SALT_CHAR)


def hash_word_shingle(shingle: str) -> int:
    """Hash of one word shingle (words joined by single spaces, from :func:`word_shingles`)."""
    return shingle_hash64([word_hash(w) for w in shingle.split(" ")], SALT_WORD)
