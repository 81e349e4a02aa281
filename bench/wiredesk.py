"""Wiredesk, driven only the way a user drives it: ``python run.py ...`` in a child process.

Configs are written as JSON, which is YAML too, so the bench needs no YAML writer.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import ROOT
from bench.proc import Child, Measured, run_measured
from bench.workload import SECTIONS, TOPIC_WORDS

RUN = ROOT / "run.py"
HEALTH_SECONDS = 20
SERVED_CATEGORY = "world"  # the category feed the serve step loads
# Ten categories: five by section, five by a word of the text, so both kinds of rule run.
CATEGORIES: tuple[dict[str, Any], ...] = (
    *({"name": section.lower(), "section": section} for section in SECTIONS[:5]),
    *({"name": word, "include": [word]} for word in TOPIC_WORDS),
)
# Every feed lives on 127.0.0.1 here, so the per-host cap would serialise the whole pass;
# both caps are set to what the config allows for many hosts.
FETCH = {"workers": 16, "per_host": 16}


def write_config(
    path: Path,
    *,
    store: Path | str,
    publish_dir: Path,
    port: int,
    feeds: Sequence[tuple[str, str]] = (),
    seeds: Path | None = None,
    categories: Sequence[dict[str, Any]] = CATEGORIES,
    node: str | None = None,
) -> Path:
    """Write a Wiredesk config for the bench: ``store`` (a SQLite file or a PostgreSQL
    URL), ``feeds`` as (name, url) sources due every second (so each pass fetches them
    all), an optional seed folder (Europe/Istanbul), ``categories`` and an optional node
    name. Returns ``path``."""
    sources: list[dict[str, Any]] = [{"name": name, "url": url} for name, url in feeds]
    if seeds is not None:
        sources.append({"name": "seeds", "path": str(seeds), "timezone": "Europe/Istanbul"})
    config = {
        "store": str(store),
        "publish": {
            "dir": str(publish_dir),
            "base_url": f"http://127.0.0.1:{port}/",
            "max_items": 50,
        },
        "server": {"host": "127.0.0.1", "port": port},
        "defaults": {"interval": "1s", "timeout": "60s"},
        "fetch": FETCH,
        "sources": sources,
        "categories": list(categories),
        **({"node": node} if node else {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def cli(args: Sequence[str], *, timeout: float) -> Measured:
    """Run ``python run.py ARGS`` from the project root and measure it, with Python free
    to write its bytecode caches: an installed Wiredesk has them (pip compiles at install)
    as reader's venv does, and with PYTHONDONTWRITEBYTECODE set (as on the benchmark box)
    every child would compile the whole package again, ~0.1 s of each pass."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return run_measured([sys.executable, str(RUN), *args], cwd=ROOT, timeout=timeout, env=env)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceCheck:
    """What ``run.py sources --json`` says after a pass: failed sources and stored counts."""

    sources: int
    failed: int
    first_error: str
    articles: int  # stories carried, summed over sources
    error: str = ""  # set when the check itself failed


def check_sources(config: Path, *, timeout: float) -> SourceCheck:
    """Run ``sources --json`` (a collect exits 0 even when sources fail: their errors are
    values) and count the sources whose last fetch failed."""
    measured = cli(["sources", "--json", "--config", str(config)], timeout=timeout)
    if not measured.ok:
        return SourceCheck(
            sources=0, failed=0, first_error="", articles=0, error=measured.failure("wiredesk")
        )
    rows = json.loads(measured.stdout)
    failed = [row for row in rows if row.get("error_streak") or row.get("last_error")]
    return SourceCheck(
        sources=len(rows),
        failed=len(failed),
        first_error=failed[0].get("last_error", "") if failed else "",
        articles=sum(row.get("articles", 0) for row in rows),
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    """What one bounded client loop against ``serve`` saw."""

    requests: int
    seconds: float
    statuses: dict[int, int]

    @property
    def per_second(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeResult:
    """The ``serve`` step: the server process, and the plain and conditional loops."""

    process: Measured
    plain: Served | None = None
    conditional: Served | None = None
    error: str = ""


def serve_throughput(
    config: Path, port: int, path: str, *, requests: int, seconds: float, threads: int
) -> ServeResult:
    """Start ``run.py serve``, wait for ``/healthz``, then load ``path`` with ``threads``
    keep-alive clients, first plainly and then with If-None-Match, each loop bounded by
    ``requests`` and ``seconds``; stop the server with SIGTERM and measure it."""
    child = Child([sys.executable, str(RUN), "serve", "--config", str(config)], cwd=ROOT)
    if not _healthy(child, port):
        stopped = child.stop(10)
        reason = stopped.failure("wiredesk") if stopped.stderr.strip() else "wiredesk step failed"
        return ServeResult(process=stopped, error=f"{reason} (serve never answered /healthz)")
    try:
        status, etag = _probe(port, path)
        if status != 200:
            error = f"wiredesk step failed: GET {path} answered {status}"
            return ServeResult(process=child.stop(10), error=error)
        plain = _load(port, path, {}, requests, seconds, threads)
        conditional = _load(port, path, {"If-None-Match": etag}, requests, seconds, threads)
    except OSError as e:
        error = f"wiredesk step failed: GET {path}: {e}"
        return ServeResult(process=child.stop(10), error=error)
    return ServeResult(process=child.stop(10), plain=plain, conditional=conditional)


def _healthy(child: Child, port: int) -> bool:
    deadline = time.monotonic() + HEALTH_SECONDS
    while time.monotonic() < deadline and child.alive():
        try:
            if _probe(port, "/healthz")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _probe(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("ETag") or ""
    finally:
        connection.close()


def _load(
    port: int, path: str, headers: dict[str, str], requests: int, seconds: float, threads: int
) -> Served:
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    budget = iter(range(requests))
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            while time.monotonic() < deadline and next(budget, None) is not None:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
        finally:
            connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    took = time.perf_counter() - started
    return Served(requests=sum(statuses.values()), seconds=took, statuses=statuses)
