"""Where a pass parses its feeds: in the collecting thread while there is little to parse,
in worker processes once there is much and they have started."""

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

PARSE_POOL_MIN = 8  # due feeds from which parsing may move to worker processes
PARSE_INLINE_FIRST = 4  # bodies of unknown entries parsed in this process before the pool
# entries parsed in this process before the pool starts all the same: a body whose entries
# are mostly known from the last pass parses only its new ones (``parse.known``), so a pass
# of changed feeds may never need the pool it would spend a quarter of a second starting
PARSE_INLINE_ENTRIES = 500
# due feeds never parsed before (no known entries) from which the pool starts with the
# pass, before the first body arrives: parsing that many bodies of ~50 new entries takes
# longer than the quarter of a second the processes take to start
PARSE_POOL_EARLY = 32


def parse_workers() -> int:
    """How many worker processes a pass parses in: one per core but one, which the
    collecting process keeps for its own work (fetching, and every ingest, one at a time,
    which is what a first pass waits on); at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


class Parsers:
    """Where feeds are parsed. feedparser is pure Python and holds the GIL, so once a pass
    has parsed a few bodies of new entries, or a few hundred entries, and may have many
    more (``feeds`` due), the rest go to worker processes while threads keep fetching and
    storing; a pass with many feeds never parsed (``fresh``, a first pass) starts them at
    once. The processes start in a thread of their own, and bodies are parsed here until
    they run, so no collecting thread waits for them. A pass of a few changed feeds never
    pays for starting processes."""

    def __init__(self, feeds: int, fresh: int = 0) -> None:
        self._lock = threading.Lock()
        self._fresh = 0  # bodies parsed here with no entry known from the last pass
        self._entries = 0  # entries parsed here
        self._may_pool = feeds >= PARSE_POOL_MIN and (os.cpu_count() or 1) > 1
        self._starter: threading.Thread | None = None
        self._pool: ProcessPoolExecutor | None = None  # set once its processes run
        if self._may_pool and fresh >= PARSE_POOL_EARLY:
            self._start()

    def __call__(
        self, source: str, result: FetchResult, now: datetime, known: frozenset[str]
    ) -> ParsedFeed:
        """``parse.parse_feed`` of one fetched body, here or in a worker process."""
        from aggregator import parse  # feedparser loads only when a pass has a body to parse

        with self._lock:
            self._fresh += not known
            if self._may_pool and self._starter is None and self._enough():
                self._start()
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

    def _start(self) -> None:
        # daemon: a process leaving without closing the pass (a second Ctrl-C during
        # ``close``) does not wait for it; its workers end when their queue's other end does
        self._starter = threading.Thread(target=self._start_pool, name="parse-pool", daemon=True)
        self._starter.start()

    def _start_pool(self) -> None:
        """Start the worker processes, then hand them the rest of the pass; on failure
        the pass goes on parsing here."""
        try:
            pool = _started_pool(parse_workers())
        except Exception as e:  # no processes (a limit, a read-only /tmp): parse here
            log.warning("parsing in this process: worker processes did not start (%s)", e)
            return
        with self._lock:
            self._pool = pool
        log.debug("parsing the rest of the pass in worker processes")

    def close(self) -> None:
        """Stop the worker processes, once started if they are still starting."""
        if self._starter is not None:
            self._starter.join()
        if self._pool is not None:
            self._pool.shutdown()


def _process_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing  # here: a pass with nothing to parse never needs it
    from concurrent.futures import ProcessPoolExecutor

    # forkserver: workers fork from a clean single-threaded process, never from this one
    # while its fetch threads hold locks.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["aggregator.parse"])
    return ProcessPoolExecutor(workers, mp_context=context)


def _started_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, returned once they all run: each submit with no
    idle worker starts one, the first the forkserver too, which imports the parsers."""
    pool = _process_pool(workers)
    try:
        for started in [pool.submit(os.getpid) for _ in range(workers)]:
            started.result()
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    return pool
