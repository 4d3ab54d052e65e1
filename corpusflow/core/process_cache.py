"""One read-only object per process and key: models and indexes shared by every DoFn instance.

Beam runs several DoFn instances per worker process (one per bundle thread); each calls its steps'
``setup()``. A model or index loaded there is read-only, so one copy per process serves them all:
:func:`per_process` loads it on the first call for a ``(kind, key)`` and returns the same object
afterwards. The cache lives as long as the process (workers are reused across bundles).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_SHARED: dict[tuple[str, str], Any] = {}
_SHARED_LOCK = threading.Lock()


def per_process(kind: str, key: str, load: Callable[[str], T]) -> T:
    """``load(key)`` once per process for each (kind, key): a model or index shared, read-only,
    by the DoFn instances of all threads (their ``setup()`` calls this)."""
    with _SHARED_LOCK:
        value = _SHARED.get((kind, key))
        if value is None:
            value = _SHARED[(kind, key)] = load(key)
        return value  # type: ignore[no-any-return]
