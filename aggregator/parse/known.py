"""Which entries of a body were already parsed: each entry's bytes found by an expat scan
and keyed, so entries known from the source's last body can be cut out before feedparser
runs and a feed that gained 5 entries costs 5 entries of feedparser, not 50."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any, NamedTuple
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
    nothing is skipped. ``data`` holds no DTD (``document.without_doctype`` gives it): an
    entity could expand to tags its bytes do not show, which only end tags are read for.
    expat with no Python handler for text is ~50× faster than feedparser on the same
    bytes."""
    items = _scan(data, feed_url, nested=False)
    if items is None:  # an entry holds a start tag of its name: count every element
        items = _scan(data, feed_url, nested=True)
        assert items is not None, "the counting scan never gives up"
    return items


def _scan(data: bytes, feed_url: str, *, nested: bool) -> list[Item] | None:
    """``scan_items``. Inside an entry, ``nested`` counts the depth of every element; else
    only end tags are seen, the first of the entry's name taken for its end once no start
    tag of that name is found in its bytes, and None is returned when one is (its first
    end tag of that name may not be its own). The second way calls Python for one tag in
    two inside entries, which are most tags, and then only for a name not seen before in
    the document (``_OtherEndTags``)."""
    items: list[Item] = []
    same_name_inside = False
    ancestors: list[tuple[str, dict[str, str]]] = []
    begin = depth = 0  # where the entry being read starts, and how deep inside it we are
    entry, tag = "", b""  # the name of the entry being read, and that name as bytes
    context: Any = None  # the key's hash of what surrounds the entries, until that changes

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal begin, depth, entry, tag, context
        if _is_entry(name, ancestors):
            begin, depth, entry, tag = parser.CurrentByteIndex, 1, name, name.encode()
            # Inside an entry only its end counts: cheaper handlers until it closes.
            if nested:
                parser.StartElementHandler, parser.EndElementHandler = inner_start, inner_end
            else:
                others.pop(name, None)  # an element of this name inside an earlier entry
                parser.StartElementHandler, parser.EndElementHandler = None, other_end_tag
        else:
            context = None
        ancestors.append((name, attrs))

    def end(name: str) -> None:
        nonlocal context
        context = None
        ancestors.pop()

    def inner_start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1

    def inner_end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if not depth:
            close()

    def entry_end(name: str) -> None:
        nonlocal same_name_inside
        if name != entry:
            others[name] = None  # looked up in C from now on
            return
        # the entry's bytes up to this event's tag, that tag included: expat reports an end
        # tag at its "<", and an empty <item/>'s end at its own "<" too while no start
        # handler is set, as here
        if _has_start_tag(data, tag, begin + 1, parser.CurrentByteIndex + len(tag) + 2):
            same_name_inside = True
            parser.StartElementHandler = parser.EndElementHandler = None  # expat just checks
            return
        close()

    def close() -> None:
        nonlocal context
        parser.StartElementHandler, parser.EndElementHandler = start, end
        ancestors.pop()
        finish = parser.CurrentByteIndex
        # where expat reports an empty <item/>'s end (its own "<" while no start handler is
        # set, else where the next token starts) there is no end tag: nothing worth skipping
        if data.startswith(b"</" + tag, finish):
            finish = data.index(b">", finish) + 1
            if context is None:
                context = _context_hash(feed_url, ancestors)
            digest = context.copy()
            digest.update(view[begin:finish])
            items.append(Item(begin, finish, digest.hexdigest()))

    others = _OtherEndTags(entry_end)
    other_end_tag = others.__getitem__
    view = memoryview(data)  # hashed in place, not sliced into copies
    # intern=None: names are not looked up in expat's own dict at every event (None is
    # not the default, which is a new dict)
    parser = ParserCreate(intern=None)
    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(data, True)
    except ExpatError:
        return []
    return None if same_name_inside else items


class _OtherEndTags(dict[str, None]):
    """The names of the end tags read inside entries that were not the entry's own, as
    keys: expat's end handler inside an entry is this dict's ``__getitem__``, so an end
    tag of a name seen before costs a lookup in C, not a call of Python (most end tags are
    inside entries, and a feed's entries repeat a few names); a name not in it, which the
    entry's own always is, calls ``on_new``."""

    __slots__ = ("on_new",)

    def __init__(self, on_new: Callable[[str], None]) -> None:
        super().__init__()
        self.on_new = on_new

    def __missing__(self, name: str) -> None:
        self.on_new(name)


def _has_start_tag(data: bytes, name: bytes, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` holds ``<name`` as a start tag would (followed by white
    space, ``/`` or ``>``), in markup or not (a CDATA section, a comment)."""
    found = data.find(b"<" + name, start, end)
    while found != -1:
        after = found + 1 + len(name)
        if data[after : after + 1] in (b" ", b"\t", b"\r", b"\n", b"/", b">"):
            return True
        found = data.find(b"<" + name, after, end)
    return False


def _is_entry(name: str, ancestors: list[tuple[str, dict[str, str]]]) -> bool:
    """An entry is an item/entry child of the root (Atom, RSS 1.0) or of an RSS channel."""
    if name.rpartition(":")[2] not in _ITEM_NAMES:
        return False
    depth = len(ancestors)
    return depth == 1 or (depth == 2 and ancestors[1][0].rpartition(":")[2] == "channel")


def _context_hash(feed_url: str, ancestors: list[tuple[str, dict[str, str]]]) -> Any:
    """The hash of an entry's key before its bytes: the parsing rules, the feed URL and the
    start tags around the entry."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{_PARSED_BY}\n{feed_url}\n{ancestors!r}\n".encode())
    return digest


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
