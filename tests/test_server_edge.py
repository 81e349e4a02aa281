"""The server's HTTP edge over real sockets: requests RFC 9112 says to refuse get 400 and
a closed connection at once, and slow or idle clients cannot silence /healthz."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aggregator.server import FeedServer, make_app
from aggregator.server.edge import Limits

BOUND = 10.0  # seconds: a liveness bound on every read below, not a benchmark


@contextlib.contextmanager
def serving(folder: Path, limits: Limits | None = None) -> Iterator[int]:
    (folder / "all.rss").write_text("<rss/>", encoding="utf-8")
    server = FeedServer(make_app(folder, max_age=60), limits=limits)
    server.start("127.0.0.1", 0)
    try:
        yield server.port
    finally:
        server.stop()


def exchange(port: int, raw: bytes) -> tuple[bytes, bool]:
    """What the server answers ``raw`` with, and whether it then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as conn:
        conn.sendall(raw)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except TimeoutError:
            return answer, False
        return answer, True


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            b"POST /all.rss HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"both Content-Length and Transfer-Encoding",
        ),
        (b"GET /all.rss HTTP/1.1\nHost: a\n\n", b"bare LF"),
        (b"GET /all.rss HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", b"bare LF"),
        (b"GET /all.rss HTTP/9.9\r\nHost: a\r\n\r\n", b"unsupported HTTP version 9.9"),
    ],
    ids=["CL and TE", "bare LF", "one bare LF", "HTTP/9.9"],
)
def test_faulty_requests_get_400_and_a_closed_connection(
    tmp_path: Path, raw: bytes, reason: bytes
) -> None:
    with serving(tmp_path) as port:
        answer, closed = exchange(port, raw)
    assert answer.startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert reason in answer and b"Connection: close" in answer
    assert closed


def test_a_good_request_keeps_its_connection(tmp_path: Path) -> None:
    with serving(tmp_path) as port, requests.Session() as session:
        for _ in range(2):
            assert session.get(f"http://127.0.0.1:{port}/all.rss", timeout=BOUND).text == "<rss/>"


def test_oversized_headers_get_431(tmp_path: Path) -> None:
    # exactly the limit, all of it read by the server: more would be reset, unread
    head = b"GET / HTTP/1.1\r\nX: ".ljust(Limits().header_bytes, b"x")
    with serving(tmp_path) as port:
        answer, closed = exchange(port, head)
    assert answer.startswith(b"HTTP/1.0 431 Request Header Fields Too Large") and closed


def test_many_slow_clients_do_not_silence_healthz(tmp_path: Path) -> None:
    # waitress's default limit of 100 connections: 150 clients that never finish their
    # request head left /healthz unanswered
    with serving(tmp_path) as port, contextlib.ExitStack() as held:
        for _ in range(150):
            conn = held.enter_context(socket.create_connection(("127.0.0.1", port)))
            conn.sendall(b"GET /all.rss HTTP/1.1\r\nHost: slow\r\n")
        reply = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=BOUND)
    assert reply.status_code == 200


def test_a_dripped_request_head_is_cut_at_its_deadline(tmp_path: Path) -> None:
    # a header line every 0.2 s keeps the connection from ever being idle
    with (
        serving(tmp_path, Limits(head_seconds=1)) as port,
        socket.create_connection(("127.0.0.1", port), timeout=BOUND) as conn,
    ):
        conn.sendall(b"GET /all.rss HTTP/1.1\r\n")
        ends = time.monotonic() + BOUND
        answer = b""
        while time.monotonic() < ends and not answer:
            time.sleep(0.2)
            with contextlib.suppress(OSError):
                conn.sendall(b"X-Drip: 1\r\n")
            conn.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                answer = conn.recv(65536)
            conn.setblocking(True)
    assert answer.startswith(b"HTTP/1.0 400 Bad Request")
    assert b"request head not complete within 1s" in answer


def test_an_idle_connection_is_closed(tmp_path: Path) -> None:
    with (
        serving(tmp_path, Limits(idle_seconds=1)) as port,
        socket.create_connection(("127.0.0.1", port), timeout=BOUND) as conn,
    ):
        assert conn.recv(1) == b""  # closed by the server, well before BOUND
