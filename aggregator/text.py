"""Small pure text helpers that several stages share: what XML may not hold, what an
HTML fragment says without its tags, HTTP dates, and counts of things in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# What XML 1.0 forbids or feed readers choke on: C0 controls but tab, LF and CR; DEL and
# the C1 controls; lone surrogates; the two non-characters U+FFFE and U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# The same characters in UTF-8, which holds no surrogates: C0 and DEL are single bytes,
# the C1 controls \xc2\x80-\xc2\x9f, the non-characters \xef\xbf\xbe and \xef\xbf\xbf.
_CONTROL_BYTES = bytes(c for c in range(0x20) if c not in b"\t\n\r") + b"\x7f"
# Each pattern with its first byte: a body holds neither byte often, and looking for one
# byte (memchr) is ~8x faster than the pattern's own search through the whole body.
_CONTROL_UTF8 = (
    (b"\xc2", re.compile(b"\xc2[\x80-\x9f]")),
    (b"\xef", re.compile(b"\xef\xbf[\xbe\xbf]")),
)
_OTHER_ASCII_SPACE = "\t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.split splits on besides " \n"
_SPACED = bytes.maketrans(b"\t\r", b"  ")
_TAG = re.compile(r"<[^>]*>")
# Tags after which the text goes on on a new line: line and rule breaks, and the ends of
# block elements (every other tag, <b> or <a> say, sits inside a word or beside a space).
# The "<" leads both branches, so the search looks for that one character rather than
# testing every character against the set of the branches' first ones (a third faster).
_BREAK = re.compile(
    r"<\s*(?:(?:br|hr)\b[^>]*|/\s*(?:p|div|li|dt|dd|h[1-6]|blockquote|pre|tr|td|th|table"
    r"|ul|ol|dl|figure|figcaption|section|article|header|footer|aside|nav|address)\s*)>",
    re.IGNORECASE,
)


def strip_control(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (feedgen and lxml raise on
    them; SPEC's pitfalls)."""
    if not text.isascii():
        return utf8_without_control(text).decode("utf-8")
    # bytes.translate scans ~6x faster than the regular expression, which matters on
    # bodies: each is scanned twice (as sent, then its plain text)
    data = text.encode("ascii")
    kept = data.translate(None, _CONTROL_BYTES)
    return text if len(kept) == len(data) else kept.decode("ascii")


def strip_xml_control(text: str) -> str:
    """``strip_control(text)`` of text a strict XML 1.0 parse read. XML forbids the C0
    controls but tab, LF and CR even as character references, so of what ``strip_control``
    drops ASCII text can hold only DEL, which one byte search finds (the translate reads
    every character of a body)."""
    if text.isascii() and "\x7f" not in text:
        return text
    return strip_control(text)


def utf8_without_control(text: str, *, c0: bool = True) -> bytes:
    """``strip_control(text)`` encoded as UTF-8, with the characters cut from the bytes: a
    translate and two searches with fixed first bytes cost a third of the regular
    expression over a str that is not ASCII (a whole feed body, say). ``c0=False`` may
    leave the C0 controls in, as ``utf8_cut_control`` does."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, which only the regular expression removes
        return _CONTROL.sub("", text).encode("utf-8")
    return utf8_cut_control(data, c0=c0)


def utf8_cut_control(data: bytes, *, c0: bool = True) -> bytes:
    """The UTF-8 ``data`` without the characters ``strip_control`` drops; with
    ``c0=False`` but the C0 controls, which a strict XML parser refuses (so its caller
    can cut them, by ``utf8_cut_c0``, only from a body the parser refused): the translate
    that finds them reads every byte, the search for DEL is a memchr."""
    if c0:
        data = data.translate(None, _CONTROL_BYTES)
    elif b"\x7f" in data:
        data = data.replace(b"\x7f", b"")
    for first, pattern in _CONTROL_UTF8:
        if first in data and pattern.search(data):
            data = pattern.sub(b"", data)
    return data


def utf8_cut_c0(data: bytes) -> bytes:
    """``utf8_cut_control(data)`` of what ``utf8_cut_control(data, c0=False)`` gave:
    ``data`` without its C0 controls (tab, LF and CR kept); ``data`` itself when it holds
    none. In UTF-8 no C0 byte is part of another character, so the cuts can come in
    either order."""
    kept = data.translate(None, _CONTROL_BYTES)
    return data if len(kept) == len(data) else kept


def plain_text(markup: str, *, lines: bool = False, controls: bool = True) -> str:
    """The text of sanitised HTML, or of plain text: tags removed, entities decoded,
    characters XML cannot carry dropped, each run of whitespace one space; with ``lines``,
    one line per block (paragraph, list item, cell, ``<br>``...) and no empty lines.
    ``controls=False`` says ``markup`` holds no control character, tab or CR, nor an entity
    that stands for one (nh3's HTML of text that held none, nor any "&"): they are not
    looked for, which in ASCII text is a translate of every character.

    For markup a sanitiser wrote (parse's nh3 output, all the store holds), where every
    "<" opens a tag: a title straight from a feed goes through nh3 first. Raises nothing."""
    if is_plain(markup):
        return markup  # a title, a tag, a one-sentence summary: nothing to take out
    if "<" in markup:
        markup = _TAG.sub("", _BREAK.sub("\n", markup))
    if "&" in markup:
        from html import unescape  # ~2 ms with its entity table: `--help` needs neither

        markup = unescape(markup)
    if markup.isascii():
        # One pass drops the controls and makes tab and CR spaces (both whitespace to
        # collapse, neither a line break), so space and newline are all the whitespace left.
        text = markup
        if controls:
            text = markup.encode("ascii").translate(_SPACED, _CONTROL_BYTES).decode("ascii")
        if not lines:
            return _collapse_spaced(text)
    else:
        text = strip_control(markup)
        if not lines:
            return collapse(text)
    stripped = (collapse(line) for line in text.split("\n"))
    return "\n".join(line for line in stripped if line)


def is_plain(text: str) -> bool:
    """Whether ``plain_text(text)`` is ``text``: no tag or entity, no character but
    printable ones (no control, no whitespace but the space), no space at either end or
    beside another. Cheaper than the steps for short text, which is most calls."""
    return (
        "<" not in text
        and "&" not in text
        and text.isprintable()  # its non-printables include every other str.split space
        and "  " not in text
        and not text.startswith(" ")
        and not text.endswith(" ")
    )


def collapse(text: str) -> str:
    """``text`` with each run of whitespace one space and none at either end."""
    if "\n" in text and text.isascii() and not any(c in text for c in _OTHER_ASCII_SPACE):
        return _collapse_spaced(text)
    # str.split's whitespace is re's \s, and it is 3x faster than re.sub(r"\s+", " ", ...)
    # on a body, where almost every run is a single space that the sub would replace.
    return " ".join(text.split())


def _collapse_spaced(text: str) -> str:
    """``collapse(text)`` of text whose only whitespace is space and newline."""
    # Faster on a body's plain text, lines of single-spaced words: split it into its
    # lines, not its hundreds of words, when no two spaces run together.
    if "\n" in text and "  " not in text:
        return " ".join(filter(None, [line.strip(" ") for line in text.split("\n")]))
    return " ".join(text.split())


def count(number: int, singular: str, plural: str = "") -> str:
    """``1 story``, ``2 stories``: a number with its noun in the right form."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date (RFC 9110, or the obsolete forms) as an aware datetime; None when it
    is not one (nor when its year or hour is beyond what a datetime holds)."""
    from email.utils import parsedate_to_datetime  # ~5 ms to import; a cron start skips it

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def urn_uuid(name: str) -> str:
    """``urn:uuid:`` and the UUID 5 of ``name`` in the URL namespace: a stable entry id."""
    import uuid  # loads only when an id is made: uuid imports platform, ~2% of a cron start

    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
