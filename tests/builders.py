"""What several test modules build their inputs from, and read published output with.

Articles, feeds and configs are built here so that a test names only what it is about
(``article(title="...")``, ``rss(GRAIN)``, ``desk_config(tmp_path, source(...))``) and
the rest is the same ordinary value everywhere. Test modules import from here (and from
the helper modules ``fakes``, ``browser`` and ``faults/harness``), never from each other.
"""

from __future__ import annotations

import http.client
import re
import shutil
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.daemon import Daemon
from aggregator.models import Article, Enclosure
from aggregator.server import FeedServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"

WHEN = datetime(2024, 11, 10, 7, 31, tzinfo=UTC)
T0 = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


# --- articles ------------------------------------------------------------------------------


def article(
    source: str = "wire",
    n: int | str = 1,
    title: str = "Grain corridor talks resume in Istanbul",
    **fields: Any,
) -> Article:
    """Story ``n`` of ``source`` as a feed gives it: id ``{source}-{n}``, guid and link
    ``https://{source}.example/{n}``, published at ``WHEN``; ``fields`` set any field."""
    values: dict[str, Any] = {
        "id": f"{source}-{n}",
        "guid": f"https://{source}.example/{n}",
        "link": f"https://{source}.example/{n}",
        "source": source,
        "title": title,
        "published": WHEN,
    }
    return Article(**{**values, **fields})


def every_field_set() -> Article:
    """An article with no field left at its default, the derived ones included."""
    enclosure = Enclosure(url="https://wire.example/a.mp3", type="audio/mpeg", length=9)
    return article(
        updated=WHEN + timedelta(hours=1),
        summary="<p>Talks <b>resume</b></p>",
        content="<p>Full text</p>",
        author="Wire desk",
        section="World",
        tags=("World", "Trade"),
        related=("Ships wait at the strait",),
        enclosures=(enclosure,),
        path="2026/03/grain.txt",
        sources=("wire", "aa"),
        links=("https://wire.example/1", "https://aa.example/1"),
        carried=(("wire", "https://wire.example/1"), ("aa", "")),
        first_seen=WHEN + timedelta(minutes=5),
        texts=(("<p>Talks <b>resume</b></p>", "Talks resume"), ("<p>Full text</p>", "Full text")),
        title_key=("Grain corridor talks resume in Istanbul", "grain corridor talks resume"),
    )


# --- feeds ---------------------------------------------------------------------------------

FERRY = (
    "ferry-1",
    "New ferry line links Izmir and Çeşme ahead of summer season",
    "Tue, 03 Mar 2026 06:30:00 +0000",
)
GRAIN = ("grain-1", "Grain corridor talks resume", "Mon, 02 Mar 2026 11:40:00 +0000")

SEED = """\
New ferry line links Izmir and Çeşme ahead of summer season
A daily sea route will cut the trip to under two hours.
- Türkiye
- Sample Wire
- Published Date: 09:05 | 3 March 2026
A daily sea route will cut the trip to under two hours.
Two catamarans will run the route from April, the municipality said.
Business groups welcomed the plan.
- Port reports record cruise arrivals
"""


def rss(*items: tuple[str, str, str]) -> str:
    """A small RSS 2.0 feed of (guid, title, RFC 822 date) items, such as ``FERRY``."""
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>https://news.example/{guid}</link>"
        f"<description>Summary of {title}.</description><pubDate>{date}</pubDate></item>"
        for guid, title, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Example wire</title><link>https://news.example/</link>{entries}</channel></rss>"
    )


# --- configs -------------------------------------------------------------------------------


def feeds_yaml(folder: Path, text: str) -> Path:
    """``folder/feeds.yaml`` holding ``text`` (dedented); returns its path."""
    path = folder / "feeds.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def commented_config(folder: Path) -> Path:
    """``folder/feeds.yaml``, a copy of the commented config the editing tests edit (its
    comments, blank lines and key order must survive every edit)."""
    path = folder / "feeds.yaml"
    shutil.copy(FIXTURES / "configedit" / "commented.yaml", path)
    return path


def source(name: str, where: str, **options: str) -> str:
    """One source as a YAML flow mapping: a feed when ``where`` is a URL, else a seed folder."""
    key = "url" if where.startswith(("http://", "https://")) else "path"
    extra = "".join(f", {option}: {value}" for option, value in options.items())
    return f'{{name: {name}, {key}: "{where}"{extra}}}'


def desk_config(folder: Path, *sources: str, **sections: str) -> Path:
    """``folder/feeds.yaml`` with ``sources`` (see ``source``), the store in ``data/`` and
    the feeds in ``feeds/`` for http://127.0.0.1:8080/; each of ``sections`` (YAML text)
    sets the top-level key of its name, ``categories`` included."""
    keys = {
        "store": "data/wiredesk.db",
        "publish": '{dir: feeds, base_url: "http://127.0.0.1:8080/"}',
        **sections,
    }
    lines = [f"{key}: {value}" for key, value in keys.items()]
    lines += ["sources:", *(f"  - {entry}" for entry in sources)] if sources else ["sources: []"]
    path = folder / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the CLI and the publish folder, as a user sees them ----------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``wiredesk ARGV`` run in this process: its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by its path relative to it -> its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# --- a daemon and its server, read over HTTP -----------------------------------------------


class Clock:
    """A daemon's clock, moved by the test: it starts at ``T0``."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Reply:
    """One HTTP answer: status, headers by lower-case name, the body as sent."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Site:
    """A served publish folder, asked over a real socket on 127.0.0.1."""

    folder: Path
    port: int

    def get(
        self, target: str, headers: Mapping[str, str] | None = None, method: str = "GET"
    ) -> Reply:
        """One request with the target sent exactly as given (http.client does not
        normalise it) and the body left encoded."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request(method, target, headers=dict(headers or {}))
            response = connection.getresponse()
            body = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            connection.close()


@contextmanager
def served_daemon(config: Path, *, scheduler: bool = False) -> Iterator[tuple[Daemon, Clock, Site]]:
    """The daemon of ``config`` on a ``Clock`` the test moves, its app served on a free port
    (its scheduler running without a job when ``scheduler``: the test runs the passes)."""
    clock = Clock()
    daemon = Daemon(load_config(config), clock=clock)
    if scheduler:
        daemon.scheduler.start()
    server = FeedServer(daemon.app())
    server.start("127.0.0.1", 0)
    try:
        yield daemon, clock, Site(config.parent / "feeds", server.port)
    finally:
        server.stop()
        if scheduler:
            daemon.scheduler.shutdown()
        daemon.fetcher.close()
        daemon.store.close()


# --- the shape of published feeds ----------------------------------------------------------

RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d [+-]\d{4}$"
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ATOM = "{http://www.w3.org/2005/Atom}"
HTTP = re.compile(r"^https?://[^\s/]+/\S*$")


def assert_w3c_shape(folder: Path, base: str) -> None:
    """The rules of the W3C feed validator, checked on every RSS and Atom file of ``folder``
    (published at ``base``); there must be at least one of each, and an entry in one."""
    rss_files, atom_files = sorted(folder.glob("*.rss")), sorted(folder.glob("*.atom"))
    assert rss_files and atom_files, f"{folder}: no RSS or no Atom file to check"
    items = [item for path in rss_files for item in _rss_shape(path, base)]
    entries = [entry for path in atom_files for entry in _atom_shape(path)]
    assert items and entries, f"{folder}: every feed is empty"


def _rss_shape(path: Path, base: str) -> list[ElementTree.Element]:
    raw = path.read_bytes()
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", raw)
    channel = ElementTree.fromstring(raw).find("channel")
    assert channel is not None
    assert channel.findtext("title") and channel.findtext("description")
    assert HTTP.match(channel.findtext("link") or "")
    self_link = channel.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == f"{base}{path.name}"
    assert RFC822.match(channel.findtext("lastBuildDate") or "")
    items = list(channel.iter("item"))
    guids = [item.findtext("guid") for item in items]
    assert len(guids) == len(set(guids))
    for item in items:
        assert item.findtext("title") and RFC822.match(item.findtext("pubDate") or "")
        assert item.find("guid").get("isPermaLink") == "false"  # type: ignore[union-attr]
        assert HTTP.match(item.findtext("link") or "")
    return items


def _atom_shape(path: Path) -> list[ElementTree.Element]:
    feed = ElementTree.fromstring(path.read_bytes())
    assert feed.findtext(f"{ATOM}id") and feed.findtext(f"{ATOM}title")
    assert feed.find(f"{ATOM}author") is None  # every entry would inherit it
    assert RFC3339.match(feed.findtext(f"{ATOM}updated") or "")
    hrefs = [link.get("href") or "" for link in feed.iter(f"{ATOM}link")]
    assert hrefs and all(HTTP.match(href) for href in hrefs)
    entries = list(feed.iter(f"{ATOM}entry"))
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(ids) == len(set(ids))
    for entry in entries:
        assert entry.findtext(f"{ATOM}title") and entry.findtext(f"{ATOM}author/{ATOM}name")
        assert RFC3339.match(entry.findtext(f"{ATOM}updated") or "")
        assert entry.find(f"{ATOM}content") is not None
    return entries
