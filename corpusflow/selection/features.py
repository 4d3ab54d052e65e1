"""Hashed n-gram features for DSIR, with Japanese split into characters (pure numpy).

DSIR (Xie et al. 2023, ``p-lambda/dsir`` ``hashed_ngram_dsir.py``; docs/design.md#dsir) lower-cases
the text, splits it with NLTK ``wordpunct`` (``\\w+|[^\\w\\s]+``), and hashes unigrams and bigrams
into 10,000 buckets. For Japanese that is wrong: kana and kanji are ``\\w``, so a whole clause
(``今日は良い天気です``) is one "word" and the features degenerate (docs/design.md#dsir).

Here a text becomes a sequence of *units*:

* every kana / kanji / CJK character (Hiragana, Katakana incl. ``ー`` and half-width forms, CJK
  ideographs incl. extension A and the compatibility block, ``々〆〇``) is a unit of its own,
  so Japanese gets **character** n-grams;
* a run of other letters and digits is a unit (an English **word**);
* a run of punctuation / symbols is a unit (as in ``wordpunct``);
* whitespace separates units and is never a unit.

Mixed text (Japanese prose with English words and code) gets both kinds at once, without a
per-document language decision that could differ between fitting and scoring. Before that the
text is NFKC-normalised (so mC4's NFKC-folded ``!`` and Wikipedia's ``！`` are the same feature)
and lower-cased (as DSIR).

Hashing is vectorised: a unit's hash is a position-weighted sum of its code points modulo 2**64
(``np.add.reduceat``), n-grams combine unit hashes polynomially, and a keyed splitmix64
finaliser spreads them over ``num_buckets``. Everything is integer arithmetic on ``uint64``
(wrap-around is the intended modulus), so features are identical on every platform and run.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Unit classes of a code point.
U_SPACE = 0
U_WORD = 1  # letters and digits of non-CJK scripts: runs form words
U_CJK = 2  # kana, kanji: each character is its own unit
U_PUNCT = 3  # punctuation and symbols: runs form one unit

_LUT_SIZE = 0x110000
_LUT: np.ndarray | None = None

_CJK_RANGES = (
    (0x3005, 0x3007),  # 々 〆 〇
    (0x303B, 0x303B),  # 〻
    (0x3041, 0x309F),  # hiragana (incl. ゝゞ)
    (0x30A0, 0x30FF),  # katakana (incl. ー and ・ — ・ is reset to punctuation below)
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x20000, 0x3134F),  # supplementary ideographs (extensions B-G)
)


def unit_classes() -> np.ndarray:
    """The code point -> unit class lookup table (built once per process, ~0.1 s, 1.1 MB)."""
    global _LUT
    if _LUT is None:
        lut = np.full(_LUT_SIZE, U_PUNCT, dtype=np.uint8)
        for i in range(0x30000):  # the planes that hold letters of living scripts
            c = chr(i)
            if c.isspace():
                lut[i] = U_SPACE
            elif c.isalnum():
                lut[i] = U_WORD
        for lo, hi in _CJK_RANGES:
            lut[lo : hi + 1] = U_CJK
        lut[0x30FB] = U_PUNCT  # ・ (katakana middle dot) separates, it is not a letter
        lut[0x3000] = U_SPACE  # ideographic space
        _LUT = lut
    return _LUT


_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_P_CHAR = _U64(0x100000001B3)  # FNV-64 prime: weights code points inside a unit
_P_UNIT = _U64(0xC2B2AE3D27D4EB4F)  # xxhash prime: weights units inside an n-gram
_MAX_UNIT_CHARS = 64  # longer runs (URLs, base64) are hashed on their first 64 characters


def splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised over a uint64 array (wraps mod 2**64 by design)."""
    z = z + _GOLDEN
    z = (z ^ (z >> _U64(30))) * _M1
    z = (z ^ (z >> _U64(27))) * _M2
    return z ^ (z >> _U64(31))


@dataclass(frozen=True)
class FeatureParams:
    """What defines the features; stored in every fitted model so scoring matches fitting.

    Attributes:
        ngrams: n-grams of units of order 1..ngrams (DSIR default: 2 = unigrams + bigrams).
        num_buckets: hash buckets (DSIR default 10,000).
        hash_seed: key of the bucket hash.
        normalize: NFKC + lower-case before splitting (DSIR lower-cases).
    """

    ngrams: int = 2
    num_buckets: int = 10_000
    hash_seed: int = 0
    normalize: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class HashedNgramFeaturizer:
    """Text -> bucket index of every unit n-gram (see the module docstring)."""

    def __init__(self, params: FeatureParams | None = None) -> None:
        self.params = params or FeatureParams()
        if not 1 <= self.params.ngrams <= 8:
            raise ValueError(f"ngrams must be in 1..8, got {self.params.ngrams}")
        if self.params.num_buckets < 2:
            raise ValueError("num_buckets must be at least 2")
        self._lut = unit_classes()
        self._ppow = np.cumprod(np.full(_MAX_UNIT_CHARS, _P_CHAR, dtype=np.uint64))
        self._ppow = np.concatenate([np.ones(1, dtype=np.uint64), self._ppow[:-1]])
        seed = int(self.params.hash_seed) & 0xFFFFFFFFFFFFFFFF
        # One key per n-gram order, so a bigram never lands in the bucket of an equal unigram hash.
        self._salts = [
            splitmix64(np.array([seed ^ (n * 0x632BE59BD9B4E019 & 0xFFFFFFFFFFFFFFFF)], dtype=np.uint64))[0]
            for n in range(self.params.ngrams + 1)
        ]

    def prepare(self, text: str) -> str:
        if self.params.normalize:
            return unicodedata.normalize("NFKC", text).lower()
        return text

    def unit_hashes(self, text: str) -> np.ndarray:
        """One uint64 hash per unit of the (prepared) text, in order."""
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if cps.size == 0:
            return np.zeros(0, dtype=np.uint64)
        cls = self._lut[np.minimum(cps, _LUT_SIZE - 1)]
        nonspace = cls != U_SPACE
        prev = np.empty_like(cls)
        prev[0] = U_SPACE
        prev[1:] = cls[:-1]
        start = nonspace & ((cls == U_CJK) | (cls != prev))
        idx = np.flatnonzero(nonspace)
        if idx.size == 0:
            return np.zeros(0, dtype=np.uint64)
        starts_mask = start[idx]
        unit_no = np.cumsum(starts_mask) - 1  # unit of each non-space position
        first_pos = idx[starts_mask]  # position of each unit's first character
        offset = idx - first_pos[unit_no]  # position inside its unit
        keep = offset < _MAX_UNIT_CHARS
        vals = cps[idx].astype(np.uint64) + _U64(1)
        contrib = np.where(keep, vals * self._ppow[np.minimum(offset, _MAX_UNIT_CHARS - 1)], _U64(0))
        seg = np.flatnonzero(starts_mask)  # segment starts in the idx order
        sums = np.add.reduceat(contrib, seg)
        lengths = np.diff(np.append(seg, idx.size)).astype(np.uint64)
        return splitmix64(sums ^ (lengths << _U64(56)))

    def buckets(self, text: str) -> np.ndarray:
        """Bucket index (int64) of every unit n-gram of order 1..ngrams of ``text``."""
        return self.units_and_buckets(text)[1]

    def n_units(self, text: str) -> int:
        """Number of units (characters of Japanese, words of English) of ``text``."""
        return int(self.unit_hashes(self.prepare(text)).size)

    def units_and_buckets(self, text: str) -> tuple[int, np.ndarray]:
        """(number of units, bucket indexes) in one pass."""
        u = self.unit_hashes(self.prepare(text))
        nb = _U64(self.params.num_buckets)
        parts = []
        h = u
        for n in range(1, self.params.ngrams + 1):
            if n > 1:
                if u.size < n:
                    break
                h = h[:-1] * _P_UNIT + u[n - 1 :]
            parts.append((splitmix64(h ^ self._salts[n]) % nb).astype(np.int64))
        return int(u.size), (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))

    def counts(self, text: str) -> np.ndarray:
        """Bag of hashed n-grams: a ``num_buckets`` vector of counts."""
        return np.bincount(self.buckets(text), minlength=self.params.num_buckets)


def split_units(text: str, normalize: bool = True) -> list[str]:
    """The units of ``text`` as strings (for tests and documentation; hashing never builds them)."""
    if normalize:
        text = unicodedata.normalize("NFKC", text).lower()
    lut = unit_classes()
    out: list[str] = []
    prev = U_SPACE
    for ch in text:
        c = int(lut[min(ord(ch), _LUT_SIZE - 1)])
        if c == U_SPACE:
            prev = c
            continue
        if c == U_CJK or c != prev or not out:
            out.append(ch)
        else:
            out[-1] += ch
        prev = c
    return out
