"""Selection beyond heuristics: DSIR importance resampling and a fastText quality
classifier (pure Python + numpy; the Beam wiring is in :mod:`corpusflow.stages.dsir`)."""
