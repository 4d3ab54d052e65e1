"""A run's saved dedup index, and matching new documents against earlier runs' indexes (no Beam).

A new crawl must be deduplicated against the corpus already built without recomputing it:
Swallow's doubri keeps sorted per-bucket hash files so that a new group of files can be checked
against earlier groups (``doubri-other``), and datatrove's ``MinhashDedupBuckets`` takes an
``index_folder`` of earlier band hashes. Here a run with ``stages.dedup.save_index`` writes, for
every document it kept, one row with what both decisions need, and a later run names earlier
indexes in ``stages.dedup.earlier_indexes``:

* exact: the scope hash and the xxh3-128 digest of the text (:func:`corpusflow.dedup.core.exact_key`);
* near: the profile, the band-key salt and the MinHash signature (the band keys are recomputed
  from it, and the signature estimates the Jaccard similarity of a candidate pair).

On disk (local or object storage, Parquet, so every runner reads it)::

    RUN/dedup_index/index-*.parquet    INDEX_SCHEMA rows
    RUN/dedup_index/index.json         format, FORMAT_VERSION, run name, settings, rows

``index.json`` holds the settings that make signatures and band keys comparable (profiles with
shingle kind, n, bands, rows and permutations; the seed; the scope); :func:`check_settings`
refuses an index built with other settings, naming what differs.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.minhash import band_keys
from corpusflow.dedup.tables import NodeBatch
from corpusflow.io import filesystems as fs
from corpusflow.io.filesystems import expand_glob

FORMAT = "corpusflow.dedup-index"
FORMAT_VERSION = 1
INDEX_DIR = "dedup_index"
META_FILE = "index.json"
PREFIX = "index"
#: Stage name of documents that duplicate a document kept by an earlier run.
STAGE_EARLIER = "dedup.earlier"
#: ``kept_id`` of such a duplicate: ``<earlier run name>::<id kept there>``.
KEPT_ID_SEP = "::"

INDEX_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("profile", pa.string(), nullable=False),
    pa.field("salt", pa.uint64(), nullable=False),
    pa.field("scope", pa.uint64(), nullable=False),
    pa.field("dhi", pa.uint64(), nullable=False),
    pa.field("dlo", pa.uint64(), nullable=False),
    pa.field("cluster_size", pa.int64(), nullable=False),
    pa.field("sig", pa.binary(), nullable=False),  # uint32 little-endian MinHash values; empty: no shingle
])


class DedupIndexError(ValueError):
    """An earlier index that cannot be used (missing, other version, other dedup settings)."""


def settings_of(cfg: DedupStageConfig, seed: int) -> dict[str, Any]:
    """What must be equal for two runs' signatures and band keys to be comparable."""
    return {
        "seed": seed,
        "scope": cfg.scope,
        "exact": cfg.exact,
        "minhash": cfg.minhash,
        "profiles": {name: {"shingle": p.shingle, "n": p.n, "bands": p.bands, "rows": p.rows, "perms": p.perms}
                     for name, p in sorted(cfg.profiles.items())},
        "profile_of": dict(sorted(cfg.profile_of.items())),
        "default_profile": cfg.default_profile,
    }


def check_settings(saved: dict[str, Any], current: dict[str, Any], where: str) -> None:
    """Raise :class:`DedupIndexError` naming every setting that differs."""
    diffs = []
    for key in sorted(set(saved) | set(current)):
        if key == "profiles":
            for name in sorted(set(saved.get(key, {})) | set(current.get(key, {}))):
                a, b = saved.get(key, {}).get(name), current.get(key, {}).get(name)
                if a != b:
                    diffs.append(f"profiles.{name}: index {a} vs now {b}")
        elif saved.get(key) != current.get(key):
            diffs.append(f"{key}: index {saved.get(key)!r} vs now {current.get(key)!r}")
    if diffs:
        raise DedupIndexError(
            f"earlier dedup index {where} was built with other dedup settings, so its signatures and band keys "
            "cannot be compared with this run's: " + "; ".join(diffs)
            + ". Use the same stages.dedup profiles/seed/scope, or rebuild the earlier index")


def index_rows(rows: NodeBatch, names: list[str], cluster_sizes: list[int]) -> list[dict[str, Any]]:
    """INDEX_SCHEMA rows of node rows (``names`` = sorted profile names, as in ``rows.prof``)."""
    out = []
    for i in range(len(rows)):
        k = int(rows.nperm[i])
        out.append({"id": str(rows.ids[i]), "profile": names[int(rows.prof[i])], "salt": int(rows.salt[i]),
                    "scope": int(rows.scope[i]), "dhi": int(rows.dhi[i]), "dlo": int(rows.dlo[i]),
                    "cluster_size": int(cluster_sizes[i]),
                    "sig": rows.sig[i, :k].astype("<u4").tobytes() if k else b""})
    return out


def write_meta(path: str, run: str, settings: dict[str, Any], rows: int) -> None:

    meta = {"format": FORMAT, "version": FORMAT_VERSION, "run": run, "settings": settings, "rows": rows}
    fs.write_bytes_atomic(fs.join(path, META_FILE), (json.dumps(meta, indent=2) + "\n").encode())


def read_meta(path: str) -> dict[str, Any]:

    try:
        meta = json.loads(fs.read_bytes(fs.join(path, META_FILE)))
    except (OSError, ValueError) as exc:
        raise DedupIndexError(f"{path} is not a dedup index ({META_FILE} unreadable: {exc}); a run writes one "
                              f"under OUTPUT/{INDEX_DIR}/ with stages.dedup.save_index: true") from None
    if meta.get("format") != FORMAT:
        raise DedupIndexError(f"{path}: format {meta.get('format')!r} is not {FORMAT!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise DedupIndexError(f"{path}: dedup index version {meta.get('version')} is not supported "
                              f"(this corpusflow reads version {FORMAT_VERSION})")
    return meta


@dataclass
class _Profile:
    keys: np.ndarray  # sorted band keys
    rows: np.ndarray  # local row (into sig / glob) of each key
    sig: np.ndarray  # [rows of this profile, perms] uint32
    glob: np.ndarray  # index row of each local row


class EarlierIndex:
    """The kept documents of earlier runs, looked up by exact key and by LSH band key."""

    def __init__(self, paths: list[str], cfg: DedupStageConfig, seed: int) -> None:

        current = settings_of(cfg, seed)
        tables, runs = [], []
        for path in paths:
            meta = read_meta(path)
            check_settings(meta["settings"], current, path)
            files = expand_glob(path.rstrip("/") + f"/{PREFIX}-*.parquet")
            for f in files:
                t = _read_parquet(f)
                tables.append(t)
                runs += [str(meta["run"])] * t.num_rows
        table = pa.concat_tables(tables) if tables else INDEX_SCHEMA.empty_table()
        self.cfg = cfg
        self.size = table.num_rows
        self.ids = [f"{r}{KEPT_ID_SEP}{i}" for r, i in zip(runs, table.column("id").to_pylist(), strict=True)]
        self.cluster_size = table.column("cluster_size").to_numpy()
        scope, dhi, dlo = (table.column(c).to_numpy() for c in ("scope", "dhi", "dlo"))
        self.exact: dict[tuple[int, int, int], int] = {}
        for i in range(self.size - 1, -1, -1):  # the first row wins
            self.exact[(int(scope[i]), int(dhi[i]), int(dlo[i]))] = i
        self.profiles: dict[str, _Profile] = {}
        prof = np.array(table.column("profile").to_pylist(), dtype=object)
        salts = table.column("salt").to_numpy()
        sigs = table.column("sig").to_pylist()
        has_sig = np.array([len(x) > 0 for x in sigs], dtype=bool)
        for name, p in cfg.profiles.items():
            sel = np.nonzero((prof == name) & has_sig)[0] if self.size else np.empty(0, dtype=np.int64)
            sig = np.zeros((sel.size, p.perms), dtype=np.uint32)
            for local, i in enumerate(sel.tolist()):
                sig[local] = np.frombuffer(sigs[i], dtype="<u4")[: p.perms]
            keys, rows = [], []
            for salt in np.unique(salts[sel]) if sel.size else []:
                local_idx = np.nonzero(salts[sel] == salt)[0]
                keys.append(band_keys(sig[local_idx], p.bands, p.rows, int(salt)).ravel())
                rows.append(np.repeat(local_idx, p.bands))
            k = np.concatenate(keys) if keys else np.empty(0, np.uint64)
            r = np.concatenate(rows) if rows else np.empty(0, np.int64)
            order = np.argsort(k, kind="stable")
            self.profiles[name] = _Profile(k[order], r[order], sig, sel)
        del sigs

    def match(self, rows: NodeBatch, names: list[str], min_similarity: float) -> list[tuple[int, str, int, float] | None]:
        """Per node row: ``(earlier row, kept_id, cluster size, similarity)`` of the earlier kept
        document it duplicates (exact first, else the most similar band candidate with estimated
        Jaccard >= ``min_similarity``, ties to the earliest row), or None."""
        out: list[tuple[int, str, int, float] | None] = []
        for i in range(len(rows)):
            j = self.exact.get((int(rows.scope[i]), int(rows.dhi[i]), int(rows.dlo[i]))) if self.cfg.exact else None
            if j is not None:
                out.append((j, self.ids[j], int(self.cluster_size[j]), 1.0))
                continue
            k = int(rows.nperm[i])
            name = names[int(rows.prof[i])]
            prof = self.profiles.get(name)
            if not self.cfg.minhash or k == 0 or prof is None or not prof.keys.size:
                out.append(None)
                continue
            p = self.cfg.profiles[name]
            sig = rows.sig[i : i + 1, :k]
            keys = band_keys(sig, p.bands, p.rows, int(rows.salt[i])).ravel()
            lo = np.searchsorted(prof.keys, keys, "left")
            hi = np.searchsorted(prof.keys, keys, "right")
            cand = np.unique(np.concatenate([prof.rows[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]))
            if not cand.size:
                out.append(None)
                continue
            sim = (prof.sig[cand] == sig).mean(axis=1)
            best = int(np.argmax(sim))  # first maximum: the smallest row
            if sim[best] < min_similarity:
                out.append(None)
                continue
            j = int(prof.glob[cand[best]])
            out.append((j, self.ids[j], int(self.cluster_size[j]), round(float(sim[best]), 4)))
        return out


def _read_parquet(path: str) -> pa.Table:

    return pq.read_table(io.BytesIO(fs.read_bytes(path))).cast(INDEX_SCHEMA)
