"""What ``check`` adds to loading: the things ``collect`` would trip over that the file
alone cannot tell (a seed folder that does not exist, a publish folder that cannot be
created), and values that work but are worth a warning (feeds polled more than once a
minute, a loopback base_url on a server open to every interface)."""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from aggregator.config.loader import line_of
from aggregator.config.model import ANY_INTERFACE, Config
from aggregator.config.tree import read_yaml
from aggregator.config.values import format_duration, key_path
from aggregator.errors import ConfigProblem
from aggregator.store import POSTGRES_SCHEMES

MIN_INTERVAL = timedelta(minutes=1)  # most feeds update far less often; many ask for less


def inspect(config: Config) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """The problems (``check`` exits 2) and warnings (it still exits 0) of a loaded config,
    each at the line of its key. Raises ConfigError if the file no longer reads."""
    data, _ = read_yaml(config.path)

    def at(loc: tuple[str | int, ...], message: str) -> ConfigProblem:
        return ConfigProblem(str(config.path), line_of(data, loc), key_path(loc), message)

    problems, warnings = [], []
    for index, source in enumerate(config.sources):
        if source.path is not None and not source.path.is_dir():
            what = "is not a folder" if source.path.exists() else "does not exist"
            problems.append(at(("sources", index, "path"), f"seed folder {source.path} {what}"))
    folders: list[tuple[tuple[str | int, ...], Path]] = [(("publish", "dir"), config.publish.dir)]
    if not config.store.startswith(POSTGRES_SCHEMES):  # a database server is not a folder
        folders.append((("store",), Path(config.store).parent))
    for loc, folder in folders:
        reason = cannot_create(folder)
        if reason:
            problems.append(at(loc, f"cannot create {folder}: {reason}"))
    warnings += [at(loc, message) for loc, message in _short_intervals(config)]
    if _loopback(config.publish.base_url) and config.server.host in ANY_INTERFACE:
        warnings.append(at(("publish", "base_url"), _LOOPBACK_WARNING.format(config=config)))
    return sorted(problems, key=_by_line), sorted(warnings, key=_by_line)


_LOOPBACK_WARNING = (
    "warning: {config.publish.base_url} is a loopback address, but server.host "
    "{config.server.host!r} listens on every interface: readers on other machines get "
    "self links and permalinks they cannot open; set publish.base_url to the address they use"
)


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _by_line(problem: ConfigProblem) -> int:
    return problem.line or 0


def cannot_create(folder: Path) -> str | None:
    """Why ``folder`` could not be created (or written, if it exists), or None."""
    if folder.exists():
        if not folder.is_dir():
            return "it is a file, not a folder"
        return None if os.access(folder, os.W_OK | os.X_OK) else "it is not writable"
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable"
    return None


def _short_intervals(config: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """A warning for each feed fetched more often than MIN_INTERVAL (seed folders are
    local files: scanning them often costs nothing)."""
    found: dict[tuple[str | int, ...], timedelta] = {}
    for index, source in enumerate(config.sources):
        interval = config.interval(source)
        if source.url is not None and interval < MIN_INTERVAL:
            loc = ("sources", index, "interval") if source.interval else ("defaults", "interval")
            found[loc] = interval
    return [
        (
            loc,
            f"warning: {format_duration(interval)} is under {format_duration(MIN_INTERVAL)}: "
            "fetching a feed that often rarely finds news and may get the desk blocked",
        )
        for loc, interval in found.items()
    ]
