"""End to end: `corpusflow run configs/pipelines/full_ja80_en20.yaml` on a make_corpus web crawl,
then `corpusflow mix` from its pool with the raw inputs removed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import SHARED
from tests.helpers import load_manifest, run_cli

pytestmark = pytest.mark.shared_data  # every test here needs ../shared (corpora or bench scripts)

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "pipelines" / "full_ja80_en20.yaml"
MAKE_CORPUS = SHARED / "bench" / "make_corpus.py"
N_DOCS = 1500


def shard_files(out: Path) -> list[Path]:
    return sorted((out / "data").glob("train-*.parquet"))


def token_shares(out: Path) -> tuple[dict[str, float], Counter]:
    """Token shares per language, recomputed from the shards (independent of the manifest)."""
    tokens: Counter = Counter()
    copies: Counter = Counter()
    for f in shard_files(out):
        t = pq.read_table(f, columns=["id", "source", "lang", "n_tokens"]).to_pylist()
        for r in t:
            tokens[r["lang"]] += r["n_tokens"]
            copies[(r["source"], r["id"])] += 1
    total = sum(tokens.values())
    return {k: v / total for k, v in tokens.items()}, copies


def digests(out: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in shard_files(out)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data: Path) -> Path:
    """A make_corpus web corpus (../shared/bench): the tests using it carry the shared_data marker."""
    if not MAKE_CORPUS.is_file():
        pytest.skip(f"{MAKE_CORPUS} is not available")
    d = tmp_path_factory.mktemp("corpus") / "C"
    subprocess.run([sys.executable, str(MAKE_CORPUS), "--out", str(d), "--docs", str(N_DOCS), "--seed", "3"],
                   check=True, capture_output=True)
    return d


@pytest.fixture(scope="module")
def run_out(tmp_path_factory, corpus: Path) -> Path:
    out = tmp_path_factory.mktemp("run") / "OUT"
    rc = run_cli("run", CONFIG, "--input", str(corpus / "web" / "*.jsonl.gz"), "--output", out, "-q")
    assert rc == 0
    return out


def test_full_run_hits_80_20_by_llmjp_tokens(run_out: Path) -> None:
    m = load_manifest(run_out)
    mx = m["mixture"]
    assert mx["tokenizer"]["name"] == "llm-jp-v3.1" and mx["count"]["mode"] == "exact"
    for lang, share in (("ja", 0.8), ("en", 0.2)):
        assert abs(mx["groups"][lang]["measured_share_of_tokens"] - share) < 0.005
    shares, copies = token_shares(run_out)
    assert abs(shares["ja"] - 0.8) < 0.005 and abs(shares["en"] - 0.2) < 0.005
    assert max(copies.values()) == 1  # budget 'all': no repeats
    assert mx["checks"]["shards_match_plan"] and mx["checks"]["rows_sum"]
    # the manifest lists the same shards (names, sha256) that are on disk
    assert {s["file"]: s["sha256"] for s in m["outputs"]["data"]} == digests(run_out)
    # kept = what reached the pool
    pool = json.loads((run_out / "pool" / "_pool.json").read_text())
    assert pool["documents"] == m["counts"]["total"]["kept"]
    assert (run_out / "README.md").read_text().startswith("---\nconfigs:")


def test_budget_above_data_with_max_epochs_2_reports_shortfall(run_out: Path, corpus: Path, tmp_path) -> None:
    mx = load_manifest(run_out)["mixture"]
    en_available = sum(c["available"] for c in mx["cells"] if c["lang"] == "en")
    budget = int(en_available / 0.2 * 2.5)  # English would need 2.5 epochs, Japanese about 2
    caps = ["--set", "stages.mixture.sources.input/en.max_epochs=2",
            "--set", "stages.mixture.sources.input/ja.max_epochs=4"]
    out = tmp_path / "short"
    rc = run_cli("run", CONFIG, "--input", str(corpus / "web" / "*.jsonl.gz"), "--output", out, "-q",
                 "--set", f"stages.mixture.budget={budget}", "--set", "stages.mixture.on_shortfall=report", *caps)
    assert rc == 0
    rep = load_manifest(out)["mixture"]
    _, copies = token_shares(out)
    assert max(n for (_s, i), n in copies.items()) <= 4
    en_ids = {(c["source"], c["id"]) for f in shard_files(out)
              for c in pq.read_table(f, columns=["source", "id", "lang"]).to_pylist() if c["lang"] == "en"}
    assert max(copies[k] for k in en_ids) == 2  # no English document more than twice
    assert len(rep["shortfall"]) == 1 and "group 'en'" in rep["shortfall"][0]
    assert "max_epochs=2" in rep["shortfall"][0] and rep["groups"]["en"]["shortfall"] > 0
    assert rep["groups"]["ja"]["shortfall"] == 0

    # the default policy (fail) stops with the reason; checked on the pool (same stage logic)
    assert run_cli("mix", CONFIG, "--from", out, "--output", tmp_path / "fail",
                   "--set", f"stages.mixture.budget={budget}", *caps) == 1
    assert not (tmp_path / "fail").exists()


def test_mix_without_raw_inputs(run_out: Path, corpus: Path, tmp_path: Path, capsys) -> None:
    shutil.rmtree(corpus / "web")  # a re-mix must never read raw data
    # same config and seed as the run -> byte-identical shards
    same = tmp_path / "same"
    assert run_cli("mix", CONFIG, "--from", run_out, "--output", same) == 0
    assert digests(same) == digests(run_out)
    # another ratio
    capsys.readouterr()
    assert run_cli("mix", CONFIG, "--from", run_out, "--output", tmp_path / "dry", "--dry-run",
                   "--set", "stages.mixture.groups.ja=0.7", "--set", "stages.mixture.groups.en=0.3") == 0
    printed = capsys.readouterr().out
    assert "input/ja" in printed and "input/en" in printed and "0.700" in printed
    assert not (tmp_path / "dry").exists()
    out = tmp_path / "ja70"
    assert run_cli("mix", CONFIG, "--from", run_out, "--output", out,
                   "--set", "stages.mixture.groups.ja=0.7", "--set", "stages.mixture.groups.en=0.3") == 0
    shares, _ = token_shares(out)
    assert abs(shares["ja"] - 0.7) < 0.005
    m = load_manifest(out)
    assert m["kind"] == "mix" and m["mixture"]["count"]["reused_from_pool"] is True
    assert m["upstream"]["counts"]["kept"] == load_manifest(run_out)["counts"]["total"]["kept"]
    # a re-mix of a re-mix reads the original pool (recorded in the manifest)
    assert not (out / "pool").exists()
    assert run_cli("mix", CONFIG, "--from", out, "--output", tmp_path / "again", "--dry-run") == 0
    # a different tokenizer: counts again from the pool's text, writes a new pool
    llama = tmp_path / "llama"
    assert run_cli("mix", CONFIG, "--from", run_out, "--output", llama, "--set", "stages.mixture.tokenizer=llama3") == 0
    ml = load_manifest(llama)["mixture"]
    assert ml["tokenizer"]["name"] == "llama3" and (llama / "pool" / "_pool.json").exists()
    shares, _ = token_shares(llama)
    assert abs(shares["ja"] - 0.8) < 0.005
    # and a re-mix of that re-mix finds the llama3 pool
    assert run_cli("mix", CONFIG, "--from", llama, "--output", tmp_path / "llama2", "--dry-run",
                   "--set", "stages.mixture.tokenizer=llama3") == 0


def test_mix_multi_processing_gives_the_same_bytes(run_out: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("mix", CONFIG, "--from", run_out, "--output", a, "--set", "seed=99") == 0
    assert run_cli("mix", CONFIG, "--from", run_out, "--output", b, "--set", "seed=99",
                   "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    assert digests(a) == digests(b) != digests(run_out)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--from", "{missing}"], 2, "no pool found"),
        (["--from", "{run}", "--output", "{run}"], 2, "must differ"),
        (["--from", "{run}", "--set", "stages.mixture.groups.ja=0.5"], 2, "group shares must sum to 1"),
        (["--from", "{run}", "--set", "stages.mixture.budget=1T"], 1, "mixture shortfall"),
        (["--from", "{run}", "--set", "stages.mixture.groups={ja: 0.9, zh: 0.1}"], 1, "group 'zh' has no documents"),
        # the pool and the output are on this disk, which Spark's workers may not see
        (["--from", "{run}", "--runner", "SparkRunner", "--job_endpoint=localhost:8099"], 2,
         "SparkRunner workers cannot read or write local paths"),
    ],
)
def test_mix_errors(run_out: Path, tmp_path: Path, capsys, args, code, message) -> None:
    args = [a.replace("{missing}", str(tmp_path / "nothing")).replace("{run}", str(run_out)) for a in args]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "o")]
    capsys.readouterr()
    assert run_cli("mix", CONFIG, *args) == code
    assert message in capsys.readouterr().err
    if code == 2:
        assert not (tmp_path / "o").exists()  # refused before anything is written
