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

from corpusflow.core.document import Document, Duplicate
from corpusflow.core.hashing import stable_hash64, text_digest
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.keep import RANK_WIDTH, centrality, context_columns, first_seen_rank, rank_key
from corpusflow.dedup.minhash import MinHasher, band_keys
from corpusflow.dedup.shingle import WordHasher, ngram_hashes, shingle_hashes
from corpusflow.dedup.tables import NodeBatch, signature_similarity

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
    size: int


def doc_uid(doc_id: str, seed: int) -> int:
    """64-bit node id of a document (keyed xxh3 of its id)."""
    return stable_hash64("dedup.uid", doc_id, seed=seed)


def scope_of(doc: Document, cfg: DedupStageConfig) -> str:
    return doc.source if cfg.scope == "per_source" else ""


def scope_hash(scope: str) -> int:
    return stable_hash64("dedup.scope", scope)


def exact_key(doc: Document, cfg: DedupStageConfig) -> tuple[int, int, int]:
    """(scope hash, digest high, digest low): documents with equal keys are exact copies."""
    d = text_digest(doc.text)
    return scope_hash(scope_of(doc, cfg)), int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")


class SignatureComputer:
    """Node rows (id hash, rank, digest, signature) for batches of documents, no Beam.

    One instance per DoFn (built in ``setup()``). Signatures of texts already seen by this
    instance are reused from a bounded cache keyed by (digest, profile), so exact copies that
    meet on one worker cost one signature.
    """

    def __init__(
        self,
        cfg: DedupStageConfig,
        seed: int,
        source_priority: Mapping[str, int] | None = None,
        cache_size: int = 50_000,
    ) -> None:
        self.cfg = cfg
        self.seed = seed
        self.prio = dict(source_priority or {})
        self.names = sorted(cfg.profiles)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.hashers = {n: MinHasher(cfg.profiles[n].perms, seed) for n in self.names}
        self.words = WordHasher()
        ngram_hashes(np.zeros(1, dtype=np.uint64), 1, 0)  # compile (or load) the n-gram kernel now, in setup()
        self.no_shingles = 0
        self.cache_hits = 0
        self._cache: dict[tuple[int, int, str], np.ndarray | None] = {}
        self._cache_size = cache_size
        self._salts: dict[tuple[str, str], int] = {}

    @property
    def fixups(self) -> int:
        return sum(h.fixups for h in self.hashers.values())

    def salt(self, profile: str, scope: str) -> int:
        key = (profile, scope)
        if key not in self._salts:
            p = self.cfg.profiles[profile]
            self._salts[key] = stable_hash64("dedup.band", profile, p.shingle, p.n, p.bands, p.rows, scope, seed=self.seed)
        return self._salts[key]

    def signature(self, doc: Document) -> tuple[str, np.ndarray | None]:
        """(profile, signature) of one document; the signature is None if it has no shingle."""
        name = self.cfg.profile_name(doc.lang)
        if not self.cfg.minhash:
            return name, None
        p = self.cfg.profiles[name]
        hashes = shingle_hashes(doc.text, p.shingle, p.n, self.words)
        if hashes.size == 0:
            return name, None
        return name, self.hashers[name].signature(hashes)

    def compute(self, docs: list[Document]) -> NodeBatch:
        """One node row per document (weight 1).

        The signature matrix is as wide as the widest signature in the batch (0 columns when no
        document has a shingle), so a batch of tiny documents carries no signature bytes.
        """
        n = len(docs)
        found: list[tuple[int, np.ndarray]] = []
        cols: dict[str, list] = {k: [] for k in ("uid", "rank", "nperm", "prof", "salt", "scope", "dhi", "dlo")}
        for i, doc in enumerate(docs):
            sc, dhi, dlo = exact_key(doc, self.cfg)
            name = self.cfg.profile_name(doc.lang)
            ck = (dhi, dlo, name)
            if ck in self._cache:
                sig = self._cache[ck]
                self.cache_hits += 1
            else:
                name, sig = self.signature(doc)
                if self._cache_size > 0:
                    if len(self._cache) >= self._cache_size:
                        self._cache.clear()
                    self._cache[ck] = sig
            if sig is None:
                self.no_shingles += self.cfg.minhash
                cols["nperm"].append(0)
            else:
                found.append((i, sig))
                cols["nperm"].append(sig.shape[0])
            scope = scope_of(doc, self.cfg)
            cols["uid"].append(doc_uid(doc.id, self.seed))
            cols["rank"].append(rank_key(doc, self.cfg.keep, self.seed, self.prio))
            cols["prof"].append(self.index[name])
            cols["salt"].append(self.salt(name, scope))
            cols["scope"].append(sc)
            cols["dhi"].append(dhi)
            cols["dlo"].append(dlo)
        sigs = np.zeros((n, max((sig.shape[0] for _, sig in found), default=0)), dtype=np.uint32)
        for i, sig in found:
            sigs[i, : sig.shape[0]] = sig
        ids = np.empty(n, dtype=object)
        ids[:] = [d.id for d in docs]
        files = np.empty(n, dtype=object)
        files[:] = [d.file or "" for d in docs]
        u64 = lambda k: np.array(cols[k], dtype=np.uint64)  # noqa: E731
        return NodeBatch(
            uid=u64("uid"), rank=np.array(cols["rank"], dtype=np.int64).reshape(n, RANK_WIDTH),
            weight=np.ones(n, dtype=np.int64), ids=ids, sig=sigs, nperm=np.array(cols["nperm"], dtype=np.int32),
            prof=np.array(cols["prof"], dtype=np.int16), salt=u64("salt"), scope=u64("scope"),
            dhi=u64("dhi"), dlo=u64("dlo"), file=files, line=np.array([d.line for d in docs], dtype=np.int64),
        )


def _filled_rank(rows: NodeBatch, order: list[str], roots: np.ndarray | None) -> np.ndarray:
    """Rank columns with the context criteria filled in (first_seen always; central if roots)."""
    rank = rows.rank.copy()
    cols = context_columns(order)
    if "first_seen" in cols:
        rank[:, cols["first_seen"]] = first_seen_rank(rows.file, rows.line)
    if "central" in cols and roots is not None:
        rank[:, cols["central"]] = -centrality(rows.sig, rows.nperm, rows.weight, roots)
    return rank


def _exact_runs(rows: NodeBatch, order: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """(perm, starts): rows sorted by (scope, digest, rank, uid); the first row of each text."""
    rank = _filled_rank(rows, order or [], None)
    cols = [rows.uid] + [rank[:, j] for j in range(RANK_WIDTH - 1, -1, -1)] + [rows.dlo, rows.dhi, rows.scope]
    perm = np.lexsort(cols)
    s, h, lo = rows.scope[perm], rows.dhi[perm], rows.dlo[perm]
    new = np.ones(perm.size, dtype=bool)
    new[1:] = (s[1:] != s[:-1]) | (h[1:] != h[:-1]) | (lo[1:] != lo[:-1])
    return perm, np.nonzero(new)[0]


def collapse_exact(rows: NodeBatch, order: list[str] | None = None) -> NodeBatch:
    """Pre-combine exact copies: one row per text, weight = the weights of its copies summed.

    The row kept is the one :func:`resolve_exact` would pick among them (smallest rank, then
    uid), and that choice is associative: collapsing parts first and resolving the collapsed
    rows gives the same representatives and group sizes as resolving all rows at once. Used
    before the shuffle so that N copies of a text cost one row, not N.
    """
    if len(rows) < 2:
        return rows
    perm, starts = _exact_runs(rows, order)
    if starts.size == perm.size:
        return rows
    reps = rows.take(perm[starts])
    reps.weight = np.add.reduceat(rows.weight[perm], starts).astype(np.int64)
    return reps


def resolve_exact(
    rows: NodeBatch, enabled: bool = True, order: list[str] | None = None
) -> tuple[NodeBatch, list[tuple[tuple[int, int, int], ExactGroup]]]:
    """Collapse exact copies: the representative rows (weight = group size) and the groups >= 2.

    The representative of a group is its row with the smallest (rank, uid), ``order`` being the
    keep rule (``central`` does not apply: the copies are identical). Rows may already stand
    for several copies (:func:`collapse_exact`): a group's size is the sum of its weights.
    """
    if not len(rows) or not enabled:
        return rows, []
    perm, starts = _exact_runs(rows, order)
    sizes = np.add.reduceat(rows.weight[perm], starts).astype(np.int64)
    reps = rows.take(perm[starts])
    reps.weight = sizes
    groups = [
        ((int(reps.scope[i]), int(reps.dhi[i]), int(reps.dlo[i])), ExactGroup(int(reps.uid[i]), str(reps.ids[i]), int(c)))
        for i, c in enumerate(sizes)
        if c >= 2
    ]
    return reps, groups


def exact_members(
    rows: NodeBatch, groups: list[tuple[tuple[int, int, int], ExactGroup]]
) -> list[tuple[tuple[int, int, int], ExactGroup, list[int]]]:
    """(key, group, member id hashes) of every exact group of ``rows`` (:func:`resolve_exact`'s
    ``groups`` of the same rows); members sorted, the keeper among them."""
    if not groups:
        return []
    members: dict[tuple[int, int, int], list[int]] = {key: [] for key, _ in groups}
    for s, h, lo, u in zip(rows.scope.tolist(), rows.dhi.tolist(), rows.dlo.tolist(), rows.uid.tolist(), strict=True):
        found = members.get((s, h, lo))
        if found is not None:
            found.append(u)
    return [(key, g, sorted(members[key])) for key, g in groups]


def band_pairs(rows: NodeBatch, cfg: DedupStageConfig) -> tuple[np.ndarray, np.ndarray]:
    """LSH band pairs ``(band_key, uid)`` of rows that have a signature."""
    names = sorted(cfg.profiles)
    keys, members = [], []
    has = rows.nperm > 0
    for pi, name in enumerate(names):
        p = cfg.profiles[name]
        sel = has & (rows.prof == pi)
        if not sel.any():
            continue
        for salt in np.unique(rows.salt[sel]):
            idx = np.nonzero(sel & (rows.salt == salt))[0]
            keys.append(band_keys(rows.sig[idx], p.bands, p.rows, int(salt)).ravel())
            members.append(np.repeat(rows.uid[idx], p.bands))
    if not keys:
        return np.empty(0, np.uint64), np.empty(0, np.uint64)
    return np.concatenate(keys), np.concatenate(members)


def decide_clusters(nodes: NodeBatch, roots: np.ndarray, order: list[str] | None = None) -> list[tuple[int, Verdict]]:
    """Verdicts of all members of the clusters in ``nodes`` (``roots[i]`` = cluster of row i).

    The kept member is the row with the smallest rank tuple (then the smallest uid) under the
    keep rule ``order``; the cluster size is the sum of the members' weights (exact copies
    included).
    """
    if not len(nodes):
        return []
    rank = _filled_rank(nodes, order or [], roots)
    cols = [nodes.uid] + [rank[:, j] for j in range(RANK_WIDTH - 1, -1, -1)] + [roots]
    perm = np.lexsort(cols)
    r = roots[perm]
    new = np.ones(r.size, dtype=bool)
    new[1:] = r[1:] != r[:-1]
    starts = np.nonzero(new)[0]
    lens = np.diff(np.append(starts, r.size))
    keeper = np.repeat(perm[starts], lens)  # row index of each member's kept document
    sizes = np.add.reduceat(nodes.weight[perm], starts)
    size_of = np.repeat(sizes, lens)
    sim = signature_similarity(nodes.sig[perm], nodes.sig[keeper], nodes.nperm[perm])
    out = []
    for j, row in enumerate(perm):
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
        size = near.cluster_size if near is not None else exact.size
        return Duplicate(doc, STAGE_EXACT, exact.keeper_id, size, 1.0)
    if near is not None and not near.keeper:
        return Duplicate(doc, STAGE_MINHASH, near.kept_id, near.cluster_size, near.similarity)
    size = near.cluster_size if near is not None else (exact.size if exact is not None else 1)
    meta = dict(doc.meta or {})
    meta[META_CLUSTER_SIZE] = size
    return doc.replace(meta=meta)


class Fate(NamedTuple):
    """What the join routing delivers to a document id hash (``routing: join``).

    ``key`` and ``exact`` are set for a member of an exact group (``near`` is then the verdict of
    the group's keeper, if it is in a near-duplicate cluster); ``key`` None carries the near
    verdict of the id hash itself.
    """

    key: tuple[int, int, int] | None
    exact: ExactGroup | None
    near: Verdict | None


def fates_of(
    rep: int, groups: list[tuple[tuple[int, int, int], ExactGroup, list[int]]], verdicts: list[Verdict]
) -> list[tuple[int, Fate]]:
    """(id hash, Fate) for everything joined under the representative id hash ``rep``: the
    members of the exact groups it keeps (:func:`exact_members`) and its own near verdict."""
    near = verdicts[0] if verdicts else None
    out = [(m, Fate(key, g, near)) for key, g, members in groups for m in members]
    if near is not None:
        out.append((rep, Fate(None, None, near)))
    return out


def route_joined(doc: Document, uid: int, fates: list[Fate], cfg: DedupStageConfig) -> Document | Duplicate:
    """:func:`route` from the Fates joined with the document's id hash: the same outcome as
    looking its exact group (by text) and its representative's verdict up in full tables."""
    if not fates:
        return route(doc, uid, None, None)
    groups = [f for f in fates if f.key is not None]
    if groups:
        key = exact_key(doc, cfg)
        for f in groups:
            if f.key == key:
                return route(doc, uid, f.exact, f.near)
    own = next((f.near for f in fates if f.key is None), None)
    return route(doc, uid, None, own)

