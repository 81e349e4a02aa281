"""What every command module shares: exit codes, the shape of a command and of the
parser's ``add``, and the store opened for the length of one command."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.config import Config
    from aggregator.store import Store

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace, "Config"], int]
Adder = Callable[[str, str, Command], argparse.ArgumentParser]
"""The parser's ``add(name, help, handler)``: a subcommand with the common options."""


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number; found {text!r}")
    return value


@contextmanager
def opened_store(config: Config) -> Iterator[Store]:
    """The configured store, closed when the block ends. Imported here, when a command
    runs, so that ``wiredesk --help`` loads no store."""
    from aggregator.store import open_store

    store = open_store(config.store, similarity=config.dedup.similarity, node=config.node)
    try:
        yield store
    finally:
        store.close()
