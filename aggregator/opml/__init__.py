"""OPML 2.0, the subscription lists feed readers exchange: the one writer here, for the
publish folder's ``index.opml`` and for ``export-opml``.

::

    __init__.py  Outline -> OPML bytes (the standard library's ElementTree)
    read.py      an OPML file -> its feeds as Subscriptions (parsed by aggregator.xml)
    sources.py   import-opml and export-opml: subscriptions into the config, its feeds out

This module imports neither lxml nor the config editor, so publishing pays for neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from aggregator.text import strip_control


@dataclass(frozen=True, slots=True, kw_only=True)
class Outline:
    """One outline of an OPML body: a feed when it has an ``xml_url``, else a folder of
    ``children``; made by publish (a category's feed) and export-opml (the configured
    sources in their folders), written by ``write_opml``."""

    title: str
    xml_url: str = ""
    html_url: str = ""
    description: str = ""
    children: tuple[Outline, ...] = ()


def write_opml(title: str, outlines: Sequence[Outline]) -> bytes:
    """An OPML 2.0 document titled ``title`` with ``outlines`` as its body: UTF-8 with an
    XML declaration, indented, ending in a newline. Characters XML cannot carry are
    dropped, and the optional attributes an outline leaves empty are not written."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = strip_control(title)
    body = ElementTree.SubElement(root, "body")
    for outline in outlines:
        _write(body, outline)
    ElementTree.indent(root)
    document: bytes = ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return document + b"\n"


def _write(parent: ElementTree.Element, outline: Outline) -> None:
    optional = {
        "description": outline.description,
        "xmlUrl": outline.xml_url,
        "htmlUrl": outline.html_url,
    }
    attributes = {"type": "rss"} if outline.xml_url else {}
    attributes |= {"text": outline.title, "title": outline.title}  # OPML requires text
    attributes |= {key: value for key, value in optional.items() if value}
    element = ElementTree.SubElement(
        parent, "outline", {key: strip_control(value) for key, value in attributes.items()}
    )
    for child in outline.children:
        _write(element, child)
