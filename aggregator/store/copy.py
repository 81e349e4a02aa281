"""``wiredesk migrate-store``: one store copied into another through the ``Store`` protocol
(``export`` from the source, ``import_records`` into the target, in batches), whichever
backends they are; each backend's SQL stays in its own package.

A record the target already holds (a source by name, a story by id, a tombstone or
headline use by its key, a problem by source, kind and since) is left as it is, so a
copy that was cut short is finished by running it again, and a second run copies
nothing. The counts of both stores are compared afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from urllib.parse import parse_qsl, urlsplit

from aggregator.errors import StoreError
from aggregator.store import Store
from aggregator.store.records import Record, RecordCounts

BATCH = 500  # records per import transaction: a cut copy loses at most one batch's work
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyReport:
    """What ``copy_store`` did: the counts of the source, of what was new to the target,
    and of the target afterwards; printed by ``migrate-store``."""

    source: RecordCounts
    copied: RecordCounts
    target: RecordCounts

    def check(self, target: str) -> None:
        """Raise StoreError naming ``target`` (its location) unless it holds as many of each
        kind of record as the source."""
        differ = [
            f"{n} {kind.replace('_', ' ')} (the source {m})"
            for (kind, m), (_, n) in zip(self.source.items(), self.target.items(), strict=True)
            if n != m
        ]
        if differ:
            raise StoreError(
                f"{target}: after the copy it holds {', '.join(differ)}: was it empty, and "
                "the source stopped?"
            )


def copy_store(source: Store, target: Store) -> CopyReport:
    """Copy every record of ``source`` that ``target`` does not hold yet (in transactions
    of ``BATCH`` records), then bring the target's search index up to date, so that its
    first search does not wait for it; returns the counts. Raises StoreError from either
    store."""
    before = source.counts()
    copied = RecordCounts()
    for batch in _batches(source.export(), BATCH):
        copied += target.import_records(batch)
    target.catch_up_search()
    return CopyReport(source=before, copied=copied, target=target.counts())


def same_location(a: str, b: str) -> bool:
    """True when the store locations ``a`` and ``b`` name the same store: the same file
    (through any path or link) or the same PostgreSQL host, port, database and options."""
    return _identity(a) == _identity(b)


def _identity(location: str) -> tuple[object, ...]:
    if location.startswith(POSTGRES_SCHEMES):
        url = urlsplit(location)
        database = url.path.lstrip("/") or url.username or ""
        host = (url.hostname or "localhost").lower()
        return ("postgresql", host, url.port or 5432, database, tuple(sorted(parse_qsl(url.query))))
    return ("file", os.path.realpath(location))


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch
