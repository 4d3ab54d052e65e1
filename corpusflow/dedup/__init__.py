"""Exact and MinHash-LSH deduplication (pure Python, no Beam)."""
