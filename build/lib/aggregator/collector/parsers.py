"""Where a pass parses its feeds: in the collecting thread for a few bodies, in one
process per core for many."""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from aggregator.models import FetchResult, ParsedFeed

PARSE_POOL_MIN = 8  # due feeds from which parsing may move to one process per core
PARSE_INLINE_FIRST = 4  # bodies parsed in this process before the pool starts


class Parsers:
    """Where feeds are parsed. feedparser is pure Python and holds the GIL, so once a pass
    has parsed a few bodies and may have many more (``feeds`` due), the rest go to one
    process per core while threads keep fetching and storing. A pass of a few changed
    feeds never pays for starting processes."""

    def __init__(self, feeds: int) -> None:
        self._lock = threading.Lock()
        self._parsed = 0
        self._may_pool = feeds >= PARSE_POOL_MIN and (os.cpu_count() or 1) > 1
        self._pool: ProcessPoolExecutor | None = None

    def __call__(
        self, source: str, result: FetchResult, now: datetime, known: frozenset[str]
    ) -> ParsedFeed:
        """``parse.parse_feed`` of one fetched body, here or in a worker process."""
        from aggregator import parse  # feedparser loads only when a pass has a body to parse

        with self._lock:
            self._parsed += 1
            if self._may_pool and self._pool is None and self._parsed > PARSE_INLINE_FIRST:
                self._pool = _process_pool()
            pool = self._pool
        if pool is None:
            return parse.parse_feed(source, result, now=now, known=known)
        return pool.submit(parse.parse_feed, source, result, now=now, known=known).result()

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown()


def _process_pool() -> ProcessPoolExecutor:
    # forkserver: workers fork from a clean single-threaded process, never from this one
    # while its fetch threads hold locks.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["aggregator.parse"])
    return ProcessPoolExecutor(os.cpu_count(), mp_context=context)
