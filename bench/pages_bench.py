"""Publishing the feeds and web pages of a store of N stories; prints one line.

python bench/pages_bench.py            # 2000 stories, 10 categories
python bench/pages_bench.py 10000

A full publish (``wiredesk publish``) of N stories stored in SQLite: the first one writes
every feed and page, the second renders them all again and writes nothing (the bytes are
equal); then one story changes and the next pass's publish renders only what it touches.
Story pages are written for the stories the feeds list (and seed stories), so their
count follows the categories, not N.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import Config, load_config
from aggregator.models import Article, PublishReport, SourceState
from aggregator.publish import publish
from aggregator.store import open_store

NOW = datetime(2026, 3, 3, tzinfo=UTC)
CATEGORIES = 10


def story(number: int) -> Article:
    """Story ``number``: a minute older per number, in category ``c{number % 10}``."""
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
    """Publish ``count`` stories in full twice, then once after one changed; print the times."""
    with tempfile.TemporaryDirectory(prefix="wiredesk-pages-") as folder:
        config = _config(Path(folder))
        store = open_store(config.store)
        store.ingest("wire", [story(n) for n in range(count)], SourceState(name="wire"))
        timings = [_timed(lambda: publish(config, store, full=True, now=NOW)) for _ in range(2)]
        changed = replace(story(1), summary="<p>A corrected summary.</p>")
        store.ingest("wire", [changed], SourceState(name="wire"))
        timings.append(_timed(lambda: publish(config, store, now=NOW)))
        store.close()
    (first, written), (again, _), (one, one_written) = timings
    print(
        f"{count} stories, {CATEGORIES} categories: full publish {first:.2f} s "
        f"({written} files written, {first / written * 1000:.1f} ms a file), "
        f"again {again:.2f} s (nothing written, {again / written * 1000:.1f} ms a file), "
        f"one changed story {one:.3f} s ({one_written} written)"
    )


def _config(root: Path) -> Config:
    """A config in ``root``: one feed source, ``CATEGORIES`` categories of one word each."""
    rules = "".join(f"  - {{name: c{i}, include: [word{i}]}}\n" for i in range(CATEGORIES))
    (root / "feeds.yaml").write_text(
        "store: desk.db\npublish: {dir: out}\n"
        "sources:\n  - {name: wire, url: 'https://wire.example.com/rss'}\n"
        f"categories:\n{rules}",
        encoding="utf-8",
    )
    return load_config(root / "feeds.yaml")


def _timed(step: Callable[[], PublishReport]) -> tuple[float, int]:
    """How long ``step`` took and how many files it wrote."""
    started = time.perf_counter()
    report = step()
    return time.perf_counter() - started, len(report.written)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
