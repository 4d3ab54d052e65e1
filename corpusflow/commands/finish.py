"""``corpusflow finish OUTPUT``: write the manifest of a run whose job ended but whose launcher
did not (killed, closed laptop, detached submission).

The run plan saved at launch (``OUTPUT/_work/plan.json``) and the stats the job wrote
(``OUTPUT/_work/stats.json``) are all that is needed: conservation and the error rate are
checked and ``manifest.json`` is written exactly as the launcher would have, without running
anything again; the run's checkpoints are then removed (unless it was launched with
``--keep-checkpoints``). A run whose job did not end is not finished here: ``corpusflow run ...
--resume`` continues it from its checkpoints. Exit codes: 0 finished (or already finished), 1 the job's result fails its
checks (``FAILED.json``) or the job has not written its stats, 2 not a run directory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from corpusflow.commands.run import print_summary
from corpusflow.io import filesystems as fs
from corpusflow.run import checkpoints
from corpusflow.run.progress import stage_summary
from corpusflow.run.rundir import MANIFEST, PLAN_FILE, STATS_FILE, WORK_DIR, RunFailed, finish_run, load_plan


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="the output directory of a run whose launcher stopped before its manifest")


def run(args: argparse.Namespace) -> int:
    out = args.output.rstrip("/") or args.output
    if fs.exists(fs.join(out, MANIFEST)):
        manifest = json.loads(fs.read_bytes(fs.join(out, MANIFEST)))
        print(f"{out} is finished already ({manifest.get('kind', 'run')} {manifest.get('name')!r}); nothing to do")
        return 0
    try:
        plan, runner, started = load_plan(out)
    except FileNotFoundError:
        print(f"corpusflow finish: {out} has no {WORK_DIR}/{PLAN_FILE}: not a run directory, or a run "
              "launched by a corpusflow that did not save its plan", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"corpusflow finish: {exc}", file=sys.stderr)
        return 2
    if not fs.exists(fs.join(out, WORK_DIR, STATS_FILE)):
        meta = checkpoints.read_meta(out)
        how = "re-run it"
        if meta is not None:
            ranges = [checkpoints.range_from_json(x) for x in meta.get("ranges") or []]
            how = (f"{checkpoints.count_done(out, ranges)} of {len(ranges)} input ranges are checkpointed: "
                   "re-run the same corpusflow run command with --resume to continue from them")
        print(f"corpusflow finish: the job has not written {WORK_DIR}/{STATS_FILE} (still running, or it "
              f"stopped before its end): there is nothing to finish; {how}", file=sys.stderr)
        return 1
    try:
        manifest = finish_run(plan, seconds=time.time() - started, runner=runner)
    except RunFailed as exc:
        print(f"corpusflow finish: run failed: {exc}", file=sys.stderr)
        return 1

    print(stage_summary(manifest) + "\n")
    print_summary(manifest, out)
    return 0
