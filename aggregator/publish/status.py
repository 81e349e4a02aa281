"""The desk's own status, published beside the category feeds: ``sources.html`` and the
feed of open source problems, ``sources.atom`` and ``sources.rss``.

The problems are kept from one publish to the next in the store (nothing is read back
from the publish folder), so an entry keeps its id while its problem lasts, even when the
folder is wiped or the store moves to another machine. The files are rendered only when
what they show changed (a digest of it is their manifest ``built_for``), so a pass with
nothing due renders nothing and loads neither feedgen nor the pages' renderer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.config import Config
from aggregator.models import ArticleQuery, Problem, SourceState
from aggregator.publish import problems
from aggregator.publish.files import Folder
from aggregator.publish.items import Channel, Item, http_url
from aggregator.store import Store
from aggregator.text import strip_control

if TYPE_CHECKING:
    from aggregator.publish.pages import Site

NAME = "sources"  # sources.html, sources.atom, sources.rss
SOURCES_PAGE = f"{NAME}.html"
FILES = (SOURCES_PAGE, f"{NAME}.atom", f"{NAME}.rss")
_HEADLINES = {
    "failing": "is failing",
    "gone": "is gone (410): disabled",
    "moved": "moved permanently",
    "seed": "has a seed file that does not parse",
    "stale": "brings no new stories",
}


def publish_status(
    config: Config,
    store: Store,
    site: Callable[[], Site],
    folder: Folder,
    *,
    now: datetime,
    built_for: str,
    states: Mapping[str, SourceState] | None = None,
) -> list[Problem]:
    """Bring ``sources.html``, ``sources.atom`` and ``sources.rss`` in ``folder`` up to
    date for ``now``; ``site`` gives the pages' renderer (made only when a page is
    rendered), ``built_for`` is the digest of the config values the pages are rendered
    from, ``states`` the store's source states when the caller has them current (else
    they are read). Returns the problems published, for the store to keep until the next
    publish. Raises PublishError naming the file when one cannot be written, and
    StoreError."""
    states = store.source_states() if states is None else states
    found = problems.detect(config, states, dict(_newest(config, store)), now)
    current = problems.reconcile(store.problems(), found, now)
    shown = [_shown(states[name]) for name in sorted(states)]
    digest = hashlib.sha256(repr((built_for, shown, current)).encode()).hexdigest()
    if all(folder.current(name, digest) for name in FILES):
        return current
    from aggregator.publish import feeds  # feedgen loads only when something is rendered

    kinds: dict[str, list[str]] = {}
    for problem in current:
        if problem.closed is None:
            kinds.setdefault(problem.source, []).append(problem.kind)
    folder.write(SOURCES_PAGE, site().sources_page(states, kinds), built_for=digest)
    documents = feeds.render(_channel(config), [_item(p, config) for p in current])
    for suffix in (".atom", ".rss"):
        folder.write(f"{NAME}{suffix}", documents[suffix], built_for=digest)
    return current


def _shown(state: SourceState) -> tuple[object, ...]:
    """What sources.html shows of a source's state (no sets: their order varies by run)."""
    return (
        state.name,
        state.url,
        state.last_fetch,
        state.last_status,
        state.error_streak,
        state.last_error,
        state.next_due,
        state.disabled,
    )


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
    import html  # here: a publish that renders no status page needs no html.entities

    lines: Sequence[tuple[str, str]] = (
        ("Reason", problem.detail or problem.kind),
        ("Since", problem.since.isoformat()),
        *((("Recovered", problem.closed.isoformat()),) if problem.closed else ()),
        ("What to do", problems.advice(problem)),
    )
    return "".join(
        f"<p><strong>{label}:</strong> {html.escape(strip_control(text))}</p>"
        for label, text in lines
    )
