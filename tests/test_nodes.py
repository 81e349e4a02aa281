"""Publishing and serving on every node of one PostgreSQL store: the same bytes and the same
validators whichever node answers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aggregator.server import FeedServer, make_app
from aggregator.store import open_store
from tests.builders import ROOT, Site, desk_config, source
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
                revalidated = web2.get(name, {**asked, "If-None-Match": one.headers["etag"]})
                assert revalidated.status == 304, name
