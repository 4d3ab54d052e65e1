"""Deduplicate: exact + MinHash-LSH near-duplicate removal as Beam steps.

Graph (``routing: side_input``, the local runner's choice under ``auto``: documents are never
shuffled)::

    docs --BatchElements--Signatures--> node rows (id hash, rank, text digest, signature)
         by shard(digest)  [a worker computes the signature of a repeated text only once]
    --GroupByKey(shard)--Exact--> exact groups (>= 2 copies; side input of Route)
                               -> representative rows (weight = copies) by shard(id hash)
                               -> band pairs (band_key, id hash) by shard(band_key)
    band pairs --GroupByKey(shard)--> sort, star edges member -> bucket minimum
    [--verify: two CoGroupByKeys with node rows, drop edges with estimated J < threshold]
    edges --union-find CombineFn (or large/small-star rounds)--> (node, component minimum)
    labels + node rows --CoGroupByKey(shard)--> rows by shard(root) --GroupByKey-->
         keep rule -> Verdict per member
    docs --Route[exact groups, verdicts as side inputs]--> kept | Duplicate

``routing: join`` (``auto`` on every other runner) replaces the last line by two joins, so no
worker holds a table that grows with the corpus::

    exact groups with their members' id hashes + verdicts --CoGroupByKey(keeper id hash)-->
         Fate per member id hash
    docs by id hash + Fates --CoGroupByKey(id hash)--> kept | Duplicate

Exact copies are collapsed before banding, so band pairs, edges, clustering and the keep
decision only ever see one row per distinct text. Only band pairs (16 B each), compact node
rows and edges are shuffled, always as numpy column batches per shard (a few thousand Beam
elements in all, whatever the corpus size). Everything that decides an outcome is sorted, so the
result is the same on any runner, bundle size or worker count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from corpusflow.core.document import Document, Duplicate
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.core import (
    META_CLUSTER_SIZE,
    ExactGroup,
    SignatureComputer,
    Verdict,
    band_pairs,
    collapse_exact,
    decide_clusters,
    doc_uid,
    exact_key,
    exact_members,
    fates_of,
    resolve_exact,
    route,
    route_joined,
)
from corpusflow.dedup.graph import (
    EMPTY,
    bucket_edges,
    connected_components,
    large_star,
    small_star,
    star_edges,
    star_violations,
    unique_edges,
)
from corpusflow.dedup.index import (
    INDEX_SCHEMA,
    STAGE_EARLIER,
    EarlierIndex,
    check_settings,
    index_rows,
    read_meta,
    settings_of,
)
from corpusflow.dedup.index import PREFIX as INDEX_PREFIX
from corpusflow.dedup.tables import NodeBatch, lookup, shard_of, signature_similarity, split_pairs
from corpusflow.run.checkpoints import read_docs, read_docs_with_tokens
from corpusflow.stages.base import TAG_DUPLICATES, StageCounters, StageOutputs
from corpusflow.stages.handoff import Handoff
from corpusflow.stages.spill import LOCAL_RUNNERS
from corpusflow.stages.write import ShardsWritten, WriteShards

NS = "dedup"
#: ``(kept document, its token count) -> element``: what the routing emits for a kept document
#: when the checkpoint files hold token counts (:meth:`Deduplicate.with_signatures`).
KeptAs = Callable[[Document, int], Any]
TAG_BANDS = "bands"
TAG_EXACT = "exact"
TAG_MEMBERS = "members"


# ---------------------------------------------------------------------------------------------
# Node rows, exact duplicates, band pairs
# ---------------------------------------------------------------------------------------------


class _SignatureFn(beam.DoFn):
    """Batches of documents -> node rows (digest, rank, signature), sharded by text digest.

    With exact dedup on, the rows of a bundle are held (up to ``BUFFER_ROWS`` distinct texts)
    and exact copies among them are pre-combined into one row of weight = copies
    (:func:`~corpusflow.dedup.core.collapse_exact`) before the shuffle: a corpus of many copies
    of few texts then shuffles one row per text and bundle, not one per document. The result
    is the same as without pre-combining (the choice of the row kept is associative).
    Join routing needs every member's id hash in its exact group (``collapse=False``): there
    the rows are not pre-combined.
    """

    BUFFER_ROWS = 20_000

    def __init__(self, cfg: DedupStageConfig, seed: int, prio: Mapping[str, int], collapse: bool = True) -> None:
        self.cfg, self.seed, self.prio, self.collapse = cfg, seed, dict(prio), collapse

    def setup(self) -> None:
        self.comp = SignatureComputer(self.cfg, self.seed, self.prio)
        self.counters = StageCounters(NS)
        self._seen = {"no_shingles": 0, "minhash_fixups": 0, "signature_cache_hits": 0}
        self._order = list(self.cfg.keep.order)

    def start_bundle(self) -> None:
        self._held: list[NodeBatch] = []
        self._held_rows = 0

    def process(self, batch: list[Document]) -> Iterable[Any]:
        rows = self.comp.compute(batch)
        self.counters.received(len(rows))
        for name, now in (("no_shingles", self.comp.no_shingles), ("minhash_fixups", self.comp.fixups),
                          ("signature_cache_hits", self.comp.cache_hits)):
            if now != self._seen[name]:
                self.counters.info(name, now - self._seen[name])
                self._seen[name] = now
        if not (self.cfg.exact and self.collapse):
            yield from rows.split(self.cfg.shards, by="dlo")
            return
        rows = collapse_exact(rows, self._order)
        self._held.append(rows)
        self._held_rows += len(rows)
        if self._held_rows >= self.BUFFER_ROWS:
            yield from self._flush()

    def _flush(self) -> list[tuple[int, NodeBatch]]:
        rows = collapse_exact(NodeBatch.concat(self._held), self._order) if self._held else NodeBatch.empty()
        self._held, self._held_rows = [], 0
        return rows.split(self.cfg.shards, by="dlo")

    def finish_bundle(self) -> Iterable[WindowedValue]:
        for part in self._flush():  # outputs of finish_bundle need an explicit window
            yield WindowedValue(part, MIN_TIMESTAMP, [GlobalWindow()])


class _ExactFn(beam.DoFn):
    """Per digest shard: collapse exact copies; emit exact groups, representative rows, band pairs."""

    def __init__(self, cfg: DedupStageConfig, members: bool = False) -> None:
        self.cfg, self.members = cfg, members

    def process(self, kv: tuple[int, Iterable[NodeBatch]]) -> Iterable[Any]:
        rows = NodeBatch.concat(list(kv[1]))
        reps, groups = resolve_exact(rows, self.cfg.exact, self.cfg.keep.order)
        Metrics.counter(NS, "info.exact_groups").inc(len(groups))
        Metrics.counter(NS, "info.exact_copies").inc(int(rows.weight.sum()) - len(reps))
        if self.members:  # join routing: each group with its members' id hashes, keyed by its keeper
            for key, g, members in exact_members(rows, groups):
                yield pvalue.TaggedOutput(TAG_MEMBERS, (g.keeper_uid, (key, g, members)))
        else:
            for g in groups:
                yield pvalue.TaggedOutput(TAG_EXACT, g)
        if not self.cfg.minhash:
            return
        reps = reps.take(np.nonzero(reps.nperm > 0)[0])
        yield from reps.split(self.cfg.shards, by="uid")
        keys, uids = band_pairs(reps, self.cfg)
        for shard, pair in split_pairs(keys, uids, keys, self.cfg.shards):
            yield pvalue.TaggedOutput(TAG_BANDS, (shard, pair))


class _BucketEdgesFn(beam.DoFn):
    def process(self, kv: tuple[int, Iterable[tuple[np.ndarray, np.ndarray]]]) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        _, parts = kv
        parts = list(parts)
        keys = np.concatenate([p[0] for p in parts])
        uids = np.concatenate([p[1] for p in parts])
        child, parent, sizes = bucket_edges(keys, uids)
        Metrics.counter(NS, "info.band_pairs").inc(int(keys.size))
        Metrics.counter(NS, "info.candidate_buckets").inc(int(sizes.size))
        if sizes.size:
            Metrics.distribution(NS, "max_bucket_size").update(int(sizes.max()))
        if child.size:
            Metrics.counter(NS, "info.candidate_edges").inc(int(child.size))
            yield child, parent


# ---------------------------------------------------------------------------------------------
# Verification: drop candidate edges whose estimated Jaccard is below the threshold
# ---------------------------------------------------------------------------------------------


def _keyed_edges(edges: tuple[np.ndarray, np.ndarray], shards: int, by: int) -> Iterable[Any]:
    a, b = edges
    yield from split_pairs(a, b, edges[by], shards)


class _AttachChildSigFn(beam.DoFn):
    """Hop 1: attach the child's signature to each edge, re-key by the parent's shard."""

    def __init__(self, shards: int) -> None:
        self.shards = shards

    def process(self, kv: tuple[int, dict[str, list[Any]]]) -> Iterable[Any]:
        _, g = kv
        if not g["edges"]:
            return
        nodes = NodeBatch.concat(list(g["nodes"]))
        order = np.argsort(nodes.uid, kind="stable")
        su = nodes.uid[order]
        child, parent = unique_edges(np.concatenate([e[0] for e in g["edges"]]),
                                     np.concatenate([e[1] for e in g["edges"]]))
        pos, found = lookup(su, child)
        if not found.all():
            raise RuntimeError("dedup verify: edge endpoint without a node row (internal error)")
        rows = order[pos]
        sig, nperm = nodes.sig[rows], nodes.nperm[rows]
        sh = shard_of(parent, self.shards)
        for s in np.unique(sh):
            m = sh == s
            yield int(s), (child[m], parent[m], sig[m], nperm[m])


class _VerifyFn(beam.DoFn):
    """Hop 2: compare with the parent's signature; keep edges with estimated J >= threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def process(self, kv: tuple[int, dict[str, list[Any]]]) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        _, g = kv
        if not g["edges"]:
            return
        nodes = NodeBatch.concat(list(g["nodes"]))
        order = np.argsort(nodes.uid, kind="stable")
        su = nodes.uid[order]
        child = np.concatenate([e[0] for e in g["edges"]])
        parent = np.concatenate([e[1] for e in g["edges"]])
        csig = np.concatenate([_pad_to(e[2], nodes.sig.shape[1]) for e in g["edges"]])
        nperm = np.concatenate([e[3] for e in g["edges"]])
        pos, found = lookup(su, parent)
        if not found.all():
            raise RuntimeError("dedup verify: edge endpoint without a node row (internal error)")
        psig = nodes.sig[order[pos]]
        width = max(csig.shape[1], psig.shape[1])
        sim = signature_similarity(_pad_to(csig, width), _pad_to(psig, width), nperm)
        ok = sim >= self.threshold
        Metrics.counter(NS, "info.verified_edges").inc(int(ok.sum()))
        Metrics.counter(NS, "info.rejected_edges").inc(int((~ok).sum()))
        if ok.any():
            yield child[ok], parent[ok]


def _pad_to(sig: np.ndarray, width: int) -> np.ndarray:
    if sig.shape[1] >= width:
        return sig
    out = np.zeros((sig.shape[0], width), dtype=np.uint32)
    out[:, : sig.shape[1]] = sig
    return out


# ---------------------------------------------------------------------------------------------
# Connected components
# ---------------------------------------------------------------------------------------------


class UnionFindCombine(beam.CombineFn):
    """Exact connected components of edge batches, in memory bounded by the duplicate nodes.

    The accumulator is a list of edge arrays; once it holds more than ``compact_at`` edges it is
    replaced by the star edges (node, component minimum) of its components, so it never holds
    more than ~max(compact_at, duplicate nodes) pairs. Merging is concatenation (associative and
    commutative), so Beam may pre-combine on many workers.
    """

    def __init__(self, compact_at: int = 2_000_000) -> None:
        self.compact_at = compact_at

    def create_accumulator(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return []

    def _maybe_compact(self, acc: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        if sum(int(a.size) for a, _ in acc) <= self.compact_at:
            return acc
        return [self._compact(acc)]

    @staticmethod
    def _compact(acc: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        if not acc:
            return EMPTY, EMPTY
        u = np.concatenate([a for a, _ in acc])
        v = np.concatenate([b for _, b in acc])
        return star_edges(*connected_components(u, v))

    def add_input(self, acc: list[tuple[np.ndarray, np.ndarray]], edges: tuple[np.ndarray, np.ndarray]) -> Any:
        acc.append(edges)
        return self._maybe_compact(acc)

    def merge_accumulators(self, accs: Iterable[list[tuple[np.ndarray, np.ndarray]]]) -> Any:
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for a in accs:
            out.extend(a)
        return self._maybe_compact(out)

    def compact(self, acc: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self._compact(acc)] if len(acc) > 1 else acc

    def extract_output(self, acc: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """(nodes, roots): every node of a non-trivial component and its component minimum."""
        if not acc:
            return EMPTY, EMPTY
        u = np.concatenate([a for a, _ in acc])
        v = np.concatenate([b for _, b in acc])
        return connected_components(u, v)


def _split_labels(labels: tuple[np.ndarray, np.ndarray], shards: int) -> Iterable[Any]:
    nodes, roots = labels
    Metrics.counter(NS, "info.cluster_nodes").inc(int(nodes.size))
    Metrics.counter(NS, "info.clusters").inc(int((nodes == roots).sum()))
    yield from split_pairs(nodes, roots, nodes, shards)


def _both_directions(edges: tuple[np.ndarray, np.ndarray], shards: int) -> Iterable[Any]:
    a, b = edges
    yield from split_pairs(np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([a, b]), shards)


def _by_hi(edges: tuple[np.ndarray, np.ndarray], shards: int) -> Iterable[Any]:
    a, b = edges
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    yield from split_pairs(hi, lo, hi, shards)


def _concat_pairs(kv: tuple[int, Iterable[tuple[np.ndarray, np.ndarray]]]) -> tuple[np.ndarray, np.ndarray]:
    parts = list(kv[1])
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _large_star(kv: Any) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    hi, lo = large_star(*_concat_pairs(kv))
    if hi.size:
        yield hi, lo


def _small_star(kv: Any) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    hi, lo = small_star(*_concat_pairs(kv))
    if hi.size:
        yield hi, lo


def _roles(edges: tuple[np.ndarray, np.ndarray], shards: int) -> Iterable[Any]:
    hi, lo = edges
    for s, (c, p) in split_pairs(hi, lo, hi, shards):
        yield s, ("child", c, p)
    for s, (p, _) in split_pairs(lo, lo, lo, shards):
        yield s, ("parent", p, p)


class _StarLabelsFn(beam.DoFn):
    """After the last round: check that the edges form stars, emit (nodes, roots) per shard."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds

    def process(self, kv: tuple[int, Iterable[Any]]) -> Iterable[Any]:
        shard, items = kv
        items = list(items)
        ch = [x for x in items if x[0] == "child"]
        pa = [x for x in items if x[0] == "parent"]
        c = np.concatenate([x[1] for x in ch]) if ch else EMPTY
        cp = np.concatenate([x[2] for x in ch]) if ch else EMPTY
        p = np.unique(np.concatenate([x[1] for x in pa])) if pa else EMPTY
        bad = star_violations(c, p)
        if bad:
            raise RuntimeError(
                f"dedup clustering: large/small-star did not converge in {self.rounds} rounds "
                f"({bad} nodes are not yet in a star); raise stages.dedup.star_rounds"
            )
        nodes = np.concatenate([c, p])
        roots = np.concatenate([cp, p])
        order = np.argsort(nodes, kind="stable")
        yield shard, (nodes[order], roots[order])


class _Components(beam.PTransform):
    """Edge batches -> label batches (shard, (nodes, component minima))."""

    def __init__(self, cfg: DedupStageConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        shards = self.cfg.shards
        if self.cfg.clustering == "union_find":
            return (
                edges
                | "UnionFind" >> beam.CombineGlobally(UnionFindCombine())
                | "SplitLabels" >> beam.FlatMap(_split_labels, shards)
            )
        cur = edges
        for r in range(self.cfg.star_rounds):
            cur = (
                cur
                | f"LargeKey{r}" >> beam.FlatMap(_both_directions, shards)
                | f"LargeGroup{r}" >> beam.GroupByKey()
                | f"LargeStar{r}" >> beam.FlatMap(_large_star)
                | f"SmallKey{r}" >> beam.FlatMap(_by_hi, shards)
                | f"SmallGroup{r}" >> beam.GroupByKey()
                | f"SmallStar{r}" >> beam.FlatMap(_small_star)
            )
        labels = (
            cur
            | "Roles" >> beam.FlatMap(_roles, shards)
            | "RolesGroup" >> beam.GroupByKey()
            | "StarLabels" >> beam.ParDo(_StarLabelsFn(self.cfg.star_rounds))
        )

        def count(kv: Any) -> Any:
            nodes, roots = kv[1]
            Metrics.counter(NS, "info.cluster_nodes").inc(int(nodes.size))
            Metrics.counter(NS, "info.clusters").inc(int((nodes == roots).sum()))
            return kv

        return labels | "CountLabels" >> beam.Map(count)


# ---------------------------------------------------------------------------------------------
# Keep decision
# ---------------------------------------------------------------------------------------------


class _JoinLabelsFn(beam.DoFn):
    """Node rows of clustered nodes, re-keyed by the shard of their cluster root."""

    def __init__(self, shards: int) -> None:
        self.shards = shards

    def process(self, kv: tuple[int, dict[str, list[Any]]]) -> Iterable[Any]:
        _, g = kv
        if not g["labels"]:
            return
        nodes_l = np.concatenate([x[0] for x in g["labels"]])
        roots_l = np.concatenate([x[1] for x in g["labels"]])
        table = NodeBatch.concat(list(g["nodes"]))
        order = np.argsort(table.uid, kind="stable")
        su = table.uid[order]
        pos, found = lookup(su, nodes_l)
        if not found.all():
            raise RuntimeError("dedup: clustered node without a node row (internal error)")
        # Two rows with the same 64-bit id hash inside a cluster (repeated input ids, or a hash
        # collision): refuse to guess which document a verdict belongs to.
        nxt = np.minimum(pos + 1, su.size - 1)
        if ((nxt != pos) & (su[nxt] == su[pos])).any():
            raise RuntimeError(
                "dedup: two documents with the same 64-bit id hash are in a duplicate cluster "
                "(repeated input ids, or a hash collision: re-run with another stages.dedup.seed)"
            )
        rows = table.take(order[pos])
        yield from _split_rows(rows, roots_l, self.shards)


def _split_rows(rows: NodeBatch, roots: np.ndarray, shards: int) -> Iterable[Any]:
    sh = shard_of(roots, shards)
    for s in np.unique(sh):
        m = np.nonzero(sh == s)[0]
        yield int(s), (rows.take(m), roots[m])


def _decide(kv: tuple[int, Iterable[Any]], order: list[str]) -> Iterable[tuple[int, Verdict]]:
    parts = list(kv[1])
    rows = NodeBatch.concat([p[0] for p in parts])
    roots = np.concatenate([p[1] for p in parts])
    verdicts = decide_clusters(rows, roots, order)
    Metrics.counter(NS, "info.near_dropped").inc(sum(1 for _, v in verdicts if not v.keeper))
    yield from verdicts


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------


class _ReadDocsFn(beam.DoFn):
    """Path of a checkpoint file of Documents -> its Documents, or ``(Document, n_tokens)`` with
    ``with_tokens`` (``barriers`` are unused: they make this step wait, in the routing's stage,
    for the verdicts)."""

    def __init__(self, with_tokens: bool = False) -> None:
        self._with_tokens = with_tokens

    def process(self, path: str, *barriers: Any) -> Iterable[Any]:
        yield from read_docs_with_tokens(path) if self._with_tokens else read_docs(path)


class _RouteFn(beam.DoFn):
    """Side-input routing: kept documents (main) and Duplicate records (TAG_DUPLICATES)."""

    def __init__(self, cfg: DedupStageConfig, seed: int, kept_as: KeptAs | None = None) -> None:
        self.cfg, self.seed, self.kept_as = cfg, seed, kept_as

    def setup(self) -> None:
        self.counters = StageCounters(NS)

    def process(self, item: Any, exact: Mapping[Any, ExactGroup], near: Mapping[int, Verdict]) -> Iterable[Any]:
        doc, n = item if self.kept_as is not None else (item, 0)
        uid = doc_uid(doc.id, self.seed)
        g = exact.get(exact_key(doc, self.cfg)) if exact else None
        rep = g.keeper_uid if g is not None else uid
        out = route(doc, uid, g, near.get(rep) if near else None)
        if self.kept_as is not None and out.__class__ is Document:
            out = self.kept_as(out, n)
        yield from _emit(out, self.counters)


def _emit(out: Document | Duplicate, counters: StageCounters) -> Iterable[Any]:
    if isinstance(out, Duplicate):
        counters.duplicate(out.stage.replace("dedup.", ""))
        yield pvalue.TaggedOutput(TAG_DUPLICATES, out)
    else:
        counters.kept()
        yield out


class _JoinRouteFn(beam.DoFn):
    """Join routing: the documents of one id hash co-grouped with the Fates of that id hash."""

    def __init__(self, cfg: DedupStageConfig, seed: int) -> None:
        self.cfg, self.seed = cfg, seed

    def setup(self) -> None:
        self.counters = StageCounters(NS)

    def process(self, kv: tuple[int, dict[str, list[Any]]]) -> Iterable[Any]:
        uid, g = kv
        fates = list(g["fate"])
        for doc in sorted(g["docs"], key=lambda d: d.id):
            yield from _emit(route_joined(doc, uid, fates, self.cfg), self.counters)


def _fates(kv: tuple[int, dict[str, list[Any]]]) -> Iterable[Any]:
    rep, g = kv
    return fates_of(rep, list(g["groups"]), list(g["verdict"]))


def _key_by_uid(doc: Document, seed: int) -> tuple[int, Document]:
    return doc_uid(doc.id, seed), doc


def routing_of(cfg: DedupStageConfig, pipeline: beam.Pipeline) -> str:
    """``stages.dedup.routing`` resolved for this pipeline: ``auto`` is ``side_input`` on the local
    runner (:data:`LOCAL_RUNNERS`) and ``join`` on any other, whose workers must not each hold a
    table that grows with the corpus."""
    if cfg.routing != "auto":
        return cfg.routing
    return "side_input" if type(pipeline.runner).__name__ in LOCAL_RUNNERS else "join"


# ---------------------------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Earlier runs: check against their saved indexes first; save this run's index
# ---------------------------------------------------------------------------------------------


class _EarlierFn(beam.DoFn):
    """Batches of documents -> Duplicates (stage dedup.earlier) of earlier runs' kept documents;
    the others go on (main output) to be deduplicated among themselves."""

    def __init__(self, cfg: DedupStageConfig, seed: int, prio: Mapping[str, int]) -> None:
        self.cfg, self.seed, self.prio = cfg, seed, dict(prio)

    def setup(self) -> None:

        self.comp = SignatureComputer(self.cfg, self.seed, self.prio)
        self.index = EarlierIndex(self.cfg.earlier_indexes, self.cfg, self.seed)
        self.counters = StageCounters(NS)

    def process(self, batch: list[Document]) -> Iterable[Any]:

        rows = self.comp.compute(batch)
        for doc, m in zip(batch, self.index.match(rows, self.comp.names, self.cfg.earlier_min_similarity),
                          strict=True):
            if m is None:
                yield doc
                continue
            _row, kept_id, size, sim = m
            self.counters.inc("earlier_duplicates")
            yield pvalue.TaggedOutput(TAG_DUPLICATES, Duplicate(doc, STAGE_EARLIER, kept_id, size + 1, sim))


class _IndexRowsFn(beam.DoFn):
    def __init__(self, cfg: DedupStageConfig, seed: int) -> None:
        self.cfg, self.seed = cfg, seed

    def setup(self) -> None:
        self.comp = SignatureComputer(self.cfg, self.seed, {})

    def process(self, batch: list[Document]) -> Iterable[dict[str, Any]]:

        rows = self.comp.compute(batch)
        yield from index_rows(rows, self.comp.names, [int(d.meta.get(META_CLUSTER_SIZE, 1)) for d in batch])


class SaveDedupIndex(beam.PTransform):
    """Kept documents -> ``OUTPUT/dedup_index/index-*.parquet`` (shard infos out); the pipeline
    writes ``index.json`` when the run finishes (:func:`corpusflow.dedup.index.write_meta`)."""

    def __init__(self, cfg: DedupStageConfig, seed: int, out_dir: str, write_args: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        self.seed = cfg.seed if cfg.seed is not None else seed
        self.out_dir, self.write_args = out_dir, write_args

    def expand(self, docs: beam.PCollection) -> ShardsWritten:
        w = WriteShards(self.out_dir, INDEX_PREFIX, INDEX_SCHEMA, _identity, **self.write_args)
        return (docs
                | "IndexBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                | "IndexRows" >> beam.ParDo(_IndexRowsFn(self.cfg, self.seed))
                | "WriteIndex" >> w)


def _identity(row: dict[str, Any]) -> dict[str, Any]:
    return row


class Deduplicate(beam.PTransform):
    """Exact + MinHash-LSH near-duplicate removal; see the module docstring for the graph.

    Args:
        cfg: the stage config (``stages.dedup``).
        seed: the pipeline seed (used when ``cfg.seed`` is None) for permutations and id hashes.
        source_priority: source name -> priority (``sources[].priority``) for the keep rule.

    Returns :class:`StageOutputs` with ``kept`` (documents with ``meta.cluster_size``) and
    ``duplicates`` (:class:`~corpusflow.core.document.Duplicate` with stage ``dedup.exact`` or
    ``dedup.minhash``, the id kept instead, the cluster size and the estimated similarity).
    """

    def __init__(self, cfg: DedupStageConfig, seed: int, source_priority: Mapping[str, int] | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.seed = cfg.seed if cfg.seed is not None else seed
        self.prio = dict(source_priority or {})
        self._signatures: beam.PCollection | None = None
        self._doc_files: beam.PCollection | None = None
        self._kept_as: KeptAs | None = None
        if cfg.enabled and cfg.earlier_indexes:  # refuse other settings now, before any data is read

            for path in cfg.earlier_indexes:
                check_settings(read_meta(path)["settings"], settings_of(cfg, self.seed), path)

    @property
    def takes_signatures(self) -> bool:
        """Whether the node rows may be computed before this stage (:meth:`with_signatures`): not
        when earlier runs' indexes remove documents first."""
        return self.cfg.enabled and (self.cfg.exact or self.cfg.minhash) and not self.cfg.earlier_indexes

    def takes_doc_files(self, pipeline: beam.Pipeline) -> bool:
        """Whether the documents may come as paths of checkpoint files (side-input routing, as
        resolved for ``pipeline`` by :func:`routing_of`)."""
        return self.takes_signatures and routing_of(self.cfg, pipeline) == "side_input"

    def with_signatures(self, signatures: beam.PCollection, doc_files: beam.PCollection | None = None,
                        kept_as: KeptAs | None = None) -> Deduplicate:
        """Use ``(digest shard, NodeBatch)`` node rows computed upstream, one per input document
        (by :class:`~corpusflow.stages.ranges.ReadRanges`, checkpointed with the documents),
        instead of computing them here: same rows, so the same result. With ``doc_files`` (paths
        of checkpoint files of Documents, :func:`corpusflow.run.checkpoints.read_docs`), the
        routing reads the documents from them instead of from its input (which is then empty).
        With ``kept_as`` too, the files hold each document's token count
        (:func:`~corpusflow.run.checkpoints.read_docs_with_tokens`) and a kept document leaves
        as ``kept_as(document, n_tokens)`` (e.g. the mixture's counted pool row) instead."""
        if not self.takes_signatures or (doc_files is not None and not self.takes_doc_files(doc_files.pipeline)):
            raise ValueError("this dedup stage computes its own signatures")
        if kept_as is not None and doc_files is None:
            raise ValueError("kept_as needs the checkpoint files (doc_files) that hold the token counts")
        self._signatures, self._doc_files, self._kept_as = signatures, doc_files, kept_as
        return self

    def expand(self, docs: beam.PCollection) -> StageOutputs:
        cfg, seed, prio = self.cfg, self.seed, self.prio
        p = docs.pipeline
        if not cfg.enabled or not (cfg.exact or cfg.minhash):
            return StageOutputs(kept=docs, duplicates=p | "NoDuplicates" >> beam.Create([]))
        if cfg.earlier_indexes:
            earlier = (docs
                       | "EarlierBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                       | "Earlier" >> beam.ParDo(_EarlierFn(cfg, seed, prio)).with_outputs(TAG_DUPLICATES, main="new"))
            res = self._within(earlier.new)
            dups = (res.duplicates, earlier[TAG_DUPLICATES]) | "FlattenEarlier" >> beam.Flatten()
            return StageOutputs(kept=res.kept, duplicates=dups)
        return self._within(docs)

    def _within(self, docs: beam.PCollection) -> StageOutputs:
        cfg, seed, prio = self.cfg, self.seed, self.prio
        p = docs.pipeline
        shards = cfg.shards
        join = routing_of(cfg, p) == "join"
        nodes = self._signatures
        if nodes is None:
            nodes = (docs
                     | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                     | "Signatures" >> beam.ParDo(_SignatureFn(cfg, seed, prio, collapse=not join)))
        ex = (
            nodes
            | "GroupDigests" >> beam.GroupByKey()
            | "Exact" >> beam.ParDo(_ExactFn(cfg, members=join)).with_outputs(
                TAG_MEMBERS if join else TAG_EXACT, TAG_BANDS, main="nodes")
        )
        if cfg.minhash:
            verdicts = self._near(ex.nodes, ex[TAG_BANDS], shards)
        else:
            verdicts = p | "NoNear" >> beam.Create([])

        if not join:
            # Routing waits for the verdicts: the documents reach it through local files on a
            # local runner instead of through the runner process (stages/handoff.py).
            barriers = [pvalue.AsIter(ex[TAG_EXACT]), pvalue.AsIter(verdicts)]
            if self._doc_files is not None:  # the checkpoint files are the hand-off
                docs = self._doc_files | "ReadCheckpointDocs" >> beam.ParDo(
                    _ReadDocsFn(self._kept_as is not None), *barriers)
            else:
                docs = docs | "Handoff" >> Handoff("dedup", barriers)
            res = docs | "Route" >> beam.ParDo(
                _RouteFn(cfg, seed, self._kept_as), pvalue.AsDict(ex[TAG_EXACT]), pvalue.AsDict(verdicts)
            ).with_outputs(TAG_DUPLICATES, main="kept")
        else:
            # No table on any worker: exact groups and verdicts meet by representative id hash,
            # then every document meets its own Fates by its id hash.
            fates = (
                {"groups": ex[TAG_MEMBERS], "verdict": verdicts}
                | "JoinGroupVerdicts" >> beam.CoGroupByKey()
                | "Fates" >> beam.FlatMap(_fates)
            )
            keyed = docs | "KeyByUid" >> beam.Map(_key_by_uid, seed)
            res = (
                {"docs": keyed, "fate": fates}
                | "JoinFates" >> beam.CoGroupByKey()
                | "RouteJoined" >> beam.ParDo(_JoinRouteFn(cfg, seed)).with_outputs(TAG_DUPLICATES, main="kept")
            )
        return StageOutputs(kept=res.kept, duplicates=res[TAG_DUPLICATES])

    def _near(self, nodes: beam.PCollection, bands: beam.PCollection, shards: int) -> beam.PCollection:
        cfg = self.cfg
        edges = bands | "GroupBands" >> beam.GroupByKey() | "BucketEdges" >> beam.ParDo(_BucketEdgesFn())
        if cfg.verify_threshold is not None:
            hop1 = (
                {"nodes": nodes, "edges": edges | "EdgesByChild" >> beam.FlatMap(_keyed_edges, shards, 0)}
                | "JoinChildSig" >> beam.CoGroupByKey()
                | "AttachChildSig" >> beam.ParDo(_AttachChildSigFn(shards))
            )
            edges = (
                {"nodes": nodes, "edges": hop1}
                | "JoinParentSig" >> beam.CoGroupByKey()
                | "Verify" >> beam.ParDo(_VerifyFn(cfg.verify_threshold))
            )
        labels = edges | "Components" >> _Components(cfg)
        return (
            {"nodes": nodes, "labels": labels}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "RowsByRoot" >> beam.ParDo(_JoinLabelsFn(shards))
            | "GroupClusters" >> beam.GroupByKey()
            | "Decide" >> beam.FlatMap(_decide, list(cfg.keep.order))
        )
