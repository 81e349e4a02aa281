"""Which entries of a body were already parsed: each entry's bytes found by an expat scan
and keyed, so entries known from the source's last body can be cut out before feedparser
runs and a feed that gained 5 entries costs 5 entries of feedparser, not 50."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from importlib.metadata import version
from typing import NamedTuple
from xml.parsers.expat import ExpatError, ParserCreate

import feedparser

from aggregator import __version__

# Bump when parse maps an entry differently, so stored entries are parsed again; an upgrade
# of Wiredesk, feedparser or nh3 changes the key by itself.
_ITEM_RULES = "2"  # 2: the lxml fast path and the cheaper Article step
_PARSED_BY = (
    f"wiredesk {__version__}/{_ITEM_RULES}, "
    f"feedparser {feedparser.__version__}, nh3 {version('nh3')}"
)
_ITEM_NAMES = {"item", "entry"}


class Item(NamedTuple):
    """Where one entry's bytes are in the document, and its key."""

    start: int
    end: int
    key: str


def scan_items(data: bytes, feed_url: str) -> list[Item]:
    """Where each entry (RSS/RDF ``item``, Atom ``entry``) of a well-formed document is,
    with its key: a hash of the entry's bytes, the start tags around it (namespaces,
    ``xml:base``, ``xml:lang``), the feed URL and the parsing rules, so an entry with the
    same key parses to the same article. [] when the document is not well-formed: then
    nothing is skipped. expat with no Python handler for text is ~50× faster than
    feedparser on the same bytes."""
    items: list[Item] = []
    ancestors: list[tuple[str, dict[str, str]]] = []
    opened: list[tuple[int, int]] = []  # (byte offset, depth) of the entry being read

    def start(name: str, attrs: dict[str, str]) -> None:
        if not opened and _is_entry(name, ancestors):
            opened.append((parser.CurrentByteIndex, len(ancestors)))
        ancestors.append((name, attrs))

    def end(name: str) -> None:
        ancestors.pop()
        if not opened or opened[0][1] != len(ancestors):
            return
        begin, finish = opened.pop()[0], parser.CurrentByteIndex
        # expat reports an empty <item/> ending where the next token starts: no end tag
        # there, and nothing worth skipping.
        if data.startswith(b"</" + name.encode(), finish):
            finish = data.index(b">", finish) + 1
            key = _item_key(feed_url, ancestors, data[begin:finish])
            items.append(Item(begin, finish, key))

    parser = ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(data, True)
    except ExpatError:
        return []
    return items


def _is_entry(name: str, ancestors: list[tuple[str, dict[str, str]]]) -> bool:
    """An entry is an item/entry child of the root (Atom, RSS 1.0) or of an RSS channel."""
    if name.rpartition(":")[2] not in _ITEM_NAMES:
        return False
    depth = len(ancestors)
    return depth == 1 or (depth == 2 and ancestors[1][0].rpartition(":")[2] == "channel")


def _item_key(feed_url: str, ancestors: list[tuple[str, dict[str, str]]], item: bytes) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{_PARSED_BY}\n{feed_url}\n{ancestors!r}\n".encode())
    digest.update(item)
    return digest.hexdigest()


def without(data: bytes, spans: list[Item]) -> bytes:
    """``data`` with the byte ranges of ``spans`` (in document order) cut out."""
    if not spans:
        return data
    return b"".join(_kept(data, spans))


def _kept(data: bytes, spans: list[Item]) -> Iterator[bytes]:
    position = 0
    for span in spans:
        yield data[position : span.start]
        position = span.end
    yield data[position:]
