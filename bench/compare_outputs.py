"""Run the full pipeline with several code snapshots and compare what they write (byte identity).

    cd /tmp && python /work/main/bench/compare_outputs.py /work/benchdata/e2e_25k_s6 \\
        base,/tmp/snap_base new,/tmp/snap_new [label,CODE_DIR,--set,key=value ...]

Each ``label,CODE_DIR[,key=value...]`` runs ``python -m corpusflow run
configs/pipelines/full_ja80_en20.yaml --input CORPUS/web/*.jsonl.gz`` (multi_processing x2) with
``PYTHONPATH=CODE_DIR`` (a ``git archive`` of a commit: ``git -C REPO archive COMMIT corpusflow |
tar -x -C CODE_DIR``) and extra ``--set`` overrides, then prints one JSON line: wall and CPU
seconds, peak RSS, the manifest totals and a sha256 over every output Parquet file (relative
path + bytes). Same sha = the same files. Launch it from a directory outside the repo (/tmp):
``multi_processing`` workers import ``corpusflow`` from their working directory first, so a run
started in the repo would test the working tree, not the snapshot.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import FULL_CONFIG, run_measured


def parquet_sha(out: str) -> str:
    h = hashlib.sha256()
    for f in sorted(glob.glob(os.path.join(out, "**", "*.parquet"), recursive=True)):
        h.update(os.path.relpath(f, out).encode())
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    corpus, variants = sys.argv[1], sys.argv[2:]
    for v in variants:
        label, code, *sets = v.split(",")
        out = os.path.join("/tmp", f"compare_out_{label}")
        shutil.rmtree(out, ignore_errors=True)
        env = dict(os.environ, PYTHONPATH=code)
        cmd = [sys.executable, "-m", "corpusflow", "run", FULL_CONFIG, "--input", f"{corpus}/web/*.jsonl.gz",
               "--output", out, "--quiet", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
        for s in sets:
            cmd += ["--set", s]
        r = run_measured(cmd, env=env)
        manifest = os.path.join(out, "manifest.json")
        totals = None
        if os.path.exists(manifest):
            with open(manifest, encoding="utf-8") as f:
                totals = json.load(f).get("counts", {}).get("total")
        print(json.dumps({"label": label, "wall_s": r["wall_s"], "cpu_s": r.get("cpu_s"),
                          "peak_rss_mb": r["peak_rss_mb"], "rc": r["returncode"],
                          "parquet_sha": parquet_sha(out), "total": totals}), flush=True)
        if r["returncode"]:
            print(r["output_tail"])
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
