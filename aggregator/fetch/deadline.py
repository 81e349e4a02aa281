"""One deadline for a whole fetch: connect, status line, headers and body.

requests' ``timeout=`` bounds each socket read, so a server that drips its status line and
headers one byte at a time (or its body) could keep a fetch busy for ever. Here every
socket read of a response, from its first byte to its last, is given only what is left of
the fetch's deadline: the connections of the adapter (``adapter``) build their responses on
a reader that sets the socket's timeout to the time left before each ``recv``, and refuses
to read once none is left. Connecting is bounded by the connect timeout, which the fetcher
sets to the time left as well.

The deadline of the fetch a thread is doing is found in a thread-local (each fetch runs in
one collector thread from start to end); a response read outside ``bounded_by`` (the
WebSub ping) has only requests' own timeout.

A ``Cutoff`` ends every fetch of one fetcher early when Wiredesk stops: ``refuse`` keeps
fetches from starting, ``cut`` shuts the sockets of the ones reading a response, so a
blocked ``recv`` returns at once instead of at its deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aggregator.errors import FetchError


class Cutoff:
    """The stop switch of one fetcher's fetches, shared by their deadlines."""

    def __init__(self) -> None:
        self.refused = threading.Event()
        self.is_cut = False
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()

    def refuse(self) -> None:
        """Start no more fetches (those waiting for a host slot give up)."""
        self.refused.set()

    def cut(self) -> None:
        """Refuse new fetches and end the running ones now."""
        self.refuse()
        with self._lock:
            self.is_cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def track(self, sock: socket.socket) -> None:
        """Cut ``sock`` with the rest (at once when the cut has happened)."""
        with self._lock:
            self._sockets.add(sock)
            cut = self.is_cut
        if cut:
            _shut(sock)

    def forget(self, sock: socket.socket) -> None:
        """``sock`` is done with its response."""
        with self._lock:
            self._sockets.discard(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True, slots=True)
class Deadline:
    """When one whole fetch of ``source`` must be over (``time.monotonic`` seconds), and
    the cutoff that can end it sooner."""

    source: str
    timeout: float
    end: float
    cutoff: Cutoff

    def left(self) -> float:
        """Seconds left (0 or less once the deadline has passed)."""
        return self.end - time.monotonic()

    def remaining(self) -> float:
        """Seconds left; raises FetchError once none are."""
        left = self.left()
        if left <= 0:
            raise FetchError(self.source, f"timed out after {self.timeout:g}s")
        return left


_active = threading.local()


@contextlib.contextmanager
def bounded_by(deadline: Deadline) -> Iterator[None]:
    """Bound every response this thread reads inside the block by ``deadline``."""
    _active.deadline = deadline
    try:
        yield
    finally:
        _active.deadline = None


class _DeadlineReader(io.RawIOBase):
    """A socket's raw reader (``makefile``'s, which keeps the socket open while a response
    is read), each read given only what is left of a deadline."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline
        deadline.cutoff.track(sock)

    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    def fileno(self) -> int:
        """The socket's descriptor."""
        return self._raw.fileno()

    def close(self) -> None:
        """Close the socket's reader (the socket closes once nothing else holds it)."""
        self._deadline.cutoff.forget(self._sock)
        self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        """One ``recv`` into ``buffer``; raises TimeoutError once the deadline has passed
        (urllib3 turns it into its read timeout, as it would a slow socket)."""
        left = self._deadline.left()
        if left <= 0:
            raise TimeoutError(f"the {self._deadline.timeout:g}s deadline has passed")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)


class DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading through a _DeadlineReader during a bounded fetch."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline: Deadline | None = getattr(_active, "deadline", None)
        if deadline is not None:
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))
