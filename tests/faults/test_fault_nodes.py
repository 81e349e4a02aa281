"""Several collectors on one store, as real processes against feeds on the fault server:
no source is fetched twice in one interval (counted by the server, per feed), and the
sources of a collector killed with SIGKILL mid-pass are collected by another once the
leases it left behind run out; ``sources`` names who collected each and who holds it."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from bench.faultserver import FaultServer
from tests.faults.harness import running, wait_for, wiredesk, write_config

INTERVAL = 1.0  # seconds between two fetches of a feed
FEEDS = 12


def node(
    folder: Path, name: str, sources: Sequence[tuple[str, str]], store: str, **options: str
) -> Path:
    """The config of node ``name`` in ``folder``: ``sources`` every INTERVAL, in ``store``."""
    folder.mkdir()
    return write_config(
        folder,
        sources,
        interval=f"{INTERVAL:g}s",
        fetch="{workers: 4, per_host: 16}",
        node=name,
        store=store,
        **options,
    )


@contextlib.contextmanager
def collecting(config: Path) -> Iterator[list[str]]:
    """``collect`` on ``config`` run again and again (the second collector) until the
    block ends; yields the output of each run so far."""
    outputs: list[str] = []
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            outputs.append(wiredesk(config, "collect", "--no-publish").stdout)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield outputs
    finally:
        done.set()
        thread.join()


def sources(config: Path) -> dict[str, dict]:
    """``sources --json`` on ``config``, by source name."""
    result = wiredesk(config, "sources", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def collected_by(outputs: Sequence[str], prefix: str) -> int:
    """How many sources named ``prefix…`` the ``collect`` runs of ``outputs`` collected."""
    return sum(line.startswith(prefix) for output in outputs for line in output.splitlines())


def test_two_collectors_never_fetch_a_source_twice_in_one_interval(tmp_path: Path) -> None:
    store = str(tmp_path / "shared" / "wiredesk.db")
    with FaultServer(rotate=3600) as server:
        feeds = [(f"feed-{n}", server.url("ok", n)) for n in range(FEEDS)]
        first = node(tmp_path / "a", "node-a", feeds, store)
        second = node(tmp_path / "b", "node-b", feeds, store)
        with running(first), collecting(second) as outputs:
            wait_for(
                lambda: all(len(server.arrivals("ok", n)) >= 3 for n in range(FEEDS)),
                "every feed fetched three times",
            )
        arrivals = {n: server.arrivals("ok", n) for n in range(FEEDS)}

    for n, times in arrivals.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        # a source is due again a whole interval after the pass that fetched it began: two
        # fetches of one feed closer than that are two nodes collecting it at once
        assert min(gaps) > INTERVAL / 2, f"feed-{n} fetched {len(times)} times, gaps {gaps}"
    assert collected_by(outputs, "feed-"), "the second collector collected no source"


def test_the_sources_of_a_collector_killed_mid_pass_are_collected_once_its_leases_lapse(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "shared" / "wiredesk.db")
    with FaultServer(rotate=3600) as server:
        feeds = [("slow-0", server.url("slow", 0)), ("slow-1", server.url("slow", 1))]
        first = node(tmp_path / "a", "node-a", feeds, store, timeout="2s")
        second = node(tmp_path / "b", "node-b", feeds, store, timeout="2s")
        with running(first) as killed:
            # the slow feeds hold node-a mid-pass: it has asked, and nothing comes back
            wait_for(lambda: server.served("slow") == 2, "node-a fetching both slow feeds")
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=10)
        left = sources(second)
        with collecting(second):
            wait_for(
                lambda: all(
                    row["node"] == "node-b" and row["lease"] is None
                    for row in sources(second).values()
                ),
                "node-b collecting the slow feeds",
            )
        retried = {n: server.arrivals("slow", n) for n in (0, 1)}

    for n, times in retried.items():
        lease = left[f"slow-{n}"]["lease"]
        assert (lease["node"], lease["pid"]) == ("node-a", killed.pid)
        assert left[f"slow-{n}"]["node"] is None  # node-a died before saving it
        # node-b asked only once the lease node-a left behind had lapsed
        assert len(times) >= 2 and times[1] >= datetime.fromisoformat(lease["until"]).timestamp()
