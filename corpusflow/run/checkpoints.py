"""Checkpoints of a run's per-range work, so that ``corpusflow run ... --resume`` redoes only what is left.

The unit of work is one input range (``(file, lo, hi)`` of :func:`corpusflow.io.readers.plan_ranges`).
For each range the job reads the records, makes ids unique, runs the per-document steps and
writes what came out, under the run directory (local path or object store, always through
:mod:`corpusflow.io.filesystems`)::

    OUTPUT/_work/checkpoints/checkpoint.json            what the checkpoints were made from (below)
    OUTPUT/_work/checkpoints/ids.json                   the id rename map, once known (limits.unique_ids)
    OUTPUT/_work/checkpoints/range-RID-ATTEMPT.docs.parquet      kept Documents   (DOC_SCHEMA,
                                                         + n_tokens when the range counts tokens)
    OUTPUT/_work/checkpoints/range-RID-ATTEMPT.rejected.parquet  Rejected records (REJECTED_SCHEMA)
    OUTPUT/_work/checkpoints/range-RID-ATTEMPT.errors.parquet    ErrorRecords     (ERROR_SCHEMA)
    OUTPUT/_work/checkpoints/range-RID.done.json         the completion marker, written last, atomically

``RID`` is a hash of the range (:func:`range_id`); ``ATTEMPT`` a fresh id per attempt, so a
retried or duplicated attempt never writes into another one's files: the marker names the files
of the attempt that completed (a file no marker names is ignored, and removed with the rest).
The data files are Parquet with the explicit schemas of the output tables
(:mod:`corpusflow.core.schemas`): no pickle, so another process or version can read them; the
marker is JSON with a ``format`` field and holds the range's counts (ledger, input records,
documents, file report). Only the marker says that a range is complete: a range killed half-way
has no marker and is computed again.

``checkpoint.json`` records the range plan (so a resumed run cuts the files exactly as the
first launch did, whatever its worker count) and a fingerprint of everything the checkpointed
results depend on (:func:`fingerprint`): the config sections that the read and the per-document
steps use, the corpusflow version and a hash of its code, and each input file's path and size.
A resume with any of them changed is refused, naming what changed (:func:`differences`).

Everything that depends on all ranges (the id rename map is recomputed from a cheap id-only
read; dedup clustering, the mixture plan, the shards) is computed again on resume; the outputs
are sorted by keyed hashes downstream, so a resumed run writes the same bytes as an
uninterrupted one. The checkpoints are removed when the manifest is written, unless the run was
started with ``--keep-checkpoints``; an interrupted or failed run keeps them.

No Beam here (:mod:`corpusflow.stages.ranges` wires it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpusflow import __version__
from corpusflow.config.pipeline import PipelineConfig
from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.core.schemas import (
    DOC_SCHEMA,
    ERROR_SCHEMA,
    REJECTED_SCHEMA,
    doc_row,
    error_row,
    rejected_row,
    row_to_document,
)
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.index import settings_of
from corpusflow.dedup.keep import RANK_WIDTH
from corpusflow.dedup.tables import NodeBatch
from corpusflow.io import filesystems as fs
from corpusflow.io.readers import FileSpec, local_size

#: ``OUTPUT/_work/checkpoints``.
CHECKPOINT_DIR = "checkpoints"
META_FILE = "checkpoint.json"
#: The id rename map and the id-only read's counts, saved once known (:func:`write_ids`).
IDS_FILE = "ids.json"
#: Version of the checkpoint layout (meta, markers, data files); another one is never resumed.
FORMAT = 1
#: Rows per Parquet row group of a checkpoint file (bounded memory when writing and reading).
ROW_GROUP_ROWS = 2000
#: Compression of the checkpoint files, written on every run and kept until the manifest (they
#: add to the output's peak disk): zstd level 3 (the outputs' level) made the documents files 22 %
#: smaller than level 1 for +0.3 CPU-s per 84 MB written (level 6: 29 %, +1.7 s; 9: 34 %, +3.4 s;
#: 100k-document bench corpus, bench/results/resume.json).
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3
#: A test hook, and nothing else: ``"launcher:N"`` or ``"self:N"`` makes the process that writes a
#: range's marker SIGKILL its launcher (``CORPUSFLOW_LAUNCHER_PID``) or itself once N markers
#: exist in the run directory (tests/test_resume.py kills runs at a known point with it).
TEST_KILL_ENV = "CORPUSFLOW_TEST_KILL_AFTER_RANGES"

#: Config sections whose values the per-range results depend on (``stages.*`` except the
#: collection stages after dedup, whose results are always recomputed).
_LIMITS_USED = ("max_doc_chars", "strict", "unique_ids")
_STAGES_NOT_USED = ("dsir", "mixture", "dedup")  # dedup: only what its signatures use (below)

Range = tuple[FileSpec, int, int | None]
Ranges = list[Range]


def checkpoint_dir(output: str) -> str:
    return fs.join(output, "_work", CHECKPOINT_DIR)


def range_id(spec: FileSpec, lo: int, hi: int | None) -> str:
    """A stable name for one range: 20 hex digits of blake2b over source, path and bounds."""
    key = json.dumps([spec.source, spec.path, lo, hi], ensure_ascii=False)
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def marker_path(ckdir: str, rid: str) -> str:
    return fs.join(ckdir, f"range-{rid}.done.json")


# ---------------------------------------------------------------------------------------------
# Fingerprint: what the checkpointed results depend on
# ---------------------------------------------------------------------------------------------


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def code_hash() -> str:
    """sha256 over the package's Python and YAML files (path + bytes) and the names and sizes of
    its other files (models, word lists): a change of code between launch and resume is seen even
    when the version number did not move."""
    root = os.path.dirname(os.path.abspath(__file__ + "/.."))
    h = hashlib.sha256()
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            h.update(rel.encode())
            if name.endswith((".py", ".yaml", ".yml", ".json")):
                with open(path, "rb") as f:
                    h.update(f.read())
            else:
                h.update(str(os.path.getsize(path)).encode())
    return h.hexdigest()[:16]


def signature_settings(cfg: DedupStageConfig, seed: int) -> dict[str, Any]:
    """What the dedup node rows of a document depend on: the signature settings
    (:func:`corpusflow.dedup.index.settings_of`) and the keep rule (their rank columns)."""
    return {**settings_of(cfg, seed), "keep": cfg.keep.model_dump(mode="json")}


def fingerprint(cfg: PipelineConfig, files: list[FileSpec]) -> dict[str, Any]:
    """Each thing the per-range results depend on, by name -> a short hash or value
    (compared part by part on resume, so a refusal can name what changed)."""
    data = cfg.to_jsonable()
    dd = cfg.stages.dedup
    parts: dict[str, Any] = {
        "corpusflow version": __version__,
        "corpusflow code": code_hash(),
        "seed": data["seed"],
        "sources": _digest(data["sources"]),
        "plugins": _digest(data.get("plugins")),
    }
    for name in _LIMITS_USED:
        parts[f"limits.{name}"] = data["limits"][name]
    if dd.enabled:
        parts["stages.dedup signatures"] = _digest(signature_settings(dd, dd.seed if dd.seed is not None else cfg.seed))
    # The ranges may count the mixture's tokens (stages/ranges.py ``tokens``; a marker says whether
    # they did): what the counts depend on (not the tokenizer's threads or batch size).
    tok = data["stages"]["mixture"].get("tokenizer") or {}
    parts["stages.mixture tokenizer"] = _digest({k: tok.get(k) for k in ("kind", "path", "add_eos")})
    for name, section in sorted(data["stages"].items()):
        if name not in _STAGES_NOT_USED:
            parts[f"stages.{name}"] = _digest(section)
    for f in files:
        parts[f"input {f.path}"] = {"source": f.source, "format": f.format, "size": local_size(f.path)}
    return parts


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two fingerprints, one phrase each (``stages.filters changed``...)."""
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append(f"{key} is gone" if key.startswith("input ") else f"{key} was removed")
        elif key not in old:
            out.append(f"{key} is new" if key.startswith("input ") else f"{key} was added")
        elif old[key] != new[key]:
            if key.startswith("input "):
                out.append(f"{key} changed ({_short(old[key])} -> {_short(new[key])})")
            elif key == "corpusflow version" or key.startswith("limits.") or key == "seed":
                out.append(f"{key} changed ({old[key]} -> {new[key]})")
            else:
                out.append(f"{key} changed")
    return out


def _short(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {v[k]}" for k in ("size", "format", "source") if k in v)
    return str(v)


# ---------------------------------------------------------------------------------------------
# The checkpoint meta file and the launcher's side
# ---------------------------------------------------------------------------------------------


def _range_json(r: Range) -> list[Any]:
    spec, lo, hi = r
    return [{"source": spec.source, "path": spec.path, "file_key": spec.file_key, "format": spec.format}, lo, hi]


def range_from_json(x: list[Any]) -> Range:
    return FileSpec(**x[0]), int(x[1]), None if x[2] is None else int(x[2])


def write_meta(output: str, cfg: PipelineConfig, files: list[FileSpec], ranges: Ranges) -> None:
    doc = {"format": FORMAT, "created": time.time(), "fingerprint": fingerprint(cfg, files),
           "ranges": [_range_json(r) for r in ranges]}
    fs.write_bytes_atomic(fs.join(checkpoint_dir(output), META_FILE),
                          json.dumps(doc, ensure_ascii=False, indent=1).encode())


def read_meta(output: str) -> dict[str, Any] | None:
    path = fs.join(checkpoint_dir(output), META_FILE)
    if not fs.exists(path):
        return None
    return dict(json.loads(fs.read_bytes(path)))


class ResumeRefused(ValueError):
    """The checkpoints in the output cannot be used by this launch (what changed, in the message)."""


def resume_plan(output: str, cfg: PipelineConfig, files: list[FileSpec]) -> tuple[Ranges, int] | None:
    """(the range plan of the first launch, ranges already complete) for ``--resume``; None when
    the output holds no checkpoints (the run starts from nothing). Raises :class:`ResumeRefused`
    when the config, the code or the inputs changed in a way that changes checkpointed results."""
    meta = read_meta(output)
    if meta is None:
        return None
    if meta.get("format") != FORMAT:
        raise ResumeRefused(f"the checkpoints in {checkpoint_dir(output)} have format {meta.get('format')}, "
                            f"this corpusflow writes format {FORMAT}")
    changed = differences(meta.get("fingerprint") or {}, fingerprint(cfg, files))
    if changed:
        raise ResumeRefused("cannot resume: " + "; ".join(changed) + " since the checkpoints were written "
                            "(their results would differ); pass --overwrite to start the run over")
    ranges = [range_from_json(x) for x in meta["ranges"]]
    return ranges, count_done(output, ranges)


def count_done(output: str, ranges: Iterable[Range]) -> int:
    names = set(fs.list_dir(checkpoint_dir(output)))
    return sum(f"range-{range_id(*r)}.done.json" in names for r in ranges)


def write_ids(ckdir: str, renames: Iterable[tuple[tuple[str, int, int], str]], counts: dict[str, int]) -> None:
    """Save the id rename map (``(source, path hash, line) -> new id``) and the id-only read's
    documents per source, once known: a resumed run uses them instead of reading every input
    again for ids (they depend only on the inputs, which the fingerprint pins)."""
    doc = {"format": FORMAT, "renames": sorted([*place, new] for place, new in renames),
           "counts": dict(sorted(counts.items()))}
    fs.write_bytes_atomic(fs.join(ckdir, IDS_FILE), json.dumps(doc, ensure_ascii=False).encode())


def read_ids(output: str) -> dict[str, Any] | None:
    """The saved rename map of :func:`write_ids` (None when the run never got that far)."""
    path = fs.join(checkpoint_dir(output), IDS_FILE)
    if not fs.exists(path):
        return None
    doc = dict(json.loads(fs.read_bytes(path)))
    return doc if doc.get("format") == FORMAT else None


def renames_from_json(doc: dict[str, Any]) -> list[tuple[tuple[str, int, int], str]]:
    return [((src, int(fh), int(line)), new) for src, fh, line, new in doc["renames"]]


def remove_checkpoints(output: str) -> None:
    fs.remove_tree(checkpoint_dir(output))


# ---------------------------------------------------------------------------------------------
# The worker's side: writing and reading one range
# ---------------------------------------------------------------------------------------------


class _TableWriter:
    """Rows of one schema -> one Parquet file, in row groups of :data:`ROW_GROUP_ROWS`; the file
    is created with the first row (no file for no rows)."""

    def __init__(self, ckdir: str, name: str, schema: pa.Schema) -> None:
        self.name, self.path, self.schema = name, fs.join(ckdir, name), schema
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self._sink: Any = None
        self._writer: pq.ParquetWriter | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        if self._writer is None:
            self._sink = fs.open_write(self.path)
            self._writer = pq.ParquetWriter(self._sink, self.schema, compression=COMPRESSION,
                                            compression_level=COMPRESSION_LEVEL)
        self._writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.count += len(self.rows)
        self.rows = []

    def close(self) -> int:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
        return self.count

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
                self._sink.close()


def node_schema(width: int) -> pa.Schema:
    """The columns of a :class:`~corpusflow.dedup.tables.NodeBatch` (dedup node rows: id hash,
    rank, weight, id, MinHash signature of ``width`` values...), one row per document."""
    return pa.schema([
        pa.field("uid", pa.uint64(), nullable=False),
        pa.field("rank", pa.list_(pa.int64(), RANK_WIDTH), nullable=False),
        pa.field("weight", pa.int64(), nullable=False),
        pa.field("ids", pa.string(), nullable=False),
        pa.field("sig", pa.list_(pa.uint32(), width), nullable=False),
        pa.field("nperm", pa.int32(), nullable=False),
        pa.field("prof", pa.int16(), nullable=False),
        pa.field("salt", pa.uint64(), nullable=False),
        pa.field("scope", pa.uint64(), nullable=False),
        pa.field("dhi", pa.uint64(), nullable=False),
        pa.field("dlo", pa.uint64(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
    ])


def nodes_to_table(nb: NodeBatch) -> pa.Table:
    width = int(nb.sig.shape[1])
    cols = []
    for f in node_schema(width):
        v = getattr(nb, f.name)
        if f.name in ("rank", "sig"):
            cols.append(pa.FixedSizeListArray.from_arrays(pa.array(v.ravel(), f.type.value_type), v.shape[1]))
        elif f.name in ("ids", "file"):
            cols.append(pa.array(list(v), pa.string()))
        else:
            cols.append(pa.array(v, f.type))
    return pa.Table.from_arrays(cols, schema=node_schema(width))


def table_to_nodes(t: pa.Table) -> NodeBatch:
    n = t.num_rows
    cols: dict[str, Any] = {}
    for f in t.schema:
        col = t.column(f.name).combine_chunks()
        if f.name in ("rank", "sig"):
            cols[f.name] = col.flatten().to_numpy(zero_copy_only=False).reshape(n, f.type.list_size).copy()
        elif f.name in ("ids", "file"):
            cols[f.name] = np.array(col.to_pylist(), dtype=object)
        else:
            cols[f.name] = col.to_numpy(zero_copy_only=False).copy()
    return NodeBatch(**cols)


#: The checkpoint's documents with their token counts (:class:`RangeWriter` with ``tokens``).
DOC_TOKENS_SCHEMA = DOC_SCHEMA.append(pa.field("n_tokens", pa.int64(), nullable=False))


class RangeWriter:
    """Writes one range's checkpoint: its outcomes as they come, then :meth:`commit` the marker.

    With ``tokens`` each kept document is added with its token count (``add(doc, n_tokens)``),
    stored in an ``n_tokens`` column of the documents file (:func:`read_docs_with_tokens`)."""

    def __init__(self, ckdir: str, rid: str, tokens: bool = False) -> None:
        self.ckdir, self.rid = ckdir, rid
        base = f"range-{rid}-{uuid.uuid4().hex[:12]}"
        self.docs = _TableWriter(ckdir, f"{base}.docs.parquet", DOC_TOKENS_SCHEMA if tokens else DOC_SCHEMA)
        self.rejected = _TableWriter(ckdir, f"{base}.rejected.parquet", REJECTED_SCHEMA)
        self.errors = _TableWriter(ckdir, f"{base}.errors.parquet", ERROR_SCHEMA)
        self.nodes_name = f"{base}.nodes.parquet"
        self.nodes: NodeBatch | None = None

    def add(self, out: Document | Rejected | ErrorRecord, n_tokens: int | None = None) -> None:
        if out.__class__ is Document:
            row = doc_row(out)  # type: ignore[arg-type]
            if n_tokens is not None:
                row["n_tokens"] = n_tokens
            self.docs.add(row)
        elif out.__class__ is Rejected:
            self.rejected.add(rejected_row(out))  # type: ignore[arg-type]
        else:
            self.errors.add(error_row(out))  # type: ignore[arg-type]

    def commit(self, info: dict[str, Any]) -> dict[str, Any]:
        """Close the data files and write the marker (atomically, last): the range is complete.
        Returns the marker."""
        files = {}
        for kind, w in (("docs", self.docs), ("rejected", self.rejected), ("errors", self.errors)):
            n = w.close()
            if n:
                files[kind] = {"file": w.name, "rows": n}
        if self.nodes is not None and len(self.nodes):
            with fs.open_write(fs.join(self.ckdir, self.nodes_name)) as f:
                pq.write_table(nodes_to_table(self.nodes), f, compression=COMPRESSION,
                               compression_level=COMPRESSION_LEVEL)
            files["nodes"] = {"file": self.nodes_name, "rows": len(self.nodes)}
        marker = {"format": FORMAT, "range": self.rid, "files": files, **info}
        fs.write_bytes_atomic(marker_path(self.ckdir, self.rid), json.dumps(marker, ensure_ascii=False).encode())
        _test_kill(self.ckdir)
        return marker

    def abort(self) -> None:
        for w in (self.docs, self.rejected, self.errors):
            w.abort()


def read_marker(ckdir: str, rid: str) -> dict[str, Any] | None:
    """The marker of a completed range, or None (not complete, or written in another format)."""
    path = marker_path(ckdir, rid)
    if not fs.exists(path):
        return None
    marker = dict(json.loads(fs.read_bytes(path)))
    return marker if marker.get("format") == FORMAT and marker.get("range") == rid else None


def _rows(path: str) -> Iterator[dict[str, Any]]:
    with fs.open_read(path, compressed=False) as f:
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(batch_size=ROW_GROUP_ROWS):
            yield from batch.to_pylist()


def docs_path(ckdir: str, marker: dict[str, Any]) -> str | None:
    """The kept-documents file of a completed range (None when it kept none)."""
    entry = marker.get("files", {}).get("docs")
    return fs.join(ckdir, entry["file"]) if entry else None


def read_docs(path: str) -> Iterator[Document]:
    """The Documents of a checkpoint's documents file, rebuilt exactly as they were written."""
    for row in _rows(path):
        yield row_to_document(row)


def read_docs_with_tokens(path: str) -> Iterator[tuple[Document, int]]:
    """``(Document, n_tokens)`` of a documents file written with token counts."""
    for row in _rows(path):
        yield row_to_document(row), int(row["n_tokens"])


def read_range(ckdir: str, marker: dict[str, Any], *, docs: bool = True) -> Iterator[Document | Rejected | ErrorRecord]:
    """The outcomes of a completed range, rebuilt exactly as they were written (without the kept
    documents when ``docs`` is false)."""
    files = marker.get("files", {})
    if docs and "docs" in files:
        yield from read_docs(fs.join(ckdir, files["docs"]["file"]))
    if "rejected" in files:
        for row in _rows(fs.join(ckdir, files["rejected"]["file"])):
            yield Rejected(row_to_document(row), row["stage"], row["reason"], row["detail"])
    if "errors" in files:
        for row in _rows(fs.join(ckdir, files["errors"]["file"])):
            yield ErrorRecord(**row)


def read_nodes(ckdir: str, marker: dict[str, Any]) -> NodeBatch | None:
    """The dedup node rows of a completed range (None when it has none)."""
    entry = marker.get("files", {}).get("nodes")
    if entry is None:
        return None
    with fs.open_read(fs.join(ckdir, entry["file"]), compressed=False) as f:
        return table_to_nodes(pq.read_table(f))


def _test_kill(ckdir: str) -> None:
    """The :data:`TEST_KILL_ENV` hook (tests only): SIGKILL after N markers exist."""
    spec = os.environ.get(TEST_KILL_ENV)
    if not spec:
        return
    who, _, n = spec.partition(":")
    done = sum(name.endswith(".done.json") for name in fs.list_dir(ckdir))
    if done < int(n):
        return
    pid = int(os.environ.get("CORPUSFLOW_LAUNCHER_PID", os.getpid())) if who == "launcher" else os.getpid()
    os.kill(pid, signal.SIGKILL)
    if pid != os.getpid():
        time.sleep(60)  # the launcher is gone; this worker follows it (run/interrupt.follow_launcher)
