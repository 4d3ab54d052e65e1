"""Language-independent rules: emptiness, length, compression, character repetition, URL.

Sources are cited on each class; thresholds in the docstrings are the defaults of the source,
profiles under ``corpusflow/filters/profiles/`` say which values they use and why.
"""

from __future__ import annotations

import functools
import math
import re
import zlib
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlsplit

import numpy as np
from pydantic import Field, field_validator

from corpusflow.filters import kernels
from corpusflow.filters.base import Failure, Filter, StepParams, above, at_least, below, ratio, register
from corpusflow.filters.text import (
    C_EMOJI,
    C_KUTEN,
    C_NEWLINE,
    C_SPACE,
    C_SYMBOL,
    C_TOTEN,
    JA_VERSE_MAX_MEAN_LINE,
    TextView,
    ja_verse_line_share,
)


@register("text.not_empty")
class NotEmpty(Filter):
    """Drops documents whose text is empty or whitespace only (llm-jp ``is_not_empty``).

    Reason: ``text.not_empty.empty``. Signal: ``text.not_empty`` = non-space characters.
    """

    category: ClassVar[str] = "length"
    causes = ("empty",)

    def measure(self, view: TextView) -> dict[str, float]:
        cc = view.class_counts
        return {"": float(view.n_chars - int(cc[C_SPACE]) - int(cc[C_NEWLINE]))}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return Failure("empty", "", s[""], 1, "<") if s[""] < 1 else None


@register("text.length")
class Length(Filter):
    """Character count in ``[min_chars, max_chars]`` (Swallow ``num_letters`` >= 400; HojiChar
    ``DocumentLengthFilter`` suggests 200-50,000; uzushio's final level 200).

    ``len(text)`` counts every character, whitespace and newlines included, as Swallow does.

    ``verse_min_chars``: Japanese verse — 4 or more lines of at most 20 characters on average, at
    least half of them ending in hiragana, 、, … or a dash — needs only this many characters.
    Poems are short by nature (a four-line poem of Hagiwara Sakutarō is 57 characters once the
    Aozora cleaner has removed its notation header and bibliographic footer); menus and keyword
    lists end their lines in nouns and are still held to ``min_chars``. Reasons: ``text.length.too_short``, ``text.length.too_long``.
    """

    category: ClassVar[str] = "length"
    causes = ("too_short", "too_long")

    class Params(StepParams):
        min_chars: int | None = Field(400, ge=0, description="Minimum characters (None: no minimum).")
        max_chars: int | None = Field(None, ge=1, description="Maximum characters (None: no maximum).")
        verse_min_chars: int | None = Field(
            None, ge=0, description="Minimum characters of Japanese verse (4+ short lines, half ending in hiragana, "
            "、, … or a dash). None: verse is held to min_chars.",
        )

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        out = {"": float(view.n_chars)}
        p = self.params
        if p.verse_min_chars is not None and p.min_chars is not None and view.n_chars < p.min_chars:
            lines = view.lines
            verse = (
                len(lines) >= 4
                and sum(map(len, lines)) <= JA_VERSE_MAX_MEAN_LINE * len(lines)
                and ja_verse_line_share(lines) >= 0.5
            )
            out["verse"] = 1.0 if verse else 0.0
        return out

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        lo = p.verse_min_chars if s.get("verse", 0.0) else p.min_chars
        return below(s, "", lo, "too_short") or above(s, "", p.max_chars, "too_long")


@register("text.compression_ratio")
class CompressionRatio(Filter):
    """zlib compressed / raw UTF-8 size in ``[min, max]`` (llm-jp-corpus
    ``has_good_compression_ratio``, PR #32: level 9, 0.30-0.70, strict minimum 0.375).

    A low ratio means repetitive boilerplate; a high one random strings. Short texts compress
    badly whatever their quality (a 700-byte Japanese snippet is ~0.7), so ``min_bytes`` can
    restrict the rule to texts long enough for the ratio to mean something (0 = always, as in
    llm-jp). Reasons: ``text.compression_ratio.too_low`` / ``too_high``.
    """

    category: ClassVar[str] = "repetition"
    causes = ("too_low", "too_high")

    class Params(StepParams):
        min: float | None = Field(0.30, ge=0, le=2, description="Minimum ratio (llm-jp 0.30; strict 0.375).")
        max: float | None = Field(0.70, ge=0, le=2, description="Maximum ratio (llm-jp 0.70).")
        level: int = Field(9, ge=1, le=9, description="zlib level (llm-jp 9).")
        min_bytes: int = Field(0, ge=0, description="Only judge texts of at least this many UTF-8 bytes.")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        raw = view.text.encode("utf-8", "surrogatepass")
        if not raw:
            return {"": 0.0, "bytes": 0.0}
        return {"": len(zlib.compress(raw, self.params.level)) / len(raw), "bytes": float(len(raw))}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if s["bytes"] == 0 or s["bytes"] < p.min_bytes:
            return None
        return below(s, "", p.min, "too_low") or above(s, "", p.max, "too_high")


@register("text.single_char_repetition")
class SingleCharRepetition(Filter):
    """Longest run of one repeated character below ``max_run`` (HojiChar
    ``SingleCharacterRepetitionFilter``, 200; BigScience found documents of 2M backslashes).

    Reason: ``text.single_char_repetition.too_long`` (run >= max_run, HojiChar's ``>=``).
    """

    category: ClassVar[str] = "repetition"
    causes = ("too_long",)

    class Params(StepParams):
        max_run: int = Field(200, ge=2, description="Reject when a character repeats this many times in a row.")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        a = view.cps
        if len(a) == 0:
            return {"": 0.0}
        kern = kernels.get()
        if kern is not None:  # the same maximum, in one compiled pass
            return {"": float(kern.longest_run(a))}
        change = (a[1:] != a[:-1]).nonzero()[0]
        if len(change) == 0:
            return {"": float(len(a))}
        # runs: change[0] + 1 characters, the gaps between changes, and the tail after the last
        longest = max(int(change[0]) + 1, len(a) - 1 - int(change[-1]))
        if len(change) > 1:
            longest = max(longest, int((change[1:] - change[:-1]).max()))
        return {"": float(longest)}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return at_least(s, "", self.params.max_run, "too_long")


@functools.cache
def _symbol_runs(k: int) -> re.Pattern[str]:
    """Runs of ``k`` or more of one character that is neither a word character nor a space."""
    return re.compile(rf"([^\w\s])\1{{{k - 1},}}")


@register("text.special_char_fraction")
class SpecialCharFraction(Filter):
    """Share of punctuation, whitespace, symbols and emoji at most ``max`` (HojiChar
    ``DiscardTooManySpecialToken`` after BigScience, 0.4; digits are not special).

    Classes come from :mod:`corpusflow.filters.text` (symbols, 。、！？, spaces, newlines,
    pictographs) rather than HojiChar's hand list + the ``emoji`` package.

    ``rule_line_run``: a run of one symbol at least this long (a rule line, ``-----`` or
    ``＝＝＝＝``) counts as one character, as it is one separator: the two 55-hyphen lines around
    the notation notes of every Aozora Bunko file were a third of a short poem (11 of 758 works
    were dropped for them). Judged only when the plain share is above ``max``.
    Reason: ``text.special_char_fraction.too_high``.
    """

    category: ClassVar[str] = "composition"
    causes = ("too_high",)

    class Params(StepParams):
        max: float = Field(0.4, ge=0, le=1, description="Maximum share of special characters (HojiChar 0.4).")
        rule_line_run: int | None = Field(
            None, ge=2, description="A run of one symbol this long or longer counts as one character (None: HojiChar)."
        )

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        n = view.count(C_SYMBOL, C_KUTEN, C_TOTEN, C_SPACE, C_NEWLINE, C_EMOJI)
        share = ratio(n, view.n_chars)
        k = self.params.rule_line_run
        if k is not None and share > self.params.max:
            extra = sum(len(m.group()) - 1 for m in _symbol_runs(k).finditer(view.text))
            share = ratio(max(n - extra, 0), view.n_chars - extra)
        return {"": share}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return above(s, "", self.params.max, "too_high")


@register("text.short_lines")
class ShortLines(Filter):
    """Share of non-empty lines with at most ``max_line_chars`` characters at most ``max``
    (HojiChar ``DiscardTooShortLines``: 10 characters, 0.5; catches menus and breadcrumbs).

    Unlike HojiChar, blank lines are not counted (docs/design.md#pitfalls, pitfall 4). Documents with
    fewer than ``min_lines`` lines are not judged (a one-line snippet is not a menu).
    Reason: ``text.short_lines.too_many``.
    """

    category: ClassVar[str] = "content"
    causes = ("too_many",)

    class Params(StepParams):
        max_line_chars: int = Field(10, ge=1, description="A line this short or shorter is 'short' (HojiChar 10).")
        max: float = Field(0.5, ge=0, le=1, description="Maximum share of short lines (HojiChar 0.5).")
        min_lines: int = Field(1, ge=1, description="Only judge documents with at least this many lines.")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        k = self.params.max_line_chars
        sp = view.spans("lines")
        if sp is not None:  # compiled line spans: the same lengths
            n = len(sp[0])
            short = int(np.count_nonzero((sp[1] - sp[0]) <= k))
            return {"": ratio(short, n), "lines": float(n)}
        lines = view.lines
        short = sum(1 for ln in lines if len(ln) <= k)
        return {"": ratio(short, len(lines)), "lines": float(len(lines))}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        if s["lines"] < self.params.min_lines:
            return None
        return above(s, "", self.params.max, "too_many")


@register("text.ending_ellipsis")
class EndingEllipsis(Filter):
    """Share of non-empty lines ending in ``...`` or ``…`` at most ``max`` (HojiChar
    ``DiscardTooManyEndingEllipsis`` 0.7, ~0.1% of C4; RedPajama v2; Gopher uses 0.3).

    Catches SEO pages made of truncated snippets. Blank lines are not counted and the last
    line counts even without a final newline (HojiChar misses it).
    Reason: ``text.ending_ellipsis.too_many``.
    """

    category: ClassVar[str] = "content"
    causes = ("too_many",)

    class Params(StepParams):
        max: float = Field(0.7, ge=0, le=1, description="Maximum share of lines ending with an ellipsis.")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        sp = view.spans("lines")
        if sp is not None:
            return {"": ratio(view.count_endings("lines", ("...", "…")), len(sp[0]))}
        lines = view.lines
        e = sum(1 for ln in lines if ln.endswith(("...", "…")))
        return {"": ratio(e, len(lines))}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return above(s, "", self.params.max, "too_many")


@register("text.char_repetition")
class CharRepetition(Filter):
    """BigScience character-repetition ratio at most ``max`` (HojiChar
    ``CharRepetitionRatioFilter``: n=5, reject if >= 0.33).

    Ratio = occurrences of the k most frequent character n-grams / all n-gram occurrences,
    k = min(floor(sqrt(#distinct)), #distinct occurring more than once). Effective against
    noun-list advertising; HojiChar warns it also catches BBS pages (pitfall 9).
    Reason: ``text.char_repetition.too_high``.
    """

    category: ClassVar[str] = "repetition"
    causes = ("too_high",)

    class Params(StepParams):
        n: int = Field(5, ge=1, le=10, description="Character n-gram size (HojiChar 5).")
        max: float = Field(0.33, ge=0, le=1, description="Reject when the ratio is >= this (HojiChar 0.33).")

    params: Params  # the validated parameters of this rule

    def measure(self, view: TextView) -> dict[str, float]:
        kern = kernels.get()
        if kern is not None:
            # compiled: the same n-gram hashes, sorted and counted in one pass; windows, distinct
            # n-grams and the repeated n-grams' counts (largest first) give the same ratio
            windows, distinct, repeated_desc = kern.char_repetition_counts(view.cps, self.params.n)
            if windows == 0:
                return {"": 0.0}
            k = min(int(math.sqrt(distinct)), len(repeated_desc))
            if k <= 0:
                return {"": 0.0}
            return {"": float(int(repeated_desc[:k].sum())) / float(windows)}
        runs = view.ngram_runs(self.params.n)
        if len(runs) == 0:
            return {"": 0.0}
        # every n-gram seen more than once outranks every single one, and k never exceeds their
        # number, so the k largest counts are the k largest of the (few) repeated ones
        repeated = runs[runs > 1]
        k = min(int(math.sqrt(len(runs))), len(repeated))  # math.sqrt == np.sqrt (IEEE, rounded)
        if k <= 0:
            return {"": 0.0}
        if k < len(repeated):
            repeated = np.partition(repeated, len(repeated) - k)[len(repeated) - k :]
        # the run lengths add up to the number of n-gram windows
        return {"": float(repeated.sum()) / float(len(view.hashes(self.params.n)))}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        return at_least(s, "", self.params.max, "too_high")


LLMJP_TLDS = ("biz", "cc", "com", "info", "jp", "me", "net", "org", "site", "tokyo", "tv", "work", "xyz")


@register("url.tld_whitelist")
class TldWhitelist(Filter):
    """Keep only URLs whose top-level domain is whitelisted (llm-jp-corpus ``has_valid_domain``
    with ``scripts/dict/ja_valid_domains.txt``: 13 TLDs; ``https://ja.wikipedia.org/`` rejected
    because Wikipedia is added separately).

    Off in every shipped profile: GENIAC found it removes 2% of Japanese CC, much of it usable
    (docs/design.md#pitfalls, pitfall 3). Documents without a URL are kept (``missing_url: keep``).
    Reasons: ``url.tld_whitelist.tld_not_allowed``, ``url.tld_whitelist.excluded_prefix``,
    ``url.tld_whitelist.missing_url``. Signal ``url.tld_whitelist`` = 1 when allowed.
    """

    category: ClassVar[str] = "url"
    causes = ("tld_not_allowed", "excluded_prefix", "missing_url")

    class Params(StepParams):
        allowed_tlds: list[str] = Field(default_factory=lambda: list(LLMJP_TLDS), min_length=1)
        excluded_prefixes: list[str] = Field(default_factory=lambda: ["https://ja.wikipedia.org/"])
        missing_url: str = Field("keep", pattern="^(keep|reject)$", description="keep or reject URL-less docs.")

        @field_validator("allowed_tlds")
        @classmethod
        def _lower(cls, v: list[str]) -> list[str]:
            return [t.lower().lstrip(".") for t in v]

    params: Params  # the validated parameters of this rule

    def setup(self) -> None:
        self._allowed = frozenset(self.params.allowed_tlds)

    def measure(self, view: TextView) -> dict[str, float]:
        url = view.doc.url if view.doc is not None else None
        if not url:
            return {"": -1.0}
        if any(url.startswith(p) for p in self.params.excluded_prefixes):
            return {"": -2.0}
        allowed = getattr(self, "_allowed", None)
        if allowed is None:
            self.setup()
            allowed = self._allowed
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")
        except ValueError:
            host = ""
        tld = host.rsplit(".", 1)[-1].lower() if host else ""
        return {"": 1.0 if tld in allowed else 0.0}

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        v = s[""]
        if v == -1.0:
            return Failure("missing_url", "", v, "url", "is") if self.params.missing_url == "reject" else None
        if v == -2.0:
            return Failure("excluded_prefix", "", v, "prefix", "is")
        return Failure("tld_not_allowed", "", v, 1, "<") if v < 1 else None
