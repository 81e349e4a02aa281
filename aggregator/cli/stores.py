"""``wiredesk migrate-store --to URL``: the configured store copied into another (a SQLite
path or a ``postgresql://`` URL), with the counts of both."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.cli import output
from aggregator.cli.common import EXIT_OK, Adder, opened_store
from aggregator.errors import UsageError

if TYPE_CHECKING:
    from aggregator.config import Config


def register(add: Adder) -> None:
    """Add ``migrate-store`` through the parser's ``add``."""
    migrate = add(
        "migrate-store",
        "copy the configured store into another one (SQLite or PostgreSQL); safe to run again",
        cmd_migrate_store,
    )
    migrate.add_argument(
        "--to",
        metavar="URL",
        required=True,
        help="the target store: a SQLite file path or postgresql://user@host/db",
    )


def cmd_migrate_store(args: argparse.Namespace, config: Config) -> int:
    """Copy what the target lacks, print the counts of both stores per kind of record;
    exit 1 when the target does not end up with as many of each as the source."""
    from aggregator.store import open_store, shown
    from aggregator.store.copy import POSTGRES_SCHEMES, copy_store, same_location

    # a path on the command line is the shell's, not the config file's
    to = args.to if args.to.startswith(POSTGRES_SCHEMES) else str(Path(args.to).absolute())
    if same_location(config.store, to):
        raise UsageError("--to", f"{shown(to)} is the configured store itself")
    print(f"copying {shown(config.store)} to {shown(to)}", flush=True)
    with opened_store(config) as source:
        target = open_store(to, similarity=config.dedup.similarity, node=config.node)
        try:
            report = copy_store(source, target)
        finally:
            target.close()
    output.table(
        ["RECORDS", "SOURCE", "COPIED", "TARGET"],
        [
            [kind.replace("_", " "), n, copied, held]
            for (kind, n), (_, copied), (_, held) in zip(
                report.source.items(), report.copied.items(), report.target.items(), strict=True
            )
        ],
    )
    report.check(shown(to))
    print(f"done: set store: {shown(to)} in {config.path} and restart Wiredesk")
    return EXIT_OK
