"""Japanese rules on literature and verse: ja.short_lines, verse-exempt sentence lengths, clauses, katakana script."""

from __future__ import annotations

import pytest

from corpusflow.filters.rules_ja import ShortLinesJa
from corpusflow.filters.rules_text import ShortLines
from corpusflow.filters.text import TextView

# 金子みすゞ-style verse from an Aozora work (cleaned): short lines ending in hiragana and 、。
VERSE = "トロツコ\nトロツコ\n坑の奥、\n一ぱい積んで\nよろけてる。\n\n明日よ\n明日よ\n坑の奥、\n坑夫はカンテラみつめてる。"
MENU = "ホーム\n会社概要\n事業内容\n採用情報\nアクセス\nプライバシーポリシー\nサイトマップ\n株式会社サンプルの公式サイトです。"
DIALOGUE = "「おや。」\n「ああ、君か。」\n「行こう。」\n「どこへ？」\n「海へ。」\n二人は黙って歩き出した。"


@pytest.mark.parametrize(("text", "dropped"), [(VERSE, False), (DIALOGUE, False), (MENU, True)])
def test_short_lines_ja(text: str, dropped: bool) -> None:
    rule = ShortLinesJa({"max_line_chars": 10, "max": 0.5, "min_lines": 5})
    assert (rule.judge(rule.measure(TextView(text))) is not None) is dropped
    # HojiChar's rule drops all three
    hoji = ShortLines({"max_line_chars": 10, "max": 0.5, "min_lines": 5})
    assert hoji.judge(hoji.measure(TextView(text))) is not None


# 金子みすゞ-style verse whose lines are mostly hiragana-final; a keyword list of the same shape
HIRAGANA_VERSE = "みなとの\nてんまに\nひがついた\n\nひとつ\nぽつちり\nひがついた\n\nみなとの\nはるのよ\nあめもよひ"
KEYWORDS = "脱毛\n新宿\n安い\n口コミ\n人気\n比較\nランキング\n医療脱毛\n全身脱毛\n料金"


@pytest.mark.parametrize(("text", "dropped"), [(HIRAGANA_VERSE, False), (KEYWORDS, True)])
def test_avg_sentence_length_verse_exempt(text: str, dropped: bool) -> None:
    from corpusflow.filters.rules_ja import AvgSentenceLength

    rule = AvgSentenceLength({"min": 10, "max": 150, "verse_exempt": True})
    s = rule.measure(TextView(text))
    assert s[""] < 10  # both are short sentences
    assert (rule.judge(s) is not None) is dropped
    plain = AvgSentenceLength({"min": 10, "max": 150})
    assert plain.judge(plain.measure(TextView(text))) is not None


# a periodic sentence of Meiji prose (福沢諭吉-style, Aozora), ~460 characters with clauses
PERIODIC = ("居て、男子のみ独り快楽を専らにし独り威張るべきにあらず云々の旨を記して、数日の社説に掲げ、"
            "また十九年五月の『時事新報』「男女交際論」には、男女の交際を密にして互いに相助け、") * 5 + "と論じた。"
# a keyword run of an SEO page: no clause breaks
KEYWORD_RUN = ("脱毛サロン新宿安い口コミ人気比較ランキング医療脱毛全身脱毛料金キャンペーン学割" * 12) + "。"


@pytest.mark.parametrize(("text", "dropped"), [(PERIODIC, False), (KEYWORD_RUN, True)])
def test_max_sentence_length_clauses(text: str, dropped: bool) -> None:
    from corpusflow.filters.rules_ja import MaxSentenceLength

    rule = MaxSentenceLength({"max": 400, "max_clause": 200})
    s = rule.measure(TextView(text))
    assert s[""] > 400
    assert (rule.judge(s) is not None) is dropped
    plain = MaxSentenceLength({"max": 400})
    assert plain.judge(plain.measure(TextView(text))) is not None


@pytest.mark.parametrize(
    ("text", "script"),
    [
        # a pre-war reader in katakana (Aozora) and a kanbun-style petition
        ("ヒツジガ\u3000メイメイト\u3000ナキナガラ\u3000アソンデ\u3000ヰマシタ。\n\u3000スルト\u3000ソコヘ\u3000ヒトリノ"
         "\u3000ヌスビトガ\u3000トホリカカリマシタ。オナカガ\u3000スイテ\u3000ヰル\u3000ヌスビトハ\u3000ヒツジヲ\u3000ミテ", True),
        ("規ヲ踰エ法ヲ犯シテ鳳駕ニ近前スル其罪実ニ万死ニ当レリ。而モ甘ジテ之ヲ為ス所以ノモノハ洵ニ国家生民ノ為ニ図リテ", True),
        # katakana keyword lists and product names: no ヲ
        ("スマートフォン タブレット ノートパソコン デスクトップ モニター キーボード マウス プリンター", False),
        ("ルイヴィトン ニューウェーブ コレクション ショルダーバッグ ハンドバッグ", False),
    ],
)
def test_katakana_script(text: str, script: bool) -> None:
    from corpusflow.filters.rules_ja import HiraganaFraction, KatakanaFraction, katakana_script

    v = TextView(text)
    assert katakana_script(v) is script
    hira = HiraganaFraction({"min": 0.2, "katakana_script_ok": True})
    assert (hira.judge(hira.measure(v)) is None) is script
    if v.n_katakana > 0.5 * v.n_japanese:
        kata = KatakanaFraction({"max": 0.5, "katakana_script_ok": True})
        assert (kata.judge(kata.measure(v)) is None) is script
