"""Beam entry point for the corpusflow pipeline (what ``corpusflow run`` calls).

Usable directly as a module, e.g. for ``--setup_file`` submissions to Dataflow::

    python -m pipelines.corpus configs/pipelines/demo.yaml --output gs://bucket/out \\
        --runner DataflowRunner --project P --region R --temp_location gs://bucket/tmp
"""

from __future__ import annotations

import sys

from corpusflow.cli import main


def run(argv: list[str] | None = None) -> int:
    return main(["run", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(run())
