"""An OPML file -> its feeds: the subscription lists other readers export.

OPML never needs a DTD, so a file that declares one is refused before its entities can
be expanded (lxml expands internal entities in attributes even with
``resolve_entities=False``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aggregator.errors import OpmlError
from aggregator.models import Subscription
from aggregator.xml import Element, XMLSyntaxError, parse_xml


def read_opml(path: Path) -> list[Subscription]:
    """Every feed outline of an OPML file, in document order, duplicates included.

    Outlines with an ``xmlUrl`` (any letter case) are feeds; other outlines are folders,
    and a feed's ``folders`` are the titles of the folders around it. A feed's title is
    its ``title``, else its ``text``, else "" (the importer then uses the feed's own).

    Raises OpmlError when the file cannot be read, is not XML, declares a DTD, or is not
    OPML.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise OpmlError(f"{path}: cannot read: {e.strerror or e}") from e
    if b"<!DOCTYPE" in raw:
        raise OpmlError(f"{path}: declares a DTD, which OPML never needs; refused")
    try:
        root, _, declares_dtd = parse_xml(raw)
    except XMLSyntaxError as e:
        raise OpmlError(f"{path}: not well-formed XML: {e}") from e
    if declares_dtd:
        raise OpmlError(f"{path}: declares a DTD, which OPML never needs; refused")
    body = root.find("body")
    if _local(root.tag) != "opml" or body is None:
        raise OpmlError(f"{path}: not an OPML file (no <opml><body>)")
    return list(_walk(body, ()))


def _walk(element: Element, folders: tuple[str, ...]) -> Iterator[Subscription]:
    """The feeds under ``element``, each with the folder titles around it."""
    for outline in element:
        if not isinstance(outline.tag, str) or _local(outline.tag) != "outline":
            continue
        attrs = {key.lower(): " ".join(str(value).split()) for key, value in outline.attrib.items()}
        url = attrs.get("xmlurl", "")
        label = attrs.get("title") or attrs.get("text") or ""
        if url:
            yield Subscription(
                url=url,
                title=label,
                html_url=attrs.get("htmlurl", ""),
                folders=folders,
            )
            yield from _walk(outline, folders)
        else:
            yield from _walk(outline, (*folders, label) if label else folders)


def _local(tag: str) -> str:
    """A tag name without its namespace, lowercased."""
    return tag.rpartition("}")[2].lower()
