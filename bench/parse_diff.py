"""``python bench/parse_diff.py PATH...``: the fast path against feedparser, file by file.

Every file under the PATHs (folders are walked) is parsed twice by ``parse_feed``: as
Wiredesk parses it (the lxml fast path first) and with feedparser alone. A file the fast
path declines is counted under its reason; one it accepts must give the same ParsedFeed
(title, link, every Article field for field with the texts and headline key derived beside
it, warnings, keys), or the same ParseError, as feedparser's. Prints accepted / declined /
disagreeing counts by decline reason and the first disagreements; exits 1 when any file
disagrees. ``tests/test_parse_fast.py`` runs the same comparison on the project's
fixtures, the benchmark workload and generated documents.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the project root importable so ``aggregator`` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.errors import ParseError
from aggregator.models import FetchResult, ParsedFeed
from aggregator.parse import parse_feed

NOW = datetime(2030, 1, 1, tzinfo=UTC)
URL = "http://feeds.example/path/feed.xml"
SHOWN = 10


@dataclass(frozen=True, slots=True)
class Outcome:
    """One document compared: accepted (and agreeing), declined, or a disagreement."""

    verdict: str  # "accepted", "declined" or "disagrees"
    reason: str = ""  # the decline reason, or what differs


def compare(result: FetchResult, *, known: frozenset[str] = frozenset()) -> Outcome:
    """Parse ``result`` both ways and say whether the fast path declined it, or accepted
    it and agreed with feedparser alone."""
    quick, slow = _parsed(result, known, fast_path=True), _parsed(result, known, fast_path=False)
    if isinstance(quick, ParsedFeed) and quick.declined:
        return Outcome("declined", quick.declined)
    if isinstance(quick, ParsedFeed) and isinstance(slow, ParsedFeed):
        return _same(replace(quick, declined=slow.declined), slow)
    # A ParseError before parsing (empty, entities) happens the same way on both paths.
    if isinstance(quick, ParseError) and isinstance(slow, ParseError) and str(quick) == str(slow):
        return Outcome("declined", "not parsed: " + str(quick).split(": ", 1)[-1][:40])
    return Outcome("disagrees", f"fast: {_brief(quick)}; feedparser: {_brief(slow)}")


def _parsed(result: FetchResult, known: frozenset[str], *, fast_path: bool) -> object:
    try:
        return parse_feed("diff", result, now=NOW, known=known, fast_path=fast_path)
    except ParseError as e:
        return e


def _brief(outcome: object) -> str:
    if isinstance(outcome, ParsedFeed):
        return f"{len(outcome.articles)} articles"
    return f"{type(outcome).__name__}: {outcome}"


def _same(quick: ParsedFeed, slow: ParsedFeed) -> Outcome:
    if quick == slow and _derived(quick) == _derived(slow):
        return Outcome("accepted")
    if len(quick.articles) != len(slow.articles):
        return Outcome("disagrees", f"{len(quick.articles)} vs {len(slow.articles)} articles")
    for name in ("title", "link", "warnings", "item_keys", "skipped_entries"):
        if getattr(quick, name) != getattr(slow, name):
            return Outcome(
                "disagrees", f"feed {name}: {getattr(quick, name)!r} vs {getattr(slow, name)!r}"
            )
    for number, (a, b) in enumerate(zip(quick.articles, slow.articles, strict=True), 1):
        for field in fields(a):
            mine, theirs = getattr(a, field.name), getattr(b, field.name)
            if mine != theirs:
                return Outcome(
                    "disagrees", f"article {number} {field.name}: {mine!r} vs {theirs!r}"
                )
    return Outcome("disagrees", "unknown difference")


def _derived(feed: ParsedFeed) -> list[tuple[object, object]]:
    """What parse derives beside each Article for the store (its plain texts, its
    headline key), which Article equality leaves out."""
    return [(a.texts, a.title_key) for a in feed.articles]


def files(paths: list[Path]) -> Iterator[Path]:
    """Every file under ``paths``, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def fetched(path: Path) -> FetchResult:
    """A file as if ``URL`` had answered it as application/xml."""
    return FetchResult(
        url=URL, status=200, content=path.read_bytes(), headers={"content-type": "application/xml"}
    )


def main(argv: list[str] | None = None) -> int:
    """Compare every file under the given paths; print the counts."""
    parser = argparse.ArgumentParser(
        prog="bench/parse_diff.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("paths", nargs="+", type=Path, help="feed files or folders of them")
    args = parser.parse_args(argv)
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    disagreements: list[str] = []
    for path in files(args.paths):
        outcome = compare(fetched(path))
        verdicts[outcome.verdict] += 1
        if outcome.verdict == "declined":
            reasons[outcome.reason] += 1
        elif outcome.verdict == "disagrees":
            disagreements.append(f"{path}: {outcome.reason}")
    total = sum(verdicts.values())
    print(f"files: {total}")
    for verdict in ("accepted", "declined", "disagrees"):
        print(f"{verdict:10} {verdicts[verdict]:>6}")
    for reason, count in reasons.most_common():
        print(f"  declined: {reason:55} {count:>6}")
    for line in disagreements[:SHOWN]:
        print(f"DISAGREES {line}"[:400])
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
