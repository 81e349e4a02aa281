"""What the shared SQL (``store.sql``) needs from SQLite: a connection that is a ``Db``,
with SQLite's way of binding lists (a JSON array), its FTS5 index and its row keys.

The write transactions put each changed story's text in ``articles_fts_queue``, not into
FTS5, whose cost is mostly per transaction (merging and flushing its pending terms);
``catch_up_text`` moves the queue into FTS5 in large batches (``SqlStore.catch_up_search``).

A one-row ``INSERT`` run for many rows (``executemany``) into a table that refers to no
other runs as ``INSERT``s of several rows each (``_batched``): each statement
SQLite steps lets go of the interpreter's lock and waits to get it back from the
collecting threads, and a first pass stepped one for every story's row, text and headline.
They run ``OR ROLLBACK``, since SQLite keeps a statement journal (a copy of each page it
changes) of a statement that writes several rows and may abort midway; a failing one
rolls the whole transaction back, as every write of the store then does. A table with a
foreign key keeps its rows a statement: checking the key makes SQLite journal the
statement all the same; a table with an INSERT trigger keeps them too, since the
``OR ROLLBACK`` would hold for the statements the trigger runs.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from aggregator.store.rows import json_list
from aggregator.store.sql import Dialect
from aggregator.store.text import search_terms

if TYPE_CHECKING:
    from aggregator.models import Article


def fts_query(text: str) -> str | None:
    """What a user typed (``text.search_terms``) as an FTS5 query that cannot be a syntax
    error; None when it has no word to search for."""
    quoted = ((t.text.replace('"', '""'), t.prefix) for t in search_terms(text))
    return " AND ".join(f'"{words}"' + ("*" if prefix else "") for words, prefix in quoted) or None


SQLITE = Dialect(
    among="IN (SELECT value FROM json_each(?))",
    listed=json_list,
    greatest="max",
    matching="IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)",
    search=fts_query,
    claiming="",  # BEGIN IMMEDIATE already let this one writer in alone
    pairs="(SELECT value ->> 0 AS name, value ->> 1 AS value FROM json_each(?))",
    indexed=lambda title, summary, content: (title, summary, content),  # FTS5 cuts the words
)
INDEX_TEXT = "INSERT INTO articles_fts (rowid, title, summary, content) VALUES (?, ?, ?, ?)"
_QUEUE_TEXT = "INSERT OR REPLACE INTO articles_fts_queue (pk, title, summary, content) VALUES"
# the rows of the statements a batched INSERT runs as (``_batched``), largest first: a
# pass's 50 rows take three statements (32 + 16 + 2), not 50
BATCH_ROWS = (32, 16, 8, 4, 2)
_PLAIN_TABLE = (
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?"
    " AND sql NOT LIKE 'CREATE VIRTUAL%'"
    " AND NOT EXISTS (SELECT 1 FROM pragma_foreign_key_list(name))"
)
# the triggers on a table: an INSERT's ``OR ROLLBACK`` would override the conflict clauses
# of the statements inside one that the INSERT fires
_TRIGGERS = "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?"
_ON_INSERT = re.compile(
    r"CREATE\s+(?:TEMP\w*\s+)?TRIGGER\b.*?\bINSERT\s+ON\s", re.IGNORECASE | re.DOTALL
)
# a one-row INSERT that ``_batched`` may run as a statement of many rows
_ONE_ROW = re.compile(
    r"INSERT (?P<conflict>OR REPLACE )?INTO (?P<table>\w+) (?P<columns>\([\w, ]+\)) VALUES"
    r" (?P<row>\((?:\?, )*\?\))(?P<upsert> ON CONFLICT DO NOTHING)?"
)


class Connection(sqlite3.Connection):
    """A SQLite connection as a ``store.sql.Db`` (made by ``sqlite3.connect(factory=…)``)."""

    dialect = SQLITE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``sqlite3.Connection``'s, and no INSERT looked at yet (``_batched``)."""
        super().__init__(*args, **kwargs)
        self._batches: dict[str, dict[int, str] | None] = {}

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        """Run ``sql`` once for each parameter row: as statements of ``BATCH_ROWS`` rows
        when it is an INSERT ``_batched`` takes, and the last row, if left, alone."""
        batched = self._batches[sql] if sql in self._batches else self._batched(sql)
        if batched is None:
            return super().executemany(sql, parameters)
        rows = parameters if isinstance(parameters, list) else list(parameters)
        start = 0
        for size, statement in batched.items():
            while len(rows) - start >= size:
                self.execute(statement, tuple(chain.from_iterable(rows[start : start + size])))
                start += size
        return super().executemany(sql, rows[start:])

    def _batched(self, sql: str) -> dict[int, str] | None:
        """The statements that ``sql`` runs as, by their rows (``BATCH_ROWS``),
        remembered: None but for a one-row INSERT into a table (not a virtual one) with no
        foreign key and no INSERT trigger (see the module's note)."""
        found = _ONE_ROW.fullmatch(sql)
        batched = None
        if found and self._plain(found["table"]):
            into = f"INSERT {found['conflict'] or 'OR ROLLBACK '}INTO {found['table']}"
            # within the variables a statement may bind (999 in SQLite before 3.32)
            most = self.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // found["row"].count("?")
            batched = {
                size: f"{into} {found['columns']} VALUES"
                f" {', '.join([found['row']] * size)}{found['upsert'] or ''}"
                for size in BATCH_ROWS
                if size <= most
            } or None
        self._batches[sql] = batched
        return batched

    def _plain(self, table: str) -> bool:
        """Whether ``table`` is an ordinary table with no foreign key and no INSERT
        trigger, whose one-row INSERTs may run batched."""
        if not self.execute(_PLAIN_TABLE, (table,)).fetchone():
            return False
        triggers = self.execute(_TRIGGERS, (table,)).fetchall()
        return not any(_ON_INSERT.match(sql.split(" BEGIN", 1)[0]) for (sql,) in triggers)

    def new_pks(self, count: int) -> Sequence[int]:
        """The ``count`` row keys after the largest stored one (one writer at a time)."""
        (last,) = self.execute("SELECT coalesce(max(pk), 0) FROM articles").fetchone()
        return range(last + 1, last + 1 + count)

    def changes(self, sql: str, parameters: Iterable[Sequence[Any]]) -> int:
        """Run ``sql`` once for each parameter row, a statement each; how many rows it
        changed (0 for no rows, with no statement looked up)."""
        rows = parameters if isinstance(parameters, list) else list(parameters)
        return super().executemany(sql, rows).rowcount if rows else 0

    def index_text(self, rows: Sequence[tuple[int, tuple[str, str, str]]]) -> None:
        """Queue ``(pk, (title, summary, content))`` rows for the FTS5 table
        (``catch_up_text``): FTS5 costs far less a row in large batches than in a pass's."""
        self.executemany(f"{_QUEUE_TEXT} (?, ?, ?, ?)", [(pk, *text) for pk, text in rows])

    def unindex_text(self, pks: Sequence[int]) -> None:
        """Queue the stories ``pks`` to be dropped from the FTS5 table (as the trigger
        ``articles_fts_delete`` does a deleted story)."""
        self.executemany(f"{_QUEUE_TEXT} (?, NULL, NULL, NULL)", [(pk,) for pk in pks])

    def text_queued(self) -> bool:
        """Whether any story waits in the queue of the FTS5 table."""
        return bool(self.execute("SELECT EXISTS (SELECT 1 FROM articles_fts_queue)").fetchone()[0])

    def catch_up_text(self, limit: int) -> int:
        """Move the first ``limit`` queued stories (by row key) into the FTS5 table: each
        one's old entry dropped and its queued text, if any, written. Returns how many."""
        (last, count) = self.execute(
            "SELECT max(pk), count(*) FROM (SELECT pk FROM articles_fts_queue ORDER BY pk LIMIT ?)",
            (limit,),
        ).fetchone()
        if count:
            self.execute(
                "DELETE FROM articles_fts WHERE rowid IN"
                " (SELECT pk FROM articles_fts_queue WHERE pk <= ?)",
                (last,),
            )
            self.execute(
                "INSERT INTO articles_fts (rowid, title, summary, content)"
                " SELECT pk, title, summary, content FROM articles_fts_queue"
                " WHERE pk <= ? AND title IS NOT NULL",
                (last,),
            )
            self.execute("DELETE FROM articles_fts_queue WHERE pk <= ?", (last,))
        return int(count)

    def claim(self, articles: Sequence[Article], *, similarity: float | None) -> None:
        """Nothing: ``BEGIN IMMEDIATE`` lets one writer at a time in."""

    def alone(self, task: str) -> bool:
        """True: ``BEGIN IMMEDIATE`` lets one writer at a time in."""
        return True

    def publish_token(self, by: str) -> int:
        """The next value of the ``publish_seq`` counter (one writer at a time; no other
        node to tell)."""
        (token,) = self.execute(
            "UPDATE meta SET value = value + 1 WHERE name = 'publish_seq' RETURNING value"
        ).fetchone()
        return int(token)

    def hold_marks(self) -> None:
        """Nothing: ``BEGIN IMMEDIATE`` lets one writer at a time in."""
