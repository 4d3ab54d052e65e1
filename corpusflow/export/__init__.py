"""Exports of a finished run for other trainers and readers (no Beam).

* :mod:`corpusflow.export.megatron`: Megatron-LM indexed datasets (``.bin``/``.idx``) and the
  ``--data-path`` weights line.
* :mod:`corpusflow.export.jsonl`: JSONL (``.zst``/``.gz``) training shards.
* :mod:`corpusflow.export.tokens`: token ids by the same encode calls that counted them.
* :mod:`corpusflow.export.exporter`: ``corpusflow export``: a run's ``data/`` shards to either.
* :mod:`corpusflow.export.card`: the dataset card (``README.md``) of a finished run.
"""
