"""Everything a store holds, as values any backend writes and reads: what ``Store.export``
yields and ``Store.import_records`` takes, so ``wiredesk migrate-store`` copies a store
from one backend to another through the protocol, and each backend keeps its own SQL.

A story travels with its carriers (in the order they came, each with the rule that folded
it in and, once the story has several, its own item) and the sources split out of it. What
a store derives from a story (labels, full-text and headline word indexes) is rebuilt by
the target; the publish state is not copied: every copied story is pending publication in
the target, whose first publish writes every file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from aggregator.models import Article, Problem, SourceState


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierRecord:
    """One source's item carrying a stored story, exported with the story."""

    source: str
    guid: str
    link: str
    seed: bool
    reason: str  # the rule that folded it in; "" when folded before rules were recorded
    score: float | None
    item: Article | None  # its own item, kept for ``split`` once the story has several


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryRecord:
    """A stored story (``first_seen`` set), its carriers and the sources split out of it."""

    article: Article
    carriers: tuple[CarrierRecord, ...]
    vetoed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Tombstone:
    """The dedup key of a pruned story, so a late re-post is not stored again as new."""

    key: str
    day: int  # UTC day ordinal
    first_seen: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadlineUse:
    """A source used a dedup key on a day: the series history of a generic headline."""

    key: str
    source: str
    day: int


Record = SourceState | StoryRecord | Tombstone | HeadlineUse | Problem


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordCounts:
    """How many of each kind of record a store holds, or an import wrote."""

    sources: int = 0
    stories: int = 0
    carriers: int = 0
    fold_vetoes: int = 0
    tombstones: int = 0
    headline_uses: int = 0
    problems: int = 0

    def __add__(self, other: RecordCounts) -> RecordCounts:
        return RecordCounts(**{k: n + getattr(other, k) for k, n in self.items()})

    def items(self) -> list[tuple[str, int]]:
        """``(kind, count)`` pairs in a stable order; the kind as a field name."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


def count(records: Iterable[Record]) -> RecordCounts:
    """How many of each kind ``records`` holds (a story's carriers and vetoes included)."""
    counts = dict.fromkeys((f.name for f in fields(RecordCounts)), 0)
    for record in records:
        match record:
            case SourceState():
                counts["sources"] += 1
            case StoryRecord():
                counts["stories"] += 1
                counts["carriers"] += len(record.carriers)
                counts["fold_vetoes"] += len(record.vetoed)
            case Tombstone():
                counts["tombstones"] += 1
            case HeadlineUse():
                counts["headline_uses"] += 1
            case Problem():
                counts["problems"] += 1
    return RecordCounts(**counts)
