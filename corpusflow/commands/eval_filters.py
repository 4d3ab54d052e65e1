"""``corpusflow eval-filters``: how well a filter profile drops labelled bad documents, and
what it loses from clean text.

Prints a row per rule and two rows for the whole profile (all rules; without the ``length``
rules, which on short labelled snippets measure the snippet, not the page): bad and good
documents dropped, precision / recall / F1 of dropping ``bad``, the share of ``good`` dropped,
and Youden's J (share of bad dropped minus share of good dropped: 0 for any rule that drops at
random, including "drop everything"). Writes the same as JSON; its top-level ``precision``,
``recall``, ``f1``, ``good_drop_rate`` and ``youden_j`` are those of the whole profile (without
length rules when ``--exclude-length`` is given).

With ``--clean FILE`` (repeatable; JSONL/JSONL.gz, every document "good": news, Wikipedia,
literature) it also reports, per file, the share of documents the profile drops (with and
without length rules), the first reason of each drop, and per rule the documents it fails and
its top reason codes — so a profile is judged on both sides. ``--labels`` and ``--clean`` can
be given together or alone; the JSON gets a ``clean`` list.

Example::

    corpusflow eval-filters --profile ja_web --labels ../shared/data/ja/mc4ja_quality_labels.dev.jsonl \\
        --exclude-length --folds 2 --json out/ja_web.eval.json
    corpusflow eval-filters --profile en_web --clean ../shared/data/en/abc_news.jsonl.gz \\
        --clean ../shared/data/en/c4_sample.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from corpusflow.filters.base import FilterConfigError
from corpusflow.filters.evaluate import evaluate_chain, evaluate_clean, format_clean, format_table
from corpusflow.filters.profiles import build_chain, load_profile


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", required=True, help="profile name (ja_web, ja_llmjp, ...) or YAML path")
    p.add_argument("--labels", default=None, help="JSONL(.gz) file with a text and a label per line")
    p.add_argument("--clean", action="append", default=[], metavar="FILE",
                   help="JSONL(.gz) file of clean text, every document good (repeatable): drop rate and reasons")
    p.add_argument("--label-field", default="label", help="field holding the label (default: label)")
    p.add_argument("--bad-value", default="bad", help="label value of documents that should be dropped")
    p.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    p.add_argument("--lang", default=None, help="language the rules are applied for (default: the profile's first)")
    p.add_argument("--exclude-length", action="store_true",
                   help="the headline profile figures leave out rules of category 'length'")
    p.add_argument("--folds", type=int, default=0,
                   help="also report the profile on K deterministic folds (by text hash), e.g. 2 for a held-out half")
    p.add_argument("--fold-by", choices=("hash", "position"), default="hash",
                   help="folds by text hash (default) or as contiguous blocks of the file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="RULE.PARAM=VALUE",
                   help="override a parameter, e.g. ja.hiragana_fraction.min=0.15 (repeatable)")
    p.add_argument("--json", dest="json_out", default=None,
                   help="also write the JSON report to this file (default: none; the report is printed)")


def _read_labels(path: str, text_field: str, label_field: str, bad: str) -> list[tuple[str, bool]]:
    op = gzip.open if path.endswith(".gz") else open
    out: list[tuple[str, bool]] = []
    with op(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                text = rec[text_field]
                label = rec[label_field]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{i}: cannot read {text_field!r}/{label_field!r}: {exc}") from None
            if not isinstance(text, str):
                raise ValueError(f"{path}:{i}: {text_field!r} is not a string")
            out.append((text, str(label) == bad))
    return out


def _read_texts(path: str, text_field: str) -> list[str]:
    op = gzip.open if path.endswith(".gz") else open
    out: list[str] = []
    with op(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)[text_field]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{i}: cannot read {text_field!r}: {exc}") from None
            if not isinstance(text, str):
                raise ValueError(f"{path}:{i}: {text_field!r} is not a string")
            out.append(text)
    return out


def _parse_overrides(items: list[str], ids: list[str]) -> dict[str, dict[str, Any]]:
    import yaml  # lazy: heavy or optional dependency, loaded only when used

    out: dict[str, dict[str, Any]] = {}
    for it in items:
        if "=" not in it:
            raise FilterConfigError(f"--set {it!r}: expected RULE.PARAM=VALUE")
        key, raw = it.split("=", 1)
        rule = next((i for i in sorted(ids, key=len, reverse=True) if key.startswith(i + ".")), None)
        if rule is None:
            raise FilterConfigError(f"--set {it!r}: no rule of the profile matches; rules: {', '.join(ids)}")
        param = key[len(rule) + 1 :]
        out.setdefault(rule, {})[param] = yaml.safe_load(raw)
    return out


def run(args: argparse.Namespace) -> int:
    try:
        prof = load_profile(args.profile)
        lang = args.lang or (prof.spec.languages[0] if prof.spec.languages else None)
        overrides = _parse_overrides(args.overrides, prof.spec.ids())
        chain = build_chain(prof, lang=lang, overrides=overrides)
    except FilterConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.labels and not args.clean:
        print("error: give --labels FILE and/or --clean FILE", file=sys.stderr)
        return 2
    for path in ([args.labels] if args.labels else []) + args.clean:
        if not Path(path).is_file():
            print(f"error: file not found: {path}", file=sys.stderr)
            return 2
    result: dict[str, Any] = {"profile": prof.spec.name}
    if args.labels:
        try:
            docs = _read_labels(args.labels, args.text_field, args.label_field, args.bad_value)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not docs:
            print(f"error: no labelled documents in {args.labels}", file=sys.stderr)
            return 2
        rep = evaluate_chain(chain, docs, folds=args.folds, fold_by=args.fold_by)
        n_bad = rep.whole.n_bad
        print(f"profile {prof.spec.name} ({prof.source}), lang {lang}: {len(docs)} documents, "
              f"{n_bad} {args.bad_value!r}, {len(docs) - n_bad} other")
        rows = [*rep.rules, rep.whole, rep.whole_no_length]
        for a, b in rep.folds:
            rows += [a, b]
        print(format_table(rows))
        result = rep.to_dict(args.exclude_length)
    if args.clean:
        print(f"profile {prof.spec.name} ({prof.source}), lang {lang}: clean sets (every document good)")
        clean = []
        for path in args.clean:
            try:
                texts = _read_texts(path, args.text_field)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            crep = evaluate_clean(chain, texts, Path(path).name)
            print(format_clean(crep))
            clean.append({"file": path, **crep.to_dict()})
        result["clean"] = clean
    if args.json_out:  # only where asked: the command writes nothing of its own accord
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0
