"""requests' transport adapter for Wiredesk's fetches: the connection pools it builds read
every response under the fetch's deadline (``deadline``), and a bodiless GET on a route with
no proxy takes a short way through it, the same pool, urlopen call, errors and response as
``HTTPAdapter.send`` would give, for a sixth less of a 304's CPU; everything else goes
requests' own way.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import urllib3
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.exceptions import (
    ConnectionError,
    ConnectTimeout,
    InvalidHeader,
    InvalidURL,
    ProxyError,
    ReadTimeout,
    RequestException,
    RetryError,
    SSLError,
)
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool, port_by_scheme
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    URLSchemeUnknown,
)
from urllib3.exceptions import HTTPError as _HTTPError
from urllib3.exceptions import InvalidHeader as _InvalidHeader
from urllib3.exceptions import ProxyError as _ProxyError
from urllib3.exceptions import SSLError as _SSLError
from urllib3.poolmanager import PoolKey as PoolKeyTuple

from aggregator.fetch.deadline import DeadlineResponse
from aggregator.fetch.prepare import URLS_KEPT, origin

if TYPE_CHECKING:  # the types-requests stubs' names of the pool key's two halves
    from requests.adapters import _HostParams, _PoolKwargs


class _Connection(urllib3.connection.HTTPConnection):
    response_class = DeadlineResponse


class _TLSConnection(urllib3.connection.HTTPSConnection):
    response_class = DeadlineResponse


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


_POOLS = {"http": _Pool, "https": _TLSPool}


PoolKey = tuple["_HostParams", "_PoolKwargs"]
Cert = str | tuple[str, str] | None
# requests' ``timeout=`` as its stubs have it (urllib3's Timeout is taken too)
Timeouts = float | tuple[float, float] | tuple[float, None] | None


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections honour the deadline of ``bounded_by``."""

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Timeouts = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        """``HTTPAdapter.send``; a GET without a body on a route with no proxies goes the
        short way ``_send_direct`` takes."""
        if proxies or request.method != "GET" or request.body is not None:
            return super().send(request, stream, timeout, verify, cert, proxies)
        # a no-op, as in requests, unless a subclass adds headers there
        self.add_headers(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )
        # requests hands ``cert`` on as it is given; its pool key wants it as text
        return self._send_direct(request, timeout, verify, cast(Cert, cert))

    def _send_direct(
        self, request: PreparedRequest, timeout: Timeouts, verify: bool | str, cert: Cert
    ) -> Response:
        """What ``HTTPAdapter.send`` does for a bodiless GET sent straight to its host: the
        same pool, TLS settings, urlopen call, errors and response, without its two looks
        for a proxy (``select_proxy`` parses the URL each time) and its URL parsing: a
        tenth of a 304's CPU."""
        url = str(request.url)
        conn = self._direct_pool(request, verify, cert)
        self.cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        try:
            resp = conn.urlopen(
                method="GET",
                url=_path_url(url),
                body=None,
                headers=request.headers,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                retries=self.max_retries,
                timeout=_timeout(timeout),
                chunked=False,
            )
        except (ProtocolError, OSError, _HTTPError) as e:
            mapped = _requests_error(e, request)
            if mapped is e:
                raise
            raise mapped  # noqa: B904 (as requests raises it: the cause is its context)
        return self.build_response(request, resp)

    def _direct_pool(
        self, request: PreparedRequest, verify: bool | str, cert: Cert
    ) -> HTTPConnectionPool:
        """The pool manager's pool for ``request`` as ``get_connection_with_tls_context``
        finds it on a direct route, from a pool key worked out once per origin, TLS verify
        option and client certificate (urllib3 normalises a fresh key for every request:
        a twentieth of a 304's CPU). The manager is still asked for the pool each time:
        it may have closed it to make room for others."""
        key = (origin(str(request.url)), verify, cert)
        found = self._direct_keys.get(key)
        if found is None:
            found = self._direct_key(request, verify, cert)
            self._direct_keys[key] = found  # a race stores equal values twice: harmless
        pool_key, context = found
        manager: urllib3.PoolManager = self.poolmanager
        return manager.connection_from_pool_key(pool_key, request_context=dict(context))

    def _direct_key(
        self, request: PreparedRequest, verify: bool | str, cert: Cert
    ) -> tuple[PoolKeyTuple, dict[str, Any]]:
        """The pool key and request context ``PoolManager.connection_from_host`` makes for
        ``request``'s pool key attributes; raises InvalidURL where ``HTTPAdapter.send``
        would."""
        manager: urllib3.PoolManager = self.poolmanager
        try:
            host, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
            if not host["host"]:
                raise LocationValueError("No host specified.")
            context = manager._merge_pool_kwargs(dict(pool_kwargs))
            scheme = context["scheme"] = host["scheme"] or "http"
            port = host["port"]
            context["port"] = port_by_scheme.get(scheme.lower(), 80) if port is None else port
            context["host"] = host["host"]
            make_key = manager.key_fn_by_scheme.get(scheme.lower())
            if make_key is None:
                raise URLSchemeUnknown(scheme)
        except ValueError as e:  # LocationValueError and URLSchemeUnknown are ones
            raise InvalidURL(e, request=request)  # noqa: B904 (as requests raises it)
        return make_key(context), context

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: Cert = None
    ) -> PoolKey:
        """requests' pool key attributes of ``request``, worked out once per origin, TLS
        verify option (a CA bundle's path) and client certificate: requests works them
        out for every request, parsing its URL and, when ``verify`` is a CA bundle's path
        (``REQUESTS_CA_BUNDLE``), asking the disk whether it is a directory (a stat, which
        lets go of the GIL): ~0.7% of an all-304 pass's instructions. They are a function
        of those three alone; the path's kind is taken once per fetcher, as
        ``Preparer.route`` takes the environment's."""
        key = (origin(str(request.url)), verify, cert)
        found = self._pool_keys.get(key)
        if found is None:
            found = super().build_connection_pool_key_attributes(request, verify, cert)
            self._pool_keys[key] = found  # a race stores equal values twice: harmless
        host, pool = found
        return host.copy(), pool.copy()  # urllib3's to keep: copies, the cache stays as made

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """requests' response, as ``HTTPAdapter.build_response`` makes it, without its
        look for cookies when the server set none: that look (a mock request and response
        around the cookie jar, its lock, its policy) was a twentieth of a 304's CPU. The
        cookies a server sets go to the session's jar (``Preparer.keep_cookies``)."""
        if "set-cookie" in resp.headers:
            return super().build_response(req, resp)
        response = Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = str(req.url)
        response.request = req
        response.connection = self
        return response

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The usual pool manager, building deadline-aware connection pools."""
        super().init_poolmanager(*args, **kwargs)
        # made from this manager's settings: a new manager (unpickling, which calls no
        # __init__) starts afresh
        self._pool_keys: dict[tuple[str, bool | str, Cert], PoolKey] = {}
        self._direct_keys: dict[
            tuple[str, bool | str, Cert], tuple[PoolKeyTuple, dict[str, Any]]
        ] = {}
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The usual proxy manager (HTTP proxies), building deadline-aware pools."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


@functools.lru_cache(maxsize=URLS_KEPT)
def _path_url(url: str) -> str:
    """``PreparedRequest.path_url`` of ``url`` (a ``urlsplit``), worked out once per URL."""
    request = PreparedRequest()
    request.url = url
    return request.path_url


def _timeout(timeout: Timeouts) -> urllib3.Timeout | float | None:
    """urllib3's timeout for requests' ``timeout=`` (a number, a (connect, read) pair or
    urllib3's own), as ``HTTPAdapter.send`` makes it, or the number urllib3 makes that
    same timeout of (``Timeout.from_float``) when both halves are one: urlopen copies the
    Timeout it is given, so one made here would be made twice."""
    if not isinstance(timeout, tuple):
        return timeout
    try:
        connect, read = timeout
    except ValueError:
        raise ValueError(  # noqa: B904 (requests' words)
            f"Invalid timeout {timeout}. Pass a (connect, read) timeout tuple, "
            f"or a single float to set both timeouts to the same value."
        )
    return connect if connect == read else urllib3.Timeout(connect=connect, read=read)


# HTTPAdapter.send's mapping of urllib3's errors, in its order: by a MaxRetryError's reason,
# then by the error itself (a MaxRetryError of any other reason, a ProtocolError or an
# OSError is a ConnectionError; an error in neither list goes up as it is).
_BY_REASON: tuple[tuple[type[Exception], type[RequestException]], ...] = (
    (ResponseError, RetryError),
    (_ProxyError, ProxyError),
    (_SSLError, SSLError),
)
_BY_ERROR: tuple[tuple[type[Exception], type[RequestException]], ...] = (
    (ClosedPoolError, ConnectionError),
    (_SSLError, SSLError),
    (ReadTimeoutError, ReadTimeout),
    (_InvalidHeader, InvalidHeader),
)


def _requests_error(error: Exception, request: PreparedRequest) -> Exception:
    """The requests exception ``HTTPAdapter.send`` raises for urllib3's ``error``, or
    ``error`` itself where requests lets it through."""
    if isinstance(error, (ProtocolError, OSError)):
        return ConnectionError(error, request=request)
    if isinstance(error, MaxRetryError):
        reason = error.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return ConnectTimeout(error, request=request)
        kind = next((kind for cause, kind in _BY_REASON if isinstance(reason, cause)), None)
        return (kind or ConnectionError)(error, request=request)
    if isinstance(error, _ProxyError):  # checked before SSL errors, and without the request
        return ProxyError(error)
    for cause, kind in _BY_ERROR:
        if isinstance(error, cause):
            return kind(error, request=request)
    return error
