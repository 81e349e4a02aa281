"""The value types of the config: durations, sizes, slugs, time zones, regexes and
paths, each with the message a user sees when it is wrong."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ValidationInfo,
    WithJsonSchema,
)

DEFAULT_CONFIG = Path("config/feeds.yaml")
CONFIG_ENV = "WIREDESK_CONFIG"
FIELDS = ("title", "summary", "content", "author", "tags", "section")
DEFAULT_FIELDS = ("title", "summary", "content")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_duration(value: object) -> timedelta:
    """Turn ``90s``, ``15m``, ``2h``, ``1d`` or ``1w`` into a positive timedelta.

    Raises ValueError naming what was expected.
    """
    if isinstance(value, timedelta) and value > timedelta(0):
        return value  # built in code rather than read from YAML
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration like 90s, 15m, 2h or 1d; found {value!r}")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """A duration as the config writes it, in its largest whole unit: ``30m``, ``1d``."""
    seconds = int(value.total_seconds())
    unit = next(u for u in ("w", "d", "h", "m", "s") if seconds % _UNITS[u] == 0)
    return f"{seconds // _UNITS[unit]}{unit}"


def parse_size(value: object) -> int:
    """Turn ``10MB``, ``512KB`` or a plain byte count into a positive number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a size like 10MB, 512KB or a byte count; found {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; expected an IANA name like Europe/Istanbul"
        ) from None
    return value


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"expected a slug of lowercase letters, digits, '-' and '_' "
            f"(it becomes a file name); found {value!r}"
        )
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"invalid regex {value!r}: {e}") from None
    return value


def relative_path(value: Path, info: ValidationInfo) -> Path:
    """``value`` resolved against the config file's folder (the loader's context)."""
    base = (info.context or {}).get("base", Path.cwd())
    return (base / value.expanduser()).resolve()


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": "string", "pattern": _DURATION.pattern, "examples": ["15m"]}),
]
Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+\s*([KkMmGg]?[Bb])?\s*$"},
                {"type": "integer", "minimum": 1},
            ]
        }
    ),
]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Regex = Annotated[str, AfterValidator(_regex)]
RelPath = Annotated[Path, AfterValidator(relative_path)]
Slug = Annotated[
    str,
    AfterValidator(_slug),
    WithJsonSchema({"type": "string", "pattern": _SLUG.pattern}),
]
_ONE_OR_MORE = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
Words = Annotated[tuple[str, ...], BeforeValidator(_as_list), WithJsonSchema(_ONE_OR_MORE)]
Regexes = Annotated[tuple[Regex, ...], BeforeValidator(_as_list), WithJsonSchema(_ONE_OR_MORE)]
FieldName = Literal["title", "summary", "content", "author", "tags", "section"]
