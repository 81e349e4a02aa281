"""DeadlineAdapter's short way for a direct GET against requests' own ``HTTPAdapter.send``:
the same request on the wire, the same response, pool and errors, on a real 127.0.0.1
server; anything else (a proxy, a body, another method) goes requests' own way."""

from __future__ import annotations

import http.server
import pickle
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from aggregator.fetch.adapter import DeadlineAdapter

Wire = list[tuple[str, list[tuple[str, str]]]]  # request line, header lines in order
Send = Callable[..., requests.Response]

FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
ANSWERS: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {
    "/feed": (
        200,
        [("Content-Type", "application/rss+xml; charset=utf-8"), ("ETag", '"v1"')],
        FEED,
    ),
    "/fresh": (304, [("ETag", '"v1"'), ("Last-Modified", "Sat, 01 Jun 2024 00:00:00 GMT")], b""),
    "/cookie": (200, [("Set-Cookie", "seen=1; Path=/"), ("Set-Cookie", "b=2; Path=/")], FEED),
    "/moved": (301, [("Location", "/feed")], b""),
    "/gone": (410, [("Content-Type", "text/plain")], b"gone"),
}


@contextmanager
def recording_server() -> Iterator[tuple[str, Wire]]:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 answering ANSWERS by path (with a fixed
    Date), recording each request line and its header lines as they came."""
    wire: Wire = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            wire.append((self.requestline, list(self.headers.items())))
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers, body = ANSWERS.get(urlsplit(self.path).path, ANSWERS["/gone"])
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        do_POST = do_GET

        def date_time_string(self, timestamp: float | None = None) -> str:
            return "Sat, 01 Jun 2024 00:00:00 GMT"

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", wire
        finally:
            server.shutdown()  # returns once serve_forever has


@pytest.fixture
def adapter() -> Iterator[DeadlineAdapter]:
    made = DeadlineAdapter(max_retries=0)
    yield made
    made.close()


def prepared(url: str, **headers: str) -> requests.PreparedRequest:
    """``url``'s GET as a session prepares it, with ``headers`` on top."""
    with requests.Session() as session:
        return session.prepare_request(requests.Request("GET", url, headers=headers))


def both_ways(adapter: DeadlineAdapter) -> dict[str, Send]:
    """The adapter's own send (the short way for a direct GET) and requests' send on the
    same adapter."""
    return {"short": adapter.send, "requests": lambda *a, **k: HTTPAdapter.send(adapter, *a, **k)}


def seen(response: requests.Response) -> dict[str, object]:
    """Every attribute of ``response`` a caller can read, as comparable values."""
    fields = dict(vars(response))
    del fields["request"]  # each way's own (the test checks it is the one sent)
    raw = fields.pop("raw")
    jar = fields.pop("cookies")
    fields["content"] = response.content
    fields["headers"] = list(response.headers.items())
    fields["cookies"] = sorted((c.name, c.value, c.domain, c.path) for c in jar)
    fields["cookie jar type"] = type(jar)
    fields["raw"] = (type(raw), raw.status, list(raw.headers.items()), raw.reason, raw.version)
    fields["raw decodes"] = raw.decode_content
    return fields


@pytest.mark.parametrize(
    "path", ["/feed", "/fresh", "/cookie", "/moved", "/gone", "/feed?x=1&y=%C3%A9"]
)
def test_a_direct_get_sends_and_reads_what_requests_own_send_does(
    adapter: DeadlineAdapter, path: str
) -> None:
    got: dict[str, dict[str, object]] = {}
    with recording_server() as (base, wire):
        for way, send in both_ways(adapter).items():
            request = prepared(base + path, **{"If-None-Match": '"v1"', "User-Agent": "Wiredesk"})
            response = send(request, stream=True, timeout=(5, 5), verify=True, proxies={})
            got[way] = seen(response)
            assert response.request is request and response.connection is adapter
            response.close()
    assert got["short"] == got["requests"]
    assert wire[0] == wire[1]
    assert wire[0][0] == f"GET {path} HTTP/1.1"


def test_both_ways_share_one_pool_and_its_kept_connection(adapter: DeadlineAdapter) -> None:
    ports: list[int] = []
    with recording_server() as (base, _wire):
        for send in [*both_ways(adapter).values()] * 2:
            response = send(prepared(base + "/fresh"), stream=True, timeout=5)
            ports.append(response.raw.connection.sock.getsockname()[1])
            assert response.content == b""  # read to the end: the connection goes back
    assert len(set(ports)) == 1


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def silent_server() -> Iterator[int]:
    """A server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    ("scheme", "server", "verify", "error"),
    [
        ("http", "refused", True, requests.ConnectionError),
        ("http", "silent", True, requests.ReadTimeout),
        ("https", "plain", True, requests.exceptions.SSLError),
        ("https", "plain", "/nowhere/ca.pem", OSError),  # requests' check of the bundle
    ],
)
def test_a_failure_raises_what_requests_own_send_raises(
    adapter: DeadlineAdapter, scheme: str, server: str, verify: bool | str, error: type[Exception]
) -> None:
    raised: dict[str, tuple[type[BaseException], type[object], type[object]]] = {}
    with recording_server() as (base, _wire), silent_server() as silent:
        port = {"refused": refused_port(), "silent": silent, "plain": int(base.rsplit(":")[-1])}
        url = f"{scheme}://127.0.0.1:{port[server]}/feed"
        for way, send in both_ways(adapter).items():
            with pytest.raises(error) as caught:
                send(prepared(url), stream=True, timeout=(5, 0.2), verify=verify)
            inner = caught.value.args[0]
            raised[way] = (caught.type, type(inner), type(caught.value.__context__))
    assert raised["short"] == raised["requests"]


@pytest.mark.parametrize(
    ("method", "data", "proxied"),
    [("GET", None, True), ("POST", {"hub.mode": "publish"}, False), ("GET", b"a body", False)],
)
def test_a_proxied_route_or_another_request_goes_requests_own_way(
    adapter: DeadlineAdapter,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    data: Any,
    proxied: bool,
) -> None:
    sent: list[str] = []
    own = HTTPAdapter.send

    def counted(self: HTTPAdapter, request: requests.PreparedRequest, *a: Any, **k: Any) -> Any:
        sent.append(str(request.url))
        return own(self, request, *a, **k)

    monkeypatch.setattr(HTTPAdapter, "send", counted)
    with recording_server() as (base, wire):
        routes = {"http": base} if proxied else {}  # the server is its own proxy
        request = requests.Request(method, base + "/feed", data=data).prepare()
        adapter.send(request, stream=True, timeout=5, proxies=routes).close()
        adapter.send(prepared(base + "/feed"), stream=True, timeout=5, proxies={}).close()
    assert sent == [base + "/feed"]  # the direct GET after it went the short way
    assert wire[0][0].startswith(f"{method} {base}/feed " if proxied else f"{method} /feed ")


def test_an_unpickled_adapter_sends_both_ways(adapter: DeadlineAdapter) -> None:
    # requests' __setstate__ calls init_poolmanager, never __init__: the caches start there
    revived = pickle.loads(pickle.dumps(adapter))
    with recording_server() as (base, wire):
        for send in both_ways(revived).values():
            response = send(prepared(base + "/feed"), stream=True, timeout=5, proxies={})
            assert response.status_code == 200
            response.close()
    assert len(wire) == 2
    revived.close()
