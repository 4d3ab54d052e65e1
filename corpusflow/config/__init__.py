"""Pipeline configuration: the whole-pipeline model (pipeline.py), loading with overrides and error messages (load.py), and every launch-time check (checks.py)."""
