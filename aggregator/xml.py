"""XML and HTML read with lxml: the only module of Wiredesk that imports it.

Feeds, OPML files and web pages come from strangers, so every XML document is parsed the
one safe way: no DTD loaded, no entity of one expanded, nothing fetched from the network.
The callers walk lxml's own elements; the parse goes through here, once per document, and
``children`` (a parent's elements, filtered by lxml itself), so the fast path loses
nothing to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from lxml import etree

Element = etree._Element
XMLSyntaxError = etree.XMLSyntaxError  # raised by parse_xml for a document not well-formed


class XmlDocument(NamedTuple):
    """A parsed XML document: its root element, whether libxml2 logged nothing while
    reading it (no recovered error, no warning), and whether it declares a DTD."""

    root: Element
    clean: bool
    declares_dtd: bool


def parse_xml(data: bytes) -> XmlDocument:
    """``data`` parsed as XML without loading a DTD, expanding its entities or touching the
    network.

    Raises XMLSyntaxError when ``data`` is not well-formed.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(data, parser)
    declares_dtd = root.getroottree().docinfo.internalDTD is not None
    return XmlDocument(root, clean=not len(parser.error_log), declares_dtd=declares_dtd)


def children(element: Element) -> Iterator[Element]:
    """The child elements of ``element``: not its comments or processing instructions."""
    return element.iterchildren(etree.Element)


def parse_html(data: bytes) -> Element | None:
    """The root element of the web page ``data``, parsed as browsers forgive it; None when
    there is no document in it (empty, or only whitespace and comments)."""
    import lxml.html  # here: the feed parser, every collecting process's user, never needs it

    try:
        return lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        return None
