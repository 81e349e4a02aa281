"""The daemon as a real process: it collects, serves, picks up new seed files, reloads its
config on SIGHUP (keeping the last good one on a broken edit) and stops on SIGTERM."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from aggregator import __version__
from aggregator import daemon as daemon_module
from aggregator.collector import run_pass
from aggregator.collector.schedule import next_wake
from aggregator.config import load_config
from aggregator.daemon import TICK_MAX
from aggregator.errors import LockError, StoreError
from aggregator.fetch import Fetcher
from aggregator.lockfile import single_instance
from aggregator.store import open_store
from tests.builders import GRAIN, ROOT, SEED, rss
from tests.faults.harness import free_port, wait_for

WAIT = 20.0  # seconds: the bound of every process wait below


def config_text(port: int, feed_url: str | None = None) -> str:
    feed = f"  - {{name: wire, url: '{feed_url}', interval: 1s}}\n" if feed_url else ""
    return (
        textwrap.dedent(
            f"""
        store: data/wiredesk.db
        publish: {{dir: feeds, base_url: "http://127.0.0.1:{port}/"}}
        server: {{host: 127.0.0.1, port: {port}}}
        sources:
          - {{name: seeds, path: seeds, timezone: Europe/Istanbul, interval: 1s}}
        """
        )
        + feed
    )


def _desk_with_a_seed(tmp_path: Path, seed: str = SEED) -> daemon_module.Daemon:
    """A daemon, not started, whose config (in ``tmp_path``) has one seed folder holding
    one seed article, ``seed``."""
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "ferry.txt").write_text(seed, encoding="utf-8")
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text(free_port()), encoding="utf-8")
    return daemon_module.Daemon(load_config(path))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path, str]]:
    port = free_port()
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "ferry.txt").write_text(SEED, encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text(config_text(port), encoding="utf-8")
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--log-format", "json", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, config, f"http://127.0.0.1:{port}/"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log.close()


def served(base: str, path: str) -> str:
    try:
        response = requests.get(base + path, timeout=2)
    except requests.ConnectionError:
        return ""
    return response.text if response.status_code == 200 else ""


def test_daemon_lifecycle(daemon, tmp_path: Path, httpserver: HTTPServer) -> None:
    process, config, base = daemon
    wait_for(lambda: "New ferry line" in served(base, "all.rss"), "the first pass to publish")
    assert requests.get(base + "healthz", timeout=2).json()["scheduler"] == "running"
    assert "wiredesk_passes_total" in served(base, "metrics")
    records = [json.loads(line) for line in (tmp_path / "daemon.log").read_text().splitlines()]
    start = next(r for r in records if "version" in r)
    assert start["version"] == __version__
    assert (start["config"], start["address"]) == (str(config), base)
    assert start["store"] == str(tmp_path / "data" / "wiredesk.db")
    seeds = next(r for r in records if r.get("source") == "seeds")
    assert (seeds["new"], seeds["merged"], seeds["status"]) == (1, 0, None)

    (tmp_path / "seeds" / "grain.txt").write_text(
        SEED.replace("New ferry line links", "Grain ships reach"), encoding="utf-8"
    )
    wait_for(lambda: "Grain ships reach" in served(base, "all.atom"), "a new seed file")

    httpserver.expect_request("/rss").respond_with_data(rss(GRAIN))
    config.write_text(
        config_text(int(base.rsplit(":", 1)[1].strip("/")), httpserver.url_for("/rss")),
        encoding="utf-8",
    )
    process.send_signal(signal.SIGHUP)
    wait_for(lambda: GRAIN[1] in served(base, "all.rss"), "the source added by SIGHUP")
    lines = [json.loads(line)["message"] for line in (tmp_path / "daemon.log").open()]
    first_pass = next(line for line in lines if line.startswith("pass: "))
    assert first_pass.startswith("pass: 1 source, 1 changed story, 0 errors, ")
    assert "config reloaded: 2 sources, 0 categories" in lines

    config.write_text("sources:\n  - name: broken\n    intreval: 1m\n", encoding="utf-8")
    process.send_signal(signal.SIGHUP)
    log = tmp_path / "daemon.log"
    # The refusal and each of its problems are log records of their own: wait for the last.
    wait_for(lambda: "intreval: unknown key" in log.read_text(), "the broken edit's problem")
    assert "config reload refused" in log.read_text()
    assert process.poll() is None
    assert requests.get(base + "healthz", timeout=2).status_code == 200

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT) == 0


def test_tick_follows_the_shortest_interval(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text(8080, "http://127.0.0.1:9/rss"), encoding="utf-8")
    config = load_config(path)
    assert daemon_module.tick_for(config).total_seconds() == 1


def test_a_second_daemon_on_the_same_store_or_folder_is_refused(daemon, tmp_path: Path) -> None:
    first, config, base = daemon
    wait_for(lambda: "New ferry line" in served(base, "all.rss"), "the first daemon to serve")
    same_store = tmp_path / "same-store.yaml"
    same_store.write_text(
        config_text(free_port()).replace("dir: feeds", "dir: other-feeds"), encoding="utf-8"
    )
    same_folder = tmp_path / "same-folder.yaml"
    same_folder.write_text(
        config_text(free_port()).replace("data/wiredesk.db", "other.db"), encoding="utf-8"
    )
    owner = f"pid {first.pid} on {socket.gethostname()}"
    for path, locked in ((same_store, "data/wiredesk.db"), (same_folder, "feeds")):
        second = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert second.returncode == 1
        assert second.stderr == (
            f"error: {tmp_path / locked}: already in use by another Wiredesk daemon "
            f"({owner}); stop it first, or give this one its own store and publish folder\n"
        )
    assert not (tmp_path / "other-feeds").exists() and not (tmp_path / "other.db").exists()
    first.kill()  # a crash leaves no stale lock: the kernel drops it with the process
    first.wait(timeout=WAIT)
    with single_instance(load_config(config)):
        assert (tmp_path / "data" / "wiredesk.db.lock").read_text().startswith(f"{os.getpid()} ")


def test_a_lock_file_that_cannot_be_created_is_a_lock_error(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the store's folder should be\n")
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text(free_port()), encoding="utf-8")
    lock = re.escape(str(tmp_path / "data" / "wiredesk.db.lock"))
    with (
        pytest.raises(LockError, match=rf"^{lock}: cannot create the lock file: File exists$"),
        single_instance(load_config(path)),
    ):
        pytest.fail("the block ran without its lock")


def test_a_10s_interval_is_collected_every_10s_on_a_fake_clock(tmp_path: Path) -> None:
    """The scheduler's decision, pass after pass, with the clock passed in: each pass runs
    when the source falls due (interval plus its jitter of at most 5 %), not a tick later."""
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "ferry.txt").write_text(SEED, encoding="utf-8")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "store: wire.db\npublish: {dir: feeds}\n"
        "sources:\n  - {name: seeds, path: seeds, interval: 10s}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    clock = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    collected: list[tuple[datetime, float]] = []  # (when, how long the pass really took)
    with closing(open_store(config.store)) as store, Fetcher(config.fetch) as fetcher:
        while len(collected) < 6:
            began = time.monotonic()
            report, _ = run_pass(config, store, fetcher, now=clock, publish_changes=False)
            if report.sources:
                collected.append((clock, time.monotonic() - began))
            clock = next_wake(config.sources, store.source_states(), clock, at_most=TICK_MAX)
    # The next due time counts from the fetch, which is the pass's clock moved on by the
    # real time the pass had taken when it fetched: at most the whole pass.
    gaps = [((b - a).total_seconds(), took) for (a, took), (b, _) in itertools.pairwise(collected)]
    assert all(10 <= gap <= 10.5 + took for gap, took in gaps), gaps


def test_the_daemon_plans_its_next_pass_for_when_a_source_falls_due(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text(free_port()).replace("1s", "10s"), encoding="utf-8")
    desk = daemon_module.Daemon(load_config(path))
    try:
        desk.scheduler.start(paused=True)
        desk.scheduled_pass()
        due = desk.store.source_states()["seeds"].next_due
        assert desk.scheduler.get_job("collect").next_run_time == due
        later = due + timedelta(seconds=5)
        assert desk.wake_time(later) == later + daemon_module.MIN_WAKE  # overdue: at once
    finally:
        desk.scheduler.shutdown(wait=False)
        desk.store.close()
        desk.fetcher.close()


def test_a_reload_keeps_the_node_name_the_store_was_opened_as(tmp_path: Path, caplog) -> None:
    (tmp_path / "seeds").mkdir()
    path = tmp_path / "feeds.yaml"
    port = free_port()
    path.write_text("node: desk1\n" + config_text(port), encoding="utf-8")
    desk = daemon_module.Daemon(load_config(path))
    try:
        desk.scheduler.start(paused=True)
        path.write_text("node: desk2\n" + config_text(port), encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="aggregator.daemon"):
            desk.reload()
        # its leases would go by the new name, its publish state by the old one
        assert (desk.config.node, desk.store.node) == ("desk1", "desk1")
        assert "changes to node take effect after a restart" in caplog.text
    finally:
        desk.scheduler.shutdown(wait=False)
        desk.store.close()
        desk.fetcher.close()


def test_a_failed_pass_makes_the_next_one_publish_everything(tmp_path: Path, monkeypatch):
    from aggregator.errors import StoreError

    desk = _desk_with_a_seed(tmp_path)
    try:
        real_pass = daemon_module.run_pass

        def locked(*args, **kwargs):
            real_pass(*args, **kwargs, publish_changes=False)  # stores, then fails
            raise StoreError("wiredesk.db: database is locked")

        monkeypatch.setattr(daemon_module, "run_pass", locked)
        desk.collect_now()
        assert desk.history.failed_in_a_row == 1
        assert not (tmp_path / "feeds" / "all.rss").exists()
        monkeypatch.setattr(daemon_module, "run_pass", real_pass)
        desk.collect_now()  # nothing is due now, yet the stored story gets published
        assert "New ferry line" in (tmp_path / "feeds" / "all.rss").read_text(encoding="utf-8")
        assert desk.history.failed_in_a_row == 1  # a pass with nothing due tells nothing
    finally:
        desk.store.close()
        desk.fetcher.close()


def test_a_pass_leaves_the_search_index_up_to_date(tmp_path: Path) -> None:
    unrelated = SEED.replace("- Port reports record cruise arrivals\n", "")  # nothing to search
    desk = _desk_with_a_seed(tmp_path, unrelated)
    try:
        desk.collect_now()
        assert desk.store.story_count() == 1
        assert desk.store.catch_up_search() == 0, "the pass indexed its story"
    finally:
        desk.store.close()
        desk.fetcher.close()


def test_a_search_index_that_cannot_catch_up_fails_no_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    desk = _desk_with_a_seed(tmp_path)

    def locked() -> int:
        raise StoreError("feeds.db: database is locked: another process held it for 10s")

    monkeypatch.setattr(desk.store, "catch_up_search", locked)
    try:
        desk.collect_now()
        assert desk.history.failed_in_a_row == 0
        assert desk.history.last is not None and len(desk.history.last.changed_ids) == 1
        assert "the next search brings the index up to date" in caplog.text
        assert "database is locked" in caplog.text
    finally:
        desk.store.close()
        desk.fetcher.close()


def test_a_stop_leaves_the_store_open_for_a_republish_still_running(
    tmp_path: Path, monkeypatch
) -> None:
    # A republish past the stop's grace still publishes from the store: closing it under
    # the thread would fail that publish (or wait for it).
    desk = _desk_with_a_seed(tmp_path)
    real_publish, release, failures = daemon_module.publish.publish, threading.Event(), []

    def slow_publish(*args, **kwargs):
        release.wait(WAIT)
        try:
            return real_publish(*args, **kwargs)
        except Exception as e:
            failures.append(e)
            raise

    monkeypatch.setattr(daemon_module.publish, "publish", slow_publish)
    monkeypatch.setattr(daemon_module, "STOP_GRACE", 0.05)
    republisher = threading.Thread(target=desk.republish, args=({"desk2"},), daemon=True)
    desk._republisher = republisher
    try:
        desk.collect_now()
        republisher.start()
        desk._shut_down()
        release.set()
        republisher.join(WAIT)
    finally:
        release.set()
        desk.store.close()
    assert failures == []
    assert "New ferry line" in (tmp_path / "feeds" / "all.rss").read_text(encoding="utf-8")


def test_a_store_outage_is_logged_once_reported_by_healthz_and_ends_once(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    """The decision alone, in-process; tests/test_store_outage.py takes a real database away
    under a running daemon."""
    from aggregator.errors import StoreUnavailable

    caplog.set_level(logging.INFO, logger="aggregator.daemon")
    desk = _desk_with_a_seed(tmp_path)
    real_pass = daemon_module.run_pass

    def unreachable(*args, **kwargs):
        raise StoreUnavailable("postgresql://db1/wire: cannot reach db1:5432: connection refused")

    try:
        desk.scheduler.start(paused=True)
        monkeypatch.setattr(daemon_module, "run_pass", unreachable)
        for _ in range(3):
            desk.collect_now()
        down = desk.health()
        monkeypatch.setattr(daemon_module, "run_pass", real_pass)
        desk.collect_now()
        desk.collect_now()
        up = desk.health()
    finally:
        desk.scheduler.shutdown(wait=False)
        desk.store.close()
        desk.fetcher.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "aggregator.daemon"]
    assert [line for line in lines if "db1:5432" in line] == [
        "postgresql://db1/wire: cannot reach db1:5432: connection refused; serving the files "
        "last published, trying again every 1 s"
    ]
    assert len([line for line in lines if " back after " in line]) == 1
    assert down.passes is not None and down.passes.store == "unreachable"
    assert any(r.startswith("store unreachable since ") for r in down.reasons)
    assert up.passes is not None and up.passes.store == "ok"
    assert "New ferry line" in (tmp_path / "feeds" / "all.rss").read_text(encoding="utf-8")
