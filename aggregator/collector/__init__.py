"""One collection pass: the whole pipeline, written out as a flat list of steps.

    for every due source this process leases (``leases``: several nodes may share one
    store), as a bounded thread pool frees up:
        feed:   fetch (conditional GET) ─▶ parse ─▶ store.ingest (dedup + merge)
        folder: scan seed files (only new or changed ones) ─▶ store.ingest
        then:   remember the source's state and when it is next due; release the lease
    prune old stories (retention)
    publish whatever is pending (the stories changed since the last publish, by this pass
    or by one that died first) or behind on disk, and ping the WebSub hub

Ingest and prune mark the stories they change as pending publication in the same
transaction, so publishing needs no list from this pass. One source's failure goes into
its report and the pass goes on: a SourceError is the source's own fault; any other
exception raised while collecting it (a bug, or input no one foresaw) is logged with its
traceback and recorded as that source's error (``guard``), so one feed can never stop the
whole desk. Only a StoreError ends the pass. When each source is due again is decided
by the pure functions of ``schedule``, from its state and the time it was fetched
(``PassClock``); where a body is parsed (this process or one per core but one), by ``parsers``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aggregator.collector.guard import Stops, contain, skipped
from aggregator.collector.leases import LeaseQueue, holder, lease_term
from aggregator.collector.parsers import Parsers
from aggregator.collector.report import Stopwatch, failed_report, log_outcome, outcome
from aggregator.collector.schedule import after_failure, after_success, due_sources, effective_url
from aggregator.config import Config, Source
from aggregator.errors import FetchAbandoned, FetchError, SourceError, StoreError, StoriesDeleted
from aggregator.models import (
    FILE_ERRORS_SEPARATOR,
    FetchResult,
    IngestResult,
    ParsedFeed,
    PassReport,
    PublishReport,
    SourceReport,
    SourceState,
)
from aggregator.store import Store
from aggregator.text import count

if TYPE_CHECKING:
    from aggregator.fetch import Fetcher  # made by the caller; typing only

log = logging.getLogger(__name__)

Progress = Callable[[SourceReport], None]
Parser = Callable[[str, FetchResult, datetime, frozenset[str]], ParsedFeed]


@dataclass(frozen=True, slots=True)
class PassClock:
    """The clock of one pass, made by ``collect`` and read by each source's steps: ``now``
    when the pass began, and ``read()``, that moved on by the time since (so a pass run at a
    fixed ``now``, a test's, stays near it).

    A source's next due time, after a success or a failure, counts from its own fetch on
    this clock. Counted from the pass's ``now``, a source fetched late in a long pass (a
    loaded machine, a pass waiting for its parse processes to start) fell due again at
    once, and a second node fetched it a fraction of a second after the first."""

    now: datetime
    began: float = field(default_factory=time.monotonic)

    def read(self) -> datetime:
        """The time on this pass's clock: ``now`` plus the seconds since the pass began."""
        return self.now + timedelta(seconds=time.monotonic() - self.began)


@dataclass(frozen=True, slots=True)
class _Collected:
    """What collecting one source gave: its report, what the store took, and its new state
    when that is still to be saved (a 304, the same bytes again, a failure), which the pass
    saves in the transaction that ends the source's lease; None when ingest saved it."""

    report: SourceReport
    ingested: IngestResult
    state: SourceState | None = None


def run_pass(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    *,
    now: datetime,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    publish_changes: bool = True,
    states: Mapping[str, SourceState] | None = None,
) -> tuple[PassReport, PublishReport | None]:
    """Collect every due source (or exactly ``only``), prune, and publish whatever is
    pending or behind (unless ``publish_changes`` is False: the changes then stay pending
    for the next pass or ``publish``). ``states``: the store's source states, when the
    caller has just read them (``collect``).

    Returns the pass report and the publish report (None when publishing was skipped).
    Raises StoreError or PublishError; a source's own failure is only reported. What was
    stored stays pending publication when publishing fails.
    """
    report = collect(
        config, store, fetcher, now=now, only=only, progress=progress, stop=stop, states=states
    )
    prune(config, store, now=now)
    if not publish_changes:
        return report, None
    from aggregator import publish  # a pass that does not publish (--no-publish) never loads it

    # a pass that collected nothing changed no state: the status is published from those read
    published = publish.publish(config, store, now=now, states=None if report.sources else states)
    ping_hub(config, fetcher, published)
    return report, published


def collect(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    *,
    now: datetime,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    states: Mapping[str, SourceState] | None = None,
) -> PassReport:
    """Collect every due source, or exactly the sources named in ``only``, due or not;
    either way only the sources this process leases (``leases``): a source another
    process is collecting is left to it (and reported, when named in ``only``).
    ``states`` are the store's source states when the caller has just read them (else
    they are read here); the leases check that no source changed since."""
    clock = PassClock(now)
    states = store.source_states() if states is None else states
    due = {s.name: s for s in due_sources(config.sources, states, now, only=only)}
    queue = LeaseQueue(
        store,
        holder(config),
        list(due),
        states,
        term=lease_term(config, due.values()),
        batch=config.fetch.workers,
    )
    try:
        reports, changed = _collect_leased(
            config, store, fetcher, queue, due, states, clock, progress, stop
        )
    except BaseException:
        with suppress(StoreError):  # the store is failing: its leases lapse instead
            queue.close()
        raise
    queue.close()
    if only:
        reports.extend(_left_to_others(store, queue.unleased()))
    order = {s.name: i for i, s in enumerate(config.sources)}
    reports.sort(key=lambda r: order[r.source])
    return PassReport(
        started=now,
        finished=datetime.now(UTC),
        sources=tuple(reports),
        changed_ids=tuple(dict.fromkeys(changed)),
    )


def _collect_leased(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    queue: LeaseQueue,
    due: dict[str, Source],
    states: Mapping[str, SourceState],
    clock: PassClock,
    progress: Progress | None,
    stop: threading.Event | None,
) -> tuple[list[SourceReport], list[str]]:
    """Collect the sources of ``queue`` as they are leased, one worker each, renewing the
    leases while they run and handing them back with the states left to save once they
    are done (``_finish``); the leases still held and the states still unsaved when the
    pass ends, ``queue.close`` releases and saves."""
    reports: list[SourceReport] = []
    changed: list[str] = []
    feeds = [name for name, s in due.items() if not s.is_seed_folder]
    fresh = sum(1 for name in feeds if not (name in states and states[name].item_keys))
    halt = threading.Event()  # set when the pass ends early: running sources store nothing
    stops = Stops(stop, halt)
    workers = config.fetch.workers
    with (
        closing(Parsers(len(feeds), fresh)) as parser,
        ThreadPoolExecutor(workers, thread_name_prefix="collect") as pool,
    ):
        running: dict[Future[_Collected], str] = {}

        def start(free: int) -> None:
            for name in queue.take(0 if stops.stopping() else free):
                # the state saved after this pass names the node that collected it
                state = replace(states.get(name) or SourceState(name=name), node=queue.holder.node)
                args = (config, store, fetcher, parser, due[name], state, clock, stops)
                running[pool.submit(_collect_source, *args)] = name

        try:
            start(workers)
            while running:
                done, _ = wait(
                    running, timeout=queue.renew_every.total_seconds(), return_when=FIRST_COMPLETED
                )
                for collected in _finish(queue, [(running.pop(f), f) for f in done]):
                    reports.append(collected.report)
                    changed.extend(collected.ingested.changed_ids)
                    if progress:
                        progress(collected.report)
                queue.renew()
                start(workers - len(running))
        except BaseException:
            # Ctrl-C, or a store failure: start no more sources; running fetches end within
            # their own deadline, store nothing more, and what they stored stays stored.
            halt.set()
            for future in running:
                future.cancel()
            raise
    return reports, changed


def _finish(queue: LeaseQueue, done: list[tuple[str, Future[_Collected]]]) -> list[_Collected]:
    """Hand the finished sources ``done`` back to ``queue`` with the states they left to
    save (``LeaseQueue.finished``); returns what each gave. A source that raised (a
    StoreError) is handed back with the others, and then its exception raised: the pass
    ends, and ``queue.close`` saves the others' states on its way out."""
    collected: list[_Collected] = []
    failure: BaseException | None = None
    for _name, future in done:
        try:
            collected.append(future.result())
        except BaseException as e:  # raised again below, once the rest is handed back
            failure = failure or e
    states = [c.state for c in collected if c.state is not None]
    queue.finished([name for name, _future in done], states=states)
    if failure is not None:
        raise failure
    return collected


def _left_to_others(store: Store, names: Sequence[str]) -> list[SourceReport]:
    """The reports of sources named in ``only`` that another process was collecting."""
    if not names:
        return []
    leases = store.leases(now=datetime.now(UTC))
    return [
        SourceReport(
            source=name,
            skipped=True,
            leased_by=str(leases[name].holder) if name in leases else "",
        )
        for name in names
    ]


def prune(config: Config, store: Store, *, now: datetime) -> int:
    """Apply the retention setting; returns how many stories were pruned."""
    if config.retention is None:
        return 0
    pruned = store.prune(now=now, retention=config.retention)
    if pruned:
        log.info(
            "pruned %s first seen more than %s ago",
            count(pruned, "story", "stories"),
            config.retention,
        )
    return pruned


def ping_hub(config: Config, fetcher: Fetcher, published: PublishReport) -> None:
    """Tell the WebSub hub which feeds changed; a failing hub is logged, not fatal."""
    if not config.publish.hub or not published.changed_feeds:
        return
    try:
        fetcher.ping_hub(config.publish.hub, published.changed_feeds, timeout=10)
    except FetchError as e:
        log.warning("WebSub hub ping failed: %s", e)


def _collect_source(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    parser: Parser,
    source: Source,
    state: SourceState,
    clock: PassClock,
    stops: Stops,
) -> _Collected:
    if stops.stopping() or stops.halt.is_set():
        return _Collected(*skipped(source.name))
    watch = Stopwatch()
    try:
        if source.is_seed_folder:
            collected = _Collected(*_collect_folder(config, store, source, state, clock, watch))
        else:
            collected = _collect_feed(
                config, store, fetcher, parser, source, state, clock, stops.halt, watch
            )
    except StoreError:
        raise
    except StoriesDeleted as e:  # the store gave this source's pass up: it alone failed
        failed = after_failure(state, e, now=clock.read(), interval=config.interval(source))
        failed = replace(failed, origin_url=source.url or failed.origin_url)
        collected = _Collected(failed_report(source.name, e), IngestResult(), failed)
    except Exception as e:
        collected = _Collected(*contain(config, store, source, state, clock.read(), e))
    report = watch.report(collected.report)
    log_outcome(report)
    return _Collected(report, collected.ingested, collected.state)


def _collect_feed(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    parser: Parser,
    source: Source,
    state: SourceState,
    clock: PassClock,
    halt: threading.Event,
    watch: Stopwatch,
) -> _Collected:
    now = clock.now
    url = effective_url(source, state)
    interval = config.interval(source)
    answered: int | None = None  # the status of a response that then fails to parse
    try:
        with watch.stage("fetch"):
            result = fetcher.fetch(
                source.name,
                url,
                etag=state.etag if url == state.url else "",
                last_modified=state.last_modified if url == state.url else "",
                timeout=config.timeout(source).total_seconds(),
            )
        answered = result.status
        if halt.is_set():
            return _Collected(*skipped(source.name))
        succeeded = after_success(state, now=clock.read(), interval=interval, status=result.status)
        succeeded = replace(
            succeeded,
            origin_url=source.url or "",
            url=result.permanent_url or url,
            etag=result.etag or state.etag,
            last_modified=result.last_modified or state.last_modified,
        )
        unchanged = SourceReport(source=source.name, not_modified=True, status=result.status)
        if result.not_modified:
            return _Collected(unchanged, IngestResult(), succeeded)
        body_hash = hashlib.sha256(result.content).hexdigest()
        if body_hash == state.content_hash:
            # The server ignores validators but sent the same bytes: nothing to parse.
            return _Collected(unchanged, IngestResult(), succeeded)
        with watch.stage("parse"):
            parsed = parser(source.name, result, now, state.item_keys)
    except FetchAbandoned:
        # Wiredesk is stopping: not the source's fault, and it stays due for the next run.
        return _Collected(*skipped(source.name))
    except SourceError as e:
        if halt.is_set():
            return _Collected(*skipped(source.name))
        failed = after_failure(state, e, now=clock.read(), interval=interval)
        status = failed.last_status or answered
        failed = replace(failed, origin_url=source.url or "", url=url, last_status=status)
        return _Collected(failed_report(source.name, e), IngestResult(), failed)
    succeeded = replace(succeeded, content_hash=body_hash, item_keys=parsed.item_keys)
    with watch.stage("store"):
        ingested = store.ingest(source.name, parsed.articles, succeeded, now=now)
    for warning in parsed.warnings:
        log.warning("%s", warning)
    if parsed.declined:
        log.debug(
            "%s: parsed by feedparser: the fast path declined (%s)", source.name, parsed.declined
        )
    report = outcome(source.name, ingested, parsed.warnings)
    unchanged_total = report.unchanged + parsed.skipped_entries
    report = replace(report, unchanged=unchanged_total, declined=parsed.declined)
    return _Collected(replace(report, status=result.status), ingested)


def _collect_folder(
    config: Config,
    store: Store,
    source: Source,
    state: SourceState,
    clock: PassClock,
    watch: Stopwatch,
) -> tuple[SourceReport, IngestResult]:
    from aggregator import seeds  # loads only when a folder is due: a cron pass may have none

    interval = config.interval(source)
    try:
        with watch.stage("parse"):
            scan = seeds.scan_folder(source, state.file_stamps)
    except SourceError as e:
        store.save_source_state(after_failure(state, e, now=clock.read(), interval=interval))
        return failed_report(source.name, e), IngestResult()
    problems = tuple(str(e) for e in scan.errors)
    for problem in problems:
        log.warning("%s", problem)
    succeeded = after_success(state, now=clock.read(), interval=interval, status=None)
    succeeded = replace(
        succeeded,
        url=str(source.path),
        file_stamps=dict(scan.stamps),
        # broken files are a streak of their own: the folder was read, they were not
        error_streak=state.error_streak + 1 if problems else 0,
        last_error=FILE_ERRORS_SEPARATOR.join(problems),
    )
    with watch.stage("store"):
        ingested = store.ingest(source.name, scan.articles, succeeded, now=clock.now)
    report = outcome(source.name, ingested, ())
    report = replace(report, unchanged=report.unchanged + scan.unchanged, file_errors=problems)
    return report, ingested
