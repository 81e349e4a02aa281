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
Version 5 adds the publish state: ``publish_pending``, the stories changed or deleted since
they were last published (written in the transaction that changes them, cleared when a
publish is done, so a pass that dies between the two is caught up by the next one), and
``published_files``, the manifest of every file publishing wrote (name, sha256, stat, the
story ids it lists, the config it was built for). Every seed story starts out pending, so
the first publish after the upgrade enters each permalink page in the manifest.
Version 6 (the generic-headline rule, issue 21) records on each carrier why it joined its
story (``reason``, ``score``) and, once a story has several carriers, the carrier's own
``item`` (its row as JSON, for ``split``); adds ``headline_uses`` (which source used which
dedup key on which day: the series history) and ``fold_vetoes`` (a source split out of a
story never folds into it again); re-keys stories and tombstones by ``dedup.dedup_key``
(diacritics folded, placeholders empty) and marks the headline word index for a rebuild.
Stories folded before stay as they are.
Version 7 flags the pending stories that are seed stories, so a publish with a backlog of
a million pending stories reads only those (whose pages it writes) instead of every one.
Version 8 adds ``source_problems``: the open and closed problems of the sources the last
publish put in ``sources.atom`` (kept in the store, not in the publish folder, so their ids
and ``since`` times survive a wiped folder or a move to another machine).
Version 9 adds leases (several processes collecting from one store): each source's
``node``, the node that last collected it, and ``leases``, a row per source ever leased:
its holder (``node``, ``pid``) and when the lease lapses (``expires``), all NULL once it
is released.
Version 10 gives every node its own publish state (several nodes publishing from one
store, each into its own folder): ``nodes``, the nodes marks are written for and when
each last published; ``publish_pending`` and ``published_files`` keyed by node first, and
each pending mark with the ``token`` of the transaction that made it (``sql.published``).
The state kept until then goes to the unclaimed node ``''``, which the first node to
publish takes over.
Version 11 adds ``file_versions``: when each version (sha256) of each published file first
appeared on any node, which every node gives its copy as mtime, so that Last-Modified is
the same whichever node serves it (``publish.files``).
Version 12 takes the full-text index off the write path: a changed story's search text
goes into ``articles_fts_queue`` (a plain table: a cheap insert in the story's own
transaction), and a deleted story's row key with no text; the store moves the queue into
``articles_fts`` in large batches before anything reads it (``Store.catch_up_search``).
Version 13 moves each source's ``item_keys`` out of ``sources`` into ``source_items``,
written only when they change (``sql.states``): every saved state rewrote its row, and
with it some 1.6 KB of keys a 304 cannot have changed.

Times are integers: microseconds since the Unix epoch (UTC); days are UTC day ordinals.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aggregator import dedup
from aggregator.store.keys import labels
from aggregator.store.sql import words
from aggregator.store.sqlite.connection import INDEX_TEXT, Connection
from aggregator.text import plain_text

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


V5 = (
    # seq: the change counter when the story was last changed; a publish clears only the
    # rows up to the counter it read, never a change committed while it was writing
    "CREATE TABLE publish_pending (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TABLE published_files (
        name TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        lists TEXT NOT NULL,
        built_for TEXT NOT NULL
    )""",
    "INSERT INTO meta (name, value) VALUES ('publish_seq', 1)",
    "INSERT INTO publish_pending (id, seq) SELECT id, 1 FROM articles WHERE path != ''",
)

V6 = (
    "ALTER TABLE carriers ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE carriers ADD COLUMN score REAL",
    "ALTER TABLE carriers ADD COLUMN item TEXT",
    "CREATE INDEX carriers_guid ON carriers (guid)",
    """CREATE TABLE headline_uses (
        dedup_key TEXT NOT NULL,
        source TEXT NOT NULL,
        day INTEGER NOT NULL,
        PRIMARY KEY (dedup_key, source, day)
    ) WITHOUT ROWID""",
    """CREATE TABLE fold_vetoes (
        article_pk INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        source TEXT NOT NULL,
        PRIMARY KEY (article_pk, source)
    ) WITHOUT ROWID""",
    "UPDATE meta SET value = 0 WHERE name = 'headline_words'",
)

V7 = (
    "ALTER TABLE publish_pending ADD COLUMN seed INTEGER NOT NULL DEFAULT 0",
    "UPDATE publish_pending SET seed = 1 WHERE id IN (SELECT id FROM articles WHERE path != '')",
    # the pending seed stories are read on their own: their pages are written one by one
    "CREATE INDEX publish_pending_seeds ON publish_pending (id) WHERE seed",
)

V8 = (
    """CREATE TABLE source_problems (
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        since INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        closed INTEGER
    )""",
)

V9 = (
    "ALTER TABLE sources ADD COLUMN node TEXT NOT NULL DEFAULT ''",
    """CREATE TABLE leases (
        source TEXT PRIMARY KEY,
        node TEXT,
        pid INTEGER,
        expires INTEGER
    )""",
)

V10 = (
    "CREATE TABLE nodes (name TEXT PRIMARY KEY, last_seen INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO nodes (name, last_seen) VALUES ('', 0)",
    """CREATE TABLE node_pending (
        node TEXT NOT NULL,
        id TEXT NOT NULL,
        token INTEGER NOT NULL,
        seed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (node, id)
    ) WITHOUT ROWID""",
    "INSERT INTO node_pending SELECT '', id, seq, seed FROM publish_pending",
    "DROP TABLE publish_pending",
    "ALTER TABLE node_pending RENAME TO publish_pending",
    "CREATE INDEX publish_pending_seeds ON publish_pending (node, id) WHERE seed",
    """CREATE TABLE node_files (
        node TEXT NOT NULL,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        lists TEXT NOT NULL,
        built_for TEXT NOT NULL,
        PRIMARY KEY (node, name)
    )""",
    "INSERT INTO node_files SELECT '', * FROM published_files",
    "DROP TABLE published_files",
    "ALTER TABLE node_files RENAME TO published_files",
)

V11 = (
    """CREATE TABLE file_versions (
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (name, sha256)
    ) WITHOUT ROWID""",
)

V12 = (
    # a row per story whose index entry is behind: the text it is to have (NULL: none);
    # the catch-up drops whatever the index holds for the row key and writes that text
    """CREATE TABLE articles_fts_queue (
        pk INTEGER PRIMARY KEY,
        title TEXT,
        summary TEXT,
        content TEXT
    )""",
    "DROP TRIGGER articles_fts_delete",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT OR REPLACE INTO articles_fts_queue (pk) VALUES (old.pk);
    END""",
)

V13 = (
    "CREATE TABLE source_items (name TEXT PRIMARY KEY, item_keys TEXT NOT NULL)",
    "INSERT INTO source_items (name, item_keys) SELECT name, item_keys FROM sources",
    "ALTER TABLE sources DROP COLUMN item_keys",
)


def _plain(statements: tuple[str, ...]) -> Callable[[Connection], None]:
    """The migration that runs ``statements`` and nothing else."""

    def run(conn: Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return run


def _create_v2(conn: Connection) -> None:
    for statement in V2:
        conn.execute(statement)
    conn.executemany(
        INDEX_TEXT,
        (
            (pk, title, plain_text(summary), plain_text(content))
            for pk, title, summary, content in conn.execute(
                "SELECT pk, title, summary, content FROM articles"
            )
        ),
    )
    words.fill(conn)


def _create_v3(conn: Connection) -> None:
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


def _create_v6(conn: Connection) -> None:
    _plain(V6)(conn)
    conn.executemany(
        "UPDATE articles SET dedup_key = ? WHERE pk = ?",
        (
            (key, pk)
            for pk, title, old in conn.execute("SELECT pk, title, dedup_key FROM articles")
            if (key := dedup.dedup_key(title)) != old
        ),
    )
    tombstones = conn.execute("SELECT dedup_key, day, first_seen FROM tombstones").fetchall()
    conn.execute("DELETE FROM tombstones")
    conn.executemany(
        "INSERT INTO tombstones (dedup_key, day, first_seen) VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET first_seen = max(first_seen, excluded.first_seen)",
        ((k, day, seen) for old, day, seen in tombstones if (k := dedup.dedup_key(old))),
    )
    conn.execute(
        "INSERT OR IGNORE INTO headline_uses (dedup_key, source, day)"
        " SELECT a.dedup_key, c.source, a.day FROM carriers c JOIN articles a"
        " ON a.pk = c.article_pk WHERE a.dedup_key != ''"
    )


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _plain(V1),
    _create_v2,
    _create_v3,
    _plain(V4),
    _plain(V5),
    _create_v6,
    _plain(V7),
    _plain(V8),
    _plain(V9),
    _plain(V10),
    _plain(V11),
    _plain(V12),
    _plain(V13),
)
VERSION = len(MIGRATIONS)


def migrate(conn: Connection, *, target: int = VERSION) -> int:
    """Bring the database on ``conn`` (in autocommit mode) from its ``user_version`` up to
    ``target``, each step in its own transaction; returns the version it started at.

    Raises ValueError when the database is newer than this code knows.
    Raises the driver's error when a step fails (that step is rolled back).
    """
    start: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > VERSION:
        raise ValueError(f"schema version {start} is newer than this Wiredesk ({VERSION})")
    for version in range(start, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            if conn.in_transaction:  # a batched INSERT's OR ROLLBACK may have ended it
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return start
