"""``corpusflow report OUTPUT [--open]``: an HTML report with plots of what every stage did.

For a run directory it writes ``OUTPUT/report/index.html`` (self-contained: inline CSS, PNGs
embedded, no scripts, viewable offline), every figure again as a PNG next to it, and
``report.json`` with the numbers behind the figures. For the JSON of ``corpusflow
eval-filters --json`` or ``corpusflow tokens --json`` it writes ``<name>.report/index.html``
next to the file (per-rule confusion / tokenizer efficiency charts).
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser

from corpusflow.report.build import build_run_report
from corpusflow.report.load import NotARunError
from corpusflow.report.tools import build_tool_report

EPILOG = """\
examples:
  corpusflow report out/demo                 # -> out/demo/report/index.html (+ *.png, report.json)
  corpusflow report out/demo --open          # and open it in the default browser
  corpusflow report ja_web.eval.json         # eval-filters JSON -> ja_web.eval.report/index.html
  corpusflow report tokens.json --out /tmp/t # tokens JSON -> /tmp/t/index.html

Sections: summary, funnel (documents, characters, tokens through each stage and reason), per
source and language, language scores, document lengths before/after filtering, duplicate
clusters, mixture target vs achieved, tokens per shard, errors, example documents. A section
whose data the run does not have (no dedup, no mixture) says so.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("output", help="a finished run directory, or an eval-filters / tokens JSON file")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where to write the report (default: OUTPUT/report, or <json name>.report/)")
    p.add_argument("--open", action="store_true", help="open the report in a web browser")
    p.add_argument("--no-examples", action="store_true", help="leave out the example documents")


def run(args: argparse.Namespace) -> int:
    path = args.output
    try:
        if os.path.isfile(path) and path.endswith(".json"):
            index, pngs = build_tool_report(path, args.out)
        else:
            res = build_run_report(path, args.out, examples=not args.no_examples)
            index, pngs = res.index, res.pngs
    except (NotARunError, ValueError, FileNotFoundError) as exc:
        print(f"corpusflow report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {index} ({len(pngs)} figure(s), also as PNG in {os.path.dirname(index)}/)")
    if args.open and not webbrowser.open("file://" + os.path.abspath(index)):
        print("corpusflow report: no browser found; open the file above", file=sys.stderr)
    return 0
