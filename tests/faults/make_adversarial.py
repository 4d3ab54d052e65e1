"""Build the adversarial input corpus of the reader faults, run corpusflow on it, check the result.

    python tests/faults/make_adversarial.py DIR            # build DIR/records/ and DIR/launch/*/
    python tests/faults/make_adversarial.py DIR --run OUT  # build, run every case, check, print a table

``DIR/records/`` holds every record-level case in one corpus (real Japanese and English text
from ../shared/data around the damage), read in one run::

    python -m corpusflow run configs/pipelines/demo.yaml --input 'DIR/records/**' \\
        --set sources.N.fields.url=url --set 'sources.N.fields.meta=[title]' (N = 0, 1, 2) \\
        --max-error-rate 0.2 --set limits.allow_incomplete_files=true --output OUT/records --overwrite

which must exit 0 with every record accounted for (manifest conserved) and, per file, the
error classes listed in ``DIR/expected.json`` (``--max-error-rate``: the corpus is mostly
faults by design). ``DIR/launch/CASE/`` holds one case each that must be refused at launch:
exit 2 before anything is read, with a message naming the problem (expected.json says which
words). Nothing outside OUT is created, changed or removed by the runs.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from tests.faults.generators import (  # noqa: E402
    BAD_LINES,
    SHARED_DATA,
    compress,
    flip,
    jsonl_members,
    parquet_bytes,
    parquet_page_region,
    warc_bytes,
)

DEMO = REPO / "configs" / "pipelines" / "demo.yaml"


def _real_records(n_ja: int, n_en: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rel, n, lang in (("ja/ja_wiki_paragraphs.jsonl.gz", n_ja, "ja"), ("en/c4_sample.jsonl.gz", n_en, "en")):
        with gzip.open(SHARED_DATA / rel, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if len([r for r in out if r["lang"] == lang]) >= n:
                    break
                row = json.loads(line)
                out.append({"id": f"{lang}-{i}", "text": row["text"], "title": row.get("title", ""),
                            "url": row.get("url"), "lang": lang})
    return out


def _lines(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps({k: v for k, v in r.items() if k != "lang"}, ensure_ascii=False) + "\n"
                   for r in records).encode()


def build(root: Path) -> dict[str, Any]:
    """Write the corpus under ``root``; return what each file must give (also in expected.json)."""
    rec = root / "records"
    rec.mkdir(parents=True, exist_ok=True)
    docs = _real_records(3000, 1200)
    chunks = [docs[i::12] for i in range(12)]
    expected: dict[str, Any] = {"records": {}, "launch": {}}

    def put(rel: str, data: bytes, errors: dict[str, int], note: str) -> None:
        path = rec / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected["records"][rel] = {"errors": errors, "note": note}

    # 1. a bad value in every field type, plain and gzipped: one error each, the rest read
    bad = [line.replace(b'"m":', b'"title":') for _n, line, _c in BAD_LINES]
    classes = Counter(c for _n, _l, c in BAD_LINES if c not in ("Document", "Rejected"))
    good = _lines(chunks[0]).splitlines()
    mixed = b"\n".join(x for pair in zip(good, bad + [b""] * len(good), strict=False) for x in pair if x) + b"\n"
    put("bad_values.jsonl", mixed, dict(classes), "one bad value per field type between real records")
    put("bad_values.jsonl.gz", compress(mixed, "gz"), dict(classes), "same, gzipped")
    # 2. compressed streams: truncated, flipped, corrupt member, garbage; every codec
    m = jsonl_members(chunks[1], "zst", per_member=40)
    put("truncated.jsonl.zst", m.data[: m.spans[-2][0] + 100], {"TruncatedInput": 1},
        "zstd frames, cut inside the second-to-last frame (was: 0 records, 0 errors)")
    m = jsonl_members(chunks[2], "xz", per_member=40)
    mid = m.spans[2]
    put("flipped.jsonl.xz", flip(m.data, (mid[0] + mid[1]) // 2), {"CorruptInput": 1},
        "xz streams, one byte flipped in the third (was: LZMAError, job failed)")
    m = jsonl_members(chunks[3], "bz2", per_member=40)
    put("truncated.jsonl.bz2", m.data[:-50], {"TruncatedInput": 1}, "bz2 streams, last one cut")
    m = jsonl_members(chunks[4], "gz", per_member=40)
    put("corrupt_member.jsonl.gz", flip(m.data, m.spans[1][0] + 30), {"CorruptInput": 1},
        "gzip members, the second one corrupt: the members after it are read")
    m = jsonl_members(chunks[5], "gz", per_member=40)
    put("trailing_garbage.jsonl.gz", m.data + b"this is not a gzip member\n" * 4, {"CorruptInput": 1},
        "gzip with garbage after the last member")
    # 3. format weak spots
    put("bom.jsonl", b"\xef\xbb\xbf" + _lines(chunks[6]), {}, "UTF-8 byte order mark (was: first record an error)")
    array = json.dumps([{"id": "arr-1", "text": "配列の一つ目。"}, {"id": "arr-2", "text": "二つ目。"}],
                       ensure_ascii=False, indent=1).encode()
    put("array.json", array, {"NotJsonLines": len(array.splitlines())},
        "a JSON array file: one NotJsonLines error per line, with the hint")
    put("empty.jsonl.gz", b"", {}, "zero-byte compressed files: empty, not an error")
    put("empty.jsonl.zst", b"", {}, "")
    # 4. Parquet: binary text, a bad value, a corrupt page, two columns of the mapped name
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [r["text"] for r in chunks[7]]
    put("binary_text.parquet", parquet_bytes(texts, row_group_rows=50, binary_text=True), {},
        "text stored as binary: decoded")
    ts = pa.array([0] * (len(texts) - 1) + [10**17], pa.timestamp("ms"))
    put("bad_value.parquet", parquet_bytes(texts, row_group_rows=50, extra={"title": ts}), {"BadValue": 1},
        "a timestamp out of Python's range in the last row: that row only")
    data = parquet_bytes([r["text"] for r in chunks[8]], row_group_rows=40, compression="snappy")
    lo, hi = parquet_page_region(data)
    from tests.faults.generators import outcome_class  # choose a flip that breaks a page

    flipped, lost = _corrupt_one_row_group(data, lo, hi, len(chunks[8]), outcome_class)
    put("corrupt_page.parquet", flipped, {"CorruptRowGroup": lost},
        f"a damaged page: its row group's {lost} rows are errors, the other row groups are read")
    t = pa.Table.from_arrays([pa.array(texts[:5]), pa.array(["x"] * 5)], names=["text", "text"])
    buf = __import__("io").BytesIO()
    pq.write_table(t, buf)
    put("two_text_columns.parquet", buf.getvalue(), {"AmbiguousColumn": 5}, "two columns named text")
    # 5. WARC: cut inside the last record, and a plain WARC cut in its last header
    wdata, spans = warc_bytes([r["text"] for r in chunks[9][:20]])
    put("cut.warc.gz", wdata[:-3], {"TruncatedInput": 1}, "gzip trailer of the last record missing")
    wdata, spans = warc_bytes([r["text"] for r in chunks[9][20:40]], gz=False)
    put("cut.warc", wdata[: spans[-1][0] + 60], {"TruncatedRecord": 1}, "file ends in a record header")
    #    damage in the middle: the damaged record is one error, reading resumes at the next one
    wdata, spans = warc_bytes([r["text"] for r in chunks[9][40:60]], gz=False)
    s5, e5 = spans[5]
    head, sep, rest = wdata[s5:e5].partition(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    short = head.replace(b"Content-Length: %d" % length, b"Content-Length: %d" % (length - 11)) + sep + rest
    put("resync_length.warc", wdata[:s5] + short + b"zero padding\x00\x00\r\n" + wdata[e5:],
        {"CorruptRecord": 1}, "record 5 of 20 with a Content-Length 11 bytes short, then garbage before "
        "record 6: one error naming the bytes lost (record 5 and the garbage), the 19 other records read "
        "(was: the rest of the file lost)")
    wdata, spans = warc_bytes([r["text"] for r in chunks[9][60:80]])
    put("resync_member.warc.gz", flip(wdata, (spans[7][0] + spans[7][1]) // 2), {"CorruptRecord": 1},
        "the gzip member of record 7 of 20 corrupt: one error, the 19 others read")
    # 6. many tiny documents: one character each, and identical tiny texts (all accounted for)
    tiny = [{"id": f"tiny-{i}", "text": chr(0x4E00 + i % 500)} for i in range(3000)]
    tiny += [{"id": f"same-{i}", "text": "今日は良い天気です。"} for i in range(3000)]
    put("tiny_docs.jsonl", _lines(tiny), {}, "6,000 documents of one character or one short sentence: every "
        "one kept, rejected or a duplicate (memory per document: bench/bench_tiny_docs.py)")
    # 7. the same file name in two folders with the same ids; a second name for one file
    seg = chunks[10]
    for part in ("seg1", "seg2"):
        rows = [{**r, "id": f"doc-{i}"} for i, r in enumerate(seg[:100])] if part == "seg1" else \
               [{**r, "id": f"doc-{i}"} for i, r in enumerate(seg[100:200])]
        put(f"crawl/{part}/part-0.jsonl", _lines(rows), {}, "same ids in seg1/ and seg2/: renamed, unique")
    os.symlink("bom.jsonl", rec / "bom_again.jsonl")
    expected["records"]["bom_again.jsonl"] = {"errors": {}, "note": "symlink to bom.jsonl: read once",
                                              "same_as": "bom.jsonl"}
    # launch refusals: each its own folder
    launch = root / "launch"

    def refuse(case: str, files: dict[str, bytes], words: str) -> Path:
        d = launch / case
        d.mkdir(parents=True, exist_ok=True)
        for name, blob in files.items():
            (d / name).write_bytes(blob)
        expected["launch"][case] = words
        return d

    ok = _lines(chunks[11][:20])
    d = refuse("symlink_loop", {"a.jsonl": ok}, "symlink loop")
    os.symlink(".", d / "again")
    refuse("unsupported_format", {"a.jsonl": ok, "notes.txt": b"hello\n"}, "unsupported input format")
    refuse("lz4", {"a.jsonl.lz4": b"\x04\x22\x4d\x18"}, "lz4")
    refuse("warc_bz2", {"c.warc.bz2": b"BZh9"}, "WARC/WET files can only be read plain or gzipped")
    d = refuse("unreadable_folder", {"a.jsonl": ok}, "cannot list folder")
    (d / "locked").mkdir()
    (d / "locked" / "b.jsonl").write_bytes(ok)
    os.chmod(d / "locked", 0)
    (root / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False))
    return expected


def _corrupt_one_row_group(data: bytes, lo: int, hi: int, rows: int, outcome_class: Any) -> tuple[bytes, int]:
    """The first single-byte flip (scanning the page region) that makes exactly one row group
    unreadable while the footer stays readable; and the rows it holds."""
    import tempfile

    from corpusflow.io.config import SourceConfig
    from corpusflow.io.readers import FileSpec, iter_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.parquet"
        for pos in range(lo + 20, hi, max(1, (hi - lo) // 400)):
            cand = flip(data, pos)
            path.write_bytes(cand)
            out = list(iter_file(FileSpec("s", str(path), "x.parquet", "parquet"),
                                 SourceConfig(name="s", paths=[str(path)]), 10**7))
            lost = sum(outcome_class(o) == "CorruptRowGroup" for o in out)
            if len(out) == rows and lost:
                return cand, lost
    raise RuntimeError("no single-byte flip breaks a row group")


def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "corpusflow", *argv], cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for f in files:
            p = Path(dirpath) / f
            try:
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if not p.is_symlink() else os.readlink(p)
            except OSError as exc:
                out[str(p)] = f"unreadable: {exc.strerror}"
    return out


def check_records(root: Path, out: Path, expected: dict[str, Any]) -> list[str]:
    """Problems with the records run: conservation, and the error classes per file."""
    import pyarrow.parquet as pq

    problems = []
    manifest = json.loads((out / "manifest.json").read_text())
    if not manifest["counts"]["total"]["conserved"]:
        problems.append("manifest: not conserved")
    got: dict[str, Counter[str]] = {}
    for f in sorted((out / "errors").glob("*.parquet")):
        for row in pq.read_table(f).to_pylist():
            rel = os.path.relpath(row["file"], root / "records")
            got.setdefault(rel, Counter())[row["error_class"]] += 1
    read_files = {os.path.relpath(i["path"], root / "records") for i in manifest["inputs"]}
    for rel, exp in expected["records"].items():
        if "same_as" in exp:
            if rel in read_files and exp["same_as"] in read_files:
                problems.append(f"{rel}: read twice (also as {exp['same_as']})")
            continue
        if rel not in read_files:
            problems.append(f"{rel}: not read")
        if dict(got.get(rel, {})) != exp["errors"]:
            problems.append(f"{rel}: errors {dict(got.get(rel, {}))}, expected {exp['errors']}")
    ids = [r["id"] for f in sorted((out / "pool").glob("*.parquet")) for r in pq.read_table(f, columns=["id"]).to_pylist()]
    if len(ids) != len(set(ids)):
        problems.append("pool: duplicate ids")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--run", type=Path, metavar="OUT", help="run every case into OUT/ and check the results")
    args = ap.parse_args(argv)
    root = args.dir.resolve()
    if root.exists() and any(root.iterdir()):
        print(f"{root} is not empty; choose a new folder", file=sys.stderr)
        return 2
    expected = build(root)
    print(f"built {len(expected['records'])} record cases and {len(expected['launch'])} launch cases under {root}")
    if not args.run:
        return 0
    out = args.run.resolve()
    before = _snapshot(root)
    rows = []
    # --input makes one source per detected field mapping (three here: WARC/JSON array, JSONL and
    # Parquet, the two-text-column file): the url and the title metadata are read in each.
    fields = [a for n in range(3) for a in ("--set", f"sources.{n}.fields.url=url", "--set", f"sources.{n}.fields.meta=[title]")]
    code, log = _run(["run", str(DEMO), "--input", f"{root}/records/**", *fields, "--max-error-rate", "0.2",
                      "--set", "limits.allow_incomplete_files=true", "--output", str(out / "records"), "--overwrite", "-q"], REPO)
    problems = check_records(root, out / "records", expected) if code == 0 else [log[-2000:]]
    rows.append(("records (all record-level cases)", code, "ok" if code == 0 and not problems else "; ".join(problems)))
    for case, words in expected["launch"].items():
        if case == "unreadable_folder" and os.geteuid() == 0:
            rows.append((f"launch/{case}", "-", "not testable as root (root lists every folder); "
                         "tests/test_faults_planning.py simulates the denial"))
            continue
        code, log = _run(["run", str(DEMO), "--input", f"{root}/launch/{case}/**", "--output",
                          str(out / case), "--overwrite", "-q"], REPO)
        ok = code == 2 and words.lower() in log.lower() and not (out / case).exists()
        rows.append((f"launch/{case}", code, "refused: " + log.strip().splitlines()[-1][:160] if ok
                     else f"NOT REFUSED as expected ({words!r}): {log.strip()[-300:]}"))
    if _snapshot(root) != before:
        rows.append(("inputs unchanged", 1, "an input file was created, changed or removed"))
    for name, code, what in rows:
        print(f"{name:36s} exit {code}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
