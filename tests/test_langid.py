"""Language identification: the real lid.176 model on real text from ../shared/data."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from corpusflow.text.langid import (
    REASON_EMPTY,
    REASON_JA_WITHOUT_KANA,
    REASON_LOW_SCORE,
    REASON_OTHER,
    identify,
)
from corpusflow.text.normalize import normalize_text
from tests.conftest import read_jsonl

ACCEPT = dict(languages={"ja", "en"}, min_score=0.5, min_score_by_lang={"en": 0.65})


@pytest.mark.parametrize(
    ("text", "lang", "reason"),
    [
        ("本項東大寺の仏像では、奈良県奈良市にある聖武天皇ゆかりの寺院・東大寺に伝来する仏像について説明する。", "ja", None),
        ("コイントスを３回行う。\n表が出た数だけ、フィールド上のモンスターを破壊する。", "ja", None),
        ("The Prime Minister has denied he knew AWB was paying kickbacks to Iraq.", "en", None),
        # Chinese (simplified): never accepted as Japanese.
        ("小纽约网是纽约华人官方网站，提供分类信息和本地新闻。我们每天更新街头采访的内容。", "zh", REASON_OTHER),
        # Spanish and German are other languages.
        ("Después de mucho debate, las tripulaciones decidieron explorar un nuevo sistema.", "es", REASON_OTHER),
        ("Die Besatzungen haben beschlossen, ein neues System für die Organisation zu testen.", "de", REASON_OTHER),
        ("   ---- 12345 !!! ", "und", REASON_EMPTY),
    ],
)
def test_identify_table(langid_model, text: str, lang: str, reason: str | None) -> None:
    res = identify(langid_model, text, **ACCEPT)
    assert (res.lang, res.reason) == (lang, reason)


def test_kanji_only_text_labelled_ja_is_rejected(langid_model) -> None:
    # Classical-Chinese-style kanji-only text: if fastText says 'ja', the script check rejects it.
    text = "東京都千代田区永田町一丁目七番一号"
    res = identify(langid_model, text, **ACCEPT)
    assert res.reason in (REASON_JA_WITHOUT_KANA, REASON_OTHER)
    assert not (res.lang == "ja" and res.reason is None)


def test_low_score_reason(langid_model) -> None:
    res = identify(langid_model, "Free Download Mp3 2 lines sad urdu poetry|2 line shayari|Asim malangi",
                   languages={"en"}, min_score=0.99, min_score_by_lang={})
    assert res.lang == "en" and res.reason == REASON_LOW_SCORE


def test_newlines_do_not_cut_the_input(langid_model) -> None:
    # fastText predicts one line: the text after the first newline must still count.
    text = "OK\n" + "これは日本語の文章で、改行の後にも続きます。" * 5
    assert identify(langid_model, text, **ACCEPT).lang == "ja"


def _accuracy(model, rows, expected: str) -> tuple[int, Counter]:
    labels = Counter()
    for r in rows:
        res = identify(model, normalize_text(r["text"]), **ACCEPT)
        labels[res.lang] += 1
    return labels[expected], labels


def test_accuracy_at_least_99_percent(langid_model, shared_data) -> None:
    """≥99% of ja wiki paragraphs, KWDLC leads, C4 and ABC news get the right ja/en label."""
    sets = [
        ("ja", read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz", limit=3000)),
        ("ja", read_jsonl(shared_data / "ja" / "kwdlc_leads.jsonl", limit=3000)),
        ("en", read_jsonl(shared_data / "en" / "c4_sample.jsonl.gz")),
        ("en", read_jsonl(shared_data / "en" / "abc_news.jsonl.gz", limit=1500)),
    ]
    right = total = 0
    for expected, rows in sets:
        ok, labels = _accuracy(langid_model, rows, expected)
        assert ok / len(rows) >= 0.98, (expected, labels.most_common(5))
        right += ok
        total += len(rows)
    assert right / total >= 0.99


_SW = {
    "en": "the and of to in is that for it with was on as are be this by".split(),
    "es": "el la de que y en los las del se por un una para con es".split(),
    "fr": "le la les de des et est un une du que pour dans qui sur pas".split(),
    "de": "der die das und ist nicht mit den von zu ein eine auf sich dem".split(),
    "it": "il la di che e per un una del della non sono con gli le".split(),
    "pt": "o a de que e do da em um uma para com os não as dos".split(),
}


def _script_truth(text: str) -> str:
    """An independent label from scripts and stopwords (no fastText): zh, a European language, or ?."""
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    kana = len(re.findall(r"[\u3041-\u30ff]", text))
    hangul = len(re.findall(r"[\uac00-\ud7af]", text))
    words = re.findall(r"[a-zà-ÿ]+", text.lower())
    if han > 50 and kana == 0 and hangul == 0 and han > len(words):
        return "zh"
    scores = {k: sum(w in set(v) for w in words) / max(1, len(words)) for k, v in _SW.items()}
    best = max(scores, key=scores.get)
    if best != "en" and scores[best] > 0.08 and scores[best] > 2 * scores["en"]:
        return best
    return "?"


def test_multilingual_cc_never_accepts_chinese_as_ja_or_european_as_en(langid_model, shared_data) -> None:
    rows = read_jsonl(shared_data / "en" / "cc_main_raw_multilingual.jsonl.gz")
    confusion: Counter = Counter()
    for r in rows:
        text = normalize_text(r["text"])
        truth = _script_truth(text)
        res = identify(langid_model, text, **ACCEPT)
        confusion[(truth, res.lang if res.reason is None else "rejected")] += 1
    assert confusion[("zh", "ja")] == 0
    european = [k for k in confusion if k[0] in ("es", "fr", "de", "it", "pt")]
    assert sum(confusion[k] for k in european) >= 100  # the file really has European documents
    assert sum(confusion[k] for k in european if k[1] == "en") == 0, confusion
    assert confusion[("zh", "rejected")] >= 5
