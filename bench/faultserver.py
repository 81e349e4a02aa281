"""A feed server on 127.0.0.1 that fails in every way a publisher can, for the fault suite
(tests/faults/) and the soak run (bench/soak.py).

Each URL names one behaviour, ``/<fault>/<n>`` (``n`` tells feeds of one kind apart):

    ok          a valid RSS feed whose newest item changes every ``rotate`` seconds (ETag, 304)
    e500        500 Internal Server Error
    r429        429 with ``Retry-After: 99999999999999999999``
    r503        503 with ``Retry-After: 86400000000000``
    rdate       503 with a Retry-After date in the year 9999 and a Date in 1990
    driphead    the status line and headers, one byte every ``drip`` seconds
    dripbody    headers, then the body one byte every ``drip`` seconds
    truncated   a Content-Length of 20 KB, half a feed, then the connection closes
    garbage     200 with random bytes as the feed
    reset       the connection reset (RST) as soon as the request is read
    loop        302 to the other of a pair of URLs that redirect to each other
    bighead     a 70 KB header line
    slow        accepts, reads the request, answers nothing until the client gives up

Raw sockets, one daemon thread a connection, every connection closed after one answer. A
held connection (drip, slow) is released when the client closes it, after ``hold``
seconds, or when the server is closed, so a run can never pile up threads for ever.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType

FAULTS = (
    "e500",
    "r429",
    "r503",
    "rdate",
    "driphead",
    "dripbody",
    "truncated",
    "garbage",
    "reset",
    "loop",
    "bighead",
    "slow",
)
KINDS = ("ok", *FAULTS)
_HEAD_LIMIT = 64 * 1024


class FaultServer:
    """The fault server, listening from construction until ``close``."""

    def __init__(self, *, drip: float = 0.2, hold: float = 120.0, rotate: float = 5.0) -> None:
        """Listen on a free port of 127.0.0.1 and accept in a background thread."""
        self.drip = drip
        self.hold = hold
        self.rotate = rotate
        self.counts: Counter[str] = Counter()  # requests served, by fault
        self._arrivals: dict[tuple[str, int], list[float]] = {}  # wall-clock times, by URL
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="faults", daemon=True)
        self._acceptor.start()

    def url(self, fault: str, n: int = 0) -> str:
        """The URL of feed ``n`` showing ``fault`` (one of KINDS)."""
        if fault not in KINDS:
            raise ValueError(f"unknown fault {fault!r}")
        return f"http://127.0.0.1:{self.port}/{fault}/{n}"

    def served(self, fault: str) -> int:
        """How many requests for ``fault`` have arrived."""
        with self._lock:
            return self.counts[fault]

    def arrivals(self, fault: str, n: int = 0) -> list[float]:
        """When each request for feed ``n`` of ``fault`` arrived (``time.time()``), in order."""
        with self._lock:
            return list(self._arrivals.get((fault, n), ()))

    def open_connections(self) -> int:
        """Connections being answered or held right now."""
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """Stop accepting and drop every open connection."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            held = list(self._open)
        for conn in held:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(5)

    def __enter__(self) -> FaultServer:
        """Use the server as a context manager that closes it on exit."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the server."""
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            request = _read_head(conn)
            fault, number = _route(request)
            with self._lock:
                self.counts[fault] += 1
                self._arrivals.setdefault((fault, number), []).append(time.time())
            conn.settimeout(self.hold)
            _ANSWERS.get(fault, _not_found)(self, conn, number, request)
        except OSError:
            pass  # the client gave up, or the server is closing: both are expected here
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _trickle(self, conn: socket.socket, data: bytes) -> None:
        """Send ``data`` one byte every ``drip`` seconds, within ``hold``."""
        until = time.monotonic() + self.hold
        for byte in data:
            if self._closed.wait(self.drip) or time.monotonic() > until:
                return
            conn.sendall(bytes([byte]))

    def _held(self, conn: socket.socket) -> None:
        """Wait for the client to close (or ``hold``, or the server's close)."""
        until = time.monotonic() + self.hold
        conn.settimeout(0.5)
        while not self._closed.is_set() and time.monotonic() < until:
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue


def _read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
        chunk = conn.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


def _route(request: bytes) -> tuple[str, int]:
    """(fault, n) from the request line ``GET /<fault>/<n> HTTP/1.1``."""
    try:
        target = request.split(b" ", 2)[1].decode("ascii")
        fault, number = target.strip("/").split("/")[:2]
        return fault, int(number.split("?")[0])
    except (IndexError, ValueError):
        return "", 0


def _response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def feed(number: int, tick: int, *, every: float = 60.0, items: int = 3) -> bytes:
    """RSS 2.0 for feed ``number`` at rotation ``tick``: its ``items`` newest stories, story
    ``t`` published at ``t * every`` seconds after the epoch."""
    entries = "".join(
        f"<item><guid>feed{number}-story{t}</guid>"
        f"<title>Feed {number} story {t}: harbour works advance</title>"
        f"<link>http://127.0.0.1/feed{number}/story{t}</link>"
        f"<description>Story {t} of feed {number}.</description>"
        f"<pubDate>{time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(t * every))}"
        "</pubDate></item>"
        for t in range(tick, tick - items, -1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Fault feed {number}</title><link>http://127.0.0.1/</link>{entries}"
        "</channel></rss>"
    ).encode()


def _ok(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    tick = int(time.time() / server.rotate)
    tag = f'"{number}-{tick}"'
    if f"if-none-match: {tag}".encode() in request.lower():
        conn.sendall(_response("304 Not Modified", {"ETag": tag}))
        return
    body = feed(number, tick, every=server.rotate)
    conn.sendall(_response("200 OK", {"Content-Type": "application/rss+xml", "ETag": tag}, body))


def _fixed(status: str, headers: dict[str, str]) -> Callable[..., None]:
    def answer(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
        conn.sendall(_response(status, headers))

    return answer


def _driphead(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    head = _response("200 OK", {"Content-Type": "application/rss+xml"}, b"")
    server._trickle(conn, head.replace(b"Content-Length: 0", b"X-Padding: " + b"x" * 4096))


def _dripbody(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    body = feed(number, 1) * 100
    head = _response("200 OK", {"Content-Type": "application/rss+xml"}, b"")
    conn.sendall(head.replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode()))
    server._trickle(conn, body)


def _truncated(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    body = feed(number, 1)
    head = _response("200 OK", {"Content-Type": "application/rss+xml"}, b"")
    conn.sendall(head.replace(b"Content-Length: 0", b"Content-Length: 20000"))
    conn.sendall(body[: len(body) // 2])


def _garbage(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    noise = random.Random(number).randbytes(4096)
    conn.sendall(_response("200 OK", {"Content-Type": "application/rss+xml"}, noise))


def _reset(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    # SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _loop(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    other = number + 1 if number % 2 == 0 else number - 1
    conn.sendall(_response("302 Found", {"Location": f"/loop/{other}"}))


def _bighead(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    conn.sendall(_response("200 OK", {"X-Big": "b" * 70 * 1024}, feed(number, 1)))


def _slow(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    server._held(conn)


def _not_found(server: FaultServer, conn: socket.socket, number: int, request: bytes) -> None:
    conn.sendall(_response("404 Not Found", {}))


_ANSWERS: dict[str, Callable[[FaultServer, socket.socket, int, bytes], None]] = {
    "ok": _ok,
    "e500": _fixed("500 Internal Server Error", {}),
    "r429": _fixed("429 Too Many Requests", {"Retry-After": "99999999999999999999"}),
    "r503": _fixed("503 Service Unavailable", {"Retry-After": "86400000000000"}),
    "rdate": _fixed(
        "503 Service Unavailable",
        {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT", "Date": "Mon, 01 Jan 1990 00:00:00 GMT"},
    ),
    "driphead": _driphead,
    "dripbody": _dripbody,
    "truncated": _truncated,
    "garbage": _garbage,
    "reset": _reset,
    "loop": _loop,
    "bighead": _bighead,
    "slow": _slow,
}
