"""Live progress of a run: documents read / kept / rejected per stage, while the job runs.

How the numbers get here (no Beam import, nothing per document but one dict addition):

* Every stage already counts through :class:`corpusflow.stages.base.StageCounters`. While a
  run is watched, each ``StageCounters`` also adds its increments to a plain ``dict`` *slot*
  that it gets from :func:`acquire` once (in its constructor and again after unpickling). A
  slot is owned by one DoFn instance, so there is no lock and no I/O on the document path.
* In the launching process (FnApiRunner ``in_memory`` / ``multi_threading``, PortableRunner
  with ``LOOPBACK``) the DoFns run in-process: the slots register with the active
  :class:`ProgressReporter`, whose thread copies them (``dict.copy()`` is atomic under the
  GIL) and sums them.
* With ``--direct_running_mode=multi_processing`` the workers are other processes. The
  reporter sets :data:`ENV_DIR` (inherited by the worker subprocesses); a worker's slots
  register with a per-process sink whose daemon thread rewrites one small JSON file
  ``<dir>/worker-<pid>.json`` (cumulative counts, atomic rename) at most every
  :data:`WORKER_FLUSH_SECONDS`, and once more at exit. The reporter sums those files.
* Anywhere else (Dataflow, Spark, Flink workers; no run being watched) :func:`acquire`
  returns ``None`` and ``StageCounters`` does nothing extra.

Counter names understood (the stages' vocabulary; anything else is shown as-is for stages
outside the document chain, e.g. ``mixture``):

==============================================  ======================================
``rejected.<reason>``                            documents rejected, by reason code
``errors.<error_class>`` / ``errors``            malformed records / failed documents
``duplicates[.<kind>]`` / ``<kind>_duplicates``  documents removed as duplicates
``kept`` / ``docs_out`` / ``lang.<code>``        documents that left the stage (kept)
``records`` / ``docs_in`` / ``documents``        documents that entered the stage
==============================================  ======================================

A stage that does not count what it keeps or receives gets those numbers from its
neighbours in the stage order (what enters a stage left the previous one), so the table is
exact once a run has finished and close to it (documents in flight) while it runs. The
authoritative counts are the manifest's; :func:`stage_summary` prints them after a run.
Progress never changes what a run writes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from corpusflow.core import outcomes
from corpusflow.core.paths import is_remote

log = logging.getLogger(__name__)

ENV_DIR = "CORPUSFLOW_PROGRESS_DIR"
"""Directory where worker processes write their counts (set by the reporter for subprocesses)."""
ENV_PID = "CORPUSFLOW_PROGRESS_PID"
"""Process id of the launcher (a worker with this pid is the launcher itself)."""
ENV_INTERVAL = "CORPUSFLOW_PROGRESS_INTERVAL"
"""Seconds between progress log lines when stderr is not a terminal (default 15)."""

WORKER_FLUSH_SECONDS = 1.0
TTY_REFRESH_SECONDS = 0.5
LOG_INTERVAL_SECONDS = 15.0
MODES = ("auto", "bar", "log", "off")

Counts = dict[str, dict[str, int]]  # namespace -> counter name -> value


# ------------------------------------------------------------------------------------------------
# Slots: where StageCounters add their increments
# ------------------------------------------------------------------------------------------------


class _Slots:
    """Per-process list of (namespace, dict) slots; summed on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: list[tuple[str, dict[str, int]]] = []

    def slot(self, namespace: str) -> dict[str, int]:
        d: dict[str, int] = {}
        with self._lock:  # once per DoFn instance, never per document
            self._slots.append((namespace, d))
        return d

    def totals(self) -> Counts:
        with self._lock:
            slots = list(self._slots)
        out: Counts = {}
        for ns, d in slots:
            acc = out.setdefault(ns, {})
            for k, v in d.copy().items():  # dict.copy() of str keys is atomic under the GIL
                acc[k] = acc.get(k, 0) + v
        return out


_session: _Slots | None = None  # set by ProgressReporter in the launching process
_worker_sink: _WorkerSink | None = None
_sink_lock = threading.Lock()


def acquire(namespace: str) -> dict[str, int] | None:
    """The dict a ``StageCounters`` of ``namespace`` adds to, or ``None`` when nobody watches."""
    s = _session
    if s is not None:
        return s.slot(namespace)
    directory = os.environ.get(ENV_DIR)
    if not directory or os.environ.get(ENV_PID) == str(os.getpid()):
        return None
    return _get_worker_sink(directory).slot(namespace)


def _get_worker_sink(directory: str) -> _Slots:
    global _worker_sink
    with _sink_lock:
        if _worker_sink is None or _worker_sink.directory != directory:
            _worker_sink = _WorkerSink(directory)
        return _worker_sink.slots


class _WorkerSink:
    """In a worker process: rewrites ``<dir>/worker-<pid>.json`` with cumulative counts."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.slots = _Slots()
        self._path = os.path.join(directory, f"worker-{os.getpid()}.json")
        self._last: Counts | None = None
        self._stop = threading.Event()
        t = threading.Thread(target=self._loop, name="corpusflow-progress-sink", daemon=True)
        t.start()
        atexit.register(self.flush)

    def _loop(self) -> None:
        while not self._stop.wait(WORKER_FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        counts = self.slots.totals()
        if counts == self._last or not os.path.isdir(self.directory):
            return  # nothing new, or the run is over and its directory removed
        tmp = f"{self._path}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"pid": os.getpid(), "counts": counts}, f)
            os.replace(tmp, self._path)
            self._last = counts
        except OSError:  # progress must never fail a worker
            with contextlib.suppress(OSError):
                os.remove(tmp)


def read_worker_files(directory: str) -> Counts:
    """Sum the counts of every ``worker-*.json`` in ``directory`` (unreadable files skipped)."""
    out: Counts = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return out
    for name in names:
        if not (name.startswith("worker-") and name.endswith(".json")):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                counts = json.load(f)["counts"]
        except (OSError, ValueError, KeyError):
            continue  # being replaced right now: the next poll reads it
        merge_counts(out, counts)
    return out


def merge_counts(into: Counts, other: Mapping[str, Mapping[str, int]]) -> Counts:
    for ns, d in other.items():
        acc = into.setdefault(ns, {})
        for k, v in d.items():
            acc[k] = acc.get(k, 0) + int(v)
    return into


# ------------------------------------------------------------------------------------------------
# From counters to a per-stage table (pure)
# ------------------------------------------------------------------------------------------------


@dataclass
class StageProgress:
    """One stage's documents: in, kept, rejected, duplicates, errors (``None`` = not known yet)."""

    stage: str
    n_in: int | None = None
    kept: int | None = None
    rejected: int = 0
    duplicates: int = 0
    errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)
    in_chain: bool = True

    @property
    def removed(self) -> int:
        return self.rejected + self.duplicates + self.errors

    def top_reason(self) -> tuple[str, int] | None:
        if not self.reasons:
            return None
        return max(self.reasons.items(), key=lambda kv: (kv[1], kv[0]))


def _classify(name: str) -> tuple[str, str]:
    """(kind, key) of a counter name in the outcome vocabulary (:mod:`corpusflow.core.outcomes`):
    kind is rejected, errors, duplicates, kept, in or other (``info.*``)."""
    kind, detail = outcomes.parse(name)
    return {
        outcomes.REJECTED: ("rejected", detail),
        outcomes.ERROR: ("errors", detail),
        outcomes.DUPLICATE: ("duplicates", detail),
        outcomes.KEPT: ("kept", name),
        outcomes.IN: ("in", name),
    }.get(kind, ("other", detail))


def stage_rows(counts: Mapping[str, Mapping[str, int]], order: Iterable[str]) -> list[StageProgress]:
    """Per-stage progress from counters. ``order``: the document chain (``plan.stage_order``).

    Stages in ``order`` come first, in that order; other namespaces with counters follow
    (``in_chain=False``: their raw counters are in ``other``). Unknown ``in``/``kept`` of a
    chain stage are derived from its neighbours: backwards, ``kept[k-1] >= in[k]`` and
    ``in[k] >= kept[k] + removed[k]``; forwards, ``in[k] >= kept[k-1]`` (what is in flight
    counts as received) and, for a stage that does not count what it keeps,
    ``kept[k] = in[k] - removed[k]``.
    """
    order = [s for s in order]
    rows: list[StageProgress] = []
    explicit_in: list[int | None] = []
    explicit_kept: list[int | None] = []
    for ns in order + sorted(set(counts) - set(order)):
        r = StageProgress(ns, in_chain=ns in order)
        n_in = kept = None
        for name, v in sorted(counts.get(ns, {}).items()):
            kind, key = _classify(name)
            if kind == "rejected":
                r.rejected += v
                r.reasons[key] = r.reasons.get(key, 0) + v
            elif kind == "errors":
                r.errors += v
                r.reasons[f"error:{key}"] = r.reasons.get(f"error:{key}", 0) + v
            elif kind == "duplicates":
                r.duplicates += v
            elif kind == "kept":
                kept = (kept or 0) + v
            elif kind == "in":
                n_in = max(n_in or 0, v)
            else:
                r.other[key] = v
        rows.append(r)
        explicit_in.append(n_in)
        explicit_kept.append(kept)
    chain = [r for r in rows if r.in_chain]
    n = len(chain)
    # Backwards, lower bounds: what entered a stage must have left the previous one.
    lb_in: list[int | None] = [None] * n
    lb_out: list[int | None] = [None] * n
    for k in range(n - 1, -1, -1):
        cands = [x for x in (explicit_kept[k], lb_in[k + 1] if k + 1 < n else None) if x is not None]
        lb_out[k] = max(cands) if cands else None
        cands = [x for x in (explicit_in[k], None if lb_out[k] is None else lb_out[k] + chain[k].removed)
                 if x is not None]
        lb_in[k] = max(cands) if cands else None
    # Forwards: a stage received what the previous one emitted (documents in flight included);
    # a stage that does not count what it keeps passed on all it did not remove.
    prev_out: int | None = None
    for k in range(n):
        cands = [x for x in (lb_in[k], prev_out) if x is not None]
        n_in = max(cands) if cands else None
        if explicit_kept[k] is not None:
            kept = explicit_kept[k]
        else:
            cands = [x for x in (lb_out[k], None if n_in is None else max(n_in - chain[k].removed, 0))
                     if x is not None]
            kept = max(cands) if cands else None
        chain[k].n_in, chain[k].kept = n_in, kept
        prev_out = kept
    for r, n_in, kept in zip(rows[n:], explicit_in[n:], explicit_kept[n:], strict=True):
        r.n_in, r.kept = n_in, kept
    return rows


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def _rate(n: int, seconds: float) -> str:
    r = n / seconds if seconds > 0 else 0.0
    return f"{r / 1000:.1f}k/s" if r >= 1000 else f"{r:.0f}/s"


def render_block(rows: list[StageProgress], seconds: float, title: str = "") -> list[str]:
    """The terminal block: a header line and one line per stage (no trailing newlines)."""
    chain = [r for r in rows if r.in_chain]
    read = chain[0].n_in if chain and chain[0].n_in is not None else 0
    head = f"corpusflow{' · ' + title if title else ''} · {seconds:.0f} s · {read:,} read ({_rate(read, seconds)})"
    table = [("stage", "in", "kept", "rejected", "dup", "errors", "top reason")]
    for r in chain:
        top = r.top_reason()
        table.append((r.stage, _num(r.n_in), _num(r.kept), f"{r.rejected:,}", f"{r.duplicates:,}",
                      f"{r.errors:,}", f"{top[0]} {top[1]:,}" if top else ""))
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    lines = [head]
    for t in table:
        cells = [t[0].ljust(widths[0])] + [t[i].rjust(widths[i]) for i in range(1, 6)] + [t[6]]
        lines.append("  " + "  ".join(cells).rstrip())
    for r in rows:
        if not r.in_chain and (r.other or r.removed):
            items = [f"{k} {v:,}" for k, v in sorted(r.other.items())][:6]
            if r.removed:
                items.append(f"removed {r.removed:,}")
            lines.append(f"  {r.stage}: " + " · ".join(items))
    return lines


def render_line(rows: list[StageProgress], seconds: float) -> str:
    """One log line: ``progress 30 s: read 12,345 (411/s) | normalize: kept 12,300, rejected 45 | ...``."""
    chain = [r for r in rows if r.in_chain]
    read = chain[0].n_in if chain and chain[0].n_in is not None else 0
    parts = [f"read {read:,} ({_rate(read, seconds)})"]
    for i, r in enumerate(chain):
        bits = [] if i == 0 else [f"kept {_num(r.kept)}"]
        for label, v in (("rejected", r.rejected), ("duplicates", r.duplicates), ("errors", r.errors)):
            if v:
                bits.append(f"{label} {v:,}")
        if bits:
            parts.append(f"{r.stage}: " + ", ".join(bits))
    for r in rows:
        if not r.in_chain and r.other:
            parts.append(f"{r.stage}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r.other.items())[:4]))
    return f"progress {seconds:.0f} s: " + " | ".join(parts)


# ------------------------------------------------------------------------------------------------
# The reporter (launching process)
# ------------------------------------------------------------------------------------------------


class _LiveStream:
    """Wraps a terminal stream used by logging: erases the live block before a log line."""

    def __init__(self, stream: IO[str], reporter: ProgressReporter) -> None:
        self._stream, self._reporter = stream, reporter

    def write(self, s: str) -> int:
        with self._reporter._draw_lock:
            self._reporter._erase()
            return self._stream.write(s)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ProgressReporter:
    """Watches a run in the launching process; a context manager around ``pipeline.run()``.

    ``mode``: ``bar`` redraws a per-stage block in place on a terminal (log lines from Beam
    are printed above it), ``log`` emits a log line every ``interval`` seconds, ``auto`` picks
    ``bar`` when ``stream`` is a terminal and ``log`` otherwise, ``off`` does nothing.
    ``work_dir``: a local directory for the files of worker processes (created, and removed
    on exit); ``None`` watches only this process. ``stage_order``: the document chain, or a
    callable returning it (``lambda: plan.stage_order``, filled while the graph is built).
    """

    def __init__(self, stage_order: Iterable[str] | Callable[[], Iterable[str]], *, mode: str = "auto",
                 work_dir: str | None = None,
                 interval: float | None = None, stream: IO[str] | None = None, title: str = "") -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}; allowed: {', '.join(MODES)}")
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "bar" if isatty is not None and isatty() and os.environ.get("TERM") != "dumb" else "log"
        self.mode = mode
        self._order = stage_order
        self.work_dir = work_dir
        self.title = title
        if interval is None:
            env = os.environ.get(ENV_INTERVAL)
            interval = float(env) if env else (TTY_REFRESH_SECONDS if mode == "bar" else LOG_INTERVAL_SECONDS)
        self.interval = max(float(interval), 0.01)
        self._slots = _Slots()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._draw_lock = threading.RLock()
        self._drawn = 0
        self._start = 0.0
        self._saved_env: dict[str, str | None] = {}
        self._wrapped: list[tuple[logging.StreamHandler, Any]] = []  # type: ignore[type-arg]
        self.last_rows: list[StageProgress] = []
        self.lines_logged = 0

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> ProgressReporter:
        global _session
        self._start = time.monotonic()
        if self.mode == "off":
            return self
        if _session is not None:
            raise RuntimeError("another run is already being watched in this process")
        _session = self._slots
        if self.work_dir:
            os.makedirs(self.work_dir, exist_ok=True)
            for k, v in ((ENV_DIR, self.work_dir), (ENV_PID, str(os.getpid()))):
                self._saved_env[k] = os.environ.get(k)
                os.environ[k] = v
        if self.mode == "bar":
            self._wrap_log_handlers()
        self._thread = threading.Thread(target=self._loop, name="corpusflow-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        global _session
        if self.mode == "off":
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.last_rows = self.rows()
        seconds = time.monotonic() - self._start
        with self._draw_lock:
            self._erase()
        self._unwrap_log_handlers()
        if exc_type is not None:  # the job failed: show where it got to
            self._emit_final(seconds, failed=True)
        elif self.mode == "log":
            self._emit_final(seconds, failed=False)
        _session = None
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if self.work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # --- numbers ------------------------------------------------------------------------------
    def counts(self) -> Counts:
        counts = self._slots.totals()
        if self.work_dir:
            merge_counts(counts, read_worker_files(self.work_dir))
        return counts

    @property
    def order(self) -> list[str]:
        """The document chain; a callable is asked each time (the plan fills it while building)."""
        return list(self._order() if callable(self._order) else self._order)

    def rows(self) -> list[StageProgress]:
        return stage_rows(self.counts(), self.order)

    # --- output -------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # progress must never break a run
                log.debug("progress update failed", exc_info=True)

    def tick(self) -> None:
        seconds = time.monotonic() - self._start
        rows = self.rows()
        self.last_rows = rows
        if self.mode == "bar":
            self._draw(render_block(rows, seconds, self.title))
        elif self.mode == "log":
            log.info("%s", render_line(rows, seconds))
            self.lines_logged += 1

    def _emit_final(self, seconds: float, *, failed: bool) -> None:
        if failed:
            lines = render_block(self.last_rows, seconds, self.title)
            self.stream.write("progress when the run stopped:\n" + "\n".join(lines) + "\n")
            self.stream.flush()
        else:
            log.info("%s (done)", render_line(self.last_rows, seconds))
            self.lines_logged += 1

    def _draw(self, lines: list[str]) -> None:
        width = max(shutil.get_terminal_size((100, 24)).columns - 1, 20)
        text = "".join(line[:width] + "\n" for line in lines)
        with self._draw_lock:
            self._erase()
            self.stream.write(text)
            self.stream.flush()
            self._drawn = len(lines)

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _wrap_log_handlers(self) -> None:
        """Log records written to our terminal go through :class:`_LiveStream` while we draw."""
        for h in logging.getLogger().handlers:
            if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is self.stream:
                self._wrapped.append((h, h.stream))
                h.setStream(_LiveStream(self.stream, self))  # type: ignore[arg-type]

    def _unwrap_log_handlers(self) -> None:
        for h, stream in self._wrapped:
            h.setStream(stream)
        self._wrapped = []


def progress_dir(output: str) -> str | None:
    """Where worker processes write progress for a run into ``output``: ``OUTPUT/_work/progress``
    for a local output; a fresh local temporary directory for an object-store output."""

    if is_remote(output):
        return tempfile.mkdtemp(prefix="corpusflow-progress-")
    return os.path.join(output, "_work", "progress")


def watch_run(output: str, stage_order: Callable[[], Iterable[str]], runner_summary: Mapping[str, Any], *,
              mode: str = "auto", title: str = "") -> contextlib.AbstractContextManager[Any]:
    """The progress context for ``corpusflow run``: a :class:`ProgressReporter` where progress
    can be watched (:func:`watchable`), otherwise a no-op context."""
    if mode == "off" or not watchable(runner_summary):
        return contextlib.nullcontext()
    return ProgressReporter(stage_order, mode=mode, work_dir=progress_dir(output), title=title)


def watchable(runner_summary: Mapping[str, Any]) -> bool:
    """Progress works where the DoFns run here or in local subprocesses: DirectRunner (every
    mode) and PortableRunner with a LOOPBACK environment. Off for Dataflow, Spark, Flink."""
    r = runner_summary.get("runner")
    if r == "DirectRunner":
        return True
    return r == "PortableRunner" and runner_summary.get("environment_type") == "LOOPBACK"


# ------------------------------------------------------------------------------------------------
# Final summary (from the manifest: exact)
# ------------------------------------------------------------------------------------------------


def stage_summary(manifest: Mapping[str, Any], *, top: int = 2) -> str:
    """Per-stage table of a finished run from ``manifest["stages"]`` (summed over sources)."""
    rows = [("stage", "in", "out", "rejected", "duplicates", "errors", "top reasons")]
    for st in manifest.get("stages", []):
        tot = {"in": 0, "out": 0, "rejected": 0, "duplicates": 0, "errors": 0}
        reasons: dict[str, int] = {}
        for v in st.get("by_source", {}).values():
            tot["in"] += v.get("in", 0)
            tot["out"] += v.get("out", 0)
            tot["duplicates"] += v.get("duplicates", 0)
            for r, n in v.get("rejected", {}).items():
                tot["rejected"] += n
                reasons[r] = reasons.get(r, 0) + n
            for r, n in v.get("errors", {}).items():
                tot["errors"] += n
                reasons[f"error:{r}"] = reasons.get(f"error:{r}", 0) + n
        best = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        rows.append((st["stage"], f"{tot['in']:,}", f"{tot['out']:,}", f"{tot['rejected']:,}",
                     f"{tot['duplicates']:,}", f"{tot['errors']:,}", ", ".join(f"{r} {n:,}" for r, n in best)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join([r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, 6)] + [r[6]]).rstrip()
        for r in rows
    )
