"""Publishing: what each feed holds, that every format reads back, and how files are written."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import feedparser
import pytest

from aggregator.config import Category, Config
from aggregator.errors import PublishError
from aggregator.models import Article, SourceState
from aggregator.publish import publish
from aggregator.publish.files import write_if_changed
from aggregator.publish.items import byline
from aggregator.store import open_store
from tests.builders import article, assert_w3c_shape
from tests.fakes import FakeStore

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
BASE = "https://news.example.org/wire/"


def make_config(folder: Path, **publish_options: Any) -> Config:
    return Config.model_validate(
        {
            "publish": {"dir": str(folder), "base_url": BASE, "max_items": 3, **publish_options},
            "sources": [
                {"name": "wire", "url": "https://wire.example.com/rss", "title": "The Wire"},
                {"name": "daily", "url": "https://daily.example.net/feed", "title": "Daily"},
                {"name": "seeds", "path": str(folder.parent)},
            ],
            "categories": [
                {"name": "caucasus", "title": "Caucasus", "include": ["Baku", "Yerevan"]},
                {"name": "energy", "include": ["gas"], "exclude": ["football"]},
            ],
        }
    )


def story(number: int, title: str, **fields: Any) -> Article:
    """Wire story ``number``, an hour older per number, with a body of its own."""
    own = {
        "id": f"s{number}",
        "published": NOW - timedelta(hours=number),
        "link": f"https://wire.example.com/story/{number}",
        "content": f"<p>Body of story {number}.</p>",
    }
    return article(fields.pop("source", "wire"), number, title, **{**own, **fields})


STORIES = [
    story(1, "Baku hosts gas summit"),
    story(2, "Yerevan football derby", content="<p>Gas lamps on the football pitch</p>"),
    story(3, "Gas prices fall", section="Economy", tags=("Energy",)),
    story(4, "Weather in Paris"),
    story(5, "Baku metro expands"),
    story(6, "Yerevan council meets"),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "feeds"


def parse(path: Path) -> Any:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, (path.name, parsed.get("bozo_exception"))
    return parsed


def files_of(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (story pages too), by its name relative to it."""
    return {str(p.relative_to(folder)): stamp(p) for p in folder.rglob("*") if p.is_file()}


def stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_ino


def test_a_category_holds_exactly_what_its_rule_selects_newest_first(folder: Path) -> None:
    publish(make_config(folder), FakeStore(STORIES), now=NOW)
    energy = parse(folder / "energy.rss")
    assert [e.title for e in energy.entries] == ["Baku hosts gas summit", "Gas prices fall"]
    caucasus = parse(folder / "caucasus.atom")
    assert [e.title for e in caucasus.entries] == [
        "Baku hosts gas summit",
        "Yerevan football derby",
        "Baku metro expands",
    ], "max_items is 3: the newest three of four"
    everything = json.loads((folder / "all.json").read_text())
    assert [i["title"] for i in everything["items"]] == [s.title for s in STORIES[:3]]


def test_a_category_reads_the_store_lazily(folder: Path) -> None:
    many = [story(n, f"Baku story {n}") for n in range(1, 500)]
    store = FakeStore(many)
    config = make_config(folder).model_copy(update={"categories": ()})
    publish(config, store, now=NOW)  # every story is new: each gets its page
    assert store.handed_out == len(many) + 3
    store.handed_out = 0
    store.put(story(500, "Baku story 500"))
    publish(config, store, now=NOW)
    assert store.handed_out == 1 + 3, "the pending story, then the three newest of 'all'"


def test_rss_and_atom_read_back_with_ids_links_and_self(folder: Path) -> None:
    publish(make_config(folder, language="en"), FakeStore(STORIES), now=NOW)
    rss = parse(folder / "caucasus.rss")
    assert rss.version == "rss20"
    assert rss.feed.title == "Wiredesk — Caucasus"
    assert rss.feed.link == BASE
    assert rss.feed.language == "en"
    self_links = [link.href for link in rss.feed.links if link.rel == "self"]
    assert self_links == [f"{BASE}caucasus.rss"]
    first = rss.entries[0]
    assert first.link == "https://wire.example.com/story/1"
    assert first.id.startswith("urn:uuid:") and first.guidislink is False
    assert first.published_parsed[:4] == (2024, 5, 10, 11)
    atom = parse(folder / "caucasus.atom")
    assert atom.version == "atom10"
    assert [link.href for link in atom.feed.links if link.rel == "self"] == [f"{BASE}caucasus.atom"]
    assert [e.id for e in atom.entries] == [e.id for e in rss.entries]
    assert len({e.id for e in atom.entries}) == len(atom.entries)
    assert atom.feed.updated_parsed[:4] == (2024, 5, 10, 11), "the newest story, not the clock"
    assert "Body of story 1." in atom.entries[0].content[0].value


def test_json_feed_has_the_required_keys(folder: Path) -> None:
    publish(make_config(folder), FakeStore(STORIES), now=NOW)
    document = json.loads((folder / "energy.json").read_text(encoding="utf-8"))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] == "Wiredesk — energy"
    assert document["feed_url"] == f"{BASE}energy.json"
    assert [item["title"] for item in document["items"]] == [
        "Baku hosts gas summit",
        "Gas prices fall",
    ]
    for entry in document["items"]:
        assert isinstance(entry["id"], str) and entry["id"]
        assert entry["content_html"]
    assert document["items"][1]["tags"] == ["Economy", "Energy"]


def test_opml_and_index_list_every_feed(folder: Path) -> None:
    publish(make_config(folder), FakeStore(STORIES), now=NOW)
    root = ElementTree.parse(folder / "index.opml").getroot()
    assert root.tag == "opml" and root.get("version") == "2.0"
    outlines = root.findall("./body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        f"{BASE}{name}.rss" for name in ("all", "caucasus", "energy")
    ]
    assert all(o.get("type") == "rss" and o.get("htmlUrl") == BASE for o in outlines)
    assert all(o.get("text") for o in outlines)
    kinds = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
    kinds["json"] = "application/feed+json"
    for name, page in (("all", "index.html"), ("caucasus", "caucasus.html")):
        collector = _LinkTags()
        collector.feed((folder / page).read_text(encoding="utf-8"))
        assert sorted(collector.alternates) == sorted(
            (kinds[suffix], f"{BASE}{name}.{suffix}") for suffix in kinds
        )


class _LinkTags(HTMLParser):
    """Collects the (type, href) of every <link rel="alternate"> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.alternates: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("rel") == "alternate":
            self.alternates.append((values["type"] or "", values["href"] or ""))


def test_special_characters_survive_every_format(folder: Path) -> None:
    title = 'Baku & "Yerevan" <b>talks</b> 🕊️ naïve\x07\x1b'
    content = "<p>Fish &amp; chips &lt;3 — “quoted” 🎉\x00\x0b</p>"
    publish(make_config(folder), FakeStore([story(1, title, content=content)]), now=NOW)
    expected_title = 'Baku & "Yerevan" <b>talks</b> 🕊️ naïve'
    for name in ("caucasus.rss", "caucasus.atom"):
        entry = parse(folder / name).entries[0]
        assert entry.title == expected_title
        body = entry.content[0].value
        assert "Fish &amp; chips &lt;3 — “quoted” 🎉" in body
        assert "\x00" not in body and "\x0b" not in body
    item = json.loads((folder / "caucasus.json").read_text(encoding="utf-8"))["items"][0]
    assert item["title"] == expected_title
    assert item["content_html"].startswith("<p>Fish &amp; chips &lt;3 — “quoted” 🎉</p>")


def test_links_that_are_not_http_are_dropped(folder: Path) -> None:
    evil = story(1, "Baku link", link="javascript:alert(1)", links=("javascript:alert(1)",))
    publish(make_config(folder), FakeStore([evil]), now=NOW)
    for name in ("caucasus.rss", "caucasus.atom"):
        raw = (folder / name).read_text(encoding="utf-8")
        assert "javascript:" not in raw
        assert parse(folder / name).entries[0].title == "Baku link"
    assert "url" not in json.loads((folder / "caucasus.json").read_text())["items"][0]


def test_a_story_from_several_sources_names_every_one(folder: Path) -> None:
    merged = story(
        1,
        "Baku summit ends",
        sources=("daily", "wire", "seeds"),
        links=("https://daily.example.net/a", "https://wire.example.com/story/1"),
    )
    publish(make_config(folder), FakeStore([merged]), now=NOW)
    rss_raw = (folder / "caucasus.rss").read_text(encoding="utf-8")
    assert '<source url="https://daily.example.net/feed">Daily</source>' in rss_raw
    atom = parse(folder / "caucasus.atom").entries[0]
    assert atom.source.title == "Daily"
    assert "Carried by: Daily, The Wire, seeds" in atom.content[0].value
    item = json.loads((folder / "caucasus.json").read_text())["items"][0]
    assert item["_wiredesk"]["sources"] == ["daily", "wire", "seeds"]
    assert item["_wiredesk"]["links"] == list(merged.links)
    assert len(parse(folder / "all.rss").entries) == 1, "one story, not three copies"


def test_hub_link_only_when_configured(folder: Path, tmp_path: Path) -> None:
    hub = "https://hub.example.com/"
    publish(make_config(folder, hub=hub), FakeStore(STORIES), now=NOW)
    for name in ("energy.rss", "energy.atom"):
        links = parse(folder / name).feed.links
        assert [link.href for link in links if link.rel == "hub"] == [hub]
    assert json.loads((folder / "energy.json").read_text())["hubs"] == [
        {"type": "WebSub", "url": hub}
    ]
    plain = tmp_path / "plain"
    publish(make_config(plain), FakeStore(STORIES), now=NOW)
    assert 'rel="hub"' not in (plain / "energy.rss").read_text()
    assert 'rel="hub"' not in (plain / "energy.atom").read_text()


def test_an_empty_feed_is_still_valid_and_stable(folder: Path) -> None:
    report = publish(make_config(folder), FakeStore(), now=NOW)
    assert parse(folder / "energy.atom").entries == []
    assert parse(folder / "energy.rss").entries == []
    again = publish(make_config(folder), FakeStore(), now=NOW + timedelta(days=1))
    assert again.written == () and set(again.unchanged) == set(report.written)


def test_unchanged_content_leaves_files_untouched(folder: Path) -> None:
    config = make_config(folder)
    first = publish(config, FakeStore(STORIES), now=NOW)
    before = {name: stamp(folder / name) for name in first.written}
    second = publish(config, FakeStore(STORIES), now=NOW + timedelta(hours=5))
    assert second.written == () and second.changed_feeds == ()
    assert sorted(second.unchanged) == sorted(first.written)
    assert {name: stamp(folder / name) for name in first.written} == before


def test_a_changed_file_is_replaced_whole_and_no_temp_file_stays(folder: Path) -> None:
    config = make_config(folder)
    publish(config, FakeStore(STORIES), now=NOW)
    energy_before, caucasus_before = stamp(folder / "energy.rss"), stamp(folder / "caucasus.rss")
    report = publish(config, FakeStore([*STORIES, story(0, "Gas deal signed")]), now=NOW)
    assert stamp(folder / "energy.rss")[1] != energy_before[1], "a new inode: os.replace"
    assert stamp(folder / "caucasus.rss") == caucasus_before
    assert "energy.rss" in report.written and "caucasus.rss" in report.unchanged
    assert f"{BASE}energy.atom" in report.changed_feeds
    assert f"{BASE}caucasus.atom" not in report.changed_feeds
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    documents = [b"<a>" + b"x" * 200_000 + b"</a>", b"<b>" + b"y" * 300_000 + b"</b>"]
    write_if_changed(path, documents[0])
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(40):
            write_if_changed(path, documents[round_ % 2])
    finally:
        stop.set()
        reader.join(timeout=10)
    assert seen <= set(documents)


def test_removed_categories_are_cleaned_up_and_other_files_kept(folder: Path) -> None:
    config = make_config(folder)
    store = FakeStore(STORIES)
    publish(config, store, now=NOW)
    (folder / "README.md").write_text("Generated feeds live here.\n")
    (folder / "notes.txt").write_text("keep\n")
    (folder / "manifest.json").write_text('{"name": "a web app"}\n')
    (folder / "podcast.rss").write_text(
        "<rss><channel><generator>Other</generator></channel></rss>"
    )
    # another desk's feed, copied in by hand: it says Wiredesk, but the manifest never held it
    (folder / "mirror.atom").write_bytes((folder / "energy.atom").read_bytes())
    (folder / "mirror.json").write_bytes((folder / "energy.json").read_bytes())
    fewer = config.model_copy(update={"categories": config.categories[:1]})
    report = publish(fewer, store, now=NOW)
    assert sorted(report.removed) == ["energy.atom", "energy.html", "energy.json", "energy.rss"]
    assert not list(folder.glob("energy.*"))
    assert (folder / "README.md").exists() and (folder / "notes.txt").exists()
    assert (folder / "manifest.json").exists() and (folder / "podcast.rss").exists()
    assert (folder / "mirror.atom").exists() and (folder / "mirror.json").exists()
    assert (folder / "caucasus.rss").exists() and (folder / "all.rss").exists()
    outlines = ElementTree.parse(folder / "index.opml").getroot().findall("./body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [f"{BASE}all.rss", f"{BASE}caucasus.rss"]


def test_incremental_publish_rewrites_only_the_touched_categories(folder: Path) -> None:
    config = make_config(folder)
    store = FakeStore(STORIES)
    publish(config, store, now=NOW)
    caucasus = stamp(folder / "caucasus.rss")
    store.put(story(0, "Gas pipeline opens"))
    report = publish(config, store, now=NOW)
    feeds = [f"{name}.{suffix}" for name in ("all", "energy") for suffix in ("rss", "atom", "json")]
    rivers = ["index.html", "energy.html"]
    assert sorted(report.written) == sorted([*feeds, *rivers, "articles/s0.html"])
    # the status files, the OPML and the stylesheet are not even rendered: the sources, their
    # problems and the config are the same
    assert report.unchanged == ()
    assert stamp(folder / "caucasus.rss") == caucasus
    assert parse(folder / "energy.rss").entries[0].title == "Gas pipeline opens"
    assert store.pending == {}, "published: nothing is pending any more"
    nothing = publish(config, store, now=NOW)
    assert nothing.written == nothing.unchanged == nothing.removed == ()
    assert (folder / "index.opml").exists() and (folder / "wiredesk.css").exists()
    (folder / "caucasus.atom").unlink()
    repaired = publish(config, store, now=NOW)
    assert "caucasus.atom" in repaired.written


def test_incremental_publish_drops_a_story_that_left_a_category(folder: Path) -> None:
    config = make_config(folder)
    store = FakeStore(STORIES)
    publish(config, store, now=NOW)
    store.put(story(3, "Prices fall", section="Economy"))
    report = publish(config, store, now=NOW)
    assert "energy.rss" in report.written
    assert [e.title for e in parse(folder / "energy.rss").entries] == ["Baku hosts gas summit"]


def test_seed_stories_get_an_escaped_permalink_page(folder: Path) -> None:
    seed = story(
        1,
        "Baku <script>alert(1)</script> summit",
        link="",
        links=(),
        path="2024/baku.txt",
        source="seeds",
        author="Agency & Co",
        section="World",
        content="<p>First paragraph.</p><p>Second &lt;b&gt; paragraph.</p>",
        related=("Another <i>headline</i>",),
        updated=NOW - timedelta(minutes=30),
    )
    store = FakeStore([seed])
    config = make_config(folder)
    publish(config, store, now=NOW)
    page = (folder / "articles" / "s1.html").read_text(encoding="utf-8")
    assert "<h1>Baku &lt;script&gt;alert(1)&lt;/script&gt; summit</h1>" in page
    assert "<script>" not in page
    assert "<p>Second &lt;b&gt; paragraph.</p>" in page
    assert "Agency: Agency &amp; Co" in page and "Section: World" in page
    assert "<li>Another &lt;i&gt;headline&lt;/i&gt;</li>" in page
    assert 'datetime="2024-05-10T11:00:00+00:00"' in page
    entry = parse(folder / "caucasus.rss").entries[0]
    assert entry.link == f"{BASE}articles/s1.html"
    store.put(seed)
    report = publish(config, store, now=NOW)
    assert "articles/s1.html" in report.unchanged


def test_a_seed_story_links_to_its_own_page_under_the_current_base_url(folder: Path) -> None:
    # Seed copies carry no link: the permalink is made at publish time from the story's id
    # and today's base_url, so an edited headline or a moved site never leaves dead links.
    merged = story(
        1, "Baku summit ends", sources=("seeds", "seeds2"), links=("", ""), link="", path="baku.txt"
    )
    publish(make_config(folder), FakeStore([merged]), now=NOW)
    outputs = [p for p in folder.rglob("*") if p.is_file()]
    pages = re.compile(re.escape(BASE) + r"(articles/[^\s\"'<&]+)")
    linked = {m for p in outputs for m in pages.findall(p.read_text(encoding="utf-8"))}
    assert (folder / "articles" / "s1.html").is_file()
    assert linked == {"articles/s1.html"}


def test_an_unwritable_folder_raises_publish_error_with_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "feeds"
    blocker.write_text("a file where the folder should be\n")
    with pytest.raises(PublishError, match=r"feeds/all\.rss: cannot write"):
        publish(make_config(blocker), FakeStore(STORIES), now=NOW)


def test_feeds_keep_the_rules_the_w3c_validator_checks(folder: Path) -> None:
    odd = story(7, "Baku\x0c <odd> & ‘quotes’", content="<p>a\x01b</p>", tags=("Gas", "gas"))
    seed = story(8, "Yerevan seed", link="", path="seed.txt", source="seeds")
    publish(make_config(folder, hub="https://hub.example.com/"), FakeStore([*STORIES, odd, seed]))
    assert_w3c_shape(folder, BASE)


def test_incremental_publish_lets_old_stories_age_out_of_a_max_age_category(
    folder: Path,
) -> None:
    config = make_config(folder)
    recent = config.model_copy(
        update={
            "categories": (*config.categories, Category(name="recent", max_age=timedelta(hours=2)))
        }
    )
    store = FakeStore(STORIES)
    publish(recent, store, now=NOW)
    before = len(parse(folder / "recent.rss").entries)
    later = NOW + timedelta(days=1)
    report = publish(recent, store, now=later)
    assert "recent.rss" in report.written
    assert len(parse(folder / "recent.rss").entries) == 0 < before


def test_no_story_is_credited_to_the_desk_nor_republishes_an_email(folder: Path) -> None:
    agency = story(1, "Baku hosts gas summit")  # no author of its own
    signed = story(2, "Yerevan gas deal", author="reporter@wire.example.com (Ani Petrosyan)")
    publish(make_config(folder), FakeStore([agency, signed]))
    document = json.loads((folder / "all.json").read_text(encoding="utf-8"))
    assert "authors" not in document and "author" not in document
    assert [i["authors"] for i in document["items"]] == [
        [{"name": "The Wire"}],
        [{"name": "Ani Petrosyan"}],
    ]
    atom = feedparser.parse((folder / "all.atom").read_bytes())
    assert "author" not in atom.feed
    assert [e.author for e in atom.entries] == ["The Wire", "Ani Petrosyan"]
    assert b"@" not in (folder / "all.rss").read_bytes().split(b"<item>", 1)[1]


@pytest.mark.parametrize(
    ("author", "published"),
    [
        ("Ani Petrosyan (ani@wire.example.com)", "Ani Petrosyan"),
        ("ani@wire.example.com (Ani Petrosyan)", "Ani Petrosyan"),
        ("Ani Petrosyan <ani@wire.example.com>", "Ani Petrosyan"),
        ("ani@wire.example.com", ""),
        ("AP (Associated Press)", "AP (Associated Press)"),
    ],
)
def test_an_email_glued_into_a_name_is_dropped(author: str, published: str) -> None:
    assert byline(author) == published


def test_the_store_keeps_what_each_feed_lists_and_a_touched_file_is_not_rewritten(
    folder: Path,
) -> None:
    config = make_config(folder)
    store = FakeStore(STORIES)
    publish(config, store, now=NOW)
    assert store.manifest["energy.json"].lists == ("s1", "s3")
    assert store.manifest["caucasus.rss"].lists == ("s1", "s2", "s5")
    energy = folder / "energy.rss"
    inode = energy.stat().st_ino
    os.utime(energy, ns=(1, 1))  # the same bytes under another stat: a copied folder
    report = publish(config, store, now=NOW)
    assert report.written == () and energy.stat().st_ino == inode
    assert store.manifest["energy.rss"].mtime_ns == 1, "the new stat is remembered"


def test_a_config_edit_rewrites_the_files_it_changes_with_no_story_pending(folder: Path) -> None:
    seed = story(1, "Baku seed", link="", path="baku.txt", source="seeds")
    config = make_config(folder)
    store = FakeStore([seed, *STORIES[1:]])
    publish(config, store, now=NOW)
    narrower = config.model_copy(
        update={"categories": (config.categories[0], Category(name="energy", include=("council",)))}
    )
    report = publish(narrower, store, now=NOW)
    energy = ["energy.atom", "energy.html", "energy.json", "energy.rss"]
    # and the pages that show which categories a story is in: of the stories that left or
    # joined energy, and the river of all
    assert sorted(report.written) == ["articles/s3.html", "articles/s6.html", *energy, "index.html"]
    assert [e.title for e in parse(folder / "energy.rss").entries] == ["Yerevan council meets"]
    moved = narrower.model_copy(
        update={"publish": narrower.publish.model_copy(update={"base_url": "https://new.example/"})}
    )
    report = publish(moved, store, now=NOW)
    # every feed and river, the OPML, the pages of the five stories a category lists (not
    # of s4, which none does) and the sources page and feeds
    assert len(report.written) == 3 * 4 + 1 + 5 + 3
    assert "articles/s4.html" not in report.written
    assert "https://new.example/articles/s1.html" in (folder / "all.rss").read_text()


def test_a_pruned_story_leaves_its_feeds_and_its_page(folder: Path) -> None:
    old = story(9, "Baku seed from long ago", link="", path="baku.txt", source="seeds")
    config = make_config(folder)
    store = FakeStore([*STORIES[:2], old])
    publish(config, store, now=NOW)
    assert (folder / "articles" / "s9.html").exists()
    assert store.prune(now=NOW, retention=timedelta(hours=8)) == 1
    report = publish(config, store, now=NOW)
    assert "articles/s9.html" in report.removed
    assert not (folder / "articles" / "s9.html").exists()
    assert [e.title for e in parse(folder / "caucasus.rss").entries] == [
        "Baku hosts gas summit",
        "Yerevan football derby",
    ]
    assert "articles/s9.html" not in store.manifest


def test_too_many_pending_stories_render_every_category_without_reading_them(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aggregator.publish

    monkeypatch.setattr(aggregator.publish, "_MATCHED_AT_MOST", 2)
    seed = story(7, "Baku seed", link="", path="baku.txt", source="seeds")
    store = FakeStore([*STORIES, seed])
    publish(make_config(folder), store, now=NOW)
    store.put(story(0, "Gas deal signed"), story(8, "Paris rain"), story(9, "Rome sun"), seed)
    store.queries.clear()
    report = publish(make_config(folder), store, now=NOW)
    by_id = [q.ids for q in store.queries if q.ids is not None]
    assert by_id == [("s7",)], "only the pending seed story is read by id, for its page"
    assert "articles/s7.html" in report.unchanged
    assert parse(folder / "energy.rss").entries[0].title == "Gas deal signed"
    assert store.pending == {}


def test_a_publish_that_dies_before_recording_is_redone_without_rewriting(folder: Path) -> None:
    config = make_config(folder)
    store = FakeStore(STORIES)
    real_record = store.record_published

    def dies(*args: Any, **kwargs: Any) -> None:
        raise PublishError("killed between writing the files and recording them")

    store.record_published = dies  # type: ignore[method-assign]
    with pytest.raises(PublishError):
        publish(config, store, now=NOW)
    written = files_of(folder)
    assert store.pending and store.manifest == {}
    store.record_published = real_record  # type: ignore[method-assign]
    report = publish(config, store, now=NOW)
    assert report.written == () and files_of(folder) == written
    assert store.pending == {} and set(store.manifest) == set(written)


def test_the_readme_tells_the_default_category_description(folder: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `categories\[\]\.description` \| `([^`]+)` \|", readme, re.M)
    assert row is not None, "the README's config table has no description row"
    publish(make_config(folder), FakeStore(STORIES))
    energy = feedparser.parse((folder / "energy.rss").read_bytes()).feed
    assert energy.description == row.group(1).replace("{title}", "energy")


def test_only_the_stories_a_feed_lists_and_seed_stories_have_pages(folder: Path) -> None:
    # max_items 3: all lists s1-s3, caucasus s1, s2, s5, energy s1, s3; no feed lists s4 or s6
    seed = story(9, "Baku seed from long ago", link="", path="baku.txt", source="seeds")
    publish(make_config(folder), FakeStore([*STORIES, seed]), now=NOW)
    pages = sorted(p.name for p in (folder / "articles").iterdir())
    assert pages == ["s1.html", "s2.html", "s3.html", "s5.html", "s9.html"]


def test_a_story_no_feed_lists_any_more_loses_its_page(folder: Path) -> None:
    paris = story(4, "Weather in Paris")
    seed = story(8, "Baku seed", link="", path="baku.txt", related=("Weather in Paris",))
    config, store = make_config(folder), FakeStore([paris, seed])
    publish(config, store, now=NOW)
    assert 'href="../articles/s4.html">Weather in Paris' in read_page(folder, "s8")
    newer = [story(n, f"Rome sun {n}", published=NOW + timedelta(hours=n)) for n in (11, 12, 13)]
    store.put(*newer)
    report = publish(config, store, now=NOW)
    assert "articles/s4.html" in report.removed and not (folder / "articles/s4.html").exists()
    # the seed story keeps its page (its permalink), rewritten without the link that left
    assert "articles/s8.html" in report.written
    assert "s4.html" not in read_page(folder, "s8")
    assert {f"articles/s{n}.html" for n in (11, 12, 13)} <= set(report.written)


def read_page(folder: Path, story_id: str) -> str:
    return (folder / "articles" / f"{story_id}.html").read_text(encoding="utf-8")


def test_a_written_file_dates_from_when_its_bytes_were_written_not_from_the_pass(
    folder: Path,
) -> None:
    # A pass's ``now`` is when it began, maybe minutes before it publishes; meanwhile
    # another node may have published a later version, whose Last-Modified this must not
    # precede, or an If-Modified-Since from that node's answer would get a 304 here.
    before = datetime.now(UTC)
    publish(make_config(folder), FakeStore(STORIES), now=NOW)
    written = datetime.fromtimestamp((folder / "energy.rss").stat().st_mtime, UTC)
    assert written >= before - timedelta(seconds=1)


def test_a_node_whose_folder_already_holds_the_bytes_dates_them_as_the_first_node(
    tmp_path: Path,
) -> None:
    # A new node started on a copy of another node's folder writes nothing (the bytes are
    # right) but must still give each file its first appearance as mtime: the copy's own
    # would be another Last-Modified than the first node's for the same bytes.
    location = str(tmp_path / "wiredesk.db")
    one, two = (tmp_path / name / "feeds" for name in ("web1", "web2"))
    with closing(open_store(location, node="web1")) as first:
        first.ingest("wire", STORIES, SourceState(name="wire"))
        publish(make_config(one), first, now=NOW)
    shutil.copytree(one, two, copy_function=shutil.copy)  # the bytes, not the times
    with closing(open_store(location, node="web2")) as second:
        report = publish(make_config(two), second, now=NOW)
    copied = files_of(two).keys() - set(report.written)  # sources.html names its node
    assert {"all.rss", "energy.atom", "articles/s2.html"} <= copied
    mtimes = [
        {n: t for n, (t, _) in files_of(folder).items() if n in copied} for folder in (one, two)
    ]
    assert mtimes[0] == mtimes[1]
