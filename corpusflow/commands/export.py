"""``corpusflow export RUN --format megatron|jsonl``: training shards for other trainers.

``--format megatron`` writes Megatron-LM indexed datasets (``NAME.bin``/``NAME.idx``, one
document per training row ended by the end-of-document token) with the token ids of the
tokenizer the run counted with, and ``data_path.txt``: the ``--data-path`` value (``tokens
prefix ...``) that blends the datasets in the run's proportions. ``--format jsonl`` writes
the training rows as JSONL (``.zst``/``.gz``/plain), optionally with their token ids.
``OUTPUT/export.json`` records counts, checks, sha256 and speed. Exit codes: 0 done, 1 the
export failed a check, 2 a usage problem (nothing written).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from corpusflow.export.exporter import FORMATS, PER, ExportError, ExportOptions, export_run
from corpusflow.export.jsonl import COMPRESSIONS

EPILOG = """\
examples:
  corpusflow export out/demo --format megatron --output out/demo-megatron
  corpusflow export out/demo --format megatron --per group --tokenizer llm-jp-v3.1 --output out/mg
  corpusflow export out/demo --format jsonl --compression gz --output out/demo-jsonl

Then train with Megatron-LM:
  pretrain_gpt.py ... --data-args-path out/mg/data_path.txt   # or --data-path $(cat out/mg/data_path.txt)
and the tokenizer the run counted with (--tokenizer-model of the same file).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("run", help="a finished run directory (the --output of 'corpusflow run' or 'corpusflow mix')")
    p.add_argument("--format", "-f", choices=FORMATS, default="megatron", help="megatron (default) or jsonl")
    p.add_argument("--output", "-o", default=None,
                   help="export directory (default: RUN/export/megatron or RUN/export/jsonl)")
    p.add_argument("--per", choices=PER, default="shard",
                   help="one dataset per training shard (default; keeps the run's global order), per "
                   "mixture group, or per source")
    p.add_argument("--tokenizer", "-t", default=None, metavar="NAME_OR_PATH",
                   help="tokenizer (default: the one the run counted with); a preset (llm-jp-v3.1, llama3), "
                   "KIND:PATH or a file; must be the same file unless --allow-other-tokenizer")
    p.add_argument("--allow-other-tokenizer", action="store_true",
                   help="tokenize with a different tokenizer than the run counted with (no count checks)")
    p.add_argument("--eod", default=None, metavar="TOKEN_OR_ID",
                   help="end-of-document token (default: the tokenizer's EOS: </s> for llm-jp, "
                   "<|end_of_text|> for llama3, eos_token of tokenizer_config.json for hf)")
    p.add_argument("--add-bos", action="store_true",
                   help="also start every document with the BOS token (as Megatron's Llama tokenizers do)")
    p.add_argument("--bos", default=None, metavar="TOKEN_OR_ID", help="BOS token (default: the tokenizer's)")
    p.add_argument("--compression", choices=COMPRESSIONS, default="zst", help="jsonl: zst (default), gz or none")
    p.add_argument("--token-ids", action="store_true", help="jsonl: add each document's token_ids")
    p.add_argument("--prefix-root", default=None, metavar="DIR",
                   help="directory written before each prefix in data_path.txt (default: the absolute "
                   "output directory; '' for bare names)")
    p.add_argument("--threads", type=int, default=0, help="encoding threads (0 = the tokenizer's default: all cores)")
    p.add_argument("--batch-rows", type=int, default=1024, help="rows per encode call (default 1024)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in OUTPUT")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def run(args: argparse.Namespace) -> int:

    if args.quiet:
        logging.getLogger().setLevel(logging.WARNING)
    output = args.output or str(Path(args.run) / "export" / args.format)
    opts = ExportOptions(
        run_dir=args.run, output=output, format=args.format, per=args.per, tokenizer=args.tokenizer,
        allow_other_tokenizer=args.allow_other_tokenizer, eod=args.eod, add_bos=args.add_bos, bos=args.bos,
        compression=args.compression, token_ids=args.token_ids, batch_rows=args.batch_rows,
        threads=args.threads, prefix_root=args.prefix_root, overwrite=args.overwrite,
    )
    try:
        report = export_run(opts)
    except ExportError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2 if exc.usage else 1
    if not args.quiet:
        print(summary(report, output))
    return 0


def summary(report: dict[str, Any], output: str) -> str:
    lines = [f"{'dataset':<32} {'documents':>10} {'tokens':>14}"]
    for d in report["datasets"]:
        tokens = d.get("tokens", sum(d.get("tokens_by_group", {}).values()))
        lines.append(f"{d['name']:<32} {d['documents']:>10,} {tokens:>14,}")
    secs = report["seconds"]["total"]
    if report["format"] == "megatron":
        lines.append(
            f"\n{report['rows']:,} documents, {report['tokens']:,} tokens ({report['tokenizer']['name']}, "
            f"{report['dtype']}, EOD {report['eod']['token']}={report['eod']['id']}) in {len(report['datasets'])} "
            f"dataset(s) under {output} ({secs:.1f} s, {report['tokens_per_second']:,.0f} tokens/s); read back: "
            f"{'ok' if report['checks']['read_back'] else 'FAILED'}")
        lines.append(f"Megatron: --data-args-path {os.path.join(output, 'data_path.txt')}")
    src = report.get("token_ids_from")
    if src == "stored":
        lines.append("token ids: stored in the training rows by the run's counting pass (no tokenisation)")
    elif src == "both":
        lines.append(f"token ids: stored for {report['documents_with_stored_ids']:,} documents, "
                     f"tokenised for {report['documents_tokenized']:,} (shards without token_ids)")
    elif src == "tokenizer":
        lines.append(f"token ids: tokenised again with {report['tokenizer']['name']} (the training rows have no "
                     "token_ids; stages.mixture.count.keep_token_ids stores them)")
    else:
        lines.append(f"\n{report['rows']:,} documents in {len(report['datasets'])} file(s) under {output} ({secs:.1f} s)")
    return "\n".join(lines)

