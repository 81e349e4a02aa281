"""The kinds of value a config key takes: each parses what YAML gave (raising ``Invalid``
in plain words, with a range for every number, duration, size and text) and describes
itself as JSON Schema for editors.

Kinds are plain classes rather than dataclasses: making a dataclass costs about a
millisecond, and the CLI's start-up is counted in tens of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.config.values import (
    DURATION_PATTERN,
    SIZE_PATTERN,
    duration_seconds,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
    quote,
)
from aggregator.errors import Invalid
from aggregator.store import POSTGRES_SCHEMES

if TYPE_CHECKING:
    from aggregator.config.build import Context, Loc

Schema = dict[str, Any]


def found(value: object) -> str:
    """How a message names a wrong value: ``the number 5``, ``a list``, ``'text'``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"the number {quote(value)}"
    return quote(value)


class Kind:
    """What one config value must be: ``parse`` turns YAML into the typed value."""

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """The typed value of ``value``; raises Invalid when it is wrong."""
        raise NotImplementedError

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """This kind as JSON Schema; nested models add themselves to ``defs``."""
        raise NotImplementedError


class Text(Kind):
    """Text of at most ``longest`` characters, optionally checked by ``check``."""

    def __init__(
        self,
        longest: int = 300,
        check: Callable[[str], str] | None = None,
        pattern: str | None = None,  # the JSON Schema pattern matching what ``check`` takes
    ) -> None:
        self.longest, self.check, self.pattern = longest, check, pattern

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` if it is text within the limits; raises Invalid otherwise."""
        if not isinstance(value, str):
            hint = " (put it in quotes)" if isinstance(value, int | float) else ""
            raise Invalid(f"expected text; found {found(value)}{hint}")
        if len(value) > self.longest:
            raise Invalid(f"must be at most {self.longest} characters; found {quote(value)}")
        return self.check(value) if self.check else value

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """A string schema with the length limit and pattern."""
        schema: Schema = {"type": "string", "maxLength": self.longest}
        return {**schema, "pattern": self.pattern} if self.pattern else schema


class Url(Text):
    """An http(s) URL; with ``slash``, one ending in ``/``."""

    def __init__(self, slash: bool = False) -> None:
        super().__init__(longest=2048)
        self.slash = slash

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` if it is an http(s) URL (ending in / when asked); raises Invalid."""
        text = super().parse(value, ctx, loc)
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        if scheme not in ("http", "https") or not text.split("://", 1)[1] or " " in text:
            raise Invalid(f"expected an http:// or https:// URL; found {quote(value)}")
        if self.slash and not text.endswith("/"):
            raise Invalid(f"must end with / (it is a folder); found {quote(value)}")
        return text

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """A string schema matching http(s) URLs."""
        end = r"[^\s]*/$" if self.slash else r"[^\s]*$"
        return {
            "type": "string",
            "maxLength": self.longest,
            "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s]" + end,
        }


class Whole(Kind):
    """A whole number from ``least`` to ``most``."""

    def __init__(self, least: int, most: int) -> None:
        self.least, self.most = least, most

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` if it is a whole number in range; raises Invalid otherwise."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(f"expected a whole number; found {found(value)}")
        if not self.least <= value <= self.most:
            raise Invalid(f"must be from {self.least} to {self.most}; found {quote(value)}")
        return value

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """An integer schema with its range."""
        return {"type": "integer", "minimum": self.least, "maximum": self.most}


class Number(Kind):
    """A number from ``least`` to ``most``."""

    def __init__(self, least: float, most: float) -> None:
        self.least, self.most = least, most

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` as a float if it is a number in range; raises Invalid otherwise."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise Invalid(f"expected a number; found {found(value)}")
        if not self.least <= value <= self.most:
            raise Invalid(f"must be from {self.least:g} to {self.most:g}; found {quote(value)}")
        return float(value)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """A number schema with its range."""
        return {"type": "number", "minimum": self.least, "maximum": self.most}


class Duration(Kind):
    """A duration (``90s``, ``15m``) from ``least`` to ``most``."""

    def __init__(self, least: timedelta, most: timedelta) -> None:
        self.least, self.most = least, most

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` as a timedelta in range; raises Invalid otherwise."""
        if isinstance(value, timedelta):
            return parse_duration(value)
        seconds = duration_seconds(value)
        if seconds < self.least.total_seconds():
            raise Invalid(f"must be at least {format_duration(self.least)}; found {quote(value)}")
        if seconds > self.most.total_seconds():
            raise Invalid(f"must be at most {format_duration(self.most)}; found {quote(value)}")
        return timedelta(seconds=seconds)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """A string schema with the duration pattern."""
        return {"type": "string", "pattern": DURATION_PATTERN, "examples": ["15m"]}


class Size(Kind):
    """A size (``10MB``, ``512KB`` or a byte count) from ``least`` to ``most`` bytes."""

    def __init__(self, least: int, most: int) -> None:
        self.least, self.most = least, most

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` in bytes, in range; raises Invalid otherwise."""
        size = parse_size(value)
        if not self.least <= size <= self.most:
            raise Invalid(
                f"must be from {format_size(self.least)} to {format_size(self.most)}; "
                f"found {quote(value)}"
            )
        return size

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """A size string or a byte count."""
        return {
            "anyOf": [
                {"type": "string", "pattern": SIZE_PATTERN},
                {"type": "integer", "minimum": self.least, "maximum": self.most},
            ]
        }


class Choice(Kind):
    """One of a fixed set of words."""

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` if it is one of the choices; raises Invalid otherwise."""
        if value not in self.choices:
            raise Invalid(f"expected one of {', '.join(self.choices)}; found {found(value)}")
        return value

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """An enum schema."""
        return {"enum": list(self.choices), "type": "string"}


class Folder(Text):
    """A path, resolved against the config file's folder."""

    def __init__(self) -> None:
        super().__init__(longest=4096)

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """``value`` as an absolute Path; raises Invalid when it is not a usable path."""
        text = super().parse(value, ctx, loc)
        if not text.strip() or "\0" in text:
            raise Invalid(f"expected a path; found {quote(value)}")
        return ctx.resolve(Path(text))


class StoreLocation(Folder):
    """The store: a PostgreSQL URL, or a SQLite file path or ``sqlite:///path``; other
    database URLs are refused."""

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """The PostgreSQL URL as written, or the absolute path of the SQLite file, as text;
        raises Invalid otherwise."""
        text = Text.parse(self, value, ctx, loc)
        if text.startswith(POSTGRES_SCHEMES):
            return text
        if "://" in text:
            scheme = text.split("://", 1)[0]
            if scheme != "sqlite":
                raise Invalid(
                    f"unsupported database URL scheme {quote(scheme)}; expected a file path,"
                    " sqlite:///path or postgresql://user@host/database"
                )
            text = text.removeprefix("sqlite:///")
        return str(super().parse(text, ctx, loc))
