"""Loading a config: YAML parsed with ``yaml.safe_load``, dotted overrides, ``--input`` sources,
validation by pydantic, and one error line per bad key (see :func:`format_validation_error`).

Relative paths are resolved against the current working directory.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from corpusflow.config.checks import check_source_paths, launch_checks
from corpusflow.config.pipeline import PipelineConfig
from corpusflow.config.yamlsafe import excerpt, load_yaml
from corpusflow.core.errors import ConfigError
from corpusflow.core.model import StrictModel
from corpusflow.core.paths import PKG_PREFIX, resolve_path
from corpusflow.filters.config import FilterStageConfig
from corpusflow.filters.profiles import plugins_skipped, profile_plugins
from corpusflow.io.config import FieldMapping
from corpusflow.io.fields import describe, group_by_mapping
from corpusflow.io.filesystems import expand_glob
from corpusflow.io.readers import detect_format
from corpusflow.mixture.config import TOKENIZER_PRESETS


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


def _model_at(loc: tuple[Any, ...], root: type[StrictModel] = PipelineConfig) -> type[StrictModel] | None:
    """Walk the model tree along an error location to find the model that owns the last key."""
    model: Any = root
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


def format_validation_error(err: ValidationError, origin: str = "config", *,
                            root: type[StrictModel] = PipelineConfig, prefix: str = "") -> str:
    """One line per problem: dotted key, what is wrong, and the allowed keys or values.

    ``root`` is the model that was validated and ``prefix`` the dotted key it sits under in the
    file (``stages.mixture`` when a mixture section is validated on its own).
    """
    lines = [f"{origin}: {err.error_count()} problem(s)"]
    for e in err.errors():
        loc = tuple(e.get("loc", ()))
        key = ".".join([prefix, *(str(p) for p in loc)]).strip(".") or "(top level)"
        etype = e.get("type", "")
        if etype == "extra_forbidden":
            owner = _model_at(loc, root)
            allowed = ", ".join(owner.model_fields) if owner is not None else "?"
            lines.append(f"  {key}: unknown key; allowed keys here: {allowed}")
        elif etype == "missing":
            lines.append(f"  {key}: required key is missing")
        elif etype == "literal_error":
            expected = (e.get("ctx") or {}).get("expected", "")
            lines.append(f"  {key}: {excerpt(repr(e.get('input')), 120)} is not allowed; allowed values: {expected}")
        elif etype == "value_error":  # a validator's own message already says what was given
            lines.append(f"  {key}: {str(e.get('msg', '')).removeprefix('Value error, ')}")
        else:
            lines.append(f"  {key}: {e.get('msg')} (got {excerpt(repr(e.get('input')), 120)})")
    return "\n".join(lines)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: list[str] | None = None,
    data: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
    fields: dict[str, str | None] | None = None,
    check_inputs: bool = True,
    plugins: str = "refuse",
) -> PipelineConfig:
    """Load, override and validate a config. Raises :class:`ConfigError` with a clear message.

    Args:
        path: YAML file (parsed with ``yaml.safe_load``: nothing in it is evaluated); a ``pkg:``
            path names one shipped in the package (``pkg:configs/pipelines/demo.yaml``).
        overrides: dotted ``KEY=VALUE`` overrides applied before validation.
        data: an already-parsed config dict (instead of ``path``).
        inputs: ``--input`` globs (relative to the working directory): replace the config's
            sources with a source ``input`` whose field mapping is detected from the files (one
            source per distinct mapping: ``input``, ``input-2``, ...).
        fields: ``--fields`` (``{"id": ..., "text": ..., "url": ...}``): these names instead of
            detected ones for every ``--input`` file.
        check_inputs: verify that every source glob matches at least one file.
        plugins: what to do with the config's ``plugins:`` (Python modules that register extra
            filters): ``import`` them (``corpusflow run --allow-plugins``), ``refuse`` a config
            that lists any (the default: a config is data and never runs code unless asked), or
            ``skip`` them (``validate``: checks everything else, imports nothing).
    """
    origin = str(path) if path is not None else "config"
    if data is None:
        if path is None:
            raise ConfigError("no config given")
        p = Path(resolve_path(str(path)))  # pkg:configs/... names a config shipped in the package
        if not p.is_file():
            raise ConfigError(f"config file not found: {path}")
        data = load_yaml(p.read_text(encoding="utf-8"), origin)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: top level must be a mapping, got {type(data).__name__}")
        rebase_paths(data, p.resolve().parent)
    else:
        data = json.loads(json.dumps(data))
    if inputs:
        data["sources"] = input_sources(list(inputs), fields)
        _drop_source_keyed_settings(data, {s["name"] for s in data["sources"]})
    if overrides:
        data = apply_overrides(data, overrides)
    listed = data.get("plugins") or []
    in_profiles = _profile_plugins(data)
    if plugins == "import":
        import_plugins(listed, config_dir=str(Path(resolve_path(str(path))).resolve().parent) if path else None)
        for _lang, source, modules in in_profiles:
            import_plugins(modules, config_dir=str(Path(source).resolve().parent), where=f"{source}: plugins")
    elif plugins == "refuse" and (listed or in_profiles):
        if listed:
            raise ConfigError(f"{origin}: plugins: {listed!r} would import Python code; a config never runs "
                              "code unless you ask: pass --allow-plugins to corpusflow run")
        lines = [f"  filter profile {source} (stages.filters.profiles.{lang}) lists plugins: {modules!r}"
                 for lang, source, modules in in_profiles]
        raise ConfigError(f"{origin}: a filter profile would import Python code; a config never runs code "
                          "unless you ask: pass --allow-plugins to corpusflow run\n" + "\n".join(lines))
    with plugins_skipped() if plugins == "skip" else contextlib.nullcontext():
        try:
            cfg = PipelineConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, origin)) from None
    launch_checks(cfg)
    if check_inputs:
        check_source_paths(cfg)
    return cfg


# Config keys holding file paths ("*": every item of a list or value of a mapping). A relative
# path under one of them is relative to the config file's folder, as in any file that names files.
PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("sources", "*", "paths", "*"),
    ("stages", "urls", "blocklist_files", "*"),
    ("stages", "urls", "tld_allowlist_file"),
    ("stages", "langid", "model"),
    ("stages", "filters", "profiles", "*"),
    ("stages", "dsir", "model"),
    ("stages", "dsir", "fit", "target", "*"),
    ("stages", "dsir", "fit", "raw", "*"),
    ("stages", "mixture", "tokenizer"),
    ("stages", "mixture", "tokenizer", "path"),
)


def _is_relative_file(key: tuple[str, ...], value: str) -> bool:
    if not value or value.startswith(PKG_PREFIX) or "://" in value or os.path.isabs(value):
        return False
    if key[-1] == "tokenizer":  # a preset name, or a model file
        return value not in TOKENIZER_PRESETS
    if key[1:3] == ("filters", "profiles"):  # a shipped profile name, or a file
        return "/" in value or value.endswith((".yaml", ".yml"))
    return True


def rebase_paths(data: dict[str, Any], base: Path) -> None:
    """Make the relative paths of a config (see :data:`PATH_KEYS`) relative to ``base`` in place.

    ``pkg:`` paths, URLs and absolute paths are left as they are.
    """

    def walk(node: Any, key: tuple[str, ...], rest: tuple[str, ...]) -> Any:
        if not rest:
            if isinstance(node, str) and _is_relative_file(key, node):
                return os.path.normpath(os.path.join(base, node))
            return node
        head, tail = rest[0], rest[1:]
        if head == "*":
            if isinstance(node, list):
                return [walk(v, key, tail) for v in node]
            if isinstance(node, dict):
                return {k: walk(v, key, tail) for k, v in node.items()}
            return node
        if isinstance(node, dict) and head in node:
            node[head] = walk(node[head], (*key, head), tail)
        return node

    for path_key in PATH_KEYS:
        walk(data, (), path_key)


def _readable_format(path: str) -> bool:
    try:
        detect_format(path)
    except ValueError:
        return False
    return True


def input_sources(globs: list[str], fields: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """The sources that replace a config's sources for ``--input``: field mappings per file.

    Every file's field names are detected (or taken from ``fields``); files that share a mapping
    share a source. The mapping used is logged, one line per source.
    """
    files: list[str] = []
    for pat in globs:
        try:
            files.extend(expand_glob(pat))
        except Exception as exc:  # remote listing errors: reported by check_source_paths
            logging.getLogger(__name__).debug("cannot list %s: %s", pat, exc)
    files = [f for f in dict.fromkeys(files) if _readable_format(f)]  # others: refused by the input plan
    try:
        groups = group_by_mapping(files, fields)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--input: cannot read the first record to detect field names: {exc}") from None
    log = logging.getLogger("corpusflow.input")
    if len(groups) <= 1:
        mapping = groups[0][0] if groups else FieldMapping(**(fields or {}))  # type: ignore[arg-type]
        log.info("--input fields: %s (%d file(s))", describe(mapping), len(files))
        return [{"name": "input", "paths": list(globs), "fields": mapping.model_dump()}]
    sources = []
    for i, (mapping, paths) in enumerate(groups):
        name = "input" if i == 0 else f"input-{i + 1}"
        names = ", ".join(os.path.basename(f) for f in paths[:3]) + (", ..." if len(paths) > 3 else "")
        log.info("--input fields for source %s: %s (%d file(s): %s)", name, describe(mapping), len(paths), names)
        sources.append({"name": name, "paths": paths, "fields": mapping.model_dump()})
    return sources


def _drop_source_keyed_settings(data: dict[str, Any], names: set[str]) -> None:
    """``--input`` replaces the sources: per-source mixture settings for the old ones no longer apply."""

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


def _profile_plugins(data: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(language, profile file, modules) of the filter profiles of ``data`` that list plugins
    (the stage's default profiles when it names none). Reads profile files, imports nothing."""
    stages = data.get("stages")
    filters = stages.get("filters") if isinstance(stages, dict) else None
    refs = filters.get("profiles") if isinstance(filters, dict) else None
    if refs is None:
        refs = FilterStageConfig.model_fields["profiles"].get_default(call_default_factory=True)
    return profile_plugins(refs) if isinstance(refs, dict) else []


def import_plugins(names: Any, config_dir: str | None = None, where: str = "plugins") -> None:
    """Import the plugin modules a config names (and only those), e.g. to register filters.

    A plugin is a module of the project or of an installed package, found on the import path;
    a ``.py`` file lying beside the config itself is refused (a shared config must not be able to
    bring its own code).
    """

    if not isinstance(names, list):
        raise ConfigError(f"{where}: must be a list of module names")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", name):
            raise ConfigError(f"{where}.{i}: {name!r} is not a module name")
        spec = importlib.util.find_spec(name.split(".")[0])
        origin = getattr(spec, "origin", None) if spec is not None else None
        if config_dir and origin and os.path.dirname(os.path.abspath(origin)) == config_dir:
            raise ConfigError(f"{where}.{i}: {name!r} is a file beside the config ({origin}); plugins must "
                              "be modules of the project or of an installed package")
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"{where}.{i}: cannot import {name!r}: {type(exc).__name__}: {exc}") from None
