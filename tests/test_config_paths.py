"""Relative paths in a config file are relative to the file's folder; ``--input`` to the cwd."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from corpusflow.cli import main
from corpusflow.config.load import load_config
from tests.helpers import REPO


def _config(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "a.jsonl").write_text(json.dumps({"id": "a1", "text": "hello"}) + "\n")
    path = folder / "pipe.yaml"
    path.write_text(body, encoding="utf-8")
    return path


BODY = """\
name: rel
sources:
  - name: s
    paths: ["data/*.jsonl", "pkg:data/sample/ja_wiki.jsonl.gz"]
stages:
  langid: {model: "models/lid.ftz"}
  filters: {profiles: {ja: ja_web, en: "profiles/mine.yaml"}}
  mixture: {tokenizer: llm-jp-v3.1}
"""


def test_relative_paths_follow_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = _config(tmp_path / "cfgdir", BODY)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    import yaml

    from corpusflow.config.load import rebase_paths

    data = yaml.safe_load(cfg_file.read_text())
    rebase_paths(data, cfg_file.parent)
    base = str(cfg_file.parent)
    assert data["sources"][0]["paths"] == [os.path.join(base, "data/*.jsonl"), "pkg:data/sample/ja_wiki.jsonl.gz"]
    assert data["stages"]["langid"]["model"] == os.path.join(base, "models/lid.ftz")
    assert data["stages"]["filters"]["profiles"] == {"ja": "ja_web", "en": os.path.join(base, "profiles/mine.yaml")}
    assert data["stages"]["mixture"]["tokenizer"] == "llm-jp-v3.1"


def test_run_from_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg_file = _config(tmp_path / "cfgdir", "name: rel\nsources:\n  - {name: s, paths: [\"data/*.jsonl\"]}\n")
    monkeypatch.chdir(tmp_path)  # data/*.jsonl does not exist here, only next to the config
    cfg = load_config(str(cfg_file))
    assert cfg.sources[0].paths == [str(tmp_path / "cfgdir" / "data" / "*.jsonl")]
    assert main(["validate", str(cfg_file)]) == 0
    assert "source s: 1 file(s)" in capsys.readouterr().out
    # --input globs stay relative to the working directory
    (tmp_path / "mine.jsonl").write_text(json.dumps({"id": "m1", "text": "x"}) + "\n")
    cfg = load_config(str(cfg_file), inputs=["mine.jsonl"])
    assert cfg.sources[0].paths == ["mine.jsonl"]


@pytest.mark.parametrize("name", ["demo", "langid_only", "dedup_only", "full_ja80_en20"])
def test_shipped_configs_validate_from_any_folder(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(str(REPO / "configs" / "pipelines" / f"{name}.yaml")).name
    assert load_config(f"pkg:configs/pipelines/{name}.yaml").name
