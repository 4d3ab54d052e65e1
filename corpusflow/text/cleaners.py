"""Source cleaners: pure functions that remove markup and boilerplate a source adds to its text.

Each cleaner returns ``(cleaned text, number of characters removed)``; the count is
``len(text) - len(cleaned)`` (a resolved gaiji note, many characters replaced by one, counts its
difference). They never raise on odd input and leave a text they do not recognise unchanged.

* :func:`clean_aozora` — Aozora Bunko plain-text files (the ``ruby`` zip texts): ruby, editor
  notes, the notation header and the bibliographic footer, following the Aozora Bunko
  annotation rules (注記一覧, https://www.aozora.gr.jp/annotation/, and the external-character
  notes, https://www.aozora.gr.jp/annotation/external_character.html).
* :func:`clean_boilerplate` — line-level removal of related-article / link blocks and share
  button rows that web pages (news sites, blogs, CMS templates) append to an article, in
  Japanese and English.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------------
# Aozora Bunko
# ---------------------------------------------------------------------------------------------

#: What an external character (gaiji) without a code becomes: 〓 (U+3013 GETA MARK), the mark
#: Japanese typesetting and the Aozora input manual use for "a character that cannot be shown".
GAIJI_PLACEHOLDER = "〓"

# Header: the title/author lines, then a rule of hyphens, the 【テキスト中に現れる記号について】
# explanation, and a closing rule (Aozora's file template). Only a block that carries the
# heading is removed; the title and author lines above it are kept (they are part of the work).
_RULE = r"-{20,}[ \t]*"
_AOZORA_HEADER = re.compile(rf"(?m)^{_RULE}\n(?:(?!{_RULE}\n)[^\n]*\n)*?[^\n]*【テキスト中に現れる記号について】"
                            rf"[^\n]*\n(?:(?!{_RULE}$)[^\n]*\n)*?{_RULE}(?:\n|$)")
# Footer: from the first line that starts with 底本： (the bibliographic record: 底本, 初出,
# 入力, 校正, 青空文庫作成ファイル) to the end of the file.
_AOZORA_FOOTER = re.compile(r"(?m)^[ \t\u3000]*底本[：:]")
_BODY_END = re.compile(r"［＃本文終わり］")
# Gaiji notes: ※［＃「口＋亞」、第3水準1-15-8］ (JIS X 0213 plane-row-cell: 第3水準 = plane 1,
# 第4水準 = plane 2), ［＃二の字点、1-2-22］, ※［＃「てへん＋劣」、U+6318、ページ数-行数］.
_NOTE = re.compile(r"(※?)［＃([^］\n]*)］")
_JIS_MEN_KU_TEN = re.compile(r"(?:第[34]水準)?([12])-(\d{1,2})-(\d{1,2})")
_UCS = re.compile(r"U\+([0-9A-Fa-f]{4,6})")
# Ruby: ｜base《reading》 marks where the base starts; without ｜ the reading follows the kanji.
_RUBY = re.compile(r"《[^》\n]*》")
_RUBY_START = "｜"
# The two-line repetition mark (くの字点), typed as ／＼ and ／″＼ in Aozora files.
_KUNOJI = (("／″＼", "〴〵"), ("／＼", "〳〵"))


def _jis_char(plane: int, row: int, cell: int) -> str | None:
    """The character at JIS X 0213 plane-row-cell, via the EUC-JIS-2004 codec (plane 2 is
    prefixed with SS3 0x8F), or None when the codec has no character there."""
    if not (1 <= row <= 94 and 1 <= cell <= 94):
        return None
    raw = bytes([0xA0 + row, 0xA0 + cell])
    if plane == 2:
        raw = b"\x8f" + raw
    try:
        ch = raw.decode("euc_jis_2004")
    except UnicodeDecodeError:
        return None
    return ch or None


def resolve_gaiji(note: str) -> str | None:
    """The character an Aozora note names by code (``U+XXXX`` first, then JIS X 0213
    ``面-区-点``), or None when the note gives no usable code."""
    m = _UCS.search(note)
    if m:
        cp = int(m.group(1), 16)
        if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)
    m = _JIS_MEN_KU_TEN.search(note)
    if m:
        return _jis_char(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None


def _note_sub(m: re.Match[str]) -> str:
    star, body = m.group(1), m.group(2)
    ch = resolve_gaiji(body)
    if ch is not None:
        return ch
    # a ※ note without a code stands for a character that cannot be shown: keep its place
    return GAIJI_PLACEHOLDER if star else ""


def clean_aozora(text: str) -> tuple[str, int]:
    """Aozora Bunko markup to plain text; returns (text, characters removed).

    Removed: the notation header (the 【テキスト中に現れる記号について】 block between rules of
    hyphens), the bibliographic footer (from the line starting with ``底本：`` to the end, and
    ``［＃本文終わり］``), ruby readings ``《…》`` and the ruby start mark ``｜`` (the base text is
    kept), and every editor note ``［＃…］`` (indentation, emphasis, headings, page breaks).
    Lines that held only notes are dropped. External characters (``※［＃…］``) become the
    character when the note gives a Unicode code (``U+6318``) or a JIS X 0213 plane-row-cell
    (``第3水準1-15-8`` → 啞), else the placeholder :data:`GAIJI_PLACEHOLDER`. ``／＼`` and
    ``／″＼`` become the repetition marks ``〳〵`` / ``〴〵``. Text without Aozora markup is
    returned unchanged.
    """
    out = text
    m = _AOZORA_HEADER.search(out)
    if m:
        out = out[: m.start()] + out[m.end() :]
    fm = None
    for cand in _AOZORA_FOOTER.finditer(out):
        fm = cand
        break
    if fm is not None:
        out = out[: fm.start()]
    b = _BODY_END.search(out)
    if b is not None:
        out = out[: b.start()]
    if "［＃" in out:
        lines = out.split("\n")
        kept: list[str] = []
        for line in lines:
            if "［＃" in line:
                new = _NOTE.sub(_note_sub, line)
                if not new.strip() and line.strip():
                    continue  # the line held only notes
                line = new
            kept.append(line)
        out = "\n".join(kept)
    if "《" in out:
        out = _RUBY.sub("", out)
    if _RUBY_START in out:
        out = out.replace(_RUBY_START, "")
    if "＼" in out:
        for a, b2 in _KUNOJI:
            out = out.replace(a, b2)
    if out != text:
        out = re.sub(r"\n{3,}", "\n\n", out).strip("\n")
    return out, len(text) - len(out)


# ---------------------------------------------------------------------------------------------
# Web boilerplate: related-article / link blocks, share buttons
# ---------------------------------------------------------------------------------------------

_OPEN = r"[\s■□◆◇●○▼▽▶►▷»>＞【\[［〈《<『「#＃*・-]*"
_CLOSE = r"[\s】\]］〉》>』」:：*・-]*"
_HEAD_JA = (
    r"関連記事|関連リンク|関連ニュース|関連情報|関連する記事|関連エントリー?|関連トピックス?|"
    r"あわせて読みたい|合わせて読みたい|こちらの記事もおすすめ|こちらもおすすめ|おすすめ記事|"
    r"オススメ記事|人気記事|人気の記事|最新記事|新着記事|注目記事|次の記事|前の記事|"
    r"この記事を読んだ人はこんな記事も読んでいます|この記事を読んだ人におすすめ|"
    r"この記事をシェア(?:する)?|記事をシェア(?:する)?|シェアする|SNSでシェア|SNSでシェアしよう"
)
_HEAD_EN = (
    r"related (?:articles?|posts?|stories|story|links?|content|news|reading|coverage|topics)|"
    r"you (?:may|might) also (?:like|enjoy)|more (?:stories|articles|news)(?: from [^\n]{1,40})?|"
    r"read (?:more|next|also)|recommended(?: for you| articles| reading| stories)?|"
    r"popular (?:posts|articles|stories)|most (?:read|popular)|share this(?: article| post| story| page)?|"
    r"share (?:on|via) (?:facebook|twitter|x|linkedin|email)"
)
#: A heading line that opens a related-article / link block or a share row.
BLOCK_HEADING = re.compile(rf"{_OPEN}(?:{_HEAD_JA}|(?i:{_HEAD_EN})){_CLOSE}")
_SHARE_WORDS = (
    r"シェア|ツイート|ポスト|いいね！?|送る|LINEで送る|はてブ|はてなブックマーク|ブックマーク|Pocket|"
    r"Feedly|B!|(?i:share|tweet|facebook|twitter|x|line|pinterest|linkedin|e-?mail|print|reddit|"
    r"whatsapp|tumblr|copy link|pocket|google\+)|メール|印刷|URLをコピー|リンクをコピー"
)
_SHARE_TOKEN = re.compile(rf"(?:{_SHARE_WORDS})")
_SHARE_LINE = re.compile(rf"(?:[\s|/・,、0-9]*(?:{_SHARE_WORDS})[\s|/・,、0-9]*)+")
_SHARE_VERB = re.compile(r"シェア|ツイート|(?i:share|tweet)")
_URL_LINE = re.compile(r"\s*(?:https?://|www\.)\S+\s*")
#: A line that is only an image control: 画像のクリックで拡大表示, 写真拡大, Click to enlarge.
_IMAGE_UI_LINE = re.compile(
    r"[\s\[［【(（<＜]*(?:画像(?:を|の)?クリック(?:で|して|すると)?拡大(?:表示|します)?|画像を?拡大(?:する|表示)?|"
    r"写真を?拡大(?:する|表示)?|拡大(?:する|表示|画像)|(?i:click (?:to|for) (?:enlarge|(?:a )?larger (?:image|view))|"
    r"enlarge (?:this )?(?:image|photo)|view (?:larger|full[- ]size) (?:image|photo)))[\s\]］】)）>＞]*"
)
#: An advertisement line: labelled PR (【PR】, [PR], PR：; Japanese law requires the label on
#: paid content since 2023) or a short link label ending in こちら (詳しくはこちら, 無料会員登録はこちら).
_AD_LINE = re.compile(r"\s*(?:[【\[［(（]\s*(?:PR|ＰＲ|AD|広告|Sponsored)\s*[】\]］)）]|(?:PR|ＰＲ)\s*[:：]).*")
_LINK_LABEL_LINE = re.compile(r"[^。！？!?\n]{0,36}(?:(?:は|も)こちら(?:から|へ|をクリック)?|こちらから|こちらをクリック)[\s>＞»→▶!！]*")
#: A line this long, repeated once on the next line, is an extraction artefact (an image caption
#: given as alt text and as caption, a headline in two page elements); shorter repeated lines
#: are refrains of verse and song (カンテラ / カンテラ) and stay, and so do runs of three or more
#: (repetition spam is left for the repetition filters to judge).
DUP_LINE_MIN_CHARS = 20
_BULLET = re.compile(r"\s*(?:[・■□◆◇●○▼▽▶►▷»>＞*•‣◦-]|\d{1,2}[.)．]|【)")
_SENTENCE_END = tuple("。．！？.!?」』）)")


def _is_share_line(s: str) -> bool:
    """A line of share-button labels only (``シェア ツイート はてブ``, ``Share | Tweet | Email``):
    at least one explicit share verb or two button names, and nothing else but separators and
    counts."""
    if not s or len(s) > 80 or not _SHARE_LINE.fullmatch(s):
        return False
    return bool(_SHARE_VERB.search(s)) or len(_SHARE_TOKEN.findall(s)) >= 2


def _is_link_line(s: str, max_chars: int) -> bool:
    """A line of a link block: a bare URL, a bullet item, or a short line without a sentence end
    (an article title)."""
    if _URL_LINE.fullmatch(s):
        return True
    if len(s) > max_chars:
        return False
    if _BULLET.match(s):
        return True
    return not s.endswith(_SENTENCE_END)


def clean_boilerplate(text: str, *, max_link_chars: int = 80) -> tuple[str, int]:
    """Remove related-article / link blocks and share-button rows; returns (text, removed).

    A block starts at a heading line (:data:`BLOCK_HEADING`: 関連記事, 関連リンク, あわせて読みたい,
    この記事をシェアする, Related articles, You may also like, Share this, ...; the whole line
    must be the heading, decorated with brackets or symbols at most) and runs over the lines
    after it that look like links (bare URLs, bullet items, or lines of at most
    ``max_link_chars`` characters that do not end a sentence) and blank lines; the first prose
    line ends it and is kept. A line made only of share-button labels (``シェア ツイート はてブ``,
    ``Share Tweet Email``) is removed wherever it is, and so is a line that is only an image
    control (``[画像のクリックで拡大表示]``, ``写真拡大``, ``Click to enlarge``), an advertisement
    labelled PR (``【PR】…``) or a link label (``詳しくはこちら``); a line of at least
    :data:`DUP_LINE_MIN_CHARS` characters given exactly twice in a row (a caption given as alt
    text and as caption) is kept once; runs of three or more stay for the repetition filters. Everything else is kept, so a sentence that
    mentions 関連記事 or "share" is never touched. Lines are re-joined with ``\\n``.
    """
    if not text:
        return text, 0
    lines = text.split("\n")
    kept: list[str] = []
    i, n = 0, len(lines)
    changed = False
    while i < n:
        s = lines[i].strip()
        if s and len(s) <= 60 and BLOCK_HEADING.fullmatch(s):
            changed = True
            i += 1
            while i < n:
                t = lines[i].strip()
                if t and not (_is_share_line(t) or _is_link_line(t, max_link_chars)):
                    break
                i += 1
            continue
        if s and (
            _is_share_line(s)
            or (len(s) <= 40 and (_IMAGE_UI_LINE.fullmatch(s) or _LINK_LABEL_LINE.fullmatch(s)))
            or _AD_LINE.fullmatch(s)
        ):
            changed = True
            i += 1
            continue
        if (
            len(s) >= DUP_LINE_MIN_CHARS
            and kept
            and kept[-1].strip() == s
            and (len(kept) < 2 or kept[-2].strip() != s)
            and (i + 1 >= n or lines[i + 1].strip() != s)
        ):
            changed = True  # the same long line exactly twice in a row: keep the first
            i += 1
            continue
        kept.append(lines[i])
        i += 1
    if not changed:
        return text, 0
    out = "\n".join(kept).rstrip()
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out, len(text) - len(out)
