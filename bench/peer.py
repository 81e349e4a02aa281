"""lemon24's ``reader``, the peer: installed into its own venv, driven through reader_peer.py.

The venv lives in bench/out/reader-venv (git-ignored) and is built once with
``python -m venv`` and ``pip install reader sgmllib3k``; ``reader`` is never a project dependency.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import OUT, ROOT, BenchError
from bench.proc import Measured, run_measured

VENV = OUT / "reader-venv"
# reader's vendored feedparser still imports ``sgmllib``; feedparser 6.0.14 now depends on
# ``feedparser-sgmllib`` (another module name), so sgmllib3k has to be asked for by name.
PACKAGES = ("reader", "sgmllib3k")
SCRIPT = ROOT / "bench" / "reader_peer.py"
INSTALL_SECONDS = 600


def ensure_venv(venv: Path = VENV) -> Path:
    """The Python of a venv with ``reader`` installed, building the venv when it lacks it.

    Raises BenchError when the venv cannot be built or pip cannot install reader.
    """
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import reader._vendor.feedparser"]
    if python.exists() and _run(probe).returncode == 0:
        return python
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", *PACKAGES],
    )
    for step in steps:
        done = _run(step)
        if done.returncode != 0:
            tail = " ".join(done.stderr[-400:].split())
            raise BenchError(f"{venv}: {' '.join(step[-2:])} failed: {tail}")
    return python


def version(python: Path) -> str:
    """The installed reader's version string."""
    done = _run([str(python), "-c", "import reader; print(reader.__version__)"])
    return done.stdout.strip()


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False
    )


def add_feeds(python: Path, db: Path, urls_file: Path, *, timeout: float) -> Measured:
    """Add every URL of ``urls_file`` to a new reader database at ``db`` (untimed set-up)."""
    return _child(python, ["add", str(db), str(urls_file)], timeout)


def update(python: Path, db: Path, workers: int, *, timeout: float) -> Measured:
    """One reader pass over every feed of ``db``; its JSON report is in ``stdout``."""
    return _child(python, ["update", str(db), "--workers", str(workers)], timeout)


def calibrate(
    python: Path, folder: Path, urls_file: Path, workers: tuple[int, ...], *, timeout: float
) -> dict[str, Any]:
    """Time a first pass over ``urls_file`` with each worker count; returns reader_peer's
    ``{"seconds": {W: s}, "best": W}``. Raises BenchError when the child fails."""
    measured = _child(
        python,
        ["calibrate", str(folder), str(urls_file), "--workers", ",".join(map(str, workers))],
        timeout,
    )
    return report(measured)


def report(measured: Measured) -> dict[str, Any]:
    """The JSON object a reader_peer child printed. Raises BenchError when it failed."""
    if not measured.ok:
        raise BenchError(measured.failure("reader"))
    return json.loads(measured.stdout)


def _child(python: Path, args: list[str], timeout: float) -> Measured:
    return run_measured([str(python), str(SCRIPT), *args], cwd=ROOT, timeout=timeout)
