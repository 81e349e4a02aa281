"""The long-running daemon: APScheduler drives collection passes, a thread serves the feeds.

Signals: SIGTERM/SIGINT stop it cleanly (exit 0); SIGHUP, or an edit of the config file on
disk, reloads the config. A broken edit is logged with every problem and the daemon keeps
running on the last good config. Each source's next due time lives in the store, so a
restart does not refetch everything at once.
"""

from __future__ import annotations

import logging
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
from aggregator.collector.schedule import schedule_status
from aggregator.config import Config, load_config
from aggregator.errors import ConfigError, WiredeskError
from aggregator.fetch import Fetcher
from aggregator.health import OVERDUE_INTERVALS, PassHistory, pass_failed
from aggregator.metrics import Metrics
from aggregator.models import Health
from aggregator.server import FeedServer, make_app, max_age_for
from aggregator.store import Store, open_store

log = logging.getLogger(__name__)

TICK_MAX = timedelta(seconds=30)  # how often due sources are looked for, at most
WATCH_EVERY = 2.0  # seconds between looks at the config file's mtime
Clock = Callable[[], datetime]


def tick_for(config: Config) -> timedelta:
    """How often to look for due sources: the shortest interval, within 1 s and TICK_MAX."""
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
        self.store: Store = open_store(config.store, similarity=config.dedup.similarity)
        self.fetcher = Fetcher(config.fetch)
        self.history = PassHistory(started=clock())
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.server: FeedServer | None = None
        self.full_publish_pending = threading.Event()
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
            self.config.store,
            self.config.publish.dir,
            address,
            extra={
                "version": __version__,
                "config": str(self.config.path),
                "store": self.config.store,
                "address": address,
            },
        )
        self._schedule()
        self.scheduler.start()
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

    def collect_now(self) -> None:
        """One scheduled pass: collect what is due, publish what changed."""
        # The flag before the config: a reload in between leaves it set for the next pass.
        full_publish = self.full_publish_pending.is_set()
        self.full_publish_pending.clear()
        config = self.config
        now, started = self.clock(), time.perf_counter()
        try:
            if full_publish:
                self.metrics.record_publish(publish.publish(config, self.store))
            status = schedule_status(config, self.store.source_states(), now)
            self.history.record_schedule(status)
            self.metrics.record_schedule(status)
            report, published = run_pass(
                config, self.store, self.fetcher, now=now, stop=self.stopping
            )
            stored = self.store.story_count()
        except Exception as e:
            # Stories stored before the failure are in no changed list any more: the next
            # pass republishes everything so none is left out of the feeds.
            self.full_publish_pending.set()
            self.history.record(None, now=self.clock(), error=str(e))
            self.metrics.record_error()
            if not isinstance(e, WiredeskError):
                raise  # a bug: APScheduler logs it with its traceback
            log.error("pass failed: %s", e)
            return
        self.history.record(report, now=self.clock())
        self.metrics.record_pass(
            report,
            ok=not pass_failed(report),
            seconds=time.perf_counter() - started,
            finished=self.clock().timestamp(),
        )
        self.metrics.record_stored(stored)
        if published:
            self.metrics.record_publish(published)
        collected = [s for s in report.sources if not s.skipped]
        if collected:
            log.info(
                "pass: %d sources, %d changed stories, %d errors%s",
                len(collected),
                len(report.changed_ids),
                report.errors,
                f", {len(published.written)} files written" if published else "",
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
        old, self.config = self.config, new
        self.metrics.keep_sources(source.name for source in new.sources)
        log.info(
            "config reloaded: %d sources, %d categories",
            len(new.sources),
            len(new.categories),
        )
        restart_only = ("server", "store", "fetch", "dedup")
        changed = [key for key in restart_only if getattr(old, key) != getattr(new, key)]
        if old.publish.dir != new.publish.dir:
            changed.append("publish.dir")
        if changed:
            log.warning("changes to %s take effect after a restart", ", ".join(changed))
        if (old.categories, old.publish) != (new.categories, new.publish):
            self.full_publish_pending.set()
        # The next pass runs now, in the scheduler's thread, so passes never overlap.
        self._schedule()

    def health(self) -> Health:
        """What /healthz reports: the scheduler's state and the passes so far."""
        return self.history.health(
            running=self.scheduler.running,
            now=self.clock(),
            overdue_after=overdue_after(self.config),
        )

    def _schedule(self) -> None:
        self.scheduler.add_job(
            self.collect_now,
            "interval",
            seconds=tick_for(self.config).total_seconds(),
            id="collect",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
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
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.server is not None:
            self.server.stop()
        self.fetcher.close()
        self.store.close()
        log.info("stopped")


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def run_daemon(config: Config) -> int:
    """Run the daemon on ``config`` until it is told to stop; returns the exit code."""
    return Daemon(config).run()
