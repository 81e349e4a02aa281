"""/healthz tells the truth: a daemon whose every source fails turns 503 even though
passes with nothing due come in between, says why, and turns 200 again on recovery; a
scheduler that stopped or a collection that is overdue is unhealthy too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from aggregator.daemon import Daemon, overdue_after
from aggregator.health import UNHEALTHY_AFTER, PassHistory, assess
from aggregator.models import PassReport, ScheduleStatus, SourceReport
from tests.builders import GRAIN, T0, Clock, Site, desk_config, rss, served_daemon, source

TEN_MINUTES = "{interval: 10m, timeout: 5s}"


@pytest.fixture
def desk(tmp_path: Path, httpserver: HTTPServer) -> Iterator[tuple[Daemon, Clock, Site]]:
    """The daemon of one source collected every 10 minutes, its scheduler running idle."""
    path = desk_config(tmp_path, source("wire", httpserver.url_for("/rss")), defaults=TEN_MINUTES)
    with served_daemon(path, scheduler=True) as desk:
        yield desk


def test_failing_sources_turn_healthz_503_despite_idle_passes_and_back(desk, httpserver):
    daemon, clock, site = desk
    httpserver.expect_request("/rss").respond_with_data("down", status=500)
    statuses = []
    for _ in range(UNHEALTHY_AFTER):
        daemon.collect_now()  # due: fails
        statuses.append(site.get("/healthz").status)
        clock.now += timedelta(minutes=1)
        daemon.collect_now()  # backing off: nothing due
        reply = site.get("/healthz")
        statuses.append(reply.status)
        clock.now = daemon.store.source_state("wire").next_due  # the backoff is over
    assert statuses == [200, 200, 200, 200, 503, 503]
    failing = json.loads(reply.body)
    assert failing["status"] == "failing"
    assert failing["failed_passes_in_a_row"] == UNHEALTHY_AFTER
    assert failing["last_error"].startswith("wire: HTTP 500")
    (reason,) = failing["reasons"]
    assert "the last 3 passes that collected something all failed" in reason
    assert "wire: HTTP 500" in reason

    httpserver.clear()
    httpserver.expect_request("/rss").respond_with_data(rss(GRAIN))
    daemon.collect_now()
    healthy = site.get("/healthz")
    assert healthy.status == 200
    body = json.loads(healthy.body)
    assert (body["status"], body["failed_passes_in_a_row"]) == ("ok", 0)
    assert "reasons" not in body
    assert body["last_error"].startswith("wire: HTTP 500")  # the last real error stays


def test_a_stopped_scheduler_is_unhealthy(desk) -> None:
    daemon, _, site = desk
    daemon.scheduler.shutdown()
    reply = site.get("/healthz")
    assert reply.status == 503
    assert json.loads(reply.body)["reasons"] == ["scheduler stopped"]
    daemon.scheduler.start()


def test_collection_overdue_when_no_pass_finishes(desk, httpserver) -> None:
    daemon, clock, site = desk
    httpserver.expect_request("/rss").respond_with_data(rss(GRAIN))
    daemon.collect_now()
    clock.now += overdue_after(daemon.config) - timedelta(seconds=1)
    assert site.get("/healthz").status == 200
    clock.now += timedelta(seconds=2)
    reply = site.get("/healthz")
    assert reply.status == 503
    (reason,) = json.loads(reply.body)["reasons"]
    assert reason.startswith("collection overdue: no pass has finished since 2026-03-03T12:00")


def test_a_source_waiting_many_intervals_is_overdue() -> None:
    history = PassHistory(started=T0)
    history.record(PassReport(started=T0, finished=T0, sources=(SourceReport(source="a"),)), now=T0)
    history.record_schedule(
        ScheduleStatus(due=1, overdue=1, lag_seconds=2400, late="slow", late_intervals=4.0)
    )
    health = assess(history, running=True, now=T0, overdue_after=timedelta(minutes=5))
    assert not health.ok
    assert health.reasons == ("collection overdue: slow waited 2400 s, 4.0 of its intervals",)
    history.record_schedule(ScheduleStatus(due=1, lag_seconds=30, late="a", late_intervals=0.05))
    assert assess(history, running=True, now=T0, overdue_after=timedelta(minutes=5)).ok
