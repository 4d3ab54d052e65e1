"""The dataset card of any finished run: front matter, declared licences and provenance, counts,
mixture tokens per group and source, tokenizer, how to load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusflow.export.card import dataset_card_text, write_dataset_card
from tests.export_run import make_run


def _front_matter(card: str) -> list[str]:
    assert card.startswith("---\nconfigs:\n")
    return card.split("---\n")[1].splitlines()


@pytest.mark.parametrize(("licenses", "front", "cells"), [
    (None, None, ["not declared"] * 3),
    ({"ja_wiki": "cc-by-sa-4.0", "ja_cc": "cc-by-sa-4.0", "en_c4": "cc-by-sa-4.0"}, "license: cc-by-sa-4.0",
     ["cc-by-sa-4.0"] * 3),
    ({"ja_wiki": "cc-by-sa-4.0", "ja_cc": "other-terms", "en_c4": "odc-by"}, "license: other",
     ["cc-by-sa-4.0", "other-terms", "odc-by"]),
    ({"ja_wiki": "cc-by-sa-4.0"}, "license: other", ["cc-by-sa-4.0", "not declared", "not declared"]),
])
def test_card_licences(tmp_path: Path, licenses: dict[str, str] | None, front: str | None,
                       cells: list[str]) -> None:
    run = make_run(tmp_path / "run", n_docs=9, n_shards=1, licenses=licenses)
    card = Path(write_dataset_card(str(run))).read_text()
    fm = _front_matter(card)
    assert [x for x in fm if x.startswith("license:")] == ([front] if front else [])
    rows = [line.split(" | ") for line in card.splitlines() if line.startswith(("| ja_wiki |", "| ja_cc |", "| en_c4 |"))]
    src_rows = [r for r in rows if len(r) == 10]  # the sources table
    assert [r[3] for r in src_rows] == cells
    assert ("No source declares a licence" in card) == (licenses is None)


def test_card_mixture_tokens_and_loading(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", n_docs=12, n_shards=2)
    m = json.loads((run / "manifest.json").read_text())
    card = dataset_card_text(m)
    assert "- ja" in _front_matter(card) and "- en" in _front_matter(card)
    for g, gp in m["mixture"]["groups"].items():
        assert f"| {g} | {gp['share']:.4f} | {gp['measured_share_of_tokens']:.4f} | {gp['measured_tokens']:,} |" in card
    for c in m["mixture"]["cells"]:
        assert f"| {c['source']} | {c['lang']} | {c['group']} |" in card and f"{c['measured_tokens']:,} |" in card
    tok = m["mixture"]["tokenizer"]
    assert f"**{tok['name']}**" in card and tok["sha256"] in card
    for s in m["outputs"]["data"]:
        assert s["sha256"] in card
    assert 'load_dataset("parquet", data_files="data/train-*.parquet"' in card
    assert "corpusflow export . --format megatron --output megatron/" in card


def test_card_without_mixture_and_provenance(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", n_docs=6, n_shards=1)
    m = json.loads((run / "manifest.json").read_text())
    del m["mixture"]
    m["config"]["sources"][0]["card"] = {"license": "cc-by-sa-4.0", "homepage": "https://ja.wikipedia.org",
                                         "provenance": "jawiki dump 2024-01"}
    card = dataset_card_text(m)
    assert "## Mixture" not in card
    assert "--tokenizer TOKENIZER" in card
    line = next(x for x in card.splitlines() if x.startswith("| ja_wiki |"))
    assert "cc-by-sa-4.0" in line and "provenance: jawiki dump 2024-01" in line and "homepage: https://ja.wikipedia.org" in line
