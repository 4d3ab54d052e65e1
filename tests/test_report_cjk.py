"""Japanese renders in the HTML report with nothing but what corpusflow installs: the page embeds
a subset of IPAexGothic; a headless Chromium screenshot shows glyphs, not empty boxes (tofu)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from corpusflow.report import cjkfont
from corpusflow.report.html import Section, page
from tests.test_report import _chromium, _screenshot

PRIVATE_USE = "\ue000"  # no font has a glyph for it: always a box


def _page_png(text: str, tmp: Path, name: str, where: str = "pre") -> np.ndarray:
    """Screenshot of a report page with ``text`` large, in a heading (body font stack) or a
    document's text (monospace stack)."""
    sec = Section("t", text if where == "heading" else "t")
    if where == "pre":
        sec.raw(f'<div class="doc"><pre style="font-size:64px;max-height:none">{text}</pre></div>')
    html = tmp / f"{name}-{where}.html"
    html.write_text(page("report", "meta", [sec], "footer").replace(
        "<h2>", '<h2 style="font-size:64px">'), encoding="utf-8")
    png = tmp / f"{name}-{where}.png"
    problems = _screenshot(_chromium(), html, png, tmp / f"profile-{name}-{where}", size="600,400")
    assert problems == []
    return np.asarray(image.imread(str(png)))


def test_embedded_subset_has_the_page_characters_and_the_licence() -> None:
    css, licence = cjkfont.font_face_css("report 日本語")
    assert cjkfont.FAMILY in css and "base64," in css
    assert "IPA Font License Agreement" in licence
    assert cjkfont.font_face_css("ascii only") == ("", "")


@pytest.mark.parametrize("where", ["heading", "pre"])
def test_japanese_renders_as_glyphs_not_boxes(tmp_path: Path, where: str) -> None:
    one = _page_png("日", tmp_path, "nichi", where)
    other = _page_png("語", tmp_path, "go", where)
    box = _page_png(PRIVATE_USE, tmp_path, "box", where)
    assert not np.array_equal(one, box), "日 rendered as an empty box"
    assert not np.array_equal(other, box), "語 rendered as an empty box"
    assert not np.array_equal(one, other), "two different kanji rendered the same (boxes)"


def test_without_the_font_the_check_sees_boxes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: with no embedded font and no system CJK font, kanji are boxes and the test above would fail."""
    import shutil
    import subprocess

    if shutil.which("fc-list") and subprocess.run(["fc-list", ":lang=ja"], capture_output=True,
                                                   text=True).stdout.strip():
        pytest.skip("this machine has a system CJK font")
    monkeypatch.setattr(cjkfont, "font_dir", lambda: None)
    for where in ("heading", "pre"):
        one = _page_png("日", tmp_path, "nichi", where)
        other = _page_png("語", tmp_path, "go", where)
        assert np.array_equal(one, other)
