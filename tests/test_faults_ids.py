"""Unique ids by construction: files of the same name in different folders, an input id that
equals a new name, and the path-hash clash check."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import FileSpec
from corpusflow.stages import ids
from corpusflow.stages.ids import IdCollisionError, MakeIdsUnique, file_hashes, path_hash, renamed_id
from corpusflow.stages.read import ReadDocuments
from tests.faults.generators import real_texts


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _run(specs: list[FileSpec], sources: list[SourceConfig], from_read: bool, out: Path) -> list[tuple]:
    with beam.Pipeline(runner=FnApiRunner()) as p:
        read = ReadDocuments(specs, sources, max_doc_chars=5000, id_places=from_read)
        res = p | "Read" >> read
        docs = res.kept | "Unique" >> MakeIdsUnique(res.id_places if from_read else None)
        _ = (docs | beam.Map(lambda d: json.dumps([d.id, d.file, d.line, d.meta.get("original_id")]))
             | beam.io.WriteToText(str(out)))
    return sorted(tuple(json.loads(line)) for f in sorted(out.parent.glob(out.name + "*"))
                  for line in f.read_text().splitlines())


@pytest.mark.parametrize("from_read", [True, False])
def test_same_file_name_in_two_folders_gives_unique_ids(tmp_path: Path, shared_data: Path, from_read: bool) -> None:
    texts = real_texts(12)
    a = _write(tmp_path / "crawl" / "seg1" / "part-0.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(texts[:6])])
    b = _write(tmp_path / "crawl" / "seg2" / "part-0.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(texts[6:])])
    # a third file holds, as an input id, the name the first renamed record would get (the
    # records of the file whose path hash is higher are renamed)
    loser = a if path_hash(str(a)) > path_hash(str(b)) else b
    crafted = renamed_id("d0", "s", path_hash(str(loser)), 1)
    c = _write(tmp_path / "crawl" / "seg3" / "part-0.jsonl", [{"id": crafted, "text": texts[0]}])
    src = SourceConfig(name="s", paths=[str(tmp_path / "crawl" / "*" / "*.jsonl")])
    specs = [FileSpec("s", str(p), f"{p.parent.name}/{p.name}", "jsonl") for p in (a, b, c)]
    rows = _run(specs, [src], from_read, tmp_path / "o" / "out")
    got = [r[0] for r in rows]
    assert len(got) == len(set(got)) == 13
    renamed = {r[0]: r for r in rows if r[3] is not None}
    assert len(renamed) == 6 and all(r[1] == str(loser) for r in renamed.values())
    assert all(new == renamed_id(r[3], "s", path_hash(str(loser)), r[2], int(new.endswith("~1")))
               for new, r in renamed.items())
    # the name the crafted input id holds was skipped: the renamed record took the next one
    assert crafted in got and crafted + "~1" in renamed and renamed[crafted + "~1"][3] == "d0"


def test_path_hash_is_stable_and_clashes_are_refused(monkeypatch) -> None:
    assert path_hash("crawl/seg1/part-0.jsonl") == path_hash("crawl/seg1/part-0.jsonl")
    assert path_hash("crawl/seg1/part-0.jsonl") != path_hash("crawl/seg2/part-0.jsonl")
    assert renamed_id("x", "src", 0xABC, 7) == "x~src:0000000000000abc#7"
    assert renamed_id("x", "src", 0xABC, 7, 2) == "x~src:0000000000000abc#7~2"
    monkeypatch.setattr(ids, "path_hash", lambda p: 42)
    with pytest.raises(IdCollisionError, match="same hash"):
        file_hashes(["a/x.jsonl", "b/x.jsonl"])


def test_every_candidate_taken_fails_clearly() -> None:
    place = ("s", 5, 3)
    taken = {renamed_id("d", "s", 5, 3, k): True for k in range(ids.CANDIDATES)}
    with pytest.raises(IdCollisionError, match="every new name tried"):
        ids._choose((place, "d"), taken)
    assert ids._choose((place, "d"), {}) == (place, renamed_id("d", "s", 5, 3))
