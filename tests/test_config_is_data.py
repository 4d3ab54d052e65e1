"""A config is data: it cannot run code unless asked, nor exhaust memory through YAML aliases."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from corpusflow.config.load import load_config
from corpusflow.config.yamlsafe import load_yaml
from corpusflow.core.errors import ConfigError

SAMPLE = "pkg:data/sample/ja_wiki.jsonl.gz"
BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
                 + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]) + "\n"


def _cfg(tmp_path: Path, extra: str = "") -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(f"sources:\n  - name: wiki\n    paths: [\"{SAMPLE}\"]\n{extra}")
    return p


def test_an_alias_bomb_is_refused_quickly_and_small() -> None:
    assert len(BOMB) < 1500
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="alias"):
        load_yaml(BOMB, "bomb.yaml")
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize(("text", "message"), [
    ("a: " + "[" * 100 + "]" * 100 + "\n", "nested more than"),
    ("x: " + "y" * (1 << 20) + "\n", "KiB"),
    ("a: [1, 2\n", "not valid YAML"),
])
def test_yaml_limits(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_yaml(text, "c.yaml")


def test_ordinary_anchors_still_work() -> None:
    data = load_yaml("base: &b {min: 0.2}\nja: *b\nen: *b\n", "c.yaml")
    assert data == {"base": {"min": 0.2}, "ja": {"min": 0.2}, "en": {"min": 0.2}}


def test_plugins_need_explicit_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a module beside the config that would leave a trace if it were ever imported
    (tmp_path / "evil_plugin.py").write_text(f"open({str(tmp_path / 'RAN')!r}, 'w').write('x')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = _cfg(tmp_path, "plugins: [evil_plugin]\n")
    with pytest.raises(ConfigError, match="--allow-plugins"):
        load_config(cfg)                                   # run without --allow-plugins
    load_config(cfg, plugins="skip")                       # validate: checks the rest, imports nothing
    with pytest.raises(ConfigError, match="beside the config"):
        load_config(cfg, plugins="import")                 # even allowed: not a file beside the config
    assert not (tmp_path / "RAN").exists()
    load_config(_cfg(tmp_path, "plugins: [json]\n"), plugins="import")   # an installed module is fine


def test_error_messages_do_not_echo_the_whole_input(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "seed: [" + ", ".join(["1"] * 5000) + "]\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert "seed" in str(err.value) and len(str(err.value)) < 1000


def _profile_with_plugin(tmp_path: Path, module: str) -> Path:
    """A user filter profile that lists a plug-in module registering one rule, and a config
    using it. The module leaves a file RAN when imported."""
    plugdir = tmp_path / "plugs"
    plugdir.mkdir()
    (plugdir / f"{module}.py").write_text(
        f"open({str(tmp_path / 'RAN')!r}, 'w').write('x')\n"
        "from typing import ClassVar\n"
        "from corpusflow.filters.base import Filter, register, above\n"
        f"@register('text.{module}_len')\n"
        "class _Len(Filter):\n"
        "    category: ClassVar[str] = 'composition'\n"
        "    causes = ('too_long',)\n"
        "    def measure(self, view):\n"
        "        return {'': float(len(view.text))}\n"
        "    def judge(self, s):\n"
        "        return above(s, '', 10_000.0, 'too_long')\n")
    prof = tmp_path / "profiles" / "ja_custom.yaml"
    prof.parent.mkdir()
    prof.write_text(f"name: ja_custom\nplugins: [{module}]\nfilters:\n"
                    f"  - name: ja.hiragana_fraction\n  - name: text.{module}_len\n")
    return _cfg(tmp_path, "stages:\n  filters:\n    enabled: true\n"
                          "    profiles: {ja: profiles/ja_custom.yaml, en: en_web}\n")


@pytest.mark.parametrize("module", ["cf_profile_plugin_a"])
def test_plugins_listed_in_a_filter_profile_need_explicit_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    cfg = _profile_with_plugin(tmp_path, module)
    monkeypatch.syspath_prepend(str(tmp_path / "plugs"))
    with pytest.raises(ConfigError) as err:                # run without --allow-plugins
        load_config(cfg)
    msg = str(err.value)
    assert "--allow-plugins" in msg and "ja_custom.yaml" in msg and module in msg and "profiles.ja" in msg
    assert not (tmp_path / "RAN").exists()
    validated = load_config(cfg, plugins="skip")           # validate: the rest is checked, nothing imported
    assert not (tmp_path / "RAN").exists()
    assert validated.stages.filters.resolved_profiles()["ja"]["spec"]["plugins"] == [module]
    prof = tmp_path / "profiles" / "ja_custom.yaml"
    good = prof.read_text()
    prof.write_text(good.replace("  - name: ja.hiragana_fraction\n", "  - name: ja.hiragana_fraction\n"
                                 "    params: {no_such_param: 1}\n"))
    with pytest.raises(ConfigError, match="no_such_param"):  # the registered rules are still checked
        load_config(cfg, plugins="skip")
    assert not (tmp_path / "RAN").exists()
    prof.write_text(good)
    loaded = load_config(cfg, plugins="import")            # run --allow-plugins: imported, rule registered
    assert (tmp_path / "RAN").exists()
    from corpusflow.filters.base import FILTERS
    from corpusflow.steps.filters import build_chains
    assert f"text.{module}_len" in FILTERS.names()
    chains = build_chains(loaded.stages.filters.resolved_profiles(), "filter")
    assert len(chains["ja"]) == 2


def test_a_profile_plugin_beside_the_profile_is_refused_even_when_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _profile_with_plugin(tmp_path, "cf_profile_plugin_b")
    (tmp_path / "plugs" / "cf_profile_plugin_b.py").rename(tmp_path / "profiles" / "cf_profile_plugin_b.py")
    monkeypatch.syspath_prepend(str(tmp_path / "profiles"))
    with pytest.raises(ConfigError, match="beside the config"):
        load_config(cfg, plugins="import")
    assert not (tmp_path / "RAN").exists()


def test_validate_command_never_imports_a_profile_plugin(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cfg = _profile_with_plugin(tmp_path, "cf_profile_plugin_c")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "plugs"), os.getcwd()]))
    args = [sys.executable, "-m", "corpusflow"]
    out = subprocess.run([*args, "validate", str(cfg)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "lists plugins cf_profile_plugin_c: not imported" in out.stdout
    assert not (tmp_path / "RAN").exists()
    out = subprocess.run([*args, "run", str(cfg), "--output", str(tmp_path / "out")], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 2 and "cf_profile_plugin_c" in out.stderr and "--allow-plugins" in out.stderr
    assert not (tmp_path / "RAN").exists() and not (tmp_path / "out").exists()
