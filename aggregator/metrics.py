"""The daemon's Prometheus metrics, served at ``/metrics``; the only importer of
prometheus_client.

Every name starts with ``wiredesk_``; counters end in ``_total``, times are in seconds.
The ``source`` label takes only the names of configured sources, and the series of a
source removed from the config are dropped at the next reload (``keep_sources``), so the
number of series follows the config.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from aggregator.models import PassReport, PublishReport, ScheduleStatus, SourceReport

# From a local seed folder (milliseconds) to a feed that uses its whole deadline.
FETCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
PASS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The daemon's metrics in a registry of their own; record into it from any thread."""

    def __init__(self) -> None:
        """Register every metric, at zero."""
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._series: set[tuple[Counter, str, str]] = set()  # (metric, source, label) seen
        r = self.registry
        self.passes = Counter(
            "wiredesk_passes",
            "Collection passes, by result: ok, failed (every source failed), error (the pass "
            "raised), idle (nothing was due).",
            ["result"],
            registry=r,
        )
        self.pass_seconds = Histogram(
            "wiredesk_pass_duration_seconds",
            "Collection pass duration.",
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "wiredesk_last_successful_pass_timestamp_seconds",
            "Unix time of the last pass that collected something and did not fail as a whole.",
            registry=r,
        )
        self.fetches = Counter(
            "wiredesk_fetches",
            "Source fetches, by source and outcome: the HTTP status (200, 304...), 'scan' "
            "for a seed folder, or the error class (FetchError, ParseError, SeedError).",
            ["source", "outcome"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "wiredesk_fetch_duration_seconds",
            "Time to fetch one feed (or scan one seed folder), to the last byte.",
            buckets=FETCH_BUCKETS,
            registry=r,
        )
        self.stories = Counter(
            "wiredesk_stories",
            "Stories a source brought, by change: new, merged (into a stored story), updated.",
            ["source", "change"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "wiredesk_pass_stage_seconds",
            "Time one pass spent in a stage (parse, store), summed over its sources.",
            ["stage"],
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self.sources = Gauge(
            "wiredesk_sources",
            "Configured sources, by state when the last pass began: due, overdue (due for "
            "longer than their interval), backoff (failing), disabled (410 Gone).",
            ["state"],
            registry=r,
        )
        self.lag = Gauge(
            "wiredesk_scheduler_lag_seconds",
            "How long the longest-waiting due source had waited when the last pass began.",
            registry=r,
        )
        self.stored = Gauge("wiredesk_stories_stored", "Stories in the store.", registry=r)
        self.store_reachable = Gauge(
            "wiredesk_store_reachable",
            "1 while the store answers, 0 from the pass that found it unreachable until one "
            "reads it again.",
            registry=r,
        )
        self.store_reachable.set(1)
        self.publish_seconds = Histogram(
            "wiredesk_publish_duration_seconds",
            "Time to publish the feeds and pages.",
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self.files_written = Counter(
            "wiredesk_published_files_written",
            "Files publishing wrote (files whose bytes were already right are not counted).",
            registry=r,
        )

    def record_pass(self, report: PassReport, *, seconds: float, finished: float) -> None:
        """Count one pass and its sources; ``seconds`` is how long it took, ``finished``
        its end as a Unix time."""
        sources = report.collected
        if not sources:
            self.passes.labels("idle").inc()
            return
        self.passes.labels("failed" if report.failed else "ok").inc()
        self.pass_seconds.observe(seconds)
        if not report.failed:
            self.last_success.set(finished)
        for source in sources:
            self._record_source(source)
        for stage in ("parse", "store"):
            spent = sum(getattr(s, f"{stage}_seconds") for s in sources)
            self.stage_seconds.labels(stage).observe(spent)

    def _record_source(self, report: SourceReport) -> None:
        outcome = report.error_kind or (str(report.status) if report.status else "scan")
        self._count(self.fetches, report.source, outcome, 1)
        self.fetch_seconds.observe(report.fetch_seconds or report.parse_seconds)
        for change in ("new", "merged", "updated"):
            self._count(self.stories, report.source, change, getattr(report, change))

    def _count(self, metric: Counter, source: str, label: str, amount: int) -> None:
        with self._lock:
            self._series.add((metric, source, label))
        metric.labels(source, label).inc(amount)

    def record_store(self, *, reachable: bool) -> None:
        """Set whether the store answers."""
        self.store_reachable.set(int(reachable))

    def record_error(self) -> None:
        """Count a pass that raised instead of reporting."""
        self.passes.labels("error").inc()

    def record_schedule(self, status: ScheduleStatus) -> None:
        """Set the source gauges from how they stood when a pass began."""
        for state in ("due", "overdue", "backoff", "disabled"):
            self.sources.labels(state).set(getattr(status, state))
        self.lag.set(status.lag_seconds)

    def record_publish(self, report: PublishReport) -> None:
        """Time one publish and count the files it wrote."""
        self.publish_seconds.observe(report.seconds)
        self.files_written.inc(len(report.written))

    def record_stored(self, count: int) -> None:
        """Set how many stories the store holds."""
        self.stored.set(count)

    def keep_sources(self, names: Iterable[str]) -> None:
        """Drop the series of every source not in ``names`` (removed from the config)."""
        keep = set(names)
        with self._lock:
            gone = {series for series in self._series if series[1] not in keep}
            self._series -= gone
        for metric, source, label in gone:
            metric.remove(source, label)

    def page(self) -> tuple[str, bytes]:
        """The metrics in the Prometheus text format, with its Content-Type."""
        return CONTENT_TYPE_LATEST, generate_latest(self.registry)
