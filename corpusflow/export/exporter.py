"""Export the training shards of a finished run to Megatron-LM indexed datasets or JSONL.

``export_run(options)`` reads ``RUN/manifest.json``, checks every ``data/`` shard against the
sha256 the manifest lists, reads the shards in order (rows in shard order: the run's global
shuffle) and writes one dataset per shard, per mixture group or per source:

* ``megatron``: ``NAME.bin``/``NAME.idx`` (:mod:`corpusflow.export.megatron`), one document per
  training row, each ended by the end-of-document token; ``data_path.txt`` holds Megatron's
  ``--data-path`` value (``tokens prefix tokens prefix ...``: each dataset weighted by the
  tokens it holds, so a blend reads every dataset in proportion and reproduces the mixture's
  shares). Token ids come from the tokenizer the run counted with (same file, same sha256,
  same encode call): each document's id count must equal the ``n_tokens`` the run recorded
  (less one when the count included an EOS); a mismatch fails the export. After writing,
  every dataset is read back (:class:`~corpusflow.export.megatron.IndexedDataset`): document
  count, token count and every document's length equal what the Parquet rows recorded, and
  every document ends with the end-of-document token.
  Training rows written with ``stages.mixture.count.keep_token_ids`` carry the ids of the
  run's counting pass (``token_ids``): those are exported as they are (the text is not read and
  nothing is tokenised again), under the same checks; ``export.json`` says which
  (``token_ids_from``: ``stored``, ``tokenizer`` or ``both`` when only some shards had them).
* ``jsonl``: ``NAME.jsonl.zst`` (or ``.gz``, or plain) with the training rows
  (:mod:`corpusflow.export.jsonl`), optionally with their ``token_ids``.

``OUTPUT/export.json`` records the options, the tokenizer, per-dataset documents, tokens,
tokens per group and source, file sizes and sha256, the checks and the speed. The data files
are a function of (run, options): the same run exported twice gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpusflow.export import jsonl as jsonl_fmt
from corpusflow.export import megatron as mg
from corpusflow.export.tokens import TokenLookupError, encode_batch, flatten, frame, special_info
from corpusflow.mixture.tokenizers import load_tokenizer

log = logging.getLogger(__name__)

FORMATS = ("megatron", "jsonl")
PER = ("shard", "group", "source")
EXPORT_META = "export.json"
DATA_PATH_FILE = "data_path.txt"
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")


class ExportError(RuntimeError):
    """The run cannot be exported as asked (exit code 2), or the export failed a check (1)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class ExportOptions:
    run_dir: str
    output: str
    format: str = "megatron"
    per: str = "shard"
    tokenizer: str | None = None
    allow_other_tokenizer: bool = False
    eod: str | None = None
    add_bos: bool = False
    bos: str | None = None
    compression: str = "zst"
    token_ids: bool = False
    batch_rows: int = 1024
    threads: int = 0
    prefix_root: str | None = None
    overwrite: bool = False


@dataclass
class _Dataset:
    name: str
    writer: Any
    expected_lengths: list[np.ndarray] = field(default_factory=list)
    tokens_by_group: dict[str, int] = field(default_factory=dict)
    tokens_by_source: dict[str, int] = field(default_factory=dict)
    documents_by_group: dict[str, int] = field(default_factory=dict)


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        hint = " (the run is not finished: _IN_PROGRESS is there)" if (Path(run_dir) / "_IN_PROGRESS").exists() else ""
        raise ExportError(f"{path}: no manifest; not a finished corpusflow run{hint}", usage=True)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def group_of_cells(manifest: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``(source, lang) -> group`` from the mixture plan (cells without a group are absent)."""
    out: dict[tuple[str, str], str] = {}
    for c in (manifest.get("mixture") or {}).get("cells", []):
        if c.get("group"):
            out[(c["source"], c["lang"])] = c["group"]
    return out


def recorded_tokenizer_spec(manifest: dict[str, Any]) -> Any:
    """The tokenizer spec of the run's mixture config (``config.stages.mixture`` of a pipeline run,
    ``config.mixture`` of a ``corpusflow mix`` output), or None."""
    cfg = manifest.get("config") or {}
    mixture_cfg = ((cfg.get("stages") or {}).get("mixture") or cfg.get("mixture") or {})
    return mixture_cfg.get("tokenizer")


def _safe_name(name: str) -> str:
    return _SAFE.sub("_", name) or "_"


def _resolve_tokenizer(opts: ExportOptions, manifest: dict[str, Any]) -> tuple[Any, dict[str, Any] | None, bool]:
    """``(tokenizer, recorded tokenizer info or None, counts comparable)``."""

    mixture = manifest.get("mixture") or {}
    recorded = mixture.get("tokenizer")
    if opts.tokenizer is None:
        spec = recorded_tokenizer_spec(manifest)
        if recorded is None or spec is None:
            raise ExportError("this run has no mixture, so no tokenizer is recorded: give --tokenizer", usage=True)
        if isinstance(spec, dict) and opts.threads:
            spec = {**spec, "threads": opts.threads}
    else:
        spec = opts.tokenizer
    try:
        tok = load_tokenizer(spec)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ExportError(f"cannot load tokenizer {spec!r}: {exc}", usage=True) from None
    if opts.threads:
        tok.threads = opts.threads
    if recorded is None:
        return tok, None, False
    if tok.sha256 != recorded["sha256"]:
        if not opts.allow_other_tokenizer:
            raise ExportError(
                f"tokenizer {tok.name} (sha256 {tok.sha256[:12]}…) is not the one the run counted with: "
                f"{recorded['name']} (sha256 {recorded['sha256'][:12]}…); give --tokenizer {recorded['name']} "
                "or --allow-other-tokenizer (token counts then differ from the manifest)", usage=True)
        return tok, recorded, False
    return tok, recorded, True


def _iter_shard_batches(path: Path, columns: list[str] | None, batch_rows: int) -> Iterator[dict[str, Any]]:
    """Column lists of ``batch_rows`` rows at a time (``columns=None``: every column, in order)."""
    import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used

    pf = pq.ParquetFile(str(path), memory_map=True)
    names = pf.schema_arrow.names
    present = names if columns is None else [c for c in columns if c in names]
    for batch in pf.iter_batches(batch_size=batch_rows, columns=present):
        yield {c: _stored_ids(batch.column(i)) if c == TOKEN_IDS else batch.column(i).to_pylist()
               for i, c in enumerate(present)}


TOKEN_IDS = "token_ids"


def _stored_ids(col: Any) -> tuple[np.ndarray, np.ndarray]:
    """A ``token_ids`` column (list<uint32>) as ``(all ids as int64, length of each row)``."""
    offsets = col.offsets.to_numpy()
    values = col.values.to_numpy(zero_copy_only=False)[offsets[0]:offsets[-1]]
    return values.astype(np.int64), np.diff(offsets).astype(np.int64)


def _has_stored_ids(path: Path) -> bool:
    import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used

    return TOKEN_IDS in pq.read_schema(str(path)).names


def _dataset_key(per: str, shard_stem: str, group: str, source: str) -> str:
    if per == "shard":
        return shard_stem
    if per == "group":
        return group
    return source


@dataclass
class _Encoding:
    """How rows become tokens: the tokenizer, special tokens, dtype and how far recorded counts compare."""

    need_tokens: bool
    tok: Any = None
    recorded: dict[str, Any] | None = None
    comparable: bool = False
    eod: dict[str, Any] | None = None
    bos: dict[str, Any] | None = None
    count_mode: str | None = None
    exact_counts: bool = False
    counted_eos: int = 0
    dtype: np.dtype[Any] | None = None


@dataclass
class _Tally:
    """What reading, encoding and writing the shards counted."""

    rows_total: int = 0
    tokens_exported: int = 0
    recorded_tokens: int = 0
    count_diff: int = 0
    t_encode: float = 0.0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    #: documents whose ids came from the shards' ``token_ids`` / from the tokenizer
    docs_stored_ids: int = 0
    docs_tokenized: int = 0


def _check_run(opts: ExportOptions) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """Decide whether the options and the run allow an export; returns the run, its manifest and its shards."""
    if opts.format not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}", usage=True)
    if opts.per not in PER:
        raise ExportError(f"--per must be one of {', '.join(PER)}", usage=True)
    run = Path(opts.run_dir)
    manifest = load_manifest(run)
    if manifest.get("status") not in (None, "complete"):
        raise ExportError(f"{run}: run status is {manifest.get('status')!r}, not complete", usage=True)
    shards = list((manifest.get("outputs") or {}).get("data") or [])
    if not shards:
        raise ExportError(f"{run}: the manifest lists no data/ shards", usage=True)
    return run, manifest, shards


def _resolve_encoding(opts: ExportOptions, manifest: dict[str, Any]) -> _Encoding:
    """Decide the tokenizer, EOD/BOS tokens and dtype, and whether per-document counts must match exactly."""
    mixture = manifest.get("mixture") or {}
    enc = _Encoding(need_tokens=opts.format == "megatron" or opts.token_ids)
    if enc.need_tokens:
        enc.tok, enc.recorded, enc.comparable = _resolve_tokenizer(opts, manifest)
        try:
            enc.eod = special_info(enc.tok, opts.eod, "eod")
            if opts.add_bos:
                enc.bos = special_info(enc.tok, opts.bos, "bos")
        except TokenLookupError as exc:
            raise ExportError(str(exc), usage=True) from None
    enc.count_mode = (mixture.get("count") or {}).get("mode")
    enc.exact_counts = enc.comparable and enc.count_mode == "exact"
    enc.counted_eos = int(bool(enc.recorded and enc.recorded.get("add_eos")))
    enc.dtype = mg.optimal_dtype(enc.tok.vocab_size) if enc.tok is not None else None
    return enc


def _prepare_output(opts: ExportOptions) -> Path:
    """Decide whether the output directory may be written (clearing an earlier export with --overwrite)."""
    out = Path(opts.output)
    if out.exists() and any(out.iterdir()):
        if not opts.overwrite:
            raise ExportError(f"{out} exists and is not empty (use --overwrite)", usage=True)
        _clear_export_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _verified_shards(run: Path, shards: list[dict[str, Any]]) -> list[Path]:
    """Decide whether every listed shard exists with the sha256 the manifest records; returns their paths."""
    shard_files = []
    for s in shards:
        path = run / "data" / s["file"]
        if not path.is_file():
            raise ExportError(f"{path}: listed in the manifest but missing")
        digest = sha256_file(path)
        if s.get("sha256") and digest != s["sha256"]:
            raise ExportError(f"{path}: sha256 {digest[:12]}… differs from the manifest's {s['sha256'][:12]}…")
        shard_files.append(path)
    return shard_files


def _dataset_opener(opts: ExportOptions, out: Path, enc: _Encoding,
                    datasets: dict[str, _Dataset]) -> Callable[[str], _Dataset]:
    """Decide the dataset (and its writer, opened on first use) that a key's rows go to."""
    suffix = jsonl_fmt.SUFFIX[opts.compression] if opts.format == "jsonl" else ""

    def dataset(key: str) -> _Dataset:
        ds = datasets.get(key)
        if ds is None:
            name = _safe_name(key)
            if any(d.name == name for d in datasets.values()):
                raise ExportError(f"two datasets would both be named {name!r}; rename a group or source")
            if opts.format == "megatron":
                writer: Any = mg.IndexedDatasetWriter(out / name, enc.dtype)  # type: ignore[arg-type]
            else:
                writer = jsonl_fmt.JsonlWriter(out / f"{name}{suffix}", opts.compression)
            ds = datasets[key] = _Dataset(name, writer)
        return ds

    return dataset


def _export_batch(opts: ExportOptions, enc: _Encoding, groups: dict[tuple[str, str], str],
                  dataset: Callable[[str], _Dataset], path: Path, b: dict[str, list[Any]], tally: _Tally) -> bool:
    """Decide each row's dataset, encode and route the batch; False when too many counts mismatch to go on."""
    stem = path.name.split(".")[0]
    n = len(b["id"])
    tally.rows_total += n
    langs = [lang or "und" for lang in (b.get("lang") or ["und"] * n)]
    sources = b["source"]
    group_names = [groups.get((s, la), la if not groups else "") for s, la in zip(sources, langs, strict=True)]
    keys = [_dataset_key(opts.per, stem, g or "_ungrouped", s)
            for g, s in zip(group_names, sources, strict=True)]
    n_tok_rec = b.get("n_tokens")
    lengths = flat = None
    id_lists: Sequence[Any] | None = None
    stored = b.pop(TOKEN_IDS, None)
    if stored is not None and enc.comparable:  # the counting pass's ids, from the tokenizer file the export uses
        flat, lengths = stored
        tally.docs_stored_ids += n
        if opts.format == "jsonl":
            id_lists = np.split(flat, np.cumsum(lengths)[:-1]) if n else []
        if n_tok_rec is not None and not _compare_counts(enc, path, b, sources, n_tok_rec, lengths, tally):
            return False
    elif enc.need_tokens:
        te = time.perf_counter()
        id_lists = encode_batch(enc.tok, b["text"])
        tally.t_encode += time.perf_counter() - te
        tally.docs_tokenized += n
        flat, lengths = flatten(id_lists)
        if n_tok_rec is not None and not _compare_counts(enc, path, b, sources, n_tok_rec, lengths, tally):
            return False
    if opts.format == "megatron":
        assert flat is not None and lengths is not None
        framed, flens = frame(flat, lengths, enc.eod["id"] if enc.eod else None, enc.bos["id"] if enc.bos else None)
        tally.tokens_exported += int(flens.sum())
        _route_megatron(dataset, keys, framed, flens, group_names, sources,
                        n_tok_rec if enc.exact_counts else None, enc.counted_eos, enc.bos is not None)
    else:
        _route_jsonl(dataset, keys, b, id_lists, group_names, sources)
    return True


def _compare_counts(enc: _Encoding, path: Path, b: dict[str, list[Any]], sources: list[str],
                    n_tok_rec: list[Any], lengths: np.ndarray, tally: _Tally) -> bool:
    """Decide whether the encoded lengths match the recorded counts; False once five documents mismatch."""
    rec = np.asarray(n_tok_rec, dtype=np.int64)
    tally.recorded_tokens += int(rec.sum())
    diff = lengths - (rec - enc.counted_eos)
    tally.count_diff += int(diff.sum())
    mismatches = tally.mismatches
    if enc.exact_counts and diff.any():
        for i in np.flatnonzero(diff)[: 5 - len(mismatches)]:
            mismatches.append({"shard": path.name, "id": b["id"][i], "source": sources[i],
                               "recorded": int(rec[i]), "encoded": int(lengths[i])})
        if len(mismatches) >= 5:
            return False
    return True


def _write_datasets(opts: ExportOptions, enc: _Encoding, groups: dict[tuple[str, str], str],
                    dataset: Callable[[str], _Dataset], datasets: dict[str, _Dataset],
                    shard_files: list[Path], tally: _Tally) -> dict[str, dict[str, Any]]:
    """Decide each dataset's content: every shard read, encoded and written in order (writers aborted on error)."""
    try:
        for path in shard_files:
            columns = None if opts.format == "jsonl" else ["id", "text", "source", "lang", "n_tokens"]
            if columns is not None and enc.comparable and _has_stored_ids(path):
                columns = ["id", "source", "lang", "n_tokens", TOKEN_IDS]  # no text: nothing to tokenise
            for b in _iter_shard_batches(path, columns, opts.batch_rows):
                if not _export_batch(opts, enc, groups, dataset, path, b, tally):
                    break
            if len(tally.mismatches) >= 5:
                break
        if tally.mismatches:
            raise ExportError(
                "token ids do not match the counts the run recorded (same tokenizer file, so the "
                f"data or the tokenizer library changed): {tally.mismatches}")
        return {key: ds.writer.close() for key, ds in sorted(datasets.items())}
    except BaseException:
        for ds in datasets.values():
            ds.writer.abort()
        raise


def _dataset_entries(opts: ExportOptions, out: Path, enc: _Encoding, datasets: dict[str, _Dataset],
                     infos: dict[str, dict[str, Any]], problems: list[str]) -> list[dict[str, Any]]:
    """Decide what export.json says of each dataset, reading each back (problems are appended)."""
    entries = []
    for key, ds in sorted(datasets.items()):
        info = infos[key]
        entry: dict[str, Any] = {"name": ds.name, "key": key, "documents": info["records"] if opts.format == "jsonl"
                                 else info["documents"]}
        if opts.format == "megatron":
            entry["prefix"] = ds.name
            entry["tokens"] = info["tokens"]
            entry["files"] = {}
            for p in (mg.bin_path(out / ds.name), mg.idx_path(out / ds.name)):
                entry["files"][Path(p).name] = {"bytes": os.path.getsize(p), "sha256": sha256_file(p)}
            problems += _read_back(out / ds.name, ds, info, enc.eod["id"] if enc.eod else None,
                                   enc.bos["id"] if enc.bos else None, enc.dtype)
        else:
            entry["file"] = Path(info["path"]).name
            entry["bytes"] = info["bytes"]
            entry["bytes_uncompressed"] = info["bytes_uncompressed"]
            entry["sha256"] = sha256_file(info["path"])
            problems += _read_back_jsonl(Path(info["path"]), info["records"])
        entry["documents_by_group"] = dict(sorted(ds.documents_by_group.items()))
        entry["tokens_by_group"] = dict(sorted(ds.tokens_by_group.items()))
        entry["tokens_by_source"] = dict(sorted(ds.tokens_by_source.items()))
        entries.append(entry)
    return entries


def _export_checks(opts: ExportOptions, enc: _Encoding, manifest: dict[str, Any], shards: list[dict[str, Any]],
                   entries: list[dict[str, Any]], tally: _Tally, problems: list[str]) -> dict[str, Any]:
    """Decide whether rows and tokens add up to what the run recorded (problems are appended)."""
    mixture = manifest.get("mixture") or {}
    rows_total, recorded_tokens, tokens_exported = tally.rows_total, tally.recorded_tokens, tally.tokens_exported
    exact_counts = enc.exact_counts
    checks: dict[str, Any] = {}
    expected_rows = sum(int(s.get("rows", 0)) for s in shards)
    checks["rows_equal_manifest"] = rows_total == expected_rows == sum(e["documents"] for e in entries)
    if not checks["rows_equal_manifest"]:
        problems.append(f"rows: read {rows_total}, manifest {expected_rows}, exported "
                        f"{sum(e['documents'] for e in entries)}")
    if mixture.get("totals") and enc.need_tokens and enc.comparable:
        checks["recorded_tokens_equal_manifest"] = recorded_tokens == mixture["totals"]["tokens"]
        if not checks["recorded_tokens_equal_manifest"]:
            problems.append(f"the shards' n_tokens add up to {recorded_tokens}, the manifest says "
                            f"{mixture['totals']['tokens']}")
    if opts.format == "megatron":
        per_doc = int(enc.eod is not None) + int(enc.bos is not None) - enc.counted_eos
        checks["tokens_equal_recorded_plus_special"] = (
            tokens_exported == recorded_tokens + per_doc * rows_total if exact_counts else None)
        if exact_counts and not checks["tokens_equal_recorded_plus_special"]:
            problems.append(f"exported {tokens_exported} tokens, expected {recorded_tokens} + {per_doc} x {rows_total}")
        checks["read_back"] = not any(p.startswith("read-back") for p in problems)
    else:
        checks["read_back"] = not any(p.startswith("read-back") for p in problems)
    checks["per_document_counts_equal_recorded"] = (not tally.mismatches) if exact_counts else None
    if enc.need_tokens and not exact_counts:
        checks["encoded_minus_recorded_tokens"] = tally.count_diff
    return checks


def _add_format_fields(report: dict[str, Any], opts: ExportOptions, out: Path, enc: _Encoding,
                       entries: list[dict[str, Any]], tally: _Tally, t_write: float) -> None:
    """Decide the report's tokenizer and format fields, and write data_path.txt for Megatron."""
    tok = enc.tok
    tokens_exported = tally.tokens_exported
    if opts.format == "megatron":
        assert tok is not None and enc.dtype is not None
        report["tokenizer"] = {**tok.info(), "threads": tok.threads}
        report["tokenizer_recorded"] = enc.recorded
        report["count_mode"] = enc.count_mode
        report["eod"] = enc.eod
        report["bos"] = enc.bos
        report["dtype"] = enc.dtype.name
        report["tokens"] = tokens_exported
        report["tokens_per_second"] = round(tokens_exported / t_write, 1) if t_write > 0 else None
        root = opts.prefix_root if opts.prefix_root is not None else str(out.resolve())
        weights = [(e["tokens"], _join_prefix(root, e["prefix"])) for e in entries]
        line = mg.data_path_args(weights)
        report["data_path"] = line
        report["data_path_shares"] = {e["prefix"]: round(e["tokens"] / tokens_exported, 6) if tokens_exported else 0.0
                                      for e in entries}
        (out / DATA_PATH_FILE).write_text(line + "\n", encoding="utf-8")
    elif tok is not None:
        report["tokenizer"] = {**tok.info(), "threads": tok.threads}
    if opts.format == "jsonl":
        report["compression"] = opts.compression
    if enc.need_tokens or tally.docs_stored_ids:
        report["token_ids_from"] = ("both" if tally.docs_stored_ids and tally.docs_tokenized
                                    else "stored" if tally.docs_stored_ids else "tokenizer")
        report["documents_tokenized"] = tally.docs_tokenized
        report["documents_with_stored_ids"] = tally.docs_stored_ids


def export_run(opts: ExportOptions) -> dict[str, Any]:
    """Export ``opts.run_dir`` to ``opts.output``; returns (and writes) the export report."""
    run, manifest, shards = _check_run(opts)
    groups = group_of_cells(manifest)
    if opts.per == "group" and not groups:
        log.info("no mixture groups in this run: --per group groups by language")
    enc = _resolve_encoding(opts, manifest)
    out = _prepare_output(opts)  # prepared only now: a usage error above leaves it untouched

    t0 = time.perf_counter()
    shard_files = _verified_shards(run, shards)
    t_hash = time.perf_counter() - t0

    datasets: dict[str, _Dataset] = {}
    dataset = _dataset_opener(opts, out, enc, datasets)
    tally = _Tally()
    t1 = time.perf_counter()
    infos = _write_datasets(opts, enc, groups, dataset, datasets, shard_files, tally)
    t_write = time.perf_counter() - t1

    t2 = time.perf_counter()
    problems: list[str] = []
    entries = _dataset_entries(opts, out, enc, datasets, infos, problems)
    t_check = time.perf_counter() - t2
    checks = _export_checks(opts, enc, manifest, shards, entries, tally, problems)

    seconds = time.perf_counter() - t0
    report: dict[str, Any] = {
        "format": opts.format,
        "per": opts.per,
        "run": {"path": str(run.resolve()), "name": manifest.get("name"), "config_hash": manifest.get("config_hash"),
                "shards": [{k: s.get(k) for k in ("file", "rows", "sha256")} for s in shards]},
        "options": {k: v for k, v in asdict(opts).items() if k not in ("run_dir", "output", "overwrite")},
        "rows": tally.rows_total,
        "datasets": entries,
        "checks": checks,
        "problems": problems,
        "seconds": {"total": round(seconds, 3), "hash_inputs": round(t_hash, 3), "read_encode_write": round(t_write, 3),
                    "encode": round(tally.t_encode, 3), "read_back": round(t_check, 3)},
    }
    _add_format_fields(report, opts, out, enc, entries, tally, t_write)
    (out / EXPORT_META).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if problems:
        raise ExportError("export failed its checks:\n  " + "\n  ".join(problems))
    return report


def _join_prefix(root: str, name: str) -> str:
    return name if not root else root.rstrip("/") + "/" + name


def _clear_export_dir(out: Path) -> None:
    """Remove what an earlier export wrote (only its own kinds of files)."""
    for p in out.iterdir():
        if p.is_file() and (p.suffix in (".bin", ".idx", ".tmp") or p.name in (EXPORT_META, DATA_PATH_FILE)
                            or ".jsonl" in p.name):
            p.unlink()
    if any(out.iterdir()):
        raise ExportError(f"{out} holds files that are not an export's; choose another --output", usage=True)


def _route_megatron(dataset: Any, keys: list[str], framed: np.ndarray,
                    flens: np.ndarray, group_names: list[str], sources: list[str],
                    n_tok_rec: list[int] | None, counted_eos: int, with_bos: bool) -> None:
    """Append documents to their datasets, consecutive runs of one key in one call."""
    ends = np.cumsum(flens)
    starts = ends - flens
    extra = (1 - counted_eos) + int(with_bos)
    i = 0
    n = len(keys)
    while i < n:
        j = i
        while j < n and keys[j] == keys[i]:
            j += 1
        ds = dataset(keys[i])
        ds.writer.add_documents(framed[starts[i] : ends[j - 1]], flens[i:j])
        # expected lengths from the rows' recorded counts (independent of the encoding)
        if n_tok_rec is not None:
            ds.expected_lengths.append(np.asarray(n_tok_rec[i:j], dtype=np.int64) + extra)
        else:
            ds.expected_lengths.append(np.asarray(flens[i:j], dtype=np.int64))
        for k in range(i, j):
            g = group_names[k] or "_ungrouped"
            ds.tokens_by_group[g] = ds.tokens_by_group.get(g, 0) + int(flens[k])
            ds.documents_by_group[g] = ds.documents_by_group.get(g, 0) + 1
            ds.tokens_by_source[sources[k]] = ds.tokens_by_source.get(sources[k], 0) + int(flens[k])
        i = j


def _route_jsonl(dataset: Any, keys: list[str], b: dict[str, list[Any]], id_lists: Sequence[Any] | None,
                 group_names: list[str], sources: list[str]) -> None:
    cols = list(b)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for i, key in enumerate(keys):
        row = {c: b[c][i] for c in cols}
        by_key.setdefault(key, []).append(jsonl_fmt.record(row, id_lists[i] if id_lists is not None else None))
        ds = dataset(key)
        g = group_names[i] or "_ungrouped"
        ds.documents_by_group[g] = ds.documents_by_group.get(g, 0) + 1
        nt = b.get("n_tokens")
        if nt is not None:
            ds.tokens_by_group[g] = ds.tokens_by_group.get(g, 0) + int(nt[i])
            ds.tokens_by_source[sources[i]] = ds.tokens_by_source.get(sources[i], 0) + int(nt[i])
    for key, recs in by_key.items():
        dataset(key).writer.write_many(recs)


def _read_back(prefix: Path, ds: _Dataset, info: dict[str, Any], eod: int | None, bos: int | None,
               dtype: np.dtype[Any] | None) -> list[str]:
    """Re-open a written dataset with the format reader and compare it with what was written."""
    problems = []
    try:
        r = mg.IndexedDataset.open(prefix)
    except (OSError, ValueError) as exc:
        return [f"read-back {prefix.name}: {exc}"]
    expected = np.concatenate(ds.expected_lengths) if ds.expected_lengths else np.zeros(0, dtype=np.int64)
    if r.dtype != dtype:
        problems.append(f"read-back {prefix.name}: dtype {r.dtype}, expected {dtype}")
    if len(r) != info["documents"] or len(r.document_indices) != info["documents"] + 1:
        problems.append(f"read-back {prefix.name}: {len(r)} sequences, expected {info['documents']}")
    elif not np.array_equal(r.document_indices, np.arange(len(r) + 1)):
        problems.append(f"read-back {prefix.name}: document boundaries are not one sequence per document")
    if r.tokens != info["tokens"]:
        problems.append(f"read-back {prefix.name}: {r.tokens} tokens, wrote {info['tokens']}")
    if not np.array_equal(r.sequence_lengths.astype(np.int64), expected):
        bad = int(np.flatnonzero(r.sequence_lengths.astype(np.int64) != expected)[0]) if len(expected) == len(r) else -1
        problems.append(f"read-back {prefix.name}: document lengths differ from the rows' n_tokens (first at {bad})")
    if len(r) and eod is not None:
        ends = r.sequence_pointers // r.dtype.itemsize + r.sequence_lengths.astype(np.int64) - 1
        if not np.all(r._bin[ends] == eod):
            problems.append(f"read-back {prefix.name}: a document does not end with the end-of-document token {eod}")
    if len(r) and bos is not None:
        firsts = r.sequence_pointers // r.dtype.itemsize
        if not np.all(r._bin[firsts] == bos):
            problems.append(f"read-back {prefix.name}: a document does not start with the BOS token {bos}")
    return problems


def _read_back_jsonl(path: Path, records: int) -> list[str]:
    n = sum(1 for _ in jsonl_fmt.read_jsonl(path))
    return [] if n == records else [f"read-back {path.name}: {n} records, wrote {records}"]
