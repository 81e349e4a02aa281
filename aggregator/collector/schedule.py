"""When a source is due: pure functions of its state and the clock. The collector asks
``is_due`` before a pass and records ``after_success`` or ``after_failure`` after it.

Every wait that comes from the network (Retry-After) or the config (interval) is clamped
before it meets a datetime: ``Retry-After: 99999999999999999999`` would otherwise overflow
``timedelta`` and stop every pass, not just its own source."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from aggregator.config import Config, Source
from aggregator.errors import RETRY_AFTER_CAP, FetchError, SourceError
from aggregator.models import Lease, ScheduleStatus, SourceState

MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = RETRY_AFTER_CAP  # as the fetcher reads it, so its message stays true
MAX_INTERVAL = timedelta(days=366)  # the longest wait between two fetches, whatever the config
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


def due_sources(
    sources: Sequence[Source],
    states: Mapping[str, SourceState],
    now: datetime,
    *,
    only: Sequence[str] | None = None,
) -> list[Source]:
    """The sources a pass at ``now`` collects: exactly those named in ``only``, due or
    not, else every one ``is_due``; in config order."""
    if only:
        return [s for s in sources if s.name in only]
    return [s for s in sources if is_due(states.get(s.name), now, url=s.url or "")]


def next_wake(
    sources: Sequence[Source],
    states: Mapping[str, SourceState],
    now: datetime,
    *,
    at_most: timedelta,
    leases: Mapping[str, Lease] | None = None,
) -> datetime:
    """When a scheduler should next look for due sources: the earliest ``next_due`` of the
    ``sources`` (``now`` when one is due already), never later than ``now + at_most``; a
    source disabled by 410 Gone is not waited for, and a due source that another process
    holds a lease of (``leases``, by name) is waited for until its lease runs out."""
    wake = now + at_most
    for source in sources:
        state = states.get(source.name)
        if is_due(state, now, url=source.url or ""):
            lease = (leases or {}).get(source.name)
            if lease is None:
                return now
            wake = min(wake, max(lease.until, now))
            continue
        if state is not None and not state.disabled and state.next_due is not None:
            wake = min(wake, state.next_due)
    return wake


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
        next_due=later(now, _bounded(interval) + jitter(state.name, _bounded(interval), now)),
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
        delay = max(delay, retry_wait(error.retry_after))
    return replace(
        state,
        last_fetch=now,
        last_status=status,
        error_streak=streak,
        last_error=str(error),
        disabled=status == 410,
        next_due=later(now, delay),
    )


def backoff(interval: timedelta, streak: int) -> timedelta:
    """How long to wait after ``streak`` failures in a row: the interval, doubled per
    failure after the first, never more than MAX_BACKOFF (nor less than the interval)."""
    interval = _bounded(interval)
    return max(interval, min(interval * (1 << min(max(streak - 1, 0), 16)), MAX_BACKOFF))


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


def retry_wait(seconds: float) -> timedelta:
    """The wait a Retry-After of ``seconds`` earns: 0 to MAX_RETRY_AFTER (NaN counts as 0,
    infinity as the cap)."""
    if not seconds > 0:
        return timedelta(0)
    return timedelta(seconds=min(seconds, MAX_RETRY_AFTER.total_seconds()))


def later(now: datetime, delay: timedelta) -> datetime:
    """``now + delay``, the delay clamped to 0..MAX_INTERVAL and the sum to the last
    representable moment, so no wait can overflow a datetime."""
    try:
        return now + min(max(delay, timedelta(0)), MAX_INTERVAL)
    except OverflowError:
        return datetime.max.replace(tzinfo=now.tzinfo)


def _bounded(interval: timedelta) -> timedelta:
    return min(max(interval, timedelta(0)), MAX_INTERVAL)
