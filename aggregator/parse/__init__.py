"""FetchResult -> ParsedFeed: the bytes made safe, parsed (lxml's fast path, else
feedparser), normalised into Articles. The only package that imports feedparser.

The steps, one module each: ``document`` decodes the body and refuses or strips what is
unsafe in its prolog, so the parsers get UTF-8 without a DOCTYPE or control characters
(its C0 controls are cut only once the known-scan's expat refuses a body, as it refuses
any); ``known`` cuts out the entries already parsed from the source's last body; ``fast`` reads
the rest with lxml when it is well-formed RSS 2.0 or Atom 1.0 it can read exactly as
feedparser would, and otherwise declines; feedparser, the parser of record, parses what
it declines, with its own sanitiser and URI resolver switched off (they are ~70% of its
time), its SAX driver buffering text (``expat``) and its base-URI joins memoised;
``entries`` turns each entry into an Article, nh3 sanitising every HTML field and making
its links absolute; beside them it derives what the store would otherwise work out in the
collecting process, one story at a time: the plain texts it indexes (``Article.texts``)
and the headline key it folds stories by (``Article.title_key``).
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import feedparser

from aggregator.errors import ParseError
from aggregator.models import Article, FetchResult, ParsedFeed
from aggregator.parse import document, fast, jsonfeed
from aggregator.parse import known as known_entries
from aggregator.parse.entries import Entry, article, feed_text, from_feedparser, web_link
from aggregator.text import collapse, utf8_cut_c0

_EXPAT_PLACE = re.compile(r"^<unknown>:\d+:\d+: ")
_HTML_START = re.compile(r"\A(?:\s|<!--.*?-->)*<(?:!doctype\s+html|html)\b", re.I | re.DOTALL)
SAX_DRIVER = "aggregator.parse.expat"

if SAX_DRIVER not in feedparser.api.PREFERRED_XML_PARSERS:
    feedparser.api.PREFERRED_XML_PARSERS.insert(0, SAX_DRIVER)
# feedparser re-joins its xml:base with itself at every start tag, and urljoin was 15% of
# its time; the function is pure (strings in, a string out), so its answers are memoised.
feedparser.mixin.make_safe_absolute_uri = functools.lru_cache(maxsize=1024)(
    feedparser.urls.make_safe_absolute_uri
)


def parse_feed(
    source: str,
    result: FetchResult,
    *,
    now: datetime,
    known: frozenset[str] = frozenset(),
    fast_path: bool = True,
) -> ParsedFeed:
    """Parse a fetched feed into articles of ``source``.

    Takes the fetch result (its bytes, headers and final URL, which is the base of
    relative links), ``now`` (aware), used for missing dates and to clamp future ones,
    and the ``item_keys`` of the source's last parsed body as ``known``: entries with one
    of those keys are not parsed again. Returns the feed's title, link, articles (of the
    entries not known), the keys of all its entries, how many were skipped and warnings
    (a feed that is not well-formed but still yields entries is parsed leniently, with a
    warning; its entries get no keys) and, in ``declined``, why the lxml fast path left
    the body to feedparser. ``fast_path=False`` parses with feedparser alone, as the
    differential test does. Raises ParseError when the bytes are not a feed: empty, an
    HTML page, no entries and broken, or an XML document that declares entities. A JSON
    body (a JSON media type, or a body starting with ``{``) is read as JSON Feed 1.x.
    """
    media_type = result.headers.get("content-type", "").split(";")[0].strip()
    body = document.decode(result.content, document.charset(result.headers.get("content-type", "")))
    text = body.text
    if not text or text.isspace():  # strip() would copy any body ending in a newline
        raise ParseError(source, "not a feed: the response body is empty")
    if document.is_json(text, media_type):
        title, link, entries = jsonfeed.read(source, text)
        warnings: list[str] = []
        return ParsedFeed(
            title=feed_text(title),
            link=web_link(link, result.url, _warner(warnings, source)),
            articles=_articles(source, entries, result.url, now, warnings),
            warnings=tuple(warnings),
        )
    # The C0 controls are left in for the known-scan's expat, which refuses any: only from
    # a body it finds no entries in are they cut (a translate of every byte), and it is
    # scanned again. A body it reads has none, so both ways give the same bytes.
    data = document.without_doctype(source, text, body.utf8, c0=False)
    items = known_entries.scan_items(data, result.url)
    if not items and (cut_data := utf8_cut_c0(data)) is not data:
        data, items = cut_data, known_entries.scan_items(cut_data, result.url)
    cut = [i for i in items if i.key in known]
    skipped = len(cut)
    quick = (
        fast.parse(
            known_entries.without(data, cut), result.url, media_type, well_formed=bool(items)
        )
        if fast_path
        else fast.Decline.OFF
    )
    if isinstance(quick, fast.FastFeed):
        title, link, entries, warnings = quick.title, quick.link, quick.entries, []
    else:
        parsed, skipped = _parse_slowly(source, text, data, cut, result.url, media_type)
        if parsed.bozo:
            items = []  # parsed leniently: entries are not independent of each other
        feed = parsed.feed
        title, link = feed.get("title", ""), feed.get("link", "")
        entries = tuple(from_feedparser(entry) for entry in parsed.entries)
        warnings = [f"{source}: parsed leniently: {_reason(parsed)}"] if parsed.bozo else []
    return ParsedFeed(
        title=feed_text(title),
        link=web_link(link, result.url, _warner(warnings, source)),
        articles=_articles(source, entries, result.url, now, warnings),
        warnings=tuple(warnings),
        item_keys=frozenset(i.key for i in items),
        skipped_entries=skipped,
        declined="" if isinstance(quick, fast.FastFeed) else quick.value,
    )


def _parse_slowly(
    source: str, text: str, data: bytes, cut: list[known_entries.Item], url: str, media_type: str
) -> tuple[Any, int]:
    """feedparser's reading of ``data`` (the body ``text`` made safe) without the ``cut``
    entries, and how many entries it skipped. Raises ParseError when it is not a feed."""
    parsed, skipped = _feedparse(known_entries.without(data, cut), url, media_type), len(cut)
    if skipped and (parsed.bozo or not parsed.version):
        # Cutting changed how feedparser reads the rest (a namespace or the version was
        # declared on a cut entry): parse the whole document after all.
        parsed, skipped = _feedparse(data, url, media_type), 0
    _check_is_feed(source, parsed, text, media_type, skipped=skipped)
    return parsed, skipped


def _articles(
    source: str, entries: tuple[Entry, ...], url: str, now: datetime, warnings: list[str]
) -> tuple[Article, ...]:
    """Each entry's Article; a problem with one (a malformed URL) is a warning naming it."""
    return tuple(
        article(source, entry, url, now, _entry_warner(warnings, source, n, entry))
        for n, entry in enumerate(entries, 1)
    )


def _entry_warner(
    warnings: list[str], source: str, number: int, entry: Entry
) -> Callable[[str], None]:
    """A warner naming the entry, its name made only for a warning (most entries have none)."""
    return lambda problem: warnings.append(
        f"{source}: entry {number} ({entry.id.strip() or entry.title.strip()[:60]}): {problem}"
    )


def _warner(warnings: list[str], subject: str) -> Callable[[str], None]:
    return lambda problem: warnings.append(f"{subject}: {problem}")


def _feedparse(data: bytes, url: str, media_type: str) -> Any:
    return feedparser.parse(
        io.BytesIO(data),
        response_headers={
            "content-type": f"{media_type or 'application/xml'}; charset=utf-8",
            "content-location": url,
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _check_is_feed(source: str, parsed: Any, text: str, media_type: str, *, skipped: int) -> None:
    if not parsed.version:
        if media_type == "text/html" or _HTML_START.match(text):
            raise ParseError(source, "not a feed: the server sent an HTML page")
        reason = _reason(parsed) if parsed.bozo else "no RSS or Atom root element"
        raise ParseError(source, f"not a feed: {reason}")
    if parsed.bozo and not parsed.entries and not skipped:
        raise ParseError(source, f"not a usable feed: {_reason(parsed)}")


def _reason(parsed: Any) -> str:
    reason = collapse(str(parsed.get("bozo_exception", "malformed")))
    # expat's "<unknown>:line:col" counts the text after our cleaning, not the server's
    # bytes, so it would point at the wrong line: keep only the reason.
    return _EXPAT_PLACE.sub("", reason)
