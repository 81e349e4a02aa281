"""The publish state of each node (SQLite schema version 10, PostgreSQL version 2): the
stories waiting to be published and the manifest of the files publishing wrote, both per
node (``nodes``), since every node publishes into its own folder; and (schema version 8)
the sources' problems it published, so their ids and ``since`` times outlive the publish
folder (one set for the store: every node publishes the same).

Changes are marked inside the transaction that commits them (ingest, prune), once for each
node the store knows, so a process that dies before it publishes leaves them pending for
the next one, and one node's publish leaves the others' marks alone. Each marking
transaction takes a token of its own (``Db.publish_token``: a sequence on PostgreSQL, so
writers do not queue on one counter row); a publish reads the tokens of the marks it
publishes and clears exactly those, whatever order the marking transactions committed in,
so a story marked again while it was writing keeps its new mark.

A node joins when it first reads its publish state (``join``): it takes over the state a
store upgraded from an older Wiredesk kept for all (node ``''``), or starts with none,
which makes its first publish a full one; a store joins again, to say its node is still
there, once a day at most (``store.REJOIN_AFTER``). A node that has not published for
``FORGET_AFTER`` is forgotten, its marks and manifest deleted; should it come back, it
joins again as a new node.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aggregator.models import PendingStories, Problem, PublishedFile
from aggregator.store.rows import from_micros, maybe_micros, moment_of, to_micros
from aggregator.store.sql import Db

FORGET_AFTER = timedelta(days=7)  # a node that has not published for this long is gone
UNCLAIMED = ""  # the node of the publish state a store upgraded to per-node state kept
_FILE_COLUMNS = "name, sha256, size, mtime_ns, lists, built_for"
_PROBLEM_COLUMNS = "source, kind, detail, since, changed, closed"


def mark(db: Db, ids: Iterable[str], *, by: str) -> None:
    """Record the stored stories ``ids`` as changed since each node last published them,
    inside the caller's transaction (before deleting them, for a prune), and tell the other
    nodes once it commits that node ``by`` changed stories. Raises the driver's error."""
    wanted = list(ids)
    if not wanted:
        return
    token = db.publish_token(by)
    # A row a statement, not INSERT ... SELECT: SQLite keeps a statement journal of each
    # page a statement that writes several rows changes, in case it fails midway.
    marks = db.execute(
        "SELECT n.name, a.id, a.path != '' FROM nodes n CROSS JOIN articles a"
        f" WHERE a.id {db.dialect.among}",
        (db.dialect.listed(wanted),),
    ).fetchall()
    db.executemany(
        "INSERT INTO publish_pending (node, id, token, seed) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (node, id) DO UPDATE SET token = excluded.token, seed = excluded.seed",
        [(node, id_, token, seed) for node, id_, seed in marks],
    )


def join(db: Db, node: str, *, now: datetime) -> None:
    """Make ``node`` one of the nodes marks are written for, seen at ``now``, inside the
    caller's transaction: a node new to the store takes over the unclaimed publish state
    if there is one (the first node after an upgrade), else starts with none. Nodes not
    seen for ``FORGET_AFTER`` are forgotten with their state. Raises the driver's error."""
    seen = to_micros(now)
    if not db.execute("UPDATE nodes SET last_seen = ? WHERE name = ?", (seen, node)).rowcount:
        # No mark may be half written meanwhile: one that read the nodes before this one
        # joined, committed after its first publish read the stories, would be lost to it.
        db.hold_marks()
        adopted = db.execute(
            "UPDATE nodes SET name = ?, last_seen = ? WHERE name = ?", (node, seen, UNCLAIMED)
        ).rowcount
        if adopted:
            for table in ("publish_pending", "published_files"):
                db.execute(f"UPDATE {table} SET node = ? WHERE node = ?", (node, UNCLAIMED))
        else:
            db.execute(
                "INSERT INTO nodes (name, last_seen) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen",
                (node, seen),
            )
    # deleting the node's row first: a node seen again meanwhile keeps it, and its state
    gone = db.execute(
        "DELETE FROM nodes WHERE last_seen < ? AND name != ? RETURNING name",
        (to_micros(now - FORGET_AFTER), UNCLAIMED),
    ).fetchall()
    for table in ("publish_pending", "published_files"):
        db.executemany(f"DELETE FROM {table} WHERE node = ?", gone)


def pending(db: Db, node: str, *, at_most: int | None) -> PendingStories:
    """The stories waiting for ``node`` to publish them (their ids unless there are more
    than ``at_most``), the seed stories among them, and the tokens that clear them."""
    (count,) = db.execute("SELECT count(*) FROM publish_pending WHERE node = ?", (node,)).fetchone()
    ids = None
    if at_most is None or count <= at_most:
        ids = _column(db, "SELECT id FROM publish_pending WHERE node = ?", node)
    seeds = _column(db, "SELECT id FROM publish_pending WHERE node = ? AND seed", node)
    tokens = _column(db, "SELECT DISTINCT token FROM publish_pending WHERE node = ?", node)
    return PendingStories(ids=ids, seeds=seeds, tokens=tokens)


def _column(db: Db, sql: str, node: str) -> frozenset[Any]:
    return frozenset(value for (value,) in db.execute(sql, (node,)))


def manifest(db: Db, node: str) -> dict[str, PublishedFile]:
    """Every file publishing wrote on ``node``, by name."""
    rows = db.execute(
        f"SELECT {_FILE_COLUMNS} FROM published_files WHERE node = ?", (node,)
    ).fetchall()
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
    node: str,
    files: Sequence[PublishedFile],
    removed: Sequence[str],
    tokens: Collection[int],
) -> None:
    """Enter ``files`` in ``node``'s manifest, drop ``removed`` from it and clear its
    pending marks of ``tokens``, inside the caller's transaction. Raises the driver's
    error."""
    db.executemany(
        f"INSERT INTO published_files (node, {_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (node, name) DO UPDATE SET sha256 = excluded.sha256,"
        " size = excluded.size, mtime_ns = excluded.mtime_ns, lists = excluded.lists,"
        " built_for = excluded.built_for",
        [
            (node, f.name, f.sha256, f.size, f.mtime_ns, json.dumps(f.lists), f.built_for)
            for f in files
        ],
    )
    db.executemany(
        "DELETE FROM published_files WHERE node = ? AND name = ?",
        [(node, name) for name in removed],
    )
    if tokens:
        db.execute(
            f"DELETE FROM publish_pending WHERE node = ? AND token {db.dialect.among}",
            (node, db.dialect.listed(sorted(tokens))),
        )


def file_times(db: Db, files: Mapping[str, str], *, now: datetime) -> dict[str, datetime]:
    """When each of ``files`` (name -> sha256) first held those bytes on any node, ``now``
    for a version new to the store (recorded), inside the caller's transaction; versions of
    those names older than ``FORGET_AFTER`` that no node's manifest lists are forgotten.
    Raises the driver's error."""
    if not files:
        return {}
    db.executemany(
        "INSERT INTO file_versions (name, sha256, since) VALUES (?, ?, ?)"
        " ON CONFLICT (name, sha256) DO NOTHING",
        [(name, sha256, to_micros(now)) for name, sha256 in files.items()],
    )
    names = db.dialect.listed(sorted(files))
    rows = db.execute(
        f"SELECT name, sha256, since FROM file_versions WHERE name {db.dialect.among}", (names,)
    ).fetchall()
    db.execute(
        f"DELETE FROM file_versions WHERE name {db.dialect.among} AND since < ?"
        " AND NOT EXISTS (SELECT 1 FROM published_files p"
        " WHERE p.name = file_versions.name AND p.sha256 = file_versions.sha256)",
        (names, to_micros(now - FORGET_AFTER)),
    )
    return {name: moment_of(since) for name, sha256, since in rows if files[name] == sha256}


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
