"""The publish state (SQLite schema version 5): the stories waiting to be published and
the manifest of the files publishing wrote; and (schema version 8) the sources' problems it
published, so their ids and ``since`` times outlive the publish folder.

Changes are marked inside the transaction that commits them (ingest, prune), so a process
that dies before it publishes leaves them pending for the next one. Each marking
transaction takes the next value of the ``publish_seq`` counter in ``meta``; a publish
clears only the rows up to the highest ``seq`` it read, so a story changed again while it
was writing stays pending.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from aggregator.models import PendingStories, Problem, PublishedFile
from aggregator.store.rows import from_micros, maybe_micros, moment_of, to_micros
from aggregator.store.sql import Db

_FILE_COLUMNS = "name, sha256, size, mtime_ns, lists, built_for"
_PROBLEM_COLUMNS = "source, kind, detail, since, changed, closed"


def mark(db: Db, ids: Iterable[str]) -> None:
    """Record the stored stories ``ids`` as changed since they were last published, inside
    the caller's transaction (before deleting them, for a prune). Raises the driver's error."""
    wanted = list(ids)
    if not wanted:
        return
    db.execute("UPDATE meta SET value = value + 1 WHERE name = 'publish_seq'")
    (seq,) = db.execute("SELECT value FROM meta WHERE name = 'publish_seq'").fetchone()
    db.execute(
        "INSERT INTO publish_pending (id, seq, seed)"
        f" SELECT id, ?, path != '' FROM articles WHERE id {db.dialect.among}"
        " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, seed = excluded.seed",
        (seq, db.dialect.listed(wanted)),
    )


def pending(db: Db, *, at_most: int | None) -> PendingStories:
    """The stories waiting to be published (their ids unless there are more than
    ``at_most``), the seed stories among them, and the counter that clears them."""
    count, through = db.execute(
        "SELECT count(*), coalesce(max(seq), 0) FROM publish_pending"
    ).fetchone()
    ids = None
    if at_most is None or count <= at_most:
        ids = frozenset(i for (i,) in db.execute("SELECT id FROM publish_pending"))
    seeds = frozenset(i for (i,) in db.execute("SELECT id FROM publish_pending WHERE seed"))
    return PendingStories(ids=ids, seeds=seeds, through=through)


def manifest(db: Db) -> dict[str, PublishedFile]:
    """Every file publishing wrote, by name."""
    rows = db.execute(f"SELECT {_FILE_COLUMNS} FROM published_files").fetchall()
    return {
        name: PublishedFile(
            name=name,
            sha256=sha256,
            size=size,
            mtime_ns=mtime_ns,
            lists=tuple(json.loads(lists)),
            built_for=built_for,
        )
        for name, sha256, size, mtime_ns, lists, built_for in rows
    }


def record(
    db: Db,
    files: Sequence[PublishedFile],
    removed: Sequence[str],
    through: int,
) -> None:
    """Enter ``files`` in the manifest, drop ``removed`` from it and clear the pending
    stories up to ``through``, inside the caller's transaction. Raises the driver's error."""
    db.executemany(
        f"INSERT INTO published_files ({_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size,"
        " mtime_ns = excluded.mtime_ns, lists = excluded.lists, built_for = excluded.built_for",
        [(f.name, f.sha256, f.size, f.mtime_ns, json.dumps(f.lists), f.built_for) for f in files],
    )
    db.executemany("DELETE FROM published_files WHERE name = ?", [(name,) for name in removed])
    db.execute("DELETE FROM publish_pending WHERE seq <= ?", (through,))


def problems(db: Db) -> list[Problem]:
    """The sources' problems the last publish recorded."""
    rows = db.execute(f"SELECT {_PROBLEM_COLUMNS} FROM source_problems ORDER BY rowid")
    return [
        Problem(
            source=source,
            kind=kind,
            detail=detail,
            since=moment_of(since),
            changed=moment_of(changed),
            closed=from_micros(closed),
        )
        for source, kind, detail, since, changed, closed in rows
    ]


def replace_problems(db: Db, found: Sequence[Problem]) -> None:
    """Make ``found`` the recorded problems, inside the caller's transaction."""
    db.execute("DELETE FROM source_problems")
    db.executemany(
        f"INSERT INTO source_problems ({_PROBLEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                p.source,
                p.kind,
                p.detail,
                to_micros(p.since),
                to_micros(p.changed),
                maybe_micros(p.closed),
            )
            for p in found
        ],
    )
