"""The store contract: every test runs on SQLite (a file in tmp_path) and on PostgreSQL (a
schema of its own), through the ``store`` fixtures of conftest.py."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregator.dedup import fold
from aggregator.errors import StoreError, StoriesDeleted
from aggregator.models import (
    Article,
    ArticleQuery,
    Holder,
    IngestResult,
    PendingStories,
    Problem,
    PublishedFile,
)
from aggregator.store import Store, open_store
from aggregator.store.sql import Db, folds, ingest, published, write
from aggregator.store.sql import store as sql_store
from tests.builders import T0, WHEN, article
from tests.stores import (
    ISTANBUL,
    KARABAKH,
    KARABAKH_REWORDED,
    everything,
    seed,
    state,
)

BODY = "<p>Delegations met again in Istanbul on Monday to discuss the grain corridor.</p>"


@pytest.mark.parametrize("seed_first", [True, False])
def test_a_seed_and_a_feed_entry_of_one_story_become_one_article(
    store: Store, seed_first: bool
) -> None:
    from_seed = seed(
        2, "Grain corridor talks resume in Istanbul", summary="Talks resume.", content=BODY
    )
    from_feed = article(
        "aa",
        7,
        "GRAIN CORRIDOR TALKS RESUME IN ISTANBUL",
        published=WHEN + timedelta(hours=3),
        summary="Talks on the grain corridor resume, says the ministry in a statement.",
    )
    order = [("seeds", from_seed), ("aa", from_feed)]
    first, second = order if seed_first else order[::-1]
    assert store.ingest(first[0], [first[1]], state(first[0])).new == (first[1].id,)
    result = store.ingest(second[0], [second[1]], state(second[0]))
    assert result.merged == (first[1].id,) and not result.new

    [story] = everything(store)
    assert set(story.sources) == {"seeds", "aa"}
    assert story.content == BODY
    assert story.link == "https://aa.example/7"
    assert set(story.links) == {from_seed.link, from_feed.link}
    assert story.path == "seeds/002.txt"
    assert story.published == WHEN
    assert story.first_seen is not None
    assert store.article(story.id) == story
    assert store.article_counts() == {"seeds": 1, "aa": 1}


def test_re_ingesting_the_same_articles_is_all_unchanged(store: Store) -> None:
    batch = [article("aa", n, f"Headline number {n}") for n in range(20)]
    assert len(store.ingest("aa", batch, state("aa")).new) == 20
    again = store.ingest("aa", batch, state("aa"))
    assert (again.new, again.merged, again.updated, again.unchanged) == ((), (), (), 20)
    assert len(everything(store)) == 20


def test_a_late_night_story_in_istanbul_matches_the_same_story_the_utc_day_before(
    store: Store,
) -> None:
    local = datetime(2024, 11, 11, 1, 30, tzinfo=ISTANBUL)  # 22:30Z on the 10th
    store.ingest("seeds", [seed(1, KARABAKH, published=local.astimezone(UTC))], state("seeds"))
    at_2300z = datetime(2024, 11, 10, 23, 0, tzinfo=UTC)
    assert store.ingest("aa", [article("aa", 1, KARABAKH, published=at_2300z)], state("aa")).merged
    next_day = datetime(2024, 11, 11, 22, 30, tzinfo=UTC)
    assert store.ingest("bb", [article("bb", 1, KARABAKH, published=next_day)], state("bb")).merged
    far = WHEN + timedelta(days=3)
    assert store.ingest("cc", [article("cc", 1, KARABAKH, published=far)], state("cc")).new
    assert [len(a.sources) for a in everything(store)] == [1, 3]


def test_an_edited_entry_updates_its_story(store: Store) -> None:
    store.ingest("aa", [article("aa", 1, "Ferry to Izmir opens", summary="Soon.")], state("aa"))
    edited = article(
        "aa", 1, "Ferry to Izmir opens in spring", summary="In spring.", updated=WHEN + timedelta(1)
    )
    assert store.ingest("aa", [edited], state("aa")).updated == ("aa-1",)
    [story] = everything(store)
    assert (story.title, story.summary, story.updated) == (
        edited.title,
        "In spring.",
        edited.updated,
    )
    # The new headline is now the story's dedup key.
    assert store.ingest(
        "bb", [article("bb", 1, "Ferry to Izmir opens in spring")], state("bb")
    ).merged


Prune = Callable[[Db], object]


def _pruned_after_the_first_lookup(monkeypatch: pytest.MonkeyPatch, prune: Prune) -> None:
    """Run ``prune`` in the ingest's transaction right after its first lookup: what another
    node's prune commits between a pass's lookup and its write (on PostgreSQL)."""
    found = ingest.lookup.candidates
    looked: list[None] = []

    def pruned_meanwhile(db: Db, *args: Any) -> Any:
        got = found(db, *args)
        if not looked:
            looked.append(None)
            prune(db)
        return got

    monkeypatch.setattr(ingest.lookup, "candidates", pruned_meanwhile)


def _as_stored(store: Store, labels: Sequence[str], words: Sequence[str]) -> tuple[Any, ...]:
    """Every story, its carriers' fold reasons, the stories under each of ``labels`` and
    those the search of each of ``words`` finds."""
    stories = everything(store)
    return (
        stories,
        [store.fold_reasons(s.id) for s in stories],
        [[s.id for s in everything(store, sections=(label,))] for label in labels],
        [[s.id for s in everything(store, search=word)] for word in words],
    )


def _raced_and_after(
    store: Store,
    other: Store,
    monkeypatch: pytest.MonkeyPatch,
    *,
    stored: Sequence[Article],
    prune: Prune,
    edits: Sequence[Article],
) -> tuple[tuple[IngestResult, Any], tuple[IngestResult, Any]]:
    """The result of the ``edits`` pass of "aa" and the store after it, where ``prune``
    deleted stories of ``stored`` between its lookup and its write (``store``), and where it
    did before the pass (``other``): the same is wanted."""
    if_after: list[tuple[IngestResult, Any]] = []
    for each, raced in ((store, True), (other, False)):
        each.ingest("aa", stored, state("aa"), now=T0)
        assert isinstance(each, sql_store.SqlStore)
        with monkeypatch.context() as patched:
            if raced:
                _pruned_after_the_first_lookup(patched, prune)
            else:
                each._write(prune)
            result = each.ingest("aa", edits, state("aa"), now=T0 + timedelta(hours=1))
        if_after.append((result, _as_stored(each, ("Travel", "Sea"), ("ferry", "spring"))))
    return if_after[0], if_after[1]


@pytest.fixture
def other_store(new_location: Callable[[], str]) -> Iterator[Store]:
    """Another empty store of the same backend as ``store``."""
    opened = open_store(new_location())
    yield opened
    opened.close()


def test_a_story_pruned_by_another_node_after_the_lookup_is_stored_again(
    store: Store, other_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its row was put back by the upsert, without its carriers (no fold reason), and its
    # labels and text were written only where the edit changed them.
    edited = article("aa", 1, "Ferry to Izmir opens", summary="In spring.", tags=("Sea",))
    raced, after = _raced_and_after(
        store,
        other_store,
        monkeypatch,
        stored=[article("aa", 1, "Ferry to Izmir opens", tags=("Travel",))],
        prune=lambda db: db.execute("DELETE FROM articles"),
        edits=[edited],
    )
    assert raced == after
    result, (stories, reasons, by_label, by_word) = raced
    assert result.new == ("aa-1",)
    [story] = stories
    assert (story.summary, story.tags, story.first_seen) == (
        "In spring.",
        ("Sea",),
        T0 + timedelta(hours=1),
    )
    assert [[(c.source, c.guid, c.fold.rule) for c in r or ()] for r in reasons] == [
        [("aa", edited.guid, fold.FIRST)]
    ]
    assert (by_label, by_word) == ([[], ["aa-1"]], [["aa-1"], ["aa-1"]])


@pytest.mark.parametrize("gone", ["aa-1", "aa-2", "aa-3"])
def test_a_pass_whose_stories_are_pruned_in_part_after_the_lookup_is_planned_again(
    store: Store, other_store: Store, monkeypatch: pytest.MonkeyPatch, gone: str
) -> None:
    # aa-1's edit moves its date (its row rewritten with it), aa-2's and aa-3's keep it: the
    # rows rewritten, in row order, before the gone one was noticed are planned again as
    # they were stored
    stored = [article("aa", n, f"Ferry {n} to Izmir opens", tags=("Travel",)) for n in (1, 2, 3)]
    edits = [
        replace(a, summary="In spring.", tags=("Sea",), published=WHEN - timedelta(hours=1))
        if a.id == "aa-1"
        else replace(a, summary="In spring.", tags=("Sea",))
        for a in stored
    ]
    raced, after = _raced_and_after(
        store,
        other_store,
        monkeypatch,
        stored=stored,
        prune=lambda db: db.execute("DELETE FROM articles WHERE id = ?", (gone,)),
        edits=edits,
    )
    assert raced == after
    result, (stories, _, by_label, _) = raced
    assert (result.new, set(result.updated)) == ((gone,), {"aa-1", "aa-2", "aa-3"} - {gone})
    assert [sorted(ids) for ids in by_label] == [[], ["aa-1", "aa-2", "aa-3"]]
    assert {s.id: s.published for s in stories} == {e.id: e.published for e in edits}


def test_a_story_pruned_for_its_age_after_the_lookup_keeps_its_tombstone(
    store: Store, other_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def prune(db: Db) -> None:
        sql_store._prune(db, "other-node", now=T0 + timedelta(days=4), retention=timedelta(3))

    raced, after = _raced_and_after(
        store,
        other_store,
        monkeypatch,
        stored=[article("aa", 1, "Ferry to Izmir opens", tags=("Travel",))],
        prune=prune,
        edits=[article("aa", 1, "Ferry to Izmir opens", summary="In spring.", tags=("Sea",))],
    )
    assert raced == after
    result, (stories, _, _, _) = raced
    assert (result.new, result.updated, result.unchanged, stories) == ((), (), 1, [])


def test_a_pass_whose_stories_keep_being_deleted_fails_after_a_few_plans(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.ingest("aa", [article("aa", 1, "Ferry to Izmir opens")], state("aa"))
    before = everything(store)
    found = ingest.lookup.candidates
    first: list[Any] = []
    lookups: list[None] = []

    def deleted_each_time(db: Db, *args: Any) -> Any:
        # a lookup that finds the story again each time, deleted before each write
        if not first:
            first.append(found(db, *args))
        lookups.append(None)
        db.execute("DELETE FROM articles")
        return first[0]

    edited = article("aa", 1, "Ferry to Izmir opens", summary="In spring.")
    with monkeypatch.context() as patched:
        patched.setattr(ingest.lookup, "candidates", deleted_each_time)
        with pytest.raises(StoriesDeleted, match=r"^aa: a story this pass matched was deleted"):
            store.ingest("aa", [edited], state("aa"))
    assert len(lookups) == ingest.PLANS
    assert everything(store) == before  # nothing of the pass was written


def test_a_split_of_a_story_another_node_pruned_meanwhile_changes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ferry = "Ferry to Izmir opens"
    store.ingest("aa", [article("aa", 1, ferry)], state("aa"))
    store.ingest("bb", [article("bb", 1, ferry)], state("bb"))
    [story] = everything(store)
    before = _as_stored(store, (), ("ferry",))
    rewrite = folds.rewrite_stored

    def pruned_meanwhile(db: Db, *args: Any) -> bool:
        # what another node's prune commits between the split's read and its write
        db.execute("DELETE FROM articles")
        return rewrite(db, *args)

    with monkeypatch.context() as patched:
        patched.setattr(folds, "rewrite_stored", pruned_meanwhile)
        with pytest.raises(StoreError, match="another node deleted this story"):
            store.split(story.id, "bb", now=T0)
    assert _as_stored(store, (), ("ferry",)) == before  # the delete rolled back with it


RATES = "Central bank holds its rate at 50 percent"
REWRITTEN = ("articles", "labels", "carriers")  # what writing a stored story touches


def test_stored_stories_are_rewritten_as_the_upsert_of_every_column_would(
    new_location: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stored story whose date stays is rewritten by an UPDATE that leaves ``published``
    # (and so cannot fire the trigger that copies it): the rows must be the upsert's.
    def collect() -> dict[str, list[tuple[Any, ...]]]:
        opened = open_store(new_location())
        opened.ingest(
            "aa",
            [article("aa", 1, tags=("World",)), article("aa", 2, title=RATES)],
            state("aa"),
            now=T0,
        )
        opened.ingest(
            "bb",
            [
                article("bb", 1, published=WHEN - timedelta(hours=1), content="<p>Longer</p>"),
                article(
                    "bb",
                    2,
                    title=RATES,
                    tags=("Economy", "World"),
                    published=WHEN + timedelta(hours=1),
                ),
            ],
            state("bb"),
            now=T0,
        )
        edited = article("aa", 2, title=RATES, summary="<p>Edited</p>", section="Markets")
        opened.ingest("aa", [edited], state("aa"), now=T0 + timedelta(hours=1))
        assert isinstance(opened, sql_store.SqlStore)
        tables = opened._read(
            lambda db: {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in REWRITTEN}
        )
        opened.close()
        return {t: sorted(map(tuple, got), key=repr) for t, got in tables.items()}

    seen: list[bool] = []
    redated = write._redated
    monkeypatch.setattr(write, "_redated", lambda s: seen.append(redated(s)) or seen[-1])
    rewritten = collect()
    assert set(seen) == {True, False}, "both ways of writing a stored story were taken"
    monkeypatch.setattr(write, "_redated", lambda s: True)
    assert rewritten == collect()


def test_an_entry_edited_after_a_merge_keeps_the_richest_text(store: Store) -> None:
    store.ingest("seeds", [seed(1, "Ferry to Izmir opens", content=BODY)], state("seeds"))
    store.ingest("aa", [article("aa", 1, "Ferry to Izmir opens", summary="Short.")], state("aa"))
    longer = article("aa", 1, "Ferry to Izmir opens", summary="Short.", updated=WHEN + timedelta(1))
    assert store.ingest("aa", [longer], state("aa")).updated == ("seeds-1",)
    [story] = everything(store)
    assert (story.content, story.updated) == (BODY, longer.updated)


def test_two_entries_of_one_feed_stay_two_stories_even_with_one_headline(
    store: Store,
) -> None:
    twice = [article("aa", 1, "Chess olympiad bid"), article("aa", 2, "Chess Olympiad bid!")]
    result = store.ingest("aa", twice, state("aa"))
    assert result.new == ("aa-1", "aa-2")
    assert store.ingest("aa", [article("aa", 3, "CHESS OLYMPIAD BID")], state("aa")).new


def test_near_duplicates_are_folded_only_when_asked(store: Store, near_store: Store) -> None:
    other = "Armenia, Azerbaijan leaders meet in Moscow"
    for s in (store, near_store):
        s.ingest("aa", [article("aa", 1, KARABAKH), article("aa", 2, other)], state("aa"))
        s.ingest("bb", [article("bb", 1, KARABAKH_REWORDED)], state("bb"))
    assert len(everything(store)) == 3
    folded = everything(near_store)
    assert len(folded) == 2
    assert {a.title: a.sources for a in folded}[KARABAKH] == ("aa", "bb")
    later = article("cc", 1, KARABAKH_REWORDED, published=WHEN + timedelta(days=3))
    assert near_store.ingest("cc", [later], state("cc")).new


def test_turning_near_duplicates_on_later_still_finds_earlier_stories(store_location: str) -> None:
    path = store_location
    plain = open_store(path)
    plain.ingest("aa", [article("aa", 1, KARABAKH)], state("aa"))
    plain.close()
    near = open_store(path, similarity=0.8)
    assert near.ingest("bb", [article("bb", 1, KARABAKH_REWORDED)], state("bb")).merged
    near.close()
    plain = open_store(path)
    edited = article("aa", 1, KARABAKH, summary="Edited while matching was off.")
    plain.ingest("aa", [edited, article("aa", 2, "Ferry strike ends in Istanbul")], state("aa"))
    plain.close()
    near = open_store(path, similarity=0.8)
    reworded = article("cc", 1, "Ferry strike ends in Istanbul today")
    assert near.ingest("cc", [reworded], state("cc")).merged == ("aa-2",)
    near.close()


def test_an_edit_keeps_search_and_sections_in_step(store: Store) -> None:
    first = article("aa", 1, "Ferry strike ends", summary="Crews return.", tags=("World",))
    store.ingest("aa", [first], state("aa"))
    retagged = article("aa", 1, "Ferry strike ends", summary="Crews return.", tags=("Europe",))
    store.ingest("aa", [retagged], state("aa"))
    assert everything(store, sections=("world",)) == []
    assert [a.id for a in everything(store, sections=("europe",), search="crews")] == ["aa-1"]
    rewritten = article("aa", 1, "Ferry strike ends", summary="Sailors return.", tags=("Europe",))
    store.ingest("aa", [rewritten], state("aa"))
    assert everything(store, search="crews") == []
    assert [a.id for a in everything(store, search="sailors", sections=("EUROPE",))] == ["aa-1"]


def test_near_duplicates_of_one_feed_are_not_folded(near_store: Store) -> None:
    both = [article("aa", 1, KARABAKH), article("aa", 2, KARABAKH_REWORDED)]
    assert near_store.ingest("aa", both, state("aa")).new == ("aa-1", "aa-2")
    assert near_store.ingest("aa", [article("aa", 3, KARABAKH)], state("aa")).new


def test_pruned_stories_leave_tombstones_until_twice_the_retention(store: Store) -> None:
    store.ingest("aa", [article("aa", 1, "Old story"), article("aa", 2, "Other")], state("aa"))
    now = datetime.now(UTC)
    assert store.prune(now=now, retention=timedelta(days=90)) == 0
    later = now + timedelta(days=100)
    assert store.prune(now=later, retention=timedelta(days=90)) == 2
    assert everything(store) == [] and store.article("aa-1") is None
    repost = article("bb", 1, "OLD STORY", published=WHEN + timedelta(hours=20))
    assert store.ingest("bb", [repost], state("bb")).unchanged == 1
    assert everything(store) == []
    store.prune(now=now + timedelta(days=181), retention=timedelta(days=90))
    assert store.ingest("bb", [repost], state("bb")).new == ("bb-1",)


def test_search_matches_every_word_phrases_and_never_fails(store: Store) -> None:
    store.ingest(
        "aa",
        [
            article("aa", 1, "Grain deal extended", content="<p>Türkiye brokered the deal.</p>"),
            article("aa", 2, "Deal on grain prices", summary="A joint statement on grain."),
            article("aa", 3, "Ferry to Izmir", summary="<b>Strong</b> winds delay the ferry"),
        ],
        state("aa"),
    )

    def ids(text: str) -> list[str]:
        return sorted(a.id for a in store.articles(ArticleQuery(search=text)))

    assert ids("grain deal") == ["aa-1", "aa-2"]
    assert ids('"grain deal"') == ["aa-1"]
    assert ids('"joint statement"') == ["aa-2"]
    assert ids("Türkiye") == ids("turkiye") == ["aa-1"]
    assert ids("izm*") == ["aa-3"]
    assert ids("b") == []  # tags are not indexed
    for odd in ['"', "-", "*", ":", 'grain" OR', "NEAR(", "a:b -c", "((", "^", "'", "_", ""]:
        ids(odd)


def test_queries_filter_and_page_newest_first(store: Store) -> None:
    many = [
        article("aa", n, f"Story {n}", published=WHEN + timedelta(minutes=n), tags=("Sport",))
        for n in range(1200)
    ]
    store.ingest("aa", many, state("aa"))
    store.ingest("seeds", [seed(1, "Seeded", section="World")], state("seeds"))
    listed = everything(store)
    assert len(listed) == 1201
    assert [a.published for a in listed] == sorted((a.published for a in listed), reverse=True)
    assert [a.id for a in everything(store, limit=3)] == ["aa-1199", "aa-1198", "aa-1197"]
    assert len(everything(store, limit=700)) == 700
    assert [a.id for a in everything(store, sections=("world",))] == ["seeds-1"]
    assert len(everything(store, sections=("SPORT",), limit=10)) == 10
    assert [a.id for a in everything(store, seeds_only=True)] == ["seeds-1"]
    assert [a.id for a in everything(store, sources=("seeds",))] == ["seeds-1"]
    assert len(everything(store, since=WHEN + timedelta(minutes=1190))) == 10
    assert [a.id for a in everything(store, ids=("aa-5", "seeds-1", "nope"))] == [
        "aa-5",
        "seeds-1",
    ]


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read stories 4 at a time, so a handful of stories crosses several page boundaries."""
    monkeypatch.setattr(sql_store, "BATCH", 4)


def mixed(store: Store) -> list[Article]:
    """Stories of two sources over common, rare and differently written labels, several
    published at the same instant (the page boundary must still order them by pk)."""
    for source, count in (("aa", 30), ("bb", 9)):
        batch = [
            article(
                source,
                n,
                f"{source} story {n} about {'ferries' if n % 4 == 0 else 'grain'}",
                published=WHEN + timedelta(minutes=n // 3),
                section="Science" if n % 10 == 7 else "",
                tags=("World",) if n % 3 else ("WORLD", "TÜRKİYE"),
            )
            for n in range(count)
        ]
        store.ingest(source, batch, state(source))
    return everything(store)


def expected(stories: list[Article], keep: object) -> list[str]:
    return [a.id for a in stories if keep(a)]  # type: ignore[operator]


@pytest.mark.usefixtures("small_pages")
def test_sections_and_sources_list_newest_first_across_pages(store: Store) -> None:
    stories = mixed(store)
    order = [(a.published, a.id) for a in stories]
    assert len(stories) == 39 and order == sorted(order, key=lambda o: o[0], reverse=True)

    def labelled(*names: str) -> object:
        return lambda a: any(n in (a.section, *a.tags) for n in names)

    assert [a.id for a in everything(store, sections=("world",))] == expected(
        stories, labelled("World", "WORLD")
    )
    assert [a.id for a in everything(store, sections=("SCIENCE",))] == expected(
        stories, labelled("Science")
    )
    both = everything(store, sections=("Science", "Türkiye", "science"))
    assert [a.id for a in both] == expected(stories, labelled("Science", "TÜRKİYE"))
    assert [a.id for a in everything(store, sources=("bb",))] == expected(
        stories, lambda a: a.source == "bb"
    )
    assert [a.id for a in everything(store, sources=("bb", "aa"), limit=9)] == [
        a.id for a in stories[:9]
    ]
    assert [
        a.id for a in everything(store, sections=("world",), sources=("bb",), limit=5)
    ] == expected(stories, lambda a: a.source == "bb" and bool(a.tags))[:5]
    since = WHEN + timedelta(minutes=5)
    assert [a.id for a in everything(store, sections=("world",), since=since)] == expected(
        stories, lambda a: a.published >= since and bool(a.tags)
    )
    assert everything(store, sections=()) == everything(store, sources=()) == []
    assert everything(store, sections=("nowhere",)) == []


@pytest.mark.usefixtures("small_pages")
def test_search_with_a_section_lists_the_newest_matches_first(store: Store) -> None:
    stories = mixed(store)
    ferries = everything(store, search="ferries")
    assert [a.id for a in ferries] == expected(stories, lambda a: "ferries" in a.title)
    in_turkiye = everything(store, search="ferries", sections=("türkiye",))
    assert [a.id for a in in_turkiye] == expected(
        stories, lambda a: "ferries" in a.title and "TÜRKİYE" in a.tags
    )
    assert [a.id for a in everything(store, search="grain", sources=("bb",), limit=3)] == expected(
        stories, lambda a: "grain" in a.title and a.source == "bb"
    )[:3]


@pytest.mark.parametrize("written", ["Türkiye", "TÜRKİYE", "TÜRKIYE", "türkiye", "ＴÜＲＫＩＹＥ"])
def test_sections_match_in_any_unicode_case(store: Store, written: str) -> None:
    store.ingest("aa", [article("aa", 1, "Ferry timetable", section=written)], state("aa"))
    for asked in ("Türkiye", "TÜRKİYE", "türkiye"):
        assert [a.id for a in everything(store, sections=(asked,))] == ["aa-1"]


def test_a_story_carried_twice_by_one_source_is_listed_once(store: Store) -> None:
    # two entries of one source with one id (a seed file copied) are one story
    store.ingest(
        "aa",
        [article("aa", 1, "Port reopens"), article("aa", 2, "PORT REOPENS", id="aa-1")],
        state("aa"),
    )
    store.ingest(
        "aa", [article("aa", 3, "Later story", published=WHEN - timedelta(days=5))], state("aa")
    )
    assert [a.id for a in everything(store, sources=("aa",), limit=2)] == ["aa-1", "aa-3"]


def test_an_earlier_copy_moves_its_story_in_section_and_source_order(store: Store) -> None:
    store.ingest("aa", [article("aa", 1, "Ataturk Dam opens", tags=("World",))], state("aa"))
    store.ingest(
        "aa",
        [article("aa", 2, "Bridge opens", published=WHEN - timedelta(hours=1), tags=("World",))],
        state("aa"),
    )
    assert [a.id for a in everything(store, sections=("world",))] == ["aa-1", "aa-2"]
    earlier = article("bb", 1, "Ataturk Dam opens", published=WHEN - timedelta(hours=2))
    assert store.ingest("bb", [earlier], state("bb")).merged == ("aa-1",)
    assert [a.id for a in everything(store, sections=("world",))] == ["aa-2", "aa-1"]
    assert [a.id for a in everything(store, sources=("aa",))] == ["aa-2", "aa-1"]


def test_source_state_round_trips_and_is_saved_with_the_ingest(store: Store) -> None:
    saved = state(
        "seeds",
        last_fetch=WHEN,
        next_due=WHEN + timedelta(minutes=15),
        last_status=200,
        error_streak=2,
        last_error="seeds: boom",
        disabled=True,
        file_stamps={"001.txt": "1700000000:532"},
        item_keys=frozenset({"0f" * 16, "a1" * 16}),
    )
    assert store.source_state("seeds") is None
    store.ingest("seeds", [], saved)
    assert store.source_state("seeds") == saved
    store.save_source_state(state("aa", etag='"v1"', url="https://aa.example/rss"))
    assert sorted(store.source_states()) == ["aa", "seeds"]


def test_a_saved_state_reads_back_its_entry_keys_kept_replaced_or_emptied(store: Store) -> None:
    holder = Holder(node="desk", pid=1)
    first = state("aa", last_status=200, item_keys=frozenset({"0f" * 16, "a1" * 16}))
    not_modified = replace(first, last_status=304, etag='"v2"', last_fetch=WHEN)
    edited = replace(not_modified, item_keys=frozenset({"a1" * 16, "b2" * 16}))
    for saved in (first, not_modified, edited, replace(edited, item_keys=frozenset())):
        store.release(holder, [], states=[saved])
        assert store.source_state("aa") == store.source_states()["aa"] == saved


def test_a_release_sends_no_keys_that_are_those_read_and_writes_changed_ones(store: Store) -> None:
    holder = Holder(node="desk", pid=1)
    read = state("aa", last_status=200, item_keys=frozenset({"0f" * 16, "a1" * 16}))
    stored = replace(read, item_keys=frozenset({"c3" * 16}))  # stands for keys not re-sent
    store.release(holder, [], states=[stored])
    not_modified = replace(read, last_status=304, last_fetch=WHEN)

    store.release(holder, [], states=[not_modified], read={"aa": read})
    assert store.source_state("aa") == replace(not_modified, item_keys=stored.item_keys)

    edited = replace(not_modified, item_keys=frozenset({"b2" * 16}))
    store.release(holder, [], states=[edited], read={"aa": read})
    assert store.source_state("aa") == edited
    store.release(holder, [], states=[replace(edited, name="bb")], read={"aa": read})
    assert store.source_state("bb") == replace(edited, name="bb")  # never read: its keys sent


def test_threads_ingesting_at_once_keep_every_story_once(store: Store) -> None:
    sources = [f"src{i}" for i in range(6)]
    errors: list[BaseException] = []

    def collect(source: str) -> None:
        try:
            for round_ in range(5):
                batch = [article(source, n, f"Shared story {n}") for n in range(round_ * 10, 60)]
                store.ingest(source, batch, state(source, error_streak=round_))
                list(store.articles(ArticleQuery(limit=20)))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=collect, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stories = everything(store)
    assert len(stories) == 60
    assert all(set(s.sources) == set(sources) for s in stories)
    assert store.article_counts() == dict.fromkeys(sources, 60)
    assert {s.error_streak for s in store.source_states().values()} == {4}


def test_what_ingest_and_prune_change_stays_pending_until_a_publish_clears_it(
    store: Store,
) -> None:
    store.ingest(
        "aa", [article("aa", 1, "Ferry timetable"), article("aa", 2, "Wheat harvest")], state("aa")
    )
    read = store.pending_stories(at_most=10)
    assert read.ids == {"aa-1", "aa-2"}
    # changed again (and a new story) after the publish read what was pending
    store.ingest("aa", [article("aa", 1, "Ferry timetable", summary="Now daily")], state("aa"))
    store.ingest("bb", [article("bb", 3, "Court ruling")], state("bb"))
    store.ingest("aa", [article("aa", 1, "Ferry timetable", summary="Now daily")], state("aa"))
    store.record_published([], [], tokens=read.tokens)
    assert store.pending_stories(at_most=10).ids == {"aa-1", "bb-3"}
    store.record_published([], [], tokens=store.pending_stories(at_most=10).tokens)
    assert store.pending_stories(at_most=10) == PendingStories(ids=frozenset())
    assert store.prune(now=datetime.now(UTC) + timedelta(days=2), retention=timedelta(days=1)) == 3
    assert store.pending_stories(at_most=10).ids == {"aa-1", "aa-2", "bb-3"}, "pruned: drop them"


def test_each_node_publishes_its_own_pending_stories_and_manifest(store_location: str) -> None:
    one, two = (open_store(store_location, node=name) for name in ("desk1", "desk2"))
    assert one.pending_stories().ids == two.pending_stories().ids == frozenset()  # joined
    one.ingest("aa", [article("aa", 1, "Ferry timetable")], state("aa"))
    two.ingest("bb", [article("bb", 2, "Wheat harvest")], state("bb"))
    page = PublishedFile(name="all.json", sha256="ab" * 32, size=120, mtime_ns=7)
    one.record_published([page], [], tokens=one.pending_stories().tokens)
    assert one.pending_stories().ids == frozenset()
    assert two.pending_stories().ids == {"aa-1", "bb-2"}, "desk1's publish left desk2's alone"
    assert (one.published_files(), two.published_files()) == ({"all.json": page}, {})
    late = open_store(store_location, node="desk3")
    assert late.published_files() == {}, "a new node has no manifest: it publishes everything"
    for opened in (one, two, late):
        opened.close()


def test_a_story_marked_again_while_a_node_publishes_stays_pending(store: Store) -> None:
    store.ingest("aa", [article("aa", 1, "Ferry timetable")], state("aa"))
    read = store.pending_stories()
    store.ingest("aa", [article("aa", 1, "Ferry timetable", summary="Now daily")], state("aa"))
    store.record_published([], [], tokens=read.tokens)
    assert store.pending_stories().ids == {"aa-1"}


def test_a_node_unseen_for_a_week_is_forgotten_with_its_publish_state(
    store_location: str,
) -> None:
    gone, here = (open_store(store_location, node=name) for name in ("gone", "here"))
    assert isinstance(gone, sql_store.SqlStore) and isinstance(here, sql_store.SqlStore)
    assert gone.published_files() == here.published_files() == {}  # both joined
    gone.record_published(
        [PublishedFile(name="a.rss", sha256="ab", size=1, mtime_ns=1)], [], tokens=()
    )
    here.ingest("aa", [article("aa", 1, "Ferry timetable")], state("aa"))
    later = datetime.now(UTC) + published.FORGET_AFTER + timedelta(hours=1)
    here._write(lambda db: published.join(db, "here", now=later))
    here.ingest("aa", [article("aa", 2, "Wheat harvest")], state("aa"))
    assert gone._read(lambda db: published.pending(db, "gone", at_most=None)).ids == frozenset()
    assert gone._read(lambda db: published.manifest(db, "gone")) == {}
    assert here.pending_stories().ids == {"aa-1", "aa-2"}
    gone.close()
    here.close()


def test_a_node_that_has_joined_reads_its_publish_state_without_writing(
    store_location: str,
) -> None:
    # Each publish reads the pending stories and the manifest: joining again for each was
    # two write transactions a publish that only said the node was still there.
    desk = open_store(store_location, node="desk1")
    assert isinstance(desk, sql_store.SqlStore)
    assert desk.pending_stories().ids == frozenset()  # joins
    desk._write(lambda db: db.execute("UPDATE nodes SET last_seen = 1 WHERE name = 'desk1'"))
    desk.pending_stories()
    desk.published_files()
    seen = desk._read(lambda db: db.execute("SELECT last_seen FROM nodes").fetchall())
    desk.close()
    assert [tuple(row) for row in seen] == [(1,)]


def test_a_file_version_keeps_the_time_it_first_appeared_on_any_node(store_location: str) -> None:
    one, two = (open_store(store_location, node=name) for name in ("desk1", "desk2"))
    first, later = (
        datetime(2026, 3, 3, 12, 0, 0, 7, tzinfo=UTC),
        datetime(2026, 3, 3, 12, 5, tzinfo=UTC),
    )
    assert one.file_times({"all.rss": "ab", "x.html": "cd"}, now=first) == {
        "all.rss": first,
        "x.html": first,
    }
    assert two.file_times({"all.rss": "ab"}, now=later) == {"all.rss": first}, "same bytes"
    assert two.file_times({"all.rss": "ef"}, now=later) == {"all.rss": later}, "new bytes"
    assert one.file_times({}, now=later) == {}
    one.close()
    two.close()


def test_too_many_pending_stories_are_counted_and_their_seed_stories_listed(
    store: Store,
) -> None:
    store.ingest("aa", [article("aa", n, f"Story {n}") for n in range(5)], state("aa"))
    store.ingest("seeds", [seed(1, "Ferry timetable")], state("seeds"))
    assert store.pending_stories(at_most=6).ids is not None
    many = store.pending_stories(at_most=5)
    assert (many.ids, many.seeds) == (None, {"seeds-1"})
    store.prune(now=datetime.now(UTC) + timedelta(days=2), retention=timedelta(days=1))
    assert store.pending_stories(at_most=5).seeds == {"seeds-1"}, "pruned: its page must go"


def test_the_publish_manifest_keeps_each_file_until_it_is_removed(store: Store) -> None:
    feed = PublishedFile(
        name="all.json",
        sha256="ab" * 32,
        size=120,
        mtime_ns=7,
        lists=("aa-2", "aa-1"),
        built_for="c1",
    )
    page = PublishedFile(name="articles/x.html", sha256="cd" * 32, size=9, mtime_ns=8)
    store.record_published([feed, page], [], tokens=())
    assert store.published_files() == {"all.json": feed, "articles/x.html": page}
    newer = PublishedFile(name="all.json", sha256="ef" * 32, size=99, mtime_ns=9, lists=())
    store.record_published([newer], ["articles/x.html"], tokens=())
    assert store.published_files() == {"all.json": newer}


def test_the_sources_problems_are_kept_as_a_publish_records_them(store_location: str) -> None:
    opened = open_store(store_location)
    assert opened.problems() == []
    since = datetime(2026, 3, 3, 12, 0, 0, 7, tzinfo=UTC)
    kept = [
        Problem(source="bb", kind="failing", detail="bb: HTTP 500", since=since, changed=since),
        Problem(source="aa", kind="gone", detail="", since=since, changed=since, closed=since),
    ]
    opened.record_published([], [], tokens=(), problems=kept)
    opened.record_published([], [], tokens=())  # a record without problems keeps them
    opened.close()
    reopened = open_store(store_location)
    assert reopened.problems() == kept
    reopened.record_published([], [], tokens=(), problems=kept[1:])
    assert reopened.problems() == kept[1:]
    reopened.close()


NODES = 4  # processes, each standing in for a Wiredesk node with sources of its own
SHARED = 30  # stories every source carries


def _node(location: str, node: int, start: Any) -> None:
    """One node: waits for the others, then ingests the shared stories from each of its
    sources, each in an order of its own, twice over (the second pass edits them)."""
    opened = open_store(location)
    start.wait()
    for round_ in range(2):
        for source in (f"n{node}a", f"n{node}b"):
            batch = [
                article(source, n, f"Shared story {n}", summary=f"Round {round_}")
                for n in random.Random(source).sample(range(SHARED), SHARED)
            ]
            opened.ingest(source, batch, state(source), now=WHEN)
    opened.close()


def test_processes_ingesting_the_same_stories_at_once_store_each_once(
    store: Store, store_location: str
) -> None:
    # the first pass marks the headline word index stale (matching is off), and passes
    # that come at once would queue behind that write: make it before they start
    store.ingest("setup", [], state("setup"))
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(NODES)
    nodes = [spawn.Process(target=_node, args=(store_location, n, start)) for n in range(NODES)]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(timeout=120)
    assert [node.exitcode for node in nodes] == [0] * NODES
    sources = {f"n{n}{x}" for n in range(NODES) for x in "ab"}
    stories = everything(store)
    assert sorted(s.title for s in stories) == sorted(f"Shared story {n}" for n in range(SHARED))
    assert all(set(s.sources) == sources for s in stories)
    assert store.article_counts() == dict.fromkeys(sources, SHARED)
