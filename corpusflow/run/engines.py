"""Where the Spark and Flink job servers and the local Spark distribution live, and runner defaults.

Beam's Python ``SparkRunner`` and ``FlinkRunner`` are portable runners: they start a Java job
server (``java -jar beam-runners-spark-3-job-server-*.jar`` / ``beam-runners-flink-*-job-server``)
that translates the pipeline for the engine, and the Python code runs in SDK workers that the
engine's executors talk to over the Fn API. Beam downloads the job-server jar of its own version
from Maven Central unless ``--spark_job_server_jar`` / ``--flink_job_server_jar`` names a local
file. ``engines/fetch.sh`` builds both jars with Maven (``engines/*/pom.xml``) and installs
pyspark for the local standalone cluster into :func:`engines_home`; the same names and versions
are in ``engines/env.sh``.

What :func:`default_engine_flags` adds for ``SparkRunner`` / ``FlinkRunner`` when the user did not
say otherwise:

* ``--environment_type=LOOPBACK``: the SDK workers run inside the launching process and the
  engine's executors connect back to it over loopback gRPC. Beam's own default for a cluster
  master (``spark://…``, a Flink host) is ``DOCKER``, which needs a Docker daemon and the SDK
  image of the exact Beam version; ``EXTERNAL`` (a ``worker_pool_main`` per machine) and
  ``PROCESS`` are the multi-machine choices (docs/running.md).
* the job-server jar from :func:`engines_home` when it is there (and neither a jar nor a
  ``--job_endpoint`` was given), with ``--flink_version`` set to the Flink the jar was built for
  (Beam's Python SDK otherwise assumes its newest Flink, whose jar it would try to download).

Pure Python, no Beam import.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Beam's Java runners the jars are built from: the newest release whose Spark 3 runner, Flink
#: 1.19 runner and Java job service are served together by Maven Central here (the ready-made
#: ``*-job-server`` jars are not served for any release). Keep in step with engines/env.sh.
BEAM_JAVA_VERSION = "2.62.0"
#: Spark of the local standalone cluster (pyspark) and of the shaded Spark job server.
SPARK_VERSION = "3.5.7"
#: Flink of the shaded Flink job server (embedded cluster with ``--flink_master=[local]``).
FLINK_VERSION = "1.19"

SPARK_JOB_SERVER_JAR = f"beam-runners-spark-3-job-server-{BEAM_JAVA_VERSION}-spark-{SPARK_VERSION}.jar"
FLINK_JOB_SERVER_JAR = f"beam-runners-flink-{FLINK_VERSION}-job-server-{BEAM_JAVA_VERSION}.jar"

ENGINE_RUNNERS = ("SparkRunner", "FlinkRunner")


def engines_home() -> Path:
    """``$CORPUSFLOW_ENGINES``, else ``~/.cache/corpusflow/engines`` (engines/env.sh agrees)."""
    env = os.environ.get("CORPUSFLOW_ENGINES")
    return Path(env) if env else Path.home() / ".cache" / "corpusflow" / "engines"


def job_server_jar(runner: str) -> Path | None:
    """The locally built job-server jar for ``runner`` if it exists, else None."""
    name = {"SparkRunner": SPARK_JOB_SERVER_JAR, "FlinkRunner": FLINK_JOB_SERVER_JAR}.get(runner)
    if name is None:
        return None
    path = engines_home() / name
    return path if path.is_file() else None


def spark_home() -> Path:
    """The Spark distribution of the local standalone cluster (a pip-installed pyspark)."""
    return engines_home() / f"spark-{SPARK_VERSION}" / "pyspark"


def _has(args: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def default_engine_flags(runner: str, argv: list[str]) -> list[str]:
    """Flags to append to ``argv`` (``--name=value`` form) for ``SparkRunner`` / ``FlinkRunner``."""
    if runner not in ENGINE_RUNNERS:
        return []
    extra: list[str] = []
    if not _has(argv, "--environment_type"):
        extra.append("--environment_type=LOOPBACK")
    jar_flag = "--spark_job_server_jar" if runner == "SparkRunner" else "--flink_job_server_jar"
    if not _has(argv, jar_flag) and not _has(argv, "--job_endpoint"):
        jar = job_server_jar(runner)
        if jar is not None:
            extra.append(f"{jar_flag}={jar}")
            if runner == "FlinkRunner" and not _has(argv, "--flink_version"):
                extra.append(f"--flink_version={FLINK_VERSION}")
    if runner == "FlinkRunner" and not _has(argv, "--execution_mode_for_batch"):
        # Flink's default PIPELINED exchange deadlocks a batch job whose side input comes from the
        # same source as the main input it is joined to (the per-range step waits for the id
        # rename map read from the same files: every task idle, seen with Flink 1.19). BATCH_FORCED
        # materialises each exchange, as Beam's Flink runner documents for such diamond shapes.
        extra.append("--execution_mode_for_batch=BATCH_FORCED")
    return extra
