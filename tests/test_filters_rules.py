"""Table-driven tests: every reason code of every registered rule, on real snippets.

Each case runs one rule (with the parameters given, default otherwise) on a genuine document
of ../shared/data (shipped in tests/fixtures/filter_snippets.jsonl.gz, see
tests/test_filters_data.py) and checks the reason code it returns (``None`` = kept). A meta-test
checks that the table covers every reason code of every registered rule, so a new rule or
cause cannot be added without a case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from corpusflow.core.document import Document
from corpusflow.filters.catalog import build_step, ensure_registered
from corpusflow.filters.chain import FilterChain
from tests.test_filters_data import abc, abeja, builtin_rules, c4, cc, kwdlc, mc4, wiki

ADULT = "pkg:resources/ngwords/hojichar/adult_keywords_ja.txt"
PROMO_ORDINARY = "pkg:filters/wordlists/promo_ordinary_ja.txt"


def rep(fn: Callable[[], str], times: int, sep: str = "\n") -> Callable[[], str]:
    return lambda: sep.join([fn()] * times)


def join(*fns: Callable[[], str], sep: str = "\n") -> Callable[[], str]:
    return lambda: sep.join(f() for f in fns)


# (rule, params, text factory, expected reason or None)
Case = tuple[str, dict[str, Any], Callable[[], str], str | None]

BLOG = lambda: mc4("mc4ja-394240844424")  # noqa: E731 - good: a blog about a trip to Osaka
PREFS = lambda: mc4("mc4ja-522301139132")  # noqa: E731 - bad: 選択して下さい北海道青森... (a menu)
ABEJA_ADS = 50  # a Bible study page with ①②③ list markers (HojiChar ad keywords include them)
GOLF = lambda: mc4("mc4ja-530117569200")  # noqa: E731 - bad: ゴルフ場予約 ... advertising copy
LETTER = "\n".join([  # the whole work as the pipeline reads it after the Aozora cleaner
    "平野義太郎宛書簡",
    "一九三二年五月二十三日",
    "野呂栄太郎",
    "",
    "拝復",
    "たびたび御手紙賜わりありがたく存じます。その都度御返事申し上ぐべきところ延引仕り何とも申訳ございません。御蔭でいよいよ第一回配本を了したこと喜びと感謝にたえません。",
    "井汲、逸見両兄の方へは督促の手紙を出しておきましたが、なお積極的に促進するや二十五頃上京して両兄に直々会って後日後れさせぬよう協力することにいたしました。",
    "羽仁兄も丁度来られたので至急脱稿方依頼しておきました。",
    "永らく編集方面のことを貴下方にばかり御任せして放棄しておき何とも申訳なく存じております。御蔭で大分元気を恢復しましたので、二十五日頃からはできるだけ再三上京して進行の不均等の恢復に努力いたしたいと存じます。いろいろ御相談もありますので、二十五日の午後一時から鉄塔書院で御会いいたしたいと存じますが御都合如何でございますか？　当日は山田氏、羽仁氏にも御参集を願いたいと思っていますが、山田氏はまだ痔が御悪いそうだから御願いできぬ時は、三人だけでも御相談できると何よりだと思います。大塚氏の方へも文献解説の御脱稿を御願いすると共に御案内申し上げておきます。",
    "まずは御返事とかねて右御案内まで。敬具",
    "栄太郎",
    "　　　五月二十三日朝",
    "　　平野様",
    "　　　　　侍史",
])

# 竹 (萩原朔太郎, Aozora Bunko) after the Aozora cleaner: a four-line poem of 57 characters
TAKE = "竹\n萩原朔太郎\n\n竹は直角、\n人のくびより根が生え、\n根がうすくひろごり、\nほのかにけぶる。\n――大正四年元旦――"
APHORISMS = "\n".join([  # the opening of 味覚馬鹿 (北大路魯山人, Aozora Bunko) after the Aozora cleaner
    "味覚馬鹿", "北大路魯山人", "", "　美味い不味いは栄養価を立証する。", "　　　　　＊", "　天然の味に優る美味なし。",
    "　　　　　＊", "　現今の料理は美趣味が欠如している。", "　　　　　＊", "　料理つくるも年齢、食う好みも年齢。",
    "　　　　　＊", "　料理をつくる者は、つとめて価値ある食器に関心を有すべし。", "　　　　　＊",
    "　高級食器、美器をつくらんとするものは、美食に通ずべし。", "　　　　　＊",
    "　栄養価値充分にして美味にあらざるものは断じてない。美味なれば必ず栄養が存する。",
])

SWALLOW_POEM = "\n".join([  # 燕 (山村暮鳥) as stored by Aozora Bunko: notation header between rule lines
    "燕",
    "山村暮鳥",
    "",
    "-------------------------------------------------------",
    "【テキスト中に現れる記号について】",
    "",
    "《》：ルビ",
    "（例）燕《つばめ》",
    "-------------------------------------------------------",
    "",
    "きり",
    "きり",
    "つばめ",
    "燕《つばめ》、どこいつた",
    "わたしの目へ飛びこんだ",
    "",
    "きり",
    "きり",
    "さへづつて",
    "飛びこんだとおもつたら",
    "もう彼方《あちら》をとんでゐた",
    "",
    "",
    "",
    "底本：「日本児童文学大系　第一四巻」ほるぷ出版",
    "　　　1977（昭和52）年11月20日初刷発行",
    "底本の親本：「春の海のうた」教文館",
    "　　　1941（昭和16）年6月",
    "入力：菅野朋子",
    "校正：noriko saito",
    "2011年1月22日作成",
    "青空文庫作成ファイル：",
    "このファイルは、インターネットの図書館、青空文庫（http://www.aozora.gr.jp/）で作られました。入力、校正、制作にあたったのは、ボランティアの皆さんです。",
    "",
])

CASES: list[Case] = [
    # --- text.* -------------------------------------------------------------------------
    ("text.not_empty", {}, lambda: " \n\u3000\n ", "text.not_empty.empty"),
    ("text.not_empty", {}, BLOG, None),
    ("text.length", {"min_chars": 400}, BLOG, "text.length.too_short"),
    ("text.length", {"min_chars": 10, "max_chars": 100}, BLOG, "text.length.too_long"),
    ("text.length", {"min_chars": 100}, BLOG, None),
    ("text.compression_ratio", {}, rep(lambda: mc4("mc4ja-750566706052"), 30), "text.compression_ratio.too_low"),
    ("text.compression_ratio", {}, lambda: mc4("mc4ja-119043294216"), "text.compression_ratio.too_high"),  # short
    ("text.compression_ratio", {"min_bytes": 2000}, BLOG, None),
    ("text.single_char_repetition", {"max_run": 8}, lambda: mc4("mc4ja-343705807206"), "text.single_char_repetition.too_long"),
    ("text.single_char_repetition", {}, lambda: mc4("mc4ja-343705807206"), None),
    ("text.special_char_fraction", {}, lambda: mc4("mc4ja-168429244948"), "text.special_char_fraction.too_high"),
    ("text.special_char_fraction", {}, BLOG, None),
    ("text.short_lines", {}, lambda: kwdlc(1135), "text.short_lines.too_many"),
    ("text.short_lines", {"min_lines": 20}, lambda: kwdlc(1135), None),
    ("ja.short_lines", {}, lambda: "ホーム\n会社概要\n事業内容\n採用情報\nアクセス\nお知らせ一覧", "ja.short_lines.too_many"),
    # lines ending in hiragana (here reading glosses) count as verse, not as menu items
    ("ja.short_lines", {}, lambda: kwdlc(1135), None),
    # a letter (Aozora Bunko, 野呂栄太郎, 1932): title, date, author and salutation are short lines,
    # but a tenth of the characters; kept with min_char_share (ja_web), dropped by lines alone
    ("ja.short_lines", {"min_lines": 5}, lambda: LETTER, "ja.short_lines.too_many"),
    ("ja.short_lines", {"min_lines": 5, "min_char_share": 0.2}, lambda: LETTER, None),
    ("ja.short_lines", {"min_lines": 5, "min_char_share": 0.2},
     lambda: "ホーム\n会社概要\n事業内容\n採用情報\nアクセス\nお知らせ一覧", "ja.short_lines.too_many"),
    ("text.ending_ellipsis", {}, lambda: cc("t2gsnre5k3kfvb6kiixrj2xabgbp4h7k"), "text.ending_ellipsis.too_many"),
    ("text.char_repetition", {}, lambda: mc4("mc4ja-928027740948"), "text.char_repetition.too_high"),
    ("text.char_repetition", {}, BLOG, None),
    # a rule line counts as one character (ja_web): the two 55-hyphen lines of an Aozora file
    ("text.special_char_fraction", {}, lambda: SWALLOW_POEM, "text.special_char_fraction.too_high"),
    ("text.special_char_fraction", {"rule_line_run": 10}, lambda: SWALLOW_POEM, None),
    ("text.special_char_fraction", {"rule_line_run": 10}, lambda: mc4("mc4ja-168429244948"),
     "text.special_char_fraction.too_high"),  # symbols that are no rule line still count
    # --- llm-jp ------------------------------------------------------------------------
    ("ja.kana_in_head", {}, lambda: mc4("mc4ja-691070136080"), "ja.kana_in_head.missing"),
    ("ja.kana_in_head", {}, PREFS, None),
    ("ja.ad_keywords", {}, lambda: abeja(ABEJA_ADS), "ja.ad_keywords.too_many"),
    ("ja.ad_keywords", {"max_per_1000_chars": 10}, lambda: abeja(ABEJA_ADS), None),  # 7.5 per 1,000 chars
    ("ja.ng_adult", {}, lambda: mc4("mc4ja-944339154320"), "ja.ng_adult.too_many"),
    ("ja.ng_adult", {}, BLOG, None),
    ("ja.ng_violence", {}, lambda: kwdlc(1461), "ja.ng_violence.too_many"),  # 死亡届 x3: llm-jp counts 死
    ("ja.ng_violence", {"min_keyword_chars": 2}, lambda: kwdlc(1461), None),
    ("ja.ng_discrimination", {}, lambda: wiki(2500), "ja.ng_discrimination.too_many"),  # the ship Imo: イモ
    ("ja.ng_words", {"wordlist": ADULT, "max_count": 2}, lambda: mc4("mc4ja-944339154320"), "ja.ng_words.too_many"),
    ("ja.rare_kuten", {}, PREFS, "ja.rare_kuten.too_few"),
    ("ja.rare_kuten", {}, BLOG, None),
    # --- Swallow -----------------------------------------------------------------------
    ("ja.japanese_letters", {}, BLOG, "ja.japanese_letters.too_few"),
    ("ja.japanese_letters", {"min": 100}, BLOG, None),
    ("ja.hiragana_fraction", {}, PREFS, "ja.hiragana_fraction.too_low"),
    ("ja.hiragana_fraction", {}, BLOG, None),
    # prose: a Wikipedia paragraph on ニコライ2世, dense with names and dates, in sentences ending in 。
    ("ja.hiragana_fraction", {}, lambda: wiki(7545), "ja.hiragana_fraction.too_low"),
    ("ja.hiragana_fraction", {"prose_kuten_share": 0.75}, lambda: wiki(7545), None),
    ("ja.hiragana_fraction", {"prose_kuten_share": 0.75}, PREFS, "ja.hiragana_fraction.too_low"),  # a menu
    # Chinese prose ends its sentences in 。 too, but has no hiragana: the floor (prose_min) drops it
    ("ja.hiragana_fraction", {"prose_kuten_share": 0.75}, lambda: cc("yosizpfn5e4cgpp53qxyitweadyc43ss"),
     "ja.hiragana_fraction.too_low"),
    ("ja.katakana_fraction", {}, lambda: mc4("mc4ja-296981557630"), "ja.katakana_fraction.too_high"),
    ("ja.katakana_fraction", {}, BLOG, None),
    # prose: a KWDLC lead on a ballerina (バッセルはイギリス出身のバレリーナです。...)
    ("ja.katakana_fraction", {}, lambda: kwdlc(1459), "ja.katakana_fraction.too_high"),
    ("ja.katakana_fraction", {"prose_kuten_share": 0.75}, lambda: kwdlc(1459), None),
    ("ja.katakana_fraction", {"prose_kuten_share": 0.75}, lambda: mc4("mc4ja-296981557630"),
     "ja.katakana_fraction.too_high"),  # a katakana list, no sentences
    ("ja.japanese_fraction", {}, lambda: wiki(857), "ja.japanese_fraction.too_low"),
    ("ja.japanese_fraction", {}, BLOG, None),
    ("ja.avg_sentence_length", {}, lambda: mc4("mc4ja-119043294216"), "ja.avg_sentence_length.too_short"),
    ("ja.avg_sentence_length", {}, lambda: mc4("mc4ja-949813561096"), "ja.avg_sentence_length.too_long"),
    ("ja.avg_sentence_length", {}, BLOG, None),
    # ja_web's maximum 250 (llm-jp v1's has_good_average_sentence_length): a Wikipedia paragraph of long
    # enumerations (赤血球: two sentences of 168 characters on average)
    ("ja.avg_sentence_length", {"max": 150}, lambda: wiki(611), "ja.avg_sentence_length.too_long"),
    ("ja.avg_sentence_length", {"max": 250}, lambda: wiki(611), None),
    ("ja.max_sentence_length", {}, lambda: wiki(468), "ja.max_sentence_length.too_long"),
    ("ja.max_sentence_length", {}, BLOG, None),
    ("ja.ellipsis_sentences", {}, lambda: mc4("mc4ja-108178335698"), "ja.ellipsis_sentences.too_many"),
    ("ja.ellipsis_sentences", {}, BLOG, None),
    ("ja.duplicate_lines", {}, lambda: kwdlc(2028), "ja.duplicate_lines.too_many"),
    ("ja.duplicate_lines", {"max_fraction": None, "max_char_fraction": 0.05}, lambda: kwdlc(2028),
     "ja.duplicate_lines.too_many_chars"),
    ("ja.duplicate_lines", {}, BLOG, None),
    # aphorisms separated by ＊ lines (a third of the lines, 3% of the characters): kept when the
    # count needs 15% of the characters (ja_web); repeated paragraphs still drop
    ("ja.duplicate_lines", {}, lambda: APHORISMS, "ja.duplicate_lines.too_many"),
    ("ja.duplicate_lines", {"min_chars_for_count": 0.15}, lambda: APHORISMS, None),
    ("ja.duplicate_lines", {"min_chars_for_count": 0.15}, rep(BLOG, 3), "ja.duplicate_lines.too_many"),
    ("ja.duplicate_sentences", {}, lambda: kwdlc(2028), "ja.duplicate_sentences.too_many"),
    ("ja.duplicate_sentences", {"max_fraction": None, "max_char_fraction": 0.05}, lambda: kwdlc(2028),
     "ja.duplicate_sentences.too_many_chars"),
    ("ja.duplicate_sentences", {}, BLOG, None),
    ("ja.top_ngram_fraction", {"max": {2: 0.15}}, lambda: mc4("mc4ja-928027740948"), "ja.top_ngram_fraction.top2_too_high"),
    ("ja.top_ngram_fraction", {"max": {3: 0.18}}, lambda: mc4("mc4ja-928027740948"), "ja.top_ngram_fraction.top3_too_high"),
    ("ja.top_ngram_fraction", {"max": {4: 0.16}}, lambda: mc4("mc4ja-928027740948"), "ja.top_ngram_fraction.top4_too_high"),
    ("ja.top_ngram_fraction", {"min_chars": 1000}, lambda: mc4("mc4ja-928027740948"), None),
    ("ja.top_ngram_fraction", {}, BLOG, None),
    *[
        ("ja.duplicate_ngram_fraction", {"max": {n: 0.10}}, lambda: mc4("mc4ja-664173190622"),
         f"ja.duplicate_ngram_fraction.dup{n}_too_high")
        for n in range(5, 11)
    ],
    ("ja.duplicate_ngram_fraction", {}, BLOG, None),
    ("ja.ng_fraction", {}, lambda: mc4("mc4ja-944339154320"), "ja.ng_fraction.too_high"),
    ("ja.ng_fraction", {}, BLOG, None),
    # --- verse is held to verse_min_chars, not min_chars ---------------------------------------
    ("text.length", {"min_chars": 200}, lambda: TAKE, "text.length.too_short"),
    ("text.length", {"min_chars": 200, "verse_min_chars": 50}, lambda: TAKE, None),
    # three prose sentences, one to a line (a KWDLC lead), are not verse
    ("text.length", {"min_chars": 200, "verse_min_chars": 50}, lambda: kwdlc(0), "text.length.too_short"),
    # --- HojiChar extras and promotional text -----------------------------------------------
    ("ja.bbs_comments", {}, lambda: mc4("mc4ja-021617270756"), "ja.bbs_comments.too_many"),
    ("ja.bbs_comments", {}, BLOG, None),
    ("ja.promo_vocabulary", {}, GOLF, "ja.promo_vocabulary.too_dense"),
    ("ja.promo_vocabulary", {}, BLOG, None),
    # ja_web's density 0.6 (was 0.8): a language-course ad with 人気 and 効果 terms, 0.67 per 100
    ("ja.promo_vocabulary", {"max_per_100_chars": 0.6}, lambda: mc4("mc4ja-232246938518"), "ja.promo_vocabulary.too_dense"),
    ("ja.promo_vocabulary", {}, lambda: mc4("mc4ja-232246938518"), None),
    # narration: a KWDLC lead telling what was bought (購入 x2, 価格) in the past tense
    ("ja.promo_vocabulary", {}, lambda: kwdlc(575), "ja.promo_vocabulary.too_dense"),
    ("ja.promo_vocabulary", {"narrative_share": 0.34}, lambda: kwdlc(575), None),
    # ... and a prefecture's poster contest reported in the past tense (募集, 応募)
    ("ja.promo_vocabulary", {"narrative_share": 0.34}, lambda: kwdlc(3289), None),
    # an advertising lead in the present (a shop reopening: 中古品の買取りと販売 ... ご来店をお待ちしております)
    ("ja.promo_vocabulary", {"narrative_share": 0.34}, lambda: kwdlc(11), "ja.promo_vocabulary.too_dense"),
    # ordinary words: 比較的 ("relatively") is not 比較; a pharmacist paragraph keeps one term (購入)
    ("ja.promo_vocabulary", {}, lambda: wiki(12607), "ja.promo_vocabulary.too_dense"),
    ("ja.promo_vocabulary", {"ordinary_words": PROMO_ORDINARY}, lambda: wiki(12607), None),
    # reporting on commerce in the plain style, no seller speaking: a company's sudden orders told
    # in the past tense (注文, 商品, 販売 ...: 5 terms, judged as narration) and an explanation of
    # job-placement fees (無料, 求人, 相場: present tense, plain style)
    ("ja.promo_vocabulary", {"narrative_share": 0.34}, lambda: wiki(7683), "ja.promo_vocabulary.too_dense"),
    ("ja.promo_vocabulary", {"narrative_share": 0.34, "report_plain_share": 0.5}, lambda: wiki(7683), None),
    ("ja.promo_vocabulary", {}, lambda: wiki(12056), "ja.promo_vocabulary.too_dense"),
    ("ja.promo_vocabulary", {"report_plain_share": 0.5}, lambda: wiki(12056), None),
    # a shop page in the polite style that speaks as the shop (当店, お気軽に, ご来店): still judged
    ("ja.promo_vocabulary", {"narrative_share": 0.34, "report_plain_share": 0.5}, lambda: kwdlc(228),
     "ja.promo_vocabulary.too_dense"),
    ("ja.exclamation_density", {}, lambda: mc4("mc4ja-164996290284"), "ja.exclamation_density.too_high"),
    ("ja.exclamation_density", {}, BLOG, None),
    # --- cleaners that can empty a document ------------------------------------------------
    ("ja.footer_trim", {}, lambda: kwdlc(2172), "ja.footer_trim.empty"),
    ("ja.footer_trim", {"min_lines_kept": 1}, lambda: kwdlc(2172), None),
    ("ja.keep_kana_lines", {}, lambda: abc(0), "ja.keep_kana_lines.empty"),
    ("ja.keep_kana_lines", {}, BLOG, None),
    # --- English -------------------------------------------------------------------------
    ("en.word_count", {}, lambda: cc("jf4x63zdyetfm2epeorlabpskqbrqnhd"), "en.word_count.too_few"),
    ("en.word_count", {"max": 100}, lambda: abc(0), "en.word_count.too_many"),
    ("en.word_count", {}, lambda: abc(0), None),
    ("en.gopher_quality", {}, lambda: cc("764qlesqvzmp55y5w6dhl3gpiimsx5kw"), "en.gopher_quality.mean_word_length_too_long"),
    ("en.gopher_quality", {}, lambda: cc("wivlhhh4fibnzpamkltu3hwzuarq4eus"), "en.gopher_quality.mean_word_length_too_short"),
    ("en.gopher_quality", {"max_hash_ratio": 0.0}, lambda: c4(15), "en.gopher_quality.hash_ratio_too_high"),
    ("en.gopher_quality", {}, lambda: cc("t2gsnre5k3kfvb6kiixrj2xabgbp4h7k"), "en.gopher_quality.ellipsis_ratio_too_high"),
    ("en.gopher_quality", {}, lambda: cc("qh7rmjpo7uov535t6u36aippr4plhs2l"), "en.gopher_quality.bullet_lines_too_many"),
    ("en.gopher_quality", {}, lambda: cc("7shz2qzrxjc5ihuytf3y32xtsy7pnlth"), "en.gopher_quality.ellipsis_lines_too_many"),
    ("en.gopher_quality", {"min_mean_word_length": None, "max_ellipsis_ratio": None}, lambda: cc("wivlhhh4fibnzpamkltu3hwzuarq4eus"),
     "en.gopher_quality.alpha_words_too_few"),
    ("en.gopher_quality", {}, lambda: cc("jf4x63zdyetfm2epeorlabpskqbrqnhd"), "en.gopher_quality.stop_words_too_few"),
    ("en.gopher_quality", {}, lambda: abc(0), None),
    ("en.gopher_repetition", {}, join(lambda: abc(0), lambda: abc(0), lambda: abc(1), sep="\n\n"),
     "en.gopher_repetition.dup_paragraphs_too_many"),
    ("en.gopher_repetition", {"max_dup_paragraphs": None}, join(lambda: abc(0), lambda: abc(0), lambda: abc(1), sep="\n\n"),
     "en.gopher_repetition.dup_paragraph_chars_too_many"),
    ("en.gopher_repetition", {"max_dup_paragraphs": None, "max_dup_paragraph_chars": None},
     lambda: "\n".join(abc(2).split("\n")[:3] * 2), "en.gopher_repetition.dup_lines_too_many"),
    ("en.gopher_repetition", {"max_dup_paragraphs": None, "max_dup_paragraph_chars": None, "max_dup_lines": None},
     lambda: "\n".join(abc(2).split("\n")[:3] * 2), "en.gopher_repetition.dup_line_chars_too_many"),
    *[
        ("en.gopher_repetition", {"max_top_ngram": {n: 0.02}, "max_dup_ngram": {}}, lambda: abc(0),
         f"en.gopher_repetition.top{n}gram_too_high")
        for n in (2, 3, 4)
    ],
    *[
        ("en.gopher_repetition", {"max_dup_paragraphs": None, "max_dup_paragraph_chars": None, "max_dup_lines": None,
                                  "max_dup_line_chars": None, "max_top_ngram": {}, "max_dup_ngram": {n: 0.10}},
         join(lambda: abc(3), lambda: abc(3), sep=" "), f"en.gopher_repetition.dup{n}gram_too_high")
        for n in range(5, 11)
    ],
    ("en.gopher_repetition", {}, lambda: abc(0), None),
    ("en.c4_lines", {"reject_curly_bracket": False}, lambda: cc("ihozv7qx56plvzlp4s3l6jisj3htgjpi"), "en.c4_lines.lorem_ipsum"),
    ("en.c4_lines", {}, lambda: cc("xxhi5tgaf3kefeecjiy5ez6xu67cuare"), "en.c4_lines.curly_bracket"),
    ("en.c4_lines", {}, lambda: "\n".join(abc(0).split("\n")[:4]), "en.c4_lines.too_few_sentences"),
    ("en.c4_lines", {}, lambda: abc(0), None),
    ("en.c4_paragraph", {}, lambda: abc(0), "en.c4_paragraph.too_few_long_lines"),
    ("en.c4_paragraph", {"min_line_chars": 100}, lambda: abc(0), None),
    ("en.fineweb_quality", {}, lambda: cc("jf4x63zdyetfm2epeorlabpskqbrqnhd"), "en.fineweb_quality.line_punct_too_low"),
    ("en.fineweb_quality", {}, lambda: cc("t2gsnre5k3kfvb6kiixrj2xabgbp4h7k"), "en.fineweb_quality.short_lines_too_many"),
    ("en.fineweb_quality", {}, lambda: cc("z35dcdq4yscde6vipaw36gwupa2mv46q"), "en.fineweb_quality.dup_line_chars_too_high"),
    ("en.fineweb_quality", {}, lambda: cc("srnpc5ry2wjlx5nkkx5dwcep3bejtsmj"), "en.fineweb_quality.list_ratio_too_high"),
    ("en.fineweb_quality", {}, lambda: abc(0), None),
    ("en.ng_words", {}, lambda: abc(1847), "en.ng_words.too_many"),  # a story on breast cancer: 6 x "breast"
    ("en.ng_words", {}, lambda: abc(0), None),
]

URL_CASES = [
    ({}, "https://ja.wikipedia.org/wiki/%E6%97%A5%E6%9C%AC", "url.tld_whitelist.excluded_prefix"),
    ({}, "https://www.example.cn/news/1.html", "url.tld_whitelist.tld_not_allowed"),
    ({"missing_url": "reject"}, None, "url.tld_whitelist.missing_url"),
    ({}, None, None),
    ({}, "https://www.city.kobe.lg.jp/a/b.html", None),
    ({}, "http://blog.example.tokyo:8080/x", None),
]


def _run(rule: str, params: dict[str, Any], text: str, url: str | None = None) -> str | None:
    chain = FilterChain([build_step(rule, params)]).setup()
    lang = "en" if rule.startswith("en.") else "ja"
    return chain.apply(Document(id="t", text=text, source="test", lang=lang, url=url)).reason


@pytest.mark.parametrize(
    "rule, params, text, expected", CASES, ids=[f"{c[0]}-{c[3] or 'keep'}-{i}" for i, c in enumerate(CASES)]
)
def test_reason_codes_on_real_text(rule, params, text, expected):
    assert _run(rule, params, text()) == expected


@pytest.mark.parametrize("params, url, expected", URL_CASES)
def test_tld_whitelist(params, url, expected):
    assert _run("url.tld_whitelist", params, "日本語のテキストです。", url) == expected


def test_every_reason_code_has_a_case():
    ensure_registered()
    covered = {c[3] for c in CASES if c[3]} | {c[2] for c in URL_CASES if c[2]}
    missing = []
    for name in builtin_rules():
        step = build_step(name, {"wordlist": ADULT} if name == "ja.ng_words" else {})
        missing += [r for r in step.reason_codes() if r not in covered]
    assert not missing, f"reason codes without a test case: {missing}"


def test_reason_codes_follow_the_naming_rule():
    import re

    ensure_registered()
    pat = re.compile(r"^(ja|en|text|url)\.[a-z0-9_]+\.[a-z0-9_]+$")
    for name in builtin_rules():
        step = build_step(name, {"wordlist": ADULT} if name == "ja.ng_words" else {})
        for code in step.reason_codes():
            assert pat.match(code), code
