"""The one local-spill setting: may workers hand data to each other through local files?

On Beam's local runner every worker runs on this machine and sees the same file system, so the
heavy transforms (shard writers, the hand-offs before dedup routing and the mixture, the
mixture's routed copies) spill records to local run files and pass only file names through the
runner, which is several times cheaper than shuffling every record. On a cluster the workers'
disks are not shared, so the same transforms shuffle records through the runner instead. Both
paths give the same bytes (tested both ways).

The choice is one explicit pipeline option, resolved once by :mod:`corpusflow.run.runners` from
``runner.shared_filesystem`` (``auto``: true for the DirectRunner, false for every other runner):

* ``--shared_filesystem=true|false`` (default false: the path that works everywhere);
* ``--spill_dir=DIR``: where the run files go (``OUTPUT/_work/spill`` for a local output, so that
  ``--overwrite`` and an interrupted run's clean-up find them; else ``$CORPUSFLOW_SPILL_DIR`` or
  the system temp directory).

Transforms read it with :meth:`Spill.of` at graph construction; a transform's own ``spill=`` /
``local=`` argument, where it has one, overrides it (tests use that to run both paths).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions


class CorpusflowOptions(PipelineOptions):
    """corpusflow's own pipeline options (registered with Beam's option parser on import)."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--shared_filesystem", default="false", choices=("true", "false"),
            help="corpusflow: workers share this machine's file system, so transforms hand data over "
                 "through local run files (set by corpusflow from runner.shared_filesystem)")
        parser.add_argument(
            "--spill_dir", default=None,
            help="corpusflow: directory for local run files (default: OUTPUT/_work/spill for a local output)")
        parser.add_argument(
            "--execution_mode_for_batch", default=None, choices=("PIPELINED", "BATCH_FORCED"),
            help="Flink's batch exchange mode (FlinkPipelineOptions.executionModeForBatch, passed to the "
                 "job server); corpusflow sets BATCH_FORCED for FlinkRunner (see run/engines.py)")


#: Beam's local runners (DirectRunner / FnApiRunner): each stage runs once over its input.
LOCAL_RUNNERS = ("DirectRunner", "SwitchingDirectRunner", "FnApiRunner", "BundleBasedDirectRunner")


@dataclass(frozen=True)
class Spill:
    """Whether transforms spill to local files (``local``), under which directory (``root``), and
    whether run files must stay until the run ends (``keep_runs``).

    ``keep_runs`` is true off the local runner: Spark runs a stage again when two steps consume its
    output or a task is retried, so a run file deleted by its first reader would be missing for
    the second (seen with ``--shared_filesystem=true`` on a Spark standalone cluster). The files
    then stay in the spill directory until ``finish_run`` removes ``OUTPUT/_work/spill``.
    """

    local: bool
    root: str
    keep_runs: bool = False

    @classmethod
    def of(cls, pipeline: beam.Pipeline) -> Spill:
        opts = pipeline.options.view_as(CorpusflowOptions)
        root = opts.spill_dir or os.environ.get("CORPUSFLOW_SPILL_DIR") or tempfile.gettempdir()
        return cls(local=opts.shared_filesystem == "true", root=root,
                   keep_runs=type(pipeline.runner).__name__ not in LOCAL_RUNNERS)

    def new_dir(self, kind: str) -> str:
        """A fresh directory name for one transform's run files (created by its first writer)."""
        return os.path.join(self.root, f"corpusflow-{kind}-{uuid.uuid4().hex}")
