"""The ``corpusflow`` command line.

Sub-commands are registered in :data:`COMMANDS` as ``name -> (module, help)``. Each module
defines ``add_arguments(parser)`` and ``run(args) -> int`` and is imported only when its command
is used, so ``corpusflow --help`` stays fast and a broken optional dependency only affects its
own command. Exit codes: 0 success, 1 the job failed, 2 a usage or config error (nothing written).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from corpusflow import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("corpusflow.commands.run", "run a pipeline config over its sources and write OUTPUT"),
    "finish": ("corpusflow.commands.finish", "write the manifest of a run whose launcher died after its job"),
    "validate": ("corpusflow.commands.validate", "check a config (keys, types, input files) without running"),
    "eval-filters": ("corpusflow.commands.eval_filters", "measure a filter profile on labelled good/bad documents"),
    "tokens": ("corpusflow.commands.tokens", "count tokens with a tokenizer; print chars/bytes per token per language"),
    "mix": ("corpusflow.commands.mix", "build a new token mixture from the pool of an earlier run (no raw data)"),
    "report": ("corpusflow.commands.report", "write an HTML report with plots of a run (or eval-filters/tokens JSON)"),
    "export": ("corpusflow.commands.export", "export the training shards of a run as Megatron-LM .bin/.idx or JSONL"),
    "inspect": ("corpusflow.commands.inspect", "show sample rejected/duplicate documents of a run with their signals"),
    "fit-dsir": ("corpusflow.commands.fit_dsir", "fit a DSIR importance-resampling model (target vs raw n-gram distributions)"),
    "decontam-index": ("corpusflow.commands.decontam_index", "build the benchmark n-gram index used by stages.decontam"),
    "rehydration-weights": ("corpusflow.commands.rehydration_weights", "filter removal rate by duplicate-cluster size; proposes rehydration copies"),
    "train-quality": ("corpusflow.commands.train_quality", "train a fastText quality classifier from positive and negative files"),
}

EPILOG = """\
examples:
  corpusflow run configs/pipelines/demo.yaml --output out/demo
  corpusflow run configs/pipelines/demo.yaml --output out/x --input 'data/*.jsonl.gz' \\
      --set stages.langid.min_score=0.8
  corpusflow validate configs/pipelines/demo.yaml

Run 'corpusflow COMMAND --help' for the options of one command.
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Logging is set up before the parser is built: building it imports the command's module,
    # which may import Beam, whose import logs warnings about optional Google Cloud clients.
    verbose = any(a in ("-v", "--verbose") for a in argv)
    quiet = any(a in ("-q", "--quiet") for a in argv)
    configure_logging(verbose=verbose, quiet=quiet)
    command = next((a for a in argv if not a.startswith("-")), None)  # after -v/-q/--version
    full = _full_parser(command if command in COMMANDS else None)
    args, extra = full.parse_known_args(argv)
    args.verbose = verbose or bool(getattr(args, "verbose", False))
    args.quiet = quiet or bool(getattr(args, "quiet", False))
    configure_logging(verbose=args.verbose, quiet=args.quiet)
    if getattr(args, "version", False):
        print(f"corpusflow {__version__}")
        return 0
    if not getattr(args, "command", None):
        full.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    stray = [a for a in extra if not a.startswith("-") and "=" not in a]
    if stray and any(os.path.exists(a) for a in stray):
        full.error(f"unexpected file name(s) {' '.join(stray[:3])}{' ...' if len(stray) > 3 else ''}: "
                   "the shell expanded an unquoted glob into several arguments; quote it, "
                   "e.g. --input 'data/*.jsonl.gz'")
    if extra and not getattr(module, "ACCEPTS_EXTRA_ARGS", False):
        full.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_args = extra
    try:
        return int(module.run(args) or 0)
    except BrokenPipeError:  # `corpusflow validate ... | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)  # so the exit-time flush of stdout cannot fail
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # as a process killed by SIGPIPE (13)


class _QuietThirdParty(logging.Filter):
    """Drops records below ERROR logged from third-party library code (Beam's import-time notices
    about optional Google Cloud clients, its INFO chatter); corpusflow's own records pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or record.name.split(".", 1)[0] == "corpusflow":
            return True
        if record.name.split(".", 1)[0] in _THIRD_PARTY_LOGGERS:
            return False
        return not any(part in record.pathname for part in _THIRD_PARTY_PATHS)


_THIRD_PARTY_LOGGERS = ("apache_beam", "urllib3", "botocore", "numba", "py4j")
_THIRD_PARTY_PATHS = (f"{os.sep}apache_beam{os.sep}", f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


def configure_logging(*, verbose: bool, quiet: bool) -> None:
    """corpusflow logs at INFO (WARNING with ``-q``); third-party libraries only their errors,
    unless ``-v`` (DEBUG, everything)."""

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(_QuietThirdParty())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler], force=True)
    own = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.getLogger("corpusflow").setLevel(own)
    logging.getLogger("apache_beam").setLevel(logging.DEBUG if verbose else logging.WARNING)


def _full_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corpusflow",
        description="Turn raw Japanese and English web text into training-ready LLM pretraining data "
        "(language ID, quality filters, MinHash dedup, token mixtures, sharded Parquet) on Apache Beam.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    parser.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == command:
            importlib.import_module(module).add_arguments(p)
            # -q and -v after the command name too, on every command (SUPPRESS: an absent flag
            # leaves the value given before the command name)
            if "-q" not in p._option_string_actions:
                p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                               help="log only warnings and errors")
            if "-v" not in p._option_string_actions:
                p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                               help="log at DEBUG level, third-party libraries included")
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
