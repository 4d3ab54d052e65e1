"""fastText supervised-model inference compiled with numba: the same labels and probabilities.

Why: ``lid.176`` prediction through the fastText Python binding cost 250-400 µs per document (the
first 2,000 characters of make_corpus web text, 2-core Xeon), about half of the read -> normalise ->
language ID -> write chain. Most of it is building character n-grams (fastText hashes every 2-4-character
substring of every word that is not in its vocabulary; Japanese text has no spaces, so a whole
line is one such word) and looking each one up in a hash map and a product quantizer. This
module reads the model file itself and runs the same arithmetic in one compiled loop per
document: a pruned-bucket lookup by bitset + popcount rank instead of a hash map, and the
quantized rows decoded once at load time into a dense float32 matrix. ``bench/bench_langid.py``:
249.7 -> 66.5 CPU-µs per document.

Exactness (what "the same" means, checked by ``tests/test_fasttext_infer.py`` against the real
binding on real JA/EN/multilingual text): the hidden vector is the float32 sum of the input rows
in fastText's order scaled by ``float32(1.0 / n)``; the hierarchical-softmax tree is built from
the label counts with fastText's Huffman construction; the depth-first search uses the same
float32/float64 mix as ``HierarchicalSoftmaxLoss::dfs`` (``expf`` for the sigmoid, ``log(x +
1e-5)`` in double rounded to float, the same pruning against ``log(threshold)`` and the current
k-th best); the probability is ``expf(score)``. So labels and probabilities are bit-identical to
``model.f.predict(text, k, threshold)``, apart from one documented difference: two labels with
exactly equal float32 scores may come out in another order (fastText's order then depends on
its heap layout).

What is reproduced of fastText's input handling (``Dictionary::getLine`` /
``computeSubwords``): tokens are separated by the bytes space, ``\\n \\r \\t \\v \\f`` and NUL
(a newline ends the input, read as the end-of-sentence token ``</s>``, which is why
:func:`corpusflow.text.langid.prepare_text` joins the lines first); a literal ``</s>`` token ends
the input too, after its own row; an in-vocabulary word adds its own row and its
precomputed subword rows; an out-of-vocabulary word adds the rows of the 2-4 character n-grams of
``<word>`` (characters = UTF-8 sequences, FNV-1a over *signed* bytes as fastText hashes them,
modulo ``bucket``, kept only if the pruned model has that bucket); tokens that start with
``__label__`` are not words. Word n-grams (``wordNgrams > 1``) and softmax/one-vs-all losses are
not implemented: :class:`FastTextModel` refuses such models with a clear error, and
:class:`corpusflow.text.langid.FastTextLangId` then falls back to the binding.

Pure Python + numpy + numba; no Beam import. ``CORPUSFLOW_NO_NUMBA=1`` disables it (the
binding is used).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from corpusflow.core.jit import numba_enabled  # noqa: F401 - re-exported (langid, tests)

FASTTEXT_MAGIC = 793712314
_LABEL_PREFIX = b"__label__"
_LOSS_HS = 1  # fastText's loss_name: hs=1, ns=2, softmax=3, ova=4
_MODEL_SUP = 3  # model_name: cbow=1, sg=2, sup=3


class UnsupportedModel(ValueError):
    """The model uses a feature this implementation does not reproduce."""


@dataclass(frozen=True)
class _Args:
    dim: int
    word_ngrams: int
    loss: int
    model: int
    bucket: int
    minn: int
    maxn: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._d = data
        self.pos = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        vals = struct.unpack_from(fmt, self._d, self.pos)
        self.pos += size
        return vals[0] if len(vals) == 1 else vals

    def array(self, dtype: Any, count: int) -> np.ndarray:
        a = np.frombuffer(self._d, dtype=dtype, count=count, offset=self.pos)
        self.pos += a.nbytes
        return a

    def cstring(self) -> bytes:
        end = self._d.index(b"\0", self.pos)
        s = self._d[self.pos:end]
        self.pos = end + 1
        return s


def _fnv1a_signed(data: bytes) -> int:
    """fastText's ``Dictionary::hash``: FNV-1a over bytes taken as *signed* chars."""
    h = 2166136261
    for b in data:
        h ^= (b | 0xFFFFFF00) if b >= 0x80 else b
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def _subword_buckets(word: bytes, minn: int, maxn: int, bucket: int) -> list[int]:
    """Buckets of fastText's ``computeSubwords(word)`` (before pruning), in its order."""
    out = []
    n_bytes = len(word)
    for i in range(n_bytes):
        if (word[i] & 0xC0) == 0x80:
            continue
        j = i
        n = 1
        while j < n_bytes and n <= maxn:
            j += 1
            while j < n_bytes and (word[j] & 0xC0) == 0x80:
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == n_bytes)):
                out.append(_fnv1a_signed(word[i:j]) % bucket)
            n += 1
    return out


class FastTextModel:
    """A fastText supervised model (``.bin`` or quantized ``.ftz``) loaded for compiled inference.

    Raises :class:`UnsupportedModel` for models this module does not reproduce exactly
    (losses other than hierarchical softmax, word n-grams, ``minn`` of 1, quantized output).
    """

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            r = _Reader(f.read())
        magic, version = r.take("<ii")
        if magic != FASTTEXT_MAGIC:
            raise UnsupportedModel(f"{path}: not a fastText model file (magic {magic})")
        if version < 12:
            raise UnsupportedModel(f"{path}: fastText model version {version} is too old (needs 12)")
        (dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn,
         _lr_update, _t) = r.take("<12id")
        args = _Args(dim, word_ngrams, loss, model, bucket, minn, maxn)
        if model != _MODEL_SUP:
            raise UnsupportedModel(f"{path}: not a supervised model")
        if loss != _LOSS_HS:
            raise UnsupportedModel(f"{path}: loss {loss} is not hierarchical softmax")
        if word_ngrams > 1:
            raise UnsupportedModel(f"{path}: word n-grams ({word_ngrams}) are not implemented")
        if minn < 2 and maxn > 0:
            raise UnsupportedModel(f"{path}: minn {minn} (1-character subwords) is not implemented")
        self.args = args

        size, nwords, _nlabels = r.take("<iii")
        _ntokens, prune_size = r.take("<qq")
        words: list[bytes] = []
        counts: list[int] = []
        for _ in range(size):
            w = r.cstring()
            count, _etype = r.take("<qb")
            words.append(w)
            counts.append(count)
        prune_pairs = r.array(np.int32, 2 * max(prune_size, 0)).reshape(-1, 2)
        quant_input = r.take("<?")
        if quant_input:
            qnorm, m, n, codesize = r.take("<?qqi")
            codes = r.array(np.uint8, codesize)
            pq_dim, nsubq, dsub, lastdsub = r.take("<iiii")
            centroids = r.array(np.float32, pq_dim * 256)
            if qnorm:
                norm_codes = r.array(np.uint8, m)
                _d, _s, _ds, _lds = r.take("<iiii")
                norm_centroids = r.array(np.float32, 256)
            rows = _decode_pq(codes.reshape(m, nsubq), centroids, n, nsubq, dsub, lastdsub)
            if qnorm:
                rows = rows * norm_centroids[norm_codes][:, None]  # float32 x float32, as addcode
        else:
            m, n = r.take("<qq")
            rows = r.array(np.float32, m * n).reshape(m, n)
        qout = r.take("<?")
        if qout:
            raise UnsupportedModel(f"{path}: quantized output matrix is not implemented")
        om, on = r.take("<qq")
        out_rows = r.array(np.float32, om * on).reshape(om, on)

        self.words = words
        self.nwords = nwords
        self.labels = [w[len(_LABEL_PREFIX):].decode("utf-8", "replace") if w.startswith(_LABEL_PREFIX)
                       else w.decode("utf-8", "replace") for w in words[nwords:]]
        self.input = np.ascontiguousarray(rows, dtype=np.float32)
        self.output = np.ascontiguousarray(out_rows, dtype=np.float32)
        # Pruned buckets: bucket -> row offset (after the nwords word rows); -1 = absent.
        if prune_size > 0:
            prune_map = dict(zip(prune_pairs[:, 0].tolist(), prune_pairs[:, 1].tolist(), strict=True))
        else:
            prune_map = None
        self._prune_map = prune_map
        self._build_bucket_index(prune_map, bucket, prune_size)
        self._build_vocab(words[:nwords], minn, maxn, bucket)
        self._build_tree(np.asarray(counts[nwords:], dtype=np.int64))

    # --- tables -------------------------------------------------------------------------------
    def _push(self, b: int) -> int:
        """Row of bucket ``b`` (fastText's ``pushHash``), or -1 when the pruned model lacks it."""
        if self._prune_map is None:
            return -1 if self._prune_all else self.nwords + b
        v = self._prune_map.get(b)
        return -1 if v is None else self.nwords + v

    def _build_bucket_index(self, prune_map: dict[int, int] | None, bucket: int, prune_size: int) -> None:
        """bucket -> input row as a presence bitset, per-word popcount ranks and a row table.

        Rows are looked up by rank among present buckets (sorted), so the tables stay small and
        cache-resident: 2M buckets cost 250 KB of bits and 125 KB of ranks.
        """
        nwords_ = self.nwords
        self._prune_all = prune_size == 0  # fastText: pruneidx_size_ == 0 -> no subword rows at all
        n_words64 = (bucket + 63) // 64
        bits = np.zeros(n_words64, dtype=np.uint64)
        if prune_map is None:
            if self._prune_all:
                present = np.zeros(0, dtype=np.int64)
                rows_of_rank = np.zeros(0, dtype=np.int32)
            else:
                present = np.arange(bucket, dtype=np.int64)
                rows_of_rank = (nwords_ + present).astype(np.int32)
        else:
            present = np.array(sorted(prune_map), dtype=np.int64)
            rows_of_rank = np.array([nwords_ + prune_map[b] for b in present.tolist()], dtype=np.int32)
        if present.size:
            np.bitwise_or.at(bits, present // 64, np.left_shift(np.uint64(1), (present % 64).astype(np.uint64)))
        counts = np.array([int(x).bit_count() for x in bits.tolist()], dtype=np.int32)
        ranks = np.zeros(n_words64, dtype=np.int32)
        if n_words64 > 1:
            ranks[1:] = np.cumsum(counts[:-1])
        self._bits, self._ranks, self._rows_of_rank = bits, ranks, rows_of_rank

    def _build_vocab(self, vocab: list[bytes], minn: int, maxn: int, bucket: int) -> None:
        """Open-addressing table of the vocabulary words (by fastText's hash) and their rows."""
        nvocab = len(vocab)
        cap = 1
        while cap < 2 * max(nvocab, 1):
            cap *= 2
        slots = np.full(cap, -1, dtype=np.int32)
        hashes = np.zeros(nvocab, dtype=np.uint64)
        offsets = np.zeros(nvocab + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(w) for w in vocab])
        blob = np.frombuffer(b"".join(vocab), dtype=np.uint8) if nvocab else np.zeros(0, np.uint8)
        sub_rows: list[int] = []
        sub_off = [0]
        for wid, w in enumerate(vocab):
            h = _fnv1a_signed(w)
            hashes[wid] = h
            s = h & (cap - 1)
            while slots[s] != -1:
                s = (s + 1) & (cap - 1)
            slots[s] = wid
            sub_rows.append(wid)
            if w != b"</s>" and maxn > 0:
                for b in _subword_buckets(b"<" + w + b">", minn, maxn, bucket):
                    row = self._push(b)
                    if row >= 0:
                        sub_rows.append(row)
            sub_off.append(len(sub_rows))
        self._slots, self._whash = slots, hashes
        self._eos_wid = vocab.index(b"</s>") if b"</s>" in vocab else -1
        self._wblob, self._woff = blob, offsets
        self._sub_rows = np.asarray(sub_rows, dtype=np.int32)
        self._sub_off = np.asarray(sub_off, dtype=np.int64)

    def _build_tree(self, counts: np.ndarray) -> None:
        """fastText's Huffman tree over the labels (``HierarchicalSoftmaxLoss::buildTree``)."""
        osz = len(counts)
        n = 2 * osz - 1
        left = np.full(n, -1, dtype=np.int32)
        right = np.full(n, -1, dtype=np.int32)
        cnt = np.full(n, 10**15, dtype=np.int64)
        cnt[:osz] = counts
        leaf, node = osz - 1, osz
        for i in range(osz, n):
            mini = [0, 0]
            for j in range(2):
                if leaf >= 0 and cnt[leaf] < cnt[node]:
                    mini[j] = leaf
                    leaf -= 1
                else:
                    mini[j] = node
                    node += 1
            left[i], right[i] = mini
            cnt[i] = cnt[mini[0]] + cnt[mini[1]]
        self._left, self._right, self._osz = left, right, osz

    # --- inference ----------------------------------------------------------------------------
    def predict(self, line: str, k: int = 1, threshold: float = 0.0) -> list[tuple[str, float]]:
        """Top-``k`` (label, probability), best first, as ``model.f.predict(line, k, threshold)``.

        Like fastText, only the first line counts: a newline ends the input (as ``</s>``).
        """
        data = np.frombuffer(line.encode("utf-8"), dtype=np.uint8)
        a = self.args
        kern = _kernel()
        scores = np.empty(k, dtype=np.float32)
        nodes = np.empty(k, dtype=np.int32)
        hidden = np.empty(self.input.shape[1], dtype=np.float32)  # per call: one model serves all threads
        got = kern(data, a.minn, a.maxn, a.bucket, self._eos_wid, self._slots, self._whash, self._wblob,
                   self._woff, self._sub_rows, self._sub_off, self._bits, self._ranks, self._rows_of_rank,
                   self.input, self.output, self._left, self._right, self._osz,
                   np.float32(threshold), k, scores, nodes, hidden)
        labels = self.labels
        return [(labels[int(nodes[i])], float(scores[i])) for i in range(got)]


def _decode_pq(codes: np.ndarray, centroids: np.ndarray, n: int, nsubq: int, dsub: int,
               lastdsub: int) -> np.ndarray:
    """Dense rows of a product-quantized matrix (``ProductQuantizer::addcode`` with alpha 1)."""
    m = codes.shape[0]
    rows = np.zeros((m, n), dtype=np.float32)
    ksub = 256
    for q in range(nsubq):
        d = lastdsub if q == nsubq - 1 else dsub
        if q == nsubq - 1:
            table = centroids[q * ksub * dsub: q * ksub * dsub + ksub * lastdsub].reshape(ksub, lastdsub)
        else:
            table = centroids[q * ksub * dsub: (q + 1) * ksub * dsub].reshape(ksub, dsub)
        rows[:, q * dsub: q * dsub + d] += table[codes[:, q]]
    return rows


_KERNEL: Any = None

# Constants of the kernel (numba freezes module globals at compile time).
_FNV_BASIS = np.uint64(2166136261)
_FNV_PRIME = np.uint64(16777619)
_MASK32 = np.uint64(0xFFFFFFFF)
_SIGN_EXT = np.uint64(0xFFFFFF00)  # fastText hashes bytes as *signed* chars
_BOW = np.uint64(ord("<"))
_EOW = np.uint64(ord(">"))
_U1 = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S1, _S2, _S4, _S56 = np.uint64(1), np.uint64(2), np.uint64(4), np.uint64(56)
_LOG_EPS = 1e-5


def _kernel() -> Any:
    """The compiled kernel; numba caches the machine code on disk (``cache=True``), so a worker
    process after the first one on a machine loads it in ~0.1 s instead of compiling for ~2 s."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit  # lazy: heavy or optional dependency, loaded only when used

        _KERNEL = njit(cache=True, nogil=True)(_predict_kernel)
    return _KERNEL


def _predict_kernel(data, minn, maxn, bucket, eos_wid, slots, whash, wblob, woff, sub_rows, sub_off,  # type: ignore[no-untyped-def]
                    bits, ranks, rows_of_rank, inp, out, left, right, osz, threshold, k,
                    res_scores, res_nodes, hidden):
    """Hidden vector of ``data`` (UTF-8 bytes of one line) and its top-``k`` labels.

    Writes the best-first label indices and probabilities into ``res_nodes`` / ``res_scores``
    and returns how many there are (0 when no input row was found). Compiled by numba; every
    float operation is the float32/float64 operation fastText does (module docstring).
    """
    f32 = np.float32
    dim = inp.shape[1]
    # A local accumulator, copied to `hidden` at the end: LLVM may then keep it in registers
    # (it cannot prove that an argument array does not alias `inp`): 81 -> 56 us per document,
    # before/after in one process, as the sum of per-document minima over 300 make_corpus
    # documents (the robust figure bench/bench_langid.py also reports).
    hidden_out = hidden
    hidden = np.zeros(dim, dtype=np.float32)
    n_inputs = 0
    n = data.shape[0]
    cap_mask = slots.shape[0] - 1
    ubucket = np.uint64(bucket)
    pos = 0
    while pos < n:
        c = data[pos]
        if c == 10:  # a newline ends the line: fastText reads it as the "</s>" token, then stops
            if eos_wid >= 0:
                for t in range(sub_off[eos_wid], sub_off[eos_wid + 1]):
                    row = sub_rows[t]
                    for j in range(dim):
                        hidden[j] += inp[row, j]
                    n_inputs += 1
            break
        if c == 32 or c == 13 or c == 9 or c == 11 or c == 12 or c == 0:
            pos += 1
            continue
        start = pos
        h = _FNV_BASIS
        while pos < n:
            c = data[pos]
            if c == 32 or c == 10 or c == 13 or c == 9 or c == 11 or c == 12 or c == 0:
                break
            h = ((h ^ (np.uint64(c) | _SIGN_EXT if c >= 0x80 else np.uint64(c))) * _FNV_PRIME) & _MASK32
            pos += 1
        tlen = pos - start
        # "__label__..." tokens are labels, not words (Dictionary::getType)
        if tlen >= 9 and data[start] == 95 and data[start + 1] == 95 and data[start + 2] == 108 \
                and data[start + 3] == 97 and data[start + 4] == 98 and data[start + 5] == 101 \
                and data[start + 6] == 108 and data[start + 7] == 95 and data[start + 8] == 95:
            continue
        # vocabulary lookup (open addressing on fastText's hash, bytes compared)
        wid = -1
        s = np.int64(h) & cap_mask
        while slots[s] != -1:
            cand = slots[s]
            if whash[cand] == h and woff[cand + 1] - woff[cand] == tlen:
                o = woff[cand]
                same = True
                for t in range(tlen):
                    if wblob[o + t] != data[start + t]:
                        same = False
                        break
                if same:
                    wid = cand
                    break
            s = (s + 1) & cap_mask
        is_eos = tlen == 4 and data[start] == 60 and data[start + 1] == 47 and data[start + 2] == 115 \
            and data[start + 3] == 62
        if wid >= 0:  # the word's own row and its precomputed subword rows
            for t in range(sub_off[wid], sub_off[wid + 1]):
                row = sub_rows[t]
                for j in range(dim):
                    hidden[j] += inp[row, j]
                n_inputs += 1
            if is_eos:  # a literal "</s>" token ends fastText's line (Dictionary::getLine)
                break
            continue
        if is_eos:
            break
        if maxn <= 0:
            continue
        # out of vocabulary: the n-grams of "<" + token + ">"; index -1 is "<", tlen is ">"
        i = -1
        while i <= tlen:
            if i >= 0 and i < tlen and (data[start + i] & 0xC0) == 0x80:
                i += 1
                continue
            g = _FNV_BASIS
            j = i
            nch = 1
            while j <= tlen and nch <= maxn:
                if j == -1:
                    g = ((g ^ _BOW) * _FNV_PRIME) & _MASK32
                    j += 1
                elif j == tlen:
                    g = ((g ^ _EOW) * _FNV_PRIME) & _MASK32
                    j += 1
                else:
                    b = data[start + j]
                    g = ((g ^ (np.uint64(b) | _SIGN_EXT if b >= 0x80 else np.uint64(b))) * _FNV_PRIME) & _MASK32
                    j += 1
                    while j < tlen and (data[start + j] & 0xC0) == 0x80:
                        g = ((g ^ (np.uint64(data[start + j]) | _SIGN_EXT)) * _FNV_PRIME) & _MASK32
                        j += 1
                if nch >= minn:
                    # bucket -> row: presence bit, then rank = ranks[word] + popcount(lower bits)
                    bk = np.int64(g % ubucket)
                    w = bk >> 6
                    word = bits[w]
                    bit = _U1 << np.uint64(bk & 63)
                    if (word & bit) != 0:
                        x = word & (bit - _U1)
                        x = x - ((x >> _S1) & _M1)
                        x = (x & _M2) + ((x >> _S2) & _M2)
                        x = (x + (x >> _S4)) & _M4
                        row = rows_of_rank[ranks[w] + np.int64((x * _H01) >> _S56)]
                        for d in range(dim):
                            hidden[d] += inp[row, d]
                        n_inputs += 1
                nch += 1
            i += 1
    if n_inputs == 0:
        hidden_out[:] = 0
        return 0
    # Model::computeHidden: hidden.mul(1.0 / n) with the factor rounded to float
    scale = f32(1.0 / n_inputs)
    for j in range(dim):
        hidden[j] = hidden[j] * scale
    hidden_out[:] = hidden
    # HierarchicalSoftmaxLoss::dfs, iteratively: left child first, same pruning
    min_score = f32(math.log(np.float64(threshold) + _LOG_EPS))
    stack_node = np.empty(2 * osz + 2, dtype=np.int32)
    stack_score = np.empty(2 * osz + 2, dtype=np.float32)
    stack_node[0] = 2 * osz - 2
    stack_score[0] = f32(0.0)
    sp = 1
    heap_s = np.empty(k + 1, dtype=np.float32)
    heap_n = np.empty(k + 1, dtype=np.int32)
    hsize = 0
    while sp > 0:
        sp -= 1
        node = stack_node[sp]
        score = stack_score[sp]
        if score < min_score:
            continue
        if hsize == k:
            worst = heap_s[0]
            for t in range(1, hsize):
                if heap_s[t] < worst:
                    worst = heap_s[t]
            if score < worst:
                continue
        if left[node] == -1 and right[node] == -1:
            heap_s[hsize] = score
            heap_n[hsize] = node
            hsize += 1
            if hsize > k:  # drop the lowest score (the front of fastText's min-heap)
                wi = 0
                for t in range(1, hsize):
                    if heap_s[t] < heap_s[wi]:
                        wi = t
                heap_s[wi] = heap_s[hsize - 1]
                heap_n[wi] = heap_n[hsize - 1]
                hsize -= 1
            continue
        dot = f32(0.0)
        r = node - osz
        for j in range(dim):
            dot += out[r, j] * hidden[j]
        e = math.exp(-dot)  # std::exp(float): float32 exp
        f = f32(1.0 / np.float64(f32(f32(1.0) + e)))  # 1. / (1 + exp(-f)), then stored as float
        # push right first so that left is visited first; std_log(x) = float(log(float(x) + 1e-5))
        stack_node[sp] = right[node]
        stack_score[sp] = score + f32(math.log(np.float64(f) + _LOG_EPS))
        sp += 1
        stack_node[sp] = left[node]
        stack_score[sp] = score + f32(math.log(np.float64(f32(1.0 - np.float64(f))) + _LOG_EPS))
        sp += 1
    # best first; the probability is std::exp(float score)
    for a in range(hsize):
        best = a
        for t in range(a + 1, hsize):
            if heap_s[t] > heap_s[best]:
                best = t
        ts, tn = heap_s[a], heap_n[a]
        heap_s[a], heap_n[a] = heap_s[best], heap_n[best]
        heap_s[best], heap_n[best] = ts, tn
        res_scores[a] = math.exp(heap_s[a])
        res_nodes[a] = heap_n[a]
    return hsize
