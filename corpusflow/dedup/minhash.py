"""MinHash signatures (datasketch-compatible) with a fast numpy kernel, and LSH band keys.

Permutations are datasketch's ``scheme="legacy"`` ones, bit for bit: for permutation i,
``(a_i, b_i)`` are drawn from ``np.random.RandomState(seed)`` in turn with ``randint(1, 2^61-1)``
and ``randint(0, 2^61-1)``, and a 64-bit shingle hash h maps to
``((a_i * h + b_i) mod 2^64) mod (2^61 - 1)  &  (2^32 - 1)`` (uint64 wrap-around kept, as in
datasketch and datatrove). A signature is the minimum over the shingles: 32-bit values.
``datasketch.MinHash(num_perm, seed, hashfunc=..., scheme="legacy")`` over the same shingle
hashes gives the same values (tests/test_dedup_minhash.py).

Why the kernel is fast but still exact: with ``y = a*h + b mod 2^64``, the value is
``(low32(y) + c) mod 2^32`` where ``c = (y >> 61) + [fold >= M]`` lies in [0, 8]. The kernel
computes ``L' = low32(a)*low32(h) + low32(b) + 9 mod 2^32`` in 32-bit arithmetic (a third of the
memory traffic of the uint64 formula, no modulo), takes the arg-minimum and the second minimum
per permutation, and evaluates the exact 64-bit formula only at the arg-minimum. If the minimum
is >= 9 and the second minimum is at least 9 above it, no other shingle can beat the arg-minimum
(the wrap-around cases land in L' < 9), so the result is exact; the rare permutations where this
does not hold (about n*18/2^32 per permutation) are recomputed with the full uint64 formula.

When numba is installed (a dependency; it compiles once per worker process, ~0.5 s, cached on
disk), :meth:`MinHasher.signature` uses a compiled kernel instead that evaluates the exact 64-bit
formula for every (shingle, permutation) pair: ``y mod (2^61-1) = (y & M) + (y >> 61)``, minus M
once if needed, since ``2^61 = 1 (mod M)``. LLVM vectorises the inner loop over permutations, so
it runs ~5x faster than the numpy kernel (~140 µs for 2,000 shingles x 200 permutations, bench
``bench/bench_dedup.py --signatures``). Both kernels give the same values as the reference formula
(tests/test_dedup_minhash.py); ``CORPUSFLOW_NO_NUMBA=1`` forces the numpy one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from corpusflow.core.jit import LazyKernel
from corpusflow.dedup.shingle import MASK64, fmix64

MERSENNE61 = np.uint64((1 << 61) - 1)
MAX32 = np.uint64(0xFFFFFFFF)
_OFF = 9  # see the module docstring
_CHUNK = 2048  # shingles per block: keeps the (perms x chunk) uint32 block in L2


def _build_kernel(njit: Any) -> Any:
    """The numba kernel (see the module docstring); built by :data:`_kernel`."""

    @njit(cache=True, nogil=True, boundscheck=False)
    def kernel(h, a, b, out):  # type: ignore[no-untyped-def]
        m61 = np.uint64((1 << 61) - 1)
        mx = np.uint64(0xFFFFFFFF)
        s61 = np.uint64(61)
        p_count = a.shape[0]
        n = h.shape[0]
        for p in range(p_count):
            out[p] = mx
        n4 = n - n % 4
        for i in range(0, n4, 4):  # four shingles per pass over the permutations
            x0 = h[i]
            x1 = h[i + 1]
            x2 = h[i + 2]
            x3 = h[i + 3]
            for p in range(p_count):
                ap = a[p]
                bp = b[p]
                y0 = ap * x0 + bp
                y1 = ap * x1 + bp
                y2 = ap * x2 + bp
                y3 = ap * x3 + bp
                r0 = (y0 & m61) + (y0 >> s61)
                r1 = (y1 & m61) + (y1 >> s61)
                r2 = (y2 & m61) + (y2 >> s61)
                r3 = (y3 & m61) + (y3 >> s61)
                r0 = r0 - m61 if r0 >= m61 else r0
                r1 = r1 - m61 if r1 >= m61 else r1
                r2 = r2 - m61 if r2 >= m61 else r2
                r3 = r3 - m61 if r3 >= m61 else r3
                out[p] = min(min(out[p], min(r0 & mx, r1 & mx)), min(r2 & mx, r3 & mx))
        for i in range(n4, n):
            x = h[i]
            for p in range(p_count):
                y = a[p] * x + b[p]
                r = (y & m61) + (y >> s61)
                r = r - m61 if r >= m61 else r
                out[p] = min(out[p], r & mx)
        return out

    return kernel


_kernel = LazyKernel(_build_kernel)  # _kernel(): the compiled kernel, or None (numpy kernel)


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's legacy permutation parameters ``(a, b)`` (uint64 arrays of ``num_perm``)."""
    gen = np.random.RandomState(seed)
    pairs = [
        (gen.randint(1, MERSENNE61, dtype=np.uint64), gen.randint(0, MERSENNE61, dtype=np.uint64))
        for _ in range(num_perm)
    ]
    arr = np.array(pairs, dtype=np.uint64).T
    return arr[0].copy(), arr[1].copy()


def reference_signature(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The plain uint64 formula (slow; used for the rare fix-ups and in tests)."""
    h = np.asarray(hashes, dtype=np.uint64)
    if h.size == 0:
        return np.full(a.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    with np.errstate(over="ignore"):
        v = (h[:, None] * a[None, :] + b[None, :]) % MERSENNE61
    return (v & MAX32).min(axis=0).astype(np.uint32)


class MinHasher:
    """Computes 32-bit MinHash signatures of 64-bit shingle hashes for one (num_perm, seed)."""

    def __init__(self, num_perm: int, seed: int) -> None:
        self.num_perm = num_perm
        self.seed = seed
        self.a, self.b = permutations(num_perm, seed)
        self._a32 = (self.a & MAX32).astype(np.uint32)[:, None]
        self._b32 = ((self.b + np.uint64(_OFF)) & MAX32).astype(np.uint32)[:, None]
        self._rows = np.arange(num_perm)
        self._buf = np.empty((num_perm, _CHUNK), dtype=np.uint32)
        self.fixups = 0  # permutations recomputed with the uint64 formula (diagnostics)
        self._out = np.empty(num_perm, dtype=np.uint64)
        self.compiled = _kernel() is not None
        if self.compiled:  # compile (or load from numba's cache) now, in the DoFn's setup()
            _kernel()(np.zeros(1, dtype=np.uint64), self.a, self.b, self._out)

    def signature(self, hashes: np.ndarray) -> np.ndarray:
        """Signature (uint32[num_perm]) of a non-empty array of shingle hashes (repeats allowed)."""
        n = int(hashes.shape[0])
        if n == 0:
            raise ValueError("no shingles")
        kernel = _kernel()
        if kernel is not None:
            h = np.ascontiguousarray(hashes, dtype=np.uint64)
            return kernel(h, self.a, self.b, self._out).astype(np.uint32)
        return self.signature_numpy(hashes)

    def signature_numpy(self, hashes: np.ndarray) -> np.ndarray:
        """The numpy kernel (no numba): same values as :meth:`signature`."""
        n = int(hashes.shape[0])
        if n == 0:
            raise ValueError("no shingles")
        h32 = (hashes & MAX32).astype(np.uint32)
        best_m = best_s = best_k = None
        for start in range(0, n, _CHUNK):
            c = min(_CHUNK, n - start)
            blk = self._buf[:, :c]
            np.multiply(self._a32, h32[start : start + c], out=blk)
            np.add(blk, self._b32, out=blk)
            k = blk.argmin(axis=1)
            m = blk[self._rows, k].astype(np.int64)
            blk[self._rows, k] = 0xFFFFFFFF
            s = blk.min(axis=1).astype(np.int64) if c > 1 else np.full(self.num_perm, 1 << 40, np.int64)
            k = k + start
            if best_m is None or best_s is None or best_k is None:
                best_m, best_s, best_k = m, s, k
            else:
                # Merge: the new overall minimum, and the second minimum over both blocks.
                new_better = m < best_m
                second = np.where(new_better, np.minimum(s, best_m), np.minimum(best_s, m))
                best_k = np.where(new_better, k, best_k)
                best_m = np.where(new_better, m, best_m)
                best_s = second
        assert best_m is not None and best_s is not None and best_k is not None  # n > 0: one block ran
        hk = hashes[best_k]
        with np.errstate(over="ignore"):
            y = hk * self.a + self.b
        sig = ((y % MERSENNE61) & MAX32).astype(np.uint32)
        bad = np.asarray((best_m < _OFF) | (best_s < best_m + _OFF))
        if bad.any():
            idx = np.nonzero(bad)[0]
            self.fixups += int(idx.size)
            sig[idx] = self._fixup(hashes, h32, idx, best_m[idx])
        return sig

    def _fixup(self, hashes: np.ndarray, h32: np.ndarray, idx: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Exact values for permutations ``idx`` whose minimum was not provably unique.

        Almost always a repeated shingle ties with itself. With m' >= 9 the true minimum is among
        the shingles with L' < m' + 9 (see the module docstring), so only those few get the
        64-bit formula; permutations with m' < 9 (wrap-around, ~n*9/2^32) use it in full.
        """
        out = np.empty(idx.size, dtype=np.uint32)
        full = m < _OFF
        if full.any():
            out[full] = reference_signature(hashes, self.a[idx[full]], self.b[idx[full]])
        part = np.nonzero(~full)[0]
        if part.size:
            p_idx = idx[part]
            lp = self._a32[p_idx] * h32[None, :] + self._b32[p_idx]  # (k, n) uint32, wraps
            rows, cols = np.nonzero(lp.astype(np.int64) < (m[part] + _OFF)[:, None])
            with np.errstate(over="ignore"):
                y = hashes[cols] * self.a[p_idx[rows]] + self.b[p_idx[rows]]
            v = ((y % MERSENNE61) & MAX32).astype(np.uint32)
            res = np.full(part.size, 0xFFFFFFFF, dtype=np.uint32)
            np.minimum.at(res, rows, v)
            out[part] = res
        return out


_BAND_K = np.uint64(0x9E3779B97F4A7C15)


def band_keys(sigs: np.ndarray, bands: int, rows: int, salt: int) -> np.ndarray:
    """64-bit band keys (uint64[docs, bands]) of signatures (uint32[docs, >= bands*rows]).

    Key of band j = fmix64(polynomial of its r values + (j+1) * C + salt): it includes the band
    index (equal values in different bands never collide by construction of the hash input) and
    a salt (profile and scope), so different profiles or scopes never share a bucket.
    """
    d = sigs.shape[0]
    v = sigs[:, : bands * rows].reshape(d, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.zeros((d, bands), dtype=np.uint64)
        for j in range(rows):
            acc = acc * _BAND_K + v[:, :, j]
        idx = (np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93))[None, :]
        acc = acc + idx + np.uint64(salt & MASK64)
        return fmix64(acc)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray | float:
    """Fraction of equal minhash values (the MinHash estimate of Jaccard similarity)."""
    eq = np.asarray(sig_a) == np.asarray(sig_b)
    return eq.mean(axis=-1)
