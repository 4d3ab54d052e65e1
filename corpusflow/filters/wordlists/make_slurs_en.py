"""Rebuild ``slurs_en.tsv`` from Surge AI's "The Obscenity List" (``profanity_en.csv``, MIT).

Usage (the CSV is read from a local copy; nothing is downloaded)::

    python corpusflow/filters/wordlists/make_slurs_en.py PATH/TO/profanity_en.csv \
        > corpusflow/filters/wordlists/slurs_en.tsv

Selection, fixed before looking at any evaluation data (see README.md next to this file):

1. rows whose category_1..3 include ``racial / ethnic slurs``, ``sexual orientation / gender``,
   ``mental disability`` or ``physical disability`` (hate speech against a group; the sexual,
   excrement and religious-oath categories are profanity, covered by other rules);
2. mean severity_rating >= 2.0 (the list's 1-3 scale; below 2 rounds to "Mild");
3. at least one canonical form is a slur of :data:`SLUR_CANONICALS` (so rows such as "dumb
   fucker", listed under mental disability, are left to profanity rules);
4. minus :data:`ORDINARY`: surface forms that are also ordinary words, names or neutral
   identity terms in edited English (``homo`` in *Homo sapiens*, ``jigger`` a bar measure,
   ``knickers`` clothing, ``negro`` in historical names such as the Negro Leagues, ...);
5. :data:`AMBIGUOUS` forms (a slur that is also a brand, a cigarette, a sound, a verb) get
   weight 0.5 in the fifth column; every other form weight 1.
"""

from __future__ import annotations

import csv
import sys

CATEGORIES = frozenset({"racial / ethnic slurs", "sexual orientation / gender", "mental disability",
                        "physical disability"})
MIN_SEVERITY = 2.0
SLUR_CANONICALS = frozenset({
    "abeed", "bean queen", "beaner", "blacky", "camel jockey", "carpet muncher", "chingchong",
    "chink", "coon", "dago", "darky", "dothead", "dyke", "fag", "faggot", "fudge packer", "gay",
    "gook", "groid", "hebe", "injun", "jap", "jew", "jiggaboo", "kike", "ladyboy", "lesbian",
    "mongoloid", "monkey", "nigga", "nigger", "niggers", "niggger", "oven dodger", "paki",
    "porch monkey", "raghead", "retard", "retarded", "shemale", "slant eye", "spic", "tacohead",
    "towelhead", "tranny", "wetback", "wop", "zipperhead",
})
ORDINARY = frozenset({
    "homo", "homos",                     # Homo sapiens, homo- compounds
    "jigger", "jiggs", "jigga",          # a bar measure; a surname; a rapper's nickname
    "knickers", "nicker", "nickers",     # clothing; a horse's call
    "negro", "negroes", "negroid",       # historical names (Negro Leagues, UNCF), anthropology
    "wet back",                          # two ordinary words ("a wet back")
    "spix",                              # Spix's macaw
    "cotton picker",                     # agriculture and history
    "gay ass", "gay wad",                # matched only with an ordinary word next to them
    "n1g3r", "n1g3rz", "nigers",         # read as letters they spell Niger, the country
    "dyke",                              # an embankment (British, Dutch place names)
})
# Slurs whose letters are also a common ordinary word, sound or abbreviation in edited text
# (raccoon and the Maine Coon cat, "spic and span", gobbledygook, a "wop" sound, JAP, NIG
# codes, Lesbos the Greek island): each counts half (weight 0.5), so one alone never drops a document, two do. Slurs
# that are rarely anything else on the web (fag, retard, retarded) keep weight 1: the FAG
# bearing brand and the clinical "mentally retarded" of older text are the price (one C4
# page and one 2005 ABC story of the 4,170 clean documents measured).
AMBIGUOUS = frozenset({
    "jap", "coon", "coons", "wop", "gook", "nig", "nigs", "tard", "spic", "spick", "spig", "spik",
    "blacky", "lesbo",
})


def select(rows: list[dict[str, str]]) -> list[tuple[str, str, str, float]]:
    """(surface form, canonical form, category, severity) of the selected rows, sorted."""
    out: dict[str, tuple[str, str, str, float]] = {}
    for r in rows:
        cats = {r["category_1"], r["category_2"], r["category_3"]} & CATEGORIES
        sev = float(r["severity_rating"])
        canon = [c for c in (r["canonical_form_1"], r["canonical_form_2"], r["canonical_form_3"])
                 if c in SLUR_CANONICALS]
        text = r["text"].strip().lower()
        if not cats or sev < MIN_SEVERITY or not canon or text in ORDINARY:
            continue
        if text not in out or out[text][3] < sev:
            out[text] = (text, canon[0], sorted(cats)[0], sev)
    return sorted(out.values())


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    print("# English slur lexicon for en.toxicity, selected from Surge AI's profanity_en.csv")
    print("# (The Obscenity List, MIT licence; see LICENSE-surge-ai and README.md here).")
    print("# Built by make_slurs_en.py; columns: surface form, canonical form, category, severity (1-3),")
    print("# weight (0.5: also an ordinary word, brand or abbreviation; see AMBIGUOUS there).")
    for text, canon, cat, sev in select(rows):
        weight = 0.5 if text in AMBIGUOUS else 1.0
        print(f"{text}\t{canon}\t{cat}\t{sev:g}\t{weight:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
