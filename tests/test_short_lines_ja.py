"""ja.short_lines: menus are dropped, verse and dialogue (short lines ending in kana) are not."""

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
