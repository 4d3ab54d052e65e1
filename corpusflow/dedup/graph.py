"""Candidate edges from LSH buckets, and exact connected components (numpy, no Beam).

Every function here works on uint64 node ids (keyed xxh3 hashes of document ids) and returns
sorted, de-duplicated arrays, so results never depend on the order of the input.

* :func:`bucket_edges`: sort (band_key, node) pairs; inside each bucket of >= 2 members emit the
  star edges member -> bucket minimum (k-1 edges per bucket, never k^2; docs/design.md#minhash-dedup).
* :func:`connected_components`: exact components by min-label hooking plus pointer jumping
  until nothing changes; the label of a component is its minimum node id.
* :func:`large_star` / :func:`small_star`: one step each of Kiveris et al. (2014), "Connected
  Components in MapReduce and Beyond", on the part of the edge list a shard holds; alternated
  they converge to stars centred on each component's minimum (the distributed clustering mode).
"""

from __future__ import annotations

import numpy as np

EMPTY = np.empty(0, dtype=np.uint64)


def _unique_pairs(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique (u, v) pairs."""
    if u.size == 0:
        return EMPTY, EMPTY
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    keep = np.ones(u.size, dtype=bool)
    keep[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return u[keep], v[keep]


def unique_edges(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique (u, v) pairs: the same candidate edge found in several LSH bands (each band
    is bucketed on its own shard) counts once, so per-edge work (attaching signatures to verify
    it) is proportional to the distinct edges, not to bands x edges."""
    return _unique_pairs(u, v)


def bucket_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Star edges (node, bucket minimum) of all buckets with >= 2 distinct nodes.

    Returns ``(child, parent, bucket_sizes)`` with child > parent; edges are unique and sorted;
    ``bucket_sizes`` lists the size of every bucket with >= 2 members (for hot-bucket metrics).
    """
    if keys.size == 0:
        return EMPTY, EMPTY, np.empty(0, dtype=np.int64)
    order = np.lexsort((nodes, keys))
    k, n = keys[order], nodes[order]
    # Drop repeated (key, node) pairs so a bucket's size counts distinct documents.
    keep = np.ones(k.size, dtype=bool)
    keep[1:] = (k[1:] != k[:-1]) | (n[1:] != n[:-1])
    k, n = k[keep], n[keep]
    new = np.ones(k.size, dtype=bool)
    new[1:] = k[1:] != k[:-1]
    starts = np.nonzero(new)[0]
    sizes = np.diff(np.append(starts, k.size))
    first = np.repeat(starts, sizes)  # index of the bucket minimum for each element
    member = ~new
    child, parent = n[member], n[first[member]]
    child, parent = _unique_pairs(child, parent)
    return child, parent, sizes[sizes >= 2]


def connected_components(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact connected components of the undirected graph with edges (u[i], v[i]).

    Returns ``(nodes, roots)``: every node that appears in an edge (sorted) and the minimum node
    id of its component.
    """
    if u.size == 0:
        return EMPTY, EMPTY
    nodes, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
    e = inv.reshape(2, -1)
    a, b = e[0].astype(np.int64), e[1].astype(np.int64)
    # Dense indices are sorted like the node ids, so min index == min node id.
    label = np.arange(nodes.size, dtype=np.int64)
    while True:
        la, lb = label[a], label[b]
        diff = la != lb
        if not diff.any():
            break
        a, b = a[diff], b[diff]  # edges already inside one label never matter again
        la, lb = la[diff], lb[diff]
        lo, hi = np.minimum(la, lb), np.maximum(la, lb)
        np.minimum.at(label, hi, lo)  # hook the larger root under the smaller one
        while True:  # pointer jumping to full compression
            nxt = label[label]
            if np.array_equal(nxt, label):
                break
            label = nxt
    return nodes, nodes[label]


def star_edges(nodes: np.ndarray, roots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(node, root) for every non-root node: a compact edge list with the same components."""
    m = nodes != roots
    return nodes[m], roots[m]


def large_star(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Large-star step on directed adjacency pairs (u -> v) held for the nodes u of a shard.

    Both directions of every edge must be present at their source's shard. For each u with
    neighbourhood N(u), m(u) = min(N(u) + {u}); emits the undirected edges (v, m(u)) for every
    v in N(u) with v > u, as (hi, lo) pairs, unique and without self-loops.
    """
    if u.size == 0:
        return EMPTY, EMPTY
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    new = np.ones(u.size, dtype=bool)
    new[1:] = u[1:] != u[:-1]
    starts = np.nonzero(new)[0]
    mins = np.minimum.reduceat(v, starts)
    mins = np.minimum(mins, u[starts])
    m = np.repeat(mins, np.diff(np.append(starts, u.size)))
    sel = (v > u) & (v != m)
    hi, lo = np.maximum(v[sel], m[sel]), np.minimum(v[sel], m[sel])
    return _unique_pairs(hi, lo)


def small_star(hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Small-star step on undirected edges (hi > lo) held at the shard of ``hi``.

    For each node u = hi with smaller neighbours N, m = min(N); emits (v, m) for v in N, v != m,
    and (u, m): every node of the neighbourhood re-attached to its minimum.
    """
    if hi.size == 0:
        return EMPTY, EMPTY
    order = np.lexsort((lo, hi))
    hi, lo = hi[order], lo[order]
    new = np.ones(hi.size, dtype=bool)
    new[1:] = hi[1:] != hi[:-1]
    starts = np.nonzero(new)[0]
    mins = lo[starts]  # sorted by lo inside each group: the first is the minimum
    m = np.repeat(mins, np.diff(np.append(starts, hi.size)))
    sel = lo != m
    a = np.concatenate([lo[sel], hi[starts]])
    b = np.concatenate([m[sel], mins])
    return _unique_pairs(np.maximum(a, b), np.minimum(a, b))


def star_violations(hi: np.ndarray, lo: np.ndarray) -> int:
    """Nodes that are both a child and a parent, or children of two parents (0 = converged)."""
    if hi.size == 0:
        return 0
    both = np.intersect1d(hi, lo, assume_unique=False).size
    uh = np.unique(hi)
    return int(both + (hi.size - uh.size))
