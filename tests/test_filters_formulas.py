"""Each rule's formula pinned on small hand-checked examples (counts worked out in comments)."""

from __future__ import annotations

import random
import zlib

import pytest

from corpusflow.filters.catalog import build_step
from corpusflow.filters.chain import FilterChain
from corpusflow.filters.keywords import KeywordIndex, non_overlapping
from corpusflow.filters.rules_ja import BBS_PATTERN, BBS_PATTERN_RUNS, bbs_count
from corpusflow.filters.text import TextView, dup_counts


def signals(rule: str, text: str, **params) -> dict[str, float]:
    chain = FilterChain([build_step(rule, params)], mode="tag").setup()
    return chain.run(text).signals


def one(rule: str, text: str, key: str = "", **params) -> float:
    s = signals(rule, text, **params)
    return s[rule if key == "" else f"{rule}.{key}"]


# --- character classes (Swallow definitions) ------------------------------------------------

MIXED = "ひらがなカタカナ漢字。、ABC 123！\n"
# hiragana ひらがな=4, katakana カタカナ=4, kanji 漢字=2, kuten 。！=2, toten 、=1
# -> Japanese letters 13; all characters 4+4+2+1+1+3+1+3+1+1 = 21


def test_character_classes():
    v = TextView(MIXED)
    assert (v.n_hiragana, v.n_katakana, v.n_kanji, v.n_japanese, v.n_chars) == (4, 4, 2, 13, 21)
    # ー is not a Swallow katakana letter; 々 is a kanji
    assert TextView("ラーメン").n_katakana == 3
    assert TextView("人々").n_kanji == 2


def test_swallow_fractions():
    assert one("ja.hiragana_fraction", MIXED) == pytest.approx(4 / 13)
    assert one("ja.katakana_fraction", MIXED) == pytest.approx(4 / 13)
    assert one("ja.japanese_fraction", MIXED) == pytest.approx(13 / 21)
    assert one("ja.japanese_letters", MIXED) == 13


def test_nfkc_punctuation_counts_as_sentence_end():
    # pitfall 6: after NFKC "！？" become "!?"; both widths end a sentence and are kuten
    assert TextView("はい！ いいえ？").ja_sentences == ["はい！", "いいえ？"]
    assert TextView("はい! いいえ?").ja_sentences == ["はい!", "いいえ?"]
    assert TextView("はい!").n_japanese == 3


# --- sentences --------------------------------------------------------------------------------


def test_swallow_sentences():
    text = "今日は晴れ。明日は雨！本当？\nはい。 そう…"
    # one regex match per sentence, inside lines, stripped
    assert TextView(text).ja_sentences == ["今日は晴れ。", "明日は雨！", "本当？", "はい。", "そう…"]
    s = signals("ja.avg_sentence_length", text)
    assert s["ja.avg_sentence_length"] == pytest.approx((6 + 5 + 3 + 3 + 3) / 5)
    assert s["ja.avg_sentence_length.sentences"] == 5
    assert one("ja.max_sentence_length", text) == 6
    assert one("ja.ellipsis_sentences", text) == pytest.approx(1 / 5)
    # a second terminator in a row does not start a sentence
    assert TextView("すごい!!本当").ja_sentences == ["すごい!", "本当"]


def test_zero_sentences_measure_zero_instead_of_raising():
    assert one("ja.max_sentence_length", "") == 0.0
    assert one("ja.avg_sentence_length", "\n \n") == 0.0


def test_rare_kuten_density():
    # llm-jp: reject if count(。) < len / L  <=>  count/len < 1/L
    assert one("ja.rare_kuten", "あ。いう") == pytest.approx(1 / 4)
    chain = FilterChain([build_step("ja.rare_kuten", {"max_chars_per_kuten": 3})]).setup()
    assert chain.run("あい。").keep  # count 1 >= 3/3
    assert not chain.run("あいう。").keep  # count 1 < 4/3
    assert chain.run("あい。うえ。").keep


# --- duplicates (Swallow, blank lines ignored) -----------------------------------------------


def test_duplicate_lines_and_blank_lines():
    assert dup_counts(["a", "b", "a", "a"]) == (4, 2, 4, 2)
    s = signals("ja.duplicate_lines", "a\n\nb\na\n\na")
    assert s["ja.duplicate_lines"] == pytest.approx(2 / 4)
    assert s["ja.duplicate_lines.chars"] == pytest.approx(2 / 4)
    # pitfall 4: blank lines between paragraphs are not duplicate paragraphs
    assert one("ja.duplicate_lines", "段落一。\n\n段落二。\n\n段落三。") == 0.0


def test_duplicate_sentences():
    s = signals("ja.duplicate_sentences", "はい。はい。いいえ。")
    assert s["ja.duplicate_sentences"] == pytest.approx(1 / 3)
    assert s["ja.duplicate_sentences.chars"] == pytest.approx(3 / 10)  # はい。はい。いいえ。 = 3+3+4


# --- character n-grams ------------------------------------------------------------------------


def test_top_ngram_fraction():
    s = signals("ja.top_ngram_fraction", "ababab")
    # 2-grams ab,ba,ab,ba,ab -> 3/5; 3-grams aba,bab,aba,bab -> 2/4; 4-grams abab,baba,abab -> 2/3
    assert s["ja.top_ngram_fraction.top2"] == pytest.approx(3 / 5)
    assert s["ja.top_ngram_fraction.top3"] == pytest.approx(2 / 4)
    assert s["ja.top_ngram_fraction.top4"] == pytest.approx(2 / 3)


def test_duplicate_ngram_fraction_is_type_based():
    s = signals("ja.duplicate_ngram_fraction", "abcdeXabcde")
    # 5-grams abcde bcdeX cdeXa deXab eXabc Xabcd abcde: 6 distinct, 1 seen twice -> 1/6
    assert s["ja.duplicate_ngram_fraction.dup5"] == pytest.approx(1 / 6)
    assert s["ja.duplicate_ngram_fraction.dup6"] == 0.0
    # abcde 1 abcde 2 abcde: 13 windows, 11 distinct, only abcde (three times) repeats -> 1/11
    assert one("ja.duplicate_ngram_fraction", "abcde1abcde2abcde", "dup5") == pytest.approx(1 / 11)


def test_char_repetition_bigscience():
    assert one("text.char_repetition", "aaaaaa") == 1.0
    # 8 windows: abcde x2, 6 others once; k = min(floor(sqrt(7)), 1) = 1 -> 2/8
    assert one("text.char_repetition", "abcdeabcdeXY") == pytest.approx(2 / 8)
    assert one("text.char_repetition", "abcd") == 0.0


def test_single_char_repetition_and_special_chars():
    assert one("text.single_char_repetition", "abbbbc") == 4
    assert one("text.single_char_repetition", "x" * 1000) == 1000
    # special: "!", " ", "。" of "ab! c。" -> 3/6 (digits are not special)
    assert one("text.special_char_fraction", "ab! c。") == pytest.approx(3 / 6)
    assert one("text.special_char_fraction", "1234") == 0.0


def test_compression_ratio_formula():
    text = "日本語の文章です。" * 10
    raw = text.encode()
    assert one("text.compression_ratio", text) == pytest.approx(len(zlib.compress(raw, 9)) / len(raw))


def test_short_lines_and_ending_ellipsis():
    text = "短い\nこれは十一文字以上ある長い行です\n\nまた短い\n続く…"
    # non-empty lines: 4; <= 10 chars: 短い, また短い, 続く… -> 3/4; ending with an ellipsis: 1/4
    assert one("text.short_lines", text) == pytest.approx(3 / 4)
    assert one("text.ending_ellipsis", text) == pytest.approx(1 / 4)


# --- keywords -------------------------------------------------------------------------------


def test_katakana_boundary_matching():
    # pitfall 1: アス inside アスパラガス, サック inside リュックサック are not hits
    assert one("ja.ng_adult", "アスパラガスを食べた。") == 0
    assert one("ja.ng_adult", "アスが好き。") == 1
    assert one("ja.ng_adult", "アスパラガスを食べた。", katakana_boundary=False) == 1


def test_latin_word_boundary_and_width_folding():
    idx = KeywordIndex(fold_width=True)
    idx.add("l", ["SM", "AV"], katakana_boundary=True, word_boundary=True)
    v = TextView("SMAPとＳＭと AV女優")
    hits = idx.match(v)["l"]
    # SMAP: not a word -> no; ＳＭ folded to SM -> yes; AV followed by kanji -> yes
    assert [(h.start, h.word) for h in hits] == [(5, "SM"), (9, "AV")]


def test_leftmost_longest_counting():
    # 今なら / 送料無料 (not 送料 + 無料) / お気軽に / お問い合わせ (not 問い合わせ) -> 4 hits in 23 chars
    s = signals("ja.promo_vocabulary", "今なら送料無料！お気軽にお問い合わせください。")
    assert s["ja.promo_vocabulary.hits"] == 4
    assert s["ja.promo_vocabulary"] == pytest.approx(100 * 4 / 23)
    idx = KeywordIndex()
    idx.add("l", ["送料", "無料", "送料無料"], katakana_boundary=False, word_boundary=False)
    hits = idx.match(TextView("送料無料"))["l"]
    assert len(hits) == 3
    assert [h.word for h in non_overlapping(hits)] == ["送料無料"]


def test_ng_fraction_characters():
    # "アダルト" (4 chars) in "アダルト動画です。": Japanese letters 9 -> 4/9
    assert one("ja.ng_fraction", "アダルト動画です。") == pytest.approx(4 / 9)


def test_ng_density_and_min_keyword_chars():
    text = "死亡届を出す。死亡地で。死亡者の。死去。"
    assert one("ja.ng_violence", text) == 4  # 死 x4: llm-jp counts single characters
    assert one("ja.ng_violence", text, min_keyword_chars=2) == 0


@pytest.mark.parametrize(
    ("alphabet", "docs", "min_len", "max_len"),
    [
        ("0123456789０１２-- /.年月日話(（)）月火コメントSOLD OUTページ質問楽天市場レビュー投稿あ", 3000, 0, 40),
        # more than 40 parentheses switches the weekday count from str.find to the regex
        ("0123456789０-/.年月日話((（（))）)月火水木金土日コメントSOLD OUTあ", 300, 40, 400),
    ],
)
def test_bbs_fast_count_equals_reference_regex(alphabet: str, docs: int, min_len: int, max_len: int):
    rnd = random.Random(7)
    for _ in range(docs):
        t = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(min_len, max_len)))
        assert bbs_count(TextView(t)) == len(BBS_PATTERN.findall(t)), t
        assert bbs_count(TextView(t), True) == len(BBS_PATTERN_RUNS.findall(t)), t


# --- cleaners ---------------------------------------------------------------------------------


def run_transform(rule: str, text: str, **params):
    return FilterChain([build_step(rule, params)]).setup().run(text)


def test_kutoten():
    r = run_transform("ja.kutoten", "東京，大阪．１．５と（現，中央大学）")
    # after a Japanese character or closing bracket only; full-width digits are left alone
    assert r.text == "東京、大阪。１．５と（現、中央大学）"
    assert r.signals["ja.kutoten.replaced"] == 3


def test_footer_trim():
    text = "本文です。\n本文の続きです。\nCopyright © 2020 Example All Rights Reserved."
    # keywords cover Copyright(9) + ©(1) + All Rights Reserved(19) = 29 of 45 characters > 30%
    r = run_transform("ja.footer_trim", text)
    assert r.text == "本文です。\n本文の続きです。"
    assert r.signals["ja.footer_trim.removed_lines"] == 1
    assert r.signals["ja.footer_trim.removed_chars"] == len(text) - len(r.text)
    assert r.keep


def test_keep_kana_lines_rejoins_with_newlines():
    text = "日本語の行です。\nEnglish only line\n詳しくは https://example.com/a を見て"
    r = run_transform("ja.keep_kana_lines", text)
    assert r.text == "日本語の行です。\n詳しくは  を見て"  # pitfall 7: lines stay separate
    assert r.signals["ja.keep_kana_lines.removed_lines"] == 1


# --- English ----------------------------------------------------------------------------------


def test_gopher_quality_formulas():
    s = signals("en.gopher_quality", "The cat sat on the mat. #tag ...")
    # tokens: The cat sat on the mat. #tag ... (8); words (non-symbol): 7; letters/digits 3+3+3+2+3+3+3
    assert s["en.gopher_quality.words"] == 7
    assert s["en.gopher_quality.mean_word_length"] == pytest.approx(20 / 7)
    assert s["en.gopher_quality.hash_ratio"] == pytest.approx(1 / 7)
    assert s["en.gopher_quality.ellipsis_ratio"] == pytest.approx(1 / 7)
    assert s["en.gopher_quality.alpha_words"] == pytest.approx(7 / 8)
    assert s["en.gopher_quality.stop_words"] == 1  # "the" (distinct, case-insensitive)
    assert one("en.word_count", "The cat sat on the mat. #tag ...") == 7


def test_gopher_repetition_formulas():
    text = "a b c d e a b c d e"  # 19 characters
    s = signals("en.gopher_repetition", text)
    # word 5-grams at 0..5; the one at 5 repeats the one at 0 -> 5 characters / 19
    assert s["en.gopher_repetition.dup5gram"] == pytest.approx(5 / 19)
    assert s["en.gopher_repetition.dup6gram"] == 0.0
    # most frequent 2-gram occurs twice; "a b" is 3 characters -> 2*3/19
    assert s["en.gopher_repetition.top2gram"] == pytest.approx(6 / 19)
    p = signals("en.gopher_repetition", "x y\n\nx y\n\nz")
    assert p["en.gopher_repetition.dup_paragraphs"] == pytest.approx(1 / 3)
    assert p["en.gopher_repetition.dup_paragraph_chars"] == pytest.approx(3 / 11)


def test_fineweb_quality_formulas():
    s = signals("en.fineweb_quality", "Hello world.\nshort\nHello world.")
    assert s["en.fineweb_quality.line_punct"] == pytest.approx(2 / 3)
    assert s["en.fineweb_quality.short_lines"] == 1.0
    assert s["en.fineweb_quality.dup_line_chars"] == pytest.approx(12 / 29)
    assert s["en.fineweb_quality.list_ratio"] == pytest.approx(2 / 5)


def test_c4_lines_cleaning():
    text = (
        "This sentence cites a source[1] and it ends here.\n"
        "Enable javascript to see the whole page today.\n"
        "Too short\n"
        "We use cookies to improve this site for you.\n"
        "A second sentence. A third one. A fourth one. A fifth one."
    )
    r = run_transform("en.c4_lines", text)
    assert r.text == "This sentence cites a source and it ends here.\nA second sentence. A third one. A fourth one. A fifth one."
    assert r.signals["en.c4_lines.removed_lines"] == 3
    assert r.signals["en.c4_lines.sentences"] == 5
    assert r.keep


def test_english_ng_words_need_whole_words():
    assert one("en.ng_words", "Sussex and Essex are counties.") == 0
    assert one("en.ng_words", "sex, SEX and Sex.") == 3


# --- fast paths equal their reference definitions (issue #8) ----------------------------------


def test_stop_word_search_equals_word_boundary_regex():
    import re

    from corpusflow.filters.rules_en import _STOP_WORDS, has_word

    alphabet = ["the", "to", "be", "of", "and", "that", "have", "with", " ", "_", "é", "1", ".", "a", "\n", "ß", "²"]
    rnd = random.Random(3)
    for _ in range(3000):
        t = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        for w in _STOP_WORDS:
            assert has_word(t, w) == (re.search(rf"\b{w}\b", t) is not None), (t, w)


def test_sentence_count_regex_equals_the_original_pattern():
    import re

    from corpusflow.filters.rules_en import _SENT_END

    original = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")
    rnd = random.Random(5)
    for _ in range(3000):
        t = "".join(rnd.choice(".!?\"')] ab\n") for _ in range(rnd.randint(0, 20)))
        assert [m.span() for m in _SENT_END.finditer(t)] == [m.span() for m in original.finditer(t)], t


def test_repetition_measures_equal_brute_force():
    from collections import Counter
    from itertools import groupby

    rnd = random.Random(9)
    for _ in range(500):
        t = "".join(rnd.choice("ああいab \n") for _ in range(rnd.randint(0, 60)))
        grams = Counter(t[i : i + 5] for i in range(len(t) - 4))
        counts = sorted(grams.values(), reverse=True)
        k = min(int(len(counts) ** 0.5), sum(1 for c in counts if c > 1))
        expected = sum(counts[:k]) / sum(counts) if k > 0 else 0.0
        assert one("text.char_repetition", t) == pytest.approx(expected, abs=1e-12), t
        longest = max((len(list(g)) for _, g in groupby(t)), default=0)
        assert one("text.single_char_repetition", t) == longest, t


def test_word_stats_equal_a_split_based_reference():
    from corpusflow.filters.rules_en import word_stats

    rnd = random.Random(13)
    pieces = ["word", "--", "...", "it's", "漢字", "１２", "#", " ", "\n", "\t", "\u3000", "é", "🙂"]
    for _ in range(1000):
        t = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 15)))
        v = TextView(t)
        tokens = t.split()
        word_classes = {c for c in range(16)} - {12, 4, 5, 14, 8, 9}  # not symbol/kuten/toten/emoji/space
        cls = v.classes.tolist()
        per_char = dict(zip(range(len(t)), cls, strict=True))
        starts, ends = v.token_spans
        assert len(tokens) == len(starts)
        words = sum(1 for s, e in zip(starts, ends, strict=True) if any(per_char[i] in word_classes for i in range(s, e)))
        st = word_stats(v)
        assert st["tokens"] == len(tokens) and st["words"] == words, t
        assert st["word_chars"] == sum(1 for c in cls if c in word_classes), t


def test_word_boundary_keywords_equal_brute_force():
    idx = KeywordIndex(fold_width=True, ignore_case=True)
    words = ["sex", "xxx", "anal", "a2m", "ho"]
    idx.add("k", words, katakana_boundary=False, word_boundary=True)
    idx.finalize()
    rnd = random.Random(17)
    pieces = [*words, "SEX", "ｓｅｘ", "Ｈｏ", "a", "b", "1", " ", ".", "é", "ア"]
    for _ in range(3000):
        t = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10)))
        low = "".join(c.lower() if "A" <= c <= "Z" else c for c in t)
        variants = {w: w for w in words} | {"".join(chr(ord(c) + 0xFEE0) for c in w): w for w in words}
        expected = []
        for var, w in variants.items():
            for p in range(len(low) - len(var) + 1):
                if low[p : p + len(var)] != var:
                    continue
                before = low[p - 1] if p else ""
                after = low[p + len(var)] if p + len(var) < len(low) else ""
                if not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum()):
                    expected.append((p, len(var), w))
        got = [(h.start, h.length, h.word) for h in idx.match(TextView(t))["k"]]
        assert sorted(got) == sorted(expected), t


def test_promo_register_signals():
    """ja.promo_vocabulary's register: plain-style share and address words outside 「」 quotations,
    on a real KWDLC shop lead (line 228)."""
    from tests.test_filters_data import kwdlc

    shop = kwdlc(228)  # タウンロフト館の店舗情報 ... 当店スタッフまでお気軽にご連絡下さい。 ...
    s = signals("ja.promo_vocabulary", shop, report_plain_share=0.5)
    assert s["ja.promo_vocabulary.plain_share"] == 0.0  # every sentence polite (します, 下さい, いたします)
    assert s["ja.promo_vocabulary.address"] == 3  # ご来店, 当店, お気軽に
    # the terms of a judged text are recorded for inspect ("matched  当店 ×2, ...")
    assert s["ja.promo_vocabulary.word.当店"] == 2 and s["ja.promo_vocabulary.word.ご来店"] == 1
    lines = shop.split("\n")
    quoted = "\n".join([lines[0], "「" + lines[1] + "」", lines[2]])  # the seller quoted, as a reporter would
    assert signals("ja.promo_vocabulary", quoted, report_plain_share=0.5)["ja.promo_vocabulary.address"] == 1
    # ordinary words containing a term are not counted (leftmost-longest): 比較的, まとめる, 審査員
    text = "比較的安い価格でまとめる。審査員が選んだ。"
    plain = signals("ja.promo_vocabulary", text)
    ordinary = signals("ja.promo_vocabulary", text, ordinary_words="pkg:filters/wordlists/promo_ordinary_ja.txt")
    assert plain["ja.promo_vocabulary.distinct"] == 4  # 比較, 価格, まとめ, 審査
    assert ordinary["ja.promo_vocabulary.distinct"] == 1  # 価格


def test_prose_part_judges_articles_with_a_list() -> None:
    """A page whose lines ending in 。 hold >= 30% of its characters is judged on those lines by
    the Swallow composition rules (an article with a table or a spec list); a menu alone has no
    such lines. Real snippets: a Wikipedia paragraph (line 12056) and an mC4 prefecture menu."""
    from tests.test_filters_data import c4, mc4, wiki

    menu, prose = mc4("mc4ja-522301139132"), wiki(12056)
    page = "\n".join([prose, menu, menu])
    assert one("ja.hiragana_fraction", page, min=0.2) == pytest.approx(0.166, abs=1e-3)
    whole = FilterChain([build_step("ja.hiragana_fraction", {"min": 0.2})], mode="tag").setup()
    part = FilterChain([build_step("ja.hiragana_fraction", {"min": 0.2, "prose_part_share": 0.3})], mode="tag").setup()
    assert whole.run(page).failures and not part.run(page).failures
    s = part.run(page).signals
    assert s["ja.hiragana_fraction.prose_part"] == pytest.approx(0.487, abs=1e-3)
    assert s["ja.hiragana_fraction.prose_part_value"] >= 0.2
    assert part.run(menu).failures  # the menu alone: no prose part
    # an English block (a C4 story's first lines) under a Japanese paragraph: judged on the paragraph
    mixed = prose + "\n" + c4(0)[:260]
    jf = FilterChain([build_step("ja.japanese_fraction", {"min": 0.5, "prose_part_share": 0.3})], mode="tag").setup()
    assert one("ja.japanese_fraction", mixed, min=0.5) < 0.5 and not jf.run(mixed).failures
    assert jf.run(c4(0)).failures  # English alone
