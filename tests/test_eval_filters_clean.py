"""``eval-filters --clean``: drop rate and reasons of a profile on clean (all good) English text.

The clean set is real: ABC news stories (../shared/data/en/abc_news.jsonl.gz), including a
short brief that C4's five-sentence rule drops, a science story on migraine and sex drive that the adult word
list dropped before "sex" became a context word ("sex" 19 times, 6 per 1,000 characters; kept now: no
vocabulary of pornography), and a 2005 autism story that says "mentally retarded" (a slur on the toxicity
list). Every figure printed is checked against the chain run document by document.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusflow.filters.evaluate import evaluate_clean, format_clean
from corpusflow.filters.profiles import build_chain, load_profile
from tests.conftest import REPO, write_jsonl
from tests.helpers import run_cli
from tests.test_filters_data import abc

EN_WEB = str(REPO / "corpusflow/filters/profiles/en_web.yaml")
# (ABC line, first reason en_web gives, or None when kept)
STORIES = [
    (0, None),
    (1, "en.c4_lines.too_few_sentences"),  # a four-line brief
    (2755, None),  # "sex" 19 times in 3,171 characters: a context word, nothing counts
    (2487, "en.toxicity.slurs"),  # "mentally retarded" three times
    (2609, None),  # 9 adult-list words in 5,168 characters: kept per length
    (47, None),  # Japan
]


@pytest.fixture(scope="module")
def chain():
    return build_chain(load_profile(EN_WEB), lang="en").setup()


@pytest.mark.parametrize(("line", "reason"), STORIES)
def test_first_reason_of_each_story(chain, line: int, reason: str | None) -> None:
    assert chain.run(abc(line)).reason == reason


def test_clean_report_counts_match_the_chain(chain) -> None:
    texts = [abc(i) for i, _ in STORIES]
    rep = evaluate_clean(chain, texts, "abc")
    dropped = [r for _, r in STORIES if r]
    assert (rep.n_docs, rep.dropped) == (len(STORIES), len(dropped))
    assert rep.drop_rate == pytest.approx(len(dropped) / len(STORIES))
    assert dict(rep.first_reasons) == {r: 1 for r in dropped}
    per_rule = {r.name: r for r in rep.rules}
    assert per_rule["en.toxicity"].dropped == 1 and per_rule["en.toxicity"].reasons["en.toxicity.slurs"] == 1
    assert per_rule["en.word_count"].dropped == 0
    assert rep.dropped_no_length == rep.dropped  # no length rule fires on these stories
    table = format_clean(rep)
    assert "dropped 2 (33.33%)" in table and "en.toxicity" in table and "slurs 1" in table


def test_cli_clean_and_labels(tmp_path: Path, capsys) -> None:
    clean = write_jsonl(tmp_path / "abc.jsonl", [{"text": abc(i)} for i, _ in STORIES])
    out = tmp_path / "eval.json"
    assert run_cli("eval-filters", "--profile", EN_WEB, "--clean", clean, "--json", out) == 0
    printed = capsys.readouterr().out
    assert "clean set abc.jsonl: 6 documents, dropped 2 (33.33%)" in printed
    rep = json.loads(out.read_text())
    (c,) = rep["clean"]
    assert c["n_docs"] == 6 and c["dropped"] == 2 and c["drop_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert c["first_reasons"]["en.toxicity.slurs"] == 1
    assert {r["name"]: r["dropped"] for r in c["rules"]}.get("en.ng_words", 0) == 0
    # labels and clean sets together: the labelled report keeps its keys, plus "clean"
    labels = write_jsonl(tmp_path / "lab.jsonl", [{"text": abc(0), "label": "good"}, {"text": abc(1), "label": "bad"}])
    assert run_cli("eval-filters", "--profile", EN_WEB, "--labels", labels, "--clean", clean, "--json", out) == 0
    both = json.loads(out.read_text())
    assert both["n_bad"] == 1 and both["bad_dropped"] == 1 and len(both["clean"]) == 1


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--profile", "en_web"], 2),  # neither --labels nor --clean
        (["--profile", "en_web", "--clean", "no/such/file.jsonl"], 2),
    ],
)
def test_cli_errors(argv: list[str], code: int) -> None:
    assert run_cli("eval-filters", *argv) == code
