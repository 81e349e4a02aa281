"""The SQLite store alone, through its API: ingest, queries and peak memory; prints a table.

python bench/store_bench.py                      # ingest cases, queries over 1k and 100k, memory
python bench/store_bench.py --million            # also: every query over 1M stored stories
python bench/store_bench.py --json after.json --before bench/store_before.json
python bench/store_bench.py --memory-only    # only the peak-memory child
python bench/store_bench.py --unchanged-instructions   # instructions of an unchanged pass

``--json PATH`` saves the figures; ``--before PATH`` reads figures saved from an older
Wiredesk and prints them beside this run's. Query figures are the median of 5 runs; the
"publish" case reads the store the way publishing one category does (lazily, newest first,
keeping the first 50). Peak memory (ru_maxrss) is measured in a child process that only
collects 100k stories, publishes and searches. ``--unchanged-instructions`` counts, with
valgrind's callgrind, the instructions of one unchanged 50-article pass (2,000 stored
stories, re-collected four times over): a figure a busy machine does not skew.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.models import Article, ArticleQuery, SourceState
from aggregator.store.sqlite import SQLiteStore
from bench.startup import instructions

RNG = random.Random(4)
VOCABULARY = [f"w{n}" for n in range(5000)]
START = datetime(2024, 1, 1, tzinfo=UTC)
PASS = 50  # entries per source per pass, like a typical feed
RUNS = 5


def articles(source: str, count: int, days: int, offset: int = 0) -> list[Article]:
    """``count`` distinct stories spread over ``days`` days; nine in ten are tagged World,
    one in a thousand has the section Science."""
    return [
        Article(
            id=f"{source}-{n}",
            guid=f"https://{source}.example/{n}",
            source=source,
            title=" ".join(RNG.sample(VOCABULARY, RNG.randint(7, 12))),
            published=START + timedelta(seconds=RNG.randrange(days * 86400)),
            link=f"https://{source}.example/{n}",
            summary="<p>" + " ".join(RNG.sample(VOCABULARY, 40)) + "</p>",
            section="Science" if n % 1000 == 0 else "",
            tags=("World",) if n % 10 else (),
        )
        for n in range(offset, offset + count)
    ]


def ingest_in_passes(store: SQLiteStore, source: str, batch: list[Article], size: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(batch), size):
        store.ingest(source, batch[i : i + size], SourceState(name=source))
    return time.perf_counter() - started


def reworded(article: Article) -> Article:
    words = article.title.split()
    words.insert(2, "about")  # one extra word: Dice stays above 0.8
    return Article(
        id="re-" + article.id,
        guid="re-" + article.guid,
        source="bb",
        title=" ".join(words),
        published=article.published + timedelta(hours=2),
        link="https://bb.example/" + article.id,
    )


def edited(batch: list[Article], every: int) -> list[Article]:
    """``batch`` with the summary of one article in ``every`` rewritten."""
    return [
        replace(a, summary=a.summary + "<p>Updated.</p>") if n % every == 0 else a
        for n, a in enumerate(batch)
    ]


def ingest_cases(tmp: Path) -> list[tuple[str, int, float]]:
    rows: list[tuple[str, int, float]] = []
    store = SQLiteStore(str(tmp / "a.db"))
    batch = articles("aa", 50_000, 90)
    rows.append(("new, one 50k-article pass", 50_000, ingest_in_passes(store, "aa", batch, 50_000)))
    store.close()

    store = SQLiteStore(str(tmp / "b.db"))
    rows.append(("new, 1000 passes of 50", 50_000, ingest_in_passes(store, "aa", batch, PASS)))
    rows.append(
        ("unchanged, 1000 passes of 50", 50_000, ingest_in_passes(store, "aa", batch, PASS))
    )
    changed = edited(batch, 10)
    rows.append(
        ("10% changed, 1000 passes of 50", 50_000, ingest_in_passes(store, "aa", changed, PASS))
    )
    rows.append(("unchanged, one 50k pass", 50_000, ingest_in_passes(store, "aa", changed, 50_000)))
    store.close()

    store = SQLiteStore(str(tmp / "c.db"), similarity=0.8)
    stored = articles("aa", 100_000, 90)
    store.ingest("aa", stored, SourceState(name="aa"))
    fresh = articles("cc", 5_000, 90, offset=200_000)
    rows.append(
        ("near-dup on, 100k stored: new", 5_000, ingest_in_passes(store, "cc", fresh, PASS))
    )
    twins = [reworded(a) for a in RNG.sample(stored, 5_000)]
    rows.append(
        ("near-dup on, 100k stored: reworded", 5_000, ingest_in_passes(store, "bb", twins, PASS))
    )
    merged = sum(
        len(a.sources) > 1 for a in store.articles(ArticleQuery(ids=tuple(a.id for a in stored)))
    )
    print(f"reworded stories folded: {merged} of {len(twins)}")
    store.close()
    return rows


def first(count: int, query: ArticleQuery) -> Callable[[SQLiteStore], int]:
    """Read the first ``count`` stories of an unlimited (lazy) query, as publish does."""
    return lambda store: len(list(islice(store.articles(query), count)))


QUERIES: dict[str, Callable[[SQLiteStore], int]] = {
    "publish 'all' (newest 50)": first(50, ArticleQuery()),
    "publish section=world (90%)": first(50, ArticleQuery(sections=("World",))),
    "publish section=science (0.1%)": first(50, ArticleQuery(sections=("science",))),
    "publish sources=aa (common)": first(50, ArticleQuery(sources=("aa",))),
    "publish sources=rr (0.1%)": first(50, ArticleQuery(sources=("rr",))),
    "limit=50 section=world": lambda s: len(
        list(s.articles(ArticleQuery(sections=("world",), limit=50)))
    ),
    "search 'w17 w42', limit 50": lambda s: len(
        list(s.articles(ArticleQuery(search="w17 w42", limit=50)))
    ),
    "search 'w17', limit 50": lambda s: len(list(s.articles(ArticleQuery(search="w17", limit=50)))),
    "search 'w17' + section=world, 50": lambda s: len(
        list(s.articles(ArticleQuery(search="w17", sections=("world",), limit=50)))
    ),
}


def median_time(action: Callable[[SQLiteStore], int], store: SQLiteStore) -> tuple[int, float]:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        found = action(store)
        times.append(time.perf_counter() - started)
    return found, statistics.median(times)


def grow(store: SQLiteStore, have: int, want: int) -> None:
    """Ingest stories until ``want`` are stored: 50k-article passes of source aa, plus one
    story of source rr per thousand."""
    for offset in range(have, want, 50_000):
        count = min(50_000, want - offset)
        store.ingest("aa", articles("aa", count, 365, offset=offset), SourceState(name="aa"))
        rare = articles("rr", max(1, count // 1000), 365, offset=offset)
        store.ingest("rr", rare, SourceState(name="rr"))


def query_cases(tmp: Path, sizes: list[int]) -> list[tuple[str, int, float]]:
    rows: list[tuple[str, int, float]] = []
    store = SQLiteStore(str(tmp / "q.db"))
    have = 0
    for size in sizes:
        grow(store, have, size)
        have = size
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
        for case, action in QUERIES.items():
            found, seconds = median_time(action, store)
            rows.append((f"{label}: {case}", found, seconds))
    store.close()
    return rows


def memory_child(folder: str) -> None:
    """Collect 100k stories, publish, search; print peak RSS in MB after each step as JSON."""
    peaks = {"peak MB at start": _peak_mb()}
    store = SQLiteStore(str(Path(folder) / "m.db"))
    for k in range(100):
        batch = articles(f"s{k % 20}", 1000, 90, offset=k * 1000)
        ingest_in_passes(store, f"s{k % 20}", batch, PASS)
    peaks["peak MB after collecting 100k"] = _peak_mb()
    for query in QUERIES.values():
        query(store)
    sum(1 for _ in store.articles(ArticleQuery(seeds_only=True)))
    peaks["peak MB after publish queries"] = _peak_mb()
    sum(1 for _ in store.articles(ArticleQuery(search="w17")))
    peaks["peak MB after search (all matches)"] = _peak_mb()
    store.close()
    print(json.dumps(peaks))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_cases(tmp: Path) -> list[tuple[str, int, float]]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(tmp)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [(case, 100_000, mb) for case, mb in json.loads(out.splitlines()[-1]).items()]


UNCHANGED_STORED, UNCHANGED_ROUNDS = 2_000, 4


def unchanged_child(rounds: int) -> None:
    """Collect ``UNCHANGED_STORED`` stories in passes of ``PASS``, then collect them
    again, unchanged, ``rounds`` times."""
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(str(Path(folder) / "u.db"))
        batch = articles("aa", UNCHANGED_STORED, 90)
        for _ in range(1 + rounds):
            ingest_in_passes(store, "aa", batch, PASS)
        store.close()


def unchanged_instructions() -> int:
    """Instructions of one unchanged pass: the child's count with ``UNCHANGED_ROUNDS``
    unchanged rounds less its count without, per pass."""
    counts = [
        instructions([sys.executable, __file__, "--unchanged-child", str(rounds)], Path.cwd())
        for rounds in (0, UNCHANGED_ROUNDS)
    ]
    return (counts[1] - counts[0]) // (UNCHANGED_ROUNDS * UNCHANGED_STORED // PASS)


def main() -> None:
    if "--memory-child" in sys.argv:
        memory_child(sys.argv[-1])
        return
    if "--unchanged-child" in sys.argv:
        unchanged_child(int(sys.argv[-1]))
        return
    if "--unchanged-instructions" in sys.argv:
        print(f"unchanged pass of {PASS}: {unchanged_instructions():,} instructions")
        return
    sizes = [1_000, 100_000, *([1_000_000] if "--million" in sys.argv else [])]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        # first, while this process is small: a child starts from its parent's peak RSS
        memory = memory_cases(tmp)
        only_memory = "--memory-only" in sys.argv
        timed = [] if only_memory else ingest_cases(tmp) + query_cases(tmp, sizes)
    before = json.loads(Path(_option("--before")).read_text()) if _option("--before") else {}
    figures = {case: value for case, _, value in timed + memory}
    if _option("--json"):
        Path(_option("--json")).write_text(json.dumps(figures, indent=1) + "\n")
    print(f"{'case':<50} {'rows':>7} {'before s':>9} {'after s':>8} {'after/s':>9}")
    for case, count, seconds in timed:
        old = f"{before[case]:9.4f}" if case in before else f"{'':9}"
        print(f"{case:<50} {count:>7} {old} {seconds:>8.4f} {count / seconds:>9.0f}")
    print(f"{'memory case':<50} {'rows':>7} {'before MB':>9} {'after MB':>8}")
    for case, count, mb in memory:
        old = f"{before[case]:9.0f}" if case in before else f"{'':9}"
        print(f"{case:<50} {count:>7} {old} {mb:>8.0f}")


def _option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


if __name__ == "__main__":
    main()
