"""Stories and sources -> the plain values the page templates show. Pure: no I/O, no
markup (the templates escape every value)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from aggregator.config import Category, Config, Source
from aggregator.filters import ALL_CATEGORY, selecting
from aggregator.models import Article, Enclosure, SourceState
from aggregator.publish.items import FORMATS, byline, enclosures, http_url, page_name, page_of
from aggregator.text import plain_text, strip_control

EXCERPT_CHARS = 280
FORMAT_NAMES = {".rss": "RSS feed", ".atom": "Atom feed", ".json": "JSON Feed"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """Text and where it leads (a path relative to the publish folder, or a URL)."""

    text: str
    href: str = ""  # "" when there is nowhere to go


@dataclass(frozen=True, slots=True, kw_only=True)
class Feed:
    """One feed of a category, as a page announces and links it."""

    label: str  # RSS feed, Atom feed, JSON Feed: what the link is, in its text
    url: str
    type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """A category as the pages list it: its page and its feeds."""

    name: str
    title: str
    description: str
    page: str  # index.html for all, else C.html
    feeds: tuple[Feed, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """One story as the pages show it."""

    title: str
    page: str  # its own page, relative to the publish folder
    published: datetime
    updated: datetime | None
    excerpt: str
    paragraphs: tuple[str, ...]
    author: str
    section: str
    carriers: tuple[Link, ...]  # each source's title with the link it carried
    categories: tuple[Link, ...]  # the desk categories that select it, to their pages
    related: tuple[Link, ...]  # headlines, to the stored story's page where one matches
    enclosures: tuple[Enclosure, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Day:
    """The stories of one day (UTC) of a river, newest first."""

    date: datetime
    stories: tuple[Story, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceRow:
    """One source on sources.html."""

    name: str
    title: str
    kind: str  # feed or seeds
    location: str
    last_fetch: datetime | None
    status: str
    error_streak: int
    last_error: str
    next_due: datetime | None
    problems: tuple[str, ...]  # the kinds of its open problems


def section(category: Category, base_url: str) -> Section:
    """``category`` as the pages list it, with its three feeds."""
    feeds = tuple(
        Feed(label=FORMAT_NAMES[suffix], url=f"{base_url}{category.name}{suffix}", type=kind)
        for suffix, kind in FORMATS.items()
    )
    return Section(
        name=category.name,
        title=strip_control(category.title or category.name),
        description=strip_control(category.description or ""),
        page=page_of(category),
        feeds=feeds,
    )


def story(
    article: Article,
    *,
    config: Config,
    categories: Sequence[Category],
    now: datetime,
) -> Story:
    """``article`` as the pages show it; its related headlines lead nowhere yet
    (``with_related``)."""
    sources = {source.name: source for source in config.sources}
    text = plain_text(article.content or article.summary, lines=True)
    lede = plain_text(article.summary or article.content, lines=True)
    return Story(
        title=strip_control(article.title).strip() or "(untitled)",
        page=page_name(article.id),
        published=article.published,
        updated=article.updated
        if article.updated and article.updated > article.published
        else None,
        excerpt=excerpt(lede),
        paragraphs=tuple(text.split("\n")) if text else (),
        author=byline(article.author),
        section=strip_control(article.section),
        carriers=tuple(_carriers(article, sources)),
        categories=tuple(
            Link(text=strip_control(c.title or c.name), href=page_of(c))
            for c in selecting(categories, article, now=now)
            if c.name != ALL_CATEGORY.name
        ),
        related=tuple(Link(text=strip_control(headline)) for headline in article.related),
        enclosures=enclosures(article),
    )


def with_related(story: Story, pages: Mapping[str, str]) -> Story:
    """``story`` with each related headline leading to the page ``pages`` gives it."""
    related = tuple(replace(link, href=pages.get(link.text, "")) for link in story.related)
    return replace(story, related=related)


def _carriers(article: Article, sources: Mapping[str, Source]) -> Iterable[Link]:
    pairs = article.carried or _paired(article)
    links = {name: http_url(link) for name, link in pairs if http_url(link)}
    for name in dict.fromkeys(name for name, _ in pairs):
        source = sources.get(name)
        title = strip_control(source.title or name) if source else name
        yield Link(text=title, href=links.get(name, ""))


def _paired(article: Article) -> tuple[tuple[str, str], ...]:
    """(source, link) pairs of a story read from elsewhere than the store, which pairs
    them itself: by position when there are as many links as sources."""
    names = article.all_sources
    links = article.all_links
    if len(links) == len(names):
        return tuple(zip(names, links, strict=True))
    return tuple((name, "") for name in names)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of ``text`` on one line, cut at a word before ``limit`` characters."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def days(stories: Iterable[Story]) -> tuple[Day, ...]:
    """``stories`` (newest first) grouped by their UTC publication day."""
    grouped: dict[str, list[Story]] = {}
    for item in stories:
        grouped.setdefault(item.published.astimezone(UTC).date().isoformat(), []).append(item)
    return tuple(
        Day(date=group[0].published.astimezone(UTC), stories=tuple(group))
        for group in grouped.values()
    )


def newest_change(articles: Iterable[Article]) -> datetime | None:
    """When the newest of ``articles`` reached the desk or last changed."""
    return max(
        (max(a.first_seen or a.published, a.updated or a.published) for a in articles),
        default=None,
    )


def source_rows(
    config: Config, states: Mapping[str, SourceState], problems: Mapping[str, Sequence[str]]
) -> tuple[SourceRow, ...]:
    """One row per configured source, in config order; ``problems`` names the kinds of
    each source's open problems."""
    rows = []
    for source in config.sources:
        state = states.get(source.name) or SourceState(name=source.name)
        status = "disabled (410 Gone)" if state.disabled else str(state.last_status or "")
        rows.append(
            SourceRow(
                name=source.name,
                title=strip_control(source.title or source.name),
                kind="seeds" if source.is_seed_folder else "feed",
                location=state.url or str(source.path or source.url),
                last_fetch=state.last_fetch,
                status=status or ("scanned" if source.is_seed_folder and state.last_fetch else ""),
                error_streak=state.error_streak,
                last_error=strip_control(state.last_error),
                next_due=None if state.disabled else state.next_due,
                problems=tuple(problems.get(source.name, ())),
            )
        )
    return tuple(rows)
