"""The commands that run the pipeline: ``run`` (the daemon), ``collect``, ``publish``
and ``serve``.

Each imports what it needs when it runs (requests, the parsers, feedgen, the store, the
daemon): ``wiredesk --help`` then loads none of them, and a cron ``collect`` with
nothing due loads neither requests nor a parser."""

from __future__ import annotations

import argparse
import gc
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aggregator.cli import output
from aggregator.cli.common import EXIT_OK, Adder, opened_store
from aggregator.errors import UsageError
from aggregator.text import count

if TYPE_CHECKING:
    from aggregator.config import Config
    from aggregator.fetch import Fetcher


def register(add: Adder) -> None:
    """Add ``run``, ``collect``, ``publish`` and ``serve`` through the parser's ``add``."""
    add("run", "run the daemon: scheduled collection, publishing and the HTTP server", cmd_run)
    collect = add("collect", "collect every due source once now, then publish", cmd_collect)
    collect.add_argument(
        "--source",
        action="append",
        metavar="NAME",
        help="collect only this source, due or not, unless another process is collecting "
        "it now (repeatable)",
    )
    collect.add_argument(
        "--no-publish",
        action="store_true",
        help="only collect; what changed stays pending until the next pass that publishes",
    )
    collect.add_argument(
        "--json", action="store_true", help="print the pass as one JSON object, not a table"
    )
    add("publish", "regenerate every feed and page from the store", cmd_publish)
    add("serve", "serve the publish folder over HTTP", cmd_serve)


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """The daemon: scheduled collection, publishing and the HTTP server."""
    from aggregator.daemon import run_daemon

    return run_daemon(config)


def cmd_collect(args: argparse.Namespace, config: Config) -> int:
    """One collection pass now, then publish; prints per-source counts (or JSON)."""
    from aggregator.config.values import quote, suggest

    names = {s.name for s in config.sources}
    for name in args.source or ():
        if name not in names:
            raise UsageError("--source", f"unknown source {quote(name)}{suggest(name, names)}")
    from aggregator.collector import run_pass
    from aggregator.collector.schedule import due_sources

    with (
        opened_store(config) as store,
        output.progress(len(args.source or config.sources)) as progress,
    ):
        states = store.source_states()
        fetcher = _FetcherOnDemand(config)
        try:
            due = due_sources(config.sources, states, datetime.now(UTC), only=args.source)
            if any(not source.is_seed_folder for source in due):
                # made before the pass's clock starts, as the daemon's is: the pass's
                # ``seconds`` is the collection, not the HTTP client's import
                fetcher.made()
            # what start-up made (modules, config, states, the HTTP client) lives until the
            # process exits: frozen, neither the pass's collections nor the interpreter's
            # last one at exit scan it (~45M instructions of a 500-feed all-304 pass's 1.94G)
            gc.freeze()
            report, published = run_pass(
                config,
                store,
                cast("Fetcher", fetcher),  # it stands for one: see _FetcherOnDemand
                now=datetime.now(UTC),
                only=args.source,
                progress=progress,
                publish_changes=not args.no_publish,
                states=states,
            )
        finally:
            fetcher.close()
    if args.json:
        print(output.json_text(output.pass_json(report, published)))
        return EXIT_OK
    rows = [output.summary_row(r) for r in report.sources]
    output.table(
        ["source", "new", "merged", "updated", "unchanged", "not modified", "errors"], rows
    )
    if not report.sources:
        print("no source is due; collect --source NAME fetches one anyway")
    for source in report.sources:
        if source.leased_by:
            print(f"{source.source}: not fetched: {source.leased_by} is collecting it now")
    written = len(published.written) if published else 0
    print(
        f"{count(len(report.changed_ids), 'story', 'stories')} changed; "
        f"{count(written, 'published file')} written"
    )
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, config: Config) -> int:
    """Regenerate every category feed from the store."""
    from aggregator import publish

    with opened_store(config) as store:
        report = publish.publish(config, store, full=True)
    print(
        f"published to {config.publish.dir}: {len(report.written)} written, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    """Serve the publish folder over HTTP until interrupted."""
    from aggregator.server import serve_forever

    serve_forever(config)
    return EXIT_OK


class _FetcherOnDemand:
    """Stands for the pass's Fetcher and makes it (importing requests, ~70 ms) on first
    use: a cron ``collect`` with nothing due never needs one."""

    def __init__(self, config: Config) -> None:
        import threading

        self._config = config.fetch
        self._fetcher: Fetcher | None = None
        self._lock = threading.Lock()  # the collector's workers may ask at once

    def made(self) -> Fetcher:
        """The Fetcher, made now if it was not yet."""
        with self._lock:
            if self._fetcher is None:
                from aggregator.fetch import Fetcher

                self._fetcher = Fetcher(self._config)
            return self._fetcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    def close(self) -> None:
        """Close the Fetcher, if one was made."""
        if self._fetcher is not None:
            self._fetcher.close()
