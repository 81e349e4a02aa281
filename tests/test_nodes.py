"""Publishing and serving on every node of one PostgreSQL store: the same bytes and the same
validators (ETag and Last-Modified) whichever node answers, and a story one node collects
published by the other, told through LISTEN/NOTIFY."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from pytest_httpserver import HTTPServer

from aggregator.config import load_config
from aggregator.server import FeedServer, make_app
from aggregator.store import open_store
from tests.builders import FERRY, GRAIN, ROOT, Site, desk_config, rss, source
from tests.faults.harness import free_port, log_of, running, stop, wait_for
from tests.stores import article, seed, state

CATEGORIES = "[{name: world, title: World, include: [wire]}]"


def node_config(folder: Path, location: str) -> Path:
    """The config of one node on the store at ``location``, publishing into its own folder
    (``folder/feeds``); the rest is every node's (their seed folder is one shared path)."""
    folder.mkdir()
    return desk_config(
        folder,
        source("aa", "https://aa.example/rss.xml"),
        source("seeds", str(folder.parent / "seeds")),
        store=f'"{location}"',
        categories=CATEGORIES,
    )


def published(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path relative to it."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def next_second() -> None:
    """Wait for the clock's next second (one at most)."""
    started = int(time.time())
    wait_for(lambda: int(time.time()) > started, "the next second", bound=2)


@contextmanager
def served(folder: Path) -> Iterator[Site]:
    """``folder`` served on a free port of 127.0.0.1."""
    server = FeedServer(make_app(folder, max_age=60))
    server.start("127.0.0.1", 0)
    try:
        yield Site(folder, server.port)
    finally:
        server.stop()


def test_two_nodes_publish_the_same_bytes_and_validators(
    pg_schema: Callable[[], str], tmp_path: Path
) -> None:
    location = pg_schema()
    store = open_store(location)
    stories = [article("aa", n, f"Story number {n} of the wire") for n in range(1, 4)]
    store.ingest("aa", stories, state("aa"))
    store.ingest("seeds", [seed(1, "A desk's own story")], state("seeds"))
    store.close()
    configs = [node_config(tmp_path / name, location) for name in ("web1", "web2")]
    for config in configs:  # each node its own process, one after the other
        next_second()  # a Last-Modified of the moment of writing would differ
        subprocess.run(
            [sys.executable, "-m", "aggregator.cli", "publish", "--config", str(config)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    first, second = (config.parent / "feeds" for config in configs)

    assert {"world.rss", "index.html", "articles/seeds-1.html"} <= published(first).keys()
    assert published(first) == published(second)
    with served(first) as web1, served(second) as web2:
        for name in ("/world.rss", "/all.json", "/index.html", "/articles/seeds-1.html"):
            for encoding in ("identity", "gzip"):
                asked = {"Accept-Encoding": encoding}
                one, two = web1.get(name, asked), web2.get(name, asked)
                assert (one.status, two.status) == (200, 200)
                assert one.headers["etag"] == two.headers["etag"]
                assert one.headers["last-modified"] == two.headers["last-modified"], name
                revalidated = web2.get(name, {**asked, "If-None-Match": one.headers["etag"]})
                assert revalidated.status == 304, name
                since = {**asked, "If-Modified-Since": one.headers["last-modified"]}
                assert web2.get(name, since).status == 304, name


def daemon_config(folder: Path, location: str, node: str, *sources: str) -> Path:
    """The config of the daemon of ``node`` on the store at ``location``, serving its own
    publish folder on a port of its own."""
    folder.mkdir()
    port = free_port()
    return desk_config(
        folder,
        *sources,
        store=f'"{location}"',
        node=node,
        publish=f'{{dir: feeds, base_url: "http://127.0.0.1:{port}/"}}',
        server=f"{{host: 127.0.0.1, port: {port}}}",
    )


def served_titles(config: Path) -> list[str]:
    """The titles of ``all.json`` as the daemon of ``config`` serves it (none while it is
    not up)."""
    site = load_config(config)
    try:
        reply = requests.get(f"{site.publish.base_url}all.json", timeout=5)
    except requests.ConnectionError:
        return []
    return [item["title"] for item in reply.json()["items"]] if reply.ok else []


def test_a_change_one_node_collects_is_published_by_the_other_through_notify(
    pg_schema: Callable[[], str], tmp_path: Path, httpserver: HTTPServer
) -> None:
    location = pg_schema()
    httpserver.expect_request("/wire.xml").respond_with_data(
        rss(FERRY), content_type="application/rss+xml"
    )
    httpserver.expect_request("/quiet.xml").respond_with_data(
        rss(), content_type="application/rss+xml"
    )
    # b collects only a feed that never changes, once an hour: what reaches it comes from a
    one = daemon_config(
        tmp_path / "a",
        location,
        "a",
        source("wire", httpserver.url_for("/wire.xml"), interval="1s"),
    )
    two = daemon_config(
        tmp_path / "b",
        location,
        "b",
        source("quiet", httpserver.url_for("/quiet.xml"), interval="1h"),
    )
    with running(one) as a:
        wait_for(lambda: FERRY[1] in served_titles(one), "node a's first pass")
        with running(two) as b:
            # its first pass done, b's next is a tick (30 s) away: what comes sooner is heard
            wait_for(lambda: "pass: 1 source" in log_of(two), "node b's first pass")
            assert FERRY[1] in served_titles(two)
            httpserver.clear()
            httpserver.expect_request("/wire.xml").respond_with_data(
                rss(FERRY, GRAIN), content_type="application/rss+xml"
            )
            wait_for(lambda: GRAIN[1] in served_titles(two), "node b republishing", bound=20)
            assert GRAIN[1] in (tmp_path / "b" / "feeds" / "all.json").read_text(encoding="utf-8")
            wait_for(lambda: "republished after changes on a" in log_of(two), "the log line")
            assert stop(b) == 0
        assert stop(a) == 0
    assert [
        line
        for line in (log_of(one) + log_of(two)).splitlines()
        if " WARNING " in line or " ERROR " in line
    ] == []
