"""ja.bbs_comments: message-board comment headers count, hyphens in model numbers do not."""

from __future__ import annotations

import pytest

from corpusflow.filters.rules_ja import BbsComments, comment_headers
from corpusflow.filters.text import TextView

JA_WEB = {"max_count": 14, "max_per_1000_chars": 10, "count_hyphens": False, "min_headers": 2}

THREAD = """1 名前：名無しさん＠お腹いっぱい。 2012/03/04(日) 12:34:56.78 ID:abCd1234
新型スマホの電池持ちってどうなの？
2 名前：名無しさん＠お腹いっぱい。 2012/03/04(日) 12:40:01.12 ID:Xy9zQw0P
>>1 一日は持つよ
3 ：風吹けば名無し：2019/07/21(日) 08:15:22.31 ID:k3JfP0a0d
ワイも気になってた"""

PRODUCT_NEWS = """NTTドコモは、2012年夏モデルとしてシャープ製の「AQUOS PHONE SH-09D」と「SH-10D」、
富士通製の「ARROWS X F-10D」、NEC製の「MEDIAS X N-07D」、パナソニック製の「P-07D」と「P-04D」、
ソニー製の「Xperia GX SO-04D」「Xperia SX SO-05D」、LG製の「Optimus it L-05D」などを発表した。
いずれもAndroid 4.0を搭載し、SH-09DとF-10DはLTE(Xi)に対応する。価格はオープン。"""


@pytest.mark.parametrize(
    ("text", "headers"),
    [
        (THREAD, 3),
        (PRODUCT_NEWS, 0),
        # a date with a weekday in ordinary prose is no header
        ("説明会は2012/03/04(日) 13:00から市民会館で開かれます。", 0),
        # the name and ID of a mirror site, without a timestamp
        ("投稿者：名無しさん ID:QWErty12\n本文です。", 1),
        ("ID:abc だけでは足りない", 0),
    ],
)
def test_comment_headers(text: str, headers: int) -> None:
    assert comment_headers(text) == headers


def test_thread_dropped_product_news_kept() -> None:
    rule = BbsComments(JA_WEB)
    assert rule.judge(rule.measure(TextView(THREAD))) is not None
    s = rule.measure(TextView(PRODUCT_NEWS))
    assert s["headers"] == 0 and rule.judge(s) is None
    # HojiChar's count (every hyphen) drops the product news: 12+ hyphens and a date
    hojichar = BbsComments({"max_count": 3})
    assert hojichar.measure(TextView(PRODUCT_NEWS))[""] > 10


def test_hyphens_in_dates_still_part_of_the_date() -> None:
    rule = BbsComments({"count_hyphens": False})
    assert rule.measure(TextView("2018-10-10 に更新、型番 SH-09D"))[""] == 1.0
