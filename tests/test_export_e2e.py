"""End to end: `corpusflow run configs/pipelines/demo.yaml`, then `corpusflow export` of its training
shards (Megatron per group, JSONL) and its dataset card, checked against the run's manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpusflow.export import megatron as mg
from corpusflow.export.card import write_dataset_card
from corpusflow.export.jsonl import read_jsonl
from tests.helpers import load_manifest, run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "pipelines" / "demo.yaml"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "OUT"
    assert run_cli("run", str(DEMO), "--output", str(out), "-q") == 0
    return out


def test_megatron_export_of_a_pipeline_run(demo_run: Path, tmp_path: Path) -> None:
    m = load_manifest(demo_run)
    assert run_cli("export", str(demo_run), "--per", "group", "--output", str(tmp_path / "mg"), "-q") == 0
    rep = json.loads((tmp_path / "mg" / "export.json").read_text())
    mx = m["mixture"]
    assert rep["tokenizer"]["sha256"] == mx["tokenizer"]["sha256"]
    assert rep["rows"] == mx["totals"]["rows"] == sum(s["rows"] for s in m["outputs"]["data"])
    assert rep["tokens"] == mx["totals"]["tokens"] + mx["totals"]["rows"]
    groups = {d["name"]: d for d in rep["datasets"]}
    assert set(groups) == set(mx["groups"])
    for g, gp in mx["groups"].items():
        ds = mg.IndexedDataset.open(tmp_path / "mg" / g)
        n_rows = sum(c["measured_copies"] for c in mx["cells"] if c["group"] == g)
        assert len(ds) == n_rows and ds.tokens == gp["measured_tokens"] + n_rows
    weights = (tmp_path / "mg" / "data_path.txt").read_text().split()
    assert {Path(p).name: int(w) for w, p in zip(weights[0::2], weights[1::2], strict=True)} == {
        g: gp["measured_tokens"] + sum(c["measured_copies"] for c in mx["cells"] if c["group"] == g)
        for g, gp in mx["groups"].items()}


def test_jsonl_export_of_a_pipeline_run(demo_run: Path, tmp_path: Path) -> None:
    assert run_cli("export", str(demo_run), "--format", "jsonl", "--output", str(tmp_path / "j"), "-q") == 0
    got = [r for f in sorted((tmp_path / "j").glob("*.jsonl.zst")) for r in read_jsonl(f)]
    rows = [r for f in sorted((demo_run / "data").glob("train-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert [(r["id"], r["copy"], r["text"]) for r in got] == [(r["id"], r["copy"], r["text"]) for r in rows]


def test_card_of_a_pipeline_run(demo_run: Path) -> None:
    m = load_manifest(demo_run)
    card = Path(write_dataset_card(str(demo_run))).read_text()
    assert card.startswith("---\nconfigs:")
    for src, c in m["counts"]["by_source"].items():
        assert f"| {src} |" in card and f"| {c['input']:,} | {c['kept']:,} |" in card
    assert f"{m['mixture']['totals']['tokens']:,} tokens" in card


def test_export_and_card_of_a_mix_output(demo_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "MIX"
    assert run_cli("mix", str(DEMO), "--from", str(demo_run), "--output", str(out),
                   "--set", "stages.mixture.groups.ja=0.7", "--set", "stages.mixture.groups.en=0.3") == 0
    m = load_manifest(out)
    assert run_cli("export", str(out), "--per", "group", "--output", str(tmp_path / "mg"), "-q") == 0
    rep = json.loads((tmp_path / "mg" / "export.json").read_text())
    assert rep["tokenizer"]["sha256"] == m["mixture"]["tokenizer"]["sha256"]
    assert rep["tokens"] == m["mixture"]["totals"]["tokens"] + m["mixture"]["totals"]["rows"]
    assert abs(rep["data_path_shares"]["ja"] - 0.7) < 0.01
    card = Path(write_dataset_card(str(out))).read_text()
    upstream = load_manifest(demo_run)
    assert "Re-mixed by `corpusflow mix`" in card and upstream["config_hash"] in card
    for src, c in upstream["counts"]["by_source"].items():
        assert f"| {src} |" in card and f"| {c['input']:,} | {c['kept']:,} |" in card
