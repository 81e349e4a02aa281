"""The WSGI app: the publish folder's files with validators and gzip, ``/healthz`` and
``/metrics``."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from aggregator.health import SERVE_ONLY, document
from aggregator.models import Health
from aggregator.server import rules

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Health]
MetricsPage = Callable[[], tuple[str, bytes]]  # (Content-Type, body)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
GZIP_MAX_BYTES = 32 * 1024**2  # larger files go out uncompressed rather than held in memory
GZIP_CACHE_ENTRIES = 64  # a few formats of a few dozen categories
DIGEST_CACHE_ENTRIES = 4096  # the files' ETags: 32 bytes each, so every feed and many pages


def make_app(
    publish_dir: Path,
    *,
    max_age: int,
    health: HealthCheck | None = None,
    metrics: MetricsPage | None = None,
) -> WSGIApplication:
    """A WSGI app serving the files of ``publish_dir``, ``/healthz`` and ``/metrics``.

    GET and HEAD only (others get 405); ETag, Last-Modified, 304s, gzip, ``Cache-Control:
    public, max-age=<max_age>``; 404 for anything outside the folder, dotfiles and temp
    files. The ETag is a digest of the bytes, so every node serving the same files gives
    the same one (behind a load balancer a reader's conditional GET gets 304 from any of
    them). ``/healthz`` answers 200 or 503 with ``health()`` as JSON (``health.document``); without
    ``health`` it reports a serve-only process as healthy. ``/metrics`` serves what
    ``metrics()`` returns (404 without it). The app raises only what those two raise.
    """
    return _FeedApp(root=publish_dir.resolve(), max_age=max_age, health=health, metrics=metrics)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reply:
    status: HTTPStatus
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


class _FeedApp:
    def __init__(
        self, *, root: Path, max_age: int, health: HealthCheck | None, metrics: MetricsPage | None
    ) -> None:
        self.root = root
        self.max_age = max_age
        self.health = health
        self.metrics = metrics
        self.gzipped = _LRU(GZIP_CACHE_ENTRIES)
        self.digests = _LRU(DIGEST_CACHE_ENTRIES)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD"):
            reply = _plain(HTTPStatus.METHOD_NOT_ALLOWED, ("Allow", "GET, HEAD"))
        elif path == HEALTH_PATH:
            reply = self.health_reply()
        elif path == METRICS_PATH and self.metrics is not None:
            reply = _metrics_reply(self.metrics)
        else:
            reply = self.file_reply(path, environ)
        headers = [*reply.headers, ("X-Content-Type-Options", "nosniff")]
        if reply.status != HTTPStatus.NOT_MODIFIED:
            headers.append(("Content-Length", str(len(reply.body))))
        log.debug(
            '%s "%s %s" %d %d',
            environ.get("REMOTE_ADDR", "-"),
            method,
            environ.get("REQUEST_URI", path),
            reply.status,
            len(reply.body),
        )
        start_response(f"{reply.status.value} {reply.status.phrase}", headers)
        # HEAD keeps GET's Content-Length; waitress sends no body when given none.
        return [] if method == "HEAD" else [reply.body]

    def health_reply(self) -> _Reply:
        health = SERVE_ONLY if self.health is None else self.health()
        body = json.dumps(document(health), ensure_ascii=False).encode()
        return _Reply(
            status=HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE,
            headers=(
                ("Content-Type", "application/json; charset=utf-8"),
                ("Cache-Control", "no-store"),
            ),
            body=body,
        )

    def file_reply(self, path_info: str, environ: WSGIEnvironment) -> _Reply:
        path = rules.locate(self.root, path_info)
        if path is None:
            return _plain(HTTPStatus.NOT_FOUND)
        try:
            with path.open("rb") as file:
                return self.open_file_reply(path, file, environ)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return _plain(HTTPStatus.NOT_FOUND)
        except OSError as e:
            log.warning("%s: cannot read: %s", path, e.strerror or e)
            return _plain(HTTPStatus.NOT_FOUND)

    def open_file_reply(self, path: Path, file: BinaryIO, environ: WSGIEnvironment) -> _Reply:
        # fstat of the open file, not stat of the path: an atomic rename between the two
        # must not pair the old validators with the new bytes.
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode):
            return _plain(HTTPStatus.NOT_FOUND)
        media_type = rules.content_type(path.name)
        compressible = rules.compressible(media_type)
        use_gzip = (
            compressible
            and st.st_size <= GZIP_MAX_BYTES
            and rules.accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        )
        key = (str(path), st.st_mtime_ns, st.st_size, st.st_ino)
        data = None
        digest = self.digests.get(key)
        if digest is None:  # read once per version of the file, then known by its stat
            data = file.read()
            digest = self.digests.put(key, hashlib.sha256(data).digest())
        tag = rules.etag(digest, gzipped=use_gzip)
        headers = (
            ("ETag", tag),
            ("Last-Modified", formatdate(st.st_mtime, usegmt=True)),
            ("Cache-Control", f"public, max-age={self.max_age}"),
            *((("Vary", "Accept-Encoding"),) if compressible else ()),
        )
        if rules.not_modified(environ, tag, st.st_mtime):
            return _Reply(status=HTTPStatus.NOT_MODIFIED, headers=headers)
        headers += (("Content-Type", media_type),)
        plain = data if data is not None else b""
        if not use_gzip:
            return _Reply(status=HTTPStatus.OK, headers=headers, body=plain or file.read())
        body = self.gzipped.get(key)
        if body is None:
            plain = plain or file.read()
            body = self.gzipped.put(key, gzip.compress(plain, compresslevel=6, mtime=0))
        headers += (("Content-Encoding", "gzip"),)
        return _Reply(status=HTTPStatus.OK, headers=headers, body=body)


def _metrics_reply(metrics: MetricsPage) -> _Reply:
    content_type, body = metrics()
    return _Reply(
        status=HTTPStatus.OK,
        headers=(("Content-Type", content_type), ("Cache-Control", "no-store")),
        body=body,
    )


def _plain(status: HTTPStatus, *headers: tuple[str, str]) -> _Reply:
    return _Reply(
        status=status,
        headers=(("Content-Type", "text/plain; charset=utf-8"), *headers),
        body=f"{status.value} {status.phrase}\n".encode(),
    )


class _LRU:
    """A small thread-safe map that forgets its least recently used entry when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
            return self.entries.get(key)

    def put(self, key: tuple, value: bytes) -> bytes:
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value
