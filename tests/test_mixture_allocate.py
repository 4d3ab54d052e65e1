"""Pure mixture logic: config validation, budgets, water-filling, plans, shortfall policies,
selection by keyed hash, shard routing (no Beam)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from corpusflow.mixture.allocate import (
    MixtureConfigError,
    MixtureShortfall,
    nearest_boundary,
    plan_mixture,
    water_fill,
)
from corpusflow.mixture.census import (
    N_BUCKETS,
    bucket_of,
    census_from_columns,
    merge_census_dicts,
    select_key,
)
from corpusflow.mixture.config import MixtureStageConfig, check_against_pipeline, parse_budget
from corpusflow.mixture.pool import order_key, shard_of

MB = 1 << 20


def make_docs(n: int, source: str, lang: str, mean_tokens: float, seed: int) -> dict[str, list]:
    """Synthetic documents with heavy-tailed (log-normal) lengths, as web text has."""
    rng = np.random.default_rng(seed)
    tokens = np.maximum(1, rng.lognormal(math.log(mean_tokens), 1.0, n).astype(np.int64))
    cpt = 1.8 if lang == "ja" else 4.3
    chars = (tokens * cpt).astype(np.int64)
    return {
        "source": [source] * n, "lang": [lang] * n, "id": [f"{source}-{i}" for i in range(n)],
        "n_tokens": tokens, "n_chars": chars, "n_bytes": chars * (3 if lang == "ja" else 1),
    }


def census_of(seed: int, *groups: dict[str, list]) -> dict:
    parts = [census_from_columns(seed, g["source"], g["lang"], g["id"], g["n_tokens"], g["n_chars"], g["n_bytes"])
             for g in groups]
    return merge_census_dicts(parts)


def realise(plan, seed: int, *groups: dict[str, list]) -> dict[tuple[str, str], dict[str, int]]:
    """Apply the plan document by document (what the routing DoFn does) and measure it."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for g in groups:
        for s, lang, i, t in zip(g["source"], g["lang"], g["id"], g["n_tokens"], strict=True):
            cp = plan.cell(s, lang)
            c = cp.copies(bucket_of(select_key(seed, s, i)))
            m = out.setdefault((s, lang), {"tokens": 0, "copies": 0, "docs": 0, "max": 0})
            m["tokens"] += c * int(t)
            m["copies"] += c
            m["docs"] += 1 if c else 0
            m["max"] = max(m["max"], c)
    return out


def cfg(**kw) -> MixtureStageConfig:
    return MixtureStageConfig.model_validate({"enabled": True, **kw})


SEED = 11
JA_WEB = make_docs(20_000, "ja_web", "ja", 600, 1)
JA_WIKI = make_docs(3_000, "ja_wiki", "ja", 400, 2)
EN_WEB = make_docs(8_000, "en_web", "en", 500, 3)
ALL = (JA_WEB, JA_WIKI, EN_WEB)
CENSUS = census_of(SEED, *ALL)


# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("all", "all"), ("173B", 173_000_000_000), ("1.5T", 1_500_000_000_000), ("500M", 500_000_000),
     ("20k", 20_000), (1000, 1000), (2.5e9, 2_500_000_000), ("3e6", 3_000_000)],
)
def test_parse_budget(value, expected) -> None:
    assert parse_budget(value) == expected


@pytest.mark.parametrize("value", ["lots", "12X", "-5", 0, True, "0.2"])
def test_parse_budget_rejects(value) -> None:
    with pytest.raises(ValueError):
        parse_budget(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"groups": {"ja": 0.8, "en": 0.3}}, "group shares must sum to 1, got 1.1"),
        ({"groups": {}}, "at least one group"),
        ({"groups": {"ja": 1.0}, "sources": {"w": {"share": 0.5, "multiplier": 2}}}, "not both"),
        ({"sources": {"w": {"max_epochs": 0.5}}}, "greater than or equal to 1"),
        ({"sources": {"w": {"max_fraction": 0}}}, "greater than 0"),
        ({"budget": "many"}, "is not a budget"),
        ({"on_shortfall": "ignore"}, "'fail', 'report' or 'shrink'"),
        ({"unit": "bytes"}, "'tokens' or 'chars'"),
        ({"shards": {"num_shards": 0}}, "num_shards must be >= 1"),
        ({"groupz": {"ja": 1.0}}, "Extra inputs are not permitted"),
        ({"group_by": "source", "groups": {"a": 1.0}, "sources": {"a": {"share": 1.0}}}, "its own group"),
    ],
)
def test_config_validation_names_the_problem(data, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cfg(**data)


def test_config_defaults() -> None:
    c = cfg()
    assert c.tokenizer.kind == "sentencepiece" and c.tokenizer.name == "llm-jp-v3.1"
    assert {k: g.share for k, g in c.groups.items()} == {"ja": 0.8, "en": 0.2}
    assert c.budget == "all" and c.on_shortfall == "fail" and c.count.mode == "exact"
    # max_epochs defaults to the multiplier: "Wikipedia x2" may repeat twice
    c2 = cfg(sources={"wiki": {"multiplier": 2}})
    assert c2.source_cfg("wiki").epochs_cap() == 2.0 and c2.source_cfg("web").epochs_cap() == 1.0


def test_check_against_pipeline() -> None:
    from corpusflow.config.load import load_config
    from corpusflow.config.pipeline import PipelineConfig
    from corpusflow.core.errors import ConfigError

    def cfg(data: dict) -> PipelineConfig:  # validated without the cross-stage check of load_config
        return PipelineConfig.model_validate(data)

    base = {"sources": [{"name": "web", "paths": ["x.jsonl"]}]}
    zh = {**base, "stages": {"mixture": {"enabled": True, "groups": {"ja": 0.8, "zh": 0.2}}}}
    p = cfg(zh)
    problems = check_against_pipeline(p.stages.mixture, p)
    assert len(problems) == 1 and "groups.zh" in problems[0] and "['en', 'ja']" in problems[0]
    with pytest.raises(ConfigError, match="groups.zh"):  # load_config reports it before any data is read
        load_config(data=zh, check_inputs=False)
    p = cfg({**base, "stages": {"mixture": {"enabled": True, "sources": {"wiki": {}}}}})
    assert "no pipeline source is called 'wiki'" in check_against_pipeline(p.stages.mixture, p)[0]
    p = cfg({"sources": [{"name": "web", "paths": ["x"], "lang": "ja"}],
             "stages": {"langid": {"enabled": False}, "mixture": {"enabled": True}}})
    assert "groups.en" in check_against_pipeline(p.stages.mixture, p)[0]
    p = load_config(data={**base, "stages": {"mixture": {"enabled": True}}}, check_inputs=False)
    assert check_against_pipeline(p.stages.mixture, p) == []


# ------------------------------------------------------------------------------------------------
# Arithmetic
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "caps", "alloc", "rest"),
    [
        (100, [1, 1], [100, 100], [50, 50], 0),
        (100, [3, 1], [100, 100], [75, 25], 0),
        (100, [1, 1], [10, 1000], [10, 90], 0),          # one capped, remainder to the other
        (100, [1, 1, 2], [10, 20, 1000], [10, 20, 70], 0),
        (100, [2, 1, 1], [30, 30, 30], [30, 30, 30], 10),  # all capped: 10 cannot be placed
        (100, [0, 1], [50, 50], [0, 50], 50),            # zero weight gets nothing
        (0, [1, 1], [10, 10], [0, 0], 0),
    ],
)
def test_water_fill(total, weights, caps, alloc, rest) -> None:
    got, left = water_fill(total, weights, caps)
    assert got == pytest.approx(alloc) and left == pytest.approx(rest)


def test_nearest_boundary() -> None:
    cum = np.array([0, 10, 10, 10, 25, 40])
    assert nearest_boundary(cum, 0, 5) == 0
    assert nearest_boundary(cum, 4, 5) == 0
    assert nearest_boundary(cum, 6, 5) == 1
    assert nearest_boundary(cum, 12, 5) == 1   # lowest index of the value 10
    assert nearest_boundary(cum, 30, 5) == 4
    assert nearest_boundary(cum, 99, 5) == 5
    assert nearest_boundary(cum, 99, 3) == 3   # never beyond hi


# ------------------------------------------------------------------------------------------------
# Plans
# ------------------------------------------------------------------------------------------------


def test_plan_all_80_20_by_tokens_is_exact_and_realised() -> None:
    plan = plan_mixture(CENSUS, cfg(), seed=SEED, shard_target_bytes=MB)
    j = plan.to_jsonable()
    assert abs(j["groups"]["ja"]["achieved_share"] - 0.8) < 1e-4
    # budget all: the binding group (en: 20 % of a total that JA can fill) is used completely...
    en = plan.cell("en_web", "en")
    ja_total = sum(c.available for c in plan.cells if c.lang == "ja")
    if ja_total / 0.8 * 0.2 >= en.available:
        assert en.rate == pytest.approx(1.0) and en.copies_hist == {"1": en.docs}
    # ...and the realised selection, document by document, equals the plan exactly.
    measured = realise(plan, SEED, *ALL)
    for c in plan.cells:
        assert measured[c.cell]["tokens"] == c.achieved_tokens
        assert measured[c.cell]["copies"] == c.copies_total
        assert measured[c.cell]["docs"] == c.selected_docs
    # JA cells share their group in proportion to natural size: equal rates
    web, wiki = plan.cell("ja_web", "ja"), plan.cell("ja_wiki", "ja")
    assert web.rate == pytest.approx(wiki.rate, rel=1e-9)


def test_doc_count_sampling_would_miss_token_shares() -> None:
    """The "docs vs tokens" mistake (mixture.md §3.4): picking 80/20 by document counts gives a
    different token share when documents differ in length; the plan counts tokens."""
    ja_docs, en_docs = JA_WEB["n_tokens"], make_docs(8_000, "en_long", "en", 2000, 9)["n_tokens"]
    n_en = int(len(ja_docs) * 0.2 / 0.8)
    doc_based = ja_docs.sum() / (ja_docs.sum() + en_docs[:n_en].sum())
    assert abs(doc_based - 0.8) > 0.05
    en_long = make_docs(8_000, "en_long", "en", 2000, 9)
    plan = plan_mixture(census_of(SEED, JA_WEB, en_long), cfg(), seed=SEED, shard_target_bytes=MB)
    assert abs(plan.to_jsonable()["groups"]["ja"]["achieved_share"] - 0.8) < 1e-3


def test_multiplier_doubles_the_rate_inside_the_group() -> None:
    plan = plan_mixture(CENSUS, cfg(sources={"ja_wiki": {"multiplier": 2}}, budget=int(4e6)),
                        seed=SEED, shard_target_bytes=MB)
    web, wiki = plan.cell("ja_web", "ja"), plan.cell("ja_wiki", "ja")
    assert wiki.rate == pytest.approx(2 * web.rate, rel=1e-9)
    assert plan.to_jsonable()["groups"]["ja"]["target"] == 3_200_000


def test_budget_all_with_multiplier_uses_wiki_twice() -> None:
    """"Wikipedia twice, web once, 10 % English": budget all."""
    plan = plan_mixture(CENSUS, cfg(groups={"ja": 0.9, "en": 0.1}, sources={"ja_wiki": {"multiplier": 2}}),
                        seed=SEED, shard_target_bytes=MB)
    web, wiki = plan.cell("ja_web", "ja"), plan.cell("ja_wiki", "ja")
    assert web.copies_hist == {"1": web.docs} and wiki.copies_hist == {"2": wiki.docs}
    assert plan.to_jsonable()["groups"]["en"]["achieved_share"] == pytest.approx(0.1, abs=1e-4)


def test_explicit_share_inside_group() -> None:
    plan = plan_mixture(CENSUS, cfg(sources={"ja_wiki": {"share": 0.25, "max_epochs": 3}}, budget=int(5e6)),
                        seed=SEED, shard_target_bytes=MB)
    wiki = plan.cell("ja_wiki", "ja")
    # within a few documents (the rounding error of ja_web is carried into ja_wiki) ...
    assert wiki.achieved == pytest.approx(0.25 * 0.8 * 5e6, rel=5e-3)
    # ... so that the group total is exact to within one small document
    assert plan.groups["ja"].achieved == pytest.approx(0.8 * 5e6, abs=2 * int(max(JA_WIKI["n_tokens"])))
    assert plan.groups["ja"].achieved == pytest.approx(0.8 * 5e6, rel=2e-4)
    with pytest.raises(MixtureConfigError, match="no source of the group has a natural weight"):
        plan_mixture(CENSUS, cfg(groups={"en": 1.0}, sources={"en_web": {"share": 0.5}}), seed=SEED,
                     shard_target_bytes=MB)


def test_upsampling_respects_max_epochs_and_is_exact() -> None:
    en = plan_mixture(CENSUS, cfg(), seed=SEED, shard_target_bytes=MB).cell("en_web", "en")
    budget = int(en.available / 0.2 * 1.5)  # EN must give 1.5x what it has
    sources = {"en_web": {"max_epochs": 2}, "ja_web": {"max_epochs": 4}, "ja_wiki": {"max_epochs": 4}}
    plan = plan_mixture(CENSUS, cfg(budget=budget, sources=sources), seed=SEED, shard_target_bytes=MB)
    c = plan.cell("en_web", "en")
    assert c.full_copies == 1 and 0 < c.extra_bucket < N_BUCKETS
    assert set(c.copies_hist) == {"1", "2"}
    assert c.achieved == pytest.approx(1.5 * c.available, rel=1e-3)
    m = realise(plan, SEED, *ALL)[("en_web", "en")]
    assert m["max"] == 2 and m["tokens"] == c.achieved_tokens


@pytest.mark.parametrize("policy", ["fail", "report", "shrink"])
def test_shortfall_policies(policy: str) -> None:
    en = plan_mixture(CENSUS, cfg(), seed=SEED, shard_target_bytes=MB).cell("en_web", "en")
    budget = int(en.available / 0.2 * 3)  # EN would need 3 epochs, max_epochs is 2
    sources = {"en_web": {"max_epochs": 2}, "ja_web": {"max_epochs": 4}, "ja_wiki": {"max_epochs": 4}}
    c = cfg(budget=budget, on_shortfall=policy, sources=sources)
    if policy == "fail":
        with pytest.raises(MixtureShortfall) as exc:
            plan_mixture(CENSUS, c, seed=SEED, shard_target_bytes=MB)
        msg = str(exc.value)
        assert "group 'en'" in msg and "en_web/en" in msg and "max_epochs=2" in msg and "BINDING" in msg
        assert "on_shortfall: shrink | report" in msg
        return
    plan = plan_mixture(CENSUS, c, seed=SEED, shard_target_bytes=MB)
    cell = plan.cell("en_web", "en")
    assert cell.copies_hist == {"2": cell.docs}  # every document exactly twice, never more
    j = plan.to_jsonable()
    if policy == "report":
        assert j["shortfall"] and "short by" in j["shortfall"][0]
        assert j["groups"]["en"]["shortfall"] == pytest.approx(budget * 0.2 - 2 * cell.available, rel=1e-6)
        assert j["groups"]["en"]["achieved_share"] < 0.2
    else:
        assert j["shortfall"] == [] and j["shrunk_from"] == budget
        assert j["total_target"] < budget
        assert j["groups"]["en"]["achieved_share"] == pytest.approx(0.2, abs=1e-4)


def test_max_fraction_uses_a_keyed_subset() -> None:
    plan = plan_mixture(CENSUS, cfg(groups={"ja": 1.0}, sources={"ja_web": {"max_fraction": 0.5}}),
                        seed=SEED, shard_target_bytes=MB)
    web = plan.cell("ja_web", "ja")
    assert web.usable == pytest.approx(0.5 * web.available, rel=1e-3)
    assert web.achieved == web.usable and 0.4 < web.selected_docs / web.docs < 0.6
    assert "en_web/en" in plan.excluded_cells and plan.cell("en_web", "en").copies_total == 0


def test_group_without_documents_fails_clearly() -> None:
    with pytest.raises(MixtureShortfall, match="group 'zh' has no documents in the pool"):
        plan_mixture(CENSUS, cfg(groups={"ja": 0.9, "zh": 0.1}), seed=SEED, shard_target_bytes=MB)
    with pytest.raises(MixtureShortfall, match="group 'zh'"):
        plan_mixture(CENSUS, cfg(groups={"ja": 0.9, "zh": 0.1}, budget=1000, on_shortfall="fail"),
                     seed=SEED, shard_target_bytes=MB)
    # on_shortfall: report -> an empty mixture that says why (and still N empty shards)
    plan = plan_mixture(CENSUS, cfg(groups={"ja": 0.9, "zh": 0.1}, on_shortfall="report"), seed=SEED,
                        shard_target_bytes=MB)
    assert plan.achieved_total == 0 and "group 'zh' has no documents" in plan.shortfall[0]
    assert plan.num_shards == 8
    empty = plan_mixture({}, cfg(on_shortfall="report"), seed=SEED, shard_target_bytes=MB)
    assert empty.cells == [] and len(empty.shortfall) == 2


def test_plan_is_deterministic_and_seed_dependent() -> None:
    a = plan_mixture(census_of(SEED, *ALL), cfg(), seed=SEED, shard_target_bytes=MB)
    b = plan_mixture(census_of(SEED, *reversed(ALL)), cfg(), seed=SEED, shard_target_bytes=MB)
    assert a.to_jsonable() == b.to_jsonable()
    # a sub-sampled cell (EN here: rate < 1) selects other documents under another seed
    other = plan_mixture(census_of(SEED + 1, *ALL), cfg(), seed=SEED + 1, shard_target_bytes=MB)
    ca, cb = a.cell("en_web", "en"), other.cell("en_web", "en")
    assert ca.rate < 0.95 and cb.rate < 0.95
    sel_a = {i for i in EN_WEB["id"] if ca.copies(bucket_of(select_key(SEED, "en_web", i)))}
    sel_b = {i for i in EN_WEB["id"] if cb.copies(bucket_of(select_key(SEED + 1, "en_web", i)))}
    assert sel_a != sel_b and 0.5 < len(sel_a) / len(sel_b) < 2


def test_census_merges_exactly() -> None:
    whole = census_of(SEED, JA_WEB)[("ja_web", "ja")]
    half = {k: v[:10_000] for k, v in JA_WEB.items()}
    rest = {k: v[10_000:] for k, v in JA_WEB.items()}
    merged = merge_census_dicts([census_of(SEED, rest), census_of(SEED, half)])[("ja_web", "ja")]
    assert merged.summary() == whole.summary()
    assert np.array_equal(merged.hist_tokens, whole.hist_tokens)
    assert int(whole.hist_docs.sum()) == 20_000 and int(whole.hist_tokens.sum()) == whole.tokens


@pytest.mark.parametrize(
    ("shards", "target", "expect"),
    [({"multiple": 8}, 1 << 40, 8), ({"multiple": 8}, MB, None), ({"num_shards": 5}, MB, 5),
     ({"multiple": 3}, 1 << 40, 3)],
)
def test_shard_count(shards, target, expect) -> None:
    plan = plan_mixture(CENSUS, cfg(shards=shards), seed=SEED, shard_target_bytes=target)
    if expect is None:
        est = sum(c.achieved_bytes_est for c in plan.cells)
        assert plan.num_shards % 8 == 0 and plan.num_shards >= est / MB
        assert plan.num_shards - 8 < math.ceil(est / MB)
    else:
        assert plan.num_shards == expect


def test_range_partition_keeps_global_order_for_any_shard_count() -> None:
    keys = sorted(order_key(SEED, "s", f"d{i}", 0) for i in range(5000))
    for n in (1, 7, 8, 64):
        shards = [shard_of(k, n) for k in keys]
        assert shards == sorted(shards) and set(shards) == set(range(n))
    # copies of one document get independent keys
    assert len({order_key(SEED, "s", "d1", j) for j in range(4)}) == 4


def test_source_lang_key_overrides_the_source_entry() -> None:
    mixed = {k: list(JA_WEB[k][:5000]) + list(EN_WEB[k][:5000]) for k in JA_WEB}
    mixed["source"] = ["input"] * 10_000
    census = census_of(SEED, mixed)
    c = cfg(budget=int(census[("input", "en")].tokens / 0.2 * 1.5),
            sources={"input": {"max_epochs": 6}, "input/en": {"max_epochs": 2}}, on_shortfall="report")
    plan = plan_mixture(census, c, seed=SEED, shard_target_bytes=MB)
    assert plan.cell("input", "en").max_epochs == 2 and plan.cell("input", "ja").max_epochs == 6
    assert plan.cell("input", "en").copies_hist.keys() <= {"1", "2"} and not plan.shortfall


@pytest.mark.parametrize("doc_id", ["d1", "", "日本語/ページ?id=3", "a\x1fb", "x" * 300, "\ud800lone"])
@pytest.mark.parametrize("seed", [0, 7, 2**64 - 1, -3])
def test_fast_keys_equal_stable_hash64(doc_id: str, seed: int) -> None:
    """The per-document keys are computed with one xxh3 call; they must stay equal to the
    project's stable_hash64 of the same parts (the documented key derivation)."""
    from corpusflow.core.hashing import stable_hash64
    from corpusflow.mixture.estimate import calibration_key

    assert select_key(seed, "src", doc_id) == stable_hash64("mix.select", "src", doc_id, seed=seed)
    for copy in (0, 1, 12):
        assert order_key(seed, "src", doc_id, copy) == stable_hash64("mix.order", "src", doc_id, copy, seed=seed)
    assert calibration_key(seed, "src", doc_id) == stable_hash64("mix.calibrate", "src", doc_id, seed=seed) / 2**64
