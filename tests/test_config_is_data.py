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
