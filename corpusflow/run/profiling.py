"""Per-stage time of a run, from Beam's own execution-time metrics (for benchmarks).

Beam fuses the document stages into one step, so a stage's wall time cannot be read off the
job: documents flow read -> normalize -> langid -> filters -> dedup signatures inside the
same bundle. Beam's SDK harness already measures every transform separately: its state
sampler charges the time of each bundle to the transform whose code is running
(``beam:metric:ptransform_execution_time:total_msecs:v1`` = start + process + finish bundle,
exclusive: time spent in a downstream transform that a DoFn's output feeds is charged to that
transform, not to the DoFn). The runner returns these per transform in the pipeline result's
monitoring metrics, from the in-process worker and from ``multi_processing`` workers alike.

So per-stage timing needs no timer in the stages: run the CLI through :func:`main`

    python -m corpusflow.run.profiling --stage-times OUT.json -- run CONFIG --output DIR [...]

which keeps the pipeline result, and writes OUT.json with the milliseconds of every transform
and their sum per stage (:func:`stage_of` maps transform labels to the stages of the pipeline
graph). What this does not cover: the runner's own work between steps (the shuffle of
GroupByKey, side-input materialisation, gRPC to the workers) and process start-up; compare the
sum with the job's wall and CPU time to see it.

Only Beam's public result API is used, and Beam is imported inside the functions (this module
is not a stage). It never changes what a run writes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from corpusflow.run.runners import capture_results

TOTAL_MSECS = "ptransform_execution_time:total_msecs"

#: Stage groups, in pipeline order (for tables).
STAGES = (
    "read",
    "ids",
    "urls",
    "extract",
    "clean",
    "normalize",
    "langid",
    "filters",
    "dedup signatures",
    "dedup LSH/clustering",
    "dedup routing",
    "dsir",
    "mixture token counting",
    "mixture census/plan/route",
    "writing",
    "bookkeeping",
)

_TOP = {
    "Read": "read",
    "UniqueIds": "ids",
    "FilterUrls": "urls",
    "ExtractText": "extract",
    "CleanSources": "clean",
    "Normalize": "normalize",
    "IdentifyLanguage": "langid",
    "ApplyFilters": "filters",
    "SelectByImportance": "dsir",
    "WriteData": "writing",
    "WriteRejected": "writing",
    "WriteDuplicates": "writing",
    "WriteErrors": "writing",
}


def stage_of(label: str) -> str:
    """The stage group of a transform's full label (``Deduplicate/Signatures`` -> ``dedup signatures``)."""
    parts = label.split("/")
    top = parts[0]
    if top in _TOP:
        return _TOP[top]
    if "+" in top and all(t in _TOP for t in top.split("+")):
        # Per-document stages fused into one DoFn (corpusflow.stages.chain): one joint group,
        # e.g. "normalize+langid+filters" (corpusflow.pipeline.FUSE_STAGES = False separates them).
        return "+".join(_TOP[t] for t in top.split("+"))
    if top == "Deduplicate":
        sub = parts[1] if len(parts) > 1 else ""
        if sub in ("Batch", "Signatures"):
            return "dedup signatures"
        if sub in ("Route", "KeyByRep", "JoinVerdicts", "RouteJoined"):
            return "dedup routing"
        return "dedup LSH/clustering"
    if top == "Mixture":
        rest = "/".join(parts[1:])
        if "CountTokens" in rest:
            return "mixture token counting"
        if any(k in rest for k in ("WriteShards", "GroupByShard", "WithEmptyShards", "EmptyShards")):
            return "writing"
        return "mixture census/plan/route"
    return "bookkeeping"  # ledger, stats, shard infos and counts


def _msecs_by_transform(result: Any) -> dict[str, int]:
    """{transform label: total msecs} from a PipelineResult (FnApiRunner's monitoring metrics)."""
    metrics = result.monitoring_metrics() if hasattr(result, "monitoring_metrics") else result.metrics()
    out: dict[str, int] = {}
    for rec in metrics.query().get("counters", []):
        if TOTAL_MSECS not in str(rec.key.metric) or not rec.key.step:
            continue
        value = rec.committed if rec.committed is not None else rec.attempted
        out[rec.key.step] = out.get(rec.key.step, 0) + int(value or 0)
    return out


def stage_table(msecs: Mapping[str, int]) -> dict[str, Any]:
    """Per-stage sums (ms and share of the total) of per-transform milliseconds."""
    by_stage: dict[str, int] = {}
    for label, ms in msecs.items():
        by_stage[stage_of(label)] = by_stage.get(stage_of(label), 0) + int(ms)
    total = sum(by_stage.values())
    order = [s for s in STAGES if s in by_stage] + sorted(set(by_stage) - set(STAGES))
    return {
        "total_ms": total,
        "stages": {s: {"ms": by_stage[s], "share": round(by_stage[s] / total, 4) if total else 0.0} for s in order},
    }


def top_transforms(msecs: Mapping[str, int], n: int = 25) -> list[tuple[str, int]]:
    return sorted(msecs.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m corpusflow.run.profiling --stage-times OUT.json -- <corpusflow CLI arguments>``."""
    args = list(sys.argv[1:] if argv is None else argv)
    out_path = None
    if args[:1] == ["--stage-times"] and len(args) >= 2:
        out_path, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if out_path is None or not args:
        print("usage: python -m corpusflow.run.profiling --stage-times OUT.json -- run CONFIG ...", file=sys.stderr)
        return 2
    results = capture_results()
    from corpusflow.cli import main as cli_main

    rc = cli_main(args)
    msecs: dict[str, int] = {}
    for res in results:
        for label, ms in _msecs_by_transform(res).items():
            msecs[label] = msecs.get(label, 0) + ms
    report = {"returncode": rc, **stage_table(msecs), "transforms": dict(top_transforms(msecs, len(msecs)))}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    return int(rc)


if __name__ == "__main__":
    raise SystemExit(main())
