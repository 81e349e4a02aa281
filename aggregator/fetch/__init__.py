"""URL + validators -> FetchResult. The only package that imports requests.

One ``Fetcher`` holds one ``requests.Session`` (pooled connections) for a whole pass and is
called from the collector's worker threads. Politeness: a User-Agent naming Wiredesk, gzip
and deflate, conditional GET, at most ``per_host`` requests at once to one host, redirects
followed by hand (bounded, http(s) only). Safety: ``timeout`` is a deadline for the whole
fetch, not per read (requests' own timeout would let a server drip a byte a second
forever): ``deadline`` holds every socket read of the status line, headers and body to
it. The body is read in bounded chunks counted *after* decompression, so a gzip bomb is
refused after ``max_bytes`` instead of being inflated into memory.

The one-line message of each failure is worded by ``messages``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from aggregator import __version__
from aggregator.config import FetchConfig
from aggregator.errors import FetchAbandoned, FetchError
from aggregator.fetch.adapter import DeadlineAdapter
from aggregator.fetch.deadline import Cutoff, Deadline, bounded_by
from aggregator.fetch.messages import (
    network_message,
    read_message,
    retry_after,
    size,
    status_message,
)
from aggregator.fetch.prepare import Preparer
from aggregator.models import FetchResult

DEFAULT_USER_AGENT = (
    f"Wiredesk/{__version__} (RSS/Atom aggregator; python-requests/{requests.__version__})"
)
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_CHUNK = 64 * 1024
_SLOT_POLL_SECONDS = 0.25


class Fetcher:
    """Fetches feeds over one pooled HTTP session; safe to share between threads."""

    def __init__(self, settings: FetchConfig, *, user_agent: str = DEFAULT_USER_AGENT) -> None:
        """Open a session whose connection pool fits ``settings.workers`` threads."""
        self._settings = settings
        self._session = requests.Session()
        adapter = DeadlineAdapter(
            pool_connections=settings.workers, pool_maxsize=settings.workers, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate", "Accept": _ACCEPT}
        )
        self._prepare = Preparer(self._session)
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._hosts_lock = threading.Lock()
        self._cutoff = Cutoff()

    def __enter__(self) -> Fetcher:
        """Use the fetcher as a context manager that closes it on exit."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the session."""
        self.close()

    def close(self) -> None:
        """Close the session and its pooled connections."""
        self._session.close()

    def fetch(
        self,
        source: str,
        url: str,
        *,
        etag: str = "",
        last_modified: str = "",
        timeout: float,
    ) -> FetchResult:
        """GET ``url`` for ``source``, sending ``etag``/``last_modified`` as validators.

        ``timeout`` (seconds) bounds the whole fetch, redirects included; it starts once
        the first host has a free slot. Returns a FetchResult: status 304 with no body
        when the validators still match (the validators sent are kept when the 304 does
        not repeat them), else 2xx with the decoded body, its final URL and
        ``permanent_url`` when every redirect on the way was 301/308.
        Raises FetchError for network failures, the deadline, an error status (``status``
        set; ``retry_after`` in seconds for 429/503 with Retry-After), too many or
        non-http(s) redirects, and a body over ``max_bytes``; FetchAbandoned when ``refuse``
        or ``cut`` stopped it.
        """
        try:
            return self._fetch(source, url, etag=etag, last_modified=last_modified, timeout=timeout)
        except FetchAbandoned:
            raise
        except FetchError as e:
            if self._cutoff.is_cut:
                raise FetchAbandoned(source, "cut short: Wiredesk is stopping") from e
            raise

    def refuse(self) -> None:
        """Start no more fetches: those waiting for a host slot, and any asked for later,
        raise FetchAbandoned. Running ones go on (``cut`` ends them)."""
        self._cutoff.refuse()

    def cut(self) -> None:
        """End every running fetch now (FetchAbandoned), and start no more."""
        self._cutoff.cut()

    def _fetch(
        self, source: str, url: str, *, etag: str, last_modified: str, timeout: float
    ) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline: Deadline | None = None
        seen = {url}
        permanent = True
        for _hop in range(self._settings.max_redirects + 1):
            with self._host_slot(source, url):
                deadline = deadline or Deadline(
                    source, timeout, time.monotonic() + timeout, self._cutoff
                )
                with bounded_by(deadline):
                    response = self._send(url, headers, deadline)
                    try:
                        if response.status_code not in _REDIRECTS:
                            moved = url if permanent and len(seen) > 1 else ""
                            result = self._result(response, deadline, moved)
                            # Read to the end: the connection goes back to the pool for the
                            # next feed on this host (requests' close() would drop it).
                            response.raw.release_conn()
                            return result
                    finally:
                        response.close()
            permanent = permanent and response.status_code in _PERMANENT
            url = _redirect_target(source, response)
            if url in seen:
                raise FetchError(source, f"redirect loop at {url}")
            seen.add(url)
        raise FetchError(
            source,
            f"too many redirects (more than {self._settings.max_redirects}), last to {url}",
        )

    def ping_hub(self, hub: str, urls: Sequence[str], *, timeout: float) -> None:
        """Tell the WebSub ``hub`` that ``urls`` changed (one publish ping for all).

        Returns when the hub answered 2xx; raises FetchError naming the hub otherwise.
        """
        form = [("hub.mode", "publish"), *(("hub.url", url) for url in urls)]
        try:
            response = self._session.post(
                hub, data=form, timeout=timeout, allow_redirects=False, stream=True
            )
        except requests.RequestException as e:
            raise FetchError(hub, network_message(e, hub, timeout)) from e
        response.close()
        if not response.ok:
            raise FetchError(hub, status_message(response, None), status=response.status_code)

    @contextmanager
    def _host_slot(self, source: str, url: str) -> Iterator[None]:
        host = urlsplit(url).netloc.lower()
        slot = self._hosts.get(host)
        if slot is None:  # a semaphore (and its condition) made only for a host's first fetch
            with self._hosts_lock:
                slot = self._hosts.setdefault(
                    host, threading.BoundedSemaphore(self._settings.per_host)
                )
        # Waiting in short steps: a stop must keep a queued fetch from ever starting.
        while not self._cutoff.refused.is_set():
            if slot.acquire(timeout=_SLOT_POLL_SECONDS):
                try:
                    yield
                finally:
                    slot.release()
                return
        raise FetchAbandoned(source, "not started: Wiredesk is stopping")

    def _send(self, url: str, headers: Mapping[str, str], deadline: Deadline) -> requests.Response:
        """``session.get(url, headers=headers, stream=True, allow_redirects=False)``, as
        ``prepare`` makes it cheap: through the session's adapter, with no per-request
        look at the environment."""
        remaining = deadline.remaining()
        try:
            route = self._prepare.route(url)
            request = self._prepare.get(url, headers, route)
            response = self._session.get_adapter(str(request.url)).send(
                request,
                stream=True,
                timeout=(remaining, remaining),
                verify=route.verify,
                proxies=route.proxies,
            )
        except requests.RequestException as e:
            raise FetchError(deadline.source, network_message(e, url, deadline.timeout)) from e
        self._prepare.keep_cookies(request, response)
        return response

    def _result(
        self, response: requests.Response, deadline: Deadline, permanent_url: str
    ) -> FetchResult:
        headers = dict(response.headers.lower_items())
        status = response.status_code
        if status != 304 and not 200 <= status < 300:
            retry = retry_after(headers) if status in _RETRY_AFTER_STATUSES else None
            raise FetchError(
                deadline.source, status_message(response, retry), status=status, retry_after=retry
            )
        content = b"" if status == 304 else self._read(response, deadline)
        request = response.request.headers
        return FetchResult(
            url=response.url,
            status=status,
            content=content,
            headers=headers,
            etag=headers.get("etag") or (request.get("If-None-Match", "") if status == 304 else ""),
            last_modified=headers.get("last-modified")
            or (request.get("If-Modified-Since", "") if status == 304 else ""),
            permanent_url=permanent_url,
        )

    def _read(self, response: requests.Response, deadline: Deadline) -> bytes:
        """The decoded body, read one socket read at a time against the deadline and cap."""
        cap = self._settings.max_bytes
        too_big = FetchError(deadline.source, f"response over the {size(cap)} cap")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_big
        raw = response.raw
        body = bytearray()
        try:
            while True:
                # read1 returns after one socket read and inflates at most _CHUNK bytes.
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    return bytes(body)
                body += chunk
                if len(body) > cap:
                    raise too_big
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise FetchError(
                deadline.source, read_message(e, response.url, deadline.timeout)
            ) from e


def _redirect_target(source: str, response: requests.Response) -> str:
    location = response.headers.get("location", "").strip()
    if not location:
        raise FetchError(source, f"HTTP {response.status_code} redirect without a Location")
    target = urljoin(response.url, location)
    if urlsplit(target).scheme not in ("http", "https"):
        raise FetchError(source, f"redirected to a non-HTTP URL ({target})")
    return target
