"""The fast path: well-formed RSS 2.0 and Atom 1.0 read with lxml into exactly the Entry
values feedparser would give, or declined with a reason, so feedparser parses it.

feedparser stays the parser of record: it parses everything declined here and defines
what this must produce; ``tests/test_parse_fast.py`` and ``bench/parse_diff.py`` hold the
two to the same Articles. What is modelled is what makes an Article (``fields``); every
element is named the way feedparser names it (``names``), and one feedparser would treat
in a way not modelled here (its own handler, a name that shadows a field we read,
children inside a text element, a field twice) makes the fast path decline. The document
is parsed by ``aggregator.xml`` (the one home of lxml), its CDATA sections read as text
once the known-scan's expat has read it whole (``cdata``); its elements are lxml's own.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from aggregator.errors import Declined
from aggregator.parse.entries import Entry
from aggregator.parse.fast import cdata
from aggregator.parse.fast.fields import ENTRY, FEED, Fields, Node, step, text
from aggregator.parse.fast.names import (
    ATOM_NS,
    READ_KEYS,
    Decline,
    Names,
    attributes,
    has_handler,
)
from aggregator.xml import XMLSyntaxError, children, parse_xml

__all__ = ["Decline", "FastFeed", "parse"]

_XML_TYPES = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")
_TEXT_XML_TYPES = ("text/xml", "text/xml-external-parsed-entity")
# Elements feedparser has code for that store nothing an Article reads: allowed as leaves,
# and in a feed an image or author with only the leaf children listed.
_FEED_INERT = frozenset(
    [
        "description",
        "dc_description",
        "subtitle",
        "tagline",
        "language",
        "dc_language",
        "copyright",
        "rights",
        "dc_rights",
        "managingeditor",
        "webmaster",
        "dc_publisher",
        "pubdate",
        "published",
        "lastbuilddate",
        "updated",
        "modified",
        "dc_date",
        "dcterms_modified",
        "generator",
        "category",
        "dc_subject",
        "cloud",
    ]
)
_ENTRY_INERT = frozenset(["language", "dc_language", "copyright", "rights", "dc_rights"])
_CHILDREN = {
    "image": frozenset(["url", "title", "link", "width", "height", "description"]),
    "author": frozenset(["name", "email", "uri"]),
    "dc_creator": frozenset(["name", "email", "uri"]),
}


class FastFeed(NamedTuple):
    """A document the fast path read: the feed's title and link, and its entries."""

    title: str
    link: str
    entries: tuple[Entry, ...]


def parse(
    data: bytes, url: str, media_type: str, *, well_formed: bool = False
) -> FastFeed | Decline:
    """Read ``data`` (UTF-8, as feedparser gets it: no XML declaration, no DOCTYPE)
    served as ``media_type`` from ``url``; the Decline when feedparser must.
    ``well_formed``: an XML parser has read all of ``data`` without an error (the
    known-scan found its entries), so its CDATA sections can be read as text (``cdata``)."""
    try:
        return _parse(data, url, media_type or "application/xml", well_formed)
    except Declined as declined:
        return declined.reason


def _parse(data: bytes, url: str, media_type: str, well_formed: bool) -> FastFeed:
    if not _is_xml(media_type):
        raise Declined(Decline.MEDIA_TYPE)  # feedparser calls the feed bozo
    try:
        root, clean, _ = parse_xml(cdata.as_text(data) if well_formed else data)
    except XMLSyntaxError:
        raise Declined(Decline.NOT_WELL_FORMED) from None
    if not clean or not url:
        raise Declined(Decline.NOT_WELL_FORMED)
    names = Names(data)
    attrs = attributes(root)
    key = names[root.tag]
    if key == "rss" and attrs.get("version", "").startswith("2."):
        channel = _only_channel(root, names)
        channel_attrs = _container_attributes(channel)
        base = step(step(url, attrs), channel_attrs)
        return _read(channel, names, base, atom=False, entry_key="item")
    atom = root.tag.startswith("{") and root.tag[1:].partition("}")[0].lower() == ATOM_NS
    if key == "feed" and atom and not names.declares_version:
        return _read(
            root, names, step(url, _container_attributes(root)), atom=True, entry_key="entry"
        )
    raise Declined(Decline.FORMAT)


def _is_xml(media_type: str) -> bool:
    """feedparser's test of an XML media type (it is case-sensitive)."""
    if media_type in _XML_TYPES or media_type in _TEXT_XML_TYPES:
        return True
    return media_type.startswith(("application/", "text/")) and media_type.endswith("+xml")


def _only_channel(root: Any, names: Names) -> Any:
    elements = list(children(root))
    if len(elements) != 1 or names[elements[0].tag] != "channel":
        raise Declined(Decline.PLACEMENT)
    return elements[0]


def _container_attributes(element: Any) -> dict[str, str]:
    attrs = attributes(element) if element.keys() else {}  # an item has none, mostly
    if "lastmod" in attrs or "href" in attrs:
        raise Declined(Decline.ATTRIBUTE)  # feedparser reads these as a date and a link
    return attrs


def _read(container: Any, names: Names, base: str, *, atom: bool, entry_key: str) -> FastFeed:
    feed = Fields(in_entry=False, atom=atom)
    entries = []
    for child in children(container):
        key = names[child.tag]
        if key == entry_key:
            entries.append(_entry(child, names, base, atom))
        else:
            _child(Node(child, key, attributes(child), base, names.__getitem__), feed, FEED)
    return FastFeed(feed.title, feed.link or "", tuple(entries))


def _entry(element: Any, names: Names, outer_base: str, atom: bool) -> Entry:
    base = step(outer_base, _container_attributes(element))
    fields = Fields(in_entry=True, atom=atom)
    keys = names.__getitem__  # the key function each Node carries
    for child in children(element):
        # most children have no attributes: no call to read none
        attrs = attributes(child) if child.keys() else {}
        node = Node(child, keys(child.tag), attrs, base, keys)
        # the common children straight to their handler: a call fewer for each
        handler = ENTRY.get(node.key)
        if handler is None:
            _child(node, fields, ENTRY)
        else:
            handler(node, fields)
    return fields.entry()


def _child(node: Node, fields: Fields, handlers: dict[str, Any]) -> None:
    handler = handlers.get(node.key)
    if handler is not None:
        handler(node, fields)
    elif node.key in (_ENTRY_INERT if fields.in_entry else _FEED_INERT):
        text(node)  # a leaf: feedparser files it away, touching no field we read
    elif not fields.in_entry and node.key in _CHILDREN:
        allowed = _CHILDREN[node.key]
        for child in children(node.element):
            if node.keys(child.tag) not in allowed or len(child):
                raise Declined(Decline.ELEMENT)
    elif has_handler(node.key):
        raise Declined(Decline.ELEMENT)
    else:
        _inert(node.element, node.key, node.keys)


def _inert(element: Any, key: str, keys: Any) -> None:
    """An element feedparser has no code for stores its text under its own key: harmless
    unless that key is one we read, or something inside it has code."""
    if has_handler(key) or key in READ_KEYS:
        raise Declined(Decline.ELEMENT)
    for child in children(element):
        _inert(child, keys(child.tag), keys)
