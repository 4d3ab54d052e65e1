"""Config of the mixture stage: tokenizer, token counting, targets, caps, shards.

A mixture is stated in tokens of the tokenizer the model will be trained with (docs/design.md#token-counting:
Japanese characters per token vary ~2.4x between tokenizers, so "80 % JA by tokens" means
49-69 % JA by characters depending on the tokenizer). The allocation unit is a *cell*: one
``(source, lang)`` pair of the pool. Cells are put in groups (by language by default) and every
group gets a fixed share of the total; inside a group, cells share the group's tokens in
proportion to their natural size (optionally times a ``multiplier``, e.g. Wikipedia x2) or by an
explicit ``share`` of the group (docs/design.md#mixture-allocation; OLMo-core ``target_ratio`` /
``max_repetition_ratio`` / ``max_source_fraction``).

Example (YAML, under ``stages.mixture`` of a pipeline config)::

    enabled: true
    tokenizer: llm-jp-v3.1            # or {kind: sentencepiece|tiktoken|hf, path: ...}
    groups: {ja: 0.8, en: 0.2}        # shares of the total, by language
    sources:
      ja_wiki: {multiplier: 2}        # "Wikipedia x2 inside ja" (max_epochs defaults to 2)
      en_c4: {max_fraction: 0.5}      # use at most half of it
    budget: 173B                      # or "all": as much as possible at the stated ratio
    on_shortfall: fail                # fail | report | shrink

What can be checked without data is checked here (shares sum to 1, caps in range, a budget
unit that exists); what needs the pipeline config is in :func:`check_against_pipeline`; what
needs the census (a source too small for its target) is decided by
:func:`corpusflow.mixture.allocate.plan_mixture`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from corpusflow.core.model import StrictModel
from corpusflow.mixture.rehydrate import RehydrationConfig

TOKENIZER_KINDS = ("sentencepiece", "tiktoken", "hf")

#: Tokenizers shipped in the package, by short name.
TOKENIZER_PRESETS: dict[str, dict[str, str]] = {
    "llm-jp-v3.1": {
        "kind": "sentencepiece",
        "path": "pkg:resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model",
    },
    "llama3": {"kind": "tiktoken", "path": "pkg:resources/tokenizers/llama3/llama3.tiktoken"},
}

_SUFFIX_KIND = {".model": "sentencepiece", ".tiktoken": "tiktoken", ".json": "hf"}
_KIND_ALIASES = {"sp": "sentencepiece", "spm": "sentencepiece", "sentencepiece": "sentencepiece",
                 "tiktoken": "tiktoken", "hf": "hf", "huggingface": "hf", "tokenizers": "hf"}

_BUDGET_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][0-9]+)?)\s*([kKmMbBtT]?)\s*$")
_BUDGET_MULT = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def parse_budget(value: Any) -> int | Literal["all"]:
    """``"all"``, an integer, or a number with a k/M/B/T suffix (``"173B"`` = 173e9)."""
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        m = _BUDGET_RE.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a budget; use 'all', an integer, or e.g. 500M, 173B, 1.5T")
        number = float(m.group(1)) * _BUDGET_MULT[m.group(2).lower()]
    elif isinstance(value, bool):
        raise ValueError("a budget must be 'all' or a number of tokens")
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ValueError("a budget must be 'all' or a number of tokens")
    if not math.isfinite(number) or number < 1:
        raise ValueError(f"a budget must be at least 1 token, got {value!r}")
    return round(number)


def infer_tokenizer_kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for suffix, kind in _SUFFIX_KIND.items():
        if name.endswith(suffix):
            return kind
    raise ValueError(
        f"cannot tell the tokenizer kind of {path!r} from its name; set kind to one of "
        f"{', '.join(TOKENIZER_KINDS)} (.model = sentencepiece, .tiktoken = tiktoken, .json = hf)"
    )


class TokenizerSpec(StrictModel):
    """Which tokenizer defines a "token". Also accepts a string: a preset name
    (``llm-jp-v3.1``, ``llama3``), ``KIND:PATH`` or a path whose suffix tells the kind."""

    kind: Literal["sentencepiece", "tiktoken", "hf"] | None = Field(
        None, description="sentencepiece (.model), tiktoken (BPE rank file), hf (tokenizer.json); "
        "inferred from the file name when omitted."
    )
    path: str = Field(description="Model file; 'pkg:' paths resolve inside the package.")
    name: str | None = Field(None, description="Display name (default: preset name or file name).")
    add_eos: bool = Field(
        False, description="Count one more token per document for the EOS the trainer appends."
    )
    threads: int = Field(
        0, ge=0, description="Threads per worker for batch encoding (0 = all cores of the worker)."
    )
    batch_size: int = Field(256, ge=1, le=100_000, description="Documents per encode call.")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return parse_tokenizer_string(data)
        if isinstance(data, dict) and "preset" in data:
            data = dict(data)
            preset = data.pop("preset")
            if preset not in TOKENIZER_PRESETS:
                raise ValueError(f"unknown preset {preset!r}; known: {', '.join(TOKENIZER_PRESETS)}")
            data = {**TOKENIZER_PRESETS[preset], "name": preset, **data}
        return data

    @model_validator(mode="after")
    def _fill_kind(self) -> TokenizerSpec:
        if self.kind is None:
            object.__setattr__(self, "kind", infer_tokenizer_kind(self.path))
        return self

    def display_name(self) -> str:
        return self.name or Path(self.path).name

    def identity(self) -> dict[str, Any]:
        """What decides the token counts (threads and batch size do not)."""
        return {"kind": self.kind, "path": self.path, "add_eos": self.add_eos}


def parse_tokenizer_string(text: str) -> dict[str, Any]:
    """``llm-jp-v3.1`` | ``sentencepiece:path`` | ``path.model`` -> TokenizerSpec fields."""
    text = text.strip()
    if text in TOKENIZER_PRESETS:
        return {**TOKENIZER_PRESETS[text], "name": text}
    head, sep, rest = text.partition(":")
    if sep and head.lower() in _KIND_ALIASES and rest:
        return {"kind": _KIND_ALIASES[head.lower()], "path": rest}
    return {"path": text, "kind": infer_tokenizer_kind(text)}


class CountConfig(StrictModel):
    """How tokens are counted. ``exact`` tokenizes every document; ``estimate`` tokenizes a
    hash-selected sample per (source, lang) cell, calibrates tokens per character on it (ratio
    estimator) and estimates every other document as ``round(n_chars * tokens_per_char)``
    (the datatrove/RedPajama practice, docs/design.md#token-counting); the calibration, its sample size and
    relative standard error go to the manifest."""

    mode: Literal["exact", "estimate"] = "exact"
    sample_rate: float = Field(
        0.01, gt=0.0, le=1.0, description="Share of each cell tokenized for the calibration."
    )
    min_sample_docs: int = Field(
        500, ge=1, description="At least this many documents per cell (all, if the cell is smaller)."
    )
    keep_token_ids: bool = Field(
        False, description="Store the ids of the counting pass in the pool and training rows "
        "(`token_ids`, list<uint32>) so `corpusflow export` does not tokenise again (exact mode only).",
    )

    @model_validator(mode="after")
    def _ids_need_exact(self) -> CountConfig:
        if self.keep_token_ids and self.mode != "exact":
            raise ValueError("keep_token_ids needs mode: exact (estimate mode does not tokenise every document)")
        return self


class GroupConfig(StrictModel):
    share: float = Field(gt=0.0, le=1.0, description="Share of the total tokens for this group.")

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"share": data}
        return data


class SourceMixConfig(StrictModel):
    """Weight and caps of one source (applied to each of its (source, lang) cells)."""

    weight: Literal["natural"] = Field(
        "natural", description="'natural': proportional to available tokens (times multiplier)."
    )
    multiplier: float = Field(
        1.0, gt=0.0, le=1000.0,
        description="Scale the natural weight, e.g. 2 = 'Wikipedia twice' relative to the others.",
    )
    share: float | None = Field(
        None, gt=0.0, le=1.0,
        description="Explicit share of its group (instead of a natural weight).",
    )
    max_epochs: float | None = Field(
        None, ge=1.0, le=1000.0,
        description="Most copies of one document (cap = max_epochs x usable tokens). "
        "Default: max(1, multiplier).",
    )
    max_fraction: float = Field(
        1.0, gt=0.0, le=1.0, description="Use at most this share of the source's documents."
    )

    @model_validator(mode="after")
    def _check(self) -> SourceMixConfig:
        if self.share is not None and self.multiplier != 1.0:
            raise ValueError("give either share (explicit part of the group) or multiplier "
                             "(scales the natural weight), not both")
        return self

    def epochs_cap(self) -> float:
        return self.max_epochs if self.max_epochs is not None else max(1.0, self.multiplier)


class ShardConfig(StrictModel):
    num_shards: int | Literal["auto"] = Field(
        "auto", description="'auto': from target_bytes, rounded up to a multiple of 'multiple'."
    )
    target_bytes: int | None = Field(
        None, ge=1024,
        description="UTF-8 text bytes per shard (default: output.shard_max_bytes of the pipeline).",
    )
    multiple: int = Field(
        8, ge=1, le=4096,
        description="Shard count is a multiple of this, so it divides data-parallel world sizes "
        "(HF split_dataset_by_node needs num_shards % world_size == 0).",
    )

    @field_validator("num_shards")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("num_shards must be >= 1 or 'auto'")
        return v


class MixtureStageConfig(StrictModel):
    """Sample the kept documents to a token mixture and write shuffled training shards."""

    enabled: bool = Field(False, description="Sample kept documents to a token mixture.")
    tokenizer: TokenizerSpec = Field(
        default_factory=lambda: TokenizerSpec.model_validate("llm-jp-v3.1"),
        description="Tokenizer whose tokens the budget and shares are stated in.",
    )
    count: CountConfig = Field(default_factory=CountConfig)
    unit: Literal["tokens", "chars"] = Field(
        "tokens", description="Unit of budget and shares (tokens of the tokenizer, or characters)."
    )
    group_by: Literal["lang", "source"] = Field(
        "lang", description="What the group keys name: languages (doc.lang) or source names."
    )
    groups: dict[str, GroupConfig] = Field(
        default_factory=lambda: {"ja": GroupConfig(share=0.8), "en": GroupConfig(share=0.2)},
        description="Group key -> share of the total; shares sum to 1. Cells of other groups "
        "stay in the pool and are not selected.",
    )
    sources: dict[str, SourceMixConfig] = Field(
        default_factory=dict,
        description="Per-source weight and caps (default: natural, 1 epoch), keyed by source name, "
        "or by 'source/lang' for one language of a mixed source (e.g. 'input/en' after --input).",
    )
    budget: int | Literal["all"] = Field(
        "all", description="Total in `unit`: an integer, '173B', or 'all' (as much as the data "
        "gives at the stated shares without repeating beyond the multipliers)."
    )
    on_shortfall: Literal["fail", "report", "shrink"] = Field(
        "fail", description="When caps cannot give a group its target: fail (default), report "
        "(write what exists, report the deficit) or shrink (lower the total, keep the shares).",
    )
    shards: ShardConfig = Field(default_factory=ShardConfig)
    row_group_rows: int | None = Field(
        None, ge=1, description="Rows per Parquet row group (default: output.row_group_rows)."
    )
    rehydration: RehydrationConfig = Field(  # copies by duplicate-cluster size (mixture/rehydrate.py)
        default_factory=RehydrationConfig,
        description="Copies of a kept document by the size of the duplicate cluster it came from.")

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        return parse_budget(v)

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: dict[str, GroupConfig]) -> dict[str, GroupConfig]:
        if not v:
            raise ValueError("at least one group is needed, e.g. {ja: 0.8, en: 0.2}")
        total = sum(g.share for g in v.values())
        if abs(total - 1.0) > 1e-6:
            listing = ", ".join(f"{k}: {g.share:g}" for k, g in v.items())
            raise ValueError(f"group shares must sum to 1, got {total:g} ({listing})")
        return v

    @model_validator(mode="after")
    def _cross(self) -> MixtureStageConfig:
        if self.group_by == "source":
            for name, s in self.sources.items():
                if s.share is not None:
                    raise ValueError(
                        f"sources.{name}.share: with group_by: source each source is its own "
                        "group; set its share under groups instead"
                    )
        return self

    def source_cfg(self, source: str, lang: str | None = None) -> SourceMixConfig:
        """Settings of a cell: a ``"source/lang"`` entry wins over a ``"source"`` entry."""
        if lang is not None and f"{source}/{lang}" in self.sources:
            return self.sources[f"{source}/{lang}"]
        return self.sources.get(source) or SourceMixConfig()


def check_against_pipeline(mix: MixtureStageConfig, pipeline_cfg: Any) -> list[str]:
    """Problems visible from the pipeline config before any data is read.

    A group that no document can ever reach (a language that language ID filters out, a
    source that does not exist) makes every budget impossible, so it is reported here rather
    than after hours of filtering. Returns one message per problem (empty = fine).
    """
    problems: list[str] = []
    if not mix.enabled:
        return problems
    names = [s.name for s in pipeline_cfg.sources]
    for key in mix.sources:
        name = key.split("/", 1)[0]
        if name not in names:
            problems.append(
                f"stages.mixture.sources.{key}: no pipeline source is called {name!r} "
                f"(sources: {', '.join(names)})"
            )
    langid = pipeline_cfg.stages.langid
    if mix.group_by == "source":
        for g in mix.groups:
            if g not in names:
                problems.append(
                    f"stages.mixture.groups.{g}: group_by is 'source' but no source is called {g!r} "
                    f"(sources: {', '.join(names)})"
                )
        return problems
    # group_by == lang: which languages can reach the pool?
    reachable: set[str] | None
    if langid.enabled and langid.mode == "filter":
        reachable = set(langid.languages)
    elif langid.enabled:
        reachable = None  # tag mode: any language may arrive
    else:
        declared = [s.lang for s in pipeline_cfg.sources]
        reachable = None if any(lang is None for lang in declared) else set(declared)
    if reachable is not None:
        for g in mix.groups:
            if g not in reachable:
                why = (
                    f"stages.langid.languages is {sorted(reachable)}"
                    if langid.enabled else f"language ID is off and the sources declare {sorted(reachable)}"
                )
                problems.append(
                    f"stages.mixture.groups.{g}: no document can have lang {g!r} ({why}); "
                    f"the share {mix.groups[g].share:g} can never be filled"
                )
    return problems
