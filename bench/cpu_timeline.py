"""CPU use of a run over time, launcher vs Beam workers: where cores sit idle.

    cd /tmp && python /work/main/bench/cpu_timeline.py [--every 2] -- corpusflow run CONFIG --output OUT \\
        --direct_running_mode=multi_processing --direct_num_workers=2

Every ``--every`` seconds prints ``(t, launcher cores, worker cores)``: the CPU seconds each
part of the process tree used in the interval divided by the interval (2.0 = both cores of this
machine busy). A worker's CPU is lost from the sum once it exits, so read the tail with care.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_e2e import _stat_cpu
from measure import process_tree


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=float, default=2.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise SystemExit("give the command after --")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prev: dict[int, float] = {}
    t0 = time.time()
    while p.poll() is None:
        time.sleep(args.every)
        now = {pid: _stat_cpu(pid, children=False) for pid in process_tree(p.pid)}
        delta = {pid: max(0.0, c - prev.get(pid, 0.0)) for pid, c in now.items()}  # 0 if it just exited
        launcher = delta.pop(p.pid, 0.0)
        workers = sum(delta.values())
        prev = now
        print((round(time.time() - t0, 1), round(launcher / args.every, 2), round(workers / args.every, 2)),
              flush=True)
    raise SystemExit(p.returncode)


if __name__ == "__main__":
    main()
