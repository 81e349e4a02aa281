"""Stories -> the publish folder: every category as RSS 2.0, Atom 1.0 and JSON Feed 1.1
and as a page (``index.html`` for all), a page per story a feed lists and per seed story,
an OPML of the feeds, and the desk's status: the sources page and the feed of their
problems.

::

    publish(config, store)              catch up: whatever is behind is rewritten
    publish(config, store, full=True)   every category and story page rendered again

What is behind is learned from the store, never from the published files: the stories
changed since the last publish (``Store.pending_stories``, marked in the transaction that
changed them) and the publish manifest (``Store.published_files``: each file's name,
sha256, the story ids it listed and a digest of the config it was built for). So a pass
that died before publishing, a ``collect --no-publish``, a hand-deleted or edited file, a
config edit and a store moved to another machine are all caught up by the next publish.

Each category reads the store lazily, newest first, and stops at ``publish.max_items``
stories its rule selects, so the cost follows the feed, not the store. ``items`` cleans the
values, ``feeds`` renders them (the only importer of feedgen), ``pages`` writes the HTML
(Jinja2) and OPML, ``status`` the sources' page and problems feed (``problems`` decides
them), and ``files`` writes atomically, only when the bytes change, into the manifest.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING

from aggregator import __version__
from aggregator.config import Category, Config, Rule, Source
from aggregator.filters import categories_with_all, matches, store_query
from aggregator.models import Article, ArticleQuery, PublishedFile, PublishReport, SourceState
from aggregator.publish import status
from aggregator.publish.files import Folder
from aggregator.publish.items import FORMATS, STYLESHEET, channel, item, page_name, page_of
from aggregator.store import Store, catch_up_or_warn

if TYPE_CHECKING:
    from aggregator.publish import pages

__all__ = ["publish"]

_INDEXES = ("index.opml", STYLESHEET)
_IDS_PER_QUERY = 500  # pending ids are read in chunks: one IN list of 100k is slow
# More pending stories than this (a big collect --no-publish) and every category is
# rendered: cheaper than reading them all to see which categories they touch.
_MATCHED_AT_MOST = 2000
_LISTING = ".rss"  # the feed whose manifest row says which stories a category lists


def publish(
    config: Config,
    store: Store,
    *,
    full: bool = False,
    now: datetime | None = None,
    states: Mapping[str, SourceState] | None = None,
) -> PublishReport:
    """Bring the publish folder up to date with ``store``, then record in the store what
    it now holds and clear the stories that were pending.

    A category is rendered again when a pending story is selected by it now or was listed
    in it (it may have left it), when one of its files is missing, edited or not yet in the
    manifest, when it was built for other config values, or when its rule has a
    ``max_age``; a story's page (a story some category lists, or a seed story) when its
    story is pending, its file is behind or it has none yet. Files the manifest lists that
    the config no longer produces (removed categories, pages of deleted stories and of
    stories no feed lists any more) are deleted; no other file is. With ``full`` every
    category and story page is rendered. A file is only written when its bytes change.
    ``now`` (default: the clock) decides ``max_age``; ``states`` are the store's source
    states when the caller knows them current (else they are read). Returns what was
    written, left unchanged and removed.

    Raises PublishError naming the file when one cannot be written or removed, and
    whatever the store raises (StoreError); the pending stories then stay pending.
    """
    started = time.perf_counter()
    run = _Run(config, store, now or datetime.now(UTC), full=full)
    run.changes()
    run.categories()
    run.story_pages()
    run.indexes()
    found = status.publish_status(
        config,
        store,
        lambda: run.site,
        run.folder,
        now=run.now,
        built_for=run.site_digest,
        states=states,
    )
    run.clean_up()
    run.folder.stamp(_first_appearances(store, run.folder))
    store.record_published(
        list(run.folder.changes.values()),
        run.folder.removed,
        tokens=run.pending.tokens,
        problems=found,
    )
    return _report(run.folder, config.publish.base_url, started)


def _first_appearances(store: Store, folder: Folder) -> dict[str, datetime]:
    """When the bytes of each file ``folder`` wrote or found first appeared on any node.

    A new version's first appearance is now, when its bytes were written: not the pass's
    ``now``, from the start of a pass that may have run for minutes, during which another
    node may have published a later version, which this one's time must not precede. A
    file found already right on disk (a new node's copied folder) takes the time another
    node gave its bytes, or else its own mtime, so that its Last-Modified does not move."""

    def versions(names: Sequence[str]) -> dict[str, str]:
        return {name: folder.manifest[name].sha256 for name in names if name in folder.manifest}

    times = store.file_times(versions(folder.written), now=datetime.now(UTC))
    for when, names in folder.found().items():
        times.update(store.file_times(versions(names), now=when))
    return times


class _Run:
    """One publish: what the store says is pending and published, and the folder."""

    def __init__(self, config: Config, store: Store, now: datetime, *, full: bool) -> None:
        self.config, self.store, self.now, self.full = config, store, now, full
        self.pending = store.pending_stories(at_most=_MATCHED_AT_MOST)
        # the pending ids known here: all of them, or only the seed stories when too many
        self.known = self.pending.seeds if self.pending.ids is None else self.pending.ids
        self.folder = Folder(config.publish.dir, store.published_files())
        # a node with no manifest (new to the store) has no way to know what it lacks
        self.full = full = full or not self.folder.manifest
        self.all = categories_with_all(config)
        self.built_for = {c.name: _digest(config, c) for c in self.all}
        # Every page lists every category (and a story's page those it is in).
        self.site_digest = hashlib.sha256("".join(self.built_for.values()).encode()).hexdigest()
        self.sources = {source.name: source for source in config.sources}
        everything = full or self.pending.ids is None
        self.todo = {c.name for c in self.all if everything or self._behind(c)}
        self.was_listed = self._listed()
        self.read: dict[str, Article] = {}  # the stories read by this publish, by id
        self.searchable = False  # the full-text index was brought up to date (``_page``)

    @functools.cached_property
    def site(self) -> pages.Site:
        """The pages' renderer, made when the first page is rendered: its module and its
        views load only then (a pass with nothing to publish renders none)."""
        from aggregator.publish import pages

        return pages.Site(self.config, self.all, now=self.now)

    def _behind(self, category: Category) -> bool:
        """True when ``category``'s feeds may differ with no pending story selected by it:
        a file is not current, it listed a pending story, or its stories age out of it."""
        names = [f"{category.name}{suffix}" for suffix in FORMATS]
        if not all(self.folder.current(name, self.built_for[category.name]) for name in names):
            return True
        if not self.folder.current(page_of(category), self.site_digest):
            return True
        return _ages(category) or not self.known.isdisjoint(self.folder.lists(names[0]))

    def _listed(self) -> set[str]:
        """The ids of the stories the manifest's category feeds list (removed categories'
        included until they are cleaned up)."""
        return {
            story
            for name, entry in self.folder.manifest.items()
            if name.endswith(_LISTING) and _story_of(entry) is None
            for story in entry.lists
        }

    def changes(self) -> None:
        """Add every category a pending story is selected by to ``todo``."""
        rest = [c for c in self.all if c.name not in self.todo]
        for article in _by_ids(self.store, self.known):
            self.read[article.id] = article
            self.todo.update(c.name for c in rest if matches(c, article, now=self.now))

    def categories(self) -> None:
        """Render every category in ``todo`` into its three feeds and its page."""
        todo = [c for c in self.all if c.name in self.todo]
        if not todo:
            return
        # feedgen loads only when a feed is rendered: a pass with nothing to publish skips it
        from aggregator.publish import feeds

        base_url, limit = self.config.publish.base_url, self.config.publish.max_items
        for category in todo:
            selected = _select(category, self.store, limit=limit, now=self.now)
            self.read.update((a.id, a) for a in selected)
            items = [item(a, self.sources, base_url) for a in selected]
            ids = [a.id for a in selected]
            for suffix, data in feeds.render(channel(self.config, category), items).items():
                self.folder.write(
                    f"{category.name}{suffix}",
                    data,
                    lists=ids,
                    built_for=self.built_for[category.name],
                )
            name, data = self.site.river(category, selected)
            self.folder.write(name, data, lists=ids, built_for=self.site_digest)

    def story_pages(self) -> None:
        """Write the page of every story a category lists and of every seed story (its
        page is its permalink) where the page is missing, behind or its story pending (every
        such page when ``full``); delete the pages of stories that are gone or no longer
        listed, and rewrite those whose related headline led to a story no longer listed."""
        self.listed = {s for c in self.all for s in self.folder.lists(f"{c.name}{_LISTING}")}
        owned = {
            story: entry
            for entry in self.folder.manifest.values()
            if (story := _story_of(entry)) is not None
        }
        left = self.was_listed - self.listed
        look = set(self.known) | {
            story
            for story, entry in owned.items()
            if story in left
            or not left.isdisjoint(entry.lists[1:])
            or not self.folder.current(entry.name, self.site_digest)
        }
        if self.full or self.pending.ids is None:  # too many pending to know which
            look |= self.listed
        else:
            look |= {s for s in self.listed if s not in owned}
        if self.full:
            look |= set(owned)
            self.read.update((a.id, a) for a in self.store.articles(ArticleQuery(seeds_only=True)))
            look |= {a.id for a in self.read.values() if a.is_seed}
        self.read.update((a.id, a) for a in _by_ids(self.store, look - self.read.keys()))
        for story in sorted(look):
            article = self.read.get(story)
            if article is not None and self._has_page(article):
                self._page(article)
            elif story in owned:
                self.folder.remove(owned[story].name)

    def _has_page(self, article: Article) -> bool:
        return article.is_seed or article.id in self.listed

    def _page(self, article: Article) -> None:
        name = page_name(article.id)
        if not self.folder.done(name):
            from aggregator.publish import pages

            if article.related and not self.searchable:
                # once a publish, not at each search: a store another process holds locked
                # is then waited for once, not for each related headline
                catch_up_or_warn(self.store)
                self.searchable = True
            related = pages.related_stories(self.store, article, has_page=self._has_page)
            data = self.site.story(article, related)
            lists = (article.id, *dict.fromkeys(related.values()))
            self.folder.write(name, data, lists=lists, built_for=self.site_digest)

    def indexes(self) -> None:
        """Write ``index.opml`` and the stylesheet when they are not current (only when
        their bytes change); both follow from the config and this Wiredesk's version."""
        digest = self.site_digest
        if self.full or not self.folder.current(_INDEXES[0], digest):
            channels = [channel(self.config, category) for category in self.all]
            from aggregator.publish import pages

            opml = pages.opml(self.config.publish.title, channels)
            self.folder.write(_INDEXES[0], opml, built_for=digest)
        if self.full or not self.folder.current(_INDEXES[1], digest):
            from aggregator.publish import pages

            self.folder.write(_INDEXES[1], pages.stylesheet(), built_for=digest)

    def clean_up(self) -> None:
        """Delete the files the manifest lists that the config no longer produces (the
        feeds of removed categories): neither written by this publish nor one of the files
        a category or story has; never a file the manifest does not list."""
        wanted = {f"{c.name}{suffix}" for c in self.all for suffix in FORMATS}
        wanted |= {page_of(c) for c in self.all} | set(status.FILES) | set(_INDEXES)
        for name, entry in sorted(self.folder.manifest.items()):
            if not (self.folder.done(name) or name in wanted or _story_of(entry)):
                self.folder.remove(name)


def _by_ids(store: Store, ids: Iterable[str]) -> Iterator[Article]:
    """The stories of ``ids`` that exist, in no particular order, read in chunks."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IDS_PER_QUERY):
        chunk = tuple(ordered[start : start + _IDS_PER_QUERY])
        yield from store.articles(ArticleQuery(ids=chunk))


def _story_of(entry: PublishedFile) -> str | None:
    """The story id when ``entry`` is a story's page (it lists its story, then the stories
    its related headlines lead to), else None."""
    if entry.lists and page_name(entry.lists[0]) == entry.name:
        return entry.lists[0]
    return None


def _digest(config: Config, category: Category) -> str:
    """A digest of every config value ``category``'s files are rendered from (for ``all``,
    also the seed pages): its rule and channel, ``max_items`` and the sources' names,
    titles and URLs, and this Wiredesk's version."""
    values = {
        "category": dataclasses.asdict(category),
        "channel": dataclasses.asdict(channel(config, category)),
        "max_items": config.publish.max_items,
        "sources": [_source_values(s) for s in config.sources],
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def _source_values(source: Source) -> tuple[str, str | None, str | None]:
    return source.name, source.title, source.url


def _select(category: Category, store: Store, *, limit: int, now: datetime) -> list[Article]:
    """The newest ``limit`` stories ``category`` selects, reading no more than needed."""
    candidates = store.articles(store_query(category, now=now))
    return list(islice((a for a in candidates if matches(category, a, now=now)), limit))


def _ages(rule: Rule) -> bool:
    """True when ``rule`` has a max_age anywhere: its stories leave it as time passes, with
    no changed story to say so."""
    subs = (*rule.all_of, *rule.any_of, *((rule.not_,) if rule.not_ else ()))
    return rule.max_age is not None or any(_ages(sub) for sub in subs)


def _report(folder: Folder, base_url: str, started: float) -> PublishReport:
    feeds = [name for name in folder.written if name.endswith(tuple(FORMATS))]
    return PublishReport(
        written=tuple(folder.written),
        unchanged=tuple(folder.unchanged),
        removed=tuple(folder.removed),
        changed_feeds=tuple(f"{base_url}{name}" for name in feeds),
        seconds=time.perf_counter() - started,
    )
