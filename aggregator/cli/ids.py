"""Story ids as people type them: a table shows the shortest unique prefix of each id
(at least 8 characters), and every command that takes an id takes such a prefix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aggregator.errors import UsageError

if TYPE_CHECKING:
    from aggregator.store import Store

SHORTEST = 8


def short_ids(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """id -> the shortest prefix of it (at least ``SHORTEST`` characters) that starts no
    other stored story's id."""
    shown = {}
    for full in ids:
        length = SHORTEST
        while length < len(full) and len(store.ids_starting(full[:length], limit=2)) > 1:
            length += 1
        shown[full] = full[:length]
    return shown


def story_id(store: Store, given: str, argument: str) -> str:
    """The id of the one stored story whose id is or starts with ``given``.

    Raises UsageError (exit 2) naming ``argument`` when none does, or several do."""
    from aggregator.config.values import quote

    found = store.ids_starting(given, limit=3)
    if given in found or len(found) == 1:
        return given if given in found else found[0]
    if not found:
        raise UsageError(argument, f"no stored story has an id starting {quote(given)}")
    shown = ", ".join(found[:2]) + (", …" if len(found) > 2 else "")
    raise UsageError(
        argument, f"{quote(given)} starts several stories' ids ({shown}); give more of it"
    )
