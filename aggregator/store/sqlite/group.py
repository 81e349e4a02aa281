"""Group commit of the SQLite store's ingests: the threads whose ingests wait for the one
writer queue here; the one that gets it (the leader) takes the queue and runs the ingests
together, taking those that queue meanwhile too, and each of the others (followers) waits
for its own outcome. A lone ingest leads a group of one at once, so it waits for the writer
no longer than before (for its commit, as long as those that joined it take)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from aggregator.models import IngestResult
from aggregator.store.sql import Db


class Member:
    """One thread's ingest in the queue: its ``work`` (one source's transaction body), its
    ``size`` (articles), when it ``asked`` for the writer (``time.monotonic``), and,
    once run, its outcome."""

    __slots__ = ("asked", "done", "error", "result", "size", "work")

    def __init__(self, work: Callable[[Db], IngestResult], *, size: int, asked: float) -> None:
        """A member not run yet."""
        self.work = work
        self.size = size
        self.asked = asked
        self.result: IngestResult | None = None
        self.error: Exception | None = None
        self.done = False

    def settle(self, run: Callable[[], IngestResult]) -> None:
        """Make what ``run`` returns, or the exception it raises, the outcome."""
        try:
            self.result = run()
        except Exception as e:  # its thread raises it (``outcome``)
            self.error = e
        self.done = True

    def succeed(self, result: IngestResult) -> None:
        """Make ``result`` the outcome."""
        self.result = result
        self.done = True

    def fail(self, error: Exception) -> None:
        """Make ``error`` the outcome."""
        self.error = error
        self.done = True

    def outcome(self) -> IngestResult:
        """The result, or raise the error, of the member once run."""
        if self.error is not None:
            raise self.error
        assert self.result is not None  # done, and not failed
        return self.result


# runs (settles) the group it takes: the function it gets gives the group first, then, on
# each later call, the ingests queued since that still fit the group's limit
Lead = Callable[[Callable[[], list[Member]]], None]


class Queue:
    """The ingests waiting for the writer, taken in groups of at most ``limit`` articles
    (a group of one may be larger): first come, first in."""

    def __init__(self, *, limit: int) -> None:
        """An empty queue that no thread leads."""
        self.limit = limit
        self._changed = threading.Condition()
        self._waiting: list[Member] = []
        self._leading = False

    def run(self, member: Member, lead: Lead) -> IngestResult:
        """``member``'s outcome, once the leader of the group it joins has settled it. When
        no thread leads, this one does: ``lead`` gets the function that takes the group
        (``member`` first), to call once it holds the writer, so that the ingests queued
        while it waited for the writer join too.

        A leader that raises (a BaseException out of an ingest, say) once it took its group
        leaves each member it did not settle to its own thread, which then leads in turn:
        no thread is left waiting. A thread interrupted before its member was taken takes
        it out of the queue, so that no leader runs an ingest whose outcome no one reads."""
        with self._changed:
            self._waiting.append(member)
            try:
                while self._leading and not member.done:
                    self._changed.wait()
            except BaseException:
                self._forget(member)
                raise
            leader = not member.done
            if leader:
                self._leading = True
        if leader:
            try:
                lead(_Taker(self, member))
            finally:
                with self._changed:
                    self._forget(member)  # when ``lead`` raised before it took the group
                    self._leading = False
                    self._changed.notify_all()
        return member.outcome()

    def _forget(self, member: Member) -> None:
        """Take ``member`` out of the queue if it was not taken yet (the caller holds
        ``_changed``)."""
        if member in self._waiting:
            self._waiting.remove(member)

    def take(self, first: Member | None, size: int) -> list[Member]:
        """``first`` (when given) and the ingests queued after it, out of the queue, while
        the group's articles, ``size`` taken already, stay within ``limit``."""
        with self._changed:
            group = [] if first is None else [first]
            size += 0 if first is None else first.size
            rest = [m for m in self._waiting if m is not first]
            for member in rest:
                if size + member.size > self.limit:
                    break
                group.append(member)
                size += member.size
            self._waiting = rest[len(group) - (first is not None) :]
        return group


class _Taker:
    """What a leader takes from ``queue``: its group (``first`` and those queued after it)
    at the first call, then at each later one the ingests queued since that still fit."""

    __slots__ = ("_first", "_queue", "_size")

    def __init__(self, queue: Queue, first: Member) -> None:
        self._queue = queue
        self._first: Member | None = first
        self._size = 0

    def __call__(self) -> list[Member]:
        taken = self._queue.take(self._first, self._size)
        self._first = None
        self._size += sum(member.size for member in taken)
        return taken
