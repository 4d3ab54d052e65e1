"""Read a finished run directory for the report and the inspector (no Beam, no text by default).

What is read: ``manifest.json`` and only the small columns of the Parquet outputs (ids,
source, language, score, lengths, token counts, stage, reason, cluster fields), never the
text, so a report over millions of documents stays in memory. Text is read for the few
documents the inspector or the report's examples show (:func:`read_rows`).

Which files stand for the *kept* documents: ``pool/`` when the run has a mixture stage (every
document that survived filters and dedup, with ``n_tokens``), else ``data/``. With a mixture,
``data/`` is the training selection (``n_tokens`` and ``copy`` per row) and is read as
:attr:`RunData.train`.
"""

from __future__ import annotations

import bisect
import glob
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpusflow.core.paths import is_remote

MANIFEST = "manifest.json"
FAILED = "FAILED.json"

KEPT_COLUMNS = ("id", "source", "lang", "lang_score", "n_chars", "n_tokens", "metadata")
TRAIN_COLUMNS = ("id", "source", "lang", "n_chars", "n_tokens", "copy")
REJECTED_COLUMNS = ("id", "source", "lang", "lang_score", "n_chars", "stage", "reason")
DUPLICATE_COLUMNS = ("id", "source", "lang", "lang_score", "n_chars", "stage", "kept_id", "cluster_size",
                     "similarity")
ERROR_COLUMNS = ("source", "stage", "error_class", "message", "file", "offset", "offset_kind")

FILE_COLUMN = "__file"


class NotARunError(ValueError):
    """The directory is not a corpusflow output (no manifest.json)."""


@dataclass
class RunData:
    root: str
    manifest: dict[str, Any]
    kept: pa.Table | None
    kept_from: str
    train: pa.Table | None
    rejected: pa.Table | None
    duplicates: pa.Table | None
    errors: pa.Table | None

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest.get("config") or {}

    def stage_enabled(self, stage: str) -> bool | None:
        """``enabled`` of ``config.stages.<stage>``, or ``None`` when the config does not say."""
        st = (self.config.get("stages") or {}).get(stage)
        if isinstance(st, dict) and "enabled" in st:
            return bool(st["enabled"])
        return None


def load_manifest(root: str) -> dict[str, Any]:
    """``manifest.json`` of a finished run, else ``FAILED.json`` of a failed one."""
    for name in (MANIFEST, FAILED):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    if os.path.exists(os.path.join(root, "_IN_PROGRESS")):
        raise NotARunError(f"{root} is a run that has not finished (it has _IN_PROGRESS and no manifest.json)")
    raise NotARunError(f"{root} has no manifest.json: not a corpusflow output directory "
                       "(give the --output directory of 'corpusflow run')")


def parquet_files(root: str, sub: str) -> list[str]:
    return sorted(glob.glob(os.path.join(root, sub, "*.parquet")))


def read_columns(files: Sequence[str], columns: Iterable[str], *, with_file: bool = False) -> pa.Table | None:
    """Concatenate ``columns`` of ``files``; a column a file lacks becomes nulls (schemas differ:
    ``data/`` with a mixture has ``n_tokens`` but no ``lang_score``). ``None`` when no files."""
    if not files:
        return None
    columns = list(columns)
    tables = []
    types: dict[str, pa.DataType] = {}
    for f in files:
        schema = pq.read_schema(f)
        present = [c for c in columns if c in schema.names]
        t = pq.read_table(f, columns=present)
        for c in present:
            types.setdefault(c, t.schema.field(c).type)
        if with_file:
            t = t.append_column(FILE_COLUMN, pa.array([os.path.basename(f)] * t.num_rows, pa.string()))
        tables.append(t)
    names = [c for c in columns if c in types] + ([FILE_COLUMN] if with_file else [])
    fixed = []
    for t in tables:
        cols = []
        for c in names:
            typ = types.get(c, pa.string())
            if c in t.column_names:
                col = t.column(c)
                cols.append(col.cast(typ) if col.type != typ else col)
            else:
                cols.append(pa.nulls(t.num_rows, typ))
        fixed.append(pa.table(cols, names=names))
    return pa.concat_tables(fixed)


def _lang_score_from_metadata(table: pa.Table) -> pa.Table:
    """Training rows written before ``lang_score`` was a column kept it inside ``metadata`` (JSON)."""
    if "lang_score" in table.column_names and table.column("lang_score").null_count < table.num_rows:
        return table
    if "metadata" not in table.column_names or not pa.types.is_string(table.schema.field("metadata").type):
        return table
    scores = []
    for m in table.column("metadata").to_pylist():
        try:
            v = json.loads(m or "{}").get("lang_score")
        except ValueError:
            v = None
        scores.append(float(v) if isinstance(v, (int, float)) else None)
    arr = pa.array(scores, pa.float64())
    if "lang_score" in table.column_names:
        return table.set_column(table.column_names.index("lang_score"), "lang_score", arr)
    return table.append_column("lang_score", arr)


def load_run(root: str) -> RunData:
    """Manifest and small columns of every output of the run in ``root`` (a local directory)."""

    if is_remote(root):
        raise NotARunError(f"{root}: reports and inspection read a local directory; copy the run first "
                           "(e.g. 'gsutil -m cp -r' / 'aws s3 sync') or mount it")
    root = root.rstrip("/") or "/"
    manifest = load_manifest(root)
    pool = parquet_files(root, "pool")
    data = parquet_files(root, "data")
    has_mixture = bool(manifest.get("mixture")) or bool(pool)
    if has_mixture and pool:
        kept = read_columns(pool, KEPT_COLUMNS)
        kept_from = "pool"
        train = read_columns(data, TRAIN_COLUMNS, with_file=True)
    else:
        kept = read_columns(data, KEPT_COLUMNS)
        kept_from = "data"
        train = read_columns(data, TRAIN_COLUMNS, with_file=True) if has_mixture else None
    if kept is not None:
        kept = _lang_score_from_metadata(kept)
        if "metadata" in kept.column_names:
            kept = kept.drop_columns(["metadata"])
    return RunData(
        root=root,
        manifest=manifest,
        kept=kept,
        kept_from=kept_from,
        train=train,
        rejected=read_columns(parquet_files(root, "rejected"), REJECTED_COLUMNS),
        duplicates=read_columns(parquet_files(root, "duplicates"), DUPLICATE_COLUMNS),
        errors=read_columns(parquet_files(root, "errors"), ERROR_COLUMNS),
    )


def read_rows(files: Sequence[str], ids: Iterable[str], columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Full rows (text included) of the documents whose ``id`` is in ``ids``, from ``files``.

    Reads the ``id`` column first and then only the row groups that hold a wanted id, so
    fetching a handful of documents from large shards does not decode all their text.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return []
    value_set = pa.array(wanted, pa.string())
    out: list[dict[str, Any]] = []
    for f in files:
        pf = pq.ParquetFile(f)
        if "id" not in pf.schema_arrow.names:
            continue
        hit = pc.is_in(pf.read(columns=["id"]).column("id"), value_set=value_set)
        if not pc.any(hit).as_py():
            continue
        starts, n = [], 0
        for i in range(pf.num_row_groups):
            starts.append(n)
            n += pf.metadata.row_group(i).num_rows
        idx = pc.indices_nonzero(hit).to_pylist()
        groups = sorted({bisect.bisect_right(starts, i) - 1 for i in idx})
        t = pf.read_row_groups(groups, columns=list(columns) if columns else None)
        sel = t.filter(pc.is_in(t.column("id"), value_set=value_set))
        for row in sel.to_pylist():
            row[FILE_COLUMN] = os.path.basename(f)
            out.append(row)
    return out
