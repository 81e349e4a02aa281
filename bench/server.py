"""The workload's feeds over HTTP on 127.0.0.1, the way a well-behaved publisher serves
them: ETag and Last-Modified on every answer, 304 to a matching If-None-Match (or, when
that header is absent, to an If-Modified-Since not older than the feed).

Threaded, with a cap on simultaneous connections and an idle timeout, so a run of the
benchmark can neither pile up threads nor hang on close.
"""

from __future__ import annotations

import threading
from collections import Counter
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from bench.workload import Feed, Workload

MAX_CONNECTIONS = 64
IDLE_SECONDS = 10


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 drops SYNs from 16 parallel fetchers, and each
    # dropped SYN costs the client a 1 s retransmit: a stall that is ours, not the client's.
    request_queue_size = 256

    def __init__(self, feeds: dict[str, Feed]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.feeds = feeds
        self.counts: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        # Waiting for a free slot here holds back accept(): the cap is on connections.
        self.slots.acquire()
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS
    server: _Server

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        feed = self.server.feeds.get(self.path.split("?", 1)[0])
        validators = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if feed is None:
            status, body = 404, b"not found\n"
        elif _not_modified(feed, *validators):
            status, body = 304, b""
        else:
            status, body = 200, feed.body
        with self.server.lock:
            self.server.counts[status] += 1
        self.send_response(status)
        if feed is not None:
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", feed.last_modified)
        if status != 304:
            kind = "application/rss+xml" if feed and feed.kind == "rss" else "application/atom+xml"
            self.send_header("Content-Type", f"{kind}; charset=utf-8" if feed else "text/plain")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body and body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the benchmark counts requests instead of logging them."""


def _not_modified(feed: Feed, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or feed.etag in tags
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return parsedate_to_datetime(feed.last_modified) <= since


class FeedServer:
    """Serves a workload's feeds at ``http://127.0.0.1:PORT/feed-NNNN.xml`` from memory.

    Use as a context manager; ``serve`` swaps in another version of the workload between
    passes, and ``counts`` tells how many answers of each status were sent.
    """

    def __init__(self, workload: Workload) -> None:
        self._server = _Server(self._index(workload))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, feed: Feed) -> str:
        """The absolute URL of one feed."""
        return self.base_url + feed.path

    def serve(self, workload: Workload) -> None:
        """Answer from now on with this version of the workload."""
        self._server.feeds = self._index(workload)

    def counts(self) -> dict[int, int]:
        """How many answers of each HTTP status were sent since the last reset."""
        with self._server.lock:
            return dict(self._server.counts)

    def reset_counts(self) -> None:
        """Start counting answers from zero."""
        with self._server.lock:
            self._server.counts.clear()

    def close(self) -> None:
        """Stop accepting, and release the socket; idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=IDLE_SECONDS)
        self._server.server_close()

    @staticmethod
    def _index(workload: Workload) -> dict[str, Feed]:
        return {feed.path: feed for feed in workload.feeds}
