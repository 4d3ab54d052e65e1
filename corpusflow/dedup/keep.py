"""The keep rule: a deterministic priority key per document (smaller wins), no Beam.

The key is a tuple of int64 values built from the configured criteria (``KeepRuleConfig.order``)
with the keyed xxh3 hash of the document id appended as the final tie-break, so the kept member
of a cluster never depends on input order, bundling or runner (spec §8.4). The tuple has a fixed
width (:data:`RANK_WIDTH`) so that ranks can be sorted as numpy columns.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from corpusflow.dedup.config import KeepRuleConfig
from corpusflow.document import Document
from corpusflow.hashing import stable_hash64

RANK_WIDTH = 4
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
        if crit == "source_priority":
            out.append(-int((source_priority or {}).get(doc.source, 0)))
        elif crit == "longest":
            out.append(-len(doc.text))
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
