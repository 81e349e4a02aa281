"""The feed of broken and stale sources, across real passes against feeds on 127.0.0.1: a
source failing then recovering, a 410, a permanent redirect, a stale source and a broken
seed file; entry ids stable while a problem lasts."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.collector import run_pass
from aggregator.config import load_config
from aggregator.fetch import Fetcher
from aggregator.models import Problem, PublishedFile
from aggregator.publish import publish
from aggregator.publish.problems import reconcile
from aggregator.store import open_store
from tests.builders import FERRY, T0, assert_w3c_shape, desk_config, rss, source
from tests.fakes import FakeStore

OLD = ("old-1", "Quiet wire's last story", "Sun, 22 Feb 2026 09:00:00 +0000")


@pytest.fixture
def desk(tmp_path: Path, httpserver: HTTPServer):
    flaky = {"status": 500}

    def answer(request: Request) -> Response:
        status = flaky["status"]
        return Response(rss(FERRY) if status == 200 else "down", status=status)

    httpserver.expect_request("/flaky").respond_with_handler(answer)
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(rss(FERRY))
    httpserver.expect_request("/quiet").respond_with_data(rss(OLD))
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "bad.txt").write_text("A headline and nothing else\n", encoding="utf-8")
    url = httpserver.url_for
    path = desk_config(
        tmp_path,
        source("flaky", url("/flaky")),
        source("gone", url("/gone")),
        source("moved", url("/old")),
        source("quiet", url("/quiet"), stale_after="2d"),
        source("seeds", "seeds"),
        defaults="{interval: 10m, timeout: 5s}",
    )
    config = load_config(path)
    store = open_store(config.store)
    fetcher = Fetcher(config.fetch)

    def collect(hours: float) -> dict[str, feedparser.FeedParserDict]:
        run_pass(config, store, fetcher, now=T0 + timedelta(hours=hours))
        feed = feedparser.parse((config.publish.dir / "sources.atom").read_bytes())
        return {entry.title: entry for entry in feed.entries}

    try:
        yield collect, flaky, config.publish.dir
    finally:
        fetcher.close()
        store.close()


def test_problems_open_stay_stable_change_and_close(desk, httpserver) -> None:
    collect, flaky, folder = desk
    first = collect(0)
    assert sorted(first) == [
        "gone is gone (410): disabled",
        "moved moved permanently",
        "quiet brings no new stories",
        "seeds has a seed file that does not parse",
    ]
    moved = first["moved moved permanently"]
    assert httpserver.url_for("/new") in moved.summary and "Put the new URL" in moved.summary
    assert (
        "no new story since 2026-02-22T09:00:00+00:00"
        in first["quiet brings no new stories"].summary
    )
    assert "bad.txt" in first["seeds has a seed file that does not parse"].summary
    assert (
        "Since:</strong> 2026-03-03T12:00:00+00:00" in first["gone is gone (410): disabled"].summary
    )

    collect(1)
    failing = collect(2)["flaky is failing"]  # the third failure in a row
    assert "HTTP 500" in failing.summary
    again = collect(3)
    assert again["flaky is failing"].id == failing.id
    assert again["flaky is failing"].updated == failing.updated
    assert again["gone is gone (410): disabled"].id == first["gone is gone (410): disabled"].id

    flaky["status"] = 503
    changed = collect(5)["flaky is failing"]  # the backoff of 4 failures is over
    assert changed.id == failing.id and changed.updated != failing.updated
    assert "HTTP 503" in changed.summary

    flaky["status"] = 200
    recovered = collect(8)
    assert "flaky is failing" not in recovered
    closing = recovered["flaky: recovered (it is failing)"]
    assert closing.id != failing.id
    assert "Recovered:</strong> 2026-03-03T20:00:00+00:00" in closing.summary
    rss = feedparser.parse((folder / "sources.rss").read_bytes())
    assert {entry.title for entry in rss.entries} == set(recovered)
    assert_w3c_shape(folder, "http://127.0.0.1:8080/")
    page = (folder / "sources.html").read_text(encoding="utf-8")
    assert '<span class="problem">(gone)</span>' in page


def test_closing_entries_are_kept_a_week() -> None:
    opened = Problem(source="a", kind="failing", detail="a: HTTP 500", since=T0, changed=T0)
    closed = reconcile([opened], {}, T0 + timedelta(hours=1))
    assert [p.closed for p in closed] == [T0 + timedelta(hours=1)]
    assert reconcile(closed, {}, T0 + timedelta(days=6)) == closed
    assert reconcile(closed, {}, T0 + timedelta(days=8)) == []


def test_a_wiped_publish_folder_keeps_the_problems_ids_and_since(desk) -> None:
    collect, _, folder = desk
    first = collect(0)["gone is gone (410): disabled"]
    shutil.rmtree(folder)  # or the store moved to another machine: the state is in the store
    folder.mkdir()
    # the state file of older Wiredesks, with another since: ignored
    older = (
        '[{"source": "gone", "kind": "gone", "detail": "", "since": "2026-03-01T00:00:00+00:00",'
    )
    state = folder / ".problems.json"
    state.write_text(older + ' "changed": "2026-03-01T00:00:00+00:00", "closed": null}]')
    again = collect(1)["gone is gone (410): disabled"]
    assert again.id == first.id
    assert again.published == first.published == "2026-03-03T12:00:00+00:00"
    assert state.read_text().startswith(older), "not Wiredesk's file in the manifest: left alone"


def test_the_state_file_an_older_wiredesk_wrote_and_recorded_is_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / ".problems.json").write_text("[]\n")
    store = FakeStore()
    store.manifest[".problems.json"] = PublishedFile(
        name=".problems.json", sha256="ab" * 32, size=3, mtime_ns=1
    )
    config = load_config(desk_config(tmp_path, publish="{dir: public}"))
    report = publish(config, store, now=T0)
    assert ".problems.json" in report.removed and not (folder / ".problems.json").exists()
    assert ".problems.json" not in store.manifest
