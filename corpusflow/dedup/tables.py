"""Column batches that the dedup stage moves between Beam steps (numpy, no Beam).

Nothing here holds document text. A :class:`NodeBatch` is the per-document record needed to
decide which member of a cluster to keep and how similar members are: 64-bit id hash, rank
columns (:mod:`corpusflow.dedup.keep`), weight (number of exact copies it stands for), the
document id and its MinHash signature. Band pairs are ``(band_key, uid)`` uint64 columns.
Batches are sharded by ``value % shards`` so each shard can be processed with sorts and
``searchsorted`` instead of per-record shuffles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpusflow.dedup.keep import RANK_WIDTH


def shard_of(values: np.ndarray, shards: int) -> np.ndarray:
    """Shard of uint64 hashes (their value modulo ``shards``)."""
    return (values % np.uint64(shards)).astype(np.int64)


_COLUMNS = ("uid", "rank", "weight", "ids", "sig", "nperm", "prof", "salt", "scope", "dhi", "dlo", "file", "line")


@dataclass
class NodeBatch:
    uid: np.ndarray  # uint64 [n]: keyed hash of the document id
    rank: np.ndarray  # int64 [n, RANK_WIDTH]: keep-rule priority (smaller is kept)
    weight: np.ndarray  # int64 [n]: input documents this row stands for (exact copies)
    ids: np.ndarray  # object [n] (str): document id
    sig: np.ndarray  # uint32 [n, width]: MinHash signature (first nperm values)
    nperm: np.ndarray  # int32 [n]: permutations of its profile; 0 = no shingle
    prof: np.ndarray  # int16 [n]: index of its profile in sorted(cfg.profiles)
    salt: np.ndarray  # uint64 [n]: band-key salt (profile and scope)
    scope: np.ndarray  # uint64 [n]: hash of the dedup scope ("" or the source)
    dhi: np.ndarray  # uint64 [n]: xxh3-128 digest of the text, high half
    dlo: np.ndarray  # uint64 [n]: low half
    file: np.ndarray  # object [n] (str): input file (for the first_seen keep criterion)
    line: np.ndarray  # int64 [n]: line / row in that file

    def __len__(self) -> int:
        return int(self.uid.shape[0])

    def take(self, idx: np.ndarray) -> NodeBatch:
        return NodeBatch(*(getattr(self, c)[idx] for c in _COLUMNS))

    @staticmethod
    def empty(width: int = 1) -> NodeBatch:
        return NodeBatch(
            np.empty(0, np.uint64), np.empty((0, RANK_WIDTH), np.int64), np.empty(0, np.int64),
            np.empty(0, object), np.empty((0, width), np.uint32), np.empty(0, np.int32),
            np.empty(0, np.int16), np.empty(0, np.uint64), np.empty(0, np.uint64),
            np.empty(0, np.uint64), np.empty(0, np.uint64), np.empty(0, object), np.empty(0, np.int64),
        )

    @staticmethod
    def concat(batches: list[NodeBatch]) -> NodeBatch:
        batches = [b for b in batches if len(b)]
        if not batches:
            return NodeBatch.empty()
        if len(batches) == 1:
            return batches[0]
        width = max(b.sig.shape[1] for b in batches)
        sigs = [b.sig if b.sig.shape[1] == width else _pad(b.sig, width) for b in batches]
        cols = {c: np.concatenate([getattr(b, c) for b in batches]) for c in _COLUMNS if c != "sig"}
        return NodeBatch(sig=np.concatenate(sigs), **cols)

    def split(self, shards: int, by: str = "uid") -> list[tuple[int, NodeBatch]]:
        """(shard, sub-batch) for every non-empty shard of column ``by``."""
        if not len(self):
            return []
        sh = shard_of(getattr(self, by), shards)
        order = np.argsort(sh, kind="stable")
        sh_sorted = sh[order]
        cuts = np.nonzero(np.diff(sh_sorted))[0] + 1
        out = []
        for part in np.split(order, cuts):
            out.append((int(sh[part[0]]), self.take(part)))
        return out


def _pad(sig: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((sig.shape[0], width), dtype=np.uint32)
    out[:, : sig.shape[1]] = sig
    return out


def split_pairs(a: np.ndarray, b: np.ndarray, key: np.ndarray, shards: int) -> list[tuple[int, tuple[np.ndarray, np.ndarray]]]:
    """Split parallel columns (a, b) by the shard of ``key``."""
    if a.size == 0:
        return []
    sh = shard_of(key, shards)
    order = np.argsort(sh, kind="stable")
    cuts = np.nonzero(np.diff(sh[order]))[0] + 1
    return [(int(sh[p[0]]), (a[p], b[p])) for p in np.split(order, cuts)]


def signature_similarity(sa: np.ndarray, sb: np.ndarray, nperm: np.ndarray) -> np.ndarray:
    """Row-wise estimated Jaccard of signatures padded to a common width (first nperm values)."""
    if sa.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    eq = sa == sb
    cols = np.arange(sa.shape[1])[None, :] < nperm[:, None]
    return (eq & cols).sum(axis=1) / nperm


def lookup(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``queries`` in ``sorted_keys`` and a mask of which were found."""
    pos = np.searchsorted(sorted_keys, queries)
    pos_c = np.minimum(pos, max(sorted_keys.size - 1, 0))
    found = (pos < sorted_keys.size) & (sorted_keys[pos_c] == queries) if sorted_keys.size else np.zeros(queries.size, bool)
    return pos_c, found
