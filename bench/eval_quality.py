#!/usr/bin/env python3
"""Every data-quality figure of the default profiles, from the data on the machine, in one JSON.

Measured (all in tag mode unless said otherwise, so each rule is judged on every document):

* **Labelled mC4-ja** (``ja/mc4ja_quality_labels.dev.jsonl``, ``good``/``bad`` snippets):
  ``ja_web`` without its length rules (the snippets are cut, so length measures the cut): bad
  and good dropped, Youden's J (share of bad dropped minus share of good dropped), on the whole
  set and on 5 hash folds (``corpusflow.filters.evaluate.fold_of``: stable hash of the text, so
  identical snippets share a fold). Thresholds are chosen on folds 0-3; fold 4 is the held-out
  figure, reported with the average of the five. Per rule: bad/good dropped on its own.
* **Clean Japanese** (KWDLC leads, JA Wikipedia paragraphs, Aozora Bunko dev works): the share
  ``ja_web`` drops with and without length rules, the first reason of each drop, and per rule
  the documents it fails with its top reasons (``evaluate_clean``). Aozora twice: as stored
  (with its notation header, ruby and ［＃］ notes) and after the Aozora cleaner, which the
  pipeline runs before the filters for Aozora sources (``stages.clean.aozora``). For KWDLC (leads
  of all kinds of web pages: news, blogs, shops, firms), the share of the leads dropped by
  ``ja.promo_vocabulary`` that speak in the business register (:data:`COMMERCIAL_MARKERS`).
* **More clean Japanese** (``--clean-ja FILE``, repeatable): sets kept outside the repository
  (news and magazine articles): the share ``ja_web`` drops, first reasons, and per ``category``
  when the records carry one; as stored and after the boilerplate cleaner (as
  ``full_ja80_en20.yaml`` runs it before the filters).
* **Toxic English forum threads** (``en/forum_toxic_dev.jsonl.gz``): ``en_web`` in ``filter``
  mode as the pipeline runs it; of the threads it keeps, the share that still contain a slur by
  :data:`INDEPENDENT_SLURS` (below), with the forms found.
* **Clean English** (C4 sample, ABC news, and ``--clean-en FILE`` sets kept outside the
  repository, such as film reviews): the share ``en_web`` drops, by first reason, and the
  share dropped for content-word reasons (rules of category ``ngword``: ``en.toxicity``,
  ``en.ng_words``), first reason or any.
* ``--throughput``: ``ja_web`` filter-mode docs/s per core (process CPU time) on the ~2 KB
  Japanese documents of a ``make_corpus.py`` corpus, timed as ``bench/bench_filters.py`` times
  it (its ``load_corpus`` and ``time_chain``). Take it under the bench lock.

The independent slur check: a regular expression written by hand for this script from the
entries of Wikipedia's *List of ethnic slurs*, *List of LGBT-related slurs* and *List of
disability-related terms with negative connotations* (the common English forms, each with its
plural and the usual misspellings of its vowels and doubled letters). It shares no word list and
no code with ``en.toxicity`` (which uses Surge AI's Obscenity List and its own folding): it runs
on the lower-cased raw text with ``\\b`` word boundaries, no l33t, asterisk or spacing decoding,
so it measures what the rule misses in plain spelling, not obfuscations. Forms that are mostly
ordinary words (``coon`` the animal, ``jap`` the abbreviation, ``negro`` in names) are left out.

Usage::

    python bench/eval_quality.py --out bench/results/quality.json
    flock /tmp/corpusflow-bench.lock python bench/eval_quality.py --throughput \\
        --corpus /work/benchdata/scale_25k --out bench/results/quality.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from corpusflow.filters.chain import FilterChain  # noqa: E402
from corpusflow.filters.evaluate import DropStats, evaluate_chain, evaluate_clean  # noqa: E402
from corpusflow.filters.profiles import build_chain, load_profile  # noqa: E402
from corpusflow.text.cleaners import clean_aozora, clean_boilerplate  # noqa: E402

FOLDS = 5
CHOOSE_FOLDS = (0, 1, 2, 3)
HELD_OUT_FOLD = 4

INDEPENDENT_SLURS = re.compile(
    r"\b(?:"
    r"n+[i1]+gg+(?:[e3]+r+|[a4]+h*|u+h+|[e3]+r+[sz]|[a4]+[sz]|[ou]+r+)[sz]?"  # the n-word and its spellings
    r"|nig(?:let|nog)s?"
    r"|sand ?n[i1]gg+(?:er|a)s?|porch ?monkeys?|jungle ?bunn(?:y|ies)|jigaboos?|spear ?chuckers?"
    r"|kikes?|kykes?|yids?|heebs?|hymies?"
    r"|spics?|spicks?|wetbacks?|beaners?"
    r"|chinks?|gooks?|zipperheads?|slant ?eyes?|ching ?chong"
    r"|ragheads?|towel ?heads?|camel ?jockeys?|sand ?monkeys?|muzzies?"
    r"|pakis?|wogs?|gollywogs?|golliwogs?|abos?|boongs?|darkies?|sambos?|pickaninn(?:y|ies)"
    r"|f+[a4@]+gg*(?:[o0]+t+|[e3i1u]+t+)?(?:s|z|ry|y)?|fags?"
    r"|dykes?|trann(?:y|ies)|shemales?|ladyboys?|he-?shes?"
    r"|retards?|retarded|tards?|spazz?(?:es)?|mongoloids?"
    r")\b"
)


# Business register addressed to a customer: the shop or firm speaking of itself (当社, 弊社,
# 当店, 当院, 当サイト), to its customers (お客様, 皆様), in humble business verbs or requests
# (いたします, 致します, しております, 承り, ください, お待ち, ご利用, ご案内, お問い合わせ). Used
# only to describe what ja.promo_vocabulary drops from KWDLC leads (a web-lead corpus, not news).
COMMERCIAL_MARKERS = re.compile(
    r"当社|弊社|当店|当院|当サイト|お客様|皆様|ください|下さい|お待ち|承り|承っ|いたします|致します|"
    r"しております|ご利用|ご案内|お問い?合わ?せ"
)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    op = gzip.open if path.suffix == ".gz" else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def j_row(s: DropStats) -> dict[str, Any]:
    return {"bad_dropped": s.bad_dropped, "n_bad": s.n_bad, "good_dropped": s.good_dropped, "n_good": s.n_good,
            "recall": round(s.recall, 4), "good_drop_rate": round(s.good_drop_rate, 4),
            "youden_j": round(s.youden_j, 4)}


def eval_labels(data: Path) -> dict[str, Any]:
    recs = read_jsonl(data / "ja" / "mc4ja_quality_labels.dev.jsonl")
    docs = [(r["text"], r["label"] == "bad") for r in recs]
    chain = build_chain(load_profile("ja_web"), lang="ja")
    rep = evaluate_chain(chain, docs, folds=FOLDS, fold_by="hash")
    folds = [j_row(b) for _, b in rep.folds]
    choose = [folds[i] for i in CHOOSE_FOLDS]
    return {
        "set": "ja/mc4ja_quality_labels.dev.jsonl",
        "profile": "ja_web",
        "length_rules": "excluded",
        "whole": j_row(rep.whole_no_length),
        "with_length_rules": j_row(rep.whole),
        "folds": folds,
        "mean_j_folds_0_3": round(sum(f["youden_j"] for f in choose) / len(choose), 4),
        "j_fold_4_held_out": folds[HELD_OUT_FOLD]["youden_j"],
        "good_drop_fold_4_held_out": folds[HELD_OUT_FOLD]["good_drop_rate"],
        "mean_j_5_folds": round(sum(f["youden_j"] for f in folds) / len(folds), 4),
        "rules": [{"rule": r.name, **j_row(r)} for r in rep.rules if r.bad_dropped or r.good_dropped],
    }


def eval_clean(chain: FilterChain, path: Path, ngword_ids: set[str] | None = None,
               aozora_cleaner: bool = False, boilerplate_cleaner: bool = False) -> dict[str, Any]:
    recs = read_jsonl(path)
    texts = [r["text"] for r in recs]
    if aozora_cleaner:  # as the pipeline's clean step runs it (stages.clean.aozora) before the filters
        texts = [clean_aozora(t)[0] for t in texts]
    if boilerplate_cleaner:  # as full_ja80_en20 runs it (stages.clean.boilerplate: true)
        texts = [clean_boilerplate(t)[0] for t in texts]
    after = " after the Aozora cleaner" if aozora_cleaner else " after the boilerplate cleaner" if boilerplate_cleaner else ""
    rep = evaluate_clean(chain, texts, path.name + after)
    d = rep.to_dict(top=3)
    out: dict[str, Any] = {
        "set": f"{path.parent.name}/{path.name}" + after,
        "n_docs": rep.n_docs,
        "drop_rate": d["drop_rate"],
        "drop_rate_without_length_rules": d["drop_rate_without_length_rules"],
        "first_reasons": d["first_reasons"],
        "rules": [r for r in d["rules"] if r["dropped"]],
    }
    promo = [st for st in chain.steps if st.id == "ja.promo_vocabulary"]
    if promo and path.name.startswith("kwdlc"):
        tag = FilterChain(chain.steps, mode="tag", name=chain.name).setup()
        dropped = [t for t in texts if any(v.step == "ja.promo_vocabulary" for v in tag.run(t).failures)]
        with_markers = sum(1 for t in dropped if COMMERCIAL_MARKERS.search(t))
        out["promo_drops_with_commercial_markers"] = {
            "dropped_by_promo": len(dropped), "with_markers": with_markers,
            "share": round(with_markers / max(len(dropped), 1), 4),
            "without_markers_share_of_set": round((len(dropped) - with_markers) / max(rep.n_docs, 1), 4)}
    if ngword_ids is not None:  # content-word reasons: a first reason, or any failure, of an ngword rule
        first = sum(n for reason, n in rep.first_reasons.items() if reason.rsplit(".", 1)[0] in ngword_ids)
        tag = FilterChain(chain.steps, mode="tag", name=chain.name).setup()
        anyw = sum(1 for t in texts if {v.step for v in tag.run(t).failures} & ngword_ids)
        out["content_word_drop_rate_first_reason"] = round(first / max(rep.n_docs, 1), 4)
        out["content_word_drop_rate_any"] = round(anyw / max(rep.n_docs, 1), 4)
    return out


def eval_forum(data: Path) -> dict[str, Any]:
    recs = read_jsonl(data / "en" / "forum_toxic_dev.jsonl.gz")
    chain = build_chain(load_profile("en_web"), lang="en").setup()
    reasons: Counter[str] = Counter()
    kept_with: list[dict[str, Any]] = []
    n_kept = 0
    for r in recs:
        res = chain.run(r["text"])
        reasons[res.reason or "kept"] += 1
        if res.keep:
            n_kept += 1
            found = Counter(m.group().lower() for m in INDEPENDENT_SLURS.finditer(r["text"].lower()))
            if found:
                kept_with.append({"id": r["id"], "forms": dict(found)})
    return {
        "set": "en/forum_toxic_dev.jsonl.gz",
        "profile": "en_web",
        "n_threads": len(recs),
        "outcomes": dict(reasons.most_common()),
        "kept": n_kept,
        "kept_with_slur": len(kept_with),
        "kept_slur_share": round(len(kept_with) / max(n_kept, 1), 4),
        "kept_threads_with_slur": kept_with,
    }


def throughput(corpus: Path, repeats: int, max_docs: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_filters  # the timing of bench/bench_filters.py, on the same documents

    from corpusflow.filters.text import warm_up_kernels

    kernels = "numba" if warm_up_kernels() else "numpy"
    texts = bench_filters.load_corpus(corpus)["ja_2kb"][:max_docs]
    chain = build_chain("ja_web", lang="ja").setup()
    row = bench_filters.finish(bench_filters.time_chain(chain, texts, repeats), texts)
    return {"profile": "ja_web", "set": "ja_2kb", "corpus": str(corpus), "kernels": kernels, **row}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the shared data directory")
    ap.add_argument("--out", default=str(HERE / "results" / "quality.json"))
    ap.add_argument("--throughput", action="store_true", help="also time ja_web (take it under the bench lock)")
    ap.add_argument("--corpus", default="/work/benchdata/scale_25k", help="make_corpus.py corpus for --throughput")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-docs", type=int, default=3000)
    ap.add_argument("--clean-ja", action="append", default=[], metavar="FILE",
                    help="also measure ja_web on this clean Japanese JSONL (every text good; repeatable); "
                    "with a 'category' field, per category too")
    ap.add_argument("--clean-en", action="append", default=[], metavar="FILE",
                    help="also measure en_web on this clean English JSONL (every text good; repeatable): "
                    "drop rate and content-word drops")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "ja").is_dir():
        data = Path("/work/shared/data")
    t0 = time.perf_counter()
    report: dict[str, Any] = {"what": "data-quality figures of ja_web / en_web (bench/eval_quality.py docstring)"}
    lab = report["mc4ja_labels"] = eval_labels(data)
    print(f"mC4-ja labels, ja_web without length rules: J {lab['whole']['youden_j']:.3f}, good dropped "
          f"{lab['whole']['good_drop_rate']:.1%}, bad dropped {lab['whole']['recall']:.1%}; hash folds J "
          + " ".join(f"{f['youden_j']:.3f}" for f in lab["folds"])
          + f"; mean folds 0-3 {lab['mean_j_folds_0_3']:.3f}, fold 4 {lab['j_fold_4_held_out']:.3f} "
          f"(good dropped {lab['good_drop_fold_4_held_out']:.1%}), mean of 5 {lab['mean_j_5_folds']:.3f}")
    ja_chain = build_chain(load_profile("ja_web"), lang="ja")
    report["clean_ja"] = []
    for rel, aoz in (("ja/kwdlc_leads.jsonl", False), ("ja/ja_wiki_paragraphs.jsonl.gz", False),
                     ("ja/aozora_dev.jsonl.gz", False), ("ja/aozora_dev.jsonl.gz", True)):
        c = eval_clean(ja_chain, data / rel, aozora_cleaner=aoz)
        report["clean_ja"].append(c)
        top = ", ".join(f"{r['name']} {r['drop_rate']:.2%}" for r in c["rules"] if r["category"] != "length")
        print(f"clean {c['set']}: ja_web drops {c['drop_rate']:.2%}, without length rules "
              f"{c['drop_rate_without_length_rules']:.2%} ({top})")
        if "promo_drops_with_commercial_markers" in c:
            m = c["promo_drops_with_commercial_markers"]
            print(f"  ja.promo_vocabulary drops {m['dropped_by_promo']} leads, {m['share']:.0%} of them with "
                  f"business self-reference or requests to the customer; the rest is "
                  f"{m['without_markers_share_of_set']:.2%} of the set")
    for extra, bp in ((e, b) for e in args.clean_ja for b in (False, True)):  # sets kept outside the repo
        c = eval_clean(ja_chain, Path(extra), boilerplate_cleaner=bp)
        recs = read_jsonl(Path(extra))
        if bp:
            recs = [{**r, "text": clean_boilerplate(r["text"])[0]} for r in recs]
        cats = sorted({r["category"] for r in recs if "category" in r})
        if cats:
            c["by_category"] = {}
            for cat in cats:
                texts = [r["text"] for r in recs if r.get("category") == cat]
                rep = evaluate_clean(ja_chain, texts, cat).to_dict(top=3)
                c["by_category"][cat] = {"n_docs": len(texts), "drop_rate": rep["drop_rate"],
                                         "first_reasons": rep["first_reasons"]}
        report.setdefault("clean_ja_extra", []).append(c)
        print(f"clean {c['set']}: ja_web drops {c['drop_rate']:.2%} of {c['n_docs']} "
              f"(first reasons {dict(list(c['first_reasons'].items())[:5])})")
        for cat, v in c.get("by_category", {}).items():
            print(f"  {cat}: {v['drop_rate']:.2%} of {v['n_docs']}")
    forum = report["forum_toxic"] = eval_forum(data)
    print(f"toxic forum threads: en_web keeps {forum['kept']}/{forum['n_threads']}; kept with a slur "
          f"(independent regex) {forum['kept_with_slur']} = {forum['kept_slur_share']:.1%} "
          f"{[(k['id'], k['forms']) for k in forum['kept_threads_with_slur']]}")
    en_chain = build_chain(load_profile("en_web"), lang="en")
    ng = {s.id for s in en_chain.steps if s.category == "ngword"}
    report["clean_en"] = []
    for rel in ("en/c4_sample.jsonl.gz", "en/abc_news.jsonl.gz", *args.clean_en):
        c = eval_clean(en_chain, data / rel, ng)  # (an absolute --clean-en path replaces data /)
        report["clean_en"].append(c)
        print(f"clean {c['set']}: en_web drops {c['drop_rate']:.2%}; content words/toxicity: first reason "
              f"{c['content_word_drop_rate_first_reason']:.2%}, any {c['content_word_drop_rate_any']:.2%}")
    if args.throughput:
        tp = report["throughput"] = throughput(Path(args.corpus), args.repeats, args.max_docs)
        print(f"ja_web throughput: {tp['docs_per_s_cpu']:.0f} docs/s per core (CPU), {tp['docs']} docs of "
              f"{tp['mean_utf8_bytes']} B, kernels {tp['kernels']}")
    report["seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
