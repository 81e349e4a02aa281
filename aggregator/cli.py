"""argv -> exit code. The only module that prints for humans.

Exit codes: 0 success, 1 runtime failure (a WiredeskError), 2 usage or config error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from aggregator import __version__
from aggregator.config import Config, config_path, load_config
from aggregator.errors import ConfigError, WiredeskError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace, Config], int]


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    """Validate the config; reaching here means it loaded without problems."""
    seeds = sum(1 for s in config.sources if s.is_seed_folder)
    print(
        f"OK {config.path}: {len(config.sources)} sources "
        f"({len(config.sources) - seeds} feeds, {seeds} seed folders), "
        f"{len(config.categories)} categories"
    )
    return EXIT_OK


def _waits_for(issue: int, what: str) -> Command:
    def command(args: argparse.Namespace, config: Config) -> int:
        raise WiredeskError(f"{what} is not built yet; it waits for issue #{issue}")

    return command


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command, with --help and --config on each."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $WIREDESK_CONFIG or config/feeds.yaml)",
    )
    parser = argparse.ArgumentParser(
        prog="wiredesk",
        description="Collect RSS/Atom feeds and seed articles, fold duplicate stories, "
        "and republish filtered category feeds. Without a command, runs the daemon.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"wiredesk {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, handler: Command) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    add(
        "run",
        "run the daemon: scheduled collection, publishing and the HTTP server",
        _waits_for(7, "the daemon"),
    )
    collect = add(
        "collect", "collect every due source once now, then publish", _waits_for(5, "collection")
    )
    collect.add_argument(
        "--source",
        action="append",
        metavar="NAME",
        help="collect only this source (repeatable), due or not",
    )
    add("publish", "regenerate every category feed from the store", _waits_for(6, "publishing"))
    add("serve", "serve the publish folder over HTTP", _waits_for(7, "the server"))
    add(
        "check",
        "validate the config; exit 0 if it is usable, 2 with every problem if not",
        cmd_check,
    )
    sources = add(
        "sources",
        "one row per source: state, errors, next due, article count",
        _waits_for(5, "source state"),
    )
    sources.add_argument("--json", action="store_true", help="print JSON")
    articles = add("articles", "list stored articles, newest first", _waits_for(4, "the store"))
    articles.add_argument("--category", metavar="C", help="only articles this category selects")
    articles.add_argument("--search", metavar="Q", help="full-text search of titles and text")
    articles.add_argument("--limit", metavar="N", type=int, default=50, help="default 50")
    articles.add_argument("--json", action="store_true", help="print one JSON array")
    parser.set_defaults(handler=commands.choices["run"].get_default("handler"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(config_path(getattr(args, "config", None)))
        return args.handler(args, config)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except WiredeskError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
