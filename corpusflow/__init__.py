"""corpusflow: Japanese/English LLM pretraining data pipeline on Apache Beam.

The document-processing logic (normalisation, language ID, filters, MinHash, token counting,
mixture allocation) is plain Python with no Beam import; only `corpusflow.stages` and
`corpusflow.io` wire it into Beam PTransforms.
"""

__version__ = "0.1.0"
