"""What one source's pass may match against, read in a few bulk queries before ingest
decides anything: the stories its articles may belong to (by this source's guids, by id,
by dedup key, by another feed's identical URL guid), the series history of their
headlines, the stories this source was split out of, and the tombstones of their keys."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.models import Article

_IN = "IN (SELECT value FROM json_each(?))"


@dataclass(slots=True)
class Context:
    """Made by ``context``, read by ``Ingest``."""

    pks: list[int] = field(default_factory=list)  # stories to load
    shared_guid: dict[str, int] = field(default_factory=dict)  # another source's guid -> pk
    uses: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # key -> (source, day)
    vetoed: set[int] = field(default_factory=set)  # stories this source was split out of
    tombstones: set[tuple[str, int]] = field(default_factory=set)  # (key, day)


def context(conn: sqlite3.Connection, source: str, articles: Sequence[Article]) -> Context:
    """Everything ``source``'s ``articles`` may be matched against. Raises sqlite3.Error."""
    guids = json.dumps([a.guid for a in articles])
    ids = json.dumps([a.id for a in articles])
    keys = json.dumps(list({k for a in articles if (k := dedup.dedup_key(a.title))}))
    shared = json.dumps([a.guid for a in articles if fold.is_global_guid(a.guid)])
    found = Context()
    found.shared_guid = dict(
        conn.execute(
            f"SELECT guid, min(article_pk) FROM carriers WHERE source != ? AND guid {_IN}"
            " GROUP BY guid",
            (source, shared),
        ).fetchall()
    )
    found.pks = [
        pk
        for (pk,) in conn.execute(
            f"SELECT article_pk FROM carriers WHERE source = ? AND guid {_IN}"
            f" UNION SELECT pk FROM articles WHERE id {_IN}"
            f" UNION SELECT pk FROM articles WHERE dedup_key {_IN}",
            (source, guids, ids, keys),
        )
    ]
    found.pks += found.shared_guid.values()
    for key, user, day in conn.execute(
        f"SELECT dedup_key, source, day FROM headline_uses WHERE dedup_key {_IN}", (keys,)
    ):
        found.uses.setdefault(key, set()).add((user, day))
    found.vetoed = {
        pk
        for (pk,) in conn.execute("SELECT article_pk FROM fold_vetoes WHERE source = ?", (source,))
    }
    found.tombstones = set(
        conn.execute(f"SELECT dedup_key, day FROM tombstones WHERE dedup_key {_IN}", (keys,))
    )
    return found
