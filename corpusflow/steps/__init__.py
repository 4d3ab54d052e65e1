"""Per-document steps (plain Python, no Beam): each a DocStep with its config model."""
