"""The long-running daemon: APScheduler drives collection passes, a thread serves the feeds.

Only one daemon runs on a SQLite store or publish folder (``lockfile``).
Signals: SIGTERM/SIGINT stop it cleanly (exit 0) within seconds: fetches still waiting
for a host slot never start, running ones get STOP_GRACE seconds and are then cut, and
what was stored stays stored. A fetch that cannot be cut (still connecting, or resolving
a host name) is left behind STOP_GRACE seconds later, the process exiting without it.
SIGHUP, or an edit of the config file on disk, reloads the config. A broken edit is logged
with every problem and the daemon keeps running on the last good config. Each source's
next due time lives in the store, so a restart does not refetch everything at once.

A store that cannot be reached (a database server down or cut off: ``StoreUnavailable``)
is logged once, when it goes, and once more when it is back; meanwhile the server goes on
serving the files last published, /healthz says the store is unreachable, and a pass is
tried every tick, collecting again as soon as the database answers.

On a store shared by several nodes (PostgreSQL), the daemon also hears the other nodes'
changes (``Store.watch``: LISTEN/NOTIFY) and republishes, in a thread of its own, what
they made pending: once for every burst of changes (``REPUBLISH_AFTER``), never while a
pass runs, and once more after the store was out of reach (what was said meanwhile is
lost). It does not hear its own changes: each pass publishes after it collects.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from wsgiref.types import WSGIApplication

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator import __version__, publish
from aggregator.collector import run_pass
from aggregator.collector.schedule import next_wake, schedule_status
from aggregator.config import Config, load_config
from aggregator.errors import ConfigError, StoreError, StoreUnavailable, WiredeskError
from aggregator.fetch import Fetcher
from aggregator.health import OVERDUE_INTERVALS, PassHistory
from aggregator.lockfile import single_instance
from aggregator.metrics import Metrics
from aggregator.models import Health
from aggregator.server import FeedServer, make_app, max_age_for
from aggregator.store import Store, Watch, catch_up_or_warn, open_store, shown
from aggregator.text import count

log = logging.getLogger(__name__)

# The scheduler wakes when the next source falls due, and at least every TICK_MAX, so
# sources another process made due (a `collect`, another node) are not left waiting.
TICK_MAX = timedelta(seconds=30)
MIN_WAKE = timedelta(seconds=1)  # never a pass right on the heels of the last one
WATCH_EVERY = 2.0  # seconds between looks at the config file's mtime
Clock = Callable[[], datetime]
STOP_GRACE = 2.0  # seconds running fetches get to finish after SIGTERM
REPUBLISH_AFTER = 1.0  # seconds: changes heard within this of the first make one republish


def tick_for(config: Config) -> timedelta:
    """How often a healthy daemon finishes a pass, at the least: the shortest interval,
    within 1 s and TICK_MAX."""
    shortest = min((config.interval(s) for s in config.sources), default=TICK_MAX)
    return max(timedelta(seconds=1), min(shortest, TICK_MAX))


def overdue_after(config: Config) -> timedelta:
    """How long without a finished pass before collection is overdue: a few ticks, or a
    few whole-fetch deadlines when those are longer (a pass may wait out one)."""
    longest = max((config.timeout(s) for s in config.sources), default=config.defaults.timeout)
    return max(tick_for(config), longest) * OVERDUE_INTERVALS


def _now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """Scheduler + server + signal handling around one store and one fetcher."""

    def __init__(self, config: Config, *, clock: Clock = _now) -> None:
        """Open the store and the fetcher of ``config``; ``clock`` tells the time."""
        self.config = config
        self.clock = clock
        self.store: Store = open_store(
            config.store, similarity=config.dedup.similarity, node=config.node
        )
        self.fetcher = Fetcher(config.fetch)
        self.history = PassHistory(started=clock())
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.server: FeedServer | None = None
        self._idle = threading.Event()  # no pass is running
        self._idle.set()
        self._publishing = threading.Lock()  # a pass or a republish: one writes the folder
        self._heard: set[str] = set()  # the nodes whose changes are waiting to be published
        self._heard_lock = threading.Lock()
        self._changed = threading.Event()
        self._watch: Watch | None = None
        self._republisher: threading.Thread | None = None
        self._config_mtime = _mtime(config.path)

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit code."""
        self._install_signal_handlers()
        self.metrics.record_publish(publish.publish(self.config, self.store))
        self.server = FeedServer(self.app())
        self.server.start(self.config.server.host, self.config.server.port)
        address = f"http://{self.config.server.host}:{self.server.port}/"
        log.info(
            "wiredesk %s: config %s, store %s, serving %s on %s",
            __version__,
            self.config.path,
            shown(self.config.store),
            self.config.publish.dir,
            address,
            extra={
                "version": __version__,
                "config": str(self.config.path),
                "store": shown(self.config.store),
                "address": address,
            },
        )
        self._schedule()
        self.scheduler.start()
        self._listen()
        try:
            while not self.stopping.wait(WATCH_EVERY):
                if self.reload_requested.is_set() or _mtime(self.config.path) != self._config_mtime:
                    self.reload_requested.clear()
                    self.reload()
        finally:
            self._shut_down()
        return 0

    def app(self) -> WSGIApplication:
        """The HTTP app of this daemon: the publish folder, /healthz and /metrics."""
        return make_app(
            self.config.publish.dir,
            max_age=max_age_for(self.config),
            health=self.health,
            metrics=self.metrics.page,
        )

    def scheduled_pass(self) -> None:
        """The scheduler's job: one pass, then the next planned for when the next source
        falls due."""
        try:
            self.collect_now()
        finally:
            if not self.stopping.is_set():
                self._schedule(self.wake_time(self.clock()))

    def wake_time(self, now: datetime) -> datetime:
        """When the next pass should run: as the next source falls due (or the lease
        another node holds of a due one runs out), at least MIN_WAKE and at most TICK_MAX
        from ``now`` (a tick when the store cannot be read)."""
        try:
            states = self.store.source_states()
            leases = self.store.leases(now=now)
        except StoreError as e:
            if not isinstance(e, StoreUnavailable):  # an outage is logged by the pass
                log.warning("cannot read when sources are due (looking again soon): %s", e)
            return now + tick_for(self.config)
        wake = next_wake(self.config.sources, states, now, at_most=TICK_MAX, leases=leases)
        return max(wake, now + MIN_WAKE)

    def collect_now(self) -> None:
        """One pass: collect what is due, publish what is pending, then bring the search
        index up to date (``Store.catch_up_search``), so that a search does not wait for it.

        Stories stored by a pass that fails before it publishes stay pending in the store,
        and a config edit changes the digest the manifest holds for each file it affects:
        either way the next pass publishes them, with no flag kept here."""
        if self.stopping.is_set():
            return
        self._idle.clear()
        try:
            with self._publishing:
                self._pass()
        finally:
            self._idle.set()

    def _listen(self) -> None:
        """Start hearing other nodes' changes, when the store has other nodes."""
        self._watch = self.store.watch(self.heard)
        if self._watch is not None:
            self._republisher = threading.Thread(
                target=self._republish_when_changed, name="republish", daemon=True
            )
            self._republisher.start()

    def heard(self, node: str) -> None:
        """The store's call: ``node`` committed changes to the stories ("" when changes
        may have been missed); a republish follows shortly."""
        with self._heard_lock:
            self._heard.add(node)
        self._changed.set()

    def _republish_when_changed(self) -> None:
        """The republishing thread: wait for a change, a moment more for the ones that
        follow it, then publish, until the daemon stops."""
        while not self.stopping.is_set():
            if not self._changed.wait(STOP_GRACE / 2) or self.stopping.wait(REPUBLISH_AFTER):
                continue
            self._changed.clear()
            with self._heard_lock:
                nodes, self._heard = self._heard, set()
            with self._publishing:
                if not self.stopping.is_set():
                    self.republish(nodes)

    def republish(self, nodes: set[str]) -> None:
        """Publish what other nodes' changes (``nodes``, "" for unknown) made pending.

        A store out of reach is left to the passes to report (once); another failure is
        logged."""
        try:
            report = publish.publish(self.config, self.store)
        except StoreUnavailable as e:
            log.debug("republish put off: %s", e)
            return
        except WiredeskError as e:
            log.error("republish failed: %s", e)
            return
        self.metrics.record_publish(report)
        named = ", ".join(sorted(n for n in nodes if n))
        log.info(
            "republished after %s: %s written",
            f"changes on {named}" if named else "the store was out of reach",
            count(len(report.written), "file"),
        )

    def _pass(self) -> None:
        config = self.config
        now, started = self.clock(), time.perf_counter()
        try:
            status = schedule_status(config, self.store.source_states(), now)
            self.history.record_schedule(status)
            self.metrics.record_schedule(status)
            report, published = run_pass(
                config, self.store, self.fetcher, now=now, stop=self.stopping
            )
            stored = self.store.story_count()
        except Exception as e:
            self.history.record(None, now=self.clock(), error=str(e))
            self.metrics.record_error()
            if isinstance(e, StoreUnavailable):
                self._store_lost(e)
            elif isinstance(e, WiredeskError):
                log.error("pass failed: %s", e)
            else:
                raise  # a bug: APScheduler logs it with its traceback
            return
        self._store_answered()
        self.history.record(report, now=self.clock())
        self.metrics.record_pass(
            report,
            seconds=time.perf_counter() - started,
            finished=self.clock().timestamp(),
        )
        self.metrics.record_stored(stored)
        if published:
            self.metrics.record_publish(published)
        if report.collected:
            log.info(
                "pass: %s, %s, %s%s",
                count(len(report.collected), "source"),
                count(len(report.changed_ids), "changed story", "changed stories"),
                count(report.errors, "error"),
                f", {count(len(published.written), 'file')} written" if published else "",
            )
        # a store that cannot be written just now leaves it to the next pass or search
        catch_up_or_warn(self.store, meanwhile="the next search brings the index up to date")

    def _store_lost(self, error: StoreUnavailable) -> None:
        """Log an outage of the store once, when it begins."""
        self.metrics.record_store(reachable=False)
        if self.history.store_lost(str(error), now=self.clock()):
            log.error(
                "%s; serving the files last published, trying again every %d s",
                error,
                tick_for(self.config).total_seconds(),
                extra={"store_down": True},
            )

    def _store_answered(self) -> None:
        """Log the end of an outage of the store, once."""
        down = self.history.store_back(now=self.clock())
        if down is not None:
            self.metrics.record_store(reachable=True)
            log.info(
                "store %s back after %d s; collecting again",
                shown(self.config.store),
                down.total_seconds(),
                extra={"store_down": False},
            )

    def reload(self) -> None:
        """Load the config again; keep the old one if the new one has problems."""
        self._config_mtime = _mtime(self.config.path)
        try:
            new = load_config(self.config.path)
        except ConfigError as e:
            log.error("config reload refused; still running on the last good config:")
            for problem in e.problems:
                log.error("  %s", problem)
            return
        old = self.config
        renamed = new.node != old.node
        if renamed:
            # The store was opened as the old node (its publish state, what it announces):
            # leases taken under the new name meanwhile would not match them.
            new = dataclasses.replace(new, node=old.node)
        self.config = new
        self.metrics.keep_sources(source.name for source in new.sources)
        log.info(
            "config reloaded: %s, %s",
            count(len(new.sources), "source"),
            count(len(new.categories), "category", "categories"),
        )
        restart_only = ("server", "store", "fetch", "dedup")
        changed = [key for key in restart_only if getattr(old, key) != getattr(new, key)]
        if renamed:
            changed.append("node")
        if old.publish.dir != new.publish.dir:
            changed.append("publish.dir")
        if changed:
            log.warning("changes to %s take effect after a restart", ", ".join(changed))
        # The next pass runs now, in the scheduler's thread, so passes never overlap.
        self._schedule()

    def health(self) -> Health:
        """What /healthz reports: the scheduler's state and the passes so far."""
        return self.history.health(
            running=self.scheduler.running,
            now=self.clock(),
            overdue_after=overdue_after(self.config),
        )

    def _schedule(self, at: datetime | None = None) -> None:
        """Run the next pass at ``at`` (default: now), replacing the one planned."""
        self.scheduler.add_job(
            self.scheduled_pass,
            "date",
            run_date=at or datetime.now(UTC),
            id="collect",
            replace_existing=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("%s: stopping", signal.Signals(signum).name)
            self.stopping.set()

        def reload(signum: int, frame: FrameType | None) -> None:
            log.info("SIGHUP: reloading the config")
            self.reload_requested.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _shut_down(self) -> None:
        self.stopping.set()
        if self._watch is not None:
            self._watch.close()
        self.fetcher.refuse()
        if not self._idle.wait(STOP_GRACE):
            log.info("stopping: cutting the fetches still running")
        self.fetcher.cut()
        stuck = not self._idle.wait(STOP_GRACE)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=not stuck)
        if self.server is not None:
            self.server.stop()
        if self._republisher is not None:
            self._republisher.join(STOP_GRACE)
        self.fetcher.close()
        if stuck:
            # A fetch still connecting, or resolving a host name, cannot be cut, and the
            # interpreter would wait for its thread at exit (up to its timeout). What was
            # stored is committed: leave without it, and without closing the store, which
            # would wait for the pass still using it (SQLite's lock for its busy timeout,
            # the PostgreSQL pool for its connections) and outlast the grace.
            log.warning("stopped; a fetch still connecting was left behind")
            logging.shutdown()
            os._exit(0)
        if self._republisher is not None and self._republisher.is_alive():
            # A republish past its grace is still using the store: closing it would wait
            # for the thread (SQLite's lock, the PostgreSQL pool) or close it under the
            # thread's feet. Leave it open; the thread ends with the process.
            log.warning("stopped; a republish still running was left behind")
            return
        self.store.close()
        log.info("stopped")


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def run_daemon(config: Config) -> int:
    """Run the daemon on ``config`` until it is told to stop; returns the exit code.

    Raises AlreadyRunningError, before touching anything, when another daemon runs on the
    same SQLite store or publish folder.
    """
    with single_instance(config):
        return Daemon(config).run()
