"""Thin Beam entry points: ``python -m pipelines.corpus CONFIG --output DIR [beam options]``."""
