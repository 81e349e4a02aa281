"""The desk's own status, published beside the category feeds: ``sources.html`` and the
feed of open source problems, ``sources.atom`` and ``sources.rss``.

The problems are kept from one publish to the next in ``.problems.json`` in the publish
folder (a dotfile: never served), so an entry keeps its id while its problem lasts.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from aggregator.config import Config
from aggregator.publish import feeds, problems
from aggregator.publish.items import Channel, Item, http_url
from aggregator.publish.pages import SOURCES_PAGE, Site
from aggregator.publish.problems import Problem
from aggregator.store import ArticleQuery, Store
from aggregator.text import strip_control

NAME = "sources"  # sources.html, sources.atom, sources.rss
STATE_FILE = ".problems.json"
FILES = (SOURCES_PAGE, f"{NAME}.atom", f"{NAME}.rss", STATE_FILE)
_HEADLINES = {
    "failing": "is failing",
    "gone": "is gone (410): disabled",
    "moved": "moved permanently",
    "seed": "has a seed file that does not parse",
    "stale": "brings no new stories",
}

Write = Callable[[str, bytes], None]


def publish_status(
    config: Config, store: Store, site: Site, write: Write, read: Callable[[str], bytes]
) -> None:
    """Write ``sources.html``, ``sources.atom`` and ``sources.rss`` for ``site.now`` with
    ``write(name, bytes)``; ``read(name)`` gives back what the last publish wrote (b""
    when nothing). Raises what the store and ``write`` raise."""
    now = site.now
    states = store.source_states()
    found = problems.detect(config, states, dict(_newest(config, store)), now)
    current = problems.reconcile(problems.loads(read(STATE_FILE)), found, now)
    kinds: dict[str, list[str]] = {}
    for problem in current:
        if problem.closed is None:
            kinds.setdefault(problem.source, []).append(problem.kind)
    write(SOURCES_PAGE, site.sources_page(states, kinds))
    documents = feeds.render(_channel(config), [_item(p, config) for p in current])
    for suffix in (".atom", ".rss"):
        write(f"{NAME}{suffix}", documents[suffix])
    write(STATE_FILE, problems.dumps(current))


def _newest(config: Config, store: Store) -> Iterator[tuple[str, datetime]]:
    """The newest story's publication time of each source that has a ``stale_after``."""
    for source in config.sources:
        if config.stale_after(source) is None:
            continue
        for article in store.articles(ArticleQuery(sources=(source.name,), limit=1)):
            yield source.name, article.published


def _channel(config: Config) -> Channel:
    title = strip_control(config.publish.title)
    return Channel(
        name=NAME,
        title=f"{title} — source problems",
        description="Sources failing, gone, moved, stale or with broken seed files, and "
        "their recovery.",
        base_url=config.publish.base_url,
        author=title,
        language=config.publish.language,
    )


def _item(problem: Problem, config: Config) -> Item:
    base = config.publish.base_url
    headline = _HEADLINES[problem.kind]
    title = (
        f"{problem.source}: recovered (it {headline})"
        if problem.closed
        else (f"{problem.source} {headline}")
    )
    return Item(
        id=problem.id,
        article_id=problem.key,
        title=title,
        link=http_url(f"{base}{SOURCES_PAGE}#source-{problem.source}"),
        author=strip_control(config.publish.title),
        categories=(problem.kind,),
        published=problem.closed or problem.since,
        updated=problem.changed,
        summary="",
        content=_content(problem),
        source_title="",
        source_url="",
        sources=(problem.source,),
        links=(),
        enclosures=(),
    )


def _content(problem: Problem) -> str:
    lines: Sequence[tuple[str, str]] = (
        ("Reason", problem.detail or problem.kind),
        ("Since", problem.since.isoformat()),
        *((("Recovered", problem.closed.isoformat()),) if problem.closed else ()),
        ("What to do", problem.advice),
    )
    return "".join(
        f"<p><strong>{label}:</strong> {html.escape(strip_control(text))}</p>"
        for label, text in lines
    )
