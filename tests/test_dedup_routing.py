"""Join routing without tables (``stages.dedup.routing: join``): the Fates a document id hash is
joined with give the same outcome as looking it up in the side-input tables (no Beam)."""

from __future__ import annotations

import pytest

from corpusflow.core.document import Document, Duplicate
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.core import ExactGroup, Verdict, doc_uid, exact_key, fates_of, route, route_joined

CFG = DedupStageConfig(enabled=True)
SEED = 3
JA = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
JA_NEAR = "吾輩は猫である。名前はまだ無い。どこで生れたか全く見当がつかぬ。"
EN = "It was the best of times, it was the worst of times, it was the age of wisdom."


def _doc(i: str, text: str) -> Document:
    return Document(id=i, text=text, source="web", lang="ja" if text != EN else "en")


def _side_input(doc: Document, exact: dict, near: dict) -> Document | Duplicate:
    """What the side-input routing does (stages/dedup.py _RouteFn)."""
    uid = doc_uid(doc.id, SEED)
    g = exact.get(exact_key(doc, CFG))
    return route(doc, uid, g, near.get(g.keeper_uid if g is not None else uid))


def _joined(docs: list[Document], exact: dict, near: dict) -> list[Document | Duplicate]:
    """The two joins of the join routing, done with dicts of lists instead of CoGroupByKey."""
    members: dict[int, list] = {}
    for key, g in exact.items():
        ids = sorted(doc_uid(d.id, SEED) for d in docs if exact_key(d, CFG) == key)
        members.setdefault(g.keeper_uid, []).append((key, g, ids))
    fates: dict[int, list] = {}
    for rep in sorted(set(members) | set(near)):
        for uid, f in fates_of(rep, members.get(rep, []), [near[rep]] if rep in near else []):
            fates.setdefault(uid, []).append(f)
    return [route_joined(d, doc_uid(d.id, SEED), fates.get(doc_uid(d.id, SEED), []), CFG) for d in docs]


def _outcome(x: Document | Duplicate) -> tuple:
    if isinstance(x, Duplicate):
        return ("dup", x.doc.id, x.stage, x.kept_id, x.cluster_size, x.similarity)
    return ("kept", x.id, x.meta["cluster_size"])


def _u(i: str) -> int:
    return doc_uid(i, SEED)


CASES = {
    "unique text, no cluster": ([_doc("a", EN)], {}, {}),
    "exact copies, keeper a": (
        [_doc("a", JA), _doc("b", JA), _doc("c", EN)],
        {exact_key(_doc("a", JA), CFG): ExactGroup(_u("a"), "a", 2)}, {}),
    "exact group whose keeper loses a near cluster": (
        [_doc("a", JA), _doc("b", JA), _doc("n", JA_NEAR)],
        {exact_key(_doc("a", JA), CFG): ExactGroup(_u("a"), "a", 2)},
        {_u("a"): Verdict(False, "n", 3, 0.8), _u("n"): Verdict(True, "n", 3, 1.0)}),
    "exact group whose keeper wins a near cluster": (
        [_doc("a", JA), _doc("b", JA), _doc("n", JA_NEAR)],
        {exact_key(_doc("a", JA), CFG): ExactGroup(_u("a"), "a", 2)},
        {_u("a"): Verdict(True, "a", 3, 1.0), _u("n"): Verdict(False, "a", 3, 0.8)}),
    # Two documents with one id (limits.unique_ids off): the text decides the exact group, the
    # id hash the near verdict, exactly as with the tables.
    "repeated id, other texts": (
        [_doc("a", JA), _doc("b", JA), _doc("a", EN)],
        {exact_key(_doc("a", JA), CFG): ExactGroup(_u("a"), "a", 2)},
        {_u("a"): Verdict(True, "a", 2, 1.0)}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_join_fates_give_the_side_input_outcome(case: str) -> None:
    docs, exact, near = CASES[case]
    want = [_outcome(_side_input(d, exact, near)) for d in docs]
    assert [_outcome(x) for x in _joined(docs, exact, near)] == want
    assert len(want) == len(docs)  # every document is kept or a duplicate


def test_fates_carry_the_keepers_verdict_to_every_exact_copy() -> None:
    key = exact_key(_doc("a", JA), CFG)
    g = ExactGroup(_u("a"), "a", 3)
    v = Verdict(False, "n", 4, 0.75)
    got = fates_of(_u("a"), [(key, g, [_u("a"), _u("b"), _u("c")])], [v])
    assert sorted(uid for uid, _ in got) == sorted([_u("a"), _u("b"), _u("c"), _u("a")])
    assert all(f.near == v for _, f in got)
    assert [f.key for uid, f in got if f.exact is None] == [None]  # the keeper's own verdict once
