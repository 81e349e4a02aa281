"""The HTTP edge inside waitress: limits that keep a few slow clients from silencing the
server, and requests refused before the app sees them.

Refused with 400 and the connection closed (RFC 9112):

- both ``Content-Length`` and ``Transfer-Encoding`` (the request-smuggling pair, §6.3);
- a bare LF line ending in the request head (waitress only ends a head at CRLF CRLF, so
  such a request used to wait, unanswered, for the channel timeout);
- an HTTP version other than 1.0 or 1.1;
- a head still incomplete ``head_seconds`` after its first byte (a client dripping a
  header line every few seconds is never idle, so the channel timeout never fires).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.utilities import BadRequest

_BARE_LF = re.compile(rb"(?<!\r)\n")
_VERSIONS = ("1.0", "1.1")
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:", re.IGNORECASE | re.MULTILINE)
_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding[ \t]*:", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What the server allows one client; made by the server's caller, read by waitress."""

    connections: int = 500  # open at once (waitress's default of 100 fell to ~98 slow ones)
    idle_seconds: int = 30  # a connection sending nothing is closed after this
    head_seconds: float = 10.0  # a request's line and headers must arrive within this
    header_bytes: int = 16 * 1024  # of request line and headers (431 above)

    def waitress(self) -> dict[str, Any]:
        """The limits as waitress's ``create_server`` options."""
        return {
            "connection_limit": self.connections,
            "channel_timeout": self.idle_seconds,
            "cleanup_interval": max(1, min(5, self.idle_seconds)),
            "max_request_header_size": self.header_bytes,
        }


class StrictParser(HTTPRequestParser):
    """waitress's request parser, refusing what RFC 9112 says to refuse (see the module)."""

    head_seconds = Limits().head_seconds

    def __init__(self, adj: Any) -> None:
        super().__init__(adj)
        self._started = time.monotonic()

    def received(self, data: bytes) -> int:
        """Take the next bytes of the request; refuse the request as soon as its head
        shows one of the faults above. Returns how many bytes were consumed."""
        if self.body_rcv is None and not self.completed:
            head = self.header_plus[-3:] + data
            end = head.find(b"\r\n\r\n")
            if _BARE_LF.search(head if end < 0 else head[: end + 4]):
                return self._refuse("bare LF line ending in the request head", len(data))
            if end < 0 and time.monotonic() - self._started > self.head_seconds:
                return self._refuse(
                    f"request head not complete within {self.head_seconds:g}s", len(data)
                )
        return super().received(data)

    def parse_header(self, header_plus: bytes) -> None:
        """waitress's parse, then the checks it does not make (raising ParsingError,
        which waitress answers with 400 and a close)."""
        # before waitress's parse, which drops Transfer-Encoding from the headers it keeps
        if _CONTENT_LENGTH.search(header_plus) and _TRANSFER_ENCODING.search(header_plus):
            raise ParsingError("both Content-Length and Transfer-Encoding")
        super().parse_header(header_plus)
        if self.version not in _VERSIONS:
            raise ParsingError(f"unsupported HTTP version {self.version[:10]}")

    def _refuse(self, reason: str, consumed: int) -> int:
        super().parse_header(b"GET / HTTP/1.0\r\n")  # what waitress answers its own errors on
        self.error = BadRequest(reason)
        self.completed = True
        return consumed


def channel_for(limits: Limits) -> type[HTTPChannel]:
    """A waitress channel class whose requests are parsed by StrictParser under ``limits``."""

    class Parser(StrictParser):
        head_seconds = limits.head_seconds

    class Channel(HTTPChannel):
        parser_class = Parser

    return Channel
