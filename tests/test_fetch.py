"""Fetcher against real servers on 127.0.0.1: formats, validators, redirects, statuses,
deadlines, size caps, a gzip bomb and the per-host limit."""

from __future__ import annotations

import gzip
import http.server
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytest_httpserver import HTTPServer

from aggregator import __version__
from aggregator.config import FetchConfig
from aggregator.errors import FetchAbandoned, FetchError, ParseError
from aggregator.fetch import Fetcher
from aggregator.parse import parse_feed

if TYPE_CHECKING:
    from requests import PreparedRequest

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
RSS = (FEEDS / "rss20.xml").read_bytes()
MB = 1024 * 1024
BOUND = 15  # seconds: a liveness bound on a fetch that must end, not a benchmark


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchConfig(max_bytes=MB, max_redirects=3)) as f:
        yield f


def serve_feed(httpserver: HTTPServer, path: str = "/feed", **headers: str) -> str:
    httpserver.expect_request(path).respond_with_data(
        RSS, content_type="application/rss+xml", headers=headers
    )
    return httpserver.url_for(path)


def redirect(httpserver: HTTPServer, path: str, to: str, status: int) -> str:
    httpserver.expect_request(path).respond_with_data("", status=status, headers={"Location": to})
    return httpserver.url_for(path)


@contextmanager
def raw_server(head: bytes, *, drip: bool = False) -> Iterator[str]:
    """A one-connection HTTP server that sends ``head`` and then, with ``drip``, one more
    byte every 0.2 s; it holds the connection open until the test is done with it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    done = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            conn.sendall(head)
            while not done.wait(0.2 if drip else 10):
                try:
                    conn.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed"
    finally:
        done.set()
        listener.close()
        thread.join(5)


@pytest.mark.parametrize(
    ("name", "ctype", "count"),
    [
        ("rss091.xml", "text/xml", 2),
        ("rss20.xml", "application/rss+xml", 2),
        ("rss10.rdf", "application/rdf+xml", 1),
        ("atom10.xml", "application/atom+xml; charset=utf-8", 2),
    ],
)
def test_fetches_and_parses_every_format(
    httpserver: HTTPServer, fetcher: Fetcher, name: str, ctype: str, count: int
) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        (FEEDS / name).read_bytes(), content_type=ctype
    )
    result = fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)
    assert result.status == 200
    assert result.headers["content-type"] == ctype
    parsed = parse_feed("desk", result, now=NOW)
    assert len(parsed.articles) == count
    assert all(a.title and a.source == "desk" for a in parsed.articles)


def test_sends_user_agent_and_accepts_compression(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        gzip.compress(RSS), headers={"Content-Encoding": "gzip"}
    )
    result = fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)
    assert result.content == RSS
    request = httpserver.log[0][0]
    assert f"Wiredesk/{__version__}" in request.headers["User-Agent"]
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert "If-None-Match" not in request.headers


def test_conditional_get_round_trip(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    stamp = "Wed, 01 May 2024 10:00:00 GMT"
    httpserver.expect_request("/feed", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    url = serve_feed(httpserver, ETag='"v1"', **{"Last-Modified": stamp})
    first = fetcher.fetch("desk", url, timeout=5)
    assert (first.status, first.etag, first.last_modified) == (200, '"v1"', stamp)
    second = fetcher.fetch(
        "desk", url, etag=first.etag, last_modified=first.last_modified, timeout=5
    )
    assert second.not_modified and second.content == b""
    # a 304 that does not repeat the validators keeps the ones sent
    assert (second.etag, second.last_modified) == ('"v1"', stamp)
    sent = httpserver.log[1][0].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == stamp


@pytest.mark.parametrize("statuses", [(301,), (308,), (301, 308)])
def test_permanent_redirects_set_permanent_url(
    httpserver: HTTPServer, fetcher: Fetcher, statuses: tuple[int, ...]
) -> None:
    final = serve_feed(httpserver, "/new")
    url = final
    for hop, status in enumerate(reversed(statuses)):
        url = redirect(httpserver, f"/old{hop}", url, status)
    result = fetcher.fetch("desk", url, timeout=5)
    assert result.url == result.permanent_url == final
    assert result.content == RSS


@pytest.mark.parametrize("statuses", [(302,), (307,), (301, 302)])
def test_temporary_redirects_do_not(
    httpserver: HTTPServer, fetcher: Fetcher, statuses: tuple[int, ...]
) -> None:
    url = serve_feed(httpserver, "/now")
    for hop, status in enumerate(reversed(statuses)):
        url = redirect(httpserver, f"/old{hop}", url, status)
    result = fetcher.fetch("desk", url, timeout=5)
    assert result.url == httpserver.url_for("/now")
    assert result.permanent_url == ""


def test_redirect_loop(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    redirect(httpserver, "/a", "/b", 302)
    redirect(httpserver, "/b", "/a", 301)
    with pytest.raises(FetchError, match=r"^desk: redirect loop at http://.*/a$"):
        fetcher.fetch("desk", httpserver.url_for("/a"), timeout=5)


def test_too_many_redirects(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    for hop in range(5):
        redirect(httpserver, f"/{hop}", f"/{hop + 1}", 302)
    with pytest.raises(FetchError, match=r"^desk: too many redirects \(more than 3\)"):
        fetcher.fetch("desk", httpserver.url_for("/0"), timeout=5)
    assert len(httpserver.log) == 4


def test_redirect_to_another_scheme_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    url = redirect(httpserver, "/feed", "file:///etc/passwd", 301)
    with pytest.raises(FetchError, match=r"non-HTTP URL \(file:///etc/passwd\)"):
        fetcher.fetch("desk", url, timeout=5)


def test_gone(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data("", status=410)
    with pytest.raises(FetchError, match=r"^desk: HTTP 410 Gone$") as caught:
        fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)
    assert caught.value.status == 410 and caught.value.retry_after is None


def test_too_many_requests_with_retry_after_seconds(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(
        FetchError, match=r"^desk: HTTP 429 Too Many Requests \(retry in 2m\)$"
    ) as e:
        fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)
    assert (e.value.status, e.value.retry_after) == (429, 120.0)


def test_unavailable_with_retry_after_date(fetcher: Fetcher) -> None:
    head = (
        b"HTTP/1.1 503 Service Unavailable\r\nDate: Wed, 01 May 2024 10:00:00 GMT\r\n"
        b"Retry-After: Wed, 01 May 2024 10:05:00 GMT\r\nContent-Length: 0\r\n\r\n"
    )
    with (
        raw_server(head) as url,
        pytest.raises(FetchError, match=r"^desk: HTTP 503 Service Unavailable") as caught,
    ):
        fetcher.fetch("desk", url, timeout=5)
    # measured from the server's Date, so our clock does not matter
    assert (caught.value.status, caught.value.retry_after) == (503, 300.0)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("99999999999999999999", 86400.0),  # 1e20 s overflowed timedelta
        ("9" * 400, 86400.0),  # float() of it is inf
        ("Fri, 31 Dec 9999 23:59:59 GMT", 86400.0),  # far future
        ("Mon, 01 Jan 1990 00:00:00 GMT", 0.0),  # in the past
        ("Mon, 01 Jan 99999999999999999999 00:00:00 GMT", None),  # a year no datetime holds
        ("\u00b2", None),  # str.isdigit() says yes, float() says no
    ],
)
def test_retry_after_is_clamped_to_the_backoff_cap(
    retry_after: str, expected: float | None
) -> None:
    from aggregator.fetch.messages import retry_after as read_retry_after

    headers = {"retry-after": retry_after, "date": "Wed, 01 May 2024 10:00:00 GMT"}
    assert read_retry_after(headers) == expected


def test_an_absurd_retry_after_reads_as_a_day(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "", status=503, headers={"Retry-After": "99999999999999999999"}
    )
    with pytest.raises(
        FetchError, match=r"^desk: HTTP 503 Service Unavailable \(retry in 24.0h\)$"
    ):
        fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)


def test_server_error_then_recovery(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_oneshot_request("/feed").respond_with_data("boom", status=500)
    url = serve_feed(httpserver)
    with pytest.raises(FetchError, match=r"^desk: HTTP 500 Internal Server Error$") as caught:
        fetcher.fetch("desk", url, timeout=5)
    assert caught.value.status == 500
    assert fetcher.fetch("desk", url, timeout=5).content == RSS


def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/feed"
    with pytest.raises(
        FetchError, match=r"^desk: connection refused \(http://127\.0\.0\.1:\d+/feed\)$"
    ):
        fetcher.fetch("desk", url, timeout=5)


def test_read_timeout(fetcher: Fetcher) -> None:
    # A listener that never accepts: the connection completes, no answer ever comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/feed"
        with pytest.raises(FetchError, match=r"^desk: timed out after 0.5s$"):
            fetcher.fetch("desk", url, timeout=0.5)


def test_dripping_server_hits_the_total_deadline(fetcher: Fetcher) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n"
    with raw_server(head, drip=True) as url:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"^desk: timed out after 1s$"):
            fetcher.fetch("desk", url, timeout=1)
    # loose: dripping the whole body would take 200 s
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\nX-Drip: ", b"HTTP/1.1 200 OK"],
    ids=["headers", "status line"],
)
def test_dripped_status_line_and_headers_hit_the_total_deadline(
    fetcher: Fetcher, head: bytes
) -> None:
    # Each byte arrives well within any per-read timeout; only a total deadline ends it.
    outcome: list[BaseException] = []

    def fetch(url: str) -> None:
        try:
            fetcher.fetch("desk", url, timeout=1)
        except FetchError as e:
            outcome.append(e)

    with raw_server(head, drip=True) as url:
        worker = threading.Thread(target=fetch, args=(url,), daemon=True)
        worker.start()
        worker.join(15)  # liveness bound: dripping a 64 KB header line takes hours
        assert not worker.is_alive(), "the fetch outlived its deadline"
    assert [str(e) for e in outcome] == ["desk: timed out after 1s"]


def test_a_refused_fetcher_starts_no_fetch(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(RSS)
    with Fetcher(FetchConfig()) as fetcher:
        fetcher.refuse()
        with pytest.raises(FetchAbandoned, match=r"^desk: not started: Wiredesk is stopping$"):
            fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)
    assert httpserver.log == []


def test_a_cut_ends_a_running_fetch_long_before_its_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n"
    outcome: list[BaseException] = []
    with Fetcher(FetchConfig()) as fetcher, raw_server(head, drip=True) as url:

        def fetch() -> None:
            try:
                fetcher.fetch("desk", url, timeout=60)
            except FetchError as e:
                outcome.append(e)

        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        worker.join(0.5)  # reading the dripped body by now
        fetcher.cut()
        worker.join(BOUND)
        assert not worker.is_alive(), "the cut fetch ran on"
    assert [type(e) for e in outcome] == [FetchAbandoned]
    assert str(outcome[0]) in (
        "desk: cut short: Wiredesk is stopping",
        "desk: not started: Wiredesk is stopping",  # only if this machine is very slow
    )


def test_body_over_the_cap_while_streaming(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(RSS * 2000)  # about 4 MB
    with pytest.raises(FetchError, match=r"^desk: response over the 1 MB cap$"):
        fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)


def test_content_length_over_the_cap_is_refused_before_reading(fetcher: Fetcher) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\n"
    with raw_server(head) as url, pytest.raises(FetchError, match=r"over the 1 MB cap$"):
        fetcher.fetch("desk", url, timeout=5)


def gzip_bomb(size: int) -> bytes:
    """A valid gzip of ``size`` bytes of zeros, about size/1000 long, built without
    compressing them all: after a full flush every further megabyte compresses the same."""
    block = bytes(MB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeat = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // MB):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + first + repeat * (size // MB - 1) + deflate.flush() + trailer


def test_gzip_bomb_is_refused_with_bounded_memory(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    bomb = gzip_bomb(1024 * MB)
    assert len(bomb) < 2 * MB
    httpserver.expect_request("/feed").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=r"^desk: response over the 1 MB cap$"):
            fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * MB  # inflating it would take 1 GB


def test_html_page_instead_of_a_feed(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "<!doctype html><html><body><h1>Welcome</h1></body></html>",
        content_type="text/html; charset=utf-8",
    )
    result = fetcher.fetch("desk", httpserver.url_for("/feed"), timeout=5)
    with pytest.raises(ParseError, match=r"^desk: not a feed: the server sent an HTML page$"):
        parse_feed("desk", result, now=NOW)


def test_at_most_per_host_requests_at_once() -> None:
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    listener.settimeout(10)
    lock, active, peak = threading.Lock(), [0], [0]
    third = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
                if active[0] > 2:
                    third.set()
            third.wait(0.3)  # bounded: give a third request the chance to arrive
            with lock:
                active[0] -= 1
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def serve() -> None:
        for _ in range(4):
            conn, _ = listener.accept()
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/feed"
    with (
        Fetcher(FetchConfig(workers=4, per_host=2)) as fetcher,
        ThreadPoolExecutor(4) as pool,
    ):
        results = list(pool.map(lambda i: fetcher.fetch(f"s{i}", url, timeout=10), range(4)))
    server.join(5)
    listener.close()
    assert [r.content for r in results] == [b"ok"] * 4
    assert peak[0] == 2


def test_ping_hub(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    urls = ["http://feeds.example/all.rss", "http://feeds.example/all.atom"]
    fetcher.ping_hub(httpserver.url_for("/hub"), urls, timeout=5)
    form = httpserver.log[0][0].form
    assert form["hub.mode"] == "publish"
    assert form.getlist("hub.url") == urls


def test_ping_hub_failure(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("no", status=400)
    hub = httpserver.url_for("/hub")
    with pytest.raises(FetchError, match=r"^http://.*/hub: HTTP 400 Bad Request$"):
        fetcher.ping_hub(hub, ["http://feeds.example/all.rss"], timeout=5)


@contextmanager
def keep_alive_server() -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server on 127.0.0.1 that answers every GET with the RSS fixture (304
    when If-None-Match matches) and records the client port of each request."""
    ports: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            fresh = self.headers.get("If-None-Match") == '"v1"'
            self.send_response(304 if fresh else 200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", "0" if fresh else str(len(RSS)))
            self.end_headers()
            if not fresh:
                self.wfile.write(RSS)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/feed", ports
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_connections_are_kept_alive_between_fetches(fetcher: Fetcher) -> None:
    with keep_alive_server() as (url, ports):
        first = fetcher.fetch("desk", url, timeout=5)
        second = fetcher.fetch("desk", url, etag=first.etag, timeout=5)
        third = fetcher.fetch("desk", url + "?other", timeout=5)
    assert (first.status, second.status, third.status) == (200, 304, 200)
    assert third.content == RSS
    assert len(ports) == 3 and len(set(ports)) == 1, "each fetch opened a new connection"


def test_the_environment_s_proxy_carries_every_host_no_proxy_leaves_out(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One server is both the proxy and the feed: a request that came through the proxy
    # names the whole URL, one that came straight names only the path.
    httpserver.expect_request("/rss").respond_with_data(RSS)
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("NO_PROXY", "localhost")
    with Fetcher(FetchConfig()) as fetcher:
        for _ in range(2):  # the second time from what the fetcher remembers of each host
            fetcher.fetch("desk", "http://feeds.example/rss", timeout=5)
            fetcher.fetch("desk", httpserver.url_for("/rss"), timeout=5)
    asked = [request.environ["REQUEST_URI"] for request, _ in httpserver.log]
    assert asked == ["http://feeds.example/rss", "/rss"] * 2


def test_a_cookie_a_feed_sets_is_sent_back_to_it(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_ordered_request("/rss").respond_with_data(
        RSS, headers={"Set-Cookie": "seen=1; Path=/"}
    )
    httpserver.expect_ordered_request("/rss").respond_with_data(RSS)
    for _ in range(2):
        fetcher.fetch("desk", httpserver.url_for("/rss"), timeout=5)
    assert [request.headers.get("Cookie") for request, _ in httpserver.log] == [None, "seen=1"]


def test_a_response_that_sets_no_cookie_skips_requests_look_for_cookies(
    httpserver: HTTPServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests.adapters

    looks: list[object] = []
    look = requests.adapters.extract_cookies_to_jar

    def counted(jar: object, request: object, response: object) -> None:
        looks.append(response)
        look(jar, request, response)  # type: ignore[arg-type]

    monkeypatch.setattr(requests.adapters, "extract_cookies_to_jar", counted)
    httpserver.expect_ordered_request("/rss").respond_with_data(RSS, headers={"ETag": '"v1"'})
    httpserver.expect_ordered_request("/rss").respond_with_data(
        RSS, headers={"Set-Cookie": "seen=1; Path=/"}
    )
    url = httpserver.url_for("/rss")
    first = fetcher.fetch("desk", url, timeout=5)
    second = fetcher.fetch("desk", url, timeout=5)
    assert (first.status, first.etag, first.content, second.status) == (200, '"v1"', RSS, 200)
    assert len(looks) == 1  # only for the response that set one


# Each response gets a cookie jar of its own; every other attribute of the two must match
# (``raw`` and ``connection`` too: both are built from one urllib3 response by one adapter).
OWN_PER_RESPONSE = ("cookies",)


@pytest.mark.parametrize("status", [200, 304])
def test_a_response_without_cookies_is_built_as_requests_builds_it(
    httpserver: HTTPServer, status: int
) -> None:
    import requests
    from requests.adapters import HTTPAdapter

    from aggregator.fetch.adapter import DeadlineAdapter

    built: list[tuple[dict[str, object], dict[str, object]]] = []

    class Both(DeadlineAdapter):
        def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
            ours = super().build_response(req, resp)
            built.append(
                (dict(vars(ours)), dict(vars(HTTPAdapter.build_response(self, req, resp))))
            )
            return ours

    httpserver.expect_request("/rss").respond_with_data(
        RSS if status == 200 else b"", status=status, headers={"ETag": '"v1"'}
    )
    with requests.Session() as session:
        session.mount("http://", Both())
        assert session.get(httpserver.url_for("/rss"), stream=True).status_code == status
    [(ours, theirs)] = built
    for name in OWN_PER_RESPONSE:
        assert list(ours.pop(name)) == list(theirs.pop(name)) == []
    assert ours == theirs


POOL_URLS = (
    "http://example.org/a.xml",
    "http://EXAMPLE.org:8080/b.xml?x=1",
    "https://example.org/a.xml",
    "https://user:pw@example.net:8443/c",
    "http://[::1]:9000/d",
)


def test_pool_keys_are_requests_own_for_every_origin_and_tls_option(tmp_path: Path) -> None:
    from requests.adapters import HTTPAdapter

    from aggregator.fetch.adapter import DeadlineAdapter

    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    folder = tmp_path / "certs"
    folder.mkdir()
    verifies: list[bool | str] = [True, False, str(bundle), str(folder)]
    certs: list[str | tuple[str, str] | None] = [None, "client.pem", ("client.crt", "client.key")]
    ours, theirs = DeadlineAdapter(), HTTPAdapter()
    for _round in range(2):  # the second round is answered from the cache
        for url in POOL_URLS:
            request = requests_get(url)
            for verify in verifies:
                for cert in certs:
                    expected = theirs.build_connection_pool_key_attributes(request, verify, cert)
                    got = ours.build_connection_pool_key_attributes(request, verify, cert)
                    assert got == expected
                    got[0]["host"] = "elsewhere"  # urllib3's to change: the cache keeps its own
                    got[1].clear()
    host, pool = ours.build_connection_pool_key_attributes(requests_get(POOL_URLS[3]), str(folder))
    assert host == {"scheme": "https", "host": "example.net", "port": 8443}
    assert pool == {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": str(folder)}


def test_a_direct_get_s_pool_is_the_one_requests_picks_for_every_origin_and_tls_option(
    tmp_path: Path,
) -> None:
    from aggregator.fetch.adapter import DeadlineAdapter

    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    verifies: list[bool | str] = [True, False, str(bundle), str(tmp_path)]
    certs: list[str | tuple[str, str] | None] = [None, "client.pem", ("client.crt", "client.key")]
    adapter = DeadlineAdapter()
    for _round in range(2):  # the second round from the keys kept, after the pools went
        for url in POOL_URLS:
            request = requests_get(url)
            for verify in verifies:
                for cert in certs:
                    theirs = adapter.get_connection_with_tls_context(request, verify, None, cert)
                    assert adapter._direct_pool(request, verify, cert) is theirs
        adapter.poolmanager.clear()


def test_a_ca_bundle_s_kind_is_looked_up_once_per_origin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os.path

    from aggregator.fetch.adapter import DeadlineAdapter

    looked: list[str] = []
    isdir = os.path.isdir

    def counted(path: str) -> bool:
        looked.append(path)
        return isdir(path)

    monkeypatch.setattr(os.path, "isdir", counted)
    adapter = DeadlineAdapter()
    for url in ("http://example.org/a", "http://example.org/b", "http://example.net/a"):
        for _fetch in range(3):
            adapter.build_connection_pool_key_attributes(requests_get(url), str(tmp_path))
    assert looked == [str(tmp_path)] * 2  # once for example.org, once for example.net


def requests_get(url: str) -> PreparedRequest:
    """``url``'s GET, prepared as requests prepares it."""
    import requests

    return requests.Request("GET", url).prepare()


def test_request_headers_copy_whole_and_stay_apart() -> None:
    from aggregator.fetch.prepare import Headers

    headers = Headers({"User-Agent": "Wiredesk", "Accept": "*/*"})
    copied = headers.copy()
    copied["accept"] = "text/xml"
    assert isinstance(copied, Headers) and copied["ACCEPT"] == "text/xml"
    assert dict(headers) == {"User-Agent": "Wiredesk", "Accept": "*/*"}
    assert list(copied) == ["User-Agent", "accept"]


def test_a_host_keeps_its_slots_across_its_fetches(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    url = serve_feed(httpserver)
    assert fetcher.fetch("desk", url, timeout=5).status == 200
    [slots] = fetcher._hosts.values()
    for _ in range(2):
        assert fetcher.fetch("desk", url, timeout=5).status == 200
    [kept] = fetcher._hosts.values()
    assert kept is slots
