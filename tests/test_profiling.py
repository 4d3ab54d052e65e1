"""corpusflow.run.profiling: transform labels -> stage groups, and the per-stage table."""

from __future__ import annotations

import pytest

from corpusflow.run.profiling import stage_of, stage_table


@pytest.mark.parametrize(
    ("label", "stage"),
    [
        ("Read/ReadFile/ParDo(_ReadFileFn)", "read"),
        ("Normalize/Normalize/ParDo(_NormalizeFn)", "normalize"),
        ("IdentifyLanguage/LangId/ParDo(_LangIdFn)", "langid"),
        ("ApplyFilters/Filter/ParDo(_FilterFn)", "filters"),
        ("Deduplicate/Batch/ParDo(_GlobalWindowsBatchingDoFn)", "dedup signatures"),
        ("Deduplicate/Signatures", "dedup signatures"),
        ("Deduplicate/Exact/ParDo(_ExactFn)", "dedup LSH/clustering"),
        ("Deduplicate/JoinLabels/CoGroupByKeyImpl/MapTuple(collect_values)", "dedup LSH/clustering"),
        ("Deduplicate/Route/ParDo(_RouteFn)", "dedup routing"),
        ("Mixture/Mix/CountTokens/Exact", "mixture token counting"),
        ("Mixture/Mix/WriteShards", "writing"),
        ("Mixture/Mix/Census", "mixture census/plan/route"),
        ("Mixture/ToPoolRow", "mixture census/plan/route"),
        ("WriteRejected/SpillRuns", "writing"),
        ("LedgerKept", "bookkeeping"),
        ("CollectStats/ToList", "bookkeeping"),
    ],
)
def test_stage_of(label: str, stage: str) -> None:
    assert stage_of(label) == stage


def test_stage_table_sums_per_stage_in_pipeline_order() -> None:
    table = stage_table({
        "Deduplicate/Signatures": 300,
        "Read/ReadFile/ParDo(_ReadFileFn)": 50,
        "Deduplicate/Batch/ParDo(_GlobalWindowsBatchingDoFn)": 100,
        "LedgerKept": 50,
    })
    assert table["total_ms"] == 500
    assert list(table["stages"]) == ["read", "dedup signatures", "bookkeeping"]
    assert table["stages"]["dedup signatures"] == {"ms": 400, "share": 0.8}
