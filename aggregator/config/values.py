"""The value types of the config: durations, sizes, slugs, time zones, language tags,
encodings and regexes, each parsed by a function that raises ``Invalid`` with the words a
user sees when it is wrong. Standard library (and ``errors``) only, so that importing it
costs nothing."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from aggregator.errors import Invalid

DEFAULT_CONFIG = Path("config/feeds.yaml")
CONFIG_ENV = "WIREDESK_CONFIG"
FIELDS = ("title", "summary", "content", "author", "tags", "section")
DEFAULT_FIELDS = ("title", "summary", "content")
QUOTE_LIMIT = 80

DURATION_PATTERN = r"^\s*(\d+)\s*([smhdw])\s*$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SIZE_PATTERN = r"^\s*(\d+)\s*([KkMmGg]?[Bb])?\s*$"
_DURATION = re.compile(DURATION_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_SIZE = re.compile(SIZE_PATTERN)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
# RFC 5646 language tags: language[-script][-region](-variant)*(-extension)*[-x-private];
# the 4-8 letter languages the grammar reserves are left out, so 'English' is refused.
_LANGUAGE = (  # compiled (and cached by re) on first use: it costs ~2% of a cron start
    r"^[a-z]{2,3}(?:-[a-z]{3}){0,3}(?:-[a-z]{4})?(?:-(?:[a-z]{2}|\d{3}))?"
    r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*(?:-[a-wyz\d](?:-[a-z\d]{2,8})+)*"
    r"(?:-x(?:-[a-z\d]{1,8})+)?$|^x(?:-[a-z\d]{1,8})+$"
)


def quote(value: object) -> str:
    """``value`` as a message shows it: text quoted and cut to about 80 characters, lists
    and mappings named rather than printed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str) and len(value) > QUOTE_LIMIT:
        return f"{value[: QUOTE_LIMIT - 3]!r}… ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= QUOTE_LIMIT else f"{text[: QUOTE_LIMIT - 3]}…"


def key_path(loc: tuple[str | int, ...]) -> str:
    """``sources[2].interval`` for the key path ("sources", 2, "interval"), each key cut
    to about 80 characters (a key, too, may be a 10 MB line)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = part if len(part) <= QUOTE_LIMIT else f"{part[: QUOTE_LIMIT - 3]}…"
        text += f".{key}" if text else key
    return text


def parse_duration(value: object) -> timedelta:
    """Turn ``90s``, ``15m``, ``2h``, ``1d`` or ``1w`` into a positive timedelta.

    Raises Invalid naming what was expected (``0s``: "must be longer than 0").
    """
    if isinstance(value, timedelta) and value > timedelta(0):
        return value  # built in code rather than read from YAML
    seconds = duration_seconds(value)
    if seconds > timedelta.max.days * 86400:
        raise Invalid(f"must be at most {timedelta.max.days}d; found {quote(value)}")
    return timedelta(seconds=seconds)


def duration_seconds(value: object) -> int:
    """The whole seconds of a duration as written (``15m`` is 900), not yet bounded.

    Raises Invalid naming what was expected (``0s``: "must be longer than 0").
    """
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise Invalid(f"expected a duration like 90s, 15m, 2h or 1d; found {quote(value)}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds == 0:
        raise Invalid(f"must be longer than 0; found {quote(value)}")
    return seconds


def format_duration(value: timedelta) -> str:
    """A duration as the config writes it, in its largest whole unit: ``30m``, ``1d``."""
    seconds = int(value.total_seconds())
    unit = next(u for u in ("w", "d", "h", "m", "s") if seconds % _UNITS[u] == 0)
    return f"{seconds // _UNITS[unit]}{unit}"


def parse_size(value: object) -> int:
    """Turn ``10MB``, ``512KB`` or a plain byte count into a positive number of bytes.

    Raises Invalid naming what was expected.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise Invalid(f"expected a size like 10MB, 512KB or a byte count; found {quote(value)}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def format_size(value: int) -> str:
    """A byte count as the config writes it: ``10MB``, ``512KB``, ``100B``."""
    unit = next(u for u in ("gb", "mb", "kb", "b") if value % _SIZE_UNITS[u] == 0)
    return f"{value // _SIZE_UNITS[unit]}{unit.upper()}"


def slug(value: str) -> str:
    """``value`` if it is a slug (it becomes a file name); raises Invalid otherwise."""
    if not _SLUG.match(value):
        raise Invalid(
            "expected a slug of lowercase letters, digits, '-' and '_' "
            f"(it becomes a file name); found {quote(value)}"
        )
    return value


def time_zone(value: str) -> str:
    """``value`` if it names an IANA time zone; raises Invalid with the closest name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(f"unknown time zone {quote(value)}{_closest_zone(value)}") from None
    return value


def _closest_zone(value: str) -> str:
    from zoneinfo import available_timezones

    zones = available_timezones()
    by_folded = {zone.casefold(): zone for zone in zones}
    by_city = {zone.rsplit("/", 1)[-1].casefold(): zone for zone in zones}
    wanted = value.strip().replace(" ", "_").casefold()
    found = by_folded.get(wanted) or by_city.get(wanted)
    if found is None:
        import difflib

        close = difflib.get_close_matches(wanted, list(by_folded), n=1, cutoff=0.7)
        found = by_folded[close[0]] if close else None
    if found is None:
        return "; expected an IANA name like Europe/Istanbul"
    return f"; did you mean {found!r}?"


def language(value: str) -> str:
    """``value`` if it is a BCP 47 language tag (``en``, ``en-GB``, ``pt-BR``, ``zh-Hant``)."""
    if not re.match(_LANGUAGE, value, re.IGNORECASE):
        raise Invalid(f"expected a language tag like en, en-GB or pt-BR; found {quote(value)}")
    return value


def encoding(value: str) -> str:
    """``value`` if Python can decode bytes with it; ``rot13`` and ``base64`` are codecs
    but not text encodings, and are refused here rather than on the first seed file."""
    try:
        codecs.lookup(value)
        b"abc".decode(value)
    except LookupError:
        message = f"unknown text encoding {quote(value)}; expected one like utf-8 or cp1254"
        raise Invalid(message) from None
    return value


def regex(value: str) -> str:
    """``value`` if it compiles as a regular expression; raises Invalid with the reason."""
    try:
        re.compile(value)
    except (re.error, RecursionError, OverflowError) as e:
        raise Invalid(f"invalid regex {quote(value)}: {e}") from None
    return value


def suggest(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the choice closest to ``word``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
