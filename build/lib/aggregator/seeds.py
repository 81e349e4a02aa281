"""Seed files -> Articles: the plain-text news-wire shape, read from a folder.

::

    <headline>                              first non-empty line
    <standfirst>                            zero or more lines before the metadata bullets
    - <section>                             metadata: the first run of "- " lines
    - <agency>
    - Published Date: HH:MM | D Month YYYY  (required; local time of the source's zone)
    - Modified Date: HH:MM | D Month YYYY   (optional)
    - <anything else>                       an extra tag
    <body paragraph>                        one a line; a repeated lede is kept once
    - <related headline>                    trailing bullets: related stories, never body

Blank lines only separate: they are dropped before the shape is read. Text is plain, never
HTML, so it is escaped on its way into ``summary`` and ``content``.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.config import Source
from aggregator.dedup import normalise_headline
from aggregator.errors import SeedError
from aggregator.models import Article, SeedScan
from aggregator.text import strip_control

_BULLET = "- "
_NEWLINE = re.compile(r"\r\n|\r|\n")
# C0 controls other than tab and DEL: feedgen/lxml refuse to write them (SPEC pitfalls).
_DATE_LABEL = re.compile(r"^(published|modified)\s*date\s*:\s*(.*)$", re.IGNORECASE)
_DATE = re.compile(
    r"^(\d{1,2})\s*[:.]\s*(\d{2})\s*\|\s*(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})$", re.IGNORECASE
)
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
_MONTHS = {
    name: number
    for number, full in enumerate(_MONTH_NAMES.split(), start=1)
    for name in (full, full[:3])
} | {"sept": 9}
_ID_LENGTH = 16

_Fail = Callable[[str], SeedError]  # reason -> the SeedError naming source and file


@dataclass(frozen=True, slots=True)
class _Shape:
    """A seed file cut into its parts, before any of them is interpreted."""

    headline: str
    standfirst: tuple[str, ...]
    metadata: tuple[str, ...]
    body: tuple[str, ...]
    related: tuple[str, ...]


def parse_seed(text: str, *, source: str, path: str, guid: str, timezone: ZoneInfo) -> Article:
    """Turn the text of one seed file into an Article.

    Takes the decoded text, the source's name, the file's absolute path (for the article
    and for errors), its ``guid`` (path relative to the seed folder), the source's time
    zone (local dates in the file are read in it). Returns the Article, dates in UTC, with
    no ``link``: publishing gives it a permalink page under the current base URL.
    Raises SeedError(source, path, reason) when the text is not in the seed shape.
    """

    def fail(reason: str) -> SeedError:
        return SeedError(source, path, reason)

    shape = _cut(_lines(text), fail)
    plain, dates = _read_metadata(shape.metadata, fail)
    if "published" not in dates:
        raise fail("no '- Published Date: HH:MM | D Month YYYY' bullet in the metadata block")
    published = _to_utc(dates["published"], timezone)
    updated = _to_utc(dates["modified"], timezone) if "modified" in dates else None
    article_id = seed_id(source, shape.headline, published)
    return Article(
        id=article_id,
        guid=guid,
        source=source,
        title=shape.headline,
        published=published,
        updated=updated,
        summary=_paragraphs(shape.standfirst),
        content=_paragraphs(_content(shape.standfirst, shape.body)),
        author=plain[1] if len(plain) > 1 else "",
        section=plain[0] if plain else "",
        tags=tuple(plain[2:]),
        related=shape.related,
        path=path,
    )


def seed_id(source: str, headline: str, published: datetime) -> str:
    """The stable id of a seed story: a hex hash of the source, the normalised headline and
    the UTC day of ``published`` (aware), so re-reading or editing the body keeps it."""
    day = published.astimezone(UTC).date().isoformat()
    key = "\x1f".join((source, normalise_headline(headline), day))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:_ID_LENGTH]


def read_seed(file: Path, *, folder: Path, source: Source) -> Article:
    """Read and parse one seed file of ``source``'s ``folder``.

    Decodes UTF-8 (with or without a BOM), else the source's ``encoding``; any line ending.
    Returns the Article (``guid`` is the file's path relative to ``folder``).
    Raises SeedError naming the file when it cannot be read or decoded, is binary, or is
    not in the seed shape.
    """
    path = str(file.absolute())
    try:
        data = file.read_bytes()
    except OSError as e:
        raise _unreadable(source, file, e) from e
    text = _decode(data, source.encoding, lambda reason: SeedError(source.name, path, reason))
    return parse_seed(
        text,
        source=source.name,
        path=path,
        guid=file.relative_to(folder).as_posix(),
        timezone=ZoneInfo(source.timezone),
    )


def scan_folder(source: Source, known: Mapping[str, str]) -> SeedScan:
    """One pass over a seed source's folder.

    Takes the source, the stamps of the previous pass (relative path -> stamp) and the
    publish base URL. Files whose stamp is unchanged are counted, not read. Returns a
    SeedScan with the articles of new or changed files, the stamps of every good or
    unchanged file (broken ones are left out, so they are retried and reported each pass)
    and one SeedError per broken file.
    Raises SeedError when the folder does not exist; ValueError when ``source`` is not a
    seed folder (a caller's bug).
    """
    folder = source.path
    if folder is None:
        raise ValueError(f"{source.name}: not a seed folder")
    if not folder.is_dir():
        raise SeedError(source.name, str(folder), "folder not found")
    articles: list[Article] = []
    stamps: dict[str, str] = {}
    errors: list[SeedError] = []
    unchanged = 0
    for file in sorted(p for p in folder.glob(source.glob) if p.is_file()):
        relative = file.relative_to(folder).as_posix()
        try:
            # stamped before reading, so a write during the read shows up next pass
            stamp = _stamp(file)
            if known.get(relative) != stamp:
                articles.append(read_seed(file, folder=folder, source=source))
            else:
                unchanged += 1
        except OSError as e:
            errors.append(_unreadable(source, file, e))
        except SeedError as e:
            errors.append(e)
        else:
            stamps[relative] = stamp
    return SeedScan(
        articles=tuple(articles), stamps=stamps, errors=tuple(errors), unchanged=unchanged
    )


def _stamp(file: Path) -> str:
    """A cheap fingerprint that changes when the file is written: mtime and size."""
    stat = file.stat()
    return f"{stat.st_mtime_ns}:{stat.st_size}"


def _unreadable(source: Source, file: Path, error: OSError) -> SeedError:
    return SeedError(source.name, str(file.absolute()), f"cannot read: {error.strerror or error}")


def _decode(data: bytes, fallback: str, fail: _Fail) -> str:
    """Bytes -> text: UTF-8, else ``fallback``; NUL characters mean a binary file."""
    tried = ["utf-8"] if codecs.lookup(fallback).name == "utf-8" else ["utf-8", fallback]
    for encoding in tried:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise fail("binary file")
        return text
    raise fail("binary file" if b"\x00" in data else f"cannot decode as {' or '.join(tried)}")


def _lines(text: str) -> list[str]:
    """The non-blank lines of ``text``, stripped, without a BOM or control characters."""
    lines = (strip_control(line).strip() for line in _NEWLINE.split(text.lstrip("\ufeff")))
    return [line for line in lines if line]


def _cut(lines: list[str], fail: _Fail) -> _Shape:
    """Cut the non-blank lines into headline, standfirst, metadata, body and related."""
    if not lines:
        raise fail("empty file")
    headline, rest = lines[0], lines[1:]
    if _is_bullet(headline):
        raise fail("no headline: the first line is a '- ' bullet")
    start = next((i for i, line in enumerate(rest) if _is_bullet(line)), None)
    if start is None:
        raise fail("no metadata block: no '- ' bullet lines after the headline")
    end = next((i for i in range(start, len(rest)) if not _is_bullet(rest[i])), len(rest))
    after = rest[end:]
    body_end = max((i + 1 for i, line in enumerate(after) if not _is_bullet(line)), default=0)
    return _Shape(
        headline=headline,
        standfirst=tuple(rest[:start]),
        metadata=tuple(_unbullet(line) for line in rest[start:end]),
        body=tuple(after[:body_end]),
        related=tuple(_unbullet(line) for line in after[body_end:]),
    )


def _read_metadata(bullets: Iterable[str], fail: _Fail) -> tuple[list[str], dict[str, datetime]]:
    """Split the metadata bullets into the plain ones (section, agency, then extra tags)
    and the naive local dates by label ("published", "modified")."""
    plain: list[str] = []
    dates: dict[str, datetime] = {}
    for bullet in bullets:
        match = _DATE_LABEL.match(bullet)
        if match is None:
            plain.append(bullet)
            continue
        label = match.group(1).lower()
        if label in dates:
            raise fail(f"more than one {label.title()} Date bullet")
        dates[label] = _local_date(match.group(2), label, fail)
    return plain, dates


def _local_date(value: str, label: str, fail: _Fail) -> datetime:
    """``HH:MM | D Month YYYY`` -> a naive local datetime."""
    match = _DATE.match(value.strip())
    month = _MONTHS.get(match.group(4).lower()) if match else None
    try:
        if match is None or month is None:
            raise ValueError(value)
        hour, minute, day, year = (int(match.group(i)) for i in (1, 2, 3, 5))
        return datetime(year, month, day, hour, minute)
    except ValueError as e:
        raise fail(
            f"malformed {label.title()} Date {value!r}: expected HH:MM | D Month YYYY"
        ) from e


def _to_utc(local: datetime, timezone: ZoneInfo) -> datetime:
    """A naive local time in ``timezone`` -> aware UTC (DST rules from the tz database)."""
    return local.replace(tzinfo=timezone).astimezone(UTC)


def _content(standfirst: tuple[str, ...], body: tuple[str, ...]) -> tuple[str, ...]:
    """The full text: standfirst lines the body does not repeat, then the body."""
    in_body = {_squash(line) for line in body}
    return tuple(line for line in standfirst if _squash(line) not in in_body) + body


def _paragraphs(lines: Iterable[str]) -> str:
    """Plain lines -> escaped HTML paragraphs."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines)


def _squash(line: str) -> str:
    return " ".join(line.split()).casefold()


def _is_bullet(line: str) -> bool:
    return line.startswith(_BULLET)


def _unbullet(line: str) -> str:
    return line.removeprefix(_BULLET).strip()
