"""``corpusflow tokens --tokenizer SPEC INPUT...``: tokenizer efficiency per language.

Prints, per tokenizer and language, documents, characters, UTF-8 bytes, tokens, characters per
token and bytes per token (the table of the shisa-base-7b-v1 model card, docs/design.md#token-counting).
``--estimate`` counts only a hash-selected calibration sample per (input, language) and
reports the estimate's relative standard error; ``--verify`` also counts everything exactly
and prints the estimate's actual error.

Tokenizer SPEC: a shipped preset (``llm-jp-v3.1``, ``llama3``), ``KIND:PATH``
(``sentencepiece:``, ``tiktoken:``, ``hf:``) or a path ending in .model / .tiktoken / .json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from corpusflow.core.document import Document
from corpusflow.core.paths import resolve_path
from corpusflow.io.config import FieldMapping, SourceConfig
from corpusflow.io.filesystems import expand_glob
from corpusflow.io.readers import FileSpec, detect_format, iter_file
from corpusflow.mixture.config import TokenizerSpec
from corpusflow.mixture.counting import count_documents, count_exact
from corpusflow.mixture.tokenizers import load_tokenizer
from corpusflow.text.langid import FastTextLangId, prepare_text

EPILOG = """\
examples:
  corpusflow tokens --tokenizer llm-jp-v3.1 --tokenizer llama3 '../shared/data/ja/*.jsonl*'
  corpusflow tokens --tokenizer hf:tokenizer.json data.parquet --lang ja
  corpusflow tokens --tokenizer llama3 --estimate --verify 'C/web/*.jsonl.gz' --json tokens.json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="JSONL(.gz/.zst/...) or Parquet files or globs")
    p.add_argument("--tokenizer", "-t", action="append", required=True, metavar="SPEC",
                   help="tokenizer (repeatable): llm-jp-v3.1, llama3, KIND:PATH or a file path")
    p.add_argument("--field", default="text", help="field with the text (default: text)")
    p.add_argument("--lang", default="auto",
                   help="language of every document, or 'auto' (fastText lid.176, shipped) (default)")
    p.add_argument("--lang-field", default=None, help="take the language from this field instead")
    p.add_argument("--limit", type=int, default=None, help="read at most this many documents")
    p.add_argument("--estimate", action="store_true",
                   help="count a hash-selected calibration sample only and estimate the rest")
    p.add_argument("--sample-rate", type=float, default=0.01, help="estimate: sample share (default 0.01)")
    p.add_argument("--min-sample-docs", type=int, default=500,
                   help="estimate: at least this many documents per (input, language) (default 500)")
    p.add_argument("--verify", action="store_true", help="estimate: also count exactly and print the error")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration sample")
    p.add_argument("--threads", type=int, default=0, help="encoding threads (0 = all cores)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the table as JSON")


def _read_documents(patterns: list[str], field: str, lang_field: str | None,
                    limit: int | None) -> tuple[list[Any], int]:
    docs: list[Document] = []
    errors = 0
    for pat in patterns:
        files = expand_glob(pat)
        if not files:
            raise FileNotFoundError(f"no file matches {pat!r}")
        for path in files:
            name = re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(path).name.split(".")[0]) or "input"
            src = SourceConfig(name=name, paths=[path],
                               fields=FieldMapping(text=field, meta=[lang_field] if lang_field else []))
            spec = FileSpec(source=name, path=path, file_key=Path(path).name, format=detect_format(path))
            for outcome in iter_file(spec, src, 10_000_000):
                if isinstance(outcome, Document):
                    docs.append(outcome)
                    if limit is not None and len(docs) >= limit:
                        return docs, errors
                else:
                    errors += 1
    return docs, errors


def _languages(docs: list[Any], lang: str, lang_field: str | None) -> list[str]:
    if lang_field:
        return [str(d.meta.get(lang_field) or "und") for d in docs]
    if lang != "auto":
        return [lang] * len(docs)

    model = FastTextLangId(resolve_path("pkg:resources/lid.176.ftz"))
    out = []
    for d in docs:
        line = prepare_text(d.text, 2000)
        out.append(model.predict(line, k=1)[0][0] if line else "und")
    return out


def efficiency_rows(docs: list[Any], langs: list[str], counter: Any, *, estimate: bool, seed: int,
                    sample_rate: float, min_sample_docs: int, verify: bool) -> list[dict[str, Any]]:
    """One row per language for one tokenizer (see the module docstring)."""

    texts = [d.text for d in docs]
    cells = [(d.source, lang) for d, lang in zip(docs, langs, strict=True)]
    t0 = time.perf_counter()
    res = count_documents(counter, texts, cells=cells, ids=[d.id for d in docs],
                          mode="estimate" if estimate else "exact", seed=seed, sample_rate=sample_rate,
                          min_sample_docs=min_sample_docs)
    seconds = time.perf_counter() - t0
    exact = count_exact(counter, texts) if (estimate and verify) else None
    rows = []
    for lang in sorted(set(langs)):
        ix = [i for i, x in enumerate(langs) if x == lang]
        chars = sum(len(texts[i]) for i in ix)
        nbytes = sum(len(texts[i].encode("utf-8", "surrogatepass")) for i in ix)
        tokens = int(sum(int(res.n_tokens[i]) for i in ix))
        row: dict[str, Any] = {
            "tokenizer": counter.name, "vocab_size": counter.vocab_size, "lang": lang, "docs": len(ix),
            "chars": chars, "bytes": nbytes, "tokens": tokens,
            "chars_per_token": round(chars / tokens, 4) if tokens else None,
            "bytes_per_token": round(nbytes / tokens, 4) if tokens else None,
            "mode": "estimate" if estimate else "exact",
        }
        if estimate:
            cals = [(c, cal) for c, cal in res.calibrations.items() if c[1] == lang]
            row["sample_docs"] = sum(cal.n for _, cal in cals)
            # Cells are independent: combine their relative errors weighted by estimated tokens.
            var = 0.0
            for (src, _lg), cal in cals:
                pop = sum(1 for c in cells if c == (src, lang))
                cell_tokens = sum(int(res.n_tokens[i]) for i in ix if cells[i][0] == src)
                rse = cal.rel_stderr(pop) or 0.0
                var += (rse * cell_tokens) ** 2
            row["rel_stderr"] = round(var ** 0.5 / tokens, 6) if tokens else None
            if exact is not None:
                true = int(sum(int(exact[i]) for i in ix))
                row["exact_tokens"] = true
                row["actual_rel_error"] = round((tokens - true) / true, 6) if true else None
        row["seconds"] = round(seconds, 3)
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'tokenizer':<14} {'vocab':>7} {'lang':<5} {'docs':>7} {'chars':>11} {'bytes':>11} "
            f"{'tokens':>10} {'chars/tok':>9} {'bytes/tok':>9}")
    extra = any(r["mode"] == "estimate" for r in rows)
    if extra:
        head += f" {'sample':>7} {'rel.se':>8} {'actual err':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (f"{r['tokenizer']:<14} {r['vocab_size']:>7} {r['lang']:<5} {r['docs']:>7} {r['chars']:>11} "
                f"{r['bytes']:>11} {r['tokens']:>10} {r['chars_per_token'] or 0:>9.3f} "
                f"{r['bytes_per_token'] or 0:>9.3f}")
        if extra:
            se = r.get("rel_stderr")
            err = r.get("actual_rel_error")
            line += (f" {r.get('sample_docs', ''):>7} {'' if se is None else f'{se:.4%}':>8} "
                     f"{'' if err is None else f'{err:+.4%}':>10}")
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        counters = []
        for spec in args.tokenizer:
            ts = TokenizerSpec.model_validate(spec)
            ts = ts.model_copy(update={"threads": args.threads})
            counters.append(load_tokenizer(ts))
        docs, errors = _read_documents(args.inputs, args.field, args.lang_field, args.limit)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"corpusflow tokens: {exc}", file=sys.stderr)
        return 2
    if not docs:
        print("corpusflow tokens: no documents read", file=sys.stderr)
        return 1
    langs = _languages(docs, args.lang, args.lang_field)
    rows: list[dict[str, Any]] = []
    for counter in counters:
        rows.extend(efficiency_rows(docs, langs, counter, estimate=args.estimate, seed=args.seed,
                                    sample_rate=args.sample_rate, min_sample_docs=args.min_sample_docs,
                                    verify=args.verify))
    print(format_table(rows))
    if errors:
        print(f"\n({errors} unreadable or too-long records skipped)")
    if args.json:
        Path(args.json).write_text(json.dumps({"inputs": args.inputs, "rows": rows}, indent=2,
                                              ensure_ascii=False) + "\n", encoding="utf-8")
    return 0
