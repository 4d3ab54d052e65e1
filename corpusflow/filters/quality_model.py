"""``quality.fasttext_score``: drop documents a fastText quality classifier scores too low.

The classifier is trained with ``corpusflow train-quality`` (:mod:`corpusflow.selection.quality`):
p(``hq``) of a binary ``hq`` vs ``cc`` model, as DCLM's ``fasttext_oh_eli5`` filter does with
its own model (docs/design.md#quality-classifier). DCLM thresholds by percentile (keep ~the top 10 %:
``p(hq) >= 0.018112`` for their model); the right number depends on the model, so there is no
universal default: ``train-quality`` prints the scores that keep the top 10/30/50 % of the
held-out noisy side, and ``corpusflow eval-filters`` measures a threshold on labelled data.

Example (profile entry)::

    - name: quality.fasttext_score
      params: {model: models/ja_quality.ftz, threshold: 0.3}

Signal: ``quality.fasttext_score`` (p(label) in [0, 1]). Reason: ``quality.fasttext_score.too_low``.
The model loads in :meth:`setup` (once per worker; instances naming the same file share it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.core.process_cache import per_process
from corpusflow.filters.base import Failure, Filter, StepParams, below, register
from corpusflow.filters.text import TextView
from corpusflow.selection.quality import QualityModel


def _load(path: str, label: str, max_chars: int) -> Any:
    """The classifier for ``(path, label, max_chars)``, loaded once per process."""
    return per_process("quality_model", f"{max_chars}|{label}|{path}",
                       lambda _key: QualityModel(path, label=label, max_chars=max_chars))


class QualityScoreParams(StepParams):
    model: str = Field(description="fastText model (.ftz/.bin) from `corpusflow train-quality`: a local or "
                       "pkg: path, or an s3:// / gs:// URL (copied to a temp file on each worker).")
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Reject when p(label) is below this (DCLM: a percentile of the scores)."
    )
    label: str = Field("hq", description="The label whose probability is the score.")
    max_chars: int = Field(3000, ge=50, description="Characters of the document head given to the model.")

    @field_validator("model")
    @classmethod
    def _exists(cls, v: str) -> str:
        path = resolve_path(v)
        if not is_remote(path) and not os.path.isfile(path):
            raise ValueError(f"model file not found: {v!r} (train one with `corpusflow train-quality`)")
        return v


@register("quality.fasttext_score")
class FastTextQualityScore(Filter):
    """p(``label``) of a fastText classifier below ``threshold`` (see the module docstring)."""

    category: ClassVar[str] = "model"
    causes = ("too_low",)
    Params = QualityScoreParams
    params: QualityScoreParams  # the validated parameters of this rule

    def __init__(self, params: Any = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        self._model: Any = None

    def setup(self) -> None:
        p = self.params
        self._model = _load(p.model, p.label, p.max_chars)

    def measure(self, view: TextView) -> dict[str, float]:
        if self._model is None:
            self.setup()
        return {"": float(self._model.score(view.text))}

    def judge(self, signals: Mapping[str, float]) -> Failure | None:
        return below(signals, "", self.params.threshold, "too_low")

    def __getstate__(self) -> dict[str, Any]:  # the loaded model is not pickled to workers
        state = dict(self.__dict__)
        state["_model"] = None
        return state
