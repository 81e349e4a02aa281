"""OPML in and out: read the subscription lists other readers export, import them into
the config (folders become categories), and export the configured feeds.

OPML never needs a DTD, so a file that declares one is refused before its entities can
be expanded (lxml expands internal entities in attributes even with
``resolve_entities=False``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from aggregator.config import Config
from aggregator.configedit import ConfigDocument, normalise_url, unique_name
from aggregator.errors import WiredeskError
from aggregator.models import ImportResult, Subscription

RESERVED_CATEGORIES = frozenset({"all"})


class OpmlError(WiredeskError):
    """An OPML file cannot be read; the message starts with its path."""


def read_opml(path: Path) -> list[Subscription]:
    """Every feed outline of an OPML file, in document order, duplicates included.

    Outlines with an ``xmlUrl`` (any letter case) are feeds; other outlines are folders,
    and a feed's ``folders`` are the titles of the folders around it. A feed's title is
    its ``title``, else its ``text``, else its URL's host.

    Raises OpmlError when the file cannot be read, is not XML, declares a DTD, or is not
    OPML.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise OpmlError(f"{path}: cannot read: {e.strerror or e}") from e
    if b"<!DOCTYPE" in raw:
        raise OpmlError(f"{path}: declares a DTD, which OPML never needs; refused")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as e:
        raise OpmlError(f"{path}: not well-formed XML: {e}") from e
    if root.getroottree().docinfo.internalDTD is not None:
        raise OpmlError(f"{path}: declares a DTD, which OPML never needs; refused")
    body = root.find("body")
    if _local(root.tag) != "opml" or body is None:
        raise OpmlError(f"{path}: not an OPML file (no <opml><body>)")
    return list(_walk(body, ()))


def import_opml(config_path: Path, opml_path: Path) -> ImportResult:
    """Add every subscription of an OPML file that is not yet configured as a source, and
    turn each folder into a category of the same slug (``title`` the folder name,
    ``sources`` its feeds, nested ones included), extending a category that already exists.
    Nothing is written unless the whole edited config loads.

    Raises OpmlError for an unreadable OPML file and ConfigError for a config that does
    not load or cannot be edited.
    """
    subscriptions = read_opml(opml_path)
    document = ConfigDocument(config_path)
    config = document.config
    names = {s.name for s in config.sources}
    by_url = {normalise_url(s.url): s.name for s in config.sources if s.url}
    members: dict[str, tuple[str, list[str]]] = {}  # category slug -> (title, sources)
    added: list[str] = []
    new_sources: list[dict[str, str]] = []
    skipped: list[str] = []
    for sub in subscriptions:
        key = normalise_url(sub.url)
        if urlsplit(sub.url).scheme not in ("http", "https"):
            skipped.append(f"{sub.url}: not an http(s) feed URL")
            continue
        if key in by_url:
            why = "listed twice in the file" if by_url[key] in added else "already configured"
            skipped.append(f"{sub.url}: {why} as {by_url[key]!r}")
        else:
            name = unique_name(sub.title, names)
            names.add(name)
            by_url[key] = name
            added.append(name)
            new_sources.append({"name": name, "title": sub.title, "url": sub.url})
        for folder in sub.folders:
            slug = unique_name(folder, set(RESERVED_CATEGORIES))
            listed = members.setdefault(slug, (folder, []))[1]
            if by_url[key] not in listed:
                listed.append(by_url[key])
    document.append("sources", new_sources)
    existing = {c.name: set(c.sources) for c in config.categories}
    extended = [s for s in members if s in existing and set(members[s][1]) - existing[s]]
    for slug in extended:
        document.extend_sources(slug, members[slug][1])
    document.append(
        "categories",
        [
            {"name": slug, "title": title, "sources": listed}
            for slug, (title, listed) in members.items()
            if slug not in existing
        ],
    )
    document.save()
    return ImportResult(
        added=tuple(added),
        skipped=tuple(skipped),
        categories_created=tuple(slug for slug in members if slug not in existing),
        categories_extended=tuple(extended),
    )


def export_opml(config: Config) -> bytes:
    """OPML 2.0 of the configured feed sources (seed folders are not feeds): one folder
    per category that selects sources by its top-level ``sources``, holding those
    sources; sources no category lists sit at the top level."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{config.publish.title} sources"
    body = etree.SubElement(root, "body")
    feeds = {s.name: s for s in config.sources if s.url}
    foldered: set[str] = set()
    for category in config.categories:
        listed = [feeds[name] for name in category.sources if name in feeds]
        if listed:
            title = category.title or category.name
            folder = etree.SubElement(body, "outline", text=title, title=title)
            for source in listed:
                _feed_outline(folder, source.title or source.name, source.url or "")
            foldered.update(s.name for s in listed)
    for name, source in feeds.items():
        if name not in foldered:
            _feed_outline(body, source.title or name, source.url or "")
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def _feed_outline(parent: etree._Element, title: str, url: str) -> None:
    etree.SubElement(parent, "outline", type="rss", text=title, title=title, xmlUrl=url)


def _walk(element: etree._Element, folders: tuple[str, ...]) -> Iterator[Subscription]:
    """The feeds under ``element``, each with the folder titles around it."""
    for outline in element:
        if not isinstance(outline.tag, str) or _local(outline.tag) != "outline":
            continue
        attrs = {key.lower(): " ".join(value.split()) for key, value in outline.attrib.items()}
        url = attrs.get("xmlurl", "")
        label = attrs.get("title") or attrs.get("text") or ""
        if url:
            yield Subscription(
                url=url,
                title=label or urlsplit(url).hostname or url,
                html_url=attrs.get("htmlurl", ""),
                folders=folders,
            )
            yield from _walk(outline, folders)
        else:
            yield from _walk(outline, (*folders, label) if label else folders)


def _local(tag: str) -> str:
    """A tag name without its namespace, lowercased."""
    return etree.QName(tag).localname.lower()
