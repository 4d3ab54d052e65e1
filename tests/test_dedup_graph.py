"""Candidate edges and connected components on hand-made graphs (no Beam)."""

from __future__ import annotations

import numpy as np
import pytest

from corpusflow.dedup.graph import (
    bucket_edges,
    connected_components,
    large_star,
    small_star,
    star_edges,
    star_violations,
)

U = np.uint64


def _arr(xs):
    return np.array(xs, dtype=np.uint64)


def _reference_components(edges):
    """Plain BFS components: node -> minimum node of its component."""
    adj = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    out, seen = {}, set()
    for start in sorted(adj):
        if start in seen:
            continue
        comp, stack = [], [start]
        seen.add(start)
        while stack:
            x = stack.pop()
            comp.append(x)
            for y in adj[x]:
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        m = min(comp)
        out.update({x: m for x in comp})
    return out


def _star_mode(edges, rounds=20):
    """Run alternating large/small-star until the edges form stars (as the Beam mode does)."""
    a, b = _arr([e[0] for e in edges]), _arr([e[1] for e in edges])
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    for _ in range(rounds):
        hi, lo = large_star(np.concatenate([hi, lo]), np.concatenate([lo, hi]))
        hi, lo = small_star(hi, lo)
        if star_violations(hi, lo) == 0:
            break
    assert star_violations(hi, lo) == 0
    out = {int(h): int(x) for h, x in zip(hi, lo, strict=True)}
    out.update({int(x): int(x) for x in lo})
    return out


GRAPHS = {
    "chain": [(i, i + 1) for i in range(1, 40)],
    "chain_reversed_ids": [(100 - i, 99 - i) for i in range(40)],
    "star": [(7, i) for i in range(8, 30)] + [(7, 3)],
    "cycle": [(i, (i + 1) % 12 + 20) for i in range(20, 32)] + [(31, 20)],
    "two_components": [(1, 2), (2, 3), (10, 11), (11, 12), (12, 10)],
    "duplicate_edges": [(5, 6), (6, 5), (5, 6), (6, 7)],
    "zigzag": [(2 * i + 1, 2 * i + 4) for i in range(15)] + [(2 * i + 4, 2 * i + 3) for i in range(15)],
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_connected_components_hand_made(name):
    edges = GRAPHS[name]
    nodes, roots = connected_components(_arr([e[0] for e in edges]), _arr([e[1] for e in edges]))
    assert dict(zip(nodes.tolist(), roots.tolist(), strict=True)) == _reference_components(edges)
    assert np.all(nodes[:-1] < nodes[1:])  # sorted, unique


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_star_mode_gives_the_same_components(name):
    edges = GRAPHS[name]
    assert _star_mode(edges) == _reference_components(edges)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_graphs_both_modes(seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 2**63, 400, dtype=np.int64).astype(np.uint64) * U(2)
    pairs = rng.integers(0, 400, (350, 2))
    edges = [(int(ids[a]), int(ids[b])) for a, b in pairs if a != b]
    ref = _reference_components(edges)
    nodes, roots = connected_components(_arr([e[0] for e in edges]), _arr([e[1] for e in edges]))
    assert dict(zip(nodes.tolist(), roots.tolist(), strict=True)) == ref
    assert _star_mode(edges) == ref
    # Order of the edge list does not matter.
    perm = rng.permutation(len(edges))
    n2, r2 = connected_components(_arr([edges[i][1] for i in perm]), _arr([edges[i][0] for i in perm]))
    assert np.array_equal(n2, nodes) and np.array_equal(r2, roots)
    # Compacting to star edges keeps the components (used by the union-find CombineFn).
    su, sv = star_edges(nodes, roots)
    n3, r3 = connected_components(su, sv)
    assert np.array_equal(n3, nodes) and np.array_equal(r3, roots)


def test_bucket_edges_star_to_minimum():
    keys = _arr([5, 5, 5, 9, 9, 7, 5, 9, 9])
    nodes = _arr([30, 10, 20, 40, 40, 50, 10, 41, 42])  # (5,10) repeated; bucket 7 is a singleton
    child, parent, sizes = bucket_edges(keys, nodes)
    assert list(zip(child.tolist(), parent.tolist(), strict=True)) == [(20, 10), (30, 10), (41, 40), (42, 40)]
    assert sorted(sizes.tolist()) == [3, 3]
    empty = bucket_edges(_arr([]), _arr([]))
    assert empty[0].size == 0 and empty[2].size == 0


def test_bucket_edges_independent_of_input_order():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 50, 2000).astype(np.uint64)
    nodes = rng.integers(0, 10**6, 2000).astype(np.uint64)
    a = bucket_edges(keys, nodes)
    perm = rng.permutation(2000)
    b = bucket_edges(keys[perm], nodes[perm])
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_star_violations_detects_unfinished_graph():
    assert star_violations(_arr([3, 2]), _arr([2, 1])) > 0  # 2 is both child and parent
    assert star_violations(_arr([3, 3]), _arr([1, 2])) > 0  # 3 has two parents
    assert star_violations(_arr([3, 2]), _arr([1, 1])) == 0


def test_union_find_combine_bounded_and_exact():
    """The CombineFn compacts to star edges past compact_at and still gives exact components."""
    from corpusflow.stages.dedup import UnionFindCombine

    rng = np.random.default_rng(9)
    ids = rng.integers(0, 2**63, 600, dtype=np.int64).astype(np.uint64)
    pairs = rng.integers(0, 600, (900, 2))
    edges = [(int(ids[a]), int(ids[b])) for a, b in pairs if a != b]
    ref = _reference_components(edges)
    fn = UnionFindCombine(compact_at=50)
    accs = []
    for chunk in range(0, len(edges), 40):  # several partial accumulators, as combiner lifting does
        acc = fn.create_accumulator()
        for i in range(chunk, min(chunk + 40, len(edges)), 10):
            part = edges[i : i + 10]
            acc = fn.add_input(acc, (_arr([e[0] for e in part]), _arr([e[1] for e in part])))
            assert sum(a.size for a, _ in acc) <= max(50, len(ref))  # bounded by the nodes
        accs.append(acc)
    nodes, roots = fn.extract_output(fn.merge_accumulators(accs[::-1]))
    assert dict(zip(nodes.tolist(), roots.tolist(), strict=True)) == ref
