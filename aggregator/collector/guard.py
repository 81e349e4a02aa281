"""What keeps one source from stopping a pass: when a source may not start, and how an
exception nobody foresaw becomes that source's error instead of the pass's end."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime

from aggregator.collector.schedule import after_failure
from aggregator.config import Config, Source
from aggregator.errors import SourceError
from aggregator.models import IngestResult, SourceReport, SourceState
from aggregator.store import Store

log = logging.getLogger("aggregator.collector")

DETAIL_CHARS = 120  # of an unforeseen exception's text, in the source's one-line error


@dataclass(frozen=True, slots=True)
class Stops:
    """Why a source may not start: Wiredesk is stopping (``stop``), or the pass has ended
    early (``halt``: a store failure, Ctrl-C)."""

    stop: threading.Event | None
    halt: threading.Event

    def stopping(self) -> bool:
        """True once Wiredesk is stopping."""
        return self.stop is not None and self.stop.is_set()


def skipped(name: str) -> tuple[SourceReport, IngestResult]:
    """The report of a source this pass did not collect (it stays due)."""
    return SourceReport(source=name, skipped=True), IngestResult()


def contain(
    config: Config,
    store: Store,
    source: Source,
    state: SourceState,
    now: datetime,
    error: Exception,
) -> tuple[SourceReport, IngestResult]:
    """Record ``error``, an exception that is not a SourceError, as the source's error:
    logged with its traceback, saved in its state, backed off like any failure.

    Raises StoreError when the state cannot be saved."""
    log.error("%s: unexpected error while collecting", source.name, exc_info=error)
    detail = " ".join(f"{type(error).__name__}: {error}".split())
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 1] + "…"
    failure = SourceError(source.name, f"unexpected error ({detail}); see the log")
    failed = after_failure(state, failure, now=now, interval=config.interval(source))
    store.save_source_state(replace(failed, origin_url=source.url or failed.origin_url))
    report = SourceReport(source=source.name, error=str(failure), error_kind=type(error).__name__)
    return report, IngestResult()
