"""Every error Wiredesk raises on purpose.

::

    WiredeskError                 anything a user can act on; the CLI exits 1 with its message
     ├── ConfigError              the YAML config is unreadable or invalid; the CLI exits 2
     ├── SourceError              one source failed this pass; the pass goes on without it
     │    ├── FetchError          network failure, timeout, HTTP error status, body too large
     │    ├── ParseError          the bytes are not a usable feed (bad XML, HTML page, attack)
     │    └── SeedError           a seed file is not in the seed-article shape
     ├── StoreError               the database cannot be opened, is locked or is full
     └── PublishError             a feed file cannot be written

Anything else that escapes is a bug, and is left to propagate with its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class WiredeskError(Exception):
    """Root of every error Wiredesk raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a config file, at a line, under a key path."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
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


class StoreError(WiredeskError):
    """The store cannot be opened or written."""


class PublishError(WiredeskError):
    """A published file cannot be written."""
