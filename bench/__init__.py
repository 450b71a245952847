"""Podium benchmarks: ``python -m bench`` (see bench/README.md for the definitions).

Performance is measured here and printed, never asserted by timed tests.
"""
