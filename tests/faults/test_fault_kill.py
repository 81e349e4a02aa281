"""``kill -9`` at random points of ``collect`` (mid-ingest, and once everything is stored:
mid-publish): after each kill the store passes SQLite's integrity check, every published
file is whole, and no story is stored twice; a last, uninterrupted pass then holds and
publishes every story exactly once."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.faultserver import FaultServer
from tests.builders import ROOT
from tests.faults.harness import WAIT, integrity, query, wiredesk, write_config

FEEDS = 15  # of three stories each (45: all fit in all.json)
KILLS = 3


def whole_files(feeds: Path) -> list[str]:
    """The published files that do not parse (a half-written file would not)."""
    broken = []
    for path in sorted(feeds.glob("*")):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix in (".rss", ".atom", ".opml"):
                ET.parse(path)
        except (ValueError, ET.ParseError) as e:
            broken.append(f"{path.name}: {e}")
    return broken


def duplicates(config: Path) -> list[tuple]:
    return query(config, "SELECT title, count(*) FROM articles GROUP BY title HAVING count(*) > 1")


def kill_when(child: subprocess.Popen, config: Path, stored: int, then: float) -> None:
    """``kill -9`` the child ``then`` seconds after the store holds ``stored`` stories (or
    when it ends first); the point is random, the wait bounded."""
    ends = time.monotonic() + WAIT
    while child.poll() is None and time.monotonic() < ends:
        if query(config, "SELECT count(*) FROM articles") >= [(stored,)]:
            time.sleep(then)
            break
        time.sleep(0.01)
    child.kill()
    child.wait(timeout=10)


def test_kill_9_mid_collect_leaves_a_sound_store(tmp_path: Path) -> None:
    chance = random.Random()
    # mid-ingest at two random story counts, then once all are stored (mid-publish)
    points = [(n, 0.0) for n in sorted(chance.sample(range(1, FEEDS * 3), KILLS - 1))]
    points.append((FEEDS * 3, round(chance.uniform(0, 0.3), 2)))
    with FaultServer(rotate=3600) as server:
        sources = [(f"ok{n}", server.url("ok", n)) for n in range(FEEDS)]
        config = write_config(tmp_path, sources, fetch="{workers: 4, per_host: 4}")
        argv = [sys.executable, str(ROOT / "run.py"), "--config", str(config), "collect"]
        for stored, then in points:
            child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            kill_when(child, config, stored, then)
            where = f"after a kill at {stored} stories + {then}s (of {points})"
            assert integrity(config) in ("ok", ""), where
            assert whole_files(tmp_path / "feeds") == [], where
            assert duplicates(config) == [], where
        final = wiredesk(config, "collect")
    assert final.returncode == 0, final.stderr
    assert integrity(config) == "ok"
    assert duplicates(config) == []
    assert query(config, "SELECT count(*) FROM articles") == [(FEEDS * 3,)]
    assert len(json.loads((tmp_path / "feeds" / "all.json").read_text())["items"]) == FEEDS * 3
    assert whole_files(tmp_path / "feeds") == []
