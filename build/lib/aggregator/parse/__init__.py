"""FetchResult -> ParsedFeed: the bytes made safe, parsed by feedparser, normalised into
Articles. The only package that imports feedparser.

The steps, one module each: ``document`` decodes the body and refuses or strips what is
unsafe in its prolog, so feedparser gets UTF-8 without a DOCTYPE or control characters;
``known`` cuts out the entries already parsed from the source's last body; feedparser
parses the rest with its own sanitiser and URI resolver switched off (they are ~70% of
its time), its SAX driver buffering text (``expat``) and its base-URI joins memoised;
``entries`` turns each entry into an Article, nh3 sanitising every HTML field and making
its links absolute.
"""

from __future__ import annotations

import functools
import io
import re
from datetime import datetime
from typing import Any

import feedparser

from aggregator.errors import ParseError
from aggregator.models import FetchResult, ParsedFeed
from aggregator.parse import document
from aggregator.parse import known as known_entries
from aggregator.parse.entries import article, plain, web_link

_WHITESPACE = re.compile(r"\s+")
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
    text = document.decode(result.content, document.charset(result.headers.get("content-type", "")))
    if not text.strip():
        raise ParseError(source, "not a feed: the response body is empty")
    data = document.without_doctype(source, text)
    items = known_entries.scan_items(data, result.url)
    cut = [i for i in items if i.key in known]
    skipped = len(cut)
    parsed = _feedparse(known_entries.without(data, cut), result.url, media_type)
    if skipped and (parsed.bozo or not parsed.version):
        # Cutting changed how feedparser reads the rest (a namespace or the version was
        # declared on a cut entry): parse the whole document after all.
        parsed, skipped = _feedparse(data, result.url, media_type), 0
    if parsed.bozo:
        items = []  # parsed leniently: entries are not independent of each other
    _check_is_feed(source, parsed, text, media_type, skipped=skipped)
    articles = tuple(article(source, entry, result.url, now) for entry in parsed.entries)
    warnings = (f"{source}: parsed leniently: {_reason(parsed)}",) if parsed.bozo else ()
    feed = parsed.feed
    return ParsedFeed(
        title=plain(feed.get("title", "")),
        link=web_link(feed.get("link", ""), result.url),
        articles=articles,
        warnings=warnings,
        item_keys=frozenset(i.key for i in items),
        skipped_entries=skipped,
    )


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
    reason = _WHITESPACE.sub(" ", str(parsed.get("bozo_exception", "malformed"))).strip()
    # expat's "<unknown>:line:col" counts the text after our cleaning, not the server's
    # bytes, so it would point at the wrong line: keep only the reason.
    return _EXPAT_PLACE.sub("", reason)
