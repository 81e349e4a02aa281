"""Whether the daemon is healthy, decided in one place: ``assess`` gives the reasons it
is failing, if any, and ``/healthz`` serves that verdict as ``document`` writes it out.

Unhealthy when the scheduler has stopped, when the store cannot be reached, when the last
``UNHEALTHY_AFTER`` passes that collected something all failed, or when collection is
overdue (no pass has finished for longer than the daemon's ``overdue_after``, or a due
source has waited more than ``OVERDUE_INTERVALS`` of its intervals). A pass with nothing
due tells nothing about the sources: it neither fails nor resets the count of failed
passes.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from aggregator.models import Health, Passes, PassReport, PassSummary, ScheduleStatus

UNHEALTHY_AFTER = 3  # failed passes in a row
OVERDUE_INTERVALS = 3.0  # how many of its intervals a due source may wait
SERVE_ONLY = Health(scheduler="not running (serve only)")


@dataclass
class PassHistory:
    """What the daemon remembers of its passes for the health check; thread-safe."""

    started: datetime  # when the daemon started: the first pass is due from then
    last: PassReport | None = None  # the last pass that collected something
    last_finished: datetime | None = None  # the last pass of any kind, idle ones too
    failed_in_a_row: int = 0  # passes that collected something, all failed
    last_error: str = ""
    last_error_at: datetime | None = None
    passes: int = 0
    schedule: ScheduleStatus = field(default_factory=ScheduleStatus)
    store_down: tuple[datetime, str] | None = None  # since when the store is unreachable, why
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, report: PassReport | None, *, now: datetime, error: str = "") -> None:
        """Remember one pass, or the ``error`` that ended it (``report`` None) at ``now``."""
        with self.lock:
            self.passes += 1
            self.last_finished = now
            if report is None:
                self.failed_in_a_row += 1
                self._error(error, now)
                return
            if not report.collected:
                return
            self.last = report
            self.failed_in_a_row = self.failed_in_a_row + 1 if report.failed else 0
            errors = [s.error for s in report.sources if s.error]
            if errors:
                self._error(errors[0], now)

    def store_lost(self, message: str, *, now: datetime) -> bool:
        """Remember that the store cannot be reached (``message`` says why); True when it
        could be a moment ago (the outage is news)."""
        with self.lock:
            news = self.store_down is None
            self.store_down = (now, message) if news else self.store_down
            return news

    def store_back(self, *, now: datetime) -> timedelta | None:
        """Remember that the store answered at ``now``; how long it was unreachable, or
        None when it was not."""
        with self.lock:
            down, self.store_down = self.store_down, None
        return None if down is None else now - down[0]

    def _error(self, message: str, now: datetime) -> None:
        self.last_error, self.last_error_at = message, now

    def record_schedule(self, status: ScheduleStatus) -> None:
        """Remember how the sources stood against their due times when a pass began."""
        with self.lock:
            self.schedule = status

    def health(self, *, running: bool, now: datetime, overdue_after: timedelta) -> Health:
        """``assess`` of this history at ``now``."""
        with self.lock:
            return assess(self, running=running, now=now, overdue_after=overdue_after)


def assess(
    history: PassHistory, *, running: bool, now: datetime, overdue_after: timedelta
) -> Health:
    """The daemon's health at ``now`` from its pass ``history``, whether the scheduler is
    ``running``, and how long a pass may take to finish (``overdue_after``), with every
    reason it is failing."""
    return Health(
        scheduler="running" if running else "stopped",
        reasons=tuple(_reasons(history, running, now, overdue_after)),
        passes=_passes(history),
    )


def _reasons(
    history: PassHistory, running: bool, now: datetime, overdue_after: timedelta
) -> list[str]:
    reasons = []
    if not running:
        reasons.append("scheduler stopped")
    if history.store_down is not None:
        since, message = history.store_down
        reasons.append(f"store unreachable since {since.isoformat()}: {message}")
    if history.failed_in_a_row >= UNHEALTHY_AFTER:
        reasons.append(
            f"the last {history.failed_in_a_row} passes that collected something all failed; "
            f"last error: {history.last_error}"
        )
    since = history.last_finished or history.started
    if now - since > overdue_after:
        reasons.append(f"collection overdue: no pass has finished since {since.isoformat()}")
    schedule = history.schedule
    if schedule.late_intervals > OVERDUE_INTERVALS:
        reasons.append(
            f"collection overdue: {schedule.late} waited {schedule.lag_seconds:.0f} s, "
            f"{schedule.late_intervals:.1f} of its intervals"
        )
    return reasons


def _passes(history: PassHistory) -> Passes:
    last = history.last
    return Passes(
        store="ok" if history.store_down is None else "unreachable",
        passes=history.passes,
        failed_passes_in_a_row=history.failed_in_a_row,
        last_error=history.last_error,
        last_error_at=history.last_error_at,
        last_pass_finished=history.last_finished,
        last_pass=None
        if last is None
        else PassSummary(
            started=last.started,
            finished=last.finished,
            sources=len(last.collected),
            errors=last.errors,
            changed=len(last.changed_ids),
        ),
        sources_due=history.schedule.due,
        sources_overdue=history.schedule.overdue,
    )


def document(health: Health) -> dict[str, object]:
    """What /healthz answers, ready for ``json.dumps``: ``status``, the ``reasons`` when
    failing, ``scheduler``, then every field of ``passes`` (times in ISO 8601)."""
    passes = asdict(health.passes) if health.passes else {}
    return {
        "status": health.status,
        **({"reasons": list(health.reasons)} if health.reasons else {}),
        "scheduler": health.scheduler,
        **{key: _json(value) for key, value in passes.items()},
    }


def _json(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value
