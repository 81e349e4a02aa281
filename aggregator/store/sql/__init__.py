"""The SQL every backend runs: ingest (the bulk read, then the planner's plan written back),
queries, retention, folds and the publish state, written once against ``Db``.

A backend (``store/sqlite/``, ``store/postgres/``) supplies the connection, its schema and
what its SQL does differently (``Dialect``, and the few operations of ``Db`` below); no
module here imports a database driver. Statements use ``?`` placeholders; a list
parameter is bound with ``Dialect.among`` / ``Dialect.listed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aggregator.models import Article


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialect:
    """The pieces of SQL that differ between backends, made once by each backend."""

    among: str  # "IN (…)" over one list parameter made by ``listed``
    listed: Callable[[Sequence[Any]], object]
    greatest: str  # the function that picks the larger of two values
    matching: str  # "IN (…)" of the story pks whose text matches one ``search`` parameter
    search: Callable[[str], str | None]  # what a user typed, as that parameter (None: no words)
    claiming: str  # ends a SELECT whose rows the transaction takes, skipping those others hold
    pairs: str  # a table (name, value) of the ``[[name, value], …]`` JSON one parameter holds
    # a story's plain title, summary and content as the full-text index takes them
    # (``Db.index_text``); pure, so that it is worked out before a write transaction
    indexed: Callable[[str, str, str], object]


class Cursor(Protocol):
    """The rows of one executed statement."""

    @property
    def rowcount(self) -> int:
        """How many rows the statement changed."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """Every remaining row."""

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one at a time."""


class Db(Protocol):
    """One connection inside a transaction, as the shared SQL sees it."""

    dialect: Dialect

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        """Run one statement."""

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> object:
        """Run one statement for each parameter row (SQLite may run an INSERT's rows
        several to a statement: ``sqlite.connection``)."""

    def changes(self, sql: str, parameters: Iterable[Sequence[Any]]) -> int:
        """Run one statement once for each parameter row; how many rows it changed, counted
        from their answers (a pipelined backend waits for them)."""

    def new_pks(self, count: int) -> Sequence[int]:
        """``count`` unused story row keys, ascending, for the stories a pass creates."""

    def index_text(self, rows: Sequence[tuple[int, Any]]) -> None:
        """Add ``(pk, text)`` rows to the full-text index, each text made by
        ``Dialect.indexed`` (or queue them for it: ``catch_up_text``)."""

    def unindex_text(self, pks: Sequence[int]) -> None:
        """Drop the stories ``pks`` from the full-text index (or queue that)."""

    def text_queued(self) -> bool:
        """Whether the full-text index is behind the stories (``catch_up_text``)."""

    def catch_up_text(self, limit: int) -> int:
        """Bring the full-text index up to date with at most ``limit`` of the stories
        queued for it; returns how many. A backend that indexes each story as it is
        written has none."""

    def claim(self, articles: Sequence[Article], *, similarity: float | None) -> None:
        """Hold, until the transaction ends, the dedup identities (``passes.identities``)
        a pass of ``articles`` may create stories under, so that another node's pass that
        could fold into the same stories waits for this one and then reads what it wrote.
        A backend that lets one writer at a time in does nothing (and works none out)."""

    def alone(self, task: str) -> bool:
        """Whether this transaction may run ``task`` (``prune``) with no other node's
        transaction running it: True, holding it until the transaction ends, or False
        when another holds it. A backend that lets one writer at a time in says True."""

    def publish_token(self, by: str) -> int:
        """A token for this transaction's publish marks (``sql.published``) that no other
        marking transaction gets; and, when the transaction commits, word to the other
        nodes that node ``by`` changed stories (a backend shared by nodes tells them, with
        what ``hold_marks`` needs)."""

    def hold_marks(self) -> None:
        """Wait until no other transaction is marking stories, and keep new ones from
        marking until this transaction ends (a node joins). A backend that lets one writer
        at a time in does nothing."""
