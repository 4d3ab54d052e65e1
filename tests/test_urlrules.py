"""corpusflow.text.urlrules: host normalisation, suffix blocklist, llm-jp TLD allowlist."""

from __future__ import annotations

import pytest

from corpusflow.config.load import load_config
from corpusflow.core.errors import ConfigError
from corpusflow.core.paths import resolve_path
from corpusflow.text.config import UrlFilterConfig
from corpusflow.text.urlrules import (
    REASON_BLOCKED,
    REASON_INVALID,
    REASON_TLD,
    HostBlocklist,
    UrlRules,
    load_list_file,
    normalize_host,
    read_list,
    rules_from_config,
    url_host,
)


@pytest.mark.parametrize("entry, host", [
    ("Example.COM", "example.com"),
    ("*.5ch.net", "5ch.net"),
    (".wikipedia.org", "wikipedia.org"),
    ("example.com.", "example.com"),
    ("http://Blog.Example.jp:8080/path?q=1", "blog.example.jp"),
    ("example.com:443", "example.com"),
    ("例え.jp", "xn--r8jz45g.jp"),
    ("192.168.0.1", "192.168.0.1"),
    ("", None),
    ("not a host", None),
    ("exa$mple.com", None),
])
def test_normalize_host(entry, host):
    assert normalize_host(entry) == host


@pytest.mark.parametrize("url, host", [
    ("https://www.agries-nagano.jp/pest/6130.html", "www.agries-nagano.jp"),
    ("HTTP://EGG.5CH.NET:80/test/read.cgi", "egg.5ch.net"),
    ("https://例え.テスト/パス", "xn--r8jz45g.xn--zckzah"),
    ("https://[2001:db8::1]/x", "[2001:db8::1]"),
    ("16thfleet.wikidot.com/chatter:anewhome", "16thfleet.wikidot.com"),  # no scheme (dolma CC)
    ("mailto:someone@example.com", None),
    ("/relative/path.html", None),
    ("https://", None),
])
def test_url_host(url, host):
    assert url_host(url) == host


BLOCK = HostBlocklist(["5ch.net", "wikipedia.org", "ads.example.com", "例え.jp"])


@pytest.mark.parametrize("host, hit", [
    ("5ch.net", "5ch.net"),
    ("egg.5ch.net", "5ch.net"),
    ("ja.wikipedia.org", "wikipedia.org"),
    ("ads.example.com", "ads.example.com"),
    ("x.ads.example.com", "ads.example.com"),
    ("example.com", None),  # a parent of a listed host is not blocked
    ("not5ch.net", None),  # whole labels only, unlike a plain endswith
    ("5ch.net.evil.org", None),
    ("xn--r8jz45g.jp", "xn--r8jz45g.jp"),
])
def test_blocklist_suffix_match(host, hit):
    assert BLOCK.match(host) == hit


LLM_JP = load_list_file("pkg:resources/tld/llm_jp_valid_tlds.txt")


def test_shipped_llm_jp_tld_list():
    assert sorted(LLM_JP) == sorted(
        ["biz", "cc", "com", "info", "jp", "me", "net", "org", "site", "tokyo", "tv", "work", "xyz"]
    )


@pytest.mark.parametrize("url, reason", [
    ("https://www.city.nagano.nagano.jp/site/", None),
    ("https://kyoto.travel/ja/", REASON_TLD),  # .travel is not in llm-jp's list
    ("https://example.co.uk/", REASON_TLD),
    ("http://203.0.113.5/index.html", REASON_TLD),
    ("https://hayabusa.5ch.net/test/read.cgi/news/1", REASON_BLOCKED),  # blocklist first
    ("https://ja.wikipedia.org/wiki/日本", REASON_BLOCKED),
    ("not a url at all", REASON_INVALID),
    ("", None),  # no URL: nothing to judge
    (None, None),
])
def test_rules_blocklist_then_tld(url, reason):
    rules = UrlRules(BLOCK, LLM_JP)
    assert rules.check(url).reason == reason


def test_tld_allowlist_off_by_default_keeps_other_tlds():
    rules = rules_from_config(UrlFilterConfig())
    assert rules.check("https://kyoto.travel/ja/").reason is None
    assert rules.check("https://example.co.uk/").reason is None
    assert rules.check("no host here").reason == REASON_INVALID
    assert UrlRules(reject_invalid=False).check("no host here").reason is None


def test_verdict_detail_names_the_entry():
    v = UrlRules(BLOCK).check("https://egg.5ch.net/x")
    assert v.detail == "egg.5ch.net matches blocked 5ch.net" and v.host == "egg.5ch.net"


def test_blocklist_files_and_config(tmp_path, caplog):
    f = tmp_path / "hosts.txt"
    f.write_text("# UT1-style domains file\nbad.example\n*.spam.test  # with a comment\n\nnot a host\n",
                 encoding="utf-8")
    assert read_list(f.read_text().splitlines()) == ["bad.example", "*.spam.test", "not a host"]
    cfg = UrlFilterConfig(blocklist_files=[str(f)], blocked_hosts=["5ch.net"], tld_allowlist=True)
    rules = rules_from_config(cfg)
    assert len(rules.blocklist) == 3
    assert "skipped 1 blocklist entries" in caplog.text
    assert rules.check("https://www.spam.test/").reason == REASON_BLOCKED
    assert rules.check("https://bad.example/").reason == REASON_BLOCKED
    assert rules.check("https://good.jp/").reason is None
    assert rules.check("https://good.de/").reason == REASON_TLD


def test_config_errors_before_the_job_starts(tmp_path):
    with pytest.raises(ValueError, match="not a host"):
        UrlFilterConfig(blocked_hosts=["5ch.net", "two words"])
    with pytest.raises(ValueError, match="list file not found"):
        UrlFilterConfig(blocklist_files=[str(tmp_path / "missing.txt")])
    data = {"sources": [{"name": "a", "paths": [str(tmp_path / "x.jsonl")]}],
            "stages": {"urls": {"tld_allowlist": True, "tld_allowlist_file": str(tmp_path / "nope.txt")}}}
    with pytest.raises(ConfigError, match=r"stages\.urls"):
        load_config(data=data, check_inputs=False)
    assert resolve_path(UrlFilterConfig().tld_allowlist_file).endswith("llm_jp_valid_tlds.txt")
