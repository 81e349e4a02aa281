"""/metrics over HTTP after real passes against feeds on 127.0.0.1 (one good, one failing,
one answering 304), read back with prometheus_client's own parser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from aggregator.daemon import Daemon
from tests.builders import FERRY, GRAIN, Clock, Site, desk_config, rss, served_daemon, source

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(site: Site) -> Samples:
    reply = site.get("/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def desk(tmp_path: Path, httpserver: HTTPServer) -> Iterator[tuple[Daemon, Clock, Site]]:
    httpserver.expect_request("/good").respond_with_data(rss(GRAIN))
    httpserver.expect_request("/failing").respond_with_data("no", status=503)
    httpserver.expect_request("/cached", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    httpserver.expect_request("/cached").respond_with_data(rss(FERRY), headers={"ETag": '"v1"'})
    sources = (
        source(name, httpserver.url_for("/" + name)) for name in ("good", "failing", "cached")
    )
    path = desk_config(tmp_path, *sources, defaults="{interval: 10m, timeout: 5s}")
    with served_daemon(path) as desk:
        yield desk


def test_metrics_after_two_passes(desk) -> None:
    daemon, clock, site = desk
    daemon.collect_now()
    clock.now += timedelta(minutes=11)  # every source due again, none late
    daemon.collect_now()
    samples = scrape(site)

    assert value(samples, "wiredesk_passes_total", result="ok") == 2
    assert value(samples, "wiredesk_pass_duration_seconds_count") == 2
    assert value(samples, "wiredesk_last_successful_pass_timestamp_seconds") == (
        clock.now.timestamp()
    )
    fetches = {
        (dict(labels)["source"], dict(labels)["outcome"]): count
        for (name, labels), count in samples.items()
        if name == "wiredesk_fetches_total"
    }
    assert fetches == {
        ("good", "200"): 2,
        ("failing", "FetchError"): 2,
        ("cached", "200"): 1,
        ("cached", "304"): 1,
    }
    assert value(samples, "wiredesk_fetch_duration_seconds_count") == 6
    assert value(samples, "wiredesk_stories_total", source="good", change="new") == 1
    assert value(samples, "wiredesk_stories_total", source="cached", change="new") == 1
    assert value(samples, "wiredesk_stories_total", source="good", change="merged") == 0
    assert value(samples, "wiredesk_pass_stage_seconds_count", stage="parse") == 2
    assert value(samples, "wiredesk_pass_stage_seconds_count", stage="store") == 2
    # as the sources stood when the second pass began
    assert value(samples, "wiredesk_sources", state="due") == 3
    assert value(samples, "wiredesk_sources", state="overdue") == 0
    assert value(samples, "wiredesk_sources", state="backoff") == 1
    assert value(samples, "wiredesk_sources", state="disabled") == 0
    assert 0 < value(samples, "wiredesk_scheduler_lag_seconds") <= 60
    assert value(samples, "wiredesk_stories_stored") == 2
    # every pass publishes what is pending; pass 2 has nothing to write but still checks
    assert value(samples, "wiredesk_publish_duration_seconds_count") == 2
    assert value(samples, "wiredesk_published_files_written_total") > 0


def test_a_source_removed_from_the_config_loses_its_series(desk) -> None:
    daemon, _, site = desk
    daemon.collect_now()
    config = daemon.config.path
    config.write_text(
        "\n".join(line for line in config.read_text().splitlines() if "failing" not in line),
        encoding="utf-8",
    )
    daemon.reload()
    names = {dict(labels).get("source") for _, labels in scrape(site)}
    assert {"good", "cached"} <= names
    assert "failing" not in names
