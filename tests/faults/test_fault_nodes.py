"""Several collectors on one store, as real processes against feeds on the fault server,
on SQLite and on PostgreSQL: no source is fetched twice in one interval (counted by the
server, per feed), and the sources of a collector killed with SIGKILL mid-pass are
collected by another once the leases it left behind run out; ``sources`` names who
collected each and who holds it.

The first collector is a daemon. On PostgreSQL the second is a daemon too, as on a second
machine; on SQLite, where one daemon at a time may run on a store, it is ``collect`` run
again and again beside it (a cron job's)."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from bench.faultserver import FaultServer
from tests.faults.harness import free_port, log_of, running, wait_for, wiredesk, write_config

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
        port=free_port(),
        fetch="{workers: 4, per_host: 16}",
        node=name,
        store=store,
        **options,
    )


@contextlib.contextmanager
def second_collector(config: Path, store: str) -> Iterator[Callable[[], bool]]:
    """The second collector on ``config`` until the block ends (a daemon on PostgreSQL,
    ``collect`` again and again on SQLite); yields whether it has collected a source."""
    if store.startswith("postgresql://"):
        with running(config):
            yield lambda: "pass: " in log_of(config)  # a pass that collected something
        return
    outputs: list[str] = []
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            outputs.append(wiredesk(config, "collect", "--no-publish").stdout)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield lambda: any(line.startswith("feed-") for out in outputs for line in out.splitlines())
    finally:
        done.set()
        thread.join()


def sources(config: Path) -> dict[str, dict]:
    """``sources --json`` on ``config``, by source name."""
    result = wiredesk(config, "sources", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_two_collectors_never_fetch_a_source_twice_in_one_interval(
    tmp_path: Path, new_location: Callable[[], str]
) -> None:
    store = new_location()
    with FaultServer(rotate=3600) as server:
        feeds = [(f"feed-{n}", server.url("ok", n)) for n in range(FEEDS)]
        first = node(tmp_path / "a", "node-a", feeds, store)
        second = node(tmp_path / "b", "node-b", feeds, store)
        with running(first), second_collector(second, store) as collected:
            wait_for(
                lambda: all(len(server.arrivals("ok", n)) >= 3 for n in range(FEEDS)),
                "every feed fetched three times",
            )
            second_collected = collected()
        arrivals = {n: server.arrivals("ok", n) for n in range(FEEDS)}

    for n, times in arrivals.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        # a source is due again a whole interval after the pass that fetched it began: two
        # fetches of one feed closer than that are two nodes collecting it at once
        assert min(gaps) > INTERVAL / 2, f"feed-{n} fetched {len(times)} times, gaps {gaps}"
    assert second_collected, "the second collector collected no source"


def test_the_sources_of_a_collector_killed_mid_pass_are_collected_once_its_leases_lapse(
    tmp_path: Path, new_location: Callable[[], str]
) -> None:
    store = new_location()
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
        with second_collector(second, store):
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
