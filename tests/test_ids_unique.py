"""MakeIdsUnique with the rename map from a second, id-only read (issue #6) equals the map taken
from the documents, on real text with colliding ids, a too-long record and a malformed line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import FileSpec
from corpusflow.stages.ids import MakeIdsUnique
from corpusflow.stages.read import ReadDocuments
from tests.helpers import fixture


def _write(path: Path, rows: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")


def _run(specs: list[FileSpec], sources: list[SourceConfig], from_read: bool, out: Path) -> list[tuple]:
    with beam.Pipeline(runner=FnApiRunner()) as p:
        read = ReadDocuments(specs, sources, max_doc_chars=2000, id_places=from_read)
        res = p | "Read" >> read
        docs = res.kept | "Unique" >> MakeIdsUnique(res.id_places if from_read else None)
        _ = (docs | beam.Map(lambda d: json.dumps([d.id, d.source, d.file, d.line, d.meta.get("original_id")]))
             | beam.io.WriteToText(str(out)))
    rows = [json.loads(line) for f in sorted(out.parent.glob(out.name + "*")) for line in f.read_text().splitlines()]
    return sorted(map(tuple, rows))


def test_id_only_read_gives_the_same_renames(tmp_path: Path) -> None:
    with gzip.open(fixture("ja/ja_wiki_paragraphs.jsonl.gz"), "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(40), f, strict=False)]
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    rows_a = [json.dumps({"id": f"d{i % 15}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts[:30])]
    rows_a.append(json.dumps({"id": "d1", "text": "x" * 5000}))  # too long: rejected, never renamed
    rows_a.append('{"id": "broken", "text": ')  # malformed line: an error
    rows_b = [json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts[30:])]
    _write(a, rows_a)
    _write(b, rows_b)
    sources = [SourceConfig(name="wa", paths=[str(a)]), SourceConfig(name="wb", paths=[str(b)])]
    specs = [FileSpec("wa", str(a), a.name, "jsonl"), FileSpec("wb", str(b), b.name, "jsonl")]
    from_docs = _run(specs, sources, False, tmp_path / "docs" / "out")
    from_read = _run(specs, sources, True, tmp_path / "read" / "out")
    assert from_read == from_docs
    ids = [r[0] for r in from_read]
    assert len(ids) == len(set(ids)) == 40
    renamed = [r for r in from_read if r[4] is not None]
    assert len(renamed) == 25  # d0..d14 twice in wa (15 renamed) + d0..d9 again in wb (10 renamed)


def test_run_fails_loudly_when_the_id_read_misses_documents(tmp_path: Path, monkeypatch) -> None:
    """A second read that sees fewer documents (file changed, read interrupted) must not pass."""
    import json as _json

    from corpusflow.stages import read as read_stage
    from tests.helpers import run_cli

    original = read_stage._ReadIdsFn.process

    def drop_first(self, item):  # type: ignore[no-untyped-def]
        places = list(original(self, item))
        yield from places[1:]

    monkeypatch.setattr(read_stage._ReadIdsFn, "process", drop_first)
    out = tmp_path / "out"
    src = fixture("en/c4_sample.jsonl.gz")
    config = Path(__file__).resolve().parents[1] / "configs" / "pipelines" / "langid_only.yaml"
    assert run_cli("run", str(config), "--input", str(src), "--output", str(out), "-q") == 1
    failed = _json.loads((out / "FAILED.json").read_text())
    assert any("id-only read" in p for p in failed["problems"])
    assert not (out / "manifest.json").exists()
