"""``corpusflow inspect OUTPUT``: look at rejected and duplicate documents in the terminal.

Without ``--reason`` / ``--duplicates`` it lists the ways out of the run (reason codes,
duplicates, errors) with their counts. ``--reason CODE`` (or a glob such as ``'langid.*'``)
prints a deterministic sample of documents rejected for it, each with id, source, language,
where it came from, reason, detail, the keywords a keyword rule matched (``matched``), the
signals that decided it (marked ◀), and its text truncated and wrapped. ``--duplicates`` prints duplicates next to the document kept instead; ``--kept`` samples kept documents.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from collections import Counter, defaultdict

from corpusflow.report.load import NotARunError, load_run
from corpusflow.report.samples import (
    count_kept,
    count_matches,
    matching_reasons,
    sample_duplicates,
    sample_kept,
    sample_rejected,
)
from corpusflow.report.terminal import render_sample

EPILOG = """\
examples:
  corpusflow inspect out/demo                                   # list reasons and counts
  corpusflow inspect out/demo --reason ja.hiragana_fraction.too_low --n 5
  corpusflow inspect out/demo --reason 'langid.*' --source en_cc_raw
  corpusflow inspect out/demo --duplicates --n 3
  corpusflow inspect out/demo --kept --lang ja --n 3

Samples are deterministic: documents are ordered by a keyed hash of (source, id) and the first
N are shown (--seed picks another sample), so --n 10 extends what --n 5 showed.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("output", help="a finished run directory (the --output of 'corpusflow run')")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--reason", "-r", default=None, metavar="CODE",
                      help="reason code to sample, or a glob ('langid.*')")
    what.add_argument("--duplicates", "-d", action="store_true",
                      help="sample duplicates, each next to the document kept instead")
    what.add_argument("--kept", "-k", action="store_true",
                      help="sample kept documents (the pool with a mixture, else the training shards)")
    p.add_argument("--n", "-n", type=int, default=5, help="how many documents (default 5)")
    p.add_argument("--source", "-s", default=None, help="only documents of this source")
    p.add_argument("--lang", default=None, help="only documents of this detected language ('und': none)")
    p.add_argument("--seed", type=int, default=0, help="sampling key (default 0)")
    p.add_argument("--chars", type=int, default=600, help="characters of text to show per document (default 600)")
    p.add_argument("--lines", type=int, default=14, help="lines of text to show per document (default 14)")
    p.add_argument("--width", type=int, default=None, help="columns (default: the terminal's, at most 160)")


def _width(args: argparse.Namespace) -> int:
    if args.width:
        return max(args.width, 40)
    return max(min(shutil.get_terminal_size((100, 24)).columns, 160), 40)


def list_ways_out(run) -> str:  # type: ignore[no-untyped-def]
    """Table of reason codes (by stage), duplicates and errors, with counts and top sources."""

    lines = []
    if run.rejected is not None and run.rejected.num_rows:
        counts: Counter[tuple[str, str]] = Counter()
        by_src: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for st, r, s in zip(run.rejected.column("stage").to_pylist(), run.rejected.column("reason").to_pylist(),
                            run.rejected.column("source").to_pylist(), strict=True):
            counts[(st, r)] += 1
            by_src[(st, r)][s] += 1
        w = max(len(r) for _st, r in counts)
        lines.append(f"{'stage':<14} {'reason':<{w}} {'docs':>8}  top sources")
        order = [st["stage"] for st in run.manifest.get("stages", [])]
        for (st, r), n in sorted(counts.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order
                                                                    else len(order), -kv[1], kv[0][1])):
            top = ", ".join(f"{s} {c:,}" for s, c in by_src[(st, r)].most_common(3))
            lines.append(f"{st:<14} {r:<{w}} {n:>8,}  {top}")
    else:
        lines.append("no rejected documents")
    nd = run.duplicates.num_rows if run.duplicates is not None else 0
    ne = run.errors.num_rows if run.errors is not None else 0
    lines.append("")
    lines.append(f"duplicates: {nd:,}" + ("   (corpusflow inspect OUTPUT --duplicates)" if nd else ""))
    if ne:
        cls = Counter(run.errors.column("error_class").to_pylist())
        lines.append(f"errors: {ne:,} (" + ", ".join(f"{c} {n:,}" for c, n in cls.most_common(5))
                     + f"); see {run.root}/errors/")
    else:
        lines.append("errors: 0")
    lines.append("")
    lines.append(f"show documents: corpusflow inspect {run.root} --reason REASON [--n 5] [--source S]")
    return "\n".join(lines)


WORD_KEY = ".word."


def matched_words(signals: dict[str, object], reason: str) -> list[tuple[str, int]]:
    """The keywords the rejecting rule matched, most frequent first.

    Keyword rules record each counted match as a signal ``<rule id>.word.<keyword>`` = count;
    the rule id is the reason code without its cause (``ja.ng_adult.too_many`` -> ``ja.ng_adult``).
    """
    rule = reason.rsplit(".", 1)[0] if "." in reason else reason
    prefix = rule + WORD_KEY
    out = []
    for k, v in signals.items():
        if k.startswith(prefix) and isinstance(v, (int, float)):
            out.append((k[len(prefix):], int(v)))
    return sorted(out, key=lambda kv: (-kv[1], kv[0]))


def format_matched(words: list[tuple[str, int]]) -> str:
    """``matched  エロ動画 ×2, 人妻 ×1`` (the line inspect adds above a sample's signals)."""
    return "matched  " + ", ".join(f"{w} ×{n}" for w, n in words)


def render_with_words(sample, width: int, max_chars: int, max_lines: int, i: int, n: int) -> str:  # type: ignore[no-untyped-def]
    """A rendered sample with the matched keywords on their own line (and not among the signals)."""


    words = matched_words(sample.signals, str(sample.row.get("reason", ""))) if sample.signals else []
    if sample.signals and any(WORD_KEY in k for k in sample.signals):
        sample = dataclasses.replace(sample, signals={k: v for k, v in sample.signals.items() if WORD_KEY not in k})
    text = render_sample(i, n, sample, width=width, max_chars=max_chars, max_lines=max_lines)
    if not words:
        return text
    lines = text.split("\n")
    at = next((j for j, ln in enumerate(lines) if ln.startswith("signals ")), None)
    if at is None:
        at = next((j for j, ln in enumerate(lines) if ln.startswith("reason ")), len(lines) - 1) + 1
    lines.insert(at, format_matched(words))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        print("corpusflow inspect: --n must be at least 1", file=sys.stderr)
        return 2
    try:
        run_data = load_run(args.output)
    except (NotARunError, OSError) as exc:
        print(f"corpusflow inspect: {exc}", file=sys.stderr)
        return 2
    if args.reason is None and not args.duplicates and not args.kept:
        print(list_ways_out(run_data))
        return 0
    width = _width(args)
    if args.kept:
        total = count_kept(run_data, source=args.source, lang=args.lang)
        samples = sample_kept(run_data, n=args.n, source=args.source, lang=args.lang, seed=args.seed)
        what = f"kept (from {run_data.kept_from}/)"
    elif args.duplicates:
        total = count_matches(run_data, source=args.source, lang=args.lang, duplicates=True)
        samples = sample_duplicates(run_data, n=args.n, source=args.source, lang=args.lang, seed=args.seed)
        what = "duplicates"
    else:
        reasons = matching_reasons(run_data, args.reason)
        if not reasons:
            known = sorted(set(run_data.rejected.column("reason").to_pylist())) if run_data.rejected is not None else []
            print(f"corpusflow inspect: no rejected document has reason {args.reason!r}; reasons in this run: "
                  + (", ".join(known) if known else "none"), file=sys.stderr)
            return 2
        total = count_matches(run_data, reasons=reasons, source=args.source, lang=args.lang)
        samples = sample_rejected(run_data, reasons, n=args.n, source=args.source, lang=args.lang, seed=args.seed)
        what = ", ".join(reasons)
    filters = "".join(f" {k}={v}" for k, v in (("source", args.source), ("lang", args.lang)) if v)
    print(f"{what}{filters}: {total:,} document(s); showing {len(samples)} (sample key seed {args.seed})\n")
    if not samples:
        return 0
    for i, s in enumerate(samples, start=1):
        print(render_with_words(s, width, args.chars, args.lines, i, len(samples)))
        print()
    return 0
