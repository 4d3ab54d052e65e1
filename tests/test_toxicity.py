"""en.toxicity (slur lexicon through obfuscations) and the per-length en.ng_words, on real text.

Real English from ../shared/data: ABC news stories and C4 pages that must be kept (words that
contain or look like a slur: Niger, spices, spikes, gobbledygook, Japan, cockatoo, whale
"wops"), and posts of the toxic forum dev set (read at test time, never copied into the
package) that must be dropped, as written and with the slur obfuscated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from corpusflow.filters.catalog import build_step
from corpusflow.filters.text import TextView
from corpusflow.filters.toxicity import Lexicon, find_slurs, fold, load_lexicon, skeleton
from tests.test_filters_data import _read, abc, c4, cc


@functools.cache
def _forum() -> dict[str, str]:
    return {r["id"]: r["text"] for r in _read("en/forum_toxic_dev.jsonl.gz")}


def forum_post(doc_id: str, needle: str) -> str:
    """The one post (block between blank lines) of a forum thread that contains ``needle``."""
    for post in _forum()[doc_id].split("\n\n\n"):
        if needle in post:
            return post
    raise AssertionError(f"{needle!r} not in {doc_id}")


def verdict(text: str, **params: float) -> str | None:
    step = build_step("en.toxicity", params)
    step.setup()
    f = step.judge(step.measure(TextView(text)))
    return step.reason(f.cause) if f else None


# --- clean text that must be kept: (text factory, why) -------------------------------------
CLEAN: list[tuple[Callable[[], str], str]] = [
    (lambda: abc(2574), "Niger, the country"),
    (lambda: abc(3001), "spices"),
    (lambda: abc(2560), "spikes"),
    (lambda: abc(1503), "gobbledly-gook: part of a hyphenated word"),
    (lambda: abc(47), "Japan"),
    (lambda: abc(101), "cockatoo"),
    (lambda: c4(158), "spices"),
    (lambda: c4(0), "an ordinary C4 page"),
    (lambda: cc("uxkehid42u2czrakio5henux3o6wa4k7"), "Lesbos, the Greek island (refugee reporting)"),
]


@pytest.mark.parametrize("make, why", CLEAN)
def test_clean_text_is_kept(make: Callable[[], str], why: str) -> None:
    assert verdict(make()) is None, why


def test_known_clean_losses() -> None:
    # Documented costs of the default: the FAG bearing brand (C4) and two whale "wops" (ABC).
    assert verdict(c4(438)) == "en.toxicity.slurs"
    assert verdict(abc(3095)) == "en.toxicity.slurs"
    # one ambiguous form alone (weight 0.5) is below min_matches=1
    assert verdict("The whale made one wop sound and swam away from the boat.") is None


# --- forum posts that must be dropped: (thread id, needle in the post, the slur) ------------
TOXIC = [
    ("forum-dev-0004", "you're a nigger and you don't", "nigger"),
    ("forum-dev-0000", "Hitler was a faggot", "faggot"),
    ("forum-dev-0000", "Kill all the kikes he said", "kike"),
    ("forum-dev-0025", "Better than your average wetback", "wetback"),
    ("forum-dev-0016", "less privileged than a black tranny", "tranny"),
    ("forum-dev-0025", "typical minority mongoloid response", "mongoloid"),
    ("forum-dev-0013", "HOOK-NOSED HEEB", "hebe"),
]


@pytest.mark.parametrize("doc_id, needle, canonical", TOXIC)
def test_forum_posts_with_slurs_are_dropped(doc_id: str, needle: str, canonical: str) -> None:
    post = forum_post(doc_id, needle)
    assert verdict(post) == "en.toxicity.slurs"
    assert canonical in {m.canonical for m in find_slurs(post, load_lexicon())}


def test_a_post_without_its_slurs_is_kept() -> None:
    post = forum_post("forum-dev-0004", "you're a nigger and you don't")
    assert verdict(post.replace("nigger", "person")) is None


OBFUSCATIONS = [  # (how the slur is written in the post, name of the trick)
    ("n1gg3r", "l33t"),
    ("N!GGER", "l33t ! between letters"),
    ("niiiggggerrr", "repeated letters"),
    ("n*gger", "asterisk"),
    ("n**ger", "two asterisks"),
    ("n i g g e r", "spaced"),
    ("n.i.g.g.e.r", "dotted"),
    ("ｎｉｇｇｅｒ", "full width"),
    ("niggerz", "plural z"),
]


@pytest.mark.parametrize("written, trick", OBFUSCATIONS)
def test_obfuscated_slur_in_a_real_post_is_found(written: str, trick: str) -> None:
    post = forum_post("forum-dev-0004", "you're a nigger and you don't")
    obf = post.replace("nigger", written)
    assert written in obf
    assert verdict(obf) == "en.toxicity.slurs", trick
    assert [m.canonical for m in find_slurs(obf, load_lexicon())] == ["nigger"], trick


NOT_SLURS = [
    ("Niger and Nigeria signed the treaty.", "n1g3r folds to Niger: excluded"),
    ("f*** this, and f*g is too short to unmask", "masks with under three visible letters"),
    ("Posted on T_D and r/the_donald", "underscore is not a mask"),
    ("Scunthorpe United beat Spicer's team", "slur letters inside words"),
    ("a woop and a cooon-skin cap", "a drawn-out letter must be 3+ long"),
    ("The Japanese and the Niger delta", "prefix of a longer word"),
    ("Homo sapiens and the Negro Leagues", "ordinary and historical words left out of the list"),
]


@pytest.mark.parametrize("text, why", NOT_SLURS)
def test_lookalikes_do_not_match(text: str, why: str) -> None:
    assert find_slurs(text, load_lexicon()) == [], why


def test_density_parameter_keeps_long_text_with_one_quote() -> None:
    post = forum_post("forum-dev-0004", "you're a nigger and you don't")
    long_story = abc(0) + "\n" + post  # one slur in ~2,000+ characters
    n_chars = len(long_story)
    assert verdict(long_story) == "en.toxicity.slurs"
    # one match in n_chars characters: kept when the limit is above that density
    assert verdict(long_story, max_per_1000_chars=1000.0 / n_chars + 0.01) is None
    assert verdict(long_story, max_per_1000_chars=1000.0 / n_chars - 0.01) == "en.toxicity.slurs"
    assert verdict(long_story, min_matches=2) is None


def test_signals_and_lexicon_helpers() -> None:
    post = forum_post("forum-dev-0025", "Does that spic look Spanish")
    step = build_step("en.toxicity")
    step.setup()
    s = step.measure(TextView(post))
    assert s[""] == 0.5  # "spic" is ambiguous (spic and span): weight 0.5
    assert s["distinct"] == 1
    assert s["per_1000_chars"] == pytest.approx(500.0 / len(post))
    assert skeleton("nigger") == "niger" and fold("K!KE 4ND $P1C") == "kike and spic"
    lex = Lexicon.from_entries([("slur", "slur", 1.0), ("two words", "two words", 1.0)])
    assert [m.form for m in find_slurs("a SLURRR, two-words and s*ur", lex)] == ["slurrr", "two-words", "s*ur"]


def test_lexicon_file_has_source_and_licence() -> None:
    from corpusflow.core.paths import resolve_path

    tsv = resolve_path("pkg:filters/wordlists/slurs_en.tsv")
    head = Path(tsv).read_text(encoding="utf-8")[:400]
    assert "Surge AI" in head and "MIT" in head
    lic = Path(resolve_path("pkg:filters/wordlists/LICENSE-surge-ai")).read_text(encoding="utf-8")
    assert "MIT License" in lic and "Surge AI" in lic
    assert len(load_lexicon().words) > 100


# --- en.ng_words per length ------------------------------------------------------------------
NG_CASES = [
    # (ABC story, count, expected verdict)
    (1847, 6, "en.ng_words.too_many"),  # 670 characters with 6 x "breast": 9.0 per 1,000
    (2755, 19, "en.ng_words.too_many"),  # "sex" 19 times in 3,171 characters: 6.0 per 1,000
    (2609, 9, None),  # 9 matches in 5,168 characters (1.7 per 1,000): kept, the count alone dropped it
    (2603, 6, None),  # 6 in 3,574 (1.7 per 1,000)
    (0, 0, None),
]


@pytest.mark.parametrize("i, count, expected", NG_CASES)
def test_ng_words_counted_per_length(i: int, count: int, expected: str | None) -> None:
    step = build_step("en.ng_words")
    step.setup()
    s = step.measure(TextView(abc(i)))
    assert s[""] == count
    f = step.judge(s)
    assert (step.reason(f.cause) if f else None) == expected
    # the absolute count alone (max_per_1000_chars: null) drops every story with > 3 matches
    old = build_step("en.ng_words", {"max_per_1000_chars": None})
    old.setup()
    assert (old.judge(old.measure(TextView(abc(i)))) is not None) == (count > 3)


EN_CONTEXT = "pkg:filters/wordlists/ng_context_adult_en.txt"


@pytest.mark.parametrize("i", [1847, 2755])  # breast cancer news; a story that says "sex" 19 times
def test_ng_words_context_words_keep_clean_news(i: int) -> None:
    step = build_step("en.ng_words", {"context_words": EN_CONTEXT})
    step.setup()
    s = step.measure(TextView(abc(i)))
    assert s[""] == 0 and step.judge(s) is None


def test_ng_words_context_words_count_next_to_pornography() -> None:
    step = build_step("en.ng_words", {"context_words": EN_CONTEXT})
    step.setup()
    spam = "Free porn videos every day: naked sex, nude girls, hot sex and more sex in HD."
    s = step.measure(TextView(spam))
    assert s[""] == 6  # porn (not a context word) makes naked, sex x3, nude count too
    assert step.reason(step.judge(s).cause) == "en.ng_words.too_many"
    review = "This was a film about sex and death. Its sex scenes are dull, the sex talk duller."
    assert step.measure(TextView(review))[""] == 0


def _reference(text: str, lex: Lexicon) -> list[tuple[int, int, str]]:
    """The matcher without the pre-scan: every token, every phrase, every run of letters."""
    from corpusflow.filters import toxicity as tx

    t = tx.fold(text)
    out: list[tuple[int, int, str]] = []

    def add(s: int, e: int, w: str) -> None:
        if not any(s < b and a < e for a, b, _ in out):
            out.append((s, e, lex.canonical.get(w, w)))

    if lex.phrases is not None:
        for m in lex.phrases.finditer(t):
            key = " ".join(tx._TOKEN.findall(m.group()))
            add(m.start(), m.end(), key if key in lex.canonical else key.rstrip("sz").rstrip("e"))
    for m in tx._TOKEN.finditer(t):
        w = lex.word(m.group())
        if w is not None and tx._bounded(t, m.start(), m.end()):
            add(m.start(), m.end(), w)
    for m in tx._MASKED.finditer(t):
        w = lex.masked(m.group()) if tx._bounded(t, m.start(), m.end()) else None
        if w is not None:
            add(m.start(), m.end(), w)
    for m in tx._SPACED.finditer(t):
        tx._spaced(m.group(), m.start(), lex, lambda s, e, w: add(s, e, w))
    return sorted(out)


@pytest.mark.parametrize("source", ["en/forum_toxic_dev.jsonl.gz", "en/c4_sample.jsonl.gz", "en/abc_news.jsonl.gz"])
def test_prescan_never_changes_the_matches(source: str) -> None:
    """The vectorised pre-scan only skips texts in which the full matcher finds nothing."""
    lex = load_lexicon()
    rows = _read(source)[:400]
    extra = [r["text"].replace(" a ", " a n i g g e r ", 1).replace("the", "th3 k!ke", 1) for r in rows[:50]]
    n_found = 0
    for text in [r["text"] for r in rows] + extra:
        got = sorted((m.start, m.end, m.canonical) for m in find_slurs(text, lex))
        assert got == _reference(text, lex)
        n_found += bool(got)
    assert n_found >= 40  # the obfuscated copies (those with " a " and "the") at least


def test_phrases_match_with_and_without_spaces() -> None:
    post = forum_post("forum-dev-0007", "Sand Niggers")
    lex = load_lexicon()
    assert "nigger" in {m.canonical for m in find_slurs(post, lex)}
    for written in ("sand nigger", "sand-nigger", "sandnigger", "SANDNIGGERS"):
        assert [m.canonical for m in find_slurs(f"Look at that {written} over there.", lex)] == ["nigger"], written
    assert find_slurs("The sand and the river met near the old timber mill.", lex) == []


# --- slurs that en_web kept in toxic forum threads (bench/eval_quality.py), now dropped --------
KEPT_BEFORE = [
    # (thread, needle in the post, the slur, why it was missed)
    ("forum-dev-0110", "lush little faggit", "faggot", "the vowel of the last syllable misspelt"),
    ("forum-dev-0119", "Inb4 dumb spic", "spic", "an ambiguous form after a derogatory adjective"),
]


@pytest.mark.parametrize("doc_id, needle, canonical, why", KEPT_BEFORE)
def test_forum_slurs_missed_before_are_dropped(doc_id: str, needle: str, canonical: str, why: str) -> None:
    post = forum_post(doc_id, needle)
    assert verdict(post) == "en.toxicity.slurs", why
    assert canonical in {m.canonical for m in find_slurs(post, load_lexicon())}, why


VARIANTS = [  # (written, canonical) misspelt in the last syllable, and masks across the variants
    ("faggit", "faggot"), ("faggits", "faggot"), ("fagget", "faggot"), ("niggur", "nigger"),
    ("niggars", "nigger"), ("wetbeck", "wetback"), ("n*gg*r", "nigger"), ("f*ggot", "faggot"),
]


@pytest.mark.parametrize("written, canonical", VARIANTS)
def test_last_syllable_variants_and_masks(written: str, canonical: str) -> None:
    assert [m.canonical for m in find_slurs(f"Look at that {written} over there.", load_lexicon())] == [canonical]


FRAMES = [  # (sentence, weight of its one match): ambiguous forms count fully only as an insult
    ("Inb4 dumb spic opens his mouth", 1.0),
    ("you filthy coon", 1.0),
    ("shut up, you tard", 1.0),
    ("the coon climbed the fence at night", 0.5),  # the animal
    ("a spic and span kitchen", 0.5),  # the idiom
    ("dumb\nspic", 0.5),  # a word on the line before does not frame it
    ("on the Greek island of Lesbos", 0.0),  # a name in mid-sentence: the island
    ("Lesbos is a Greek island.", 0.5),  # capitalised at a sentence start: ambiguous, half
    ("the refugees. Lesbos was full", 0.5),
    ("my Maine Coon sleeps", 0.0),
    ("you filthy Coon", 1.0),  # the frame wins over the capital
    ("shut up, you lesbo", 1.0),
]


@pytest.mark.parametrize("text, weight", FRAMES)
def test_insult_frame_weights_ambiguous_forms(text: str, weight: float) -> None:
    assert [m.weight for m in find_slurs(text, load_lexicon())] == [weight]


def test_variants_and_frames_change_nothing_on_clean_english() -> None:
    """No last-syllable variant is a word of the C4, ABC or Common Crawl samples, and no
    ambiguous form there has an insult frame (its match keeps weight 0.5)."""
    import re

    lex = load_lexicon()
    assert {"faggit", "niggur"} <= lex.variants and not (lex.variants & {"nigger", "faggot", "niger"})
    for rel in ("en/c4_sample.jsonl.gz", "en/abc_news.jsonl.gz", "en/cc_main_raw_multilingual.jsonl.gz"):
        for r in _read(rel):
            assert not (set(re.findall(r"[a-z]+", r["text"].lower())) & lex.variants), rel
            for m in find_slurs(r["text"], lex):
                w = lex.word(m.form)
                assert w is None or lex.weight[w] >= 1 or m.weight < 1, (rel, m)
