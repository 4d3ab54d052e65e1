"""Rehydration: copies by duplicate-cluster size in the mixture, and the proposed weights (real text)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from corpusflow.mixture.rehydrate import (
    CopyTable,
    RehydrationConfig,
    bucket_label,
    filter_rates,
    propose_tables,
)
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import load_manifest, read_parquet_rows, run_cli


@pytest.mark.parametrize("size, copies", [(0, 1), (1, 1), (2, 2), (4, 3), (5, 4), (99, 4), (100, 1), (10_000, 1)])
def test_copy_table(size: int, copies: int) -> None:
    t = CopyTable({"ja": {1: 1, 2: 2, 3: 3, 5: 4, 100: 1}})
    assert t.copies("ja", size) == copies
    assert t.copies("en", size) == 1  # no table: one copy


@pytest.mark.parametrize("table, message", [
    ({"ja": {2: 2}}, "cluster size 1"),
    ({"ja": {1: 0}}, "must be >= 1"),
    ({"ja": {}}, "empty table"),
])
def test_config_refuses(table: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RehydrationConfig(enabled=True, copies_by_cluster_size=table)


def test_rates_and_proposal() -> None:
    # ja: singletons removed 40%, clusters of 2 removed 20%, of 3-4 30%, of 100+ (templates) 90%
    rows = ([("ja", 1, i < 40) for i in range(100)] + [("ja", 2, i < 10) for i in range(50)]
            + [("ja", 3, i < 9) for i in range(30)] + [("ja", 150, i < 27) for i in range(30)]
            + [("en", 2, False)] * 5)
    rates = filter_rates(rows)
    assert rates["ja"]["all"] == {"docs": 210, "removed": 86, "removal_rate": 0.4095}
    assert rates["ja"]["2"]["removal_rate"] == 0.2 and rates["ja"]["100-999"]["removal_rate"] == 0.9
    tables = propose_tables(rates, max_copies=5, min_docs=20)
    assert tables["ja"][1] == 1  # singletons are the base
    assert tables["ja"][2] == 2 and tables["ja"][3] == 3  # pass the filters more often than average
    assert tables["ja"][100] == 1  # removed more often than average
    assert tables["en"][2] == 1  # 5 documents: too few to say
    assert bucket_label(7) == "5-9" and bucket_label(1000) == "1000+"


@pytest.fixture(scope="module")
def run_out(tmp_path_factory, shared_data: Path) -> Path:
    tmp = tmp_path_factory.mktemp("rehydrate")
    paras = [r["text"] for r in read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz", limit=300)
             if len(r["text"]) >= 250][:36]
    docs = []
    for i, t in enumerate(paras):  # original i has i % 3 exact copies: clusters of 1, 2 and 3
        docs += [{"id": f"p{i}-c{c}", "text": t} for c in range(1 + i % 3)]
    write_jsonl(tmp / "in.jsonl", docs)
    cfg = {"name": "rh", "sources": [{"name": "wiki", "paths": [str(tmp / "in.jsonl")]}],
           "stages": {"langid": {"mode": "tag"}, "filters": {"enabled": True, "mode": "tag"},
                      "dedup": {"enabled": True},
                      "mixture": {"enabled": True, "groups": {"ja": 1.0}, "budget": "all",
                                  "rehydration": {"enabled": True,
                                                  "copies_by_cluster_size": {"ja": {1: 1, 2: 2, 3: 3}}}}}}
    (tmp / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert run_cli("run", tmp / "cfg.yaml", "--output", tmp / "out") == 0
    return tmp


def test_copies_follow_cluster_size(run_out: Path) -> None:
    rows = read_parquet_rows(run_out / "out" / "data" / "*.parquet")
    copies = Counter(r["id"] for r in rows)
    assert len(copies) == 36
    for doc_id, n in copies.items():
        i = int(doc_id.split("-")[0][1:])
        assert n == 1 + i % 3, doc_id
    rep = load_manifest(run_out / "out")["mixture"]["rehydration"]
    assert rep == {"ja/1": {"docs": 12, "copies": 12, "tokens": rep["ja/1"]["tokens"]},
                   "ja/2": {"docs": 12, "copies": 24, "tokens": rep["ja/2"]["tokens"]},
                   "ja/3-4": {"docs": 12, "copies": 36, "tokens": rep["ja/3-4"]["tokens"]}}


def test_fixed_budget_stays_within_the_target(run_out: Path) -> None:
    total = sum(r["n_tokens"] for r in read_parquet_rows(run_out / "out" / "data" / "*.parquet"))
    budget = total // 2
    out = run_out / "half"
    assert run_cli("mix", run_out / "cfg.yaml", "--from", run_out / "out", "--output", out,
                   "--set", f"stages.mixture.budget={budget}") == 0
    rows = read_parquet_rows(out / "data" / "*.parquet")
    got = sum(r["n_tokens"] for r in rows)
    assert abs(got - budget) / budget < 0.1
    copies = Counter(r["id"] for r in rows)
    for doc_id, n in copies.items():  # a selected document gets all its rehydrated copies
        assert n == 1 + int(doc_id.split("-")[0][1:]) % 3


def test_rehydration_weights_command(run_out: Path, capsys) -> None:
    capsys.readouterr()
    assert run_cli("rehydration-weights", run_out / "out", "--min-docs", "5", "--json", run_out / "w.json") == 0
    out = capsys.readouterr().out
    assert "copies_by_cluster_size" in out and "ja:" in out
    data = json.loads((run_out / "w.json").read_text())
    assert data["rates"]["ja"]["all"]["docs"] == 36
    assert {k: v["docs"] for k, v in data["rates"]["ja"].items() if k != "all"} == {"1": 12, "2": 12, "3-4": 12}
    assert set(data["copies_by_cluster_size"]["ja"]) == {"1", "2", "3", "5", "10", "20", "50", "100", "1000"}
