"""One parsed entry -> one Article: plain-text titles, sanitised HTML with absolute links
(nh3), UTC dates never later than now, a stable id.

``Entry`` holds exactly the values of a feedparser entry that make an Article, so the two
parsers fill it alike: ``from_feedparser`` reads them out of a feedparser entry, the fast
path (``parse.fast``) builds them straight from the tree.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from time import struct_time
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import nh3

from aggregator.dedup import headline_key
from aggregator.models import Article, Enclosure
from aggregator.text import is_plain, plain_text, strip_control, strip_xml_control

_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style"}
# An absolute http(s) URL that ``urljoin`` gives back unchanged: it has a host, and none of
# the characters after which it may rewrite one (it drops an empty query, fragment or path
# parameter, and removes tabs and newlines).
_ABSOLUTE = re.compile(r"https?://[^/?#;\t\n\r][^?#;\t\n\r]*")
# HTML that nh3 gives back unchanged: no markup, nothing it escapes (> and no-break space)
# or drops (CR, BOM, NUL).
_MARKUP_FREE = re.compile("[^<>&\r\xa0\ufeff\x00]*")
# Built once: nh3.clean builds its sanitiser on every call, a third of the call's time.
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=_DROP_WITH_CONTENT)

Warn = Callable[[str], None]


class Text(NamedTuple):
    """A text construct: its value, media type and the base its relative links resolve on;
    ``strict`` when a strict XML parse read it (the fast path's), so it holds no C0 control."""

    value: str
    type: str = ""
    base: str = ""
    strict: bool = False


class Link(NamedTuple):
    """An enclosure as the feed gave it: the raw attribute values."""

    href: str
    type: str = ""
    length: str = ""


class Entry(NamedTuple):
    """What an Article is made of, as feedparser reads it from one entry."""

    title: str = ""
    link: str = ""
    id: str = ""
    published: str = ""  # the date as written, for the guid of an entry without one
    updated: str = ""
    published_parsed: struct_time | None = None
    updated_parsed: struct_time | None = None
    summary: Text | None = None
    contents: tuple[Text, ...] = ()
    tags: tuple[str, ...] = ()  # terms as written, "" for a category without one
    author: str = ""
    enclosures: tuple[Link, ...] = ()  # then any Media RSS media:content


def from_feedparser(entry: Any) -> Entry:
    """The Entry of a feedparser entry. An element feedparser has no code for is stored
    under its own name, so a field can hold another type (``<date a="1">`` makes
    ``updated`` a dict): such a value counts as missing."""
    summary = entry.get("summary_detail")
    return Entry(
        title=_string(entry.get("title")),
        link=_string(entry.get("link")),
        id=_string(entry.get("id")),
        published=_string(entry.get("published")),
        # dict.get: FeedParserDict.get("updated*") falls back to the published date
        updated=_string(dict.get(entry, "updated")),
        published_parsed=_time(entry.get("published_parsed")),
        updated_parsed=_time(dict.get(entry, "updated_parsed")),
        summary=_text(summary) if isinstance(summary, Mapping) else None,
        contents=tuple(_text(c) for c in _mappings(entry, "content")),
        tags=tuple(_string(t.get("term")) for t in _mappings(entry, "tags")),
        author=_string(entry.get("author")),
        enclosures=(
            *(
                Link(_string(e.get("href")), _string(e.get("type")), _string(e.get("length")))
                for e in _mappings(entry, "enclosures")
            ),
            # Media RSS media:content (podcast images); the fast path declines media:*
            *(
                Link(_string(m.get("url")), _string(m.get("type")), _string(m.get("filesize")))
                for m in _mappings(entry, "media_content")
            ),
        ),
    )


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _time(value: object) -> struct_time | None:
    return value if isinstance(value, struct_time) else None


def _mappings(entry: Any, key: str) -> list[Mapping[str, Any]]:
    try:
        values = entry.get(key, ())
    except TypeError:  # "enclosures" when an unknown <links> element replaced the list
        return []
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, Mapping)]


def _text(detail: Mapping[str, Any]) -> Text:
    return Text(
        _string(detail.get("value")), _string(detail.get("type")), _string(detail.get("base"))
    )


def article(source: str, entry: Entry, feed_url: str, now: datetime, warn: Warn) -> Article:
    """The Article of ``entry`` of ``source``; relative links resolve against
    ``feed_url``, ``now`` stands in for a missing date, and a malformed URL is dropped
    with a line to ``warn`` (the entry is kept)."""
    title = feed_text(entry.title)
    link = web_link(entry.link, feed_url, warn)
    utc_now = now.astimezone(UTC)
    published = _date(entry.published_parsed, utc_now)
    updated = _date(entry.updated_parsed, utc_now)
    guid = entry.id.strip() or link or _sha256(title + (entry.published or entry.updated))
    contents = [c for c in entry.contents if c.value]  # lists, not generators: fewer calls
    content = contents[0] if len(contents) == 1 else max(contents, key=_length, default=None)
    summary = entry.summary
    if content and summary and summary.value == content.value:
        summary = None  # feedparser copies the content into an absent summary
    tags = tuple(dict.fromkeys([term for t in entry.tags if (term := feed_text(t))]))
    summary_html, content_html = _html(summary, feed_url, warn), _html(content, feed_url, warn)
    return Article(
        id=_sha256(f"{source}\n{guid}")[:32],
        guid=guid,
        source=source,
        title=title,
        published=published or updated or now,
        updated=updated,
        link=link,
        summary=summary_html,
        content=content_html,
        author=feed_text(entry.author),
        section=tags[0] if tags else "",
        tags=tags,
        enclosures=_enclosures(entry.enclosures, feed_url, warn),
        texts=tuple(
            [
                (html, plain_text(html, controls=not _quiet(detail)))
                for html, detail in ((summary_html, summary), (content_html, content))
                if html
            ]
        ),
        title_key=(title, headline_key(title)),
    )


def _quiet(detail: Text | None) -> bool:
    """Whether the HTML made of ``detail`` can hold no control character, tab or CR: a
    strict XML parse read it (so no C0 control) and it is ASCII without DEL, tab, CR or any
    "&" (so no reference that nh3 would decode into one; nh3 writes none of its own)."""
    if detail is None or not detail.strict or not detail.value.isascii():
        return False
    value = detail.value
    return "&" not in value and "\t" not in value and "\r" not in value and "\x7f" not in value


def _length(text: Text) -> int:
    return len(text.value)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def feed_text(value: str) -> str:
    """A feed's text (a title, a tag, an author) as ``text.plain_text`` gives it, once nh3
    has dropped any markup in it (script and style with their content)."""
    if ">" not in value and is_plain(value):
        return value  # no markup, and plain already: both steps would give it back
    if not _MARKUP_FREE.fullmatch(value):
        value = _TEXT_ONLY.clean(value)
    # Without markup, nh3 gives the text back as it was: skip the HTML parse.
    return plain_text(value)


def _html(detail: Text | None, feed_url: str, warn: Warn) -> str:
    """Sanitised HTML of a text construct, its URLs absolute against its base."""
    if not detail or not detail.value:
        return ""
    value = (strip_xml_control if detail.strict else strip_control)(detail.value)
    if detail.type == "text/plain":
        return html.escape(value, quote=False)
    if _MARKUP_FREE.fullmatch(value):
        return value  # a one-sentence summary: no HTML to parse
    base = ""
    for candidate in dict.fromkeys((detail.base, feed_url)):
        problem = _base_problem(candidate)
        if problem is None:
            base = candidate
            break
        if problem:
            warn(f"dropped the malformed base URL {candidate!r} ({problem})")
    cleaned = _cleaner(base).clean(value)
    # nh3 serialises what a numeric character reference names (``&#127;``, ``&#1;``,
    # ``&#xFFFE;``) as the character itself: the controls go again, after it
    return strip_control(cleaned) if "&#" in value else cleaned


@functools.lru_cache(maxsize=256)
def _cleaner(base: str) -> nh3.Cleaner:
    """The sanitiser of HTML whose relative links resolve on ``base`` ("": they are
    dropped). Memoised: a feed has a handful of bases. Raises ValueError for a base nh3
    refuses."""
    return nh3.Cleaner(
        clean_content_tags=_DROP_WITH_CONTENT,
        url_schemes=_SCHEMES,
        url_relative=("rewrite_with_base", base) if base else "deny",
    )


@functools.lru_cache(maxsize=256)
def _base_problem(url: str) -> str | None:
    """None when ``url`` can be the base of an entry's links, "" when it is simply not a
    web URL, else why it is malformed (urllib or nh3 refuse it: ``http://a:99999/``).
    Memoised: a feed has a handful of bases."""
    try:
        if not _is_web(url):
            return ""
        _cleaner(url)
    except ValueError as e:
        return str(e)
    return None


def _is_web(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def web_link(url: str, base: str, warn: Warn) -> str:
    """``url`` made absolute against ``base``; "" unless the result is http(s). A URL
    that cannot be parsed (``http://[bad``) gives "" and a line to ``warn``."""
    if not url:
        return ""
    url = strip_control(url.strip())
    try:
        if plainly_absolute(url):
            return url
        absolute = urljoin(base, url)
        return absolute if _is_web(absolute) else ""
    except ValueError as e:
        warn(f"dropped the malformed URL {url!r} ({e})")
        return ""


def plainly_absolute(url: str) -> bool:
    """Whether ``url`` is an http(s) URL with a host that ``urljoin`` gives back unchanged
    and ``urlsplit`` accepts, whatever the base: such a URL needs no join."""
    return bool(_ABSOLUTE.fullmatch(url)) and url.isascii() and "[" not in url and "]" not in url


def _date(parsed: struct_time | None, utc_now: datetime) -> datetime | None:
    """A UTC time tuple as an aware datetime, never later than ``utc_now`` (UTC)."""
    if not parsed:
        return None
    try:
        value = datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None
    return min(value, utc_now)


def _enclosures(items: tuple[Link, ...], feed_url: str, warn: Warn) -> tuple[Enclosure, ...]:
    found: dict[str, Enclosure] = {}
    for item in items:
        url = web_link(item.href, feed_url, warn)
        if url and url not in found:
            length = str(item.length or "0").strip()
            found[url] = Enclosure(
                url=url,
                type=feed_text(item.type),
                length=int(length) if length.isdecimal() else 0,  # "²".isdigit()
            )
    return tuple(found.values())
