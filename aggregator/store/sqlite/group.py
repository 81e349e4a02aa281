"""Group commit of the SQLite store's ingests: the threads whose ingests wait for the one
writer queue here; the one that gets it (the leader) takes the queue and runs the ingests
together, and each of the others (followers) waits for its own outcome. A lone ingest
leads a group of one at once, so it waits for nothing more than before."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

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


Lead = Callable[[Callable[[], list[Member]]], None]  # runs (settles) the group it takes


class Queue:
    """The ingests waiting for the writer, taken in groups of at most ``limit`` articles
    (a group of one may be larger): first come, first in."""

    def __init__(self, *, limit: int) -> None:
        """An empty queue that no thread leads."""
        self.limit = limit
        self._changed = threading.Condition()
        self._waiting: list[Member] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many ingests are queued and not taken yet."""
        with self._changed:
            return len(self._waiting)

    def run(self, member: Member, lead: Lead) -> IngestResult:
        """``member``'s outcome, once the leader of the group it joins has settled it. When
        no thread leads, this one does: ``lead`` gets the function that takes the group
        (``member`` first), to call once it holds the writer, so that the ingests queued
        while it waited for the writer join too."""
        with self._changed:
            self._waiting.append(member)
            while self._leading and not member.done:
                self._changed.wait()
            leader = not member.done
            if leader:
                self._leading = True
        if leader:
            try:
                lead(partial(self._take, member))
            finally:
                with self._changed:
                    self._leading = False
                    self._changed.notify_all()
        return member.outcome()

    def _take(self, first: Member) -> list[Member]:
        """``first`` and the ingests queued after it within ``limit``, out of the queue."""
        with self._changed:
            group, size = [first], first.size
            rest = [m for m in self._waiting if m is not first]
            for member in rest:
                if size + member.size > self.limit:
                    break
                group.append(member)
                size += member.size
            self._waiting = rest[len(group) - 1 :]
        return group
