"""``corpusflow export --format jsonl``: the rows round-trip (same ids, texts, metadata), token ids
equal the Megatron export's, deterministic bytes for every compression."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from corpusflow.core.schemas import metadata_struct
from corpusflow.export import megatron as mg
from corpusflow.export.exporter import ExportOptions, export_run
from corpusflow.export.jsonl import JsonlWriter, read_jsonl, record
from corpusflow.mixture.pool import TRAIN_SCHEMA
from tests.export_run import make_run, read_rows
from tests.helpers import run_cli


def _sparse(struct: dict) -> dict:
    """A metadata struct read back (every field, nulls included) as metadata_struct gives it."""
    return {k: v for k, v in struct.items() if v is not None}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("run"), n_docs=40, n_shards=2)


@pytest.mark.parametrize(("compression", "suffix", "magic"), [
    ("zst", ".jsonl.zst", b"\x28\xb5\x2f\xfd"),
    ("gz", ".jsonl.gz", b"\x1f\x8b"),
    ("none", ".jsonl", b"{"),
])
def test_jsonl_round_trip(run_dir: Path, tmp_path: Path, compression: str, suffix: str, magic: bytes) -> None:
    out = tmp_path / "j"
    report = export_run(ExportOptions(run_dir=str(run_dir), output=str(out), format="jsonl", compression=compression))
    files = sorted(out.glob(f"*{suffix}"))
    assert [f.name for f in files] == [f"train-0000{i}-of-00002{suffix}" for i in range(2)]
    assert all(f.read_bytes().startswith(magic) for f in files)
    got = [rec for f in files for rec in read_jsonl(f)]
    rows = read_rows(run_dir)
    assert len(got) == len(rows) == report["rows"]
    for rec, row in zip(got, rows, strict=True):
        assert list(rec) == TRAIN_SCHEMA.names
        assert {**rec, "metadata": metadata_struct(rec["metadata"]), "signals": json.loads(row["signals"])} == {
            **row, "metadata": _sparse(row["metadata"]), "signals": rec["signals"]}
    assert len({(r["id"], r["copy"]) for r in got}) == len(got)
    again = export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "k"), format="jsonl",
                                     compression=compression, batch_rows=3))
    assert [d["sha256"] for d in report["datasets"]] == [d["sha256"] for d in again["datasets"]]
    assert [d["sha256"] for d in report["datasets"]] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]


def test_jsonl_token_ids_equal_megatron_documents(run_dir: Path, tmp_path: Path) -> None:
    export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "j"), format="jsonl", per="group",
                             token_ids=True))
    export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "m"), per="group"))
    for group in ("en", "ja"):
        recs = list(read_jsonl(tmp_path / "j" / f"{group}.jsonl.zst"))
        docs = list(mg.IndexedDataset.open(tmp_path / "m" / group).documents())
        assert [r["token_ids"] for r in recs] == [d[:-1].tolist() for d in docs]
        assert all(len(r["token_ids"]) == r["n_tokens"] for r in recs)


@pytest.mark.parametrize("text", ["plain ascii", "日本語のテキスト\n改行あり", "emoji 😀 and \"quotes\"", "tab\tand\\backslash"])
def test_writer_reader_round_trip_of_awkward_text(tmp_path: Path, text: str) -> None:
    rec = record({"id": "a", "text": text, "metadata": '{"k":[1,2]}'})
    with JsonlWriter(tmp_path / "x.jsonl.gz", "gz") as w:
        w.write(rec)
    assert list(read_jsonl(tmp_path / "x.jsonl.gz")) == [{"id": "a", "text": text, "metadata": {"k": [1, 2]}}]
    with gzip.open(tmp_path / "x.jsonl.gz", "rb") as f:
        assert f.read().count(b"\n") == 1


def test_cli_jsonl(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("export", str(run_dir), "--format", "jsonl", "--compression", "gz",
                   "--output", str(tmp_path / "o")) == 0
    assert "40 documents in 2 file(s)" in capsys.readouterr().out
    meta = json.loads((tmp_path / "o" / "export.json").read_text())
    assert meta["checks"]["rows_equal_manifest"] and meta["checks"]["read_back"]
    assert run_cli("export", str(run_dir), "--format", "jsonl", "--output", str(tmp_path / "o")) == 2


def test_jsonl_of_a_run_without_mixture_keeps_every_column(tmp_path: Path) -> None:
    from corpusflow.core.schemas import DOC_SCHEMA
    from tests.export_run import make_plain_run

    run = make_plain_run(tmp_path / "run", n_docs=7)
    export_run(ExportOptions(run_dir=str(run), output=str(tmp_path / "j"), format="jsonl"))
    got = list(read_jsonl(tmp_path / "j" / "train-00000-of-00001.jsonl.zst"))
    rows = read_rows(run)
    assert [list(r) for r in got] == [DOC_SCHEMA.names] * 7
    assert [{**r, "metadata": metadata_struct(r["metadata"]), "signals": json.dumps(r["signals"])} for r in got] == [
        {**r, "metadata": _sparse(r["metadata"]), "signals": json.dumps(json.loads(r["signals"]))}
        for r in rows]
