"""DSIR (issue #10): unit splitting, hashed features, fit/save/load, Gumbel top-k, and the Beam
stage on real Japanese/English text — selecting toward Japanese Wikipedia raises its share."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from pydantic import ValidationError

from corpusflow.core.document import Document
from corpusflow.selection.config import DsirStageConfig
from corpusflow.selection.dsir import (
    REASON_NOT_SELECTED,
    REASON_TOO_SHORT,
    DsirModel,
    fit,
    gumbel,
    selection_key,
    top_k,
)
from corpusflow.selection.features import FeatureParams, HashedNgramFeaturizer, split_units
from tests.conftest import read_jsonl
from tests.helpers import run_cli

SEED = 11


# ------------------------------------------------------------------------------------------------
# Units and features
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        # Japanese: one unit per character, never a whole clause (DSIR's wordpunct would give
        # ['今日は良い天気です', '。'])
        ("今日は良い天気です。", ["今", "日", "は", "良", "い", "天", "気", "で", "す", "。"]),
        # English: words and punctuation runs, lower-cased (as wordpunct)
        ("Hello, World!!", ["hello", ",", "world", "!!"]),
        # mixed prose: Japanese characters and English words side by side
        ("React のドキュメント", ["react", "の", "ド", "キ", "ュ", "メ", "ン", "ト"]),
        # NFKC: full-width Latin and digits become ASCII words; ・ separates katakana words
        ("ＡＢＣ２０２４年・テスト", ["abc2024", "年", "・", "テ", "ス", "ト"]),
        # whitespace of any kind (incl. the ideographic space) is never a unit
        ("東京\u3000 大阪\n", ["東", "京", "大", "阪"]),
        ("", []),
    ],
)
def test_split_units(text: str, units: list[str]) -> None:
    assert split_units(text) == units
    assert HashedNgramFeaturizer().n_units(text) == len(units)


def test_feature_counts_and_determinism() -> None:
    f = HashedNgramFeaturizer(FeatureParams(ngrams=3, num_buckets=1000))
    text = "東京都は日本の首都である。Tokyo is the capital of Japan."
    n = f.n_units(text)
    b = f.buckets(text)
    assert b.size == n + (n - 1) + (n - 2)  # unigrams + bigrams + trigrams
    assert b.min() >= 0 and b.max() < 1000
    assert np.array_equal(b, HashedNgramFeaturizer(FeatureParams(ngrams=3, num_buckets=1000)).buckets(text))
    # NFKC: the full-width forms of mC4-style folded text give the same features
    assert np.array_equal(f.buckets("すごい！ＡＢＣ"), f.buckets("すごい!abc"))
    # another hash seed moves the buckets
    g = HashedNgramFeaturizer(FeatureParams(ngrams=3, num_buckets=1000, hash_seed=1))
    assert not np.array_equal(b, g.buckets(text))
    # word order matters for bigrams but not for unigrams
    u1 = HashedNgramFeaturizer(FeatureParams(ngrams=1, num_buckets=1000))
    assert sorted(u1.buckets("犬が猫")) == sorted(u1.buckets("猫が犬"))
    assert sorted(f.buckets("犬が猫")) != sorted(f.buckets("猫が犬"))


def test_fit_save_load_roundtrip(tmp_path: Path) -> None:
    target = ["東京都は日本の首都である。", "大阪府は近畿地方にある府である。"]
    raw = ["激安セール開催中！今すぐクリック", "送料無料でお届けします。"]
    m = fit(target, raw, FeatureParams(num_buckets=512), alpha=0.5)
    assert m.target.docs == 2 and m.raw.docs == 2
    assert m.target_counts.sum() == m.target.features
    path = tmp_path / "m.npz"
    m.save(str(path))
    m2 = DsirModel.load(str(path))
    assert m2.params == m.params and m2.alpha == 0.5
    assert np.array_equal(m2.log_diff, m.log_diff)
    w_t, _ = m2.log_weight("京都府は近畿地方にある府である。")
    w_r, _ = m2.log_weight("今だけ激安セール！送料無料")
    assert w_t is not None and w_r is not None and w_t > 0 > w_r
    # below min_units: no weight
    assert m2.log_weight("東京", min_units=3) == (None, 2)
    with pytest.raises(ValueError, match="not a corpusflow DSIR model"):
        np.savez(tmp_path / "bad.npz", x=np.zeros(3))
        DsirModel.load(str(tmp_path / "bad.npz"))


def test_gumbel_is_keyed_and_order_free() -> None:
    g = [gumbel("s", f"id{i}", SEED) for i in range(20000)]
    assert g[:50] == [gumbel("s", f"id{i}", SEED) for i in range(50)]
    assert g[:50] != [gumbel("s", f"id{i}", SEED + 1) for i in range(50)]
    # standard Gumbel: mean = Euler-Mascheroni constant 0.5772, variance pi^2/6 = 1.645
    assert abs(float(np.mean(g)) - 0.5772) < 0.03
    assert abs(float(np.var(g)) - 1.645) < 0.06
    assert selection_key(2.5, "s", "id1", SEED, "none") == 2.5


def test_gumbel_top_k_samples_in_proportion_to_weight() -> None:
    # Two kinds of documents, weight ratio 3:1 (log 3 apart). Drawing 1 of 2 (one of each kind)
    # picks the heavy one with probability 3/4 under Gumbel-max; with noise=none always.
    trials, heavy = 4000, 0
    for t in range(trials):
        keys = [(selection_key(np.log(3.0), "s", f"h{t}", SEED), f"h{t}"),
                (selection_key(0.0, "s", f"l{t}", SEED), f"l{t}")]
        heavy += f"h{t}" in top_k(keys, 1)
    assert abs(heavy / trials - 0.75) < 0.03
    keys = [(selection_key(w, "s", str(i), SEED, "none"), str(i)) for i, w in enumerate([0.1, 5.0, 3.0, -1.0])]
    assert top_k(keys, 2) == {"1", "2"}
    assert top_k(keys, 0) == set()


def test_config_validation(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one of model"):
        DsirStageConfig.model_validate({"enabled": True, "k": 5})
    with pytest.raises(ValidationError, match="k \\(the number"):
        DsirStageConfig.model_validate({"enabled": True, "fit": {"target": ["pkg:data/sample/ja_wiki.jsonl.gz"],
                                                                 "raw": ["pkg:data/sample/ja_cc.jsonl.gz"]}})
    with pytest.raises(ValidationError, match="model file not found"):
        DsirStageConfig.model_validate({"enabled": True, "k": 5, "model": str(tmp_path / "nope.npz")})
    with pytest.raises(ValidationError, match="no file matches"):
        DsirStageConfig.model_validate({"enabled": True, "k": 5, "fit": {"target": [str(tmp_path / "x*.jsonl")],
                                                                         "raw": ["pkg:data/sample/ja_cc.jsonl.gz"]}})
    with pytest.raises(ValidationError, match="extra"):
        DsirStageConfig.model_validate({"enabled": True, "k": 5, "modle": "x"})
    assert not DsirStageConfig().enabled


# ------------------------------------------------------------------------------------------------
# Selecting toward Japanese Wikipedia from a mixed corpus (real text)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> dict[str, list[str]]:
    wiki = [r["text"] for r in read_jsonl(shared_data / "ja/ja_wiki_paragraphs.jsonl.gz", limit=2600)]
    return {
        "wiki_fit": wiki[:2000],  # the target distribution (never in the pool)
        "wiki": wiki[2000:2200],  # held-out Wikipedia paragraphs hidden in the pool
        # web pages' leads long enough to be weighed (most leads are under 100 characters)
        "web": [t for r in read_jsonl(shared_data / "ja/kwdlc_leads.jsonl")
                if HashedNgramFeaturizer().n_units(t := r["text"]) >= 100][:800],
        "cc": [r["text"] for r in read_jsonl(shared_data / "ja/abeja_cc_ja.jsonl")],
        "en": [r["text"] for r in read_jsonl(shared_data / "en/c4_sample.jsonl.gz", limit=150)],
    }


@pytest.fixture(scope="module")
def pool_docs(corpus: dict[str, list[str]]) -> list[Document]:
    docs = []
    for name, lang in (("wiki", "ja"), ("web", "ja"), ("cc", "ja"), ("en", "en")):
        for i, t in enumerate(corpus[name]):
            docs.append(Document(id=f"{name}-{i}", text=t, source=name, lang=lang, lang_score=0.9))
    return docs


@pytest.fixture(scope="module")
def model(corpus: dict[str, list[str]], tmp_path_factory) -> tuple[DsirModel, str]:
    raw = corpus["wiki"] + corpus["web"] + corpus["cc"]
    m = fit(corpus["wiki_fit"], raw, FeatureParams())
    path = str(tmp_path_factory.mktemp("dsir") / "ja_wiki_vs_web.npz")
    m.save(path)
    return m, path


def _share(ids: list[str] | set[str], prefix: str = "wiki-") -> float:
    return sum(i.startswith(prefix) for i in ids) / max(len(ids), 1)


def test_selection_raises_wikipedia_share(model: tuple[DsirModel, str], pool_docs: list[Document]) -> None:
    m, _ = model
    ja = [d for d in pool_docs if d.lang == "ja"]
    keys = []
    for d in ja:
        w, _ = m.log_weight(d.text, min_units=100)
        if w is not None:
            keys.append((selection_key(w, d.source, d.id, SEED), d.id))
    k = 200
    before = _share([i for _, i in keys])
    sel = top_k(keys, k)
    after = _share(sel)
    print(f"DSIR toward ja Wikipedia: Wikipedia share {before:.3f} of {len(keys)} candidates -> "
          f"{after:.3f} of {len(sel)} selected")
    assert before < 0.25
    assert after > 0.5 and after > 2.5 * before
    # the baseline: a hash sample of the same size keeps the pool's share
    rand = top_k([(gumbel(d.source, d.id, SEED), d.id) for d in ja if d.id in {i for _, i in keys}], k)
    assert _share(rand) < 0.35


# ------------------------------------------------------------------------------------------------
# The Beam stage
# ------------------------------------------------------------------------------------------------


def _stash(items: list, path: str) -> None:
    Path(path).write_text(json.dumps(items, ensure_ascii=False))


def run_stages(docs: list[Document], cfgs: dict[str, dict], out: Path,
               seed: int = SEED) -> dict[str, tuple[list, list, list]]:
    """Run one SelectByImportance per config over ``docs``, all in ONE pipeline (saves time)."""
    from corpusflow.run.rundir import fit_dsir_model
    from corpusflow.stages.dsir import SelectByImportance

    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        pc = p | beam.Create(docs)
        for tag, cfg in cfgs.items():
            stage_cfg = DsirStageConfig.model_validate({"enabled": True, **_seed_free(cfg)})
            res = pc | f"Dsir{tag}" >> SelectByImportance(stage_cfg, cfg.get("seed", seed),
                                                          fit_dsir_model(stage_cfg))
            for name, col, fn in (
                ("kept", res.kept, lambda d: [d.id, d.signals.get("dsir.log_weight")]),
                ("rejected", res.rejected, lambda r: [r.doc.id, r.stage, r.reason, json.loads(r.detail)]),
                ("errors", res.errors, lambda e: [e.doc_id, e.message]),
            ):
                _ = (col | f"Row{tag}{name}" >> beam.Map(fn) | f"List{tag}{name}" >> beam.combiners.ToList()
                     | f"Write{tag}{name}" >> beam.Map(_stash, path=str(out / f"{tag}.{name}.json")))
    return {
        tag: tuple(json.loads((out / f"{tag}.{n}.json").read_text()) for n in ("kept", "rejected", "errors"))
        for tag in cfgs
    }


def _seed_free(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "seed"}


@pytest.fixture(scope="module")
def stage_runs(model, pool_docs, tmp_path_factory):
    out = tmp_path_factory.mktemp("dsir_stage")
    base = {"model": model[1], "k": 150, "languages": ["ja"]}
    runs = run_stages(pool_docs, {"a": base, "seed2": {**base, "seed": SEED + 1}}, out)
    (out / "rev").mkdir()
    rev = run_stages(list(reversed(pool_docs)), {"a": base}, out / "rev")  # another input order
    runs["reversed"] = rev["a"]
    return runs


def test_stage_selects_exactly_k_and_accounts_for_everything(stage_runs, pool_docs, model) -> None:
    kept, rejected, errors = stage_runs["a"]
    assert errors == []
    assert len(kept) + len(rejected) == len(pool_docs)
    ids = {d.id for d in pool_docs}
    assert {k[0] for k in kept} | {r[0] for r in rejected} == ids
    reasons = Counter(r[2] for r in rejected)
    assert set(reasons) <= {REASON_NOT_SELECTED, REASON_TOO_SHORT}
    assert all(r[1] == "dsir" for r in rejected)
    # English is out of scope: all of it passes, unweighed
    en = [k for k in kept if k[0].startswith("en-")]
    assert len(en) == 150 and all(w is None for _, w in en)
    ja_kept = [k for k in kept if not k[0].startswith("en-")]
    assert len(ja_kept) == 150
    # pages under 100 units are rejected as too short
    m, _ = model
    short = {d.id for d in pool_docs if d.lang == "ja" and m.featurizer.n_units(d.text) < 100}
    assert short and {r[0] for r in rejected if r[2] == REASON_TOO_SHORT} == short
    # the detail carries the weight; every not-selected key is below the k-th selected key
    not_sel = [r[3] for r in rejected if r[2] == REASON_NOT_SELECTED]
    assert all(d["key"] <= d["kth_key"] and d["k"] == 150 for d in not_sel)
    # the same documents as the pure-Python Gumbel top-k
    keys = []
    for d in pool_docs:
        if d.lang == "ja" and d.id not in short:
            keys.append((selection_key(m.log_weight(d.text)[0], d.source, d.id, SEED), d.id))
    assert {k[0] for k in ja_kept} == top_k(keys, 150)
    assert _share({k[0] for k in ja_kept}) > 2 * _share([i for _, i in keys])


def test_stage_is_deterministic_and_order_free(stage_runs) -> None:
    assert sorted(stage_runs["reversed"][0]) == sorted(stage_runs["a"][0])
    assert sorted(stage_runs["seed2"][0]) != sorted(stage_runs["a"][0])  # another seed, another sample
    assert len(stage_runs["seed2"][0]) == len(stage_runs["a"][0])


def test_stage_fit_at_launch_noise_none_and_small_pools(corpus, tmp_path: Path) -> None:
    from tests.conftest import write_jsonl

    tgt = write_jsonl(tmp_path / "target.jsonl", [{"text": t} for t in corpus["wiki_fit"][:300]])
    raw = write_jsonl(tmp_path / "raw.jsonl", [{"text": t} for t in corpus["web"][:300] + corpus["cc"]])
    docs = [Document(id=f"{s}-{i}", text=t, source=s, lang="ja")
            for s in ("wiki", "cc") for i, t in enumerate(corpus[s][:20])]
    cfg = {"fit": {"target": [str(tgt)], "raw": [str(raw)]}, "k": 10, "noise": "none", "min_units": 0}
    runs = run_stages(docs, {"top": cfg, "all": {**cfg, "k": 1000}, "none": {**cfg, "k": 0},
                             "cc_only": {**cfg, "sources": ["cc"], "k": 5}}, tmp_path)
    kept, rejected, _ = runs["top"]
    assert len(kept) == 10
    assert min(w for _, w in kept) >= max(r[3]["log_weight"] for r in rejected)  # pure top-k
    # k larger than the candidates: everything is kept; k = 0: nothing
    assert len(runs["all"][0]) == 40 and runs["all"][1] == []
    assert runs["none"][0] == [] and len(runs["none"][1]) == 40
    # sources: only cc competes, wiki passes
    kept = runs["cc_only"][0]
    assert sum(i.startswith("wiki-") for i, _ in kept) == 20 and len(kept) == 25
    # a misspelt source name fails before the job, in validate as in run
    from corpusflow.config.checks import launch_checks
    from corpusflow.config.pipeline import PipelineConfig
    from corpusflow.core.errors import ConfigError

    pcfg = PipelineConfig.model_validate({
        "sources": [{"name": "cc", "paths": ["x.jsonl"]}],
        "stages": {"dsir": {"enabled": True, **cfg, "sources": ["ccc"]}, "mixture": {"enabled": False}}})
    with pytest.raises(ConfigError, match="no pipeline source is called ccc"):
        launch_checks(pcfg)


def test_fit_dsir_command(shared_data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.npz"
    rc = run_cli("fit-dsir", "--target", shared_data / "ja/ja_wiki_paragraphs.jsonl.gz",
                 "--raw", shared_data / "ja/abeja_cc_ja.jsonl", "--out", out, "--max-docs", "500",
                 "--ngrams", "3", "--num-buckets", "4096")
    assert rc == 0
    m = DsirModel.load(str(out))
    assert m.params == FeatureParams(ngrams=3, num_buckets=4096)
    assert m.target.docs == 500 and m.raw.docs == 99
    assert "wrote" in capsys.readouterr().out
    assert run_cli("fit-dsir", "--target", tmp_path / "none*.jsonl", "--raw", out, "--out", out) == 2

