"""What the fault tests share: a config on the fault server, the CLI and the daemon as real
subprocesses (every wait bounded), and a look at the store through SQLite itself."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tests.builders import ROOT, desk_config, source

WAIT = 30.0  # seconds: the bound of every wait; each returns as soon as it can


def wait_for(condition: Callable[[], object], what: str, bound: float = WAIT) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(
    folder: Path,
    sources: Sequence[tuple[str, str]],
    *,
    port: int = 0,
    interval: str = "1s",
    timeout: str = "2s",
    fetch: str = "{workers: 8, per_host: 16}",
    **sections: str,
) -> Path:
    """feeds.yaml in ``folder`` with one source per (name, url) (a url without a scheme is
    a seed folder), the store in ``data/`` and the feeds in ``feeds/``, served on ``port``
    (8080 when 0); each of ``sections`` (YAML text) sets the top-level key of its name
    (``store`` and ``node`` for a node of a shared store)."""
    port = port or 8080
    return desk_config(
        folder,
        *(source(name, where) for name, where in sources),
        publish=f'{{dir: feeds, base_url: "http://127.0.0.1:{port}/"}}',
        server=f"{{host: 127.0.0.1, port: {port}}}",
        defaults=f"{{interval: {interval}, timeout: {timeout}}}",
        fetch=fetch,
        **sections,
    )


def wiredesk(config: Path, *args: str, bound: float = WAIT) -> subprocess.CompletedProcess[str]:
    """Run ``wiredesk --config CONFIG ARGS`` to its end (at most ``bound`` seconds)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=bound,
        check=False,
    )


def start(config: Path, *args: str) -> subprocess.Popen[str]:
    """Start ``wiredesk --config CONFIG ARGS`` (the daemon when ARGS is empty); its output
    goes to ``daemon.log`` beside the config."""
    log = (config.parent / "daemon.log").open("w", encoding="utf-8")
    with log:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--config", str(config), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


@contextlib.contextmanager
def running(config: Path) -> Iterator[subprocess.Popen[str]]:
    """The daemon on ``config``, killed on the way out if a test left it running."""
    process = start(config)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def stop(process: subprocess.Popen[str], bound: float = 10.0) -> int:
    """SIGTERM ``process`` and return its exit code; fail if it is still running after
    ``bound`` seconds (a liveness bound, not a benchmark)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {bound:g}s after SIGTERM") from None


def log_of(config: Path) -> str:
    """What the daemon started by ``start`` has logged so far."""
    return (config.parent / "daemon.log").read_text(encoding="utf-8")


def query(config: Path, sql: str, *params: object) -> list[tuple]:
    """Rows of ``sql`` on the store of ``config``, read with plain sqlite3 (read-only)."""
    db = config.parent / "data" / "wiredesk.db"
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            if str(e).startswith("no such table"):
                return []  # created a moment ago, not migrated yet
            raise


def source_errors(config: Path) -> dict[str, str]:
    """Each source's last error, by name, as the store remembers it."""
    return dict(query(config, "SELECT name, last_error FROM sources"))


def integrity(config: Path) -> str:
    """SQLite's own verdict on the store: ``ok`` when it is sound, "" when there is none."""
    rows = query(config, "PRAGMA integrity_check")
    return rows[0][0] if rows else ""


def published(config: Path) -> dict:
    """The published ``all.json`` (JSON Feed), or {} before the first publish."""
    path = config.parent / "feeds" / "all.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
