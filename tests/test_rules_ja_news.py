"""News written about commerce, sex, reviews and gadgets is reporting, not spam (ja_web).

Table-driven: each case runs one rule with the parameters given and checks the reason code
(``None`` = kept). The news texts are written for these tests in the style of Japanese web
news (product launches with spec tables, crime and scandal reports, review campaigns); the bad
texts are genuine mC4-ja snippets labelled bad (tests/fixtures/filter_snippets.jsonl.gz).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from corpusflow.core.document import Document
from corpusflow.filters.catalog import build_step, ensure_registered
from corpusflow.filters.chain import FilterChain
from tests.test_filters_data import kwdlc, mc4

ADULT_CONTEXT = "pkg:filters/wordlists/ng_context_adult_ja.txt"
PROMO_ORDINARY = "pkg:filters/wordlists/promo_ordinary_ja.txt"

# A product launch in the plain style with a spec table and one editor's オススメ: its spec lines
# have no predicate and must not count as sentences of the register.
LAUNCH = "\n".join([
    "節電を意識した製品が各社から登場している。",
    "そんな中、大手メーカーからLEDバックライトを採用した23型の液晶ディスプレイが販売された。",
    "通常の消費電力は30Wに抑えられ、画面の明るさを自動で調整する機能も備える。",
    "消費電力を気にする人にもオススメだ。気になる価格は21,980円で、数量限定のホワイトモデルも用意された。",
    "■主な仕様",
    "本体サイズ：幅546×高さ365×奥行き185（mm）",
    "質量：約3kg",
    "表示色：約1677万色",
    "価格：21,980円（税込）",
    "付属品：電源ケーブル、DVIケーブル",
])

# A shop page in the polite style, speaking as the shop (当店, ご来店, お気軽に)
SHOP = "\n".join([
    "当店では中古ブランド品の買取と販売を行っております。",
    "人気商品を多数取り揃え、送料無料でお届けいたします。",
    "期間限定のキャンペーン実施中です。お得な特典もご用意しております。",
    "ご来店の際はお気軽にお問い合わせください。スタッフ一同お待ちしております。",
])

# A crime report: the plain style of news, three adult-list words in 480 characters
ARREST = "".join([
    "県警は12日、駅の構内で女性の体を触ったとして、会社員の男（42）を迷惑防止条例違反の疑いで逮捕した。",
    "調べによると、男は11日午後8時ごろ、混雑した電車の中で20代の女性に痴漢をした疑いが持たれている。",
    "男は容疑を認めており、「仕事のストレスがたまっていた」と話しているという。",
    "同署によると、この駅では今年に入って同様の被害の相談が10件以上寄せられていた。",
    "男の自宅からは盗撮した画像が保存されたパソコンも見つかっており、",
    "県警は余罪があるとみて調べを進めている。被害者の女性にけがはなかった。",
    "専門家は、性犯罪の被害を受けても届け出ない人が多いと指摘している。",
    "鉄道会社は女性専用車両の拡大や防犯カメラの増設を検討していると発表した。",
    "県は来月から、駅での見回りを強化する方針を明らかにした。",
    "また、被害に遭った場合の相談窓口を駅の掲示板で案内するという。",
])

# An article on a review campaign: レビュー in almost every sentence, no comment header anywhere
REVIEWS = "\n".join([
    "ソーシャルレビューサイトは、最新ノートパソコンのレビュー企画を始めた。",
    "選ばれたレビュアーが実際に製品を使い、レビューを書く。レビューを書いた人には製品が贈られる。",
    "レビューの対象は薄型のモデルで、レビュー期間は2週間。レビューの内容はサイトで公開される。",
    "同サイトではこれまでにもレビュー企画を行っており、レビューの数は1万件を超えた。",
    "運営会社は「レビューを通じて製品の良さを知ってほしい」としている。",
    "レビューの応募は今月末まで。レビューの書き方の講座も開かれる。",
    "過去のレビューは検索でき、レビューの評価も見られる。レビューの質を高める取り組みだ。",
    "レビュー企画は月に1度のペースで続ける予定だ。",
])

# A structured explainer: ■ headings and ①-⑥ steps, the list markers of HojiChar's ad list
MARKERS = "\n".join(
    [f"■疑問{c}：新しいタブレットはどう変わったのか" for c in "①②③④⑤⑥"]
    + ["新しいモデルは画面の解像度が上がり、文字や写真がより細かく表示されるようになった。"] * 1
    + ["■まとめ", "■関連記事", "■筆者紹介", "■参考", "■写真"]
    + ["価格は据え置かれたが、重さはわずかに増えた。使い勝手は従来とほぼ変わらないと言えるだろう。"]
)

# Smartphone news: prose full of Latin-script product names, then a spec table
PHONE = "\n".join([
    "ソニーモバイルは29日、ドイツで開かれたイベントにあわせて新しいスマートフォン「Xperia T」と「Xperia TX」を発表した。",
    "Xperia TXは国内で発売されているXperia GX SO-04Dの海外向けモデルで、CPUにはQualcommのSnapdragon MSM8260-Aを採用する。",
    "OSはAndroid 4.0.4を搭載し、発売後にはAndroid 4.1へのアップデートが予定されている。",
    "■主なスペック",
    "Display 4.6 inch HD 720x1280",
    "CPU Qualcomm Snapdragon MSM8260-A 1.5GHz dual core",
    "Camera 13MP / 1.3MP, LED flash",
    "Battery 1850mAh, Li-ion",
    "Size 131 x 68 x 8.6mm",
    "Weight 127g",
    "Network LTE / HSPA+ / GSM",
])

# An article on stockings in summer: the word 18 times, nothing sexual
STOCKINGS = "".join([
    "猛暑が続く今年の夏、ストッキングをはかずに出勤する女性が増えている。",
    "ある調査では、ストッキングの生産量はこの10年で4分の1に減ったという。",
    "20年前はスカートにストッキングが当たり前で、ストッキングは脚をきれいに見せる道具だった。",
    "しかし若い世代には、ストッキングを古くさいと感じる人も少なくない。",
    "「会社ではストッキングをはくが、休日は素足で過ごす」と話す40代の女性もいる。",
    "冷房の効いた職場では、ストッキングが冷え対策になるという声もある。",
    "メーカーは蒸れにくいストッキングや、素足に見えるストッキングを売り出している。",
    "肌色のストッキングに代わり、黒や柄物のストッキングを選ぶ人も増えた。",
    "ストッキングの売り場では、夏向けのストッキングが並ぶ。ストッキング離れはしばらく続きそうだ。",
    "専門家は、ストッキングの役割が変わりつつあると分析している。ストッキングの未来はどうなるのだろうか。",
])

# A report that quotes a company president in the polite style, with shop words in his quote
QUOTED = "\n".join([
    "大手家電量販店は1日、都内に新しい店舗を開いた。",
    "「多くのお客様のご来店をお待ちしております。」",
    "「人気の商品を限定価格でご用意しました。」",
    "「お得なキャンペーンも実施中です。送料無料でお届けします。」",
    "「新しい売り場もぜひご覧ください。スタッフ一同、心よりお待ちしております。」",
    "社長はこう話した。新店舗は家電の販売に加え、修理の受け付けも行う。",
    "同社は年内にさらに3店舗を開く計画だ。",
])

# 夕 (末吉安持, Aozora Bunko) after the Aozora cleaner: a poem whose lines close in 。 and 、
YUU = "夕\n末吉安持\n\n直らぬ病、身は痩せぬ。\n思へる仲も、今日よりか、\n明日か、君には厭はれむ。\nかく思ふとき日は暮れて、\nこほろぎすだく磯際の\n破れし船に泣き伏しぬ。"

Case = tuple[str, dict[str, Any], Callable[[], str], str | None]

CASES: list[Case] = [
    # --- promotional vocabulary: the register is read from sentences that end as sentences ------
    ("ja.promo_vocabulary", {"report_plain_share": 0.5}, lambda: LAUNCH, "ja.promo_vocabulary.too_dense"),
    ("ja.promo_vocabulary", {"report_plain_share": 0.5, "report_max_address": 1}, lambda: LAUNCH, None),
    ("ja.promo_vocabulary", {"report_plain_share": 0.5, "report_max_address": 1}, lambda: SHOP,
     "ja.promo_vocabulary.too_dense"),
    # a shop lead from KWDLC (当店, お気軽に, ご来店) is still judged
    ("ja.promo_vocabulary", {"narrative_share": 0.34, "report_plain_share": 0.5, "report_max_address": 1,
                             "ordinary_words": PROMO_ORDINARY}, lambda: kwdlc(228), "ja.promo_vocabulary.too_dense"),
    # quoted speech is the speaker's register, not the writer's (address words inside 「」 do not count)
    ("ja.promo_vocabulary", {"report_plain_share": 0.45, "ordinary_words": PROMO_ORDINARY}, lambda: QUOTED, None),
    # --- adult words in a crime report: judged at the reporting density ------------------------
    ("ja.ng_adult", {"max_count": 1, "max_per_1000_chars": 5, "boundaries": "morpheme", "context_words": ADULT_CONTEXT,
                     "min_keyword_chars": 2}, lambda: ARREST, "ja.ng_adult.too_many"),
    ("ja.ng_adult", {"max_count": 1, "max_per_1000_chars": 5, "boundaries": "morpheme", "context_words": ADULT_CONTEXT,
                     "min_keyword_chars": 2, "report_plain_share": 0.5}, lambda: ARREST, None),
    # adult spam (mC4-ja, labelled bad): noun phrases and exclamations, still dropped
    ("ja.ng_adult", {"max_count": 1, "max_per_1000_chars": 5, "boundaries": "morpheme", "context_words": ADULT_CONTEXT,
                     "min_keyword_chars": 2, "report_plain_share": 0.5}, lambda: mc4("mc4ja-944339154320"),
     "ja.ng_adult.too_many"),
    # an everyday word of the adult list (ストッキング) counts only next to one that is not
    ("ja.ng_adult", {"max_count": 1, "max_per_1000_chars": 5, "boundaries": "morpheme", "min_keyword_chars": 2},
     lambda: STOCKINGS, "ja.ng_adult.too_many"),
    ("ja.ng_adult", {"max_count": 1, "max_per_1000_chars": 5, "boundaries": "morpheme", "context_words": ADULT_CONTEXT,
                     "min_keyword_chars": 2}, lambda: STOCKINGS, None),
    # --- message-board patterns in prose lines ------------------------------------------------
    ("ja.bbs_comments", {"max_count": 14, "max_per_1000_chars": 10, "count_hyphens": False}, lambda: REVIEWS,
     "ja.bbs_comments.too_many"),
    ("ja.bbs_comments", {"max_count": 14, "max_per_1000_chars": 10, "count_hyphens": False, "skip_prose_lines": True},
     lambda: REVIEWS, None),
    # an archive menu of dates (mC4-ja, labelled bad) has no prose line: still dropped
    ("ja.bbs_comments", {"max_count": 14, "max_per_1000_chars": 10, "count_hyphens": False, "skip_prose_lines": True},
     lambda: mc4("mc4ja-021617270756"), "ja.bbs_comments.too_many"),
    # --- list markers of the ad list ------------------------------------------------------------
    ("ja.ad_keywords", {"max_count": 10, "max_per_1000_chars": 5}, lambda: MARKERS, "ja.ad_keywords.too_many"),
    ("ja.ad_keywords", {"max_count": 10, "max_per_1000_chars": 5, "min_keyword_chars": 2}, lambda: MARKERS, None),
    # --- verse whose stanzas close in 。 is still verse -------------------------------------------
    ("text.length", {"min_chars": 200, "verse_min_chars": 50}, lambda: YUU, None),
    ("text.length", {"min_chars": 200}, lambda: YUU, "text.length.too_short"),
    # ... but prose with kana reading lines between its sentences is not (KWDLC leads: 大根 / だいこん)
    ("text.length", {"min_chars": 200, "verse_min_chars": 50}, lambda: kwdlc(3256), "text.length.too_short"),
    ("text.length", {"min_chars": 200, "verse_min_chars": 50}, lambda: kwdlc(481), "text.length.too_short"),
    # --- Latin-script names in Japanese sentences ----------------------------------------------
    ("ja.japanese_fraction", {"min": 0.5, "prose_part_share": 0.2}, lambda: PHONE, "ja.japanese_fraction.too_low"),
    ("ja.japanese_fraction", {"min": 0.5, "prose_part_share": 0.2, "prose_latin_word_as_char": True},
     lambda: PHONE, None),
    # a spec table alone has no prose part: still dropped
    ("ja.japanese_fraction", {"min": 0.5, "prose_part_share": 0.2, "prose_latin_word_as_char": True},
     lambda: "\n".join(PHONE.split("\n")[3:]), "ja.japanese_fraction.too_low"),
]


@pytest.mark.parametrize(("rule", "params", "text", "expected"), CASES,
                         ids=[f"{c[0]}-{c[3] or 'keep'}-{i}" for i, c in enumerate(CASES)])
def test_news_register(rule: str, params: dict[str, Any], text: Callable[[], str], expected: str | None) -> None:
    ensure_registered()
    chain = FilterChain([build_step(rule, params)]).setup()
    assert chain.apply(Document(id="t", text=text(), source="test", lang="ja")).reason == expected


@pytest.mark.parametrize(("text", "share"), [
    # rhetorical questions of a column are plain style (売れるのか, 変わるのだろうか, 広がるのでは)
    ("新型は本当に売れるのか。市場はどう変わるのだろうか。利用者はさらに広がるのでは。価格は2万円だ。", 1.0),
    # polite questions and requests are not (ですか, ませんか, ください)
    ("新型をご存じですか。一緒に試してみませんか。お気軽にお問い合わせください。価格は2万円です。", 0.0),
    # quoted speech is left out: the writer's two sentences are plain
    ("「ぜひご来店ください。」「お待ちしております。」\n社長はこう話した。新店舗は年内に開く予定だ。", 1.0),
    # spec lines have no predicate and are left out when there are sentences
    ("価格は2万円だ。重さは130グラムになる。\nサイズ：幅67mm\n質量：約130g\n色：白、黒", 1.0),
])
def test_plain_style_share(text: str, share: float) -> None:
    from corpusflow.filters.rules_ja import plain_style_share
    from corpusflow.filters.text import TextView

    assert plain_style_share(TextView(text)) == pytest.approx(share)
