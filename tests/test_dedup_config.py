"""DedupStageConfig validation, describe_lsh, keep-rule ranks and cluster decisions (no Beam)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from corpusflow.core.document import Document, Duplicate
from corpusflow.dedup.config import DedupStageConfig, KeepRuleConfig, describe_lsh, s_curve
from corpusflow.dedup.core import (
    ExactGroup,
    SignatureComputer,
    Verdict,
    band_pairs,
    collapse_exact,
    decide_clusters,
    resolve_exact,
    route,
)
from corpusflow.dedup.keep import parse_date, rank_key
from corpusflow.dedup.tables import NodeBatch


def test_defaults_follow_the_issue():
    cfg = DedupStageConfig(enabled=True)
    ja, en = cfg.profiles["ja"], cfg.profiles["en"]
    assert (ja.shingle, ja.n, ja.bands, ja.rows, ja.perms) == ("char", 5, 20, 10, 200)
    # English: character 5-grams too (word 5-grams miss pages with scattered character edits)
    assert (en.shingle, en.n, en.bands, en.rows, en.perms) == ("char", 5, 20, 10, 200)
    assert cfg.keep.order == ["complete", "source_priority", "central", "first_seen", "id_hash"]
    assert cfg.profile_name("ja") == "ja" and cfg.profile_name("zh") == "ja"
    assert cfg.profile_name("de") == "en" and cfg.profile_name(None) == "en"


@pytest.mark.parametrize(
    ("s", "b", "r", "p"),
    [(0.8, 14, 8, 0.924), (0.5, 14, 8, 0.053), (0.8, 20, 10, 0.897), (0.5, 20, 10, 0.019)],
)
def test_s_curve_matches_spec_numbers(s, b, r, p):
    assert s_curve(s, b, r) == pytest.approx(p, abs=0.001)


def test_describe_lsh_table():
    text = describe_lsh(DedupStageConfig(enabled=True))
    assert "profile en (default): char 5-grams, 20 bands x 10 rows" in text
    assert "0.897" in text and "0.019" in text and "0.436" in text  # P(0.8), P(0.5), P(0.7)
    assert "keep: complete > source_priority > central > first_seen > id_hash" in text
    word = describe_lsh(DedupStageConfig(enabled=True, profiles={
        "ja": {"shingle": "char", "bands": 20, "rows": 10}, "en": {"shingle": "word", "bands": 14, "rows": 8}}))
    assert "14 bands x 8 rows" in word and "0.924" in word
    assert "near-dup disabled" in describe_lsh(DedupStageConfig(minhash=False)).lower()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"profiles": {"ja": {"shingle": "char", "bands": 20, "rows": 10, "num_perm": 100}}}, "num_perm"),
        ({"default_profile": "xx"}, "default_profile"),
        ({"profile_of": {"zh": "nope"}}, "profile_of"),
        ({"scope": "per_file"}, "scope"),
        ({"keep": {"order": ["longest", "shortest"]}}, "mutually exclusive"),
        ({"keep": {"order": ["complete", "longest"]}}, "mutually exclusive"),
        ({"keep": "newest_first"}, "unknown keep preset"),
        ({"bands": 3}, "extra"),
    ],
)
def test_invalid_configs_are_rejected(data, message):
    with pytest.raises(ValidationError, match=message):
        DedupStageConfig.model_validate(data)


def _doc(i, text="本文です。" * 10, source="web", date=None, lang="ja"):
    return Document(id=f"d{i}", text=text, source=source, lang=lang, meta={"date": date} if date else {})


def test_rank_keys_follow_the_order():
    rule = KeepRuleConfig(order=["source_priority", "longest", "newest", "id_hash"])
    prio = {"wiki": 2, "web": 0}
    wiki_short = rank_key(_doc(1, "短い", "wiki"), rule, 0, prio)
    web_long = rank_key(_doc(2, "長い文章" * 50), rule, 0, prio)
    assert wiki_short < web_long  # source priority first
    newer = rank_key(_doc(3, date="2024-05-01"), rule, 0, prio)
    older = rank_key(_doc(4, date="2019-01-01T10:00:00Z"), rule, 0, prio)
    undated = rank_key(_doc(5), rule, 0, prio)
    assert newer < older < undated  # same length: newest wins, no date loses
    oldest_rule = KeepRuleConfig(order=["oldest", "id_hash"])
    assert rank_key(_doc(4, date="2019-01-01"), oldest_rule, 0) < rank_key(_doc(3, date="2024-05-01"), oldest_rule, 0)
    assert len(newer) == 5
    assert parse_date("not a date") is None and parse_date("2024-01-02") == 1704153600


def _rows(docs, cfg):
    return SignatureComputer(cfg, seed=1).compute(docs)


def test_exact_groups_and_band_pairs():
    cfg = DedupStageConfig(enabled=True)
    text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    docs = [_doc(1, text), _doc(2, text), _doc(3, text + "何でも薄暗い"), _doc(4, "。、")]
    rows = _rows(docs, cfg)
    assert rows.nperm.tolist() == [200, 200, 200, 0]  # no shingle: no signature
    reps, groups = resolve_exact(rows)
    assert len(reps) == 3 and sorted(reps.weight.tolist()) == [1, 1, 2]
    (_key, group), = groups
    assert group.size == 2 and group.keeper_id in {"d1", "d2"}
    keys, uids = band_pairs(reps.take(np.nonzero(reps.nperm > 0)[0]), cfg)
    assert keys.size == uids.size == 2 * 20
    per_source = DedupStageConfig(enabled=True, scope="per_source")
    split = _rows([_doc(1, text, "a"), _doc(2, text, "b")], per_source)
    assert len(resolve_exact(split)[1]) == 0  # same text, different sources: no exact group


@pytest.mark.parametrize("order", [["longest", "id_hash"], ["first_seen", "id_hash"], ["source_priority", "newest", "id_hash"]])
def test_collapsing_parts_first_gives_the_same_groups(order):
    """Exact copies pre-combined per batch (before the shuffle) resolve to the same representative
    rows, weights and groups as all rows resolved at once, for every split of the rows."""
    cfg = DedupStageConfig(enabled=True, keep={"order": order})
    texts = ["吾輩は猫である。名前はまだ無い。", "The quick brown fox jumps over the lazy dog.", "あ", "a", ""]
    docs = [Document(id=f"d{i}", text=texts[(i * 7) % 5], source="web" if i % 3 else "wiki", lang="ja",
                     meta={"date": f"2024-01-{1 + i % 28:02d}"}, file=f"f{i % 4}.jsonl", line=i)
            for i in range(60)]
    rows = _rows(docs, cfg)
    want_reps, want_groups = resolve_exact(rows, True, order)
    for cut in (1, 7, 25, 59):
        parts = [collapse_exact(rows.take(np.arange(0, cut)), order),
                 collapse_exact(rows.take(np.arange(cut, 60)), order)]
        assert sum(len(p) for p in parts) < 60  # copies inside a part became one row
        reps, groups = resolve_exact(NodeBatch.concat(parts), True, order)
        assert sorted(groups) == sorted(want_groups)
        got = sorted(zip(reps.ids.tolist(), reps.weight.tolist(), strict=True))
        assert got == sorted(zip(want_reps.ids.tolist(), want_reps.weight.tolist(), strict=True))
    assert sum(g.size for _k, g in want_groups) == 60  # 5 texts, 12 copies each


def test_signature_columns_only_as_wide_as_needed():
    cfg = DedupStageConfig(enabled=True)
    tiny = _rows([_doc(i, "。、") for i in range(50)], cfg)
    assert tiny.sig.shape == (50, 0) and tiny.nperm.tolist() == [0] * 50  # no shingle: no signature bytes
    mixed = NodeBatch.concat([tiny, _rows([_doc(99, "吾輩は猫である。名前はまだ無い。")], cfg)])
    assert mixed.sig.shape == (51, 200) and not mixed.sig[:50].any()


def test_decide_clusters_keeps_the_best_rank_and_counts_weights():
    cfg = DedupStageConfig(enabled=True, keep={"order": ["longest", "id_hash"]})
    base = "今日は晴れです。明日は雨が降るでしょう。週末は出かけたいと思います。" * 3
    docs = [_doc(1, base), _doc(2, base + "以上"), _doc(3, base[:-5])]
    rows = _rows(docs, cfg)
    rows.weight = np.array([1, 3, 1])
    roots = np.full(3, rows.uid.min(), dtype=np.uint64)
    verdicts = dict(decide_clusters(rows, roots, cfg.keep.order))
    uid = {d.id: int(u) for d, u in zip(docs, rows.uid, strict=True)}
    assert verdicts[uid["d2"]].keeper  # the longest text
    assert all(v.kept_id == "d2" and v.cluster_size == 5 for v in verdicts.values())
    assert 0.5 < verdicts[uid["d1"]].similarity < 1.0


def test_route_outcomes():
    doc = _doc(7)
    assert route(doc, 1, None, None).meta["cluster_size"] == 1
    kept = route(doc, 1, ExactGroup(1, "d7", 3), None)
    assert isinstance(kept, Document) and kept.meta["cluster_size"] == 3
    dup = route(doc, 1, ExactGroup(2, "d8", 3), Verdict(False, "d9", 6, 0.85))
    assert isinstance(dup, Duplicate) and (dup.stage, dup.kept_id, dup.cluster_size, dup.similarity) == (
        "dedup.exact", "d9", 6, 0.85)
    near = route(doc, 1, None, Verdict(False, "d9", 2, 0.9))
    assert isinstance(near, Duplicate) and near.stage == "dedup.minhash"
    assert route(doc, 1, None, Verdict(True, "d7", 4, 1.0)).meta["cluster_size"] == 4


def test_central_and_first_seen_keep_the_original():
    cfg = DedupStageConfig(enabled=True)
    base = "".join(f"第{i}章では、町の図書館が新しい読書会を始めた経緯を説明します。" for i in range(12))
    docs = [
        _doc(1, "【PR】今だけ送料無料キャンペーン実施中！\n" + base + "\nこのページの先頭へ戻る"),
        _doc(2, base),
        _doc(3, base[: len(base) * 85 // 100]),
    ]
    docs = [d.replace(file=f"part-{9 - i}.jsonl", line=5) for i, d in enumerate(docs)]
    for order, expected in (
        (["central", "id_hash"], "d2"),  # the text both copies share, not the longest or a truncation
        (["first_seen", "id_hash"], "d3"),  # part-7.jsonl sorts before part-8 and part-9
        (["longest", "id_hash"], "d1"),
    ):
        cfg = DedupStageConfig(enabled=True, keep={"order": order})
        rows = _rows(docs, cfg)
        roots = np.full(3, rows.uid.min(), dtype=np.uint64)
        assert {v.kept_id for _, v in decide_clusters(rows, roots, cfg.keep.order)} == {expected}, order
    with pytest.raises(ValidationError, match="at most 4"):
        KeepRuleConfig(order=["source_priority", "central", "first_seen", "longest", "newest"])


@pytest.mark.parametrize(
    ("preset", "order"),
    [
        ("complete", ["complete", "source_priority", "central", "first_seen", "id_hash"]),
        ("longest", ["longest", "source_priority", "id_hash"]),
        ("priority", ["source_priority", "complete", "central", "first_seen", "id_hash"]),
        ("first", ["first_seen", "id_hash"]),
        ("central", ["source_priority", "central", "first_seen", "id_hash"]),
    ],
)
def test_keep_presets(preset, order):
    assert DedupStageConfig.model_validate({"keep": preset}).keep.order == order


def test_default_keep_prefers_the_full_text_then_priority():
    """A truncated copy (and a copy with a paragraph dropped) lose to the complete page; among
    equally long copies the higher source priority wins."""
    cfg = DedupStageConfig(enabled=True)
    base = "".join(f"Chapter {i} explains how the town library started its new reading group. " for i in range(12))
    docs = [
        _doc(1, base[: len(base) * 80 // 100], lang="en"),
        _doc(2, base, lang="en"),
        _doc(3, base[: len(base) // 2] + base[len(base) * 6 // 10 :], lang="en"),
    ]
    rows = _rows(docs, cfg)
    roots = np.full(3, rows.uid.min(), dtype=np.uint64)
    assert {v.kept_id for _, v in decide_clusters(rows, roots, cfg.keep.order)} == {"d2"}
    same = [_doc(1, base, "crawl", lang="en"), _doc(2, base.upper(), "books", lang="en")]
    prio = {"crawl": 0, "books": 5}
    keys = {d.id: rank_key(d, cfg.keep, 0, prio) for d in same}
    assert min(keys, key=keys.get) == "d2"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [(2000, 2000, True), (2000, 2009, True), (2000, 1900, False), (2000, 1600, False), (100000, 99000, True)],
)
def test_complete_treats_lengths_within_five_percent_as_equal(a, b, same):
    from corpusflow.dedup.keep import length_bucket

    # 0.95 of a length is always in a lower bucket; 1 % apart is usually the same bucket
    assert (length_bucket(a) == length_bucket(b)) == same


def test_complete_keeps_the_original_over_a_slightly_longer_edited_copy():
    """A copy with typos that make it 6 characters longer ties on completeness with the
    original; the next criteria (priority, medoid, first seen) decide: here the original, which
    comes first in the input. With strict ``longest`` the edited copy wins."""
    text = "".join(f"Paragraph {i} tells how the council planned the new bridge over the river. " for i in range(30))
    edited = text.replace("council", "councill", 6)
    docs = [_doc(1, text, lang="en").replace(file="a.jsonl", line=1), _doc(2, edited, lang="en").replace(file="a.jsonl", line=2)]
    for keep, expected in (("complete", "d1"), ("longest", "d2")):
        cfg = DedupStageConfig(enabled=True, keep=keep)
        rows = _rows(docs, cfg)
        roots = np.full(2, rows.uid.min(), dtype=np.uint64)
        assert {v.kept_id for _, v in decide_clusters(rows, roots, cfg.keep.order)} == {expected}, keep
