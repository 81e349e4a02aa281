"""``sources`` (one row per source: state, errors, next due, the node that last collected
it and any live lease, article count) and
``apply-moves`` (the new URL of each source a permanent redirect moved, written into
the config)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from aggregator.cli import output
from aggregator.cli.common import EXIT_OK, Adder, opened_store
from aggregator.text import count

if TYPE_CHECKING:
    from aggregator.config import Config, Source
    from aggregator.models import Lease, SourceState


def register(add: Adder) -> None:
    """Add ``sources`` and ``apply-moves`` through the parser's ``add``."""
    sources = add(
        "sources",
        "one row per source: state, errors, next due, node and lease, article count",
        cmd_sources,
    )
    sources.add_argument("--json", action="store_true", help="print one JSON array")
    add(
        "apply-moves",
        "write the new URL of each source moved by a permanent redirect into the config",
        cmd_apply_moves,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseRow:
    """A live lease as ``sources`` shows it: the node and process collecting the source
    now, and when the lease lapses unless renewed."""

    node: str
    pid: int
    until: str  # ISO 8601


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceRow:
    """One source as ``sources`` shows it: made from the config and the store's state,
    printed as a table row or, field by field, as an object of ``--json``."""

    name: str
    moved_to: str | None  # the URL a permanent redirect moved it to
    kind: str  # feed or seeds
    location: str  # its effective URL (after permanent redirects) or folder
    last_fetch: str | None  # ISO 8601
    status: int | None  # the last HTTP status
    error_streak: int
    last_error: str
    next_due: str | None  # ISO 8601; None for a disabled source
    disabled: bool
    node: str | None  # the node that last collected it
    lease: LeaseRow | None  # held by the process collecting it now
    articles: int


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    """One row per source: where, last fetch, status, errors, next due, article count."""
    from datetime import UTC, datetime

    with opened_store(config) as store:
        states = store.source_states()
        leases = store.leases(now=datetime.now(UTC))
        counts = store.article_counts()
    moves = moved_sources(config, states)
    rows = [
        _row(source, states.get(source.name), leases.get(source.name), moves, counts)
        for source in config.sources
    ]
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False))
        return EXIT_OK
    _source_table(rows)
    if moves:
        print(
            f"{count(len(moves), 'source')} moved for good (301/308): "
            "wiredesk apply-moves writes the new URLs into the config"
        )
    return EXIT_OK


def _row(
    source: Source,
    state: SourceState | None,
    lease: Lease | None,
    moves: dict[str, str],
    counts: dict[str, int],
) -> SourceRow:
    """``source``'s row from its stored ``state`` (None before its first pass) and its
    live ``lease``, if any."""
    return SourceRow(
        name=source.name,
        moved_to=moves.get(source.name),
        kind="seeds" if source.is_seed_folder else "feed",
        location=(state.url if state and state.url else None) or str(source.path or source.url),
        last_fetch=output.iso(state.last_fetch) if state else None,
        status=state.last_status if state else None,
        error_streak=state.error_streak if state else 0,
        last_error=state.last_error if state else "",
        # a disabled source runs again only when its url is edited
        next_due=output.iso(state.next_due) if state and not state.disabled else None,
        disabled=state.disabled if state else False,
        node=(state.node or None) if state else None,
        lease=_lease_row(lease) if lease else None,
        articles=counts.get(source.name, 0),
    )


def _lease_row(lease: Lease) -> LeaseRow:
    return LeaseRow(node=lease.holder.node, pid=lease.holder.pid, until=lease.until.isoformat())


def _source_table(rows: Sequence[SourceRow]) -> None:
    """The sources as a table (with the node that last collected each when several nodes
    share the store), then each live lease and last error (too long for a column of an
    80-column terminal) on a line of its own."""
    shared = len(_nodes(rows)) > 1
    headers = ["name", "location", "fetched (UTC)", "status", "errors", "due (UTC)", "articles"]
    if shared:
        headers.insert(3, "node")
    table = []
    for r in rows:
        cells: list[object] = [
            r.name + (" (disabled)" if r.disabled else "") + (" (moved)" if r.moved_to else ""),
            r.location,
            output.brief(r.last_fetch),
            r.status or "",
            r.error_streak,
            output.brief(r.next_due),
            r.articles,
        ]
        if shared:
            cells.insert(3, r.node or "")
        table.append(cells)
    output.table(headers, table)
    output.cut_lines([line for r in rows for line in _lease_lines(r) + _error_lines(r)])


def _nodes(rows: Sequence[SourceRow]) -> set[str]:
    """The nodes that last collected the sources of ``rows`` or hold their leases."""
    collected = {r.node for r in rows if r.node}
    return collected | {r.lease.node for r in rows if r.lease}


def _lease_lines(row: SourceRow) -> list[str]:
    """A source's live lease as a line: who is collecting it, and until when at most."""
    if row.lease is None:
        return []
    lease = row.lease
    return [
        f"{row.name}: being collected by {lease.node} (pid {lease.pid}), "
        f"leased until {output.time_of_day(lease.until)} UTC"
    ]


def _error_lines(row: SourceRow) -> list[str]:
    """A source's last error as lines: a seed folder's, one per broken file."""
    from aggregator.models import FILE_ERRORS_SEPARATOR

    if not row.last_error:
        return []
    if row.kind == "seeds":
        return row.last_error.split(FILE_ERRORS_SEPARATOR)
    return [row.last_error]


def moved_sources(config: Config, states: dict[str, SourceState]) -> dict[str, str]:
    """The feed sources a permanent redirect moved since their ``url`` was last edited:
    name -> the URL they moved to."""
    moves = {}
    for source in config.sources:
        state = states.get(source.name)
        if source.url and state and state.url and state.origin_url == source.url != state.url:
            moves[source.name] = state.url
    return moves


def cmd_apply_moves(args: argparse.Namespace, config: Config) -> int:
    """Write the new URL of every source moved by a permanent redirect into the config."""
    with opened_store(config) as store:
        moves = moved_sources(config, store.source_states())
    if not moves:
        print("no source has moved: nothing to change")
        return EXIT_OK
    from aggregator.config.edit import apply_moves

    apply_moves(config.path, moves)
    for name, url in moves.items():
        print(f"{name}: {config.source(name).url} -> {url}")
    print(f"wrote {count(len(moves), 'new URL')} into {config.path}")
    return EXIT_OK
