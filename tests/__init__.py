"""Tests: pytest modules mirroring the packages, with shared fixtures and real data helpers."""
