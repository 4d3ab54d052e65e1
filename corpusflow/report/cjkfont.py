"""A subset of IPAexGothic embedded in the HTML report, so Japanese text renders on machines
without a CJK font (no empty boxes).

The font and its licence (IPA Font License Agreement v1.0, which allows redistribution of the
font and of subsets with the agreement attached) come from the ``japanize-matplotlib`` package,
a dependency of corpusflow. Only the characters a report uses are embedded (fontTools subsetter),
as a base64 ``@font-face`` that the page's font stack falls back to after system fonts.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import os

FAMILY = "corpusflow-ipaexg"
_FONT_FILE = "ipaexg.ttf"
_LICENCE_FILE = "IPA_Font_License_Agreement_v1.0.txt"


def font_dir() -> str | None:
    """Folder of the shipped IPAexGothic font (without importing japanize_matplotlib, which
    imports matplotlib's pyplot), or None when the package is missing."""
    spec = importlib.util.find_spec("japanize_matplotlib")
    if spec is None or not spec.origin:
        return None
    folder = os.path.join(os.path.dirname(spec.origin), "fonts")
    return folder if os.path.isfile(os.path.join(folder, _FONT_FILE)) else None


def needs_cjk(ch: str) -> bool:
    """Characters outside Latin/Greek/Cyrillic and common punctuation: the ones system fonts lack."""
    return ord(ch) >= 0x2E80


def font_face_css(text: str) -> tuple[str, str]:
    """(``@font-face`` CSS with a subset holding the CJK characters of ``text``, licence comment).

    Both are empty when ``text`` has no such character or the font package is missing.
    """
    chars = sorted({c for c in text if needs_cjk(c)})
    folder = font_dir()
    if not chars or folder is None:
        return "", ""
    from fontTools import subset  # lazy: heavy or optional dependency, loaded only when used
    from fontTools.ttLib import TTFont  # lazy: heavy or optional dependency, loaded only when used

    font = TTFont(os.path.join(folder, _FONT_FILE))
    cmap = font.getBestCmap()
    chars = [c for c in chars if ord(c) in cmap]  # characters the font lacks stay boxes either way
    if not chars:
        return "", ""
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keep the copyright and licence records of the name table
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    css = (f"@font-face {{ font-family: \"{FAMILY}\"; src: url(data:font/ttf;base64,{data}) format(\"truetype\"); "
           "font-display: block; }\n")
    with open(os.path.join(folder, _LICENCE_FILE), encoding="utf-8", errors="replace") as fh:
        licence = fh.read().replace("--", "- -")
    comment = ("<!-- The embedded font is a subset of IPAexGothic (IPA), redistributed under the IPA Font "
               "License Agreement v1.0, reproduced here:\n" + licence + "\n-->\n")
    return css, comment
