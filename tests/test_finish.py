"""``corpusflow finish OUTPUT`` completes a run whose launcher was SIGKILLed after the job wrote its
stats and before the manifest: the same manifest counts and outputs as an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusflow.commands.run import PAUSE_BEFORE_MANIFEST
from corpusflow.config.load import load_config
from corpusflow.run.rundir import plan_run, prepare_output, save_plan
from tests.helpers import REPO, load_manifest, run_cli

RUN = ["run", "configs/pipelines/demo.yaml", "--progress", "off"]


def _files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "out"
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        assert run_cli(*RUN, "--output", out) == 0
    finally:
        os.chdir(cwd)
    return out


def test_finish_after_the_launcher_was_killed_gives_the_same_manifest(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, PAUSE_BEFORE_MANIFEST: "120", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "corpusflow", *RUN, "--output", str(out)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats = out / "_work" / "stats.json"
    deadline = time.monotonic() + 300
    while not stats.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stats.exists() and proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "manifest.json").exists()
    with pytest.raises(FileExistsError, match=f"corpusflow finish {out}"):  # a new run points to finish
        prepare_output(str(out), overwrite=False)
    assert run_cli("finish", out) == 0
    got, want = load_manifest(out), load_manifest(reference)
    for key in ("counts", "stages", "outputs", "mixture", "config_hash", "inputs", "config", "status"):
        assert got[key] == want[key], key
    assert _files(out) == _files(reference)
    assert not (out / "_IN_PROGRESS").exists() and not (out / "_work" / "spill").exists()
    assert run_cli("finish", out) == 0  # finished already: nothing to do


@pytest.mark.parametrize(
    ("prepare", "code"),
    [
        ("empty", 2),  # not a run directory
        ("no_stats", 1),  # the job never wrote its stats
        ("other_version", 2),  # a plan saved by another corpusflow
    ],
)
def test_finish_refuses(tmp_path: Path, prepare: str, code: int) -> None:
    out = tmp_path / "out"
    (out / "_work").mkdir(parents=True)
    if prepare != "empty":
        plan = plan_run(load_config(str(REPO / "configs/pipelines/demo.yaml")), str(out))
        save_plan(plan, {"runner": "DirectRunner"})
        if prepare == "other_version":
            path = out / "_work" / "plan.json"
            path.write_text(json.dumps({**json.loads(path.read_text()), "corpusflow_version": "0.0.0-other"}))
    assert run_cli("finish", out) == code
    assert not (out / "manifest.json").exists()
