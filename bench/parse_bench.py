"""Entries/s of parse_feed against plain feedparser.parse (its sanitiser and resolver on).

Run from the repository root: ``python bench/parse_bench.py``. The feed is generated: 50
RSS 2.0 items whose bodies are 1-3 KB of ordinary article HTML with relative links.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import feedparser  # the baseline only; the package keeps feedparser inside aggregator.parse

from aggregator.models import FetchResult
from aggregator.parse import parse_feed

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


def main() -> None:
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


if __name__ == "__main__":
    main()
