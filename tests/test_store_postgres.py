"""What only the PostgreSQL store does: its schema migrations and lz4 compression, a
database or schema it cannot reach, a writer killed mid-transaction, row locks that let two
nodes lease at once and the advisory lock that lets one prune; against the machine's real
PostgreSQL, each test in a schema of its own (conftest.py's ``pg_schema``)."""

from __future__ import annotations

import queue
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aggregator.cli import main
from aggregator.errors import StoreError
from aggregator.models import Holder, PublishedFile
from aggregator.store import open_store
from aggregator.store.postgres import PostgresStore
from aggregator.store.postgres.connection import PgDb
from aggregator.store.postgres.schema import VERSION, migrate
from aggregator.store.sql import leasing, published
from tests.builders import article
from tests.faults.harness import wait_for
from tests.stores import PG_SERVER, everything, kill_mid_pass, pg_url, schema_of, state

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_new_schema_is_migrated_to_the_current_version_once(
    pg_schema: Callable[[], str], pg_admin: psycopg.Connection[Any]
) -> None:
    location = pg_schema()
    for _ in range(2):
        opened = open_store(location)
        assert isinstance(opened, PostgresStore)
        opened.close()
    schema = schema_of(location)
    rows = pg_admin.execute(f"SELECT version FROM {schema}.schema_version").fetchall()
    assert rows == [(VERSION,)]


def test_the_large_text_columns_are_compressed_with_lz4(
    pg_schema: Callable[[], str], pg_admin: psycopg.Connection[Any]
) -> None:
    location = pg_schema()
    open_store(location).close()
    rows = pg_admin.execute(
        "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute"
        " WHERE attrelid = ANY(%s::regclass[]) AND attcompression <> ''",
        ([f"{schema_of(location)}.{table}" for table in ("articles", "articles_fts", "carriers")],),
    ).fetchall()
    # the server these tests run on is built with lz4, as Debian's and the project's are
    assert sorted((table.split(".")[-1], column, how) for table, column, how in rows) == [
        ("articles", "content", "l"),
        ("articles", "summary", "l"),
        ("articles_fts", "doc", "l"),
        ("carriers", "item", "l"),
    ]


def test_a_version_4_schema_keeps_its_sources_entry_keys(pg_schema: Callable[[], str]) -> None:
    location = pg_schema()
    with psycopg.connect(location, autocommit=True) as conn:
        migrate(conn, target=4)
        conn.execute("INSERT INTO sources (name, item_keys) VALUES ('aa', 'a1 0f'), ('bb', '')")
    migrated = open_store(location)
    kept = migrated.source_states()
    assert (kept["aa"].item_keys, kept["bb"].item_keys) == (frozenset({"0f", "a1"}), frozenset())
    migrated.close()


def test_a_schema_from_a_newer_wiredesk_is_refused(
    pg_schema: Callable[[], str], pg_admin: psycopg.Connection[Any]
) -> None:
    location = pg_schema()
    open_store(location).close()
    pg_admin.execute(f"UPDATE {schema_of(location)}.schema_version SET version = 99")
    with pytest.raises(StoreError, match=r"^store postgresql://.*: cannot open .*newer"):
        open_store(location)


def test_postgres_urls_open_the_same_store(pg_schema: Callable[[], str]) -> None:
    location = pg_schema()
    first = open_store(location)
    first.ingest("aa", [article("aa", 1, "Ferry timetable")], state("aa"))
    first.close()
    second = open_store(location.replace("postgresql://", "postgres://"))
    assert [a.id for a in everything(second)] == ["aa-1"]
    second.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_database_is_one_line_naming_the_host_and_never_the_password() -> None:
    port = closed_port()
    with pytest.raises(StoreError) as raised:
        open_store(f"postgresql://postgres:s3cret@127.0.0.1:{port}/x")
    assert str(raised.value) == (
        f"store postgresql://postgres@127.0.0.1:{port}/x: cannot connect: connection refused"
    )


def test_a_missing_database_or_schema_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r'^store .*/nowhere: cannot connect: database "nowhere"'):
        open_store(PG_SERVER.rsplit("/", 1)[0] + "/nowhere")
    with pytest.raises(StoreError, match=r"^store .*: none of the schemas .* exists"):
        open_store(pg_url("no_such_schema"))


def test_the_cli_says_an_unreachable_store_in_one_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    config = tmp_path / "feeds.yaml"
    config.write_text(f"store: postgresql://postgres:s3cret@127.0.0.1:{port}/x\nsources: []\n")
    assert main(["articles", "--config", str(config)]) == 1
    assert capsys.readouterr().err == (
        f"error: store postgresql://postgres@127.0.0.1:{port}/x: cannot connect:"
        " connection refused\n"
    )


def test_a_writer_killed_mid_transaction_leaves_a_clean_store(
    tmp_path: Path, pg_schema: Callable[[], str], pg_admin: psycopg.Connection[Any]
) -> None:
    location = pg_schema()
    kill_mid_pass(location, tmp_path, stalled=2000)

    reopened = open_store(location)
    assert len(everything(reopened)) == 300
    assert reopened.ingest("aa", [article("aa", "late", "After the crash")], state("aa")).new
    assert [a.id for a in everything(reopened, search="crash")] == ["aa-late"]
    reopened.close()
    schema = schema_of(location)
    counts = pg_admin.execute(
        f"SELECT (SELECT count(*) FROM {schema}.articles_fts),"
        f" (SELECT count(*) FROM {schema}.carriers)"
    ).fetchone()
    assert counts == (301, 301)


TEXTS = [
    ("Café reopens in İzmir", "<p>The caf&eacute;&#8217;s owner said: “we’re back”.</p>"),
    ("Straße closed", "Die Straße (Hauptstraße) bleibt zu; STRASSE ist nicht gleich."),
    ("COVID-19 cases fall 3.5%", "snake_case and e-mail and state-of-the-art and 2026-03-02"),
    ("Türkiye–Ukraine talks", "Çanakkale, Şanlıurfa and Darıca: ﬁnance ⅓ ² x²"),
    ("東京 で 会議", "Москва и Київ; ελληνικά; naïve coöperation façade"),
    ("Ferry timetable", "<b>Ferry</b> <i>time</i>table: ferries every 15 minutes"),
    ("Ørsted on Ærø", "œuvre, Łódź, Ångström, ǅemal, Đakovo, Ŧ, ŉ, ĳssel, ﬀ"),
]
QUERIES = [
    "cafe",
    "café",
    "CAFÉ",
    "izmir",
    "izm*",
    "i*",
    "strasse",
    "straße",
    "strass*",
    "covid",
    "covid-19",
    "19",
    "3.5",
    "3",
    "snake_case",
    "snake",
    "e-mail",
    "mail",
    '"state of the art"',
    '"of the"',
    "state-of-the-art",
    "2026-03-02",
    "turkiye",
    "türkiye ukraine",
    '"türkiye ukraine"',
    "canakkale",
    "sanlıurfa",
    "darica",
    "darıca",
    "finance",
    "ﬁnance",
    "x2",
    "x²",
    "東京",
    "会議",
    "москва",
    "київ",
    "киев",
    "ελληνικα",
    "naive",
    "cooperation",
    "facade",
    '"ferry time"',
    '"time table"',
    "timetable",
    '"ferry timetable"',
    "ferr* time*",
    '"unbalanced',
    "we’re",
    "we",
    "re",
    "owner said",
    '"said we"',
    "_",
    "-",
    '""',
    "***",
    "fer*ry",
    "15",
    "minutes every",
]


def test_a_search_on_postgresql_looks_for_no_queue_to_catch_up(
    pg_schema: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    looked: list[PgDb] = []
    text_queued = PgDb.text_queued

    def counted(db: PgDb) -> bool:
        looked.append(db)
        return text_queued(db)

    monkeypatch.setattr(PgDb, "text_queued", counted)
    store = open_store(pg_schema())
    store.ingest("aa", [article("aa", 1, "Ferry timetable changes")], state("aa"))
    assert [a.id for a in everything(store, search="ferry")] == ["aa-1"]
    assert store.catch_up_search() == 0
    assert looked == [], "each story's vector is written with it"
    store.close()


def test_search_finds_on_postgresql_what_sqlite_finds(
    tmp_path: Path, pg_schema: Callable[[], str]
) -> None:
    stores = [open_store(str(tmp_path / "search.db")), open_store(pg_schema())]
    found = []
    for opened in stores:
        opened.ingest(
            "aa",
            [article("aa", n, title, summary=body) for n, (title, body) in enumerate(TEXTS)],
            state("aa"),
        )
        found.append({q: [a.id for a in everything(opened, search=q)] for q in QUERIES})
        opened.close()
    assert sum(1 for ids in found[0].values() if ids) > 30  # most queries find something
    assert found[1] == found[0]


def test_connections_the_server_drops_are_replaced_before_they_are_used(
    pg_schema: Callable[[], str], pg_admin: psycopg.Connection[Any]
) -> None:
    location = pg_schema()
    name = schema_of(location)  # its connections alone are cut: other tests share the server
    opened = open_store(f"{location}&application_name={name}")
    opened.ingest("aa", [article("aa", 1, "Ferry timetable")], state("aa"))
    pg_admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (name,),
    )
    assert opened.story_count() == 1
    assert opened.ingest("aa", [article("aa", 2, "Wheat harvest")], state("aa")).new
    opened.close()


def test_a_node_leasing_at_the_same_moment_takes_the_next_due_sources(
    pg_schema: Callable[[], str],
) -> None:
    location = pg_schema()
    store = open_store(location)
    names = [f"feed-{n}" for n in range(6)]
    for n, name in enumerate(names):
        store.save_source_state(state(name, next_due=NOW + timedelta(seconds=n)))
    seen = {name: NOW + timedelta(seconds=n) for n, name in enumerate(names)}
    later = NOW + timedelta(minutes=1)
    first, second = Holder(node="web1", pid=1), Holder(node="web2", pid=2)
    store.lease_due(first, seen, now=later, until=later, limit=6)  # leased once before
    store.release(first, names)
    with psycopg.connect(location) as conn, conn.transaction():
        # the first node's lease, not committed yet: its rows are locked
        taken = leasing.lease_due(PgDb(conn), first, seen, now=later, until=later, limit=2)
        # the second neither waits for it nor finds nothing: SKIP LOCKED, past its LIMIT
        assert store.lease_due(second, seen, now=later, until=later, limit=2) == names[2:4]
    assert taken == names[:2]
    assert {lease.holder for lease in store.leases(now=NOW).values()} == {first, second}
    store.close()


def test_one_node_prunes_at_a_time(pg_schema: Callable[[], str]) -> None:
    location = pg_schema()
    store = open_store(location)
    store.ingest("aa", [article("aa", 1, "Ferry timetable")], state("aa"), now=NOW)
    later, retention = NOW + timedelta(days=2), timedelta(days=1)
    with psycopg.connect(location) as conn, conn.transaction():
        assert PgDb(conn).alone("prune")  # another node, mid-prune
        assert store.prune(now=later, retention=retention) == 0
        assert [a.id for a in everything(store)] == ["aa-1"]
    assert store.prune(now=later, retention=retention) == 1
    store.close()


def test_a_version_1_schema_keeps_its_publish_state_for_the_first_node(
    pg_schema: Callable[[], str],
) -> None:
    location = pg_schema()
    with psycopg.connect(location, autocommit=True) as conn:
        migrate(conn, target=1)
        conn.execute(
            "INSERT INTO articles VALUES (nextval('story_pks'), 'old-1', 'g', 'aa', 'T', 'k', 1, 1,"
            " NULL, 1, '', '', '', '', '', '[]', '[]', '[]', 'seeds/a.txt')"
        )
        conn.execute("INSERT INTO publish_pending (id, seq, seed) VALUES ('old-1', 4, true)")
        conn.execute("UPDATE meta SET value = 4 WHERE name = 'publish_seq'")
        conn.execute(
            "INSERT INTO published_files VALUES ('all.rss', 'ab', 3, 7, '[\"old-1\"]', 'c1')"
        )
    first, second = (open_store(location, node=name) for name in ("desk1", "desk2"))
    kept = first.pending_stories(at_most=10)
    assert (kept.ids, kept.seeds, kept.tokens) == ({"old-1"}, {"old-1"}, {4})
    feed = PublishedFile(name="all.rss", sha256="ab", size=3, mtime_ns=7, lists=("old-1",))
    assert first.published_files() == {"all.rss": replace(feed, built_for="c1")}
    assert (second.pending_stories().ids, second.published_files()) == (frozenset(), {})
    first.ingest("aa", [article("aa", 9, "Wheat harvest")], state("aa"))
    assert first.pending_stories().tokens == {4, 5}, "tokens go on from the old counter"
    first.record_published([], [], tokens=kept.tokens)
    assert first.pending_stories().ids == second.pending_stories().ids == {"aa-9"}
    first.close()
    second.close()


def test_a_mark_committed_after_a_publish_read_with_an_earlier_token_stays_pending(
    pg_schema: Callable[[], str],
) -> None:
    location = pg_schema()
    store = open_store(location, node="desk1")
    store.ingest("aa", [article("aa", n, f"Story {n}") for n in (1, 2)], state("aa"))
    store.record_published([], [], tokens=store.pending_stories().tokens)
    with psycopg.connect(location) as slow:  # a pass that takes its token, then dawdles
        published.mark(PgDb(slow), ["aa-1"], by="desk2")
        store.ingest("aa", [article("aa", 2, "Story 2", summary="Later")], state("aa"))
        read = store.pending_stories()  # a later token, committed first
        assert read.ids == {"aa-2"}
    assert store.pending_stories().ids == {"aa-1", "aa-2"}
    store.record_published([], [], tokens=read.tokens)
    assert store.pending_stories().ids == {"aa-1"}, "its mark was never read: not cleared"
    store.close()


def test_a_watch_hears_the_other_nodes_and_says_when_it_may_have_missed_some(
    pg_schema: Callable[[], str], pg_admin: psycopg.Connection[Any]
) -> None:
    location = pg_schema()
    here, there = (open_store(location, node=name) for name in ("here", "there"))
    heard: queue.Queue[str] = queue.Queue()
    watch = here.watch(heard.put)
    assert watch is not None
    (channel,) = pg_admin.execute(
        "SELECT 'wiredesk_' || left(md5(%s), 20)", (schema_of(location),)
    ).fetchone()
    listening = "SELECT pid FROM pg_stat_activity WHERE query = %s"
    wait_for(lambda: pg_admin.execute(listening, (f'LISTEN "{channel}"',)).fetchall(), "LISTEN")
    here.ingest("aa", [article("aa", 1, "Ferry timetable")], state("aa"))  # its own: not heard
    there.ingest("bb", [article("bb", 2, "Wheat harvest")], state("bb"))
    assert heard.get(timeout=10) == "there"
    pg_admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
        (f'LISTEN "{channel}"',),
    )
    assert heard.get(timeout=10) == "", "listening again, it may have missed changes"
    there.ingest("bb", [article("bb", 3, "Court ruling")], state("bb"))
    assert heard.get(timeout=10) == "there"
    watch.close()
    assert heard.empty()
    here.close()
    there.close()


def test_changes_counts_the_rows_found_inside_a_pipeline_too(pg_schema: Callable[[], str]) -> None:
    # an ingest runs pipelined: a count read before the answers came was always 0
    location = pg_schema()
    open_store(location).close()  # migrated
    with psycopg.connect(location) as conn, conn.transaction():
        conn.execute("CREATE TEMPORARY TABLE counted (pk int PRIMARY KEY, seen int)")
        conn.execute("INSERT INTO counted SELECT g, 0 FROM generate_series(1, 5) g")
        db = PgDb(conn)
        update = "UPDATE counted SET seen = 1 WHERE pk = ?"
        with conn.pipeline():
            assert db.changes(update, [(1,), (2,), (99,)]) == 2
            assert db.changes(update, [(3,)]) == 1  # one row is counted another way
            db.executemany(update, [(3,), (98,)])
            assert db.changes(update, []) == 0
        assert db.changes(update, [(4,), (5,)]) == 2
        assert conn.execute("SELECT count(*) FROM counted WHERE seen = 1").fetchone() == (5,)
