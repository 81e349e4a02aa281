"""Hearing other nodes' changes: ``LISTEN`` on a connection of its own, in a thread.

Once a transaction that marked stories pending publication has committed, the store sends
a ``NOTIFY`` on its channel (``connection.announce``) with the name of the node that made
it; nothing is sent for one that rolled back. A
``Listener`` calls back for each one from another node, and once after each reconnection
(notifications sent while it was cut off are lost, so the caller must look for itself).

It says nothing above debug level: a database that goes away is the daemon's to report,
once (``daemon``). It reconnects with a growing delay, up to ``RETRY_MAX``, and stops
within ``WAKE`` seconds of ``close``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from aggregator.store.postgres.connection import CHANNEL

log = logging.getLogger(__name__)

WAKE = 0.5  # seconds between looks at whether to stop
RETRY_FIRST = 0.5  # seconds before the first reconnection
RETRY_MAX = 10.0
CONNECT_TIMEOUT_S = 5


class Listener:
    """A daemon thread that calls ``heard(node)`` for each notification from a node other
    than ``me``, and ``heard("")`` after it reconnected."""

    def __init__(self, location: str, *, me: str, heard: Callable[[str], None]) -> None:
        """Start listening on the store at ``location`` (a libpq URL)."""
        self.location, self.me, self.heard = location, me, heard
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-listener", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening; returns within about ``WAKE`` seconds (the thread is a daemon
        thread: one still connecting is left to end on its own)."""
        self._stop.set()
        self._thread.join(WAKE * 3)

    def _run(self) -> None:
        delay, connected_before = RETRY_FIRST, False
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    if connected_before:
                        self.heard("")  # what was sent while cut off is lost
                    connected_before, delay = True, RETRY_FIRST
                    self._listen(conn)
            except psycopg.Error as e:
                log.debug("store listener: %s; reconnecting in %.1f s", e, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                connected_before = True

    def _connect(self) -> psycopg.Connection[Any]:
        # keepalives: a connection whose server vanished without closing it is given up
        # within seconds, not when the kernel's defaults say (hours)
        conn = psycopg.connect(
            self.location,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
        )
        try:
            (channel,) = conn.execute(f"SELECT {CHANNEL}").fetchone() or ("",)
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except psycopg.Error:
            conn.close()
            raise
        return conn

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        """Hand on notifications until told to stop; raises psycopg.Error when the
        connection is lost."""
        while not self._stop.is_set():
            for notice in conn.notifies(timeout=WAKE):
                if notice.payload != self.me:
                    self.heard(notice.payload)
