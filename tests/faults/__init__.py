"""Builders of damaged input files for the fault suite (tests/test_faults_*.py) and the
adversarial corpus (make_adversarial.py)."""
