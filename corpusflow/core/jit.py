"""The one switch for numba-compiled kernels (plain Python, no Beam import).

numba is a dependency, but every compiled path keeps a numpy (or binding) fallback that gives the
same values: ``CORPUSFLOW_NO_NUMBA=1``, or numba missing, turns all of them off at once.
:class:`LazyKernel` compiles a module's kernel once per process, on first use (a DoFn's
``setup()`` calls it), and returns ``None`` when the compiled paths are off.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
