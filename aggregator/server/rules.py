"""The HTTP decisions of the server, as pure functions of a request and a file's stat:
which file a path names, its Content-Type, its validators, 304 or not, gzip or not."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from pathlib import Path

from aggregator.text import parse_http_date

CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# Names an editor or an interrupted atomic write may leave behind; never served.
TEMP_SUFFIXES = (".tmp", ".part", ".swp", "~")
INDEX = "index.html"


def locate(root: Path, path_info: str) -> Path | None:
    """The file under ``root`` (already resolved) that a WSGI ``PATH_INFO`` names, or None
    when it may not be served: not UTF-8, a backslash or NUL, an empty, dot (``.``, ``..``,
    dotfile) or temp-file segment, or a symlink resolving outside ``root``. A path ending
    in ``/`` names that folder's index.html. Touches the disk only to resolve symlinks."""
    try:
        # WSGI hands over the percent-decoded path as latin-1 code points.
        path = path_info.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None
    if not path.startswith("/") or "\\" in path or "\0" in path:
        return None
    if path.endswith("/"):
        path += INDEX
    parts = path[1:].split("/")
    if any(not part or part.startswith(".") or part.endswith(TEMP_SUFFIXES) for part in parts):
        return None
    resolved = root.joinpath(*parts).resolve()
    return resolved if resolved.is_relative_to(root) else None


def content_type(name: str) -> str:
    """The Content-Type of a published file: the feed formats by extension, anything else
    guessed by mimetypes (text types as UTF-8)."""
    suffix = Path(name).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def compressible(media_type: str) -> bool:
    """True for text-like types worth gzipping (not images or archives)."""
    return media_type.startswith("text/") or any(
        kind in media_type for kind in ("xml", "json", "javascript")
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """True when an Accept-Encoding header allows gzip (RFC 9110 §12.5.3): ``gzip`` or
    ``x-gzip`` with q above 0, or else ``*`` with q above 0."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = item.split(";")
        weights[coding.strip().lower()] = _quality(params)
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0) > 0


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def etag(digest: bytes, *, gzipped: bool) -> str:
    """A strong ETag from the sha256 ``digest`` of a file's bytes: the same on every node
    that serves the same bytes, whatever the file's inode or mtime there; the gzip variant
    has its own tag (RFC 9110)."""
    suffix = "-gzip" if gzipped else ""
    return f'"{digest[:16].hex()}{suffix}"'


def not_modified(headers: Mapping[str, str], tag: str, mtime: float) -> bool:
    """True when a GET's validators in WSGI ``headers`` (``HTTP_IF_NONE_MATCH``...) still
    match: If-None-Match decides when present (``*``, lists, weak comparison), else
    If-Modified-Since not older than ``mtime`` (RFC 9110 §13.2.2)."""
    if_none_match = headers.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        return tag in (
            candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")
        )
    since = parse_http_date(headers.get("HTTP_IF_MODIFIED_SINCE", ""))
    return since is not None and int(mtime) <= since.timestamp()
