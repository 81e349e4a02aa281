"""Throwaway benchmark of publishing the web pages; prints one line.

python bench/pages_bench.py            # 2000 stories, 10 categories
python bench/pages_bench.py 10000

A full publish of N stories stored in SQLite: the first one writes every feed and page,
the second renders them all again and writes nothing (the bytes are equal), and an
incremental one for one changed story renders only what it touches.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import load_config
from aggregator.models import Article, SourceState
from aggregator.publish import publish
from aggregator.store import open_store

NOW = datetime(2026, 3, 3, tzinfo=UTC)
CATEGORIES = 10


def story(number: int) -> Article:
    return Article(
        id=f"a{number}",
        guid=f"g{number}",
        source="wire",
        title=f"Headline {number} word{number % CATEGORIES} about things",
        published=NOW - timedelta(minutes=number),
        link=f"https://wire.example.com/{number}",
        summary="<p>" + "Some summary text. " * 10 + "</p>",
        content="<p>" + "Body paragraph text here. " * 40 + "</p>",
    )


def main(count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="wiredesk-pages-"))
    rules = "".join(f"  - {{name: c{i}, include: [word{i}]}}\n" for i in range(CATEGORIES))
    (root / "feeds.yaml").write_text(
        "store: desk.db\npublish: {dir: out}\n"
        "sources:\n  - {name: wire, url: 'https://wire.example.com/rss'}\n"
        f"categories:\n{rules}",
        encoding="utf-8",
    )
    config = load_config(root / "feeds.yaml")
    store = open_store(config.store)
    store.ingest("wire", [story(n) for n in range(count)], SourceState(name="wire"))
    timings = []
    for changed in (None, None, ["a1"]):
        started = time.perf_counter()
        report = publish(config, store, changed_ids=changed, now=NOW)
        timings.append((time.perf_counter() - started, len(report.written)))
    store.close()
    (first, written), (again, _), (one, one_written) = timings
    print(
        f"{count} stories, {CATEGORIES} categories: full publish {first:.2f} s "
        f"({written} files written, {first / count * 1000:.1f} ms a story), "
        f"again {again:.2f} s (nothing written, {again / count * 1000:.1f} ms a story), "
        f"one changed story {one:.3f} s ({one_written} written)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
