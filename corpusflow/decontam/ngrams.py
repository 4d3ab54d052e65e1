"""Per-language units and n-gram hashes for decontamination, with offsets into the original text.

Two schemes, the same simplifications as MinHash dedup (:mod:`corpusflow.dedup.shingle`) so a
benchmark item and a web page that differ only in width, case, punctuation, spacing or digits
give the same n-grams:

* ``char`` (Japanese): NFKC, lower case, every character that is not a letter or digit removed,
  decimal digits folded to ``0``; units are the remaining characters.
* ``word`` (English): NFKD without Latin accents, lower case, digit runs -> ``0``; units are
  the runs of letters and digits.

:func:`ngram_hashes` is the fast path (numpy/numba, no offsets) used on every document;
:func:`units_with_offsets` walks the original text once more to know, for every unit, which
characters of the original it came from. It is only run on documents that the fast path found
to share an n-gram with the index, to report and cut the matched spans.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from corpusflow.dedup.shingle import (
    SALT_CHAR,
    SALT_WORD,
    WordHasher,
    char_elements,
    normalize_chars,
    simplify_words,
    word_hash,
)
from corpusflow.dedup.shingle import ngram_hashes as _ngram_hashes

SCHEMES = ("char", "word")
SALTS = {"char": SALT_CHAR, "word": SALT_WORD}
SCHEME_OF_LANG = {"ja": "char", "en": "word"}

# A word: letters/digits, possibly with combining accents inside (NFKD-decomposed Latin text).
_WORD_RE = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f])+")


class Units(NamedTuple):
    """Unit codes of a text and the original character span ``[start, end)`` of each unit."""

    codes: np.ndarray  # uint64
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64


def unit_codes(text: str, scheme: str, words: WordHasher | None = None) -> np.ndarray:
    """Unit codes of ``text`` (uint64): code points (``char``) or 64-bit word hashes (``word``)."""
    if scheme == "char":
        return char_elements(text)
    return (words or WordHasher()).elements(text)


def ngram_hashes(codes: np.ndarray, n: int, scheme: str) -> np.ndarray:
    """Hashes of the n-grams of ``codes``, one per start position; empty when there are fewer
    than ``n`` units (a shorter text has no n-gram: it can neither be indexed nor match)."""
    if codes.shape[0] < n:
        return np.empty(0, dtype=np.uint64)
    return _ngram_hashes(codes, n, SALTS[scheme])


_CHAR_CACHE: dict[str, str] = {}


def units_with_offsets(text: str, scheme: str) -> Units:
    """Units of ``text`` with the original span of each (slow path; see the module docstring).

    Characters are normalised one at a time (``char``) or word by word (``word``); the result
    equals :func:`unit_codes` except where NFKC composes across characters (a base letter and a
    separate combining voicing mark), which changes a few units but never an offset.
    """
    if scheme == "char":
        cache = _CHAR_CACHE
        codes: list[int] = []
        starts: list[int] = []
        for i, c in enumerate(text):
            t = cache.get(c)
            if t is None:
                t = cache[c] = normalize_chars(c)
            for u in t:
                codes.append(ord(u))
                starts.append(i)
        st = np.array(starts, dtype=np.int64)
        return Units(np.array(codes, dtype=np.uint64), st, st + 1)
    wcodes: list[int] = []
    wstarts: list[int] = []
    wends: list[int] = []
    for m in _WORD_RE.finditer(text):
        for w in simplify_words(m.group()):
            wcodes.append(word_hash(w))
            wstarts.append(m.start())
            wends.append(m.end())
    return Units(np.array(wcodes, dtype=np.uint64), np.array(wstarts, dtype=np.int64),
                 np.array(wends, dtype=np.int64))
