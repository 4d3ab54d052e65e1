"""Interruption: SIGINT / SIGTERM of a real run stop its workers and leave FAILED.json, one line on
stderr and no temporary file; SIGKILL of the launcher leaves no worker behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusflow.run.interrupt import descendants, exit_code, marked_processes, stop_descendants
from tests.helpers import REPO


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, 137)])
def test_exit_code(signum: int, code: int) -> None:
    assert exit_code(signum) == code


def test_stop_descendants_stops_grandchildren() -> None:
    # a shell that starts a sleeping grandchild, as Beam starts its SDK workers
    child = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & wait"])
    deadline = time.monotonic() + 10
    while len(descendants(os.getpid())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = descendants(os.getpid())
    assert child.pid in tree and len(tree) >= 2
    stopped = stop_descendants(grace=2.0)
    assert set(tree) <= set(stopped)
    child.wait(timeout=5)
    assert not [p for p in tree if os.path.exists(f"/proc/{p}") and _state(p) != "Z"]


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return "gone"


def _launch(out: Path, tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "corpusflow", "run", "configs/pipelines/demo.yaml", "--output", str(out),
         "--progress", "off", "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_workers(proc: subprocess.Popen[str], n: int = 2, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [p for p in marked_processes(proc.pid) if p != proc.pid]
        if len(workers) >= n:
            return workers
        time.sleep(0.1)
    raise AssertionError("the run's workers never started")


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if _state(p) not in ("gone", "Z")]
        if not alive:
            break
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_run_cleanly(tmp_path: Path, signum: int) -> None:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    proc = _launch(out, tmp)
    workers = _wait_for_workers(proc)
    time.sleep(1.0)  # the workers are running bundles
    proc.send_signal(signum)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    ours = [ln for ln in stderr.splitlines() if ln.startswith("corpusflow:")]
    assert len(ours) == 1 and signal.Signals(signum).name in ours[0], stderr
    assert "Traceback" not in stderr, stderr
    failed = json.loads((out / "FAILED.json").read_text())
    assert failed["interrupted"]["reason"] == signal.Signals(signum).name and failed["interrupted"]["time"]
    assert not (out / "manifest.json").exists() and not (out / "_work" / "spill").exists()
    assert _wait_gone(workers, 5) == []
    assert list(tmp.iterdir()) == []  # no temporary file outside the run directory


def test_workers_stop_when_the_launcher_is_killed(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _launch(tmp_path / "out", tmp)
    workers = _wait_for_workers(proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert _wait_gone(workers, 15) == []
    assert marked_processes(proc.pid) == []
