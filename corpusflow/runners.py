"""Runner selection: CLI runner names -> explicit Beam pipeline options.

``DirectRunner`` (the default) is mapped to Beam's ``FnApiRunner``, the engine behind the
DirectRunner, named explicitly so Beam never tries to download the Prism binary (which fails
offline and can hang on networks that drop packets). Its modes come from Beam's own flags:
``--direct_running_mode in_memory|multi_threading|multi_processing`` and
``--direct_num_workers N``. ``PortableRunner`` defaults to Beam's in-process job service with a
LOOPBACK environment (``--job_endpoint=embed --environment_type=LOOPBACK``): pickling and the
Fn API exactly as on a cluster. ``DataflowRunner``, ``SparkRunner`` and ``FlinkRunner`` get the
options as given (see docs/running.md).
"""

from __future__ import annotations

from typing import Any

RUNNERS = ("DirectRunner", "PortableRunner", "DataflowRunner", "SparkRunner", "FlinkRunner")
RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")


def _has(args: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def beam_options(runner: str, extra: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Return (Beam argv, a summary for the manifest)."""
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; allowed: {', '.join(RUNNERS)}")
    argv = list(extra)
    if runner == "DirectRunner":
        argv = ["--runner=FnApiRunner", *argv]
        mode = next((a.split("=", 1)[1] for a in argv if a.startswith("--direct_running_mode=")), "in_memory")
        if mode not in RUNNING_MODES:
            raise ValueError(f"--direct_running_mode={mode!r}; allowed: {', '.join(RUNNING_MODES)}")
        if mode != "in_memory" and not _has(argv, "--direct_num_workers"):
            argv.append("--direct_num_workers=2")
        workers = next((a.split("=", 1)[1] for a in argv if a.startswith("--direct_num_workers=")), "1")
        summary = {"runner": "DirectRunner", "engine": "FnApiRunner", "mode": mode, "workers": int(workers)}
    elif runner == "PortableRunner":
        argv = ["--runner=PortableRunner", *argv]
        if not _has(argv, "--job_endpoint"):
            argv.append("--job_endpoint=embed")
        if not _has(argv, "--environment_type"):
            argv.append("--environment_type=LOOPBACK")
        env = next(a.split("=", 1)[1] for a in argv if a.startswith("--environment_type="))
        endpoint = next(a.split("=", 1)[1] for a in argv if a.startswith("--job_endpoint="))
        summary = {"runner": "PortableRunner", "job_endpoint": endpoint, "environment_type": env}
    else:
        argv = [f"--runner={runner}", *argv]
        summary = {"runner": runner}
    return argv, summary


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
