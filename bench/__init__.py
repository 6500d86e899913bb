"""Benchmarks, each run from the repository's root as `python -m bench.<name>` (see README.md)."""
