"""In-process token counting of many documents: exact, or estimated like the Beam stage.

Used by ``corpusflow tokens``, by ``corpusflow mix --dry-run`` when a pool must be re-counted
and by tests. The estimate follows the same rules as the pipeline (same calibration keys,
thresholds and rounding, :mod:`corpusflow.mixture.estimate`), so the two give identical
counts for the same documents and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from corpusflow.mixture.census import Cell
from corpusflow.mixture.estimate import Calibration, calibration_key, sample_threshold
from corpusflow.mixture.tokenizers import TokenCounter


@dataclass
class CountResult:
    n_tokens: np.ndarray
    sampled: np.ndarray  # bool: counted exactly (all True in exact mode)
    calibrations: dict[Cell, Calibration] = field(default_factory=dict)


def count_exact(counter: TokenCounter, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    out = np.zeros(len(texts), dtype=np.int64)
    for i in range(0, len(texts), batch_size):
        out[i : i + batch_size] = counter.count(texts[i : i + batch_size])
    return out


def count_documents(
    counter: TokenCounter,
    texts: Sequence[str],
    *,
    cells: Sequence[Cell],
    ids: Sequence[str],
    mode: str = "exact",
    seed: int = 0,
    sample_rate: float = 0.01,
    min_sample_docs: int = 500,
    batch_size: int = 256,
) -> CountResult:
    """Token counts of ``texts``; ``cells[i] = (source, lang)`` and ``ids[i]`` pick the sample."""
    n = len(texts)
    if mode == "exact":
        return CountResult(count_exact(counter, texts, batch_size), np.ones(n, dtype=bool))
    keys = np.fromiter((calibration_key(seed, c[0], i) for c, i in zip(cells, ids, strict=True)),
                       dtype=np.float64, count=n)
    by_cell: dict[Cell, list[int]] = {}
    for j, c in enumerate(cells):
        by_cell.setdefault(c, []).append(j)
    sampled = np.zeros(n, dtype=bool)
    for _c, idx in by_cell.items():
        ix = np.asarray(idx)
        smallest = np.sort(keys[ix])[:min_sample_docs].tolist()
        thr = sample_threshold(sample_rate, smallest, min_sample_docs)
        sampled[ix[keys[ix] <= thr]] = True
    out = np.zeros(n, dtype=np.int64)
    s_idx = np.flatnonzero(sampled)
    out[s_idx] = count_exact(counter, [texts[j] for j in s_idx.tolist()], batch_size)
    cals: dict[Cell, Calibration] = {}
    for j in s_idx.tolist():
        cals.setdefault(cells[j], Calibration()).add(len(texts[j]), int(out[j]))
    for j in np.flatnonzero(~sampled).tolist():
        cal = cals.get(cells[j])
        out[j] = cal.estimate(len(texts[j])) if cal is not None else 0
    return CountResult(out, sampled, cals)
