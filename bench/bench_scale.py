"""Scale-out benchmark: the same pipeline over growing corpora; and per-stage costs.

Two measurements, each written to bench/results/scale_<tag>.json with a Markdown table:

1. ``scale`` (default): ``corpusflow run`` over corpora of N documents built by
   ``../shared/bench/make_corpus.py --out DIR --docs N --seed S`` (under /work/benchdata, outside
   the repo), one run per size, in a subprocess whose whole process tree is sampled for RSS
   (bench/measure.py). Reports wall time, docs/s, µs/doc and peak RSS per size, the load
   average before and after each run, and log-log slopes: time ~ N^a (a = 1 is linear), peak
   RSS ~ N^m (m = 0 is flat).

       flock /tmp/corpusflow-bench.lock python bench/bench_scale.py --tag chain --stages chain \\
           --sizes 50000 100000 200000 400000

   ``--stages chain``: read -> normalize -> langid -> filters -> write (the plain data writer);
   ``--stages full``: + dedup + mixture (configs/pipelines/full_ja80_en20.yaml);
   ``--stages io``: read -> normalize -> write only (the writer's memory, cheaply). The stages
   that actually ran are read back from each manifest and recorded. Other ``corpusflow run``
   flags pass through, e.g. ``--set limits.unique_ids=false``.

2. ``--stage-costs``: the per-document work of every stage measured in-process (no Beam) on
   the first documents of a corpus: CPU µs/doc and the bytes each stage hands to the next
   shuffle, the inputs of the 1-billion-document estimate in docs/scaling.md.

       flock /tmp/corpusflow-bench.lock python bench/bench_scale.py --stage-costs --docs 5000

Benchmarks are not tests: nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import FULL_CONFIG as FULL
from measure import HERE, MAKE_CORPUS, REPO, machine, run_measured

# ------------------------------------------------------------------------------------------------
# Corpora and configs
# ------------------------------------------------------------------------------------------------


def corpus_dir(root: str, n: int, seed: int) -> str:
    return os.path.join(root, f"scale_{n // 1000}k" if seed == 6 else f"scale_{n // 1000}k_s{seed}")


def ensure_corpus(root: str, n: int, seed: int, build: bool) -> str:
    d = corpus_dir(root, n, seed)
    if not os.path.exists(os.path.join(d, "truth", "summary.json")):
        if not build:
            raise SystemExit(f"no corpus at {d}; build it with: python {MAKE_CORPUS} --out {d} --docs {n} "
                             f"--seed {seed} (or pass --build)")
        subprocess.run([sys.executable, MAKE_CORPUS, "--out", d, "--docs", str(n), "--seed", str(seed)], check=True)
    return d


def corpus_stats(d: str) -> dict[str, Any]:
    """Documents and uncompressed JSONL bytes of DIR/web/*.jsonl.gz (cached next to the corpus)."""
    cache = os.path.join(d, "corpusflow_bench_stats.json")
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    docs = size = files = 0
    for name in sorted(os.listdir(os.path.join(d, "web"))):
        if name.endswith(".jsonl.gz"):
            files += 1
            with gzip.open(os.path.join(d, "web", name), "rb") as f:
                for line in f:
                    docs += 1
                    size += len(line)
    stats = {"docs": docs, "input_bytes": size, "files": files}
    with open(cache, "w") as f:
        json.dump(stats, f)
    return stats


def snapshot(dest: str, commit: str = "HEAD") -> str:
    """Export a commit of the repository (HEAD by default, never the working tree) to ``dest``.

    Other engineers change the tree while a series runs; every size of a series must run the
    same code, so runs import the package from this export (PYTHONPATH) instead. Returns the sha.
    """
    sha = subprocess.run(["git", "-C", REPO, "rev-parse", commit], check=True, capture_output=True,
                         text=True).stdout.strip()
    os.makedirs(dest, exist_ok=True)
    archive = subprocess.run(["git", "-C", REPO, "archive", "--format=tar", sha], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return sha


def bench_config(stages: str, corpus: str, path: str, code: str = REPO) -> None:
    """The full_ja80_en20 stage settings over one source reading the corpus."""
    import yaml

    with open(FULL.replace(REPO, code, 1), encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    cfg["name"] = f"bench-scale-{stages}"
    cfg["sources"] = [{"name": "web", "paths": [os.path.join(corpus, "web", "*.jsonl.gz")],
                       "fields": {"text": "text", "id": "id", "url": "url"}}]
    st = cfg.setdefault("stages", {})
    off = {"full": (), "chain": ("dedup", "mixture"), "io": ("langid", "filters", "dedup", "mixture")}
    if stages not in off:
        raise SystemExit(f"--stages {stages!r}: full, chain or io")
    for name in off[stages]:
        st.setdefault(name, {})["enabled"] = False
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, allow_unicode=True, sort_keys=False)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ------------------------------------------------------------------------------------------------
# Scale runs
# ------------------------------------------------------------------------------------------------


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / den, 3) if den else None


def run_size(n: int, args: argparse.Namespace, work: str) -> dict[str, Any]:
    corpus = ensure_corpus(args.data, n, args.seed, args.build)
    stats = corpus_stats(corpus)
    cfg = os.path.join(work, f"bench_{args.stages}.yaml")
    bench_config(args.stages, corpus, cfg, args.code)
    out = os.path.join(args.data, "scale_out", f"{args.tag}_{n}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "corpusflow.cli", "run", cfg, "--output", out, "--quiet", *args.runner_args]
    env = dict(os.environ, PYTHONPATH=args.code + os.pathsep + os.environ.get("PYTHONPATH", ""))
    load_before = loadavg()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = run_measured(cmd, interval=args.interval, env=env)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = loadavg()
    # CPU seconds of the run's processes (the run and every worker it waited for): unlike wall
    # time, barely changed by other jobs sharing the machine.
    cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if r["returncode"] != 0:
        print(r["output_tail"], file=sys.stderr)
        raise SystemExit(f"{n} docs: corpusflow run failed ({r['returncode']})")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        m = json.load(f)
    out_bytes = sum(s["bytes"] for sub in m["outputs"].values() for s in sub)
    t = m["counts"]["total"]
    row = {
        "docs": stats["docs"], "input_mb": round(stats["input_bytes"] / 2**20, 1), "files": stats["files"],
        "wall_s": r["wall_s"], "pipeline_s": m["seconds"], "cpu_s": round(cpu_s, 1),
        "docs_per_s": round(stats["docs"] / r["wall_s"], 1),
        "us_per_doc": round(r["wall_s"] / stats["docs"] * 1e6, 1),
        "cpu_us_per_doc": round(cpu_s / stats["docs"] * 1e6, 1),
        "peak_rss_mb": r["peak_rss_mb"],
        "kept": t["kept"], "rejected": t["rejected"], "duplicates": t["duplicates"], "errors": t["errors"],
        "conserved": t["conserved"],
        "data_shards": len(m["outputs"].get("data", [])), "output_mb": round(out_bytes / 2**20, 1),
        "stages_run": [s["stage"] for s in m["stages"]] + (["mixture"] if "mixture" in m else []),
        "runner": m["runner"], "load_before": load_before, "load_after": load_after,
    }
    if not args.keep_output:
        shutil.rmtree(out, ignore_errors=True)
    return row


_WARM_UP = """
from corpusflow.core.paths import resolve_path
from corpusflow.text.langid import FastTextLangId
from corpusflow.filters.text import warm_up_kernels
from corpusflow.dedup.minhash import MinHasher
FastTextLangId(resolve_path("pkg:resources/lid.176.ftz"))
warm_up_kernels()
MinHasher(128, 1)
from corpusflow.dedup.shingle import ngram_hashes
import numpy as np
ngram_hashes(np.zeros(1, dtype=np.uint64), 1, 0)
"""


def warm_up_kernels(code: str) -> float:
    """Compile the numba kernels of the code snapshot once, before the timed runs.

    A fresh ``git archive`` has an empty numba cache, so without this the first size would pay
    every worker's first compilation (~12 s per process for the language-ID and filter kernels)
    and the later sizes would not. Returns the seconds it took (reported, not hidden).
    """
    t0 = time.time()
    env = dict(os.environ, PYTHONPATH=code + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", _WARM_UP], check=True, env=env, cwd=tempfile.gettempdir())
    return round(time.time() - t0, 1)


def scale(args: argparse.Namespace, previous: dict[str, Any] | None) -> dict[str, Any]:
    results: dict[str, Any] = {
        "what": "corpusflow run over make_corpus corpora of growing size",
        "stages": args.stages, "corpus_seed": args.seed, "runner_args": args.runner_args,
        "commit": args.commit, "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": [],
    }
    if previous:  # --append: keep the earlier sizes of the same series
        if (previous.get("stages"), previous.get("runner_args")) != (args.stages, args.runner_args):
            raise SystemExit("--append: the existing results are for other --stages / runner options")
        results["started"] = previous.get("started", results["started"])
        results["runs"] = [r for r in previous["runs"] if r.get("size") not in args.sizes]
    results["kernel_warmup_s"] = warm_up_kernels(args.code)
    with tempfile.TemporaryDirectory() as work:
        for n in args.sizes:
            row = {"size": n, "commit": args.commit, **run_size(n, args, work)}
            print(json.dumps(row), flush=True)
            results["runs"].append(row)
    results["runs"].sort(key=lambda r: r["docs"])
    runs = results["runs"]
    ns = [r["docs"] for r in runs]
    results["fit"] = {
        "time_exponent_wall": slope(ns, [r["wall_s"] for r in runs]),
        "time_exponent_pipeline": slope(ns, [r["pipeline_s"] for r in runs]),
        "time_exponent_cpu": slope(ns, [r["cpu_s"] for r in runs]),
        "rss_exponent": slope(ns, [r["peak_rss_mb"] for r in runs]),
        "note": "log-log least-squares slopes: time ~ N^a (1 = linear), peak RSS ~ N^m (0 = flat, 1 = linear); "
                "CPU time is the robust one when other jobs share the machine",
    }
    results["table_md"] = table(runs)
    return results


def table(runs: list[dict[str, Any]]) -> str:
    lines = ["| docs | input MB | wall s | docs/s | CPU s | CPU µs/doc | peak RSS MB | kept | dup | "
             "shards | load 1m before/after |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        lines.append(
            f"| {r['docs']:,} | {r['input_mb']:,} | {r['wall_s']:,.1f} | {r['docs_per_s']:,.0f} | "
            f"{r['cpu_s']:,.0f} | {r['cpu_us_per_doc']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['kept']:,} | "
            f"{r['duplicates']:,} | {r['data_shards']} | {r['load_before'][0]} / {r['load_after'][0]} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Per-stage costs (in-process, no Beam)
# ------------------------------------------------------------------------------------------------


def _timed(fn: Any, items: list[Any]) -> tuple[float, list[Any]]:
    t0 = time.process_time()
    out = fn(items)
    return time.process_time() - t0, out


def stage_costs(args: argparse.Namespace) -> dict[str, Any]:
    """CPU µs per document of each stage's pure logic, and the bytes it hands to the next shuffle."""
    from corpusflow.config.load import load_config
    from corpusflow.core.schemas import DOC_SCHEMA, doc_row
    from corpusflow.dedup.core import SignatureComputer
    from corpusflow.io.parquet import table_to_bytes
    from corpusflow.io.readers import FileSpec, iter_jsonl
    from corpusflow.mixture.tokenizers import load_tokenizer
    from corpusflow.steps.filters import FALLBACK, build_chains
    from corpusflow.text.langid import FastTextLangId, identify
    from corpusflow.text.normalize import normalize_text

    corpus = ensure_corpus(args.data, args.sizes[0], args.seed, args.build)
    with tempfile.TemporaryDirectory() as work:
        cfg_path = os.path.join(work, "full.yaml")
        bench_config("full", corpus, cfg_path)
        cfg = load_config(cfg_path)
    st = cfg.stages
    source = cfg.sources[0]
    files = sorted(os.path.join(corpus, "web", f) for f in os.listdir(os.path.join(corpus, "web")))
    costs: dict[str, Any] = {}

    def read(_: Any) -> list[Any]:
        docs: list[Any] = []
        for path in files:
            spec = FileSpec(source="web", path=path, file_key=os.path.basename(path), format="jsonl")
            for out in iter_jsonl(spec, source, cfg.limits.max_doc_chars):
                docs.append(out)
                if len(docs) >= args.docs:
                    return docs
        return docs

    sec, docs = _timed(read, [None])
    n = len(docs)
    costs["read"] = {"us_per_doc": round(sec / n * 1e6, 1)}
    kw = dict(unicode_form=st.normalize.unicode_form, remove_control=st.normalize.remove_control,
              collapse_spaces=st.normalize.collapse_spaces, max_blank_lines=st.normalize.max_blank_lines)
    sec, docs = _timed(lambda ds: [d.replace(text=normalize_text(d.text, **kw)) for d in ds], docs)
    costs["normalize"] = {"us_per_doc": round(sec / n * 1e6, 1)}
    from corpusflow.core.paths import resolve_path

    model = FastTextLangId(resolve_path(st.langid.model))
    lkw = dict(languages=frozenset(st.langid.languages), min_score=st.langid.min_score,
               min_score_by_lang=dict(st.langid.min_score_by_lang), ja_script_check=st.langid.ja_script_check,
               min_kana_fraction=st.langid.min_kana_fraction, max_chars=st.langid.max_chars)

    def langid(ds: list[Any]) -> list[Any]:
        out = []
        for d in ds:
            res = identify(model, d.text, **lkw)
            if res.reason is None:
                out.append(d.replace(lang=res.lang, lang_score=res.score))
        return out

    sec, docs_l = _timed(langid, docs)
    costs["langid"] = {"us_per_doc": round(sec / n * 1e6, 1), "kept_fraction": round(len(docs_l) / n, 3)}
    chains = build_chains(st.filters.resolved_profiles(), st.filters.mode)

    def filters(ds: list[Any]) -> list[Any]:
        out = []
        for d in ds:
            chain = chains.get(d.lang or "") or chains.get(FALLBACK)
            if chain is None or not chain.apply(d).failures:
                out.append(d)
        return out

    sec, docs_f = _timed(filters, docs_l)
    costs["filters"] = {"us_per_doc": round(sec / max(1, len(docs_l)) * 1e6, 1),
                        "kept_fraction": round(len(docs_f) / max(1, len(docs_l)), 3)}
    comp = SignatureComputer(st.dedup, cfg.seed, {})

    def signatures(ds: list[Any]) -> Any:
        batches = [comp.compute(ds[i : i + 1024]) for i in range(0, len(ds), 1024)]
        return batches

    sec, node_batches = _timed(signatures, docs_f)
    node_bytes = sum(len(pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL)) for b in node_batches)
    bands = {name: p.bands for name, p in st.dedup.profiles.items()}
    costs["dedup_signatures"] = {
        "us_per_doc": round(sec / max(1, len(docs_f)) * 1e6, 1),
        "node_row_bytes_per_doc": round(node_bytes / max(1, len(docs_f)), 1),
        "band_pair_bytes_per_doc": {k: 16 * b for k, b in bands.items()},
    }
    counter = load_tokenizer(st.mixture.tokenizer)
    sec, _ = _timed(lambda ds: counter.count([d.text for d in ds]), docs_f)
    costs["tokens"] = {"us_per_doc": round(sec / max(1, len(docs_f)) * 1e6, 1), "tokenizer": str(st.mixture.tokenizer)}
    rows = [doc_row(d) for d in docs_f]
    row_bytes = sum(len(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)) for r in rows)
    import pyarrow as pa

    def write(rs: list[Any]) -> bytes:
        return table_to_bytes(pa.Table.from_pylist(rs, schema=DOC_SCHEMA), row_group_rows=2000)

    sec, blob = _timed(write, rows)
    text_bytes = sum(len(d.text.encode("utf-8")) for d in docs_f)
    import zstandard

    cctx = zstandard.ZstdCompressor(level=1)  # what WriteShards' shuffle path sends per row
    zrow_bytes = sum(len(cctx.compress(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL))) for r in rows)
    id_bytes = sum(len(pickle.dumps((d.id, (d.source, d.file, d.line)), protocol=pickle.HIGHEST_PROTOCOL))
                   for d in docs)  # what MakeIdsUnique shuffles per document
    costs["unique_ids"] = {"shuffled_bytes_per_doc": round(id_bytes / n, 1)}
    costs["write_parquet"] = {
        "us_per_doc": round(sec / max(1, len(rows)) * 1e6, 1),
        "row_pickle_bytes_per_doc": round(row_bytes / max(1, len(rows)), 1),
        "row_zstd_bytes_per_doc": round(zrow_bytes / max(1, len(rows)), 1),
        "text_bytes_per_doc": round(text_bytes / max(1, len(rows)), 1),
        "parquet_bytes_per_doc": round(len(blob) / max(1, len(rows)), 1),
    }
    return {"what": "per-document cost of each stage's pure logic (process CPU time, no Beam)",
            "corpus": corpus, "docs": n, "machine": machine(), "load_after": loadavg(), "stages": costs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000, 200_000, 400_000])
    ap.add_argument("--seed", type=int, default=6, help="make_corpus seed")
    ap.add_argument("--data", default="/work/benchdata", help="where corpora and outputs go (outside the repo)")
    ap.add_argument("--build", action="store_true", help="build missing corpora with make_corpus.py")
    ap.add_argument("--stages", default="chain", help="chain | full")
    ap.add_argument("--tag", default=None, help="results go to bench/results/scale_<tag>.json")
    ap.add_argument("--interval", type=float, default=0.2, help="RSS sampling interval, seconds")
    ap.add_argument("--keep-output", action="store_true")
    ap.add_argument("--append", action="store_true", help="add these sizes to an existing results file")
    ap.add_argument("--stage-costs", action="store_true", help="measure per-stage costs in-process instead")
    ap.add_argument("--docs", type=int, default=5000, help="documents for --stage-costs")
    args, runner_args = ap.parse_known_args()
    args.runner_args = runner_args  # e.g. --direct_running_mode=multi_processing
    tag = args.tag or ("stage_costs" if args.stage_costs else args.stages)
    path = os.path.join(HERE, "results", f"scale_{tag}.json")
    previous = None
    if args.append and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            previous = json.load(f)
    args.code, args.commit = REPO, None
    snap_dir = None
    if not args.stage_costs:  # --append keeps running the commit of the earlier sizes
        snap_dir = tempfile.mkdtemp(prefix="corpusflow-bench-code-")
        args.commit = snapshot(snap_dir, (previous or {}).get("commit") or "HEAD")
        args.code = snap_dir
    try:
        res = stage_costs(args) if args.stage_costs else scale(args, previous)
    finally:
        if snap_dir:
            shutil.rmtree(snap_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=2, ensure_ascii=False)
    print(res.get("table_md") or json.dumps(res["stages"], indent=2))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
