"""argv -> exit code. The only package that prints for humans.

    __init__.py   the argument parser and main(): errors become exit codes
    commands.py   one function per command
    folds.py      why and split: how stories were folded, and undoing a wrong fold
    output.py     tables, progress and log lines

Exit codes: 0 success, 1 runtime failure (a WiredeskError), 2 usage or config error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aggregator import __version__
from aggregator.cli import folds, output
from aggregator.cli.commands import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    cmd_add,
    cmd_apply_moves,
    cmd_articles,
    cmd_check,
    cmd_collect,
    cmd_export_opml,
    cmd_import_opml,
    cmd_preview,
    cmd_publish,
    cmd_remove,
    cmd_run,
    cmd_schema,
    cmd_serve,
    cmd_sources,
)
from aggregator.errors import ConfigError, WiredeskError

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


# --- argv ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command, with --help and --config on each."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $WIREDESK_CONFIG or config/feeds.yaml)",
    )
    common.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=argparse.SUPPRESS,
        help="log lines on stderr as text (default) or one JSON object per line",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
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

    add("run", "run the daemon: scheduled collection, publishing and the HTTP server", cmd_run)
    collect = add("collect", "collect every due source once now, then publish", cmd_collect)
    collect.add_argument(
        "--source",
        action="append",
        metavar="NAME",
        help="collect only this source, due or not (repeatable)",
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
    add(
        "check",
        "validate the config; exit 0 if it is usable, 2 with every problem if not",
        cmd_check,
    )
    sources = add(
        "sources", "one row per source: state, errors, next due, article count", cmd_sources
    )
    sources.add_argument("--json", action="store_true", help="print one JSON array")
    articles = add("articles", "list stored articles, newest first", cmd_articles)
    articles.add_argument("--category", metavar="C", help="only articles this category selects")
    articles.add_argument("--search", metavar="Q", help="full-text search of titles and text")
    articles.add_argument(
        "--limit", metavar="N", type=_positive, default=50, help="at most N (default 50)"
    )
    articles.add_argument("--json", action="store_true", help="print one JSON array")
    preview = add("preview", "which stored articles a category selects now, and why", cmd_preview)
    preview.add_argument("category", metavar="CATEGORY", help="a category name, or all")
    preview.add_argument(
        "--limit", metavar="N", type=_positive, default=20, help="at most N (default 20)"
    )
    preview.add_argument("--why", metavar="ID", help="explain the verdict on one article")
    preview.add_argument("--json", action="store_true", help="print JSON")
    add_cmd = add(
        "add", "add a feed, or the feed a web page announces, to the config file", cmd_add
    )
    add_cmd.add_argument("url", metavar="URL", help="a feed URL or a web page URL")
    add_cmd.add_argument("--name", metavar="N", help="source name (default: from the title)")
    add_cmd.add_argument("--interval", metavar="I", help="fetch interval, e.g. 15m")
    add_cmd.add_argument(
        "--pick", metavar="K", type=_positive, help="which of a page's feeds to add (1-based)"
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
    add(
        "apply-moves",
        "write the new URL of each source moved by a permanent redirect into the config",
        cmd_apply_moves,
    )
    folds.register(add)
    schema = add("schema", "print the JSON Schema of the config file", cmd_schema)
    schema.set_defaults(needs_config=False)
    parser.set_defaults(handler=cmd_run)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number; found {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    output.setup_logging(getattr(args, "log_format", "text"), getattr(args, "verbose", False))
    try:
        if not getattr(args, "needs_config", True):
            return args.handler(args, None)
        from aggregator.config import config_path, load_config

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
    except BrokenPipeError:
        # The reader of our output went away (`... | head`): not an error worth a trace.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
