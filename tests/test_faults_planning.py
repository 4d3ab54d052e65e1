"""Input planning: real paths de-duplicated, symlink loops refused, unreadable files and folders
reported, unsupported formats refused at launch with the supported list (exit 2, nothing read)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from corpusflow.io.config import SourceConfig
from corpusflow.io.filesystems import InputPlanError, expand_local_glob, lz4_available, scan_local_pattern
from corpusflow.io.readers import plan_files
from tests.helpers import run_cli

DEMO = Path(__file__).resolve().parents[1] / "configs" / "pipelines" / "demo.yaml"


def _jsonl(path: Path, n: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": f"{path.name}{i}", "text": "本文です。"}) + "\n" for i in range(n)))
    return path


def _plan(pattern: str, name: str = "s") -> list:
    import glob

    files = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    return plan_files([SourceConfig(name=name, paths=[pattern])], {name: files})


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    _jsonl(tmp_path / "d" / "a.jsonl")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    pattern = str(tmp_path / "d" / "**" / "*.jsonl")
    with pytest.raises(InputPlanError, match="symlink loop"):
        _plan(pattern)
    with pytest.raises(InputPlanError, match="symlink loop"):
        expand_local_glob(pattern)


def test_same_file_under_several_spellings_is_planned_once(tmp_path: Path) -> None:
    a = _jsonl(tmp_path / "d" / "a.jsonl")
    os.symlink(a, tmp_path / "d" / "b.jsonl")  # a second name for the same file
    os.symlink(tmp_path / "d", tmp_path / "alias")  # and a second folder name
    src = SourceConfig(name="s", paths=[str(tmp_path / "d" / "*.jsonl"), str(tmp_path / "alias" / "a.jsonl")])
    files = [str(a), str(tmp_path / "d" / "b.jsonl"), str(tmp_path / "alias" / "a.jsonl"),
             str(tmp_path / "d" / ".." / "d" / "a.jsonl")]
    assert [s.path for s in plan_files([src], {"s": files})] == [str(a)]
    assert expand_local_glob(str(tmp_path / "d" / "*.jsonl")) == [str(a)]


def test_same_file_in_two_sources_is_refused(tmp_path: Path) -> None:
    a = _jsonl(tmp_path / "a.jsonl")
    sources = [SourceConfig(name="x", paths=[str(a)]), SourceConfig(name="y", paths=[str(a)])]
    with pytest.raises(InputPlanError, match="read by sources 'x' and 'y'"):
        plan_files(sources, {"x": [str(a)], "y": [str(a)]})


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("notes.txt", "unsupported input format; supported: JSONL"),
        ("data.csv.gz", "unsupported input format"),
        ("crawl.warc.bz2", "WARC/WET files can only be read plain or gzipped"),
        ("table.parquet.gz", "compressed Parquet"),
    ]
    + ([] if lz4_available() else [("part.jsonl.lz4", "needs the lz4 package")]),
)
def test_unsupported_inputs_are_refused_with_the_supported_list(tmp_path: Path, name: str, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(InputPlanError, match=match) as info:
        _plan(str(path))
    assert ".zst" in str(info.value) or "supported" not in match


def test_unreadable_folder_and_file_are_reported(tmp_path: Path, monkeypatch) -> None:
    """Root reads everything, so the denial is simulated where the planner asks the OS."""
    _jsonl(tmp_path / "ok" / "a.jsonl")
    _jsonl(tmp_path / "locked" / "b.jsonl")
    real_scandir, real_access = os.scandir, os.access

    def scandir(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert any("cannot list folder" in p and "locked" in p for p in scan_local_pattern(str(tmp_path / "*" / "*.jsonl")))
    with pytest.raises(InputPlanError, match="cannot list folder"):
        expand_local_glob(str(tmp_path / "*" / "*.jsonl"))
    monkeypatch.setattr(os, "scandir", real_scandir)
    monkeypatch.setattr(os, "access", lambda p, mode: not str(p).endswith("a.jsonl") and real_access(p, mode))
    with pytest.raises(InputPlanError, match="a.jsonl: not readable"):
        _plan(str(tmp_path / "ok" / "*.jsonl"))


def test_run_refuses_at_launch_with_exit_2(tmp_path: Path, capsys) -> None:
    _jsonl(tmp_path / "in" / "a.jsonl")
    (tmp_path / "in" / "b.txt").write_text("not an input\n")
    out = tmp_path / "out"
    assert run_cli("run", str(DEMO), "--input", str(tmp_path / "in" / "*"), "--output", str(out), "-q") == 2
    err = capsys.readouterr().err
    assert "b.txt: unsupported input format" in err and ".jsonl" in err
    assert not out.exists()  # nothing was read or written


def test_zero_byte_compressed_file_is_an_empty_input(tmp_path: Path) -> None:
    for ext in (".jsonl.gz", ".jsonl.zst", ".jsonl.xz", ".jsonl.bz2"):
        (tmp_path / f"e{ext}").write_bytes(b"")
    specs = _plan(str(tmp_path / "*"))
    assert len(specs) == 4 and {s.format for s in specs} == {"jsonl"}
