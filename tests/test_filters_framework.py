"""The filter framework: registry and parameter validation, profiles and overrides, chain modes,
the stage config, evaluation metrics, and linear time on pathological text."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from corpusflow.config.load import load_config
from corpusflow.core.document import Document
from corpusflow.core.errors import ConfigError
from corpusflow.filters.base import FILTERS, FilterConfigError
from corpusflow.filters.catalog import build_step
from corpusflow.filters.chain import FilterChain
from corpusflow.filters.config import FilterStageConfig
from corpusflow.filters.evaluate import DropStats, evaluate_chain
from corpusflow.filters.profiles import (
    PROFILE_DIR,
    apply_overrides,
    build_chain,
    flatten_overrides,
    load_profile,
    packaged_profiles,
    parse_profile,
    profile_path,
)
from tests.test_filters_data import abc, builtin_rules, kwdlc, labelled, mc4, wiki

REPO = Path(__file__).resolve().parents[1]
ADULT = "pkg:resources/ngwords/hojichar/adult_keywords_ja.txt"


# --- registry and parameters ------------------------------------------------------------------


def test_unknown_filter_lists_the_known_ones():
    with pytest.raises(FilterConfigError) as e:
        build_step("ja.hiragana_fractoin")
    assert "ja.hiragana_fraction" in str(e.value) and "known filters" in str(e.value)


def test_unknown_or_bad_parameter_lists_the_allowed_ones():
    with pytest.raises(FilterConfigError) as e:
        build_step("ja.hiragana_fraction", {"minimum": 0.3})
    assert "unknown parameter 'minimum'" in str(e.value) and "min (default 0.2)" in str(e.value)
    with pytest.raises(FilterConfigError) as e:
        build_step("ja.hiragana_fraction", {"min": 1.5})
    assert "'min'" in str(e.value)
    with pytest.raises(FilterConfigError):
        build_step("ja.ng_words", {})  # wordlist is required


def test_every_registered_rule_builds_with_defaults_and_has_a_docstring():
    for name in builtin_rules():
        step = build_step(name, {"wordlist": ADULT} if name == "ja.ng_words" else {})
        cls = type(step)
        assert cls.__doc__ and len(cls.__doc__) > 40, name
        assert step.category in {"length", "composition", "sentence", "repetition", "ngword", "content", "url",
                                 "cleaner", "model"}, name
        assert step.kind in {"filter", "transform"}


def test_a_new_rule_plugs_in_as_an_ordinary_registered_filter():
    """A plug-in (e.g. a quality-classifier score) registers, loads in setup(), and is profiled."""
    from corpusflow.filters.base import Failure, Filter, StepParams, above, register

    name = "text.test_plugin_score"
    if name not in FILTERS:

        @register(name)
        class PluginScore(Filter):
            """Test plug-in: a 'model' loaded in setup() scores the share of the letter x."""

            category = "model"
            causes = ("too_high",)

            class Params(StepParams):
                max: float = 0.5

            def setup(self) -> None:
                self.model = lambda t: t.count("x") / max(len(t), 1)

            def measure(self, view):
                return {"": self.model(view.text)}

            def judge(self, s) -> Failure | None:
                return above(s, "", self.params.max, "too_high")

    spec = parse_profile({"name": "p", "filters": [{"name": name, "params": {"max": 0.4}}]})
    chain = build_chain(spec).setup()
    assert chain.run("xxxxy").reason == "text.test_plugin_score.too_high"
    assert chain.run("xyyyy").keep
    # a profile names the module that registers its plug-in rules; a missing module is a config error
    spec = parse_profile({"name": "p", "plugins": ["json"], "filters": [{"name": name}]})
    assert len(build_chain(spec)) == 1
    with pytest.raises(FilterConfigError, match="cannot import plug-in module 'no_such_module_xyz'"):
        build_chain(parse_profile({"name": "p", "plugins": ["no_such_module_xyz"], "filters": []}))


# --- profiles ---------------------------------------------------------------------------------


def test_profiles_have_one_home_and_bare_names_ignore_the_working_directory(tmp_path, monkeypatch):
    names = packaged_profiles()
    assert {"ja_web", "en_web", "ja_llmjp", "ja_swallow", "en_fineweb"} <= set(names)
    assert not (REPO / "configs" / "filters").exists()
    # a file of the same name in the working directory is not picked up by a bare name ...
    (tmp_path / "configs" / "filters").mkdir(parents=True)
    (tmp_path / "configs" / "filters" / "ja_web.yaml").write_text("not: a profile\n")
    monkeypatch.chdir(tmp_path)
    assert profile_path("ja_web") == PROFILE_DIR / "ja_web.yaml"
    # ... but a path is read as given
    assert profile_path("configs/filters/ja_web.yaml") == Path("configs/filters/ja_web.yaml")


@pytest.mark.parametrize("name", ["ja_web", "ja_llmjp", "ja_swallow", "en_web", "en_fineweb"])
def test_every_profile_builds_for_its_language(name):
    prof = load_profile(name)
    lang = prof.spec.languages[0]
    chain = build_chain(prof, lang=lang).setup()
    assert len(chain) >= 5
    # every threshold in a shipped profile is commented with its source
    text = (PROFILE_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.count("#") >= len(prof.spec.filters) // 2


def test_profile_from_installed_package_path_and_pkg_prefix():
    assert load_profile("pkg:filters/profiles/ja_web.yaml").spec.name == "ja_web"
    assert load_profile(str(PROFILE_DIR / "en_web.yaml")).spec.name == "en_web"
    with pytest.raises(FilterConfigError, match="shipped profiles"):
        load_profile("ja_nope")


def test_profile_validation_names_allowed_keys():
    with pytest.raises(FilterConfigError, match="allowed keys"):
        parse_profile({"name": "x", "filters": [{"name": "text.length", "param": {}}]})
    with pytest.raises(FilterConfigError, match="used twice"):
        parse_profile({"name": "x", "filters": [{"name": "text.length"}, {"name": "text.length"}]})
    spec = parse_profile({"name": "x", "filters": [{"name": "text.length"}, {"name": "text.length", "id": "text.length2"}]})
    assert [s.id for s in build_chain(spec).steps] == ["text.length", "text.length2"]


def test_overrides_flat_nested_and_enabled():
    spec = load_profile("ja_web").spec
    flat = flatten_overrides({"ja.hiragana_fraction": {"min": 0.1}}, spec.ids())
    nested = flatten_overrides({"ja": {"hiragana_fraction": {"min": 0.1}}}, spec.ids())
    assert flat == nested == {"ja.hiragana_fraction": {"min": 0.1}}
    new = apply_overrides(spec, {"url.tld_whitelist": {"enabled": True}, "ja.hiragana_fraction": {"min": 0.1}})
    chain = build_chain(new, lang="ja")
    assert "url.tld_whitelist" in [s.id for s in chain.steps]
    assert next(s for s in chain.steps if s.id == "ja.hiragana_fraction").params.min == 0.1
    assert "url.tld_whitelist" not in [s.id for s in build_chain(spec, lang="ja").steps]
    with pytest.raises(FilterConfigError, match="no step 'ja.hiragana'"):
        flatten_overrides({"ja.hiragana": {"min": 0.1}}, spec.ids())


def test_rules_apply_only_to_their_languages():
    spec = parse_profile({"name": "mix", "filters": [{"name": "ja.hiragana_fraction"}, {"name": "en.word_count"}]})
    assert [s.id for s in build_chain(spec, lang="ja").steps] == ["ja.hiragana_fraction"]
    assert [s.id for s in build_chain(spec, lang="en").steps] == ["en.word_count"]
    assert build_chain(spec, lang="de").steps == []


# --- chain modes ------------------------------------------------------------------------------


def test_filter_mode_stops_at_the_first_failure_tag_mode_records_all():
    spec = load_profile("ja_web").spec
    text = mc4("mc4ja-522301139132")  # 選択して下さい北海道青森... : short, kanji list
    f = build_chain(spec, lang="ja").setup().run(text)
    t = build_chain(spec, lang="ja", mode="tag").setup().run(text)
    assert f.reason == "text.length.too_short"
    assert [v.reason for v in f.failures] == ["text.length.too_short"]
    assert t.reason == "text.length.too_short"
    assert [v.reason for v in t.failures] == ["text.length.too_short", "ja.hiragana_fraction.too_low"]
    # tag mode measured every rule; filter mode stopped after the first
    assert "ja.duplicate_sentences" in t.signals and "ja.duplicate_sentences" not in f.signals
    detail = json.loads(f.failures[0].detail())
    assert detail == {"rule": "text.length", "signal": "text.length", "value": len(text), "op": "<", "limit": 200}


def test_transforms_change_the_text_for_later_rules():
    spec = parse_profile({"name": "t", "languages": ["ja"], "filters": [
        {"name": "ja.keep_kana_lines"}, {"name": "ja.japanese_fraction", "params": {"min": 0.9}}]})
    text = "日本語の行です。\nThis English line would lower the Japanese share a lot."
    r = build_chain(spec, lang="ja").setup().run(text)
    assert r.keep and r.changed and r.text == "日本語の行です。"
    assert r.signals["ja.keep_kana_lines.removed_lines"] == 1
    assert r.signals["ja.japanese_fraction"] == 1.0


def test_signal_names_and_values_are_floats():
    r = build_chain("ja_web", lang="ja", mode="tag").setup().run(wiki(0))
    assert r.signals and all(type(v) is float for v in r.signals.values())
    assert all(k.startswith(("ja.", "text.")) for k in r.signals)


# --- stage config -----------------------------------------------------------------------------


def test_stage_config_defaults_and_validation(tmp_path):
    c = FilterStageConfig()
    assert c.enabled is False and c.mode == "filter" and c.profiles == {"ja": "ja_web", "en": "en_web"}
    res = c.resolved_profiles()
    assert res["ja"]["spec"]["name"] == "ja_web" and res["en"]["spec"]["name"] == "en_web"
    with pytest.raises(ValueError, match="allowed parameters: min"):
        FilterStageConfig(overrides={"ja": {"ja.hiragana_fraction": {"mn": 0.1}}})
    with pytest.raises(ValueError, match="no profile configured"):
        FilterStageConfig(overrides={"de": {"x": {}}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nfilters:\n  - name: ja.nope\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown filter 'ja.nope'; known filters: .*ja.hiragana_fraction"):
        FilterStageConfig(profiles={"ja": str(bad)})
    custom = tmp_path / "mine.yaml"
    custom.write_text("name: mine\nfilters:\n  - name: ja.hiragana_fraction\n    params: {min: 0.3}\n",
                      encoding="utf-8")
    c = FilterStageConfig(profiles={"ja": str(custom), "*": "ja_llmjp"})
    assert c.resolved_profiles()["ja"]["spec"]["filters"][0]["params"] == {"min": 0.3}


def test_pipeline_config_with_dotted_cli_override(tmp_path):
    data = {"sources": [{"name": "s", "paths": [str(tmp_path / "x.jsonl")]}],
            "stages": {"filters": {"enabled": True, "mode": "tag"}}}
    cfg = load_config(data=data, overrides=["stages.filters.overrides.ja.ja.hiragana_fraction.min=0.15"],
                      check_inputs=False)
    spec = cfg.stages.filters.resolved_profiles()["ja"]["spec"]
    hira = next(f for f in spec["filters"] if f["name"] == "ja.hiragana_fraction")
    assert hira["params"]["min"] == 0.15
    with pytest.raises(ConfigError, match="stages.filters"):
        load_config(data=data, overrides=["stages.filters.overrides.ja.ja.hiragana_fraction.mn=0.15"],
                    check_inputs=False)


# --- evaluation -------------------------------------------------------------------------------


def test_drop_stats_metrics():
    s = DropStats("r", "content", n_bad=10, n_good=10, bad_dropped=6, good_dropped=2)
    assert (s.precision, s.recall, s.good_drop_rate) == (0.75, 0.6, 0.2)
    assert s.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert s.youden_j == pytest.approx(0.4)
    # "drop everything" on a half-bad set: F1 looks fine, J is 0
    everything = DropStats("all", "x", n_bad=435, n_good=415, bad_dropped=435, good_dropped=415)
    assert everything.f1 == pytest.approx(0.677, abs=0.005) and everything.youden_j == 0.0


def test_evaluate_chain_rows_and_length_exclusion():
    docs = [(mc4("mc4ja-522301139132"), True), (mc4("mc4ja-394240844424"), False), (wiki(0), False)]
    rep = evaluate_chain(build_chain("ja_web", lang="ja"), docs)
    rows = {r.name: r for r in rep.rules}
    assert rows["text.length"].category == "length"
    assert rows["ja.hiragana_fraction"].bad_dropped == 1
    assert rep.whole.n_bad == 1 and rep.whole.n_good == 2
    assert rep.whole_no_length.good_dropped <= rep.whole.good_dropped


@pytest.mark.shared_data
def test_ja_web_beats_llmjp_on_the_labelled_set():
    """Accuracy: ja_web (length rules excluded) beats the llm-jp v1 rules in Youden's J while
    dropping at most 25% of good snippets, on the whole set and on both hash halves."""
    docs = labelled()
    web = evaluate_chain(build_chain("ja_web", lang="ja"), docs, folds=2)
    llmjp = evaluate_chain(build_chain("ja_llmjp", lang="ja"), docs, folds=2)
    assert web.whole_no_length.good_drop_rate <= 0.25
    assert web.whole_no_length.youden_j > llmjp.whole_no_length.youden_j + 0.1
    for (_, w), (_, lj) in zip(web.folds, llmjp.folds, strict=True):
        assert w.youden_j > lj.youden_j
        assert w.good_drop_rate <= 0.25
    # the llm-jp chain as implemented matches the reference figures (J ~0.15, ~37% good dropped)
    assert llmjp.whole.youden_j == pytest.approx(0.15, abs=0.03)
    assert llmjp.whole.good_drop_rate == pytest.approx(0.37, abs=0.03)


def test_eval_filters_command(tmp_path):
    from tests.helpers import run_cli

    labels = tmp_path / "labels.jsonl"
    rows = [{"text": mc4("mc4ja-522301139132"), "y": "spam"}, {"text": mc4("mc4ja-394240844424"), "y": "ok"},
            {"text": kwdlc(0), "y": "ok"}, {"text": mc4("mc4ja-530117569200"), "y": "spam"}]
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "r.json"
    assert run_cli("eval-filters", "--profile", "ja_web", "--labels", labels, "--label-field", "y",
                   "--bad-value", "spam", "--exclude-length", "--folds", "2", "--json", out) == 0
    rep = json.loads(out.read_text())
    for k in ("precision", "recall", "f1", "good_drop_rate", "youden_j"):
        assert isinstance(rep[k], float)
    assert rep["n_bad"] == 2 and rep["n_good"] == 2 and rep["length_rules_excluded"] is True
    assert {r["name"] for r in rep["rules"]} >= {"ja.promo_vocabulary", "text.length"}
    assert len(rep["folds"]) == 2
    # without --json the report is printed and nothing is written (not into the working directory)
    before = sorted(Path.cwd().iterdir())
    assert run_cli("eval-filters", "--profile", "ja_web", "--labels", labels, "--label-field", "y",
                   "--bad-value", "spam", "-q") == 0
    assert sorted(Path.cwd().iterdir()) == before and sorted(tmp_path.iterdir()) == sorted([labels, out])
    assert run_cli("eval-filters", "--profile", "nope", "--labels", labels) == 2
    assert run_cli("eval-filters", "--profile", "ja_web", "--labels", tmp_path / "missing.jsonl") == 2
    assert run_cli("eval-filters", "--profile", "ja_web", "--labels", labels, "--set", "ja.hiragana_fraction.mn=1",
                   "--json", out) == 2


# --- pathological text: linear time, no crash --------------------------------------------------

LINE_5MB = ("日本語のテキストと English words 123 ！？。、 ｗｗ アスパラガス https://x.jp/a " * 80_000)[:5_000_000]
PATHOLOGICAL = {
    "line_5mb": LINE_5MB,
    "repeated_1m": "あ" * 1_000_000,
    "whitespace_only": " \n\t\u3000" * 250_000,
    "empty": "",
}


@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
def test_every_rule_survives_pathological_text(kind):
    text = PATHOLOGICAL[kind]
    for name in builtin_rules():
        step = build_step(name, {"wordlist": ADULT} if name == "ja.ng_words" else {})
        chain = FilterChain([step], mode="tag").setup()
        t0 = time.process_time()
        res = chain.apply(Document(id="p", text=text, source="t", lang="ja", url="https://example.jp/"))
        spent = time.process_time() - t0
        assert all(v == v for v in res.signals.values()), name  # no NaN
        assert spent < 10, f"{name} took {spent:.1f}s on {kind}"


@pytest.mark.parametrize("profile, lang", [("ja_web", "ja"), ("ja_swallow", "ja"), ("en_web", "en")])
def test_profiles_scale_linearly(profile, lang):
    chain = build_chain(profile, lang=lang, mode="tag").setup()
    base = (wiki(3) + "\n" + abc(5) + "\n") if lang == "ja" else (abc(5) + "\n" + wiki(3) + "\n")

    def cost(n: int) -> float:
        text = base * n
        best = float("inf")
        for _ in range(2):
            t0 = time.process_time()
            chain.run(text)
            best = min(best, time.process_time() - t0)
        return best

    small, large = cost(200), cost(2000)
    # 10x the text must cost far less than 100x (quadratic); allow n log n and noise
    assert large < 25 * max(small, 1e-3), (small, large)
