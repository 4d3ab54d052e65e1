"""Text normalisation: newlines, whitespace, control characters and Unicode form.

What is changed (and nothing else):

* ``\\r\\n`` and lone ``\\r`` become ``\\n``; the Unicode line/paragraph separators (U+2028/9),
  NEL (U+0085), vertical tab and form feed become ``\\n``.
* C0/C1 control characters other than ``\\n`` and ``\\t``, and stray BOMs (U+FEFF), are removed
  (``remove_control``). Zero-width joiners are kept: emoji sequences need them.
* Runs of spaces and tabs become one space, line ends are stripped, and runs of blank lines are
  cut to ``max_blank_lines`` (``collapse_spaces``). Ideographic space U+3000 is *kept*: in
  Japanese it is a meaningful indentation character, and NFKC would turn it into ASCII space.
* Unicode normal form: **NFC by default**; NFKC as an option.

Why not NFKC by default: NFKC folds full-width Japanese punctuation (``！？，．：``) and
full-width digits/Latin to ASCII and half-width katakana to full-width. Japanese quality rules
count sentence ends and punctuation in their full-width forms (Swallow, llm-jp ``。``/``、``
density); after NFKC a ``．`` sentence end becomes ``.`` and is under-counted, and a rule
written for ASCII ``!`` starts firing on Japanese text (see shared/specs/filters.md §8, pitfall 6).
NFC is lossless for Japanese. MinHash shingling applies its own NFKC on a private copy (it wants
width-folding for matching), so near-duplicate detection does not depend on this choice.

Pure Python, linear time; no Beam import.
"""

from __future__ import annotations

import re
import unicodedata

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\u0085\x0b\x0c]")
# C0 except \t \n, DEL, C1, BOM/ZWNBSP, and lone surrogates (undecodable input artefacts).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f]+")
_TRAILING = re.compile(r"[ \t]+\n|\n[ \t]+")


def normalize_text(
    text: str,
    *,
    unicode_form: str = "NFC",
    remove_control: bool = True,
    collapse_spaces: bool = True,
    max_blank_lines: int = 1,
) -> str:
    """Return the normalised text (see the module docstring for exactly what changes)."""
    if not text:
        return ""
    text = _NEWLINES.sub("\n", text)
    if remove_control:
        text = _CONTROL.sub("", text)
    if unicode_form in ("NFC", "NFKC") and not (text.isascii()):
        text = unicodedata.normalize(unicode_form, text)
    if collapse_spaces:
        text = _SPACES.sub(" ", text)
        text = _TRAILING.sub("\n", text)
        text = text.strip(" \n")
    blank_run = "\n" * (max_blank_lines + 2)
    if blank_run in text:
        text = re.sub(rf"\n{{{max_blank_lines + 2},}}", "\n" * (max_blank_lines + 1), text)
    return text
