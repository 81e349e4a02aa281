"""Child script: build a synthetic Wiredesk store of COUNT articles through the store API.

    python -m bench.scale_store STORE COUNT     (from the project root)

STORE is a SQLite file or a PostgreSQL URL, as the config's ``store:``.

Articles are short (a headline, a one-sentence summary, a two-sentence body), unique by
headline, spread one every ~95 s back from the workload's base time, over the
workload's sections, and ingested in batches of BATCH as a handful of sources; then the
full-text index is brought up to date, as the daemon does after a pass.
Prints ``{"articles": COUNT, "seconds": S}``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import timedelta

from aggregator.models import Article, SourceState
from aggregator.store import open_store
from bench.workload import BASE_TIME, SECTIONS, TOPIC_WORDS

BATCH = 5000
SOURCES = 20
_LEADS = ("Officials", "Residents", "Analysts", "Traders", "Engineers", "Unions")
_VERBS = ("welcome", "question", "expect", "study", "report", "debate")
_THINGS = ("the plan", "new figures", "the budget", "a delay", "the tender", "the route")


def article(number: int, rng: random.Random) -> Article:
    """Synthetic article ``number``: unique headline, one of the topic words in its text."""
    word = TOPIC_WORDS[number % len(TOPIC_WORDS)]
    sentence = f"{rng.choice(_LEADS)} {rng.choice(_VERBS)} {rng.choice(_THINGS)} on the {word}."
    return Article(
        id=f"scale-{number:07d}",
        guid=f"scale-{number:07d}",
        source=f"scale-{number % SOURCES:02d}",
        title=f"{rng.choice(_LEADS)} {rng.choice(_VERBS)} {rng.choice(_THINGS)}, report {number}",
        published=BASE_TIME - timedelta(seconds=95 * number),
        link=f"https://scale.example.net/story/{number}",
        summary=sentence,
        content=f"<p>{sentence} {rng.choice(_LEADS)} {rng.choice(_VERBS)} {word} costs.</p>",
        section=SECTIONS[number % len(SECTIONS)],
    )


def build(location: str, count: int) -> float:
    """Ingest ``count`` synthetic articles into a new store at ``location``; returns the
    seconds."""
    rng = random.Random(count)
    store = open_store(location)
    started = time.perf_counter()
    try:
        for start in range(0, count, BATCH):
            numbers = range(start, min(start + BATCH, count))
            for source in range(SOURCES):
                name = f"scale-{source:02d}"
                batch = [article(n, rng) for n in numbers if n % SOURCES == source]
                store.ingest(name, batch, SourceState(name=name))
        store.catch_up_search()
    finally:
        store.close()
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    """``STORE COUNT`` -> build the store, print its JSON report; returns the exit code."""
    location, count = argv[0], int(argv[1])
    json.dump({"articles": count, "seconds": build(location, count)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
