"""The publish folder's own pages, as static HTML with no script: ``index.html`` (the river
of every story, by day), ``C.html`` per category, ``articles/<id>.html`` per story,
``sources.html``, the stylesheet they share, and ``index.opml``.

::

    views.py         stories and sources -> plain values (pure)
    templates/       Jinja2, autoescaped: nothing a source wrote becomes markup
    static/          wiredesk.css, copied into the publish folder
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from aggregator import dedup
from aggregator.config import Category, Config
from aggregator.filters import ALL_CATEGORY
from aggregator.models import Article, ArticleQuery, SourceState
from aggregator.publish.items import STYLESHEET, Channel, page_name
from aggregator.publish.pages import views
from aggregator.store import Store
from aggregator.text import strip_control

_RELATED_CANDIDATES = 5  # stories read per related headline to find the one it names


def opml(title: str, channels: Sequence[Channel]) -> bytes:
    """An OPML 2.0 subscription list with one outline per category (its RSS feed)."""
    from aggregator.opml import Outline, write_opml  # ElementTree: only when it is rendered

    feeds = [
        Outline(
            title=channel.title,
            description=channel.description,
            xml_url=channel.url(".rss"),
            html_url=channel.base_url,
        )
        for channel in channels
    ]
    return write_opml(title, feeds)


def stylesheet() -> bytes:
    """The pages' stylesheet, as shipped in the package."""
    from importlib import resources  # loads only when the stylesheet is written

    return resources.files(__package__).joinpath("static", STYLESHEET).read_bytes()


class Site:
    """Renders the pages of one config's desk; made once per publish."""

    def __init__(self, config: Config, categories: Sequence[Category], *, now: datetime) -> None:
        """``categories`` includes ``all``; ``now`` decides the categories with a max_age."""
        self.config = config
        self.categories = categories
        self.now = now
        self.sections = tuple(views.section(c, config.publish.base_url) for c in categories)
        self._views: dict[str, views.Story] = {}

    def story_view(self, article: Article) -> views.Story:
        """``article`` as the pages show it, made once per publish (a story is on its own
        page and on the river of each of its categories)."""
        view = self._views.get(article.id)
        if view is None:
            view = views.story(
                article, config=self.config, categories=self.categories, now=self.now
            )
            self._views[article.id] = view
        return view

    def river(self, category: Category, articles: Sequence[Article]) -> tuple[str, bytes]:
        """The river page of ``category`` (``index.html`` for all) showing ``articles``,
        newest first: (file name, bytes)."""
        section = next(s for s in self.sections if s.name == category.name)
        title = self.config.publish.title
        heading = "Latest stories" if category.name == ALL_CATEGORY.name else section.title
        data = self._render(
            "river.html",
            root="",
            title=strip_control(title if heading == "Latest stories" else f"{heading} — {title}"),
            heading=heading,
            description=section.description,
            current=category.name,
            alternates=_alternates(section),
            updated=views.newest_change(articles),
            days=views.days(self.story_view(a) for a in articles),
        )
        return section.page, data

    def story(self, article: Article, related: Mapping[str, str]) -> bytes:
        """The page of one story; ``related`` maps its related headlines to the ids of the
        stored stories (with pages) they name."""
        pages = {headline: page_name(story) for headline, story in related.items()}
        story = views.with_related(self.story_view(article), pages)
        return self._render(
            "story.html",
            root="../",
            title=story.title,
            current="",
            alternates=(),
            updated=None,
            story=story,
        )

    def sources_page(
        self, states: Mapping[str, SourceState], problems: Mapping[str, Sequence[str]]
    ) -> bytes:
        """``sources.html``: every source's last fetch, status, errors and next due."""
        return self._render(
            "sources.html",
            root="",
            title=strip_control(f"Sources — {self.config.publish.title}"),
            heading="Sources",
            current="",
            alternates=(),
            updated=None,
            rows=views.source_rows(self.config, states, problems),
        )

    def _render(self, template: str, **values: Any) -> bytes:
        page: str = (
            _environment()
            .get_template(template)
            .render(
                desk=strip_control(self.config.publish.title),
                language=self.config.publish.language or "en",
                base_url=self.config.publish.base_url,
                sections=self.sections,
                **values,
            )
        )
        return page.encode()


def related_stories(
    store: Store, article: Article, *, has_page: Callable[[Article], bool]
) -> dict[str, str]:
    """The id of the stored story each related headline of ``article`` names, where one
    matches it (same normalised headline) and ``has_page``, by headline. It searches the
    full-text index as it is: the caller brings it up to date (``store.catch_up_or_warn``)."""
    found = {}
    for headline in article.related:
        wanted = dedup.normalise_headline(headline)
        if not wanted:
            continue
        query = ArticleQuery(search=headline, limit=_RELATED_CANDIDATES)
        candidates = store.articles(query, caught_up=True)
        for candidate in candidates:
            if (
                candidate.id != article.id
                and dedup.normalise_headline(candidate.title) == wanted
                and has_page(candidate)
            ):
                found[strip_control(headline)] = candidate.id
                break
    return found


def _alternates(section: views.Section) -> tuple[dict[str, str], ...]:
    return tuple(
        {
            "type": f.type,
            "url": f.url,
            "title": f"{section.title} ({f.label.removesuffix(' feed')})",
        }
        for f in section.feeds
    )


@functools.cache
def _environment() -> Any:
    # Jinja2 loads only when a page is rendered: a pass with nothing to publish skips it.
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("aggregator.publish.pages", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters.update(when=_when, day=_day, host=_host, filename=_filename, size=_size)
    return env


def _when(moment: datetime) -> Markup:
    moment = moment.astimezone(UTC)
    shown = f"{moment.day} {moment:%B %Y, %H:%M} UTC"
    stamp = moment.isoformat(timespec="seconds")
    return Markup('<time datetime="{}">{}</time>').format(stamp, shown)


def _day(moment: datetime) -> Markup:
    moment = moment.astimezone(UTC)
    shown = f"{moment:%A} {moment.day} {moment:%B %Y}"
    return Markup('<time datetime="{}">{}</time>').format(moment.date().isoformat(), shown)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}" if parts.path not in ("", "/") else parts.netloc


def _filename(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name or urlsplit(url).netloc


def _size(length: int) -> str:
    if length < 1024:
        return f"{length} bytes"
    if length < 1024**2:
        return f"{length / 1024:.1f} KB"
    return f"{length / 1024**2:.1f} MB"
