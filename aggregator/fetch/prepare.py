"""A GET as ``requests.Session.get`` would prepare it, for a fraction of the CPU.

For a 304, most of the CPU of ``Session.get`` is spent before a byte is sent: it merges the
session's settings into every request, looks in the environment for proxies, NO_PROXY,
a CA bundle and a netrc entry, and copies the cookie jar in and out. A ``Preparer`` looks
in the environment once per origin (scheme, host and port) for the life of its Fetcher,
with requests' own functions, and prepares each request from the session's headers, so
what goes on the wire, and through which proxy, is what ``Session.get`` would have sent.
Cookies live in the session's jar as requests keeps them, only worked on when there are
some.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import requests
from requests.cookies import extract_cookies_to_jar, get_cookie_header
from requests.structures import CaseInsensitiveDict
from requests.utils import get_netrc_auth

URLS_KEPT = 4096  # prepared URLs remembered: a few per source (redirects), for a big desk


@dataclass(frozen=True, slots=True)
class Route:
    """What requests takes from the environment for one origin; made by ``Preparer.route``,
    read by the fetcher when it sends."""

    proxies: dict[str, str]
    verify: bool | str  # True, or the CA bundle of REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    auth: tuple[str, str] | None  # from ~/.netrc (or $NETRC)


class Preparer:
    """Prepares the GETs of one session; safe to share between threads."""

    def __init__(self, session: requests.Session) -> None:
        """Prepare requests as ``session`` would (its headers, cookies, ``trust_env``)."""
        self._session = session
        self._routes: dict[str, Route] = {}
        # the session's headers are Wiredesk's own, all text, and set once, when it is made
        self._headers = Headers(cast(Mapping[str, str], session.headers))

    def route(self, url: str) -> Route:
        """The proxies, CA bundle and netrc credentials requests would use for ``url``,
        looked up on the first request to its origin."""
        key = origin(url)
        route = self._routes.get(key)
        if route is None:
            session = self._session
            settings = session.merge_environment_settings(url, {}, None, None, None)
            verify = settings["verify"]
            route = Route(
                proxies=dict(settings["proxies"]),
                verify=True if verify is None else verify,
                auth=get_netrc_auth(url) if session.trust_env else None,
            )
            self._routes[key] = route  # two threads may both look: they find the same
        return route

    def get(self, url: str, headers: Mapping[str, str], route: Route) -> requests.PreparedRequest:
        """The GET of ``url`` with the session's headers, then ``headers``, its origin's
        netrc credentials and the session's cookies for it. Raises requests' InvalidURL
        (or another RequestException) for a URL requests would refuse."""
        request = requests.PreparedRequest()
        request.method = "GET"
        request.url = _prepared_url(url)
        request.headers = self._headers.copy()
        request.headers.update(headers)
        if route.auth:
            request.prepare_auth(route.auth)
        jar = self._session.cookies
        if len(jar):
            cookie = get_cookie_header(jar, request)  # type: ignore[no-untyped-call]
            if cookie is not None:
                request.headers["Cookie"] = cookie
        return request

    def keep_cookies(self, request: requests.PreparedRequest, response: requests.Response) -> None:
        """Keep the cookies ``response`` set in the session's jar, as ``Session.send``
        does."""
        if "set-cookie" in response.headers:
            extract_cookies_to_jar(  # type: ignore[no-untyped-call]
                self._session.cookies, request, response.raw
            )


class Headers(CaseInsensitiveDict[str]):
    """requests' headers of a request, copied in one step: urllib3 copies them once more
    for every request it sends, which ``CaseInsensitiveDict.copy`` does a key at a time in
    Python (a fourteenth of a 304's CPU)."""

    def copy(self) -> Headers:
        """A copy, made from the whole of the stored keys and values at once."""
        copied = Headers()
        # requests keeps each (key, value) under its lower-case key in ``_store`` (a private
        # attribute: checked with requests 2.34.2; pyproject allows >=2.32.3,<3)
        copied._store = self._store.copy()  # type: ignore[attr-defined]
        return copied


def origin(url: str) -> str:
    """The scheme and host (with port and any credentials) of ``url``, as written:
    ``https://example.org:8443``."""
    return "/".join(url.split("/", 3)[:3])


@functools.lru_cache(maxsize=URLS_KEPT)
def _prepared_url(url: str) -> str:
    """``url`` as requests sends it (IDNA host, quoted path); raises what requests raises."""
    request = requests.PreparedRequest()
    request.prepare_url(url, None)
    return str(request.url)
