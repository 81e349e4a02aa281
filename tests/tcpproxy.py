"""A TCP proxy on 127.0.0.1 for the tests that take a database away and give it back
without touching the machine's own server: the process under test connects to the proxy's
port, the proxy forwards each connection to the real one (PostgreSQL on 127.0.0.1:5432).

``cut()`` closes every forwarded connection and stops listening, so new connections are
refused (ECONNREFUSED, as from a stopped server); ``restore()`` listens on the same port
again. One thread accepts, one thread per connection pumps both ways; every socket and
thread is closed and joined by ``close()`` (or leaving the ``with`` block).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

CHUNK = 65536
JOIN_BOUND = 5.0  # seconds: how long close() waits for each thread


class TcpProxy:
    """Forwards connections from ``127.0.0.1:port`` to ``target``; cut and restored at will."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        """Listen on a free port of 127.0.0.1 (``port``) and start forwarding to ``target``."""
        self.target = target
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.accepted = 0  # connections forwarded so far
        self.restore()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def address(self) -> str:
        """``127.0.0.1:port``, for a connection URL."""
        return f"127.0.0.1:{self.port}"

    def restore(self) -> None:
        """Listen (again, on the same port once it has one) and forward new connections."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(16)
            self.port = listener.getsockname()[1]
            self._listener = listener
            self._start(self._accept, listener)

    def cut(self) -> None:
        """Stop listening and close every forwarded connection, both ends."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, set()
        if listener is not None:
            _close(listener)
        for pair in pairs:
            for end in pair:
                _close(end)

    def close(self) -> None:
        """Cut, then wait for every thread to end."""
        self.cut()
        for thread in self._threads:
            thread.join(JOIN_BOUND)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _close(client)
                    _close(upstream)
                    return
                self._pairs.add((client, upstream))
                self.accepted += 1
                self._start(self._pump, client, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            try:
                for end in peer:
                    selector.register(end, selectors.EVENT_READ)
                while True:
                    for key, _ in selector.select(timeout=0.5):
                        end: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = end.recv(CHUNK)
                        if not data:
                            return
                        peer[end].sendall(data)
                    if client.fileno() < 0 or upstream.fileno() < 0:
                        return  # cut
            except (OSError, ValueError):
                return  # cut, or either side went away
            finally:
                with self._lock:
                    self._pairs.discard((client, upstream))
                _close(client)
                _close(upstream)


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected, or already closed
        end.shutdown(socket.SHUT_RDWR)
    end.close()
