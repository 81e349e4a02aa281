"""How precisely and completely the store folds duplicates, on a labelled set.

    python bench/dedup_eval.py [--misses] [--by-part] [--near T ...]

Runs the real store's dedup (SQLite, one fresh in-memory store per pair) over every pair
of items in ``tests/fixtures/dedup/*.yaml`` and prints, for exact mode (headline and
date) and for near-duplicate mode (``dedup.similarity: 0.7``, or each ``--near``
threshold), the confusion matrix, precision and recall. In exact mode a pair of the same
story whose headlines are worded differently (different ``form``) is out of scope: only
near-duplicate mode is asked to fold it. ``--misses`` lists every wrong decision;
``--by-part`` prints each fixture file's pairs on their own too, so that the held-out part
(``groups-heldout.yaml``, written after the rules and not used to shape them) shows apart
from the parts the rules were designed on.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aggregator.models import Article, SourceState  # noqa: E402
from aggregator.store import Store  # noqa: E402
from aggregator.store.sqlite import SQLiteStore  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "dedup"
NEAR_THRESHOLD = 0.7


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled feed item."""

    group: str
    src: str
    guid: str
    link: str
    title: str
    body: str
    published: datetime
    form: str
    part: str  # the fixture file's name, without ".yaml"
    history: tuple[int, ...] = ()

    def article(self) -> Article:
        """The Article a feed parser would make of this item."""
        return _article(self.src, self.guid, self.title, self.published, self.body, self.link)


@dataclass(frozen=True, slots=True)
class Pair:
    """Two items and whether they are one story."""

    a: Item
    b: Item
    same: bool
    case: str

    @property
    def exact_scope(self) -> bool:
        """Whether exact mode is asked to decide this pair (a reworded pair is not)."""
        return not self.same or self.a.form == self.b.form or self.a.guid == self.b.guid


@dataclass(slots=True)
class Counts:
    """The confusion matrix of one mode."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    wrong: list[tuple[str, Pair]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """Folded pairs that are one story, over all folded pairs."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Folded pairs that are one story, over all pairs that are one story."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _article(src: str, guid: str, title: str, published: datetime, body: str, link: str) -> Article:
    return Article(
        id=hashlib.sha256(f"{src}\n{guid}".encode()).hexdigest()[:32],
        guid=guid,
        source=src,
        title=title,
        published=published,
        link=link,
        content=f"<p>{body}</p>",
    )


def load_pairs(folder: Path = FIXTURES) -> list[Pair]:
    """Every labelled pair of the fixture files in ``folder``."""
    groups: dict[str, tuple[dict[str, object], list[Item]]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for group in YAML(typ="safe").load(path.read_text(encoding="utf-8"))["groups"]:
            groups[group["name"]] = (group, _items(group, path.stem))
    pairs: list[Pair] = []
    for group, items in groups.values():
        case = str(group["case"])
        same = not group.get("distinct", False)
        pairs += [Pair(a=a, b=b, same=same, case=case) for a, b in itertools.combinations(items, 2)]
        for other in group.get("against", ()):  # type: ignore[attr-defined]
            pairs += [
                Pair(a=a, b=b, same=False, case=case)
                for a, b in itertools.product(items, groups[other][1])
            ]
    return pairs


def _items(group: dict[str, object], part: str) -> list[Item]:
    found = []
    for n, raw in enumerate(group["items"]):  # type: ignore[arg-type]
        url = f"https://{raw['src']}.example/{group['name']}/{n}"
        found.append(
            Item(
                group=str(group["name"]),
                src=raw["src"],
                guid=raw.get("guid", url),
                link=raw.get("link", url),
                title=raw["title"],
                body=" ".join(raw["body"].split()),
                published=datetime.strptime(raw["at"], "%Y-%m-%d %H:%M %z"),
                form=raw.get("form", "A"),
                part=part,
                history=tuple(raw.get("history", ())),
            )
        )
    return found


#: Opens an empty store with a near-duplicate threshold (None: exact mode), closed after.
EmptyStore = Callable[[float | None], AbstractContextManager[Store]]


@contextmanager
def in_memory(similarity: float | None) -> Iterator[Store]:
    """A fresh in-memory SQLite store: the default of every run here."""
    store = SQLiteStore(":memory:", similarity=similarity)
    try:
        yield store
    finally:
        store.close()


def folded(pair: Pair, similarity: float | None, empty: EmptyStore = in_memory) -> bool:
    """Whether the store, given ``pair.a`` and then ``pair.b``, keeps them as one story."""
    with empty(similarity) as store:
        for item in {pair.a.src: pair.a, pair.b.src: pair.b}.values():
            store.ingest(item.src, list(_history(item)), SourceState(name=item.src))
        for item in (pair.a, pair.b):
            store.ingest(item.src, [item.article()], SourceState(name=item.src))
        a, b = pair.a.article(), pair.b.article()
        story = store.article(a.id)
        assert story is not None, f"{pair.a.group}: the first item was not stored"
        return a.id == b.id or (store.article(b.id) is None and b.source in story.sources)


def _history(item: Item) -> Iterable[Article]:
    """Earlier items of ``item``'s source under the same headline (a series title)."""
    for days in item.history:
        guid = f"{item.guid}/earlier-{days}"
        body = f"Earlier edition number {days} of this regular item, on another subject."
        yield _article(item.src, guid, item.title, item.published - timedelta(days), body, guid)


def evaluate(
    pairs: Sequence[Pair], similarity: float | None, empty: EmptyStore = in_memory
) -> Counts:
    """The confusion matrix of the store's dedup over ``pairs`` in one mode, each pair in an
    ``empty`` store of its own."""
    counts = Counts()
    for pair in pairs:
        if similarity is None and not pair.exact_scope:
            continue
        got = folded(pair, similarity, empty)
        if got and pair.same:
            counts.tp += 1
        elif got:
            counts.fp += 1
            counts.wrong.append(("folded, but different stories", pair))
        elif pair.same:
            counts.fn += 1
            counts.wrong.append(("kept apart, but one story", pair))
        else:
            counts.tn += 1
    return counts


def report(name: str, counts: Counts, *, misses: bool) -> list[str]:
    """The lines that print one mode's result."""
    lines = [
        f"{name}: {counts.tp + counts.fp + counts.fn + counts.tn} pairs",
        "                    folded   kept apart",
        f"  one story      {counts.tp:8} {counts.fn:12}",
        f"  different      {counts.fp:8} {counts.tn:12}",
        f"  precision {counts.precision:.3f}  recall {counts.recall:.3f}",
    ]
    if misses:
        lines += [
            f"  {why}: [{p.case}] {p.a.src} {p.a.title!r} / {p.b.src} {p.b.title!r}"
            for why, p in counts.wrong
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate both modes and print them; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", action="store_true", help="list every wrong decision")
    parser.add_argument(
        "--by-part", action="store_true", help="also measure each fixture file on its own"
    )
    parser.add_argument(
        "--near",
        type=float,
        nargs="+",
        default=[NEAR_THRESHOLD],
        metavar="T",
        help=f"near-duplicate thresholds to measure (default {NEAR_THRESHOLD})",
    )
    args = parser.parse_args(argv)
    pairs = load_pairs()
    print(f"{len(pairs)} labelled pairs ({sum(p.same for p in pairs)} one story) in {FIXTURES}")
    sets = {"": pairs}
    if args.by_part:
        sets |= {f"{p.a.part}: ": [q for q in pairs if q.a.part == p.a.part] for p in pairs}
    modes = {"exact": None} | {f"near-duplicate {t}": t for t in args.near}
    for prefix, chosen in sets.items():
        for name, similarity in modes.items():
            counts = evaluate(chosen, similarity)
            print("\n".join(report(prefix + name, counts, misses=args.misses)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
