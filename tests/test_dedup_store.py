"""Dedup through the real stores (SQLite and PostgreSQL, the ``store`` fixtures of
conftest.py): one feed's own distinct items, generic headlines, fold reasons (``why``),
``split``; and SQLite stores made before fold reasons were recorded."""

from __future__ import annotations

import sqlite3
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.cli import main
from aggregator.errors import StoreError
from aggregator.models import Article, ArticleQuery, SourceState
from aggregator.store import Store, open_store
from aggregator.store.rows import ARTICLE_COLUMNS, article_row
from aggregator.store.sql import lookup
from aggregator.store.sqlite import SQLiteStore
from aggregator.store.sqlite.connection import Connection
from aggregator.store.sqlite.schema import MIGRATIONS, VERSION
from tests.builders import article

WHEN = datetime(2026, 5, 20, 8, 0, tzinfo=UTC)
QUAKE = (
    "A magnitude 5.4 earthquake struck the Bayrakli district of Izmir at 10:12 local time, "
    "the disaster agency said. Residents left buildings and gathered in parks along the bay, "
    "and eleven people were treated for minor injuries, the governor told reporters."
)
STRIKE = (
    "Follow our live coverage of the general strike in Athens, where unions have shut "
    "ports, trains and ferries for 24 hours over pension reforms and police count 40,000."
)


def item(source: str, n: int | str, title: str, body: str = "", **fields: object) -> Article:
    """Story ``n`` of ``source`` at ``WHEN``, ``body`` its one paragraph."""
    own = {"published": WHEN, "content": f"<p>{body}</p>" if body else ""}
    return article(source, n, title, **{**own, **fields})


def put(store: Store, *articles: Article) -> None:
    for one in articles:
        store.ingest(one.source, [one], SourceState(name=one.source))


def stories(store: Store) -> dict[str, tuple[str, ...]]:
    return {a.id: a.sources for a in store.articles(ArticleQuery())}


def test_one_feeds_items_with_one_headline_stay_apart(store: Store) -> None:
    first, second = item("aa", 1, "Live updates", STRIKE), item("aa", 2, "Live updates", QUAKE)
    assert store.ingest("aa", [first, second], SourceState(name="aa")).new == ("aa-1", "aa-2")
    syndicated = item("bb", 1, "LIVE UPDATES", QUAKE.replace("told reporters", "said"))
    put(store, syndicated)
    assert stories(store) == {"aa-1": ("aa",), "aa-2": ("aa", "bb")}
    # a distinctive headline too: the feed itself says the two items differ
    put(store, item("cc", 1, "Rail workers announce strike in France"))
    put(store, item("cc", 2, "Rail workers announce strike in France"))
    assert {"cc-1", "cc-2"} <= set(stories(store))


def test_empty_and_placeholder_headlines_never_fold_or_block(store: Store) -> None:
    put(store, item("aa", 1, ""), item("bb", 1, ""), item("cc", 1, "Untitled"))
    put(store, item("dd", 1, "(no title)"), item("ee", 1, "UNTITLED"))
    assert len(stories(store)) == 5
    store.prune(now=datetime.now(UTC) + timedelta(days=100), retention=timedelta(days=90))
    put(store, item("ff", 1, ""))  # no tombstone of an empty key swallows it
    assert list(stories(store)) == ["ff-1"]


PAIRS = st.tuples(
    st.sampled_from(["Live updates", "Earthquake hits Izmir", "EARTHQUAKE HITS İZMIR", ""]),
    st.sampled_from(["", QUAKE, STRIKE, QUAKE.replace("the governor", "officials")]),
    st.integers(-30, 30),
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PAIRS, PAIRS, st.booleans())
def test_folding_does_not_depend_on_arrival_order(
    tmp_path: Path, a: tuple[str, str, int], b: tuple[str, str, int], near: bool
) -> None:
    items = [
        item(source, 1, title, body, published=WHEN + timedelta(hours=hours))
        for source, (title, body, hours) in (("aa", a), ("bb", b))
    ]
    partitions = []
    for order in (items, items[::-1]):
        opened = SQLiteStore(":memory:", similarity=0.7 if near else None)
        put(opened, *order)
        partitions.append({frozenset(s) for s in stories(opened).values()})
        opened.close()
    assert partitions[0] == partitions[1]


def config(tmp_path: Path, store: Path | str, similarity: str = "null") -> str:
    path = tmp_path / "feeds.yaml"
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "b").mkdir(exist_ok=True)
    path.write_text(
        textwrap.dedent(
            f"""
            store: {store}
            publish: {{dir: out, base_url: "http://127.0.0.1:8080/"}}
            dedup: {{similarity: {similarity}}}
            sources:
              - {{name: aa, path: a, timezone: Europe/Istanbul}}
              - {{name: bb, path: b, timezone: Europe/Istanbul}}
            """
        ),
        encoding="utf-8",
    )
    return str(path)


def why(cfg: str, story_id: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["why", story_id, "--config", cfg]) == 0
    return capsys.readouterr().out.splitlines()


def test_why_names_the_rule_that_folded_each_source(
    tmp_path: Path, store_location: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = store_location
    near = open_store(path, similarity=0.8)
    put(
        near,
        item("aa", 1, "Earthquake hits Izmir", QUAKE),
        item("bb", 1, "EARTHQUAKE HITS İZMIR"),
        item("cc", 1, "Quake report", guid="https://aa.example/1", link="https://aa.example/1"),
        item("dd", 1, "Earthquake hits Izmir province", QUAKE),
        item("aa", 2, "Live updates", QUAKE),
        item("ee", 1, "Live updates", QUAKE.replace("told reporters", "said")),
        item("aa", 3, "Weather", link="https://wx.example/today"),
        item("ff", 1, "Weather", link="https://wx.example/today"),
    )
    near.close()
    cfg = config(tmp_path, path, similarity="0.8")
    quake = why(cfg, "aa-1", capsys)
    assert quake[0] == "Earthquake hits Izmir (aa-1)"
    assert [line.split("  ")[1] for line in quake[1:]] == [
        "aa: first carrier",
        "bb: same headline and day",
        "cc: same guid",
        "dd: near-duplicate 0.86",
    ]
    live = why(cfg, "aa-2", capsys)
    assert live[2] == (
        "  ee: generic headline (few informative words) + body similarity 0.93"
        "  https://ee.example/1"
    )
    assert why(cfg, "aa-3", capsys)[2] == (
        "  ff: generic headline (few informative words) + same link  https://wx.example/today"
    )
    assert main(["why", "nope", "--config", cfg]) == 2
    assert capsys.readouterr().err == "ID: no stored story has an id starting 'nope'\n"


SEED = """\
{title}
- World
- {agency}
- Published Date: 10:31 | 4 March 2026
{body}
"""


def collect(cfg: str) -> None:
    for source in ("aa", "bb"):  # one after the other: aa's item comes first
        assert main(["collect", "--no-publish", "--source", source, "--config", cfg]) == 0


def test_split_separates_an_item_for_good_and_survives_a_re_collect(
    tmp_path: Path, store_location: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, store_location)
    seed_a = tmp_path / "a" / "ferry.txt"
    seed_b = tmp_path / "b" / "ferry.txt"
    seed_a.write_text(
        SEED.format(title="Ferry strike ends in Istanbul", agency="A", body="Crews return.")
    )
    seed_b.write_text(
        SEED.format(
            title="Ferry strike ends in Istanbul",
            agency="B",
            body="Ferries on the Aegean sail again.",
        )
    )
    collect(cfg)
    opened = open_store(store_location)
    [(story_id, sources)] = stories(opened).items()
    opened.close()
    assert sources == ("aa", "bb")
    capsys.readouterr()
    assert why(cfg, story_id, capsys)[2].startswith("  bb: same headline and day")

    assert main(["split", story_id, "bb", "--config", cfg]) == 0
    out = capsys.readouterr().out
    new_id = out.split("is now story ")[1].split(";")[0]
    assert why(cfg, new_id, capsys)[1].startswith("  bb: split by hand")
    seed_b.write_text(
        SEED.format(
            title="Ferry strike ends in Istanbul",
            agency="B",
            body="Aegean ferries sail again, the operator said.",
        )
    )
    seed_a.write_text(
        SEED.format(title="Ferry strike ends in Istanbul", agency="A", body="Crews are back.")
    )
    collect(cfg)
    opened = open_store(store_location)
    assert stories(opened) == {story_id: ("aa",), new_id: ("bb",)}
    kept, apart = opened.article(story_id), opened.article(new_id)
    assert kept is not None and "Crews are back." in kept.content
    assert apart is not None and "the operator said" in apart.content
    opened.close()
    assert main(["split", story_id, "aa", "--config", cfg]) == 1
    assert "aa is its only source" in capsys.readouterr().err
    assert main(["split", story_id, "zz", "--config", cfg]) == 1
    assert "zz does not carry this story" in capsys.readouterr().err


def test_split_gives_each_item_its_own_text_and_keeps_the_story_id(store: Store) -> None:
    put(
        store, item("aa", 1, "Live updates", QUAKE), item("bb", 1, "Live updates", QUAKE + " More.")
    )
    put(store, item("cc", 1, "LIVE UPDATES", QUAKE + " Even more text follows here."))
    assert stories(store) == {"aa-1": ("aa", "bb", "cc")}
    store.record_published([], [], tokens=store.pending_stories().tokens)
    new_id = store.split("aa-1", "aa", now=WHEN)
    assert new_id not in {"aa-1", "bb-1", "cc-1"}
    assert store.pending_stories().ids == {"aa-1", new_id}  # both feeds' items change
    found = stories(store)
    assert found["aa-1"] == ("bb", "cc") and ("aa",) in found.values()
    story = store.article("aa-1")
    assert story is not None and story.content.endswith("Even more text follows here.</p>")
    # aa's next item under that headline never joins the story it was split from
    put(store, item("aa", 9, "Live updates", QUAKE))
    assert ("bb", "cc") in stories(store).values() and len(stories(store)) == 3
    with pytest.raises(StoreError, match="no stored story"):
        store.split("nope", "aa", now=WHEN)


def test_a_version_4_store_keeps_its_folds_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "v4.db"
    folded = item("aa", 1, "Live updates", STRIKE)
    with sqlite3.connect(path) as conn:
        for migrate in MIGRATIONS[:4]:
            migrate(conn)
        row = list(article_row(1, folded))
        row[5] = "live updates"  # the old key, folded by the old rule with bb's item below
        conn.execute(
            f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 19)})", row
        )
        for pk, source in ((1, "aa"), (2, "bb")):
            conn.execute(
                "INSERT INTO carriers (pk, article_pk, source, guid, link, seed, published)"
                " VALUES (?, 1, ?, ?, ?, 0, ?)",
                (pk, source, f"g-{source}", f"https://{source}.example/1", row[7]),
            )
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    migrated = SQLiteStore(str(path))
    assert stories(migrated) == {"aa-1": ("aa", "bb")}  # not silently rewritten
    put(migrated, item("cc", 1, "Live updates", QUAKE))
    assert stories(migrated) == {"aa-1": ("aa", "bb"), "cc-1": ("cc",)}
    migrated.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (VERSION,)
        assert check.execute("SELECT dedup_key FROM articles WHERE pk = 1").fetchone() == (
            "liveupdates",
        )
        assert check.execute("SELECT count(*) FROM headline_uses").fetchone() == (3,)
    check.close()
    cfg = config(tmp_path, path)
    assert why(cfg, "aa-1", capsys)[1:] == [
        "  aa: first carrier  https://aa.example/1",
        "  bb: folded before reasons were recorded (same headline and day, or near-duplicate)"
        "  https://bb.example/1",
    ]
    assert main(["split", "aa-1", "bb", "--config", cfg]) == 0
    reopened = SQLiteStore(str(path))
    assert sorted(stories(reopened).values()) == [("aa",), ("bb",), ("cc",)]
    reopened.close()


def test_items_a_source_carries_already_are_read_by_guid_alone(tmp_path: Path) -> None:
    path = tmp_path / "wiredesk.db"
    store = SQLiteStore(str(path))
    put(store, item("anka", 1, "Live updates", STRIKE), item("meridian", 2, "Live updates"))
    put(store, item("anka", 3, "Morning briefing"))
    store.close()
    conn = sqlite3.connect(path, factory=Connection)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    again = [item("anka", 1, "Live updates", STRIKE), item("anka", 3, "Morning briefing")]
    found = lookup.candidates(conn, "anka", again, 0.7)
    assert {s.article.id for s in found.stories} == {"anka-1", "anka-3"}
    history = ("headline_uses", "tombstones", "fold_vetoes", "headline_words", "WHERE dedup_key")
    assert not [s for s in statements if any(f" {table}" in s for table in history)]
    # an item it does not carry yet is matched against every other story and its history
    found = lookup.candidates(conn, "anka", [*again, item("anka", 4, "Live updates")], 0.7)
    assert {s.article.id for s in found.stories} == {"anka-1", "anka-3", "meridian-2"}
    assert found.uses["liveupdates"] == {("anka", WHEN.toordinal()), ("meridian", WHEN.toordinal())}
    conn.close()
