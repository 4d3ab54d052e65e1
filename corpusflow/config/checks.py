"""Launch-time checks that need the whole config, run before any data is read."""

from __future__ import annotations

from corpusflow.config.pipeline import PipelineConfig
from corpusflow.core.errors import ConfigError
from corpusflow.io.filesystems import expand_glob


def check_stage_consistency(cfg: PipelineConfig) -> None:
    """Cross-stage checks that need the whole config (before any data is read).

    An impossible mixture (a group no document can reach, a per-source setting for a source
    that does not exist) and a tokenizer file that does not load are config errors.
    """
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
