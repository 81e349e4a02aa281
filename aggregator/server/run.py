"""Running the app on waitress: in a background thread for the daemon, or in the
foreground for ``wiredesk serve``, under the limits and request checks of ``edge`` (the
only other importer of waitress)."""

from __future__ import annotations

import logging
import signal
import threading
from functools import partial
from wsgiref.types import WSGIApplication

from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server
from waitress.trigger import trigger

from aggregator.config import Config
from aggregator.errors import ListenError
from aggregator.server.app import HealthCheck, make_app
from aggregator.server.edge import Limits, channel_for

log = logging.getLogger(__name__)

THREADS = 4
# A config edit or a hand-run publish reaches a subscriber within a day, whatever the
# intervals (a daily conditional GET costs a 304).
MAX_AGE_SECONDS = 86_400
STOP_WAIT_SECONDS = 0.5  # for the loop, then again for the workers: stop ends within a second


class FeedServer:
    """A WSGI app on waitress in a background thread; start and stop it from any thread."""

    def __init__(self, app: WSGIApplication, *, limits: Limits | None = None) -> None:
        """Wrap ``app``, to be served under ``limits`` (the defaults of ``Limits`` unless
        given); nothing listens until ``start``."""
        self._app = app
        self._limits = limits or Limits()
        self._server: BaseWSGIServer | MultiSocketServer | None = None
        self._socket_map: dict = {}
        self._waker: trigger | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0 picks a free one) and serve in a new thread.

        Raises ListenError when the address cannot be listened on (in use, not this
        machine's, unknown), and RuntimeError when already started.
        """
        if self._server is not None:
            raise RuntimeError("the server is already started")
        socket_map: dict = {}
        try:
            server = create_server(
                self._app,
                map=socket_map,
                host=host,
                port=port,
                threads=THREADS,
                ident="wiredesk",
                **self._limits.waitress(),
            )
        except (OSError, ValueError) as e:
            wasyncore.close_all(socket_map)  # the addresses bound before the one that failed
            raise ListenError(f"{host}:{port}: cannot listen: {e}") from e
        channel = channel_for(self._limits)
        for listener in list(socket_map.values()):  # one per address of a MultiSocketServer
            if isinstance(listener, BaseWSGIServer):
                listener.channel_class = channel
        # A name like "localhost" may bind several addresses and give a MultiSocketServer.
        listening = (
            server.effective_listen
            if isinstance(server, MultiSocketServer)
            else [server.getsockname()]
        )
        # waitress reports the port as the string getnameinfo gives.
        self._server, self._socket_map, self._port = server, socket_map, int(listening[0][1])
        self._waker = trigger(socket_map)
        self._thread = threading.Thread(target=server.run, name="wiredesk-http", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port actually bound (the first one, if the host named several addresses);
        raises RuntimeError when not started."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._port

    def stop(self) -> None:
        """Close the listening sockets and every open connection, and end the threads;
        returns within about a second. Does nothing when not started."""
        server, self._server = self._server, None
        if server is None or self._waker is None or self._thread is None:
            return
        # The socket map belongs to the loop thread, so it is closed from there; an empty
        # map ends waitress's loop.
        self._waker.pull_trigger(partial(wasyncore.close_all, self._socket_map))
        self._thread.join(STOP_WAIT_SECONDS)
        # The stubs type the timeout as int; waitress adds it to time.time().
        server.task_dispatcher.shutdown(timeout=STOP_WAIT_SECONDS)  # type: ignore[arg-type]


def max_age_for(config: Config) -> int:
    """Seconds a subscriber may cache a feed: the shortest collection interval, as no feed
    changes sooner (``defaults.interval`` when there are no sources), at most a day."""
    intervals = [config.interval(source) for source in config.sources]
    shortest = min(intervals, default=config.defaults.interval).total_seconds()
    return int(min(shortest, MAX_AGE_SECONDS))


def serve_forever(config: Config, *, health: HealthCheck | None = None) -> None:
    """Serve ``config.publish.dir`` on ``config.server`` until SIGTERM or Ctrl-C, then
    stop cleanly and return. Must run in the main thread (it handles SIGTERM).

    Raises ListenError when the address cannot be listened on.
    """
    app = make_app(config.publish.dir, max_age=max_age_for(config), health=health)
    server = FeedServer(app)
    server.start(config.server.host, config.server.port)
    log.info("serving %s on http://%s:%d/", config.publish.dir, config.server.host, server.port)
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        log.info("server stopped")
