"""known.scan_items against a slow reference that follows every element with expat: the
same spans and keys for real-shaped feeds, the benchmark's bodies and generated awkward
documents (CDATA and comments that spell entry tags, entries inside entries, empty
entries, prefixes, attributes with ">" in them, documents that are not well-formed)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from xml.parsers.expat import ExpatError, ParserCreate

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.parse import document, known
from bench.workload import change_feeds, generate_feeds

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://news.example/feed"
# a start tag up to its ">" (attribute values are quoted, so ">" may stand in them)
_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")


def reference(data: bytes, url: str = URL) -> list[known.Item]:
    """Every entry (an item/entry child of the root, or of a channel child of the root)
    that has an end tag, spanning its start tag's "<" to its end tag's ">", keyed by the
    hash of the parsing rules, the URL, the open elements around it and its bytes; []
    when expat refuses the document."""
    items: list[known.Item] = []
    stack: list[tuple[str, dict[str, str], int]] = []  # name, attributes, where it starts
    entry_depth = -1

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal entry_depth
        depth = len(stack)
        parent = stack[1][0] if depth == 2 else ""
        at_entry_place = depth == 1 or parent.rpartition(":")[2] == "channel"
        if entry_depth < 0 and name.rpartition(":")[2] in ("item", "entry") and at_entry_place:
            entry_depth = depth
        stack.append((name, attrs, parser.CurrentByteIndex))

    def end(name: str) -> None:
        nonlocal entry_depth
        _, _, begin = stack.pop()
        if len(stack) != entry_depth:
            return
        entry_depth = -1
        start_tag = _START_TAG.match(data, begin)
        assert start_tag, data[begin : begin + 80]
        if start_tag.group(1):  # <item/>: no end tag
            return
        finish = data.index(b">", parser.CurrentByteIndex) + 1
        around = [(n, a) for n, a, _ in stack]
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{known._PARSED_BY}\n{url}\n{around!r}\n".encode())
        digest.update(data[begin:finish])
        items.append(known.Item(begin, finish, digest.hexdigest()))

    parser = ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(data, True)
    except ExpatError:
        return []
    return items


def scannable(data: bytes) -> bytes:
    """A body as scan_items is given it."""
    body = document.decode(data, "")
    return document.without_doctype("s", body.text, utf8=body.utf8, c0=False)


def test_the_fixtures_and_the_benchmark_bodies_scan_as_the_reference_does() -> None:
    paths = [p for d in ("feeds", "golden") for p in (FIXTURES / d).iterdir()]
    bodies = [scannable(p.read_bytes()) for p in paths if p.suffix in (".xml", ".rdf")]
    workload = generate_feeds(8, 50)
    changed, _ = change_feeds(workload, 0.5)
    bodies += [scannable(f.body) for f in workload.feeds + changed.feeds]
    for body in bodies:
        found = known.scan_items(body, URL)
        assert found == reference(body)
        assert found or (b"<item" not in body and b"<entry" not in body)


_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\n  ",
        "Story",
        "a &amp; b &lt;item&gt;",
        "<![CDATA[<item>not a tag</item>]]>",
        "<![CDATA[</item></entry>]]>",
        "<![CDATA[<entry/> <item ]]>",
        "<!-- <item> -->",
        "<!-- </item> </entry> -->",
        "<?pi <item>?>",
        "a/>b",
    ]
)
_ATTRIBUTES = st.sampled_from(
    ["", ' a="x"', " a='>'", ' xml:base="https://cdn.example/"', ' b="/>"', ' xml:lang="de"']
)
_NAMES = st.sampled_from(
    ["item", "entry", "rss:item", "items", "itemx", "title", "channel", "x:item", "link"]
)


@st.composite
def element(draw: st.DrawFn, depth: int = 0) -> str:
    name, attributes = draw(_NAMES), draw(_ATTRIBUTES)
    if draw(st.integers(0, 4)) == 0:
        return f"<{name}{attributes}{draw(st.sampled_from(['/', ' /']))}>"
    inner = draw(_TEXT)
    if depth < 3:
        for child in draw(st.lists(element(depth + 1), max_size=3)):
            inner += child + draw(_TEXT)
    return f"<{name}{attributes}>{inner}</{name}{draw(st.sampled_from(['', ' ', chr(10)]))}>"


@st.composite
def awkward_document(draw: st.DrawFn) -> str:
    children = "".join(draw(_TEXT) + draw(element()) for _ in range(draw(st.integers(0, 5))))
    namespaces = ' xmlns:rss="http://purl.org/rss/1.0/" xmlns:x="urn:x"'
    root = draw(st.sampled_from(["rss", "feed", "rdf:RDF", "rss:feed"]))
    if root == "rss" and draw(st.booleans()):
        children = f"<channel{draw(_ATTRIBUTES)}>{children}</channel>"
    if root == "rdf:RDF":
        namespaces += ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
    text = f"<{root}{namespaces}>{children}</{root}>"
    if draw(st.integers(0, 9)) == 0:  # not well-formed: a tag dropped
        cut = draw(st.integers(0, len(text) - 1))
        text = text[:cut] + text[cut:].replace(">", "", 1)
    return text


@given(awkward_document())
@settings(max_examples=400)
def test_awkward_documents_scan_as_the_reference_does(text: str) -> None:
    body = text.encode()
    assert known.scan_items(body, URL) == reference(body)
