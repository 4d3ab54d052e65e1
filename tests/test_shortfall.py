"""A mixture shortfall under ``on_shortfall: fail`` keeps the work: the plan says what each group
can give and which overrides fit, the run writes the pool and FAILED.json (no training shard), and
the printed ``corpusflow mix`` command builds a mixture from that pool."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from corpusflow.mixture.allocate import MixtureShortfall, plan_keeping_work, plan_mixture
from corpusflow.mixture.config import MixtureStageConfig
from tests.helpers import REPO, load_manifest, run_cli
from tests.test_mixture_allocate import EN_WEB, JA_WEB, JA_WIKI, MB, SEED, census_of

CENSUS = census_of(SEED, JA_WEB, JA_WIKI, EN_WEB)
JA_ONLY = census_of(SEED, JA_WEB, JA_WIKI)


def cfg(**kw: object) -> MixtureStageConfig:
    return MixtureStageConfig.model_validate({"enabled": True, **kw})


@pytest.mark.parametrize(
    ("census", "config", "overrides_start"),
    [
        (CENSUS, {"budget": "100B"}, ["budget="]),  # every group short: the largest budget that fits
        (JA_ONLY, {"budget": "1M"}, ["groups={ja: 1.0}", "budget="]),  # 'en' can give nothing
        (JA_ONLY, {"budget": "all"}, ["groups={ja: 1.0}"]),  # budget all, an empty group
        (JA_ONLY, {"budget": "1M", "groups": {"ja": 0.5, "en": 0.3, "xx": 0.2}},
         ["groups={ja: 1.0}", "budget="]),
    ],
)
def test_shortfall_under_fail_keeps_a_plan_and_finds_overrides_that_fit(
        census: dict, config: dict, overrides_start: list[str]) -> None:
    c = cfg(on_shortfall="fail", **config)
    with pytest.raises(MixtureShortfall):
        plan_mixture(census, c, seed=SEED, shard_target_bytes=MB)
    plan = plan_keeping_work(census, c, seed=SEED, shard_target_bytes=MB)
    assert plan.failed and plan.on_shortfall == "fail"
    assert all(v == (0, 0, 0) for v in plan.copy_table().values())  # nothing is routed to training
    assert plan.num_shards >= 1
    j = plan.to_jsonable()
    assert j["failed"] == plan.failed and j["feasible_overrides"] == plan.feasible_overrides
    assert [o[: len(s)] for o, s in zip(plan.feasible_overrides, overrides_start, strict=True)] == overrides_start
    # The overrides plan without a shortfall under the same census.
    data = c.model_dump(mode="json")
    for o in plan.feasible_overrides:
        key, value = o.split("=", 1)
        data[key] = yaml.safe_load(value)
    fixed = plan_mixture(census, MixtureStageConfig.model_validate(data), seed=SEED, shard_target_bytes=MB)
    assert not fixed.shortfall and fixed.achieved_total > 0


@pytest.mark.parametrize(
    "config",
    [{"budget": "100B", "on_shortfall": "report"}, {"budget": "100B", "on_shortfall": "shrink"},
     {"budget": "1M", "on_shortfall": "fail"}, {"budget": "all", "on_shortfall": "fail"}],
)
def test_plans_without_a_failed_shortfall_are_unchanged(config: dict) -> None:
    c = cfg(**config)
    kept = plan_keeping_work(CENSUS, c, seed=SEED, shard_target_bytes=MB)
    assert not kept.failed and "failed" not in kept.to_jsonable()
    assert kept.to_jsonable() == plan_mixture(CENSUS, c, seed=SEED, shard_target_bytes=MB).to_jsonable()


def test_run_with_a_shortfall_keeps_the_pool_and_the_printed_mix_succeeds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    config = str(REPO / "configs" / "pipelines" / "demo.yaml")
    rc = run_cli("run", config, "--output", out, "--set", "stages.mixture.budget=10M", "--progress", "off")
    err = capsys.readouterr().err
    assert rc == 1
    failed = json.loads((out / "FAILED.json").read_text())
    assert failed["status"] == "failed" and failed["mixture"]["failed"]
    assert failed["counts"]["total"]["conserved"]
    assert not (out / "data").exists() and not (out / "manifest.json").exists()
    assert not (out / "_work" / "spill").exists()
    pool_meta = json.loads((out / "pool" / "_pool.json").read_text())
    assert pool_meta["documents"] == failed["counts"]["total"]["kept"] > 0
    assert all((out / "pool" / f["file"]).is_file() for f in pool_meta["files"])
    groups = failed["mixture"]["groups"]
    assert set(groups) == {"ja", "en"} and all(g["capacity"] > 0 for g in groups.values())
    cmd = failed["remix_command"]
    assert err.count(cmd) == 1 and "Traceback" not in err  # printed once
    argv = shlex.split(cmd)
    assert argv[:2] == ["corpusflow", "mix"] and "stages.mixture.budget=10M" not in argv
    assert run_cli(*argv[1:]) == 0
    mixed = load_manifest(argv[argv.index("--output") + 1])
    assert mixed["status"] == "complete" and mixed["outputs"]["data"]
    assert mixed["seed"] == failed["seed"]
    # inspect and report read the failed run directory.
    assert run_cli("inspect", out) == 0
    assert run_cli("report", out) == 0 and (out / "report" / "index.html").is_file()


def _cell(group: str | None, docs: int, selected: int) -> dict:
    return {"group": group, "docs": docs, "selected_docs": selected}


@pytest.mark.parametrize(
    ("cells", "groups", "line"),
    [
        ([_cell("ja", 10, 10), _cell("en", 10, 5)], ["ja", "en"],
         "pool left unused by the mixture: 5 of 20 documents (25.0%): ja 0 of 10, en 5 of 10"),
        ([_cell("ja", 4, 1), _cell(None, 4, 0)], ["ja"],
         "pool left unused by the mixture: 7 of 8 documents (87.5%): ja 3 of 4, in no group 4"),
        ([], ["ja"], "the pool is empty"),
    ],
)
def test_pool_usage_line(cells: list[dict], groups: list[str], line: str) -> None:
    from corpusflow.commands.run import pool_usage

    assert pool_usage({"cells": cells, "groups": {g: {} for g in groups}}) == line
