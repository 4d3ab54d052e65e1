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
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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


@dataclass
class TrainReport:
    """What a model was trained on and how it does on its held-out split."""

    positives: int = 0
    negatives: int = 0
    train: int = 0
    heldout: int = 0
    heldout_accuracy: float | None = None
    heldout_pos_mean: float | None = None
    heldout_neg_mean: float | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    model_bytes: int = 0
    params: dict[str, Any] = field(default_factory=dict)


def _is_heldout(text: str, heldout: float, seed: int) -> bool:
    return heldout > 0 and stable_hash64("quality.heldout", text, seed=seed) / 2**64 < heldout


def train(
    positives: Iterable[str],
    negatives: Iterable[str],
    out: str,
    params: TrainParams | None = None,
    *,
    heldout: float = 0.1,
    max_chars: int = 3000,
    min_chars: int = 1,
) -> TrainReport:
    """Train a binary classifier ``hq`` (positives) vs ``cc`` (negatives) and save it to ``out``.

    A deterministic ``heldout`` share of each side (by a keyed hash of the text) is kept out of
    training and scored afterwards: its accuracy and the p(hq) quantiles of the held-out
    negatives (``thresholds``: the score that keeps the top 10/30/50 % of the noisy side, the
    DCLM way of choosing a threshold by percentile) go to the report. Training lines are
    written in a deterministic order (sorted by a keyed hash), so a model depends only on the
    data and the parameters (fastText itself is deterministic with ``thread=1``).

    Raises:
        ValueError: a side is empty, or fastText fails (e.g. too little data: "Encountered NaN").
    """
    import numpy as np  # lazy: heavy or optional dependency, loaded only when used

    p = params or TrainParams()
    rows: list[tuple[int, str, bool]] = []  # (order key, line, is_heldout)
    held: list[tuple[str, str]] = []
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
            if _is_heldout(text, heldout, p.seed):
                held.append((label, line))
            else:
                rows.append((stable_hash64("quality.order", label, line, seed=p.seed), f"{LABEL_PREFIX}{label} {line}", False))
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"training needs both sides: {n_pos} positive and {n_neg} negative texts")
    rows.sort()
    fd, train_path = tempfile.mkstemp(suffix=".txt", prefix="corpusflow-quality-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for _, line, _ in rows:
                f.write(line + "\n")
        out_dir = os.path.dirname(os.path.abspath(out))
        os.makedirs(out_dir, exist_ok=True)
        tmp = out + ".tmp"
        # A fresh process per training: in this fastText build a second train_supervised() in
        # the same process (or one after loading a quantized model such as lid.176.ftz) gives
        # different weights or "Encountered NaN"; the first one in a process is deterministic.
        job = json.dumps({"input": train_path, "kwargs": p.train_kwargs(), "quantize": p.quantize,
                          "cutoff": p.cutoff, "out": tmp})
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from corpusflow.selection.quality import _train_main; "
             "sys.exit(_train_main(sys.argv[1]))", job],
            capture_output=True, text=True, check=False,
        )
        error = None
        if proc.returncode != 0:
            error = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        if error:
            raise ValueError(f"fastText training failed ({error}); more or longer texts are needed")
        os.replace(tmp, out)
    finally:
        os.unlink(train_path)
    rep = TrainReport(positives=n_pos, negatives=n_neg, train=len(rows), heldout=len(held),
                      model_bytes=os.path.getsize(out), params=p.__dict__.copy())
    if held:
        scorer = QualityModel(out)
        scores = [(label, scorer.score_line(line)) for label, line in held]
        correct = sum((s >= 0.5) == (label == POSITIVE) for label, s in scores)
        rep.heldout_accuracy = round(correct / len(scores), 4)
        pos = [s for label, s in scores if label == POSITIVE]
        neg = [s for label, s in scores if label == NEGATIVE]
        rep.heldout_pos_mean = round(float(np.mean(pos)), 4) if pos else None
        rep.heldout_neg_mean = round(float(np.mean(neg)), 4) if neg else None
        if neg:
            for keep in (0.1, 0.3, 0.5):
                rep.thresholds[f"keep_top_{int(keep * 100)}pct_of_negatives"] = round(
                    float(np.quantile(neg, 1.0 - keep)), 6)
    return rep


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
