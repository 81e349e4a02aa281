"""The PostgreSQL schema: one forward migration per version, recorded in ``schema_version``.

Version 1 is SQLite's version 9 (``store/sqlite/schema.py`` tells what each table is for),
with what PostgreSQL does its own way: story row keys come from the ``story_pks``
sequence, so that two nodes creating stories at once never pick the same one; the search
index is a ``tsvector`` per story (``postgres/search.py``); ``dedup_claims`` holds the
dedup identities a pass claims (``PgDb.claim``); text keys compare byte by byte
(``COLLATE "C"``, as in SQLite), whatever the database's locale. Later versions are added
here and to SQLite's migrations side by side: version 2 is SQLite's version 10 (a publish
state per node), with a ``publish_tokens`` sequence for the marks' tokens in place of the
``publish_seq`` counter row every marking transaction updated; version 3 is SQLite's
version 11 (``file_versions``). Version 4 has no SQLite counterpart: the large text
columns are compressed with lz4 instead of pglz, where the server was built with it (pglz
was the largest part of a backend's CPU in an ingest). Version 5 is SQLite's version 13
(``source_items``).

Times are integers: microseconds since the Unix epoch (UTC); days are UTC day ordinals.
"""

from __future__ import annotations

from typing import Any

import psycopg

# pg_advisory_xact_lock key: one node migrates at a time, the others wait and find it done
_MIGRATING = 0x77697265_6D696772

V1 = (
    """CREATE TABLE sources (
        name text COLLATE "C" PRIMARY KEY,
        url text NOT NULL DEFAULT '',
        etag text NOT NULL DEFAULT '',
        last_modified text NOT NULL DEFAULT '',
        content_hash text NOT NULL DEFAULT '',
        last_fetch bigint,
        last_status integer,
        error_streak integer NOT NULL DEFAULT 0,
        last_error text NOT NULL DEFAULT '',
        next_due bigint,
        disabled integer NOT NULL DEFAULT 0,
        file_stamps text NOT NULL DEFAULT '{}',
        origin_url text NOT NULL DEFAULT '',
        item_keys text NOT NULL DEFAULT '',
        node text NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE leases (
        source text COLLATE "C" PRIMARY KEY,
        node text,
        pid integer,
        expires bigint
    )""",
    "CREATE SEQUENCE story_pks",
    """CREATE TABLE articles (
        pk bigint PRIMARY KEY,
        id text COLLATE "C" NOT NULL UNIQUE,
        guid text NOT NULL,
        source text COLLATE "C" NOT NULL,
        title text NOT NULL,
        dedup_key text COLLATE "C" NOT NULL,
        day integer NOT NULL,
        published bigint NOT NULL,
        updated bigint,
        first_seen bigint NOT NULL,
        link text NOT NULL,
        summary text NOT NULL,
        content text NOT NULL,
        author text NOT NULL,
        section text NOT NULL,
        tags text NOT NULL,
        related text NOT NULL,
        enclosures text NOT NULL,
        path text NOT NULL
    )""",
    "CREATE INDEX articles_published ON articles (published, pk)",
    "CREATE INDEX articles_seed_published ON articles (published, pk) WHERE path <> ''",
    "CREATE INDEX articles_key ON articles (dedup_key, day)",
    "CREATE INDEX articles_first_seen ON articles (first_seen)",
    """CREATE TABLE carriers (
        pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        article_pk bigint NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        source text COLLATE "C" NOT NULL,
        guid text COLLATE "C" NOT NULL,
        link text NOT NULL,
        seed boolean NOT NULL,
        published bigint NOT NULL,
        reason text NOT NULL DEFAULT '',
        score double precision,
        item text,
        UNIQUE (source, guid)
    )""",
    "CREATE INDEX carriers_article ON carriers (article_pk)",
    "CREATE INDEX carriers_source ON carriers (source, published, article_pk)",
    "CREATE INDEX carriers_guid ON carriers (guid)",
    """CREATE TABLE labels (
        label text COLLATE "C" NOT NULL,
        published bigint NOT NULL,
        article_pk bigint NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        PRIMARY KEY (label, published, article_pk)
    )""",
    "CREATE INDEX labels_article ON labels (article_pk)",
    """CREATE TABLE articles_fts (
        article_pk bigint PRIMARY KEY REFERENCES articles (pk) ON DELETE CASCADE,
        doc tsvector NOT NULL
    )""",
    "CREATE INDEX articles_fts_doc ON articles_fts USING gin (doc)",
    """CREATE TABLE headline_words (
        word text COLLATE "C" NOT NULL,
        day integer NOT NULL,
        article_pk bigint NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        PRIMARY KEY (word, day, article_pk)
    )""",
    "CREATE INDEX headline_words_article ON headline_words (article_pk)",
    """CREATE TABLE tombstones (
        dedup_key text COLLATE "C" NOT NULL,
        day integer NOT NULL,
        first_seen bigint NOT NULL,
        PRIMARY KEY (dedup_key, day)
    )""",
    "CREATE INDEX tombstones_first_seen ON tombstones (first_seen)",
    "CREATE TABLE meta (name text PRIMARY KEY, value bigint NOT NULL)",
    "INSERT INTO meta (name, value) VALUES ('headline_words', 1), ('publish_seq', 1)",
    # the copies follow the story's date wherever it is changed
    """CREATE FUNCTION articles_published_copies() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE carriers SET published = new.published WHERE article_pk = new.pk;
        UPDATE labels SET published = new.published WHERE article_pk = new.pk;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER articles_published_copies AFTER UPDATE OF published ON articles
    FOR EACH ROW WHEN (new.published <> old.published)
    EXECUTE FUNCTION articles_published_copies()""",
    """CREATE TABLE publish_pending (
        id text COLLATE "C" PRIMARY KEY,
        seq bigint NOT NULL,
        seed boolean NOT NULL DEFAULT false
    )""",
    "CREATE INDEX publish_pending_seeds ON publish_pending (id) WHERE seed",
    """CREATE TABLE published_files (
        name text COLLATE "C" PRIMARY KEY,
        sha256 text NOT NULL,
        size bigint NOT NULL,
        mtime_ns bigint NOT NULL,
        lists text NOT NULL,
        built_for text NOT NULL
    )""",
    """CREATE TABLE headline_uses (
        dedup_key text COLLATE "C" NOT NULL,
        source text COLLATE "C" NOT NULL,
        day integer NOT NULL,
        PRIMARY KEY (dedup_key, source, day)
    )""",
    """CREATE TABLE fold_vetoes (
        article_pk bigint NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        source text COLLATE "C" NOT NULL,
        PRIMARY KEY (article_pk, source)
    )""",
    # rowid: the order they were recorded in, as SQLite's own rowid gives it
    """CREATE TABLE source_problems (
        rowid bigint GENERATED ALWAYS AS IDENTITY,
        source text NOT NULL,
        kind text NOT NULL,
        detail text NOT NULL,
        since bigint NOT NULL,
        changed bigint NOT NULL,
        closed bigint
    )""",
    """CREATE TABLE dedup_claims (
        identity text COLLATE "C" PRIMARY KEY,
        claimed timestamptz NOT NULL
    )""",
)

V2 = (
    'CREATE TABLE nodes (name text COLLATE "C" PRIMARY KEY, last_seen bigint NOT NULL)',
    "INSERT INTO nodes (name, last_seen) VALUES ('', 0)",
    "ALTER TABLE publish_pending ADD COLUMN node text COLLATE \"C\" NOT NULL DEFAULT ''",
    "ALTER TABLE publish_pending ALTER COLUMN node DROP DEFAULT",
    "ALTER TABLE publish_pending RENAME COLUMN seq TO token",
    "ALTER TABLE publish_pending DROP CONSTRAINT publish_pending_pkey",
    "ALTER TABLE publish_pending ADD PRIMARY KEY (node, id)",
    "DROP INDEX publish_pending_seeds",
    "CREATE INDEX publish_pending_seeds ON publish_pending (node, id) WHERE seed",
    "ALTER TABLE published_files ADD COLUMN node text COLLATE \"C\" NOT NULL DEFAULT ''",
    "ALTER TABLE published_files ALTER COLUMN node DROP DEFAULT",
    "ALTER TABLE published_files DROP CONSTRAINT published_files_pkey",
    "ALTER TABLE published_files ADD PRIMARY KEY (node, name)",
    "CREATE SEQUENCE publish_tokens",
    "SELECT setval('publish_tokens', value) FROM meta WHERE name = 'publish_seq'",
    "DELETE FROM meta WHERE name = 'publish_seq'",
)

V3 = (
    """CREATE TABLE file_versions (
        name text COLLATE "C" NOT NULL,
        sha256 text COLLATE "C" NOT NULL,
        since bigint NOT NULL,
        PRIMARY KEY (name, sha256)
    )""",
)

# SET COMPRESSION is PostgreSQL 14's: written out plainly, PL/pgSQL would reject it as a
# syntax error when compiling the block on an older server, before any handler could
# catch it. So the block asks whether the server offers lz4 (a server built without it,
# or older than 14, lists no lz4 among default_toast_compression's values; such a store
# keeps pglz) and only then runs the statements, as dynamic SQL.
V4 = (
    """DO $$ BEGIN
        IF EXISTS (SELECT FROM pg_settings
                   WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
            EXECUTE 'ALTER TABLE articles ALTER COLUMN summary SET COMPRESSION lz4, '
                'ALTER COLUMN content SET COMPRESSION lz4';
            EXECUTE 'ALTER TABLE articles_fts ALTER COLUMN doc SET COMPRESSION lz4';
            EXECUTE 'ALTER TABLE carriers ALTER COLUMN item SET COMPRESSION lz4';
        END IF;
    END $$""",
)

V5 = (
    """CREATE TABLE source_items (
        name text COLLATE "C" PRIMARY KEY,
        item_keys text NOT NULL
    )""",
    "INSERT INTO source_items (name, item_keys) SELECT name, item_keys FROM sources",
    "ALTER TABLE sources DROP COLUMN item_keys",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (V1, V2, V3, V4, V5)
VERSION = len(MIGRATIONS)


def migrate(conn: psycopg.Connection[Any], *, target: int = VERSION) -> int:
    """Bring the schema on ``conn`` (in autocommit mode) from its ``schema_version`` up to
    ``target``, each step in its own transaction; returns the version it started at.

    Raises ValueError when the schema is newer than this code knows.
    Raises psycopg.Error when a step fails (that step is rolled back).
    """
    with conn.transaction():
        start = _version(conn)
    if start > VERSION:
        raise ValueError(f"schema version {start} is newer than this Wiredesk ({VERSION})")
    for version in range(start, target):
        with conn.transaction():
            if _version(conn) != version:
                continue  # another node took this step while this one waited for the lock
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = %s", (version + 1,))
    return start


def _version(conn: psycopg.Connection[Any]) -> int:
    """The schema's version, read under the migration lock (0 for an empty schema)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATING,))
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    if row is None:
        conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        return 0
    version: int = row[0]
    return version
