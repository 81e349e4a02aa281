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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator import publish
from aggregator.collector import run_pass
from aggregator.config import Config, load_config
from aggregator.errors import ConfigError, WiredeskError
from aggregator.fetch import Fetcher
from aggregator.models import Health, PassReport
from aggregator.server import FeedServer, make_app, max_age_for
from aggregator.store import Store, open_store

log = logging.getLogger(__name__)

TICK_MAX = timedelta(seconds=30)  # how often due sources are looked for, at most
WATCH_EVERY = 2.0  # seconds between looks at the config file's mtime
UNHEALTHY_AFTER = 3  # failed passes in a row


def tick_for(config: Config) -> timedelta:
    """How often to look for due sources: the shortest interval, within 1 s and TICK_MAX."""
    shortest = min((config.interval(s) for s in config.sources), default=TICK_MAX)
    return max(timedelta(seconds=1), min(shortest, TICK_MAX))


def pass_failed(report: PassReport) -> bool:
    """True when a pass collected something and every source of it failed."""
    collected = [s for s in report.sources if not s.skipped]
    return bool(collected) and all(s.error for s in collected)


@dataclass
class PassHistory:
    """What /healthz reports of the passes so far."""

    last: PassReport | None = None
    failed_in_a_row: int = 0
    last_error: str = ""
    passes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, report: PassReport | None, error: str = "") -> None:
        """Remember one pass (or the error that ended it)."""
        with self.lock:
            self.passes += 1
            failed = report is None or pass_failed(report)
            self.failed_in_a_row = self.failed_in_a_row + 1 if failed else 0
            self.last_error = error
            self.last = report or self.last


class Daemon:
    """Scheduler + server + signal handling around one store and one fetcher."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store = open_store(config.store, similarity=config.dedup.similarity)
        self.fetcher = Fetcher(config.fetch)
        self.history = PassHistory()
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.server: FeedServer | None = None
        self.full_publish_pending = threading.Event()
        self._config_mtime = _mtime(config.path)

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit code."""
        self._install_signal_handlers()
        publish.publish(self.config, self.store)
        app = make_app(
            self.config.publish.dir, max_age=max_age_for(self.config), health=self.health
        )
        self.server = FeedServer(app)
        self.server.start(self.config.server.host, self.config.server.port)
        log.info(
            "serving %s on http://%s:%s/",
            self.config.publish.dir,
            self.config.server.host,
            self.server.port,
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

    def collect_now(self) -> None:
        """One scheduled pass: collect what is due, publish what changed."""
        # The flag before the config: a reload in between leaves it set for the next pass.
        full_publish = self.full_publish_pending.is_set()
        self.full_publish_pending.clear()
        config = self.config
        try:
            if full_publish:
                publish.publish(config, self.store)
            report, published = run_pass(
                config, self.store, self.fetcher, now=datetime.now(UTC), stop=self.stopping
            )
        except Exception as e:
            # Stories stored before the failure are in no changed list any more: the next
            # pass republishes everything so none is left out of the feeds.
            self.full_publish_pending.set()
            self.history.record(None, str(e))
            if not isinstance(e, WiredeskError):
                raise  # a bug: APScheduler logs it with its traceback
            log.error("pass failed: %s", e)
            return
        self.history.record(report)
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
        """What /healthz reports: the scheduler's state and the last pass."""
        with self.history.lock:
            last = self.history.last
            details: dict[str, object] = {
                "scheduler": "running" if self.scheduler.running else "stopped",
                "passes": self.history.passes,
                "failed_passes_in_a_row": self.history.failed_in_a_row,
                "last_error": self.history.last_error,
                "last_pass": None
                if last is None
                else {
                    "started": last.started.isoformat(),
                    "finished": last.finished.isoformat(),
                    "sources": len([s for s in last.sources if not s.skipped]),
                    "errors": last.errors,
                    "changed": len(last.changed_ids),
                },
            }
            ok = self.scheduler.running and self.history.failed_in_a_row < UNHEALTHY_AFTER
        return Health(ok=ok, details={"status": "ok" if ok else "failing", **details})

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
