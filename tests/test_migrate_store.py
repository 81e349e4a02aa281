"""``wiredesk migrate-store``: a SQLite store with every kind of record (merged and
near-duplicate stories, a split, a tombstone, series history, source states, problems)
copied into a new store (SQLite, and PostgreSQL in a schema of the test's own), which then
reads, explains and publishes the same, byte for byte, and copies back the same; a second
run copies nothing; the store itself and a target holding other stories are refused."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.models import Article, ArticleQuery, Problem, SourceState
from aggregator.store import Store, open_store
from aggregator.store.copy import copy_store, same_location
from aggregator.store.records import RecordCounts
from tests.builders import article, files, run_cli

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOW = WHEN + timedelta(hours=2)
SIMILARITY = 0.8
GRAIN = "Grain corridor talks resume in Istanbul with Ukraine and Russia"
CHESS = "Chess olympiad bid by Chennai"
KARABAKH = "Russia, Azerbaijan, Armenia leaders agree joint statement on Karabakh"
KARABAKH_REWORDED = "Leaders of Russia, Azerbaijan, Armenia agree on joint statement about Karabakh"


def story(source: str, n: int, title: str, **fields: object) -> Article:
    """Story ``n`` of ``source`` at ``WHEN``, in section World, with a summary of its own."""
    own = {
        "published": WHEN,
        "summary": f"<p>{title}: what {source} wrote.</p>",
        "section": "World",
    }
    return article(source, n, title, **{**own, **fields})


def fill(store: Store) -> None:
    """Every kind of record: a merged story (two carriers, their own items kept), a
    near-duplicate fold with its score, a split (a veto), a pruned story (a tombstone),
    two stories of the same moment, a seed story, source states and a problem."""
    due = SourceState(
        name="aa",
        etag='"v1"',
        next_due=NOW + timedelta(minutes=15),
        item_keys=frozenset({"0f" * 16, "a1" * 16}),
    )
    store.ingest(
        "old", [story("old", 1, "Ferry strike in Izmir")], SourceState(name="old"), now=WHEN
    )
    store.prune(now=WHEN + timedelta(days=40), retention=timedelta(days=30))
    store.ingest(
        "aa",
        [
            story("aa", 1, GRAIN),
            story("aa", 2, KARABAKH, tags=("Caucasus",)),
            story("aa", 3, "Ferry line opens", published=WHEN - timedelta(hours=1)),
            story("aa", 4, CHESS, published=WHEN - timedelta(hours=1)),
        ],
        due,
        now=NOW,
    )
    store.ingest(
        "bbc",
        [
            story("bbc", 1, GRAIN, content="<p>More from Istanbul.</p>"),
            story("bbc", 2, KARABAKH_REWORDED),
            story("bbc", 4, CHESS, published=WHEN - timedelta(hours=1), author="BBC"),
        ],
        SourceState(name="bbc", last_status=503, error_streak=3, last_error="HTTP 503"),
        now=NOW,
    )
    store.ingest(
        "seeds",
        [
            story(
                "seeds",
                1,
                "New ferry line links Izmir",
                guid="001.txt",
                path="seeds/001.txt",
                link="",
                related=(GRAIN,),
            )
        ],
        SourceState(name="seeds", file_stamps={"001.txt": "17:2"}),
        now=NOW,
    )
    store.split("aa-1", "bbc", now=NOW)
    store.record_published(
        [],
        [],
        tokens=(),
        problems=[
            Problem(source="bbc", kind="failing", detail="HTTP 503", since=WHEN, changed=NOW)
        ],
    )


def config(folder: Path, store: str, feeds: str) -> Path:
    path = folder / f"{feeds}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            store: {store}
            publish: {{dir: {feeds}, base_url: "http://127.0.0.1:8080/"}}
            dedup: {{similarity: {SIMILARITY}}}
            sources:
              - {{name: aa, url: "http://127.0.0.1:9/aa"}}
              - {{name: bbc, url: "http://127.0.0.1:9/bbc"}}
              - {{name: seeds, path: seeds}}
            categories:
              - {{name: world, section: World}}
              - {{name: caucasus, include: [Karabakh]}}
            """
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Path]:
    """The config of a desk whose SQLite store holds every kind of record."""
    (tmp_path / "seeds").mkdir()
    source = str(tmp_path / "data" / "wiredesk.db")
    with closing(open_store(source, similarity=SIMILARITY)) as store:
        fill(store)
    yield config(tmp_path, source, "feeds")


def test_a_copy_reads_explains_and_publishes_the_same(
    desk: Path, tmp_path: Path, new_location: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    target = new_location()
    code, out, err = run_cli(capsys, "migrate-store", "--to", target, "--config", str(desk))
    assert (code, err) == (0, "")
    expected = RecordCounts(
        sources=4,
        stories=6,
        carriers=8,
        fold_vetoes=1,
        tombstones=1,
        headline_uses=9,
        problems=1,
    )
    rows = [line.split() for line in out.splitlines()[2:9]]
    assert [(row[:-3], int(row[-3]), int(row[-2]), int(row[-1])) for row in rows] == [
        (kind.split("_"), n, n, n) for kind, n in expected.items()
    ]
    assert out.splitlines()[-1] == f"done: set store: {target} in {desk} and restart Wiredesk"

    copy = config(tmp_path, target, "copied")
    original = config(tmp_path, str(tmp_path / "data" / "wiredesk.db"), "original")
    merged = "aa-4"
    for argv in (["articles", "--json"], ["sources", "--json"], ["why", merged, "--json"]):
        assert run_cli(capsys, *argv, "--config", str(original)) == run_cli(
            capsys, *argv, "--config", str(copy)
        )
    why = json.loads(run_cli(capsys, "why", "aa-2", "--json", "--config", str(copy))[1])
    assert [c["rule"] for c in why["carriers"]] == ["first carrier", "near-duplicate"]
    for desk_config in (original, copy):
        assert run_cli(capsys, "publish", "--config", str(desk_config))[0] == 0
    published = files(tmp_path / "original")
    assert len(published) > 10 and published == files(tmp_path / "copied")

    code, out, _ = run_cli(capsys, "migrate-store", "--to", target, "--config", str(desk))
    assert code == 0
    again = [line.split() for line in out.splitlines()[2:9]]
    assert [(int(row[-3]), int(row[-2])) for row in again] == [(n, 0) for _, n in expected.items()]


def test_the_copy_holds_every_record_of_the_source_and_copies_back(
    desk: Path, tmp_path: Path, new_location: Callable[[], str]
) -> None:
    source = open_store(str(tmp_path / "data" / "wiredesk.db"), similarity=SIMILARITY)
    target = open_store(new_location(), similarity=SIMILARITY)
    back = open_store(str(tmp_path / "back.db"), similarity=SIMILARITY)
    try:
        assert copy_store(source, target).copied == source.counts()
        assert list(target.export()) == list(source.export())
        # the stories are pending in the copy: its first publish writes every page
        assert target.pending_stories().ids == {a.id for a in source.articles(ArticleQuery())}
        assert copy_store(target, back).copied == source.counts()
        assert list(back.export()) == list(source.export())
        assert back.catch_up_search() == 0, "the copy indexed its stories for search"
    finally:
        for store in (source, target, back):
            store.close()


def test_the_store_itself_is_refused(
    desk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "link.db").symlink_to(tmp_path / "data" / "wiredesk.db")
    code, _, err = run_cli(
        capsys, "migrate-store", "--to", str(tmp_path / "link.db"), "--config", str(desk)
    )
    assert code == 2
    assert err == f"--to: {tmp_path / 'link.db'} is the configured store itself\n"


def test_a_target_holding_other_stories_fails_the_count_check(
    desk: Path, new_location: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    target = new_location()
    with closing(open_store(target)) as busy:
        busy.ingest("zz", [story("zz", 1, "Another desk's story")], SourceState(name="zz"))
    code, _, err = run_cli(capsys, "migrate-store", "--to", target, "--config", str(desk))
    assert code == 1
    assert err == (
        f"error: {target}: after the copy it holds 5 sources (the source 4), 7 stories (the "
        "source 6), 9 carriers (the source 8), 10 headline uses (the source 9): was it empty, "
        "and the source stopped?\n"
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("postgresql://wd@db1/wire", "postgres://wd@DB1:5432/wire", True),
        ("postgresql://wd:secret@db1/wire", "postgresql://wd@db1/wire", True),
        ("postgresql://wd@db1/wire", "postgresql://wd@db2/wire", False),
        ("postgresql://wd@db1/wire", "postgresql://wd@db1/other", False),
        ("postgresql://wd@db1/wire?options=-csearch_path%3Da", "postgresql://wd@db1/wire", False),
        ("data/wiredesk.db", "data/../data/wiredesk.db", True),
    ],
)
def test_same_location(a: str, b: str, same: bool) -> None:
    assert same_location(a, b) is same
