"""Quality filters (pure Python, no Beam)."""
