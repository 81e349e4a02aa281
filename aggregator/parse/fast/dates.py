"""feedparser's reading of a date, with the two forms nearly every feed writes read here.

feedparser tries a list of handlers in turn (W3C-DTF, then RFC 822, then seven more), each
splitting and converting the text in Python. A date written exactly as RSS 2.0 (``Mon, 02
Mar 2026 10:13:00 +0000``) or Atom (``2026-03-02T10:17:00+00:00``) writes it is read by
one regular expression and the same arithmetic as the handler that accepts it; any other
text, or a date that arithmetic refuses, goes to feedparser's own ``_parse_date``.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from time import struct_time

from feedparser.datetimes import _parse_date
from feedparser.datetimes.rfc822 import months

# feedparser lowercases the text first: the letters match in any case (ASCII only: under
# Unicode rules "ſ" would match "s", which feedparser's lowercasing leaves alone).
# RFC 822 as RSS writes it; feedparser's W3C-DTF handler finds no 4-digit year before the
# first "-" or "t" in it and gives up, so its RFC 822 handler reads it.
_RFC822 = re.compile(
    r"(?ai)(?:mon|tue|wed|thu|fri|sat|sun), (\d\d) (" + "|".join(months) + r") (\d{4})"
    r" (\d\d):(\d\d):(\d\d) (?:([+-])(\d\d)(\d\d)|gmt)"
)
# W3C-DTF (RFC 3339) with seconds and a zone: feedparser's first handler reads it.
_W3CDTF = re.compile(r"(?ai)(\d{4})-(\d\d)-(\d\d)t(\d\d):(\d\d):(\d\d)(?:z|([+-])(\d\d):(\d\d))")


@functools.lru_cache(maxsize=256)  # an entry's published and updated dates are often one text
def parse_date(value: str) -> struct_time | None:
    """``feedparser.datetimes._parse_date(value)``: a UTC time tuple, or None."""
    if match := _RFC822.fullmatch(value):
        day, month, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
        fields = (int(year), months[month.lower()], int(day))
    elif match := _W3CDTF.fullmatch(value):
        year, month, day, hour, minute, second, sign, zone_h, zone_m = match.groups()
        fields = (int(year), int(month), int(day))
    else:
        return _parse_date(value)  # type: ignore[no-any-return]
    try:
        stamp = datetime(*fields, int(hour), int(minute), int(second))
        if zone_h and (zone_h != "00" or zone_m != "00"):
            offset = timedelta(0, 0, 0, 0, int(zone_m), int(zone_h))
            stamp = stamp + offset if sign == "-" else stamp - offset
        return stamp.utctimetuple()
    except (ValueError, OverflowError):
        return _parse_date(value)  # type: ignore[no-any-return]
