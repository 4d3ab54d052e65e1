"""Benchmark of ``corpusflow export`` on the training shards of a run, and the Megatron-Core check.

    flock /tmp/corpusflow-bench.lock python bench/bench_export.py --run RUN \\
        [--verify-megatron /tmp/venv-megatron/bin/python] [--json bench/results/export.json]

RUN is a finished run with a mixture, e.g. the 100k corpus through the full pipeline:

    python -m corpusflow run configs/pipelines/full_ja80_en20.yaml \\
        --input '/work/benchdata/scale_100k/web/*.jsonl.gz' --output RUN --overwrite \\
        --direct_running_mode=multi_processing --direct_num_workers=2

Measures, in this process (wall and CPU seconds, tokens/s, documents/s, bytes written):
``--format megatron --per shard``, the same again (the bytes must be identical),
``--format megatron --per group`` and ``--format jsonl`` (zst). A run whose training rows hold
``token_ids`` (``stages.mixture.count.keep_token_ids``) is exported from them (``token_ids_from``:
stored) instead of tokenising again; run the bench on such a run and on the same mixture without
the column to compare. Tokens/s is exported tokens
(EOD included) over the read + encode + write time; the hashing of the input shards and the
read-back check are reported separately.

``--verify-megatron PYTHON``: PYTHON is an interpreter with ``megatron-core`` and torch (a
separate virtualenv: torch is several GB). The expected per-document lengths (each row's
``n_tokens`` + 1) and a re-encoded sample of documents are taken from the run's Parquet rows
and the tokenizer, written to an ``.npz``, and ``bench/megatron_readback.py`` reads every
exported dataset with Megatron-Core's ``IndexedDataset`` and compares; it also builds Megatron's
blended ``GPTDataset`` from ``data_path.txt`` and compares the share of samples per dataset
with the export's token shares.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import machine

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed_export(run: str, out: str, **kw: object) -> dict:
    from corpusflow.export.exporter import ExportOptions, export_run

    c0, t0 = _cpu(), time.perf_counter()
    report = export_run(ExportOptions(run_dir=run, output=out, overwrite=True, **kw))  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    files = [os.path.join(out, f) for f in os.listdir(out)]
    row = {
        "format": report["format"], "per": report["per"], "options": dict(kw),
        "datasets": len(report["datasets"]), "documents": report["rows"],
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "seconds": report["seconds"],
        "bytes_written": sum(os.path.getsize(f) for f in files),
        "docs_per_s": round(report["rows"] / report["seconds"]["read_encode_write"]),
        "checks": report["checks"],
        "token_ids_from": report.get("token_ids_from"),
    }
    if report["format"] == "megatron":
        rew = report["seconds"]["read_encode_write"]
        row.update(tokens=report["tokens"], tokens_per_s=round(report["tokens"] / rew),
                   tokens_per_s_total=round(report["tokens"] / wall), tokens_per_cpu_s=round(report["tokens"] / cpu),
                   encode_share=round(report["seconds"]["encode"] / rew, 3), dtype=report["dtype"],
                   eod=report["eod"], tokenizer=report["tokenizer"]["name"], threads=report["tokenizer"]["threads"],
                   digests={f: v["sha256"] for d in report["datasets"] for f, v in d["files"].items()},
                   data_path_shares=report["data_path_shares"])
    else:
        row["digests"] = {d["file"]: d["sha256"] for d in report["datasets"]}
    return row


def write_expected(run: str, report: dict, path: str, sample_per_dataset: int, seed: int) -> None:
    """Per dataset: the rows' n_tokens + 1 (from Parquet) and re-encoded ids of sampled rows."""
    import numpy as np
    import pyarrow.parquet as pq

    from corpusflow.export.exporter import group_of_cells, load_manifest, recorded_tokenizer_spec
    from corpusflow.mixture.tokenizers import load_tokenizer

    manifest = load_manifest(run)
    groups = group_of_cells(manifest)
    tok = load_tokenizer(recorded_tokenizer_spec(manifest))
    eod = report["eod"]["id"]
    per = report["per"]
    rows: dict[str, list[tuple[int, str]]] = {}
    for s in manifest["outputs"]["data"]:
        t = pq.read_table(os.path.join(run, "data", s["file"]), columns=["text", "source", "lang", "n_tokens"])
        stem = s["file"].split(".")[0]
        for text, source, lang, n in zip(*(t.column(c).to_pylist() for c in ("text", "source", "lang", "n_tokens")),
                                         strict=True):
            key = stem if per == "shard" else (groups.get((source, lang), "_ungrouped") if per == "group" else source)
            rows.setdefault(key, []).append((n, text))
    arrays: dict[str, np.ndarray] = {}
    rng = random.Random(seed)
    for d in report["datasets"]:
        mine = rows[d["key"]]
        arrays[f"{d['prefix']}.lengths"] = np.asarray([n + 1 for n, _t in mine], dtype=np.int64)
        idx = sorted(rng.sample(range(len(mine)), min(sample_per_dataset, len(mine))))
        ids = [[*tok.encode(mine[i][1]), eod] for i in idx]
        arrays[f"{d['prefix']}.sample_index"] = np.asarray(idx, dtype=np.int64)
        arrays[f"{d['prefix']}.sample_ids"] = np.asarray([t for x in ids for t in x], dtype=np.int64)
        arrays[f"{d['prefix']}.sample_offsets"] = np.cumsum([0] + [len(x) for x in ids]).astype(np.int64)
    np.savez(path, **arrays)


def token_ids_bytes(run: str, manifest: dict) -> int | None:
    """Compressed bytes of the ``token_ids`` column in the training shards (Parquet column-chunk
    sizes), or None when the shards have no such column."""
    import pyarrow.parquet as pq

    total, found = 0, False
    for s in manifest["outputs"]["data"]:
        md = pq.read_metadata(os.path.join(run, "data", s["file"]))
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            for c in range(rg.num_columns):
                col = rg.column(c)
                if col.path_in_schema.split(".")[0] == "token_ids":
                    total += col.total_compressed_size
                    found = True
    return total if found else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a finished run with a mixture")
    ap.add_argument("--work", default=None, help="where the exports go (default: a temporary directory)")
    ap.add_argument("--verify-megatron", default=None, metavar="PYTHON",
                    help="interpreter with megatron-core + torch; read the exports back with Megatron-Core")
    ap.add_argument("--sample", type=int, default=200, help="documents per dataset re-encoded for the id check")
    ap.add_argument("--gpt-samples", type=int, default=2000,
                    help="--verify-megatron: samples of Megatron's blended GPTDataset built from data_path.txt")
    ap.add_argument("--skip-jsonl", action="store_true")
    ap.add_argument("--skip-group", action="store_true", help="no --per group export")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "export.json"))
    args = ap.parse_args()

    info = machine()
    with open(os.path.join(args.run, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    work = args.work or tempfile.mkdtemp(prefix="corpusflow-bench-export-")
    result: dict = {
        "machine": info,
        "run": {"path": os.path.abspath(args.run), "name": manifest.get("name"), "rows": manifest["mixture"]["totals"]["rows"],
                "tokens": manifest["mixture"]["totals"]["tokens"], "shards": len(manifest["outputs"]["data"]),
                "parquet_bytes": sum(s["bytes"] for s in manifest["outputs"]["data"]),
                "documents_input": ((manifest.get("counts") or {}).get("total") or {}).get("input"),
                "tokenizer": manifest["mixture"]["tokenizer"]["name"],
                "token_ids_column_bytes": token_ids_bytes(args.run, manifest)},
        "exports": [],
    }
    runs = [
        ("megatron-shard", {"format": "megatron", "per": "shard"}),
        ("megatron-shard-again", {"format": "megatron", "per": "shard"}),
    ]
    if not args.skip_group:
        runs.append(("megatron-group", {"format": "megatron", "per": "group"}))
    if not args.skip_jsonl:
        runs.append(("jsonl-zst", {"format": "jsonl", "per": "shard", "compression": "zst"}))
    for name, kw in runs:
        out = os.path.join(work, name.replace("-again", ""))
        row = timed_export(args.run, out, **kw)
        row["name"] = name
        result["exports"].append(row)
        print(f"{name}: {row['documents']:,} docs, {row.get('tokens', 0):,} tokens, {row['wall_s']} s wall, "
              f"{row.get('tokens_per_s', '-')} tokens/s", flush=True)
    a, b = result["exports"][0], result["exports"][1]
    result["deterministic_bytes"] = a["digests"] == b["digests"]
    shard_tokens = a["tokens"]
    result["tokens_equal_manifest_plus_eod"] = shard_tokens == result["run"]["tokens"] + result["run"]["rows"]
    result["load_1m_after"] = os.getloadavg()[0]

    if args.verify_megatron:
        with open(os.path.join(work, "megatron-shard", "export.json"), encoding="utf-8") as f:
            shard_report = json.load(f)
        with open(os.path.join(work, "megatron-group", "export.json"), encoding="utf-8") as f:
            group_report = json.load(f)
        result["megatron_core"] = {}
        for label, rep, d in (("per_shard", shard_report, "megatron-shard"), ("per_group", group_report, "megatron-group")):
            exp = os.path.join(work, f"{label}-expected.npz")
            write_expected(args.run, rep, exp, args.sample, seed=7)
            t0 = time.perf_counter()
            p = subprocess.run([args.verify_megatron, os.path.join(HERE, "megatron_readback.py"),
                                os.path.join(work, d), exp, "--gpt-samples", str(args.gpt_samples)],
                               capture_output=True, text=True)
            wall = time.perf_counter() - t0
            try:
                res = json.loads(p.stdout)
            except json.JSONDecodeError:
                res = {"ok": False, "stdout": p.stdout[-2000:], "stderr": p.stderr[-2000:]}
            res["wall_s"] = round(wall, 2)
            res["returncode"] = p.returncode
            result["megatron_core"][label] = res
            print(f"megatron-core read-back {label}: ok={res.get('ok')} docs={res.get('documents')} "
                  f"tokens={res.get('tokens')}", flush=True)

    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    for row in result["exports"]:
        if row["name"] != "megatron-shard":
            row.pop("digests", None)
    with open(args.json, "w", encoding="utf-8") as f:
        f.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.json}")
    ok = result["deterministic_bytes"] and result["tokens_equal_manifest_plus_eod"]
    if args.verify_megatron:
        ok = ok and all(v.get("ok") for v in result["megatron_core"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
