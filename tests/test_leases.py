"""Leases of due sources in the store: who may collect a source, and until when. Several
processes racing for one queue of sources each lease every source exactly once. The store
tests run on SQLite and on PostgreSQL (the ``store`` fixtures of conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.collector import collect
from aggregator.collector.leases import LeaseQueue, dead_holders, holder
from aggregator.collector.schedule import next_wake
from aggregator.config import Config, FetchConfig, load_config
from aggregator.fetch import Fetcher
from aggregator.models import Holder, Lease, SourceState
from aggregator.store import Store, open_store
from tests.builders import ROOT, desk_config, rss, source

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TERM = timedelta(seconds=30)
HOUR = timedelta(hours=1)
WEB1 = Holder(node="web1", pid=101)
WEB2 = Holder(node="web2", pid=202)


def collected(store: Store, name: str, *, due: datetime) -> None:
    """Save ``name`` as a pass does once it has collected it: due again at ``due``."""
    store.save_source_state(SourceState(name=name, last_fetch=NOW, next_due=due, node="web9"))


def test_sources_are_leased_earliest_due_first_and_never_to_two_holders(store: Store) -> None:
    collected(store, "late", due=NOW - timedelta(minutes=1))
    collected(store, "early", due=NOW - timedelta(minutes=9))
    seen = {"late": NOW - timedelta(minutes=1), "early": NOW - timedelta(minutes=9), "new": None}

    first = store.lease_due(WEB1, seen, now=NOW, until=NOW + TERM, limit=2)
    second = store.lease_due(WEB2, seen, now=NOW, until=NOW + TERM, limit=2)

    assert first == ["new", "early"]  # never collected first, then the longest overdue
    assert second == ["late"]
    assert store.leases(now=NOW) == {
        "early": Lease(source="early", holder=WEB1, until=NOW + TERM),
        "late": Lease(source="late", holder=WEB2, until=NOW + TERM),
        "new": Lease(source="new", holder=WEB1, until=NOW + TERM),
    }


def test_a_lapsed_lease_is_free_for_another_holder(store: Store) -> None:
    seen = {"wire": None}
    assert store.lease_due(WEB1, seen, now=NOW, until=NOW + TERM, limit=1) == ["wire"]
    assert store.lease_due(WEB2, seen, now=NOW + TERM / 2, until=NOW + 2 * TERM, limit=1) == []

    later = NOW + TERM  # the lease ends at ``until``: a holder killed mid-pass renews no more
    assert store.leases(now=later) == {}
    assert store.lease_due(WEB2, seen, now=later, until=later + TERM, limit=1) == ["wire"]
    assert store.leases(now=later)["wire"].holder == WEB2


def test_a_source_collected_since_it_was_read_is_not_leased(store: Store) -> None:
    read = {"wire": NOW - timedelta(minutes=5)}
    collected(store, "wire", due=read["wire"])
    # another node collects it and releases it between this node's read and its lease
    collected(store, "wire", due=NOW + timedelta(minutes=30))

    assert store.lease_due(WEB1, read, now=NOW, until=NOW + TERM, limit=1) == []
    assert store.leases(now=NOW) == {}


def test_renew_and_release_touch_only_the_holders_own_leases(store: Store) -> None:
    seen = {"aa": None, "bb": None}
    store.lease_due(WEB1, {"aa": None}, now=NOW, until=NOW + TERM, limit=1)
    store.lease_due(WEB2, {"bb": None}, now=NOW, until=NOW + TERM, limit=1)

    assert store.renew(WEB1, ["aa", "bb"], until=NOW + 3 * TERM) == ["aa"]
    store.release(WEB1, ["aa", "bb"])

    assert store.leases(now=NOW + 2 * TERM) == {}  # aa released, bb lapsed at NOW + TERM
    assert store.leases(now=NOW) == {"bb": Lease(source="bb", holder=WEB2, until=NOW + TERM)}
    # a lease that lapsed and was taken by another holder is lost to the first
    store.lease_due(WEB1, seen, now=NOW + 2 * TERM, until=NOW + 3 * TERM, limit=2)
    assert store.renew(WEB2, ["bb"], until=NOW + 4 * TERM) == []


def test_a_release_saves_the_states_of_the_sources_it_ends_the_leases_of(store: Store) -> None:
    store.lease_due(WEB1, {"aa": None, "bb": None}, now=NOW, until=NOW + TERM, limit=2)
    states = [SourceState(name=n, last_fetch=NOW, next_due=NOW + HOUR) for n in ("aa", "bb")]

    store.release(WEB1, ["aa", "bb"], states=states)

    assert store.leases(now=NOW) == {}
    assert [store.source_state(n) for n in ("aa", "bb")] == states


def test_two_processes_on_one_machine_are_two_holders(store: Store) -> None:
    first, second = Holder(node="web1", pid=1), Holder(node="web1", pid=2)
    store.lease_due(first, {"wire": None}, now=NOW, until=NOW + TERM, limit=1)

    assert store.lease_due(second, {"wire": None}, now=NOW, until=NOW + TERM, limit=1) == []
    store.release(second, ["wire"])
    assert store.leases(now=NOW)["wire"].holder == first


def test_the_leases_of_a_dead_process_of_the_same_node_are_taken_back_at_once(
    store: Store,
) -> None:
    crashed, restarted = Holder(node="web1", pid=5), Holder(node="web1", pid=6)
    store.lease_due(crashed, {"wire": None}, now=NOW, until=NOW + TERM, limit=1)

    assert (
        store.lease_due(WEB2, {"wire": None}, now=NOW, until=NOW + TERM, limit=1, reclaim=[5]) == []
    )
    assert store.lease_due(
        restarted, {"wire": None}, now=NOW, until=NOW + TERM, limit=1, reclaim=[5]
    ) == ["wire"]
    assert store.leases(now=NOW)["wire"].holder == restarted


def test_dead_holders_are_the_node_s_processes_that_no_longer_run() -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone = int(ended.stdout)
    me = Holder(node="web1", pid=os.getpid())
    leases = [
        Lease(source="aa", holder=Holder(node="web1", pid=gone), until=NOW),
        Lease(source="bb", holder=Holder(node="web1", pid=os.getppid()), until=NOW),
        Lease(source="cc", holder=Holder(node="web2", pid=gone), until=NOW),  # another machine's
        Lease(source="dd", holder=me, until=NOW),
    ]

    assert dead_holders(leases, me) == [gone]


def test_leasing_keeps_the_state_and_the_saved_state_names_its_node(store: Store) -> None:
    collected(store, "wire", due=NOW - timedelta(minutes=1))
    before = store.source_state("wire")
    store.lease_due(WEB1, {"wire": NOW - timedelta(minutes=1)}, now=NOW, until=NOW + TERM, limit=1)

    assert store.source_state("wire") == before
    assert before is not None and before.node == "web9"


RACER = """
import json, os, sys, time
from datetime import datetime, timedelta
from aggregator.models import Holder
from aggregator.store import open_store

location, start, names = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3:]
store = open_store(location)
me = Holder(node="racer", pid=os.getpid())
seen = dict.fromkeys(names)
taken = []
print("ready", flush=True)
sys.stdin.readline()  # every racer starts at once
while batch := store.lease_due(me, seen, now=start, until=start + timedelta(hours=1), limit=2):
    taken += batch
    for name in batch:
        del seen[name]
    time.sleep(0.002)  # collecting them: the others lease meanwhile
print(json.dumps(taken), flush=True)
"""


def test_processes_racing_for_one_queue_lease_each_source_once(store_location: str) -> None:
    location = store_location
    open_store(location).close()  # created and migrated before the race
    names = [f"feed-{n:03}" for n in range(120)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, location, NOW.isoformat(), *names],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    leased = [json.loads(racer.communicate(timeout=60)[0]) for racer in racers]

    every = sorted(name for taken in leased for name in taken)
    assert every == names  # each source once, none left over
    assert sum(1 for taken in leased if taken) >= 2, "the racers shared the queue"


# --- the collector takes only what it leased ----------------------------------------------


def desk(tmp_path: Path, httpserver: HTTPServer, names: Sequence[str]) -> Config:
    """A config of node ``web1`` with one feed per name at ``httpserver``."""
    feeds = [source(name, httpserver.url_for(f"/{name}.rss")) for name in names]
    return load_config(desk_config(tmp_path, *feeds, node="web1", fetch="{workers: 4}"))


def serve(httpserver: HTTPServer, names: Sequence[str]) -> None:
    """Answer each feed of ``desk`` with one story."""
    for name in names:
        httpserver.expect_request(f"/{name}.rss").respond_with_data(
            rss((f"{name}-1", f"Story of {name}", "Tue, 03 Mar 2026 06:30:00 +0000")),
            content_type="application/rss+xml",
        )


def fetched(httpserver: HTTPServer) -> list[str]:
    """The feeds the server was asked for, by name."""
    return sorted(request.path.strip("/").removesuffix(".rss") for request, _ in httpserver.log)


def test_a_pass_leaves_a_source_another_process_holds_and_names_the_holder(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    config = desk(tmp_path, httpserver, ["aa", "bb", "cc"])
    serve(httpserver, ["aa", "bb", "cc"])
    with closing(open_store(config.store)) as store, closing(Fetcher(FetchConfig())) as fetcher:
        now = datetime.now(UTC)
        store.lease_due(WEB2, {"bb": None}, now=now, until=now + TERM, limit=1)

        due = collect(config, store, fetcher, now=now)
        forced = collect(config, store, fetcher, now=now, only=["bb"])

        assert fetched(httpserver) == ["aa", "cc"]
        assert [r.source for r in due.sources] == ["aa", "cc"]
        assert [(r.source, r.skipped, r.leased_by) for r in forced.sources] == [
            ("bb", True, "web2 (pid 202)")
        ]
        states = store.source_states()
        assert {name: states[name].node for name in ("aa", "cc")} == {"aa": "web1", "cc": "web1"}
        assert store.leases(now=now) == {"bb": Lease(source="bb", holder=WEB2, until=now + TERM)}


def test_a_forced_source_is_leased_while_it_is_fetched(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    config = desk(tmp_path, httpserver, ["aa"])
    with closing(open_store(config.store)) as store, closing(Fetcher(FetchConfig())) as fetcher:
        leases_seen: list[dict[str, Lease]] = []

        def answer(request: Request) -> Response:
            leases_seen.append(store.leases(now=datetime.now(UTC)))
            return Response(rss(), content_type="application/rss+xml")

        httpserver.expect_request("/aa.rss").respond_with_handler(answer)
        collect(config, store, fetcher, now=NOW, only=["aa"])

        ((lease,),) = [list(seen.values()) for seen in leases_seen]
        assert lease.source == "aa" and lease.holder == holder(config)
        assert store.leases(now=datetime.now(UTC)) == {}  # released once its state was saved


def test_the_queue_renews_its_leases_as_a_third_of_their_term_passes(store: Store) -> None:
    clock = iter([NOW, NOW, NOW + TERM / 4, NOW + TERM / 2]).__next__
    queue = LeaseQueue(store, WEB1, ["aa", "bb"], {}, term=TERM, batch=8, clock=clock)

    assert queue.take(1) == ["aa"]  # both leased at NOW, one started
    queue.renew()  # a quarter of the term: not yet
    assert store.leases(now=NOW)["bb"].until == NOW + TERM
    queue.renew()
    assert {lease.until for lease in store.leases(now=NOW).values()} == {NOW + TERM / 2 + TERM}
    queue.close()
    assert store.leases(now=NOW) == {}


def test_the_queue_offers_the_store_only_its_earliest_due_batches(store: Store) -> None:
    names = [f"s{n:02}" for n in range(40)]  # s39 the longest overdue
    due = {name: NOW - timedelta(minutes=n) for n, name in enumerate(names)}
    for name in names:
        collected(store, name, due=due[name])
    held = names[33:]  # another node holds seven of the eight earliest
    store.lease_due(WEB2, {n: due[n] for n in held}, now=NOW, until=NOW + TERM, limit=7)
    offered: list[list[str]] = []

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def lease_due(self, holder: Holder, seen: dict[str, datetime], **kwargs: Any) -> list[str]:
            offered.append(list(seen))
            return store.lease_due(holder, seen, **kwargs)

    states = {name: SourceState(name=name, next_due=due[name]) for name in names}
    queue = LeaseQueue(
        cast(Store, Counting()), WEB1, names, states, term=TERM, batch=2, clock=lambda: NOW
    )
    taken = [name for _ in range(20) for name in queue.take(2)]

    assert offered[0] == names[39:31:-1]  # four batches, earliest due first
    assert offered[1] == names[31:23:-1]  # the held seven passed over, not offered again
    assert taken == names[32::-1] and sorted(queue.unleased()) == held
    assert max(len(o) for o in offered) == 8
    queue.close()


def test_the_scheduler_waits_for_a_lease_held_elsewhere_to_run_out(tmp_path: Path) -> None:
    feeds = [source(name, f"http://127.0.0.1:9/{name}") for name in ("aa", "bb")]
    sources = load_config(desk_config(tmp_path, *feeds)).sources
    states = {
        "aa": SourceState(name="aa", next_due=NOW - HOUR),
        "bb": SourceState(name="bb", next_due=NOW + HOUR),
    }
    held = {"aa": Lease(source="aa", holder=WEB2, until=NOW + TERM)}

    assert next_wake(sources, states, NOW, at_most=2 * HOUR) == NOW
    assert next_wake(sources, states, NOW, at_most=2 * HOUR, leases=held) == NOW + TERM
