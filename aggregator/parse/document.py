"""A fetched body made safe for feedparser: decoded, its prolog checked, UTF-8 out.

The body is decoded here (valid UTF-8 wins over a wrong declared charset), a prolog that
declares entities (``<!ENTITY``: billion laughs, quadratic blowup, external entities) is
refused, and any other DOCTYPE is removed, so no external DTD is ever fetched. Nothing
here processes XInclude.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

from aggregator.errors import ParseError
from aggregator.text import utf8_cut_control, utf8_without_control

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SIGNATURES = {
    b"\x00\x00\x00<": "utf-32-be",
    b"<\x00\x00\x00": "utf-32-le",
    b"\x00<\x00?": "utf-16-be",
    b"<\x00?\x00": "utf-16-le",
    b"\x4c\x6f\xa7\x94": "cp037",  # EBCDIC "<?xm"
}
_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(r"""\A\s*<\?xml\s[^>]*?\?>""")
_XML_DECL_ENCODING = re.compile(r"""\A\s*<\?xml\s[^>]*?encoding\s*=\s*["']([\w.:-]+)""")
# What may precede the root element: whitespace, processing instructions (the XML
# declaration among them), comments.
_PROLOG_MISC = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE_TOKEN = re.compile(r"""[^"'<>\[\]]+|"[^"]*"|'[^']*'|<!--.*?-->|<\?.*?\?>|.""", re.DOTALL)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)
# feedparser's own idea of where the prolog ends (it looks for entities before this).
_FIRST_TAG = re.compile(r"<\w", re.ASCII)


class Body(NamedTuple):
    """A fetched body as text, and its bytes when the text is their UTF-8 (else b"")."""

    text: str
    utf8: bytes = b""


def is_json(text: str, media_type: str) -> bool:
    """True for a body to read as JSON Feed rather than XML: a JSON media type
    (``application/feed+json``, ``application/json``), or a body whose first character is
    ``{`` (a JSON Feed served as text/plain or octet-stream; no XML document starts so)."""
    return media_type.endswith(("/json", "+json")) or text.lstrip("\ufeff \t\r\n").startswith("{")


def charset(content_type: str) -> str:
    """The charset a Content-Type header names, or ""."""
    match = _CHARSET.search(content_type)
    return match.group(1) if match else ""


def _codec(name: str) -> str | None:
    if not name:
        return None
    try:
        name = codecs.lookup(name).name
        "".encode(name)  # raises LookupError for bytes-to-bytes codecs such as rot13
    except LookupError:
        return None
    return name


def decode(data: bytes, http_charset: str) -> Body:
    """The body as text, with its bytes when they are that text's UTF-8 (``Body``). A
    byte-order mark or a UTF-16/32 pattern decides first; then
    bytes that are valid UTF-8 are UTF-8, whatever the server or the XML declaration
    claim (the commonest mislabelling); then the declared charsets; then Windows-1252."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return Body(data.decode(name, errors="replace"))
    if data[:4] in _SIGNATURES:
        return Body(data.decode(_SIGNATURES[data[:4]], errors="replace"))
    head = data[:200].decode("ascii", errors="replace")
    declared = [_codec(http_charset), _codec(_group(_XML_DECL_ENCODING.match(head)))]
    known = [name for name in declared if name]
    if data.isascii():
        # Only stateful 7-bit encodings (ISO-2022-JP) read ASCII differently from UTF-8.
        compatible = [n for n in known if "<".encode(n, errors="replace") == b"<"]
        name = compatible[0] if compatible else "ascii"
        text = data.decode(name, errors="replace")
        return Body(text, data if name in ("ascii", "utf-8") else b"")
    for name in ["utf-8", *known]:
        try:
            return Body(data.decode(name), data if name == "utf-8" else b"")
        except UnicodeDecodeError:
            continue
    return Body(data.decode("windows-1252", errors="replace"))


def _group(match: re.Match[str] | None) -> str:
    return match.group(1) if match else ""


def without_doctype(source: str, text: str, utf8: bytes = b"", *, c0: bool = True) -> bytes:
    """UTF-8 bytes for feedparser: no XML declaration (the encoding is now UTF-8), no
    DOCTYPE, no control characters (``c0=False``: but perhaps the C0 controls, which
    ``text.utf8_cut_c0`` cuts). ``utf8``, when given, is the UTF-8 that ``text`` was
    decoded from (``Body.utf8``): the bytes are cut from it, not from ``text`` encoded
    again. Raises ParseError when the prolog declares entities."""
    doctype, prolog_end = _prolog(source, text)
    first_tag = _FIRST_TAG.search(text)
    scan_end = max(prolog_end, first_tag.start() if first_tag else len(text))
    if _ENTITY_DECL.search(text, 0, scan_end):
        raise ParseError(
            source, "refused: the document declares XML entities (an entity-expansion attack)"
        )
    if doctype:
        text, utf8 = text[: doctype[0]] + text[doctype[1] :], b""
    declaration = _XML_DECL.match(text)  # not sub(): that tries \A at every position
    start = declaration.end() if declaration else 0
    if utf8:
        return utf8_cut_control(utf8[len(text[:start].encode("utf-8")) :], c0=c0)
    return utf8_without_control(text[start:], c0=c0)


def _prolog(source: str, text: str) -> tuple[tuple[int, int] | None, int]:
    """The span of the DOCTYPE (or None) and where the prolog ends."""
    pos, doctype = (1 if text.startswith("\ufeff") else 0), None
    while True:
        misc = _PROLOG_MISC.match(text, pos)
        if misc:
            pos = misc.end()
        elif doctype is None and text[pos : pos + 9].upper() == "<!DOCTYPE":
            doctype = (pos, _doctype_end(source, text, pos))
            pos = doctype[1]
        else:
            return doctype, pos


def _doctype_end(source: str, text: str, start: int) -> int:
    """Where the DOCTYPE starting at ``start`` ends, skipping quoted strings, comments and
    processing instructions, so a ``]>`` inside one cannot end it early."""
    in_subset = False
    for token in _DOCTYPE_TOKEN.finditer(text, start + 2):
        char = token.group()
        if char == "[":
            in_subset = True
        elif char == "]":
            in_subset = False
        elif char == ">" and not in_subset:
            return token.end()
    raise ParseError(source, "not a feed: the DOCTYPE declaration never ends")
