"""What the store tests of every backend build on: stories, states and queries, the
PostgreSQL server the tests use, and a writer process killed mid-pass."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta, timezone
from pathlib import Path

from aggregator.models import Article, ArticleQuery, SourceState
from aggregator.store import Store
from tests.builders import ROOT, article

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def pg_url(schema: str) -> str:
    """The store URL of ``schema`` in the test database (libpq's ``options`` sets it)."""
    return f"{PG_SERVER}?options=-csearch_path%3D{schema}"


def schema_of(location: str) -> str:
    """The schema name in a ``pg_url``."""
    return location.rsplit("%3D", 1)[1]


ISTANBUL = timezone(timedelta(hours=3))
KARABAKH = "Russia, Azerbaijan, Armenia leaders agree joint statement on Karabakh"
KARABAKH_REWORDED = "Leaders of Russia, Azerbaijan, Armenia agree on joint statement about Karabakh"


def seed(n: int, title: str, **fields: object) -> Article:
    return article(
        "seeds",
        n,
        title,
        guid=f"{n:03}.txt",
        path=f"seeds/{n:03}.txt",
        link=f"http://127.0.0.1:8080/articles/seeds-{n}.html",
        **fields,
    )


def state(source: str, **fields: object) -> SourceState:
    return SourceState(name=source, **fields)  # type: ignore[arg-type]


def everything(store: Store, **query: object) -> list[Article]:
    return list(store.articles(ArticleQuery(**query)))  # type: ignore[arg-type]


WRITER = """
import sys, time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from aggregator.models import Article, ArticleQuery, SourceState
from aggregator.store import open_store

class Stall(Mapping):
    # Read while the pass's rows are written but not committed: hang there to be killed.
    def __iter__(self):
        print("inside", flush=True)
        time.sleep(60)
        return iter(())
    def __len__(self):
        return 0
    def __getitem__(self, key):
        raise KeyError(key)

store = open_store(sys.argv[1])
when = datetime(2024, 11, 10, tzinfo=UTC)
def batch(start, count):
    return [Article(id=f"a{n}", guid=f"g{n}", source="aa", title=f"Story {n}",
                    published=when + timedelta(seconds=n), content="<p>" + "text " * 40 + "</p>")
            for n in range(start, start + count)]
for k in range(3):
    store.ingest("aa", batch(k * 100, 100), SourceState(name="aa"))
    print("committed", flush=True)
store.ingest("aa", batch(1000, int(sys.argv[2])), SourceState(name="aa", file_stamps=Stall()))
"""


def kill_mid_pass(location: str, tmp_path: Path, *, stalled: int) -> None:
    """Run a writer process on the store at ``location`` that commits three passes of 100
    stories, then SIGKILL it while its fourth pass (``stalled`` stories) is written but not
    committed."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen(
        [sys.executable, str(script), location, str(stalled)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert writer.stdout is not None
    lines = [writer.stdout.readline().strip() for _ in range(4)]
    assert lines == ["committed"] * 3 + ["inside"]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
