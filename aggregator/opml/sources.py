"""import-opml and export-opml: the subscriptions of an OPML file into the config (folders
become categories, never changing one that exists), and the configured feeds out as
OPML, nested folders kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from aggregator.config import Config, Source
from aggregator.config.edit import (
    ConfigDocument,
    NewCategory,
    NewSource,
    normalise_url,
    unique_name,
)
from aggregator.errors import SourceError
from aggregator.models import ImportResult, ParsedFeed, Subscription
from aggregator.opml import Outline, write_opml
from aggregator.opml.read import read_opml

RESERVED_CATEGORIES = frozenset({"all"})

Check = Callable[[str], ParsedFeed]


def import_opml(config_path: Path, opml_path: Path, *, check: Check | None = None) -> ImportResult:
    """Add every subscription of an OPML file that is not yet configured as a source, and
    turn each folder into a category (``title`` the folder name, ``sources`` its feeds,
    nested ones included) named by the slug of its name, after its parent's for a nested
    folder (``news-regional``), unless a category of that name exists: the folder's feeds
    are then added as sources only, and the category keeps its meaning. A folder whose
    name gives no slug is called ``folder`` (``folder-2``...).

    ``check`` (a feed URL -> the parsed feed, raising SourceError) is called for every
    new feed: one that fails is skipped with the reason, and a subscription with no title
    takes the feed's own. Without ``check``, a missing title is the URL's host. Nothing is
    written unless the whole edited config loads.

    Raises OpmlError for an unreadable OPML file and ConfigError for a config that does
    not load or cannot be edited.
    """
    document = ConfigDocument(config_path)
    plan = _Plan(document.config, check)
    for sub in read_opml(opml_path):
        plan.add(sub)
    document.append(plan.new_sources)
    existing = {c.name for c in document.config.categories}
    created = [slug for slug in plan.members if slug not in existing]
    document.append(
        [NewCategory(name=s, title=plan.titles[s], sources=tuple(plan.members[s])) for s in created]
    )
    document.save()
    added = {source.name for source in plan.new_sources}
    kept = {
        slug: tuple(name for name in listed if name in added)
        for slug, listed in plan.members.items()
        if slug in existing and added.intersection(listed)
    }
    return ImportResult(
        added=tuple(source.name for source in plan.new_sources),
        skipped=tuple(plan.skipped),
        categories_created=tuple(created),
        categories_kept=kept,
    )


class _Plan:
    """What an import will add: sources, folder categories with their members, and one
    line per subscription skipped."""

    def __init__(self, config: Config, check: Check | None) -> None:
        self.check = check
        self.names = {s.name for s in config.sources}
        self.by_url = {normalise_url(s.url): s.name for s in config.sources if s.url}
        self.new_sources: list[NewSource] = []
        self.skipped: list[str] = []
        self.members: dict[str, list[str]] = {}  # category slug -> source names
        self.titles: dict[str, str] = {}  # category slug -> folder title
        self._slugs: dict[tuple[str, ...], str] = {}  # folder path -> category slug

    def add(self, sub: Subscription) -> None:
        """Plan ``sub``: a new source, or a skip with its reason; then its folders."""
        key = normalise_url(sub.url)
        if urlsplit(sub.url).scheme not in ("http", "https"):
            self.skipped.append(f"{sub.url}: not an http(s) feed URL")
            return
        if key in self.by_url:
            added = any(s.name == self.by_url[key] for s in self.new_sources)
            why = "listed twice in the file" if added else "already configured"
            self.skipped.append(f"{sub.url}: {why} as {self.by_url[key]!r}")
        else:
            title = self._checked_title(sub)
            if title is None:
                return
            name = unique_name(title, self.names)
            self.names.add(name)
            self.by_url[key] = name
            self.new_sources.append(NewSource(name=name, url=sub.url, title=title))
        for depth in range(1, len(sub.folders) + 1):
            listed = self.members.setdefault(self._slug(sub.folders[:depth]), [])
            if self.by_url[key] not in listed:
                listed.append(self.by_url[key])

    def _checked_title(self, sub: Subscription) -> str | None:
        """The title of the new source, or None (and a skip) when its check failed."""
        feed_title = ""
        if self.check is not None:
            try:
                feed_title = " ".join(self.check(sub.url).title.split())
            except SourceError as e:
                self.skipped.append(f"{sub.url}: check failed: {e}")
                return None
        return sub.title or feed_title or urlsplit(sub.url).hostname or sub.url

    def _slug(self, path: tuple[str, ...]) -> str:
        """The category slug of a folder: its parent's slug, ``-``, the slug of its title
        (``folder`` when the title gives none), made unique; the same for the same path."""
        if path not in self._slugs:
            own = unique_name(path[-1], set(), fallback="folder")
            name = f"{self._slug(path[:-1])}-{own}" if len(path) > 1 else own
            taken = set(RESERVED_CATEGORIES) | set(self._slugs.values())
            self._slugs[path] = unique_name(name, taken)
            self.titles[self._slugs[path]] = path[-1]
        return self._slugs[path]


def export_opml(config: Config) -> bytes:
    """OPML 2.0 of the configured feed sources (seed folders are not feeds): one folder
    per category that selects sources by its top-level ``sources``. A category named
    ``<parent>-<child>`` whose sources are all in category ``<parent>``'s is a folder
    inside that one (the names an import of nested folders gives), and a feed is listed
    once per folder it is in: in the innermost folders that hold it, not again in the
    folders around them. Sources no category lists sit at the top level."""
    feeds = {s.name: s for s in config.sources if s.url}
    folders = {
        c.name: (c.title or c.name, [n for n in dict.fromkeys(c.sources) if n in feeds])
        for c in config.categories
    }
    folders = {name: folder for name, folder in folders.items() if folder[1]}
    parents = _parents({name: set(listed) for name, (_, listed) in folders.items()})
    outlines = [_folder(name, folders, parents, feeds) for name in folders if parents[name] is None]
    foldered = {n for _, listed in folders.values() for n in listed}
    outlines += [_feed(source) for name, source in feeds.items() if name not in foldered]
    return write_opml(f"{config.publish.title} sources", outlines)


def _parents(members: dict[str, set[str]]) -> dict[str, str | None]:
    """Each folder's parent: the longest other name that is a ``-`` prefix of its name
    and whose sources include all of its own, or None."""
    parents: dict[str, str | None] = {}
    for name, listed in members.items():
        around = [
            other
            for other, more in members.items()
            if name.startswith(f"{other}-") and listed <= more
        ]
        parents[name] = max(around, key=len, default=None)
    return parents


def _folder(
    name: str,
    folders: dict[str, tuple[str, list[str]]],
    parents: dict[str, str | None],
    feeds: dict[str, Source],
) -> Outline:
    """The folder of category ``name``: the feeds no folder inside it holds, then those
    folders."""
    title, listed = folders[name]
    children = [child for child in folders if parents[child] == name]
    inner = {n for child in children for n in folders[child][1]}
    own = [_feed(feeds[source_name]) for source_name in listed if source_name not in inner]
    inside = [_folder(child, folders, parents, feeds) for child in children]
    return Outline(title=title, children=(*own, *inside))


def _feed(source: Source) -> Outline:
    return Outline(title=source.title or source.name, xml_url=source.url or "")
