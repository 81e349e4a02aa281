"""The one-line messages a failed fetch reports, made from a response or an exception,
and the wait a Retry-After asks for. Pure functions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from http import HTTPStatus

import requests
import urllib3

from aggregator.text import parse_http_date


def status_message(response: requests.Response, retry_after: float | None) -> str:
    """``HTTP 503 Service Unavailable (retry in 20m)``: an error status in words."""
    try:
        reason = HTTPStatus(response.status_code).phrase
    except ValueError:
        reason = response.reason or "error"
    message = f"HTTP {response.status_code} {reason}"
    return message if retry_after is None else f"{message} (retry in {_duration(retry_after)})"


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a Retry-After of seconds or an HTTP-date (measured from the
    response's Date, so clock skew between us and the server does not matter)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    when, sent = parse_http_date(value), parse_http_date(headers.get("date", ""))
    if when is None:
        return None
    return max(0.0, (when - (sent or datetime.now(UTC))).total_seconds())


def network_message(error: requests.RequestException, url: str, timeout: float) -> str:
    """What went wrong before a response arrived (timeout, TLS, refused, unreachable)."""
    if isinstance(error, requests.Timeout):
        return f"timed out after {timeout:g}s"
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS error ({url})"
    if isinstance(error, requests.ConnectionError):
        if _caused_by(error, ConnectionRefusedError):
            return f"connection refused ({url})"
        return f"cannot connect ({url}): {_root(error)}"
    return f"request failed ({url}): {_root(error)}"


def read_message(error: BaseException, url: str, timeout: float) -> str:
    """What went wrong while reading a body (timeout, bad compression, dropped link)."""
    if _caused_by(error, TimeoutError) or isinstance(error, urllib3.exceptions.TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(error, urllib3.exceptions.DecodeError):
        return f"cannot decode the compressed body ({url})"
    return f"connection broken while reading ({url}): {_root(error)}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (urllib3 keeps the cause in ``reason``) and its causes."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        nested = current.args[0] if current.args else None
        current = (
            reason
            if isinstance(reason, BaseException)
            else nested
            if isinstance(nested, BaseException)
            else current.__cause__ or current.__context__
        )


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(error))


def _root(error: BaseException) -> str:
    *_, last = _chain(error)
    return str(last) or type(last).__name__


def size(count: int) -> str:
    """A byte count in words: ``5 MB``, ``512 bytes``."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= factor:
            return f"{count / factor:g} {unit}"
    return f"{count} bytes"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
