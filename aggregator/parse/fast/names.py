"""The name feedparser gives an element, and whether feedparser does anything with it.

feedparser does not dispatch on namespaces but on names: a known namespace URI becomes its
own prefix (``content:encoded`` -> ``content_encoded``, Atom and RSS -> no prefix), an
unknown one the first prefix declared for it, and the handler is found by that name.
``Names`` computes the same name from lxml's ``{uri}local`` tags, and declines (raises
``Declined``) where feedparser's answer depends on the order of declarations it saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from feedparser import mixin
from feedparser.util import FeedParserDict

from aggregator.errors import Declined

_FP = mixin._FeedParserMixin
_USERLAND = "http://backend.userland.com/rss"
KNOWN = {uri.lower(): prefix for uri, prefix in _FP.namespaces.items()}
_CANONICAL = frozenset(KNOWN.values())
XML_NS = "http://www.w3.org/XML/1998/namespace"
ATOM_NS = "http://www.w3.org/2005/atom"
# feedparser reads the version from these when they are declared before the root's name.
_VERSION_NS = ("http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/")
_DECLARATION = re.compile(rb"""xmlns(?::([^\s=/>]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Keys of an entry or feed that make an Article, and the aliases FeedParserDict maps onto
# them: an element feedparser stores under one of these would change what we read.
READ_KEYS = frozenset(
    {
        "title",
        "link",
        "links",
        "id",
        "published",
        "published_parsed",
        "updated",
        "updated_parsed",
        "summary",
        "summary_detail",
        "content",
        "tags",
        "author",
        "author_detail",
        "authors",
        "enclosures",
        "media_content",
        "category",
        *FeedParserDict.keymap,
    }
)


class Decline(StrEnum):
    """Why the fast path left a document to feedparser."""

    OFF = "the fast path is switched off"
    MEDIA_TYPE = "not an XML media type"
    NOT_WELL_FORMED = "not well-formed"
    FORMAT = "not RSS 2.0 or Atom 1.0"
    PLACEMENT = "an entry outside its channel or feed"
    ELEMENT = "an element the fast path does not model"
    NAMESPACE = "a namespace feedparser reads by declaration order"
    ATTRIBUTE = "an attribute the fast path does not model"
    REPEATED = "a single-valued field repeats"
    MIXED = "markup, a comment or a PI inside a text element"
    TEXT_TYPE = "a text construct that is not text or html"


def has_handler(key: str) -> bool:
    """Whether feedparser has its own code for elements named ``key``."""
    return hasattr(_FP, "_start_" + key) or hasattr(_FP, "_end_" + key)


def _canonical(uri: str) -> str | None:
    lower = uri.lower()
    if _USERLAND[7:] in lower:
        lower = _USERLAND
    return KNOWN.get(lower)


class Names(dict[str, str]):
    """feedparser's key for each element of one document (``content_encoded``, ``title``,
    ``foo_bar`` for an unknown ``foo:bar``), from the namespace declarations in its bytes.
    A declaration inside a CDATA section is counted too: it can only make the fast path
    decline more, never name an element wrongly. A dict of lxml tags to their keys,
    worked out as they are first looked up: the lookup of one seen before is the dict's
    own, no Python call."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._prefixes: dict[str, set[str | None]] = {}  # unknown URI -> its prefixes
        self._by_lower: dict[str, set[str]] = {}  # lowercased prefix -> URIs
        self.declares_version = False
        self._known: dict[str, set[str]] = {}  # prefix -> canonical prefixes it stood for
        for raw_prefix, double, single in _declarations(data):
            uri = (double or single).decode("utf-8")
            prefix = raw_prefix.decode("utf-8") or None
            if "&" in uri:
                raise Declined(Decline.NAMESPACE)
            self._declare(prefix, uri)

    def _declare(self, prefix: str | None, uri: str) -> None:
        self.declares_version |= uri.lower() in _VERSION_NS
        canonical = _canonical(uri)
        if prefix is not None:
            self._by_lower.setdefault(prefix.lower(), set()).add(uri)
        if canonical is None:
            self._prefixes.setdefault(uri, set()).add(prefix)
        elif prefix is not None:
            self._known.setdefault(prefix, set()).add(canonical)

    def __missing__(self, tag: str) -> str:
        key = self[tag] = self._key(tag)
        return key

    def _key(self, tag: str) -> str:
        uri, _, local = tag[1:].rpartition("}") if tag[0] == "{" else ("", "", tag)
        if not uri:
            return local.lower()
        canonical = _canonical(uri)
        if canonical is None:
            prefix = self._unknown_prefix(uri)
        elif canonical and self._known.get(canonical.lower(), {canonical}) != {canonical}:
            raise Declined(Decline.NAMESPACE)  # feedparser would remap the prefix
        else:
            prefix = canonical.lower()
        return f"{prefix}_{local.lower()}" if prefix else local.lower()

    def _unknown_prefix(self, uri: str) -> str:
        """The prefix feedparser names an unknown namespace by: exact only when the URI
        is declared with one prefix that names nothing else."""
        prefixes = self._prefixes.get(uri, set())
        if len(prefixes) != 1 or None in prefixes:
            raise Declined(Decline.NAMESPACE)
        (prefix,) = prefixes
        lower = prefix.lower()  # type: ignore[union-attr]
        if self._by_lower.get(lower) != {uri} or lower in _CANONICAL:
            raise Declined(Decline.NAMESPACE)
        return lower


def _declarations(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """``_DECLARATION.findall(data)``: the regular expression is tried only where
    ``xmlns`` is, which ``bytes.find`` reaches several times faster than its own search
    through a whole body."""
    at = data.find(b"xmlns")
    while at != -1:
        match = _DECLARATION.match(data, at)
        if match:
            yield match.groups(default=b"")  # type: ignore[misc]
            at = match.end()
        else:
            at += 5
        at = data.find(b"xmlns", at)


def attributes(element: Any) -> dict[str, str]:
    """An lxml element's attributes as feedparser keys them: names lowercased, ``xml:``
    kept, ``rel`` and ``type`` values lowercased. Declines any other namespaced attribute
    (feedparser files it under its local name) and names that differ only in case."""
    found: dict[str, str] = {}
    for name, value in element.items():
        if name[0] == "{":
            uri, _, local = name[1:].partition("}")
            if uri != XML_NS:
                raise Declined(Decline.ATTRIBUTE)
            name = "xml:" + local
        key = name.lower()
        if key in found:
            raise Declined(Decline.ATTRIBUTE)
        found[key] = value.lower() if key in ("rel", "type") else value
    return found
