"""Every error Wiredesk raises, each message one line that starts with its subject (the
file, URL, source, flag or address).

::

    WiredeskError                  anything a user can act on; the CLI exits 1 with its message
     ├── ConfigError               the YAML config is unreadable or invalid; the CLI exits 2
     │    └── UsageError           a command-line argument is wrong (a bad --name, an unknown id)
     ├── ConfigWriteError          an edited config cannot be written back to its file
     ├── OpmlError                 an OPML file cannot be read, or is not OPML
     ├── SeveralFeedsError         a page announces several feeds and --pick chose none of them
     ├── SourceError               one source failed this pass; the pass goes on without it
     │    ├── FetchError           network failure, timeout, HTTP error status, body too large
     │    │    └── FetchAbandoned  cut short because Wiredesk is stopping (not the source's fault)
     │    ├── ParseError           the bytes are not a usable feed (bad XML, HTML page, attack)
     │    ├── SeedError            a seed file is not in the seed-article shape
     │    └── StoriesDeleted       another node kept deleting the stories its pass matched
     ├── StoreError                the database cannot be opened, is locked or is full
     │    ├── StoreLocked          another process held SQLite's write lock for the busy timeout
     │    └── StoreUnavailable     the database server cannot be reached (down, network)
     ├── PublishError              a feed file cannot be written
     ├── LockError                 a daemon's lock file cannot be created
     │    └── AlreadyRunningError  another daemon holds the store's or the folder's lock
     ├── ListenError               the HTTP server cannot listen on its address
     │
     │   caught inside the package that raises them, never seen by a caller:
     ├── Invalid                   a config value is wrong; config/ adds its file:line:key
     └── Declined                  the lxml fast path leaves a document to feedparser (parse/)

Anything else that escapes is a bug, and is left to propagate with its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.models import FeedLink
    from aggregator.parse.fast.names import Decline

# A server may ask for a pause, not park a feed for good: a longer Retry-After is read as
# this (the collector's backoff cap), and an absurd one (1e20 s) cannot overflow anything.
# Here rather than in fetch, so the collector's due-time maths needs no HTTP library.
RETRY_AFTER_CAP = timedelta(hours=24)


class WiredeskError(Exception):
    """Root of every error Wiredesk raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a config file, at a line (and column, for YAML syntax), under a key
    path."""

    file: str
    line: int | None
    key: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        where += f":{self.column}" if self.line and self.column else ""
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(WiredeskError):
    """The config cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def single(cls, file: object, message: str, line: int | None = None) -> ConfigError:
        """A ConfigError of one problem that no key owns (a missing file, a bad option)."""
        return cls([ConfigProblem(str(file), line, "", message)])


class UsageError(ConfigError):
    """A command-line argument is wrong; the message starts with the flag (``--name``)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__([ConfigProblem(argument, None, "", message)])


class ConfigWriteError(WiredeskError):
    """An edited config cannot replace its file; the message starts with the file."""


class OpmlError(WiredeskError):
    """An OPML file cannot be read; the message starts with its path."""


class SeveralFeedsError(WiredeskError):
    """A page offers several feeds and none was picked (or the pick is out of range);
    ``feeds`` lists them in page order, and the message numbers them from 1."""

    def __init__(self, url: str, feeds: Sequence[FeedLink], reason: str) -> None:
        self.url = url
        self.feeds = list(feeds)
        listed = ", ".join(
            f"{number}. {feed.title or '(untitled)'} <{feed.url}> ({feed.type})"
            for number, feed in enumerate(feeds, start=1)
        )
        super().__init__(f"{url}: {reason}: {listed}; choose one with --pick K")


class SourceError(WiredeskError):
    """One source failed; the message starts with the source's name."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from the constructor's arguments, so a parse error survives the trip
        # back from a worker process.
        return (self.__class__, (self.source, self.message), self.__dict__)


class FetchError(SourceError):
    """The feed could not be fetched: network, timeout, HTTP status or size cap."""

    def __init__(
        self,
        source: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(source, message)


class FetchAbandoned(FetchError):
    """The fetch was not started, or was cut, because Wiredesk is stopping."""


class ParseError(SourceError):
    """The fetched bytes are not a feed Wiredesk will use."""


class SeedError(SourceError):
    """A seed file is not a seed article; the message names the file and the reason."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(source, f"{path}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.source, self.path, self.reason), self.__dict__)


class StoriesDeleted(SourceError):
    """Another node deleted (pruned) a stored story this source's pass matched, after each
    of a few lookups: the pass of this source alone is given up, and the next one tries
    again."""


class StoreError(WiredeskError):
    """The store cannot be opened or written."""


class StoreLocked(StoreError):
    """Another process held the SQLite store's write lock for the whole busy timeout; the
    message names the store."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached; the message names its host. The daemon
    waits it out, serving what it last published."""


class PublishError(WiredeskError):
    """A published file cannot be written."""


class LockError(WiredeskError):
    """A daemon's lock file cannot be created; the message starts with its path."""


class AlreadyRunningError(LockError):
    """Another process holds the lock; the message names what is locked and by whom."""


class ListenError(WiredeskError):
    """The HTTP server cannot listen; the message starts with ``host:port``."""


class Invalid(WiredeskError):
    """A config value is wrong; the message says how, in words a user reads, and the config
    loader puts the value's file, line and key before it."""


class Declined(WiredeskError):
    """Raised inside the lxml fast path; ``parse.fast.parse`` returns its ``reason``."""

    def __init__(self, reason: Decline) -> None:
        super().__init__(reason.value)
        self.reason = reason
