"""A fastText quality classifier: train on "clean" vs "noisy" text, score documents (no Beam).

The DCLM recipe (docs/design.md#quality-classifier): a binary fastText model, ``__label__hq``
(curated text) vs ``__label__cc`` (random Common Crawl), whose ``p(hq)`` is a per-document score that a
filter thresholds (DCLM keeps ``p(hq) >= 0.018112``, about its top 10 %). The DCLM model is
English-only; for Japanese we train our own on Japanese positives and negatives, e.g.
Japanese Wikipedia or curated data vs CC (cf. Swallow's "wiki-top10").

Text given to fastText (both when training and when scoring; :func:`fasttext_line`): NFKC,
lower-cased, on one line, with every kana / kanji character separated by spaces — fastText
splits on whitespace, so unsegmented Japanese would otherwise be one "word" per clause (the
problem DSIR's ``wordpunct`` has, docs/design.md#dsir). With ``wordNgrams=2`` the model then sees
Japanese character unigrams and bigrams and English words and word bigrams.

Training uses ``fasttext.train_supervised`` from the ``fasttext-numpy2`` package; prediction
calls the low-level ``model.f.predict`` (the Python ``predict()`` wrapper breaks with numpy 2
in some builds; corpusflow guide). Models are saved quantized (``.ftz``) when asked, so a model
is a few MB rather than hundreds. Each training runs in a fresh Python process: with the
installed fastText build a second training in one process is not reproducible and can fail
with "Encountered NaN" (measured), while the first one in a process is deterministic with
``thread=1``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from corpusflow.core.hashing import stable_hash64
from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.io.filesystems import read_bytes

POSITIVE = "hq"
NEGATIVE = "cc"
LABEL_PREFIX = "__label__"

_CJK = re.compile(
    "([\u3005-\u3007\u303b\u3041-\u309f\u30a0-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f])"
)
_TOKEN = re.compile(r"\w+|[^\w\s]+")


def fasttext_line(text: str, max_chars: int = 3000) -> str:
    """The one-line, space-separated form of ``text`` that the classifier sees (see module doc).

    Only the first ``max_chars`` characters are used (scores are about the register of the
    text; the head is enough and bounds the cost of huge documents).
    """
    t = unicodedata.normalize("NFKC", text[:max_chars]).lower()
    t = _CJK.sub(r" \1 ", t)
    return " ".join(_TOKEN.findall(t))


@dataclass
class TrainParams:
    """fastText hyper-parameters (``train_supervised`` names). Defaults: small and fast.

    ``bucket`` bounds the n-gram table (bucket x dim floats: 2^18 x 32 = 32 MB in the .bin);
    quantization then shrinks the saved model to a few MB.
    """

    epoch: int = 10
    lr: float = 0.2
    dim: int = 32
    word_ngrams: int = 2
    min_count: int = 2
    bucket: int = 1 << 18
    loss: str = "softmax"
    thread: int = 1
    seed: int = 0
    quantize: bool = True
    cutoff: int = 100_000  # keep the most important words / n-grams when quantizing

    def train_kwargs(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch, "lr": self.lr, "dim": self.dim, "wordNgrams": self.word_ngrams,
            "minCount": self.min_count, "bucket": self.bucket, "loss": self.loss,
            "thread": self.thread, "seed": self.seed, "verbose": 0,
        }


# Epochs x learning rates tried by default (fastText's own defaults are 5 epochs, lr 0.1 for
# supervised training; its tutorial raises them to 25 epochs and lr 0.5-1.0 for small data:
# fasttext.cc/docs/en/supervised-tutorial.html "More epochs and larger learning rate").
DEFAULT_EPOCHS: tuple[int, ...] = (5, 15, 50)
DEFAULT_LRS: tuple[float, ...] = (0.1, 0.5, 1.0)


class ChanceLevelError(ValueError):
    """The best classifier of the grid does not beat chance on the validation split."""


@dataclass
class Candidate:
    """One point of the grid and how its model does on the validation split."""

    epoch: int
    lr: float
    accuracy: float
    youden_j: float
    tpr: float
    fpr: float


@dataclass
class TrainReport:
    """What a model was trained on, the grid it was chosen from and its validation figures.

    ``validation_*``: the chosen model on the validation split at p(hq) >= 0.5 (its own
    decision boundary). ``youden_j`` = TPR - FPR (share of positives scored hq minus share of
    negatives scored hq); ``chance_j``: the J that a classifier unrelated to the labels exceeds
    with about 2.5 % probability on a split of this size (2 standard errors); a model whose J is
    not above ``max(min_j, chance_j)`` is not written.
    """

    positives: int = 0
    negatives: int = 0
    train: int = 0
    validation: int = 0
    validation_accuracy: float | None = None
    majority_rate: float | None = None
    youden_j: float | None = None
    chance_j: float | None = None
    validation_pos_mean: float | None = None
    validation_neg_mean: float | None = None
    epoch: int = 0
    lr: float = 0.0
    grid: list[Candidate] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)
    model_bytes: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["grid"] = [c.__dict__ for c in self.grid]
        return d


def is_validation(text: str, share: float, seed: int) -> bool:
    """Deterministic split: ``text`` is in the validation share (keyed hash of the text, so
    identical texts always land on the same side)."""
    return share > 0 and stable_hash64("quality.heldout", text, seed=seed) / 2**64 < share


def chance_j(n_pos: int, n_neg: int, predicted_pos_rate: float) -> float:
    """Two standard errors of Youden's J for a classifier independent of the labels.

    With a positive-prediction rate q, TPR and FPR are binomial shares of n_pos and n_neg with
    the same mean q, so J = TPR - FPR has mean 0 and variance q(1-q)(1/n_pos + 1/n_neg).
    """
    if n_pos == 0 or n_neg == 0:
        return 1.0
    q = min(max(predicted_pos_rate, 0.0), 1.0)
    return 2.0 * (q * (1.0 - q) * (1.0 / n_pos + 1.0 / n_neg)) ** 0.5


def _fit(lines: list[str], params: TrainParams, out: str) -> None:
    """Train on prepared ``__label__X text`` lines and save to ``out`` (fresh process)."""
    fd, train_path = tempfile.mkstemp(suffix=".txt", prefix="corpusflow-quality-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        # A fresh process per training: in this fastText build a second train_supervised() in
        # the same process (or one after loading a quantized model such as lid.176.ftz) gives
        # different weights or "Encountered NaN"; the first one in a process is deterministic.
        job = json.dumps({"input": train_path, "kwargs": params.train_kwargs(), "quantize": params.quantize,
                          "cutoff": params.cutoff, "out": out})
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from corpusflow.selection.quality import _train_main; "
             "sys.exit(_train_main(sys.argv[1]))", job],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            error = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            raise ValueError(f"fastText training failed ({error}); more or longer texts are needed")
    finally:
        os.unlink(train_path)


def _score(path: str, held: list[tuple[str, str]]) -> list[tuple[bool, float]]:
    """(is positive, p(hq)) of every validation line; the model is loaded in this process."""
    scorer = QualityModel(path)
    return [(label == POSITIVE, scorer.score_line(line)) for label, line in held]


def _rates(scores: list[tuple[bool, float]]) -> tuple[float, float, float, float]:
    """(accuracy, TPR, FPR, positive-prediction rate) at p(hq) >= 0.5."""
    n_pos = sum(1 for y, _ in scores if y)
    n_neg = len(scores) - n_pos
    tp = sum(1 for y, s in scores if y and s >= 0.5)
    fp = sum(1 for y, s in scores if not y and s >= 0.5)
    tpr = tp / n_pos if n_pos else 0.0
    fpr = fp / n_neg if n_neg else 0.0
    acc = (tp + n_neg - fp) / len(scores) if scores else 0.0
    return acc, tpr, fpr, (tp + fp) / len(scores) if scores else 0.0


def train(
    positives: Iterable[str],
    negatives: Iterable[str],
    out: str,
    params: TrainParams | None = None,
    *,
    validation: float = 0.2,
    epochs: Sequence[int] | None = DEFAULT_EPOCHS,
    lrs: Sequence[float] | None = DEFAULT_LRS,
    min_j: float = 0.1,
    max_chars: int = 3000,
    min_chars: int = 1,
) -> TrainReport:
    """Train a binary classifier ``hq`` (positives) vs ``cc`` (negatives) and save it to ``out``.

    1. A deterministic ``validation`` share of each side (keyed hash of the text,
       :func:`is_validation`) is kept out of training.
    2. One model per (epoch, lr) of ``epochs`` x ``lrs`` (``None``: the value in ``params``) is
       trained on the rest and scored on the validation split; the model with the highest
       Youden's J at p(hq) >= 0.5 is chosen (ties: higher accuracy, fewer epochs, lower lr).
    3. If its J is not above ``max(min_j, chance_j)`` (:func:`chance_j`), no file is written and
       :class:`ChanceLevelError` says why. Otherwise the chosen model (trained on the training
       split) is saved to ``out``.

    Training lines are written in a deterministic order (sorted by a keyed hash), so a model
    depends only on the data and the parameters (fastText is deterministic with ``thread=1``).

    Raises:
        ValueError: a side is empty, the validation split lacks a side, or fastText fails.
        ChanceLevelError: the best model is at chance level on the validation split.
    """
    import numpy as np  # lazy: heavy or optional dependency, loaded only when used

    p = params or TrainParams()
    rows: list[tuple[int, str]] = []  # (order key, training line)
    held: list[tuple[str, str]] = []  # (label, line)
    n_pos = n_neg = 0
    for label, texts in ((POSITIVE, positives), (NEGATIVE, negatives)):
        for text in texts:
            if len(text.strip()) < min_chars:
                continue
            line = fasttext_line(text, max_chars)
            if not line:
                continue
            if label == POSITIVE:
                n_pos += 1
            else:
                n_neg += 1
            if is_validation(text, validation, p.seed):
                held.append((label, line))
            else:
                rows.append((stable_hash64("quality.order", label, line, seed=p.seed), f"{LABEL_PREFIX}{label} {line}"))
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"training needs both sides: {n_pos} positive and {n_neg} negative texts")
    v_pos = sum(1 for label, _ in held if label == POSITIVE)
    v_neg = len(held) - v_pos
    if v_pos == 0 or v_neg == 0:
        raise ValueError(f"the validation split ({validation:.0%}) has {v_pos} positive and {v_neg} negative "
                         "texts; give more data or a larger --validation share")
    rows.sort()
    lines = [line for _, line in rows]
    grid = [(e, lr) for e in (epochs or (p.epoch,)) for lr in (lrs or (p.lr,))]
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix="corpusflow-quality-grid-", dir=out_dir)
    rep = TrainReport(positives=n_pos, negatives=n_neg, train=len(rows), validation=len(held))
    best: tuple[tuple[float, float, int, float], str, Candidate, list[tuple[bool, float]]] | None = None
    try:
        for i, (e, lr) in enumerate(grid):
            cand_path = os.path.join(tmpdir, f"m{i}")
            _fit(lines, replace(p, epoch=e, lr=lr), cand_path)
            scores = _score(cand_path, held)
            acc, tpr, fpr, _ = _rates(scores)
            c = Candidate(e, lr, round(acc, 4), round(tpr - fpr, 4), round(tpr, 4), round(fpr, 4))
            rep.grid.append(c)
            key = (tpr - fpr, acc, -e, -lr)
            if best is None or key > best[0]:
                best = (key, cand_path, c, scores)
        assert best is not None
        _, best_path, chosen, scores = best
        acc, tpr, fpr, q = _rates(scores)
        rep.epoch, rep.lr = chosen.epoch, chosen.lr
        rep.validation_accuracy = round(acc, 4)
        rep.majority_rate = round(max(v_pos, v_neg) / len(held), 4)
        rep.youden_j = round(tpr - fpr, 4)
        rep.chance_j = round(chance_j(v_pos, v_neg, q), 4)
        pos = [s for y, s in scores if y]
        neg = [s for y, s in scores if not y]
        rep.validation_pos_mean = round(float(np.mean(pos)), 4)
        rep.validation_neg_mean = round(float(np.mean(neg)), 4)
        for keep in (0.1, 0.3, 0.5):
            rep.thresholds[f"keep_top_{int(keep * 100)}pct_of_negatives"] = round(float(np.quantile(neg, 1.0 - keep)), 6)
        rep.params = replace(p, epoch=chosen.epoch, lr=chosen.lr).__dict__.copy()
        limit = max(min_j, rep.chance_j)
        if rep.youden_j <= limit:
            raise ChanceLevelError(
                f"not writing {out}: the best of {len(grid)} models (epoch {chosen.epoch}, lr {chosen.lr}) "
                f"has validation J {rep.youden_j:.3f} (TPR {tpr:.3f}, FPR {fpr:.3f}; accuracy {acc:.3f} against "
                f"{rep.majority_rate:.3f} for always answering the larger class) on {len(held)} validation "
                f"texts, not above {limit:.3f} (chance level: 2 standard errors = {rep.chance_j:.3f}, "
                f"minimum J {min_j}). It does not separate the positives from the negatives: check that "
                "the two sides differ in kind (not only in source or length), give more texts, or widen "
                "the grid (--epochs, --lrs)."
            )
        os.replace(best_path, out)
        rep.model_bytes = os.path.getsize(out)
        return rep
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _train_main(job_json: str) -> int:
    """Train from a prepared file and save the model (runs in a fresh interpreter, see train())."""
    import fasttext  # lazy: heavy or optional dependency, loaded only when used

    job = json.loads(job_json)
    try:
        model = fasttext.train_supervised(input=job["input"], **job["kwargs"])
        if job["quantize"]:
            model.quantize(input=job["input"], qnorm=True, retrain=False, cutoff=job["cutoff"])
        model.save_model(job["out"])
    except (RuntimeError, ValueError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def _local_copy(path: str) -> str:
    """fastText loads from a local file: resolve ``pkg:``; copy an object-store model to a temp file."""

    resolved = resolve_path(path)
    if not is_remote(resolved):
        return resolved

    fd, tmp = tempfile.mkstemp(suffix="-" + os.path.basename(resolved))
    with os.fdopen(fd, "wb") as f:
        f.write(read_bytes(resolved))
    return tmp


class QualityModel:
    """A trained classifier; ``score(text)`` is p(``label``) in [0, 1]. Load in ``setup()``.

    ``path``: a local or ``pkg:`` path, or an object-store URL (copied to a temp file first).
    """

    def __init__(self, path: str, label: str = POSITIVE, max_chars: int = 3000) -> None:
        import fasttext  # lazy: heavy or optional dependency, loaded only when used

        self.path = path
        self._model = fasttext.load_model(_local_copy(path))
        labels = [lab[len(LABEL_PREFIX):] if lab.startswith(LABEL_PREFIX) else lab
                  for lab in self._model.get_labels()]
        if label not in labels:
            raise ValueError(f"{path}: the model has no label {label!r} (labels: {', '.join(labels)})")
        self.label = label
        self.labels = labels
        self.max_chars = max_chars
        self._predict = self._model.f.predict
        self._full = LABEL_PREFIX + label

    def score_line(self, line: str) -> float:
        """p(label) of an already prepared line (:func:`fasttext_line`)."""
        if not line:
            return 0.0
        for prob, lab in self._predict(line, len(self.labels), 0.0, "strict"):
            if lab == self._full:
                return min(max(float(prob), 0.0), 1.0)
        return 0.0

    def score(self, text: str) -> float:
        return self.score_line(fasttext_line(text, self.max_chars))

    def scores(self, texts: Sequence[str]) -> list[float]:
        return [self.score(t) for t in texts]
