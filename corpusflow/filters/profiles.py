"""Filter profiles: named YAML lists of steps with their parameters.

A profile file looks like::

    name: ja_web
    description: ...
    languages: [ja]
    plugins: [my_team.filters]         # optional: modules that register extra rules
    filters:
      - name: ja.hiragana_fraction     # registry name
        params: {min: 0.2}             # validated against the rule's Params
      - name: url.tld_whitelist
        enabled: false                 # available, off
      - name: ja.ng_words
        id: ja.ng_custom               # a second instance needs its own id (reason prefix)
        params: {wordlist: pkg:...}

Profiles have one home, inside the package (``corpusflow/filters/profiles/NAME.yaml``), so they
are found from an installed package and on remote workers whatever the working directory. A
reference is resolved as follows: a bare name is a shipped profile; a path (``pkg:...``, anything
with ``/`` or a ``.yaml``/``.yml`` suffix) is read as given: copy a shipped profile to change it.

A profile's ``plugins:`` import Python code, so a pipeline config gates them like its own
top-level ``plugins:`` (:func:`corpusflow.config.load.load_config`): ``corpusflow run`` refuses a
profile that lists any unless given ``--allow-plugins``, and ``corpusflow validate`` never imports
them (:func:`plugins_skipped`: the rules they would register are then not checked). Outside a
config (the library API, ``eval-filters``, workers of a run that was allowed) a profile's
plugins are imported when its steps are built.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from corpusflow.core.model import StrictModel
from corpusflow.core.paths import resolve_path
from corpusflow.filters.base import FILTERS, FilterConfigError, Step
from corpusflow.filters.catalog import build_step, ensure_registered
from corpusflow.filters.chain import FilterChain

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


class StepSpec(StrictModel):
    """One entry of a profile's ``filters`` list."""

    name: str = Field(description="Registry name of the rule, e.g. ja.hiragana_fraction.")
    id: str | None = Field(None, description="Instance id (reason-code prefix); defaults to name.")
    enabled: bool = Field(True, description="False keeps the rule listed but off.")
    languages: list[str] | None = Field(None, description="Override the rule's languages.")
    params: dict[str, Any] = Field(default_factory=dict, description="Rule parameters.")

    @property
    def step_id(self) -> str:
        return self.id or self.name


class ProfileSpec(StrictModel):
    """A whole profile file."""

    name: str
    description: str = ""
    languages: list[str] = Field(default_factory=list, description="Languages the profile is meant for.")
    plugins: list[str] = Field(
        default_factory=list,
        description="Python modules imported before rule names are resolved; they register extra rules "
        "with corpusflow.filters.base.register (e.g. a URL blocklist or a quality-classifier rule).",
    )
    filters: list[StepSpec] = Field(default_factory=list)

    @field_validator("filters")
    @classmethod
    def _unique_ids(cls, v: list[StepSpec]) -> list[StepSpec]:
        seen: set[str] = set()
        for s in v:
            if s.step_id in seen:
                raise ValueError(f"step id {s.step_id!r} is used twice; give the second one an 'id'")
            seen.add(s.step_id)
        return v

    def ids(self) -> list[str]:
        return [s.step_id for s in self.filters]


@dataclass(frozen=True)
class ResolvedProfile:
    """A profile as loaded: where it came from and its validated spec."""

    ref: str
    source: str
    spec: ProfileSpec


def packaged_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def _is_path(ref: str) -> bool:
    return ref.startswith("pkg:") or "/" in ref or "\\" in ref or ref.endswith((".yaml", ".yml"))


def profile_path(ref: str) -> Path:
    """The file a profile reference points to (see the module docstring for the order)."""

    if _is_path(ref):
        p = Path(resolve_path(ref))
        if not p.is_file():
            raise FilterConfigError(f"filter profile file not found: {ref}")
        return p
    pkg = PROFILE_DIR / f"{ref}.yaml"
    if pkg.is_file():
        return pkg
    raise FilterConfigError(
        f"unknown filter profile {ref!r}; shipped profiles: {', '.join(packaged_profiles())} "
        f"(or give a path to a YAML file)"
    )


def parse_profile(data: Mapping[str, Any], origin: str = "profile") -> ProfileSpec:
    try:
        return ProfileSpec.model_validate(dict(data))
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            key = ".".join(str(x) for x in e.get("loc", ()))
            if e.get("type") == "extra_forbidden":
                owner = "filters entry" if "filters" in key else "profile"
                allowed = ", ".join(StepSpec.model_fields if owner == "filters entry" else ProfileSpec.model_fields)
                lines.append(f"  {key}: unknown key; allowed keys: {allowed}")
            else:
                lines.append(f"  {key}: {e.get('msg')}")
        raise FilterConfigError(f"{origin}: invalid filter profile\n" + "\n".join(lines)) from None


def load_profile(ref: str) -> ResolvedProfile:
    """Read and validate a profile (names of rules and parameters are checked by build_chain)."""
    path = profile_path(ref)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FilterConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise FilterConfigError(f"{path}: a filter profile must be a mapping")
    return ResolvedProfile(ref, str(path), parse_profile(data, str(path)))


def flatten_overrides(raw: Mapping[str, Any], ids: list[str], where: str = "overrides") -> dict[str, dict[str, Any]]:
    """Normalise overrides to ``{step id: {param: value}}``.

    Accepts the flat form ``{"ja.hiragana_fraction": {"min": 0.15}}`` and the nested form that
    dotted command-line overrides produce (``{"ja": {"hiragana_fraction": {"min": 0.15}}}``).
    The special key ``enabled`` switches a step on or off.
    """
    known = set(ids)
    out: dict[str, dict[str, Any]] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if key in known:
                if not isinstance(v, Mapping):
                    raise FilterConfigError(f"{where}.{key}: expected a mapping of parameters, got {v!r}")
                out.setdefault(key, {}).update(copy.deepcopy(dict(v)))
            elif isinstance(v, Mapping) and any(i.startswith(key + ".") for i in known):
                walk(v, key)
            else:
                raise FilterConfigError(f"{where}: no step {key!r} in the profile; steps: {', '.join(ids)}")

    walk(raw, "")
    return out


def apply_overrides(spec: ProfileSpec, overrides: Mapping[str, Any] | None, where: str = "overrides") -> ProfileSpec:
    """A copy of ``spec`` with parameter overrides merged in (validated later by build_chain)."""
    if not overrides:
        return spec
    flat = flatten_overrides(overrides, spec.ids(), where)
    new = spec.model_copy(deep=True)
    for s in new.filters:
        o = flat.get(s.step_id)
        if not o:
            continue
        o = dict(o)
        if "enabled" in o:
            en = o.pop("enabled")
            if not isinstance(en, bool):
                raise FilterConfigError(f"{where}.{s.step_id}.enabled: expected true or false, got {en!r}")
            s.enabled = en
        s.params = {**s.params, **o}
    return new


#: True while a config is validated without importing plugins (``corpusflow validate``).
_SKIP_PLUGINS: ContextVar[bool] = ContextVar("corpusflow_skip_profile_plugins", default=False)


@contextlib.contextmanager
def plugins_skipped() -> Iterator[None]:
    """Within this block, building a profile's steps imports none of its ``plugins:``; names of
    rules that are not registered are accepted unchecked in a profile that lists plugins."""
    token = _SKIP_PLUGINS.set(True)
    try:
        yield
    finally:
        _SKIP_PLUGINS.reset(token)


def profile_plugins(refs: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(language, profile file, modules) of every profile in ``refs`` (language -> reference)
    that lists ``plugins:``. Reads the profile files; imports nothing. References that do not
    resolve are left to the config's validation, which reports them."""
    out = []
    for lang, ref in sorted(refs.items()):
        if not isinstance(ref, str) or not ref:
            continue
        try:
            prof = load_profile(ref)
        except FilterConfigError:
            continue
        if prof.spec.plugins:
            out.append((str(lang), prof.source, list(prof.spec.plugins)))
    return out


def import_plugins(modules: list[str], origin: str = "profile") -> None:
    """Import plug-in modules (each registers its rules on import); nothing in
    :func:`plugins_skipped`."""

    if _SKIP_PLUGINS.get():
        return
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError as exc:
            raise FilterConfigError(f"{origin}: cannot import plug-in module {m!r}: {exc}") from None


def build_steps(spec: ProfileSpec, lang: str | None = None, *, origin: str = "") -> list[Step]:
    """Build the enabled steps of a profile that apply to ``lang`` (all when ``lang`` is None)."""
    ensure_registered()
    import_plugins(spec.plugins, origin or spec.name)
    steps: list[Step] = []
    problems: list[str] = []
    unchecked = _SKIP_PLUGINS.get() and bool(spec.plugins)
    for i, s in enumerate(spec.filters):
        where = f"{origin or spec.name}: filters[{i}] ({s.step_id})"
        if unchecked and s.name not in FILTERS.names():
            continue  # registered by a plugin that validation does not import
        try:
            step = build_step(s.name, s.params, id=s.id, languages=s.languages, where=where)
        except FilterConfigError as exc:
            problems.append(str(exc))
            continue
        if s.enabled and (lang is None or step.applies_to(lang)):
            steps.append(step)
    if problems:
        raise FilterConfigError("\n".join(problems))
    return steps


def build_chain(
    profile: str | ProfileSpec | ResolvedProfile,
    *,
    lang: str | None = None,
    mode: str = "filter",
    overrides: Mapping[str, Any] | None = None,
    exclude_categories: tuple[str, ...] = (),
) -> FilterChain:
    """Build a :class:`FilterChain` from a profile name, path or spec (not yet set up).

    Raises:
        FilterConfigError: unknown rule names, bad parameters, bad overrides.
    """
    if isinstance(profile, str):
        profile = load_profile(profile)
    spec = profile.spec if isinstance(profile, ResolvedProfile) else profile
    origin = profile.source if isinstance(profile, ResolvedProfile) else spec.name
    spec = apply_overrides(spec, overrides, f"overrides of {spec.name}")
    steps = build_steps(spec, lang, origin=origin)
    if exclude_categories:
        steps = [s for s in steps if s.category not in exclude_categories]
    return FilterChain(steps, mode=mode, name=spec.name)


def known_filters() -> list[str]:
    ensure_registered()
    return FILTERS.names()
