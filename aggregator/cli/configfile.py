"""The commands about the config file: ``check`` and ``schema`` read it; ``add``,
``remove``, ``import-opml`` and ``export-opml`` edit it or write it out as OPML."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.cli.common import EXIT_OK, Adder, positive
from aggregator.errors import ConfigError, UsageError
from aggregator.text import count

if TYPE_CHECKING:
    from aggregator.config import Config
    from aggregator.models import FetchResult


def register(add: Adder) -> None:
    """Add ``check``, ``add``, ``remove``, ``import-opml``, ``export-opml`` and ``schema``
    through the parser's ``add``."""
    add(
        "check",
        "validate the config; exit 0 if it is usable, 2 with every problem if not",
        cmd_check,
    )
    add_cmd = add(
        "add", "add a feed, or the feed a web page announces, to the config file", cmd_add
    )
    add_cmd.add_argument("url", metavar="URL", help="a feed URL or a web page URL")
    add_cmd.add_argument("--name", metavar="N", help="source name (default: from the title)")
    add_cmd.add_argument("--interval", metavar="I", help="fetch interval, e.g. 15m")
    add_cmd.add_argument(
        "--pick", metavar="K", type=positive, help="which of a page's feeds to add (1-based)"
    )
    remove = add("remove", "remove a source from the config file", cmd_remove)
    remove.add_argument("name", metavar="NAME", help="the source's name")
    import_cmd = add(
        "import-opml", "add the subscriptions of an OPML file as sources", cmd_import_opml
    )
    import_cmd.add_argument("file", metavar="FILE", type=Path, help="an OPML file")
    import_cmd.add_argument(
        "--no-check",
        action="store_true",
        help="add the feeds without fetching them first to check that each is a feed",
    )
    add("export-opml", "print the configured feeds as OPML 2.0", cmd_export_opml)
    schema = add("schema", "print the JSON Schema of the config file", cmd_schema)
    schema.set_defaults(needs_config=False)


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    """Validate the config: it loaded, so look for what ``collect`` would trip over; print
    the warnings, and every problem (exit 2) or a summary (exit 0)."""
    from aggregator.config.checks import inspect

    problems, warnings = inspect(config)
    for warning in warnings:
        print(warning, file=sys.stderr)
    if problems:
        raise ConfigError(problems)
    seeds = sum(1 for s in config.sources if s.is_seed_folder)
    print(
        f"OK {config.path}: {count(len(config.sources), 'source')} "
        f"({count(len(config.sources) - seeds, 'feed')}, "
        f"{count(seeds, 'seed folder')}), "
        f"{count(len(config.categories), 'category', 'categories')}"
    )
    return EXIT_OK


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    """Add a feed (or the feed a web page announces) to the config file."""
    from aggregator.config.model import Source
    from aggregator.discover import add_feed

    # Checked here, so the message blames the flag rather than a line of the edited file.
    for flag, key, value in (
        ("--name", "name", args.name),
        ("--interval", "interval", args.interval),
    ):
        if value is not None:
            _check_option(flag, Source, key, value)

    with _feed_reader(config) as (fetch, check):
        added = add_feed(
            config.path,
            args.url,
            name=args.name,
            interval=args.interval,
            pick=args.pick,
            fetch=fetch,
            parse=check,
        )
    entries = count(added.entries, "entry", "entries")
    print(f"added {added.name}: {added.title or added.url} ({entries}) {added.url}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    """Remove a source from the config file; its stored stories stay."""
    from aggregator.config.edit import remove_source

    remove_source(config.path, args.name)
    print(f"removed {args.name} from {config.path}")
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace, config: Config) -> int:
    """Add every subscription of an OPML file as a source, each fetched and checked unless
    --no-check; folders become categories unless a category of that name exists."""
    from aggregator.opml.sources import import_opml

    with _feed_reader(config) as (fetch, check):
        checker = None if args.no_check else (lambda url: check(fetch(url)))
        result = import_opml(config.path, args.file, check=checker)
    if result.nothing_new:
        print(f"nothing new in {args.file}: no source or category to add")
    else:
        print(f"added {count(len(result.added), 'source')}: {', '.join(result.added)}")
    for name in result.categories_created:
        print(f"created category {name}")
    for name, added in result.categories_kept.items():
        print(
            f"category {name} already exists and was left as it is: "
            f"{', '.join(added)} added as sources only"
        )
    for reason in result.skipped:
        print(f"skipped {reason}")
    return EXIT_OK


def cmd_export_opml(args: argparse.Namespace, config: Config) -> int:
    """Print the configured feed sources as OPML 2.0."""
    from aggregator.opml.sources import export_opml

    sys.stdout.buffer.write(export_opml(config))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, config: Config | None) -> int:
    """Print the JSON Schema of the config file."""
    from aggregator.schema import schema_text

    print(schema_text(), end="")
    return EXIT_OK


def _check_option(flag: str, model: type, key: str, value: str) -> None:
    """Raise UsageError naming ``flag`` when ``value`` is not what ``key`` of ``model`` takes."""
    from aggregator.config.build import Context, options

    ctx = Context(Path.cwd())
    ctx.parse(options(model)[key][1].kind, value, ())
    if ctx.problems:
        raise UsageError(flag, ctx.problems[0][1])


@contextmanager
def _feed_reader(
    config: Config,
) -> Iterator[tuple[Callable[[str], FetchResult], Callable[[FetchResult], Any]]]:
    """A fetch (URL -> response) and a check (response -> parsed feed) for ``add`` and
    ``import-opml``, with the defaults' timeout."""
    from aggregator import parse
    from aggregator.fetch import Fetcher

    timeout = config.defaults.timeout.total_seconds()
    with Fetcher(config.fetch) as fetcher:

        def fetch(url: str) -> FetchResult:
            return fetcher.fetch(url, url, timeout=timeout)

        def check(result: FetchResult) -> Any:
            return parse.parse_feed(result.url, result, now=datetime.now(UTC))

        yield fetch, check
