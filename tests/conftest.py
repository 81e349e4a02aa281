"""Shared fixtures: paths to the project's own sample files."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.fixture
def fixtures() -> Path:
    """The folder of sample feeds, seed articles and configs written for the tests."""
    return FIXTURES
