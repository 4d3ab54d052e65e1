"""Config validation: clear errors naming the key and the allowed values; overrides; paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from corpusflow.config.load import apply_overrides, load_config
from corpusflow.core.errors import ConfigError
from corpusflow.core.paths import resolve_path
from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "pipelines" / "demo.yaml"


def _base(tmp_path: Path) -> dict:
    f = tmp_path / "in.jsonl"
    f.write_text('{"id": "a", "text": "これはテストです。"}\n', encoding="utf-8")
    return {"sources": [{"name": "s", "paths": [str(f)]}]}


def test_demo_config_is_valid() -> None:
    cfg = load_config(DEMO)
    assert [s.name for s in cfg.sources][:2] == ["ja_wiki", "ja_cc"]
    assert cfg.stages.normalize.unicode_form == "NFC"


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"stages": {"langid": {"min_scor": 0.3}}}, "stages.langid.min_scor: unknown key; allowed keys here: enabled, mode"),
        ({"stages": {"normalize": {"unicode_form": "NFD"}}}, "stages.normalize.unicode_form: 'NFD' is not allowed; allowed values: 'NFC', 'NFKC' or 'none'"),
        ({"stages": {"langid": {"min_score": "high"}}}, "stages.langid.min_score:"),
        ({"stages": {"langid": {"min_score": 1.5}}}, "stages.langid.min_score:"),
        ({"output": {"compression": "lzma"}}, "output.compression: 'lzma' is not allowed"),
        ({"bogus": 1}, "bogus: unknown key; allowed keys here: name, plugins, seed, sources"),
        ({"sources": [{"name": "x y", "paths": ["a"]}]}, "sources.0.name"),
        ({"sources": [{"name": "s", "paths": ["a"], "format": "csv"}]}, "sources.0.format: 'csv' is not allowed"),
    ],
)
def test_validation_messages_name_the_key(tmp_path: Path, patch: dict, needle: str) -> None:
    data = _base(tmp_path)
    data.update(patch)
    with pytest.raises(ConfigError) as exc:
        load_config(data=data)
    assert needle in str(exc.value)


def test_missing_input_files_are_named(tmp_path: Path) -> None:
    data = {"sources": [{"name": "web", "paths": [str(tmp_path / "nothing-*.jsonl.gz")]}]}
    with pytest.raises(ConfigError, match=r"sources\.0\.paths\.0: no file matches .*nothing-\*"):
        load_config(data=data)


def test_duplicate_source_names(tmp_path: Path) -> None:
    data = _base(tmp_path)
    data["sources"].append(dict(data["sources"][0]))
    with pytest.raises(ConfigError, match="used twice"):
        load_config(data=data)


def test_overrides_are_typed_and_dotted(tmp_path: Path) -> None:
    data = _base(tmp_path)
    cfg = load_config(data=data, overrides=["stages.langid.min_score=0.8", "stages.langid.languages=[ja]",
                                            "sources.s.priority=3", "output.row_group_rows=5"])
    assert cfg.stages.langid.min_score == 0.8
    assert cfg.stages.langid.languages == ["ja"]
    assert cfg.sources[0].priority == 3
    assert cfg.output.row_group_rows == 5


def test_override_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["stages.langid.min_score"])
    with pytest.raises(ConfigError, match="no item named 'nope'"):
        load_config(data=_base(tmp_path), overrides=["sources.nope.priority=1"])
    with pytest.raises(ConfigError, match="stages.langid.min_scor: unknown key"):
        load_config(data=_base(tmp_path), overrides=["stages.langid.min_scor=1"])


def test_input_flag_replaces_sources(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text('{"text": "hello"}\n')
    cfg = load_config(DEMO, inputs=[str(tmp_path / "*.jsonl")])
    assert [s.name for s in cfg.sources] == ["input"]
    # per-source mixture settings of the replaced sources no longer apply
    assert "ja_wiki" not in cfg.stages.mixture.model_dump()["sources"]


def test_pkg_paths_resolve_inside_the_package() -> None:
    path = resolve_path("pkg:resources/lid.176.ftz")
    assert os.path.isfile(path)


def test_yaml_is_parsed_safely(tmp_path: Path) -> None:
    bad = tmp_path / "evil.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['echo pwned']\nsources: []\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.parametrize("command", ["run", "validate"])
def test_cli_config_errors_exit_2_and_write_nothing(tmp_path: Path, command: str, capsys) -> None:
    cfg = tmp_path / "bad.yaml"
    data = _base(tmp_path)
    data["stages"] = {"langid": {"min_scor": 0.3}}
    cfg.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    args = [command, str(cfg)] + (["--output", str(out)] if command == "run" else [])
    assert run_cli(*args) == 2
    assert "stages.langid.min_scor: unknown key" in capsys.readouterr().err
    assert not out.exists()


def test_cli_validate_ok(capsys) -> None:
    assert run_cli("validate", str(DEMO)) == 0
    assert "config OK" in capsys.readouterr().out


def test_impossible_mixture_and_broken_tokenizer_are_config_errors(tmp_path: Path) -> None:
    data = _base(tmp_path)
    data["stages"] = {"mixture": {"enabled": True, "groups": {"ja": 0.5, "zh": 0.5}}}
    with pytest.raises(ConfigError, match="stages.mixture.groups.zh"):
        load_config(data=data)
    bad = tmp_path / "broken.model"
    bad.write_bytes(b"not a sentencepiece model")
    data["stages"] = {"mixture": {"enabled": True, "groups": {"ja": 1.0},
                                  "tokenizer": {"kind": "sentencepiece", "path": str(bad)}}}
    with pytest.raises(ConfigError, match="stages.mixture.tokenizer: cannot load"):
        load_config(data=data)


@pytest.mark.parametrize(("param", "value"), [
    ("ordinary_words", "pkg:filters/wordlists/no_such_list.txt"),
    ("address_words", "/no/such/address_words.txt"),
])
def test_missing_filter_word_list_is_a_config_error(tmp_path: Path, param: str, value: str) -> None:
    """A word list a filter rule names must exist before any data is read, not fail the job on a
    worker (the list parameters of config.checks.FILTER_LIST_PARAMS)."""
    prof = yaml.safe_load((REPO / "corpusflow/filters/profiles/ja_web.yaml").read_text(encoding="utf-8"))
    for rule in prof["filters"]:
        if rule["name"] == "ja.promo_vocabulary":
            rule["params"][param] = value
    path = tmp_path / "ja_custom.yaml"
    path.write_text(yaml.safe_dump(prof, allow_unicode=True), encoding="utf-8")
    data = _base(tmp_path)
    data["stages"] = {"filters": {"enabled": True, "profiles": {"ja": str(path)}}}
    with pytest.raises(ConfigError, match=f"filter ja.promo_vocabulary {param}: file not found"):
        load_config(data=data)


def test_worker_paths_list_the_promo_word_lists() -> None:
    from corpusflow.config.checks import worker_paths

    keys = [k for k, _ in worker_paths(load_config(DEMO))]
    assert any(k.endswith("ja.promo_vocabulary ordinary_words") for k in keys)
