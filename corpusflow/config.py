"""Pipeline configuration: YAML files validated by pydantic before any data is read.

A config names its sources (with per-source field mappings), switches stages on and off and
sets their parameters, and says how output is sharded. Errors are reported as one message per
bad key, naming the dotted key and the allowed values (see :func:`format_validation_error`).

Paths: relative paths are resolved against the current working directory; a ``pkg:`` prefix
resolves inside the installed corpusflow package (``pkg:data/sample/ja_wiki.jsonl.gz``), so
the embedded sample, the fastText model and the tokenizers are found wherever corpusflow is
installed (including on remote workers).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from corpusflow.configbase import StrictModel
from corpusflow.decontam.config import DecontamStageConfig
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.extract_config import ExtractConfig, UrlFilterConfig
from corpusflow.filters.config import FilterStageConfig
from corpusflow.mixture.config import MixtureStageConfig
from corpusflow.runners import RunnerConfig  # runner: section (issue #6, owner: runners)
from corpusflow.selection.config import DsirStageConfig  # DSIR selection (issue #10, owner: selection)

PACKAGE_DIR = Path(__file__).resolve().parent
PKG_PREFIX = "pkg:"
REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "http://", "https://", "hdfs://", "az://", "abfs://")

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")

INPUT_FORMATS = ("auto", "jsonl", "parquet", "warc", "wet")


class ConfigError(Exception):
    """A config problem found before the job starts; the CLI prints it and exits with code 2."""


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


class FieldMapping(StrictModel):
    """Which input field holds what. Dotted names reach into nested objects (``meta.url``)."""

    text: str = Field("text", description="Field with the document text.")
    id: str | None = Field(
        "id",
        description="Field with the document id. Missing ids (or id: null) get a stable id "
        "derived from source, file name and line number.",
    )
    url: str | None = Field("url", description="Field with the URL (optional in the data).")
    meta: list[str] = Field(
        default_factory=list,
        description="Extra fields passed through to the output's metadata column.",
    )


class SourceConfig(StrictModel):
    """One input source: a name, file globs, a format and a field mapping."""

    name: str = Field(description="Source key, written on every document (letters, digits, _ . -).")
    paths: list[str] = Field(min_length=1, description="Globs of local paths or URLs (s3://, gs://).")
    format: Literal["auto", "jsonl", "parquet", "warc", "wet"] = Field(
        "auto", description="Input format; 'auto' decides by file extension."
    )
    fields: FieldMapping = Field(default_factory=FieldMapping)
    lang: str | None = Field(
        None, description="Expected language of the source (used when language ID is off)."
    )
    priority: int = Field(
        0, description="Higher wins when choosing which duplicate to keep (dedup keep rule)."
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("must contain only letters, digits, '_', '.', '-'")
        return v


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------


class NormalizeConfig(StrictModel):
    """Text normalisation. NFC is the default, not NFKC: see :mod:`corpusflow.normalize`."""

    enabled: bool = True
    unicode_form: Literal["NFC", "NFKC", "none"] = Field(
        "NFC",
        description="NFC keeps full-width Japanese punctuation (。！？，．) that the Japanese "
        "filters count; NFKC folds it to ASCII (filters.md §8, pitfall 6).",
    )
    remove_control: bool = Field(True, description="Remove C0/C1 control characters except \\n and \\t.")
    collapse_spaces: bool = Field(True, description="Collapse runs of spaces/tabs; strip line ends.")
    max_blank_lines: int = Field(1, ge=0, description="Keep at most this many consecutive blank lines.")


class LangIdConfig(StrictModel):
    """fastText lid.176 language identification."""

    enabled: bool = True
    mode: Literal["filter", "tag"] = Field(
        "filter", description="'filter' rejects other languages and low scores; 'tag' only labels."
    )
    languages: list[str] = Field(default_factory=lambda: ["ja", "en"], min_length=1)
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="Minimum fastText probability.")
    min_score_by_lang: dict[str, float] = Field(
        default_factory=dict, description="Per-language minimum score, overriding min_score."
    )
    ja_script_check: bool = Field(
        True,
        description="Japanese must contain kana: kanji-only (Chinese) text labelled 'ja' is "
        "rejected as langid.ja_without_kana.",
    )
    min_kana_fraction: float = Field(
        0.05, ge=0.0, le=1.0, description="Minimum kana share of the CJK characters for 'ja'."
    )
    model: str = Field(
        "pkg:resources/lid.176.ftz",
        description="fastText model path (shipped in the package; or an object-store URL).",
    )
    max_chars: int = Field(
        2000, ge=100, description="Characters of each document given to fastText (head of the text)."
    )

    @field_validator("min_score_by_lang")
    @classmethod
    def _check_scores(cls, v: dict[str, float]) -> dict[str, float]:
        for k, s in v.items():
            if not 0.0 <= s <= 1.0:
                raise ValueError(f"score for {k!r} must be in [0, 1], got {s}")
        return v


class StagesConfig(StrictModel):
    urls: UrlFilterConfig = Field(default_factory=UrlFilterConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    langid: LangIdConfig = Field(default_factory=LangIdConfig)
    filters: FilterStageConfig = Field(default_factory=FilterStageConfig)
    decontam: DecontamStageConfig = Field(default_factory=DecontamStageConfig)  # benchmark decontamination
    dedup: DedupStageConfig = Field(default_factory=DedupStageConfig)
    dsir: DsirStageConfig = Field(default_factory=DsirStageConfig)  # issue #10: after dedup
    mixture: MixtureStageConfig = Field(default_factory=MixtureStageConfig)


# --------------------------------------------------------------------------------------------
# Output, limits, whole config
# --------------------------------------------------------------------------------------------


class OutputConfig(StrictModel):
    shard_max_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Upper bound of UTF-8 text bytes per output shard."
    )
    row_group_rows: int = Field(10_000, ge=1, description="Maximum rows per Parquet row group.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    compression_level: int = Field(3, ge=1, le=22)
    signals_as_columns: bool = Field(
        False, description="Write each quality signal as its own column (else a JSON 'signals' column)."
    )
    write_rejected_text: bool = Field(True, description="Include the text of rejected documents.")


class LimitsConfig(StrictModel):
    max_doc_chars: int = Field(
        2_000_000, ge=1, description="Longer documents are rejected (reason input.too_long), never truncated."
    )
    max_error_rate: float = Field(
        0.01, ge=0.0, le=1.0, description="Fail the run when errors / input records exceed this."
    )
    strict: bool = Field(False, description="Fail at the first malformed record.")
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
    # >>> runner section (issue #6, owner: runners): how to run, not what; not in config_hash >>>
    runner: RunnerConfig = Field(default_factory=RunnerConfig,
                                 description="Beam runner and options; the CLI overrides them.")
    # <<< runner section <<<

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
        data = {k: v for k, v in self.to_jsonable().items() if k != "runner"}  # issue #6: runner excluded
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


# --------------------------------------------------------------------------------------------
# Loading, overrides, error messages
# --------------------------------------------------------------------------------------------


def resolve_path(path: str) -> str:
    """Resolve ``pkg:`` paths inside the package; leave URLs and other paths as given."""
    if path.startswith(PKG_PREFIX):
        return str(PACKAGE_DIR / path[len(PKG_PREFIX) :])
    return path


def is_remote(path: str) -> bool:
    return path.startswith(REMOTE_SCHEMES)


def _parse_scalar(raw: str) -> Any:
    """Parse an override value as YAML (so 0.8 is a float, [ja, en] a list, true a bool)."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply Hydra/OmegaConf-style dotted overrides: ``stages.langid.min_score=0.8``.

    List items are addressed by index (``sources.0.paths=[a.jsonl]``) or, for sources, by name
    (``sources.wiki.priority=2``).
    """
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"override {ov!r}: expected KEY=VALUE, e.g. stages.langid.min_score=0.8")
        key, raw = ov.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override {ov!r}: empty key")
        node: Any = data
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                idx = _list_index(node, part, where)
                if last:
                    node[idx] = _parse_scalar(raw)
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = _parse_scalar(raw)
                else:
                    if node.get(part) is None:
                        node[part] = {}
                    node = node[part]
            else:
                raise ConfigError(f"override {ov!r}: {where!r} is not a mapping or list")
    return data


def _list_index(node: list[Any], part: str, where: str) -> int:
    if part.isdigit():
        idx = int(part)
        if idx >= len(node):
            raise ConfigError(f"override key {where!r}: index {idx} out of range (list has {len(node)} items)")
        return idx
    for j, item in enumerate(node):
        if isinstance(item, dict) and item.get("name") == part:
            return j
    names = [str(item.get("name")) for item in node if isinstance(item, dict)]
    raise ConfigError(f"override key {where!r}: no item named {part!r} (names: {', '.join(names)})")


def _model_at(loc: tuple[Any, ...]) -> type[StrictModel] | None:
    """Walk the model tree along an error location to find the model that owns the last key."""
    model: Any = PipelineConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        ann = fields[part].annotation
        model = _unwrap_model(ann)
        if model is None:
            return None
    return model if hasattr(model, "model_fields") else None


def _unwrap_model(ann: Any) -> Any:
    if hasattr(ann, "model_fields"):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        m = _unwrap_model(arg)
        if m is not None:
            return m
    return None


def format_validation_error(err: ValidationError, origin: str = "config") -> str:
    """One line per problem: dotted key, what is wrong, and the allowed keys or values."""
    lines = [f"{origin}: {err.error_count()} problem(s)"]
    for e in err.errors():
        loc = tuple(e.get("loc", ()))
        key = ".".join(str(p) for p in loc) or "(top level)"
        etype = e.get("type", "")
        if etype == "extra_forbidden":
            owner = _model_at(loc)
            allowed = ", ".join(owner.model_fields) if owner is not None else "?"
            lines.append(f"  {key}: unknown key; allowed keys here: {allowed}")
        elif etype == "missing":
            lines.append(f"  {key}: required key is missing")
        elif etype == "literal_error":
            expected = (e.get("ctx") or {}).get("expected", "")
            lines.append(f"  {key}: {e.get('input')!r} is not allowed; allowed values: {expected}")
        else:
            lines.append(f"  {key}: {e.get('msg')} (got {e.get('input')!r})")
    return "\n".join(lines)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: list[str] | None = None,
    data: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
    check_inputs: bool = True,
) -> PipelineConfig:
    """Load, override and validate a config. Raises :class:`ConfigError` with a clear message.

    Args:
        path: YAML file (parsed with ``yaml.safe_load``: nothing in it is evaluated).
        overrides: dotted ``KEY=VALUE`` overrides applied before validation.
        data: an already-parsed config dict (instead of ``path``).
        inputs: ``--input`` globs: replace the config's sources with one JSONL/Parquet source.
        check_inputs: verify that every source glob matches at least one file.
    """
    origin = str(path) if path is not None else "config"
    if data is None:
        if path is None:
            raise ConfigError("no config given")
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{origin}: not valid YAML: {exc}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: top level must be a mapping, got {type(data).__name__}")
    else:
        data = json.loads(json.dumps(data))
    if inputs:
        template = (data.get("sources") or [{}])[0] if isinstance(data.get("sources"), list) else {}
        src: dict[str, Any] = {"name": "input", "paths": list(inputs)}
        if isinstance(template, dict) and "fields" in template:
            src["fields"] = template["fields"]
        data["sources"] = [src]
        _drop_source_keyed_settings(data, {"input"})
    if overrides:
        data = apply_overrides(data, overrides)
    import_plugins(data.get("plugins") or [])
    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin)) from None
    check_stage_consistency(cfg)
    if check_inputs:
        check_source_paths(cfg)
    return cfg


def check_stage_consistency(cfg: PipelineConfig) -> None:
    """Cross-stage checks that need the whole config (before any data is read).

    An impossible mixture (a group no document can reach, a per-source setting for a source
    that does not exist) and a tokenizer file that does not load are config errors.
    """
    dd = cfg.stages.dedup
    if dd.enabled and dd.earlier_indexes:  # incremental dedup: same settings as the earlier runs
        from corpusflow.dedup.index import DedupIndexError, check_settings, read_meta, settings_of

        try:
            for path in dd.earlier_indexes:
                check_settings(read_meta(path)["settings"], settings_of(dd, dd.seed if dd.seed is not None
                                                                        else cfg.seed), path)
        except DedupIndexError as exc:
            raise ConfigError(f"stages.dedup.earlier_indexes: {exc}") from None
    mix = cfg.stages.mixture
    if not mix.enabled:
        return
    from corpusflow.mixture.config import check_against_pipeline

    problems = list(check_against_pipeline(mix, cfg))
    try:
        from corpusflow.mixture.tokenizers import load_tokenizer

        load_tokenizer(mix.tokenizer)
    except Exception as exc:
        problems.append(f"stages.mixture.tokenizer: cannot load {getattr(mix.tokenizer, 'path', mix.tokenizer)!r}: "
                        f"{type(exc).__name__}: {exc}")
    if problems:
        raise ConfigError("config: the mixture cannot work with this pipeline\n  " + "\n  ".join(problems))


def _drop_source_keyed_settings(data: dict[str, Any], names: set[str]) -> None:
    """``--input`` replaces the sources: per-source mixture settings for the old ones no longer apply."""
    import logging

    mix = (data.get("stages") or {}).get("mixture") or {}
    per_source = mix.get("sources") if isinstance(mix, dict) else None
    if isinstance(per_source, dict):
        dropped = sorted(k for k in per_source if str(k).split("/", 1)[0] not in names)
        for k in dropped:
            del per_source[k]
        if dropped:
            logging.getLogger(__name__).warning(
                "--input replaces the config's sources: ignoring stages.mixture.sources settings for %s",
                ", ".join(dropped))


def import_plugins(names: Any) -> None:
    """Import the plugin modules a config names (and only those), e.g. to register filters."""
    import importlib

    if not isinstance(names, list):
        raise ConfigError("plugins: must be a list of module names")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", name):
            raise ConfigError(f"plugins.{i}: {name!r} is not a module name")
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"plugins.{i}: cannot import {name!r}: {type(exc).__name__}: {exc}") from None


def expand_glob(pattern: str) -> list[str]:
    """Expand a local or remote glob into a sorted list of files."""
    pattern = resolve_path(pattern)
    if is_remote(pattern):
        from corpusflow.io.filesystems import match_remote  # Beam FileSystems, imported lazily

        return match_remote(pattern)
    return sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))


def check_source_paths(cfg: PipelineConfig) -> dict[str, list[str]]:
    """Every glob must match at least one file; returns the files per source."""
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    for i, s in enumerate(cfg.sources):
        files: list[str] = []
        for j, pat in enumerate(s.paths):
            try:
                matched = expand_glob(pat)
            except Exception as exc:  # remote listing errors
                problems.append(f"  sources.{i}.paths.{j}: cannot list {pat!r}: {exc}")
                continue
            if not matched:
                problems.append(f"  sources.{i}.paths.{j}: no file matches {pat!r} (source {s.name!r})")
            files.extend(matched)
        found[s.name] = sorted(dict.fromkeys(files))
    if problems:
        raise ConfigError("config: input files missing\n" + "\n".join(problems))
    return found
