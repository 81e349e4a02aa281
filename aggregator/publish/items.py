"""Articles -> the cleaned values every output format is built from.

Everything that reaches feedgen, JSON or HTML passes through here first: ASCII control
characters are dropped (lxml refuses them, and they are invalid XML), links that are not
absolute http(s) URLs are dropped, and the provenance footer is added to the content.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from aggregator.config import Category, Config, Source
from aggregator.filters import ALL_CATEGORY
from aggregator.models import Article, Enclosure
from aggregator.text import strip_control, urn_uuid

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
# "Name (mail@host)", "mail@host (Name)", "Name <mail@host>" and a bare address
_EMAIL = re.compile(r"[^\s()<>@,;]+@[^\s()<>@,;]+\.[^\s()<>@,;]+")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]")
_BRACKETED = re.compile(r"\((.*)\)|<(.*)>|\[(.*)\]")
_URL_SAFE = "%/:=&?~#+!$,;'@()*[]"
FORMATS = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/feed+json",
}


def http_url(url: str) -> str:
    """``url`` as an absolute http(s) URL safe to publish, or "" when it is not one."""
    url = strip_control(url).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return quote(url, safe=_URL_SAFE)


STYLESHEET = "wiredesk.css"  # the pages' stylesheet, beside them in the publish folder


def page_of(category: Category) -> str:
    """The river page of ``category``: ``index.html`` for every story, else ``C.html``."""
    return "index.html" if category.name == ALL_CATEGORY.name else f"{category.name}.html"


def page_name(article_id: str) -> str:
    """The permalink page of a seed story, relative to the publish folder."""
    stem = article_id if _SAFE_ID.fullmatch(article_id) else _digest(article_id)
    return f"articles/{stem}.html"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """One category feed's own values; the same in every format."""

    name: str
    title: str
    description: str
    base_url: str
    author: str
    language: str | None = None
    hub: str | None = None

    def url(self, suffix: str) -> str:
        """Where this feed is served in the format of ``suffix`` (``.rss`` and so on)."""
        return f"{self.base_url}{self.name}{suffix}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """One story as every format publishes it."""

    id: str  # urn:uuid:..., stable for the story
    article_id: str
    title: str
    link: str  # "" when the story has no http(s) link and no permalink page
    author: str  # the story's own author, else the source that carried it
    categories: tuple[str, ...]
    published: datetime
    updated: datetime
    summary: str  # HTML, "" when the story has only a body
    content: str  # HTML with the provenance footer
    source_title: str  # the first source
    source_url: str  # its feed URL; "" for a seed folder
    sources: tuple[str, ...]  # every source's name
    links: tuple[str, ...]  # every http(s) link that carried the story
    enclosures: tuple[Enclosure, ...]  # http(s) media, each with a MIME type


def channel(config: Config, category: Category) -> Channel:
    """The feed-level values of ``category``."""
    label = category.title or category.name
    publish = config.publish
    return Channel(
        name=category.name,
        title=strip_control(f"{publish.title} — {label}"),
        description=strip_control(
            category.description or f"{label}: stories collected by Wiredesk."
        ),
        base_url=publish.base_url,
        author=strip_control(publish.title),
        language=publish.language,
        hub=http_url(publish.hub or "") or None,
    )


def item(article: Article, sources: Mapping[str, Source], base_url: str) -> Item:
    """The published form of ``article``; ``sources`` names the config's sources."""
    carriers = article.all_sources
    links = story_links(article)
    first = sources.get(carriers[0])
    titles = tuple(_source_title(name, sources) for name in carriers)
    body = strip_control(article.content or article.summary)
    return Item(
        id=urn_uuid(f"urn:wiredesk:{article.id}"),
        article_id=article.id,
        title=strip_control(article.title).strip() or "(untitled)",
        link=story_link(article, base_url),
        author=byline(article.author) or titles[0],
        categories=_unique(strip_control(c).strip() for c in (article.section, *article.tags)),
        published=article.published,
        updated=max(article.updated or article.published, article.published),
        summary=strip_control(article.summary) if article.content else "",
        content=body + _footer(titles, links),
        source_title=titles[0],
        source_url=http_url(first.url or "") if first else "",
        sources=carriers,
        links=links,
        enclosures=enclosures(article),
    )


def byline(author: str) -> str:
    """``author`` as published: control characters and any e-mail address removed
    (``Name (mail@host)`` becomes ``Name``), since feeds are read by everyone."""
    name = _EMPTY_BRACKETS.sub("", _EMAIL.sub("", strip_control(author))).strip(" ,;-")
    if bracketed := _BRACKETED.fullmatch(name):  # what was left of "mail@host (Name)"
        name = next(group for group in bracketed.groups() if group is not None)
    return " ".join(name.split())


def enclosures(article: Article) -> tuple[Enclosure, ...]:
    """The http(s) enclosures of ``article``, first occurrence of each URL kept; a missing
    MIME type is guessed from the URL (every format requires one)."""
    found: dict[str, Enclosure] = {}
    for enclosure in article.enclosures:
        url = http_url(enclosure.url)
        if url and url not in found:
            kind = strip_control(enclosure.type).strip() or _guess_type(url)
            found[url] = Enclosure(url=url, type=kind, length=max(enclosure.length, 0))
    return tuple(found.values())


def attachment(enclosure: Enclosure) -> dict[str, Any]:
    """``enclosure`` as a JSON Feed 1.1 attachment (also what ``articles --json`` prints)."""
    found: dict[str, Any] = {"url": enclosure.url, "mime_type": enclosure.type}
    if enclosure.length:
        found["size_in_bytes"] = enclosure.length
    return found


def _guess_type(url: str) -> str:
    import mimetypes  # here, as html below: a publish with nothing to render needs neither

    return mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"


def story_links(article: Article) -> tuple[str, ...]:
    """The http(s) links that carried ``article``, in order, for publishing (a seed copy
    carries none: its page is the story's permalink, made at publish time)."""
    return _unique(map(http_url, article.all_links))


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """The non-empty values, first occurrence kept, in order."""
    return tuple(dict.fromkeys(value for value in values if value))


def story_link(article: Article, base_url: str) -> str:
    """The story's own http(s) link, else a seed story's permalink page, else ""."""
    if http_url(article.link):
        return http_url(article.link)
    return f"{base_url}{page_name(article.id)}" if article.is_seed else ""


def _source_title(name: str, sources: Mapping[str, Source]) -> str:
    source = sources.get(name)
    return strip_control(source.title or name) if source else name


def _footer(titles: tuple[str, ...], links: tuple[str, ...]) -> str:
    import html

    carried = ", ".join(html.escape(title) for title in titles)
    footer = f'\n<p class="wiredesk-provenance">Carried by: {carried}</p>'
    if len(links) > 1:
        anchors = ", ".join(
            f'<a href="{html.escape(link)}">{html.escape(urlsplit(link).netloc)}</a>'
            for link in links
        )
        footer += f'\n<p class="wiredesk-links">Read it at: {anchors}</p>'
    return footer
