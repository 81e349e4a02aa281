"""Small pure text helpers that several stages share: what XML may not hold, what an
HTML fragment says without its tags, and HTTP dates."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date (RFC 9110, or the obsolete forms) as an aware datetime; None when it
    is not one."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
