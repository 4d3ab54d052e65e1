"""Source cleaners (corpusflow.text.cleaners) and the CleanStep that runs them per source."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpusflow.core.document import Document, Rejected
from corpusflow.steps.clean import CleanStep
from corpusflow.text.cleaners import GAIJI_PLACEHOLDER, clean_aozora, clean_boilerplate, resolve_gaiji
from corpusflow.text.config import CleanConfig
from tests.conftest import read_jsonl

# The head and tail of a real Aozora Bunko file (岸田國士「ガンバハル氏の実験」, 52305_ruby_45794).
AOZORA_WORK = """ガンバハル氏の実験（ラヂオドラマ）
岸田國士

-------------------------------------------------------
【テキスト中に現れる記号について】

《》：ルビ
（例）女《ひと》

［＃］：入力者注　主に外字の説明や、傍点の位置の指定
（例）［＃ここから改行天付き、折り返して１字下げ］
-------------------------------------------------------

［＃ここから改行天付き、折り返して１字下げ］
アナウンサーの紹介につづいて、
別のアナウンサーの声で――
［＃ここから１字下げ］
　ところが、或る日のこと、モロツコの絨毯売が、わたくしを仏蘭西の貨物船に載せて、無理矢理にマルセイユへ連れて行きました。
［＃地から５字上げ］（をはり。――東京中央放送局のために）



底本：「岸田國士全集3」岩波書店
　　　1990（平成2）年5月8日発行
入力：kompas
校正：門田裕志
2012年1月4日作成
青空文庫作成ファイル：
このファイルは、インターネットの図書館、青空文庫（http://www.aozora.gr.jp/）で作られました。入力、校正、制作にあたったのは、ボランティアの皆さんです。
"""

AOZORA_CLEAN = """ガンバハル氏の実験（ラヂオドラマ）
岸田國士

アナウンサーの紹介につづいて、
別のアナウンサーの声で――
　ところが、或る日のこと、モロツコの絨毯売が、わたくしを仏蘭西の貨物船に載せて、無理矢理にマルセイユへ連れて行きました。
（をはり。――東京中央放送局のために）"""


def test_aozora_work_header_footer_notes() -> None:
    out, removed = clean_aozora(AOZORA_WORK)
    assert out == AOZORA_CLEAN
    assert removed == len(AOZORA_WORK) - len(AOZORA_CLEAN)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # ruby with ｜ marking where the base starts (例 lines of real Aozora headers)
        ("向島｜諏訪明神裏《すわみょうじんうら》", "向島諏訪明神裏"),
        ("チェックの｜アンサンブル《ポタージュをのんでいる》", "チェックのアンサンブル"),
        # ruby right after kanji
        ("女《ひと》は黙つてゐた。", "女は黙つてゐた。"),
        # gaiji with a JIS X 0213 code (第3水準 = plane 1) then ruby
        ("海※［＃「魚＋喞のつくり」、第3水準1-94-46］《かいず》", "海鯽"),
        ("※［＃「口＋亞」、第3水準1-15-8］", "啞"),
        ("天の※［＃「さんずい＋景＋頁」、第3水準1-87-32、読みは「こう」、229-上-5］気は", "天の灝気は"),
        # gaiji with a Unicode code (also outside the BMP)
        ("※［＃「てへん＋易」、U+63A6、120-12］", "\u63a6"),
        ("※［＃「歯＋屋」、U+2EBCE、343-上-7］", "\U0002ebce"),
        # plane-row-cell without 第N水準, and a note that is a character without ※
        ("ポ※［＃半濁点付き片仮名ツ、1-5-93］", "ポツ\u309a"),
        ("時々［＃二の字点、1-2-22］", "時々〻"),
        # gaiji without a code: the placeholder keeps its place
        ("菊池契月筆「麦※［＃「てへん＋臣」、262-12］」の絵はがき", f"菊池契月筆「麦{GAIJI_PLACEHOLDER}」の絵はがき"),
        # emphasis and heading notes go, the text they refer to stays
        ("「矜り」［＃「矜り」に傍点］と「嗜み」", "「矜り」と「嗜み」"),
        ("第一章［＃「第一章」は中見出し］", "第一章"),
        # repetition marks typed as ／＼
        ("いよ／＼", "いよ〳〵"),
        ("しみ／″＼", "しみ〴〵"),
    ],
)
def test_aozora_inline_markup(line: str, expected: str) -> None:
    out, removed = clean_aozora(line)
    assert out == expected
    assert removed == len(line) - len(expected)


def test_aozora_leaves_plain_text_alone() -> None:
    text = "本項東大寺の仏像では、奈良県奈良市にある寺院について説明する。\n\n2012年1月4日作成"
    assert clean_aozora(text) == (text, 0)


def test_resolve_gaiji_without_code() -> None:
    assert resolve_gaiji("「てへん＋臣」、262-12") is None
    assert resolve_gaiji("「口＋亞」、第3水準1-15-8") == "啞"
    assert resolve_gaiji("「土へん＋竒」、第4水準2-5-12") is not None  # plane 2


def test_aozora_real_works(shared_data: Path) -> None:
    works = read_jsonl(shared_data / "ja" / "aozora_dev.jsonl.gz", limit=120)
    with_header = 0
    for w in works:
        text = w["text"]
        out, removed = clean_aozora(text)
        with_header += "【テキスト中に現れる記号について】" in text
        assert removed == len(text) - len(out) > 0
        for mark in ("【テキスト中に現れる記号について】", "［＃", "《", "｜", "底本："):
            assert mark not in out, (w["id"], mark)
        # the title (first line) survives
        assert out.split("\n", 1)[0] == clean_aozora(text.split("\n", 1)[0])[0]
    assert with_header > 100


NEWS_WITH_LINKS = """政府は4日、来年度の予算案を閣議決定した。一般会計の総額は過去最大となる。
財務省によると、社会保障費の伸びが全体を押し上げた。

関連記事
・来年度予算、過去最大に　社会保障費が膨らむ
・財務相「歳出改革を続ける」
https://example.jp/news/12345

シェア ツイート はてブ LINE"""

NEWS_CLEAN = """政府は4日、来年度の予算案を閣議決定した。一般会計の総額は過去最大となる。
財務省によると、社会保障費の伸びが全体を押し上げた。"""

EN_WITH_LINKS = """The council approved the new budget on Tuesday after a long debate.
Residents will see rates rise by 3.5 per cent from July.

Share this article
Facebook | Twitter | Email

Related Articles
Council rates to rise again
Mayor defends spending plan

Comments are closed on this story because of legal reasons."""

EN_CLEAN = """The council approved the new budget on Tuesday after a long debate.
Residents will see rates rise by 3.5 per cent from July.

Comments are closed on this story because of legal reasons."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NEWS_WITH_LINKS, NEWS_CLEAN),
        (EN_WITH_LINKS, EN_CLEAN),
        # a heading inside the article, then prose: only the heading and its link lines go
        ("本文です。\n【関連リンク】\n市の公式サイト\n次の段落は続く本文である。", "本文です。\n次の段落は続く本文である。"),
        ("あわせて読みたい\n▶ 桜の名所10選\n▶ 花見の持ち物リスト", ""),
        ("You may also like:\n* Ten walks near Sydney\nThe trail is closed on Mondays.",
         "The trail is closed on Mondays."),
        # image controls, and a long caption given twice (alt text and caption): kept once
        ("写真1●行列の先頭に並んだ男性と店長が握手を交わす\n写真1●行列の先頭に並んだ男性と店長が握手を交わす\n"
         "[画像のクリックで拡大表示]\n発売を待つ行列は千人を超えた。",
         "写真1●行列の先頭に並んだ男性と店長が握手を交わす\n発売を待つ行列は千人を超えた。"),
        ("The mayor opened the bridge on Friday.\nClick to enlarge\nTraffic resumes on Monday.",
         "The mayor opened the bridge on Friday.\nTraffic resumes on Monday."),
        ("本文です。\n写真拡大\n続きの本文です。", "本文です。\n続きの本文です。"),
        # an advertisement labelled PR and link labels ending in こちら
        ("歌手が死去したことが分かった。\n【PR】アニメが見放題のサブスクおすすめ比較|料金・作品数を徹底解説!\n"
         "公演は中止となった。\n詳しくはこちら", "歌手が死去したことが分かった。\n公演は中止となった。"),
        ("記事をマイページに保存できます。\n無料会員登録はこちら\n糖質制限が空前のブームだ。",
         "記事をマイページに保存できます。\n糖質制限が空前のブームだ。"),
    ],
)
def test_boilerplate_removed(text: str, expected: str) -> None:
    out, removed = clean_boilerplate(text)
    assert out == expected
    assert removed == len(text) - len(expected)


@pytest.mark.parametrize(
    "text",
    [
        # the words in prose are not headings
        "この記事をシェアすると、友人にも関連記事が表示される仕組みだ。",
        "関連記事の書き方について解説します。\n見出しは短くしましょう。",
        "Share this with your family: the recipe takes ten minutes.",
        "Related articles were published in Nature last year, the authors said.",
        # a list that is part of the article
        "材料\n・卵 2個\n・砂糖 大さじ1",
        "LINE株式会社は決算を発表した。",
        # a short refrain is verse, not an artefact (カンテラ, 新美南吉); 拡大 in a sentence is prose
        "カンテラ\nカンテラ\n坑の奥、\n坑夫の肩を\nてらしてる。",
        "画像をクリックして拡大する機能が追加された。",
        "こちらの記事で紹介した通り、手続きは簡単だ。",
        # three or more copies of a line are repetition spam: left for the repetition filters
        "今なら送料無料でお届けします今すぐクリック\n" * 3 + "今なら送料無料でお届けします今すぐクリック",
        "PR会社に勤める彼女はこう話す。",
        "そこで、いろいろと検討して害鳥対策を実施した結果こちら！",  # a blog sentence (mC4), not a link label
    ],
)
def test_boilerplate_keeps_prose(text: str) -> None:
    assert clean_boilerplate(text) == (text, 0)


def _doc(text: str, source: str) -> Document:
    return Document(id="d1", text=text, source=source)


def test_clean_step_per_source() -> None:
    cfg = CleanConfig(enabled=True, aozora=["aozora"], boilerplate=True)
    step = CleanStep(cfg)
    step.setup()
    out = step.apply(_doc(AOZORA_WORK, "aozora"))
    assert isinstance(out, Document)
    assert out.text == AOZORA_CLEAN
    assert out.signals["clean.aozora.removed_chars"] == len(AOZORA_WORK) - len(AOZORA_CLEAN)
    # the same text from a source without the Aozora cleaner is only boilerplate-cleaned
    same = step.apply(_doc(AOZORA_WORK, "web"))
    assert same.text == AOZORA_WORK
    news = step.apply(_doc(NEWS_WITH_LINKS, "web"))
    assert news.text == NEWS_CLEAN and "clean.boilerplate.removed_chars" in news.signals
    assert step.counts["info.aozora.changed"] == 1 and step.counts["info.boilerplate.changed"] == 1
    assert step.counts["info.changed"] == 2


def test_clean_step_rejects_empty_and_is_off_by_default() -> None:
    step = CleanStep(CleanConfig(enabled=True, boilerplate=True))
    step.setup()
    r = step.apply(_doc("関連記事\n・桜の名所10選\n・花見の持ち物リスト", "web"))
    assert isinstance(r, Rejected) and r.reason == "clean.empty" and r.stage == "clean"
    off = CleanStep(CleanConfig(aozora=True, boilerplate=True))
    off.setup()
    d = _doc(AOZORA_WORK, "aozora")
    assert off.apply(d) is d


def test_clean_config_is_strict() -> None:
    with pytest.raises(ValueError):
        CleanConfig(enabled=True, aozora=["aozora", ""])
    with pytest.raises(ValueError):
        CleanConfig.model_validate({"enabled": True, "ruby": True})
