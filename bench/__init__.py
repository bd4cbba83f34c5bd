"""Benchmarks: scripts that print figures (speed measured as ratios in one run); not tests."""
