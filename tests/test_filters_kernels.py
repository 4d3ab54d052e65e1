"""The compiled (numba) filter kernels give exactly the numpy code's results.

Every test runs the rules twice: with the kernels (:func:`corpusflow.filters.kernels.get`) and
inside :func:`corpusflow.filters.kernels.disabled` (the numpy code, what ``CORPUSFLOW_NO_NUMBA=1``
runs). Signals are compared by ``repr`` (bit-identical floats, same keys in the same order),
failures by reason code and deciding value. The texts are real documents (the fixture sample of ../shared/data, tests/fixtures) plus
hand-made edge cases whose values are worked out in comments.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Iterator

import numpy as np
import pytest

from corpusflow.filters import kernels
from corpusflow.filters.catalog import build_step
from corpusflow.filters.chain import FilterChain
from corpusflow.filters.keywords import KeywordIndex, KeywordUser
from corpusflow.filters.profiles import build_chain
from corpusflow.filters.text import TextView
from corpusflow.text.normalize import normalize_text
from tests.helpers import fixture

HAVE_NUMBA = kernels.get() is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba kernels unavailable (CORPUSFLOW_NO_NUMBA or no numba)")
PATHS = ["numba", "numpy"]


@contextlib.contextmanager
def path(which: str) -> Iterator[None]:
    if which == "numba":
        if not HAVE_NUMBA:
            pytest.skip("numba kernels unavailable")
        yield
    else:
        with kernels.disabled():
            yield


def _read(rel: str, limit: int) -> list[str]:
    out = []
    with gzip.open(fixture(rel), "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                t = json.loads(line).get("text")
                if isinstance(t, str):
                    out.append(normalize_text(t))
                if len(out) >= limit:
                    break
    return out


EDGE = [
    "",
    " ",
    "\n\n",
    "a",
    "ab",
    "abc",
    "word",
    "one two",
    "x " * 300,  # one word repeated: top and dup n-grams everywhere
    "the cat sat on the mat. " * 40,
    "ああああ" * 100,
    "あ" * 250 + "い",
    "ＳＥＸ　ｓｅｘ Sex sex SEX sexy unisex",  # full-width, case, word boundaries
    "アダルト動画とアダルトサイト。アスパラガスのアス。",
    "Copyright © 2020 All rights reserved.\nトラックバック\n無断転載禁止",
    "a\u00a0b\u3000c\td\x0be\x1cf",  # Unicode whitespace splits words
    "𠮷野家𠮷野家𠮷野家𠮷野家𠮷野家𠮷野家",  # astral characters
]


def _chain_outputs(chain: FilterChain, texts: list[str]) -> list[str]:
    rows = []
    for t in texts:
        r = chain.run(t)
        sig = ",".join(f"{k}={v!r}" for k, v in r.signals.items())
        fails = ";".join(f"{v.reason}|{v.detail()}" for v in r.failures)
        rows.append(f"{r.keep}|{r.text if r.changed else ''}|{fails}|{sig}")
    return rows


@pytest.fixture(scope="module")
def real_texts() -> dict[str, list[str]]:
    ja = (
        _read("ja/mc4ja_quality_labels.dev.jsonl", 250)
        + _read("ja/kwdlc_leads.jsonl", 150)
        + _read("ja/abeja_cc_ja.jsonl", 99)
        + _read("ja/aozora_dev.jsonl.gz", 20)
        + _read("ja/ja_wiki_paragraphs.jsonl.gz", 150)
    )
    en = (
        _read("en/c4_sample.jsonl.gz", 300)
        + _read("en/abc_news.jsonl.gz", 150)
        + _read("en/cc_main_raw_multilingual.jsonl.gz", 200)
    )
    return {"ja": ja + EDGE, "en": en + EDGE}


@needs_numba
@pytest.mark.parametrize("profile,lang", [("ja_web", "ja"), ("en_web", "en")])
@pytest.mark.parametrize("mode", ["tag", "filter"])
def test_profile_outputs_identical_on_real_text(real_texts, profile, lang, mode):
    """Every signal (repr), reason and rewritten text of the chains, on both paths, for real
    documents of both languages (each chain also sees the other language: more edge cases)."""
    texts = real_texts["ja"] + real_texts["en"]
    chain = build_chain(profile, lang=lang, mode=mode).setup()
    fast = _chain_outputs(chain, texts)
    with kernels.disabled():
        slow = _chain_outputs(chain, texts)
    assert len(fast) == len(slow) == len(texts)
    for t, a, b in zip(texts, fast, slow, strict=True):
        assert a == b, t[:200]


def one(rule: str, text: str, key: str = "", **params) -> float:
    chain = FilterChain([build_step(rule, params)], mode="tag").setup()
    s = chain.run(text).signals
    return s[rule if key == "" else f"{rule}.{key}"]


# Hand-checked values, on both paths ----------------------------------------------------------

GOPHER = "en.gopher_repetition"


@pytest.mark.parametrize("which", PATHS)
@pytest.mark.parametrize(
    "text,key,expected",
    [
        # 5 words "a b c d e" twice and "f": the second 5-gram "a b c d e" (positions 5-9) is a
        # repeat of 5 characters without spaces; len(text) = 21
        ("a b c d e a b c d e f", "dup5gram", 5 / 21),
        ("a b c d e a b c d e f", "dup6gram", 0.0),
        # top 2-gram "a b" occurs twice: 2 x (2 letters + 1 space) / 21
        ("a b c d e a b c d e f", "top2gram", 2 * 3 / 21),
        # "x" x 12 (23 characters): the 2-gram "x x" occurs 11 times: 11 x 3 / 23
        (" ".join(["x"] * 12), "top2gram", 11 * 3 / 23),
        # dup5: windows 0..7 all "x x x x x"; left to right, skip 5 words after each repeat:
        # repeats at 1 and 6 -> 2 x 5 letters / 23
        (" ".join(["x"] * 12), "dup5gram", 10 / 23),
        # dup10: windows 0..2, repeats at 1 only (next allowed 11) -> 10 / 23
        (" ".join(["x"] * 12), "dup10gram", 10 / 23),
        # fewer words than n: 0
        ("one two three", "top4gram", 0.0),
        ("one two three", "dup5gram", 0.0),
        # longest of the most frequent 2-grams: "bb cc" and "a bb" both occur twice, "bb cc"
        # (4 letters) is the longer: 2 x (4 + 1) / 22
        ("a bb cc a bb cc dd eee", "top2gram", 2 * 5 / 22),
    ],
)
def test_gopher_word_ngrams(which, text, key, expected):
    with path(which):
        assert one(GOPHER, text, key) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("which", PATHS)
@pytest.mark.parametrize(
    "text,expected",
    [
        ("aaaaaa", 1.0),  # one 5-gram twice: k = min(floor(sqrt(1)), 1) = 1 -> 2/2
        ("abcdeabcdeXY", 2 / 8),  # 8 windows, 7 distinct, "abcde" twice: k = 1 -> 2/8
        ("abcd", 0.0),  # no 5-gram
        ("abcdefgh", 0.0),  # nothing repeated
        # "ab" x 10 (20 chars): 16 windows, 2 distinct (ababa x 8, babab x 8): k = 1 -> 8/16
        ("ab" * 10, 8 / 16),
    ],
)
def test_char_repetition(which, text, expected):
    with path(which):
        assert one("text.char_repetition", text) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("which", PATHS)
@pytest.mark.parametrize("text,expected", [("", 0), ("a", 1), ("abbbbc", 4), ("x" * 1000, 1000), ("abcc", 2)])
def test_single_char_repetition(which, text, expected):
    with path(which):
        assert one("text.single_char_repetition", text) == expected


@pytest.mark.parametrize("which", PATHS)
def test_keyword_boundaries_and_folding(which):
    # en.ng_words: ASCII case folded, keywords also indexed in full width, whole words only:
    # ｓｅｘ Sex sex SEX count (4); full-width capitals ＳＥＸ are not case-folded (only A-Z is),
    # "sexy" and "unisex" are not whole words
    with path(which):
        assert one("en.ng_words", "ＳＥＸ　ｓｅｘ Sex sex SEX sexy unisex") == 4
        # katakana boundary: アダルト twice, アス inside アスパラガス does not count
        text = "アダルト動画とアダルトサイト。アスパラガスのアス。"
        assert one("ja.ng_adult", text) >= 2


# Kernel-level checks -------------------------------------------------------------------------


@needs_numba
def test_group_ids_match_sorting():
    k = kernels.get()
    rng = np.random.default_rng(7)
    for m in (0, 1, 2, 17, 1000, 5000):
        vals = rng.integers(0, 50, size=m).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        gid, sizes = k.group_ids(vals)
        uniq, first, counts = np.unique(vals, return_index=True, return_counts=True)
        assert len(sizes) == len(uniq)
        # groups are numbered by first appearance
        order = np.argsort(first, kind="stable")
        assert sizes.tolist() == counts[order].tolist()
        assert [vals[i] for i in first[order]] == [vals[np.flatnonzero(gid == g)[0]] for g in range(len(sizes))]


def test_disabled_restores_state():
    before = kernels.get()
    with kernels.disabled():
        assert kernels.get() is None
    assert kernels.get() is before


# Line and sentence spans ------------------------------------------------------------------------


@needs_numba
def test_spans_are_the_string_lists(real_texts):
    """The compiled spans cut exactly :attr:`TextView.lines` and :attr:`TextView.ja_sentences`,
    and their summaries are :func:`dup_counts` plus the longest length."""
    from corpusflow.filters.text import dup_counts

    extra = ["- a\n* b\n•c\n-\n", "a\r\n b \n\n\u3000c\u3000\n", "はい。。いいえ！？\n 本当 。\n", "…\n...\n・", "x\x1cy\x1f\n\x85"]
    for t in real_texts["ja"] + real_texts["en"] + extra:
        v = TextView(t)
        for kind, ref in (("lines", v.lines), ("sentences", v.ja_sentences)):
            starts, ends = v.spans(kind)
            assert [t[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)] == ref, t[:100]
            n, dup, chars, dup_chars, longest = v.span_summary(kind)
            assert (n, dup, chars, dup_chars) == dup_counts(ref)
            assert longest == max(map(len, ref), default=0)
            for suffixes in (("...", "…"), ("・", "…", "..."), ("。",), ("",)):
                assert v.count_endings(kind, suffixes) == sum(1 for x in ref if x.endswith(suffixes))
            for prefixes in (("•", "-", "*"), ("第",), ("",)):
                assert v.count_beginnings(kind, prefixes) == sum(1 for x in ref if x.startswith(prefixes))


@needs_numba
def test_span_summary_counts_strings_when_hashes_collide(monkeypatch):
    """If two different lines shared a hash, the kernel says so and the strings are counted."""
    real = kernels.get()

    def colliding(cps, starts, ends):  # what span_dups returns on a hash collision
        return len(starts), 0, 0, 0, 0, False

    fake = type(real)(**{**vars(real), "span_dups": colliding})
    monkeypatch.setitem(kernels._STATE, "kernels", fake)
    v = TextView("ab\ncd\nab\nxyz")
    # 4 lines, "ab" once more: 1 duplicate of 2 characters, 9 characters in all
    assert v.span_summary("lines")[:4] == (4, 1, 9, 2)


@needs_numba
@pytest.mark.parametrize("profile,lang", [("ja_web", "ja"), ("en_web", "en")])
def test_keyword_hits_equal_numpy(real_texts, profile, lang):
    """Every hit (list, start, length, keyword), in the same order, on both paths; also for an
    index that folds case and width and mixes katakana, ASCII and one-character keywords."""
    chain = build_chain(profile, lang=lang).setup()
    indexes = {id(s._kw_index): s._kw_index for s in chain.steps if isinstance(s, KeywordUser)}
    extra = KeywordIndex(fold_width=True, ignore_case=True)
    extra.add("x", ["Cookie", "ＳＥＸ", "アダルト", "死", "the", "of the", "。"], katakana_boundary=True,
              word_boundary=False)
    indexes[0] = extra.finalize()
    for idx in indexes.values():
        for t in real_texts["ja"] + real_texts["en"] + ["THE Cookie of THE ｃｏｏｋｉｅ", "死アダルト死"]:
            fast = idx.match(TextView(t))
            with kernels.disabled():
                slow = idx.match(TextView(t))
            assert fast == slow, t[:100]


@pytest.mark.parametrize("which", PATHS)
def test_bbs_count_equals_reference_regex(real_texts, which):
    """The date search that starts at :func:`kernels.first_date_candidate` finds the matches of
    HojiChar's whole pattern: dates and episodes at the start, after other digits, in both
    widths, after digit runs that are not dates."""
    from corpusflow.filters.rules_ja import BBS_PATTERN, BBS_PATTERN_RUNS, bbs_count

    crafted = [
        "2018-10-10 投稿", "12018年1月2日", "第１２話と2020/1/1", "123 4567 2019.3.4", "99話", "1234年",
        "価格1000円、2021年12月31日（金）", "１２３４５年６月７日", "3-4-5 1-2-3", "0話1話22話", "(月)（火）",
    ]
    with path(which):
        for t in crafted + real_texts["ja"]:
            assert bbs_count(TextView(t)) == len(BBS_PATTERN.findall(t)), t[:100]
            assert bbs_count(TextView(t), True) == len(BBS_PATTERN_RUNS.findall(t)), t[:100]
