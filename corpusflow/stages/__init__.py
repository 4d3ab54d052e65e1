"""Beam wiring: each module turns pure corpusflow logic into a composite PTransform."""
