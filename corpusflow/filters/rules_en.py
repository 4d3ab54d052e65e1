"""English rules: Gopher quality and repetition, C4 (line and document level), FineWeb quality,
and an NG-word count.

Semantics and defaults follow datatrove's implementations as described in
``docs/design.md#english-filter-rules`` (Rae et al. 2021 "Gopher" Table A1; Raffel et al. 2020 "C4";
Penedo et al. 2024 "FineWeb"). Tokens are whitespace-separated (``str.split()``); a *word* is
a token with at least one letter or digit, and a word's length counts its letters and digits
(datatrove uses a language tokenizer that splits punctuation off; on English web text the
statistics are close). Everything is vectorised over code points (:func:`word_stats`) and word
n-grams are hashed with numpy (:func:`~corpusflow.filters.text.span_hashes`), so every rule is
linear (or n log n) in the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from corpusflow.filters import kernels
from corpusflow.filters.base import Failure, Filter, StepParams, Transform, above, below, ratio, register
from corpusflow.filters.keywords import KeywordUser, load_wordlist, non_overlapping
from corpusflow.filters.text import (
    C_CHOON,
    C_EMOJI,
    C_HALF_KATAKANA,
    C_HIRAGANA,
    C_KANJI,
    C_KATAKANA,
    C_KUTEN,
    C_LATIN,
    C_NEWLINE,
    C_OTHER,
    C_SPACE,
    C_SYMBOL,
    C_TOTEN,
    C_WIDE_LATIN,
    N_CLASSES,
    TextView,
    _powers,
    dup_counts,
    run_lengths_sorted,
    span_hashes,
    window_hashes,
)

EN = frozenset({"en"})
_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
# Reference definition of a stop-word occurrence; :func:`has_word` finds the same ones faster.
_STOP_RES = tuple(re.compile(rf"\b{w}\b") for w in _STOP_WORDS)
# Character classes that are not part of a word (punctuation, symbols, pictographs).
_PUNCT_CLASSES = (C_SYMBOL, C_KUTEN, C_TOTEN, C_EMOJI)
# Classes counted as "alphabetic" (letters of any script; OTHER is mostly non-Latin letters).
_ALPHA_CLASSES = (C_LATIN, C_WIDE_LATIN, C_HIRAGANA, C_KATAKANA, C_KANJI, C_CHOON, C_HALF_KATAKANA, C_OTHER)

_IS_WORD_CLASS = np.ones(N_CLASSES, dtype=bool)
_IS_WORD_CLASS[[*_PUNCT_CLASSES, C_SPACE, C_NEWLINE]] = False
_IS_ALPHA_CLASS = np.zeros(N_CLASSES, dtype=bool)
_IS_ALPHA_CLASS[list(_ALPHA_CLASSES)] = True
_WORD_ALPHA_BITS = (_IS_WORD_CLASS.astype(np.uint8) | (_IS_ALPHA_CLASS.astype(np.uint8) << 1)).astype(np.uint8)


def _is_re_word_char(c: str) -> bool:
    """A character of ``re``'s ``\\w`` for str patterns: alphanumeric (Unicode) or ``_``."""
    return c.isalnum() or c == "_"


def has_word(text: str, word: str) -> bool:
    """``re.search(rf"\\b{word}\\b", text) is not None`` for a ``word`` of ``\\w`` characters.

    A regex starting with ``\\b`` has no literal prefix, so ``re`` tries every position;
    ``str.find`` jumps to the candidates and each is checked for word boundaries on both sides.
    """
    n = len(word)
    end = len(text) - n
    p = text.find(word)
    while p >= 0:
        if (p == 0 or not _is_re_word_char(text[p - 1])) and (p == end or not _is_re_word_char(text[p + n])):
            return True
        p = text.find(word, p + 1)
    return False


def lower_text(view: TextView) -> str:
    """``view.text.lower()``, computed once per view (the Gopher and C4 rules both need it)."""
    sc = view.cache("lower")
    low = sc.get("t")
    if low is None:
        low = sc["t"] = view.text.lower()
    return low


def word_stats(view: TextView) -> dict[str, float]:
    """Whitespace-token statistics used by the Gopher/C4/FineWeb rules (vectorised, cached).

    * ``tokens``: whitespace-separated tokens (``str.split()``);
    * ``words``: tokens with at least one character that is not punctuation or a symbol
      (datatrove's "non-symbol words");
    * ``word_chars``: letters and digits in those words (so the mean word length ignores
      punctuation, including an inner apostrophe or hyphen);
    * ``alpha_tokens``: tokens with at least one letter of any script.
    """
    sc = view.cache("en_word_stats")
    st = sc.get("st")
    if st is not None:
        return st
    starts, _ = view.token_spans
    ts = view.token_stats  # counted by the compiled token kernel, with the same bit table
    if ts is not None:
        words, word_chars, alpha = ts
        st = {"tokens": float(len(starts)), "words": float(words), "word_chars": float(word_chars),
              "alpha_tokens": float(alpha)}
    elif len(starts) == 0:
        st = {"tokens": 0.0, "words": 0.0, "word_chars": 0.0, "alpha_tokens": 0.0}
    else:
        # one byte per character: bit 1 = word character, bit 2 = letter. OR-ing each token's
        # bytes over [start_i, start_{i+1}) is exact: the gap after a token is whitespace (0).
        bits = _WORD_ALPHA_BITS.take(view.classes)
        per_token = np.bitwise_or.reduceat(bits, starts)
        st = {
            "tokens": float(len(starts)),
            "words": float(np.count_nonzero(per_token & 1)),
            "word_chars": float(np.count_nonzero(bits & 1)),  # whitespace holds none
            "alpha_tokens": float(np.count_nonzero(per_token & 2)),
        }
    sc["st"] = st
    return st


@register("en.word_count")
class WordCount(Filter):
    """Number of (non-symbol) words in ``[min, max]`` (Gopher: 50-100,000).

    Category ``length``. Reasons: ``en.word_count.too_few`` / ``too_many``.
    """

    category: ClassVar[str] = "length"
    languages_default = EN
    causes = ("too_few", "too_many")

    class Params(StepParams):
        min: int | None = Field(50, ge=0, description="Minimum words (Gopher 50).")
        max: int | None = Field(100_000, ge=1, description="Maximum words (Gopher 100,000).")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        return {"": word_stats(view)["words"]}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return below(s, "", self.params.min, "too_few") or above(s, "", self.params.max, "too_many")


@register("en.gopher_quality")
class GopherQuality(Filter):
    """Gopher quality rules (Rae et al. 2021, Table A1; datatrove ``GopherQualityFilter``).

    Rejects when: mean word length outside [3, 10]; ``#`` per word > 0.1; ``...``/``…`` per
    word > 0.1; more than 90% of lines start with a bullet (``•``, ``-``, ``*``); more than 30%
    of lines end with an ellipsis; fewer than 80% of tokens contain a letter; fewer than 2
    distinct stop words of {the, be, to, of, and, that, have, with} (whole words, any case).
    The word-count bound lives in
    ``en.word_count`` (a length rule). Reasons: ``en.gopher_quality.<cause>`` with the causes
    listed in :attr:`causes`.
    """

    category: ClassVar[str] = "content"
    languages_default = EN
    causes = (
        "mean_word_length_too_short",
        "mean_word_length_too_long",
        "hash_ratio_too_high",
        "ellipsis_ratio_too_high",
        "bullet_lines_too_many",
        "ellipsis_lines_too_many",
        "alpha_words_too_few",
        "stop_words_too_few",
    )

    class Params(StepParams):
        min_mean_word_length: float | None = Field(3, ge=0)
        max_mean_word_length: float | None = Field(10, ge=0)
        max_hash_ratio: float | None = Field(0.1, ge=0)
        max_ellipsis_ratio: float | None = Field(0.1, ge=0)
        max_bullet_lines_ratio: float | None = Field(0.9, ge=0, le=1)
        max_ellipsis_lines_ratio: float | None = Field(0.3, ge=0, le=1)
        min_alpha_words_ratio: float | None = Field(0.8, ge=0, le=1)
        min_stop_words: int | None = Field(2, ge=0)

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        text = view.text
        ws = word_stats(view)
        nw = ws["words"]
        sp = view.spans("lines")
        if sp is not None:  # compiled line spans: the same counts without the list of lines
            nl = len(sp[0])
            bullets = view.count_beginnings("lines", _BULLETS)
            ellipses = view.count_endings("lines", _ELLIPSES)
        else:
            lines = view.lines
            nl = len(lines)
            bullets = sum(1 for ln in lines if ln.startswith(_BULLETS))
            ellipses = sum(1 for ln in lines if ln.endswith(_ELLIPSES))
        low = lower_text(view)
        return {
            "mean_word_length": ratio(ws["word_chars"], nw),
            "hash_ratio": ratio(text.count("#"), nw),
            "ellipsis_ratio": ratio(text.count("...") + text.count("…"), nw),
            "bullet_lines": ratio(bullets, nl),
            "ellipsis_lines": ratio(ellipses, nl),
            "alpha_words": ratio(ws["alpha_tokens"], ws["tokens"]),
            "stop_words": float(sum(1 for w in _STOP_WORDS if has_word(low, w))),
            "words": nw,
        }

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if s["words"] == 0:
            return Failure("alpha_words_too_few", "alpha_words", 0.0, p.min_alpha_words_ratio, "<")
        return (
            below(s, "mean_word_length", p.min_mean_word_length, "mean_word_length_too_short")
            or above(s, "mean_word_length", p.max_mean_word_length, "mean_word_length_too_long")
            or above(s, "hash_ratio", p.max_hash_ratio, "hash_ratio_too_high")
            or above(s, "ellipsis_ratio", p.max_ellipsis_ratio, "ellipsis_ratio_too_high")
            or above(s, "bullet_lines", p.max_bullet_lines_ratio, "bullet_lines_too_many")
            or above(s, "ellipsis_lines", p.max_ellipsis_lines_ratio, "ellipsis_lines_too_many")
            or below(s, "alpha_words", p.min_alpha_words_ratio, "alpha_words_too_few")
            or below(s, "stop_words", p.min_stop_words, "stop_words_too_few")
        )


_BULLETS = ("•", "-", "*")
_ELLIPSES = ("...", "…")
_PARA_SPLIT = re.compile(r"\n\n+")  # = \n{2,}, with a literal prefix re can search for


def _word_ngram_stats(view: TextView, n_values: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per n: (hash of every word n-gram, its characters with the words' lengths summed)."""
    starts, ends = view.token_spans
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    m = len(starts)
    if m == 0:
        return {n: (np.zeros(0, np.uint64), np.zeros(0, np.int64)) for n in n_values}
    wh = span_hashes(view.cps, starts, ends)
    hs = window_hashes(wh, max(n_values))
    csum = np.concatenate(([0], np.cumsum(ends - starts)))
    for n in n_values:
        if m < n:
            out[n] = (np.zeros(0, np.uint64), np.zeros(0, np.int64))
        else:
            out[n] = (hs[n - 1], csum[n:] - csum[:-n])
    return out


@register("en.gopher_repetition")
class GopherRepetition(Filter):
    """Gopher repetition rules (Rae et al. 2021, Table A1; datatrove ``GopherRepetitionFilter``).

    Paragraphs split on ``\\n{2,}``, lines on ``\\n+``; duplicates are repeat occurrences after
    the first; character fractions divide by ``len(text)``. Rejects when the duplicate
    paragraph fraction > 0.30 (characters > 0.20), duplicate line fraction > 0.30 (characters >
    0.20), the most frequent word 2/3/4-gram covers > 0.20 / 0.18 / 0.16 of the characters, or
    repeated word 5..10-grams cover > 0.15 .. 0.10 of the characters (scanning left to right,
    skipping n words after each repeat, as datatrove does). Reasons:
    ``en.gopher_repetition.<cause>``.
    """

    category: ClassVar[str] = "repetition"
    languages_default = EN
    causes = (
        "dup_paragraphs_too_many",
        "dup_paragraph_chars_too_many",
        "dup_lines_too_many",
        "dup_line_chars_too_many",
        *(f"top{n}gram_too_high" for n in (2, 3, 4)),
        *(f"dup{n}gram_too_high" for n in range(5, 11)),
    )

    class Params(StepParams):
        max_dup_paragraphs: float | None = Field(0.30, ge=0, le=1)
        max_dup_paragraph_chars: float | None = Field(0.20, ge=0, le=1)
        max_dup_lines: float | None = Field(0.30, ge=0, le=1)
        max_dup_line_chars: float | None = Field(0.20, ge=0, le=1)
        max_top_ngram: dict[int, float] = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
        max_dup_ngram: dict[int, float] = Field(
            default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
        )

        @field_validator("max_top_ngram", "max_dup_ngram")
        @classmethod
        def _check(cls, v: dict[int, float]) -> dict[int, float]:
            for n, x in v.items():
                if not 1 <= n <= 20 or not 0 <= x <= 1:
                    raise ValueError(f"n must be 1..20 and the value in [0, 1], got {n}: {x}")
            return v

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        text = view.text
        n = len(text)
        p = self.params
        stripped = text.strip()
        if "\n\n" in stripped:
            paras = [x for x in _PARA_SPLIT.split(stripped) if x.strip()]
        else:  # one paragraph (always so after en.c4_lines, which joins lines with one newline)
            paras = [stripped] if stripped else []
        np_, pdup, _, pdupc = dup_counts(paras)
        if view.spans("lines") is not None:  # compiled: the same counts
            nl, ldup, _, ldupc, _ = view.span_summary("lines")
        else:
            nl, ldup, _, ldupc = dup_counts(view.lines)
        out: dict[str, float] = {
            "dup_paragraphs": ratio(pdup, np_),
            "dup_paragraph_chars": ratio(pdupc, n),
            "dup_lines": ratio(ldup, nl),
            "dup_line_chars": ratio(ldupc, n),
        }
        ns = sorted(set(p.max_top_ngram) | set(p.max_dup_ngram))
        kern = kernels.get()
        if kern is not None and ns:
            self._measure_ngrams_compiled(kern, view, out)
            return out
        stats = _word_ngram_stats(view, ns) if ns else {}
        for k in sorted(p.max_top_ngram):
            h, chars = stats[k]
            if len(h) == 0:
                out[f"top{k}gram"] = 0.0
                continue
            sh = np.sort(h)
            runs = run_lengths_sorted(sh)
            best = int(runs.max())
            ends = np.cumsum(runs)
            top_values = sh[ends[runs == best] - 1]
            # the longest of the most frequent n-grams (characters, words joined by spaces)
            if best == 1:
                length = int(chars.max()) + (k - 1)
            elif len(top_values) <= 8:
                mask = h == top_values[0]
                for v in top_values[1:]:
                    mask |= h == v
                length = int(chars[mask].max()) + (k - 1)
            else:
                length = int(chars[np.isin(h, top_values)].max()) + (k - 1)
            out[f"top{k}gram"] = ratio(best * length, n)
        dup_ns = sorted(p.max_dup_ngram)
        if dup_ns:
            cand: np.ndarray | None = None
            for k in dup_ns:
                h, chars = stats[k]
                total, cand = self._dup_chars(h, chars, k, cand)
                out[f"dup{k}gram"] = ratio(total, n)
        return out

    def _measure_ngrams_compiled(self, kern: Any, view: TextView, out: dict[str, float]) -> None:
        """The word n-gram signals from one compiled kernel: the same hashes
        (:func:`_word_ngram_stats`), the same most-frequent n-grams and the same left-to-right
        repeat scan as the numpy code below, so the same integers and the same ratios."""
        p = self.params
        n = view.n_chars
        # contiguous copies: one compiled specialisation whatever the token count
        starts, ends = view.token_spans
        m = len(starts)
        top_ns = sorted(p.max_top_ngram)
        dup_ns = sorted(p.max_dup_ngram)
        inv, fwd = _powers(len(view.cps))
        best, length, dup = kern.gopher_ngrams(
            view.cps, np.ascontiguousarray(starts), np.ascontiguousarray(ends), inv, fwd, np.array(top_ns, dtype=np.int64), np.array(dup_ns, dtype=np.int64)
        )
        best_l, length_l, dup_l = best.tolist(), length.tolist(), dup.tolist()
        for i, k in enumerate(top_ns):
            out[f"top{k}gram"] = ratio(best_l[i] * (length_l[i] + (k - 1)), n) if m >= k else 0.0
        for i, k in enumerate(dup_ns):
            out[f"dup{k}gram"] = ratio(dup_l[i], n)

    @staticmethod
    def _dup_chars(
        h: np.ndarray, chars: np.ndarray, k: int, cand: np.ndarray | None
    ) -> tuple[int, np.ndarray]:
        """Characters of repeated n-grams, left to right, skipping k words after each repeat.

        A window is a repeat when the same n-gram occurred at an earlier position (datatrove
        only remembers n-grams it did not skip; the difference is negligible). ``cand`` are the
        positions whose shorter n-gram occurs more than once: only they can hold a repeated
        longer n-gram, so each further n sorts a small subset. Returns the characters and the
        candidates for the next n.
        """
        m = len(h)
        if m < 2:
            return 0, np.zeros(0, dtype=np.int64)
        pos = np.arange(m) if cand is None else cand[cand < m]
        if len(pos) < 2:
            return 0, pos[:0]
        sub = h[pos]
        if cand is None:
            s = np.sort(sub)
            if not (s[1:] == s[:-1]).any():  # no n-gram occurs twice (most documents)
                return 0, pos[:0]
        order = np.argsort(sub, kind="stable")
        sh = sub[order]
        same_prev = np.zeros(len(sh), dtype=bool)
        same_prev[1:] = sh[1:] == sh[:-1]
        same_next = np.zeros(len(sh), dtype=bool)
        same_next[:-1] = same_prev[1:]
        in_dup_group = np.sort(pos[order[same_prev | same_next]])
        repeats = np.sort(pos[order[same_prev]]).tolist()
        total = 0
        nxt = -1
        for i in repeats:
            if i >= nxt:
                total += int(chars[i])
                nxt = i + k
        return total, in_dup_group

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        f = (
            above(s, "dup_paragraphs", p.max_dup_paragraphs, "dup_paragraphs_too_many")
            or above(s, "dup_paragraph_chars", p.max_dup_paragraph_chars, "dup_paragraph_chars_too_many")
            or above(s, "dup_lines", p.max_dup_lines, "dup_lines_too_many")
            or above(s, "dup_line_chars", p.max_dup_line_chars, "dup_line_chars_too_many")
        )
        if f:
            return f
        for k, x in sorted(p.max_top_ngram.items()):
            f = above(s, f"top{k}gram", x, f"top{k}gram_too_high")
            if f:
                return f
        for k, x in sorted(p.max_dup_ngram.items()):
            f = above(s, f"dup{k}gram", x, f"dup{k}gram_too_high")
            if f:
                return f
        return None


_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
# [.!?]+ written as [.!?][.!?]*: the same matches, and re skips to the first character fast
_SENT_END = re.compile(r"[.!?][.!?]*[\"')\]]*(?=\s|$)")


def count_sentences(text: str) -> int:
    """Rough English sentence count: sentence-final punctuation (plus an unterminated tail)."""
    ends = list(_SENT_END.finditer(text))
    tail = text[ends[-1].end() :].strip() if ends else text.strip()
    return len(ends) + (1 if tail else 0)


@register("en.c4_lines")
class C4Lines(Transform):
    """C4 line cleaning with document-level drops (Raffel et al. 2020; datatrove
    ``C4QualityFilter``; FineWeb uses ``filter_no_terminal_punct=False``).

    Per stripped line, in order: drop it if a word is longer than 1000 characters; remove
    ``[1]``/``[edit]``/``[citation needed]``; (optionally) drop it unless it ends in
    ``. ? ! " '`` (and not ``...``); drop it if it has fewer than 3 words; **reject** the
    document on ``lorem ipsum``; drop it if it mentions ``javascript``; **reject** the document
    on ``{``; drop it on a cookie/privacy/terms phrase. Finally reject when fewer than 5
    sentences remain. Kept lines are re-joined with ``\\n``. Reasons:
    ``en.c4_lines.lorem_ipsum``, ``curly_bracket``, ``too_few_sentences``. Signals:
    ``.removed_lines``, ``.removed_chars``, ``.sentences``.
    """

    languages_default = EN
    causes = ("lorem_ipsum", "curly_bracket", "too_few_sentences")

    class Params(StepParams):
        max_word_length: int = Field(1000, ge=1)
        remove_citations: bool = True
        filter_no_terminal_punct: bool = Field(False, description="C4 True; FineWeb False.")
        min_words_per_line: int = Field(3, ge=0)
        reject_lorem_ipsum: bool = True
        drop_javascript_lines: bool = True
        reject_curly_bracket: bool = True
        drop_policy_lines: bool = True
        min_sentences: int = Field(5, ge=0)

    params: Params  # the validated parameters of this rule

    def transform(self, view: TextView) -> tuple[str | None, dict[str, float], Failure | None]:
        p = self.params
        text = view.text
        low_text = lower_text(view)
        # whole-text pre-checks: most documents need none of the per-line substring tests
        check_lorem = p.reject_lorem_ipsum and "lorem ipsum" in low_text
        check_js = p.drop_javascript_lines and "javascript" in low_text
        check_curly = p.reject_curly_bracket and "{" in text
        check_policy = p.drop_policy_lines and any(x in low_text for x in _POLICY)
        check_cite = p.remove_citations and "[" in text
        max_wl = p.max_word_length
        min_words = p.min_words_per_line
        kept: list[str] = []
        removed = 0
        fail: Failure | None = None
        for raw in view.raw_lines:
            line = raw.strip()
            if not line:
                continue
            if len(line) > max_wl and any(len(w) > max_wl for w in line.split()):
                removed += 1
                continue
            if check_cite and "[" in line:
                line = _CITATION.sub("", line)
            if p.filter_no_terminal_punct and (not line.endswith((".", "?", "!", '"', "'")) or line.endswith("...")):
                removed += 1
                continue
            if min_words and len(line.split(None, min_words)) < min_words:  # fewer words than min_words
                removed += 1
                continue
            if check_lorem or check_js or check_policy:
                low = line.lower()
                if check_lorem and "lorem ipsum" in low:
                    fail = Failure("lorem_ipsum", "", 1.0, "lorem ipsum", "is")
                    break
                if check_js and "javascript" in low:
                    removed += 1
                    continue
            if check_curly and "{" in line:
                fail = Failure("curly_bracket", "", 1.0, "{", "is")
                break
            if check_policy and any(x in low for x in _POLICY):
                removed += 1
                continue
            kept.append(line)
        new = "\n".join(kept)
        sents = float(count_sentences(new))
        sig = {"removed_lines": float(removed), "removed_chars": float(view.n_chars - len(new)), "sentences": sents}
        if fail is None and sents < p.min_sentences:
            fail = Failure("too_few_sentences", "sentences", sents, p.min_sentences, "<")
        return (new if new != text else None), sig, fail


@register("en.c4_paragraph")
class C4Paragraph(Filter):
    """mC4 paragraph rule (datatrove ``C4ParagraphFilter``): at least 3 lines and the 3 longest
    lines each at least 200 characters. Reason: ``en.c4_paragraph.too_few_long_lines``."""

    category: ClassVar[str] = "content"
    languages_default = EN
    causes = ("too_few_long_lines",)

    class Params(StepParams):
        min_lines: int = Field(3, ge=1)
        min_line_chars: int = Field(200, ge=1)

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        lens = sorted((len(x) for x in view.lines), reverse=True)
        k = self.params.min_lines
        return {"": float(lens[k - 1]) if len(lens) >= k else 0.0}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return below(s, "", self.params.min_line_chars, "too_few_long_lines")


# Sentence-final punctuation in many scripts (FineWeb's TERMINAL_PUNCTUATION set is similar;
# like it, closing quotes and ellipses are not terminal).
TERMINAL_PUNCTUATION = tuple(
    ".!?。！？．｡؟۔։።፧᙮᠃᠉‼‽⁇⁈⁉⸮꓿꘎꘏꛳꛷﹒﹖﹗।॥၊။෴๚๛༈༎༏༐༑༒၍၎၏።፨;"
)
# every entry is one character, so ``line.endswith(TERMINAL_PUNCTUATION)`` is ``line[-1] in`` this
_TERMINAL_CHARS = frozenset(TERMINAL_PUNCTUATION)


@register("en.fineweb_quality")
class FineWebQuality(Filter):
    """FineWeb quality rules (Penedo et al. 2024; datatrove ``FineWebQualityFilter``).

    Non-empty lines; rejects when fewer than 12% end with terminal punctuation, more than 67%
    are at most 30 characters, characters in duplicated lines exceed 1% of the text (without
    newlines; 0.1 in FineWeb-2 and the write-up, 0.01 as coded for FineWeb EN), or newlines
    per word exceed 0.3. Reasons: ``en.fineweb_quality.line_punct_too_low``,
    ``short_lines_too_many``, ``dup_line_chars_too_high``, ``list_ratio_too_high``.
    """

    category: ClassVar[str] = "content"
    languages_default = EN
    causes = ("line_punct_too_low", "short_lines_too_many", "dup_line_chars_too_high", "list_ratio_too_high")

    class Params(StepParams):
        min_line_punct_ratio: float | None = Field(0.12, ge=0, le=1)
        line_punct_exclude_zero: bool = Field(False, description="Do not reject on a ratio of exactly 0.")
        max_short_line_ratio: float | None = Field(0.67, ge=0, le=1)
        short_line_chars: int = Field(30, ge=1)
        max_char_dup_ratio: float | None = Field(0.01, ge=0, le=1)
        max_list_ratio: float | None = Field(0.3, ge=0)

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        k = self.params.short_line_chars
        sp = view.spans("lines")
        if sp is not None:  # compiled line spans: the same counts without the list of lines
            nl, _, _, dupc, _ = view.span_summary("lines")
            punct = view.count_endings("lines", TERMINAL_PUNCTUATION)
            short = int(np.count_nonzero((sp[1] - sp[0]) <= k))
        else:
            lines = view.lines
            nl = len(lines)
            _, _, _, dupc = dup_counts(lines)
            term = _TERMINAL_CHARS
            # lines are stripped and non-empty: ln[-1] exists
            punct = sum(1 for ln in lines if ln[-1] in term)
            short = sum(1 for ln in lines if len(ln) <= k)
        newlines = view.text.count("\n")
        no_nl = view.n_chars - newlines
        return {
            "line_punct": ratio(punct, nl),
            "short_lines": ratio(short, nl),
            "dup_line_chars": ratio(dupc, no_nl),
            # tokens of str.split() (the whitespace classes are exactly str.isspace)
            "list_ratio": ratio(newlines, len(view.token_spans[0])),
        }

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        f = None
        if not (p.line_punct_exclude_zero and s["line_punct"] == 0):
            f = below(s, "line_punct", p.min_line_punct_ratio, "line_punct_too_low")
        return (
            f
            or above(s, "short_lines", p.max_short_line_ratio, "short_lines_too_many")
            or above(s, "dup_line_chars", p.max_char_dup_ratio, "dup_line_chars_too_high")
            or above(s, "list_ratio", p.max_list_ratio, "list_ratio_too_high")
        )


class _EnNgParams(StepParams):
    wordlist: str = Field("pkg:resources/ngwords/hojichar/adult_keywords_en.txt", description="Word list.")
    max_count: int = Field(3, ge=0, description="Reject only with more matches than this (HojiChar: any match).")
    max_per_1000_chars: float | None = Field(
        2.0, ge=0, description="... and more matches per 1,000 characters than this (None: the count "
        "alone decides). 2.0: the 99.5th percentile on clean C4 English (1.56) rounded up."
    )
    count: str = Field("total", pattern="^(total|unique)$")
    context_words: str | None = Field(
        None, description="Entries that are not adult content on their own (sex, breast, shit, AV): they count "
        "only when the document also has an entry that is not in this file (pkg: paths allowed). None: all count.",
    )


@register("en.ng_words")
class EnNgWords(KeywordUser, Filter):
    """More than ``max_count`` NG-word matches (HojiChar ``NgWordsFilterEn`` / ``DiscardAdultContentEn``
    list of 111 words, Apache-2.0), case-insensitive, whole words only (HojiChar: preceded by
    line start or space, followed by space ``,`` ``.`` or end; here: no letter or digit on
    either side). HojiChar rejects on any match; single medical or news uses (``breast``,
    ``sexual``) are common, and a long film review or news story says "sex" more often than a
    short one, so the rule is per length: a document is dropped when it has more than
    ``max_count`` matches **and** more than ``max_per_1000_chars`` matches per 1,000
    characters. Kept: a 5,000-character review that says "sex" five times (1.0 per 1,000);
    dropped: a 600-character page with six adult keywords (10 per 1,000). The density limit
    2.0 is the 99.5th percentile of the density on the C4 English sample (Raffel et al. 2020,
    ODC-BY; measured 1.56), rounded up, so that about 0.5% of clean web pages reach it and far
    fewer also pass the count. ``context_words``: entries that are not adult content on their
    own — the neutral words of sex education and criticism (sex, sexual, nude), anatomy
    (breast, rectum), profanity (shit, bitch) and words with another sense (AV, piston, vibes) —
    count only when the document also has an entry of the vocabulary of pornography; a review
    of a film "about sex and death" that says sex five times in 1,500 characters is kept.
    Signals: ``en.ng_words`` (matches), ``.per_1000_chars``, ``.word.<keyword>`` (counts, shown
    by ``corpusflow inspect``). Reason: ``en.ng_words.too_many``.
    """

    category: ClassVar[str] = "ngword"
    languages_default = EN
    causes = ("too_many",)
    Params = _EnNgParams
    params: _EnNgParams  # the validated parameters of this rule

    def __init__(self, params: Any = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        self.ignore_case = True
        self.fold_width = True
        self._key = f"{self.params.wordlist}|k0w1"
        self._context: frozenset[str] = frozenset()

    def keyword_lists(self) -> list[tuple[str, list[str], bool, bool]]:
        words = [w.replace("\\/", "/") for w in load_wordlist(self.params.wordlist)]
        return [(self._key, words, False, True)]

    def setup(self) -> None:
        self.ensure_index()
        p = self.params
        self._context = frozenset(w.lower() for w in load_wordlist(p.context_words)) if p.context_words else frozenset()

    def measure(self, view: TextView) -> dict[str, float]:
        hits = self.hits(view, self._key)
        ctx = self._context
        if ctx and hits and all(h.word.lower() in ctx for h in hits):
            hits = []  # only words with an ordinary sense: nothing counts
        counted = non_overlapping(hits)
        if self.params.count == "unique":
            n = float(len({h.word.lower() for h in hits}))
        else:
            n = float(len(counted))
        out = {"": n, "per_1000_chars": 1000.0 * n / max(view.n_chars, 1)}
        for h in counted:  # the matched words, for inspect: "word.<keyword>" = count
            k = "word." + h.word.lower()
            out[k] = out.get(k, 0.0) + 1.0
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        f = above(s, "", p.max_count, "too_many")
        if f is None or p.max_per_1000_chars is None:
            return f
        return above(s, "per_1000_chars", p.max_per_1000_chars, "too_many")


