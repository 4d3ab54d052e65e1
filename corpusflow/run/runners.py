"""Runner selection: a runner name + options (config ``runner:`` section and CLI) -> Beam argv.

Where the runner comes from, first match wins:

1. ``corpusflow run ... --runner NAME`` and any other ``--flag[=value]`` on the command line
   (unknown flags are Beam pipeline options);
2. the pipeline config's ``runner:`` section (``name`` + ``options``, see :class:`RunnerConfig`);
3. ``DirectRunner`` in ``in_memory`` mode.

A CLI flag replaces the config option of the same name; the config's other options are kept.

What each name becomes (see docs/running.md for command lines):

* ``DirectRunner`` -> Beam's ``FnApiRunner``, the engine behind the DirectRunner, named
  explicitly so Beam never tries to download the Prism binary (docs/design.md#beam-offline: it fails offline
  and ``urlopen`` has no timeout). Modes are Beam's own flags: ``--direct_running_mode
  in_memory|multi_threading|multi_processing`` and ``--direct_num_workers N`` (2 when a parallel
  mode is chosen without a count; 0 means one per core).
* ``PortableRunner`` -> Beam's job service with a Python SDK environment. Default
  ``--job_endpoint=embed --environment_type=LOOPBACK`` (the in-process job service; DoFns are
  pickled and run through the Fn API exactly as on a cluster). ``EXTERNAL`` needs
  ``--environment_config=HOST:PORT`` of a running ``apache_beam.runners.worker.worker_pool_main``
  (real separate worker processes); ``PROCESS`` needs ``--environment_config='{"command": ...}'``
  (the SDK container's ``boot`` binary); ``DOCKER`` needs a Docker daemon and the SDK image.
* ``DataflowRunner`` -> needs ``--project``, ``--region`` and a ``gs://`` ``--temp_location``,
  and a way to get corpusflow onto the workers (``--setup_file``, ``--sdk_container_image`` or
  ``--extra_package``), unless ``--dry_run=True`` (graph built offline, nothing submitted).
* ``SparkRunner`` / ``FlinkRunner`` -> Beam's portable Spark / Flink runners, options passed
  through (``--spark_master_url=spark://HOST:7077``, ``--flink_master=[local]``...), plus
  :func:`corpusflow.run.engines.default_engine_flags`: ``--environment_type=LOOPBACK`` unless another
  SDK environment is named, and the job-server jar built by ``engines/fetch.sh`` unless
  ``--spark_job_server_jar`` / ``--flink_job_server_jar`` / ``--job_endpoint`` is given.

Every Beam flag is checked against Beam's own option definitions before the job starts, so a
misspelt flag is a usage error (exit 2) instead of Beam's "Discarding unparseable args"
warning and a run with the wrong settings.

This module and :mod:`corpusflow.stages` are the only ones that import Beam: every pipeline is
run by :func:`run_pipeline`. Beam is imported inside the functions that need it (each says so),
because :class:`RunnerConfig` is part of every config and loading a config must stay cheap.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import logging
import os
import re
import threading
from typing import Any, Literal

from pydantic import Field, field_validator

from corpusflow.core.model import StrictModel
from corpusflow.core.paths import PKG_PREFIX, is_remote
from corpusflow.run.engines import default_engine_flags

RUNNERS = ("DirectRunner", "PortableRunner", "DataflowRunner", "SparkRunner", "FlinkRunner")
RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")
ENVIRONMENT_TYPES = ("LOOPBACK", "EXTERNAL", "PROCESS", "DOCKER")
DEFAULT_RUNNER = "DirectRunner"

# Lower-case aliases accepted on the CLI and in configs.
_ALIASES = {
    "direct": "DirectRunner",
    "directrunner": "DirectRunner",
    "fnapirunner": "DirectRunner",
    "local": "DirectRunner",
    "portable": "PortableRunner",
    "portablerunner": "PortableRunner",
    "dataflow": "DataflowRunner",
    "dataflowrunner": "DataflowRunner",
    "spark": "SparkRunner",
    "sparkrunner": "SparkRunner",
    "flink": "FlinkRunner",
    "flinkrunner": "FlinkRunner",
}


_OPTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
OptionValue = str | int | float | bool | list[str | int | float]


def canonical_runner(name: str) -> str:
    """``DirectRunner`` for ``direct``/``DirectRunner``/``FnApiRunner``...; ValueError otherwise."""
    if name in RUNNERS:
        return name
    found = _ALIASES.get(name.lower())
    if found is None:
        raise ValueError(f"unknown runner {name!r}; allowed: {', '.join(RUNNERS)} "
                         "(or direct, local, portable, dataflow, spark, flink)")
    return found


class RunnerConfig(StrictModel):
    """The ``runner:`` section of a pipeline config: which Beam runner and its options.

    ``options`` maps Beam option names (without ``--``) to values: ``true`` becomes a bare flag
    (``--save_main_session``), ``false`` is left out, a list repeats the flag
    (``experiments: [a, b]``). The CLI's ``--runner`` and ``--flag=value`` override these. The
    section is not part of the config hash: it changes how the job runs, never its output.
    """

    name: str = Field(DEFAULT_RUNNER, description=f"One of {', '.join(RUNNERS)}.")
    options: dict[str, OptionValue] = Field(
        default_factory=dict,
        description="Beam pipeline options, e.g. {direct_running_mode: multi_processing, direct_num_workers: 2}.",
    )

    shared_filesystem: Literal["auto", "true", "false"] = Field(
        "auto",
        description="Do the workers share this machine's file system? Then transforms hand data over "
        "through local run files instead of the runner (much cheaper). auto: true for the "
        "DirectRunner, false for every other runner (see corpusflow/stages/spill.py).",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return canonical_runner(v)

    @field_validator("options")
    @classmethod
    def _check_options(cls, v: dict[str, OptionValue]) -> dict[str, OptionValue]:
        for key in v:
            if key == "runner":
                raise ValueError("set the runner with runner.name, not runner.options.runner")
            if not _OPTION_NAME.match(key):
                raise ValueError(f"option {key!r}: write Beam option names without '--', "
                                 "e.g. direct_num_workers")
        return v


def options_to_argv(options: dict[str, OptionValue]) -> list[str]:
    """``{"a": 1, "b": True, "c": False, "d": ["x", "y"]}`` -> ``--a=1 --b --d=x --d=y``."""
    argv: list[str] = []
    for key, value in options.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is True:
                argv.append(f"--{key}")
            elif item is False:
                continue
            else:
                argv.append(f"--{key}={item}")
    return argv


def normalize_beam_args(extra: list[str]) -> list[str]:
    """Join ``--flag value`` pairs into ``--flag=value`` so they can be inspected."""
    out: list[str] = []
    i = 0
    while i < len(extra):
        a = extra[i]
        if a.startswith("--") and "=" not in a and i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            out.append(f"{a}={extra[i + 1]}")
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def _flag_name(arg: str) -> str:
    return arg.split("=", 1)[0]


def merge_argv(base: list[str], override: list[str]) -> list[str]:
    """``base`` flags, minus those whose name appears in ``override``, then ``override``."""
    names = {_flag_name(a) for a in override if a.startswith("--")}
    return [a for a in base if _flag_name(a) not in names] + list(override)


def _has(args: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def _value(args: list[str], flag: str, default: str | None = None) -> str | None:
    """The last value given for ``--flag=value`` (argparse semantics: the last one wins)."""
    found = default
    for a in args:
        if a.startswith(flag + "="):
            found = a.split("=", 1)[1]
    return found


def check_beam_flags(argv: list[str]) -> None:
    """Raise ValueError for a flag Beam does not define or a value Beam's parser rejects."""
    from apache_beam.options.pipeline_options import (  # lazy: heavy or optional dependency, loaded only when used
        PipelineOptions,
        _BeamArgumentParser,
    )

    from corpusflow.stages import spill  # noqa: F401  (registers corpusflow's own pipeline options)

    parser = _BeamArgumentParser(allow_abbrev=False)
    seen: set[str] = set()
    for cls in PipelineOptions.__subclasses__():
        if str(cls) not in seen:
            seen.add(str(cls))
            cls._add_argparse_args(parser)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            _known, unknown = parser.parse_known_args(argv)
    except SystemExit:
        last = [ln for ln in err.getvalue().splitlines() if ln.strip()][-1:] or ["invalid Beam option"]
        raise ValueError(f"Beam options: {last[0].split('error: ', 1)[-1]}") from None
    flags = [u for u in unknown if u.startswith("-")]
    if flags:
        known = [s for a in parser._actions for s in a.option_strings]
        hints = []
        for u in flags:
            close = difflib.get_close_matches(_flag_name(u), known, n=2)
            hints.append(f"{u}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        raise ValueError("unknown Beam option(s): " + ", ".join(hints)
                         + "; see 'corpusflow run --help' and docs/running.md")
    stray = [u for u in unknown if not u.startswith("-")]
    if stray:
        raise ValueError(f"unexpected argument(s) {' '.join(stray)}: give Beam options as --name=value")


def beam_options(runner: str, extra: list[str], *, check: bool = True,
                 shared_fs: str = "auto") -> tuple[list[str], dict[str, Any]]:
    """Return (Beam argv, a summary for the manifest) for ``runner`` and option flags ``extra``.

    ``--shared_filesystem`` is always set (from ``shared_fs``, a ``runner.shared_filesystem`` value, unless ``extra`` has it), so
    every transform reads one resolved value (:class:`corpusflow.stages.spill.Spill`).

    Raises ValueError (a usage error: the CLI exits with code 2) for an unknown runner, an
    unknown or malformed flag, or a combination that cannot work (see the module docstring).
    """
    runner = canonical_runner(runner)
    argv = normalize_beam_args(list(extra))
    if _has(argv, "--runner"):
        raise ValueError("choose the runner with corpusflow's --runner (or runner.name in the config), "
                         "not a Beam --runner flag")
    summary: dict[str, Any]
    if runner == "DirectRunner":
        mode = _value(argv, "--direct_running_mode", "in_memory")
        if mode not in RUNNING_MODES:
            raise ValueError(f"--direct_running_mode={mode!r}; allowed: {', '.join(RUNNING_MODES)}")
        if mode != "in_memory" and not _has(argv, "--direct_num_workers"):
            argv.append("--direct_num_workers=2")
        workers = _value(argv, "--direct_num_workers", "1") or "1"
        if not workers.isdigit():
            raise ValueError(f"--direct_num_workers={workers!r}: a number (0 = one per core)")
        argv = ["--runner=FnApiRunner", *argv]
        summary = {"runner": "DirectRunner", "engine": "FnApiRunner", "mode": mode, "workers": int(workers)}
    elif runner == "PortableRunner":
        if not _has(argv, "--job_endpoint"):
            argv.append("--job_endpoint=embed")
        if not _has(argv, "--environment_type"):
            argv.append("--environment_type=LOOPBACK")
        env = (_value(argv, "--environment_type") or "").upper()
        if env not in ENVIRONMENT_TYPES:
            raise ValueError(f"--environment_type={env!r}; allowed: {', '.join(ENVIRONMENT_TYPES)}")
        config = _value(argv, "--environment_config")
        if env == "EXTERNAL" and not config:
            raise ValueError("--environment_type=EXTERNAL needs --environment_config=HOST:PORT of a running "
                             "'python -m apache_beam.runners.worker.worker_pool_main --service_port=PORT'")
        if env == "PROCESS" and not config and not any(a.startswith("--environment_option=process_command=")
                                                       for a in argv):
            raise ValueError("--environment_type=PROCESS needs --environment_config='{\"command\": "
                             "\"/opt/apache/beam/boot\"}' (the SDK container's boot binary)")
        if env == "PROCESS" and config:
            try:
                json.loads(config)
            except ValueError:
                raise ValueError(f"--environment_config for PROCESS must be JSON, got {config!r}") from None
        argv = ["--runner=PortableRunner", *argv]
        summary = {"runner": "PortableRunner", "job_endpoint": _value(argv, "--job_endpoint"),
                   "environment_type": env}
        if config and env == "EXTERNAL":
            summary["environment_config"] = config
    elif runner == "DataflowRunner":
        dry = (_value(argv, "--dry_run", "false") or "").lower() in ("true", "1", "yes")
        missing = [f for f in ("--project", "--region", "--temp_location") if not _has(argv, f)]
        if missing and not dry:
            raise ValueError(f"DataflowRunner needs {', '.join(missing)} (see docs/running.md)")
        temp = _value(argv, "--temp_location")
        if temp and not temp.startswith("gs://"):
            raise ValueError(f"--temp_location={temp!r}: Dataflow needs a gs:// URL")
        ships = ("--setup_file", "--sdk_container_image", "--extra_package", "--requirements_file")
        if not dry and not any(_has(argv, f) for f in ships):
            raise ValueError(
                "DataflowRunner workers need the corpusflow package: pass --setup_file=./pyproject.toml, "
                "--sdk_container_image=IMAGE (built FROM apache/beam_python3.11_sdk:2.77.0 with corpusflow "
                "installed) or --extra_package=dist/corpusflow-VERSION.tar.gz (see docs/running.md)")
        try:  # the same import DataflowRunner makes when the job starts
            from apache_beam.runners.dataflow.internal import apiclient  # noqa: F401
        except ImportError as exc:
            raise ValueError(f"DataflowRunner needs apache-beam[gcp] ({exc}): "
                             "pip install 'corpusflow[gcp]'") from None
        argv = ["--runner=DataflowRunner", *argv]
        summary = {"runner": "DataflowRunner", "project": _value(argv, "--project"),
                   "region": _value(argv, "--region"), "dry_run": dry}
    else:  # SparkRunner, FlinkRunner: Beam's options, with corpusflow.run.engines' defaults

        argv += default_engine_flags(runner, argv)
        env = (_value(argv, "--environment_type") or "").upper()
        if env not in ENVIRONMENT_TYPES:
            raise ValueError(f"--environment_type={env!r}; allowed: {', '.join(ENVIRONMENT_TYPES)}")
        if env == "EXTERNAL" and not _value(argv, "--environment_config"):
            raise ValueError("--environment_type=EXTERNAL needs --environment_config=HOST:PORT of a running "
                             "'python -m apache_beam.runners.worker.worker_pool_main --service_port=PORT' "
                             "on every machine that runs an executor")
        argv = [f"--runner={runner}", *argv]
        summary = {"runner": runner, "environment_type": env}
        for flag in ("--spark_master_url", "--flink_master", "--flink_version", "--job_endpoint"):
            if _has(argv, flag):
                summary[flag[2:]] = _value(argv, flag)
        if _has(argv, "--output_executable_path"):
            # The job is packaged into a jar for spark-submit / Dataproc and runs later: like a
            # dry run, nothing is read or written now and there are no stats to check.
            summary["dry_run"] = True
            summary["output_executable_path"] = _value(argv, "--output_executable_path")
    if not _has(argv, "--shared_filesystem"):
        shared = resolve_shared_filesystem(runner, shared_fs)
        argv.append(f"--shared_filesystem={'true' if shared else 'false'}")
    summary["shared_filesystem"] = _value(argv, "--shared_filesystem") == "true"
    if check:
        check_beam_flags(argv)
    return argv, summary


def resolve_runner(cli_runner: str | None, cli_flags: list[str],
                   config: RunnerConfig | None) -> tuple[list[str], dict[str, Any]]:
    """Combine the config's ``runner:`` section with the CLI (the CLI wins) into Beam argv."""
    cfg = config or RunnerConfig()
    name = canonical_runner(cli_runner) if cli_runner else cfg.name
    flags = merge_argv(options_to_argv(cfg.options), normalize_beam_args(list(cli_flags)))
    return beam_options(name, flags, shared_fs=cfg.shared_filesystem)


def resolve_shared_filesystem(runner: str, setting: str = "auto") -> bool:
    """The resolved ``runner.shared_filesystem``: ``auto`` is true only for the DirectRunner, whose
    workers all run on this machine."""
    if setting == "auto":
        return canonical_runner(runner) == "DirectRunner"
    return setting == "true"


def with_spill_dir(argv: list[str], output: str) -> list[str]:
    """Point ``--spill_dir`` inside the run directory (``OUTPUT/_work/spill``) for a local output,
    unless the user chose one: every temporary file of the run then lives under the run directory."""
    if _has(argv, "--spill_dir") or is_remote(output):
        return argv
    return [*argv, f"--spill_dir={os.path.join(os.path.abspath(output), '_work', 'spill')}"]


def is_dry_run(summary: dict[str, Any]) -> bool:
    return bool(summary.get("dry_run"))


def workers_see_local_disk(summary: dict[str, Any]) -> bool:
    """Can every worker of this run open the launcher's local paths?

    Yes for the DirectRunner (its workers are this process or its children), for the
    PortableRunner's in-process job service with LOOPBACK workers (this process), and whenever
    ``shared_filesystem`` is true (``runner.shared_filesystem: true`` / ``--shared_filesystem=true``:
    the user's statement that every worker mounts this disk at the same path). No for Dataflow,
    Spark, Flink and any other portable set-up: their SDK workers run in other processes, other
    mount namespaces, containers or machines.
    """
    if summary.get("shared_filesystem"):
        return True
    runner = summary.get("runner")
    if runner == "DirectRunner":
        return True
    return (runner == "PortableRunner" and summary.get("job_endpoint") == "embed"
            and summary.get("environment_type") == "LOOPBACK")


def check_paths_for_runner(summary: dict[str, Any], output: str | None, inputs: list[str],
                           config_paths: list[tuple[str, str]] | None = None) -> None:
    """Refuse local paths that the runner's workers cannot see (:func:`workers_see_local_disk`).

    ``config_paths`` are ``(config key, path)`` pairs the workers open
    (:func:`corpusflow.config.checks.worker_paths`: inputs, models, tokenizers, URL and NG-word
    lists, decontam and dedup indexes, the DSIR model); ``inputs`` are planned input files checked
    the same way; ``output`` None is not checked (``validate`` without ``--output``). A local path there is an empty directory or a missing file on the worker: inputs
    would be missing and outputs written where nobody finds them. ``pkg:`` paths are allowed:
    they resolve inside each worker's own corpusflow install (the package data ships in the wheel
    and the worker image). Object-store URLs (``s3://``, ``gs://``...) are allowed. A Dataflow
    ``--dry_run`` is not checked (nothing runs); a Spark ``--output_executable_path`` jar is (it
    runs later, on the cluster).
    """
    if workers_see_local_disk(summary) or (summary.get("dry_run") and "output_executable_path" not in summary):
        return
    bad = [] if output is None or is_remote(output) else [f"--output {output}"]
    bad += [f"{key} {path!r}" for key, path in config_paths or [] if _is_local(path)]
    bad += [p for p in inputs if _is_local(p)]
    if bad:
        raise ValueError(
            f"{summary['runner']} workers cannot read or write local paths: they run in other processes, "
            "containers or machines that cannot see this machine's disk, so these would be missing or written "
            "where nobody finds them:\n  " + "\n  ".join(bad[:20])
            + (f"\n  (and {len(bad) - 20} more)" if len(bad) > 20 else "")
            + "\nUse s3:// or gs:// URLs (pkg: paths are fine: every worker has the package), or, if every "
            "worker mounts this disk at the same path, say so with --shared_filesystem=true "
            "(runner.shared_filesystem: true in the config)")


def _is_local(path: str) -> bool:
    return not is_remote(path) and not path.startswith(PKG_PREFIX)


# Beam loggers that relay every worker log line ("Worker: ...") or print per-worker start-up
# notices in multi_processing / portable runs (docs/design.md#beam-offline), and Beam's INFO chatter at
# pipeline construction.
_NOISY_LOGGERS = (
    "apache_beam.runners.portability.local_job_service",
    "apache_beam.runners.worker.worker_pool_main",
    "apache_beam.runners.worker.sdk_worker_main",
    "apache_beam.runners.portability.portable_runner",
    # One INFO line per string type hint Beam reads (every DoFn signature here, with
    # `from __future__ import annotations`): hundreds of lines before the first document.
    "apache_beam.typehints.native_type_compatibility",
    "apache_beam.io.gcp.bigquery",
    "apache_beam.runners.worker.statecache",
    "apache_beam.transforms.util",
    # The Spark / Flink job server's own log (every Spark and Flink INFO line), relayed by Beam
    # under the job server's class name.
    "SparkJarJobServer",
    "FlinkJarJobServer",
)


def _is_runner_hangup(exc: BaseException | None) -> bool:
    """A gRPC stream the Java runner closed when it released an SDK worker: CANCELLED with
    "Multiplexer hanging up" (data plane) or "SDK harness closed connection" (control plane)."""
    try:
        code, details = exc.code(), exc.details()  # type: ignore[union-attr]
    except Exception:
        return False
    return getattr(code, "name", "") == "CANCELLED" and any(
        m in str(details) for m in ("Multiplexer hanging up", "SDK harness closed connection"))


class _DropRunnerHangups:
    """Logging filter: drops the data plane's traceback for a stream the runner hung up."""

    def filter(self, record: Any) -> bool:
        return not (record.exc_info and _is_runner_hangup(record.exc_info[1]))


def quiet_worker_logs() -> None:
    """Set Beam's worker-relay loggers to WARNING (``corpusflow -v run`` keeps them).

    The Spark and Flink job servers close each SDK worker's data stream when its stage ends; with
    LOOPBACK workers in this process, Beam then logs "Failed to read inputs in the data plane"
    and its worker threads print CANCELLED "Multiplexer hanging up" / "SDK harness closed
    connection" tracebacks (a dozen per run; the run itself is fine). Those are dropped; any
    other error still shows.
    """

    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    data_plane = logging.getLogger("apache_beam.runners.worker.data_plane")
    if not any(isinstance(f, _DropRunnerHangups) for f in data_plane.filters):
        data_plane.addFilter(_DropRunnerHangups())
    previous = threading.excepthook
    if getattr(previous, "_corpusflow_hangups", False):
        return

    def hook(args: Any) -> None:
        if not _is_runner_hangup(args.exc_value):
            previous(args)

    hook._corpusflow_hangups = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def check_detach(summary: dict[str, Any]) -> None:
    """Raise ValueError unless the job can outlive its launcher (``corpusflow run --detach``).

    It can on Dataflow, and on a job service that runs apart from the launcher
    (``--job_endpoint=HOST:PORT``: Beam's job server for Spark or Flink, a portable job service)
    with workers outside this process (EXTERNAL, PROCESS or DOCKER). It cannot on the DirectRunner,
    with the in-process job service (``embed``) or a job server this launcher starts itself
    (Spark/Flink without ``--job_endpoint``: it stops when the launcher exits), or with LOOPBACK
    workers (they are threads of the launcher).
    """
    runner = summary.get("runner")
    if runner == "DataflowRunner":
        return
    if runner == "DirectRunner":
        raise ValueError("--detach: the DirectRunner runs the job inside this process, which must stay; "
                         "detach a Dataflow job or one on a running job service (--job_endpoint=HOST:PORT)")
    endpoint = summary.get("job_endpoint")
    if not endpoint or endpoint == "embed":
        raise ValueError(f"--detach with {runner} needs --job_endpoint=HOST:PORT of a job service that runs apart "
                         "from this process (a job server this launcher starts stops when it exits)")
    if summary.get("environment_type") == "LOOPBACK":
        raise ValueError("--detach: LOOPBACK workers are threads of this process, so the job would stop with it; "
                         "use --environment_type=EXTERNAL (a worker pool), PROCESS or DOCKER")


def job_id(result: Any) -> str:
    """The runner's id of a submitted job ("" when the runner has none)."""
    for name in ("job_id", "_job_id"):
        value = getattr(result, name, None)
        if callable(value):
            value = value()
        if value:
            return str(value)
    return ""


def run_pipeline(beam_argv: list[str], build: Any, *, wait: bool = True) -> Any:
    """Build a Beam pipeline with ``build(pipeline)`` and run it to completion (``wait=False``: just
    submit it, for :func:`check_detach`-ed runs); returns its result.

    The one place a corpusflow job is run, for ``run`` and ``mix`` alike.
    """
    import apache_beam as beam  # heavy: imported only when a job is run (see the module docstring)
    from apache_beam.options.pipeline_options import (  # lazy: heavy or optional dependency, loaded only when used
        PipelineOptions,  # lazy: heavy or optional dependency, loaded only when used
    )

    p = beam.Pipeline(options=PipelineOptions(beam_argv))
    build(p)
    result = p.run()
    if wait:
        result.wait_until_finish()
    return result


def capture_results() -> list[Any]:
    """Make every ``Pipeline.run`` of this process remember its result (for step timings); returns the list."""
    import apache_beam as beam  # heavy: only the profiler calls this

    original = beam.Pipeline.run
    if getattr(original, "_corpusflow_profiling", False):
        return original._corpusflow_results  # type: ignore[attr-defined, no-any-return]
    results: list[Any] = []

    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        res = original(self, *args, **kwargs)
        results.append(res)
        return res

    run._corpusflow_profiling = True  # type: ignore[attr-defined]
    run._corpusflow_results = results  # type: ignore[attr-defined]
    beam.Pipeline.run = run  # type: ignore[method-assign]
    return results
