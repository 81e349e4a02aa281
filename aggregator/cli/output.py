"""How the CLI shows things to people: tables (rich on a terminal, plain columns when
piped), progress, and log lines on stderr (text or JSON)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.models import Article, PassReport, PublishReport, SourceReport


def article_table(articles: Sequence[Article], ids: Mapping[str, str]) -> None:
    """Print stories as a table: published (UTC), sources, title, and the short id of
    each (``ids``: full id -> the prefix shown)."""
    rows = [[short(iso(a.published)), ", ".join(a.sources), a.title, ids[a.id]] for a in articles]
    table(["published (UTC)", "sources", "title", "id"], rows)


def summary_row(report: SourceReport) -> list[object]:
    """One source's row of the table ``collect`` ends with."""
    errors = error_count(report)
    return [
        report.source,
        report.new,
        report.merged,
        report.updated,
        report.unchanged,
        "yes" if report.not_modified else "",
        errors or "",
    ]


def error_count(report: SourceReport) -> int:
    """A source's errors in one pass: 1 when it failed, plus one per broken seed file;
    the table's column and the JSON total count them alike."""
    return (1 if report.error else 0) + len(report.file_errors)


def pass_json(report: PassReport, published: PublishReport | None) -> dict[str, Any]:
    """What ``collect --json`` prints: the pass's times (``seconds``: the collection alone,
    without start-up and publishing), its totals and one object per source."""
    from aggregator.models import SourceReport  # loaded by now: ``report`` is from there

    names = [f.name for f in fields(SourceReport)]
    return {
        "started": iso(report.started),
        "finished": iso(report.finished),
        "seconds": round((report.finished - report.started).total_seconds(), 3),
        "changed": len(report.changed_ids),
        "errors": sum(error_count(source) for source in report.sources),
        "published": len(published.written) if published else 0,
        # its fields are flat: asdict's deep copy took 30 ms for 500 sources, each run
        "sources": [{name: getattr(source, name) for name in names} for source in report.sources],
    }


def json_text(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, the same text, for JSON values
    whose objects have string keys. json indents in pure Python (~20 ms for the 500
    sources of a pass); here the C encoder writes every object or array that holds no
    non-empty one, its item separator carrying the newline and indent."""
    return _indented(value, "\n")


_CONTAINERS = (dict, list, tuple)


def _indented(value: Any, newline: str) -> str:
    if not isinstance(value, _CONTAINERS):
        return json.dumps(value, ensure_ascii=False)
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    inner = newline + "  "
    items = value.values() if isinstance(value, dict) else value
    if not any(isinstance(item, _CONTAINERS) and item for item in items):
        flat = _flat_encoder(inner)(value)
        return flat[0] + inner + flat[1:-1] + newline + flat[-1]
    if isinstance(value, dict):
        assert all(isinstance(key, str) for key in value), "an object key that is not a string"
        parts = [
            f"{json.dumps(key, ensure_ascii=False)}: {_indented(item, inner)}"
            for key, item in value.items()
        ]
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    parts = [_indented(item, inner) for item in value]
    return "[" + inner + ("," + inner).join(parts) + newline + "]"


@functools.cache
def _flat_encoder(inner: str) -> Callable[[Any], str]:
    return json.JSONEncoder(ensure_ascii=False, separators=("," + inner, ": ")).encode


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with offset, or None."""
    return moment.isoformat() if moment else None


def short(text: str | None) -> str:
    """An ISO 8601 time in UTC, cut to minutes, for a table cell ('' for None)."""
    moment = _utc(text)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def brief(text: str | None) -> str:
    """An ISO 8601 time in UTC for a narrow cell: month, day and minute in the current
    year, the date alone in another ('' for None)."""
    moment = _utc(text)
    if moment is None:
        return ""
    return moment.strftime("%m-%d %H:%M" if moment.year == datetime.now(UTC).year else "%Y-%m-%d")


def time_of_day(text: str) -> str:
    """An ISO 8601 time as its UTC time of day, to the second (a lease lasts seconds)."""
    moment = _utc(text)
    return moment.strftime("%H:%M:%S") if moment else ""


def _utc(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC) if moment.tzinfo else moment


@contextmanager
def progress(total: int) -> Iterator[Callable[[SourceReport], None]]:
    """A live progress bar on a terminal; otherwise nothing (the collector logs a line per
    source that brought something)."""
    if not sys.stderr.isatty():
        yield lambda report: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("collecting", total=total)
        yield lambda report: bar.update(task, advance=1, description=report.source)


# Only long free text is cut to fit the screen, ending in "…", rather than wrapped a word
# per line; ids and names are copied into other commands, so they stay whole.
_SHORTENED = frozenset({"location", "errors", "title", "sources", "node"})
_NARROWEST = 10  # a shortened column keeps at least this much


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """An aligned table as wide as the screen (``$COLUMNS``, or 80 when piped): rich on a
    terminal, plain columns when piped; long locations, errors and titles end in "…"."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    natural = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if sys.stdout.isatty():
        from rich import box
        from rich.console import Console
        from rich.table import Table

        console = Console()
        widths = _fit(headers, natural, console.width - 3 * (len(headers) - 1))
        rich_table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for header, width in zip(headers, widths, strict=True):
            rich_table.add_column(
                header, no_wrap=True, overflow="ellipsis", min_width=width, max_width=width
            )
        for row in cells[1:]:
            rich_table.add_row(*row)
        console.print(rich_table)
        return
    widths = _fit(headers, natural, screen_width() - 2 * (len(headers) - 1))
    for row in cells:
        line = (
            _ellipsis(cell, width).ljust(width) for cell, width in zip(row, widths, strict=True)
        )
        print("  ".join(line).rstrip())


def cut_lines(lines: Sequence[str]) -> None:
    """Print each line cut to the screen's width, ending in "…" when it was longer."""
    for line in lines:
        print(_ellipsis(line, screen_width()))


def screen_width() -> int:
    """The terminal's columns (``$COLUMNS`` first; 80 when there is no terminal)."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def _fit(headers: Sequence[str], widths: Sequence[int], room: int) -> list[int]:
    """Column widths that add up to at most ``room``: the widest shortenable column gives
    a character at a time, none below ``_NARROWEST`` (so a table of many long names may
    stay wider than the screen)."""
    fitted = list(widths)
    shortened = [i for i, header in enumerate(headers) if header in _SHORTENED]
    while sum(fitted) > room:
        widest = max(shortened, key=lambda i: fitted[i], default=None)
        if widest is None or fitted[widest] <= _NARROWEST:
            break
        fitted[widest] -= 1
    return fitted


def _ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in "…" when it was longer."""
    return text if len(text) <= width else text[: width - 1] + "…"


# What every LogRecord has; anything else on a record came as ``extra=`` fields.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log record: time, level, logger, message, and every field the
    caller passed as ``extra`` (``source``, ``new``, ``merged``, ``status``...) as its own key."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time, so a replaced stderr (tests,
    daemonisers) never leaves the handler writing to a closed stream."""

    @property
    def stream(self) -> Any:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(log_format: str, verbose: bool) -> None:
    """Log to stderr with timestamps, as text or as JSON lines."""
    handler = _StderrHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler", "urllib3", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
