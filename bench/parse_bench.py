"""Entries/s of parse_feed against plain feedparser.parse (its sanitiser and resolver on).

Run from the repository root: ``python bench/parse_bench.py``. The feed is generated: 50
RSS 2.0 items whose bodies are 1-3 KB of ordinary article HTML with relative links.

``--workload`` instead parses the 500 bodies of ``bench/run.py``'s workload once each and
prints the CPU time of ``parse_feed`` (fast path first, as Wiredesk runs it), of
``parse_feed`` with feedparser alone, of its two halves on the fast path (lxml to entries,
entries to Articles), of feedparser alone as ``parse_feed`` runs it (sanitiser and resolver
off), and of lxml merely reading the same bytes: what a first pass must spend on parsing.
``--profile`` prints the functions ``parse_feed`` spends that time in (cProfile).
``--changed`` parses the bodies of ``bench/run.py``'s 10%-changed pass (50 feeds, 5 new
entries each) with the keys of their entries from the pass before, as a pass does, and
prints the CPU time of the whole and of each step: what unchanged entries still cost.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser  # the baseline only; the package keeps feedparser inside aggregator.parse
from lxml import etree

if __package__ in (None, ""):
    # Run as a script: make the project root importable so ``bench.*`` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.models import FetchResult
from aggregator.parse import document, fast, parse_feed
from aggregator.parse import known as known_entries
from aggregator.parse.entries import article
from bench.workload import Feed, change_feeds, generate_feeds

URL = "https://bench.example/feeds/all.xml"
WORDS = [
    "river",
    "town",
    "council",
    "budget",
    "harbour",
    "ferry",
    "school",
    "bridge",
    "market",
    "rain",
    "festival",
]


def paragraph(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 45)))
    return f'<p>{words} <a href="/story/{rng.randint(1, 999)}">more</a> <em>{WORDS[0]}</em></p>'


def feed(entries: int = 50, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    items = []
    for i in range(entries):
        body = ""
        target = rng.randint(1024, 3072)
        while len(body) < target:
            body += paragraph(rng)
        items.append(
            f"<item><title>Story {i}: {rng.choice(WORDS)} news</title>"
            f"<link>/story/{i}</link><guid>bench-{i}</guid>"
            f"<pubDate>Mon, 0{1 + i % 9} Apr 2024 10:00:00 GMT</pubDate>"
            f"<category>{rng.choice(WORDS)}</category>"
            f"<description><![CDATA[{body}<img src='img/{i}.jpg'>]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench</title>'
        f"<link>https://bench.example/</link>{''.join(items)}</channel></rss>"
    ).encode()


def rate(run: Callable[[], int], seconds: float = 3.0) -> float:
    run()  # warm up
    done, entries, started = 0, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or done < 3:
        entries += run()
        done += 1
    return entries / elapsed


def single_feed() -> None:
    """Entries/s on one generated 50-entry feed, feedparser's defaults against parse_feed."""
    body = feed()
    headers = {"content-type": "application/rss+xml; charset=utf-8", "content-location": URL}
    result = FetchResult(url=URL, status=200, content=body, headers=headers)
    now = datetime.now(UTC)
    rows = [
        (
            "feedparser.parse, defaults",
            lambda: len(feedparser.parse(io.BytesIO(body), response_headers=headers).entries),
        ),
        (
            "parse_feed (nh3, own URL resolution)",
            lambda: len(parse_feed("bench", result, now=now).articles),
        ),
    ]
    print(f"feed: 50 entries, {len(body) / 1024:.0f} KB")
    print(f"{'parser':40} {'entries/s':>10}")
    for name, run in rows:
        print(f"{name:40} {rate(run):>10.0f}")


def workload() -> None:
    """CPU seconds to parse every body of the benchmark workload once, several ways."""
    results = _workload_results()
    bodies = [(r.content, r.url) for r in results]
    safe = [(document.without_doctype("b", body.decode()), url) for body, url in bodies]
    entries = [(e, url) for data, url in safe for e in _fast_entries(data, url)]
    now = datetime.now(UTC)
    rows = [
        ("parse_feed, fast path first", lambda: _parse_all(results, now)),
        ("parse_feed, feedparser alone", lambda: _parse_all(results, now, fast_path=False)),
        ("  fast path: lxml to entries", lambda: sum(len(_fast_entries(d, u)) for d, u in safe)),
        ("  Article step: entries to Articles", lambda: _articles(entries, now)),
        (
            "feedparser alone, as parse_feed runs it",
            lambda: sum(
                len(
                    feedparser.parse(
                        io.BytesIO(body),
                        response_headers={"content-location": url},
                        sanitize_html=False,
                        resolve_relative_uris=False,
                    ).entries
                )
                for body, url in bodies
            ),
        ),
        ("lxml, reading every element", lambda: sum(_lxml_entries(body) for body, _ in bodies)),
    ]
    print(f"workload: {len(bodies)} feeds, {sum(len(b) for b, _ in bodies) / 2**20:.0f} MB")
    print(f"{'parser':40} {'entries':>8} {'CPU s':>7} {'ms/entry':>9} {'entries/s':>10}")
    for name, run in rows:
        started = time.process_time()
        count = run()
        spent = time.process_time() - started
        print(
            f"{name:40} {count:>8} {spent:>7.2f} {spent / count * 1000:>9.3f}"
            f" {count / spent:>10,.0f}"
        )


def changed(runs: int = 7) -> None:
    """CPU time to parse the 10%-changed pass's bodies, their known entries cut; the least
    of ``runs`` runs, whole and step by step."""
    workload = generate_feeds()
    later, names = change_feeds(workload)
    now = datetime.now(UTC)
    known = {
        f.name: parse_feed("b", _result(f), now=now).item_keys
        for f in workload.feeds
        if f.name in names
    }
    results = [(f.name, _result(f)) for f in later.feeds if f.name in names]

    def whole(name: str, result: FetchResult) -> int:
        return len(parse_feed("b", result, now=now, known=known[name]).articles)

    def safe(name: str, result: FetchResult) -> bytes:
        body = document.decode(result.content, "")
        return document.without_doctype("b", body.text, utf8=body.utf8)

    def cut(name: str, result: FetchResult) -> bytes:
        data = safe(name, result)
        items = known_entries.scan_items(data, result.url)
        return known_entries.without(data, [i for i in items if i.key in known[name]])

    def fast_path(name: str, result: FetchResult) -> int:
        return len(_fast_entries(cut(name, result), result.url))

    rows: list[tuple[str, Callable[[str, FetchResult], object]]] = [
        ("parse_feed", whole),
        ("  decode, without_doctype", safe),
        ("  ... then scan_items, cut", cut),
        ("  ... then the fast path", fast_path),
    ]
    print(f"changed pass: {len(results)} bodies")
    print(f"{'steps':40} {'CPU ms':>7}")
    for label, run in rows:
        spent = []
        for _ in range(runs):
            started = time.process_time()
            for name, result in results:
                run(name, result)
            spent.append(time.process_time() - started)
        print(f"{label:40} {min(spent) * 1000:>7.1f}")


def profile(top: int = 25) -> None:
    """The functions parse_feed spends the workload's CPU in, by own time."""
    results, now = _workload_results(), datetime.now(UTC)
    profiler = cProfile.Profile()
    profiler.runcall(_parse_all, results, now)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _workload_results() -> list[FetchResult]:
    return [_result(f) for f in generate_feeds().feeds]


def _result(feed: Feed) -> FetchResult:
    return FetchResult(
        url=f"http://127.0.0.1{feed.path}",
        status=200,
        content=feed.body,
        headers={"content-type": "text/xml"},
    )


def _parse_all(results: list[FetchResult], now: datetime, *, fast_path: bool = True) -> int:
    return sum(len(parse_feed("b", r, now=now, fast_path=fast_path).articles) for r in results)


def _fast_entries(data: bytes, url: str) -> tuple:
    parsed = fast.parse(data, url, "text/xml")
    assert isinstance(parsed, fast.FastFeed), parsed  # every workload feed is accepted
    return parsed.entries


def _articles(entries: list, now: datetime) -> int:
    for entry, url in entries:
        article("b", entry, url, now, print)
    return len(entries)


def _lxml_entries(body: bytes) -> int:
    entries = 0
    for element in etree.fromstring(body).iter("item", "{http://www.w3.org/2005/Atom}entry"):
        entries += 1
        for child in element.iter():
            _ = child.text, child.attrib
    return entries


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run one of the two benchmarks."""
    parser = argparse.ArgumentParser(
        prog="bench/parse_bench.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--workload", action="store_true", help="CPU time over bench/run.py's 500 feeds"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile of parse_feed over those 500 feeds"
    )
    parser.add_argument(
        "--changed",
        action="store_true",
        help="CPU time over the 10%%-changed pass's 50 bodies, their known entries cut",
    )
    args = parser.parse_args(argv)
    if args.changed:
        changed()
    elif args.profile:
        profile()
    elif args.workload:
        workload()
    else:
        single_feed()


if __name__ == "__main__":
    main()
