"""The test proxy itself: it forwards, ``cut`` drops live connections and refuses new
ones, ``restore`` forwards again on the same port."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.tcpproxy import TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[0], server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def say(conn: socket.socket, text: bytes) -> bytes:
    conn.sendall(text)
    return conn.recv(1024)


def test_the_proxy_forwards_cuts_and_restores(echo: tuple[str, int]) -> None:
    with TcpProxy(echo) as proxy:
        live = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        assert say(live, b"hello") == b"hello"
        proxy.cut()
        assert live.recv(1024) == b""  # the live connection was closed
        live.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        port = proxy.port
        proxy.restore()
        assert proxy.port == port
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as again:
            assert say(again, b"back") == b"back"
        assert proxy.accepted == 2
