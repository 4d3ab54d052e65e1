"""Japanese NG-word rules on word boundaries: morpheme alignment, context words, densities.

Every false positive named for the HojiChar lists matched as substrings is a case here, with the
true positives that must still count, on real-looking sentences.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from corpusflow.filters.keywords import Hit, morpheme_boundaries
from corpusflow.filters.profiles import build_chain
from corpusflow.filters.rules_ja import NgAdult, NgDiscrimination, NgViolence
from corpusflow.filters.text import TextView
from tests.test_filters_data import wiki

pytest.importorskip("fugashi", reason="fugashi + unidic-lite are dependencies of corpusflow")

CTX = "pkg:filters/wordlists/ng_context_{}_ja.txt"


def _rule(cls: type, ctx: str, **over: object) -> NgAdult:
    params = {"max_count": 1, "max_per_1000_chars": 5, "boundaries": "morpheme", "context_words": CTX.format(ctx),
              "katakana_boundary": True, "word_boundary": True, "fold_width": True, "min_keyword_chars": 2}
    params.update(over)
    r = cls(params)
    r.setup()
    return r


RULES = {"adult": (NgAdult, "adult"), "discrimination": (NgDiscrimination, "discrimination"),
         "violence": (NgViolence, "violence")}


def _words(kind: str, text: str, **over: object) -> dict[str, float]:
    cls, ctx = RULES[kind]
    m = _rule(cls, ctx, **over).measure(TextView(text))
    return {k[5:]: v for k, v in m.items() if k.startswith("word.")}


@pytest.mark.parametrize(
    ("kind", "text", "word"),
    [
        # えろ inside the imperative 燃えろ
        ("adult", "燃えろ！いい女、とサビで叫ぶこの曲は、夏フェスの定番になった。", "えろ"),
        ("adult", "最後まで燃えろ、と監督は選手たちに声をかけた。", "えろ"),
        # カント the philosopher
        ("adult", "カントの『純粋理性批判』は、認識の条件を問い直した哲学書である。", "カント"),
        ("adult", "イマヌエル・カントはケーニヒスベルクで生まれ、生涯その町を離れなかった。", "カント"),
        # でり inside ぐでりん (a character name)
        ("adult", "ぐでりんのぬいぐるみがクレーンゲームの景品になっていた。", "でり"),
        # 不具 inside 不具合 (a software bug)
        ("discrimination", "アプリの不具合により、一部のユーザーがログインできない状態が続いた。", "不具"),
        ("discrimination", "ファームウェア更新で通信の不具合が修正されました。", "不具"),
        # 露出 in camera settings
        ("adult", "逆光では露出補正をプラス1にして、シャッタースピードを1/250秒に設定しました。", "露出"),
        ("adult", "マニュアル露出で絞りをF8にすると、風景全体にピントが合います。", "露出"),
        # 恐怖 in a horror-film review
        ("violence", "この映画は派手な演出に頼らず、じわじわと迫る恐怖を描いた傑作ホラーだ。恐怖の正体が明かされる終盤は圧巻。", "恐怖"),
        # 八百屋, 処女作 (ordinary words on broadcasters' paraphrase lists)
        ("discrimination", "商店街の八百屋さんで旬の野菜を買い、作家の処女作を読み返した。", "八百屋"),
    ],
)
def test_ordinary_words_do_not_count(kind: str, text: str, word: str) -> None:
    assert word not in _words(kind, text)


@pytest.mark.parametrize(
    ("kind", "text", "word"),
    [
        ("adult", "無料エロ動画を毎日更新中！人気AV女優の無修正動画も見放題。", "エロ動画"),
        ("adult", "えろい画像まとめ、えろ動画はこちら", "えろ"),
        ("adult", "人妻とのセックス体験談を投稿してください。", "セックス"),
        ("adult", "デリヘル嬢のプロフィールを写真付きで紹介。", "デリヘル"),
        # a context word counts next to an unambiguous one
        ("adult", "露出プレイの動画、巨乳の人妻が登場。", "露出"),
        ("violence", "お前なんか死ねよ。次に会ったら殺すぞ。", "死ね"),
        ("violence", "死ね死ね、と掲示板に書き込まれた。恐怖で眠れない。", "恐怖"),
        ("discrimination", "あいつはキチガイだ、ジャップは出ていけ。", "キチガイ"),
    ],
)
def test_true_positives_still_count(kind: str, text: str, word: str) -> None:
    assert word in _words(kind, text)


def test_substring_mode_keeps_llmjp_behaviour() -> None:
    text = "最後まで燃えろ、と監督は選手たちに声をかけた。"
    assert "えろ" in _words("adult", text, boundaries="substring", context_words=None)
    assert "えろ" not in _words("adult", text)


@pytest.mark.parametrize(
    ("text", "start", "length", "ok"),
    [
        ("燃えろ！", 1, 2, False),  # starts inside a verb
        ("死ねよお前", 0, 2, True),  # ends inside an inflected word that begins with the hit
        ("アプリの不具合", 4, 2, False),  # ends inside the noun 具合
        ("でりへる呼んだ", 0, 4, True),  # spans several morphemes, aligned at both ends
        ("イマヌエル・カント", 6, 3, False),  # proper noun
    ],
)
def test_morpheme_alignment(text: str, start: int, length: int, ok: bool) -> None:
    hit = Hit("k", start, length, text[start : start + length])
    assert (morpheme_boundaries().filter_hits(text, [hit]) == [hit]) is ok


def test_density_not_absolute_count() -> None:
    rule = _rule(NgAdult, "adult")
    spam = "人妻のエロ動画、無修正で公開中。今すぐ見る。" * 2  # 4 words in 44 characters
    novel = ("彼女は人妻であった。" + "町の人々は穏やかに暮らし、川は静かに流れていた。" * 60
             + "その夜の話はエロ小説のようだと噂された。")  # 2 words in ~1,450 characters
    s, n = rule.measure(TextView(spam)), rule.measure(TextView(novel))
    assert rule.judge(s) is not None
    assert n[""] == 2 and rule.judge(n) is None


def test_ja_web_profile_keeps_the_named_cases() -> None:
    chain = build_chain("pkg:filters/profiles/ja_web.yaml", lang="ja", exclude_categories=("length",)).setup()
    review = ("この映画は派手な演出に頼らず、じわじわと迫る恐怖を描いた傑作ホラーだ。"
              "主人公が古い屋敷で体験する恐怖は、観客自身の記憶にある恐怖と重なる。"
              "恐怖の正体が明かされる終盤まで、緊張は途切れない。監督の前作よりも静かな作品だが、"
              "恐怖映画の新しい形を示したと言えるだろう。")
    camera = ("逆光で人物を撮るときは、露出補正をプラスにして顔を明るく写します。"
              "露出オーバーになりそうなら、露出計を見ながら絞りを調整してください。"
              "最近のカメラは自動露出の精度が高いので、まずはオートで撮ってみましょう。")
    for text in (review, camera):
        res = chain.run(text)
        assert res.keep, (res.reason, text)


def test_inspect_shows_the_matched_words() -> None:
    from corpusflow.commands.inspect import matched_words, render_with_words
    from corpusflow.report.samples import Sample, deciding_signals

    chain = build_chain("pkg:filters/profiles/ja_web.yaml", lang="ja", mode="tag").setup()
    text = ("無料エロ動画を毎日更新中！人気AV女優の無修正動画も見放題。人妻とのセックス体験談も。"
            "登録は簡単、今すぐ見られます。気になる方はこちらから。") * 3
    res = chain.run(text)
    verdict = next(v for v in res.failures if v.step == "ja.ng_adult")
    reason, detail = verdict.reason, verdict.detail()
    assert reason == "ja.ng_adult.too_many"
    words = matched_words(res.signals, reason)
    assert dict(words) == {"エロ動画": 3, "AV女優": 3, "無修正": 3, "人妻": 3, "セックス": 3}
    row = {"id": "d1", "text": text, "source": "web", "lang": "ja", "n_chars": len(text), "stage": "filters",
           "reason": reason, "detail": detail}
    sample = Sample(row=row, kind="rejected", signals=res.signals,
                    deciding=deciding_signals(res.signals, reason, detail))
    out = render_with_words(sample, 120, 100, 3, 1, 1)
    line = next(ln for ln in out.splitlines() if ln.startswith("matched "))
    assert all(w in line for w in ("エロ動画 ×3", "AV女優 ×3", "無修正 ×3", "人妻 ×3", "セックス ×3"))
    assert ".word." not in out  # listed once, on the matched line, not among the signals
    assert "ja.ng_adult.per_1000_chars=" in out


# Wikipedia paragraphs that ja_web's adult rule dropped: anatomy, zoology, biochemistry and
# aviation words of HojiChar's adult list (陰茎, 射精, 乳輪, 恥骨, SM = sphingomyelin, スラット =
# slat) are context words now: they count only next to an unambiguous adult keyword.
WIKI_KEPT = [
    (lambda: wiki(1662), "ハリモグラ", ("射精", "陰茎")),
    (lambda: wiki(1664), "ハリモグラ", ("乳輪", "乳首")),
    (lambda: wiki(1922), "アロサウルス", ("恥骨",)),
    (lambda: wiki(612), "赤血球", ("SM",)),
    (lambda: wiki(4308), "エアバスA300", ("スラット",)),
]


@pytest.mark.parametrize(("make", "title", "words"), WIKI_KEPT)
def test_encyclopedic_senses_do_not_count(make: Callable[[], str], title: str, words: tuple[str, ...]) -> None:
    text = make()
    counted = _words("adult", text)
    for w in words:
        assert w in text and w not in counted, (title, w)
    # the same words next to an unambiguous adult keyword still count
    spam = "無料エロ動画を毎日更新中！" + text
    assert any(w in _words("adult", spam) for w in words), title
