"""A TCP proxy on 127.0.0.1 for the tests that take a database away and give it back
without touching the machine's own server: the process under test connects to the proxy's
port, the proxy forwards each connection to the real one (PostgreSQL on 127.0.0.1:5432).

``cut()`` closes every forwarded connection and stops listening, so new connections are
refused (ECONNREFUSED, as from a stopped server); ``restore()`` listens on the same port
again. One thread accepts, and two threads per connection copy each way; every socket and
thread is closed and joined by ``close()`` (or leaving the ``with`` block).

A socket is only shut down by a thread that does not own it, never closed: the thread
that owns it closes it once nothing else uses it, so its file descriptor cannot be handed
to a new connection while another thread still sends on the old one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

CHUNK = 65536
JOIN_BOUND = 5.0  # seconds: how long close() waits for each thread


class _Pair:
    """One forwarded connection: the client's socket and the server's, closed by the
    second of its two copying threads to end."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.ends = (client, upstream)
        self._running = 2
        self._lock = threading.Lock()

    def shut(self) -> None:
        """Wake both copying threads: each end reads EOF (a no-op once closed)."""
        with self._lock:
            if self._running:
                for end in self.ends:
                    _shut(end)

    def done(self) -> bool:
        """One copying thread has ended; True for the second, which closes the sockets."""
        with self._lock:
            self._running -= 1
            if self._running:
                return False
            for end in self.ends:
                end.close()
        return True


class TcpProxy:
    """Forwards connections from ``127.0.0.1:port`` to ``target``; cut and restored at will."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        """Listen on a free port of 127.0.0.1 (``port``) and start forwarding to ``target``."""
        self.target = target
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
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
            self._acceptor = self._start(self._accept, listener)

    def cut(self) -> None:
        """Stop listening (once this returns, connecting is refused) and cut every
        forwarded connection, both ends."""
        with self._lock:
            listener, self._listener = self._listener, None
            acceptor, self._acceptor = self._acceptor, None
            pairs, self._pairs = self._pairs, set()
        if listener is not None and acceptor is not None:
            _shut(listener)  # wakes accept(); the accepting thread closes it
            acceptor.join(JOIN_BOUND)
        for pair in pairs:
            pair.shut()

    def close(self) -> None:
        """Cut, then wait for every thread to end."""
        self.cut()
        for thread in self._threads:
            thread.join(JOIN_BOUND)

    def _start(self, target: object, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()
        return thread

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return  # cut: the listener was shut down
                self._forward(listener, client)

    def _forward(self, listener: socket.socket, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        pair = _Pair(client, upstream)
        with self._lock:
            if self._listener is not listener:  # cut while connecting
                client.close()
                upstream.close()
                return
            self._pairs.add(pair)
            self.accepted += 1
        # a thread per direction: one thread blocked sending one way while the other way
        # fills up (a pipelined client) would stall both
        self._start(self._copy, pair, client, upstream)
        self._start(self._copy, pair, upstream, client)

    def _copy(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        """Copy what ``source`` sends to ``sink`` until either side ends; then end the
        other direction too."""
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass  # cut, or the other side went away
        pair.shut()
        if pair.done():
            with self._lock:
                self._pairs.discard(pair)


def _shut(end: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected, or already shut
        end.shutdown(socket.SHUT_RDWR)
