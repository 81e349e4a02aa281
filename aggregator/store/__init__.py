"""The store: every story once, with every source and link that carried it.

``Store`` is the interface the rest of the pipeline sees; ``open_store`` picks the backend
from the config's ``store:`` value: a ``postgresql://`` (or ``postgres://``) URL opens
``store/postgres/``, anything else is a SQLite file (``store/sqlite/``). Both run the SQL of
``store/sql/`` and the ingest planner of ``store/plan.py``.

A store is opened as one node (``this_node``): several nodes may share one PostgreSQL
store, each publishing into its own folder, so the stories pending publication and the
publish manifest are each node's own, and a node can ``watch`` for the others' changes.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aggregator.errors import StoreError
from aggregator.models import (
    Article,
    ArticleQuery,
    CarrierFold,
    Holder,
    IngestResult,
    Lease,
    PendingStories,
    Problem,
    PublishedFile,
    SourceState,
)

if TYPE_CHECKING:
    from aggregator.store.records import Record, RecordCounts

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
log = logging.getLogger(__name__)
_PASSWORD = re.compile(r"password", re.IGNORECASE)


class Watch(Protocol):
    """What ``Store.watch`` started; the daemon closes it when it stops."""

    def close(self) -> None:
        """Stop watching, within about a second."""


class Store(Protocol):
    """What the pipeline needs from a store. Every method is safe to call from any thread."""

    def close(self) -> None:
        """Release the connection(s)."""

    def source_state(self, name: str) -> SourceState | None:
        """The remembered state of one source, or None before its first pass."""

    def source_states(self) -> dict[str, SourceState]:
        """The state of every source the store has seen, by name."""

    def save_source_state(self, state: SourceState) -> None:
        """Remember a source's state (a failed or not-modified pass)."""

    def lease_due(
        self,
        holder: Holder,
        seen: Mapping[str, datetime | None],
        *,
        now: datetime,
        until: datetime,
        limit: int,
        reclaim: Sequence[int] = (),
    ) -> list[str]:
        """Lease to ``holder`` until ``until`` at most ``limit`` of the sources in ``seen``
        (name -> the next due time the caller read of it, None for none), earliest due
        first: those no live lease holds at ``now`` and nobody collected since they were
        read (their next due time is still the one in ``seen``). A lease held by one of
        ``holder.node``'s processes in ``reclaim`` (pids the caller found dead on its
        machine) counts as lapsed. One transaction, so two callers never lease one source;
        returns the names leased, earliest due first."""

    def renew(self, holder: Holder, names: Sequence[str], *, until: datetime) -> list[str]:
        """Extend ``holder``'s leases of ``names`` to ``until``; returns the names it still
        held (a lease that lapsed and was taken by another holder is not renewed)."""

    def release(
        self,
        holder: Holder,
        names: Sequence[str],
        *,
        states: Sequence[SourceState] = (),
        read: Mapping[str, SourceState] | None = None,
    ) -> None:
        """End ``holder``'s leases of ``names`` (a lease another holder took stays), and
        save ``states`` in the same transaction (``save_source_state`` for each), so a
        pass ends the leases of the sources it collected together with their new states.
        ``read``: the states the caller read of this store, by name, that its leases were
        granted against (``lease_due``'s ``seen``): a state with the ``item_keys`` read
        leaves the stored keys as they are, since nobody wrote them while the lease held."""

    def leases(self, *, now: datetime) -> dict[str, Lease]:
        """The leases live at ``now``, by source name."""

    def ingest(
        self,
        source: str,
        articles: Sequence[Article],
        state: SourceState,
        *,
        now: datetime | None = None,
    ) -> IngestResult:
        """Store one source's articles of one pass and its new state in one transaction,
        folding each article into an existing story when dedup says it is the same one
        (``store.plan`` decides; new stories are first seen at ``now``, the current time
        when not given);
        the changed stories are marked pending publication in that same transaction.

        Raises StoriesDeleted, having stored nothing, when another node deleted a story
        this pass matched after each of a few lookups; StoreError when the store cannot
        be written."""

    def article(self, article_id: str) -> Article | None:
        """One story by id, with all its sources and links."""

    def ids_starting(self, prefix: str, *, limit: int) -> list[str]:
        """At most ``limit`` story ids that start with ``prefix``, in order."""

    def articles(self, query: ArticleQuery, *, caught_up: bool = False) -> Iterator[Article]:
        """Stories matching ``query``, newest published first, read lazily in batches; a
        search sees every story committed before it (``catch_up_search`` first), or, when
        the caller ``caught_up`` the index already (``catch_up_or_warn``), what it holds."""

    def catch_up_search(self) -> int:
        """Bring the full-text index up to date with every story committed before the
        call, for a backend that writes it in batches after the stories' transactions
        (SQLite); returns how many stories it indexed or dropped."""

    def article_counts(self) -> dict[str, int]:
        """How many stories each source carried, by source name."""

    def story_count(self) -> int:
        """How many stories are stored."""

    def prune(self, *, now: datetime, retention: timedelta) -> int:
        """Delete stories first seen before ``now - retention``, marking them pending
        publication (their feeds and pages must drop them); returns how many. One node
        prunes a shared store at a time: while another does, this one prunes nothing."""

    def pending_stories(self, *, at_most: int | None = None) -> PendingStories:
        """The stories changed or deleted since this node's publish last cleared them:
        their ids (None when there are more than ``at_most``: reading them all would cost
        more than it saves; all of them by default) and, always, the seed stories among
        them. A node new to the store joins it first: from then on every change is
        marked for it too."""

    def published_files(self) -> dict[str, PublishedFile]:
        """This node's publish manifest: every file its publishing wrote and still owns,
        by name (none for a node new to the store)."""

    def record_published(
        self,
        files: Sequence[PublishedFile],
        removed: Sequence[str],
        *,
        tokens: Collection[int],
        problems: Sequence[Problem] | None = None,
    ) -> None:
        """After a publish: enter ``files`` in this node's manifest (replacing rows of the
        same name), drop ``removed`` from it, clear its pending marks of ``tokens``
        (``PendingStories.tokens``; marks made since stay) and, unless None, replace the
        sources' problems by ``problems``, in one transaction."""

    def watch(self, heard: Callable[[str], None]) -> Watch | None:
        """Call ``heard(node)`` from a thread of its own each time another node commits a
        change to the stories, with that node's name, and ``heard("")`` when changes may
        have been missed (the store was out of reach); None when no other node can change
        this store behind its back (SQLite)."""

    def file_times(self, files: Mapping[str, str], *, now: datetime) -> dict[str, datetime]:
        """When each of ``files`` (a published file's name -> the sha256 of its bytes) first
        held those bytes on any node of the store: ``now`` for a version the store has not
        seen, which it records for the other nodes."""

    def problems(self) -> list[Problem]:
        """The sources' problems the last publish recorded, open and closed."""

    def fold_reasons(self, article_id: str) -> tuple[CarrierFold, ...] | None:
        """Every carrier of a story and why it was folded in; None when there is no story."""

    def split(self, article_id: str, source: str, *, now: datetime) -> str:
        """Separate ``source``'s item from a story into its own, for good; returns its id."""

    def counts(self) -> RecordCounts:
        """How many records of each kind (``store.records``) the store holds."""

    def export(self) -> Iterator[Record]:
        """Everything the store holds but its publish state and derived indexes, as
        ``store.records`` values, read lazily in batches: sources and problems, then the
        stories in the order they were stored, then tombstones and headline uses."""

    def import_records(self, records: Sequence[Record]) -> RecordCounts:
        """Write the ``records`` the store does not hold yet, in one transaction, the new
        stories pending publication; returns how many of each kind were new."""


def open_store(location: str, *, similarity: float | None = None, node: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``location``: a PostgreSQL URL
    (``POSTGRES_SCHEMES``) or a SQLite file, as the node ``this_node(node)``.

    Raises StoreError when it cannot be opened.
    """
    name = this_node(node)
    if location.startswith(POSTGRES_SCHEMES):
        from aggregator.store.postgres import PostgresStore

        return PostgresStore(location, similarity=similarity, node=name)
    from aggregator.store.sqlite import SQLiteStore

    return SQLiteStore(location, similarity=similarity, node=name)


def catch_up_or_warn(
    store: Store, *, meanwhile: str = "searching the stories indexed so far"
) -> None:
    """Bring ``store``'s full-text index up to date (``Store.catch_up_search``) for the
    searches about to be made; when the store cannot be written (read-only, or locked by a
    stuck writer), warn, saying what happens ``meanwhile``: a search that can read the
    stories answers, and a pass that went well stays one."""
    try:
        store.catch_up_search()
    except StoreError as e:
        log.warning("%s; %s", e, meanwhile)


def this_node(configured: str | None) -> str:
    """This machine's name among the nodes of a store: the config's ``node`` when set,
    else the host name, which stays the same across restarts."""
    # uname's node name is what gethostname() returns, without importing socket (and
    # selectors) into every start-up
    return configured or os.uname().nodename


def shown(location: str) -> str:
    """``location`` as it may be printed or logged: without a password."""
    parts = urlsplit(location)
    if parts.password is None and not _PASSWORD.search(parts.query):
        return location
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    netloc = f"{parts.username}@{host}" if parts.username else host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _PASSWORD.match(k)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
