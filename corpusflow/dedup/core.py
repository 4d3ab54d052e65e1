"""Document-level dedup logic shared by the Beam stage, tests and benchmarks (no Beam).

* :class:`SignatureComputer` turns documents into a :class:`~corpusflow.dedup.tables.NodeBatch`
  (id hash, rank, weight, signature) and LSH band pairs ``(band_key, uid)``.
* :func:`decide_clusters` picks the kept member of each cluster (minimum rank, see
  :mod:`corpusflow.dedup.keep`) and returns one :class:`Verdict` per member.
* :func:`route` applies the exact and near-duplicate verdicts to one document.

Cluster size: the number of *input* documents a kept document stands for, exact copies
included. Every kept document carries ``meta["cluster_size"]`` (1 for a document with no
duplicate), so the column is uniform downstream. ``similarity`` of a dropped document is the
signature-estimated Jaccard to the kept document (1.0 for an exact copy of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.keep import RANK_WIDTH, rank_key
from corpusflow.dedup.minhash import MinHasher, band_keys
from corpusflow.dedup.shingle import WordHasher, shingle_hashes
from corpusflow.dedup.tables import NodeBatch, signature_similarity
from corpusflow.document import Document, Duplicate
from corpusflow.hashing import stable_hash64, text_digest

STAGE_EXACT = "dedup.exact"
STAGE_MINHASH = "dedup.minhash"
META_CLUSTER_SIZE = "cluster_size"


class Verdict(NamedTuple):
    """Outcome of one member of a near-duplicate cluster."""

    keeper: bool
    kept_id: str
    cluster_size: int
    similarity: float


class ExactGroup(NamedTuple):
    """An exact-duplicate group of >= 2 documents: the member kept and the group size."""

    keeper_uid: int
    keeper_id: str
    count: int


def doc_uid(doc_id: str, seed: int) -> int:
    """64-bit node id of a document (keyed xxh3 of its id)."""
    return stable_hash64("dedup.uid", doc_id, seed=seed)


def scope_of(doc: Document, cfg: DedupStageConfig) -> str:
    return doc.source if cfg.scope == "per_source" else ""


def exact_key(doc: Document, cfg: DedupStageConfig) -> tuple[str, bytes]:
    return scope_of(doc, cfg), text_digest(doc.text)


class SignatureComputer:
    """Signatures and band pairs for batches of documents (one instance per DoFn, built in setup)."""

    def __init__(self, cfg: DedupStageConfig, seed: int, source_priority: Mapping[str, int] | None = None) -> None:
        self.cfg = cfg
        self.seed = seed
        self.prio = dict(source_priority or {})
        self.names = sorted(cfg.profiles)
        self.hashers = {n: MinHasher(cfg.profiles[n].perms, seed) for n in self.names}
        self.width = max(cfg.profiles[n].perms for n in self.names)
        self.words = WordHasher()
        self.no_shingles = 0

    @property
    def fixups(self) -> int:
        return sum(h.fixups for h in self.hashers.values())

    def salt(self, profile: str, scope: str) -> int:
        p = self.cfg.profiles[profile]
        return stable_hash64("dedup.band", profile, p.shingle, p.n, p.bands, p.rows, scope, seed=self.seed)

    def signature(self, doc: Document) -> tuple[str, np.ndarray] | None:
        """(profile, signature) of one document, or None if it has no shingle."""
        name = self.cfg.profile_name(doc.lang)
        p = self.cfg.profiles[name]
        hashes = shingle_hashes(doc.text, p.shingle, p.n, self.words)
        if hashes.size == 0:
            self.no_shingles += 1
            return None
        return name, self.hashers[name].signature(hashes)

    def compute(self, docs: list[tuple[Document, int]]) -> tuple[NodeBatch, np.ndarray, np.ndarray]:
        """Node rows and band pairs ``(keys, uids)`` of ``(document, weight)`` pairs."""
        uids, ranks, weights, ids, nperms = [], [], [], [], []
        sigs = np.zeros((len(docs), self.width), dtype=np.uint32)
        groups: dict[tuple[str, str], list[int]] = {}
        for doc, weight in docs:
            res = self.signature(doc)
            if res is None:
                continue
            name, sig = res
            i = len(uids)
            sigs[i, : sig.shape[0]] = sig
            uids.append(doc_uid(doc.id, self.seed))
            ranks.append(rank_key(doc, self.cfg.keep, self.seed, self.prio))
            weights.append(weight)
            ids.append(doc.id)
            nperms.append(sig.shape[0])
            groups.setdefault((name, scope_of(doc, self.cfg)), []).append(i)
        n = len(uids)
        idarr = np.empty(n, dtype=object)
        idarr[:] = ids
        nodes = NodeBatch(
            np.array(uids, dtype=np.uint64), np.array(ranks, dtype=np.int64).reshape(n, RANK_WIDTH),
            np.array(weights, dtype=np.int64), idarr, sigs[:n], np.array(nperms, dtype=np.int32),
        )
        keys, members = [], []
        for (name, scope), rows in sorted(groups.items()):
            p = self.cfg.profiles[name]
            idx = np.array(rows)
            k = band_keys(nodes.sig[idx], p.bands, p.rows, self.salt(name, scope))
            keys.append(k.ravel())
            members.append(np.repeat(nodes.uid[idx], p.bands))
        if keys:
            return nodes, np.concatenate(keys), np.concatenate(members)
        return nodes, np.empty(0, np.uint64), np.empty(0, np.uint64)


def decide_clusters(nodes: NodeBatch, roots: np.ndarray) -> list[tuple[int, Verdict]]:
    """Verdicts of all members of the clusters in ``nodes`` (``roots[i]`` = cluster of row i).

    The kept member is the row with the smallest rank tuple (then the smallest uid); the cluster
    size is the sum of the members' weights (exact copies included).
    """
    if not len(nodes):
        return []
    cols = [nodes.uid] + [nodes.rank[:, j] for j in range(RANK_WIDTH - 1, -1, -1)] + [roots]
    order = np.lexsort(cols)
    r = roots[order]
    new = np.ones(r.size, dtype=bool)
    new[1:] = r[1:] != r[:-1]
    starts = np.nonzero(new)[0]
    lens = np.diff(np.append(starts, r.size))
    keeper = np.repeat(order[starts], lens)  # row index of each member's kept document
    sizes = np.add.reduceat(nodes.weight[order], starts)
    size_of = np.repeat(sizes, lens)
    sim = signature_similarity(nodes.sig[order], nodes.sig[keeper], nodes.nperm[order])
    out = []
    for j, row in enumerate(order):
        k = keeper[j]
        out.append((int(nodes.uid[row]), Verdict(bool(row == k), str(nodes.ids[k]), int(size_of[j]), round(float(sim[j]), 4))))
    return out


def route(
    doc: Document,
    uid: int,
    exact: ExactGroup | None,
    near: Verdict | None,
) -> Document | Duplicate:
    """The kept document (with ``meta.cluster_size``) or the :class:`Duplicate` record of ``doc``.

    ``exact`` is the exact group of the document's text (None if its text is unique), ``near`` is
    the near-duplicate verdict of the document that represents it (its exact keeper, or itself).
    """
    if exact is not None and exact.keeper_uid != uid:
        # An exact copy: dropped in favour of the document that finally represents its text.
        if near is not None and not near.keeper:
            return Duplicate(doc, STAGE_EXACT, near.kept_id, near.cluster_size, near.similarity)
        size = near.cluster_size if near is not None else exact.count
        return Duplicate(doc, STAGE_EXACT, exact.keeper_id, size, 1.0)
    if near is not None and not near.keeper:
        return Duplicate(doc, STAGE_MINHASH, near.kept_id, near.cluster_size, near.similarity)
    size = near.cluster_size if near is not None else (exact.count if exact is not None else 1)
    meta = dict(doc.meta or {})
    meta[META_CLUSTER_SIZE] = size
    return doc.replace(meta=meta)
