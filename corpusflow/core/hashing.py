"""Stable, keyed hashes. Never use builtin ``hash()`` (salted per process) or ``random``.

Everything that must be reproducible across runs, runners and worker counts (generated ids,
shard assignment, sampling, representative choice) goes through these functions.
"""

from __future__ import annotations

import xxhash

_U64 = float(2**64)


def stable_hash64(*parts: str | bytes | int, seed: int = 0) -> int:
    """64-bit xxh3 hash of ``parts`` joined with an unambiguous separator, keyed by ``seed``."""
    h = xxhash.xxh3_64(seed=seed & 0xFFFFFFFFFFFFFFFF)
    for i, p in enumerate(parts):
        if i:
            h.update(b"\x1f")
        if isinstance(p, bytes):
            h.update(p)
        elif isinstance(p, int):
            h.update(str(p).encode())
        else:
            h.update(p.encode("utf-8", "surrogatepass"))
    return h.intdigest()


def unit_interval(*parts: str | bytes | int, seed: int = 0) -> float:
    """A deterministic pseudo-uniform number in [0, 1) derived from ``parts`` and ``seed``."""
    return stable_hash64(*parts, seed=seed) / _U64


def text_digest(text: str) -> bytes:
    """128-bit digest of a text, for exact-duplicate detection and content hashes."""
    return xxhash.xxh3_128_digest(text.encode("utf-8", "surrogatepass"))


def hex64(value: int) -> str:
    return f"{value:016x}"
