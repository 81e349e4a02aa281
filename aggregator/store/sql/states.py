"""Source states in SQL, inside the caller's lock (reads) or transaction (writes).

A state lives in two tables: ``sources``, a small row of what each fetch changes
(validators, times, status, errors), and ``source_items``, the keys of the entries of the
source's last parsed body (``SourceState.item_keys``, some 1.6 KB for 50 entries), which
only a changed body changes. Saving a state rewrites its ``sources`` row and its keys only
when they differ from the stored ones, so the states an all-304 pass saves write a few
small rows, not every source's keys again; and when the caller says what it read of a
source it has held leased since, keys that are still those read are not even sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aggregator.models import SourceState
from aggregator.store.rows import SOURCE_COLUMNS, item_keys_text, source_from_row, source_row
from aggregator.store.sql import Db

_VALUES = f"VALUES ({', '.join('?' * len(SOURCE_COLUMNS.split(', ')))})"
_SAVE = (
    f"INSERT INTO sources ({SOURCE_COLUMNS}) {_VALUES} ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SOURCE_COLUMNS.split(", ")[1:])
)
_SAVE_KEYS = (
    "INSERT INTO source_items (name, item_keys) VALUES (?, ?) ON CONFLICT (name)"
    " DO UPDATE SET item_keys = excluded.item_keys"
    " WHERE source_items.item_keys <> excluded.item_keys"
)
_READ = (
    f"SELECT {', '.join(f's.{c}' for c in SOURCE_COLUMNS.split(', '))},"
    " coalesce(i.item_keys, '') FROM sources s LEFT JOIN source_items i ON i.name = s.name"
)


def read_states(db: Db, name: str | None = None) -> list[SourceState]:
    """The state of the source ``name`` (none or one), or of every source by name."""
    if name is not None:
        rows = db.execute(f"{_READ} WHERE s.name = ?", (name,)).fetchall()
    else:
        rows = db.execute(f"{_READ} ORDER BY s.name").fetchall()
    return [source_from_row(row[:-1], row[-1]) for row in rows]


def save_states(
    db: Db, states: Sequence[SourceState], *, read: Mapping[str, SourceState] | None = None
) -> None:
    """Store ``states``, each in place of its source's stored one. ``read``: what the
    caller read of the store, of sources nobody wrote since (it held their leases): the
    keys of a state with the ``item_keys`` read are the stored ones already, and are
    neither sorted, joined nor compared again."""
    db.executemany(_SAVE, [source_row(state) for state in states])
    keyed = [state for state in states if not (read and _as_read(state, read))]
    if keyed:
        db.executemany(_SAVE_KEYS, [(state.name, item_keys_text(state)) for state in keyed])


def _as_read(state: SourceState, read: Mapping[str, SourceState]) -> bool:
    """Whether ``state`` has the ``item_keys`` read of its source."""
    before = read.get(state.name)
    return before is not None and before.item_keys == state.item_keys


def insert_new_states(db: Db, states: Sequence[SourceState]) -> int:
    """Store those of ``states`` whose source has no stored state; how many it stored."""
    held = {
        name
        for (name,) in db.execute(
            f"SELECT name FROM sources WHERE name {db.dialect.among}",
            (db.dialect.listed([state.name for state in states]),),
        )
    }
    new: dict[str, SourceState] = {}
    for state in states:
        if state.name not in held:
            new.setdefault(state.name, state)  # the first of a name, as in a plain insert
    db.executemany(
        f"INSERT INTO sources ({SOURCE_COLUMNS}) {_VALUES}",
        [source_row(state) for state in new.values()],
    )
    db.executemany(_SAVE_KEYS, [(name, item_keys_text(state)) for name, state in new.items()])
    return len(new)
