"""Live progress of a run, per stage, while the job runs: what a person can plan by.

One line (log mode) or a header plus a per-stage table (terminal)::

    progress 18 s: read 12,551 docs, 29.0 MB of 59.6 MB (48.6%), 1.5k docs/s, ETA 9 s | langid: kept ...

* **Bytes**: stored (on-disk) bytes of the input files read so far, against their total size
  taken at launch (:func:`input_bytes`; unknown for a remote input: then no % and no ETA). The
  read stage counts them (``info.bytes_read``, from :meth:`corpusflow.io.readers.ReadStats.consumed`):
  compressed bytes for ``.gz``/``.zst``/..., so the percentage is honest whatever the
  compression, and byte ranges of one file add up to its size.
* **Rate and ETA**: docs/s and bytes/s averaged exponentially over :data:`EWMA_SECONDS`; the
  ETA (time until the input is read) is ``ETA —`` until :data:`ETA_MIN_SAMPLES` samples taken
  after the first byte are in (a cold start, e.g. kernels compiling, is no pace). Once the
  input is read the line says so; the later stages' counts go on moving.
* **Consistent and monotone** (:class:`ProgressTracker`): every shown count only grows; a stage
  never shows more documents out than in, nor more in than the stage before let out.

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
  returns ``None`` and ``StageCounters`` does nothing extra; ``corpusflow run`` logs "no live
  progress on this runner" and prints the exact per-stage table when the run ends.

Counter names understood (the stages' vocabulary; anything else is shown as-is for stages
outside the document chain, e.g. ``mixture``):

==============================================  ======================================
``rejected.<reason>``                            documents rejected, by reason code
``errors.<error_class>`` / ``errors``            malformed records / failed documents
``duplicates[.<kind>]`` / ``<kind>_duplicates``  documents removed as duplicates
``kept`` / ``docs_out`` / ``lang.<code>``        documents that left the stage (kept)
``records`` / ``docs_in`` / ``documents``        documents that entered the stage
==============================================  ======================================

A stage that does not count what it keeps or receives gets lower bounds for them from its
neighbours in the stage order (what enters a stage left the previous one; never kept = in -
removed, see :func:`stage_rows`), so the table is exact once a run has finished and a little
behind (documents in flight, counters published in batches) while it runs. The
authoritative counts are the manifest's; :func:`stage_summary` prints them after a run.
Progress never changes what a run writes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
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
from corpusflow.core.outcomes import BYTES_READ
from corpusflow.core.paths import is_remote
from corpusflow.io.readers import local_size

log = logging.getLogger(__name__)

ENV_DIR = "CORPUSFLOW_PROGRESS_DIR"
"""Directory where worker processes write their counts (set by the reporter for subprocesses)."""
ENV_PID = "CORPUSFLOW_PROGRESS_PID"
"""Process id of the launcher (a worker with this pid is the launcher itself)."""
ENV_INTERVAL = "CORPUSFLOW_PROGRESS_INTERVAL"
"""Seconds between progress log lines when stderr is not a terminal (default 15)."""

READ_STAGE = "read"
"""Namespace of the read stage's counters (its ``in`` are the documents read)."""

WORKER_FLUSH_SECONDS = 1.0
SAMPLE_SECONDS = 1.0
"""Seconds between two readings of the counters (rates and ETA); lines are printed less often."""
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
    (``in_chain=False``: their raw counters are in ``other``). ``in``/``kept`` of a chain stage
    are the largest of what it counted and what its neighbours prove: backwards,
    ``kept[k-1] >= in[k]`` and ``in[k] >= kept[k] + removed[k]``; forwards,
    ``in[k] >= kept[k-1]`` (what is in flight counts as received). So within one snapshot no
    stage shows more out than in, and no stage more in than the previous one let out.
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
    # Backwards, lower bounds: what entered a stage must have left the previous one. No
    # stage's kept is guessed as in - removed: a stage that holds documents (dedup groups them
    # before it routes any) would show documents it has not passed on, and a shown count
    # never goes down (ProgressTracker).
    lb_in: list[int | None] = [None] * n
    lb_out: list[int | None] = [None] * n
    for k in range(n - 1, -1, -1):
        cands = [x for x in (explicit_kept[k], lb_in[k + 1] if k + 1 < n else None) if x is not None]
        out = lb_out[k] = max(cands) if cands else None
        cands = [x for x in (explicit_in[k], None if out is None else out + chain[k].removed) if x is not None]
        lb_in[k] = max(cands) if cands else None
    # Forwards: a stage received what the previous one emitted (documents in flight included).
    prev_out: int | None = None
    for k in range(n):
        cands = [x for x in (lb_in[k], prev_out) if x is not None]
        chain[k].n_in, chain[k].kept = (max(cands) if cands else None), lb_out[k]
        prev_out = lb_out[k]
    for r, n_in, kept in zip(rows[n:], explicit_in[n:], explicit_kept[n:], strict=True):
        r.n_in, r.kept = n_in, kept
    return rows


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def _rate(r: float) -> str:
    return f"{r / 1000:.1f}k/s" if r >= 1000 else f"{r:.0f}/s"


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, like ``ls --si``)."""
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n:.0f} B"


def human_seconds(s: float) -> str:
    """65 -> '1 min 05 s'; 4000 -> '1 h 07 min'."""
    s = max(0, round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def percent(done: int, total: int) -> str:
    """Rounded down to 0.1 %: 100 % only when all is done."""
    return f"{math.floor(1000 * done / total) / 10:.1f}%"


def input_status(snap: Snapshot) -> str:
    """``12,345 docs, 26.5 MB of 58.6 MB (45.2%), 610 docs/s, ETA 20 s`` (see :class:`Snapshot`)."""
    head = f"{snap.docs_read:,} docs, "
    if snap.total_bytes is None:
        head += f"{human_bytes(snap.bytes_read)} (input size unknown)"
    elif snap.total_bytes <= 0:
        return head + "empty input (0 bytes)"
    else:
        head += (f"{human_bytes(snap.bytes_read)} of {human_bytes(snap.total_bytes)} "
                 f"({percent(snap.bytes_read, snap.total_bytes)})")
    rate = "" if snap.docs_per_s is None else f"{_rate(snap.docs_per_s)[:-2]} docs/s"
    if snap.read_seconds is not None:
        return head + f", input read in {human_seconds(snap.read_seconds)}" + (f" ({rate})" if rate else "")
    eta = "ETA —" if snap.eta is None else f"ETA {human_seconds(snap.eta)}"
    return head + (f", {rate}" if rate else "") + f", {eta}"


def render_block(snap: Snapshot, title: str = "") -> list[str]:
    """The terminal block: a header line and one line per stage (no trailing newlines)."""
    rows = snap.rows
    chain = [r for r in rows if r.in_chain]
    head = f"corpusflow{' · ' + title if title else ''} · {snap.seconds:.0f} s · read {input_status(snap)}"
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


def render_line(snap: Snapshot) -> str:
    """One log line: ``progress 30 s: read 12,345 docs, 26.5 MB of 58.6 MB (45.2%), 411 docs/s,
    ETA 36 s | normalize: kept 12,300, rejected 45 | ...``."""
    chain = [r for r in snap.rows if r.in_chain]
    parts = [f"read {input_status(snap)}"]
    for i, r in enumerate(chain):
        bits = [] if i == 0 else [f"kept {_num(r.kept)}"]
        for label, v in (("rejected", r.rejected), ("duplicates", r.duplicates), ("errors", r.errors)):
            if v:
                bits.append(f"{label} {v:,}")
        if bits:
            parts.append(f"{r.stage}: " + ", ".join(bits))
    for r in snap.rows:
        if not r.in_chain and r.other:
            parts.append(f"{r.stage}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r.other.items())[:4]))
    return f"progress {snap.seconds:.0f} s: " + " | ".join(parts)


# ------------------------------------------------------------------------------------------------
# Monotone, consistent numbers over time; rates and ETA (pure)
# ------------------------------------------------------------------------------------------------

#: Seconds over which the read rates are averaged (exponentially weighted: a sample ``dt``
#: seconds long gets weight ``1 - exp(-dt / EWMA_SECONDS)``), so that an ETA follows a change
#: of pace within ~20 s and does not jump with the bursts in which workers report (the same
#: exponential moving average of speed as tqdm's ``smoothing``, weighted by time here because
#: samples are not evenly spaced; 10 s: a few worker flushes and counter batches per window).
EWMA_SECONDS = 10.0
#: Rate samples (taken after the first byte was read) before an ETA is shown: the first
#: interval holds the cold start (kernels compiling, models loading) and says nothing of the pace.
ETA_MIN_SAMPLES = 3


@dataclass
class Snapshot:
    """What progress shows at one moment (every number monotone over a run, see :class:`ProgressTracker`).

    ``bytes_read``: stored (on-disk, so compressed for ``.gz``) bytes of the input files read so
    far, of ``total_bytes`` (None: unknown, e.g. a remote input; 0: empty input). ``docs_read``:
    documents the read stage has seen. ``docs_per_s``: smoothed read rate (average over the read
    once the input is read). ``eta``: seconds until the input is read (None until meaningful).
    ``read_seconds``: when the last input byte was read (None before).
    """

    seconds: float
    rows: list[StageProgress]
    bytes_read: int = 0
    total_bytes: int | None = None
    docs_read: int = 0
    docs_per_s: float | None = None
    eta: float | None = None
    read_seconds: float | None = None

    @property
    def fraction(self) -> float | None:
        if self.total_bytes is None or self.total_bytes <= 0:
            return None
        return min(self.bytes_read / self.total_bytes, 1.0)


class ProgressTracker:
    """From successive counter snapshots to what is shown: monotone, consistent, with rates and an ETA.

    * Monotone: every shown count is the largest seen so far (a worker file being replaced
      while it is read, or counters published in bursts, never make a number go back).
    * Consistent, in stage order: a stage never shows more documents out (kept + removed) than
      in, and never more in than the previous stage let out; a count is only ever raised to
      meet these (each raise is a lower bound the other counts prove), never lowered.
    * Bytes: ``info.bytes_read`` of the read stage (:data:`READ_STAGE`), capped at ``total_bytes``.
    * Rates: bytes/s and docs/s averaged exponentially over :data:`EWMA_SECONDS`, from the
      first interval that starts after the first byte was read; the ETA is the bytes left over
      the byte rate once :data:`ETA_MIN_SAMPLES` samples are in, None otherwise.
    """

    def __init__(self, stage_order: Iterable[str] | Callable[[], Iterable[str]], total_bytes: int | None = None,
                 *, ewma_seconds: float = EWMA_SECONDS, min_samples: int = ETA_MIN_SAMPLES) -> None:
        self._order = stage_order
        self.total_bytes = total_bytes
        self._tau = ewma_seconds
        self._min_samples = min_samples
        self._hi: dict[tuple[str, ...], int] = {}
        self._last: tuple[float, int, int] | None = None  # seconds, bytes, docs of the previous update
        self._byte_rate: float | None = None
        self._doc_rate: float | None = None
        self._samples = 0
        self._read_seconds: float | None = None

    @property
    def order(self) -> list[str]:
        return list(self._order() if callable(self._order) else self._order)

    def _max(self, key: tuple[str, ...], v: int | None) -> int | None:
        prev = self._hi.get(key)
        if v is None:
            return prev
        if prev is None or v > prev:
            self._hi[key] = v
            return v
        return prev

    def _monotone(self, rows: list[StageProgress]) -> None:
        for r in rows:
            r.n_in = self._max((r.stage, "in"), r.n_in)
            r.kept = self._max((r.stage, "kept"), r.kept)
            for name in ("rejected", "duplicates", "errors"):
                setattr(r, name, self._max((r.stage, name), getattr(r, name)) or 0)
            for key in list(r.reasons):
                r.reasons[key] = self._max((r.stage, "reason", key), r.reasons[key]) or 0
            for key in list(r.other):
                r.other[key] = self._max((r.stage, "other", key), r.other[key]) or 0
        chain = [r for r in rows if r.in_chain]
        nxt: int | None = None
        for r in reversed(chain):  # raise only: later stages are bounded by earlier ones
            if nxt is not None and (r.kept is None or r.kept < nxt):
                r.kept = self._max((r.stage, "kept"), nxt)
            need = (r.kept or 0) + r.removed
            if (r.kept is not None or r.removed) and (r.n_in is None or r.n_in < need):
                r.n_in = self._max((r.stage, "in"), need)
            nxt = r.n_in

    def update(self, seconds: float, counts: Mapping[str, Mapping[str, int]]) -> Snapshot:
        order = self.order
        rows = stage_rows(counts, order)
        self._monotone(rows)
        raw = int(counts.get(READ_STAGE, {}).get(outcomes.info(BYTES_READ), 0))
        if self.total_bytes is not None and self.total_bytes >= 0:
            raw = min(raw, self.total_bytes)
        nbytes = self._max(("", "bytes"), raw) or 0
        chain = [r for r in rows if r.in_chain]
        reads = [r for r in rows if r.stage == READ_STAGE] or chain
        docs = (reads[0].n_in or 0) if reads else 0
        if self._last is not None and self._last[1] > 0 and seconds > self._last[0]:
            dt = seconds - self._last[0]
            alpha = 1.0 - math.exp(-dt / self._tau)
            rb, rd = (nbytes - self._last[1]) / dt, (docs - self._last[2]) / dt
            if self._byte_rate is None or self._doc_rate is None:
                self._byte_rate, self._doc_rate = rb, rd
            else:
                self._byte_rate += alpha * (rb - self._byte_rate)
                self._doc_rate += alpha * (rd - self._doc_rate)
            self._samples += 1
        self._last = (seconds, nbytes, docs)
        total = self.total_bytes
        done = total is not None and total > 0 and nbytes >= total
        if done and self._read_seconds is None:
            self._read_seconds = seconds
        eta = None
        if (not done and total is not None and total > 0 and self._samples >= self._min_samples
                and self._byte_rate is not None and self._byte_rate > 0):
            eta = (total - nbytes) / self._byte_rate
        rate = self._doc_rate if self._samples else None
        if self._read_seconds is not None:  # the input is read: the average over the whole read
            rate = docs / self._read_seconds if self._read_seconds > 0 else None
        return Snapshot(seconds=seconds, rows=rows, bytes_read=nbytes, total_bytes=total, docs_read=docs,
                        docs_per_s=rate, eta=eta, read_seconds=self._read_seconds)


def input_bytes(paths: Iterable[str]) -> int | None:
    """Total stored size of the input files (None when one is remote or cannot be sized)."""
    total = 0
    for p in paths:
        size = local_size(p)
        if size is None:
            return None
        total += size
    return total


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
    ``total_bytes``: stored size of all input files (:func:`input_bytes`; None: unknown), what
    the bytes read are a percentage of. Counters are read every :data:`SAMPLE_SECONDS` (or
    ``interval`` when shorter) for the rates and the ETA (:class:`ProgressTracker`).
    """

    def __init__(self, stage_order: Iterable[str] | Callable[[], Iterable[str]], *, mode: str = "auto",
                 work_dir: str | None = None, total_bytes: int | None = None,
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
        self.tracker = ProgressTracker(stage_order, total_bytes)
        self._slots = _Slots()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._draw_lock = threading.RLock()
        self._sample_lock = threading.Lock()
        self._drawn = 0
        self._start = 0.0
        self._saved_env: dict[str, str | None] = {}
        self._wrapped: list[tuple[logging.StreamHandler, Any]] = []  # type: ignore[type-arg]
        self.last_rows: list[StageProgress] = []
        self.last: Snapshot | None = None
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
        seconds = time.monotonic() - self._start
        self.sample(seconds)
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

    def sample(self, seconds: float | None = None) -> Snapshot:
        """Read the counters now (monotone, consistent: see :class:`ProgressTracker`)."""
        if seconds is None:
            seconds = time.monotonic() - self._start
        with self._sample_lock:  # the loop and __exit__ may both sample
            snap = self.tracker.update(seconds, self.counts())
            self.last, self.last_rows = snap, snap.rows
        return snap

    # --- output -------------------------------------------------------------------------------
    def _loop(self) -> None:
        step = min(self.interval, SAMPLE_SECONDS)
        shown = 0.0
        while not self._stop.wait(step):
            try:
                seconds = time.monotonic() - self._start
                if seconds - shown >= self.interval - 1e-3:
                    shown = seconds
                    self.tick()
                else:
                    self.sample(seconds)
            except Exception:  # progress must never break a run
                log.debug("progress update failed", exc_info=True)

    def tick(self) -> None:
        snap = self.sample()
        if self.mode == "bar":
            self._draw(render_block(snap, self.title))
        elif self.mode == "log":
            log.info("%s", render_line(snap))
            self.lines_logged += 1

    def _emit_final(self, seconds: float, *, failed: bool) -> None:
        snap = self.last if self.last is not None else self.sample(seconds)
        if failed:
            lines = render_block(snap, self.title)
            self.stream.write("progress when the run stopped:\n" + "\n".join(lines) + "\n")
            self.stream.flush()
        else:
            log.info("%s (done)", render_line(snap))
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
              mode: str = "auto", title: str = "", inputs: Iterable[str] = ()) -> contextlib.AbstractContextManager[Any]:
    """The progress context for ``corpusflow run``: a :class:`ProgressReporter` where progress
    can be watched (:func:`watchable`), otherwise a no-op context (and one log line saying so).
    ``inputs``: the input files, whose total size the bytes read are shown against."""
    if mode == "off":
        return contextlib.nullcontext()
    if not watchable(runner_summary):
        log.log(logging.WARNING if mode in ("bar", "log") else logging.INFO,
                "no live progress on this runner (%s): its workers do not report here; the per-stage "
                "counts follow when the run ends", runner_summary.get("runner"))
        return contextlib.nullcontext()
    return ProgressReporter(stage_order, mode=mode, work_dir=progress_dir(output), title=title,
                            total_bytes=input_bytes(inputs))


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
