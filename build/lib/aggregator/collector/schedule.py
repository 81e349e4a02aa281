"""When a source is due: pure functions of its state and the clock. The collector asks
``is_due`` before a pass and records ``after_success`` or ``after_failure`` after it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from aggregator.config import Config, Source
from aggregator.errors import FetchError, SourceError
from aggregator.models import ScheduleStatus, SourceState

MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(days=7)
JITTER = 0.05  # of the interval, at most MAX_JITTER: spreads sources that share an interval
MAX_JITTER = timedelta(minutes=2)


def effective_url(source: Source, state: SourceState) -> str:
    """The URL to fetch: the stored one after a permanent redirect, unless the config's URL
    was edited since (then the edit wins)."""
    if state.url and state.origin_url == source.url:
        return state.url
    return source.url or ""


def is_due(state: SourceState | None, now: datetime, *, url: str = "") -> bool:
    """True when a source should be collected in a pass at ``now``. A source disabled by
    410 Gone stays off until its configured ``url`` is edited."""
    if state is None:
        return True
    if state.disabled:
        return bool(url) and url != state.origin_url
    return state.next_due is None or state.next_due <= now


def jitter(name: str, interval: timedelta, now: datetime) -> timedelta:
    """A small, repeatable delay that spreads sources sharing one interval."""
    digest = hashlib.sha256(f"{name}|{now.isoformat()}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return min(interval * JITTER, MAX_JITTER) * fraction


def after_success(
    state: SourceState, *, now: datetime, interval: timedelta, status: int | None
) -> SourceState:
    """The state after a successful fetch or scan: streak reset, due in one interval."""
    return replace(
        state,
        last_fetch=now,
        last_status=status,
        error_streak=0,
        last_error="",
        disabled=False,
        next_due=now + interval + jitter(state.name, interval, now),
    )


def after_failure(
    state: SourceState, error: SourceError, *, now: datetime, interval: timedelta
) -> SourceState:
    """The state after a failed fetch: 410 disables the source; 429/503 wait at least their
    Retry-After; every other failure backs off exponentially, capped at 24 hours."""
    streak = state.error_streak + 1
    status = error.status if isinstance(error, FetchError) else None
    delay = backoff(interval, streak)
    if isinstance(error, FetchError) and error.retry_after is not None:
        delay = min(max(delay, timedelta(seconds=error.retry_after)), MAX_RETRY_AFTER)
    return replace(
        state,
        last_fetch=now,
        last_status=status,
        error_streak=streak,
        last_error=str(error),
        disabled=status == 410,
        next_due=now + delay,
    )


def backoff(interval: timedelta, streak: int) -> timedelta:
    """How long to wait after ``streak`` failures in a row: the interval, doubled per
    failure after the first, never more than MAX_BACKOFF (nor less than the interval)."""
    return max(interval, min(interval * 2 ** min(streak - 1, 16), MAX_BACKOFF))


def schedule_status(
    config: Config, states: Mapping[str, SourceState], now: datetime
) -> ScheduleStatus:
    """How the configured sources stand at ``now``: how many are due, how many have waited
    longer than their interval (the scheduler lags), which waited longest and for how many
    of its intervals, and how many are backing off after failures or are disabled."""
    due = overdue = backing_off = disabled = 0
    late, lag, late_intervals = "", timedelta(0), 0.0
    for source in config.sources:
        state = states.get(source.name) or SourceState(name=source.name)
        interval = config.interval(source)
        disabled += state.disabled
        backing_off += bool(state.error_streak) and not state.disabled
        if not is_due(state, now, url=source.url or ""):
            continue
        waited = now - state.next_due if state.next_due else timedelta(0)
        due += 1
        overdue += waited > interval
        if waited > lag:
            late, lag, late_intervals = source.name, waited, waited / interval
    return ScheduleStatus(
        due=due,
        overdue=overdue,
        lag_seconds=lag.total_seconds(),
        late=late,
        late_intervals=late_intervals,
        backoff=backing_off,
        disabled=disabled,
    )
