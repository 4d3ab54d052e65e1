"""--overwrite removes only corpusflow run directories, never what is not ours; a run directory
is claimed by one run at a time."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from corpusflow.run.rundir import IN_PROGRESS, LOCK, MANIFEST, prepare_output, release_output

REPO = Path(__file__).resolve().parents[1]


def _files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "proj" / "data").mkdir(parents=True)
    (tmp_path / "proj" / "data" / "in.jsonl").write_text('{"text": "吾輩は猫である。"}\n')
    (tmp_path / "proj" / "notes.txt").write_text("my notes\n")
    monkeypatch.chdir(tmp_path / "proj")
    return tmp_path


@pytest.mark.parametrize(("output", "inputs", "message"), [
    (".", [], "working directory"),
    ("..", [], "working directory"),
    ("data", ["data/in.jsonl"], "contains the input file"),
    ("{home}", [], "home directory"),
    ("/", [], "working directory|filesystem root"),
])
def test_protected_directories_are_refused_even_with_overwrite(work: Path, output: str, inputs: list[str],
                                                               message: str) -> None:
    before = _files(work)
    out = output.format(home=work / "home")
    with pytest.raises(FileExistsError, match=message):
        prepare_output(out, overwrite=True, inputs=inputs)
    assert _files(work) == before


def test_a_directory_that_is_not_a_run_is_never_removed(work: Path) -> None:
    other = work / "proj" / "results"
    other.mkdir()
    (other / "paper.tex").write_text("\\section{Results}\n")
    with pytest.raises(FileExistsError, match="not a corpusflow run directory"):
        prepare_output(str(other), overwrite=True)
    assert (other / "paper.tex").exists()


def test_a_symlinked_output_is_refused(work: Path) -> None:
    real = work / "proj" / "real"
    real.mkdir()
    (work / "proj" / "link").symlink_to(real)
    with pytest.raises(FileExistsError, match="symbolic link"):
        prepare_output("link", overwrite=True)


def test_a_finished_run_is_replaced_and_the_new_run_holds_the_lock(work: Path) -> None:
    run = work / "proj" / "out"
    run.mkdir()
    (run / MANIFEST).write_text("{}")
    (run / "data").mkdir()
    (run / "data" / "old.parquet").write_bytes(b"old")
    prepare_output(str(run), overwrite=True)
    assert sorted(_files(run)) == sorted([IN_PROGRESS, LOCK])
    holder = json.loads((run / LOCK).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    # a second run into the same directory is refused while the first holds it, --overwrite or not
    with pytest.raises(FileExistsError, match="in use by another corpusflow run"):
        prepare_output(str(run), overwrite=True)
    release_output(str(run))
    assert not (run / LOCK).exists()


def test_a_stale_lock_does_not_block_an_overwrite(work: Path) -> None:
    run = work / "proj" / "out"
    run.mkdir()
    (run / IN_PROGRESS).write_text("{}")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (run / LOCK).write_text(json.dumps({"pid": int(dead), "host": socket.gethostname()}))
    prepare_output(str(run), overwrite=True)
    assert json.loads((run / LOCK).read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("command", [
    ["run", str(REPO / "configs/pipelines/demo.yaml"), "--input", "data/*.jsonl", "--output", ".", "--overwrite"],
    ["mix", str(REPO / "configs/mixtures/ja70_en30.yaml"), "--from", "nowhere", "--output", ".", "--overwrite"],
])
def test_the_cli_refuses_to_overwrite_the_working_directory(work: Path, command: list[str]) -> None:
    before = _files(work)
    r = subprocess.run([sys.executable, "-m", "corpusflow", *command], capture_output=True, text=True,
                       cwd=work / "proj", env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 2, r.stderr
    assert "working directory" in r.stderr, r.stderr
    assert _files(work) == before
