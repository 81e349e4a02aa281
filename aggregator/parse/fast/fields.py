"""The values feedparser stores for the elements the fast path models, computed by its
own rules and, where it has one, its own function (URL joins, content types), so the two
agree by construction; dates by ``dates``, its function with the two common forms read
faster, which a test holds to feedparser's.

Each ``on_*`` function is what feedparser does between an element's start and end tag,
applied to ``Fields``: the entry (or feed) being filled. An element arrives as a
``Node``: its lxml element, its feedparser-keyed attributes and its ``xml:base``.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from time import struct_time
from typing import Any
from urllib.parse import uses_relative

from feedparser import mixin
from feedparser.html import _cp1252
from feedparser.urls import _urljoin

from aggregator.errors import Declined
from aggregator.parse.entries import Entry, Link, Text, plainly_absolute
from aggregator.parse.fast.dates import parse_date
from aggregator.parse.fast.names import Decline
from aggregator.xml import children

_FP = mixin._FeedParserMixin
_HTML_TYPES = _FP.html_types
_TEXT_TYPES = ("text/plain", "text/html")
_QUERY_FIX = re.compile("&([A-Za-z0-9_]+);")  # feedparser's repair of "?a=1&b;=2"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")  # what urlsplit takes for a scheme
# A pure function of a string, called for every text construct and link; a feed has few types.
_content_type = functools.lru_cache(maxsize=64)(_FP.map_content_type)


@dataclass(slots=True)
class Node:
    """One element as feedparser sees it at its end tag."""

    element: Any  # an lxml element
    key: str  # feedparser's name for it
    attrs: dict[str, str]
    outer_base: str  # the base URI around it
    keys: Callable[[str], str]  # feedparser's name of a tag in this document

    @property
    def base(self) -> str:
        """The base URI inside the element, after its own ``xml:base``."""
        return step(self.outer_base, self.attrs)


@dataclass(slots=True)
class Fields:
    """What feedparser has stored for one entry (or the feed) so far."""

    in_entry: bool
    atom: bool  # feedparser's version starts with "atom"
    title: str = ""
    link: str | None = None  # None: no "link" key yet (a permalink guid may set it)
    id: str = ""
    published: str = ""
    updated: str = ""
    published_parsed: struct_time | None = None
    updated_parsed: struct_time | None = None
    summary: Text | None = None
    contents: list[Text] = field(default_factory=list)
    tags: list[dict[str, str | None]] = field(default_factory=list)
    author: str = ""
    links: list[dict[str, str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # single-valued groups already filled

    def once(self, group: str) -> None:
        """Decline the second element of a single-valued group."""
        if group in self.seen:
            raise Declined(Decline.REPEATED)
        self.seen.add(group)

    def entry(self) -> Entry:
        """The Entry of what was stored."""
        enclosures = tuple(
            [
                Link(x.get("href", ""), x.get("type") or "", x.get("length") or "")
                for x in self.links
                if x.get("rel") == "enclosure"
            ]
        )
        return Entry(
            title=self.title,
            link=self.link or "",
            id=self.id,
            published=self.published,
            updated=self.updated,
            published_parsed=self.published_parsed,
            updated_parsed=self.updated_parsed,
            summary=self.summary,
            contents=tuple(self.contents),
            tags=tuple([t["term"] or "" for t in self.tags]),  # a list: no generator to run
            author=self.author,
            enclosures=enclosures,
        )


def step(base: str, attrs: dict[str, str]) -> str:
    """The base URI inside an element: feedparser joins the current base with the
    element's ``xml:base`` (or with itself) at every start tag."""
    value = attrs.get("xml:base", attrs.get("base")) or base
    if base:
        absolute: str = mixin.make_safe_absolute_uri(base, value)
        return absolute or base
    joined: str = _urljoin(base, value)
    return joined


def join(base: str, uri: str) -> str:
    """feedparser's join of ``uri`` to ``base`` (its ``_urljoin``), without the work for
    a URL it would give back unchanged."""
    return uri if plainly_absolute(uri) or _opaque(uri) else _urljoin(base, uri)


def _opaque(uri: str) -> bool:
    """Whether ``uri`` has a scheme ``urljoin`` never joins on (an Atom id's ``urn:`` or
    ``tag:``), with no ``//`` after it for feedparser to rewrite: it comes back as it is."""
    scheme = _SCHEME.match(uri)
    return (
        scheme is not None
        and scheme.group(1).lower() not in uses_relative
        and not uri.startswith("//", scheme.end())
    )


def enforce_href(attrs: dict[str, str]) -> None:
    """feedparser's ``_enforce_href``: the first of url, uri, href becomes ``href``."""
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href


def text(node: Node) -> str:
    """The text of a leaf element; declines one with children (feedparser's inline
    markup mode) or a comment or PI inside."""
    if len(node.element):
        raise Declined(Decline.MIXED)
    return node.element.text or ""


def popped(raw: str, resolve_on: str | None = None) -> str:
    """A text value the way feedparser's ``pop`` leaves it: stripped, joined to
    ``resolve_on`` when given, UTF-8 read as Latin-1 repaired, cp1252 code points mapped."""
    value = raw.strip()
    if resolve_on is not None and value:
        value = join(resolve_on, value)
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252)


def construct(node: Node, fields: Fields, default: str) -> Text:
    """A text construct (title, summary, content): declines XHTML, base64, ``mode`` and
    ``src``, which feedparser reads in ways the fast path does not model."""
    attrs = node.attrs
    if "mode" in attrs or "src" in attrs:
        raise Declined(Decline.TEXT_TYPE)
    kind = _content_type(attrs.get("type", default))
    if kind not in _TEXT_TYPES:
        raise Declined(Decline.TEXT_TYPE)
    raw = text(node).strip()
    # looks_like_html wants a close tag or an entity: without "<" or "&", its two searches
    # through re's pattern cache are sure to fail
    if not fields.atom and kind == "text/plain" and _may_be_html(raw):
        kind = "text/html"
    return Text(popped(raw), kind, node.base, strict=True)


def _may_be_html(raw: str) -> bool:
    """feedparser's ``looks_like_html``, asked only of text holding a "<" or a "&"."""
    return ("<" in raw or "&" in raw) and bool(_FP.looks_like_html(raw))


def on_title(node: Node, fields: Fields) -> None:
    fields.once("title")
    fields.title = construct(node, fields, "text/plain").value


def on_summary(node: Node, fields: Fields) -> None:
    fields.once("summary")  # a second one would be read as content
    default = "text/html" if node.key in ("description", "dc_description") else "text/plain"
    fields.summary = construct(node, fields, default)


def on_content(node: Node, fields: Fields) -> None:
    fields.once("content")
    default = "text/html" if node.key == "content_encoded" else "text/plain"
    fields.contents.append(construct(node, fields, default))


def on_link(node: Node, fields: Fields) -> None:
    attrs = dict(node.attrs)
    attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
    enforce_href(attrs)
    fields.links.append(attrs)
    if "href" in attrs:
        text(node)  # its text, if any, is not read, but children would be
        attrs["href"] = join(node.base, attrs["href"])
        if attrs["rel"] == "alternate" and _content_type(attrs["type"]) in _HTML_TYPES:
            fields.link = attrs["href"]
        return
    value = popped(text(node), node.base)
    if fields.in_entry:
        value = _query_fixed(value.replace("&amp;", "&"))
        if value:
            attrs["href"] = value
    else:
        value = attrs["href"] = _query_fixed(value)
    fields.link = value


def _query_fixed(value: str) -> str:
    """feedparser's repair of ``?a=1&b;=2``; a link without "&" (most) has nothing to repair."""
    return _QUERY_FIX.sub(r"&\g<1>", value) if "&" in value else value


def on_guid(node: Node, fields: Fields) -> None:
    fields.once("id")
    is_link = node.attrs.get("ispermalink", "true") == "true"
    fields.id = popped(text(node), node.base if is_link else None)
    if is_link and fields.link is None:
        fields.link = fields.id


def on_published(node: Node, fields: Fields) -> None:
    fields.once("published")
    fields.published = popped(text(node))
    fields.published_parsed = parse_date(fields.published)


def on_updated(node: Node, fields: Fields) -> None:
    fields.once("updated")
    fields.updated = popped(text(node))
    fields.updated_parsed = parse_date(fields.updated)


def on_category(node: Node, fields: Fields) -> None:
    attrs = node.attrs
    _add_tag(
        fields, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label")
    )
    value = popped(text(node))
    if value:
        if fields.tags and not fields.tags[-1]["term"]:
            fields.tags[-1]["term"] = value
        else:
            _add_tag(fields, value, None, None)


def _add_tag(fields: Fields, term: str | None, scheme: str | None, label: str | None) -> None:
    if term or scheme or label:
        tag = {"term": term, "scheme": scheme, "label": label}
        if tag not in fields.tags:
            fields.tags.append(tag)


def on_enclosure(node: Node, fields: Fields) -> None:
    text(node)
    attrs = dict(node.attrs)
    enforce_href(attrs)
    attrs["rel"] = "enclosure"
    fields.links.append(attrs)


def on_author(node: Node, fields: Fields) -> None:
    """An RSS author (text) or an Atom one (name, email, uri): feedparser's "name
    (email)"; the text between an Atom author's children is not read."""
    fields.once("author")
    element = node.element
    if not len(element):
        fields.author = popped(element.text or "")
        return
    if (element.text or "").strip() or any((c.tail or "").strip() for c in element):
        raise Declined(Decline.MIXED)
    found: dict[str, str] = {}
    for child in children(element):
        key = node.keys(child.tag)
        if key not in ("name", "email", "uri") or key in found or len(child):
            raise Declined(Decline.ELEMENT)
        found[key] = (child.text or "").strip()
    name, email = found.get("name"), found.get("email")
    fields.author = f"{name} ({email})" if name and email else name or email or ""


ENTRY: dict[str, Callable[[Node, Fields], None]] = {
    "title": on_title,
    "dc_title": on_title,
    "link": on_link,
    "description": on_summary,
    "dc_description": on_summary,
    "summary": on_summary,
    "content": on_content,
    "content_encoded": on_content,
    "guid": on_guid,
    "id": on_guid,
    "pubdate": on_published,
    "published": on_published,
    "issued": on_published,
    "dcterms_issued": on_published,
    "updated": on_updated,
    "modified": on_updated,
    "dc_date": on_updated,
    "dcterms_modified": on_updated,
    "author": on_author,
    "dc_creator": on_author,
    "dc_author": on_author,
    "category": on_category,
    "dc_subject": on_category,
    "enclosure": on_enclosure,
}
# A feed's own fields: only its title and link are read; an Atom id is its link until
# one is given.
FEED: dict[str, Callable[[Node, Fields], None]] = {
    "title": on_title,
    "dc_title": on_title,
    "link": on_link,
    "id": on_guid,
}
