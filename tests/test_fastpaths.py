"""Fast paths (issue #8) give exactly the results of the plain implementations they replace."""

from __future__ import annotations

import random
import re
import unicodedata

import numpy as np
import pytest

from corpusflow.text.langid import _script_masks, script_stats
from corpusflow.text.normalize import nfkc, normalize_text
from tests.conftest import read_jsonl
from tests.helpers import fixture

TRICKY = [
    "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ",                      # half-width katakana + half-width voiced marks (compose)
    "か\u3099き\u309aく",                 # combining kana voiced marks after a safe kana
    "ＡＢＣ　１２３！？",                   # full-width Latin, digits, ideographic space
    "\u1100\u1161\u11a8 \u3131\u314f",     # conjoining Hangul jamo, compatibility jamo
    "가\u11a8 \uffa1\u1161",               # LV syllable + T jamo; half-width jamo + V jamo
    "e\u0301 A\u030a \u1e9b\u0323",        # combining accents, reordering
    "①Ⅱ㎡ﬁ ½ ㍻ ㌔",                        # compatibility characters
    "\U0001d400\U0001d7ce \U0002f800",     # mathematical letters/digits, CJK compatibility ideograph
    "",
]


def _texts() -> list[str]:
    rows = read_jsonl(fixture("ja/abeja_cc_ja.jsonl"), limit=300)
    rows += read_jsonl(fixture("en/cc_main_raw_multilingual.jsonl.gz"), limit=300)
    return [r["text"] for r in rows] + TRICKY


def test_nfkc_equals_unicodedata() -> None:
    texts = _texts()
    rng = random.Random(8)
    pool = "".join(TRICKY) + " \n\u3000abcあア漢"
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 16))) for _ in range(20000)]
    for t in texts:
        assert nfkc(t) == unicodedata.normalize("NFKC", t), repr(t)
    assert any(not unicodedata.is_normalized("NFKC", t) for t in texts[:300])  # the slow path ran


_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\u0085\x0b\x0c]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f]+")
_TRAILING = re.compile(r"[ \t]+\n|\n[ \t]+")


def _reference_normalize(text: str, form: str, collapse: bool, blank: int) -> str:
    """normalize_text as it was before the pre-checks: every substitution always applied."""
    if not text:
        return ""
    text = _CONTROL.sub("", _NEWLINES.sub("\n", text))
    if not text.isascii():
        text = unicodedata.normalize(form, text)
    if collapse:
        text = _TRAILING.sub("\n", _SPACES.sub(" ", text)).strip(" \n")
    if "\n" * (blank + 2) in text:
        text = re.sub(rf"\n{{{blank + 2},}}", "\n" * (blank + 1), text)
    return text


@pytest.mark.parametrize(("form", "collapse", "blank"), [("NFC", True, 1), ("NFKC", True, 0), ("NFC", False, 2)])
def test_normalize_prechecks_change_nothing(form: str, collapse: bool, blank: int) -> None:
    rng = random.Random(9)
    pool = list(" \t\n\r\x0b\x0c\u2028\u2029\u0085\u00a0\u2003\u202f\u205f\u3000\ufeff\x00ab日ｶﾞ")
    texts = _texts() + ["".join(rng.choice(pool) for _ in range(rng.randint(0, 24))) for _ in range(20000)]
    for t in texts:
        got = normalize_text(t, unicode_form=form, collapse_spaces=collapse, max_blank_lines=blank)
        assert got == _reference_normalize(t, form, collapse, blank), repr(t)


def test_script_stats_table_equals_masks_on_every_code_point() -> None:
    cps = np.array([c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF], dtype=np.uint32)
    kana, han, letter = _script_masks(cps)
    text = "".join(map(chr, cps.tolist()))
    assert script_stats(text) == (int(kana.sum()), int(kana.sum() + han.sum()), int(letter.sum()))
    for cp in (0x41, 0x3042, 0x30FB, 0x4E00, 0xFF66, 0xFF65, 0x3000, 0xFFFF, 0x10000, 0x2F800, 0x10FFFF):
        k, h, le = _script_masks(np.array([cp], dtype=np.uint32))
        assert script_stats(chr(cp)) == (int(k[0]), int(k[0] + h[0]), int(le[0])), hex(cp)


@pytest.mark.parametrize(("text", "expected"), [
    ("これは日本語の文です", (6, 10, 10)),
    ("Hello, world", (0, 0, 10)),
    ("", (0, 0, 0)),
    ("漢字だけ。", (2, 4, 4)),
])
def test_script_stats_examples(text: str, expected: tuple[int, int, int]) -> None:
    assert script_stats(text) == expected
