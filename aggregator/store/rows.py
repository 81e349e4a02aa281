"""Articles and source states to database rows and back, the same for every backend (times
as integer microseconds since the epoch, lists as JSON text). The only place that knows the
column order of ``articles``, ``sources`` and ``leases`` (a source's ``item_keys`` are kept
beside its row, in ``source_items``: ``sql.states``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

from aggregator import dedup
from aggregator.models import Article, Enclosure, Holder, Lease, SourceState
from aggregator.store.keys import day_number

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

ARTICLE_COLUMNS = (
    "pk, id, guid, source, title, dedup_key, day, published, updated, first_seen, link, "
    "summary, content, author, section, tags, related, enclosures, path"
)
SOURCE_COLUMNS = (
    "name, url, etag, last_modified, content_hash, last_fetch, last_status, error_streak, "
    "last_error, next_due, disabled, file_stamps, origin_url, node"
)
LEASE_COLUMNS = "source, node, pid, expires"
Row = tuple[Any, ...]


def to_micros(moment: datetime) -> int:
    """An aware datetime as whole microseconds since the Unix epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def maybe_micros(moment: datetime | None) -> int | None:
    """``to_micros`` that passes None through."""
    return None if moment is None else to_micros(moment)


def moment_of(micros: int) -> datetime:
    """The aware UTC datetime of ``to_micros``."""
    return _EPOCH + timedelta(microseconds=micros)


def from_micros(micros: int | None) -> datetime | None:
    """``moment_of`` that passes None through."""
    return None if micros is None else moment_of(micros)


def article_row(pk: int, article: Article, keyed: tuple[str, int] | None = None) -> Row:
    """The ``articles`` row of a story, in ``ARTICLE_COLUMNS`` order; ``keyed``: its
    dedup key and day when the caller has them."""
    key, day = keyed or (dedup.key_of(article), day_number(article))
    return (
        pk,
        article.id,
        article.guid,
        article.source,
        article.title,
        key,
        day,
        to_micros(article.published),
        maybe_micros(article.updated),
        to_micros(article.first_seen or article.published),
        article.link,
        article.summary,
        article.content,
        article.author,
        article.section,
        json_list(article.tags),
        json_list(article.related),
        json_list([[e.url, e.type, e.length] for e in article.enclosures]),
        article.path,
    )


def json_list(values: Iterable[Any]) -> str:
    """``json.dumps(list(values))``, the same text made without the encoder that each
    ``json.dumps`` sets up when every value is a string (a story's tags and related
    headlines, or none; the guids, ids and keys a lookup lists)."""
    if not isinstance(values, (list, tuple)):
        values = list(values)  # read twice below: a generator would be empty the second time
    if not values:  # most stories' related headlines and enclosures, many's tags
        return "[]"
    if all(type(value) is str for value in values):
        return "[" + ", ".join(map(encode_basestring_ascii, values)) + "]"
    return json.dumps(values)


def article_from_row(row: Row, carriers: Sequence[tuple[str, str]]) -> Article:
    """The story of an ``articles`` row (``ARTICLE_COLUMNS`` order) and its carriers'
    ``(source, link)`` pairs in the order they first carried it."""
    (_, id_, guid, source, title, _, _, published, updated, first_seen, link) = row[:11]
    summary, content, author, section, tags, related, enclosures, path = row[11:]
    return Article(
        id=id_,
        guid=guid,
        source=source,
        title=title,
        published=_EPOCH + timedelta(microseconds=published),
        updated=from_micros(updated),
        first_seen=from_micros(first_seen),
        link=link,
        summary=summary,
        content=content,
        author=author,
        section=section,
        tags=tuple(json.loads(tags)),
        related=tuple(json.loads(related)),
        enclosures=tuple(Enclosure(url=u, type=t, length=n) for u, t, n in json.loads(enclosures)),
        path=path,
        sources=tuple(dict.fromkeys(s for s, _ in carriers)),
        links=tuple(dict.fromkeys(link for _, link in carriers if link)),
        carried=tuple(dict.fromkeys((source, link) for source, link in carriers)),
    )


def item_from_json(text: str, source: str, link: str) -> Article:
    """A carrier's own item, kept for ``split`` as its ``articles`` row in JSON text, as
    carried by ``source`` at ``link``."""
    return article_from_row(tuple(json.loads(text)), [(source, link)])


def source_row(state: SourceState) -> Row:
    """The ``sources`` row of a source's state, in ``SOURCE_COLUMNS`` order (all but its
    ``item_keys``: ``item_keys_text``)."""
    return (
        state.name,
        state.url,
        state.etag,
        state.last_modified,
        state.content_hash,
        maybe_micros(state.last_fetch),
        state.last_status,
        state.error_streak,
        state.last_error,
        maybe_micros(state.next_due),
        int(state.disabled),
        _json_object(dict(state.file_stamps)),
        state.origin_url,
        state.node,
    )


def _json_object(values: dict[str, str]) -> str:
    """``json.dumps(values, sort_keys=True)``, without the encoder for a feed's empty one."""
    return json.dumps(values, sort_keys=True) if values else "{}"


def item_keys_text(state: SourceState) -> str:
    """A state's ``item_keys`` as stored: sorted, so that the same keys are the same text."""
    return " ".join(sorted(state.item_keys))


def source_from_row(row: Row, item_keys: str) -> SourceState:
    """The state of a ``sources`` row (``SOURCE_COLUMNS`` order) and its ``item_keys_text``."""
    name, url, etag, last_modified, content_hash, last_fetch, status = row[:7]
    error_streak, last_error, next_due, disabled, file_stamps, origin_url, node = row[7:]
    return SourceState(
        name=name,
        url=url,
        etag=etag,
        last_modified=last_modified,
        content_hash=content_hash,
        last_fetch=from_micros(last_fetch),
        last_status=status,
        error_streak=error_streak,
        last_error=last_error,
        next_due=from_micros(next_due),
        disabled=bool(disabled),
        file_stamps=json.loads(file_stamps),
        origin_url=origin_url,
        item_keys=frozenset(item_keys.split()),
        node=node,
    )


def lease_from_row(row: Row) -> Lease:
    """The lease of a ``leases`` row (``LEASE_COLUMNS`` order) that holds one."""
    source, node, pid, expires = row
    return Lease(source=source, holder=Holder(node=node, pid=pid), until=moment_of(expires))
