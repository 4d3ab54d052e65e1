"""The extraction and URL steps as Beam stages on the FnApiRunner, fed with the real sample WARC
pages plus Japanese pages built from real text, a pathological page and an oversized one."""

from __future__ import annotations

import glob
import html as html_lib
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from corpusflow.core.document import Document
from corpusflow.io.warc import iter_warc
from corpusflow.stages.chain import DocumentStages
from corpusflow.steps.extract import ExtractStep
from corpusflow.steps.urls import UrlStep
from corpusflow.text.config import ExtractConfig, UrlFilterConfig
from tests.conftest import read_jsonl

pytestmark = pytest.mark.shared_data  # every test here needs ../shared (corpora or bench scripts)


def _dump(x) -> str:
    if isinstance(x, Document):
        return json.dumps({"id": x.id, "text": x.text, "url": x.url, "meta": x.meta}, ensure_ascii=False)
    if hasattr(x, "reason"):
        return json.dumps({"id": x.doc.id, "stage": x.stage, "reason": x.reason, "detail": x.detail,
                           "text": x.doc.text}, ensure_ascii=False)
    return json.dumps({"id": x.doc_id, "stage": x.stage, "error_class": x.error_class})


def big_page(kind: str, ja: list[str]) -> Document:
    """Built inside the pipeline: Beam's Create is slow with multi-megabyte elements."""
    if kind == "slow":  # ~3.5 MB of short real paragraphs: trafilatura needs seconds
        page = "<html><body>" + "".join(f"<div><p>{ja[i % len(ja)][:40]}</p></div>" for i in range(25_000))
    else:  # 6.3 MB
        page = "<html><body><p>" + "あ" * 2_100_000 + "</p>"
    return html_doc(kind, page + "</body></html>")


def run_stages(docs: list[Document], big: list[str], ja: list[str], transforms: dict[str, beam.PTransform],
               tmp: Path) -> dict:
    """Run each transform on the same input in one pipeline; read back its outputs."""
    with beam.Pipeline(runner=FnApiRunner()) as p:
        small = p | "Small" >> beam.Create(docs)
        large = p | "Big" >> beam.Create(big) | beam.Map(big_page, ja)
        pc = (small, large) | beam.Flatten()
        for name, t in transforms.items():
            res = pc | f"T_{name}" >> t
            for kind in ("kept", "rejected", "errors"):
                coll = getattr(res, kind)
                if coll is not None:
                    _ = (coll | f"D_{name}_{kind}" >> beam.Map(_dump)
                         | f"W_{name}_{kind}" >> beam.io.WriteToText(str(tmp / f"{name}-{kind}")))
    out: dict = {}
    for name in transforms:
        out[name] = {}
        for kind in ("kept", "rejected", "errors"):
            rows = []
            for f in sorted(glob.glob(str(tmp / f"{name}-{kind}*"))):
                with open(f, encoding="utf-8") as fh:
                    rows += [json.loads(line) for line in fh]
            out[name][kind] = {r["id"]: r for r in rows}
    return out


def html_doc(doc_id: str, page: str, **meta) -> Document:
    return Document(id=doc_id, text=page, source="t", url=f"https://example.jp/{doc_id}",
                    meta={"content_kind": "html", **meta})


@pytest.fixture(scope="module")
def inputs(shared_data) -> dict:
    warc_docs = []
    for f in sorted((shared_data / "warc").glob("*.warc.gz")):
        warc_docs += [d for d in iter_warc(str(f), "cc") if isinstance(d, Document)]
    ja = [r["text"] for r in read_jsonl(shared_data / "ja" / "kwdlc_leads.jsonl", limit=200)]
    article = "".join(f"<p>{html_lib.escape(t)}</p>" for t in ja[:12])
    ja_page = (f'<html lang="ja"><head><title>地域のお知らせ</title></head><body><nav>ホーム | 会社概要</nav>'
               f"<article>{article}</article><footer>Copyright</footer></body></html>")
    title_only = f"<html><head><title>旅行のおすすめプラン</title></head><body><article>{article}</article></body></html>"
    extra = [
        html_doc("ja_page", ja_page),
        html_doc("ja_title_only", title_only),
        html_doc("empty", "<html><head><title>x</title></head><body><div></div></body></html>"),
        Document(id="plain", text="すでにテキストの文書です。", source="t", url="https://example.jp/plain"),
        Document(id="wet", text="WET text", source="t", url="http://egg.5ch.net/test/read.cgi",
                 meta={"content_kind": "text"}),
    ]
    return {"warc": warc_docs, "small": warc_docs + extra, "ja": ja, "ja_first": ja[0].split("\n")[0],
            "all_ids": [d.id for d in warc_docs + extra] + ["slow", "huge"]}


@pytest.fixture(scope="module")
def results(inputs, tmp_path_factory) -> dict:
    cfg = ExtractConfig(timeout_s=0.5, max_html_bytes=5_000_000)
    return run_stages(inputs["small"], ["slow", "huge"], inputs["ja"], {
        "default": DocumentStages([ExtractStep(cfg)]),
        "ja": DocumentStages([ExtractStep(cfg.model_copy(update={"ja_prefilter": True}))]),
        "urls": DocumentStages([UrlStep(UrlFilterConfig(blocked_hosts=["5ch.net", "semanticscholar.org"], tld_allowlist=True))]),
    }, tmp_path_factory.mktemp("stages"))


def test_extraction_accounts_for_every_document(results, inputs):
    r = results["default"]
    ids = inputs["all_ids"]
    assert sorted(list(r["kept"]) + list(r["rejected"]) + list(r["errors"])) == sorted(ids)
    reasons = {k: v["reason"] for k, v in r["rejected"].items()}
    assert reasons == {"slow": "extract.timeout", "huge": "extract.too_large", "empty": "extract.empty"}
    assert r["rejected"]["slow"]["detail"].startswith("over 0.5 s") and r["rejected"]["slow"]["text"] == ""
    assert not r["errors"]


def test_extracted_warc_pages(results, inputs):
    kept = results["default"]["kept"]
    for d in inputs["warc"]:
        k = kept[d.id]
        assert k["meta"]["content_kind"] == "text" and k["meta"]["extractor"] == "trafilatura"
        assert "<" not in k["text"][:200] and 0 < len(k["text"]) < len(d.text)
        assert k["url"] == d.url and k["meta"]["warc_date"] == d.meta["warc_date"]
    faq = next(d for d in inputs["warc"] if d.url == "https://commoncrawl.org/faq")
    assert kept[faq.id]["meta"]["title"]
    # Boilerplate (navigation, footer) is dropped, the article is kept.
    ja = kept["ja_page"]["text"]
    assert inputs["ja_first"] in ja and "会社概要" not in ja and "Copyright" not in ja
    assert kept["ja_page"]["meta"]["html_lang"] == "ja" and kept["ja_page"]["meta"]["title"] == "地域のお知らせ"
    # Non-HTML documents pass through untouched.
    assert kept["plain"]["text"] == "すでにテキストの文書です。" and kept["wet"]["text"] == "WET text"


def test_ja_prefilter(results, inputs):
    r = results["ja"]
    rejected = {k for k, v in r["rejected"].items() if v["reason"] == "extract.ja_prefilter.not_japanese"}
    # The sample WARC pages are English (lang="en" or no lang, English titles).
    # The pre-filter runs before extraction: the slow page (no lang, no title) is never parsed.
    assert rejected == {d.id for d in inputs["warc"]} | {"empty", "slow"}
    assert r["rejected"]["huge"]["reason"] == "extract.too_large"  # size is checked first
    assert set(r["kept"]) == {"ja_page", "ja_title_only", "plain", "wet"}
    assert r["kept"]["ja_page"]["meta"]["ja_prefilter"] == "html_lang"
    assert r["kept"]["ja_title_only"]["meta"]["ja_prefilter"] == "title_kana"


def test_url_rules_stage(results, inputs):
    r = results["urls"]
    reasons = {k: v["reason"] for k, v in r["rejected"].items()}
    scholar = {d.id for d in inputs["warc"] if "semanticscholar.org" in d.url}
    assert len(scholar) == 2
    by_reason: dict[str, set] = {}
    for k, v in reasons.items():
        by_reason.setdefault(v, set()).add(k)
    assert by_reason["url.blocked_host"] == scholar | {"wet"}
    # llm-jp's allowlist has no .edu, .ai, .cat or .io.
    tld = {d.id for d in inputs["warc"] if d.url.split("/")[2].rsplit(".", 1)[-1] in ("edu", "ai", "cat", "io")}
    assert by_reason["url.tld_not_allowed"] == tld and tld
    assert set(r["kept"]) | set(reasons) == set(inputs["all_ids"])
    assert r["rejected"]["wet"]["text"] == "WET text" and all(
        r["rejected"][i]["text"] == "" for i in scholar)  # raw HTML is not copied


def test_worker_pool_is_shared_by_threads(inputs):
    from concurrent.futures import ThreadPoolExecutor

    from corpusflow.steps.extract import _POOLS, acquire_pool, release_pool

    cfg = ExtractConfig(isolation="inprocess", workers_per_process=2)
    pool = acquire_pool(cfg)
    assert acquire_pool(cfg) is pool and pool.refs == 2

    def extract(doc: Document) -> str | None:
        ex = pool.acquire()
        try:
            return ex.extract(doc.text, doc.url).text
        finally:
            pool.release(ex)

    pages = inputs["warc"][:12]
    with ThreadPoolExecutor(6) as threads:
        texts = list(threads.map(extract, pages))
    assert all(texts) and len(pool._all) <= 2
    release_pool(cfg)
    assert _POOLS.get(cfg.model_dump_json()) is pool
    release_pool(cfg)
    assert cfg.model_dump_json() not in _POOLS and pool._all == []
