"""Items -> RSS 2.0, Atom 1.0 (feedgen) and JSON Feed 1.1 documents, as bytes.

The same items always give the same bytes: every date comes from the stories (the feed's
updated / lastBuildDate is the newest story's), never from the clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from aggregator import __version__
from aggregator.models import Enclosure
from aggregator.publish.items import FORMATS, Channel, Item, attachment
from aggregator.text import plain_text

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
_ATOM_NS = "http://www.w3.org/2005/Atom"
_MEDIA_NS = "http://search.yahoo.com/mrss/"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the updated date of a feed with no stories


def render(channel: Channel, items: Sequence[Item]) -> dict[str, bytes]:
    """The three documents of one category feed, by file suffix (``.rss``, ``.atom``,
    ``.json``). Raises nothing for cleaned items."""
    feed = _generator(channel, items)
    documents = {}
    for suffix, writer in ((".rss", feed.rss_str), (".atom", feed.atom_str)):
        feed.link(_links(channel, suffix), replace=True)
        documents[suffix] = writer(pretty=True)
    documents[".json"] = _json_feed(channel, items)
    return documents


def _updated(items: Sequence[Item]) -> datetime:
    return max((item.updated for item in items), default=_EPOCH)


def _links(channel: Channel, suffix: str) -> list[dict[str, str]]:
    # feedgen's RSS <channel><link> is the last link given: rel=self must come first.
    links = [{"href": channel.url(suffix), "rel": "self", "type": FORMATS[suffix]}]
    if channel.hub:
        links.append({"href": channel.hub, "rel": "hub"})
    links.append({"href": channel.base_url, "rel": "alternate", "type": "text/html"})
    return links


class _RSSHub(BaseExtension):
    """Adds ``<atom:link rel="hub">`` to an RSS channel; feedgen writes only rel=self there."""

    hub = ""

    def extend_ns(self) -> dict[str, str]:
        return {"atom": _ATOM_NS}

    def extend_rss(self, feed: Any) -> Any:
        xml_elem(f"{{{_ATOM_NS}}}link", feed[0], href=self.hub, rel="hub")
        return feed


class _Media(BaseExtension):
    """Declares the Media RSS namespace, for the enclosures beyond an RSS item's first."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": _MEDIA_NS}


class _Enclosures(BaseEntryExtension):
    """An entry's enclosures: Atom ``<link rel="enclosure">`` with type and length (feedgen
    1.0 drops the rel and type of entry links); in RSS, which allows one ``<enclosure>``
    an item, the first, and the others as ``<media:content>``."""

    def __init__(self) -> None:
        self.enclosures: tuple[Enclosure, ...] = ()

    def extend_atom(self, entry: Any) -> Any:
        for enclosure in self.enclosures:
            link = xml_elem("link", entry, href=enclosure.url, rel="enclosure")
            link.attrib["type"] = enclosure.type
            if enclosure.length:
                link.attrib["length"] = str(enclosure.length)
        return entry

    def extend_rss(self, entry: Any) -> Any:
        if not self.enclosures:
            return entry
        first, *rest = self.enclosures
        tag = xml_elem("enclosure", entry, url=first.url)
        tag.attrib.update({"length": str(first.length), "type": first.type})
        for enclosure in rest:
            content = xml_elem(f"{{{_MEDIA_NS}}}content", entry, url=enclosure.url)
            content.attrib["type"] = enclosure.type
            if enclosure.length:
                content.attrib["fileSize"] = str(enclosure.length)
        return entry


def _generator(channel: Channel, items: Sequence[Item]) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)
    feed.register_extension("wiredesk_media", _Media, _Enclosures)
    feed.id(channel.url(".atom"))
    feed.title(channel.title)
    feed.description(channel.description)
    # No feed-level author: every entry without its own would inherit it (RFC 4287 4.2.1,
    # JSON Feed 1.1), crediting an agency's story to the desk.
    feed.generator("Wiredesk", version=__version__)
    feed.updated(_updated(items))
    if channel.language:
        feed.language(channel.language)
    if channel.hub:
        feed.register_extension("wiredesk_hub", _RSSHub, atom=False, rss=True)
        feed.wiredesk_hub.hub = channel.hub
    for item in items:
        _entry(feed, item)
    return feed


def _entry(feed: FeedGenerator, item: Item) -> None:
    entry = feed.add_entry(order="append")
    entry.id(item.id)
    entry.title(item.title)
    if item.link:
        entry.link(href=item.link, rel="alternate", type="text/html")
    if item.author:
        entry.author({"name": item.author})
        entry.dc.dc_creator(item.author)
    for term in item.categories:
        entry.category(term=term)
    entry.published(item.published)
    entry.updated(item.updated)
    # RSS <description> carries the summary (or the body), <content:encoded> the body; set
    # the description first, since feedgen's description() also overwrites the Atom content.
    entry.description(item.summary or item.content)
    entry.content(item.content, type="html")
    if item.summary:
        entry.summary(item.summary, type="html")
    if item.source_url:
        entry.source(url=item.source_url, title=item.source_title)
    entry.wiredesk_media.enclosures = item.enclosures


def _json_feed(channel: Channel, items: Sequence[Item]) -> bytes:
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "_wiredesk": {"generator": "Wiredesk"},  # JSON Feed 1.1 has no generator field
        "title": channel.title,
        "home_page_url": channel.base_url,
        "feed_url": channel.url(".json"),
        "description": channel.description,
    }
    if channel.language:
        document["language"] = channel.language
    if channel.hub:
        document["hubs"] = [{"type": "WebSub", "url": channel.hub}]
    document["items"] = [_json_item(item) for item in items]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def _json_item(item: Item) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": item.id, "title": item.title}
    if item.link:
        entry["url"] = item.link
    entry["content_html"] = item.content
    if item.summary:
        entry["summary"] = plain_text(item.summary, lines=True)
    entry["date_published"] = item.published.isoformat()
    entry["date_modified"] = item.updated.isoformat()
    if item.author:
        entry["authors"] = [{"name": item.author}]
    if item.categories:
        entry["tags"] = list(item.categories)
    if item.enclosures:
        entry["attachments"] = [attachment(e) for e in item.enclosures]
    entry["_wiredesk"] = {"id": item.article_id, "sources": item.sources, "links": item.links}
    return entry
