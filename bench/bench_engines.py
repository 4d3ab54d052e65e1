"""The same corpus on local multi_processing x2, a Spark standalone cluster (2 workers) and Flink.

    flock /tmp/corpusflow-bench.lock python bench/bench_engines.py \\
        --corpus /work/benchdata/scale_25k [--engines local,spark,flink,spark_external,flink_external] [--tag NAME]

For each engine: wall seconds, documents per second (input documents / wall), CPU seconds and the
peak memory (sum of RSS, sampled every 0.1 s) of the whole process tree: the launcher with its
children (job-server JVM, SDK workers) and, for Spark, the cluster's master and worker JVMs with
their executors (they are not the launcher's children; their CPU is the sum over each process'
last sampled utime+stime). Every output file is compared with the local run's (sha256). Needs
engines/fetch.sh; starts and stops its own Spark cluster on free ports. Results go to
bench/results/engines_<tag>.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from measure import machine, process_tree  # noqa: E402

FULL = REPO / "configs" / "pipelines" / "full_ja80_en20.yaml"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_sample(pid: int) -> tuple[int, float] | None:
    """(RSS bytes, CPU seconds) of one process from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return rss, (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, IndexError, ValueError):
        return None


def run_measured(cmd: list[str], extra_roots: list[int], log: Path) -> dict[str, Any]:
    """Run ``cmd``; peak RSS and CPU of its tree plus the trees under ``extra_roots``."""
    base_cpu: dict[int, float] = {}
    for root in extra_roots:  # CPU the cluster daemons had used before this run
        for pid in process_tree(root):
            s = _proc_sample(pid)
            if s:
                base_cpu[pid] = s[1]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    peak = 0
    cluster_cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            for pid in process_tree(proc.pid):
                s = _proc_sample(pid)
                total += s[0] if s else 0
            for root in extra_roots:
                for pid in process_tree(root):
                    s = _proc_sample(pid)
                    if s:
                        total += s[0]
                        cluster_cpu[pid] = s[1] - base_cpu.get(pid, 0.0)
            peak = max(peak, total)
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    proc.wait()
    done.set()
    t.join()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    launcher_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"returncode": proc.returncode, "wall_s": round(time.perf_counter() - start, 2),
            "cpu_s": round(launcher_cpu + sum(cluster_cpu.values()), 1),
            "cpu_launcher_s": round(launcher_cpu, 1), "cpu_cluster_s": round(sum(cluster_cpu.values()), 1),
            "peak_rss_mb": round(peak / 2**20, 1)}


def file_hashes(out: Path) -> dict[str, str]:
    """sha256 of every output file but the run's bookkeeping (the manifest and _work/ name the runner)."""
    found = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and rel != "manifest.json" and not rel.startswith("_work/"):
            found[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


class SparkCluster:
    """engines/spark-cluster.sh on free ports, in a scratch directory."""

    def __init__(self, scratch: Path) -> None:
        self.master, self.webui = _free_port(), _free_port()
        self.env = dict(os.environ, CORPUSFLOW_SPARK_CLUSTER=str(scratch / "spark-cluster"),
                        CORPUSFLOW_SPARK_MASTER_PORT=str(self.master),
                        CORPUSFLOW_SPARK_WEBUI_PORT=str(self.webui), CORPUSFLOW_SPARK_WORKERS="2")
        self.pid_dir = scratch / "spark-cluster" / "pids"
        self.url = f"spark://127.0.0.1:{self.master}"

    def __enter__(self) -> SparkCluster:
        subprocess.run([str(REPO / "engines" / "spark-cluster.sh"), "start"], env=self.env, check=True,
                       capture_output=True, timeout=300)
        return self

    def pids(self) -> list[int]:
        return [int(p.read_text().strip()) for p in sorted(self.pid_dir.glob("*.pid"))]

    def __exit__(self, *exc: object) -> None:
        subprocess.run([str(REPO / "engines" / "spark-cluster.sh"), "stop"], env=self.env,
                       capture_output=True, timeout=120)


class WorkerPool:
    """Beam's ``worker_pool_main``: starts one SDK worker process per request of the runner.

    Started from the repository so its workers import this checkout's corpusflow."""

    def __init__(self, log: Path) -> None:
        self.port, self.log = _free_port(), log

    def __enter__(self) -> WorkerPool:
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                 f"--service_port={self.port}"], cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)
        raise TimeoutError(f"worker pool not listening on {self.port}: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="a make_corpus build (DIR/web/*.jsonl.gz)")
    ap.add_argument("--engines", default="local,spark,flink")
    ap.add_argument("--work", default="/tmp/corpusflow-bench-engines")
    ap.add_argument("--tag", default="25k")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    docs = json.loads((Path(args.corpus) / "truth" / "summary.json").read_text())["docs"]
    base = [sys.executable, "-m", "corpusflow", "run", str(FULL), "--input",
            str(Path(args.corpus) / "web" / "*.jsonl.gz"), "--overwrite", "-q"]
    # Spark and Flink run on this machine, so their workers see the local input and output: said
    # with --shared_filesystem=true (the launch check refuses local paths otherwise); transforms then
    # hand data over through local run files, as a cluster with a shared disk (NFS...) would.
    flags = {
        "local": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
        "spark": ["--runner", "SparkRunner", "--shared_filesystem=true"],
        "flink": ["--runner", "FlinkRunner", "--flink_master=[local]", "--parallelism=2", "--shared_filesystem=true"],
    }
    # The same with EXTERNAL SDK workers: separate Python processes from a worker pool (as on a
    # multi-machine cluster) instead of LOOPBACK threads in the launcher.
    flags["spark_external"] = flags["spark"]
    flags["flink_external"] = flags["flink"]
    results: dict[str, Any] = {"machine": machine(), "corpus": args.corpus, "docs": docs, "runs": {}}
    ref: dict[str, str] | None = None
    for name in args.engines.split(","):
        out = work / f"out-{name}"
        cmd = [*base, "--output", str(out), *flags[name]]
        with contextlib.ExitStack() as stack:
            roots: list[int] = []
            if name.endswith("_external"):
                pool = stack.enter_context(WorkerPool(work / f"{name}-pool.log"))
                cmd += ["--environment_type=EXTERNAL", f"--environment_config=localhost:{pool.port}"]
                roots.append(pool.proc.pid)
            if name.startswith("spark"):
                cluster = stack.enter_context(SparkCluster(work))
                cmd.append(f"--spark_master_url={cluster.url}")
                roots += cluster.pids()
            r = run_measured(cmd, roots, work / f"{name}.log")
        r["docs_per_s"] = round(docs / r["wall_s"], 1)
        if r["returncode"] == 0:
            hashes = file_hashes(out)
            if ref is None:
                ref = hashes
            r["identical_to_first"] = hashes == ref
            r["manifest_counts"] = json.loads((out / "manifest.json").read_text())["counts"]["total"]
        results["runs"][name] = r
        print(name, json.dumps({k: v for k, v in r.items() if k != "manifest_counts"}), flush=True)
        shutil.rmtree(out, ignore_errors=True)
    dest = HERE / "results" / f"engines_{args.tag}.json"
    dest.write_text(json.dumps(results, indent=2) + "\n")
    print("\n| engine | wall s | docs/s | CPU s (launcher + cluster) | peak RSS of the tree MB | identical |")
    print("|---|---|---|---|---|---|")
    for name, r in results["runs"].items():
        print(f"| {name} | {r['wall_s']} | {r['docs_per_s']} | {r['cpu_s']} ({r['cpu_launcher_s']} + "
              f"{r['cpu_cluster_s']}) | {r['peak_rss_mb']} | {r.get('identical_to_first')} |")
    print(f"\nwritten to {dest}")


if __name__ == "__main__":
    main()
