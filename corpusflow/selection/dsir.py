"""DSIR: data selection with importance resampling over hashed n-gram features (pure Python).

Method (Xie et al., "Data Selection for Language Models via Importance Resampling", NeurIPS
2023; ``p-lambda/dsir`` ``data_selection/hashed_ngram_dsir.py``; docs/design.md#dsir):

1. **Fit.** Bag-of-hashed-n-gram distributions of a *target* corpus (what we want more of, e.g.
   Japanese Wikipedia) and of the *raw* corpus (what we select from): summed feature counts,
   additively smoothed, normalised: ``p = (counts + alpha) / (sum + alpha * B)``.
   ``log_diff = log p_target - log p_raw`` (one float per bucket).
2. **Weigh.** ``log w(x) = sum over the n-grams of x of log_diff[bucket]`` (= counts(x) · log_diff,
   the log likelihood ratio of the document under the two bag-of-n-gram models). Documents with
   fewer than ``min_units`` units are not weighed (DSIR's ``min_example_length``, default 100
   tokens; here units: Japanese characters / English words, see :mod:`.features`).
3. **Resample.** Gumbel top-k: ``key = log w + G`` with standard Gumbel noise G, keep the k
   largest keys. That is sampling k documents without replacement with probability
   proportional to w (the Gumbel-max trick); ``noise="none"`` keeps the k largest weights.

Differences from the reference implementation, and why:

* Japanese is featurised in characters, not ``wordpunct`` clauses (:mod:`.features`).
* The Gumbel noise is not ``np.random.gumbel`` from the global, unseeded RNG (DSIR's results are
  not reproducible unless the caller seeds numpy; docs/design.md#dsir): ``u`` comes from a keyed
  hash of (seed, source, id) (:func:`corpusflow.core.hashing.unit_interval`), so a document's key
  does not depend on the order, the runner or the other documents.
* Ties of keys are broken by document id, so "the k largest" is always exactly defined.

A fitted model is an ``.npz`` file (``corpusflow fit-dsir``) holding both count vectors, the
feature parameters and a JSON description of what it was fitted on.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from corpusflow.core.document import Document
from corpusflow.core.hashing import stable_hash64
from corpusflow.core.paths import resolve_path
from corpusflow.io import filesystems as fs
from corpusflow.io.config import FieldMapping, SourceConfig
from corpusflow.io.filesystems import expand_glob
from corpusflow.io.readers import FileSpec, detect_format, iter_file
from corpusflow.selection.features import FeatureParams, HashedNgramFeaturizer

MODEL_FORMAT = "corpusflow-dsir-1"
REASON_NOT_SELECTED = "dsir.not_selected"
REASON_TOO_SHORT = "dsir.too_short"
_U64 = float(2**64)


@dataclass
class FitStats:
    """What one side (target or raw) of a model was fitted on."""

    docs: int = 0
    units: int = 0
    features: int = 0
    files: list[str] = field(default_factory=list)


@dataclass
class DsirModel:
    """Feature distributions of target and raw data and their log ratio.

    Attributes:
        params: the feature definition (must be the same when weighing).
        target_counts / raw_counts: summed n-gram counts per bucket (float64).
        alpha: additive smoothing of both distributions.
        target / raw: what each side was fitted on.
    """

    params: FeatureParams
    target_counts: np.ndarray
    raw_counts: np.ndarray
    alpha: float = 1.0
    target: FitStats = field(default_factory=FitStats)
    raw: FitStats = field(default_factory=FitStats)

    def __post_init__(self) -> None:
        b = self.params.num_buckets
        for name in ("target_counts", "raw_counts"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (b,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({b},)")
            setattr(self, name, arr)
        if self.alpha < 0 or (self.alpha == 0 and (not self.target_counts.all() or not self.raw_counts.all())):
            raise ValueError("alpha must be > 0 when some bucket has no count (log 0)")
        self._log_diff: np.ndarray | None = None
        self._featurizer: HashedNgramFeaturizer | None = None

    # --- distributions --------------------------------------------------------------------
    def probs(self, counts: np.ndarray) -> np.ndarray:
        c = counts + self.alpha
        return c / c.sum()

    @property
    def log_diff(self) -> np.ndarray:
        """``log p_target - log p_raw`` per bucket."""
        if self._log_diff is None:
            self._log_diff = np.log(self.probs(self.target_counts)) - np.log(self.probs(self.raw_counts))
        return self._log_diff

    @property
    def featurizer(self) -> HashedNgramFeaturizer:
        if self._featurizer is None:
            self._featurizer = HashedNgramFeaturizer(self.params)
        return self._featurizer

    # --- weights ----------------------------------------------------------------------------
    def log_weight(self, text: str, min_units: int = 0) -> tuple[float | None, int]:
        """``(log importance weight, units)``; the weight is ``None`` below ``min_units``."""
        n_units, buckets = self.featurizer.units_and_buckets(text)
        if n_units < max(min_units, 1):
            return None, n_units
        return float(self.log_diff[buckets].sum()), n_units

    def log_weights(self, texts: Iterable[str], min_units: int = 0) -> list[float | None]:
        return [self.log_weight(t, min_units)[0] for t in texts]

    # --- persistence ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "features": self.params.to_dict(),
            "alpha": self.alpha,
            "target": self.target.__dict__,
            "raw": self.raw.__dict__,
        }

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            target_counts=self.target_counts,
            raw_counts=self.raw_counts,
            meta=np.array(json.dumps(self.describe(), ensure_ascii=False, sort_keys=True)),
        )
        return buf.getvalue()

    def save(self, path: str) -> None:
        fs.write_bytes_atomic(resolve_path(path), self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "model") -> DsirModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            try:
                meta = json.loads(str(z["meta"]))
                tc, rc = z["target_counts"], z["raw_counts"]
            except KeyError as exc:
                raise ValueError(f"{origin}: not a corpusflow DSIR model (missing {exc})") from None
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(f"{origin}: model format {meta.get('format')!r}, expected {MODEL_FORMAT!r}")
        return cls(
            params=FeatureParams(**meta["features"]),
            target_counts=tc,
            raw_counts=rc,
            alpha=float(meta["alpha"]),
            target=FitStats(**meta["target"]),
            raw=FitStats(**meta["raw"]),
        )

    @classmethod
    def load(cls, path: str) -> DsirModel:
        return cls.from_bytes(fs.read_bytes(resolve_path(path)), origin=path)


# ------------------------------------------------------------------------------------------------
# Fitting
# ------------------------------------------------------------------------------------------------


def accumulate(featurizer: HashedNgramFeaturizer, texts: Iterable[str],
               max_docs: int | None = None) -> tuple[np.ndarray, FitStats]:
    """Summed bucket counts of ``texts`` (at most ``max_docs`` of them)."""
    b = featurizer.params.num_buckets
    counts = np.zeros(b, dtype=np.float64)
    stats = FitStats()
    pending: list[np.ndarray] = []
    pending_len = 0
    for text in texts:
        if max_docs is not None and stats.docs >= max_docs:
            break
        n_units, buckets = featurizer.units_and_buckets(text)
        stats.docs += 1
        stats.units += n_units
        stats.features += int(buckets.size)
        pending.append(buckets)
        pending_len += buckets.size
        if pending_len >= 4_000_000:  # bincount in large batches
            counts += np.bincount(np.concatenate(pending), minlength=b)
            pending, pending_len = [], 0
    if pending:
        counts += np.bincount(np.concatenate(pending), minlength=b)
    return counts, stats


def fit(target_texts: Iterable[str], raw_texts: Iterable[str], params: FeatureParams | None = None,
        *, alpha: float = 1.0, max_docs: int | None = None) -> DsirModel:
    """Fit a :class:`DsirModel` from two iterables of texts."""
    feat = HashedNgramFeaturizer(params)
    tc, ts = accumulate(feat, target_texts, max_docs)
    rc, rs = accumulate(feat, raw_texts, max_docs)
    if ts.docs == 0 or rs.docs == 0:
        raise ValueError(f"cannot fit DSIR: {ts.docs} target and {rs.docs} raw documents")
    return DsirModel(feat.params, tc, rc, alpha=alpha, target=ts, raw=rs)


def read_texts(patterns: Sequence[str], text_field: str = "text") -> Iterator[str]:
    """Texts of JSONL(.gz/.zst/...) or Parquet files matched by ``patterns`` (sorted per glob).

    Malformed records are skipped (fitting needs texts, not accounting); a glob matching nothing
    raises ``FileNotFoundError``.
    """

    for pat in patterns:
        files = expand_glob(pat)
        if not files:
            raise FileNotFoundError(f"no file matches {pat!r}")
        for path in files:
            src = SourceConfig(name="fit", paths=[path], fields=FieldMapping(text=text_field, id=None, url=None))
            spec = FileSpec(source="fit", path=path, file_key=path.rsplit("/", 1)[-1], format=detect_format(path))
            for outcome in iter_file(spec, src, 50_000_000):
                if isinstance(outcome, Document):
                    yield outcome.text


def fit_files(target: Sequence[str], raw: Sequence[str], params: FeatureParams | None = None, *,
              text_field: str = "text", alpha: float = 1.0, max_docs: int | None = None) -> DsirModel:
    """Fit from files (JSONL or Parquet, ``text_field`` holding the text)."""

    model = fit(read_texts(target, text_field), read_texts(raw, text_field), params,
                alpha=alpha, max_docs=max_docs)
    model.target.files = [f for p in target for f in expand_glob(p)]
    model.raw.files = [f for p in raw for f in expand_glob(p)]
    return model


# ------------------------------------------------------------------------------------------------
# Resampling
# ------------------------------------------------------------------------------------------------


def gumbel(source: str, doc_id: str, seed: int) -> float:
    """Standard Gumbel noise ``-log(-log u)`` with ``u`` in (0, 1) from a keyed hash of the doc."""
    u = (stable_hash64("dsir.gumbel", source, doc_id, seed=seed) + 0.5) / _U64
    return -math.log(-math.log(u))


def selection_key(log_weight: float, source: str, doc_id: str, seed: int, noise: str = "gumbel") -> float:
    """The sort key of Gumbel top-k (``noise="none"``: the log weight itself)."""
    if noise == "none":
        return float(log_weight)
    return float(log_weight) + gumbel(source, doc_id, seed)


def top_k(keys: Sequence[tuple[float, str]], k: int) -> set[str]:
    """Ids of the ``k`` largest ``(key, id)`` pairs (ties of keys broken by the larger id)."""
    if k <= 0:
        return set()
    return {i for _, i in sorted(keys, reverse=True)[:k]}


def is_selected(key: float, doc_id: str, threshold: tuple[float, str] | None) -> bool:
    """Whether ``(key, id)`` is among the top k, given the k-th largest pair (``None``: fewer
    than k candidates, so every one is selected)."""
    return threshold is None or (key, doc_id) >= (threshold[0], threshold[1])
