"""Compiled (numba) kernels for the hot loops of the filter rules, with the numpy code as fallback.

Every kernel here computes *exactly* what the numpy code of the rule that calls it computes —
the same 64-bit hashes (:func:`corpusflow.filters.text.window_hashes` and
:func:`~corpusflow.filters.text.span_hashes`), the same candidate positions, the same integer
counts — in one pass over the code points instead of a dozen small numpy calls (whose fixed cost
dominates on 1-5 KB documents). The rules turn the integers into the same float signals as
before, so decisions, reason codes and every signal value are unchanged (checked by
``tests/test_filters_kernels.py``, which runs both paths on real JA/EN text).

Kernels:

* :func:`kw_find` — every occurrence of the keywords of a
  :class:`~corpusflow.filters.keywords.KeywordIndex` (optionally only at word starts), found
  with small pre-selection tables and confirmed by comparing code points;
* :func:`char_repetition_counts` — BigScience character-repetition counts (``text.char_repetition``);
* :func:`longest_run` — longest run of one character (``text.single_char_repetition``);
* :func:`gopher_ngrams` — Gopher word n-gram statistics (``en.gopher_repetition``);
* :func:`class_counts` — characters per class (:attr:`TextView.class_counts`);
* :func:`tokens` — whitespace tokens and word statistics (:attr:`TextView.token_spans`,
  ``rules_en.word_stats``);
* :func:`line_spans`, :func:`sentence_spans` — the non-empty stripped lines and the Swallow
  sentences as spans, and :func:`span_dups` / :func:`count_affixes` — their duplicate counts
  (confirmed character by character) and how many begin or end with given strings;
* :func:`first_date_candidate` — where the BBS date/episode regex can first match.

When numba is missing or ``CORPUSFLOW_NO_NUMBA=1`` is set, :func:`get` returns ``None`` and the
rules use their numpy code. Compilation happens once per process (cached on disk by numba), in
the chain's ``setup()`` (:func:`corpusflow.filters.text.warm_up_kernels`), not on the first document.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

from corpusflow.core.jit import numba_enabled

_K_CHAR = np.uint64(0x9E3779B97F4A7C15)  # = corpusflow.filters.text._K_CHAR
_K_STEP = np.uint64(0xBF58476D1CE4E5B9)  # = corpusflow.filters.text._K_STEP
_MIX = np.uint64(0x9E3779B97F4A7C15)  # slot of a value in the hash tables of group_ids

_STATE: dict[str, Any] = {"kernels": None, "tried": False, "disabled": False}


_KERNEL_NAMES = (  # callees before their callers
    "group_ids", "dup_chars", "kw_find", "char_repetition_counts", "longest_run",
    "gopher_ngrams", "class_counts", "tokens", "push_stripped", "line_spans", "sentence_spans",
    "span_dups", "count_affixes", "first_date_candidate",
)


def _compile() -> SimpleNamespace | None:
    """Compile the kernels below with numba (callees first, so that callers see dispatchers).

    The functions are defined at module level, so numba's on-disk cache holds them all (a
    kernel that called another one through a closure would be recompiled in every process).
    """
    if not numba_enabled():
        return None
    from numba import njit  # lazy: heavy or optional dependency, loaded only when used

    g = globals()
    out = {}
    for name in _KERNEL_NAMES:
        fn = g[name]
        if not hasattr(fn, "py_func"):
            g[name] = njit(cache=True, nogil=True, boundscheck=False)(fn)
        out[name] = g[name]
    return SimpleNamespace(**out)


def get() -> SimpleNamespace | None:
    """The compiled kernels, or ``None`` (numba missing, ``CORPUSFLOW_NO_NUMBA=1``, or inside
    :func:`disabled`): callers then use their numpy code."""
    if _STATE["disabled"]:
        return None
    if not _STATE["tried"]:
        _STATE["kernels"] = _compile()
        _STATE["tried"] = True
    return _STATE["kernels"]


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run the numpy code paths inside the block (tests compare both paths)."""
    old = _STATE["disabled"]
    _STATE["disabled"] = True
    try:
        yield
    finally:
        _STATE["disabled"] = old


# The kernels (plain Python until :func:`_compile` replaces them by their numba versions; the
# rules call them only through :func:`get`).


def group_ids(vals):  # type: ignore[no-untyped-def]
    """Group equal values: (group id of every value, numbered by first appearance; size of
    every group). An open-addressing hash table on the exact 64-bit values, so linear time;
    the groups are exactly those a sort would find."""
    m = vals.shape[0]
    cap = 16
    while cap < 2 * m:
        cap *= 2
    bits = 0
    while (1 << bits) < cap:
        bits += 1
    shift = np.uint64(64 - bits)
    mask = cap - 1
    keys = np.empty(cap, dtype=np.uint64)
    slot_gid = np.full(cap, -1, dtype=np.int64)
    gid = np.empty(m, dtype=np.int64)
    sizes = np.zeros(m, dtype=np.int64)
    ng = 0
    for i in range(m):
        v = vals[i]
        s = np.int64((v * _MIX) >> shift)
        while True:
            g = slot_gid[s]
            if g < 0:
                keys[s] = v
                slot_gid[s] = ng
                gid[i] = ng
                sizes[ng] = 1
                ng += 1
                break
            if keys[s] == v:
                gid[i] = g
                sizes[g] += 1
                break
            s = (s + 1) & mask
    return gid, sizes[:ng]

def char_repetition_counts(cps, n):  # type: ignore[no-untyped-def]
    """(windows, distinct n-grams, repeated n-gram counts sorted descending) of the character
    n-grams, hashed as ``window_hashes`` does."""
    m = cps.shape[0] - n + 1
    if m <= 0:
        return 0, 0, np.zeros(0, dtype=np.int64)
    h = np.empty(m, dtype=np.uint64)
    for i in range(m):
        x = np.uint64(cps[i]) * _K_CHAR
        for j in range(1, n):
            x = x * _K_STEP ^ (np.uint64(cps[i + j]) * _K_CHAR)
        h[i] = x
    _, sizes = group_ids(h)
    nrep = 0
    for g in range(sizes.shape[0]):
        if sizes[g] > 1:
            nrep += 1
    rep = np.empty(nrep, dtype=np.int64)
    j = 0
    for g in range(sizes.shape[0]):
        if sizes[g] > 1:
            rep[j] = sizes[g]
            j += 1
    rep.sort()
    return m, sizes.shape[0], rep[::-1].copy()

def longest_run(cps):  # type: ignore[no-untyped-def]
    """Length of the longest run of one repeated code point (0 for an empty array)."""
    n = cps.shape[0]
    if n == 0:
        return 0
    best = 1
    run = 1
    for i in range(1, n):
        if cps[i] == cps[i - 1]:
            run += 1
        else:
            if run > best:
                best = run
            run = 1
    if run > best:
        best = run
    return best

def dup_chars(h, chars, k, cand, first_n):  # type: ignore[no-untyped-def]
    """rules_en.GopherRepetition._dup_chars (same candidate pruning, same greedy skip)."""
    m = h.shape[0]
    empty = np.zeros(0, dtype=np.int64)
    if m < 2:
        return 0, empty
    if first_n:
        pos = np.arange(m)
    else:
        cnt = 0
        for i in range(cand.shape[0]):
            if cand[i] < m:
                cnt += 1
        pos = np.empty(cnt, dtype=np.int64)
        j = 0
        for i in range(cand.shape[0]):
            if cand[i] < m:
                pos[j] = cand[i]
                j += 1
    npos = pos.shape[0]
    if npos < 2:
        return 0, pos[:0]
    sub = np.empty(npos, dtype=np.uint64)
    for i in range(npos):
        sub[i] = h[pos[i]]
    gid, sizes = group_ids(sub)
    if sizes.shape[0] == npos:  # no n-gram occurs twice
        return 0, pos[:0]
    # groups are numbered by first appearance in ``pos`` (ascending): a window repeats an
    # earlier one exactly when its group was opened before it
    ng = 0
    for i in range(npos):
        if sizes[gid[i]] > 1:
            ng += 1
    group = np.empty(ng, dtype=np.int64)
    j = 0
    opened = 0
    total = 0
    nxt = -1
    for i in range(npos):
        g = gid[i]
        if sizes[g] > 1:
            group[j] = pos[i]
            j += 1
        if g < opened:  # an earlier window had the same n-gram
            q = pos[i]
            if q >= nxt:
                total += chars[q]
                nxt = q + k
        else:
            opened += 1
    return total, group

def gopher_ngrams(cps, starts, ends, inv, fwd, top_ns, dup_ns):  # type: ignore[no-untyped-def]
    """Per n of ``top_ns``: (count of the most frequent word n-gram, characters of the longest
    of them without the joining spaces); per n of ``dup_ns`` (ascending): characters of
    repeated n-grams. Word hashes are ``span_hashes``, n-gram hashes ``window_hashes`` of
    them; ``inv``/``fwd`` are the power tables of ``span_hashes``."""
    m = starts.shape[0]
    top_best = np.zeros(top_ns.shape[0], dtype=np.int64)
    top_len = np.zeros(top_ns.shape[0], dtype=np.int64)
    dup_tot = np.zeros(dup_ns.shape[0], dtype=np.int64)
    if m == 0:
        return top_best, top_len, dup_tot
    ncp = cps.shape[0]
    # span_hashes: prefix sums of (c * K1 + 1) * B^-i, re-based at each word start
    pre = np.empty(ncp + 1, dtype=np.uint64)
    pre[0] = np.uint64(0)
    acc = np.uint64(0)
    for i in range(ncp):
        acc += (np.uint64(cps[i]) * _K_CHAR + np.uint64(1)) * inv[i]
        pre[i + 1] = acc
    a = np.empty(m, dtype=np.uint64)
    csum = np.zeros(m + 1, dtype=np.int64)
    for w in range(m):
        s = starts[w]
        e = ends[w]
        x = (pre[e] - pre[s]) * fwd[s]
        x ^= x >> np.uint64(31)
        x *= _K_STEP
        x ^= np.uint64(e - s)
        x ^= x >> np.uint64(29)
        a[w] = x * _K_CHAR  # window_hashes(word hashes): h_1 = wh * K1
        csum[w + 1] = csum[w] + (e - s)
    nmax = 1
    for t in range(top_ns.shape[0]):
        nmax = max(nmax, top_ns[t])
    for t in range(dup_ns.shape[0]):
        nmax = max(nmax, dup_ns[t])
    # hs[n-1][i] = hash of words i..i+n-1 (rows beyond the text's words stay unused)
    hs = np.empty((nmax, m), dtype=np.uint64)
    for i in range(m):
        hs[0, i] = a[i]
    for n in range(2, nmax + 1):
        for i in range(m - n + 1):
            hs[n - 1, i] = hs[n - 2, i] * _K_STEP ^ a[i + n - 1]
    for t in range(top_ns.shape[0]):
        n = top_ns[t]
        cnt = m - n + 1
        if cnt <= 0:
            continue
        gid, sizes = group_ids(hs[n - 1, :cnt])
        best = 0
        for g in range(sizes.shape[0]):
            if sizes[g] > best:
                best = sizes[g]
        # the longest window among the n-grams occurring ``best`` times
        length = 0
        for i in range(cnt):
            if sizes[gid[i]] == best:
                c = csum[i + n] - csum[i]
                if c > length:
                    length = c
        top_best[t] = best
        top_len[t] = length
    cand = np.zeros(0, dtype=np.int64)
    for t in range(dup_ns.shape[0]):
        n = dup_ns[t]
        cnt = max(m - n + 1, 0)
        chars = np.empty(cnt, dtype=np.int64)
        for i in range(cnt):
            chars[i] = csum[i + n] - csum[i]
        total, cand = dup_chars(hs[n - 1, :cnt], chars, n, cand, t == 0)
        dup_tot[t] = total
    return top_best, top_len, dup_tot


def class_counts(cps, lut, n_classes):  # type: ignore[no-untyped-def]
    """Number of characters of every class (``np.bincount(lut[cps], minlength=n_classes)``)."""
    out = np.zeros(n_classes, dtype=np.int64)
    for i in range(cps.shape[0]):
        out[lut[cps[i]]] += 1
    return out


def tokens(cps, lut, space_a, space_b, bits):  # type: ignore[no-untyped-def]
    """Whitespace tokens and the word statistics of ``rules_en.word_stats`` in one pass.

    A token is a maximal run of characters whose class (``lut``) is neither ``space_a`` nor
    ``space_b``; ``bits[class]``: 1 = word character, 2 = letter. Returns (starts, ends, tokens
    with a word character, word characters, tokens with a letter)."""
    n = cps.shape[0]
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    ends = np.empty(n // 2 + 1, dtype=np.int64)
    m = 0
    words = 0
    word_chars = 0
    alpha = 0
    acc = 0
    inside = False
    for i in range(n):
        c = lut[cps[i]]
        if c == space_a or c == space_b:  # noqa: SIM109 - two scalar compares in numba
            if inside:
                ends[m] = i
                m += 1
                words += acc & 1
                alpha += (acc >> 1) & 1
                inside = False
        else:
            b = bits[c]
            word_chars += b & 1
            if inside:
                acc |= b
            else:
                starts[m] = i
                acc = b
                inside = True
    if inside:
        ends[m] = n
        m += 1
        words += acc & 1
        alpha += (acc >> 1) & 1
    return starts[:m].copy(), ends[:m].copy(), words, word_chars, alpha


def push_stripped(cps, lut, space_cls, s, e, starts, ends, m):  # type: ignore[no-untyped-def]
    """Append ``[s, e)`` without leading/trailing whitespace (``str.strip``) to the span arrays
    unless it is empty; returns the new number of spans."""
    while s < e and lut[cps[s]] == space_cls:
        s += 1
    while e > s and lut[cps[e - 1]] == space_cls:
        e -= 1
    if e > s:
        starts[m] = s
        ends[m] = e
        m += 1
    return m


def line_spans(cps, lut, space_cls, nl):  # type: ignore[no-untyped-def]
    """(starts, ends) of the non-empty lines of ``text.split("\\n")`` after ``str.strip()``
    (the whitespace classes are exactly ``str.isspace``), as :attr:`TextView.lines` keeps them."""
    n = cps.shape[0]
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    ends = np.empty(n // 2 + 1, dtype=np.int64)
    m = 0
    a = 0
    for i in range(n + 1):
        if i == n or cps[i] == nl:
            m = push_stripped(cps, lut, space_cls, a, i, starts, ends, m)
            a = i + 1
    return starts[:m].copy(), ends[:m].copy()


def sentence_spans(cps, lut, space_cls, kuten_cls, nl):  # type: ignore[no-untyped-def]
    """(starts, ends) of the Swallow sentences of :attr:`TextView.ja_sentences`: the matches of
    ``[^。．！？!?\\n]+[。．！？!?]?`` (the kuten class is exactly these six characters) found left
    to right, stripped, non-empty."""
    n = cps.shape[0]
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    ends = np.empty(n // 2 + 1, dtype=np.int64)
    m = 0
    i = 0
    while i < n:
        c = cps[i]
        if c == nl or lut[c] == kuten_cls:
            i += 1
            continue
        s = i
        while i < n and cps[i] != nl and lut[cps[i]] != kuten_cls:
            i += 1
        if i < n and lut[cps[i]] == kuten_cls:
            i += 1
        m = push_stripped(cps, lut, space_cls, s, i, starts, ends, m)
    return starts[:m].copy(), ends[:m].copy()


def span_dups(cps, starts, ends):  # type: ignore[no-untyped-def]
    """:func:`corpusflow.filters.text.dup_counts` of the substrings ``[starts[i], ends[i])``:
    (items, duplicate occurrences, characters, duplicate characters, longest, exact). Equal
    hashes are confirmed by comparing the code points; ``exact`` is False when two different
    substrings share a hash (the caller then counts the strings themselves)."""
    m = starts.shape[0]
    h = np.empty(m, dtype=np.uint64)
    total = 0
    longest = 0
    for j in range(m):
        s = starts[j]
        e = ends[j]
        x = np.uint64(e - s) * _K_STEP
        for i in range(s, e):
            x = (x ^ (np.uint64(cps[i]) * _K_CHAR)) * _K_STEP
        h[j] = x ^ (x >> np.uint64(29))
        total += e - s
        if e - s > longest:
            longest = e - s
    gid, sizes = group_ids(h)
    ng = sizes.shape[0]
    if ng == m:
        return m, 0, total, 0, longest, True
    first = np.full(ng, -1, dtype=np.int64)
    dup_chars = 0
    for j in range(m):
        g = gid[j]
        f = first[g]
        if f < 0:
            first[g] = j
            continue
        # a later occurrence: check it is the same string as the group's first one
        s0 = starts[f]
        s1 = starts[j]
        ln = ends[j] - s1
        if ends[f] - s0 != ln:
            return m, 0, total, 0, longest, False
        for i in range(ln):
            if cps[s0 + i] != cps[s1 + i]:
                return m, 0, total, 0, longest, False
        dup_chars += ln
    return m, m - ng, total, dup_chars, longest, True


def count_affixes(cps, starts, ends, aff, aff_off, at_start):  # type: ignore[no-untyped-def]
    """How many substrings ``[starts[i], ends[i])`` end (``at_start``: begin) with one of the
    affixes (code points ``aff[aff_off[k]:aff_off[k + 1]]``), as ``str.endswith(tuple)``
    (``str.startswith(tuple)``) counts them."""
    m = starts.shape[0]
    na = aff_off.shape[0] - 1
    cnt = 0
    for j in range(m):
        s = starts[j]
        e = ends[j]
        for k in range(na):
            a = aff_off[k]
            ln = aff_off[k + 1] - a
            if ln > e - s:
                continue
            b = s if at_start else e - ln
            ok = True
            for i in range(ln):
                if cps[b + i] != aff[a + i]:
                    ok = False
                    break
            if ok:
                cnt += 1
                break
    return cnt


def kw_find(cps, fold_case, word_starts, first, not_alnum, pre2, lenmask3, has2,  # type: ignore[no-untyped-def]
            tkeys, tids, kw_cps, kw_off, maxlen, out):
    """All occurrences of the keywords of 2+ characters, in ``KeywordIndex._verify``'s order
    (positions ascending; at one position the 2-character keyword first, then longer ones,
    longest first). Every position is looked at (with ``word_starts``: only where the index's
    word-boundary pre-selection allows: the character starts a keyword and does not follow an
    ASCII letter or digit); two small tables skip
    the positions where no keyword can start: ``pre2``, a bitset over the top 16 bits of the
    hash of every keyword's first two characters, and ``lenmask3``, per top 12 bits of the hash
    of the first three characters, a bit for every length of the keywords starting so (bit 63:
    63 or more). A length that passes is looked up in ``tkeys``/``tids`` (open-addressing
    table of :func:`~corpusflow.filters.keywords.keyword_hash` to keyword ids) and the code
    points are compared, so every reported occurrence is exact and none is missed.
    ``kw_cps[kw_off[i]:kw_off[i + 1]]``: keyword ``i`` (folded as the text is).
    Writes (start, length, keyword id) rows into ``out`` and returns how many there are (if
    more than ``out`` holds, only the count is complete: call again with a larger ``out``).
    No array is reallocated inside the loop (numba would count references at every step)."""
    n = cps.shape[0]
    cap = tkeys.shape[0]
    bits = 0
    while (1 << bits) < cap:
        bits += 1
    tshift = np.uint64(64 - bits)
    mask = cap - 1
    s48 = np.uint64(48)
    s52 = np.uint64(52)
    one = np.uint64(1)
    cap_out = out.shape[0]
    k = 0
    lens = np.empty(maxlen + 1, dtype=np.int64)  # at most one keyword per length
    ids = np.empty(maxlen + 1, dtype=np.int64)
    for p in range(n - 1):
        c0 = np.uint64(cps[p])
        if fold_case and c0 >= 0x41 and c0 <= 0x5A:
            c0 += np.uint64(0x20)
        c1 = np.uint64(cps[p + 1])
        if fold_case and c1 >= 0x41 and c1 <= 0x5A:
            c1 += np.uint64(0x20)
        h = (c0 * _K_CHAR) * _K_STEP ^ (c1 * _K_CHAR)
        t2 = h >> s48
        if (pre2[np.int64(t2 >> np.uint64(6))] >> (t2 & np.uint64(63))) & one == 0:
            continue
        if word_starts:
            if not first[c0]:
                continue
            if p > 0:
                prev = np.uint64(cps[p - 1])
                if fold_case and prev >= 0x41 and prev <= 0x5A:
                    prev += np.uint64(0x20)
                if not not_alnum[prev]:
                    continue
        lm = np.uint64(1 << 2) if has2 else np.uint64(0)
        if p + 2 < n:
            c2 = np.uint64(cps[p + 2])
            if fold_case and c2 >= 0x41 and c2 <= 0x5A:
                c2 += np.uint64(0x20)
            lm |= lenmask3[np.int64((h * _K_STEP ^ (c2 * _K_CHAR)) >> s52)]
        if lm == 0:
            continue
        nf = 0
        ln = 2
        while ln <= n - p:
            if ln > 2:
                c = np.uint64(cps[p + ln - 1])
                if fold_case and c >= 0x41 and c <= 0x5A:
                    c += np.uint64(0x20)
                h = h * _K_STEP ^ (c * _K_CHAR)
            bit = np.uint64(ln if ln < 63 else 63)
            if (lm >> bit) & one:
                s = np.int64((h * _MIX) >> tshift)
                while tids[s] >= 0:
                    if tkeys[s] == h:
                        kid = tids[s]
                        a = kw_off[kid]
                        if kw_off[kid + 1] - a == ln:
                            same = True
                            for i in range(ln):
                                x = np.uint64(cps[p + i])
                                if fold_case and x >= 0x41 and x <= 0x5A:
                                    x += np.uint64(0x20)
                                if x != np.uint64(kw_cps[a + i]):
                                    same = False
                                    break
                            if same:
                                lens[nf] = ln
                                ids[nf] = kid
                                nf += 1
                                break
                    s = (s + 1) & mask
            # no set bit left above this length (bit 63 stands for every length >= 63)
            if ln < 63 and (lm >> np.uint64(ln + 1)) == 0:
                break
            ln += 1
        if nf == 0:
            continue
        # lens ascending: the 2-character keyword (if any) first, then the others longest first
        j0 = 0
        if lens[0] == 2:
            if k < cap_out:
                out[k, 0] = p
                out[k, 1] = 2
                out[k, 2] = ids[0]
            k += 1
            j0 = 1
        for j in range(nf - 1, j0 - 1, -1):
            if k < cap_out:
                out[k, 0] = p
                out[k, 1] = lens[j]
                out[k, 2] = ids[j]
            k += 1
    return k


def first_date_candidate(cps):  # type: ignore[no-untyped-def]
    """The first position where ``rules_ja``'s date/episode pattern
    (``D(?:D{3}[年.\\-/] *D{1,2}[月.\\-/] *D{1,2}日?|D*話)``, D = ``[0-9０-９]``) can start, or -1.

    A date needs four digits right before one of 年 . - / (so it starts 4 characters before the
    end of a digit run); an episode needs a digit run ending right before 話 (it can start at
    the run's first digit). Searching from here finds exactly the matches of a search from 0."""
    n = cps.shape[0]
    best = -1
    i = 0
    while i < n:
        c = cps[i]
        if not ((c >= 0x30 and c <= 0x39) or (c >= 0xFF10 and c <= 0xFF19)):
            i += 1
            continue
        a = i
        while i < n and ((cps[i] >= 0x30 and cps[i] <= 0x39) or (cps[i] >= 0xFF10 and cps[i] <= 0xFF19)):
            i += 1
        if i < n:
            nxt = cps[i]
            if nxt == 0x8A71:  # 話
                return a
            if i - a >= 4 and (nxt == 0x5E74 or nxt == 0x2E or nxt == 0x2D or nxt == 0x2F):  # 年 . - /
                return i - 4
    return best
