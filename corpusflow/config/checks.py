"""Launch-time checks that need the whole config, run before any data is read."""

from __future__ import annotations

import os

from corpusflow.config.pipeline import PipelineConfig
from corpusflow.core.errors import ConfigError
from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.dedup.index import DedupIndexError, check_settings, read_meta, settings_of
from corpusflow.io.filesystems import expand_glob
from corpusflow.mixture.config import check_against_pipeline
from corpusflow.mixture.tokenizers import load_tokenizer
from corpusflow.text.urlrules import rules_from_config


def launch_checks(cfg: PipelineConfig) -> None:
    """Every check that needs the whole config, run by ``validate`` and ``run`` before any data is read.

    Raises :class:`ConfigError` listing every problem found, each naming its key:

    * the language-ID model file exists (local paths; object-store URLs are read by the workers);
    * URL block lists load (``stages.urls``);
    * filter profiles resolve and build (``stages.filters.profiles``);
    * incremental dedup: every earlier index was built with the same dedup settings;
    * DSIR: ``k`` and one of ``model`` / ``fit`` are given, ``sources`` names existing sources,
      and a local model file or the fit's input files exist;
    * the mixture can work with this pipeline (a group some document can reach, per-source
      settings for existing sources) and its tokenizer loads.
    """
    problems: list[str] = []
    st = cfg.stages
    names = [s.name for s in cfg.sources]
    if st.langid.enabled:
        model = resolve_path(st.langid.model)
        if not is_remote(model) and not os.path.isfile(model):
            problems.append(f"stages.langid.model: file not found: {st.langid.model!r}")
    if st.urls.enabled and (st.urls.blocklist_files or st.urls.blocked_hosts or st.urls.tld_allowlist):
        try:
            rules_from_config(st.urls)
        except Exception as exc:
            problems.append(f"stages.urls: cannot load the URL lists: {type(exc).__name__}: {exc}")
    if st.filters.enabled:
        try:
            profiles = st.filters.resolved_profiles()
        except Exception as exc:
            problems.append(f"stages.filters.profiles: {exc}")
        else:
            problems += _missing_filter_lists(profiles)
    if st.dsir.enabled:
        problems += _dsir_problems(cfg, names)
    dd = st.dedup
    if dd.enabled and dd.earlier_indexes:  # incremental dedup: the earlier runs' settings must match
        seed = dd.seed if dd.seed is not None else cfg.seed
        for path in dd.earlier_indexes:
            try:
                check_settings(read_meta(path)["settings"], settings_of(dd, seed), path)
            except (DedupIndexError, OSError, KeyError, ValueError) as exc:
                problems.append(f"stages.dedup.earlier_indexes: {exc}")
    if st.mixture.enabled:
        problems += [f"stages.mixture: {p}" for p in check_against_pipeline(st.mixture, cfg)]
        try:
            load_tokenizer(st.mixture.tokenizer)
        except Exception as exc:
            path = getattr(st.mixture.tokenizer, "path", None) or str(st.mixture.tokenizer)
            problems.append(f"stages.mixture.tokenizer: cannot load {path!r}: {type(exc).__name__}: {exc}")
    if problems:
        raise ConfigError("config: " + str(len(problems)) + " problem(s) found before reading any data\n  "
                          + "\n  ".join(problems))


def _dsir_problems(cfg: PipelineConfig, names: list[str]) -> list[str]:
    d = cfg.stages.dsir
    out: list[str] = []
    if d.k is None or (d.model is None and d.fit is None):
        out.append("stages.dsir: k and one of model / fit are required")
    if d.sources is not None:
        unknown = sorted(set(d.sources) - set(names))
        if unknown:
            out.append(f"stages.dsir.sources: no pipeline source is called {', '.join(unknown)} "
                       f"(sources: {', '.join(names)})")
    if d.model is not None:
        m = resolve_path(str(d.model))
        if not is_remote(m) and not os.path.isfile(m):
            out.append(f"stages.dsir.model: file not found: {d.model!r}")
    if d.fit is not None:
        for key in ("target", "raw"):
            for j, pat in enumerate(getattr(d.fit, key)):
                if not expand_glob(pat):
                    out.append(f"stages.dsir.fit.{key}.{j}: no file matches {pat!r}")
    return out


#: Filter-rule parameters that name files the workers open (NG-word and keyword lists, the toxicity
#: lexicon, quality-classifier models). Any other string parameter naming an existing local file
#: counts too.
FILTER_PATH_PARAMS = ("wordlist", "wordlists", "context_words", "ordinary_words", "address_words", "lexicon", "model")
#: Of those, the word lists and lexicons: a local one must exist at launch (a model may be trained
#: after the config is written; its rule reports a missing file itself).
FILTER_LIST_PARAMS = ("wordlist", "wordlists", "context_words", "ordinary_words", "address_words", "lexicon")


def worker_paths(cfg: PipelineConfig) -> list[tuple[str, str]]:
    """``(config key, path)`` of every input, model, tokenizer and list the workers open themselves.

    These must be visible to every worker. Files read only by the launcher are not listed: the
    DSIR fit's target/raw files (fitted at launch, the model is shipped), filter profile YAMLs
    (resolved at launch) and the earlier dedup indexes' ``index.json`` (checked at launch; their
    Parquet rows are read by the workers, so the index directories are listed).
    """
    st = cfg.stages
    out: list[tuple[str, str]] = []
    for i, s in enumerate(cfg.sources):
        out += [(f"sources.{i}.paths.{j}", p) for j, p in enumerate(s.paths)]
    if st.urls.enabled:
        out += [(f"stages.urls.blocklist_files.{j}", p) for j, p in enumerate(st.urls.blocklist_files)]
        if st.urls.tld_allowlist:
            out.append(("stages.urls.tld_allowlist_file", st.urls.tld_allowlist_file))
    if st.langid.enabled:
        out.append(("stages.langid.model", st.langid.model))
    if st.filters.enabled:
        try:
            profiles = st.filters.resolved_profiles()
        except Exception:  # reported by launch_checks
            profiles = {}
        for lang, prof in sorted(profiles.items()):
            for rule in prof.get("spec", {}).get("filters", []):
                if rule.get("enabled", True):
                    out += _param_paths(f"stages.filters.profiles.{lang}: filter {rule.get('name')}", rule.get("params") or {})
    if st.decontam.enabled and st.decontam.index:
        out.append(("stages.decontam.index", st.decontam.index))
    if st.dedup.enabled:
        out += [(f"stages.dedup.earlier_indexes.{j}", p) for j, p in enumerate(st.dedup.earlier_indexes)]
    if st.dsir.enabled and st.dsir.model is not None and st.dsir.fit is None:
        out.append(("stages.dsir.model", str(st.dsir.model)))
    if st.mixture.enabled:
        path = getattr(st.mixture.tokenizer, "path", None)
        if path:
            out.append(("stages.mixture.tokenizer", str(path)))
    return out


def _missing_filter_lists(profiles: dict) -> list[str]:
    """A word list or lexicon named by an enabled rule of a profile that is not there (local and
    ``pkg:`` paths; object-store URLs are read by the workers)."""
    out = []
    for lang, prof in sorted(profiles.items()):
        for rule in prof.get("spec", {}).get("filters", []):
            if not rule.get("enabled", True):
                continue
            for name, value in (rule.get("params") or {}).items():
                for v in value if isinstance(value, list) else [value]:
                    if name in FILTER_LIST_PARAMS and isinstance(v, str):
                        path = resolve_path(v)
                        if not is_remote(path) and not os.path.isfile(path):
                            out.append(f"stages.filters.profiles.{lang}: filter {rule.get('name')} {name}: "
                                       f"file not found: {v!r}")
    return out


def _param_paths(where: str, params: dict) -> list[tuple[str, str]]:
    found = []
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str) and (name in FILTER_PATH_PARAMS or os.path.isfile(v)):
                found.append((f"{where} {name}", v))
    return found


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
