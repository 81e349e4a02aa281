"""What only the SQLite store does: its schema migrations, unusable files, a locked
database, a writer killed mid-transaction and the group commit of ingests queued together,
against real files in tmp_path."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import dedup
from aggregator.errors import StoreError, StoreLocked
from aggregator.models import Article, Holder, IngestResult, Problem, PublishedFile
from aggregator.store import open_store, rows, sqlite
from aggregator.store.sql import Db
from aggregator.store.sql import ingest as sql_ingest
from aggregator.store.sql import store as sql_store
from aggregator.store.sqlite import GROUP_ARTICLES, SQLiteStore
from aggregator.store.sqlite.connection import BATCH_ROWS, INDEX_TEXT, Connection
from aggregator.store.sqlite.group import Member, Queue
from aggregator.store.sqlite.schema import MIGRATIONS, V1, V2, VERSION, migrate
from aggregator.text import plain_text
from tests.builders import T0, WHEN, article
from tests.stores import (
    KARABAKH,
    KARABAKH_REWORDED,
    everything,
    kill_mid_pass,
    state,
)


def test_a_version_1_database_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in V1:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO articles VALUES (1, 'old-1', 'g', 'aa', ?, ?, ?, ?, NULL, ?, "
        "'https://aa.example/1', '', '<p>Wheat prices</p>', '', 'World', '[]', '[]', '[]', '')",
        (KARABAKH, "k", WHEN.date().toordinal(), 1731223860000000, 1731223860000000),
    )
    conn.execute("INSERT INTO carriers VALUES (1, 1, 'aa', 'g', 'https://aa.example/1', 0)")
    conn.execute("INSERT INTO labels VALUES ('world', 1)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    migrated = SQLiteStore(str(path), similarity=0.8)
    [old] = everything(migrated)
    assert (old.id, old.sources, old.published) == ("old-1", ("aa",), WHEN)
    assert [a.id for a in everything(migrated, search="wheat")] == ["old-1"]
    assert migrated.ingest("bb", [article("bb", 1, KARABAKH_REWORDED)], state("bb")).merged
    migrated.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)


def test_a_version_2_database_is_migrated_to_walk_labels_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    for statement in (*V1, *V2):
        conn.execute(statement)
    for pk, (title, section, tags, minute) in enumerate(
        [
            ("Ferry timetable", "TÜRKİYE", '["World"]', 1),
            ("Wheat harvest", "", '["world", "Science"]', 3),
            ("Court ruling", "Politics", "[]", 2),
        ],
        start=1,
    ):
        published = 1731223860000000 + minute * 60_000_000
        conn.execute(
            "INSERT INTO articles VALUES (?, ?, 'g', 'aa', ?, 'k', ?, ?, NULL, ?, '', '', '', '',"
            " ?, ?, '[]', '[]', '')",
            (pk, f"old-{pk}", title, WHEN.date().toordinal(), published, published, section, tags),
        )
        conn.execute("INSERT INTO carriers VALUES (?, ?, 'aa', ?, '', 0)", (pk, pk, f"g{pk}"))
        for label in {section.casefold(), *(t.casefold() for t in json.loads(tags))} - {""}:
            conn.execute("INSERT INTO labels VALUES (?, ?)", (label, pk))
        conn.execute("INSERT INTO articles_fts (rowid, title) VALUES (?, ?)", (pk, title))
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    migrated = SQLiteStore(str(path))
    assert [a.id for a in everything(migrated, sections=("Türkiye",))] == ["old-1"]
    assert [a.id for a in everything(migrated, sections=("WORLD",))] == ["old-2", "old-1"]
    assert [a.id for a in everything(migrated, sources=("aa",), limit=2)] == ["old-2", "old-3"]
    assert [a.id for a in everything(migrated, search="wheat", sections=("science",))] == ["old-2"]
    migrated.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)
        assert check.execute("SELECT count(*) FROM carriers WHERE published = 0").fetchone() == (0,)


def test_a_version_3_database_keeps_its_source_states(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as conn:
        for migrate in MIGRATIONS[:3]:
            migrate(conn)
        conn.execute("INSERT INTO sources (name, url, etag) VALUES ('aa', 'https://aa/', '\"v9\"')")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    migrated = SQLiteStore(str(path))
    old = migrated.source_state("aa")
    assert old is not None and (old.etag, old.item_keys) == ('"v9"', frozenset())
    migrated.close()


def test_a_version_12_database_keeps_its_sources_entry_keys(tmp_path: Path) -> None:
    path = tmp_path / "v12.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=12)
    conn.execute("INSERT INTO sources (name, item_keys) VALUES ('aa', 'a1 0f'), ('bb', '')")
    conn.close()
    migrated = SQLiteStore(str(path))
    kept = migrated.source_states()
    assert (kept["aa"].item_keys, kept["bb"].item_keys) == (frozenset({"0f", "a1"}), frozenset())
    migrated.close()
    with closing(sqlite3.connect(path)) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)


def test_a_saved_state_rewrites_its_entry_keys_only_when_they_changed(tmp_path: Path) -> None:
    """A 304's state has the keys it was read with: saving it again leaves them be."""
    path = tmp_path / "feeds.db"
    store = SQLiteStore(str(path))
    holder = Holder(node="desk", pid=1)
    first = state("aa", last_status=200, item_keys=frozenset({"0f" * 16, "a1" * 16}))
    store.release(holder, [], states=[first])
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE rewrites (name TEXT)")
        conn.execute(
            "CREATE TRIGGER counted AFTER UPDATE ON source_items"
            " BEGIN INSERT INTO rewrites VALUES (new.name); END"
        )
        not_modified = replace(first, last_status=304, last_fetch=WHEN)
        store.release(holder, [], states=[not_modified])
        assert store.source_state("aa") == not_modified
        assert conn.execute("SELECT count(*) FROM rewrites").fetchone() == (0,)
        edited = replace(not_modified, item_keys=frozenset({"b2" * 16}))
        store.release(holder, [], states=[edited])
        assert store.source_state("aa") == edited
        assert conn.execute("SELECT count(*) FROM rewrites").fetchone() == (1,)
    store.close()


def test_a_database_from_a_newer_wiredesk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=r"new\.db: .*newer"):
        SQLiteStore(str(path))


def test_unusable_paths_are_store_errors_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        open_store(str(tmp_path / "junk.db"))
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(StoreError, match="a-folder"):
        open_store(str(tmp_path / "a-folder"))


def test_a_locked_database_is_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 50)
    opened = SQLiteStore(str(tmp_path / "busy.db"))
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match=r"busy\.db: database is locked"):
        opened.ingest("aa", [article("aa", 1, "Blocked")], state("aa"))
    other.execute("ROLLBACK")
    assert opened.ingest("aa", [article("aa", 1, "Blocked")], state("aa")).new
    other.close()
    opened.close()


def test_a_commit_that_fails_leaves_the_store_usable(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "commit.db"))

    def orphan(db: Db) -> None:
        # a foreign key checked at COMMIT: SQLite then keeps the transaction open
        db.execute("PRAGMA defer_foreign_keys = ON")
        db.execute(
            "INSERT INTO carriers (article_pk, source, guid, link, seed)"
            " VALUES (9, 'a', 'g', '', 0)"
        )

    with pytest.raises(StoreError, match=r"commit\.db: FOREIGN KEY constraint failed"):
        store._write(orphan)
    assert store.ingest("aa", [article("aa", 1, "After the failed commit")], state("aa")).new
    assert [a.id for a in everything(store)] == ["aa-1"]
    store.close()


def test_a_writer_killed_mid_transaction_leaves_a_clean_store(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    kill_mid_pass(str(path), tmp_path, stalled=20000)
    assert (tmp_path / "killed.db-wal").stat().st_size > 0, "the pass had written"

    reopened = SQLiteStore(str(path))
    assert len(everything(reopened)) == 300
    assert reopened.ingest("aa", [article("aa", "late", "After the crash")], state("aa")).new
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM articles_fts_queue").fetchone() == (301,)
    assert len(everything(reopened, search="story")) == 300, "queued in the stories' passes"
    assert [a.id for a in everything(reopened, search="crash")] == ["aa-late"]
    reopened.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert check.execute("SELECT count(*) FROM articles_fts").fetchone() == (301,)
        assert check.execute("SELECT count(*) FROM articles_fts_queue").fetchone() == (0,)


def test_a_version_4_database_gets_a_manifest_and_its_seed_stories_pending(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    with sqlite3.connect(path) as conn:
        for migrate in MIGRATIONS[:4]:
            migrate(conn)
        for pk, path_ in ((1, "seeds/a.txt"), (2, "")):
            conn.execute(
                "INSERT INTO articles VALUES (?, ?, 'g', 'aa', 'T', 'k', 1, 1, NULL, 1, '', '',"
                " '', '', '', '[]', '[]', '[]', ?)",
                (pk, f"old-{pk}", path_),
            )
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    migrated = SQLiteStore(str(path))
    assert migrated.pending_stories(at_most=10).seeds == {"old-1"}, "its page enters the manifest"
    assert migrated.published_files() == {}
    migrated.ingest("aa", [article("aa", 9, "Wheat harvest")], state("aa"))
    assert migrated.pending_stories(at_most=10).ids == {"old-1", "aa-9"}
    migrated.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)


def test_a_version_7_database_keeps_the_sources_problems_a_publish_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v7.db"
    with sqlite3.connect(path) as conn:
        for migrate in MIGRATIONS[:7]:
            migrate(conn)
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    migrated = SQLiteStore(str(path))
    assert migrated.problems() == []
    since = datetime(2026, 3, 3, 12, 0, 0, 7, tzinfo=UTC)
    kept = Problem(source="aa", kind="failing", detail="aa: HTTP 500", since=since, changed=since)
    migrated.record_published([], [], tokens=(), problems=[kept])
    assert migrated.problems() == [kept]
    migrated.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)


def test_a_version_9_database_keeps_its_publish_state_for_the_first_node(tmp_path: Path) -> None:
    path = tmp_path / "v9.db"
    conn = sqlite3.connect(path, isolation_level=None, factory=Connection)
    migrate(conn, target=9)
    conn.executescript(
        """
        INSERT INTO articles VALUES (1, 'old-1', 'g', 'aa', 'T', 'k', 1, 1, NULL, 1, '', '',
            '', '', '', '[]', '[]', '[]', 'seeds/a.txt');
        INSERT INTO publish_pending (id, seq, seed) VALUES ('old-1', 4, 1);
        UPDATE meta SET value = 4 WHERE name = 'publish_seq';
        INSERT INTO published_files VALUES ('all.rss', 'ab', 3, 7, '["old-1"]', 'c1');
        """
    )
    conn.close()
    first, second = (SQLiteStore(str(path), node=name) for name in ("desk1", "desk2"))
    kept = first.pending_stories(at_most=10)
    assert (kept.ids, kept.seeds) == ({"old-1"}, {"old-1"})
    feed = PublishedFile(name="all.rss", sha256="ab", size=3, mtime_ns=7, lists=("old-1",))
    assert first.published_files() == {"all.rss": replace(feed, built_for="c1")}
    assert (second.pending_stories().ids, second.published_files()) == (frozenset(), {})
    first.ingest("aa", [article("aa", 9, "Wheat harvest")], state("aa"))
    first.record_published([], [], tokens=kept.tokens)
    assert first.pending_stories().ids == second.pending_stories().ids == {"aa-9"}
    first.close()
    second.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)


def _index(path: Path) -> set[tuple[int, str, str, str]]:
    """What the FTS5 table holds, once the index is internally consistent."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        return set(conn.execute("SELECT rowid, title, summary, content FROM articles_fts"))


def _inline(path: Path) -> set[tuple[int, str, str, str]]:
    """What writing each story's text into the FTS5 table with it would have left there."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT pk, title, summary, content FROM articles").fetchall()
    return {
        (pk, title, plain_text(summary), plain_text(content))
        for pk, title, summary, content in rows
    }


def test_the_search_index_catches_up_as_if_each_story_were_indexed_with_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queued.db"
    store = SQLiteStore(str(path))
    old, now = WHEN - timedelta(days=400), WHEN
    ferry = article("aa", 1, "Ferry strike ends", summary="<p>Crews return.</p>")
    store.ingest("aa", [ferry, article("aa", 2, "Grain deal")], state("aa"), now=now)
    store.ingest("aa", [article("aa", 3, "Court ruling")], state("aa"), now=old)
    store.ingest("aa", [replace(ferry, summary="<p>Sailors return.</p>")], state("aa"), now=now)
    assert _index(path) == set(), "every text waits in the queue"
    assert [a.id for a in everything(store, search="sailors")] == ["aa-1"]
    assert everything(store, search="crews") == []
    assert _index(path) == _inline(path)

    # edited, deleted and new stories once indexed; the row key of one that was indexed
    # and deleted taken again; one queued and deleted
    store.ingest("aa", [replace(ferry, summary="<p>Pilots return.</p>")], state("aa"), now=now)
    store.ingest("aa", [article("aa", 4, "Wheat harvest")], state("aa"), now=old)
    store.ingest("aa", [article("aa", 5, "Harbour closed", content="<b>Storm</b>")], state("aa"))
    store.ingest("aa", [article("aa", 6, "Bridge opens")], state("aa"), now=old)
    assert store.catch_up_search() == 4
    store.ingest("aa", [article("aa", 7, "Tunnel opens")], state("aa"), now=old)
    assert store.prune(now=now, retention=timedelta(days=90)) == 4  # aa-3, 4, 6 and 7
    store.ingest("aa", [article("aa", 8, "Rail strike")], state("aa"), now=now)
    assert store.catch_up_search() == 4
    assert store.catch_up_search() == 0
    assert _index(path) == _inline(path)
    assert [a.id for a in everything(store, search="strike")] == ["aa-8", "aa-1"]
    assert [a.id for a in everything(store, search="pilots")] == ["aa-1"]
    for gone in ("sailors", "wheat", "bridge", "tunnel"):
        assert everything(store, search=gone) == []
    assert [a.id for a in everything(store, search="pilots storm")] == []
    assert [a.id for a in everything(store, search="storm")] == ["aa-5"]
    store.close()


def test_a_catch_up_takes_the_queue_a_batch_to_a_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store, "CATCH_UP_BATCH", 2)
    store = SQLiteStore(str(tmp_path / "batches.db"))
    store.ingest("aa", [article("aa", n, f"Ferry {n}") for n in range(5)], state("aa"))
    assert store.catch_up_search() == 5
    assert len(everything(store, search="ferry")) == 5
    store.close()


def test_a_search_sees_the_stories_another_connection_queued(tmp_path: Path) -> None:
    reader, writer = (SQLiteStore(str(tmp_path / "shared.db")) for _ in range(2))
    assert everything(reader, search="ferry") == []
    writer.ingest("aa", [article("aa", 1, "Ferry strike ends")], state("aa"))
    assert [a.id for a in everything(reader, search="ferry")] == ["aa-1"]
    assert writer.catch_up_search() == 0, "the reader indexed it"
    reader.close()
    writer.close()


def test_a_search_takes_the_write_lock_only_while_stories_are_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "busy.db"
    store = SQLiteStore(str(path))
    store.ingest("aa", [article("aa", 1, "Ferry strike ends")], state("aa"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    assert everything(store, search="ferry") == [], "the queued story is not indexed yet"
    assert "busy.db: database is locked" in caplog.text
    assert "searching the stories indexed so far" in caplog.text
    other.execute("ROLLBACK")
    assert [a.id for a in everything(store, search="ferry")] == ["aa-1"]
    other.execute("BEGIN IMMEDIATE")
    assert [a.id for a in everything(store, search="ferry")] == ["aa-1"]
    other.execute("ROLLBACK")
    other.close()
    store.close()


def test_a_store_that_cannot_be_written_searches_what_is_indexed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(str(tmp_path / "ro.db"))
    store.ingest("aa", [article("aa", 1, "Ferry strike ends")], state("aa"))
    store.catch_up_search()
    store.ingest("aa", [article("aa", 2, "Ferry fares rise")], state("aa"))
    # as a file the user may read but not write: every write fails with SQLITE_READONLY
    store._conn.execute("PRAGMA query_only = ON")
    assert [a.id for a in everything(store, search="ferry")] == ["aa-1"]
    assert "ro.db: read-only" in caplog.text
    store._conn.execute("PRAGMA query_only = OFF")
    assert [a.id for a in everything(store, search="ferry")] == ["aa-2", "aa-1"]
    store.close()


def test_a_version_11_database_queues_its_edits_and_deletes_for_the_index(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v11.db"
    conn = sqlite3.connect(path, isolation_level=None, factory=Connection)
    migrate(conn, target=11)
    for pk, title, first_seen in ((1, "Ferry strike ends", 1), (2, "Grain deal", 10**17)):
        conn.execute(
            "INSERT INTO articles VALUES (?, ?, ?, 'aa', ?, ?, 1, 1, NULL, ?, '', '', '', '',"
            " '', '[]', '[]', '[]', '')",
            (pk, f"aa-{pk}", f"https://aa.example/{pk}", title, dedup.dedup_key(title), first_seen),
        )
        conn.execute(
            "INSERT INTO carriers (article_pk, source, guid, link, seed, published)"
            " VALUES (?, 'aa', ?, '', 0, 1)",
            (pk, f"https://aa.example/{pk}"),
        )
        conn.execute(INDEX_TEXT, (pk, title, "", ""))
    conn.close()
    migrated = SQLiteStore(str(path))
    assert [a.id for a in everything(migrated, search="ferry")] == ["aa-1"]
    assert migrated.catch_up_search() == 0, "the old index is up to date"
    tunnel = article("aa", 3, "Tunnel opens")
    migrated.ingest("aa", [tunnel], state("aa"), now=WHEN - timedelta(days=2))
    assert migrated.prune(now=WHEN, retention=timedelta(days=1)) == 2, "aa-1, queued aa-3"
    assert migrated.ingest(
        "aa", [article("aa", 2, "Grain deal", summary="Wheat exports resume.")], state("aa")
    ).updated
    assert everything(migrated, search="ferry") == everything(migrated, search="tunnel") == []
    assert [a.id for a in everything(migrated, search="wheat")] == ["aa-2"]
    migrated.close()
    assert _index(path) == _inline(path)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)


# --- group commit --------------------------------------------------------------------------

PASSES = {
    "aa": [article("aa", 1, KARABAKH), article("aa", 2, "Wheat prices rise", tags=("World",))],
    "bb": [article("bb", 1, KARABAKH_REWORDED), article("bb", 2, "Wheat prices rise")],
    "cc": [article("cc", 1, KARABAKH), article("cc", 3, "Ferry timetable changes")],
}
GROUPED = "3 ingests in one transaction"
JOINED = "1 more joined the transaction"
AGAIN_ALONE = "each again alone"


BOUND = 30  # seconds: a liveness bound on a wait that must end, not a benchmark


def queued(store: SQLiteStore) -> int:
    """How many ingests wait in ``store``'s queue, not taken by a leader yet."""
    queue = store._ingests
    with queue._lock:
        return len(queue._waiting)


def until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def grouped(store: SQLiteStore, passes: dict[str, list[Article]]) -> dict[str, object]:
    """Each source's ``store.ingest`` of its pass in a thread of its own, all queued in
    order while the store's lock is held, so that they commit as one group; each one's
    IngestResult or the exception it raised, by source."""
    outcomes: dict[str, object] = {}

    def ingest(source: str) -> None:
        try:
            outcomes[source] = store.ingest(source, passes[source], state(source), now=T0)
        except BaseException as e:  # SystemExit too: a thread would end on it silently
            outcomes[source] = e

    threads = [threading.Thread(target=ingest, args=(source,)) for source in passes]
    with store._lock:
        for count, thread in enumerate(threads, start=1):
            thread.start()
            until(lambda n=count: queued(store) >= n, f"{count} ingests queued")
    for thread in threads:
        thread.join(timeout=BOUND)
    assert not any(thread.is_alive() for thread in threads), "an ingest was left waiting"
    return outcomes


def failing(monkeypatch: pytest.MonkeyPatch, source: str, error: BaseException, *, times: int):
    """Make the first ``times`` ingests of ``source`` raise ``error`` inside their work."""
    ingest = sql_ingest.ingest
    left = [times]

    def patched(db: Db, name: str, *args: Any, **kwargs: Any) -> IngestResult:
        if name == source and left[0] > 0:
            left[0] -= 1
            raise error
        return ingest(db, name, *args, **kwargs)

    monkeypatch.setattr(sql_ingest, "ingest", patched)


def stored_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    tables = ("articles", "carriers", "labels", "headline_words", "headline_uses", "sources")
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall() for t in tables}


@pytest.mark.parametrize(
    ("limit", "articles", "groups"),
    [
        (GROUP_ARTICLES, 2, [3]),
        (2, 1, [2]),  # aa's and bb's article; then cc's alone
    ],
)
def test_ingests_queued_together_store_what_they_would_one_by_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    limit: int,
    articles: int,
    groups: list[int],
) -> None:
    monkeypatch.setattr(sqlite, "GROUP_ARTICLES", limit)
    passes = {name: got[:articles] for name, got in PASSES.items()}
    one_by_one = SQLiteStore(str(tmp_path / "one.db"), similarity=0.5)
    alone = {
        name: one_by_one.ingest(name, got, state(name), now=T0) for name, got in passes.items()
    }
    together = SQLiteStore(str(tmp_path / "group.db"), similarity=0.5)
    with caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        assert grouped(together, passes) == alone
    made = [r.getMessage() for r in caplog.records if "in one transaction" in r.getMessage()]
    assert made == [f"{tmp_path / 'group.db'}: {n} ingests in one transaction" for n in groups]
    assert alone["bb"].merged and alone["cc"].merged, "the later sources fold into aa's stories"
    one_by_one.close()
    together.close()
    assert stored_rows(tmp_path / "group.db") == stored_rows(tmp_path / "one.db")


@pytest.mark.parametrize(
    ("first", "limit", "made"),
    [
        (["aa", "bb"], GROUP_ARTICLES, ["2 ingests in one transaction", JOINED]),
        (["aa"], GROUP_ARTICLES, [JOINED]),  # a lone ingest takes it in too
        (["aa", "bb"], 4, ["2 ingests in one transaction"]),  # cc does not fit: its own
    ],
)
def test_an_ingest_queued_while_a_group_runs_joins_it_within_the_limit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    first: list[str],
    limit: int,
    made: list[str],
) -> None:
    monkeypatch.setattr(sqlite, "GROUP_ARTICLES", limit)
    one_by_one = SQLiteStore(str(tmp_path / "one.db"), similarity=0.5)
    alone = {
        name: one_by_one.ingest(name, PASSES[name], state(name), now=T0) for name in [*first, "cc"]
    }
    store = SQLiteStore(str(tmp_path / "group.db"), similarity=0.5)
    outcomes: dict[str, object] = {}
    late = threading.Thread(target=lambda: outcomes.update(cc=ingest_cc()))
    ingest = sql_ingest.ingest

    def ingest_cc() -> IngestResult:
        return store.ingest("cc", PASSES["cc"], state("cc"), now=T0)

    def cc_queues_meanwhile(db: Db, name: str, *args: Any, **kwargs: Any) -> IngestResult:
        if name == first[-1]:  # the group's last member: cc queues while it runs
            late.start()
            until(lambda: queued(store) == 1, "cc queued")
        return ingest(db, name, *args, **kwargs)

    monkeypatch.setattr(sql_ingest, "ingest", cc_queues_meanwhile)
    with caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        outcomes.update(grouped(store, {name: PASSES[name] for name in first}))
        late.join(timeout=BOUND)
    assert outcomes == alone
    logged = [r.getMessage() for r in caplog.records if "transaction" in r.getMessage()]
    assert logged == [f"{tmp_path / 'group.db'}: {line}" for line in made]
    one_by_one.close()
    store.close()
    assert stored_rows(tmp_path / "group.db") == stored_rows(tmp_path / "one.db")


def test_a_source_failing_on_its_own_in_a_group_fails_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    store._read(
        lambda db: db.execute(
            "CREATE TEMP TRIGGER odd BEFORE INSERT ON carriers WHEN NEW.source = 'bb'"
            " BEGIN SELECT RAISE(ABORT, 'odd data from bb'); END"
        )
    )
    with caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        outcomes = grouped(store, PASSES)
    assert GROUPED in caplog.text and AGAIN_ALONE in caplog.text
    failed = outcomes.pop("bb")
    assert isinstance(failed, StoreError) and "odd data from bb" in str(failed)
    assert all(isinstance(o, IngestResult) and o.new for o in outcomes.values()), outcomes
    assert store.article_counts() == {"aa": 2, "cc": 2}
    assert set(store.source_states()) == {"aa", "cc"}, "bb's state went with its articles"
    store.close()


def test_a_source_whose_work_raises_a_store_error_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing(monkeypatch, "bb", StoreError("bb: odd"), times=2)  # together, then alone
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    with caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        outcomes = grouped(store, PASSES)
    assert GROUPED in caplog.text and AGAIN_ALONE in caplog.text
    failed = outcomes.pop("bb")
    assert type(failed) is StoreError and str(failed) == "bb: odd"
    assert all(isinstance(o, IngestResult) and o.new for o in outcomes.values()), outcomes
    assert store.article_counts() == {"aa": 2, "cc": 2}
    store.close()


def test_a_leader_interrupted_after_taking_its_group_strands_no_follower(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing(monkeypatch, "bb", SystemExit(3), times=1)  # in aa's thread, which leads the group
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    with caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        outcomes = grouped(store, PASSES)
    assert GROUPED in caplog.text
    interrupted = outcomes.pop("aa")
    assert isinstance(interrupted, SystemExit) and interrupted.code == 3
    assert all(isinstance(o, IngestResult) and o.new for o in outcomes.values()), outcomes
    assert store.article_counts() == {"bb": 2, "cc": 2}, "aa's group was rolled back"
    assert queued(store) == 0
    store.close()


def test_a_follower_interrupted_while_it_waits_leaves_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    outcomes: dict[str, object] = {}

    def ingest(source: str) -> None:
        try:
            outcomes[source] = store.ingest(source, PASSES[source], state(source), now=T0)
        except BaseException as e:
            outcomes[source] = e

    def interrupted(member: Member) -> None:
        raise KeyboardInterrupt

    leader = threading.Thread(target=ingest, args=("aa",))
    follower = threading.Thread(target=ingest, args=("bb",))
    with store._lock, caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        leader.start()
        until(lambda: queued(store) == 1, "the leader queued")
        monkeypatch.setattr(Member, "wait", interrupted)  # a leader never waits
        follower.start()
        follower.join(timeout=BOUND)
        assert isinstance(outcomes["bb"], KeyboardInterrupt)
        assert queued(store) == 1, "only the leader's ingest is left"
    leader.join(timeout=BOUND)
    assert not leader.is_alive()
    assert isinstance(outcomes["aa"], IngestResult)
    assert store.article_counts() == {"aa": 2}
    assert "in one transaction" not in caplog.text
    store.close()


def test_a_leader_interrupted_before_it_takes_its_group_leaves_the_queue() -> None:
    queue = Queue(limit=GROUP_ARTICLES)

    def interrupted(take: Callable[[], list[Member]]) -> None:
        raise KeyboardInterrupt  # waiting for the writer, say

    with pytest.raises(KeyboardInterrupt):
        queue.run(Member(lambda db: IngestResult(), size=1, asked=0.0), interrupted)
    assert queue._waiting == [] and not queue._leading


class _Failed(BaseException):
    """A leader's failure no ingest catches (SystemExit, say)."""


def test_a_follower_that_left_after_being_taken_is_not_handed_a_failed_leaders_lead() -> None:
    queue = Queue(limit=GROUP_ARTICLES)
    follower_queued, follower_taken, follower_left = (threading.Event() for _ in range(3))
    outcomes: dict[str, object] = {}

    class Interrupted(Member):
        __slots__ = ()

        def wait(self) -> None:  # the thread is interrupted once the leader took it
            follower_queued.set()
            follower_taken.wait(BOUND)
            raise KeyboardInterrupt

    def lead_then_fail(take: Callable[[], list[Member]]) -> None:
        follower_queued.wait(BOUND)
        assert len(take()) == 2
        follower_taken.set()
        follower_left.wait(BOUND)
        raise _Failed

    def settle(take: Callable[[], list[Member]]) -> None:
        for member in take():
            member.succeed(member.work(None))  # type: ignore[arg-type]

    def run(name: str, member: Member, lead: Callable[[Callable[[], list[Member]]], None]) -> None:
        try:
            outcomes[name] = queue.run(member, lead)
        except BaseException as e:
            outcomes[name] = e
        if name == "follower":
            follower_left.set()

    def member(cls: type[Member] = Member) -> Member:
        return cls(lambda db: IngestResult(new=1), size=1, asked=0.0)

    threads = [
        threading.Thread(target=run, args=("leader", member(), lead_then_fail)),
        threading.Thread(target=run, args=("follower", member(Interrupted), settle)),
    ]
    threads[0].start()
    until(lambda: queue._leading, "the leader leads")
    threads[1].start()
    for thread in threads:
        thread.join(BOUND)
    assert isinstance(outcomes["leader"], _Failed)
    assert isinstance(outcomes["follower"], KeyboardInterrupt)
    assert queue._waiting == [] and not queue._leading
    later = threading.Thread(target=run, args=("later", member(), settle), daemon=True)
    later.start()
    later.join(BOUND)
    assert outcomes.get("later") == IngestResult(new=1), "a later ingest was stranded"


def test_a_follower_handed_the_lead_and_interrupted_passes_it_to_the_next_queued() -> None:
    queue = Queue(limit=1)  # a group of one: the leader hands the lead on, in queue order
    order: list[str] = []
    outcomes: dict[str, object] = {}

    class Interrupted(Member):
        __slots__ = ()

        def wait(self) -> None:  # woken with the lead, then interrupted before leading
            super().wait()
            raise KeyboardInterrupt

    def settle(take: Callable[[], list[Member]]) -> None:
        if not order:  # the first leader: once the other two queued behind it
            until(lambda: len(queue._waiting) == 3, "three queued")
        for member in take():
            member.succeed(member.work(None))  # type: ignore[arg-type]

    def run(name: str, member: Member) -> None:
        try:
            outcomes[name] = queue.run(member, settle)
        except BaseException as e:
            outcomes[name] = e

    def member(name: str, cls: type[Member] = Member) -> Member:
        return cls(lambda db: (order.append(name), IngestResult(new=1))[1], size=1, asked=0.0)

    first = threading.Thread(target=run, args=("first", member("first")))
    first.start()
    until(lambda: queue._leading, "the first leads")
    second = threading.Thread(target=run, args=("second", member("second", Interrupted)))
    second.start()
    until(lambda: len(queue._waiting) == 2, "the second queued")
    third = threading.Thread(target=run, args=("third", member("third")))
    third.start()
    for thread in (first, second, third):
        thread.join(BOUND)
    assert isinstance(outcomes["second"], KeyboardInterrupt)
    assert outcomes["first"] == outcomes["third"] == IngestResult(new=1)
    assert order == ["first", "third"], "the interrupted member's ingest never ran"
    assert queue._waiting == [] and not queue._leading


USES = "INSERT INTO headline_uses (dedup_key, source, day) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"


@pytest.mark.parametrize("count", [1, 2, BATCH_ROWS[0], 2 * BATCH_ROWS[0] + 31])
def test_rows_inserted_in_batches_are_those_inserted_one_a_statement(
    tmp_path: Path, count: int
) -> None:
    rows = [(f"key{n % (count // 2 + 1)}", "aa", n % 3) for n in range(count)]  # repeats
    stores = [SQLiteStore(str(tmp_path / name)) for name in ("batched.db", "one.db")]
    batched, one = (store._conn for store in stores)
    with closing(stores[0]), closing(stores[1]):
        batched.executemany(USES, rows)
        for row in rows:
            one.execute(USES, row)
        listed = "SELECT * FROM headline_uses ORDER BY dedup_key, day"
        assert batched.execute(listed).fetchall() == one.execute(listed).fetchall()
        assert batched._batches[USES] is not None, "headline_uses has no foreign key"


def test_a_table_with_a_foreign_key_or_a_virtual_one_keeps_its_rows_a_statement(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    with closing(store):
        assert store._conn._batched(INDEX_TEXT) is None
        assert (
            store._conn._batched("INSERT INTO fold_vetoes (article_pk, source) VALUES (?, ?)")
            is None
        )


def test_a_batch_binds_no_more_variables_than_sqlite_allows(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    with closing(store):
        conn = store._conn
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)  # 16 rows of USES' three
        rows = [(f"key{n}", "aa", 1) for n in range(2 * BATCH_ROWS[0] + 1)]
        conn.executemany(USES, rows)
        assert conn.execute("SELECT count(*) FROM headline_uses").fetchone() == (len(rows),)
        batches = conn._batches[USES]
        assert batches is not None and max(batches) == 16


def test_a_table_with_an_insert_trigger_keeps_its_rows_a_statement(tmp_path: Path) -> None:
    """A batch's OR ROLLBACK would override the conflict clauses of the trigger's body."""
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    with closing(store):
        conn = store._conn
        conn.execute("CREATE TABLE seen (word TEXT PRIMARY KEY)")
        conn.execute("CREATE TABLE heard (word TEXT)")
        conn.execute(
            "CREATE TRIGGER heard_once AFTER\n  INSERT ON heard BEGIN"
            " INSERT OR IGNORE INTO seen (word) VALUES (new.word); END"
        )
        rows = [("echo",)] * 3
        conn.executemany("INSERT INTO heard (word) VALUES (?)", rows)
        assert conn._batched("INSERT INTO heard (word) VALUES (?)") is None
        assert conn.execute("SELECT count(*) FROM heard").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM seen").fetchone() == (1,)


def test_a_batch_that_fails_rolls_its_transaction_back_and_the_store_writes_on(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    rows = [(f"key{n}", "aa", 1) for n in range(BATCH_ROWS[0])]
    rows[-1] = ("key0", "aa", None)  # NOT NULL: the last row of the batch fails

    def work(db: Db) -> None:
        db.execute(USES, ("before", "aa", 1))
        db.executemany(USES, rows)

    with closing(store):
        with pytest.raises(StoreError, match="NOT NULL"):
            store._write(work)
        assert not store._conn.in_transaction
        store._write(lambda db: db.executemany(USES, rows[:-1]))
        assert store._read(
            lambda db: db.execute("SELECT count(*) FROM headline_uses").fetchone()
        ) == (BATCH_ROWS[0] - 1,)


def test_each_of_many_threads_gets_its_own_outcome_and_one_leads_at_a_time() -> None:
    queue = Queue(limit=5)
    leading: list[int] = []  # how many threads lead at each moment one starts
    active = 0
    outcomes: dict[int, object] = {}

    def lead(take: Callable[[], list[Member]]) -> None:
        nonlocal active
        active += 1
        leading.append(active)
        time.sleep(0.001)  # others queue meanwhile
        while group := take():
            for member in group:
                member.succeed(member.work(None))  # type: ignore[arg-type]  # no database
        active -= 1

    def one(n: int) -> None:
        member = Member(lambda db: IngestResult(unchanged=n), size=1, asked=0.0)
        outcomes[n] = queue.run(member, lead)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BOUND)
    assert outcomes == {n: IngestResult(unchanged=n) for n in range(40)}
    assert set(leading) == {1}
    assert queue._waiting == [] and not queue._leading


@pytest.mark.parametrize(
    ("hold", "kind", "message"),
    [
        ("other", StoreLocked, "database is locked"),
        ("full", StoreError, "database or disk is full"),
    ],
)
def test_a_group_meeting_a_database_error_fails_every_source_with_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    hold: str,
    kind: type[StoreError],
    message: str,
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "busy.db"
    store = SQLiteStore(str(path))
    other = sqlite3.connect(path, isolation_level=None)
    passes = PASSES
    if hold == "other":
        other.execute("BEGIN IMMEDIATE")
    else:  # the store's file may not grow by a page, and each pass needs several
        (pages,) = store._read(lambda db: db.execute("PRAGMA page_count").fetchone())
        store._read(lambda db: db.execute(f"PRAGMA max_page_count = {pages}"))
        passes = {
            name: [replace(a, content="long " * 4000) for a in got] for name, got in passes.items()
        }
    with caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        outcomes = grouped(store, passes)
    assert GROUPED in caplog.text and AGAIN_ALONE not in caplog.text
    assert [type(o) for o in outcomes.values()] == [kind] * 3
    assert all(str(o).startswith(f"{path}: {message}") for o in outcomes.values()), outcomes
    assert len({id(o) for o in outcomes.values()}) == 3, "each thread raises its own"
    other.close()
    store.close()
    assert stored_rows(path)["articles"] == []


def test_a_lone_ingest_failing_on_its_own_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing(monkeypatch, "aa", StoreError("aa: odd"), times=1)  # run again, it would pass
    store = SQLiteStore(str(tmp_path / "feeds.db"))
    with pytest.raises(StoreError, match=r"^aa: odd$"):
        store.ingest("aa", PASSES["aa"], state("aa"), now=T0)
    store._read(
        lambda db: db.execute(
            "CREATE TEMP TRIGGER odd BEFORE INSERT ON carriers"
            " BEGIN SELECT RAISE(ABORT, 'odd data'); END"
        )
    )
    with pytest.raises(StoreError, match=f"^{re.escape(str(tmp_path / 'feeds.db'))}: .*odd data"):
        store.ingest("bb", PASSES["bb"], state("bb"), now=T0)
    assert store.article_counts() == {}
    store.close()


def test_a_lone_ingest_commits_before_it_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "feeds.db"
    store = SQLiteStore(str(path))
    with caplog.at_level(logging.DEBUG, "aggregator.store.sqlite"):
        assert store.ingest("aa", PASSES["aa"], state("aa"), now=T0).new
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM articles").fetchone() == (2,)
    assert "in one transaction" not in caplog.text
    store.close()


@given(
    st.lists(st.text())
    | st.lists(st.integers())
    | st.lists(st.lists(st.one_of(st.text(), st.integers(), st.none())))
)
def test_a_list_is_stored_as_the_json_text_of_json_dumps(values: list[Any]) -> None:
    assert rows.json_list(values) == json.dumps(values)
    assert rows.json_list(tuple(values)) == json.dumps(values)
    assert rows.json_list(iter(values)) == json.dumps(values), "an iterator is read once"
