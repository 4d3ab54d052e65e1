"""Estimate mode: calibrate tokens per character on a hash-selected sample (no Beam).

Per (source, lang) cell, a document is in the calibration sample when its calibration key
``stable_hash64("mix.calibrate", source, id, seed) / 2**64`` is below the cell's threshold:
``max(sample_rate, key of the min_sample_docs-th smallest)``, so small cells are sampled
entirely and large ones at ``sample_rate`` (docs/design.md#token-counting: calibrate chars/token per
(source, language) on a hash-selected sample and record it in the manifest). The sample is
tokenized exactly; every other document is estimated as ``round(n_chars * R)`` with the ratio
estimator ``R = sum(tokens) / sum(chars)`` of its cell.

Error: the ratio estimator's relative standard error
``sqrt((1 - n/N) * sum((t_i - R c_i)^2) / (n (n-1))) / (R * mean(c))`` (Cochran, *Sampling
Techniques*, 3rd ed., §6.3), reported per cell with the sample size; for the total of a cell
the relative error of the estimate equals that of R because the character total is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xxhash import xxh3_64_intdigest

_U64 = float(1 << 64)


def calibration_key(seed: int, source: str, doc_id: str) -> float:
    """``stable_hash64("mix.calibrate", source, doc_id, seed=seed) / 2**64`` (one xxh3 call)."""
    return xxh3_64_intdigest(
        b"mix.calibrate\x1f" + source.encode("utf-8", "surrogatepass") + b"\x1f"
        + doc_id.encode("utf-8", "surrogatepass"),
        seed & 0xFFFFFFFFFFFFFFFF,
    ) / _U64


def sample_threshold(sample_rate: float, smallest_keys: list[float], min_docs: int) -> float:
    """Key threshold of a cell: the sample is every document with ``key <= threshold``.

    ``smallest_keys`` are the cell's ``min_docs`` smallest calibration keys (fewer if the cell
    is smaller, in which case the whole cell is sampled).
    """
    if len(smallest_keys) < min_docs:
        return 1.0
    return max(sample_rate, max(smallest_keys))


@dataclass
class Calibration:
    """Sums over a cell's calibration sample (mergeable by addition)."""

    n: int = 0
    chars: int = 0
    tokens: int = 0
    cc: int = 0  # sums of squares and products as exact integers: merge order cannot matter
    tt: int = 0
    ct: int = 0

    def add(self, n_chars: int, n_tokens: int) -> Calibration:
        self.n += 1
        self.chars += n_chars
        self.tokens += n_tokens
        self.cc += n_chars * n_chars
        self.tt += n_tokens * n_tokens
        self.ct += n_chars * n_tokens
        return self

    def merge(self, other: Calibration) -> Calibration:
        self.n += other.n
        self.chars += other.chars
        self.tokens += other.tokens
        self.cc += other.cc
        self.tt += other.tt
        self.ct += other.ct
        return self

    @property
    def tokens_per_char(self) -> float:
        return self.tokens / self.chars if self.chars else 0.0

    def rel_stderr(self, population: int | None = None) -> float | None:
        """Relative standard error of tokens_per_char (None when n < 2)."""
        if self.n < 2 or self.chars == 0 or self.tokens == 0:
            return None
        r = self.tokens_per_char
        ss = max(0.0, self.tt - 2 * r * self.ct + r * r * self.cc)
        fpc = 1.0 - (self.n / population) if population else 1.0
        var = max(0.0, fpc) * ss / (self.n * (self.n - 1))
        mean_c = self.chars / self.n
        return math.sqrt(var) / (r * mean_c)

    def estimate(self, n_chars: int) -> int:
        if n_chars <= 0:
            return 0
        return max(1, round(n_chars * self.tokens_per_char))

    def to_jsonable(self, population: int | None = None) -> dict[str, Any]:
        rse = self.rel_stderr(population)
        return {
            "sample_docs": self.n,
            "sample_chars": self.chars,
            "sample_tokens": self.tokens,
            "chars_per_token": round(self.chars / self.tokens, 6) if self.tokens else None,
            "tokens_per_char": round(self.tokens_per_char, 8),
            "rel_stderr": None if rse is None else round(rse, 6),
        }
