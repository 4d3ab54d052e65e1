"""corpusflow.text.html: charset decoding of Japanese pages, the Japanese pre-filter, time-bounded
extraction. Pages are built from real Japanese web text (../shared/data/ja)."""

from __future__ import annotations

import html as html_lib
import threading
import time

import pytest

from corpusflow.text.html import (
    InProcessExtractor,
    TimedExtractor,
    TrafilaturaOptions,
    UndecodableHtml,
    codec_for_label,
    decode_html,
    html_lang,
    html_title,
    ja_prefilter,
    japanese_score,
    parse_content_type,
    sniff_declared_charset,
)
from tests.conftest import read_jsonl
from tests.helpers import fixture


@pytest.fixture(scope="module")
def ja_paragraphs() -> list[str]:
    """Real Japanese web text: 3-sentence leads of KWDLC pages (blogs, shops, government), those
    that every legacy codec below encodes and decodes unchanged (cp932 turns U+301C WAVE DASH
    into U+FF5E FULLWIDTH TILDE, and EUC-JP lacks some characters: not what these tests test)."""

    def round_trips(t: str) -> bool:
        try:
            return all(t.encode(c).decode(c) == t for c, _, _ in ENCODINGS)
        except UnicodeError:
            return False

    texts = [t for t in (r["text"] for r in read_jsonl(fixture("ja/kwdlc_leads.jsonl"))) if round_trips(t)]
    assert len(texts) >= 60
    return texts[:60]


def make_page(paragraphs: list[str], *, title: str, lang: str | None = None, meta_charset: str | None = None) -> str:
    lang_attr = f' lang="{lang}"' if lang else ""
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    body = "\n".join(f"<p>{html_lib.escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html{lang_attr}><head>{meta}<title>{html_lib.escape(title)}</title></head>"
            f"<body><article><h1>{html_lib.escape(title)}</h1>{body}</article></body></html>")


# --------------------------------------------------------------------------------------------
# charsets
# --------------------------------------------------------------------------------------------

ENCODINGS = [
    # (python codec used to build the bytes, label a server would send, expected codec)
    ("cp932", "Shift_JIS", "cp932"),
    ("euc_jp", "EUC-JP", "euc_jp"),
    ("iso2022_jp", "ISO-2022-JP", "iso2022_jp_ext"),
    ("utf-8", "UTF-8", "utf-8"),
]


@pytest.mark.parametrize("codec, label, expected", ENCODINGS)
@pytest.mark.parametrize("declared", ["header", "meta", "none", "wrong_latin1", "wrong_utf8"])
def test_decode_japanese_pages(ja_paragraphs, codec, label, expected, declared):
    page = make_page(ja_paragraphs[:20], title="お知らせ一覧",
                     meta_charset=label if declared == "meta" else None)
    body = page.encode(codec)
    header = {"header": label, "wrong_latin1": "ISO-8859-1", "wrong_utf8": "utf-8"}.get(declared)
    out = decode_html(body, header)
    assert out.text == page
    assert out.charset == expected


@pytest.mark.parametrize("codec, source", [("cp932", "detect_ja"), ("euc_jp", "detect_ja")])
def test_undeclared_shift_jis_and_euc_jp_are_told_apart(ja_paragraphs, codec, source):
    # EUC-JP bytes also decode as Shift_JIS (into half-width katakana): the score decides.
    page = make_page(ja_paragraphs[20:30], title="会社概要")
    out = decode_html(page.encode(codec))
    assert (out.charset, out.source, out.text) == (codec, source, page)
    wrong = page.encode("euc_jp").decode("cp932", "replace")
    assert japanese_score(wrong) < 0.5 < japanese_score(page)


def test_shift_jis_vendor_characters_decode_as_windows31j():
    # ① and ～ (NEC/IBM extensions) exist only in Windows-31J, which browsers use for Shift_JIS.
    page = "<html><head><title>価格表</title></head><body><p>①送料は全国一律５００円～です。</p></body></html>"
    out = decode_html(page.encode("cp932"), "shift_jis")
    assert out.text == page and out.charset == "cp932" and out.source == "http"


def test_utf8_wins_over_a_wrong_legacy_declaration(ja_paragraphs):
    page = make_page(ja_paragraphs[:5], title="ブログ", meta_charset="Shift_JIS")
    out = decode_html(page.encode("utf-8"), "EUC-JP")
    assert out.text == page and out.source == "utf8"


def test_bom_and_ascii():
    assert decode_html(b"\xef\xbb\xbf<html>\xe3\x81\x82</html>").source == "bom"
    out = decode_html(b"<html><body>plain</body></html>", "Shift_JIS")
    assert (out.text, out.charset, out.source) == ("<html><body>plain</body></html>", "cp932", "http")
    out = decode_html(b"<html><body>plain</body></html>")
    assert (out.charset, out.source) == ("ascii", "ascii")


def test_english_page_in_windows_1252_via_weak_declaration():
    page = "<html><body><p>Café au lait — naïve résumé, 25 € only.</p></body></html>"
    out = decode_html(page.encode("cp1252"), "ISO-8859-1")
    assert out.text == page and out.source == "http_weak"


@pytest.mark.parametrize("body", [bytes(range(256)) * 20, b"\x00\x81\xff\xfe" * 300])
def test_binary_payload_is_undecodable(body):
    with pytest.raises(UndecodableHtml) as err:
        decode_html(body)
    assert err.value.reason == "undecodable"
    assert "undecodable" in str(err.value)


def test_a_few_bad_bytes_are_replaced_not_fatal(ja_paragraphs):
    page = make_page(ja_paragraphs[:30], title="日記")
    body = page.encode("utf-8")
    body = body.replace(b"<article>", b"<article>\xff")  # one stray byte in 5 kB of UTF-8
    out = decode_html(body)
    assert out.charset == "utf-8" and out.replaced == 1 and out.source == "lenient"


@pytest.mark.parametrize("value, expected", [
    ("text/html; charset=Shift_JIS", ("text/html", "Shift_JIS")),
    ('Text/HTML;charset="euc-jp"', ("text/html", "euc-jp")),
    ("text/html", ("text/html", None)),
    ("", ("", None)),
    (None, ("", None)),
])
def test_parse_content_type(value, expected):
    assert parse_content_type(value) == expected


@pytest.mark.parametrize("label, codec", [
    ("Shift_JIS", "cp932"), ("x-sjis", "cp932"), ("Windows-31J", "cp932"), ("EUC-JP", "euc_jp"),
    ("iso-2022-jp", "iso2022_jp_ext"), ("UTF8", "utf-8"), ("iso-8859-1", "cp1252"),
    ("gb2312", "gb18030"), ("utf-16", "utf-8"), ("koi8-r", "koi8-r"), ("no-such-charset", None), (None, None),
])
def test_codec_for_label(label, codec):
    assert codec_for_label(label) == codec


@pytest.mark.parametrize("head, label", [
    (b'<html><head><meta charset="Shift_JIS">', "Shift_JIS"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=euc-jp" />', "euc-jp"),
    (b'<?xml version="1.0" encoding="Shift_JIS"?><html>', "Shift_JIS"),
    (b"<html><head><title>x</title></head>", None),
])
def test_sniff_declared_charset(head, label):
    assert sniff_declared_charset(head) == label


# --------------------------------------------------------------------------------------------
# Japanese pre-filter (Swallow: <html lang="ja"> or a Japanese title)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("page, content_language, expected", [
    ('<html lang="ja"><head><title>Home</title></head>', None, "html_lang"),
    ('<html lang="ja-JP" class="x"><head><title>Home</title></head>', None, "html_lang"),
    ('<html xml:lang="ja" xmlns="http://www.w3.org/1999/xhtml">', None, "html_lang"),
    ('<html lang="jp"><title>Top</title>', None, "html_lang"),
    ('<html lang="en"><head><title>東京のおすすめカフェ10選</title></head>', None, "title_kana"),
    ("<html><head><title>ｶﾌｪ ﾒﾆｭｰ</title></head>", None, "title_kana"),  # half-width katakana
    ("<html><head><title>Welcome</title></head>", "ja", "content_language"),
    ('<html><head><meta http-equiv="Content-Language" content="ja"><title>x</title>', None, "content_language"),
    ('<html lang="zh-CN"><head><title>北京大学新闻网</title></head>', None, None),  # kanji only: Chinese
    ('<html lang="en"><head><title>Research team</title></head>', None, None),
    ("<html><body>no head at all</body></html>", None, None),
])
def test_ja_prefilter(page, content_language, expected):
    assert ja_prefilter(page, content_language) == expected


def test_title_and_lang_helpers():
    page = '<HTML Lang="ja_JP"><head><title>\n  株式会社&amp;テスト  |  会社概要\n</title></head>'
    assert html_lang(page) == "ja-jp"
    assert html_title(page) == "株式会社&テスト | 会社概要"
    assert html_title("<html><title></title></html>") is None


# --------------------------------------------------------------------------------------------
# extraction with a time limit
# --------------------------------------------------------------------------------------------

def pathological_page(ja_paragraphs: list[str], n: int = 25_000) -> str:
    """~1.5 MB of short real paragraphs: trafilatura needs seconds for it (superlinear)."""
    return "<html><body>" + "".join(
        f"<div><p>{ja_paragraphs[i % len(ja_paragraphs)][:40]}</p></div>" for i in range(n)
    ) + "</body></html>"


def test_in_process_extraction_drops_boilerplate(ja_paragraphs):
    page = make_page(ja_paragraphs[:8], title="お知らせ").replace(
        "<body>", "<body><nav><a href='/'>ホーム</a> | <a href='/a'>会社概要</a></nav>"
    )
    res = InProcessExtractor(TrafilaturaOptions()).extract(page)
    assert res.status == "ok"
    assert ja_paragraphs[0].split("\n")[0] in res.text
    assert "会社概要" not in res.text


def test_timed_extractor_rejects_a_slow_page_and_goes_on(ja_paragraphs):
    ext = TimedExtractor(TrafilaturaOptions(), timeout_s=0.5)
    try:
        ok = ext.extract(make_page(ja_paragraphs[:10], title="記事"))
        assert ok.status == "ok" and ok.text
        t0 = time.perf_counter()
        slow = ext.extract(pathological_page(ja_paragraphs))
        assert slow.status == "timeout"
        assert time.perf_counter() - t0 < 3.0  # bounded: the limit plus killing the worker
        again = ext.extract(make_page(ja_paragraphs[10:20], title="記事"))
        assert again.status == "ok" and again.text
        assert ext.starts == 2  # the killed worker was replaced
    finally:
        ext.close()
    assert ext._proc is None


def test_timed_extractor_survives_a_dying_worker(ja_paragraphs):
    ext = TimedExtractor(TrafilaturaOptions(), timeout_s=30)
    try:
        ext.extract("<html><body><p>warm</p></body></html>")
        proc = ext._proc
        threading.Timer(0.3, proc.kill).start()
        res = ext.extract(pathological_page(ja_paragraphs))
        assert res.status == "crash" and res.error_class == "WorkerDied"
        assert ext.extract(make_page(ja_paragraphs[:5], title="記事")).status == "ok"
    finally:
        ext.close()


def test_timed_and_in_process_extraction_agree(ja_paragraphs):
    pages = [make_page(ja_paragraphs[i : i + 6], title=f"記事{i}") for i in range(0, 30, 6)]
    opts = TrafilaturaOptions(include_tables=True, favor_precision=True)
    ext = TimedExtractor(opts, timeout_s=10)
    try:
        timed = [ext.extract(p).text for p in pages]
    finally:
        ext.close()
    inproc = [InProcessExtractor(opts).extract(p).text for p in pages]
    assert timed == inproc and all(timed)
