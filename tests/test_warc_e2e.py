"""End to end on the FnApiRunner: WARC/WET files -> URL rules -> extraction -> normalise ->
language ID -> (quality filters, tag mode) -> Parquet, with the manifest accounting for every
page record.

Inputs: the shared sample WARCs (37 English HTTP responses), a WARC written here with Japanese
pages built from real Common Crawl text (Shift_JIS, EUC-JP, UTF-8), error responses, a
non-HTML payload and a page on a blocked host, a WET file, and a copy of a sample WARC cut
short (its readable records are kept, then one error record)."""

from __future__ import annotations

import html as html_lib
from pathlib import Path

import pytest
import yaml

from tests.conftest import read_jsonl
from tests.helpers import load_manifest, read_parquet_rows, run_cli
from tests.test_warc import write_warc

pytestmark = pytest.mark.shared_data  # every test here needs ../shared (corpora or bench scripts)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, shared_data) -> dict:
    d = tmp_path_factory.mktemp("crawl")
    texts = [r["text"] for r in read_jsonl(shared_data / "ja" / "abeja_cc_ja.jsonl") if 300 < len(r["text"]) < 4000]
    pages = []
    for i, t in enumerate(texts[:6]):
        body = "".join(f"<p>{html_lib.escape(line)}</p>\n" for line in t.split("\n") if line.strip())
        pages.append(f'<html lang="ja"><head><title>ページ{i}</title></head><body><article>{body}'
                     "</article></body></html>")
    html = [("Content-Type", "text/html")]
    records = [
        {"type": "warcinfo", "body": b"software: corpusflow test\r\n", "ctype": "application/warc-fields"},
        {"type": "response", "url": "https://www.example.jp/sjis", "body": pages[0].encode("cp932"),
         "headers": [("Content-Type", "text/html; charset=Shift_JIS")]},
        {"type": "response", "url": "https://www.example.jp/euc", "body": pages[1].encode("euc_jp"), "headers": html},
        {"type": "response", "url": "https://www.example.jp/utf8", "body": pages[2].encode(), "headers": html},
        {"type": "response", "url": "https://hayabusa.5ch.net/test/1", "body": pages[3].encode(), "headers": html},
        {"type": "response", "url": "https://www.example.jp/missing", "status": "404 Not Found",
         "body": b"<html><body>404</body></html>", "headers": html},
        {"type": "response", "url": "https://www.example.jp/logo.gif", "body": b"GIF89a" + bytes(64),
         "headers": [("Content-Type", "image/gif")]},
        {"type": "request", "url": "https://www.example.jp/sjis"},
    ]
    write_warc(d / "ja-00000.warc.gz", records)
    wet = [{"type": "conversion", "url": f"https://blog.example.jp/{i}", "body": t.encode(),
            "warc": {"WARC-Identified-Content-Language": "jpn"}} for i, t in enumerate(texts[6:10])]
    write_warc(d / "ja-00000.warc.wet.gz", wet)
    data = (shared_data / "warc" / "sample-0001.warc.gz").read_bytes()
    (d / "cut-00000.warc.gz").write_bytes(data[:120_000])
    cfg = {
        "name": "warc_e2e",
        "seed": 3,
        "sources": [
            {"name": "sample", "paths": [str(shared_data / "warc" / "*.warc.gz")]},
            {"name": "ja_warc", "paths": [str(d / "ja-*.warc.gz")], "format": "warc"},
            {"name": "ja_wet", "paths": [str(d / "*.warc.wet.gz")]},
            {"name": "cut", "paths": [str(d / "cut-*.warc.gz")], "format": "warc"},
        ],
        # Quality filters in 'tag' mode: every document is scored, none dropped (the counts below
        # stay exact); they run as soon as the filter stage is wired into the pipeline.
        "stages": {"urls": {"blocked_hosts": ["5ch.net"]}, "langid": {"languages": ["ja", "en"]},
                   "filters": {"enabled": True, "mode": "tag"}},
        "output": {"shard_max_bytes": 200_000, "row_group_rows": 100},
        "limits": {"max_error_rate": 0.05, "allow_incomplete_files": True},  # a cut WARC on purpose
    }
    path = d / "warc_e2e.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return {"config": path, "pages": pages, "texts": texts}


@pytest.fixture(scope="module")
def run(crawl, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert run_cli("run", crawl["config"], "--output", out) == 0
    return out


def test_manifest_accounts_for_every_page_record(run):
    m = load_manifest(run)
    by = m["counts"]["by_source"]
    # Page records only: the 37 responses of the samples, 6 responses in ja_warc, 4 WET
    # conversions; warcinfo/request/metadata records are not input documents.
    assert {s: by[s]["input"] for s in by} == {"sample": 37, "ja_warc": 6, "ja_wet": 4,
                                                "cut": by["cut"]["input"]}
    for s, c in by.items():
        assert c["kept"] + c["rejected"] + c["duplicates"] + c["errors"] == c["input"], s
        assert c["conserved"] is True
    assert by["cut"]["errors"] == 1 and 0 < by["cut"]["kept"] < 15
    assert by["ja_warc"]["kept"] == 3 and by["ja_wet"]["kept"] == 4
    assert by["sample"]["kept"] >= 33 and by["sample"]["kept_by_lang"].keys() == {"en"}
    assert m["status"] == "complete"
    stages = [s["stage"] for s in m["stages"]]
    assert stages[:5] == ["read", "urls", "extract", "normalize", "langid"] and set(stages[5:]) <= {"filters"}
    for a, b in zip(m["stages"], m["stages"][1:], strict=False):
        for src in a["by_source"]:
            assert a["by_source"][src]["out"] == b["by_source"][src]["in"]


def test_outputs(run, crawl):
    m = load_manifest(run)
    data = read_parquet_rows(run / "data" / "*.parquet")
    rejected = read_parquet_rows(run / "rejected" / "*.parquet")
    errors = read_parquet_rows(run / "errors" / "*.parquet")
    t = m["counts"]["total"]
    assert (len(data), len(rejected), len(errors)) == (t["kept"], t["rejected"], t["errors"])

    ja = {r["url"]: r for r in data if r["source"] == "ja_warc"}
    assert set(ja) == {"https://www.example.jp/sjis", "https://www.example.jp/euc", "https://www.example.jp/utf8"}
    for url, i in (("https://www.example.jp/sjis", 0), ("https://www.example.jp/euc", 1)):
        row = ja[url]
        assert row["lang"] == "ja" and row["lang_score"] > 0.9
        first_line = crawl["texts"][i].split("\n")[0].strip()
        assert first_line[:30] in row["text"] and "<p>" not in row["text"]
        meta = row["metadata"]
        assert meta["warc_date"] and meta["content_kind"] == "text" and meta["http_status"] == 200
        assert meta["charset"] == ("cp932" if i == 0 else "euc_jp")
    wet = [r for r in data if r["source"] == "ja_wet"]
    assert sorted(r["text"] for r in wet) == sorted(crawl["texts"][6:10])

    reasons = {(r["source"], r["stage"], r["reason"]) for r in rejected}
    assert {("ja_warc", "read", "warc.http_status"), ("ja_warc", "read", "warc.not_html"),
            ("ja_warc", "urls", "url.blocked_host")} <= reasons
    blocked = next(r for r in rejected if r["reason"] == "url.blocked_host")
    assert blocked["url"] == "https://hayabusa.5ch.net/test/1" and blocked["text"] == ""
    err = errors[0]
    assert err["source"] == "cut" and err["stage"] == "read" and err["offset_kind"] == "byte"
    assert err["error_class"] in ("TruncatedInput", "TruncatedRecord") and 0 < err["offset"] < 120_000
