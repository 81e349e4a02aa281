"""Small pure text helpers that several stages share: what XML may not hold, what an
HTML fragment says without its tags, HTTP dates, and counts of things in words."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

# What XML 1.0 forbids or feed readers choke on: C0 controls but tab, LF and CR; DEL and
# the C1 controls; lone surrogates; the two non-characters U+FFFE and U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_TAG = re.compile(r"<[^>]*>")


def strip_control(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (feedgen and lxml raise on
    them; SPEC's pitfalls)."""
    return _CONTROL.sub("", text)


def without_tags(markup: str, separator: str = " ") -> str:
    """The text of an HTML fragment: each tag replaced by ``separator``, entities decoded."""
    return html.unescape(_TAG.sub(separator, markup))


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
