"""The SQLite schema: one forward migration per version, recorded in ``PRAGMA user_version``.

Version 1 holds sources (fetch state), articles (one row per story), carriers (which
source and guid carried each story, with its link) and labels (section and tags,
case-folded, for ``--category``). Version 2 adds full-text search (FTS5), the headline
word index for near-duplicate matching, and tombstones: dedup keys of pruned stories.
Version 3 copies each story's ``published`` into its labels and carriers, indexed after the
label or source, so the newest stories of a section or source are read in index order
instead of being collected and sorted; keys labels by ``dedup.fold_case``; and adds
``meta``, whose ``headline_words`` flag says whether that index is complete (it is kept
only while near-duplicate matching is on, and rebuilt when it is turned on again).
Version 4 adds each source's ``item_keys``: the keys of the entries of its last parsed
body, so a changed body parses only its new and edited entries.

Times are integers: microseconds since the Unix epoch (UTC); days are UTC day ordinals.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from aggregator.store import words
from aggregator.store.rows import labels
from aggregator.store.text import plain_text

V1 = (
    """CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL DEFAULT '',
        etag TEXT NOT NULL DEFAULT '',
        last_modified TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        last_fetch INTEGER,
        last_status INTEGER,
        error_streak INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        next_due INTEGER,
        disabled INTEGER NOT NULL DEFAULT 0,
        file_stamps TEXT NOT NULL DEFAULT '{}',
        origin_url TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE articles (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        guid TEXT NOT NULL,
        source TEXT NOT NULL,
        title TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        day INTEGER NOT NULL,
        published INTEGER NOT NULL,
        updated INTEGER,
        first_seen INTEGER NOT NULL,
        link TEXT NOT NULL,
        summary TEXT NOT NULL,
        content TEXT NOT NULL,
        author TEXT NOT NULL,
        section TEXT NOT NULL,
        tags TEXT NOT NULL,
        related TEXT NOT NULL,
        enclosures TEXT NOT NULL,
        path TEXT NOT NULL
    )""",
    "CREATE INDEX articles_published ON articles (published)",
    "CREATE INDEX articles_seed_published ON articles (published) WHERE path != ''",
    "CREATE INDEX articles_key ON articles (dedup_key, day)",
    "CREATE INDEX articles_first_seen ON articles (first_seen)",
    """CREATE TABLE carriers (
        pk INTEGER PRIMARY KEY,
        article_pk INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        source TEXT NOT NULL,
        guid TEXT NOT NULL,
        link TEXT NOT NULL,
        seed INTEGER NOT NULL,
        UNIQUE (source, guid)
    )""",
    "CREATE INDEX carriers_article ON carriers (article_pk)",
    "CREATE INDEX carriers_source ON carriers (source, article_pk)",
    """CREATE TABLE labels (
        label TEXT NOT NULL,
        article_pk INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        PRIMARY KEY (label, article_pk)
    ) WITHOUT ROWID""",
    "CREATE INDEX labels_article ON labels (article_pk)",
)

V2 = (
    """CREATE VIRTUAL TABLE articles_fts USING fts5 (
        title, summary, content, tokenize = 'unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.pk;
    END""",
    """CREATE TABLE headline_words (
        word TEXT NOT NULL,
        day INTEGER NOT NULL,
        article_pk INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        PRIMARY KEY (word, day, article_pk)
    ) WITHOUT ROWID""",
    "CREATE INDEX headline_words_article ON headline_words (article_pk)",
    """CREATE TABLE tombstones (
        dedup_key TEXT NOT NULL,
        day INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        PRIMARY KEY (dedup_key, day)
    ) WITHOUT ROWID""",
    "CREATE INDEX tombstones_first_seen ON tombstones (first_seen)",
)


V3 = (
    "ALTER TABLE labels RENAME TO labels_v2",
    "DROP INDEX labels_article",
    """CREATE TABLE labels (
        label TEXT NOT NULL,
        published INTEGER NOT NULL,
        article_pk INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        PRIMARY KEY (label, published, article_pk)
    ) WITHOUT ROWID""",
    "CREATE INDEX labels_article ON labels (article_pk)",
    "DROP TABLE labels_v2",
    "ALTER TABLE carriers ADD COLUMN published INTEGER NOT NULL DEFAULT 0",
    "UPDATE carriers SET published = (SELECT published FROM articles WHERE pk = article_pk)",
    "DROP INDEX carriers_source",
    "CREATE INDEX carriers_source ON carriers (source, published, article_pk)",
    # whether headline_words is complete; passes without near-duplicate matching skip it
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO meta (name, value) VALUES ('headline_words', 1)",
    # the copies follow the story's date wherever it is changed
    """CREATE TRIGGER articles_published_copies AFTER UPDATE OF published ON articles
    WHEN new.published != old.published BEGIN
        UPDATE carriers SET published = new.published WHERE article_pk = new.pk;
        UPDATE labels SET published = new.published WHERE article_pk = new.pk;
    END""",
)

V4 = (
    # what the entries of a source's last body were, so unchanged ones are not parsed again
    "ALTER TABLE sources ADD COLUMN item_keys TEXT NOT NULL DEFAULT ''",
)


def _create_v1(conn: sqlite3.Connection) -> None:
    for statement in V1:
        conn.execute(statement)


def _create_v2(conn: sqlite3.Connection) -> None:
    for statement in V2:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO articles_fts (rowid, title, summary, content) VALUES (?, ?, ?, ?)",
        (
            (pk, title, plain_text(summary), plain_text(content))
            for pk, title, summary, content in conn.execute(
                "SELECT pk, title, summary, content FROM articles"
            )
        ),
    )
    words.fill(conn)


def _create_v3(conn: sqlite3.Connection) -> None:
    for statement in V3:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO labels (label, published, article_pk) VALUES (?, ?, ?)",
        (
            (label, published, pk)
            for pk, published, section, tags in conn.execute(
                "SELECT pk, published, section, tags FROM articles"
            )
            for label in labels(section, json.loads(tags))
        ),
    )


def _create_v4(conn: sqlite3.Connection) -> None:
    for statement in V4:
        conn.execute(statement)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _create_v1,
    _create_v2,
    _create_v3,
    _create_v4,
)
VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, *, target: int = VERSION) -> int:
    """Bring the database on ``conn`` (in autocommit mode) from its ``user_version`` up to
    ``target``, each step in its own transaction; returns the version it started at.

    Raises ValueError when the database is newer than this code knows.
    Raises sqlite3.Error when a step fails (that step is rolled back).
    """
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > VERSION:
        raise ValueError(f"schema version {start} is newer than this Wiredesk ({VERSION})")
    for version in range(start, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return start
