"""One daemon per SQLite store and per publish folder.

Two daemons on one store would fetch every source twice and publish over each other, so
``run`` takes an exclusive ``flock`` on a lock file beside the store (``<store>.lock``)
and one in the publish folder (``.wiredesk.lock``, a dotfile the server never serves), each
holding ``<pid> <host>`` of its owner. The kernel drops the lock when the process exits,
however it exits, so a crash leaves no stale lock behind. ``flock`` locks belong to the open
file, not the process, so reading the file to name the owner never releases our own lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from aggregator.config import Config
from aggregator.errors import AlreadyRunningError, LockError
from aggregator.store import POSTGRES_SCHEMES

PUBLISH_LOCK = ".wiredesk.lock"


def lock_paths(config: Config) -> list[tuple[str, Path]]:
    """What a daemon of ``config`` locks: (what, lock file) for a SQLite store and the
    folder (a PostgreSQL store is shared by design: nodes on other machines use it too)."""
    locks = [(str(config.publish.dir), config.publish.dir / PUBLISH_LOCK)]
    if not config.store.startswith(POSTGRES_SCHEMES):
        store = Path(config.store)
        locks.insert(0, (str(store), store.with_name(f"{store.name}.lock")))
    return locks


@contextmanager
def single_instance(config: Config) -> Iterator[None]:
    """Hold the store's and the publish folder's locks while the block runs.

    Raises AlreadyRunningError, naming the other process (pid and host), when another
    daemon holds either, and LockError when a lock file cannot be created.
    """
    with ExitStack() as held:
        for what, path in lock_paths(config):
            held.enter_context(_locked(what, path))
        yield


@contextmanager
def _locked(what: str, path: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = path.open("a+", encoding="utf-8")
    except OSError as e:
        raise LockError(f"{path}: cannot create the lock file: {e.strerror or e}") from e
    with file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunningError(
                f"{what}: already in use by another Wiredesk daemon ({_owner(file)}); "
                "stop it first, or give this one its own store and publish folder"
            ) from None
        _write_owner(file)
        try:
            yield
        finally:
            file.truncate(0)  # the lock itself goes with the file descriptor


def _owner(file: IO[str]) -> str:
    file.seek(0)
    pid, _, host = file.read().strip().partition(" ")
    return f"pid {pid} on {host}" if pid and host else "owner unknown"


def _write_owner(file: IO[str]) -> None:
    file.seek(0)
    file.truncate(0)
    file.write(f"{os.getpid()} {socket.gethostname()}\n")
    file.flush()
