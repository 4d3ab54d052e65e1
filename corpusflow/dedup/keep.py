"""The keep rule: a deterministic priority key per document (smaller wins), no Beam.

The key is a tuple of int64 values built from the configured criteria (``KeepRuleConfig.order``)
with the keyed xxh3 hash of the document id appended as the final tie-break, so the kept member
of a cluster never depends on input order, bundling or runner (docs/design.md#minhash-dedup).
The tuple has a fixed width (:data:`RANK_WIDTH`) so that ranks can be sorted as numpy columns.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping

import numpy as np

from corpusflow.core.document import Document
from corpusflow.core.hashing import stable_hash64
from corpusflow.dedup.config import KeepRuleConfig

RANK_WIDTH = 5
# ``complete``: lengths are compared in buckets of a factor 1.05 (log scale), so two copies whose
# lengths differ by less than ~5 % usually tie (and then the next criterion decides) while a copy
# truncated to 95 % or less always ranks below the full text (ln(1/0.95) > ln(1.05)).
COMPLETE_STEP = 1.05
_I64 = (1 << 63) - 1
_NO_DATE = _I64  # documents without a usable date lose under newest and oldest alike


def parse_date(value: object) -> int | None:
    """Seconds since the epoch of an ISO-8601 date/datetime string (UTC if no zone), else None."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    s = str(value).strip()
    if not s:
        return None
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        d = _dt.datetime.fromisoformat(s)
    except ValueError:
        try:
            d = _dt.datetime.combine(_dt.date.fromisoformat(s[:10]), _dt.time())
        except ValueError:
            return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return int(d.timestamp())


def length_bucket(n_chars: int, step: float = COMPLETE_STEP) -> int:
    """floor(log_step(n_chars)): equal for lengths within a factor ``step`` of a bucket."""
    return math.floor(math.log(max(n_chars, 1)) / math.log(step))


def id_hash(doc_id: str, seed: int) -> int:
    """Keyed 64-bit hash of a document id, as a signed int64 (sortable in numpy)."""
    h = stable_hash64("dedup.id", doc_id, seed=seed)
    return h - (1 << 64) if h >= 1 << 63 else h


def rank_key(
    doc: Document, rule: KeepRuleConfig, seed: int, source_priority: Mapping[str, int] | None = None
) -> tuple[int, ...]:
    """The priority tuple of ``doc`` (length :data:`RANK_WIDTH`; smaller is kept)."""
    out: list[int] = []
    for crit in rule.order:
        if crit == "id_hash":
            break
        if crit in ("central", "first_seen"):
            out.append(0)  # filled per shard/cluster: see fill_rank_columns
        elif crit == "source_priority":
            out.append(-int((source_priority or {}).get(doc.source, 0)))
        elif crit == "longest":
            out.append(-len(doc.text))
        elif crit == "complete":
            out.append(-length_bucket(len(doc.text)))
        elif crit == "shortest":
            out.append(len(doc.text))
        else:
            ts = parse_date((doc.meta or {}).get(rule.date_field))
            if ts is None:
                out.append(_NO_DATE)
            else:
                out.append(-ts if crit == "newest" else ts)
    out = out[: RANK_WIDTH - 1]
    out += [0] * (RANK_WIDTH - 1 - len(out))
    out.append(id_hash(doc.id, seed))
    return tuple(out)


def context_columns(order: list[str]) -> dict[str, int]:
    """Rank columns that depend on other documents: {criterion: column} for central, first_seen."""
    cols = {}
    for i, crit in enumerate([c for c in order if c != "id_hash"][: RANK_WIDTH - 1]):
        if crit in ("central", "first_seen"):
            cols[crit] = i
    return cols


def first_seen_rank(files: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Order-preserving int64 rank of (file path, line) among the given rows."""
    _, inv = np.unique(files.astype(str), return_inverse=True)
    return (inv.astype(np.int64) << 40) | np.clip(lines.astype(np.int64), 0, (1 << 40) - 1)


def centrality(sig: np.ndarray, nperm: np.ndarray, weight: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """For each row: sum over the other input documents of its cluster of equal MinHash values.

    ``weight`` counts exact copies (a row stands for ``weight`` identical documents). Computed
    per permutation by sorting (root, value) and summing the weights of each run, so it is exact
    and O(P * n log n), never O(k^2) for a cluster of k members.
    """
    n = roots.shape[0]
    c = np.zeros(n, dtype=np.int64)
    if n == 0:
        return c
    for j in range(int(nperm.max())):
        v = sig[:, j]
        order = np.lexsort((v, roots))
        r, vv, w = roots[order], v[order], weight[order]
        new = np.ones(n, dtype=bool)
        new[1:] = (r[1:] != r[:-1]) | (vv[1:] != vv[:-1])
        starts = np.nonzero(new)[0]
        run_w = np.add.reduceat(w, starts)
        per = np.repeat(run_w, np.diff(np.append(starts, n)))
        c[order] += np.where(nperm[order] > j, per - 1, 0)
    return c
