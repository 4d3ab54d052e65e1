"""Measure how well a filter profile separates labelled ``bad`` documents from ``good`` ones.

The chain runs once in ``tag`` mode over every labelled document, so each rule is judged on
every document (not only on those earlier rules let through). For every rule and for the whole
profile (a document is dropped when any rule fails it, which is exactly what ``filter`` mode
drops) we report:

* ``bad_dropped`` / ``good_dropped`` and the totals;
* precision, recall and F1 of *dropping bad documents*;
* ``good_drop_rate``: the share of good documents lost;
* ``youden_j`` = recall − good_drop_rate (share of bad dropped minus share of good dropped).
  J is 0 for any rule that drops at random — including "drop everything", whose F1 on a
  half-bad set is a misleading ~0.68 — and 1 for a perfect rule.

Rules of category ``length`` can be left out of the profile row (``exclude_categories``): on
short labelled snippets they measure the snippet length, not the page.

Clean-text sets (:func:`evaluate_clean`): every document is "good" (news, encyclopaedia,
literature), so the only question is what a profile loses. Reported per set: documents
dropped by the profile and the drop rate (with and without length rules), the first reason of
each drop (what ``filter`` mode would record), and per rule the documents it fails and its
top reason codes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from corpusflow.core.hashing import stable_hash64
from corpusflow.filters.chain import FilterChain


@dataclass
class DropStats:
    """Confusion counts of one rule (or of a whole profile) on a labelled set."""

    name: str
    category: str
    n_bad: int
    n_good: int
    bad_dropped: int = 0
    good_dropped: int = 0

    @property
    def precision(self) -> float:
        d = self.bad_dropped + self.good_dropped
        return self.bad_dropped / d if d else 0.0

    @property
    def recall(self) -> float:
        return self.bad_dropped / self.n_bad if self.n_bad else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def good_drop_rate(self) -> float:
        return self.good_dropped / self.n_good if self.n_good else 0.0

    @property
    def youden_j(self) -> float:
        return self.recall - self.good_drop_rate

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            precision=round(self.precision, 4),
            recall=round(self.recall, 4),
            f1=round(self.f1, 4),
            good_drop_rate=round(self.good_drop_rate, 4),
            youden_j=round(self.youden_j, 4),
        )
        return d


@dataclass
class EvalReport:
    """Per-rule rows, the whole profile with and without length rules, and optional folds."""

    profile: str
    rules: list[DropStats]
    whole: DropStats
    whole_no_length: DropStats
    folds: list[tuple[DropStats, DropStats]] = field(default_factory=list)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    fold_by: str = "hash"

    def to_dict(self, exclude_length: bool) -> dict[str, Any]:
        main = self.whole_no_length if exclude_length else self.whole
        out: dict[str, Any] = {
            "profile": self.profile,
            "length_rules_excluded": exclude_length,
            "n_bad": main.n_bad,
            "n_good": main.n_good,
            "bad_dropped": main.bad_dropped,
            "good_dropped": main.good_dropped,
            "precision": round(main.precision, 4),
            "recall": round(main.recall, 4),
            "f1": round(main.f1, 4),
            "good_drop_rate": round(main.good_drop_rate, 4),
            "youden_j": round(main.youden_j, 4),
            "profile_all_rules": self.whole.to_dict(),
            "profile_without_length_rules": self.whole_no_length.to_dict(),
            "rules": [r.to_dict() for r in self.rules],
            "first_reasons": self.reasons,
        }
        if self.folds:
            out["folds"] = [
                {"fold": i, "fold_by": self.fold_by, "all_rules": a.to_dict(), "without_length_rules": b.to_dict()}
                for i, (a, b) in enumerate(self.folds)
            ]
        return out


def fold_of(text: str, k: int, seed: int = 0) -> int:
    """Deterministic fold of a document, by its text (identical snippets share a fold)."""
    return stable_hash64("eval-fold", text, seed=seed) % k


def assign_folds(docs: Sequence[tuple[str, bool]], k: int, by: str = "hash", seed: int = 0) -> list[int]:
    """Fold of every document: ``hash`` of the text, or ``position`` (k contiguous blocks of the
    file, which keeps snippets of one page, and the file's sub-sources, together)."""
    if by == "position":
        n = len(docs)
        return [min(i * k // max(n, 1), k - 1) for i in range(n)]
    if by != "hash":
        raise ValueError(f"fold assignment must be 'hash' or 'position', got {by!r}")
    return [fold_of(t, k, seed) for t, _ in docs]


def evaluate_chain(
    chain: FilterChain,
    docs: Sequence[tuple[str, bool]],
    *,
    length_categories: Iterable[str] = ("length",),
    folds: int = 0,
    fold_by: str = "hash",
    seed: int = 0,
) -> EvalReport:
    """Evaluate ``chain`` (any mode; run in tag mode here) on ``(text, is_bad)`` pairs."""
    tag = FilterChain(chain.steps, mode="tag", name=chain.name).setup()
    length_cats = frozenset(length_categories)
    length_ids = {s.id for s in tag.steps if s.category in length_cats}
    n_bad = sum(1 for _, b in docs if b)
    n_good = len(docs) - n_bad
    rules = {s.id: DropStats(s.id, s.category, n_bad, n_good) for s in tag.steps}
    whole = DropStats("(profile, all rules)", "profile", n_bad, n_good)
    whole_nl = DropStats("(profile, without length rules)", "profile", n_bad, n_good)
    fold_stats: list[tuple[DropStats, DropStats]] = []
    fold_ids = assign_folds(docs, folds, fold_by, seed) if folds > 1 else []
    for i in range(folds if folds > 1 else 0):
        nb = sum(1 for (_, b), f in zip(docs, fold_ids, strict=True) if b and f == i)
        ng = sum(1 for (_, b), f in zip(docs, fold_ids, strict=True) if not b and f == i)
        fold_stats.append(
            (DropStats(f"{fold_by} fold {i}, all rules", "profile", nb, ng),
             DropStats(f"{fold_by} fold {i}, without length rules", "profile", nb, ng))
        )
    reasons: dict[str, dict[str, int]] = {}
    for j, (text, is_bad) in enumerate(docs):
        res = tag.run(text)
        failed = {v.step for v in res.failures}
        for sid in failed:
            _inc(rules[sid], is_bad)
        any_all = bool(failed)
        any_nl = bool(failed - length_ids)
        if any_all:
            _inc(whole, is_bad)
            first = res.failures[0].reason
            reasons.setdefault(first, {"bad": 0, "good": 0})["bad" if is_bad else "good"] += 1
        if any_nl:
            _inc(whole_nl, is_bad)
        if fold_stats:
            a, b = fold_stats[fold_ids[j]]
            if any_all:
                _inc(a, is_bad)
            if any_nl:
                _inc(b, is_bad)
    return EvalReport(chain.name, list(rules.values()), whole, whole_nl, fold_stats, reasons, fold_by)


def _inc(s: DropStats, is_bad: bool) -> None:
    if is_bad:
        s.bad_dropped += 1
    else:
        s.good_dropped += 1


def format_table(rows: Sequence[DropStats]) -> str:
    """A fixed-width text table of drop statistics."""
    head = f"{'rule':40s} {'category':11s} {'bad':>9s} {'good':>9s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'good%':>6s} {'J':>6s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.name[:40]:40s} {r.category[:11]:11s} "
            f"{r.bad_dropped:>4d}/{r.n_bad:<4d} {r.good_dropped:>4d}/{r.n_good:<4d} "
            f"{r.precision:6.3f} {r.recall:6.3f} {r.f1:6.3f} {100 * r.good_drop_rate:5.1f}% {r.youden_j:6.3f}"
        )
    return "\n".join(lines)


@dataclass
class RuleDrops:
    """One rule on a clean set: documents it fails (on its own) and its reason codes."""

    name: str
    category: str
    dropped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class CleanReport:
    """What a profile drops from a set of clean ("good") documents."""

    name: str
    n_docs: int
    dropped: int = 0
    dropped_no_length: int = 0
    first_reasons: Counter[str] = field(default_factory=Counter)
    rules: list[RuleDrops] = field(default_factory=list)

    @property
    def drop_rate(self) -> float:
        return self.dropped / self.n_docs if self.n_docs else 0.0

    @property
    def drop_rate_no_length(self) -> float:
        return self.dropped_no_length / self.n_docs if self.n_docs else 0.0

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_docs": self.n_docs,
            "dropped": self.dropped,
            "drop_rate": round(self.drop_rate, 4),
            "dropped_without_length_rules": self.dropped_no_length,
            "drop_rate_without_length_rules": round(self.drop_rate_no_length, 4),
            "first_reasons": dict(self.first_reasons.most_common()),
            "rules": [
                {"name": r.name, "category": r.category, "dropped": r.dropped,
                 "drop_rate": round(r.dropped / self.n_docs, 4) if self.n_docs else 0.0,
                 "top_reasons": dict(r.reasons.most_common(top))}
                for r in self.rules
            ],
        }


def evaluate_clean(
    chain: FilterChain, texts: Iterable[str], name: str, *, length_categories: Iterable[str] = ("length",)
) -> CleanReport:
    """Run ``chain`` in tag mode over clean ``texts``: every drop is a loss of good text."""
    tag = FilterChain(chain.steps, mode="tag", name=chain.name).setup()
    length_ids = {st.id for st in tag.steps if st.category in frozenset(length_categories)}
    rules = {st.id: RuleDrops(st.id, st.category) for st in tag.steps}
    rep = CleanReport(name, 0, rules=list(rules.values()))
    for text in texts:
        rep.n_docs += 1
        res = tag.run(text)
        if not res.failures:
            continue
        rep.dropped += 1
        rep.first_reasons[res.failures[0].reason] += 1
        failed: set[str] = set()
        for v in res.failures:
            rules[v.step].reasons[v.reason] += 1
            failed.add(v.step)
        for sid in failed:
            rules[sid].dropped += 1
        if failed - length_ids:
            rep.dropped_no_length += 1
    return rep


def format_clean(rep: CleanReport, top: int = 3) -> str:
    """A text table: the profile's drop rate on a clean set, then every rule that drops something."""
    lines = [
        f"clean set {rep.name}: {rep.n_docs} documents, dropped {rep.dropped} ({100 * rep.drop_rate:.2f}%); "
        f"without length rules {rep.dropped_no_length} ({100 * rep.drop_rate_no_length:.2f}%)",
        "  first reasons: " + (", ".join(f"{r} {n}" for r, n in rep.first_reasons.most_common(top + 2)) or "(none)"),
        f"  {'rule':40s} {'category':11s} {'dropped':>8s} {'rate':>7s}  top reasons",
    ]
    for r in sorted(rep.rules, key=lambda r: (-r.dropped, r.name)):
        if not r.dropped:
            continue
        reasons = ", ".join(f"{c.rsplit('.', 1)[-1]} {n}" for c, n in r.reasons.most_common(top))
        lines.append(f"  {r.name[:40]:40s} {r.category[:11]:11s} {r.dropped:>8d} {100 * r.dropped / rep.n_docs:>6.2f}%  {reasons}")
    return "\n".join(lines)
