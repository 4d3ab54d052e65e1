"""The whole-pipeline config model: sources, stages, output, limits, runner.

A config names its sources (with per-source field mappings), switches stages on and off and
sets their parameters, and says how output is sharded. Each stage's model lives with its stage
(``text/config.py``, ``filters/config.py``, ``dedup/config.py``, ...); this module only puts
them together. Loading and error messages: :mod:`corpusflow.config.load`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, model_validator

from corpusflow.core.model import StrictModel
from corpusflow.decontam.config import DecontamStageConfig
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.filters.config import FilterStageConfig
from corpusflow.io.config import SourceConfig
from corpusflow.mixture.config import MixtureStageConfig
from corpusflow.run.runners import RunnerConfig
from corpusflow.selection.config import DsirStageConfig
from corpusflow.text.config import CleanConfig, ExtractConfig, LangIdConfig, NormalizeConfig, UrlFilterConfig


class StagesConfig(StrictModel):
    urls: UrlFilterConfig = Field(default_factory=UrlFilterConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    langid: LangIdConfig = Field(default_factory=LangIdConfig)
    filters: FilterStageConfig = Field(default_factory=FilterStageConfig)
    decontam: DecontamStageConfig = Field(default_factory=DecontamStageConfig)
    dedup: DedupStageConfig = Field(default_factory=DedupStageConfig)
    dsir: DsirStageConfig = Field(default_factory=DsirStageConfig)  # runs after dedup
    mixture: MixtureStageConfig = Field(default_factory=MixtureStageConfig)


class OutputConfig(StrictModel):
    shard_max_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Upper bound of UTF-8 text bytes per output shard."
    )
    row_group_rows: int = Field(10_000, ge=1, description="Maximum rows per Parquet row group.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    compression_level: int = Field(3, ge=1, le=22)
    write_rejected_text: bool = Field(True, description="Include the text of rejected documents.")


class LimitsConfig(StrictModel):
    max_doc_chars: int = Field(
        2_000_000, ge=1, description="Longer documents are rejected (reason input.too_long), never truncated."
    )
    max_error_rate: float = Field(
        0.01, ge=0.0, le=1.0, description="Fail the run when errors / input records exceed this."
    )
    strict: bool = Field(False, description="Fail at the first malformed record.")
    allow_incomplete_files: bool = Field(
        False, description="Accept input files that could not be read to their end (truncated or damaged "
        "compressed streams, unreadable row groups): their readable records are kept and the loss is "
        "recorded as error records either way; without this the run fails.")
    unique_ids: bool = Field(
        True,
        description="Rename records that reuse an id already seen (kept in meta.original_id), so two "
        "different records are never confused downstream; costs one shuffle of the ids.",
    )


class PipelineConfig(StrictModel):
    name: str = Field("corpusflow", description="Run name, recorded in the manifest.")
    plugins: list[str] = Field(
        default_factory=list,
        description="Python modules imported before the config is resolved (e.g. to register extra "
        "filters). Nothing else is ever imported from a config, and nothing is evaluated.",
    )
    seed: int = Field(0, ge=0, description="Seed of every keyed hash (sampling, shuffling, ids).")
    sources: list[SourceConfig] = Field(min_length=1)
    stages: StagesConfig = Field(default_factory=StagesConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # The runner section: how to run, not what; not part of config_hash.
    runner: RunnerConfig = Field(default_factory=RunnerConfig,
                                 description="Beam runner and options; the CLI overrides them.")

    @model_validator(mode="after")
    def _unique_sources(self) -> PipelineConfig:
        seen: set[str] = set()
        for s in self.sources:
            if s.name in seen:
                raise ValueError(f"source name {s.name!r} is used twice")
            seen.add(s.name)
        return self

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_jsonable(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        data = {k: v for k, v in self.to_jsonable().items() if k != "runner"}  # how to run does not change the output
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()
