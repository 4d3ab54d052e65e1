"""Quiet by default: no third-party warnings or Beam INFO without -v; -q on every command;
an unquoted (shell-expanded) glob gets a message saying to quote it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpusflow.cli import COMMANDS, configure_logging, main
from tests.helpers import REPO

DEMO = "pkg:configs/pipelines/demo.yaml"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "corpusflow", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_run_and_mix_are_quiet(tmp_path: Path) -> None:
    run = _cli("run", DEMO, "--output", str(tmp_path / "run"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "apitools" not in run.stderr and "apache_beam" not in run.stderr
    assert "WARNING" not in run.stderr and "INFO corpusflow" in run.stderr  # its own progress lines
    mix = _cli("mix", "pkg:configs/mixtures/ja70_en30.yaml", "--from", str(tmp_path / "run"),
               "--output", str(tmp_path / "mix"), "-q", cwd=tmp_path)
    assert mix.returncode == 0, mix.stderr
    assert mix.stderr == ""
    assert "rows" in mix.stdout
    quiet = _cli("run", DEMO, "--output", str(tmp_path / "run2"), "-q", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


@pytest.mark.parametrize("verbose", [False, True])
def test_third_party_logs_only_with_v(verbose: bool, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(verbose=verbose, quiet=False)
    try:
        logging.getLogger("apache_beam.typehints").info("beam chatter")
        logging.getLogger("apache_beam.io.gcp").warning("apitools not found")
        logging.getLogger("corpusflow.x").info("own line")
        logging.getLogger("apache_beam.x").error("beam error")
        err = capsys.readouterr().err
    finally:
        configure_logging(verbose=False, quiet=False)
    assert "own line" in err and "beam error" in err
    assert ("beam chatter" in err) is verbose and ("apitools" in err) is verbose


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_q_and_v(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "-q" in text and "-v" in text


def test_unquoted_glob_says_to_quote_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = []
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        (tmp_path / name).write_text(json.dumps({"id": name, "text": "x"}) + "\n")
        files.append(str(tmp_path / name))
    for command in (["run", DEMO, "--output", str(tmp_path / "o")], ["validate", DEMO]):
        with pytest.raises(SystemExit) as exc:
            main([*command, "--input", *files])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "unquoted glob" in err and "quote it" in err and files[1] in err
    assert not (tmp_path / "o").exists()


def test_a_closed_stdout_pipe_exits_141_without_a_traceback(tmp_path: Path) -> None:
    """``corpusflow validate CONFIG | head -1``: the reader leaves before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write of the child fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "corpusflow", "validate", DEMO], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=600)
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
