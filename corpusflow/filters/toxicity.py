"""English hate speech: a slur lexicon matched on word boundaries through common obfuscations.

Rule ``en.toxicity`` (category ``ngword``). The lexicon (``wordlists/slurs_en.tsv``) is a
selection of Surge AI's *The Obscenity List* (``profanity_en.csv``, MIT licence): the racial /
ethnic, sexual-orientation / gender and disability slurs rated at least 2 on its 1-3 severity
scale, without surface forms that are also ordinary words (``wordlists/README.md`` says how it
was selected; ``wordlists/make_slurs_en.py`` rebuilds it).

What is matched (:func:`find_slurs`): the text is lower-cased and folded to ASCII look-alikes
(full-width forms, NFKC), then

* **l33t**: ``0 1 3 4 5 7 8 @ $`` read as ``o i e a s t b a s`` (and ``! | +`` between letters
  as ``i i t``), so ``n1gg3r`` and ``k!ke`` match;
* **repeated letters**: runs of three or more of one letter count as two (``faggggot``);
* **misspelt last syllable**: in a one-word slur of six or more letters, the single vowel
  before the final consonants may be any vowel (``faggit``, ``niggur``; :func:`_vowel_variants`,
  none of them an English word of the C4, ABC or Common Crawl samples);
* **asterisks**: ``*`` after the first letter stands for one or two letters; a masked word
  matches when exactly one lexicon entry fits it and at least three letters are visible
  (``n*gger``, ``f*ggot``; ``f***`` and ``f*g`` match nothing; ``_`` and ``#`` are not masks,
  so identifiers such as ``T_D`` never match);
* **spacing**: in a run of three or more single letters separated by spaces, dots, hyphens
  or underscores, listed words spelled out are found (``you're a n i g g e r``, ``k.i.k.e``);
* **word boundaries**: a match is a whole token (letters after folding) or a whole phrase of
  tokens (a phrase also written as one word: ``porchmonkey``); a plural ``s`` or ``z`` is
  accepted. ``Niger``, ``spicy``, ``Japan``, ``cockatoo``, ``Scunthorpe`` never match.

Decision (:class:`Toxicity`): matches are weighted (1, or 0.5 for forms that are also an
ordinary word, brand, sound or verb: ``fag`` bearings, whale "wops", "mentally retarded" in a
2005 news story; an ambiguous form counts 1 when one of the two words before it on its line
is a derogatory adjective or the addressee, :data:`INSULT_FRAME`: "dumb spic", "you tard", and 0
when it is written as a name, capitalised in mid-sentence: "the island of Lesbos", "a Maine
Coon"); a document is dropped when the weighted count reaches ``min_matches``
(default 1) **and** exceeds ``max_per_1000_chars`` per 1,000 characters (default 0: any slur;
one ambiguous form alone is not enough). Dropping any page that contains a listed word is the rule of the C4
"bad words" filter (Raffel et al. 2020, *Exploring the Limits of Transfer Learning*, §2.2) and
of HojiChar's ``NgWordsFilterEn``; here it is restricted to slurs, so medical, news and
film-criticism vocabulary is left to the per-length content-word rule ``en.ng_words``.
Signals: ``en.toxicity`` (weighted matches), ``.per_1000_chars``, ``.distinct``. Reason:
``en.toxicity.slurs``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import Field

from corpusflow.core.paths import resolve_path
from corpusflow.filters.base import Failure, Filter, StepParams, register
from corpusflow.filters.text import TextView

DEFAULT_LEXICON = "pkg:filters/wordlists/slurs_en.tsv"

# 1:1 character folds (positions are kept, so match offsets map back to the text).
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                       "@": "a", "$": "s"})
# ``! | +`` are letters only between letters ("k!ke", "b1+ch"), never at a word's end.
_INNER = re.compile(r"(?<=[a-z])[!|+](?=[a-z])")
_INNER_MAP = {"!": "i", "|": "i", "+": "t"}
_RUNS = re.compile(r"([a-z])\1+")
_TOKEN = re.compile(r"[a-z]+")
_MASKED = re.compile(r"[a-z]+\*[a-z*]*")
_SPACED = re.compile(r"(?<![a-z])[a-z](?:[ ._\-][a-z]){2,}(?![a-z])")
_SUFFIXES = ("s", "z")

# --- pre-scan: one vectorised pass over the bytes of a text decides whether the exact matcher
# (Python loops over tokens) needs to run at all; on clean text it almost never does. It may
# only say "maybe" more often than the matcher finds something, never less (see _prescan).
_PS_A = bytearray(range(256))
for _c in range(256):
    _ch = chr(_c)
    if _c >= 0x80 or not (_ch.isascii() and _ch.isalnum()):
        _PS_A[_c] = 0x20  # anything but an ASCII letter or digit separates tokens
for _c in range(0x41, 0x5B):
    _PS_A[_c] = _c + 0x20
for _a, _b in zip(b"0134578@$!|+", b"oieastbasiit", strict=True):
    _PS_A[_a] = _b
_PS_B = bytearray(_PS_A)
for _a in b"!|+":
    _PS_B[_a] = 0x20  # the variant where ! | + end a word, as they do outside words
_PS_TABLES = (bytes(_PS_A), bytes(_PS_B))
def _collapse(arr: np.ndarray) -> np.ndarray:
    """Runs of one byte written once (the byte form of :func:`skeleton`)."""
    if arr.size < 2:
        return arr
    keep = np.empty(arr.size, dtype=bool)
    keep[0] = True
    np.not_equal(arr[1:], arr[:-1], out=keep[1:])
    return arr[keep]


_ASCII_FOLD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0134578@$", b"abcdefghijklmnopqrstuvwxyzoieastbas")


def fold(text: str) -> str:
    """Lower-case, NFKC (full-width to ASCII) when needed, l33t read as letters."""
    if text.isascii():  # one C pass over bytes; positions are unchanged
        t = text.encode("ascii").translate(_ASCII_FOLD).decode("ascii")
    else:
        t = unicodedata.normalize("NFKC", text.lower()).lower().translate(_LEET)
    if "!" in t or "|" in t or "+" in t:
        t = _INNER.sub(lambda m: _INNER_MAP[m.group()], t)
    return t


def skeleton(word: str) -> str:
    """``word`` with every run of one letter written once (``nigger`` -> ``niger``)."""
    return _RUNS.sub(r"\1", word)


def _runs(word: str) -> tuple[int, ...]:
    """Length of each run of one letter (``nigger`` -> 1, 1, 2, 1, 1)."""
    return tuple(len(m.group()) for m in re.finditer(r"([a-z])\1*", word))


_LAST_VOWEL = re.compile(r"^([a-z]*[^aeiou])([aeiou])([^aeiouy]+)$")


def _vowel_variants(word: str) -> tuple[str, ...]:
    """Spellings of a one-word slur of six or more letters with the vowel of its last syllable
    changed (``faggot`` -> ``faggit``, ``fagget``; ``nigger`` -> ``niggur``): how these words are
    misspelt on forums. Only a single vowel between consonants, before final consonants, varies;
    words ending in a vowel or ``y`` have none. None of the variants of the lexicon occurs in
    the 81,718 distinct words of the C4, ABC and Common Crawl English samples (tests check it).
    """
    m = _LAST_VOWEL.match(word) if len(word) >= 6 and " " not in word else None
    if m is None:
        return ()
    head, vowel, tail = m.groups()
    return tuple(head + v + tail for v in "aeiou" if v != vowel)


def _key(s: str) -> str:
    """A lexicon entry in matching form: folded letters, words joined by one space."""
    return " ".join(_TOKEN.findall(fold(s)))


@dataclass(frozen=True)
class Lexicon:
    """Folded lexicon: words by skeleton, phrases (as a regex), and the canonical form of each."""

    words: frozenset[str]
    canonical: Mapping[str, str]
    weight: Mapping[str, float]
    phrases: re.Pattern[str] | None
    by_skeleton: Mapping[str, tuple[tuple[str, tuple[int, ...]], ...]]
    skeletons: frozenset[str]  # skeletons of the words and of their plurals (a cheap pre-check)
    by_length: Mapping[int, tuple[str, ...]]
    prescan_words: frozenset[bytes]  # ``skeletons`` (words and plurals) as bytes
    phrase_words: tuple[frozenset[bytes], ...]  # the skeletons of the words of each phrase
    prescan_vocab: frozenset[bytes]  # ``prescan_words`` and every word of ``phrase_words``
    variants: frozenset[str] = frozenset()  # spellings added by :func:`_vowel_variants`

    @classmethod
    def from_entries(cls, entries: list[tuple[str, str, float]]) -> Lexicon:
        """``entries``: (surface form, canonical form, weight) triples."""
        words: set[str] = set()
        canon: dict[str, str] = {}
        weight: dict[str, float] = {}
        phrases: list[str] = []
        variants: set[str] = set()
        for surface, c, wt in entries:
            k = _key(surface)
            if not k:
                continue
            canon.setdefault(k, c)
            weight[k] = min(weight.get(k, wt), wt)
            if " " in k:
                phrases.append(k)
                joined = k.replace(" ", "")  # the phrase written as one word (sandnigger)
                canon.setdefault(joined, c)
                weight.setdefault(joined, weight[k])
                words.add(joined)
            else:
                words.add(k)
        for w in sorted(words):  # the vowel of the last syllable misspelt (faggit, niggur)
            for v in _vowel_variants(w) if weight[w] >= 1 else ():
                if v not in words and v not in canon:
                    canon[v] = canon[w]
                    weight[v] = weight[w]
                    variants.add(v)
        words |= variants
        by_skel: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        by_len: dict[int, list[str]] = {}
        for w in sorted(words):
            by_skel.setdefault(skeleton(w), []).append((w, _runs(w)))
            by_len.setdefault(len(w), []).append(w)
        skels = {skeleton(w + suf) for w in words for suf in ("", *_SUFFIXES)}
        rx = None
        if phrases:
            # words of a phrase on one line, separated by spaces, tabs or hyphens
            alts = "|".join(re.escape(p).replace(r"\ ", r"[ \t\-]+") for p in sorted(phrases, key=len, reverse=True))
            rx = re.compile(rf"(?<![a-z])(?:{alts})(?:s|es|z)?(?![a-z])")
        pre = frozenset(x.encode("ascii") for x in skels)
        pw = tuple(frozenset(skeleton(w).encode("ascii") for w in p.split(" ")) for p in phrases)
        return cls(frozenset(words), canon, weight, rx, {k: tuple(v) for k, v in by_skel.items()},
                   frozenset(skels), {n: tuple(v) for n, v in by_len.items()}, pre, pw,
                   pre.union(*pw), frozenset(variants))

    def _exact(self, token: str) -> str | None:
        """The lexicon word ``token`` spells, letters possibly repeated (``niiigger``), else None.

        Same skeleton, and every run of the token as long as the word's or drawn out to three
        letters or more: ``niger`` (one ``g``) is not ``nigger``, ``woop`` is not ``wop``, but
        ``niiigger`` is ``nigger``.
        """
        cands = self.by_skeleton.get(skeleton(token))
        if not cands:
            return None
        r = _runs(token)
        for w, wr in cands:
            if len(wr) == len(r) and all(a == b or (a >= 3 and a > b) for a, b in zip(r, wr, strict=True)):
                return w
        return None

    def word(self, token: str) -> str | None:
        """The lexicon word ``token`` is (itself, or with a plural suffix removed), else None."""
        w = self._exact(token)
        if w is not None:
            return w
        for suf in _SUFFIXES:
            if token.endswith(suf) and len(token) - len(suf) >= 3:
                w = self._exact(token[: -len(suf)])
                if w is not None:
                    return w
        return None

    def masked(self, token: str) -> str | None:
        """The single lexicon word a masked token (``n*gger``) can stand for, else None."""
        visible = sum(c.isalpha() for c in token)
        if visible < 3 or not token[0].isalpha():
            return None
        # a run of k mask characters stands for k to 2k letters
        parts = re.split(r"(\*+)", token)
        rx = "".join(f"[a-z]{{{len(p)},{2 * len(p)}}}" if p and p[0] == "*" else re.escape(p) for p in parts)
        pat = re.compile(rx)
        n = len(token)
        hits = sorted(w for m in range(n, 2 * n + 1) for w in self.by_length.get(m, ()) if pat.fullmatch(w))
        # one slur, whatever spellings of it fit (n*gg*r fits nigger and its misspelling niggur)
        return hits[0] if hits and len({self.canonical.get(w, w) for w in hits}) == 1 else None


_LEX_CACHE: dict[str, Lexicon] = {}
_LEX_LOCK = threading.Lock()


def load_lexicon(path: str = DEFAULT_LEXICON) -> Lexicon:
    """Read a TSV lexicon (surface form, canonical form, ...; ``#`` comments), once per process."""

    with _LEX_LOCK:
        lex = _LEX_CACHE.get(path)
        if lex is None:
            entries: list[tuple[str, str, float]] = []
            with open(resolve_path(path), encoding="utf-8") as f:
                for line in f:
                    if not line.strip() or line.startswith("#"):
                        continue
                    cols = line.rstrip("\n").split("\t")
                    canon = cols[1] if len(cols) > 1 and cols[1] else cols[0]
                    weight = float(cols[4]) if len(cols) > 4 and cols[4] else 1.0
                    entries.append((cols[0], canon, weight))
            lex = _LEX_CACHE[path] = Lexicon.from_entries(entries)
        return lex


@dataclass(frozen=True)
class SlurMatch:
    """One match: character offsets in the folded text (= the original for ASCII text)."""

    start: int
    end: int
    form: str
    canonical: str
    weight: float = 1.0


def _three_single_letters(toks: list[bytes]) -> bool:
    """Three one-letter tokens in a row (``n i g``: a word may be spelled out there)."""
    try:
        return b"\x01\x01\x01" in bytes(map(len, toks))
    except ValueError:  # a token of 256 bytes or more: count them the slow way
        return b"\x01\x01\x01" in bytes(min(len(t), 2) for t in toks)


@dataclass(frozen=True)
class _Prescan:
    """What the pre-scan saw: listed skeletons among the tokens, spaced letters, a mask."""

    skeletons: frozenset[str]
    phrases: bool
    spaced: bool
    masked: bool


def _prescan(text: str, lex: Lexicon) -> _Prescan | None:
    """None when :func:`find_slurs` can find nothing in ``text`` (C loops and numpy only).

    Tokens are runs of ASCII letters after the same folds as :func:`fold` (NFKC for non-ASCII
    text, lower case, l33t; ``! | +`` read both as letters and as separators); the text needs
    the exact matcher when the skeleton of a token is listed (as a word or a plural), when
    every word of a listed phrase occurs, when it has an ``*``, or when three one-letter tokens
    follow one another. It may say "maybe" more often than the matcher finds something (``cons``
    has the skeleton of a plural slur), never less (tests/test_toxicity.py checks both on the
    forum and clean sets).
    """
    raw = text.encode("utf-8") if text.isascii() else unicodedata.normalize("NFKC", text).encode("utf-8")
    masked = b"*" in raw
    spaced = phrases = False
    found: set[bytes] = set()
    tables = _PS_TABLES if (b"!" in raw or b"|" in raw or b"+" in raw) else _PS_TABLES[:1]
    for table in tables:
        arr = np.frombuffer(raw.translate(table), dtype=np.uint8)
        toks = _collapse(arr).tobytes().split()
        hit = lex.prescan_vocab.intersection(toks)  # one pass over the tokens
        if hit:
            found |= hit & lex.prescan_words
            if not phrases and len(hit) > 1:
                phrases = any(ws <= hit for ws in lex.phrase_words)
        # runs of one byte were collapsed, so "n  i  g" (two spaces) counts too: a superset
        spaced = spaced or _three_single_letters(toks)
    if not (found or phrases or spaced or masked):
        return None
    return _Prescan(frozenset(x.decode("ascii") for x in found), phrases, spaced, masked)


def _elongated(skels: frozenset[str]) -> re.Pattern[str]:
    """Whole tokens whose skeleton is one of ``skels`` (each letter once or more)."""
    alts = "|".join("".join(re.escape(c) + "+" for c in sk) for sk in sorted(skels, key=len, reverse=True))
    return re.compile(rf"(?<![a-z])(?:{alts})(?![a-z])")


def find_slurs(text: str, lex: Lexicon) -> list[SlurMatch]:
    """Every slur match in ``text`` (non-overlapping, in order; see the module docstring)."""
    pre = _prescan(text, lex)
    if pre is None:
        return []
    t = fold(text)
    out: list[SlurMatch] = []
    taken: list[tuple[int, int]] = []

    def add(s: int, e: int, w: str) -> None:
        if any(s < b and a < e for a, b in taken):
            return
        taken.append((s, e))
        out.append(SlurMatch(s, e, t[s:e], lex.canonical.get(w, w), lex.weight.get(w, 1.0)))

    if lex.phrases is not None and pre.phrases:
        for m in lex.phrases.finditer(t):
            key = " ".join(_TOKEN.findall(m.group()))
            add(m.start(), m.end(), key if key in lex.canonical else key.rstrip("sz").rstrip("e"))
    words = pre.skeletons & lex.skeletons
    if words:
        # only the tokens the pre-scan flagged: those spelling a listed skeleton
        for m in _elongated(words).finditer(t):
            w = lex.word(m.group())
            if w is not None and _bounded(t, m.start(), m.end()):
                add(m.start(), m.end(), w)
    if pre.masked and "*" in t:
        for m in _MASKED.finditer(t):
            if not _bounded(t, m.start(), m.end()):
                continue
            w = lex.masked(m.group())
            if w is not None:
                add(m.start(), m.end(), w)
    if pre.spaced:
        for m in _SPACED.finditer(t):
            _spaced(m.group(), m.start(), lex, add)
    out.sort(key=lambda x: x.start)
    if any(m.weight < 1 for m in out):
        same = len(t) == len(text)  # folding kept the offsets: the original's case can be read
        out = [_framed(t, m) if m.weight < 1 else m for m in out]
        if same:
            out = [_named(text, m) if m.weight < 1 else m for m in out]
    return out


_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]|[\"“”'‘’(\[\ufeff])\W*$")


def _named(text: str, m: SlurMatch) -> SlurMatch:
    """An ambiguous form written as a name — capitalised, in mid-sentence (the island of Lesbos,
    a Maine Coon) — counts 0: a name is not a slur. At the start of a sentence it keeps 0.5."""
    w = text[m.start : m.end]
    if not (w[:1].isupper() and w[1:].islower()):
        return m
    if _SENTENCE_START.search(text, max(0, m.start - 3), m.start) is not None or m.start == 0:
        return m
    return SlurMatch(m.start, m.end, m.form, m.canonical, 0.0)


# Words that make an ambiguous form an insult when one of them is among the two words before
# it ("dumb spic", "you filthy coon", "fucking tard"): derogatory adjectives and the addressee.
# Written for corpusflow after the derogation cases of HateCheck (Roettger et al. 2021, ACL:
# slurs addressed to someone, slurs with a derogatory adjective); no ambiguous form in the C4,
# ABC or Common Crawl English samples has one of them before it (tests/test_toxicity.py).
INSULT_FRAME = frozenset(
    "dumb stupid filthy dirty disgusting fucking fuckin fking fkn damn damned goddamn worthless lazy "
    "greasy smelly subhuman typical retarded inbred ugly nasty you ur youre".split()
)
_PREV_WORDS = re.compile(r"([a-z]+)[^a-z\n]{1,3}(?:([a-z]+)[^a-z\n]{1,3})?$")


def _framed(t: str, m: SlurMatch) -> SlurMatch:
    """``m`` at full weight when one of the two words before it, on its line, is an insult frame."""
    pm = _PREV_WORDS.search(t, max(0, m.start - 40), m.start)
    if pm is not None and INSULT_FRAME.intersection(w for w in pm.groups() if w):
        return SlurMatch(m.start, m.end, m.form, m.canonical, 1.0)
    return m


def _spaced(run: str, offset: int, lex: Lexicon, add: Callable[[int, int, str], None]) -> None:
    """Words spelled out in a run of single letters (``you're a n i g g e r``): the longest
    listed word starting at each letter, at least three letters long."""
    letters = [(i, c) for i, c in enumerate(run) if c.isalpha()]
    k = 0
    while k < len(letters):
        for j in range(min(len(letters), k + 24), k + 2, -1):
            w = lex.word("".join(c for _, c in letters[k:j]))
            if w is not None:
                add(offset + letters[k][0], offset + letters[j - 1][0] + 1, w)
                k = j - 1
                break
        k += 1


def _bounded(t: str, s: int, e: int) -> bool:
    """A whole word: no letter, digit, ``*`` or ``_`` right before ``s`` or after ``e``, not part of
    a hyphenated compound (``gobbledy-gook``, ``spic-and-span``)."""
    before = t[s - 1] if s > 0 else " "
    after = t[e] if e < len(t) else " "
    if before.isalnum() or before in "*_" or after.isalnum() or after in "*_":
        return False
    if before == "-" and s > 1 and t[s - 2].isalpha():
        return False
    return not (after == "-" and e + 1 < len(t) and t[e + 1].isalpha())


class _ToxicityParams(StepParams):
    lexicon: str = Field(DEFAULT_LEXICON, description="TSV lexicon: surface form, canonical form, ...")
    min_matches: int = Field(1, ge=1, description="Drop only with at least this many matches.")
    max_per_1000_chars: float = Field(
        0.0, ge=0, description="Drop when matches per 1,000 characters exceed this (0: any match, "
        "the C4 bad-words rule restricted to slurs)."
    )


@register("en.toxicity")
class Toxicity(Filter):
    """Slurs of the lexicon, per 1,000 characters (see the module docstring).

    Kept: text without listed slurs, or (with a raised ``max_per_1000_chars``) long text that
    quotes one. Dropped: ``min_matches`` or more matches at a density above
    ``max_per_1000_chars``. Reason ``en.toxicity.slurs``.
    """

    category: ClassVar[str] = "ngword"
    languages_default = frozenset({"en"})
    causes = ("slurs",)
    Params = _ToxicityParams
    params: _ToxicityParams  # the validated parameters of this rule

    def __init__(self, params: object = None, **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self._lex: Lexicon | None = None

    def setup(self) -> None:
        self._lex = load_lexicon(self.params.lexicon)

    def __getstate__(self) -> dict[str, object]:
        d = self.__dict__.copy()
        d["_lex"] = None
        return d

    def matches(self, text: str) -> list[SlurMatch]:
        """The matches that the rule counts (for ``inspect`` and tests)."""
        if self._lex is None:
            self.setup()
        assert self._lex is not None
        return find_slurs(text, self._lex)

    def measure(self, view: TextView) -> dict[str, float]:
        hits = self.matches(view.text)
        n = float(sum(h.weight for h in hits))
        return {
            "": n,
            "per_1000_chars": 1000.0 * n / max(view.n_chars, 1),
            "distinct": float(len({h.canonical for h in hits})),
        }

    def judge(self, s: Mapping[str, float]) -> Failure | None:
        p = self.params
        if s[""] >= p.min_matches and s["per_1000_chars"] > p.max_per_1000_chars:
            return Failure("slurs", "per_1000_chars", s["per_1000_chars"], p.max_per_1000_chars, ">")
        return None
