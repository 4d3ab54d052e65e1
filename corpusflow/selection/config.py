"""Config of the DSIR selection stage, under ``stages.dsir`` of a pipeline config.

Example::

    stages:
      dsir:
        enabled: true
        model: models/ja_wiki_vs_madlad.npz   # from `corpusflow fit-dsir` ...
        # fit:                                # ... or fitted when the job is built:
        #   target: [data/ja_wiki/*.jsonl.gz]
        #   raw: [data/madlad_ja/*.jsonl.gz]
        #   features: {ngrams: 2, num_buckets: 10000}
        k: 1000000                            # documents to select (Gumbel top-k)
        languages: [ja]                       # only these languages compete; others pass
        noise: gumbel                         # or none: the k largest weights

The stage runs after dedup and before the mixture (``corpusflow/pipeline.py``). Where the
defaults come from: ``p-lambda/dsir`` (``ngrams=2``, ``num_buckets=10000``,
``min_example_length=100``; docs/design.md#dsir).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, model_validator

from corpusflow.core.model import StrictModel
from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.io.filesystems import expand_glob
from corpusflow.selection.features import FeatureParams


class DsirFeatureConfig(StrictModel):
    """Hashed n-gram features (:mod:`corpusflow.selection.features`)."""

    ngrams: int = Field(2, ge=1, le=8, description="Unit n-grams of order 1..ngrams (DSIR: 2).")
    num_buckets: int = Field(10_000, ge=16, le=1 << 24, description="Hash buckets (DSIR: 10,000).")
    hash_seed: int = Field(0, ge=0, description="Key of the bucket hash.")
    normalize: bool = Field(True, description="NFKC + lower-case before splitting into units.")

    def to_params(self) -> FeatureParams:
        return FeatureParams(ngrams=self.ngrams, num_buckets=self.num_buckets,
                             hash_seed=self.hash_seed, normalize=self.normalize)


class DsirFitConfig(StrictModel):
    """Fit the model when the job is built (small corpora; use ``corpusflow fit-dsir`` for
    large ones and point ``model`` at the result)."""

    target: list[str] = Field(min_length=1, description="Globs of target-distribution files (JSONL/Parquet).")
    raw: list[str] = Field(min_length=1, description="Globs of raw-distribution files (JSONL/Parquet).")
    text_field: str = Field("text", description="Field holding the text in those files.")
    alpha: float = Field(1.0, gt=0.0, description="Additive smoothing of both distributions.")
    max_docs: int | None = Field(None, ge=1, description="Read at most this many documents per side.")
    features: DsirFeatureConfig = Field(default_factory=DsirFeatureConfig)

    @model_validator(mode="after")
    def _check_files(self) -> DsirFitConfig:
        missing = [p for p in (*self.target, *self.raw)
                   if not is_remote(resolve_path(p)) and not expand_glob(p)]
        if missing:
            raise ValueError(f"no file matches {', '.join(map(repr, missing))}")
        return self


class DsirStageConfig(StrictModel):
    """Select k documents by DSIR importance resampling (after dedup, before the mixture)."""

    enabled: bool = Field(False, description="Run DSIR selection after dedup.")
    model: str | None = Field(
        None, description="Fitted model (.npz from `corpusflow fit-dsir`); pkg:, local or object-store path."
    )
    fit: DsirFitConfig | None = Field(None, description="Fit the model when the job is built instead.")
    k: int | None = Field(
        None, ge=0, description="Documents to select among the candidates (the rest are rejected "
        "as dsir.not_selected). Fewer candidates than k: all are kept."
    )
    languages: list[str] | None = Field(
        None, description="Only documents of these languages are candidates; others pass unchanged."
    )
    sources: list[str] | None = Field(
        None, description="Only documents of these sources are candidates; others pass unchanged."
    )
    noise: Literal["gumbel", "none"] = Field(
        "gumbel", description="'gumbel': sample without replacement in proportion to the importance "
        "weight (Gumbel top-k, DSIR's default); 'none': the k largest weights (DSIR top_k=True)."
    )
    min_units: int = Field(
        100, ge=0, description="Candidates with fewer units (Japanese characters, English words) are "
        "rejected as dsir.too_short (DSIR min_example_length=100)."
    )

    @model_validator(mode="after")
    def _check(self) -> DsirStageConfig:
        if not self.enabled:
            return self
        if (self.model is None) == (self.fit is None):
            raise ValueError("give exactly one of model (a .npz from `corpusflow fit-dsir`) or fit")
        if self.k is None:
            raise ValueError("k (the number of documents to select) is required when enabled")
        if self.model is not None:
            path = resolve_path(self.model)
            if not is_remote(path) and not os.path.isfile(path):
                raise ValueError(f"model file not found: {self.model!r} (make one with `corpusflow fit-dsir`)")
        return self
