"""Run a command and measure wall time and the peak RSS of its whole process tree.

Standard library only (reads /proc), so benchmarks need nothing beyond the package:

    python bench/measure.py -- corpusflow run ... --output OUT
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
MAKE_CORPUS = os.path.join(SHARED, "bench", "make_corpus.py")
FULL_CONFIG = os.path.join(REPO, "configs", "pipelines", "full_ja80_en20.yaml")


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid``: Beam's FnApiRunner starts its multi_processing SDK
    workers from a non-main thread, and /proc/PID/task/PID/children lists only the main thread's."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    return out


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (every thread's children, see :func:`_children`)."""
    out: list[int] = []
    stack, seen = [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        stack.extend(_children(pid))
    return out


def _tree_rss_bytes(root: int) -> int:
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except OSError:
            continue
    return total


def run_measured(cmd: list[str], *, interval: float = 0.1, env: dict | None = None,
                 capture: bool = True) -> dict:
    """Run ``cmd``; return wall seconds, peak tree RSS (MB), exit code and output tail."""
    import resource

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.STDOUT if capture else None, env=env, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(proc.pid))
            time.sleep(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, _ = proc.communicate()
    done.set()
    t.join()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
        "cmd": cmd,
        "returncode": proc.returncode,
        "wall_s": round(time.perf_counter() - start, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        "output_tail": (out or "")[-3000:],
    }


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        with open("/proc/meminfo") as f:
            info["mem_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        info["load_1m_before"] = os.getloadavg()[0]
    except OSError:
        pass
    return info


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    print(json.dumps(run_measured(args, capture=False), indent=2))
