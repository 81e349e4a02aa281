"""SIGTERM is prompt: with ten slow sources (``timeout: 60s``) behind a per-host limit of
two, the daemon exits 0 within seconds, the queued fetches never start, the running ones
are cut (and not counted against their source), and what was stored stays stored; a
fetch that cannot be cut (still connecting) is left behind."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from bench.faultserver import FaultServer
from tests.builders import SEED
from tests.faults.harness import (
    free_port,
    integrity,
    log_of,
    published,
    query,
    running,
    stop,
    wait_for,
    write_config,
)


def test_sigterm_cuts_running_fetches_and_starts_no_queued_one(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "ferry.txt").write_text(SEED, encoding="utf-8")
    with FaultServer(hold=120) as server:
        sources = [("seeds", "seeds")] + [(f"slow{n}", server.url("slow", n)) for n in range(10)]
        config = write_config(
            tmp_path,
            sources,
            port=free_port(),
            interval="1h",
            timeout="60s",
            fetch="{workers: 10, per_host: 2}",
        )
        with running(config) as daemon:
            wait_for(lambda: server.served("slow") == 2, "two slow fetches to be running")
            wait_for(lambda: query(config, "SELECT 1 FROM articles"), "the seed to be stored")
            assert stop(daemon, bound=10) == 0
        assert server.served("slow") == 2  # the eight queued behind them never started
    log = log_of(config)
    assert "cutting the fetches still running" in log and "Traceback" not in log
    # cut by the stop, not failed: no error recorded, still due when the daemon comes back
    assert query(config, "SELECT name FROM sources WHERE name LIKE 'slow%'") == []
    assert "New ferry line" in published(config)["items"][0]["title"]
    assert integrity(config) == "ok"


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """A URL on 127.0.0.1 whose connects hang: a listener that never accepts, its backlog
    already full, so the kernel drops every further SYN."""
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):  # fills the backlog
            yield f"http://127.0.0.1:{port}/feed"


def test_sigterm_leaves_a_fetch_still_connecting_behind(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "ferry.txt").write_text(SEED, encoding="utf-8")
    with blackhole() as url:
        config = write_config(
            tmp_path,
            [("seeds", "seeds"), ("unreachable", url)],
            port=free_port(),
            interval="1h",
            timeout="60s",
        )
        with running(config) as daemon:
            wait_for(lambda: query(config, "SELECT 1 FROM articles"), "the seed to be stored")
            assert stop(daemon, bound=10) == 0
    assert "a fetch still connecting was left behind" in log_of(config)
    assert query(config, "SELECT name FROM sources") == [("seeds",)]
    assert integrity(config) == "ok"
