"""Japanese rules: llm-jp-corpus v1, the Swallow corpus, HojiChar extras, and promotional-text
signals; plus the Swallow-style cleaners (footer trimming, ``，．`` → ``、。``).

Definitions follow ``docs/design.md#japanese-filter-rules``, which cites the code each
rule comes from. Statistics are computed on the stored text, without NFKC; where NFKC-folded
input would under-count (full-width ``！？`` become ``!?``, ``…`` becomes ``...``) both forms
are counted (pitfall 6). Blank lines never count as lines (pitfall 4). Katakana NG keywords only
match at katakana boundaries (pitfall 1). Line filters re-join kept lines with ``\\n`` (pitfall 7).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from corpusflow.filters import kernels
from corpusflow.filters.base import (
    Failure,
    Filter,
    StepParams,
    Transform,
    above,
    at_least,
    below,
    ratio,
    register,
)
from corpusflow.filters.keywords import Hit, KeywordUser, load_wordlist, morpheme_boundaries, non_overlapping
from corpusflow.filters.text import C_DIGIT, JA_PROSE_LINE_END, TextView, dup_counts, ja_verse_line_share

JA = frozenset({"ja"})
NGDIR = "pkg:resources/ngwords/hojichar/"
WORDLISTS = "pkg:filters/wordlists/"


# ---------------------------------------------------------------------------------------------
# llm-jp-corpus v1
# ---------------------------------------------------------------------------------------------

_KANA_HEAD = re.compile(r"[ぁ-んァ-ン]")


@register("ja.kana_in_head")
class KanaInHead(Filter):
    """Hiragana or katakana (``[ぁ-んァ-ン]``) within the first ``lookup_chars`` characters
    (llm-jp ``is_japanese`` = HojiChar ``AcceptJapanese``, 50 characters).

    Catches Chinese or English text mislabelled ``ja``; GENIAC reports false positives on
    kanji-heavy Japanese (pitfall 3), so the Swallow fractions are preferred in ``ja_web``.
    Reason: ``ja.kana_in_head.missing``. Signal: 1 when kana were found.
    """

    category: ClassVar[str] = "composition"
    languages_default = JA
    causes = ("missing",)

    class Params(StepParams):
        lookup_chars: int = Field(50, ge=1, description="Characters looked at (HojiChar/llm-jp 50).")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        return {"": 1.0 if _KANA_HEAD.search(view.text, 0, self.params.lookup_chars) else 0.0}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return Failure("missing", "", s[""], 1, "<") if s[""] < 1 else None


class _KeywordParams(StepParams):
    wordlist: str = Field(description="Word list file, one keyword per line (pkg: paths allowed).")
    max_count: int = Field(3, ge=0, description="Reject when more matches than this (llm-jp 3, strict 2).")
    count: str = Field("total", pattern="^(total|unique)$", description="Count all matches or distinct keywords.")
    katakana_boundary: bool = Field(
        True, description="All-katakana keywords need non-katakana on both sides (HojiChar ignore_confused)."
    )
    word_boundary: bool = Field(False, description="ASCII keywords need non-alphanumerics on both sides.")
    fold_width: bool = Field(False, description="Match full-width ASCII as ASCII.")
    min_keyword_chars: int = Field(
        1, ge=1, description="Ignore keywords shorter than this (single kanji such as 死 occur inside many words)."
    )
    max_per_1000_chars: float | None = Field(
        None, ge=0, description="If set, also require more than this many matches per 1,000 characters "
        "(absolute counts penalise long documents: a novel mentions 死 more than 3 times).",
    )
    boundaries: Literal["substring", "morpheme"] = Field(
        "substring", description="'substring' (llm-jp/HojiChar) or 'morpheme': a match must be a word of the "
        "text (fugashi + unidic-lite; only documents with matches are analysed).",
    )
    context_words: str | None = Field(
        None, description="List of keywords that also have an ordinary sense (露出, 恐怖, カント): they count "
        "only when the document has a match of the list that is not in this file (pkg: paths allowed).",
    )
    report_plain_share: float | None = Field(
        None, ge=0, le=1, description="A text with at least this share of its sentences in the plain style (the "
        "register of news reports: 逮捕された, 報じた, 話題になっている) is judged with report_max_per_1000_chars "
        "instead of max_per_1000_chars. None: off.",
    )
    report_max_per_1000_chars: float = Field(
        10.0, ge=0, description="The density limit for a text in the reporting register (report_plain_share)."
    )


def _count_failure(s: Mapping[str, float], max_count: int, per_1000: float | None, cause: str) -> Failure | None:
    """Failure when the count exceeds ``max_count`` and, if set, the density exceeds ``per_1000``."""
    f = above(s, "", max_count, cause)
    if f is None or per_1000 is None:
        return f
    return above(s, "per_1000_chars", per_1000, cause)


class _KeywordCountFilter(KeywordUser, Filter):
    """Counts keyword matches of one list (non-overlapping, leftmost-longest)."""

    category: ClassVar[str] = "ngword"
    languages_default = JA
    causes = ("too_many",)
    Params = _KeywordParams
    params: _KeywordParams  # the validated parameters of this rule

    def __init__(self, params: Any = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        p = self.params
        self.fold_width = p.fold_width
        self._key = f"{p.wordlist}|k{int(p.katakana_boundary)}w{int(p.word_boundary)}m{p.min_keyword_chars}"
        self._context: frozenset[str] = frozenset()

    def keyword_lists(self) -> list[tuple[str, list[str], bool, bool]]:
        p = self.params
        words = [w for w in load_wordlist(p.wordlist) if len(w) >= p.min_keyword_chars]
        return [(self._key, words, p.katakana_boundary, p.word_boundary)]

    def setup(self) -> None:
        self.ensure_index()
        p = self.params
        self._context = frozenset(load_wordlist(p.context_words)) if p.context_words else frozenset()
        if p.boundaries == "morpheme":
            morpheme_boundaries().load()

    def counted_hits(self, view: TextView) -> list[Hit]:
        """The matches that count: on morpheme boundaries if asked, context words only next to
        another match of the list, then leftmost-longest without overlaps."""
        hits = self.hits(view, self._key)
        if not hits:
            return hits
        ctx = self._context
        if ctx:
            strong = [h for h in hits if h.word not in ctx]
            if not strong:  # only context words: nothing counts, no analysis needed
                return []
        if self.params.boundaries == "morpheme":
            mb = morpheme_boundaries()
            if ctx:
                # the strong matches first: without one, the context words need no analysis
                strong = mb.filter_hits(view.text, strong)
                if not strong:
                    return []
                hits = sorted(strong + mb.filter_hits(view.text, [h for h in hits if h.word in ctx]))
            else:
                hits = mb.filter_hits(view.text, hits)
        return non_overlapping(hits)

    def measure(self, view: TextView) -> dict[str, float]:
        hits = self.counted_hits(view)
        n = len({h.word for h in hits}) if self.params.count == "unique" else len(hits)
        out = {"": float(n), "per_1000_chars": ratio(1000.0 * n, view.n_chars)}
        for h in hits:  # the matched words, for inspect and the report: "word.<keyword>" = count
            k = "word." + h.word
            out[k] = out.get(k, 0.0) + 1.0
        p = self.params
        if p.report_plain_share is not None:  # the register is read only for a text that would fail
            failing = n > p.max_count and _count_failure(out, p.max_count, p.max_per_1000_chars, "too_many")
            out["plain_share"] = plain_style_share(view) if failing else 0.0
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        f = _count_failure(s, p.max_count, p.max_per_1000_chars, "too_many")
        if f is not None and p.report_plain_share is not None and s["plain_share"] >= p.report_plain_share:
            return _count_failure(s, p.max_count, p.report_max_per_1000_chars, "too_many")
        return f


@register("ja.ng_words")
class NgWords(_KeywordCountFilter):
    """Generic NG-word count rule for any list (see :class:`NgAdult` for the semantics).

    Reason: ``<id>.too_many``; give each instance its own ``id`` in a profile.
    """


def _ng_params(list_file: str) -> type[_KeywordParams]:
    class P(_KeywordParams):
        wordlist: str = Field(NGDIR + list_file, description="Word list file (pkg: paths allowed).")

    return P


@register("ja.ng_adult")
class NgAdult(_KeywordCountFilter):
    """More than ``max_count`` adult keywords (llm-jp ``is_not_adult_content``: HojiChar
    ``NgWordsFilterJa(ignore_confused=True)`` patched to count all matches, reject if > 3,
    strict > 2; list ``adult_keywords_ja.txt``, 1,471 lines, Apache-2.0).

    The llm-jp/HojiChar rule matches substrings and counts absolutely; the options that fix
    that: ``boundaries: morpheme`` (a match must be a word of the text: 燃えろ does not hold
    えろ, see :class:`~corpusflow.filters.keywords.MorphemeBoundaries`), ``context_words``
    (keywords with an ordinary sense, 露出 or カント, count only next to one without) and
    ``max_per_1000_chars`` (a density, so that length does not decide). Kept: documents with at
    most ``max_count`` counted matches or at most ``max_per_1000_chars`` per 1,000 characters;
    dropped: the rest.

    Reason: ``ja.ng_adult.too_many``. Signals: counted matches (main), ``.per_1000_chars`` and
    ``.word.<keyword>`` (count of each keyword counted; ``corpusflow inspect`` lists them).
    """

    Params = _ng_params("adult_keywords_ja.txt")


@register("ja.ng_discrimination")
class NgDiscrimination(_KeywordCountFilter):
    """More than ``max_count`` discrimination keywords (llm-jp, HojiChar list of 150 lines).

    Reason: ``ja.ng_discrimination.too_many``.
    """

    Params = _ng_params("discrimination_keywords_ja.txt")


@register("ja.ng_violence")
class NgViolence(_KeywordCountFilter):
    """More than ``max_count`` violence keywords (llm-jp, HojiChar list of 75 lines).

    Reason: ``ja.ng_violence.too_many``.
    """

    Params = _ng_params("violence_keywords_ja.txt")


class _AdParams(_KeywordParams):
    wordlist: str = Field(NGDIR + "advertisement_keywords_ja.txt", description="Advertisement keyword list.")
    max_count: int = Field(10, ge=0, description="Reject when more matches than this (llm-jp 10; HojiChar 14).")
    katakana_boundary: bool = Field(False, description="HojiChar DiscardAds matches plain substrings.")


@register("ja.ad_keywords")
class AdKeywords(_KeywordCountFilter):
    """More than ``max_count`` advertisement keywords (llm-jp ``is_not_ad_content`` = HojiChar
    ``DiscardAds`` with 10; HojiChar default 14). The 30-keyword list holds shop and job-ad
    phrases (営業時間, 送料, 求人情報, ...) and list markers (①②■).

    Reason: ``ja.ad_keywords.too_many``.
    """

    category: ClassVar[str] = "content"
    Params = _AdParams
    params: _AdParams  # the validated parameters of this rule


@register("ja.rare_kuten")
class RareKuten(Filter):
    """At least one ``。`` per ``max_chars_per_kuten`` characters (llm-jp
    ``has_good_average_sentence_length`` = HojiChar ``DiscardRareKuten``: reject if
    ``count(。) < len(text) / L``; llm-jp L=250, strict 80, HojiChar default 100).

    Only ``。`` is counted unless ``marks`` says otherwise, so lists, poems and dialogue are
    rejected (pitfall 5). Signal ``ja.rare_kuten`` = marks per character; reject below 1/L.
    Reason: ``ja.rare_kuten.too_few``.
    """

    category: ClassVar[str] = "sentence"
    languages_default = JA
    causes = ("too_few",)

    class Params(StepParams):
        max_chars_per_kuten: float = Field(250, gt=0, description="L: average characters per mark allowed.")
        marks: str = Field("。", min_length=1, description="Characters counted as sentence ends.")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        t = view.text
        c = sum(t.count(m) for m in self.params.marks)
        return {"": ratio(c, view.n_chars), "count": float(c)}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return below(s, "", 1.0 / self.params.max_chars_per_kuten, "too_few")


# ---------------------------------------------------------------------------------------------
# Swallow corpus (quality.py apply_v1)
# ---------------------------------------------------------------------------------------------


@register("ja.japanese_letters")
class JapaneseLetters(Filter):
    """At least ``min`` Japanese letters (Swallow ``num_japanese_letters`` >= 400).

    Japanese letters = hiragana + katakana + kanji + kuten + toten (Swallow definitions, see
    :mod:`corpusflow.filters.text`). Reason: ``ja.japanese_letters.too_few``.
    """

    category: ClassVar[str] = "length"
    languages_default = JA
    causes = ("too_few",)

    class Params(StepParams):
        min: int = Field(400, ge=0, description="Minimum Japanese letters (Swallow 400).")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        return {"": float(view.n_japanese)}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return below(s, "", self.params.min, "too_few")


def katakana_script(view: TextView) -> bool:
    """Japanese written in katakana instead of hiragana: pre-war school readers and children's
    books (ヒツジガ　メイメイト　ナキナガラ), laws and kanbun readings (規ヲ踰エ法ヲ犯シテ).

    Test: under 5% hiragana among the Japanese letters, at least 20 katakana, and at least one
    ヲ per 200 katakana. ヲ is, in modern Japanese, only the object particle; loanwords, product
    names and katakana keyword lists never contain it, so it marks katakana *prose*.
    """
    nk = view.n_katakana
    if nk < 20 or view.n_hiragana >= 0.05 * max(view.n_japanese, 1):
        return False
    return view.text.count("ヲ") * 200 >= nk


def kuten_share(view: TextView) -> float:
    """Share of the Swallow sentences (``view.ja_sentences``) that end in ``。`` or ``．``."""
    sents = view.ja_sentences
    return sum(1 for s in sents if s.endswith(("。", "．"))) / len(sents) if sents else 0.0


def prose_part(view: TextView) -> tuple[float, TextView | None]:
    """The page's prose: its lines that end in 。 or ． (share of the characters of its non-blank
    lines, and a view of those lines), cached per view. Stricter than ``JA_PROSE_LINE_END`` (a
    line closing a quotation after 。 is not counted here): the composition thresholds were set
    on this definition."""
    c = view.cache("prose_part")
    if "share" not in c:
        lines = view.lines
        prose = [ln for ln in lines if ln.endswith(("。", "．"))]
        total = sum(map(len, lines))
        c["share"] = sum(map(len, prose)) / total if total else 0.0
        c["view"] = TextView("\n".join(prose)) if prose else None
    return c["share"], c["view"]


def _prose_part_signals(out: dict[str, float], view: TextView, value: Callable[[TextView], float],
                        failing: float) -> None:
    """Add ``prose_part`` (its share of the characters) and ``prose_part_value`` (the rule's
    value measured on the prose part; ``failing``, a value that fails the rule, without one)."""
    share, pv = prose_part(view)
    out["prose_part"] = share
    out["prose_part_value"] = value(pv) if pv is not None else failing


def _prose_part_passes(s: Mapping[str, float], share: float | None, passes: Callable[[float], bool]) -> bool:
    """The page has a prose part of at least ``share`` and the rule's value on it passes."""
    return share is not None and s.get("prose_part", -1.0) >= share and passes(s["prose_part_value"])


_PROSE_PART_DOC = (
    "A page with at least this share of its characters in lines that end in 。 (its prose part) is "
    "judged on that part: a news article with a results table, a review with a spec list, a manual "
    "with code. Menus, keyword and product lists have no prose part; Chinese prose has no hiragana. "
    "None: the whole page is judged."
)


_PROSE_DOC = (
    "A text whose sentences end in 。 is prose, whatever its script mix: the 。 test is llm-jp v1's "
    "is_not_rare_kuten (HojiChar DiscardRareKuten) taken per sentence. None: not applied."
)


@register("ja.hiragana_fraction")
class HiraganaFraction(Filter):
    """Hiragana / Japanese letters at least ``min`` (Swallow 0.2). Rejects Chinese, keyword
    lists and menus, which have few particles and inflections. Reason: ``ja.hiragana_fraction.too_low``.

    ``prose_kuten_share``: a text in which at least this share of the sentences end in 。 is
    prose, kept from ``prose_min`` hiragana on: encyclopaedia paragraphs and news leads dense
    with kanji names and terms (ヴィルヘルム2世はプロイセン王子フリードリヒ...の長男としてベルリンに生まれる。)
    are written in sentences; keyword lists, menus and product lists are not. The floor keeps
    Chinese out (its sentences end in 。 too, but it has no hiragana). Signal ``.kuten_share``
    when measured.
    """

    category: ClassVar[str] = "composition"
    languages_default = JA
    causes = ("too_low",)

    class Params(StepParams):
        min: float = Field(0.2, ge=0, le=1, description="Minimum hiragana share (Swallow 0.2).")
        katakana_script_ok: bool = Field(
            False, description="Pass Japanese written in katakana instead of hiragana (see katakana_script)."
        )
        prose_kuten_share: float | None = Field(None, ge=0, le=1, description=_PROSE_DOC)
        prose_min: float = Field(0.1, ge=0, le=1, description="Minimum hiragana share of prose (see prose_kuten_share).")
        prose_part_share: float | None = Field(None, ge=0, le=1, description=_PROSE_PART_DOC)

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        p = self.params
        out = {"": ratio(view.n_hiragana, view.n_japanese)}
        if p.katakana_script_ok and out[""] < p.min:
            out["katakana_script"] = 1.0 if katakana_script(view) else 0.0
        if p.prose_kuten_share is not None and p.prose_min <= out[""] < p.min:
            out["kuten_share"] = kuten_share(view)
        if p.prose_part_share is not None and out[""] < p.min:
            _prose_part_signals(out, view, lambda v: ratio(v.n_hiragana, v.n_japanese), 0.0)
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if s.get("katakana_script"):
            return None
        if p.prose_kuten_share is not None and s.get("kuten_share", -1.0) >= p.prose_kuten_share:
            return None
        if _prose_part_passes(s, p.prose_part_share, lambda v: v >= p.min):
            return None
        return below(s, "", p.min, "too_low")


@register("ja.katakana_fraction")
class KatakanaFraction(Filter):
    """Katakana / Japanese letters at most ``max`` (Swallow 0.5): katakana word salad, product
    lists. Reason: ``ja.katakana_fraction.too_high``.

    ``prose_kuten_share``: a text in which at least this share of the sentences end in 。 is
    prose and kept (biographies of foreigners, software manuals, wine and music articles:
    バッセルはイギリス出身のバレリーナです。); katakana lists have no sentences. Signal
    ``.kuten_share`` when measured.
    """

    category: ClassVar[str] = "composition"
    languages_default = JA
    causes = ("too_high",)

    class Params(StepParams):
        max: float = Field(0.5, ge=0, le=1, description="Maximum katakana share (Swallow 0.5).")
        katakana_script_ok: bool = Field(
            False, description="Pass Japanese written in katakana instead of hiragana (see katakana_script)."
        )
        prose_kuten_share: float | None = Field(None, ge=0, le=1, description=_PROSE_DOC)
        prose_part_share: float | None = Field(None, ge=0, le=1, description=_PROSE_PART_DOC)

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        p = self.params
        out = {"": ratio(view.n_katakana, view.n_japanese)}
        if p.katakana_script_ok and out[""] > p.max:
            out["katakana_script"] = 1.0 if katakana_script(view) else 0.0
        if p.prose_kuten_share is not None and out[""] > p.max:
            out["kuten_share"] = kuten_share(view)
        if p.prose_part_share is not None and out[""] > p.max:
            _prose_part_signals(out, view, lambda v: ratio(v.n_katakana, v.n_japanese), 1.0)
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if s.get("katakana_script"):
            return None
        if p.prose_kuten_share is not None and s.get("kuten_share", -1.0) >= p.prose_kuten_share:
            return None
        if _prose_part_passes(s, p.prose_part_share, lambda v: v <= p.max):
            return None
        return above(s, "", p.max, "too_high")


_LATIN_RUN = re.compile(r"[A-Za-z0-9]+")


def _japanese_share(v: TextView) -> float:
    """Japanese letters / all characters (Swallow's measure)."""
    return ratio(v.n_japanese, v.n_chars)


def _japanese_share_latin_words(v: TextView) -> float:
    """Japanese letters / characters, a run of Latin letters and digits counted as one character."""
    runs = _LATIN_RUN.findall(v.text)
    return ratio(v.n_japanese, v.n_chars - sum(map(len, runs)) + len(runs))


@register("ja.japanese_fraction")
class JapaneseFraction(Filter):
    """Japanese letters / all characters at least ``min`` (Swallow 0.5; whitespace and newlines
    count as characters, as in Swallow). Reason: ``ja.japanese_fraction.too_low``."""

    category: ClassVar[str] = "composition"
    languages_default = JA
    causes = ("too_low",)

    class Params(StepParams):
        min: float = Field(0.5, ge=0, le=1, description="Minimum Japanese share (Swallow 0.5).")
        prose_part_share: float | None = Field(None, ge=0, le=1, description=_PROSE_PART_DOC)
        prose_latin_word_as_char: bool = Field(
            False, description="In the prose part, a run of Latin letters and digits counts as one character: "
            "a product, model or company name (Android, Snapdragon, SO-04D) is one word of a Japanese sentence.",
        )

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        p = self.params
        out = {"": _japanese_share(view)}
        if p.prose_part_share is not None and out[""] < p.min:
            value = _japanese_share_latin_words if p.prose_latin_word_as_char else _japanese_share
            _prose_part_signals(out, view, value, 0.0)
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if _prose_part_passes(s, p.prose_part_share, lambda v: v >= p.min):
            return None
        return below(s, "", p.min, "too_low")


def _sentence_lengths(view: TextView) -> list[int]:
    sc = view.cache("ja_sentence_lengths")
    a = sc.get("a")
    if a is None:
        a = sc["a"] = list(map(len, view.ja_sentences))
    return a


@register("ja.avg_sentence_length")
class AvgSentenceLength(Filter):
    """Mean sentence length in ``[min, max]`` characters (Swallow 20-90).

    Sentences: ``[^。．！？!?]+[。．！？!?]?`` inside each line, stripped (Swallow ``quality.py``).
    Reasons: ``ja.avg_sentence_length.too_short`` / ``too_long``.
    """

    category: ClassVar[str] = "sentence"
    languages_default = JA
    causes = ("too_short", "too_long")

    class Params(StepParams):
        min: float | None = Field(20, ge=0, description="Minimum mean length (Swallow 20).")
        max: float | None = Field(90, ge=1, description="Maximum mean length (Swallow 90).")
        verse_exempt: bool = Field(
            False, description="Do not apply the minimum to verse: 4 or more lines, at least half of them "
            "ending in hiragana, 、 or a dash (poems and songs; menus and keyword lists end in nouns).",
        )

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        if view.spans("sentences") is not None:  # compiled: the same count and total length
            n, _, total, _, _ = view.span_summary("sentences")
            out = {"": total / n if n else 0.0, "sentences": float(n)}
        else:
            a = _sentence_lengths(view)
            out = {"": sum(a) / len(a) if a else 0.0, "sentences": float(len(a))}
        p = self.params
        if p.verse_exempt and p.min is not None and out["sentences"] and out[""] < p.min:
            # only where it can matter: the share of lines that end like verse (in hiragana,
            # 、 or a dash; in a lineated text also short lines closing in 。): a poem, not a
            # keyword list or a menu (filters/text.ja_verse_line_share)
            lines = view.lines
            out["verse_lines"] = ja_verse_line_share(lines)
            out["lines"] = float(len(lines))
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        if s["sentences"] == 0:
            return None
        p = self.params
        if "verse_lines" in s and s["lines"] >= 4 and s["verse_lines"] >= 0.5:
            return above(s, "", p.max, "too_long")
        return below(s, "", p.min, "too_short") or above(s, "", p.max, "too_long")


_CLAUSE_SPLIT = re.compile(r"[、，,]")


@register("ja.max_sentence_length")
class MaxSentenceLength(Filter):
    """Longest sentence at most ``max`` characters (Swallow 200). Zero sentences measure 0
    (Swallow's ``max()`` raises there, pitfall 4). Reason: ``ja.max_sentence_length.too_long``."""

    category: ClassVar[str] = "sentence"
    languages_default = JA
    causes = ("too_long",)

    class Params(StepParams):
        max: int = Field(200, ge=1, description="Maximum sentence length (Swallow 200).")
        max_clause: int | None = Field(
            None, ge=1, description="If set, a sentence longer than max is kept when none of its clauses "
            "(split at 、，,) is longer than this: long periodic sentences of literature and law are "
            "punctuated, keyword runs are not.",
        )

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        if view.spans("sentences") is not None:
            n, _, _, _, longest = view.span_summary("sentences")
            out = {"": float(longest) if n else 0.0}
        else:
            a = _sentence_lengths(view)
            out = {"": float(max(a)) if a else 0.0}
        p = self.params
        if p.max_clause is not None and out[""] > p.max:
            # only when the sentence rule would fail: the longest clause of the long sentences
            out["clause"] = float(max(
                (len(c) for sent in view.ja_sentences if len(sent) > p.max for c in _CLAUSE_SPLIT.split(sent)),
                default=0,
            ))
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if "clause" in s and s["clause"] <= (p.max_clause or 0):
            return None
        return above(s, "", p.max, "too_long")


@register("ja.ellipsis_sentences")
class EllipsisSentences(Filter):
    """Share of sentences ending with ``・`` or ``…`` (and ``...``, the NFKC form of ``…``) at
    most ``max`` (Swallow ``ellipsis_fraction`` 0.2). Reason: ``ja.ellipsis_sentences.too_many``."""

    category: ClassVar[str] = "sentence"
    languages_default = JA
    causes = ("too_many",)

    class Params(StepParams):
        max: float = Field(0.2, ge=0, le=1, description="Maximum share (Swallow 0.2).")
        endings: list[str] = Field(default_factory=lambda: ["・", "…", "..."], min_length=1)

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        ends = tuple(self.params.endings)
        if view.spans("sentences") is not None:
            n = view.span_summary("sentences")[0]
            return {"": ratio(view.count_endings("sentences", ends), n)}
        sents = view.ja_sentences
        return {"": ratio(sum(1 for s in sents if s.endswith(ends)), len(sents))}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return above(s, "", self.params.max, "too_many")


class _DupParams(StepParams):
    max_fraction: float | None = Field(0.30, ge=0, le=1, description="Max duplicate share by count (Swallow 0.30).")
    max_char_fraction: float | None = Field(0.20, ge=0, le=1, description="Max duplicate share in characters (0.20).")
    min_chars_for_count: float = Field(
        0.0, ge=0, le=1, description="Judge the share by count only when the duplicates also hold at least "
        "this share of the characters (0: Swallow, always).",
    )


@register("ja.duplicate_lines")
class DuplicateLines(Filter):
    """Swallow ``duplicate_paragraph_fraction`` (> 0.30) and ``..._in_character`` (> 0.20).

    A paragraph is a non-empty line: blank lines are dropped first, fixing Swallow's bug where
    ``\\n\\n``-separated text counts every blank line as a duplicate (pitfall 4).
    fraction = Σ(freq−1) / lines; char fraction = Σ len×(freq−1) / Σ line lengths.
    With ``min_chars_for_count`` the count decides only when the duplicates also hold that share
    of the characters: the separators (＊) between the aphorisms of an essay and the speaker
    lines of a play repeat on a third of the lines but hold 1-14% of the text; repeated
    boilerplate holds more. Reasons: ``ja.duplicate_lines.too_many`` / ``too_many_chars``.
    """

    category: ClassVar[str] = "repetition"
    languages_default = JA
    causes = ("too_many", "too_many_chars")
    Params = _DupParams
    params: _DupParams  # the validated parameters of this rule

    span_kind: ClassVar[str] = "lines"

    def _items(self, view: TextView) -> list[str]:
        return view.lines

    def measure(self, view: TextView) -> dict[str, float]:
        if view.spans(self.span_kind) is not None:  # compiled: the same four counts
            n, dup, chars, dup_chars, _ = view.span_summary(self.span_kind)
        else:
            n, dup, chars, dup_chars = dup_counts(self._items(view))
        return {"": ratio(dup, n), "chars": ratio(dup_chars, chars)}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        by_count = above(s, "", p.max_fraction, "too_many") if s["chars"] >= p.min_chars_for_count else None
        return by_count or above(s, "chars", p.max_char_fraction, "too_many_chars")


@register("ja.duplicate_sentences")
class DuplicateSentences(DuplicateLines):
    """Swallow ``duplicate_sentence_fraction`` (> 0.30) and ``..._in_character`` (> 0.20), over
    the Swallow sentences. Reasons: ``ja.duplicate_sentences.too_many`` / ``too_many_chars``."""

    span_kind: ClassVar[str] = "sentences"

    def _items(self, view: TextView) -> list[str]:
        return view.ja_sentences


@register("ja.top_ngram_fraction")
class TopNgramFraction(Filter):
    """Swallow ``top_{2,3,4}gram_character_fraction``: occurrences of the most frequent
    character n-gram / all n-gram occurrences, at most 0.20 / 0.18 / 0.16 (Gopher's Table A1
    values on Swallow's occurrence-based character measure; pitfall 11).

    Computed over the text as stored (newlines included). Texts shorter than ``min_chars`` are
    not judged: on a 30-character text one repeated bigram is already 7%.
    Reasons: ``ja.top_ngram_fraction.top2_too_high``, ``top3_too_high``, ``top4_too_high``.
    """

    category: ClassVar[str] = "repetition"
    languages_default = JA
    causes = ("top2_too_high", "top3_too_high", "top4_too_high")

    class Params(StepParams):
        max: dict[int, float] = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
        min_chars: int = Field(0, ge=0, description="Only judge texts at least this long.")

        @field_validator("max")
        @classmethod
        def _check(cls, v: dict[int, float]) -> dict[int, float]:
            for n, x in v.items():
                if not 2 <= n <= 4 or not 0 <= x <= 1:
                    raise ValueError(f"keys must be 2..4 and values in [0, 1], got {n}: {x}")
            return v

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        out: dict[str, float] = {"chars": float(view.n_chars)}
        for n in sorted(self.params.max):
            runs = view.ngram_runs(n)
            out[f"top{n}"] = float(runs.max()) / float(runs.sum()) if len(runs) else 0.0
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        if s["chars"] < self.params.min_chars:
            return None
        for n, x in sorted(self.params.max.items()):
            f = above(s, f"top{n}", x, f"top{n}_too_high")
            if f:
                return f
        return None


@register("ja.duplicate_ngram_fraction")
class DuplicateNgramFraction(Filter):
    """Swallow ``duplicate_{5..10}gram_character_fraction``: distinct character n-grams seen
    more than once / distinct n-grams, at most 0.15, 0.14, 0.13, 0.12, 0.11, 0.10 for
    n = 5..10 (type-based, unlike Gopher's character coverage; pitfall 11).

    Reasons: ``ja.duplicate_ngram_fraction.dup5_too_high`` ... ``dup10_too_high``.
    """

    category: ClassVar[str] = "repetition"
    languages_default = JA
    causes = tuple(f"dup{n}_too_high" for n in range(5, 11))

    class Params(StepParams):
        max: dict[int, float] = Field(
            default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
        )
        min_chars: int = Field(0, ge=0, description="Only judge texts at least this long.")

        @field_validator("max")
        @classmethod
        def _check(cls, v: dict[int, float]) -> dict[int, float]:
            for n, x in v.items():
                if not 5 <= n <= 10 or not 0 <= x <= 1:
                    raise ValueError(f"keys must be 5..10 and values in [0, 1], got {n}: {x}")
            return v

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        out: dict[str, float] = {"chars": float(view.n_chars)}
        for n in sorted(self.params.max):
            s = view.sorted_hashes(n)
            if len(s) < 2:
                out[f"dup{n}"] = 0.0
                continue
            eq = s[1:] == s[:-1]
            n_eq = int(np.count_nonzero(eq))
            distinct = len(s) - n_eq
            # a duplicated n-gram type = a run of equal values = an eq position not preceded by eq
            dup_types = int(np.count_nonzero(eq[1:] & ~eq[:-1])) + int(eq[0])
            out[f"dup{n}"] = dup_types / distinct
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        if s["chars"] < self.params.min_chars:
            return None
        for n, x in sorted(self.params.max.items()):
            f = above(s, f"dup{n}", x, f"dup{n}_too_high")
            if f:
                return f
        return None


class _NgFractionParams(StepParams):
    wordlists: list[str] = Field(
        default_factory=lambda: [
            NGDIR + "adult_keywords_ja.txt",
            NGDIR + "discrimination_keywords_ja.txt",
            NGDIR + "violence_keywords_ja.txt",
        ],
        min_length=1,
        description="NG lists (Swallow used MosasoM/inappropriate-words-ja + a private list; "
        "the shipped HojiChar lists by default).",
    )
    max: float = Field(0.05, ge=0, le=1, description="Reject when the NG character share is >= this (Swallow 0.05).")
    katakana_boundary: bool = Field(True, description="Katakana keywords need katakana boundaries.")


@register("ja.ng_fraction")
class NgFraction(KeywordUser, Filter):
    """Swallow NG-expression rule: characters covered by NG keywords (greedy longest match,
    left to right, no overlaps) / Japanese letters; reject if >= ``max`` (0.05).

    Reason: ``ja.ng_fraction.too_high``.
    """

    category: ClassVar[str] = "ngword"
    languages_default = JA
    causes = ("too_high",)
    Params = _NgFractionParams
    params: _NgFractionParams  # the validated parameters of this rule

    def __init__(self, params: Any = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        self._keys = [f"{w}|k{int(self.params.katakana_boundary)}w0" for w in self.params.wordlists]

    def keyword_lists(self) -> list[tuple[str, list[str], bool, bool]]:
        kb = self.params.katakana_boundary
        return [(k, load_wordlist(w), kb, False) for k, w in zip(self._keys, self.params.wordlists, strict=True)]

    def setup(self) -> None:
        self.ensure_index()

    def measure(self, view: TextView) -> dict[str, float]:
        hits: list[Hit] = []
        for k in self._keys:
            hits.extend(self.hits(view, k))
        chars = sum(h.length for h in non_overlapping(hits))
        return {"": ratio(chars, view.n_japanese)}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return at_least(s, "", self.params.max, "too_high")


# ---------------------------------------------------------------------------------------------
# HojiChar extras
# ---------------------------------------------------------------------------------------------

# Components listed for HojiChar DiscardBBSComments (``document_filters.py``): dates, comment/review/post/
# page/question words, a weekday in parentheses, "N話", 楽天市場, SOLD OUT, and hyphens. Digits
# are ASCII or full-width. BBS_PATTERN is the reference regex; BbsComments counts the same
# matches faster (literals with str.count, the digit patterns only when there are digits).
_D = "[0-9０-９]"
_DATE_OR_EPISODE = rf"{_D}{{4}}[年.\-/] *{_D}{{1,2}}[月.\-/] *{_D}{{1,2}}日?|{_D}+話"
_WEEKDAY = r"[(（][月火水木金土日][)）]"
_BBS_LITERALS = ("コメント", "SOLD OUT", "レビュー", "投稿", "ページ", "質問", "楽天市場")
# No literal overlaps itself or another one, so the matches of the alternation (one scan, a
# first-character set prefix) are exactly the str.count occurrences of each literal.
_BBS_LITERALS_RE = re.compile("|".join(_BBS_LITERALS))
BBS_PATTERN = re.compile(f"{_DATE_OR_EPISODE}|{'|'.join(_BBS_LITERALS)}|{_WEEKDAY}|-")
BBS_PATTERN_RUNS = re.compile(f"{_DATE_OR_EPISODE}|{'|'.join(_BBS_LITERALS)}|{_WEEKDAY}|-+")
# The same date/episode matches, with the leading digit factored out of both alternatives so
# that the regex engine skips to digits with its character-set prefix scan (about 3x faster).
_DATE_OR_EPISODE_RE = re.compile(rf"{_D}(?:{_D}{{3}}[年.\-/] *{_D}{{1,2}}[月.\-/] *{_D}{{1,2}}日?|{_D}*話)")
_WEEKDAY_RE = re.compile(_WEEKDAY)
_WEEKDAY_CHARS = frozenset("月火水木金土日")
_WEEKDAY_CLOSE = frozenset(")）")
_HYPHEN_RUNS = re.compile("-+")


def _weekday_count(t: str) -> int:
    """``len(_WEEKDAY_RE.findall(t))``: matches start at an opening parenthesis and cannot
    overlap, so with few parentheses, checking the two characters after each is cheaper."""
    if t.count("(") + t.count("（") > 40:
        return len(_WEEKDAY_RE.findall(t))
    n = 0
    for op in "(（":
        p = t.find(op)
        while p >= 0:
            if t[p + 1 : p + 2] in _WEEKDAY_CHARS and t[p + 2 : p + 3] in _WEEKDAY_CLOSE:
                n += 1
            p = t.find(op, p + 1)
    return n


def bbs_count(view: TextView, hyphen_runs_as_one: bool = False, count_hyphens: bool = True) -> int:
    """Number of :data:`BBS_PATTERN` (or ``BBS_PATTERN_RUNS``) matches, computed piecewise.

    The alternatives cannot overlap except for hyphens inside dates (``2018-10-10``), which the
    date match consumes; they are subtracted from the hyphen count. ``count_hyphens=False``
    leaves the hyphen alternative out.
    """
    t = view.text
    n = len(_BBS_LITERALS_RE.findall(t))
    hy = t.count("-") if count_hyphens else 0
    if hy and hyphen_runs_as_one:
        hy = len(_HYPHEN_RUNS.findall(t))
    if view.count(C_DIGIT):
        # compiled: skip to the first position where a date or an episode can start (-1: none)
        kern = kernels.get()
        start = kern.first_date_candidate(view.cps) if kern is not None else 0
        if start >= 0:
            for m in _DATE_OR_EPISODE_RE.findall(t, start):
                n += 1
                if count_hyphens:
                    hy -= m.count("-")
    if "(" in t or "（" in t:
        n += _weekday_count(t)
    return n + hy


# Comment headers of Japanese message boards (2channel/5channel and their mirrors, "matome"
# blogs): ``123 名前：名無しさん 2012/03/04(日) 12:34:56.78 ID:abc12345``. A header line has a
# post timestamp (date, weekday in parentheses, time) together with a post number at the start
# of the line, a poster ID or a name field, or a poster ID together with a name field.
_BBS_STAMP = re.compile(
    r"[0-9０-９]{2,4}[/年.\-][0-9０-９]{1,2}[/月.\-][0-9０-９]{1,2}日?\s*[(（][月火水木金土日][)）]\s*"
    r"[0-9０-９]{1,2}[:：][0-9０-９]{2}"
)
_BBS_ID = re.compile(r"(?<![A-Za-z0-9])ID[:：][A-Za-z0-9+/.]{4,}")
_BBS_NAME = re.compile(r"名無し|名前\s*[:：]|投稿者\s*[:：]")
_BBS_NUMBER = re.compile(r"\s*[>＞]*[0-9０-９]{1,5}(?:\s|[:：]|$)")


def comment_headers(text: str) -> int:
    """Number of lines that are message-board comment headers (see ``_BBS_STAMP`` above)."""
    if "ID" not in text and _WEEKDAY_RE.search(text) is None:
        return 0  # neither a poster ID nor a weekday in parentheses: no header
    n = 0
    for line in text.split("\n"):
        if len(line) > 300:
            continue
        stamp = _BBS_STAMP.search(line) is not None
        pid = "ID" in line and _BBS_ID.search(line) is not None
        if not (stamp or pid):
            continue
        name = _BBS_NAME.search(line) is not None
        if (stamp and (pid or name or _BBS_NUMBER.match(line) is not None)) or (pid and name):
            n += 1
    return n


@register("ja.bbs_comments")
class BbsComments(Filter):
    """At most ``max_count`` BBS/comment-page pattern matches (HojiChar ``DiscardBBSComments``,
    14): dates, コメント, レビュー, 投稿, ページ, 質問, (曜日), N話, 楽天市場, SOLD OUT, ``-``.
    Full-width weekday parentheses and digits also count. Reason: ``ja.bbs_comments.too_many``.

    With ``count_hyphens: false`` hyphens are not counted (HojiChar counts every one, so model
    numbers such as ``SH-09D``, ISBNs and rule lines fill the count in product news), and
    ``min_headers`` rejects a text with that many message-board comment headers
    (:func:`comment_headers`: ``123 名前：名無しさん 2012/03/04(日) 12:34:56.78 ID:abc``), the
    shape of a comment thread, whatever its length. Signals: the pattern count (main),
    ``.per_1000_chars``, ``.headers``.
    """

    category: ClassVar[str] = "content"
    languages_default = JA
    causes = ("too_many",)

    class Params(StepParams):
        max_count: int = Field(14, ge=0, description="Reject when more matches (HojiChar 14).")
        max_per_1000_chars: float | None = Field(
            None, ge=0, description="If set, also require this many matches per 1,000 characters."
        )
        hyphen_runs_as_one: bool = Field(
            False, description="Count a run of hyphens (a '-----' rule line) once; HojiChar counts each."
        )
        count_hyphens: bool = Field(
            True, description="Count hyphens at all (HojiChar: yes; model numbers such as SH-09D are not comments)."
        )
        min_headers: int | None = Field(
            None, ge=1, description="If set, reject a text with at least this many comment-header lines "
            "(post number / name / date(weekday) time / ID).",
        )
        skip_prose_lines: bool = Field(
            False, description="Do not count matches in lines that end in 。 (an article about reviews or posts "
            "says レビュー and 投稿 in its sentences; a comment page has them in header and count lines).",
        )

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        p = self.params
        n = bbs_count(view, p.hyphen_runs_as_one, p.count_hyphens)
        if p.skip_prose_lines and n > p.max_count and ("。" in view.text or "．" in view.text):
            # only a text that would fail is counted again, without its prose lines
            rest = "\n".join(ln for ln in view.lines if not JA_PROSE_LINE_END.search(ln))
            n = bbs_count(TextView(rest), p.hyphen_runs_as_one, p.count_hyphens)
        out = {"": float(n), "per_1000_chars": ratio(1000.0 * n, view.n_chars)}
        if p.min_headers is not None:
            out["headers"] = float(comment_headers(view.text))
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if p.min_headers is not None and s["headers"] >= p.min_headers:
            return Failure("too_many", "headers", s["headers"], p.min_headers, ">=")
        return _count_failure(s, p.max_count, p.max_per_1000_chars, "too_many")


_VERSE_END = re.compile(r"[ぁ-ゖ、。！？!?」』）…―ー]\s*$")


@register("ja.short_lines")
class ShortLinesJa(Filter):
    """Share of short non-empty lines at most ``max``, where a short line (at most
    ``max_line_chars`` characters, HojiChar ``DiscardTooShortLines``: 10, 0.5) counts only if
    it does not end like Japanese verse or dialogue: in hiragana or Japanese punctuation
    (``、。！？」』）…―ー``).

    HojiChar's rule is for menus and breadcrumbs (ホーム, 会社概要, 商品一覧 — nouns, ending in
    kanji, katakana or ASCII); poems, songs and scripts are also made of short lines, but
    theirs end in inflections, particles and punctuation (よろけてる。, 坑の奥、, 鳴き鳴き).
    Kept: verse, dialogue, prose; dropped: pages whose short lines are mostly noun labels.
    Blank lines are not counted; documents with fewer than ``min_lines`` lines are not judged,
    nor those whose short lines hold less than ``min_char_share`` of the characters (a title,
    an author, a date and a salutation above two paragraphs of a letter or an essay are half the
    lines but a tenth of the text; a menu page is short lines throughout).
    Reason: ``ja.short_lines.too_many``. Signals: share (main), ``.lines``, ``.chars`` (share of
    the characters of non-empty lines that are in counted short lines).
    """

    category: ClassVar[str] = "content"
    languages_default = JA
    causes = ("too_many",)

    class Params(StepParams):
        max_line_chars: int = Field(10, ge=1, description="A line this short or shorter is 'short' (HojiChar 10).")
        max: float = Field(0.5, ge=0, le=1, description="Maximum share of short lines (HojiChar 0.5).")
        min_lines: int = Field(1, ge=1, description="Only judge documents with at least this many lines.")
        min_char_share: float = Field(
            0.0, ge=0, le=1, description="Only judge documents whose short lines also hold at least this "
            "share of the characters (0: HojiChar, lines only).",
        )

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        k = self.params.max_line_chars
        lines = view.lines
        short = [len(ln) for ln in lines if len(ln) <= k and _VERSE_END.search(ln) is None]
        total = sum(map(len, lines))
        return {"": ratio(len(short), len(lines)), "lines": float(len(lines)), "chars": ratio(sum(short), total)}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        if s["lines"] < self.params.min_lines or s["chars"] < self.params.min_char_share:
            return None
        return above(s, "", self.params.max, "too_many")


# ---------------------------------------------------------------------------------------------
# Promotional and SEO text (corpusflow)
# ---------------------------------------------------------------------------------------------


class _PromoParams(StepParams):
    wordlist: str = Field(WORDLISTS + "promo_ja.txt", description="Promotional / SEO vocabulary list.")
    count: str = Field(
        "distinct", pattern="^(distinct|total)$",
        description="Count distinct terms (a topical article repeats one word; ads pile up many) or all hits.",
    )
    max_per_100_chars: float = Field(
        0.8, ge=0, description="Reject when counted terms per 100 characters exceed this (and min_hits is reached)."
    )
    min_hits: int = Field(2, ge=1, description="Never reject on fewer counted terms than this.")
    fold_width: bool = Field(True, description="Match full-width ASCII as ASCII.")
    narrative_share: float | None = Field(
        None, ge=0, le=1, description="A text with at least this share of its sentences in the past "
        "tense (ending in た) is narration (news, reports, diaries), judged only from narrative_min_hits "
        "terms on. None: every text is judged alike.",
    )
    narrative_min_hits: int = Field(5, ge=1, description="Counted terms from which narration is judged too.")
    ordinary_words: str | None = Field(
        None, description="Ordinary words that contain a term (比較的, まとめる, 審査員): a term found inside one "
        "(leftmost-longest) is not counted. None: every match counts.",
    )
    report_plain_share: float | None = Field(
        None, ge=0, le=1, description="A text with at least this share of its sentences ending in a plain-style "
        "predicate (だ, である, した, 発売する), or narrative by narrative_share, and no address_words outside 「」 "
        "quotations reports on commerce and is not judged. None: off.",
    )
    address_words: str = Field(
        WORDLISTS + "promo_address_ja.txt",
        description="Terms by which a seller addresses the customer or speaks for itself (ご来店, お問い合わせ, 当店).",
    )
    report_max_address: int = Field(
        0, ge=0, description="A reporting text (report_plain_share) is not judged with up to this many distinct "
        "address words outside quotations: one おすすめ in an editor's sentence is not a seller speaking.",
    )


# A sentence in the past tense: ends in た (した, だった, ました, でした), before closing brackets
# and end punctuation.
_PAST = re.compile(r"た[」』）)]*[。．！？!?]*$")


# A sentence with at least one Japanese letter: URL, date and English lines are no predicates.
_HAS_JA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u3400-\u9fff]")


# A sentence that ends as a sentence: in end punctuation.
_SENTENCE_CLOSED = re.compile(r"[。．！？!?]$")
_OPEN_QUOTES = "「『"
_CLOSE_QUOTES = re.compile(r"[」』]")


def _quoted_speech(s: str) -> bool:
    """The sentence is someone's quoted words: it opens a quotation that does not close before
    its end (「とても便利です。) or it is one whole quotation (「とても便利です」)."""
    s = s.lstrip("」』 　")  # the close of the previous quotation: 「…。」「…。
    if not s or s[0] not in _OPEN_QUOTES:
        return False
    m = _CLOSE_QUOTES.search(s)
    return m is None or m.end() >= len(s.rstrip("。．！？!?"))


def _register_sentences(view: TextView) -> list[str]:
    """``view.ja_sentences`` longer than 3 characters that hold a Japanese letter; of those, the
    ones that end in end punctuation and are not quoted speech, when there are at least two.
    Spec lines (サイズ：幅107mm), list items, headings and link labels have no predicate: they are
    neither plain nor polite, and counting them would make an article with a spec table read
    like a catalogue. Quoted speech is the speaker's register, not the writer's: a report quotes
    a company president in the polite style."""
    sc = view.cache("register_sentences")
    out = sc.get("s")
    if out is None:
        sents = [s for s in view.ja_sentences if len(s) > 3 and _HAS_JA.search(s)]
        closed = [s for s in sents if _SENTENCE_CLOSED.search(s) and not _quoted_speech(s)]
        out = sc["s"] = closed if len(closed) >= 2 else sents
    return out


def past_tense_share(view: TextView) -> float:
    """Share of sentences (``view.ja_sentences`` longer than 3 characters, with a Japanese letter)
    in the past tense."""
    sents = _register_sentences(view)
    return sum(1 for s in sents if _PAST.search(s)) / len(sents) if sents else 0.0


# A sentence in the plain style (常体): ends in a plain predicate — だ/である, the past た, a verb in
# its dictionary form (発売する, 行う), an adjective in い, the negative ない/ず, or という; or a
# plain question (売れるのか, 本当なのだろうか, 変わるのでは: the rhetorical questions of columns) —
# and not in the polite style (です/ます, ですか, ください, ございます), before closing brackets and
# end punctuation. A sentence ending in a noun (体言止め: 送料無料。) is neither.
_PLAIN_END = re.compile(r"(?:だ|である|た|[うくすつぬぶむるい]|ない|ず|という|[うのだいる]か|のでは)[」』）)]*[。．！？!?]*$")
_POLITE_END = re.compile(
    r"(?:です|ます|ました|ません|でした|ましょう|ください|下さい|ませんか|でしょう|ございます|いたします|致します|ませ)"
    r"[」』）)]*[。．！？!?♪☆★]*$"
)
_QUOTED = re.compile(r"「[^「」\n]*」")


def plain_style_share(view: TextView) -> float:
    """Share of sentences (``view.ja_sentences`` longer than 3 characters, with a Japanese letter)
    that end in a plain-style predicate and not in the polite style (see ``_PLAIN_END``)."""
    sents = _register_sentences(view)
    if not sents:
        return 0.0
    return sum(1 for s in sents if _PLAIN_END.search(s) and not _POLITE_END.search(s)) / len(sents)


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every innermost 「…」 quotation on one line."""
    return [m.span() for m in _QUOTED.finditer(text)]


@register("ja.promo_vocabulary")
class PromoVocabulary(KeywordUser, Filter):
    """Density of shop, service-solicitation, affiliate/SEO and loan/beauty/job-ad vocabulary
    (``corpusflow/filters/wordlists/promo_ja.txt``: 送料無料, お問い合わせ, 口コミ, 即日,
    ...) at most ``max_per_100_chars`` *distinct* terms per 100 characters.

    Why: the llm-jp v1 rules look at surface counts (kana, 。, compression) that ads, SEO
    landing pages and affiliate copy share with good prose; the vocabulary is what differs.
    Distinct terms are counted because an article about rankings or match-making repeats its
    topic word (ランキング, 婚活), while advertising piles up different commercial terms
    (人気・口コミ・送料無料・お得). 0.8 per 100 characters is about one different commercial
    term every two or three sentences; ``min_hits`` keeps one or two terms in a short snippet
    from deciding. The list was written from the genres of Japanese web spam (commerce,
    solicitation, affiliate/SEO, consumer credit, beauty, recruiting), not mined from labelled
    data.

    Ordinary words (``ordinary_words``, ``promo_ordinary_ja.txt``): a term inside a longer
    ordinary word is not counted — 比較的 ("relatively") is not 比較, まとめる ("to sum up") is
    not まとめ, 審査員 (a jury) is not 審査 (the leftmost-longest match decides).

    Narration (``narrative_share``): news, reports and diaries tell what happened, in the past
    tense; advertising addresses the reader in the present (ご利用ください, お待ちしております).
    The share of past-tense verbs is the marker of narrative text in Biber's register analysis
    (*Variation across Speech and Writing*, 1988, dimension 2). A text with at least
    ``narrative_share`` of its sentences ending in た (a store opening reported by the news, a
    blog post on what one bought) is judged only when it piles up ``narrative_min_hits`` distinct
    terms.

    Reporting (``report_plain_share``): an article on a product launch names prices, shops and
    limited editions (価格, 販売, 限定, 税込) as densely as an advertisement, but it reports: it
    is written in the plain style (常体: 発表した, 発売する, 特徴だ), the style of Japanese
    newspapers and magazines, and it does not address the customer. Advertising and shop pages
    speak in the polite style (です・ます, ください) or in bare noun phrases, and invite the
    reader or speak as the seller (``address_words``: ご来店, お問い合わせ, お気軽に, 当店,
    弊社). A text that reports — at least ``report_plain_share`` of its sentences end in a
    plain-style predicate, or it is narrative — and has no address word outside 「」 quotations
    (a company president quoted saying 当社 is still reporting) is not judged. On the labelled
    mC4-ja snippets, 1.4% of the bad snippets this rule caught are in the plain style by that
    measure (bench/eval_quality.py).

    Reason: ``ja.promo_vocabulary.too_dense``. Signals: terms per 100 characters (main),
    ``.hits`` (all matches), ``.distinct`` and, when the text would be judged, ``.past_share``,
    ``.plain_share``, ``.address`` (distinct address words outside quotations) and
    ``.word.<term>`` (each term's count, shown by ``corpusflow inspect``).
    """

    category: ClassVar[str] = "content"
    languages_default = JA
    causes = ("too_dense",)
    Params = _PromoParams
    params: _PromoParams  # the validated parameters of this rule

    def __init__(self, params: Any = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        self.fold_width = self.params.fold_width
        self._key = f"{self.params.wordlist}|k1w0"
        self._ordinary_key = f"{self.params.ordinary_words}|k1w0" if self.params.ordinary_words else None
        self._address_key = f"{self.params.address_words}|k1w0" if self.params.report_plain_share is not None else None

    def keyword_lists(self) -> list[tuple[str, list[str], bool, bool]]:
        out = [(self._key, load_wordlist(self.params.wordlist), True, False)]
        if self._ordinary_key:
            out.append((self._ordinary_key, load_wordlist(self.params.ordinary_words or ""), True, False))
        if self._address_key:
            out.append((self._address_key, load_wordlist(self.params.address_words), True, False))
        return out

    def setup(self) -> None:
        self.ensure_index()

    def _words(self, view: TextView, key: str) -> list[Hit]:
        """Hits of list ``key``, leftmost-longest, without those inside an ordinary word (お得意 is
        not お得); the index matches every list in one pass, cached per view."""
        found = self.ensure_index().match(view)
        hits = found[key]
        ordinary = found[self._ordinary_key] if self._ordinary_key and hits else None
        if ordinary:
            return [h for h in non_overlapping([*hits, *ordinary]) if h.list_key == key]
        return non_overlapping(hits)

    def _address_outside_quotes(self, view: TextView) -> int:
        assert self._address_key is not None
        hits = self._words(view, self._address_key)
        if not hits:
            return 0
        spans = quoted_spans(view.text) if "「" in view.text else []
        return len({h.word for h in hits if not any(a <= h.start and h.start + h.length <= b for a, b in spans)})

    def measure(self, view: TextView) -> dict[str, float]:
        p = self.params
        hits = self._words(view, self._key)
        distinct = len({h.word for h in hits})
        n = distinct if p.count == "distinct" else len(hits)
        out = {"": ratio(100.0 * n, view.n_chars), "hits": float(len(hits)), "distinct": float(distinct)}
        judged = n >= p.min_hits and out[""] > p.max_per_100_chars  # the register is read only then
        if p.narrative_share is not None:
            out["past_share"] = past_tense_share(view) if judged else 0.0
        if p.report_plain_share is not None:
            out["plain_share"] = plain_style_share(view) if judged else 0.0
            out["address"] = float(self._address_outside_quotes(view)) if judged else 0.0
        if judged:  # the terms, for inspect and the report: "word.<term>" = count
            for h in hits:
                k = "word." + h.word
                out[k] = out.get(k, 0.0) + 1.0
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        n = s["distinct" if p.count == "distinct" else "hits"]
        if n < p.min_hits:
            return None
        narrative = p.narrative_share is not None and s["past_share"] >= p.narrative_share
        if p.report_plain_share is not None and s["address"] <= p.report_max_address and (
            narrative or s["plain_share"] >= p.report_plain_share
        ):
            return None
        if narrative and n < p.narrative_min_hits:
            return None
        return above(s, "", p.max_per_100_chars, "too_dense")


_PROMO_MARKS = re.compile(r"[!！♪☆★♡♥❤✨]+")


@register("ja.exclamation_density")
class ExclamationDensity(Filter):
    """Share of sentences that carry an exclamation mark or a promotional symbol
    (``! ！ ♪ ☆ ★ ♡ ♥ ❤ ✨``) at most ``max``.

    Advertising copy exclaims (``今なら送料無料！``, ``お気軽にどうぞ♪``); prose rarely does in
    most sentences. Runs (``!!!``) count once per sentence. Documents with fewer than
    ``min_sentences`` sentences are not judged. Reason: ``ja.exclamation_density.too_high``.
    """

    category: ClassVar[str] = "content"
    languages_default = JA
    causes = ("too_high",)

    class Params(StepParams):
        max: float = Field(0.5, ge=0, le=1, description="Maximum share of exclaiming sentences.")
        min_sentences: int = Field(3, ge=1, description="Only judge documents with this many sentences.")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        sents = view.ja_sentences
        if not sents:
            return {"": 0.0, "sentences": 0.0}
        k = sum(1 for s in sents if _PROMO_MARKS.search(s))
        return {"": k / len(sents), "sentences": float(len(sents))}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        if s["sentences"] < self.params.min_sentences:
            return None
        return above(s, "", self.params.max, "too_high")


# ---------------------------------------------------------------------------------------------
# Cleaners (transforms)
# ---------------------------------------------------------------------------------------------


class _FooterParams(StepParams):
    wordlist: str = Field(WORDLISTS + "footer_ja.txt", description="Footer keywords (copyright, trackback, ...).")
    last_lines: int = Field(10, ge=1, description="Look at this many last lines (Swallow 10).")
    min_keyword_fraction: float = Field(
        0.3, ge=0, le=1, description="A line is a footer when keyword characters exceed this share (Swallow 0.3)."
    )
    fold_width: bool = Field(True, description="Match full-width ASCII as ASCII.")
    min_lines_kept: int = Field(
        0, ge=0, description="Never cut into the first N non-empty lines (0 = Swallow: a short page "
        "whose first line mentions お問い合わせ is cut to nothing).",
    )


@register("ja.footer_trim")
class FooterTrim(KeywordUser, Transform):
    """Swallow ``footer.py``: among the last ``last_lines`` non-empty lines, find the first one
    in which footer keywords cover more than 30% of the characters and cut the text from there.

    Keywords (``wordlists/footer_ja.txt``, case variants listed): Copyright, All rights
    reserved, トラックバック, 無断転載, ページトップ, ... Signals: ``.removed_lines``,
    ``.removed_chars``. Reason ``ja.footer_trim.empty`` if nothing is left.
    """

    languages_default = JA
    causes = ("empty",)
    Params = _FooterParams
    params: _FooterParams  # the validated parameters of this rule

    def __init__(self, params: Any = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        self.fold_width = self.params.fold_width
        self._key = f"{self.params.wordlist}|k0w0"

    def keyword_lists(self) -> list[tuple[str, list[str], bool, bool]]:
        return [(self._key, load_wordlist(self.params.wordlist), False, False)]

    def setup(self) -> None:
        self.ensure_index()

    def transform(self, view: TextView) -> tuple[str | None, dict[str, float], Failure | None]:
        text = view.text
        hits = self.hits(view, self._key)
        none = {"removed_lines": 0.0, "removed_chars": 0.0}
        if not hits:
            return None, none, None
        # line spans of non-empty lines
        spans: list[tuple[int, int]] = []
        pos = 0
        for raw in view.raw_lines:
            end = pos + len(raw)
            if raw.strip():
                spans.append((pos, end))
            pos = end + 1
        tail = spans[max(len(spans) - self.params.last_lines, self.params.min_lines_kept) :]
        if not tail:
            return None, none, None
        covered = np.zeros(len(text), dtype=bool)
        for h in hits:
            covered[h.start : h.start + h.length] = True
        cut_at = None
        for s, e in tail:
            if e > s and covered[s:e].sum() > self.params.min_keyword_fraction * (e - s):
                cut_at = s
                break
        if cut_at is None:
            return None, none, None
        new = text[:cut_at].rstrip()
        removed_lines = sum(1 for s, _ in spans if s >= cut_at)
        sig = {"removed_lines": float(removed_lines), "removed_chars": float(len(text) - len(new))}
        fail = Failure("empty", "removed_chars", sig["removed_chars"], len(text), "==") if not new.strip() else None
        return new, sig, fail


_KUTOTEN = re.compile(r"(?<=[ぁ-ゖァ-ヺー々〆〇\u3400-\u9fff\uf900-\ufaff」』）】〕〉》］｝])([，．])")


@register("ja.kutoten")
class Kutoten(Transform):
    """Swallow ``kutoten.py``: after a Japanese character or a closing bracket, ``，`` becomes
    ``、`` and ``．`` becomes ``。``; full-width alphanumeric contexts (``１．５``) are left alone.
    Signal: ``.replaced``. Never rejects."""

    languages_default = JA

    def transform(self, view: TextView) -> tuple[str | None, dict[str, float], Failure | None]:
        t = view.text
        if "，" not in t and "．" not in t:
            return None, {"replaced": 0.0}, None
        new, n = _KUTOTEN.subn(lambda m: "、" if m.group(1) == "，" else "。", t)
        return (new if n else None), {"replaced": float(n)}, None


_URL = re.compile(r"https?://[^\s\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+")
_LONG_ASCII = re.compile(r"[\x00-\x09\x0b-\x7f]{100,}")
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")


@register("ja.keep_kana_lines")
class KeepKanaLines(Transform):
    """llm-jp ``extract_japanese_text``: keep only lines containing hiragana, katakana or ``ー``;
    inside kept lines delete URLs and runs of 100 or more ASCII characters.

    Unlike llm-jp, kept lines are re-joined with ``\\n`` (pitfall 7). Signals:
    ``.removed_lines``, ``.removed_chars``. Reason ``ja.keep_kana_lines.empty`` when no line is
    left.
    """

    languages_default = JA
    causes = ("empty",)

    class Params(StepParams):
        remove_urls: bool = Field(True, description="Delete http(s) URLs inside kept lines.")
        min_ascii_run: int = Field(100, ge=10, description="Delete ASCII runs at least this long (llm-jp 100).")

    params: Params  # the validated parameters of this rule

    def __init__(self, params: Any = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        n = self.params.min_ascii_run
        self._ascii = _LONG_ASCII if n == 100 else re.compile(rf"[\x00-\x09\x0b-\x7f]{{{n},}}")

    def transform(self, view: TextView) -> tuple[str | None, dict[str, float], Failure | None]:
        kept: list[str] = []
        removed = 0
        for line in view.raw_lines:
            if not line.strip():
                continue
            if not _KANA.search(line):
                removed += 1
                continue
            if self.params.remove_urls and "http" in line:
                line = _URL.sub("", line)
            if len(line) >= self.params.min_ascii_run:
                line = self._ascii.sub("", line)
            kept.append(line)
        new = "\n".join(kept)
        if new == view.text:
            return None, {"removed_lines": 0.0, "removed_chars": 0.0}, None
        sig = {"removed_lines": float(removed), "removed_chars": float(len(view.text) - len(new))}
        fail = Failure("empty", "removed_chars", sig["removed_chars"], view.n_chars, "==") if not new.strip() else None
        return new, sig, fail
