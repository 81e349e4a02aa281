"""Stories -> the publish folder: every category as RSS 2.0, Atom 1.0 and JSON Feed 1.1,
an OPML and an HTML index of them, and a permalink page per seed story.

::

    publish(config, store)                      full: every category, page and index;
                                                feeds of removed categories are deleted
    publish(config, store, changed_ids=ids)     incremental: only what those stories touch

Each category reads the store lazily, newest first, and stops at ``publish.max_items``
stories its rule selects, so the cost follows the feed, not the store. ``items`` cleans the
values, ``feeds`` renders them (the only importer of feedgen), ``pages`` writes the HTML and
OPML, and ``files`` writes atomically and only when the bytes change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from aggregator.config import Category, Config, Rule
from aggregator.filters import categories_with_all, matches, store_query
from aggregator.models import Article, PublishReport
from aggregator.publish import feeds, pages, status
from aggregator.publish.files import remove, write_if_changed
from aggregator.publish.items import FORMATS, channel, item, page_name
from aggregator.store import ArticleQuery, Store

__all__ = ["publish", "publish_status"]


def publish(
    config: Config,
    store: Store,
    *,
    changed_ids: Sequence[str] | None = None,
    now: datetime | None = None,
) -> PublishReport:
    """Write the publish folder from ``store``.

    With ``changed_ids=None`` everything is regenerated and the feeds of categories no
    longer in the config are removed. With ``changed_ids`` (the stories a collection pass
    added or changed) only the categories those stories are in, or were in, are rewritten,
    with the permalink pages of the changed seed stories. The OPML and HTML indexes are
    always checked (and written only if they differ). ``now`` (default: the clock)
    decides ``max_age``. Returns what was written, left unchanged and removed.

    Raises PublishError naming the file when one cannot be written or removed, and
    whatever the store raises (StoreError) when it cannot be read.
    """
    now = now or datetime.now(UTC)
    folder = config.publish.dir
    categories = categories_with_all(config)
    sources = {source.name: source for source in config.sources}
    report = _Report(folder, config.publish.base_url)
    site = pages.Site(config, categories, now=now)
    if changed_ids is None:
        todo, stories = categories, store.articles(ArticleQuery())
    else:
        changed = _changed(store, changed_ids)
        todo = tuple(c for c in categories if _touched(c, changed, changed_ids, folder, now))
        stories = iter(changed)
    for category in todo:
        selected = _select(category, store, limit=config.publish.max_items, now=now)
        items = [item(a, sources, config.publish.base_url) for a in selected]
        for suffix, data in feeds.render(channel(config, category), items).items():
            report.write(f"{category.name}{suffix}", data)
        report.write(*site.river(category, selected))
    for article in stories:
        report.write(
            page_name(article.id), site.story(article, pages.related_pages(store, article))
        )
    _write_indexes(config, categories, report)
    status.publish_status(config, store, site, report.write, report.read)
    if changed_ids is None:
        for name in _stale_feeds(folder, {c.name for c in categories} | _OWN_NAMES):
            report.remove(name)
    return report.done()


def publish_status(config: Config, store: Store, *, now: datetime | None = None) -> PublishReport:
    """Write only the desk's status: ``sources.html`` and the feed of source problems
    (``sources.atom``, ``sources.rss``), as of ``now``; for a pass that changed no story.

    Raises PublishError naming the file when one cannot be written, and StoreError.
    """
    now = now or datetime.now(UTC)
    report = _Report(config.publish.dir, config.publish.base_url)
    site = pages.Site(config, categories_with_all(config), now=now)
    status.publish_status(config, store, site, report.write, report.read)
    return report.done()


_OUR_MARKS = (
    b">Wiredesk</generator>",
    b'"_wiredesk":',
    b'<meta name="generator" content="Wiredesk">',
)
_OURS = (*FORMATS, ".html")  # the suffixes of the files a category has
_OWN_NAMES = {"index", status.NAME}  # files of the desk itself, never a category's


def _changed(store: Store, changed_ids: Sequence[str]) -> tuple[Article, ...]:
    return tuple(store.articles(ArticleQuery(ids=tuple(changed_ids)))) if changed_ids else ()


def _select(category: Category, store: Store, *, limit: int, now: datetime) -> list[Article]:
    """The newest ``limit`` stories ``category`` selects, reading no more than needed."""
    candidates = store.articles(store_query(category, now=now))
    return list(islice((a for a in candidates if matches(category, a, now=now)), limit))


def _touched(
    category: Category,
    changed: Iterable[Article],
    changed_ids: Sequence[str],
    folder: Path,
    now: datetime,
) -> bool:
    """True when ``category``'s feeds may differ: a changed story is selected by it now,
    or is listed in its feed (it may have left it), or its feeds are missing."""
    if _ages(category) or any(matches(category, article, now=now) for article in changed):
        return True
    if not all((folder / f"{category.name}{suffix}").is_file() for suffix in FORMATS):
        return True
    listed = _listed_ids(folder / f"{category.name}.json")
    return listed is None or not listed.isdisjoint(changed_ids)


def _ages(rule: Rule) -> bool:
    """True when ``rule`` has a max_age anywhere: its stories leave it as time passes, with
    no changed story to say so."""
    subs = (*rule.all_of, *rule.any_of, *((rule.not_,) if rule.not_ else ()))
    return rule.max_age is not None or any(_ages(sub) for sub in subs)


def _listed_ids(path: Path) -> frozenset[str] | None:
    """The story ids a published JSON Feed lists, or None when it is missing or unreadable."""
    try:
        document = json.loads(path.read_bytes())
        return frozenset(entry["_wiredesk"]["id"] for entry in document["items"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_indexes(config: Config, categories: Sequence[Category], report: _Report) -> None:
    channels = [channel(config, category) for category in categories]
    report.write("index.opml", pages.opml(config.publish.title, channels))
    report.write(pages.STYLESHEET, pages.stylesheet())


def _stale_feeds(folder: Path, names: set[str]) -> Iterator[str]:
    """The feed files Wiredesk wrote in ``folder`` for categories not in ``names``; never a
    file it did not write, whatever its name."""
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        if path.suffix in _OURS and path.stem not in names and _written_by_us(path):
            yield path.name


def _written_by_us(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return any(mark in head for mark in _OUR_MARKS)


class _Report:
    """Writes files into the publish folder and remembers what happened to each."""

    def __init__(self, folder: Path, base_url: str) -> None:
        self.folder = folder
        self.base_url = base_url
        self.written: list[str] = []
        self.unchanged: list[str] = []
        self.removed: list[str] = []
        self.started = time.perf_counter()

    def write(self, name: str, data: bytes) -> None:
        changed = write_if_changed(self.folder / name, data)
        (self.written if changed else self.unchanged).append(name)

    def read(self, name: str) -> bytes:
        """What the folder holds as ``name`` now; b"" when nothing (or unreadable)."""
        try:
            return (self.folder / name).read_bytes()
        except OSError:
            return b""

    def remove(self, name: str) -> None:
        remove(self.folder / name)
        self.removed.append(name)

    def done(self) -> PublishReport:
        feeds = [name for name in self.written if Path(name).suffix in FORMATS]
        return PublishReport(
            written=tuple(self.written),
            unchanged=tuple(self.unchanged),
            removed=tuple(self.removed),
            changed_feeds=tuple(f"{self.base_url}{name}" for name in feeds),
            seconds=time.perf_counter() - self.started,
        )
