"""Megatron-LM indexed datasets: the byte layout, the dtype rule, EOD framing, the weights line,
and ``corpusflow export --format megatron`` on a small run (ids decode to the rows' texts,
counts equal the recorded n_tokens, deterministic bytes, failures on a changed input)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from corpusflow.export import megatron as mg
from corpusflow.export.exporter import ExportError, ExportOptions, export_run
from corpusflow.export.tokens import encode_batch, flatten, frame
from corpusflow.mixture.tokenizers import load_tokenizer
from tests.export_run import make_run, read_rows
from tests.helpers import run_cli


@pytest.mark.parametrize(("vocab", "dtype"), [
    (None, np.int32), (256, np.uint16), (32000, np.uint16), (65499, np.uint16), (65500, np.int32),
    (98452, np.int32), (128256, np.int32),
])
def test_dtype_follows_megatron_rule(vocab: int | None, dtype: type) -> None:
    assert mg.optimal_dtype(vocab) == np.dtype(dtype)


def _expected_idx(lengths: list[int], dtype: np.dtype, code: int) -> bytes:
    """The .idx bytes written out field by field from the published layout."""
    out = b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", code)
    out += struct.pack("<Q", len(lengths)) + struct.pack("<Q", len(lengths) + 1)
    out += b"".join(struct.pack("<i", n) for n in lengths)
    pos = 0
    for n in lengths:
        out += struct.pack("<q", pos)
        pos += n * dtype.itemsize
    out += b"".join(struct.pack("<q", i) for i in range(len(lengths) + 1))
    return out


@pytest.mark.parametrize(("docs", "dtype", "code"), [
    ([[5, 6, 2], [7, 2], [2]], np.uint16, 8),
    ([[100000, 2], [1, 2, 3, 4, 2]], np.int32, 4),
    ([], np.int32, 4),
    ([[65535, 0]], np.uint16, 8),
])
def test_writer_bytes_match_published_layout(tmp_path: Path, docs: list[list[int]], dtype: type, code: int) -> None:
    prefix = tmp_path / "ds"
    with mg.IndexedDatasetWriter(prefix, dtype) as w:
        for d in docs:
            w.add_document(d)
    dt = np.dtype(dtype)
    assert Path(mg.idx_path(prefix)).read_bytes() == _expected_idx([len(d) for d in docs], dt, code)
    flat = [t for d in docs for t in d]
    assert Path(mg.bin_path(prefix)).read_bytes() == np.asarray(flat, dtype=dt.newbyteorder("<")).tobytes()
    r = mg.IndexedDataset.open(prefix)
    assert [r[i].tolist() for i in range(len(r))] == docs
    assert [d.tolist() for d in r.documents()] == docs
    assert r.tokens == len(flat)


@pytest.mark.parametrize(("ids", "dtype"), [([70000], np.uint16), ([-1], np.uint16), ([2**31], np.int32)])
def test_writer_rejects_ids_outside_dtype(tmp_path: Path, ids: list[int], dtype: type) -> None:
    with pytest.raises(ValueError, match="out of range"), mg.IndexedDatasetWriter(tmp_path / "x", dtype) as w:
        w.add_document(np.asarray(ids, dtype=np.int64))
    assert not Path(mg.idx_path(tmp_path / "x")).exists() and not Path(mg.bin_path(tmp_path / "x")).exists()


def test_reader_rejects_truncated_bin(tmp_path: Path) -> None:
    with mg.IndexedDatasetWriter(tmp_path / "ds", np.int32) as w:
        w.add_document([1, 2, 3])
    p = Path(mg.bin_path(tmp_path / "ds"))
    p.write_bytes(p.read_bytes()[:-4])
    with pytest.raises(ValueError, match="bytes"):
        mg.IndexedDataset.open(tmp_path / "ds")


@pytest.mark.parametrize(("docs", "eod", "bos", "want"), [
    ([[1, 2], [3]], 9, None, [[1, 2, 9], [3, 9]]),
    ([[1, 2], [], [3]], 9, 8, [[8, 1, 2, 9], [8, 9], [8, 3, 9]]),
    ([[1], [2, 3]], None, 8, [[8, 1], [8, 2, 3]]),
    ([[1], [2, 3]], None, None, [[1], [2, 3]]),
    ([], 9, None, []),
])
def test_frame_adds_special_tokens(docs: list[list[int]], eod: int | None, bos: int | None,
                                   want: list[list[int]]) -> None:
    flat, lengths = flatten(docs)
    out, out_len = frame(flat, lengths, eod, bos)
    got, pos = [], 0
    for n in out_len.tolist():
        got.append(out[pos : pos + n].tolist())
        pos += n
    assert got == want and pos == out.size


@pytest.mark.parametrize(("entries", "want"), [
    ([(10, "/d/a"), (30, "/d/b")], "10 /d/a 30 /d/b"),
    ([(0, "/d/empty"), (5, "b")], "5 b"),
    ([(0.25, "x")], "0.25 x"),
])
def test_data_path_args(entries: list[tuple[float, str]], want: str) -> None:
    assert mg.data_path_args(entries) == want


def test_data_path_args_rejects_whitespace() -> None:
    with pytest.raises(ValueError, match="whitespace"):
        mg.data_path_args([(1, "/my data/a")])


# ------------------------------------------------------------------------------------------------
# corpusflow export --format megatron
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("run"))


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())
            if p.suffix in (".bin", ".idx")}


@pytest.mark.parametrize(("per", "names"), [
    ("shard", ["train-00000-of-00003", "train-00001-of-00003", "train-00002-of-00003"]),
    ("group", ["en", "ja"]),
    ("source", ["en_c4", "ja_cc", "ja_wiki"]),
])
def test_export_documents_decode_to_rows(run_dir: Path, tmp_path: Path, per: str, names: list[str]) -> None:
    out = tmp_path / "mg"
    report = export_run(ExportOptions(run_dir=str(run_dir), output=str(out), per=per))
    rows = read_rows(run_dir)
    tok = load_tokenizer("llm-jp-v3.1")
    eod = tok._sp.eos_id()
    assert [d["name"] for d in report["datasets"]] == names
    assert report["eod"] == {"id": eod, "token": "</s>"} and report["dtype"] == "int32"
    # every row is one document: its ids decode to its text and end with EOD
    got: dict[tuple[str, int], list[int]] = {}
    for d in report["datasets"]:
        r = mg.IndexedDataset.open(out / d["prefix"])
        assert r.document_indices.tolist() == list(range(len(r) + 1))
        assert len(r) == d["documents"] and r.tokens == d["tokens"]
        docs = list(r.documents())
        assert all(int(x[-1]) == eod for x in docs)
        if per == "shard":
            key_rows = pq.read_table(run_dir / "data" / f"{d['key']}.parquet").to_pylist()
        else:
            key_rows = [row for row in rows if row["lang" if per == "group" else "source"] == d["key"]]
        assert len(key_rows) == len(docs)
        for row, ids in zip(key_rows, docs, strict=True):  # order: shard order, rows in shard order
            assert tok._sp.decode(ids[:-1].tolist()) == row["text"]
            assert len(ids) == row["n_tokens"] + 1
            got[(row["id"], row["copy"])] = ids.tolist()
    assert len(got) == len(rows)
    assert report["tokens"] == sum(r["n_tokens"] for r in rows) + len(rows)
    assert all(v for k, v in report["checks"].items() if k != "encoded_minus_recorded_tokens")
    # data_path.txt: one "tokens prefix" pair per dataset, the tokens it holds
    parts = (out / "data_path.txt").read_text().split()
    assert parts[1::2] == [str((out / n).resolve()) for n in names]
    assert [int(w) for w in parts[0::2]] == [d["tokens"] for d in report["datasets"]]


def test_group_weights_are_group_tokens(run_dir: Path, tmp_path: Path) -> None:
    report = export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "g"), per="group", prefix_root=""))
    rows = read_rows(run_dir)
    want = {g: sum(r["n_tokens"] + 1 for r in rows if r["lang"] == g) for g in ("en", "ja")}
    assert (tmp_path / "g" / "data_path.txt").read_text().strip() == f"{want['en']} en {want['ja']} ja"
    assert report["data_path_shares"]["ja"] == round(want["ja"] / sum(want.values()), 6)


def test_export_is_deterministic_and_bos_option(run_dir: Path, tmp_path: Path) -> None:
    a = export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "a"), per="group"))
    b = export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "b"), per="group", threads=1,
                                 batch_rows=7))
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert [d["files"] for d in a["datasets"]] == [d["files"] for d in b["datasets"]]
    c = export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "c"), per="group", add_bos=True))
    assert c["tokens"] == a["tokens"] + a["rows"] and c["bos"] == {"id": 1, "token": "<s>"}
    r = mg.IndexedDataset.open(tmp_path / "c" / "ja")
    assert all(int(d[0]) == 1 and int(d[-1]) == 2 for d in r.documents())


def test_add_eos_counts_are_respected(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", add_eos=True, n_docs=12)
    report = export_run(ExportOptions(run_dir=str(run), output=str(tmp_path / "o")))
    rows = read_rows(run)
    assert report["tokens"] == sum(r["n_tokens"] for r in rows)  # the counted EOS is the exported EOD


def test_llama3_run_exports_llama3_ids(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", tokenizer="llama3", n_docs=9)
    report = export_run(ExportOptions(run_dir=str(run), output=str(tmp_path / "o"), per="group"))
    assert report["eod"] == {"id": 128001, "token": "<|end_of_text|>"} and report["dtype"] == "int32"
    tok = load_tokenizer("llama3")
    r = mg.IndexedDataset.open(tmp_path / "o" / "en")
    en_rows = [x for x in read_rows(run) if x["lang"] == "en"]
    assert [d[:-1].tolist() for d in r.documents()] == [tok.encode(x["text"]) for x in en_rows]


def _tamper(run: Path, edit: str) -> None:
    f = run / "data" / "train-00001-of-00003.parquet"
    if edit == "bytes":
        f.write_bytes(f.read_bytes() + b"\0")
        return
    t = pq.read_table(f).to_pylist()
    t[3]["n_tokens"] += 1
    import pyarrow as pa

    from corpusflow.mixture.pool import TRAIN_SCHEMA
    pq.write_table(pa.Table.from_pylist(t, schema=TRAIN_SCHEMA), f)
    m = json.loads((run / "manifest.json").read_text())
    for s in m["outputs"]["data"]:
        if s["file"] == f.name:
            s["sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
    (run / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(("edit", "match"), [("bytes", "sha256"), ("n_tokens", "do not match the counts")])
def test_export_fails_on_changed_input(tmp_path: Path, edit: str, match: str) -> None:
    run = make_run(tmp_path / "run", n_docs=15)
    _tamper(run, edit)
    with pytest.raises(ExportError, match=match) as e:
        export_run(ExportOptions(run_dir=str(run), output=str(tmp_path / "o")))
    assert not e.value.usage
    assert not list((tmp_path / "o").glob("*.idx"))


@pytest.mark.parametrize(("argv", "rc", "message"), [
    (["--tokenizer", "llama3"], 2, "not the one the run counted with"),
    (["--eod", "<no-such-piece>"], 2, "not a piece"),
    (["--per", "shard"], 0, "read back: ok"),
])
def test_cli_exit_codes(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                        rc: int, message: str) -> None:
    assert run_cli("export", str(run_dir), "--output", str(tmp_path / "o"), *argv) == rc
    cap = capsys.readouterr()
    assert message in cap.out + cap.err


def test_cli_refuses_unfinished_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "_IN_PROGRESS").touch()
    assert run_cli("export", str(tmp_path / "run")) == 2
    assert "not finished" in capsys.readouterr().err


def test_allow_other_tokenizer_skips_count_checks(run_dir: Path, tmp_path: Path) -> None:
    report = export_run(ExportOptions(run_dir=str(run_dir), output=str(tmp_path / "o"), tokenizer="llama3",
                                      allow_other_tokenizer=True))
    assert report["tokenizer"]["name"] == "llama3" and report["checks"]["per_document_counts_equal_recorded"] is None
    tok = load_tokenizer("llama3")
    rows = read_rows(run_dir)
    assert report["tokens"] == sum(len(x) + 1 for x in encode_batch(tok, [r["text"] for r in rows]))


def test_run_without_mixture_needs_a_tokenizer_and_groups_by_language(tmp_path: Path) -> None:
    from tests.export_run import make_plain_run

    run = make_plain_run(tmp_path / "run")
    with pytest.raises(ExportError, match="give --tokenizer") as e:
        export_run(ExportOptions(run_dir=str(run), output=str(tmp_path / "a")))
    assert e.value.usage
    report = export_run(ExportOptions(run_dir=str(run), output=str(tmp_path / "b"), per="group",
                                      tokenizer="llm-jp-v3.1"))
    rows = read_rows(run)
    tok = load_tokenizer("llm-jp-v3.1")
    assert [d["name"] for d in report["datasets"]] == ["en", "ja"]
    for d in report["datasets"]:
        texts = [r["text"] for r in rows if r["lang"] == d["name"]]
        docs = list(mg.IndexedDataset.open(tmp_path / "b" / d["name"]).documents())
        assert [x[:-1].tolist() for x in docs] == [tok.encode(t) for t in texts]
    assert report["checks"]["per_document_counts_equal_recorded"] is None


def test_usage_error_leaves_an_earlier_export_untouched(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    export_run(ExportOptions(run_dir=str(run_dir), output=str(out), per="group"))
    before = _digests(out)
    with pytest.raises(ExportError, match="not a piece"):
        export_run(ExportOptions(run_dir=str(run_dir), output=str(out), per="group", eod="<nope>", overwrite=True))
    assert _digests(out) == before


def test_estimated_counts_are_reported_not_enforced(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", n_docs=15)
    _tamper(run, "n_tokens")  # an estimate is off by one token on one row
    m = json.loads((run / "manifest.json").read_text())
    m["mixture"]["count"] = {"mode": "estimate"}
    m["mixture"]["totals"]["tokens"] += 1
    (run / "manifest.json").write_text(json.dumps(m))
    report = export_run(ExportOptions(run_dir=str(run), output=str(tmp_path / "o")))
    assert report["checks"]["encoded_minus_recorded_tokens"] == -1
    assert report["checks"]["per_document_counts_equal_recorded"] is None
    assert report["tokens"] == m["mixture"]["totals"]["tokens"] - 1 + report["rows"]
