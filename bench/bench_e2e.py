"""End-to-end benchmark: the full default pipeline against datatrove, same corpus, same run.

    flock /tmp/corpusflow-bench.lock python bench/bench_e2e.py --sizes 25000 100000 400000

For each size (run them one at a time with ``--sizes N``; results are appended as they come):

1. the corpus: ``../shared/bench/make_corpus.py --docs N --seed S --ja-fraction 0.8`` under
   ``--root`` (/work/benchdata, outside the repo). An existing build with the same arguments is
   reused (``c{N}_s{S}``, ``c{N/1000}k_s{S}``, ``scale_{N/1000}k`` for seed 6, ``e2e_{N/1000}k_s{S}``),
   otherwise it is built as ``e2e_{N/1000}k_s{S}``.
2. corpusflow: ``corpusflow run configs/pipelines/full_ja80_en20.yaml --input DIR/web/*.jsonl.gz``
   (normalise, language ID, ja_web/en_web filters, exact + MinHash dedup, 80/20 mixture by
   LLM-jp v3.1 tokens, Parquet), ``--direct_running_mode=multi_processing --direct_num_workers=2``
   by default (``--mode in_memory`` for one process), through ``python -m corpusflow.run.profiling``,
   which also records Beam's per-transform execution time (the per-stage table).
3. datatrove: ``bench/datatrove_e2e.py`` run by the datatrove venv's python (``--datatrove-python``;
   datatrove is never installed in the system python), 2 worker processes, same input files.

Measured for each tool: wall seconds; CPU seconds (user+sys of the whole process tree:
``getrusage(RUSAGE_CHILDREN)`` around the run, cross-checked with /proc sampling of the live
tree, the larger is kept); peak RSS of the process tree (sum over processes, sampled every
0.2 s); docs/s (input documents / wall) and MB/s (uncompressed JSONL); docs per CPU-second; and
``uptime``'s load averages before and after. CPU time is far less sensitive to other jobs on
the machine than wall time, so both are reported, and the ratio is given for both.

Results: ``bench/results/e2e.json`` (one entry per size and run, appended after each tool
finishes, so a long run leaves partial results) and the tables in ``bench/README.md``
(regenerated from the newest entry of each size). ``--pyspy SIZE`` adds a py-spy profile of one
corpusflow run attributed to stages by module (``bench/results/e2e_profile.json``).

Benchmarks are not tests: nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import FULL_CONFIG, HERE, MAKE_CORPUS, REPO, process_tree
from measure import machine as measure_machine

LID = os.path.join(REPO, "corpusflow", "resources", "lid.176.ftz")
RESULTS = os.path.join(HERE, "results", "e2e.json")
PROFILE_RESULTS = os.path.join(HERE, "results", "e2e_profile.json")
README = os.path.join(HERE, "README.md")
TABLE_BEGIN, TABLE_END = "<!-- e2e-tables:begin (bench/bench_e2e.py writes this part) -->", "<!-- e2e-tables:end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------------------------
# Process-tree measurements (standard library only; bench/datatrove_e2e.py imports these too)
# ------------------------------------------------------------------------------------------------


def _stat_cpu(pid: int, *, children: bool = True) -> float:
    """utime + stime (+ cutime + cstime of its reaped children) of one process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11 : 15 if children else 13]) / CLK_TCK


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant, reaped descendants included."""
    return sum(_stat_cpu(pid) for pid in process_tree(root))


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "launcher"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    return "beam workers" if "sdk_worker_main" in cmd else "other"


def tree_rss_bytes(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            continue
    return total


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def run_tracked(cmd: list[str], *, env: dict[str, str] | None = None, interval: float = 0.2,
                log_path: str | None = None) -> dict[str, Any]:
    """Run ``cmd``: wall s, CPU s of its process tree, peak tree RSS, load before/after, output tail."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before, up_before = loadavg(), uptime()
    start = time.perf_counter()
    log = open(log_path, "w") if log_path else None  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log or subprocess.STDOUT, env=env, text=True)
    peak, cpu_seen = 0, 0.0
    own: dict[int, tuple[str, float]] = {}  # pid -> (role, last seen own CPU s)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, cpu_seen
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(proc.pid))
            cpu_seen = max(cpu_seen, tree_cpu_seconds(proc.pid))
            for pid in process_tree(proc.pid):
                role = own[pid][0] if pid in own else _role(pid, proc.pid)
                own[pid] = (role, max(own.get(pid, (role, 0.0))[1], _stat_cpu(pid, children=False)))
            time.sleep(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    t.join()
    if log:
        log.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_rusage = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "returncode": proc.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(max(cpu_rusage, cpu_seen), 2),
        "cpu_s_rusage": round(cpu_rusage, 2),
        "cpu_s_sampled": round(cpu_seen, 2),
        "peak_rss_mb": round(peak / 2**20, 1),
        # own CPU of each process by role, last sampled value (a process's last <0.2 s is missed)
        "cpu_s_by_process": {r: round(sum(c for role, c in own.values() if role == r), 1)
                             for r in sorted({role for role, _ in own.values()})},
        "load_before": load_before,
        "load_after": loadavg(),
        "uptime_before": up_before,
        "uptime_after": uptime(),
        "output": out or "",
    }


# ------------------------------------------------------------------------------------------------
# Corpora
# ------------------------------------------------------------------------------------------------


def _summary_args(d: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(d, "truth", "summary.json")) as f:
            return json.load(f)["args"]
    except (OSError, ValueError, KeyError):
        return None


def find_or_build_corpus(root: str, n: int, seed: int, ja: float, build: bool) -> str:
    k = f"{n // 1000}k"
    names = [f"c{n}_s{seed}", f"c{k}_s{seed}", f"e2e_{k}_s{seed}"] + ([f"scale_{k}"] if seed == 6 else [])
    for name in names:
        d = os.path.join(root, name)
        a = _summary_args(d)
        if a and a.get("docs") == n and a.get("seed") == seed and abs(a.get("ja_fraction", -1) - ja) < 1e-9:
            return d
    d = os.path.join(root, f"e2e_{k}_s{seed}")
    if not build:
        raise SystemExit(f"no corpus of {n} docs (seed {seed}) under {root}; pass --build or run: "
                         f"python {MAKE_CORPUS} --out {d} --docs {n} --seed {seed} --ja-fraction {ja}")
    print(f"building {d} ...", flush=True)
    subprocess.run([sys.executable, MAKE_CORPUS, "--out", d, "--docs", str(n), "--seed", str(seed),
                    "--ja-fraction", str(ja)], check=True)
    return d


def corpus_stats(d: str, cache_path: str) -> dict[str, Any]:
    """Documents, files and uncompressed JSONL bytes of DIR/web/*.jsonl.gz (cached by path)."""
    cache: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError), open(cache_path) as f:
        cache = json.load(f)
    files = sorted(f for f in os.listdir(os.path.join(d, "web")) if f.endswith(".jsonl.gz"))
    stamp = [[f, os.path.getsize(os.path.join(d, "web", f))] for f in files]
    hit = cache.get(d)
    if hit and hit.get("stamp") == stamp:
        return hit["stats"]
    docs = size = 0
    for name in files:
        with gzip.open(os.path.join(d, "web", name), "rb") as f:
            for line in f:
                docs += 1
                size += len(line)
    stats = {"docs": docs, "files": len(files), "jsonl_mb": round(size / 2**20, 1)}
    cache[d] = {"stamp": stamp, "stats": stats}
    with open(cache_path, "w") as f:
        json.dump(cache, f, indent=1)
    return stats


# ------------------------------------------------------------------------------------------------
# The two tools
# ------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info = measure_machine()
    with contextlib.suppress(Exception):
        import apache_beam

        info["apache_beam"] = apache_beam.__version__
    return info


def git_state() -> dict[str, Any]:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "corpusflow", "configs")
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty_package": bool(dirty)}


def run_corpusflow(corpus: str, stats: dict[str, Any], args: argparse.Namespace, work: str) -> dict[str, Any]:
    out = os.path.join(work, "corpusflow_out")
    times = os.path.join(work, "stage_times.json")
    mode_args = [] if args.mode == "in_memory" else [
        f"--direct_running_mode={args.mode}", f"--direct_num_workers={args.workers}"]
    cmd = [sys.executable, "-m", "corpusflow.run.profiling", "--stage-times", times, "--",
           "run", FULL_CONFIG, "--input", os.path.join(corpus, "web", "*.jsonl.gz"), "--output", out,
           "--overwrite", "-q", *mode_args]
    env = dict(os.environ, CORPUSFLOW_SPILL_DIR=os.path.join(work, "spill"))
    if args.code:  # run another copy of the package (e.g. a before/after snapshot)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (args.code, env.get("PYTHONPATH")) if p)
    r = run_tracked(cmd, env=env)
    if r["returncode"] != 0:
        print(r["output"][-4000:])
        raise SystemExit("corpusflow run failed")
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    with open(times) as f:
        st = json.load(f)
    c = m["counts"]["total"]
    n = stats["docs"]
    res = _rates(r, n, stats["jsonl_mb"])
    res.update({
        "cmd": " ".join(cmd[3:]),
        "code": args.code or REPO,
        "mode": args.mode,
        "workers": args.workers if args.mode != "in_memory" else 1,
        "pipeline_s": m["seconds"],
        "kept": c["kept"], "rejected": c["rejected"], "duplicates": c["duplicates"], "errors": c["errors"],
        "mixture_rows": sum(s.get("rows", 0) for s in m["outputs"].get("data", [])),
        "mixture_tokens": (m.get("mixture") or {}).get("total_achieved"),
        "stages_run": [s["stage"] for s in m["stages"]] + (["mixture"] if "mixture" in m else []),
        "stage_ms": {k: v["ms"] for k, v in st["stages"].items()},
        "stage_ms_total": st["total_ms"],
        "top_transforms_ms": dict(list(st["transforms"].items())[:20]),
    })
    if not args.keep_output:
        shutil.rmtree(out, ignore_errors=True)
    return res


def run_datatrove(corpus: str, stats: dict[str, Any], args: argparse.Namespace, work: str) -> dict[str, Any]:
    dwork = os.path.join(work, "datatrove")
    shutil.rmtree(dwork, ignore_errors=True)
    cmd = [args.datatrove_python, os.path.join(HERE, "datatrove_e2e.py"), "--corpus", corpus, "--work", dwork,
           "--lid", LID, "--workers", str(args.workers)]
    r = run_tracked(cmd, log_path=os.path.join(work, "datatrove.log"))
    if r["returncode"] != 0:
        with open(os.path.join(work, "datatrove.log")) as f:
            print(f.read()[-4000:])
        raise SystemExit("datatrove run failed")
    rep = json.loads(r["output"].strip().splitlines()[-1])
    res = _rates(r, stats["docs"], stats["jsonl_mb"])
    res.update({"workers": args.workers, "tasks": rep["tasks"], "rows_written": rep["rows_written"],
                "stages": rep["stages"], "inner_wall_s": rep["wall_s"]})
    if not args.keep_output:
        shutil.rmtree(dwork, ignore_errors=True)
    return res


def _rates(r: dict[str, Any], n: int, mb: float) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if k != "output"}
    out["docs_per_s"] = round(n / r["wall_s"], 1)
    out["mb_per_s"] = round(mb / r["wall_s"], 2)
    out["docs_per_cpu_s"] = round(n / r["cpu_s"], 1) if r["cpu_s"] else None
    return out


# ------------------------------------------------------------------------------------------------
# py-spy profile attributed to stages by module
# ------------------------------------------------------------------------------------------------

# (stage, regex on a py-spy frame "function (path:line)"); frames are matched leaf first, and
# the first frame that matches any rule decides, so numpy/stdlib frames count for their caller.
PROFILE_RULES = [
    ("read", r"corpusflow/io/readers|corpusflow/stages/read\.py"),
    ("normalize", r"corpusflow/normalize\.py|corpusflow/stages/normalize\.py"),
    ("langid", r"corpusflow/langid\.py|corpusflow/stages/langid\.py"),
    ("filters", r"corpusflow/filters/|corpusflow/stages/filters\.py"),
    ("dedup signatures",
     r"corpusflow/dedup/(shingle|minhash)\.py|(compute|signature|exact_key) \(corpusflow/dedup/core\.py|_SignatureFn"),
    ("dedup routing", r"_RouteFn|route \(corpusflow/dedup/core|doc_uid"),
    ("dedup LSH/clustering", r"corpusflow/dedup/|corpusflow/stages/dedup\.py"),
    ("mixture token counting", r"corpusflow/mixture/(tokenizers|counting)\.py|_BatchedCountFn"),
    ("writing", r"_WriteShardFn|corpusflow/io/parquet|corpusflow/stages/write\.py|corpusflow/schemas\.py"
                r"|train_table|pool_table"),
    ("mixture census/plan/route", r"corpusflow/mixture/|corpusflow/stages/mixture\.py"),
    ("ids", r"corpusflow/stages/ids\.py"),
    ("counters/progress", r"corpusflow/progress\.py|corpusflow/stages/base\.py|apache_beam/metrics/"),
    ("bookkeeping", r"corpusflow/pipeline\.py"),
    ("beam coders", r"apache_beam/coders/|cloudpickle|dill/|pickle"),
    ("beam runtime", r"apache_beam/"),
]


def attribute_profile(raw_path: str, top: int = 5) -> dict[str, Any]:
    rules = [(name, re.compile(rx)) for name, rx in PROFILE_RULES]
    totals: collections.Counter[str] = collections.Counter()
    leaves: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    with open(raw_path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            frames = stack.split(";")
            stage = next((name for fr in reversed(frames) for name, rx in rules if rx.search(fr)), "other")
            totals[stage] += int(count)
            leaves[stage][re.sub(r" \(/.*?site-packages/", " (", frames[-1])[:120]] += int(count)
    n = sum(totals.values())
    return {
        "samples": n,
        "stages": {s: {"samples": c, "share": round(c / n, 4), "top_frames": leaves[s].most_common(top)}
                   for s, c in totals.most_common()},
    }


def run_pyspy(corpus: str, stats: dict[str, Any], args: argparse.Namespace, work: str) -> dict[str, Any]:
    raw = os.path.join(work, "pyspy.txt")
    out = os.path.join(work, "corpusflow_pyspy_out")
    mode_args = [] if args.mode == "in_memory" else [
        f"--direct_running_mode={args.mode}", f"--direct_num_workers={args.workers}"]
    cmd = ["py-spy", "record", "--nonblocking", "--subprocesses", "-r", "50", "-f", "raw", "-o", raw, "--",
           sys.executable, "-m", "corpusflow.cli", "run", FULL_CONFIG, "--input",
           os.path.join(corpus, "web", "*.jsonl.gz"), "--output", out, "--overwrite", "-q", *mode_args]
    env = dict(os.environ, CORPUSFLOW_SPILL_DIR=os.path.join(work, "spill"))
    r = run_tracked(cmd, env=env)
    if r["returncode"] != 0:
        print(r["output"][-3000:])
        raise SystemExit("py-spy run failed")
    shutil.rmtree(out, ignore_errors=True)
    prof = attribute_profile(raw)
    return {"time": _now(), "corpus": corpus, "docs": stats["docs"], "mode": args.mode, "git": git_state(),
            "wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "uptime_before": r["uptime_before"], **prof}


# ------------------------------------------------------------------------------------------------
# Results and tables
# ------------------------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def load_results(path: str) -> dict[str, Any]:
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"what": "bench/bench_e2e.py: full pipeline vs datatrove, same corpus, same run", "runs": []}


def save_entry(path: str, entry: dict[str, Any]) -> None:
    data = load_results(path)
    runs = [r for r in data["runs"] if r.get("run_id") != entry["run_id"]]
    runs.append(entry)
    data["runs"] = runs
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def _fmt(v: Any, nd: int = 0) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _commit(r: dict[str, Any]) -> str:
    g = r.get("git") or {}
    return f"{g.get('commit', '?')}{'+' if g.get('dirty_package') else ''}"


def _code(r: dict[str, Any]) -> str:
    """What ran: the label (HEAD when none) and the commit (+ when the package was modified)."""
    return f"{r.get('label') or 'HEAD'} @{_commit(r)}"


def tables(data: dict[str, Any]) -> str:
    """Markdown tables from the newest corpusflow entry per (size, mode, label)."""
    latest: dict[tuple[int, str, str], dict[str, Any]] = {}
    for r in data["runs"]:
        if "corpusflow" not in r:
            continue
        key = (r["docs"], r["corpusflow"]["mode"], r.get("label", ""))
        if key not in latest or r["time"] >= latest[key]["time"]:  # newest; datatrove paired below
            latest[key] = r
    rows = [latest[k] for k in sorted(latest)]
    if not rows:
        return "(no results yet)"
    # Every run of the same code, size and mode (the table shows the newest): run-to-run spread.
    repeats: dict[tuple[int, str, str, str], list[float]] = collections.defaultdict(list)
    for r in data["runs"]:
        if "corpusflow" in r and r["corpusflow"].get("returncode", 0) == 0:
            repeats[(r["docs"], r["corpusflow"]["mode"], r.get("label", ""), _commit(r))].append(r["corpusflow"]["docs_per_s"])
    # A corpusflow run without its own datatrove run (--skip-datatrove) is compared with the
    # fastest datatrove run on the same corpus (datatrove's code does not change between runs;
    # the fastest is the comparison least favourable to corpusflow); marked with † in the table.
    newest_dt: dict[tuple[str, int], dict[str, Any]] = {}
    for r in data["runs"]:
        if "datatrove" in r:
            k = (r["corpus"], r["docs"])
            if k not in newest_dt or r["datatrove"]["docs_per_s"] > newest_dt[k]["datatrove"]["docs_per_s"]:
                newest_dt[k] = r
    paired = False
    for i, r in enumerate(rows):
        if "datatrove" not in r and (r["corpus"], r["docs"]) in newest_dt:
            dt = newest_dt[(r["corpus"], r["docs"])]
            rows[i] = {**r, "datatrove": dt["datatrove"], "datatrove_time": dt["time"]}
            paired = True
    m = rows[-1]["machine"]
    lines = [
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} cores, {m.get('mem_gb')} GiB, Python {m.get('python')}, "
        f"Beam {m.get('apache_beam', '?')}.",
        "",
        "| docs | MB | corpusflow code, mode | wall s | docs/s | MB/s | CPU s | docs/CPU-s | peak RSS MB | "
        "datatrove wall s | docs/s | CPU s | docs/CPU-s | peak RSS MB | ratio wall | ratio CPU | load (1-min) before cf / dt |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cf, d = r["corpusflow"], r.get("datatrove") or {}
        ratio_w = cf["docs_per_s"] / d["docs_per_s"] if d else None
        ratio_c = cf["docs_per_cpu_s"] / d["docs_per_cpu_s"] if d and d.get("docs_per_cpu_s") else None
        lines.append(
            f"| {r['docs']:,} | {r['jsonl_mb']:,.0f} | {_code(r)}, {cf['mode']} ×{cf['workers']} | {_fmt(cf['wall_s'], 1)} | "
            f"{_fmt(cf['docs_per_s'])} | {_fmt(cf['mb_per_s'], 2)} | {_fmt(cf['cpu_s'], 1)} | "
            f"{_fmt(cf['docs_per_cpu_s'])} | {_fmt(cf['peak_rss_mb'])} | {_fmt(d.get('wall_s'), 1)} | "
            f"{_fmt(d.get('docs_per_s'))} | {_fmt(d.get('cpu_s'), 1)} | {_fmt(d.get('docs_per_cpu_s'))} | "
            f"{_fmt(d.get('peak_rss_mb'))} | {_fmt(ratio_w, 1)}× | {_fmt(ratio_c, 1)}× | "
            f"{cf['load_before'][0]:.1f} / {d['load_before'][0]:.1f}{' †' if r.get('datatrove_time') else ''} |" if d else
            f"| {r['docs']:,} | {r['jsonl_mb']:,.0f} | {_code(r)}, {cf['mode']} ×{cf['workers']} | {_fmt(cf['wall_s'], 1)} | "
            f"{_fmt(cf['docs_per_s'])} | {_fmt(cf['mb_per_s'], 2)} | {_fmt(cf['cpu_s'], 1)} | "
            f"{_fmt(cf['docs_per_cpu_s'])} | {_fmt(cf['peak_rss_mb'])} | – | – | – | – | – | – | – | "
            f"{cf['load_before'][0]:.1f} / – |"
        )
    if paired:
        lines += ["", "† datatrove measured in a separate run on the same corpus and machine (the fastest of its "
                  "runs there, see bench/results/e2e.json), corpusflow with `--skip-datatrove`."]
    spread = []
    for r in rows:
        runs = repeats.get((r["docs"], r["corpusflow"]["mode"], r.get("label", ""), _commit(r)), [])
        if len(runs) > 1:
            runs = sorted(runs)
            med = runs[len(runs) // 2] if len(runs) % 2 else (runs[len(runs) // 2 - 1] + runs[len(runs) // 2]) / 2
            spread.append(f"{r['docs']:,} docs, {_code(r)}, {r['corpusflow']['mode']}: {len(runs)} runs, "
                          f"{' / '.join(_fmt(x) for x in runs)} docs/s (median {_fmt(med)})")
    if spread:
        lines += ["", "Repeated runs of the same code (the table shows the newest): " + "; ".join(spread) + "."]
    # Every datatrove run, and the ratio of every run that measured both tools back to back.
    dt_runs: dict[int, list[str]] = collections.defaultdict(list)
    both = []
    for r in data["runs"]:
        if "datatrove" in r and r["datatrove"].get("docs_per_s"):
            dt_runs[r["docs"]].append(_fmt(r["datatrove"]["docs_per_s"]))
            if "corpusflow" in r:
                cf, d = r["corpusflow"], r["datatrove"]
                both.append(f"{r['docs']:,} docs, {_code(r)}: corpusflow {_fmt(cf['docs_per_s'])} docs/s, datatrove "
                            f"{_fmt(d['docs_per_s'])} docs/s: {_fmt(cf['docs_per_s'] / d['docs_per_s'], 1)}× "
                            f"(CPU {_fmt(cf['docs_per_cpu_s'] / d['docs_per_cpu_s'], 1)}×)")
    if dt_runs:
        lines += ["", "Every datatrove run, in order: " + "; ".join(
            f"{n:,} docs: {', '.join(v)} docs/s" for n, v in sorted(dt_runs.items())) + "."]
    if both:
        lines += ["", "Both tools in one run, back to back: " + "; ".join(both) + "."]
    lines += ["", "Per-stage time of corpusflow: share of Beam's per-transform execution time (state sampler, "
              "summed over workers; wall time, so inflated by other load) and, in brackets, that share of "
              "the run's CPU time per input document:", ""]
    stages = [s for s in _stage_order(rows)]
    lines.append("| stage | " + " | ".join(f"{r['docs']:,} ({_code(r)})" for r in rows) + " |")
    lines.append("|---|" + "---:|" * len(rows))
    for s in stages:
        cells = []
        for r in rows:
            ms = r["corpusflow"]["stage_ms"].get(s)
            tot = r["corpusflow"]["stage_ms_total"]
            cpu_us = r["corpusflow"]["cpu_s"] * 1e6 / r["docs"]
            cells.append("–" if ms is None else f"{100 * ms / tot:.1f}% ({ms / tot * cpu_us:,.0f} µs)")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("| step time / CPU time | " + " | ".join(
        f"{r['corpusflow']['stage_ms_total'] / 1000 / r['corpusflow']['cpu_s']:.2f}" for r in rows) + " |")
    lines.append("| **CPU of the whole run** | " + " | ".join(
        f"**{r['corpusflow']['cpu_s'] * 1e6 / r['docs']:,.0f} µs**" for r in rows) + " |")
    dts = [r for r in rows if r.get("datatrove")]
    if dts:
        lines += ["", "datatrove stages (wall s / CPU s of each LocalPipelineExecutor):", "",
                  "| docs | " + " | ".join(next(iter(dts))["datatrove"]["stages"]) + " |",
                  "|---:|" + "---:|" * len(next(iter(dts))["datatrove"]["stages"])]
        for r in dts:
            st = r["datatrove"]["stages"]
            lines.append(f"| {r['docs']:,} | " + " | ".join(f"{v['wall_s']:,.0f} / {v['cpu_s']:,.0f}"
                                                          for v in st.values()) + " |")
    lines += ["", "Scaling (corpusflow, same code and mode): " + _scaling(rows)]
    return "\n".join(lines)


def _stage_order(rows: list[dict[str, Any]]) -> list[str]:
    from_rows: list[str] = []
    for r in rows:
        for s in r["corpusflow"]["stage_ms"]:
            if s not in from_rows:
                from_rows.append(s)
    return from_rows


def _scaling(rows: list[dict[str, Any]]) -> str:
    import math

    parts = []
    by_mode: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in rows:
        by_mode[f"{_code(r)}, {r['corpusflow']['mode']}"].append(r)
    for mode, rs in by_mode.items():
        rs = sorted(rs, key=lambda r: r["docs"])
        if len(rs) < 2:
            continue
        for key, label in (("wall_s", "wall"), ("cpu_s", "CPU")):
            xs = [math.log(r["docs"]) for r in rs]
            ys = [math.log(r["corpusflow"][key]) for r in rs]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
            parts.append(f"{mode} {label} time ~ N^{b:.2f}")
        per = ", ".join(f"{r['docs']:,}: {r['corpusflow']['cpu_s'] * 1e6 / r['docs']:,.0f} µs CPU/doc" for r in rs)
        parts.append(f"({per})")
    return "; ".join(parts) + " (exponent 1.00 = linear)." if parts else "needs two sizes."


def write_readme(data: dict[str, Any]) -> None:
    text = f"# Benchmarks\n\n{TABLE_BEGIN}\n{TABLE_END}\n"
    if os.path.exists(README):
        with open(README) as f:
            text = f.read()
    if TABLE_BEGIN not in text:
        text += f"\n{TABLE_BEGIN}\n{TABLE_END}\n"
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    with open(README, "w") as f:
        f.write(f"{head}{TABLE_BEGIN}\n{tables(data)}\n{TABLE_END}{tail}")


# ------------------------------------------------------------------------------------------------


def _brief(res: dict[str, Any]) -> None:
    keys = ("wall_s", "cpu_s", "docs_per_s", "docs_per_cpu_s", "peak_rss_mb", "cpu_s_by_process")
    print(json.dumps({k: res.get(k) for k in keys}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25000, 100000, 400000])
    ap.add_argument("--seed", type=int, default=6, help="make_corpus seed")
    ap.add_argument("--ja-fraction", type=float, default=0.8)
    ap.add_argument("--root", default="/work/benchdata", help="where corpora live (outside the repo)")
    ap.add_argument("--work", default="/work/benchdata/e2e_work", help="scratch for outputs (deleted after)")
    ap.add_argument("--build", action="store_true", help="build a missing corpus with make_corpus.py")
    ap.add_argument("--mode", default="multi_processing", choices=["in_memory", "multi_processing"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--datatrove-python", default="/work/benchenv/datatrove/bin/python")
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--skip-corpusflow", action="store_true")
    ap.add_argument("--pyspy", action="store_true", help="also profile corpusflow with py-spy (one extra run)")
    ap.add_argument("--keep-output", action="store_true")
    ap.add_argument("--code", default="", help="directory put first on PYTHONPATH for the corpusflow run: "
                    "a copy of the package to measure instead of the installed one (before/after)")
    ap.add_argument("--note", default="", help="free text stored with the entry")
    ap.add_argument("--label", default="", help="names the code measured in the tables (e.g. baseline)")
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--tables-only", action="store_true", help="regenerate bench/README.md tables and exit")
    args = ap.parse_args()
    if args.tables_only:
        write_readme(load_results(args.results))
        return
    os.makedirs(args.work, exist_ok=True)
    for n in args.sizes:
        corpus = find_or_build_corpus(args.root, n, args.seed, args.ja_fraction, args.build)
        stats = corpus_stats(corpus, os.path.join(args.work, "corpus_stats.json"))
        work = os.path.join(args.work, f"{n}")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        entry: dict[str, Any] = {
            "run_id": f"{_now()} {n} {args.mode}", "time": _now(), "docs": stats["docs"], "files": stats["files"],
            "jsonl_mb": stats["jsonl_mb"], "corpus": corpus, "seed": args.seed, "machine": machine(),
            "git": git_state(), "note": args.note, "label": args.label,
        }
        if not args.skip_corpusflow:
            print(f"[{_now()}] corpusflow {n} docs ({args.mode}) | {uptime()}", flush=True)
            entry["corpusflow"] = run_corpusflow(corpus, stats, args, work)
            _brief(entry["corpusflow"])
            save_entry(args.results, entry)
        if not args.skip_datatrove:
            print(f"[{_now()}] datatrove {n} docs | {uptime()}", flush=True)
            entry["datatrove"] = run_datatrove(corpus, stats, args, work)
            _brief(entry["datatrove"])
            save_entry(args.results, entry)
        if args.pyspy:
            prof = run_pyspy(corpus, stats, args, work)
            data = load_results(PROFILE_RESULTS) if os.path.exists(PROFILE_RESULTS) else {"profiles": []}
            data.setdefault("profiles", []).append(prof)
            with open(PROFILE_RESULTS, "w") as f:
                json.dump(data, f, indent=1, ensure_ascii=False)
            for s, v in prof["stages"].items():
                print(f"  {s:28s} {100 * v['share']:5.1f}%")
        if "corpusflow" in entry or "datatrove" in entry:
            write_readme(load_results(args.results))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
