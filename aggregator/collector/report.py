"""One source's report of one pass: its counts, its stage times, and its log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from aggregator.errors import FetchError, SourceError
from aggregator.models import IngestResult, SourceReport

log = logging.getLogger("aggregator.collector")


def log_outcome(report: SourceReport) -> None:
    """One line per source: a warning when it failed, info when it brought stories, debug
    otherwise (a pass of 500 unchanged feeds logs nothing at info, and makes no line)."""
    if report.error:
        log.warning("%s", report.error, extra={**_fields(report), "error": report.error_kind})
    elif report.brought:
        log.info(
            "%s: %d new, %d merged, %d updated in %.2f s",
            report.source,
            report.new,
            report.merged,
            report.updated,
            report.seconds,
            extra=_fields(report),
        )
    elif log.isEnabledFor(logging.DEBUG):
        outcome = "not modified" if report.not_modified else f"{report.unchanged} unchanged"
        log.debug("%s: %s in %.2f s", report.source, outcome, report.seconds, extra=_fields(report))


def _fields(report: SourceReport) -> dict[str, object]:
    """The structured fields of a source's log line (the JSON log's keys)."""
    return {
        "source": report.source,
        "new": report.new,
        "merged": report.merged,
        "updated": report.updated,
        "status": report.status,
        "duration_s": round(report.seconds, 3),
    }


class Stopwatch:
    """Seconds spent on one source since the watch was made, and in each of its stages
    (fetch, parse, store)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {"fetch": 0.0, "parse": 0.0, "store": 0.0}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block to ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def report(self, report: SourceReport) -> SourceReport:
        """``report`` with the whole time and the stage times filled in."""
        return replace(
            report,
            seconds=time.perf_counter() - self.started,
            fetch_seconds=self.seconds["fetch"],
            parse_seconds=self.seconds["parse"],
            store_seconds=self.seconds["store"],
        )


def failed_report(name: str, error: SourceError) -> SourceReport:
    """The report of a source that failed as a whole with ``error``."""
    status = error.status if isinstance(error, FetchError) else None
    return SourceReport(
        source=name, error=str(error), error_kind=type(error).__name__, status=status
    )


def outcome(name: str, ingested: IngestResult, warnings: tuple[str, ...]) -> SourceReport:
    """The report of a source whose articles the store took as ``ingested``."""
    return SourceReport(
        source=name,
        new=len(ingested.new),
        merged=len(ingested.merged),
        updated=len(ingested.updated),
        unchanged=ingested.unchanged,
        warnings=warnings,
    )
