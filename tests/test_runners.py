"""Runner selection, and the same output from every runner.

* Unit tests of :mod:`corpusflow.run.runners`: CLI names -> Beam options, the config's ``runner:``
  section with the CLI overriding it, usage errors for options that cannot work.
* The demo pipeline (configs/pipelines/demo.yaml, whatever stages it enables) under
  DirectRunner in_memory, DirectRunner multi_processing (2 worker processes) and PortableRunner
  (Beam's job service, LOOPBACK environment): every output file byte-identical, same manifest.
* ``slow``: the same under PortableRunner with a separate job-service process and an EXTERNAL
  worker pool (``worker_pool_main``): real worker processes that import corpusflow from the
  installed package, the closest offline stand-in for Dataflow/Spark workers (beam.md §3).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from corpusflow.config.load import load_config
from corpusflow.core.errors import ConfigError
from corpusflow.run.runners import (
    RunnerConfig,
    beam_options,
    check_paths_for_runner,
    merge_argv,
    options_to_argv,
    resolve_runner,
)
from tests.helpers import fixture, load_manifest, run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "pipelines" / "demo.yaml"
# Manifest keys that describe how the job ran, not what it produced.
RUN_KEYS = ("runner", "seconds", "resume")  # resume: input ranges reused/computed (their count depends on the workers)


# ------------------------------------------------------------------------------------------------
# Runner names and options
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runner,flags,argv,summary", [
    ("DirectRunner", [], ["--runner=FnApiRunner", "--shared_filesystem=true"],
     {"runner": "DirectRunner", "engine": "FnApiRunner", "mode": "in_memory", "workers": 1}),
    ("direct", ["--direct_running_mode", "multi_processing"],
     ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2",
      "--shared_filesystem=true"],
     {"mode": "multi_processing", "workers": 2}),
    ("FnApiRunner", ["--direct_running_mode=multi_threading", "--direct_num_workers=0"],
     ["--runner=FnApiRunner", "--direct_running_mode=multi_threading", "--direct_num_workers=0",
      "--shared_filesystem=true"],
     {"mode": "multi_threading", "workers": 0}),
    ("PortableRunner", [], ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK",
      "--shared_filesystem=false"],
     {"runner": "PortableRunner", "job_endpoint": "embed", "environment_type": "LOOPBACK"}),
    ("portable", ["--environment_type=EXTERNAL", "--environment_config=localhost:50000",
                  "--job_endpoint=localhost:8099"],
     ["--runner=PortableRunner", "--environment_type=EXTERNAL", "--environment_config=localhost:50000",
      "--job_endpoint=localhost:8099", "--shared_filesystem=false"],
     {"environment_type": "EXTERNAL", "environment_config": "localhost:50000", "job_endpoint": "localhost:8099"}),
    ("SparkRunner", ["--spark_master_url=spark://host:7077"],
     ["--runner=SparkRunner", "--spark_master_url=spark://host:7077", "--environment_type=LOOPBACK",
      "--shared_filesystem=false"],
     {"runner": "SparkRunner", "spark_master_url": "spark://host:7077", "environment_type": "LOOPBACK"}),
    ("flink", ["--flink_master=host:8081", "--parallelism=8"],
     ["--runner=FlinkRunner", "--flink_master=host:8081", "--parallelism=8", "--environment_type=LOOPBACK",
      "--execution_mode_for_batch=BATCH_FORCED", "--shared_filesystem=false"],
     {"runner": "FlinkRunner"}),
    ("SparkRunner", ["--output_executable_path=job.jar", "--spark_version=3"],
     ["--runner=SparkRunner", "--output_executable_path=job.jar", "--spark_version=3",
      "--environment_type=LOOPBACK", "--shared_filesystem=false"],
     {"runner": "SparkRunner", "dry_run": True, "output_executable_path": "job.jar"}),
])
def test_runner_names_map_to_explicit_beam_options(runner, flags, argv, summary, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CORPUSFLOW_ENGINES", str(tmp_path))  # no locally built job-server jars
    got_argv, got_summary = beam_options(runner, flags)
    assert got_argv == argv
    assert summary.items() <= got_summary.items()


@pytest.mark.parametrize("runner,setting,flags,expected", [
    ("DirectRunner", "auto", [], "true"),
    ("PortableRunner", "auto", [], "false"),
    ("SparkRunner", "auto", ["--spark_master_url=spark://h:7077"], "false"),
    ("PortableRunner", "true", [], "true"),          # e.g. EXTERNAL workers on this machine
    ("DirectRunner", "false", [], "false"),          # force the shuffle path locally
    ("DirectRunner", "true", ["--shared_filesystem=false"], "false"),  # the command line wins
])
def test_shared_filesystem_is_resolved_once_into_the_options(runner, setting, flags, expected) -> None:
    from corpusflow.run.runners import RunnerConfig, resolve_runner

    argv, summary = resolve_runner(runner, flags, RunnerConfig(name=runner, shared_filesystem=setting))
    assert [a for a in argv if a.startswith("--shared_filesystem")] == [f"--shared_filesystem={expected}"]
    assert summary["shared_filesystem"] is (expected == "true")


@pytest.mark.parametrize("runner,flags,message", [
    ("Prism", [], "unknown runner 'Prism'; allowed: DirectRunner"),
    ("DirectRunner", ["--runner=PrismRunner"], "choose the runner with corpusflow's --runner"),
    ("DirectRunner", ["--direct_running_mode=multi_process"], "allowed: in_memory, multi_threading, multi_processing"),
    ("DirectRunner", ["--direct_num_worker=2"], "did you mean --direct_num_workers"),
    ("DirectRunner", ["--direct_num_workers=two"], "a number"),
    ("DirectRunner", ["stray"], "unexpected argument(s) stray"),
    ("PortableRunner", ["--environment_type=EXTERNAL"], "needs --environment_config=HOST:PORT"),
    ("PortableRunner", ["--environment_type=PROCESS"], "needs --environment_config='{\"command\""),
    ("PortableRunner", ["--environment_type=PROCESS", "--environment_config=/opt/boot"], "must be JSON"),
    ("PortableRunner", ["--environment_type=SUBPROCESS"], "allowed: LOOPBACK, EXTERNAL, PROCESS, DOCKER"),
    ("DataflowRunner", ["--project=my-project"], "DataflowRunner needs --region, --temp_location"),
    ("DataflowRunner", ["--project=p1", "--region=r", "--temp_location=/tmp/x"], "needs a gs:// URL"),
    ("DataflowRunner", ["--project=p1", "--region=r", "--temp_location=gs://b/t"], "--setup_file=./pyproject.toml"),
    ("SparkRunner", ["--spark_master=local"], "did you mean --spark_master_url"),
])
def test_impossible_runner_options_are_usage_errors(runner, flags, message) -> None:
    with pytest.raises(ValueError) as exc:
        beam_options(runner, flags)
    assert message in str(exc.value)


def test_dataflow_without_gcp_extra_says_what_to_install() -> None:
    flags = ["--project=my-project", "--region=europe-west4", "--temp_location=gs://b/tmp",
             "--setup_file=./pyproject.toml"]
    try:
        from apache_beam.runners.dataflow.internal import apiclient  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match=r"apache-beam\[gcp\].*corpusflow\[gcp\]"):
            beam_options("DataflowRunner", flags)
    else:  # [gcp] installed: the options are accepted as given
        argv, summary = beam_options("DataflowRunner", flags)
        assert argv[0] == "--runner=DataflowRunner" and summary["project"] == "my-project"


def test_options_to_argv_and_merge() -> None:
    opts = {"direct_running_mode": "multi_processing", "direct_num_workers": 2, "save_main_session": True,
            "no_auth": False, "experiments": ["a", "b"]}
    assert options_to_argv(opts) == ["--direct_running_mode=multi_processing", "--direct_num_workers=2",
                                     "--save_main_session", "--experiments=a", "--experiments=b"]
    assert merge_argv(["--a=1", "--b=2", "--c"], ["--b=3", "--d"]) == ["--a=1", "--c", "--b=3", "--d"]


def _cfg_with_runner(tmp_path: Path, runner: dict | None) -> Path:
    data = yaml.safe_load(DEMO.read_text())
    if runner is not None:
        data["runner"] = runner
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return p


@pytest.mark.parametrize("section,cli_runner,cli_flags,expect_argv", [
    # config only
    ({"name": "DirectRunner", "options": {"direct_running_mode": "multi_processing", "direct_num_workers": 3}},
     None, [], ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=3",
                "--shared_filesystem=true"]),
    # CLI flag overrides the same config option, keeps the others
    ({"name": "direct", "options": {"direct_running_mode": "multi_processing", "direct_num_workers": 3}},
     None, ["--direct_num_workers=1"],
     ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=1",
      "--shared_filesystem=true"]),
    # CLI --runner overrides the config's name; its options still apply
    ({"name": "DirectRunner", "options": {"environment_type": "EXTERNAL", "environment_config": "h:1"}},
     "PortableRunner", [],
     ["--runner=PortableRunner", "--environment_type=EXTERNAL", "--environment_config=h:1", "--job_endpoint=embed",
      "--shared_filesystem=false"]),
    # no section: DirectRunner in memory
    (None, None, [], ["--runner=FnApiRunner", "--shared_filesystem=true"]),
])
def test_config_runner_section_and_cli_override(tmp_path, section, cli_runner, cli_flags, expect_argv) -> None:
    cfg = load_config(_cfg_with_runner(tmp_path, section))
    argv, _summary = resolve_runner(cli_runner, cli_flags, cfg.runner)
    assert argv == expect_argv


@pytest.mark.parametrize("section,message", [
    ({"name": "SparkRunnr"}, "unknown runner 'SparkRunnr'"),
    ({"name": "DirectRunner", "options": {"--direct_num_workers": 2}}, "without '--'"),
    ({"name": "DirectRunner", "options": {"runner": "x"}}, "runner.name"),
    ({"name": "DirectRunner", "option": {}}, "runner.option: unknown key; allowed keys here: name, options"),
])
def test_bad_runner_section_is_a_config_error(tmp_path, section, message) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(_cfg_with_runner(tmp_path, section))
    assert message in str(exc.value)


def test_runner_section_is_not_part_of_the_config_hash(tmp_path) -> None:
    plain = load_config(_cfg_with_runner(tmp_path, None))
    mp = load_config(_cfg_with_runner(tmp_path, {"name": "PortableRunner"}))
    assert plain.config_hash() == mp.config_hash()
    assert mp.runner == RunnerConfig(name="PortableRunner")


def test_dataflow_refuses_local_paths() -> None:
    summary = {"runner": "DataflowRunner", "dry_run": False}
    with pytest.raises(ValueError, match="(?s)cannot read or write local paths.*--output out/x.*data/a.jsonl"):
        check_paths_for_runner(summary, "out/x", ["gs://b/in/a.jsonl", "data/a.jsonl"])
    check_paths_for_runner(summary, "gs://b/out", ["gs://b/in/a.jsonl", "s3://c/a.jsonl"])  # fine
    check_paths_for_runner({"runner": "DirectRunner"}, "out/x", ["data/a.jsonl"])  # local runner: fine


def test_cli_rejects_a_misspelt_beam_flag_before_writing_anything(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert run_cli("run", DEMO, "--output", out, "--direct_runing_mode=multi_processing") == 2
    assert "did you mean --direct_running_mode" in capsys.readouterr().err
    assert not out.exists()


def test_cli_runner_from_config_section(tmp_path) -> None:
    """The config's runner section is used (and recorded) when the CLI names no runner."""
    from tests.conftest import write_jsonl

    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "吾輩は猫である。名前はまだ無い。"},
                                              {"id": "2", "text": "The quick brown fox jumps over the lazy dog."}])
    cfg = tmp_path / "small.yaml"
    cfg.write_text(yaml.safe_dump({
        "sources": [{"name": "s", "paths": [str(src)]}],
        "runner": {"name": "direct", "options": {"direct_running_mode": "multi_threading"}},
    }))
    out = tmp_path / "out"
    assert run_cli("run", cfg, "--output", out) == 0
    runner = load_manifest(out)["runner"]
    assert (runner["runner"], runner["mode"], runner["workers"]) == ("DirectRunner", "multi_threading", 2)


# ------------------------------------------------------------------------------------------------
# Identical output under every local runner mode
# ------------------------------------------------------------------------------------------------


def _file_hashes(out: Path) -> dict[str, str]:
    """sha256 of every file a run wrote, except the manifest (it names the runner and the time)."""
    found = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and rel != "manifest.json" and not rel.startswith("_work/"):  # plan/stats name the runner
            found[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def _what_it_produced(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k not in RUN_KEYS}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("in_memory") / "out"
    assert run_cli("run", DEMO, "--output", out, "--runner", "DirectRunner") == 0
    return out


MODES = {
    "multi_processing": ["--runner", "DirectRunner", "--direct_running_mode=multi_processing",
                         "--direct_num_workers=2"],
    "portable_loopback": ["--runner", "PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
    # the reference spills to local run files; this one shuffles every record through the runner
    "in_memory_no_shared_fs": ["--runner", "DirectRunner", "--shared_filesystem=false"],
    # and the portable runner the other way round: its LOOPBACK workers are on this machine
    "portable_loopback_shared_fs": ["--runner", "PortableRunner", "--job_endpoint=embed",
                                    "--environment_type=LOOPBACK", "--shared_filesystem=true"],
}


@pytest.mark.parametrize("mode", list(MODES))
def test_demo_output_identical_across_runners(tmp_path, reference_run: Path, mode: str) -> None:
    out = tmp_path / mode
    assert run_cli("run", DEMO, "--output", out, *MODES[mode]) == 0
    ref, got = load_manifest(reference_run), load_manifest(out)
    assert got["runner"]["runner"] == MODES[mode][1]
    assert got["counts"] == ref["counts"] and got["stages"] == ref["stages"]
    assert got["outputs"] == ref["outputs"]  # file names, rows, bytes, sha256
    assert _what_it_produced(got) == _what_it_produced(ref)
    assert _file_hashes(out) == _file_hashes(reference_run)
    assert ref["counts"]["total"]["conserved"] and ref["counts"]["total"]["kept"] > 0


# ------------------------------------------------------------------------------------------------
# EXTERNAL worker pool + separate job service: real worker processes
# ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s: {log.read_text()[-2000:]}")


def _start(args: list[str], log: Path) -> subprocess.Popen:
    # The worker pool starts workers as plain `python` from PATH (beam.md §3): put this
    # interpreter's directory first, or the workers lack Beam/corpusflow and the job hangs.
    # They run in the log's folder: PYTHONPATH gives them this checkout's corpusflow.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    with open(log, "wb") as fh:
        return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=log.parent)


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process started here and the workers it spawned (its own session/process group)."""
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def _job_service_and_pool(tmp_path: Path) -> Iterator[tuple[int, int, subprocess.Popen]]:
    """Beam's job service and an EXTERNAL worker pool, each its own process on this machine;
    yields (job service port, pool port, job service process) and stops both."""
    pool_port, job_port = _free_port(), _free_port()
    pool = _start(["apache_beam.runners.worker.worker_pool_main", f"--service_port={pool_port}"],
                  tmp_path / "pool.log")
    jobs = None
    try:
        jobs = _start(["apache_beam.runners.portability.local_job_service_main", f"--port={job_port}"],
                      tmp_path / "jobs.log")
        _wait_for_port(pool_port, pool, tmp_path / "pool.log")
        _wait_for_port(job_port, jobs, tmp_path / "jobs.log")
        yield job_port, pool_port, jobs
    finally:
        _stop(pool)
        if jobs is not None:
            _stop(jobs)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_demo_output_identical_with_external_worker_pool(tmp_path, reference_run: Path) -> None:
    out = tmp_path / "external"
    with _job_service_and_pool(tmp_path) as (job_port, pool_port, _jobs):
        code = run_cli("run", DEMO, "--output", out, "--runner", "PortableRunner",
                       "--shared_filesystem=true",  # the pool's workers run on this machine
                       f"--job_endpoint=localhost:{job_port}", "--environment_type=EXTERNAL",
                       f"--environment_config=localhost:{pool_port}")
        assert code == 0, (tmp_path / "pool.log").read_text()[-3000:]
    got, ref = load_manifest(out), load_manifest(reference_run)
    assert got["runner"]["environment_type"] == "EXTERNAL"
    assert _what_it_produced(got) == _what_it_produced(ref)
    assert _file_hashes(out) == _file_hashes(reference_run)


# ------------------------------------------------------------------------------------------------
# Packaging for workers: what --setup_file ships
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sdist_ships_every_package_file(tmp_path) -> None:
    """Dataflow's ``--setup_file=./pyproject.toml`` stages ``python -m build --sdist`` and the
    workers pip-install it: every file of the package (code, the fastText model, tokenizers,
    word lists, filter profiles, the demo sample) must be in it, or ``pkg:`` paths break on
    workers while working in an editable install."""
    import tarfile

    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--outdir", str(tmp_path), "."],
                   cwd=REPO, check=True, capture_output=True, timeout=170)
    (sdist,) = tmp_path.glob("corpusflow-*.tar.gz")
    with tarfile.open(sdist) as tar:
        shipped = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    package = REPO / "corpusflow"
    expected = {p.relative_to(REPO).as_posix() for p in package.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
                and p.suffix != ".pyc"}
    assert "corpusflow/resources/lid.176.ftz" in expected
    assert sorted(expected - shipped) == []


# ------------------------------------------------------------------------------------------------
# The shard writer's local spill path writes the same bytes as its shuffle path
# ------------------------------------------------------------------------------------------------


CASES = {  # name: (documents, shard_max_bytes, spill_bytes)
    "many_runs": (240, 20_000, 5_000),  # a run per ~5 kB, ~10 shards: every shard reads every run
    "one_shard": (240, 10**9, None),
    "nothing": (0, 20_000, 5_000),
}


def _docs(n: int) -> list:
    from corpusflow.core.document import Document
    from tests.conftest import read_jsonl

    if not n:
        return []
    ja = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=n // 2)
    en = read_jsonl(fixture("en/c4_sample.jsonl.gz"), limit=n // 2)
    # ids repeat on purpose: the full key (id, source, file, line) orders the rows
    return [Document(id=f"d{i % 97}", text=r["text"], source="ja" if i < len(ja) else "en", lang="ja",
                     lang_score=0.5 + (i % 7) / 20, url=r.get("url"), meta={"i": i, "名": "値"},
                     file=f"f{i % 3}.jsonl", line=i)
            for i, r in enumerate(ja + en)]


def _write_cases(spill: bool, cases: dict, out: Path) -> None:
    """One FnApiRunner pipeline with one WriteShards per case (spill path or shuffle path)."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from corpusflow.core.schemas import DOC_SCHEMA, doc_row
    from corpusflow.stages.write import WriteShards

    with TestPipeline(runner="FnApiRunner") as p:
        for name, (docs, max_bytes, spill_bytes) in cases.items():
            w = WriteShards(str(out / name), "train", DOC_SCHEMA, doc_row, seed=5, row_group_rows=7,
                            shard_max_bytes=max_bytes, spill=spill, spill_bytes=spill_bytes)
            rows = ((p | f"Create{name}" >> beam.Create(docs) | f"Write{name}" >> w).infos
                    | f"Rows{name}" >> beam.Map(lambda i: i["rows"]))
            assert_that(rows | f"Sum{name}" >> beam.CombineGlobally(sum), equal_to([len(docs)]), label=f"Check{name}")


def _files(d: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(d.glob("*.parquet"))} if d.exists() else {}


def test_spill_writer_is_byte_identical_to_shuffle_writer(tmp_path, monkeypatch) -> None:
    """The local runners' spill path (rows in Arrow run files) and the shuffle path (rows through a
    GroupByKey) write the same shard files, byte for byte, and the spill leaves no run files."""
    import pyarrow.parquet as pq

    spill_dir = tmp_path / "spill-runs"
    spill_dir.mkdir()
    monkeypatch.setenv("CORPUSFLOW_SPILL_DIR", str(spill_dir))
    cases = {name: (_docs(n), max_bytes, spill_bytes) for name, (n, max_bytes, spill_bytes) in CASES.items()}
    _write_cases(False, cases, tmp_path / "shuffle")
    _write_cases(True, cases, tmp_path / "spill")
    for name, (docs, _max_bytes, _sb) in cases.items():
        a, b = _files(tmp_path / "shuffle" / name), _files(tmp_path / "spill" / name)
        assert list(a) == list(b) and a == b, name
        assert sum(pq.read_metadata(tmp_path / "spill" / name / f).num_rows for f in b) == len(docs)
    assert len(_files(tmp_path / "spill" / "many_runs")) > 5
    assert len(_files(tmp_path / "spill" / "one_shard")) == 1
    assert _files(tmp_path / "spill" / "nothing") == {}  # finish_run writes the empty shard
    assert list(spill_dir.iterdir()) == []  # run files removed


@pytest.mark.parametrize("routing", ["join", "side_input"])
def test_dedup_routing_join_and_side_input_write_identical_files(tmp_path, reference_run: Path, routing: str) -> None:
    """``stages.dedup.routing`` forced either way on the local runner (``auto`` = side_input here,
    the reference): the same files, counts and shard list. The dataset card (README.md) is left out:
    it prints the config, routing setting and config hash included."""
    out = tmp_path / routing
    assert run_cli("run", DEMO, "--output", out, "--set", f"stages.dedup.routing={routing}") == 0
    ref, got = load_manifest(reference_run), load_manifest(out)
    assert ref["counts"]["total"]["duplicates"] > 0
    assert got["counts"] == ref["counts"] and got["outputs"] == ref["outputs"]
    got_files, ref_files = _file_hashes(out), _file_hashes(reference_run)
    assert got_files.pop("README.md") and ref_files.pop("README.md")
    assert any(f.startswith("data/") for f in got_files) and got_files == ref_files


# ------------------------------------------------------------------------------------------------
# --detach: submit, exit, finish later
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("runner", "flags", "message"), [
    ("DirectRunner", [], "runs the job inside this process"),
    ("PortableRunner", [], "needs --job_endpoint=HOST:PORT"),  # embed: the job service is this process
    ("SparkRunner", ["--environment_type=EXTERNAL", "--environment_config=h:1"], "needs --job_endpoint"),
    ("FlinkRunner", ["--job_endpoint=h:8099"], "LOOPBACK workers are threads of this process"),
    ("PortableRunner", ["--job_endpoint=h:8099", "--environment_type=EXTERNAL", "--environment_config=h:1"], None),
    ("SparkRunner", ["--job_endpoint=h:8099", "--environment_type=DOCKER"], None),
])
def test_detach_only_for_jobs_that_outlive_the_launcher(runner: str, flags: list[str], message: str | None) -> None:
    from corpusflow.run.runners import check_detach

    _argv, summary = beam_options(runner, flags, check=False)
    if message is None:
        check_detach(summary)
    else:
        with pytest.raises(ValueError, match=message):
            check_detach(summary)
    check_detach({"runner": "DataflowRunner"})


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_detach_exits_after_submission_and_finish_writes_the_manifest(tmp_path, reference_run: Path,
                                                                       capsys) -> None:
    """A job service and a worker pool apart from the launcher: ``run --detach`` returns while the
    job runs (no manifest yet), the job ends on its own, ``corpusflow finish`` writes the manifest."""
    out = tmp_path / "detached"
    with _job_service_and_pool(tmp_path) as (job_port, pool_port, jobs):
        capsys.readouterr()
        code = run_cli("run", DEMO, "--output", out, "--runner", "PortableRunner", "--detach",
                       "--shared_filesystem=true",  # the pool's workers run on this machine
                       f"--job_endpoint=localhost:{job_port}", "--environment_type=EXTERNAL",
                       f"--environment_config=localhost:{pool_port}")
        said = capsys.readouterr().out
        assert code == 0 and "submitted: PortableRunner job job-" in said and f"corpusflow finish {out}" in said
        assert not (out / "manifest.json").exists()  # returned before the job's end
        deadline = time.time() + 180
        while not (out / "_work" / "stats.json").exists():
            assert time.time() < deadline, (tmp_path / "jobs.log").read_text()[-3000:]
            assert jobs.poll() is None
            time.sleep(0.5)
        time.sleep(1.0)
        assert run_cli("finish", out) == 0
    got, ref = load_manifest(out), load_manifest(reference_run)
    assert got["runner"]["environment_type"] == "EXTERNAL"
    assert got["counts"] == ref["counts"] and got["outputs"] == ref["outputs"]
    assert _file_hashes(out) == _file_hashes(reference_run)
