"""argv -> exit code. The only package that prints for humans.

    __init__.py   the argument parser and main(): errors become exit codes
    common.py     exit codes, the shape of a command, the store opened for one
    collect.py    run, collect, publish, serve: the pipeline
    sources.py    sources, apply-moves: each source's state, and moved feeds
    articles.py   articles, preview: stored stories, and what a category selects
    folds.py      why, split: how stories were folded, and undoing a wrong fold
    configfile.py check, schema, add, remove, import-opml, export-opml: the config file
    stores.py     migrate-store: the store copied into another backend
    ids.py        story ids as people type them: shortest unique prefixes
    output.py     tables, progress and log lines

Each command module has a ``register(add)`` that declares its commands and their
arguments beside the functions that run them.

Exit codes: 0 success, 1 runtime failure (a WiredeskError), 2 usage or config error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from aggregator import __version__
from aggregator.cli import articles, collect, configfile, folds, output, sources, stores
from aggregator.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Command
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

    for group in (collect, sources, articles, folds, configfile, stores):
        group.register(add)
    parser.set_defaults(handler=collect.cmd_run)
    return parser


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
