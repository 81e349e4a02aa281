"""What "the same story" means. Pure functions, no I/O.

Two articles are the same story when their normalised headlines match and their
publication dates fall on the same UTC day, one day either side.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

_TAG = re.compile(r"<[^>]*>")
_WHITESPACE = re.compile(r"\s+")


def normalise_headline(headline: str) -> str:
    """The dedup form of a headline: NFKC, no HTML tags or entities, case-folded, every
    quote, dash and other punctuation folded away, whitespace collapsed."""
    text = html.unescape(_TAG.sub(" ", headline))
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = (ch if not unicodedata.category(ch).startswith(("P", "S")) else " " for ch in text)
    return _WHITESPACE.sub(" ", "".join(kept)).strip()


def story_day(published: datetime) -> date:
    """The UTC calendar day a story was published on."""
    return published.astimezone(UTC).date()


def day_window(published: datetime) -> tuple[date, date, date]:
    """The days on which an article counts as the same story: its UTC day, one either side."""
    day = story_day(published)
    return day - timedelta(days=1), day, day + timedelta(days=1)
