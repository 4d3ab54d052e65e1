"""Config of the quality-filter stage.

Example (in a pipeline config)::

    stages:
      filters:
        enabled: true
        mode: filter                  # or "tag": keep every document, record signals and reasons
        profiles: {ja: ja_web, en: en_web}   # a shipped name (corpusflow/filters/profiles/) or a path
        overrides:                    # per language: {rule id: {param: value}}; "enabled" toggles
          ja:
            ja.hiragana_fraction: {min: 0.15}
            url.tld_whitelist: {enabled: true}
        keep_signals: true

Profiles are resolved and every rule name, parameter and override is validated when the config
is loaded, before any data is read; errors name the allowed rules or parameters. The resolved
profiles travel with the Beam transform, so workers never read profile files.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from corpusflow.core.model import StrictModel
from corpusflow.filters.base import FilterConfigError
from corpusflow.filters.profiles import apply_overrides, build_steps, load_profile


class FilterStageConfig(StrictModel):
    """Quality filters after language ID: one profile (rule chain) per language."""

    enabled: bool = Field(False, description="Run the quality-filter stage after language ID.")
    mode: Literal["filter", "tag"] = Field(
        "filter",
        description="'filter' drops a document at its first failing rule; 'tag' runs every rule, "
        "keeps every document and records all signals and failures (meta.filter_reasons).",
    )
    profiles: dict[str, str] = Field(
        default_factory=lambda: {"ja": "ja_web", "en": "en_web"},
        description="Language -> profile (shipped name such as ja_web, or a YAML path). Documents "
        "of languages without a profile pass unchanged; the key '*' is a fallback for all others.",
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Language -> {rule id: {param: value}}; the key 'enabled' switches a rule on/off.",
    )
    keep_signals: bool = Field(True, description="Store the measured signals in each document's signals.")

    _resolved: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("profiles")
    @classmethod
    def _check_profiles(cls, v: dict[str, str]) -> dict[str, str]:
        for lang, ref in v.items():
            if not lang or not ref:
                raise ValueError("profiles: language and profile must be non-empty")
        return v

    @model_validator(mode="after")
    def _resolve(self) -> FilterStageConfig:
        unknown = sorted(set(self.overrides) - set(self.profiles))
        if unknown:
            raise ValueError(
                f"overrides for {', '.join(unknown)}: no profile configured for that language "
                f"(profiles: {', '.join(sorted(self.profiles)) or 'none'})"
            )
        resolved: dict[str, Any] = {}
        for lang, ref in sorted(self.profiles.items()):
            try:
                prof = load_profile(ref)
                spec = apply_overrides(prof.spec, self.overrides.get(lang), f"overrides.{lang}")
                build_steps(spec, None if lang == "*" else lang, origin=prof.source)
            except FilterConfigError as exc:
                raise ValueError(f"profiles.{lang}: {exc}") from None
            resolved[lang] = {"ref": ref, "source": prof.source, "spec": spec.model_dump(mode="json")}
        self._resolved = resolved
        return self

    def resolved_profiles(self) -> dict[str, dict[str, Any]]:
        """Language -> {ref, source, spec}: validated profiles with overrides applied (JSON-able)."""
        return {k: dict(v) for k, v in self._resolved.items()}
