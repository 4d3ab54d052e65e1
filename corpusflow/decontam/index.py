"""The decontamination index: n-gram hashes of benchmark texts, built once, loaded by every worker.

Building (``corpusflow decontam-index``): every item of every benchmark gives one text per
mapped field (or one joined text, ``join_fields``); texts are normalised per language
(:mod:`corpusflow.decontam.ngrams`), texts shorter than one n-gram are skipped (the minimum
length rule), identical texts of one benchmark are stored once (JSQuAD has several questions per
context), and the distinct n-gram hashes of each text are collected. n-grams that occur in more
than ``max_segments_per_ngram`` different texts are dropped as boilerplate (instructions, answer
templates). This follows the n-gram overlap decontamination of GPT-3 (Brown et al. 2020,
appendix C) with the per-text overlap fraction of the Llama 2 contamination analysis (Touvron et
al. 2023, appendix A.6), with character n-grams for Japanese.

On disk (a directory, local or object storage)::

    DIR/index.json         format name, FORMAT_VERSION, settings, per-benchmark counts
    DIR/ngrams.parquet     scheme (0 char, 1 word), hash (uint64), segment (int32), sorted
    DIR/segments.parquet   segment, benchmark, item_id, n_items, field, lang, n_ngrams, text

:func:`load_index` refuses a directory of another format or version with a clear message.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpusflow.decontam.config import BenchmarkSpec, IndexBuildConfig, IndexSettings
from corpusflow.decontam.ngrams import SCHEME_OF_LANG, SCHEMES, ngram_hashes, unit_codes
from corpusflow.dedup.shingle import WordHasher
from corpusflow.io import filesystems as fs
from corpusflow.io.filesystems import expand_glob
from corpusflow.io.readers import get_field

FORMAT = "corpusflow.decontam-index"
FORMAT_VERSION = 1
META_FILE = "index.json"
NGRAMS_FILE = "ngrams.parquet"
SEGMENTS_FILE = "segments.parquet"

SEGMENT_SCHEMA = pa.schema([
    pa.field("segment", pa.int32(), nullable=False),
    pa.field("benchmark", pa.string(), nullable=False),
    pa.field("item_id", pa.string(), nullable=False),
    pa.field("n_items", pa.int32(), nullable=False),
    pa.field("field", pa.string(), nullable=False),
    pa.field("lang", pa.string(), nullable=False),
    pa.field("n_ngrams", pa.int32(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
])
NGRAM_SCHEMA = pa.schema([
    pa.field("scheme", pa.int8(), nullable=False),
    pa.field("hash", pa.uint64(), nullable=False),
    pa.field("segment", pa.int32(), nullable=False),
])


class DecontamIndexError(ValueError):
    """An index that cannot be used (missing, other format or version, unreadable benchmark file)."""


# ------------------------------------------------------------------------------------------------
# Reading benchmark files
# ------------------------------------------------------------------------------------------------


def _as_text(value: Any) -> str:
    """A field value as text: lists (choices) joined by newlines, numbers as written."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_as_text(v) for v in value if v is not None)
    if isinstance(value, dict):
        return "\n".join(_as_text(v) for v in value.values())
    return str(value)


def _format_of(path: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    low = path.lower()
    for ext in (".gz", ".zst", ".bz2", ".xz"):
        if low.endswith(ext):
            low = low[: -len(ext)]
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    if low.endswith((".csv", ".tsv")):
        return "csv"
    return "jsonl"


def read_records(path: str, fmt: str) -> Iterator[dict[str, Any]]:
    """Records of one benchmark file (JSONL, Parquet or CSV; compressed JSONL/CSV by extension)."""

    kind = _format_of(path, fmt)
    if kind == "parquet":
        yield from pq.read_table(io.BytesIO(fs.read_bytes(path))).to_pylist()
        return
    with fs.open_read(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="" if kind == "csv" else None)
        if kind == "csv":
            delim = "\t" if path.lower().split(".")[-1] == "tsv" or ".tsv." in path.lower() else ","
            yield from csv.DictReader(text, delimiter=delim)
            return
        for n, line in enumerate(text, start=1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    raise DecontamIndexError(f"{path}:{n}: not JSON: {exc}") from None
                if isinstance(rec, dict):
                    yield rec


def item_texts(spec: BenchmarkSpec, record: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, text)`` pairs of one benchmark record to index (one joined pair with ``join_fields``)."""
    pairs = [(f, _as_text(get_field(record, f))) for f in spec.fields]
    pairs = [(f, t) for f, t in pairs if t.strip()]
    if spec.join_fields and pairs:
        return [("+".join(f for f, _t in pairs), "\n".join(t for _f, t in pairs))]
    return pairs


# ------------------------------------------------------------------------------------------------
# The index
# ------------------------------------------------------------------------------------------------


@dataclass
class DecontamIndex:
    """Sorted n-gram hashes per scheme, with the segment (indexed text) each belongs to."""

    settings: IndexSettings
    keys: dict[str, np.ndarray]  # scheme -> sorted uint64 hashes (repeated when in several segments)
    segs: dict[str, np.ndarray]  # scheme -> int32 segment of each key
    segments: pa.Table  # SEGMENT_SCHEMA, row i = segment i
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.n_ngrams = self.segments.column("n_ngrams").to_numpy().astype(np.int64)
        self.benchmarks: list[str] = self.segments.column("benchmark").to_pylist()
        self.item_ids: list[str] = self.segments.column("item_id").to_pylist()
        self.fields: list[str] = self.segments.column("field").to_pylist()
        self.texts: list[str] = self.segments.column("text").to_pylist()
        self.n_items = self.segments.column("n_items").to_pylist()

    def n(self, scheme: str) -> int:
        return self.settings.ja_ngram_chars if scheme == "char" else self.settings.en_ngram_words

    @property
    def schemes(self) -> list[str]:
        return [s for s in SCHEMES if self.keys.get(s) is not None and self.keys[s].size]


def build_index(cfg: IndexBuildConfig, *, files: dict[str, list[str]] | None = None) -> DecontamIndex:
    """Build the index of ``cfg.benchmarks`` (``files``: benchmark -> resolved paths, else globbed)."""

    st = cfg.settings
    words = WordHasher()
    seg_rows: list[dict[str, Any]] = []
    seg_codes: list[np.ndarray] = []
    seen: dict[tuple[str, str, bytes], int] = {}
    stats: dict[str, Any] = {}
    for spec in cfg.benchmarks:
        scheme = SCHEME_OF_LANG[spec.lang]
        n = st.ja_ngram_chars if scheme == "char" else st.en_ngram_words
        min_len = st.min_chars_ja if scheme == "char" else st.min_words_en
        paths = files[spec.name] if files is not None else [p for pat in spec.paths for p in expand_glob(pat)]
        if not paths:
            raise DecontamIndexError(f"benchmark {spec.name!r}: no file matches {spec.paths}")
        b: dict[str, Any] = {"lang": spec.lang, "files": len(paths), "items": 0, "texts": 0, "too_short": 0,
                             "segments": 0}
        for path in paths:
            for rownum, rec in enumerate(read_records(path, spec.format)):
                b["items"] += 1
                raw_id = get_field(rec, spec.id) if spec.id else None
                item_id = str(raw_id) if raw_id is not None else f"{path.rsplit('/', 1)[-1]}:{rownum}"
                for fname, text in item_texts(spec, rec):
                    b["texts"] += 1
                    codes = unit_codes(text, scheme, words)
                    if codes.shape[0] < max(min_len, n):
                        b["too_short"] += 1
                        continue
                    key = (spec.name, fname, codes.tobytes())
                    sid = seen.get(key)
                    if sid is not None:
                        seg_rows[sid]["n_items"] += 1
                        continue
                    seen[key] = len(seg_rows)
                    seg_rows.append({"segment": len(seg_rows), "benchmark": spec.name, "item_id": item_id,
                                     "n_items": 1, "field": fname, "lang": spec.lang, "n_ngrams": 0,
                                     "text": text})
                    seg_codes.append(codes)
                    b["segments"] += 1
        stats[spec.name] = b
    keys: dict[str, np.ndarray] = {}
    segs: dict[str, np.ndarray] = {}
    dropped: dict[str, int] = {}
    for scheme in SCHEMES:
        n = st.ja_ngram_chars if scheme == "char" else st.en_ngram_words
        hs: list[np.ndarray] = []
        ss: list[np.ndarray] = []
        for sid, row in enumerate(seg_rows):
            if SCHEME_OF_LANG[row["lang"]] != scheme:
                continue
            h = np.unique(ngram_hashes(seg_codes[sid], n, scheme))
            hs.append(h)
            ss.append(np.full(h.shape[0], sid, dtype=np.int32))
        if not hs:
            continue
        h_all, s_all = np.concatenate(hs), np.concatenate(ss)
        _uniq, inv, counts = np.unique(h_all, return_inverse=True, return_counts=True)
        keep = counts[inv] <= st.max_segments_per_ngram
        dropped[scheme] = int((counts > st.max_segments_per_ngram).sum())
        h_all, s_all = h_all[keep], s_all[keep]
        order = np.lexsort((s_all, h_all))
        keys[scheme], segs[scheme] = h_all[order], s_all[order]
        per_seg = np.bincount(s_all, minlength=len(seg_rows))
        for sid, row in enumerate(seg_rows):
            if SCHEME_OF_LANG[row["lang"]] == scheme:
                row["n_ngrams"] = int(per_seg[sid])
    segments = pa.Table.from_pylist(seg_rows, schema=SEGMENT_SCHEMA)
    return DecontamIndex(settings=st, keys=keys, segs=segs, segments=segments,
                         stats={"benchmarks": stats, "boilerplate_ngrams_dropped": dropped,
                                "ngrams": {s: int(k.size) for s, k in keys.items()}})


def save_index(index: DecontamIndex, out_dir: str) -> dict[str, Any]:
    """Write the index under ``out_dir`` (local or URL); ``index.json`` last. Returns its content."""

    parts = []
    for code, scheme in enumerate(SCHEMES):
        if scheme in index.keys:
            k = index.keys[scheme]
            parts.append(pa.table({"scheme": pa.array(np.full(k.size, code, dtype=np.int8)),
                                   "hash": pa.array(k, pa.uint64()), "segment": pa.array(index.segs[scheme])},
                                  schema=NGRAM_SCHEMA))
    ngrams = pa.concat_tables(parts) if parts else NGRAM_SCHEMA.empty_table()
    fs.write_bytes_atomic(fs.join(out_dir, NGRAMS_FILE), _parquet_bytes(ngrams))
    fs.write_bytes_atomic(fs.join(out_dir, SEGMENTS_FILE), _parquet_bytes(index.segments))
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "settings": index.settings.model_dump(mode="json"),
            **index.stats}
    fs.write_bytes_atomic(fs.join(out_dir, META_FILE),
                          (json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode())
    return meta


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=1_000_000)
    return buf.getvalue()


def load_index(path: str) -> DecontamIndex:
    """Load an index directory written by :func:`save_index` (local or object storage)."""

    try:
        meta = json.loads(fs.read_bytes(fs.join(path, META_FILE)))
    except (OSError, ValueError) as exc:
        raise DecontamIndexError(f"{path} is not a decontamination index ({META_FILE} unreadable: {exc}); "
                          "build one with 'corpusflow decontam-index'") from None
    if meta.get("format") != FORMAT:
        raise DecontamIndexError(f"{path}: format {meta.get('format')!r} is not {FORMAT!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise DecontamIndexError(f"{path}: index format version {meta.get('version')} is not supported (this corpusflow "
                          f"reads version {FORMAT_VERSION}); rebuild it with 'corpusflow decontam-index'")
    settings = IndexSettings.model_validate(meta["settings"])
    ngrams = pq.read_table(io.BytesIO(fs.read_bytes(fs.join(path, NGRAMS_FILE))))
    segments = pq.read_table(io.BytesIO(fs.read_bytes(fs.join(path, SEGMENTS_FILE))))
    scheme_col = ngrams.column("scheme").to_numpy()
    hashes = ngrams.column("hash").to_numpy()
    seg = ngrams.column("segment").to_numpy()
    keys, segs = {}, {}
    for code, scheme in enumerate(SCHEMES):
        sel = scheme_col == code
        if sel.any():
            keys[scheme] = np.ascontiguousarray(hashes[sel])
            segs[scheme] = np.ascontiguousarray(seg[sel])
    stats = {k: v for k, v in meta.items() if k not in ("format", "version", "settings")}
    return DecontamIndex(settings=settings, keys=keys, segs=segs, segments=segments, stats=stats)
