"""The one switch for numba-compiled kernels (plain Python, no Beam import).

numba is a dependency, but every compiled path keeps a numpy (or binding) fallback that gives the
same values: ``CORPUSFLOW_NO_NUMBA=1``, or numba missing, turns all of them off at once.
:class:`LazyKernel` compiles a module's kernel once per process, on first use (a DoFn's
``setup()`` calls it), and returns ``None`` when the compiled paths are off.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from typing import Any

_UNSET = object()


def numba_enabled() -> bool:
    """Whether the compiled paths may be used (numba importable, ``CORPUSFLOW_NO_NUMBA`` unset)."""
    if os.environ.get("CORPUSFLOW_NO_NUMBA"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return True


class LazyKernel:
    """``kernel = LazyKernel(build)``; ``kernel()`` is ``build(numba.njit)``, built once per process,
    or ``None`` when :func:`numba_enabled` is false (the caller then runs its numpy code)."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._kernel: Any = _UNSET

    def __call__(self) -> Any:
        if self._kernel is _UNSET:
            if numba_enabled():
                from numba import njit  # lazy: heavy or optional dependency, loaded only when used

                self._kernel = self._build(njit)
            else:
                self._kernel = None
        return self._kernel


#: The modules that hold numba kernels compiled with ``cache=True`` (relative to the package).
KERNEL_MODULES = ("text/fasttext_infer.py", "dedup/minhash.py", "dedup/shingle.py", "filters/kernels.py")


def uncached_kernel_modules(modules: Iterable[str] = KERNEL_MODULES) -> list[str]:
    """The kernel modules with no numba cache index (``*.nbi``) at least as new as their source,
    i.e. whose kernels a run compiles first (a cold start); [] when the compiled paths are off.
    Looks where numba caches: ``NUMBA_CACHE_DIR`` when set, else the module's ``__pycache__``."""
    if not numba_enabled():
        return []
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    cold = []
    for rel in modules:
        source = os.path.join(package, rel)
        stem = os.path.splitext(os.path.basename(rel))[0]
        if cache_dir:
            found = glob.glob(os.path.join(cache_dir, "**", f"{stem}.*.nbi"), recursive=True)
        else:
            found = glob.glob(os.path.join(os.path.dirname(source), "__pycache__", f"{stem}.*.nbi"))
        try:
            mtime = os.path.getmtime(source)
        except OSError:
            continue
        if not any(os.path.getmtime(f) >= mtime for f in found):
            cold.append(rel)
    return cold
