"""``add``: turn a feed or web-page URL into a checked source in the config.

A page announces its feeds with ``<link rel="alternate" type="application/rss+xml">``
(or Atom, or JSON Feed); discovery reads those from the page ``aggregator.xml`` parses.
Fetching and parsing are passed in as callables, so this module needs neither the network
stack nor feedparser.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from aggregator.config import load_config
from aggregator.config.edit import add_source, check_new_source, unique_name
from aggregator.errors import ConfigError, ConfigProblem, ParseError, SeveralFeedsError
from aggregator.models import AddResult, FeedLink, FetchResult, ParsedFeed
from aggregator.xml import parse_html

# application/json: what some sites announce their JSON Feed as
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
)
_HTML_MARKS = (b"<!doctype html", b"<html")


def discover_feeds(html: bytes, base_url: str) -> list[FeedLink]:
    """The feeds a page announces with ``<link rel="alternate">`` of an RSS, Atom or JSON
    Feed type, in page order, without repeats; hrefs are resolved against the page's
    ``<base href>`` or ``base_url``, and links that are not http(s) are dropped.
    """
    page = parse_html(html)
    if page is None:
        return []
    href = page.xpath("string(//base/@href)")
    base = urljoin(base_url, href.strip() if isinstance(href, str) else "")
    found: dict[str, FeedLink] = {}
    for link in page.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            title = " ".join((link.get("title") or "").split())
            found[url] = FeedLink(url=url, title=title, type=kind)
    return list(found.values())


def add_feed(
    config_path: Path,
    url: str,
    *,
    name: str | None,
    interval: str | None,
    pick: int | None,
    fetch: Callable[[str], FetchResult],
    parse: Callable[[FetchResult], ParsedFeed],
) -> AddResult:
    """Fetch ``url``; when it is a feed with entries, add it to the config; when it is a web
    page, add the feed it announces (``pick``, 1-based, chooses among several). The name
    defaults to a unique slug of the feed's title.

    Raises ConfigError when ``url`` is not an http(s) URL or the name or URL is already
    configured; SeveralFeedsError when a
    page offers several feeds and ``pick`` does not choose one; ParseError when there is no
    feed on the page or the feed is broken; and whatever ``fetch`` raises. The config file
    is written only when everything succeeded.
    """
    config = load_config(config_path)
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        problem = f"{url}: expected an http:// or https:// URL"
        raise ConfigError([ConfigProblem(str(config_path), None, "sources", problem)])
    check_new_source(config, url=url, name=name)
    result = fetch(url)
    feed = _as_feed(url, result, parse)
    if feed is None:
        link = _choose(url, discover_feeds(result.content, result.url or url), pick)
        check_new_source(config, url=link.url, name=name)
        url, result = link.url, fetch(link.url)
        feed = _as_feed(url, result, parse)
        if feed is None:
            raise ParseError(url, "announced as a feed but answers with an HTML page")
    if result.permanent_url:
        url = result.permanent_url
        check_new_source(config, url=url, name=name)
    title = " ".join(feed.title.split())
    taken = {source.name for source in config.sources}
    name = name or unique_name(title or urlsplit(url).hostname or "", taken)
    add_source(config_path, name=name, url=url, title=title or None, interval=interval)
    return AddResult(name=name, url=url, title=title, entries=len(feed.articles))


def _as_feed(
    url: str, result: FetchResult, parse: Callable[[FetchResult], ParsedFeed]
) -> ParsedFeed | None:
    """The parsed feed, or None when the body is an HTML page to look for feed links in.

    Raises ParseError for a body that is neither a feed with entries nor an HTML page.
    """
    try:
        feed = parse(result)
    except ParseError:
        if _looks_like_html(result.content):
            return None
        raise
    if feed.articles:
        return feed
    if _looks_like_html(result.content):
        return None
    raise ParseError(url, "the feed has no entries, so it cannot be checked; try again later")


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lower()
    return any(mark in head for mark in _HTML_MARKS)


def _choose(url: str, feeds: list[FeedLink], pick: int | None) -> FeedLink:
    """The one feed of a page, or the picked one (1-based)."""
    if not feeds:
        raise ParseError(url, "no feed found (the page links no RSS, Atom or JSON Feed)")
    if len(feeds) == 1 and pick in (None, 1):
        return feeds[0]
    if pick is None:
        raise SeveralFeedsError(url, feeds, f"the page offers {len(feeds)} feeds")
    if not 1 <= pick <= len(feeds):
        raise SeveralFeedsError(url, feeds, f"there is no feed {pick}")
    return feeds[pick - 1]
