"""A JSON Feed 1.0 or 1.1 body -> the feed's title and link and one ``Entry`` per item,
the values feedparser gives for RSS and Atom (feedparser 6.0 reads no JSON Feed), so its
items become Articles by the same code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from time import struct_time
from typing import Any

from aggregator.errors import ParseError
from aggregator.parse.entries import Entry, Link, Text

VERSION_PREFIX = "https://jsonfeed.org/version/1"


def read(source: str, text: str) -> tuple[str, str, tuple[Entry, ...]]:
    """The title, home page and entries of the JSON Feed ``text`` of ``source``; an item
    that is not an object is left out.

    Raises ParseError when ``text`` is not JSON, or JSON but not a JSON Feed 1.x.
    """
    try:
        document = json.loads(text)
    except ValueError as e:
        raise ParseError(source, f"not a feed: broken JSON: {e}") from e
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise ParseError(source, f"not a feed: JSON without a {VERSION_PREFIX}.x version")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(source, "not a feed: a JSON Feed without an items list")
    entries = tuple(_entry(item) for item in items if isinstance(item, dict))
    return _string(document.get("title")), _string(document.get("home_page_url")), entries


def _entry(item: dict[str, Any]) -> Entry:
    contents = [
        Text(value, kind)
        for key, kind in (("content_html", "text/html"), ("content_text", "text/plain"))
        if (value := _string(item.get(key)))
    ]
    summary = _string(item.get("summary"))
    return Entry(
        title=_string(item.get("title")),
        link=_string(item.get("url")) or _string(item.get("external_url")),
        id=str(item["id"]) if isinstance(item.get("id"), str | int) else "",
        published=_string(item.get("date_published")),
        updated=_string(item.get("date_modified")),
        published_parsed=_time(item.get("date_published")),
        updated_parsed=_time(item.get("date_modified")),
        summary=Text(summary, "text/plain") if summary else None,
        contents=tuple(contents),
        tags=tuple(tag for tag in item.get("tags") or () if isinstance(tag, str)),
        author=_author(item),
        enclosures=tuple(
            Link(
                _string(a.get("url")), _string(a.get("mime_type")), str(a.get("size_in_bytes", ""))
            )
            for a in item.get("attachments") or ()
            if isinstance(a, dict)
        ),
    )


def _author(item: dict[str, Any]) -> str:
    """The first author's name: 1.1's ``authors`` list, else 1.0's ``author``."""
    authors = item.get("authors")
    first = authors[0] if isinstance(authors, list) and authors else item.get("author")
    return _string(first.get("name")) if isinstance(first, dict) else ""


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _time(value: object) -> struct_time | None:
    """An RFC 3339 date as a UTC time tuple, like feedparser's ``*_parsed``."""
    try:
        moment = datetime.fromisoformat(_string(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).timetuple()
