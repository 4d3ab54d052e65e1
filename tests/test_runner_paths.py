"""Launch checks for runners whose workers cannot see the launcher's disk (Spark, Flink, Dataflow,
a remote portable job service): every local path they would open is refused with its config key,
by ``corpusflow validate --runner ...`` and by ``corpusflow run`` before anything is written;
``pkg:`` paths, object-store URLs and ``--shared_filesystem=true`` are accepted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpusflow.core.paths import resolve_path
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.index import FORMAT, FORMAT_VERSION, META_FILE, settings_of
from corpusflow.run.runners import beam_options, workers_see_local_disk
from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "pipelines" / "demo.yaml"  # every path in it is a pkg: path
TOKENIZER = "pkg:resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model"

RUNNERS = {
    "SparkRunner": ["--runner", "SparkRunner", "--spark_master_url=spark://10.0.0.5:7077",
                    "--job_endpoint=localhost:8099"],
    "FlinkRunner": ["--runner", "FlinkRunner", "--flink_master=10.0.0.5:8081", "--job_endpoint=localhost:8099"],
    "DataflowRunner": ["--runner", "DataflowRunner", "--project=p", "--region=europe-west4",
                       "--temp_location=gs://b/tmp", "--setup_file=./pyproject.toml"],
    "PortableRunner remote": ["--runner", "PortableRunner", "--job_endpoint=10.0.0.5:8099",
                              "--environment_type=EXTERNAL", "--environment_config=10.0.0.6:50000"],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Real local files of every kind a worker opens."""
    d = tmp_path_factory.mktemp("local_files")
    (d / "in.jsonl").write_text(json.dumps({"id": "a", "text": "吾輩は猫である。名前はまだ無い。"}, ensure_ascii=False) + "\n")
    (d / "lid.bin").write_bytes(b"\0")  # only its existence is checked at launch
    (d / "block.txt").write_text("example.com\n")
    (d / "tlds.txt").write_text("jp\n")
    (d / "ng.txt").write_text("死ね\n")
    (d / "quality.ftz").write_bytes(b"\0")
    head = "languages: [ja]\nfilters:\n  - name: ja.ng_adult\n"  # a shipped (pkg:) NG-word list
    (d / "ng_profile.yaml").write_text(
        f"name: local_ng\n{head}  - name: ja.ng_words\n    params: {{wordlist: {d / 'ng.txt'}}}\n")
    (d / "quality_profile.yaml").write_text(
        f"name: local_quality\n{head}  - name: quality.fasttext_score\n    params: {{model: {d / 'quality.ftz'}}}\n")
    (d / "decontam").mkdir()
    (d / "dedup_index").mkdir()
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "run": "earlier", "rows": 0,
            "settings": settings_of(DedupStageConfig(enabled=True), 1234)}  # demo seed
    (d / "dedup_index" / META_FILE).write_text(json.dumps(meta))
    (d / "dsir.npz").write_bytes(b"\0")
    shutil.copy(resolve_path(TOKENIZER), d / "tokenizer.model")
    return {"dir": d}


def _kinds(d: Path) -> dict[str, tuple[list[str], str]]:
    """Path kind -> (CLI arguments that make only that path local, the key the refusal names)."""
    return {
        "output": (["--output", str(d / "out")], "--output"),
        "input": (["--input", str(d / "in.jsonl")], "sources.0.paths.0"),
        "langid model": (["--set", f"stages.langid.model={d / 'lid.bin'}"], "stages.langid.model"),
        "URL block list": (["--set", f"stages.urls.blocklist_files=[{d / 'block.txt'}]"],
                           "stages.urls.blocklist_files.0"),
        "TLD allow list": (["--set", "stages.urls.tld_allowlist=true", "--set",
                            f"stages.urls.tld_allowlist_file={d / 'tlds.txt'}"], "stages.urls.tld_allowlist_file"),
        "NG-word list": (["--set", f"stages.filters.profiles.ja={d / 'ng_profile.yaml'}"],
                         "stages.filters.profiles.ja: filter ja.ng_words wordlist"),
        "quality model": (["--set", f"stages.filters.profiles.en={d / 'quality_profile.yaml'}"],
                          "stages.filters.profiles.en: filter quality.fasttext_score model"),
        "decontam index": (["--set", "stages.decontam.enabled=true", "--set", f"stages.decontam.index={d / 'decontam'}"],
                           "stages.decontam.index"),
        "dedup index": (["--set", f"stages.dedup.earlier_indexes=[{d / 'dedup_index'}]"],
                        "stages.dedup.earlier_indexes.0"),
        "DSIR model": (["--set", "stages.dsir.enabled=true", "--set", "stages.dsir.k=10", "--set",
                        f"stages.dsir.model={d / 'dsir.npz'}"], "stages.dsir.model"),
        "tokenizer": (["--set", f"stages.mixture.tokenizer={d / 'tokenizer.model'}"], "stages.mixture.tokenizer"),
    }


KIND_NAMES = ["output", "input", "langid model", "URL block list", "TLD allow list", "NG-word list",
              "quality model", "decontam index", "dedup index", "DSIR model", "tokenizer"]


@pytest.fixture(autouse=True)
def _dataflow_client(monkeypatch) -> None:
    """Where apache-beam[gcp] is missing, stand in for the Dataflow API client module that
    runners.beam_options imports (nothing is submitted in these tests: only the checks run)."""
    try:
        from apache_beam.runners.dataflow.internal import apiclient  # noqa: F401
    except ImportError:
        import sys
        import types

        monkeypatch.setitem(sys.modules, "apache_beam.runners.dataflow.internal.apiclient",
                            types.ModuleType("apiclient"))


def _validate(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli("validate", DEMO, *args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_local_path_refused_with_its_key(files, capsys, runner: str, kind: str) -> None:
    args, key = _kinds(files["dir"])[kind]
    if kind != "output":
        args = [*args, "--output", "s3://bucket/out"]
    code, err = _validate(capsys, *args, *RUNNERS[runner])
    assert code == 2, err
    name = runner.split()[0]
    assert f"{name} workers cannot read or write local paths" in err
    assert "cannot see this machine's disk" in err and "--shared_filesystem=true" in err
    refused = [ln.strip() for ln in err.splitlines() if ln.startswith("  ")]
    assert len(refused) == 1 and key in refused[0], refused  # only that path, named by its key


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_pkg_paths_and_object_store_urls_accepted(files, capsys, runner: str) -> None:
    # The demo reads pkg: inputs and the shipped langid model, profiles and tokenizer.
    code, err = _validate(capsys, "--output", "s3://bucket/out", *RUNNERS[runner])
    assert code == 0, err
    remote = ["--set", "stages.langid.model=s3://bucket/models/lid.176.bin",
              "--set", "stages.decontam.enabled=true", "--set", "stages.decontam.index=gs://bucket/decontam",
              "--set", "stages.dsir.enabled=true", "--set", "stages.dsir.k=10",
              "--set", "stages.dsir.model=s3://bucket/dsir.npz"]
    code, err = _validate(capsys, "--output", "gs://bucket/out", *remote, *RUNNERS[runner])
    assert code == 0, err


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_shared_filesystem_true_accepts_every_local_path(files, capsys, runner: str) -> None:
    every: list[str] = []
    for kind in KIND_NAMES:
        every += _kinds(files["dir"])[kind][0]
    code, err = _validate(capsys, *every, *RUNNERS[runner], "--shared_filesystem=true")
    assert code == 0, err


def test_run_refuses_before_writing_anything(files, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    capsys.readouterr()
    assert run_cli("run", DEMO, "--output", out, *RUNNERS["SparkRunner"]) == 2
    err = capsys.readouterr().err
    assert "SparkRunner workers cannot read or write local paths" in err and f"--output {out}" in err
    assert not out.exists()


@pytest.mark.parametrize(("argv", "sees"), [
    (["DirectRunner"], True),
    (["PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"], True),
    (["PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
      "--environment_config=localhost:50000"], False),
    (["PortableRunner", "--job_endpoint=localhost:8099"], False),
    (["SparkRunner", "--job_endpoint=localhost:8099"], False),
    (["SparkRunner", "--job_endpoint=localhost:8099", "--shared_filesystem=true"], True),
    (["FlinkRunner", "--job_endpoint=localhost:8099"], False),
])
def test_which_runners_see_the_launchers_disk(argv: list[str], sees: bool) -> None:
    _beam_argv, summary = beam_options(argv[0], argv[1:], check=False)
    assert workers_see_local_disk(summary) is sees
