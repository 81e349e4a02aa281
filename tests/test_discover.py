"""``add``: a feed URL, or a page announcing feeds, becomes a checked source (127.0.0.1)."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from aggregator.config import load_config
from aggregator.discover import add_feed, discover_feeds
from aggregator.errors import ConfigError, FetchError, ParseError, SeveralFeedsError
from aggregator.models import Article, FeedLink, FetchResult, ParsedFeed
from tests.builders import FIXTURES, commented_config

HERE = FIXTURES / "configedit"
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml", ".html": "text/html"}


def fetch(url: str) -> FetchResult:
    """A stand-in for fetch.Fetcher: one plain GET with the standard library."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return FetchResult(
                url=response.geturl(),
                status=response.status,
                content=response.read(),
                headers=dict(response.headers),
            )
    except urllib.error.HTTPError as e:
        raise FetchError(url, f"HTTP {e.code}", status=e.code) from e


def parse(result: FetchResult) -> ParsedFeed:
    """A stand-in for parse.parse_feed: feedparser, entries turned into bare Articles."""
    parsed = feedparser.parse(result.content)
    if parsed.bozo and not parsed.entries:
        raise ParseError(result.url, f"not a usable feed: {parsed.bozo_exception}")
    articles = tuple(
        Article(id=str(i), guid=str(i), source="t", title=e.get("title", ""), published=NOW)
        for i, e in enumerate(parsed.entries)
    )
    return ParsedFeed(title=parsed.feed.get("title", ""), articles=articles)


@pytest.fixture
def site(httpserver: HTTPServer) -> HTTPServer:
    """Every file of the fixture folder at /NAME, and the page-several feeds under /feeds/."""
    for path in HERE.iterdir():
        kind = TYPES.get(path.suffix, "text/plain")
        for url in (f"/{path.name}", f"/feeds/{path.name}"):
            httpserver.expect_request(url).respond_with_data(path.read_bytes(), content_type=kind)
    return httpserver


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return commented_config(tmp_path)


def add(config: Path, url: str, **options) -> object:
    options = {"name": None, "interval": None, "pick": None, **options}
    return add_feed(config, url, fetch=fetch, parse=parse, **options)


def test_discovery_reads_alternate_links_of_feed_types_only() -> None:
    html = (HERE / "page-several.html").read_bytes()
    assert discover_feeds(html, "http://127.0.0.1:9/news/today.html") == [
        FeedLink(
            url="http://127.0.0.1:9/feeds/fjord.rss",
            title="Fjord Daily",
            type="application/rss+xml",
        ),
        FeedLink(
            url="http://127.0.0.1:9/orbit.atom", title="Orbit Notes", type="application/atom+xml"
        ),
        FeedLink(
            url="https://json.example/feed.json",
            title="JSON edition",
            type="application/feed+json",
        ),
    ]


@pytest.mark.parametrize("body", [b"", b"   ", b"\x00\xff not html", b"<p>fragment"])
def test_discovery_of_nothing_is_an_empty_list(body: bytes) -> None:
    assert discover_feeds(body, "https://x.example/") == []


def test_a_feed_url_is_added_with_a_name_from_its_title(site: HTTPServer, config: Path) -> None:
    before = config.read_text().splitlines(keepends=True)
    result = add(config, site.url_for("/fjord.rss"), interval="1h")
    assert (result.name, result.title, result.entries) == (
        "fjord-daily-harbour-news",
        "Fjord Daily — Harbour news",
        2,
    )
    at = before.index("    url: https://river.example/atom.xml   # trailing comment\n") + 1
    assert config.read_text().splitlines(keepends=True) == [
        *before[:at],
        "  - name: fjord-daily-harbour-news\n",
        "    title: Fjord Daily — Harbour news\n",
        f"    url: {site.url_for('/fjord.rss')}\n",
        "    interval: 1h\n",
        *before[at:],
    ]


def test_a_page_with_one_feed_adds_that_feed(site: HTTPServer, config: Path) -> None:
    result = add(config, site.url_for("/page-one.html"), name="fjord")
    assert (result.name, result.url, result.entries) == ("fjord", site.url_for("/fjord.rss"), 2)
    assert load_config(config).source("fjord").url == site.url_for("/fjord.rss")


def test_a_page_with_several_feeds_lists_them_until_one_is_picked(
    site: HTTPServer, config: Path
) -> None:
    before = config.read_bytes()
    page = site.url_for("/page-several.html")
    with pytest.raises(SeveralFeedsError) as caught:
        add(config, page)
    assert [feed.title for feed in caught.value.feeds] == [
        "Fjord Daily",
        "Orbit Notes",
        "JSON edition",
    ]
    assert str(caught.value) == (
        f"{page}: the page offers 3 feeds: "
        f"1. Fjord Daily <{site.url_for('/feeds/fjord.rss')}> (application/rss+xml), "
        f"2. Orbit Notes <{site.url_for('/orbit.atom')}> (application/atom+xml), "
        "3. JSON edition <https://json.example/feed.json> (application/feed+json); "
        "choose one with --pick K"
    )
    with pytest.raises(SeveralFeedsError, match="there is no feed 4"):
        add(config, page, pick=4)
    assert config.read_bytes() == before
    result = add(config, page, pick=2)
    assert (result.name, result.title, result.entries) == ("orbit-notes", "Orbit Notes", 1)


def test_a_page_without_feeds_is_an_error(site: HTTPServer, config: Path) -> None:
    before = config.read_bytes()
    page = site.url_for("/page-none.html")
    with pytest.raises(ParseError, match=r"^http://.*/page-none.html: no feed found"):
        add(config, page)
    assert config.read_bytes() == before


@pytest.mark.parametrize("path", ["/broken.rss", "/page-broken.html"])
def test_a_broken_feed_is_an_error_and_the_file_is_untouched(
    site: HTTPServer, config: Path, path: str
) -> None:
    before = config.read_bytes()
    with pytest.raises(ParseError, match=r"/broken.rss: not a usable feed"):
        add(config, site.url_for(path))
    assert config.read_bytes() == before


def test_a_missing_page_is_the_fetch_error(site: HTTPServer, config: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 500"):
        add(config, site.url_for("/gone"))


@pytest.mark.parametrize("url", ["ftp://files.example/feed.xml", "news.example/feed"])
def test_a_url_that_is_not_http_is_refused_before_fetching(config: Path, url: str) -> None:
    def no_fetch(url: str) -> FetchResult:
        raise AssertionError(f"fetched {url}")

    before = config.read_bytes()
    with pytest.raises(ConfigError, match=f"{url}: expected an http:// or https:// URL"):
        add_feed(config, url, name=None, interval=None, pick=None, fetch=no_fetch, parse=parse)
    assert config.read_bytes() == before


def test_a_configured_feed_or_taken_name_is_refused_before_any_change(
    site: HTTPServer, config: Path
) -> None:
    add(config, site.url_for("/fjord.rss"))
    before = config.read_bytes()
    with pytest.raises(ConfigError, match="already configured as 'fjord-daily-harbour-news'"):
        add(config, site.url_for("/page-one.html"))
    with pytest.raises(ConfigError, match="a source named 'river-post' already exists"):
        add(config, site.url_for("/orbit.atom"), name="river-post")
    assert config.read_bytes() == before
