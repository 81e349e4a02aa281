"""One feedparser entry -> one Article: plain-text titles, sanitised HTML with absolute
links (nh3), UTC dates never later than now, a stable id."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin, urlsplit

import nh3

from aggregator.models import Article, Enclosure
from aggregator.text import strip_control

_WHITESPACE = re.compile(r"\s+")
_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style"}


def article(source: str, entry: Any, feed_url: str, now: datetime) -> Article:
    """The Article of one feedparser ``entry`` of ``source``; relative links resolve
    against ``feed_url``, and ``now`` stands in for a missing date."""
    title = plain(entry.get("title", ""))
    link = web_link(entry.get("link", ""), feed_url)
    published = _date(entry.get("published_parsed"), now)
    # dict.get: FeedParserDict.get("updated*") falls back to the published date
    updated = _date(dict.get(entry, "updated_parsed"), now)
    guid = (
        entry.get("id", "").strip()
        or link
        or _sha256(title + (entry.get("published") or dict.get(entry, "updated") or ""))
    )
    contents = [c for c in entry.get("content", ()) if c.get("value")]
    content = max(contents, key=lambda c: len(c["value"]), default=None)
    summary = entry.get("summary_detail")
    if content and summary and summary.get("value") == content["value"]:
        summary = None  # feedparser copies the content into an absent summary
    tags = tuple(
        dict.fromkeys(term for t in entry.get("tags", ()) if (term := plain(t.get("term") or "")))
    )
    return Article(
        id=_sha256(f"{source}\n{guid}")[:32],
        guid=guid,
        source=source,
        title=title,
        published=published or updated or now,
        updated=updated,
        link=link,
        summary=_html(summary, feed_url),
        content=_html(content, feed_url),
        author=plain(entry.get("author", "")),
        section=tags[0] if tags else "",
        tags=tags,
        enclosures=_enclosures(entry, feed_url),
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain(value: str) -> str:
    """Text without tags or entities, whitespace collapsed, control characters dropped."""
    text = html.unescape(nh3.clean(value, tags=set(), clean_content_tags=_DROP_WITH_CONTENT))
    return _WHITESPACE.sub(" ", strip_control(text)).strip()


def _html(detail: Mapping[str, Any] | None, feed_url: str) -> str:
    """Sanitised HTML of a feedparser text construct, its URLs absolute against its base."""
    if not detail or not detail.get("value"):
        return ""
    value = strip_control(detail["value"])
    if detail.get("type") == "text/plain":
        return html.escape(value, quote=False)
    base = next((b for b in (detail.get("base") or "", feed_url) if _is_web(b)), "")
    return nh3.clean(
        value,
        clean_content_tags=_DROP_WITH_CONTENT,
        url_schemes=_SCHEMES,
        url_relative=("rewrite_with_base", base) if base else "deny",
    )


def _is_web(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def web_link(url: str, base: str) -> str:
    """``url`` made absolute against ``base``; "" unless the result is http(s)."""
    absolute = urljoin(base, strip_control(url.strip())) if url else ""
    return absolute if _is_web(absolute) else ""


def _date(parsed: struct_time | None, now: datetime) -> datetime | None:
    """A feedparser UTC time tuple as an aware datetime, never later than ``now``."""
    if not parsed:
        return None
    try:
        value = datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None
    return min(value, now.astimezone(UTC))


def _enclosures(entry: Any, feed_url: str) -> tuple[Enclosure, ...]:
    """The entry's enclosures, then its Media RSS ``media:content`` (podcast images)."""
    found = {}
    media = [
        {"href": m.get("url", ""), "type": m.get("type"), "length": m.get("filesize")}
        for m in entry.get("media_content", ())
    ]
    for item in (*entry.get("enclosures", ()), *media):
        url = web_link(item.get("href", ""), feed_url)
        if url and url not in found:
            length = str(item.get("length") or "0").strip()
            found[url] = Enclosure(
                url=url,
                type=plain(item.get("type") or ""),
                length=int(length) if length.isdigit() else 0,
            )
    return tuple(found.values())
