"""Token counting and mixture allocation (pure Python, no Beam)."""
