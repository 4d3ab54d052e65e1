"""The real pipeline on Apache Spark and Apache Flink through Beam's portable runners.

* Unit tests of :mod:`corpusflow.run.engines` (which job-server jar and SDK environment a Spark or
  Flink run gets) and of the filter for the worker-shutdown tracebacks those runners cause.
* ``engines``: the demo config and a 5,000-document make_corpus build (real JA/EN text with
  near-duplicate clusters, noise pages) run locally, on a Spark standalone cluster (a master and
  two workers, separate JVMs from pyspark, started by engines/spark-cluster.sh) and on Flink
  (embedded cluster, ``--flink_master=[local]``): every output file byte-identical to the local
  run and the same manifest apart from how the job ran. Needs engines/fetch.sh (the jars and
  pyspark); skipped without them, except under CI, where it is a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

from corpusflow.run import engines
from corpusflow.run.runners import _is_runner_hangup, beam_options
from tests.conftest import SHARED
from tests.helpers import load_manifest, run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "pipelines" / "demo.yaml"
FULL = REPO / "configs" / "pipelines" / "full_ja80_en20.yaml"
MAKE_CORPUS = SHARED / "bench" / "make_corpus.py"
RUN_KEYS = ("runner", "seconds", "resume")  # how the job ran (resume: ranges reused/computed), not what it produced

# Every engine here runs on this machine: the local outputs are on a disk all its workers see,
# which is what --shared_filesystem=true states (else the launch check refuses local paths).
SHARED_DISK = "--shared_filesystem=true"


# ------------------------------------------------------------------------------------------------
# Runner defaults
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runner,flags,jars,expect", [
    # nothing built, nothing given: Beam's own download path, LOOPBACK workers
    ("SparkRunner", ["--spark_master_url=spark://127.0.0.1:7077"], False,
     ["--environment_type=LOOPBACK"]),
    # the jar built by engines/fetch.sh is used
    ("SparkRunner", ["--spark_master_url=spark://127.0.0.1:7077"], True,
     ["--environment_type=LOOPBACK", "--spark_job_server_jar={home}/" + engines.SPARK_JOB_SERVER_JAR]),
    ("FlinkRunner", ["--flink_master=[local]"], True,
     ["--environment_type=LOOPBACK", "--flink_job_server_jar={home}/" + engines.FLINK_JOB_SERVER_JAR,
      "--flink_version=1.19", "--execution_mode_for_batch=BATCH_FORCED"]),
    # the user's own choices win
    ("FlinkRunner", ["--flink_master=[local]", "--flink_version=1.19", "--environment_type=EXTERNAL",
                     "--execution_mode_for_batch=PIPELINED"], True,
     ["--flink_job_server_jar={home}/" + engines.FLINK_JOB_SERVER_JAR]),
    ("SparkRunner", ["--spark_job_server_jar=/opt/my.jar"], True, ["--environment_type=LOOPBACK"]),
    ("SparkRunner", ["--job_endpoint=localhost:8099", "--environment_type=PROCESS"], True, []),
    # other runners get nothing
    ("PortableRunner", [], True, []),
    ("DirectRunner", [], True, []),
])
def test_engine_defaults(tmp_path, monkeypatch, runner, flags, jars, expect) -> None:
    monkeypatch.setenv("CORPUSFLOW_ENGINES", str(tmp_path))
    if jars:
        for name in (engines.SPARK_JOB_SERVER_JAR, engines.FLINK_JOB_SERVER_JAR):
            (tmp_path / name).write_bytes(b"PK")
    assert engines.default_engine_flags(runner, flags) == [e.format(home=tmp_path) for e in expect]


def test_engine_runner_argv_and_summary(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CORPUSFLOW_ENGINES", str(tmp_path))
    (tmp_path / engines.FLINK_JOB_SERVER_JAR).write_bytes(b"PK")
    argv, summary = beam_options("flink", ["--flink_master=[local]"])
    assert argv[0] == "--runner=FlinkRunner"
    assert f"--flink_job_server_jar={tmp_path / engines.FLINK_JOB_SERVER_JAR}" in argv
    assert summary == {"runner": "FlinkRunner", "environment_type": "LOOPBACK", "flink_master": "[local]",
                       "flink_version": "1.19", "shared_filesystem": False}


@pytest.mark.parametrize("flags,message", [
    (["--environment_type=EXTERNAL"], "needs --environment_config=HOST:PORT"),
    (["--environment_type=SUBPROCESS"], "allowed: LOOPBACK, EXTERNAL, PROCESS, DOCKER"),
])
def test_engine_environment_errors(tmp_path, monkeypatch, flags, message) -> None:
    monkeypatch.setenv("CORPUSFLOW_ENGINES", str(tmp_path))
    with pytest.raises(ValueError, match=re.escape(message)):
        beam_options("SparkRunner", flags)


def test_shell_scripts_and_python_agree_on_versions_and_names() -> None:
    """engines/env.sh (used by fetch.sh and spark-cluster.sh) names the same jars and versions."""
    env = dict(re.findall(r"^([A-Z_]+)=([^\s#]+)", (REPO / "engines" / "env.sh").read_text(), re.M))
    assert env["BEAM_JAVA_VERSION"] == engines.BEAM_JAVA_VERSION
    assert env["SPARK_VERSION"] == engines.SPARK_VERSION and env["FLINK_VERSION"] == engines.FLINK_VERSION
    poms = {p: (REPO / "engines" / p / "pom.xml").read_text() for p in ("spark-job-server", "flink-job-server")}
    assert f"<beam.version>{engines.BEAM_JAVA_VERSION}</beam.version>" in poms["spark-job-server"]
    assert f"<beam.version>{engines.BEAM_JAVA_VERSION}</beam.version>" in poms["flink-job-server"]
    assert f"<spark.version>{engines.SPARK_VERSION}</spark.version>" in poms["spark-job-server"]
    assert f"beam-runners-flink-{engines.FLINK_VERSION}<" in poms["flink-job-server"]
    for jar, pom in ((engines.SPARK_JOB_SERVER_JAR, "spark-job-server"), (engines.FLINK_JOB_SERVER_JAR, "flink-job-server")):
        final = re.search(r"<finalName>(.*)</finalName>", poms[pom]).group(1)
        final = final.replace("${beam.version}", engines.BEAM_JAVA_VERSION).replace("${spark.version}", engines.SPARK_VERSION)
        assert final + ".jar" == jar


class _Rpc(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize("exc,dropped", [
    (_Rpc(grpc.StatusCode.CANCELLED, "Multiplexer hanging up"), True),
    (_Rpc(grpc.StatusCode.CANCELLED, "SDK harness closed connection"), True),
    (_Rpc(grpc.StatusCode.CANCELLED, "Cancelled by the user"), False),
    (_Rpc(grpc.StatusCode.UNAVAILABLE, "Multiplexer hanging up"), False),
    (RuntimeError("Multiplexer hanging up"), False),
    (None, False),
])
def test_only_runner_hangups_are_silenced(exc, dropped) -> None:
    assert _is_runner_hangup(exc) is dropped


# ------------------------------------------------------------------------------------------------
# Real runs on Spark and Flink
# ------------------------------------------------------------------------------------------------


def _need_engines() -> None:
    missing = [p for p in (engines.spark_home() / "bin" / "spark-class",
                           engines.engines_home() / engines.SPARK_JOB_SERVER_JAR,
                           engines.engines_home() / engines.FLINK_JOB_SERVER_JAR) if not p.exists()]
    if missing:
        why = f"run engines/fetch.sh first; missing: {', '.join(map(str, missing))}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _master_status(webui_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    """A Spark standalone master and two workers on loopback, on free ports; stopped afterwards."""
    _need_engines()
    d = tmp_path_factory.mktemp("spark-cluster")
    master, webui = _free_port(), _free_port()
    env = dict(os.environ, CORPUSFLOW_SPARK_CLUSTER=str(d), CORPUSFLOW_SPARK_MASTER_PORT=str(master),
               CORPUSFLOW_SPARK_WEBUI_PORT=str(webui), CORPUSFLOW_SPARK_WORKERS="2")
    script = str(REPO / "engines" / "spark-cluster.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = _master_status(webui)
        assert status["aliveworkers"] == 2 and status["cores"] == 2
        yield {"url": f"spark://127.0.0.1:{master}", "webui": webui}
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)


def _file_hashes(out: Path) -> dict[str, str]:
    """sha256 of every file a run wrote, except the manifest and ``_work/`` (the saved plan and
    stats name the runner, the launch command and the time)."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "manifest.json" and not p.relative_to(out).as_posix().startswith("_work/")}


def _what_it_produced(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k not in RUN_KEYS}


@pytest.fixture(scope="module")
def corpus_5k(tmp_path_factory) -> Path:
    if not MAKE_CORPUS.is_file():
        pytest.skip("../shared/bench/make_corpus.py is not available")
    d = tmp_path_factory.mktemp("c5k") / "C"
    subprocess.run([sys.executable, str(MAKE_CORPUS), "--out", str(d), "--docs", "5000", "--seed", "7"],
                   check=True, capture_output=True)
    return d


@pytest.fixture(scope="module")
def jobs(corpus_5k: Path) -> dict[str, list[Any]]:
    """corpusflow run arguments of the two jobs: the demo and the 5k make_corpus build."""
    return {"demo": [DEMO], "c5k": [FULL, "--input", str(corpus_5k / "web" / "*.jsonl.gz")]}


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory, jobs) -> dict[str, Path]:
    _need_engines()  # no reference runs when the engine runs would be skipped anyway
    outs = {}
    for name, args in jobs.items():
        out = tmp_path_factory.mktemp(f"local-{name}") / "out"
        assert run_cli("run", *args, "--output", out, "-q") == 0
        outs[name] = out
    return outs


def _check_identical(out: Path, ref: Path, runner: str) -> dict:
    got, want = load_manifest(out), load_manifest(ref)
    assert got["runner"]["runner"] == runner and got["runner"]["environment_type"] == "LOOPBACK"
    assert got["counts"] == want["counts"] and got["stages"] == want["stages"]
    assert got["outputs"] == want["outputs"]  # shard names, rows, bytes, sha256
    assert _what_it_produced(got) == _what_it_produced(want)
    assert _file_hashes(out) == _file_hashes(ref)
    assert want["counts"]["total"]["conserved"] and want["counts"]["total"]["kept"] > 0
    return got


@pytest.mark.engines
@pytest.mark.timeout(900)
@pytest.mark.parametrize("job", ["demo", "c5k"])
def test_spark_standalone_cluster_matches_local(tmp_path, spark_cluster, local_runs, jobs, job) -> None:
    before = len(_master_status(spark_cluster["webui"])["completedapps"])
    out = tmp_path / "spark"
    assert run_cli("run", *jobs[job], "--output", out, "-q", "--runner", "SparkRunner", SHARED_DISK,
                   f"--spark_master_url={spark_cluster['url']}") == 0
    got = _check_identical(out, local_runs[job], "SparkRunner")
    assert got["runner"]["spark_master_url"] == spark_cluster["url"]
    # The job ran as an application of this cluster, on the executors of both workers.
    apps = _master_status(spark_cluster["webui"])["completedapps"]
    assert len(apps) == before + 1
    app = max(apps, key=lambda a: a["starttime"])
    # two cores granted with one core per worker: an executor on each worker
    assert app["name"].startswith("BeamApp") and app["state"] == "FINISHED" and app["cores"] == 2


@pytest.mark.engines
@pytest.mark.timeout(900)
@pytest.mark.parametrize("job", ["demo", "c5k"])
def test_flink_embedded_cluster_matches_local(tmp_path, local_runs, jobs, job) -> None:
    out = tmp_path / "flink"
    assert run_cli("run", *jobs[job], "--output", out, "-q", "--runner", "FlinkRunner", SHARED_DISK,
                   "--flink_master=[local]", "--parallelism=2") == 0
    got = _check_identical(out, local_runs[job], "FlinkRunner")
    assert got["runner"]["flink_master"] == "[local]" and got["runner"]["flink_version"] == engines.FLINK_VERSION


@pytest.mark.engines
@pytest.mark.timeout(900)
@pytest.mark.skipif(os.environ.get("CI") == "true",
                    reason="intermittently hangs on the 2-core CI machine once the EXTERNAL worker pool has "
                           "started (seen 1 run in 3; every process idle); run it by hand: pytest -m engines")
def test_spark_with_external_sdk_worker_processes_matches_local(tmp_path, spark_cluster, local_runs, jobs) -> None:
    """EXTERNAL environment: the executors get their SDK workers from Beam's worker pool, as
    separate Python processes (started from this checkout, so they import its corpusflow)."""
    import signal
    import time

    port = _free_port()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log = tmp_path / "pool.log"
    with open(log, "wb") as fh:
        pool = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                                 f"--service_port={port}"], cwd=REPO, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert pool.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        out = tmp_path / "spark-external"
        code = run_cli("run", *jobs["demo"], "--output", out, "-q", "--runner", "SparkRunner", SHARED_DISK,
                       f"--spark_master_url={spark_cluster['url']}", "--environment_type=EXTERNAL",
                       f"--environment_config=localhost:{port}")
        assert code == 0, log.read_text()[-3000:]
        started = log.read_text().count("Starting worker")  # one line per SDK worker process
    finally:
        os.killpg(pool.pid, signal.SIGTERM)
        pool.wait(timeout=30)
    got, want = load_manifest(out), load_manifest(local_runs["demo"])
    assert got["runner"]["environment_type"] == "EXTERNAL"
    assert _what_it_produced(got) == _what_it_produced(want)
    assert _file_hashes(out) == _file_hashes(local_runs["demo"])
    assert started >= 1


@pytest.fixture(scope="module")
def flink_cluster(tmp_path_factory):
    """A separate Flink session cluster (JobManager + TaskManager JVMs, engines/flink-cluster.sh)."""
    _need_engines()
    d = tmp_path_factory.mktemp("flink-cluster")
    rest, rpc = _free_port(), _free_port()
    env = dict(os.environ, CORPUSFLOW_FLINK_CLUSTER=str(d), CORPUSFLOW_FLINK_REST_PORT=str(rest),
               CORPUSFLOW_FLINK_RPC_PORT=str(rpc), CORPUSFLOW_FLINK_SLOTS="2")
    script = str(REPO / "engines" / "flink-cluster.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=240)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield {"master": f"127.0.0.1:{rest}", "rest": rest}
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)


def _flink_overview(rest: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{rest}/overview", timeout=10) as r:
        return json.load(r)


@pytest.mark.engines
@pytest.mark.timeout(900)
def test_flink_session_cluster_matches_local(tmp_path, flink_cluster, local_runs, jobs) -> None:
    before = _flink_overview(flink_cluster["rest"])
    assert before["taskmanagers"] == 1 and before["slots-total"] == 2
    out = tmp_path / "flink-cluster"
    assert run_cli("run", *jobs["demo"], "--output", out, "-q", "--runner", "FlinkRunner", SHARED_DISK,
                   f"--flink_master={flink_cluster['master']}", "--parallelism=2") == 0
    _check_identical(out, local_runs["demo"], "FlinkRunner")
    after = _flink_overview(flink_cluster["rest"])  # the job ran on this cluster and finished
    assert after["jobs-finished"] == before["jobs-finished"] + 1 and after["jobs-failed"] == 0
