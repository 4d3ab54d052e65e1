"""Resumable runs: the cost of checkpointing, and what a resume saves.

    cd /tmp && flock /tmp/corpusflow-bench.lock python /work/wt-X/bench/bench_resume.py \\
        --corpus /work/benchdata/scale_100k --base /tmp/snap_main --new /work/wt-X [--what full|resume|all]

``--base`` and ``--new`` are code directories (``git -C REPO archive COMMIT | tar -x -C DIR``, or a
work tree); each run is ``python -m corpusflow run configs/pipelines/full_ja80_en20.yaml --input
CORPUS/web/*.jsonl.gz --direct_running_mode=multi_processing --direct_num_workers=2 -q`` (as
bench/bench_e2e.py launches it) with ``PYTHONPATH=CODE``, started from /tmp (multi_processing
workers import ``corpusflow`` from their working directory first).

Measured:

* ``full``: wall seconds and the peak disk use of the output directory (sampled every 0.2 s:
  the sum of the files' allocated blocks, spill and checkpoints included) of one uninterrupted
  run with each code; the extra wall and extra peak disk of ``--new`` over ``--base``.
* ``resume`` (``--new`` only): a run SIGKILLed (the launcher's whole process group) at
  ``--kill-at`` (default 0.70) of the new code's full wall time, then ``corpusflow run ...
  --resume``; the resumed run's wall time as a fraction of a full run, the manifest's
  ``resume`` record (ranges reused / computed), and whether every output Parquet file and the
  manifest counts equal the uninterrupted run's (``_work/`` aside).

Results are appended to ``bench/results/resume.json``. Benchmarks are not tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import FULL_CONFIG, HERE, machine

RESULTS = os.path.join(HERE, "results", "resume.json")
TABLES = ("data", "pool", "rejected", "duplicates", "errors")


def disk_bytes(root: str) -> int:
    """Allocated bytes of every file under ``root`` (0 when it does not exist)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


def output_digest(out: str) -> dict[str, Any]:
    """sha256 of every output Parquet file (relative path + bytes, ``_work/`` aside) and the
    manifest's counts and output shard lists."""
    h = hashlib.sha256()
    files = []
    for table in TABLES:
        d = os.path.join(out, table)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            files.append(f"{table}/{name}")
            h.update(f"{table}/{name}".encode())
            with open(path, "rb") as f:
                h.update(f.read())
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        m = json.load(f)
    return {"sha": h.hexdigest()[:16], "files": len(files), "counts": m["counts"]["total"],
            "stages": m["stages"], "outputs": {k: [(s["file"], s.get("sha256"), s.get("rows"))
                                                   for s in v] for k, v in m["outputs"].items()},
            "resume": m.get("resume")}


def run(code: str, out: str, extra: list[str], *, kill_after: float | None = None) -> dict[str, Any]:
    """One corpusflow run (SIGKILLed after ``kill_after`` seconds when given): wall, peak disk."""
    cmd = [sys.executable, "-m", "corpusflow", "run", FULL_CONFIG, "--input", ARGS.corpus + "/web/*.jsonl.gz",
           "--output", out, "-q", "--direct_running_mode=multi_processing", "--direct_num_workers=2", *extra]
    env = dict(os.environ, PYTHONPATH=code)
    peak = 0
    done = threading.Event()
    timeline: list[tuple[float, float]] = []  # (seconds, MB) every ~2 s

    def sample() -> None:
        nonlocal peak
        last = -10.0
        while not done.is_set():
            now = disk_bytes(out)
            peak = max(peak, now)
            t = time.perf_counter() - t0
            if t - last >= 2.0:
                timeline.append((round(t, 1), round(now / 2**20, 1)))
                last = t
            time.sleep(0.2)

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd="/tmp", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    killed = False
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and every worker it started
            killed = True
    text, _ = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    if killed:  # the workers were in the same session: wait until none is left writing
        time.sleep(1.0)
    elif proc.returncode != 0:
        print(text[-3000:])
        raise SystemExit(f"corpusflow run failed ({proc.returncode})")
    return {"wall_s": round(wall, 2), "peak_disk_mb": round(peak / 2**20, 1), "killed": killed,
            "returncode": proc.returncode, "tail": text[-600:] if killed or kill_after else "",
            "final_disk_mb": round(disk_bytes(out) / 2**20, 1), "disk_timeline_mb": timeline}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/benchdata/scale_100k")
    ap.add_argument("--base", required=True, help="code directory of the reference (main)")
    ap.add_argument("--new", required=True, help="code directory with checkpointing")
    ap.add_argument("--what", choices=("full", "resume", "all"), default="all")
    ap.add_argument("--kill-at", type=float, default=0.70)
    ap.add_argument("--work", default="/tmp/bench_resume")
    ap.add_argument("--note", default="")
    global ARGS
    ARGS = ap.parse_args()
    os.makedirs(ARGS.work, exist_ok=True)
    entry: dict[str, Any] = {"time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                             "corpus": ARGS.corpus, "base": ARGS.base, "new": ARGS.new, "note": ARGS.note,
                             "machine": machine()}
    ref = os.path.join(ARGS.work, "full_new")
    if ARGS.what in ("full", "all"):
        for label, code in (("base", ARGS.base), ("new", ARGS.new)):
            out = os.path.join(ARGS.work, f"full_{label}")
            shutil.rmtree(out, ignore_errors=True)
            entry[f"full_{label}"] = run(code, out, [])
            print(label, entry[f"full_{label}"], flush=True)
        b, n = entry["full_base"], entry["full_new"]
        entry["extra_wall"] = round(n["wall_s"] / b["wall_s"] - 1, 4)
        entry["extra_peak_disk"] = round(n["peak_disk_mb"] / b["peak_disk_mb"] - 1, 4)
        entry["same_bytes_as_base"] = (output_digest(os.path.join(ARGS.work, "full_base"))["sha"]
                                       == output_digest(ref)["sha"])
        shutil.rmtree(os.path.join(ARGS.work, "full_base"), ignore_errors=True)
    if ARGS.what in ("resume", "all"):
        if not os.path.exists(os.path.join(ref, "manifest.json")):
            shutil.rmtree(ref, ignore_errors=True)
            entry["full_new"] = run(ARGS.new, ref, [])
        full = entry.get("full_new") or {}
        full_wall = full.get("wall_s")
        if full_wall is None:  # a reference output from an earlier invocation: time one more run
            tmp = os.path.join(ARGS.work, "full_new_timing")
            shutil.rmtree(tmp, ignore_errors=True)
            full = entry["full_new"] = run(ARGS.new, tmp, [])
            full_wall = full["wall_s"]
            shutil.rmtree(tmp, ignore_errors=True)
        out = os.path.join(ARGS.work, "resumed")
        # Kill at kill_at x the wall of an uninterrupted run; a run that ends before that (the
        # machine got faster) is itself an uninterrupted run: take its wall and try again.
        for _attempt in range(3):
            shutil.rmtree(out, ignore_errors=True)
            killed = run(ARGS.new, out, [], kill_after=ARGS.kill_at * full_wall)
            if killed["killed"]:
                break
            full_wall = killed["wall_s"]
            entry.setdefault("full_walls_seen", []).append(full_wall)
        else:
            entry["resume"] = {"kill_at": ARGS.kill_at, "killed": False, "note": "every run finished before the kill"}
            _append(entry)
            raise SystemExit("every run finished before the kill; run again")
        resumed = run(ARGS.new, out, ["--resume", "--keep-checkpoints"])
        ckdir = os.path.join(out, "_work", "checkpoints")
        sizes: dict[str, float] = {}
        for name in os.listdir(ckdir):
            kind = name.rsplit(".", 2)[-2] if name.endswith(".parquet") else "json"
            sizes[kind] = sizes.get(kind, 0.0) + os.lstat(os.path.join(ckdir, name)).st_blocks * 512 / 2**20
        entry["checkpoint_mb"] = {k: round(v, 1) for k, v in sorted(sizes.items())}
        want, got = output_digest(ref), output_digest(out)
        entry["resume"] = {"kill_at": ARGS.kill_at, "full_wall_s": full_wall, "killed_after_s": killed["wall_s"],
                           "killed": killed["killed"], "disk_at_kill_mb": killed["final_disk_mb"],
                           "resumed_wall_s": resumed["wall_s"],
                           "resumed_fraction_of_full": round(resumed["wall_s"] / full_wall, 4),
                           "manifest_resume": got["resume"],
                           "identical": {k: want[k] == got[k] for k in ("sha", "files", "counts", "stages", "outputs")}}
        print(json.dumps(entry["resume"]), flush=True)
    _append(entry)


def _append(entry: dict[str, Any]) -> None:
    results = []
    if os.path.exists(RESULTS):
        with open(RESULTS, encoding="utf-8") as f:
            results = json.load(f)
    results.append(entry)
    with open(RESULTS, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
