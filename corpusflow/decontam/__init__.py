"""Benchmark decontamination: an n-gram index of evaluation items, matching and actions (no Beam).

* :mod:`corpusflow.decontam.config` - what to index (benchmark files, field mappings) and what
  the stage does with a match;
* :mod:`corpusflow.decontam.ngrams` - per-language normalisation and n-grams with character
  offsets back into the original text;
* :mod:`corpusflow.decontam.index` - building, saving (Parquet + JSON, versioned) and loading
  the index;
* :mod:`corpusflow.decontam.match` - the hits of one text, the contamination decision, and
  the drop / cut / tag actions.

The Beam step is :mod:`corpusflow.steps.decontam`.
"""
