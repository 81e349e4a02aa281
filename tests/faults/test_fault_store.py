"""A store that cannot be written: locked by another process, collect fails once, after one
busy timeout, with the message; on a read-only location it says "read-only"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.store import open_store
from bench.faultserver import FaultServer
from tests.builders import ROOT
from tests.faults.harness import wiredesk, write_config

# Holds the write lock of a SQLite file until its stdin closes.
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO sources (name) VALUES ('locker')")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_locked_store_fails_the_pass_once_and_fast(tmp_path: Path) -> None:
    with FaultServer() as server:
        sources = [(f"ok{n}", server.url("ok", n)) for n in range(12)]
        config = write_config(tmp_path, sources, fetch="{workers: 8, per_host: 16}")
        db = tmp_path / "data" / "wiredesk.db"
        open_store(str(db)).close()  # created and migrated, as collect would
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
            # 8 workers each waiting out a 10 s busy timeout in turn took 80 s; the bound
            # (a liveness bound, not a benchmark) is well under that
            result = wiredesk(config, "collect", bound=40)
        finally:
            locker.communicate("", timeout=10)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if "locked" in line]
    assert f"{db}: database is locked: another process held it for 10s" in line
    assert "Traceback" not in result.stderr


# Root writes through any permission bit, so for root the store's folder is a tmpfs
# mounted read-only in a private mount namespace (nothing outside the test sees it).
READ_ONLY_AS_ROOT = """
set -e
mount -t tmpfs tmpfs "$DATA"
if [ -n "$EXISTING" ]; then "$PYTHON" run.py --config "$CONFIG" publish >/dev/null; fi
mount -o remount,ro "$DATA"
exec "$PYTHON" run.py --config "$CONFIG" collect
"""


def collect_on_read_only(config: Path, data: Path, existing: bool) -> subprocess.CompletedProcess:
    """``collect`` with the store's folder ``data`` read-only (and the store in it when
    ``existing``)."""
    if os.geteuid() == 0:
        if not shutil.which("unshare"):
            pytest.skip("needs unshare(1) to make a read-only mount as root")
        argv = ["unshare", "--mount", "sh", "-c", READ_ONLY_AS_ROOT]
        env = {**os.environ, "DATA": str(data), "CONFIG": str(config), "PYTHON": sys.executable}
        env["EXISTING"] = "1" if existing else ""
    else:
        if existing:
            assert wiredesk(config, "publish").returncode == 0
        for path in (data, *data.iterdir()):
            path.chmod(0o555 if path.is_dir() else 0o444)
        argv, env = [sys.executable, "run.py", "--config", str(config), "collect"], None
    result = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False
    )
    if "unshare" in argv and "mount" in result.stderr and result.returncode != 1:
        pytest.skip(f"cannot make a read-only mount here: {result.stderr.strip()}")
    return result


@pytest.mark.parametrize("existing", [False, True], ids=["new store", "existing store"])
def test_a_read_only_store_says_read_only(tmp_path: Path, existing: bool) -> None:
    (tmp_path / "seeds").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    config = write_config(tmp_path, [("seeds", "seeds")])
    result = collect_on_read_only(config, data, existing)
    try:
        assert result.returncode == 1, result.stderr
        assert f"{data / 'wiredesk.db'}: cannot open the store: read-only (" in result.stderr
        assert "unable to open database file" not in result.stderr
    finally:
        for path in (data, *data.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)  # so pytest can clean up
