"""Benchmark of the mixture stage on a make_corpus crawl (100k documents).

    python /work/shared/bench/make_corpus.py --out /work/benchdata/c100k --docs 100000 --seed 1
    python bench/bench_mixture.py --corpus /work/benchdata/c100k --work /work/benchdata/mixbench

Phases (each one process, measured with bench/measure.py: wall time and peak RSS of the tree):

* ``run_plain``: ``corpusflow run`` read -> normalise -> language ID -> plain data writer
  (mixture off; filters and dedup off, so the difference below is the mixture stage).
* ``run_mix``: the same with ``stages.mixture`` at 80/20 by LLM-jp v3.1 tokens (exact counts):
  token counting + pool + census + allocation + shuffle + shards. ``run_mix - run_plain`` is the
  mixture stage's cost over the plain writer it replaces.
* ``mix_same``: ``corpusflow mix`` of the run's pool with the same config (must give the same
  shard bytes as ``run_mix``); ``mix_ja70``: a 70/30 re-mix; ``mix_ja70_mp``: the same with
  multi_processing x2; ``mix_dry_run``: the plan only. These are the mix stage alone (no
  tokenization: the pool carries the counts), the "re-mixing costs only this stage" figure.
* Optionally ``--full RUN_OUTPUT``: read the manifest of a full-pipeline run (filters + dedup on,
  ``configs/pipelines/full_ja80_en20.yaml``) and recompute its token shares from the shards.

Writes bench/results/mixture.json.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import resource
import shutil
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import machine, run_measured

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FULL = os.path.join(REPO, "configs", "pipelines", "full_ja80_en20.yaml")


def shares_from_shards(out: str) -> dict:
    import pyarrow.parquet as pq

    tokens: dict[str, int] = {}
    rows = 0
    per_doc: dict[tuple[str, str], int] = {}
    for f in sorted(glob.glob(os.path.join(out, "data", "train-*.parquet"))):
        t = pq.read_table(f, columns=["id", "source", "lang", "n_tokens"]).to_pydict()
        rows += len(t["id"])
        for s, i, lang, n in zip(t["source"], t["id"], t["lang"], t["n_tokens"], strict=True):
            tokens[lang] = tokens.get(lang, 0) + n
            per_doc[(s, i)] = per_doc.get((s, i), 0) + 1
    total = sum(tokens.values())
    return {"rows": rows, "tokens": tokens, "shares": {k: round(v / total, 6) for k, v in tokens.items()},
            "max_copies_per_doc": max(per_doc.values(), default=0)}


def digests(out: str) -> dict[str, str]:
    return {os.path.basename(f): hashlib.sha256(open(f, "rb").read()).hexdigest()
            for f in sorted(glob.glob(os.path.join(out, "data", "train-*.parquet")))}


def summarize(m: dict) -> dict:
    mx = m.get("mixture") or {}
    out = {"seconds_pipeline": m.get("seconds"), "kept": (m.get("counts") or {}).get("total", {}).get("kept")}
    if mx:
        out["groups"] = {g: {"target": v["share"], "achieved_tokens_share": v["measured_share_of_tokens"],
                             "achieved_chars_share": v.get("share_of_chars"), "tokens": v["measured_tokens"]}
                         for g, v in mx["groups"].items()}
        out["totals"] = mx["totals"]
        out["checks"] = mx["checks"]
        out["num_shards"] = mx["shuffle"]["num_shards"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--full", default=None, help="output of a full-pipeline run to check")
    ap.add_argument("--skip-runs", action="store_true", help="reuse WORK/run_mix (only time the re-mixes)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "mixture.json"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    inputs = os.path.join(args.corpus, "web", "*.jsonl.gz")
    with open(FULL, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    cfg["stages"]["filters"] = {"enabled": False}
    cfg["stages"]["dedup"] = {"enabled": False}
    mix_cfg = os.path.join(args.work, "bench_mix.yaml")
    with open(mix_cfg, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, allow_unicode=True)
    plain = json.loads(json.dumps(cfg))
    plain["stages"]["mixture"]["enabled"] = False
    plain_cfg = os.path.join(args.work, "bench_plain.yaml")
    with open(plain_cfg, "w", encoding="utf-8") as f:
        yaml.safe_dump(plain, f, allow_unicode=True)

    result: dict = {"machine": machine(), "corpus": args.corpus, "phases": {}}
    cli = [sys.executable, "-m", "corpusflow.cli"]
    run_out = os.path.join(args.work, "run_mix")

    def phase(name: str, cmd: list[str], out: str | None) -> dict:
        if out and os.path.exists(out):
            shutil.rmtree(out)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = run_measured(cmd)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds of the phase's process tree: the load-independent figure on a shared machine
        # (wall time also counts waiting for CPUs other jobs hold).
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        rec = {"cmd": " ".join(cmd[2:]), "returncode": r["returncode"], "wall_s": r["wall_s"],
               "cpu_s": round(cpu, 2), "peak_rss_mb": r["peak_rss_mb"], "load_1m": os.getloadavg()[0]}
        if r["returncode"] != 0:
            rec["output_tail"] = r["output_tail"]
        elif out and os.path.exists(os.path.join(out, "manifest.json")):
            with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
                rec.update(summarize(json.load(f)))
        result["phases"][name] = rec
        print(name, json.dumps({k: v for k, v in rec.items() if k not in ("totals", "checks")}), flush=True)
        return rec

    if args.skip_runs and os.path.exists(args.out):  # keep the earlier run_* figures
        with open(args.out, encoding="utf-8") as f:
            prev = json.load(f)["phases"]
        result["phases"].update({k: v for k, v in prev.items() if k.startswith("run_")})
    if not args.skip_runs:
        plain_out = os.path.join(args.work, "run_plain")
        phase("run_plain", [*cli, "run", plain_cfg, "--input", inputs, "--output", plain_out, "-q"], plain_out)
        phase("run_mix", [*cli, "run", mix_cfg, "--input", inputs, "--output", run_out, "-q"], run_out)
    m_same = os.path.join(args.work, "mix_same")
    phase("mix_same", [*cli, "mix", mix_cfg, "--from", run_out, "--output", m_same], m_same)
    result["phases"]["mix_same"]["shards_identical_to_run"] = digests(m_same) == digests(run_out)
    m70 = os.path.join(args.work, "mix_ja70")
    set70 = ["--set", "stages.mixture.groups.ja=0.7", "--set", "stages.mixture.groups.en=0.3"]
    phase("mix_ja70", [*cli, "mix", mix_cfg, "--from", run_out, "--output", m70, *set70], m70)
    result["phases"]["mix_ja70"]["recomputed_from_shards"] = shares_from_shards(m70)
    m70mp = os.path.join(args.work, "mix_ja70_mp")
    mp = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    phase("mix_ja70_mp", [*cli, "mix", mix_cfg, "--from", run_out, "--output", m70mp, *set70, *mp], m70mp)
    result["phases"]["mix_ja70_mp"]["shards_identical_to_in_memory"] = digests(m70mp) == digests(m70)
    dry = os.path.join(args.work, "dry")
    phase("mix_dry_run", [*cli, "mix", mix_cfg, "--from", run_out, "--output", dry, "--dry-run", *set70], None)
    if os.path.exists(os.path.join(run_out, "manifest.json")):
        result["phases"]["run_mix"]["recomputed_from_shards"] = shares_from_shards(run_out)
        with open(os.path.join(run_out, "pool", "_pool.json"), encoding="utf-8") as f:
            result["pool_documents"] = json.load(f)["documents"]
    p = result["phases"]
    if "run_plain" in p and "run_mix" in p:
        # CPU seconds are the figure to read; the wall difference is dominated by other jobs' load.
        extra_s = p["run_mix"]["wall_s"] - p["run_plain"]["wall_s"]
        result["mixture_stage_over_plain_writer_wall_s"] = round(extra_s, 2)
        if p["run_mix"].get("cpu_s") is not None and p["run_plain"].get("cpu_s") is not None:
            result["mixture_stage_over_plain_writer_cpu_s"] = round(p["run_mix"]["cpu_s"] - p["run_plain"]["cpu_s"], 2)
    if args.full:
        with open(os.path.join(args.full, "manifest.json"), encoding="utf-8") as f:
            fm = json.load(f)
        result["full_pipeline"] = {"output": args.full, **summarize(fm), "counts": fm["counts"]["total"],
                                   "recomputed_from_shards": shares_from_shards(args.full)}
    result["machine"]["load_1m_after"] = os.getloadavg()[0]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
