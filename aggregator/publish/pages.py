"""The publish folder's own pages: ``index.html``, ``index.opml`` and one permalink page
per seed story. Every value is escaped here; nothing a source wrote becomes markup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from xml.etree import ElementTree

from aggregator.config import Source
from aggregator.filters import plain_text
from aggregator.models import Article
from aggregator.publish.items import FORMATS, Channel, story_links
from aggregator.text import strip_control

_FORMAT_NAMES = {".rss": "RSS", ".atom": "Atom", ".json": "JSON Feed"}


def opml(title: str, channels: Sequence[Channel]) -> bytes:
    """An OPML 2.0 subscription list with one outline per category (its RSS feed)."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = strip_control(title)
    body = ElementTree.SubElement(root, "body")
    for channel in channels:
        ElementTree.SubElement(
            body,
            "outline",
            type="rss",
            text=channel.title,
            title=channel.title,
            description=channel.description,
            xmlUrl=channel.url(".rss"),
            htmlUrl=channel.base_url,
        )
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def index(title: str, language: str | None, channels: Sequence[Channel]) -> bytes:
    """``index.html``: every feed listed and announced with autodiscovery links."""
    discovery = "".join(
        f'\n<link rel="alternate" type="{kind}" title="{escape(channel.title)} ({name})" '
        f'href="{escape(channel.url(suffix))}">'
        for channel in channels
        for suffix, kind in FORMATS.items()
        for name in (_FORMAT_NAMES[suffix],)
    )
    rows = "".join(
        f"\n<li><strong>{escape(channel.title)}</strong> — {escape(channel.description)} "
        + " · ".join(
            f'<a href="{escape(channel.url(suffix))}">{name}</a>'
            for suffix, name in _FORMAT_NAMES.items()
        )
        + "</li>"
        for channel in channels
    )
    body = f"<h1>{escape(title)}</h1>\n<ul>{rows}\n</ul>"
    return _html(title, language, discovery, body)


def article_page(article: Article, sources: Mapping[str, Source], home: Channel) -> bytes:
    """The permalink page of a seed story: headline, dates, agency, section, body,
    related headlines and every source that carried it; ``home`` is the ``all`` feed."""
    title = strip_control(article.title)
    facts = [f"Published {_time(article.published)}"]
    if article.updated:
        facts.append(f"Updated {_time(article.updated)}")
    if article.author:
        facts.append(f"Agency: {escape(strip_control(article.author))}")
    if article.section:
        facts.append(f"Section: {escape(strip_control(article.section))}")
    body = "".join(
        f"\n<p>{escape(p)}</p>" for p in plain_text(strip_control(article.content)).split("\n")
    )
    parts = [
        f'<p><a href="{escape(home.base_url)}">{escape(home.author)}</a></p>',
        f"<h1>{escape(title)}</h1>",
        "<p>" + "<br>\n".join(facts) + "</p>",
        f"<article>{body}\n</article>",
    ]
    if article.related:
        related = "".join(
            f"\n<li>{escape(strip_control(headline))}</li>" for headline in article.related
        )
        parts.append(f"<h2>Related</h2>\n<ul>{related}\n</ul>")
    parts.append(f"<h2>Sources</h2>\n<ul>{_sources(article, sources, home.base_url)}\n</ul>")
    return _html(title, home.language, "", "\n".join(parts))


def _time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f'<time datetime="{moment.isoformat()}">{moment:%d %B %Y %H:%M} UTC</time>'


def _sources(article: Article, sources: Mapping[str, Source], base_url: str) -> str:
    rows = []
    for name in article.sources or (article.source,):
        source = sources.get(name)
        rows.append(f"\n<li>{escape(strip_control(source.title or name) if source else name)}</li>")
    for link in story_links(article):
        rows.append(f'\n<li><a href="{escape(link)}">{escape(link)}</a></li>')
    return "".join(rows)


def _html(title: str, language: str | None, head: str, body: str) -> bytes:
    lang = f' lang="{escape(language)}"' if language else ""
    return (
        f'<!DOCTYPE html>\n<html{lang}>\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(strip_control(title))}</title>{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    ).encode()
