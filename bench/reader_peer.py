"""Child script run by bench/out/reader-venv's Python: lemon24's ``reader`` on the bench feeds.

Imports only the standard library and ``reader`` (never the project), and prints one JSON
object on stdout:

    reader_peer.py add DB URLS_FILE              add every URL (one a line) to a new database
    reader_peer.py update DB --workers W         one update_feeds pass over every feed, due or not
    reader_peer.py calibrate DIR URLS_FILE --workers 1,4,8
                                                 a first pass into a fresh database per W

``seconds`` is the time spent inside reader's calls, without interpreter start-up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def _reader(db: Path) -> Any:
    from reader import make_reader

    return make_reader(str(db))


def add(db: Path, urls: list[str]) -> dict[str, Any]:
    """Add ``urls`` to the database at ``db``; returns the count and the time taken."""
    started = time.perf_counter()
    reader = _reader(db)
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    reader.close()
    return {"added": len(urls), "seconds": time.perf_counter() - started}


def update(db: Path, workers: int) -> dict[str, Any]:
    """Update every feed once (``scheduled=False``: due or not) with ``workers`` threads.

    Returns the time taken and how many feeds were updated, not modified (304) or failed,
    and how many entries were new or modified.
    """
    reader = _reader(db)
    counts = {"updated": 0, "not_modified": 0, "errors": 0, "new": 0, "modified": 0}
    started = time.perf_counter()
    for result in reader.update_feeds_iter(scheduled=False, workers=workers):
        value = result.value
        if value is None:
            counts["not_modified"] += 1
        elif isinstance(value, Exception):
            counts["errors"] += 1
            counts.setdefault("first_error", f"{result.url}: {value}")
        else:
            counts["updated"] += 1
            counts["new"] += value.new
            counts["modified"] += value.modified
    seconds = time.perf_counter() - started
    reader.close()
    return {"seconds": seconds, "workers": workers, **counts}


def calibrate(folder: Path, urls: list[str], workers: list[int]) -> dict[str, Any]:
    """A first pass of ``urls`` into a fresh database for each worker count.

    Returns the seconds each took, by worker count, and the fastest count as ``best``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    # An unmeasured pass over one feed first, so no worker count pays for the lazy imports.
    for count in (0, *workers):
        db = folder / f"calibrate-{count}.sqlite"
        for stale in folder.glob(f"{db.name}*"):
            stale.unlink()
        add(db, urls[:1] if count == 0 else urls)
        took = update(db, max(count, 1))["seconds"]
        if count:
            seconds[str(count)] = took
    best = min(seconds, key=seconds.__getitem__)
    return {"seconds": seconds, "best": int(best)}


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run one command, print its JSON; returns the exit code."""
    parser = argparse.ArgumentParser(prog="reader_peer.py")
    commands = parser.add_subparsers(dest="command", required=True)
    add_cmd = commands.add_parser("add")
    add_cmd.add_argument("db", type=Path)
    add_cmd.add_argument("urls", type=Path)
    update_cmd = commands.add_parser("update")
    update_cmd.add_argument("db", type=Path)
    update_cmd.add_argument("--workers", type=int, default=1)
    calibrate_cmd = commands.add_parser("calibrate")
    calibrate_cmd.add_argument("folder", type=Path)
    calibrate_cmd.add_argument("urls", type=Path)
    calibrate_cmd.add_argument("--workers", default="1,4,8,16")
    args = parser.parse_args(argv)
    if args.command == "add":
        result = add(args.db, args.urls.read_text().split())
    elif args.command == "update":
        result = update(args.db, args.workers)
    else:
        counts = [int(w) for w in args.workers.split(",")]
        result = calibrate(args.folder, args.urls.read_text().split(), counts)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
