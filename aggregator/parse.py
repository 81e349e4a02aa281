"""FetchResult -> ParsedFeed: the bytes made safe, parsed by feedparser, normalised into
Articles. The only importer of feedparser.

XML safety, before feedparser sees a byte: the body is decoded here (valid UTF-8 wins over
a wrong declared charset), a prolog that declares entities (``<!ENTITY``: billion laughs,
quadratic blowup, external entities) is refused, and any other DOCTYPE is removed, so no
external DTD is ever fetched. Nothing here processes XInclude. feedparser then gets UTF-8
without ASCII control characters, and its own sanitiser and URI resolver are switched off
(they are ~70% of its time): nh3 sanitises every HTML field and makes its links absolute.

Unchanged entries are not parsed twice: before feedparser runs, a fast expat scan finds
each entry's bytes and keys them (see ``_scan_items``); entries whose key the caller
already knows from the last body of the source are cut out of the document, so a feed
that gained 5 entries costs 5 entries of feedparser, not 50.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from time import struct_time
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit
from xml.parsers.expat import ExpatError, ParserCreate

import feedparser
import nh3

from aggregator import __version__
from aggregator.errors import ParseError
from aggregator.models import Article, Enclosure, FetchResult, ParsedFeed
from aggregator.text import strip_control

# ASCII control characters other than tab, LF and CR: XML 1.0 forbids them and
# feedgen/lxml raise on them when the articles are published.
_WHITESPACE = re.compile(r"\s+")
_EXPAT_PLACE = re.compile(r"^<unknown>:\d+:\d+: ")
_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style"}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SIGNATURES = {
    b"\x00\x00\x00<": "utf-32-be",
    b"<\x00\x00\x00": "utf-32-le",
    b"\x00<\x00?": "utf-16-be",
    b"<\x00?\x00": "utf-16-le",
    b"\x4c\x6f\xa7\x94": "cp037",  # EBCDIC "<?xm"
}
_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(r"""\A\s*<\?xml\s[^>]*?\?>""")
_XML_DECL_ENCODING = re.compile(r"""\A\s*<\?xml\s[^>]*?encoding\s*=\s*["']([\w.:-]+)""")
# What may precede the root element: whitespace, processing instructions (the XML
# declaration among them), comments.
_PROLOG_MISC = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE_TOKEN = re.compile(r"""[^"'<>\[\]]+|"[^"]*"|'[^']*'|<!--.*?-->|<\?.*?\?>|.""", re.DOTALL)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)
# feedparser's own idea of where the prolog ends (it looks for entities before this).
_FIRST_TAG = re.compile(r"<\w", re.ASCII)
_HTML_START = re.compile(r"\A(?:\s|<!--.*?-->)*<(?:!doctype\s+html|html)\b", re.I | re.DOTALL)
# Bump when _article maps an entry differently, so stored entries are parsed again.
_ITEM_RULES = "1"
_ITEM_NAMES = {"item", "entry"}


def parse_feed(
    source: str, result: FetchResult, *, now: datetime, known: frozenset[str] = frozenset()
) -> ParsedFeed:
    """Parse a fetched feed into articles of ``source``.

    Takes the fetch result (its bytes, headers and final URL, which is the base of
    relative links), ``now`` (aware), used for missing dates and to clamp future ones,
    and the ``item_keys`` of the source's last parsed body as ``known``: entries with one
    of those keys are not parsed again. Returns the feed's title, link, articles (of the
    entries not known), the keys of all its entries, how many were skipped and warnings
    (a feed that is not well-formed but still yields entries is parsed leniently, with a
    warning; its entries get no keys). Raises ParseError when the bytes are not a feed:
    empty, an HTML page, no entries and broken, or an XML document that declares entities.
    """
    media_type = result.headers.get("content-type", "").split(";")[0].strip()
    text = _decode(result.content, _charset(result.headers.get("content-type", "")))
    if not text.strip():
        raise ParseError(source, "not a feed: the response body is empty")
    data = _without_doctype(source, text)
    items = _scan_items(data, result.url)
    data = _without(data, [i for i in items if i.key in known])
    skipped = sum(1 for i in items if i.key in known)
    parsed = feedparser.parse(
        io.BytesIO(data),
        response_headers={
            "content-type": f"{media_type or 'application/xml'}; charset=utf-8",
            "content-location": result.url,
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    _check_is_feed(source, parsed, text, media_type, skipped=skipped)
    articles = tuple(_article(source, entry, result.url, now) for entry in parsed.entries)
    warnings = (f"{source}: parsed leniently: {_reason(parsed)}",) if parsed.bozo else ()
    feed = parsed.feed
    return ParsedFeed(
        title=_plain(feed.get("title", "")),
        link=_link(feed.get("link", ""), result.url),
        articles=articles,
        warnings=warnings,
        item_keys=frozenset(i.key for i in items),
        skipped=skipped,
    )


class _Item(NamedTuple):
    start: int
    end: int
    key: str


def _scan_items(data: bytes, feed_url: str) -> list[_Item]:
    """Where each entry (RSS/RDF ``item``, Atom ``entry``) of a well-formed document is,
    with its key: a hash of the entry's bytes, the start tags around it (namespaces,
    ``xml:base``, ``xml:lang``), the feed URL and the parsing rules, so an entry with the
    same key parses to the same article. [] when the document is not well-formed: then
    nothing is skipped. expat with no Python handler for text is ~50× faster than
    feedparser on the same bytes."""
    items: list[_Item] = []
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
            items.append(_Item(begin, finish, key))

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
    digest.update(f"{__version__}/{_ITEM_RULES}\n{feed_url}\n{ancestors!r}\n".encode())
    digest.update(item)
    return digest.hexdigest()


def _without(data: bytes, spans: list[_Item]) -> bytes:
    """``data`` with the byte ranges of ``spans`` (in document order) cut out."""
    if not spans:
        return data
    return b"".join(_kept(data, spans))


def _kept(data: bytes, spans: list[_Item]) -> Iterator[bytes]:
    position = 0
    for span in spans:
        yield data[position : span.start]
        position = span.end
    yield data[position:]


def _charset(content_type: str) -> str:
    match = _CHARSET.search(content_type)
    return match.group(1) if match else ""


def _codec(name: str) -> str | None:
    if not name:
        return None
    try:
        name = codecs.lookup(name).name
        "".encode(name)  # raises LookupError for bytes-to-bytes codecs such as rot13
    except LookupError:
        return None
    return name


def _decode(data: bytes, http_charset: str) -> str:
    """The body as text. A byte-order mark or a UTF-16/32 pattern decides first; then
    bytes that are valid UTF-8 are UTF-8, whatever the server or the XML declaration
    claim (the commonest mislabelling); then the declared charsets; then Windows-1252."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    if data[:4] in _SIGNATURES:
        return data.decode(_SIGNATURES[data[:4]], errors="replace")
    head = data[:200].decode("ascii", errors="replace")
    declared = [_codec(http_charset), _codec(_group(_XML_DECL_ENCODING.match(head)))]
    known = [name for name in declared if name]
    if data.isascii():
        # Only stateful 7-bit encodings (ISO-2022-JP) read ASCII differently from UTF-8.
        compatible = [n for n in known if "<".encode(n, errors="replace") == b"<"]
        return data.decode(compatible[0] if compatible else "ascii", errors="replace")
    for name in ["utf-8", *known]:
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
    return data.decode("windows-1252", errors="replace")


def _group(match: re.Match[str] | None) -> str:
    return match.group(1) if match else ""


def _without_doctype(source: str, text: str) -> bytes:
    """UTF-8 bytes for feedparser: no XML declaration (the encoding is now UTF-8), no
    DOCTYPE, no control characters. Raises ParseError when the prolog declares entities."""
    doctype, prolog_end = _prolog(source, text)
    first_tag = _FIRST_TAG.search(text)
    scan_end = max(prolog_end, first_tag.start() if first_tag else len(text))
    if _ENTITY_DECL.search(text, 0, scan_end):
        raise ParseError(
            source, "refused: the document declares XML entities (an entity-expansion attack)"
        )
    if doctype:
        text = text[: doctype[0]] + text[doctype[1] :]
    return strip_control(_XML_DECL.sub("", text, count=1)).encode("utf-8")


def _prolog(source: str, text: str) -> tuple[tuple[int, int] | None, int]:
    """The span of the DOCTYPE (or None) and where the prolog ends."""
    pos, doctype = (1 if text.startswith("\ufeff") else 0), None
    while True:
        misc = _PROLOG_MISC.match(text, pos)
        if misc:
            pos = misc.end()
        elif doctype is None and text[pos : pos + 9].upper() == "<!DOCTYPE":
            doctype = (pos, _doctype_end(source, text, pos))
            pos = doctype[1]
        else:
            return doctype, pos


def _doctype_end(source: str, text: str, start: int) -> int:
    """Where the DOCTYPE starting at ``start`` ends, skipping quoted strings, comments and
    processing instructions, so a ``]>`` inside one cannot end it early."""
    in_subset = False
    for token in _DOCTYPE_TOKEN.finditer(text, start + 2):
        char = token.group()
        if char == "[":
            in_subset = True
        elif char == "]":
            in_subset = False
        elif char == ">" and not in_subset:
            return token.end()
    raise ParseError(source, "not a feed: the DOCTYPE declaration never ends")


def _check_is_feed(source: str, parsed: Any, text: str, media_type: str, *, skipped: int) -> None:
    if not parsed.version:
        if media_type == "text/html" or _HTML_START.match(text):
            raise ParseError(source, "not a feed: the server sent an HTML page")
        reason = _reason(parsed) if parsed.bozo else "no RSS or Atom root element"
        raise ParseError(source, f"not a feed: {reason}")
    if parsed.bozo and not parsed.entries and not skipped:
        raise ParseError(source, f"not a usable feed: {_reason(parsed)}")


def _reason(parsed: Any) -> str:
    reason = _WHITESPACE.sub(" ", str(parsed.get("bozo_exception", "malformed"))).strip()
    # expat's "<unknown>:line:col" counts the text after our cleaning, not the server's
    # bytes, so it would point at the wrong line: keep only the reason.
    return _EXPAT_PLACE.sub("", reason)


def _article(source: str, entry: Any, feed_url: str, now: datetime) -> Article:
    title = _plain(entry.get("title", ""))
    link = _link(entry.get("link", ""), feed_url)
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
        dict.fromkeys(term for t in entry.get("tags", ()) if (term := _plain(t.get("term") or "")))
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
        author=_plain(entry.get("author", "")),
        section=tags[0] if tags else "",
        tags=tags,
        enclosures=_enclosures(entry.get("enclosures", ()), feed_url),
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: str) -> str:
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


def _link(url: str, base: str) -> str:
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


def _enclosures(items: Any, feed_url: str) -> tuple[Enclosure, ...]:
    found = []
    for item in items:
        url = _link(item.get("href", ""), feed_url)
        if url:
            length = str(item.get("length") or "0").strip()
            found.append(
                Enclosure(
                    url=url,
                    type=_plain(item.get("type") or ""),
                    length=int(length) if length.isdigit() else 0,
                )
            )
    return tuple(found)
