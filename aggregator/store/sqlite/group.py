"""Group commit of the SQLite store's ingests: the threads whose ingests wait for the one
writer queue here; the one that gets it (the leader) takes the queue and runs the ingests
together, taking those that queue meanwhile too, and each of the others (followers) waits
for its own outcome. A lone ingest leads a group of one at once, so it waits for the writer
no longer than before (for its commit, as long as those that joined it take).

Each follower waits on a lock of its own, which the leader releases once the group is
settled, and the leader hands the lead to the first ingest still queued: a condition's
``notify_all`` at each group's end woke every waiting thread, those that queued too late
for the group only to wait again, while the leader held the interpreter's lock."""

from __future__ import annotations

import threading
from collections.abc import Callable

from aggregator.models import IngestResult
from aggregator.store.sql import Db


class Member:
    """One thread's ingest in the queue: its ``work`` (one source's transaction body), its
    ``size`` (articles), when it ``asked`` for the writer (``time.monotonic``), and,
    once run, its outcome."""

    __slots__ = ("_turn", "asked", "done", "error", "gone", "leads", "result", "size", "work")

    def __init__(self, work: Callable[[Db], IngestResult], *, size: int, asked: float) -> None:
        """A member not run yet."""
        self.work = work
        self.size = size
        self.asked = asked
        self.result: IngestResult | None = None
        self.error: Exception | None = None
        self.done = False
        self.leads = False  # handed the lead by the last leader
        self.gone = False  # its thread was interrupted and left: nobody waits for it
        self._turn = threading.Lock()  # released when settled or handed the lead
        self._turn.acquire()

    def wait(self) -> None:
        """Block until the member is settled or handed the lead (``wake``)."""
        self._turn.acquire()

    def wake(self) -> None:
        """Let the thread waiting in ``wait`` go on."""
        self._turn.release()

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
        self._lock = threading.Lock()
        self._waiting: list[Member] = []
        self._leading = False

    def run(self, member: Member, lead: Lead) -> IngestResult:
        """``member``'s outcome, once the leader of the group it joins has settled it. When
        no thread leads, or the last leader hands it the lead, this one does: ``lead``
        gets the function that takes the group (``member`` first), to call once it holds
        the writer, so that the ingests queued while it waited for the writer join too.

        A leader that raises (a BaseException out of an ingest, say) once it took its group
        puts each member it did not settle back at the head of the queue, whose first then
        leads in turn: no thread is left waiting. A thread interrupted before its member
        was taken takes it out of the queue (and passes on the lead if it was handed it),
        so that no leader runs an ingest whose outcome no one reads."""
        with self._lock:
            self._waiting.append(member)
            leads = not self._leading
            self._leading = True
        if not leads:
            try:
                member.wait()
            except BaseException:
                self._leave(member)
                raise
            leads = not member.done
        if leads:
            taker = _Taker(self, member)
            try:
                lead(taker)
            finally:
                self._hand_over(member, taker.taken)
        return member.outcome()

    def _hand_over(self, leader: Member, taken: list[Member]) -> None:
        """Wake the members of ``leader``'s group it settled, put those it did not back at
        the head of the queue, and hand the lead to the first queued, if any."""
        with self._lock:
            self._forget(leader)  # when ``lead`` raised before it took the group
            others = [m for m in taken if m is not leader]
            # a member whose thread left is dropped: queued again, it could be handed a
            # lead that no thread takes, and every later ingest would wait for it
            self._waiting[:0] = [m for m in others if not (m.done or m.gone)]
            woken = [m for m in others if m.done]
            if self._waiting:
                self._waiting[0].leads = True
                woken.append(self._waiting[0])
            else:
                self._leading = False
        for member in woken:
            member.wake()

    def _leave(self, member: Member) -> None:
        """Take the interrupted ``member`` out of the queue, and pass the lead on if it was
        handed it; a leader that took it and then fails does not queue it again."""
        with self._lock:
            member.gone = True
            if not member.leads:
                self._forget(member)
                return
        self._hand_over(member, [])

    def _forget(self, member: Member) -> None:
        """Take ``member`` out of the queue if it was not taken yet (the caller holds
        ``_lock``)."""
        if member in self._waiting:
            self._waiting.remove(member)

    def take(self, first: Member | None, size: int) -> list[Member]:
        """``first`` (when given) and the ingests queued after it, out of the queue, while
        the group's articles, ``size`` taken already, stay within ``limit``."""
        with self._lock:
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

    __slots__ = ("_first", "_queue", "_size", "taken")

    def __init__(self, queue: Queue, first: Member) -> None:
        self._queue = queue
        self._first: Member | None = first
        self._size = 0
        self.taken: list[Member] = []  # every member taken so far

    def __call__(self) -> list[Member]:
        taken = self._queue.take(self._first, self._size)
        self._first = None
        self._size += sum(member.size for member in taken)
        self.taken.extend(taken)
        return taken
