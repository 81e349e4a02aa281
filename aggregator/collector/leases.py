"""Taking due sources from the queue every node on one store shares: leases.

A pass fetches only the sources it has leased. It reads which sources are due
(``schedule``), then leases them a few at a time, as its workers free up, earliest due
first, so that two nodes on one store split the due sources between them instead of the
first to look taking them all. The store grants a lease only while no live lease holds
the source and its next due time is still the one the pass read (nobody collected it
meanwhile), so no two nodes, nor two processes on one machine, fetch a source in the same
interval.

A lease runs for the longest whole-fetch deadline (``timeout``) of the pass's sources plus
LEASE_GRACE, and is renewed every third of that while its source is being collected (a
fetch may first wait for a host slot, a big body take a while to parse); it is released
once the source's new state, with its next due time, is saved: RELEASE_BATCH finished
sources at a time, their states still to save saved in the same transaction, and the rest
when the pass ends (``finished``, ``close``). A node killed mid-pass renews nothing more:
its leases lapse within one term, and the next pass of any node takes those sources (a
state it never saved, a 304's or a failure's, only means that source is fetched again);
the next pass on the same machine (a restarted daemon, the next ``collect``) takes them
back at once, seeing that no process has the holder's pid.

A node is named by the config's ``node`` or else the host name, which stays the same
across restarts, so ``sources`` tells which machine collected what; the process id beside
the name tells two processes on one machine (the daemon and a cron ``collect``) apart.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice

from aggregator.config import Config, Source
from aggregator.models import Holder, Lease, SourceState
from aggregator.store import Store, this_node

log = logging.getLogger("aggregator.collector")

RELEASE_BATCH = 64  # finished sources whose leases end (and states are saved) together
LEASE_GRACE = timedelta(seconds=5)  # past the fetch deadline: parsing and storing
RENEWALS = 3  # renewals per term, so one late renewal never lets a lease lapse
OFFERED_BATCHES = 4  # batches of the earliest due sources a lease asks the store about
_NEVER = datetime.min.replace(tzinfo=UTC)

Clock = Callable[[], datetime]


def holder(config: Config) -> Holder:
    """This process as a holder of leases: the config's ``node`` (else the host name) and
    its process id."""
    return Holder(node=this_node(config.node), pid=os.getpid())


def lease_term(config: Config, sources: Iterable[Source]) -> timedelta:
    """How long a lease of a pass over ``sources`` runs before it must be renewed: the
    longest of their fetch deadlines, plus LEASE_GRACE."""
    longest = max((config.timeout(s) for s in sources), default=config.defaults.timeout)
    return longest + LEASE_GRACE


def dead_holders(leases: Iterable[Lease], me: Holder) -> list[int]:
    """The processes of ``me``'s node holding ``leases`` that no longer run on this
    machine (their leases are left over from a crash): their pids, in order. A pid that
    was taken by a new process since counts as running, so its leases simply lapse."""
    return sorted(
        {
            lease.holder.pid
            for lease in leases
            if lease.holder.node == me.node and not _running(lease.holder.pid)
        }
    )


def _running(pid: int) -> bool:
    """Whether a process with ``pid`` runs on this machine (this one included)."""
    if pid <= 0:
        return False  # no process's: os.kill would signal a whole process group
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class LeaseQueue:
    """The due sources of one pass, leased from the store a few at a time.

    Leases are in wall-clock time (``clock``), whatever ``now`` the pass runs at: they
    are compared between processes, and with no other clock."""

    def __init__(
        self,
        store: Store,
        holder: Holder,
        due: Sequence[str],
        states: Mapping[str, SourceState],
        *,
        term: timedelta,
        batch: int,
        clock: Clock = _wall_clock,
    ) -> None:
        """Queue ``due`` (source names) to be leased by ``holder``, ``batch`` at a time;
        ``states`` is what the pass read of them, against which the store checks that none
        was collected since."""
        self.store, self.holder, self.term, self.clock = store, holder, term, clock
        self.batch = batch
        self._read = states  # what leases are granted against; keys a release need not send
        self.renew_every = term / RENEWALS
        queued = sorted(((name, _next_due(states.get(name))) for name in due), key=_earliest)
        self._queue = dict(queued)  # not leased yet, earliest due first, as the store leases
        self._passed: list[str] = []  # held by others, or collected since the pass read them
        self._ready: list[str] = []  # leased, not started yet
        self._held: set[str] = set()
        self._finished: list[str] = []  # collected or given up, leases still held
        self._unsaved: list[SourceState] = []  # their states still to save
        self._renewed = clock()
        self._reclaim: list[int] | None = None  # dead holders of this node, read once

    def take(self, free: int) -> list[str]:
        """At most ``free`` leased sources to start now, earliest due first: those leased
        before, else up to ``batch`` more leased now; [] when ``free`` is 0 or no queued
        source is left that nobody else holds.

        Raises StoreError when the store cannot be written."""
        if free <= 0:
            return []
        if not self._ready and self._queue:
            now = self.clock()
            if self._reclaim is None:
                self._reclaim = dead_holders(self.store.leases(now=now).values(), self.holder)
            self._ready = self._lease(now)
            self._held.update(self._ready)
        started, self._ready = self._ready[:free], self._ready[free:]
        return started

    def _lease(self, now: datetime) -> list[str]:
        """Up to ``batch`` of the earliest due queued sources, leased now. The store is
        offered a few batches at a time, not the whole queue: it reads every source offered,
        and a big pass leases many batches. When it grants fewer than asked, the sources it
        was offered and did not grant are held by others or were collected since, and are
        passed over for the rest of the pass."""
        taken: list[str] = []
        while len(taken) < self.batch and self._queue:
            offered = dict(islice(self._queue.items(), self.batch * OFFERED_BATCHES))
            wanted = self.batch - len(taken)
            granted = self.store.lease_due(
                self.holder,
                offered,
                now=now,
                until=now + self.term,
                limit=wanted,
                reclaim=self._reclaim or (),
            )
            for name in granted:
                del self._queue[name]
            if len(granted) < wanted:
                passed = [name for name in offered if name in self._queue]
                for name in passed:
                    del self._queue[name]
                self._passed += passed
            taken += granted
        return taken

    def renew(self) -> None:
        """Extend the leases still held when a renewal is due; a lease found lost (it
        lapsed and another process took it) is logged.

        Raises StoreError when the store cannot be written."""
        now = self.clock()
        if not self._held or now - self._renewed < self.renew_every:
            return
        kept = set(self.store.renew(self.holder, sorted(self._held), until=now + self.term))
        for name in sorted(self._held - kept):
            log.warning("%s: its lease lapsed and another process took it", name)
        self._held &= kept
        self._renewed = now

    def finished(self, names: Sequence[str], *, states: Sequence[SourceState] = ()) -> None:
        """The sources ``names`` are done with (collected, or given up), and ``states``
        the new states of those that left theirs to save (a 304, the same bytes, a
        failure: an ingest saves its own). Their leases end, and the states are saved in
        the same transaction, once RELEASE_BATCH sources are finished, or when the pass
        ends (``close``): a transaction for each cost about the CPU of its 304 fetch, and
        no other process leases a source while its lease holds, nor once its next due
        time moved on.

        Raises StoreError when the store cannot be written."""
        self._finished += names
        self._unsaved += states
        if len(self._finished) >= RELEASE_BATCH:
            self._release(self._finished)

    def close(self) -> None:
        """Save the states still unsaved and release every lease still held (those of the
        sources finished since the last batch, and of the sources a pass that stopped
        skipped or never started).

        Raises StoreError when the store cannot be written."""
        self._release(sorted(self._held))

    def _release(self, names: Sequence[str]) -> None:
        """Give up the leases of ``names``, saving the unsaved states in the same
        transaction. Raises StoreError when the store cannot be written (the states stay
        unsaved)."""
        mine = [name for name in names if name in self._held]
        if self._unsaved:
            self.store.release(self.holder, mine, states=self._unsaved, read=self._read)
        elif mine:
            self.store.release(self.holder, mine)
        self._held.difference_update(mine)
        self._finished, self._unsaved = [], []

    def unleased(self) -> list[str]:
        """The queued sources that were never leased: held by another process, or
        collected since the pass read them (or the pass stopped first)."""
        return [*self._passed, *self._queue]


def _next_due(state: SourceState | None) -> datetime | None:
    return state.next_due if state else None


def _earliest(pair: tuple[str, datetime | None]) -> tuple[bool, datetime, str]:
    """The store's lease order (the ``ORDER BY`` of ``store.sql.leasing``): never collected
    first, then by next due time and name. Were the two to drift, only speed would suffer:
    a source not offered yet is passed over only when the store grants fewer than asked."""
    name, due = pair
    return due is not None, due or _NEVER, name
