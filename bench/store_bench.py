"""Throwaway benchmark of the SQLite store; prints a table.

python bench/store_bench.py            # 50k new articles, near-dup ingest over 100k
python bench/store_bench.py --million  # also: newest-50 listing with 1M stored
"""

from __future__ import annotations

import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.models import Article, SourceState
from aggregator.store import ArticleQuery
from aggregator.store.sqlite import SQLiteStore

RNG = random.Random(4)
VOCABULARY = [f"w{n}" for n in range(5000)]
START = datetime(2024, 1, 1, tzinfo=UTC)
PASS = 50  # entries per source per pass, like a typical feed


def articles(source: str, count: int, days: int, offset: int = 0) -> list[Article]:
    """``count`` distinct stories spread over ``days`` days."""
    return [
        Article(
            id=f"{source}-{n}",
            guid=f"https://{source}.example/{n}",
            source=source,
            title=" ".join(RNG.sample(VOCABULARY, RNG.randint(7, 12))),
            published=START + timedelta(seconds=RNG.randrange(days * 86400)),
            link=f"https://{source}.example/{n}",
            summary="<p>" + " ".join(RNG.sample(VOCABULARY, 40)) + "</p>",
            tags=("World",),
        )
        for n in range(offset, offset + count)
    ]


def ingest_in_passes(store: SQLiteStore, source: str, batch: list[Article]) -> float:
    started = time.perf_counter()
    for i in range(0, len(batch), PASS):
        store.ingest(source, batch[i : i + PASS], SourceState(name=source))
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


def main() -> None:
    rows: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(str(Path(tmp) / "a.db"))
        batch = articles("aa", 50_000, 90)
        started = time.perf_counter()
        store.ingest("aa", batch, SourceState(name="aa"))
        rows.append(("new, one 50k-article pass", 50_000, time.perf_counter() - started))
        store.close()

        store = SQLiteStore(str(Path(tmp) / "b.db"))
        rows.append(("new, 1000 passes of 50", 50_000, ingest_in_passes(store, "aa", batch)))
        started = time.perf_counter()
        store.ingest("aa", batch, SourceState(name="aa"))
        rows.append(("re-ingest, all unchanged", 50_000, time.perf_counter() - started))
        store.close()

        store = SQLiteStore(str(Path(tmp) / "c.db"), similarity=0.8)
        stored = articles("aa", 100_000, 90)
        store.ingest("aa", stored, SourceState(name="aa"))
        fresh = articles("cc", 5_000, 90, offset=200_000)
        rows.append(("near-dup on, 100k stored: new", 5_000, ingest_in_passes(store, "cc", fresh)))
        twins = [reworded(a) for a in RNG.sample(stored, 5_000)]
        rows.append(
            ("near-dup on, 100k stored: reworded", 5_000, ingest_in_passes(store, "bb", twins))
        )
        merged = sum(
            len(a.sources) > 1
            for a in store.articles(ArticleQuery(ids=tuple(a.id for a in stored)))
        )
        print(f"reworded stories folded: {merged} of {len(twins)}")
        store.close()

        if "--million" in sys.argv:
            store = SQLiteStore(str(Path(tmp) / "d.db"))
            for k in range(20):
                store.ingest(
                    "aa", articles("aa", 50_000, 365, offset=k * 50_000), SourceState(name="aa")
                )
            started = time.perf_counter()
            newest = list(store.articles(ArticleQuery(limit=50)))
            rows.append(("newest 50 of 1M", len(newest), time.perf_counter() - started))
            started = time.perf_counter()
            world = list(store.articles(ArticleQuery(sections=("world",), limit=50)))
            rows.append(
                ("newest 50 of 1M, section=world", len(world), time.perf_counter() - started)
            )
            started = time.perf_counter()
            found = list(store.articles(ArticleQuery(search="w17 w42", limit=50)))
            rows.append(("search 'w17 w42' of 1M", len(found), time.perf_counter() - started))
            store.close()
            conn = sqlite3.connect(Path(tmp) / "d.db")
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT pk FROM articles"
                " ORDER BY published DESC, pk DESC LIMIT 50"
            ).fetchall()
            print("plan of newest-N:", [step[-1] for step in plan])
            conn.close()

    print(f"{'case':<40} {'articles':>9} {'seconds':>8} {'per s':>9}")
    for case, count, seconds in rows:
        print(f"{case:<40} {count:>9} {seconds:>8.2f} {count / seconds:>9.0f}")


if __name__ == "__main__":
    main()
