"""Normalisation: what changes and what must not (table-driven, real JA/EN snippets)."""

from __future__ import annotations

import pytest

from corpusflow.text.normalize import normalize_text
from tests.helpers import fixture


@pytest.mark.parametrize(
    ("raw", "kwargs", "expected"),
    [
        # CRLF and lone CR become LF; trailing spaces go.
        ("東大寺は奈良にある。\r\n大仏で有名だ。  \r次の行", {}, "東大寺は奈良にある。\n大仏で有名だ。\n次の行"),
        # Runs of spaces/tabs collapse; ideographic space U+3000 is kept (Japanese indentation).
        ("The  Prime\tMinister   has denied", {}, "The Prime Minister has denied"),
        ("\u3000吾輩は猫である。", {}, "\u3000吾輩は猫である。"),
        # Control characters and BOMs are removed, tabs/newlines kept.
        ("\ufeffコイントスを\x00３回\x07行う。", {}, "コイントスを３回行う。"),
        # Blank-line runs are cut to max_blank_lines.
        ("段落一。\n\n\n\n段落二。", {}, "段落一。\n\n段落二。"),
        ("段落一。\n\n\n\n段落二。", {"max_blank_lines": 0}, "段落一。\n段落二。"),
        # NFC (default) keeps full-width punctuation and digits; NFKC folds them.
        ("本当ですか！？３回目．", {}, "本当ですか！？３回目．"),
        ("本当ですか！？３回目．", {"unicode_form": "NFKC"}, "本当ですか!?3回目."),
        # NFC composes a decomposed kana (か + combining dakuten -> が).
        ("か\u3099んばる", {}, "がんばる"),
        # Half-width katakana stay under NFC, become full-width under NFKC.
        ("ｶﾀｶﾅ", {}, "ｶﾀｶﾅ"),
        ("ｶﾀｶﾅ", {"unicode_form": "NFKC"}, "カタカナ"),
        # Unicode line separators become newlines.
        ("line one\u2028line two\u0085line three", {}, "line one\nline two\nline three"),
        ("", {}, ""),
        ("   \n\t \n", {}, ""),
    ],
)
def test_normalize_table(raw: str, kwargs: dict, expected: str) -> None:
    assert normalize_text(raw, **kwargs) == expected


def test_normalize_is_idempotent_on_real_text() -> None:
    from tests.conftest import read_jsonl

    for row in read_jsonl(fixture("ja/abeja_cc_ja.jsonl"), limit=30):
        once = normalize_text(row["text"])
        assert normalize_text(once) == once


def test_normalize_linear_on_pathological_text() -> None:
    import time

    for text in ("あ" * 1_000_000, " " * 1_000_000, "\n" * 1_000_000, "a b " * 250_000):
        t = time.perf_counter()
        normalize_text(text)
        assert time.perf_counter() - t < 2.0
