"""Interruption of a run: SIGINT / SIGTERM of the launcher, and workers that die with it.

Launcher side, :class:`Interruptible` (``with Interruptible() as stop: run_pipeline(...)``): the
first SIGINT or SIGTERM stops every process the launcher started (the multi-processing SDK
workers: SIGTERM, then SIGKILL after a grace period), so Beam's clean-up does not wait for
them, and raises :class:`KeyboardInterrupt` in the main thread; ``stop.signum`` then says which
signal it was (Beam may wrap the exception in another one, so the caller checks ``signum``, not
the exception's type). Further signals during the clean-up are ignored.

Worker side, :func:`follow_launcher` (called from the ``setup`` of the chain and writer DoFns):
in a process other than the launcher (``CORPUSFLOW_LAUNCHER_PID`` is set by the launcher and
inherited by the workers it starts), SIGINT is ignored (a Ctrl-C reaches the whole terminal
process group: the launcher stops the workers, which print no traceback of their own), and a
daemon thread exits the process as soon as the launcher is gone (SIGKILL of the launcher leaves
no worker writing shards). Nothing here holds state outside the process: on distributed
runners the variable is not set and both are no-ops.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Any

LAUNCHER_ENV = "CORPUSFLOW_LAUNCHER_PID"
#: How often a worker checks that its launcher is alive (seconds).
POLL_SECONDS = 1.0
#: How long stopped workers get to exit after SIGTERM before SIGKILL (seconds).
GRACE_SECONDS = 3.0

_followed = False
_follow_lock = threading.Lock()


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from ``/proc``; [] where there is no ``/proc``)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def stop_descendants(grace: float = GRACE_SECONDS) -> list[int]:
    """SIGTERM every descendant of this process, then SIGKILL those still alive after ``grace``."""
    pids = descendants(os.getpid())
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _alive(p)]
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return pids


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap our own children (zombies count as dead)
    return _running(pid)


class Interruptible:
    """Context: SIGINT / SIGTERM stop the workers and raise :class:`KeyboardInterrupt`."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self.at: float | None = None
        self._previous: dict[int, Any] = {}
        self._guard: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Interruptible:
        self._guard = start_guard()
        os.environ[LAUNCHER_ENV] = str(os.getpid())
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            return
        self.signum, self.at = signum, time.time()
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        # Beam's worker threads report the workers stopped here ("Worker subprocess exited with
        # return code -15"): expected now, so not printed.
        threading.excepthook = _quiet_excepthook
        # Beam then logs its own shutdown at ERROR ("Failed to read inputs in the data plane",
        # "Error closing worker_handler") with tracebacks: the workers were stopped on purpose.
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL + 1)
        stop_descendants()
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        os.environ.pop(LAUNCHER_ENV, None)
        if self._guard is not None:
            with contextlib.suppress(OSError):
                self._guard.kill()
                self._guard.wait(timeout=5)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""


def start_guard() -> subprocess.Popen[bytes] | None:
    """A small process, in a session of its own, that outlives a killed launcher and then stops
    every process the launcher started (found by their ``CORPUSFLOW_LAUNCHER_PID``), even a
    worker that never ran corpusflow code. Stopped by :class:`Interruptible` on a normal exit."""
    if not os.path.isdir("/proc"):
        return None
    env = {k: v for k, v in os.environ.items() if k != LAUNCHER_ENV}
    try:
        return subprocess.Popen([sys.executable, "-c", _GUARD, str(os.getpid())], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        return None


def marked_processes(launcher: int) -> list[int]:
    """Processes whose environment says they were started by ``launcher``."""
    mark = f"{LAUNCHER_ENV}={launcher}".encode()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        out.append(int(entry))
            except OSError:
                continue
    return out


def guard(launcher: int) -> None:
    """The guard's loop: wait for ``launcher`` to die, then stop what it started."""
    while _running(launcher):
        time.sleep(POLL_SECONDS / 2)
    pids = marked_processes(launcher)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    for pid in marked_processes(launcher):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# Run with ``python -c``: importing this module through the package would pull in more than it needs.
_GUARD = (
    "import sys, importlib.util as u\n"
    f"s = u.spec_from_file_location('corpusflow_guard', {os.path.abspath(__file__)!r})\n"
    "m = u.module_from_spec(s); s.loader.exec_module(m); m.guard(int(sys.argv[1]))\n"
)


def _quiet_excepthook(args: threading.ExceptHookArgs) -> None:
    return None


def follow_launcher() -> None:
    """In a worker process started by a corpusflow launcher: ignore SIGINT and exit when the
    launcher is gone. A no-op in the launcher itself and where no launcher is known."""
    global _followed
    raw = os.environ.get(LAUNCHER_ENV, "")
    if not raw.isdigit() or int(raw) == os.getpid():
        return
    with _follow_lock:
        if _followed:
            return
        _followed = True
    launcher = int(raw)
    with contextlib.suppress(OSError, AttributeError):
        # signal.signal() works only in the main thread; a DoFn's setup runs in another one.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal.restype = ctypes.c_void_p
        libc.signal(int(signal.SIGINT), ctypes.c_void_p(1))  # SIG_IGN
    threading.Thread(target=_watch, args=(launcher,), name="corpusflow-launcher-watch", daemon=True).start()


def _watch(launcher: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if not _running(launcher):
            os._exit(exit_code(signal.SIGTERM))


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a killed launcher not yet reaped by its parent)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
