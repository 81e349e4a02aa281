"""Where a pass parses its feeds: in the collecting thread while there is little to parse,
in one process per core once there is much."""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.models import FetchResult, ParsedFeed

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

PARSE_POOL_MIN = 8  # due feeds from which parsing may move to one process per core
PARSE_INLINE_FIRST = 4  # bodies of unknown entries parsed in this process before the pool
# entries parsed in this process before the pool starts all the same: a body whose entries
# are mostly known from the last pass parses only its new ones (``parse.known``), so a pass
# of changed feeds may never need the pool it would wait a quarter of a second for
PARSE_INLINE_ENTRIES = 500


class Parsers:
    """Where feeds are parsed. feedparser is pure Python and holds the GIL, so once a pass
    has parsed a few bodies of new entries, or a few hundred entries, and may have many
    more (``feeds`` due), the rest go to one process per core while threads keep fetching
    and storing. A pass of a few changed feeds never pays for starting processes."""

    def __init__(self, feeds: int) -> None:
        self._lock = threading.Lock()
        self._fresh = 0  # bodies parsed here with no entry known from the last pass
        self._entries = 0  # entries parsed here
        self._may_pool = feeds >= PARSE_POOL_MIN and (os.cpu_count() or 1) > 1
        self._pool: ProcessPoolExecutor | None = None

    def __call__(
        self, source: str, result: FetchResult, now: datetime, known: frozenset[str]
    ) -> ParsedFeed:
        """``parse.parse_feed`` of one fetched body, here or in a worker process."""
        from aggregator import parse  # feedparser loads only when a pass has a body to parse

        with self._lock:
            self._fresh += not known
            if self._may_pool and self._pool is None and self._enough():
                self._pool = _process_pool()
                log.debug("parsing the rest of the pass in worker processes")
            pool = self._pool
        if pool is not None:
            return pool.submit(parse.parse_feed, source, result, now=now, known=known).result()
        parsed = parse.parse_feed(source, result, now=now, known=known)
        with self._lock:
            self._entries += len(parsed.articles)
        return parsed

    def _enough(self) -> bool:
        """Whether this process has parsed enough to hand the rest to worker processes."""
        return self._fresh > PARSE_INLINE_FIRST or self._entries >= PARSE_INLINE_ENTRIES

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown()


def _process_pool() -> ProcessPoolExecutor:
    import multiprocessing  # here: a pass with nothing to parse never needs it
    from concurrent.futures import ProcessPoolExecutor

    # forkserver: workers fork from a clean single-threaded process, never from this one
    # while its fetch threads hold locks.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["aggregator.parse"])
    return ProcessPoolExecutor(os.cpu_count(), mp_context=context)
