"""corpusflow.io.warc on the real sample WARCs (../shared/data/warc, 37 HTTP responses) and on
WARC/WET files written here with warcio around real Japanese text."""

from __future__ import annotations

import gzip
import html as html_lib
import io
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.io.readers import FileSpec, iter_file
from corpusflow.io.warc import WarcOptions, count_records, iter_warc, iter_wet
from tests.conftest import read_jsonl


def outcomes(path, opts=None) -> tuple[list, Counter]:
    stats: Counter = Counter()
    return list(iter_warc(str(path), "cc", opts, stats=stats)), stats


def kinds(outs) -> Counter:
    return Counter(type(o).__name__ for o in outs)


@pytest.fixture(scope="module")
def warc_files(shared_data) -> list[Path]:
    files = sorted((shared_data / "warc").glob("*.warc.gz"))
    assert [f.name for f in files] == ["sample-0000.warc.gz", "sample-0001.warc.gz"]
    return files


# --------------------------------------------------------------------------------------------
# the real sample files
# --------------------------------------------------------------------------------------------

def test_real_warcs_give_one_document_per_http_response(warc_files):
    per_file = {}
    docs = []
    total = Counter()
    for f in warc_files:
        outs, stats = outcomes(f)
        per_file[f.name] = len(outs)
        docs += outs
        total += stats
    assert per_file == {"sample-0000.warc.gz": 22, "sample-0001.warc.gz": 15}
    assert all(isinstance(d, Document) for d in docs)
    # Non-response records are read and counted, never emitted.
    assert {k: v for k, v in total.items() if k.startswith("records.")} == {
        "records.warcinfo": 2, "records.request": 37, "records.response": 37,
        "records.metadata": 2, "records.resource": 4,
    }
    assert total["outcome.document"] == 37
    assert len({d.id for d in docs}) == 37 and all(d.id.startswith("urn:uuid:") for d in docs)
    urls = [d.url for d in docs]
    assert urls[0] == "https://www.semanticscholar.org/research/research-team"
    assert "https://commoncrawl.org/faq" in urls and urls.count("https://allenai.org/") == 3
    for d in docs:
        assert d.source == "cc" and d.url.startswith("https://")
        assert d.meta["content_kind"] == "html" and d.meta["http_status"] == 200
        assert d.meta["content_type"].lower().startswith("text/html")
        assert d.meta["warc_date"].startswith("2024-04-25T")
        assert d.meta["charset"] == "utf-8" and d.meta["html_bytes"] > 5000
        assert d.line == d.meta["warc_offset"] and "<html" in d.text[:3000].lower()


def test_offsets_are_gzip_member_offsets(warc_files):
    f = warc_files[0]
    docs, _ = outcomes(f)
    with open(f, "rb") as fh:
        it = ArchiveIterator(fh)
        expected = []
        for rec in it:
            if rec.rec_type == "response":
                expected.append((rec.rec_headers.get_header("WARC-Target-URI"), it.get_record_offset()))
    assert [(d.url, d.line) for d in docs] == expected
    # A range read at the offset is a complete gzip member holding that record.
    data = f.read_bytes()
    member = data[docs[1].line :]
    first = gzip.GzipFile(fileobj=io.BytesIO(member)).read(200)
    assert b"WARC-Type: response" in first and docs[1].id.encode() in first


def test_readers_dispatch_formats_to_the_warc_reader(warc_files):
    from corpusflow.io.config import SourceConfig

    src = SourceConfig(name="cc", paths=[str(warc_files[1])], format="auto")
    spec = FileSpec(source="cc", path=str(warc_files[1]), file_key=warc_files[1].name, format="warc")
    outs = list(iter_file(spec, src, 2_000_000))
    assert kinds(outs) == {"Document": 15}
    assert count_records(str(warc_files[1]))["records.request"] == 15


# --------------------------------------------------------------------------------------------
# WARCs written here: every kind of response record
# --------------------------------------------------------------------------------------------

def rid(n: int) -> str:
    return f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>"


def write_warc(path: Path, records: list[dict], *, gz: bool = True) -> Path:
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=gz)
        for i, r in enumerate(records, 1):
            headers = {"WARC-Record-ID": rid(i), "WARC-Date": "2024-04-25T16:24:44Z", **r.get("warc", {})}
            if r["type"] == "response":
                http = StatusAndHeaders(r.get("status", "200 OK"), r.get("headers", []), protocol="HTTP/1.1")
                rec = w.create_warc_record(r["url"], "response", payload=io.BytesIO(r["body"]),
                                           http_headers=http, warc_headers_dict=headers)
            elif r["type"] == "request":
                http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.jp")], is_http_request=True)
                rec = w.create_warc_record(r["url"], "request", payload=io.BytesIO(b""),
                                           http_headers=http, warc_headers_dict=headers)
            else:  # warcinfo / conversion / metadata
                rec = w.create_warc_record(r.get("url", ""), r["type"], payload=io.BytesIO(r["body"]),
                                           warc_content_type=r.get("ctype", "text/plain"),
                                           warc_headers_dict=headers)
            w.write_record(rec)
    return path


def ja_page(paragraphs: list[str], title: str, meta_charset: str | None = None) -> str:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={meta_charset}">' if meta_charset else ""
    body = "".join(f"<p>{html_lib.escape(p)}</p>\n" for p in paragraphs)
    return f'<html lang="ja"><head>{meta}<title>{title}</title></head><body><article>{body}</article></body></html>'


@pytest.fixture(scope="module")
def ja_texts(shared_data) -> list[str]:
    """Real Japanese Common Crawl page texts (abeja CC sample, ~200 characters each)."""
    rows = read_jsonl(shared_data / "ja" / "abeja_cc_ja.jsonl", limit=40)
    return [r["text"] for r in rows if len(r["text"]) < 3000][:12]


@pytest.fixture(scope="module")
def mixed_warc(tmp_path_factory, ja_texts) -> dict:
    sjis_page = ja_page(ja_texts[0].split("\n"), "病害虫防除のお知らせ", meta_charset="Shift_JIS")
    euc_page = ja_page(ja_texts[1].split("\n"), "観光案内")
    gz_page = ja_page(ja_texts[2].split("\n"), "ブログ")
    html = [("Content-Type", "text/html")]
    records = [
        {"type": "warcinfo", "body": b"software: test\r\n", "ctype": "application/warc-fields"},
        {"type": "request", "url": "http://example.jp/sjis"},
        {"type": "response", "url": "http://example.jp/sjis", "body": sjis_page.encode("cp932"),
         "headers": [("Content-Type", "text/html; charset=Shift_JIS"), ("Content-Language", "ja")]},
        {"type": "request", "url": "http://example.jp/euc"},
        {"type": "response", "url": "http://example.jp/euc", "body": euc_page.encode("euc_jp"), "headers": html},
        {"type": "response", "url": "http://example.jp/gone", "status": "404 Not Found",
         "body": b"<html><body>not found</body></html>", "headers": html},
        {"type": "response", "url": "http://example.jp/old", "status": "301 Moved Permanently",
         "body": b"", "headers": [("Location", "http://example.jp/new")]},
        {"type": "response", "url": "http://example.jp/logo.png", "body": b"\x89PNG\r\n\x1a\n" + bytes(200),
         "headers": [("Content-Type", "image/png")]},
        {"type": "response", "url": "http://example.jp/a.pdf", "body": b"%PDF-1.4\n...",
         "headers": [("Content-Type", "application/pdf")]},
        {"type": "response", "url": "http://example.jp/sniffed", "body": gz_page.encode("utf-8"),
         "headers": [("Content-Type", "application/octet-stream")]},
        {"type": "response", "url": "http://example.jp/blob", "body": bytes(range(256)),
         "headers": [("Content-Type", "application/octet-stream")]},
        {"type": "response", "url": "http://example.jp/empty", "body": b"  \r\n", "headers": html},
        {"type": "response", "url": "http://example.jp/binary", "body": bytes(range(256)) * 8, "headers": html},
        {"type": "response", "url": "http://example.jp/gzip", "body": gzip.compress(gz_page.encode(), mtime=0),
         "headers": [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")]},
        {"type": "metadata", "url": "http://example.jp/gzip", "body": b"fetchTimeMs: 12\r\n",
         "ctype": "application/warc-fields"},
    ]
    path = write_warc(tmp_path_factory.mktemp("warc") / "mixed.warc.gz", records)
    return {"path": path, "sjis": sjis_page, "euc": euc_page, "gz": gz_page}


def test_every_response_record_has_one_outcome(mixed_warc):
    outs, stats = outcomes(mixed_warc["path"])
    assert stats["records.response"] == len(outs) == 11
    assert (stats["records.request"], stats["records.warcinfo"], stats["records.metadata"]) == (2, 1, 1)
    got = {}
    for o in outs:
        key = o.doc.url if isinstance(o, Rejected) else o.url if isinstance(o, Document) else o.doc_id
        got[key] = o
    assert list(got) == [
        "http://example.jp/sjis", "http://example.jp/euc", "http://example.jp/gone", "http://example.jp/old",
        "http://example.jp/logo.png", "http://example.jp/a.pdf", "http://example.jp/sniffed",
        "http://example.jp/blob", "http://example.jp/empty", rid(13)[1:-1], "http://example.jp/gzip",
    ]
    expect = {
        "http://example.jp/gone": ("warc.http_status", "HTTP status 404"),
        "http://example.jp/old": ("warc.http_status", "HTTP status 301"),
        "http://example.jp/logo.png": ("warc.not_html", "Content-Type 'image/png'"),
        "http://example.jp/a.pdf": ("warc.not_html", "Content-Type 'application/pdf'"),
        "http://example.jp/blob": ("warc.not_html", "Content-Type 'application/octet-stream', payload not HTML"),
        "http://example.jp/empty": ("warc.empty", "empty HTML payload"),
    }
    for url, (reason, detail) in expect.items():
        r = got[url]
        assert isinstance(r, Rejected) and (r.stage, r.reason, r.detail) == ("read", reason, detail)
        assert r.doc.text == "" and r.doc.meta["warc_date"] == "2024-04-25T16:24:44Z"
    err = got[rid(13)[1:-1]]
    assert isinstance(err, ErrorRecord) and err.error_class == "UndecodableHtml" and err.stage == "read"
    assert err.offset_kind == "byte" and err.offset > 0 and err.file.endswith("mixed.warc.gz")


def test_shift_jis_and_euc_jp_pages_decode(mixed_warc):
    outs, _ = outcomes(mixed_warc["path"])
    docs = {o.url: o for o in outs if isinstance(o, Document)}
    sjis, euc = docs["http://example.jp/sjis"], docs["http://example.jp/euc"]
    assert sjis.text == mixed_warc["sjis"]
    assert (sjis.meta["charset"], sjis.meta["charset_source"]) == ("cp932", "http")
    assert sjis.meta["content_language"] == "ja" and sjis.id == rid(3)[1:-1]
    assert euc.text == mixed_warc["euc"]
    assert (euc.meta["charset"], euc.meta["charset_source"]) == ("euc_jp", "detect_ja")
    # Content-Encoding: gzip is undone; an octet-stream payload that is HTML is kept.
    assert docs["http://example.jp/gzip"].text == mixed_warc["gz"]
    assert docs["http://example.jp/sniffed"].text == mixed_warc["gz"]
    assert set(docs) == {"http://example.jp/sjis", "http://example.jp/euc", "http://example.jp/sniffed",
                         "http://example.jp/gzip"}


def test_record_size_limit(mixed_warc):
    limit = 900
    with open(mixed_warc["path"], "rb") as fh:
        big = {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
               if r.rec_type == "response" and r.length > limit}
    outs, _ = outcomes(mixed_warc["path"], WarcOptions(max_record_bytes=limit))
    too_large = [o for o in outs if isinstance(o, Rejected) and o.reason == "warc.too_large"]
    assert {o.doc.url for o in too_large} == big and "http://example.jp/binary" in big
    assert all(o.doc.text == "" for o in too_large) and len(outs) == 11


# --------------------------------------------------------------------------------------------
# WET
# --------------------------------------------------------------------------------------------

def test_wet_conversion_records(tmp_path, ja_texts):
    records = [{"type": "warcinfo", "body": b"software: test\r\n", "ctype": "application/warc-fields"}]
    for i, t in enumerate(ja_texts[:5]):
        records.append({"type": "conversion", "url": f"https://example.jp/{i}", "body": t.encode("utf-8"),
                        "warc": {"WARC-Identified-Content-Language": "jpn", "WARC-Refers-To": rid(900 + i)}})
    records.append({"type": "conversion", "url": "https://example.jp/empty", "body": b"\n"})
    records.append({"type": "conversion", "url": "https://example.jp/long", "body": ("あ" * 5000).encode()})
    records.append({"type": "conversion", "url": "https://example.jp/sjis",
                    "body": (ja_texts[0] * 3).encode("cp932")})
    path = write_warc(tmp_path / "sample.warc.wet.gz", records)
    stats: Counter = Counter()
    outs = list(iter_wet(str(path), "wet", 4000, stats=stats))
    assert stats["records.conversion"] == len(outs) == 8 and stats["records.warcinfo"] == 1
    docs = [o for o in outs if isinstance(o, Document)]
    assert [d.text for d in docs] == ja_texts[:5]
    d = docs[0]
    assert (d.url, d.id, d.meta["content_kind"], d.meta["cc_languages"]) == (
        "https://example.jp/0", rid(2)[1:-1], "text", "jpn")
    assert d.meta["warc_refers_to"] == rid(900)[1:-1] and d.meta["warc_date"] == "2024-04-25T16:24:44Z"
    rest = outs[5:]
    assert (rest[0].reason, rest[1].reason) == ("warc.empty", "input.too_long")
    assert isinstance(rest[2], ErrorRecord) and rest[2].error_class == "InvalidUtf8"


# --------------------------------------------------------------------------------------------
# damaged files: the readable part is yielded, then one error with the byte offset
# --------------------------------------------------------------------------------------------

def member_offsets(data: bytes) -> list[int]:
    it = ArchiveIterator(io.BytesIO(data))
    out = []
    for _ in it:
        out.append(it.get_record_offset())
    return out


@pytest.mark.parametrize("cut", [20_000, 99_880, 153_800, 200_000])
def test_truncated_warc_gz(tmp_path, warc_files, cut):
    data = warc_files[0].read_bytes()
    full, _ = outcomes(warc_files[0])
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(data[:cut])
    outs, stats = outcomes(path)
    assert isinstance(outs[-1], ErrorRecord) and kinds(outs)["ErrorRecord"] == 1
    err = outs[-1]
    assert err.error_class in ("TruncatedInput", "TruncatedRecord") and err.offset_kind == "byte"
    starts = member_offsets(data)
    assert err.offset in starts and err.offset < cut
    # Everything that starts before the damaged member was read.
    assert [d.id for d in outs[:-1]] == [d.id for d in full if d.line < err.offset]
    assert stats["outcome.error"] == 1


def test_corrupt_member(tmp_path, warc_files):
    data = bytearray(warc_files[0].read_bytes())
    starts = member_offsets(bytes(data))
    victim = next(s for s in starts if s > 60_000)
    data[victim + 100 : victim + 110] = bytes(10)  # garbage inside the deflate stream
    path = tmp_path / "corrupt.warc.gz"
    path.write_bytes(bytes(data))
    outs, _ = outcomes(path)
    ref, _ = outcomes(warc_files[0])
    (err,) = [o for o in outs if isinstance(o, ErrorRecord)]
    assert err.error_class == "CorruptRecord" and err.offset == victim
    nxt = min(s for s in starts if s > victim)
    assert f"bytes {victim}-{nxt - 1} ({nxt - victim} bytes) are not read; reading resumes at byte {nxt}" in err.message
    # every record but the damaged one is read: those before it and, after resync, those after it
    assert [o.id for o in outs if isinstance(o, Document)] == [d.id for d in ref if d.line != victim]


def test_uncompressed_and_whole_file_gzip(tmp_path, warc_files):
    raw = gzip.decompress(warc_files[0].read_bytes())
    ref, _ = outcomes(warc_files[0])
    plain = tmp_path / "plain.warc"
    plain.write_bytes(raw)
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(raw, mtime=0))
    for path in (plain, whole):
        outs, stats = outcomes(path)
        assert [o.id for o in outs] == [d.id for d in ref]
        assert [o.text for o in outs] == [d.text for d in ref]
        assert stats["records.request"] == 22 and stats["outcome.document"] == 22
    # Offsets of a whole-file gzip are positions in the uncompressed stream.
    outs, _ = outcomes(whole)
    assert [o.line for o in outs] == [o.line for o in outcomes(plain)[0]]
    cut = tmp_path / "cut.warc"
    cut.write_bytes(raw[: raw.find(b"Content-Length", 300_000)])
    outs, _ = outcomes(cut)
    assert outs[-1].error_class == "TruncatedInput" and kinds(outs) == {"Document": 11, "ErrorRecord": 1}


@pytest.mark.parametrize("content, cls", [
    (b"hello world, this is not a WARC file\n\n", "NotWarc"),
    (None, "Unreadable"),
])
def test_not_a_warc(tmp_path, content, cls):
    path = tmp_path / "x.warc"
    if content is not None:
        path.write_bytes(content)
    outs, _ = outcomes(path)
    assert len(outs) == 1 and outs[0].error_class == cls and outs[0].offset == 0


def test_empty_file_has_no_records(tmp_path):
    path = tmp_path / "empty.warc.gz"
    path.write_bytes(b"")
    assert outcomes(path) == ([], Counter())


# --------------------------------------------------------------------------------------------
# object store (S3 API on a local moto server): streaming from a URL
# --------------------------------------------------------------------------------------------

def test_reads_from_s3(monkeypatch, warc_files):
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                     "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(k, v)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="crawl")
        s3.put_object(Bucket="crawl", Key="warc/sample-0001.warc.gz", Body=warc_files[1].read_bytes())
        outs, stats = outcomes("s3://crawl/warc/sample-0001.warc.gz")
        local, _ = outcomes(warc_files[1])
        assert [(o.id, o.line, o.text) for o in outs] == [(o.id, o.line, o.text) for o in local]
        assert stats["records.response"] == 15
    finally:
        server.stop()
