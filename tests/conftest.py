"""Fixtures shared by the whole suite (shared builders and paths live in tests/builders.py)."""
