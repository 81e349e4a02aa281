"""The collection pass: due times, HTTP semantics kept in the store, and whole passes against
feeds served on 127.0.0.1 and seed folders on disk."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from aggregator.collector import collect, run_pass
from aggregator.collector.schedule import (
    MAX_BACKOFF,
    MAX_INTERVAL,
    after_failure,
    after_success,
    backoff,
    effective_url,
    is_due,
    jitter,
    later,
)
from aggregator.config import Config, FetchConfig, load_config
from aggregator.errors import FetchError, ParseError, StoriesDeleted
from aggregator.fetch import Fetcher
from aggregator.models import ArticleQuery, FetchResult, SourceState
from aggregator.store import open_store
from tests.builders import ATOM, FERRY, GRAIN, SEED, desk_config, rss, source

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def make_config(tmp_path: Path, *sources: str, **sections: str) -> Config:
    """The desk config of ``sources`` (see ``source``): each due hourly, four fetch workers,
    the store in ``data/test.db``."""
    return load_config(
        desk_config(
            tmp_path,
            *sources,
            store="data/test.db",
            defaults="{interval: 1h, timeout: 5s}",
            fetch="{workers: 4}",
            **sections,
        )
    )


@pytest.fixture
def store(tmp_path: Path):
    opened = open_store(str(tmp_path / "data" / "test.db"))
    yield opened
    opened.close()


@pytest.fixture
def fetcher():
    from aggregator.config import FetchConfig

    opened = Fetcher(FetchConfig())
    yield opened
    opened.close()


# --- pure due-time rules ----------------------------------------------------------------


def test_a_source_never_seen_is_due() -> None:
    assert is_due(None, NOW)


def test_due_after_its_interval_and_not_before() -> None:
    state = after_success(SourceState(name="a"), now=NOW, interval=HOUR, status=200)
    assert not is_due(state, NOW + timedelta(minutes=59))
    assert is_due(state, NOW + HOUR + jitter("a", HOUR, NOW))
    assert timedelta(0) <= jitter("a", HOUR, NOW) <= timedelta(minutes=2)


def test_jitter_spreads_sources_and_repeats_for_one() -> None:
    assert jitter("a", HOUR, NOW) == jitter("a", HOUR, NOW)
    assert len({jitter(name, HOUR, NOW) for name in "abcdef"}) > 1


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(HOUR, n) for n in (1, 2, 3)] == [HOUR, 2 * HOUR, 4 * HOUR]
    assert backoff(HOUR, 30) == MAX_BACKOFF
    assert backoff(timedelta(days=2), 1) == timedelta(days=2)


def test_failure_increments_the_streak_and_success_resets_it() -> None:
    error = FetchError("a", "HTTP 500 Internal Server Error", status=500)
    failed = after_failure(SourceState(name="a"), error, now=NOW, interval=HOUR)
    failed = after_failure(failed, error, now=NOW, interval=HOUR)
    assert (failed.error_streak, failed.last_status) == (2, 500)
    assert failed.next_due == NOW + 2 * HOUR
    assert failed.last_error == "a: HTTP 500 Internal Server Error"
    recovered = after_success(failed, now=NOW, interval=HOUR, status=200)
    assert (recovered.error_streak, recovered.last_error) == (0, "")


def test_retry_after_is_honoured_and_gone_disables() -> None:
    busy = FetchError("a", "HTTP 429 Too Many Requests", status=429, retry_after=7200)
    state = after_failure(SourceState(name="a"), busy, now=NOW, interval=HOUR)
    assert state.next_due == NOW + timedelta(seconds=7200)
    gone = FetchError("a", "HTTP 410 Gone", status=410)
    state = after_failure(SourceState(name="a"), gone, now=NOW, interval=HOUR)
    assert state.disabled
    assert not is_due(state, NOW + timedelta(days=30))


@pytest.mark.parametrize("seconds", [1e20, float("inf"), float("nan"), -5.0])
def test_an_absurd_retry_after_cannot_overflow_the_due_time(seconds: float) -> None:
    busy = FetchError("a", "HTTP 429 Too Many Requests", status=429, retry_after=seconds)
    state = after_failure(SourceState(name="a"), busy, now=NOW, interval=HOUR)
    assert NOW + HOUR <= state.next_due <= NOW + MAX_BACKOFF


def test_an_absurd_interval_cannot_overflow_the_due_time() -> None:
    huge = timedelta(weeks=999999)
    ok = after_success(SourceState(name="a"), now=NOW, interval=huge, status=200)
    failed = after_failure(ok, ParseError("a", "not a feed"), now=NOW, interval=huge)
    assert NOW < ok.next_due <= NOW + MAX_INTERVAL + timedelta(minutes=2)
    assert NOW < failed.next_due <= NOW + MAX_INTERVAL
    assert later(datetime.max.replace(tzinfo=UTC), HOUR) == datetime.max.replace(tzinfo=UTC)


def test_parse_errors_back_off_too() -> None:
    state = after_failure(
        SourceState(name="a"), ParseError("a", "not a feed"), now=NOW, interval=HOUR
    )
    assert (state.error_streak, state.last_status) == (1, None)


def test_an_edited_config_url_beats_a_remembered_redirect(tmp_path: Path) -> None:
    config = make_config(tmp_path, source("a", "https://new.example/rss"))
    moved = SourceState(
        name="a", url="https://moved.example/rss", origin_url="https://old.example/rss"
    )
    assert effective_url(config.source("a"), moved) == "https://new.example/rss"
    kept = SourceState(
        name="a", url="https://moved.example/rss", origin_url="https://new.example/rss"
    )
    assert effective_url(config.source("a"), kept) == "https://moved.example/rss"


# --- whole passes -------------------------------------------------------------------------


def test_second_pass_is_all_not_modified(tmp_path, store, fetcher, httpserver: HTTPServer):
    def answer(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(
            rss(FERRY, GRAIN), headers={"ETag": '"v1"'}, content_type="application/rss+xml"
        )

    httpserver.expect_request("/rss").respond_with_handler(answer)
    config = make_config(tmp_path, source("wire", httpserver.url_for("/rss")))
    first = collect(config, store, fetcher, now=NOW)
    assert (first.sources[0].new, first.sources[0].error) == (2, "")
    second = collect(config, store, fetcher, now=NOW + 2 * HOUR)
    assert second.sources[0].not_modified
    assert not second.changed


def test_nothing_is_fetched_before_it_is_due(tmp_path, store, fetcher, httpserver: HTTPServer):
    httpserver.expect_request("/rss").respond_with_data(rss(GRAIN))
    config = make_config(tmp_path, source("wire", httpserver.url_for("/rss")))
    collect(config, store, fetcher, now=NOW)
    assert collect(config, store, fetcher, now=NOW + timedelta(minutes=5)).sources == ()
    forced = collect(config, store, fetcher, now=NOW + timedelta(minutes=5), only=["wire"])
    assert forced.sources[0].not_modified  # same bytes again: not even parsed
    assert len(httpserver.log) == 2


def test_a_source_fetched_late_in_a_pass_is_due_an_interval_after_its_fetch(
    tmp_path, store, fetcher, httpserver: HTTPServer
):
    # A slow answer stands for a pass that reached this source late: its next due time
    # counts from its own fetch, or another node would fetch it again at once.
    def slow(request):
        time.sleep(0.3)
        return Response(rss(GRAIN), content_type="application/rss+xml")

    httpserver.expect_request("/rss").respond_with_handler(slow)
    config = make_config(tmp_path, source("wire", httpserver.url_for("/rss")))
    collect(config, store, fetcher, now=NOW)
    state = store.source_state("wire")
    assert state.last_fetch >= NOW + timedelta(seconds=0.3)
    assert state.next_due == state.last_fetch + HOUR + jitter("wire", HOUR, state.last_fetch)


def test_a_source_failing_late_in_a_pass_backs_off_from_its_own_fetch(
    tmp_path, store, fetcher, httpserver: HTTPServer
):
    # A failure's backoff counts from its own fetch too, as a success's interval does.
    def slow_failure(request):
        time.sleep(0.3)
        return Response("oops", status=500)

    httpserver.expect_request("/rss").respond_with_handler(slow_failure)
    config = make_config(tmp_path, source("wire", httpserver.url_for("/rss")))
    collect(config, store, fetcher, now=NOW)
    state = store.source_state("wire")
    assert state.last_fetch >= NOW + timedelta(seconds=0.3)
    assert (state.error_streak, state.next_due) == (1, state.last_fetch + HOUR)


def test_permanent_redirect_updates_the_stored_url(tmp_path, store, fetcher, httpserver):
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(rss(GRAIN))
    config = make_config(tmp_path, source("wire", httpserver.url_for("/old")))
    collect(config, store, fetcher, now=NOW)
    assert store.source_state("wire").url == httpserver.url_for("/new")
    collect(config, store, fetcher, now=NOW + 2 * HOUR)
    assert [request.path for request, _ in httpserver.log] == ["/old", "/new", "/new"]


def test_gone_disables_and_errors_are_kept(tmp_path, store, fetcher, httpserver: HTTPServer):
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    httpserver.expect_request("/busy").respond_with_data(
        "", status=429, headers={"Retry-After": "7200"}
    )
    config = make_config(
        tmp_path,
        source("gone", httpserver.url_for("/gone")),
        source("busy", httpserver.url_for("/busy")),
    )
    report = collect(config, store, fetcher, now=NOW)
    assert [bool(s.error) for s in report.sources] == [True, True]
    gone, busy = store.source_state("gone"), store.source_state("busy")
    assert gone.disabled and gone.last_status == 410
    assert busy.next_due == busy.last_fetch + timedelta(seconds=7200)
    assert "429" in busy.last_error and busy.error_streak == 1


def test_server_error_then_recovery(tmp_path, store, fetcher, httpserver: HTTPServer):
    httpserver.expect_ordered_request("/rss").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/rss").respond_with_data(rss(GRAIN))
    config = make_config(tmp_path, source("wire", httpserver.url_for("/rss")))
    collect(config, store, fetcher, now=NOW)
    assert store.source_state("wire").error_streak == 1
    collect(config, store, fetcher, now=NOW + 2 * HOUR)
    state = store.source_state("wire")
    assert (state.error_streak, state.last_error, state.last_status) == (0, "", 200)


def test_one_broken_source_never_stops_the_others(tmp_path, store, fetcher, httpserver):
    httpserver.expect_request("/good").respond_with_data(rss(GRAIN))
    httpserver.expect_request("/html").respond_with_data(
        "<html><body>Not a feed</body></html>", content_type="text/html"
    )
    config = make_config(
        tmp_path,
        source("refused", "http://127.0.0.1:9/rss"),
        source("page", httpserver.url_for("/html")),
        source("good", httpserver.url_for("/good")),
    )
    report = collect(config, store, fetcher, now=NOW)
    assert [s.source for s in report.sources] == ["refused", "page", "good"]
    assert report.errors == 2
    assert report.sources[2].new == 1
    assert store.article_counts() == {"good": 1}


def test_a_source_whose_stories_another_node_keeps_deleting_fails_alone(
    tmp_path, store, httpserver, monkeypatch
):
    # The store gives one source's pass up (StoriesDeleted): that source fails, backs off
    # and keeps the validators it had, so it is fetched again in full; the others go on.
    httpserver.expect_request("/ferry").respond_with_data(rss(FERRY), headers={"ETag": '"v2"'})
    httpserver.expect_request("/grain").respond_with_data(rss(GRAIN))
    config = make_config(
        tmp_path,
        source("raced", httpserver.url_for("/ferry")),
        source("good", httpserver.url_for("/grain")),
    )
    store.save_source_state(SourceState(name="raced", etag='"v1"'))
    ingest = store.ingest

    def raced(name, articles, state, **kwargs):
        if name == "raced":
            raise StoriesDeleted(name, "a story this pass matched was deleted (test)")
        return ingest(name, articles, state, **kwargs)

    monkeypatch.setattr(store, "ingest", raced)
    with Fetcher(config.fetch) as fetcher:
        report, _ = run_pass(config, store, fetcher, now=NOW)
    failed, good = report.sources
    assert failed.error == "raced: a story this pass matched was deleted (test)"
    assert failed.error_kind == "StoriesDeleted" and good.new == 1
    state = store.source_state("raced")
    assert (state.error_streak, state.etag, state.last_error) == (1, '"v1"', failed.error)
    assert store.article_counts() == {"good": 1}


def test_an_unforeseen_error_stays_in_its_sources_report(tmp_path, store, httpserver, caplog):
    # A bug in one source's path (here a fetcher that trips on one URL) is that source's
    # error: the pass goes on, the state is saved, the source backs off.
    class Tripping(Fetcher):
        def fetch(self, source, url, **kwargs):
            if source == "buggy":
                raise OverflowError("date value out of range")
            return super().fetch(source, url, **kwargs)

    httpserver.expect_request("/good").respond_with_data(rss(GRAIN))
    config = make_config(
        tmp_path,
        source("buggy", httpserver.url_for("/bad")),
        source("good", httpserver.url_for("/good")),
    )
    with Tripping(config.fetch) as fetcher:
        report, _ = run_pass(config, store, fetcher, now=NOW)
    buggy, good = report.sources
    assert buggy.error == (
        "buggy: unexpected error (OverflowError: date value out of range); see the log"
    )
    assert good.new == 1
    state = store.source_state("buggy")
    assert (state.error_streak, state.next_due) == (1, state.last_fetch + HOUR)
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


def test_seed_and_feed_of_one_story_become_one_article(tmp_path, store, fetcher, httpserver):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ferry.txt").write_text(SEED, encoding="utf-8")
    httpserver.expect_request("/rss").respond_with_data(rss(FERRY))
    config = make_config(
        tmp_path,
        source("seeds", "seeds", timezone="Europe/Istanbul"),
        source("wire", httpserver.url_for("/rss")),
    )
    _, published = run_pass(config, store, fetcher, now=NOW)
    (story,) = store.articles(ArticleQuery())
    assert set(story.sources) == {"seeds", "wire"}
    assert story.link == "https://news.example/ferry-1"
    assert "Two catamarans" in story.content
    assert published is not None and (tmp_path / "feeds" / "all.rss").exists()
    assert (tmp_path / "feeds" / "articles" / f"{story.id}.html").exists()


def test_a_new_seed_file_is_picked_up_and_broken_ones_reported(tmp_path, store, fetcher):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ferry.txt").write_text(SEED, encoding="utf-8")
    (seeds / "broken.txt").write_text("Only a headline\n", encoding="utf-8")
    config = make_config(tmp_path, source("seeds", "seeds", timezone="Europe/Istanbul"))
    first = collect(config, store, fetcher, now=NOW)
    assert first.sources[0].new == 1
    assert "broken.txt" in first.sources[0].file_errors[0]
    assert "broken.txt" in store.source_state("seeds").last_error
    (seeds / "grain.txt").write_text(
        SEED.replace("New ferry line", "Second ferry line"), encoding="utf-8"
    )
    second = collect(config, store, fetcher, now=NOW + 2 * HOUR)
    assert (second.sources[0].new, second.sources[0].unchanged) == (1, 1)


def test_source_errors_survive_a_trip_between_processes() -> None:
    import pickle

    from aggregator.errors import SeedError

    errors = [
        ParseError("wire", "not a feed"),
        FetchError("wire", "HTTP 429 Too Many Requests", status=429, retry_after=60.0),
        SeedError("seeds", "/x/a.txt", "no Published Date"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), str(copy), copy.__dict__) == (type(error), str(error), error.__dict__)


def test_many_feeds_are_parsed_in_worker_processes(tmp_path, store, fetcher, httpserver, caplog):
    from aggregator.collector.parsers import PARSE_INLINE_FIRST, PARSE_POOL_MIN

    count = max(PARSE_POOL_MIN, PARSE_INLINE_FIRST) + 2
    for number in range(count):
        item = (f"g{number}", f"Story number {number} of the wire", GRAIN[2])
        httpserver.expect_request(f"/rss{number}").respond_with_data(rss(item))
    httpserver.expect_request("/html").respond_with_data(
        "<html><body>no</body></html>", content_type="text/html"
    )
    feeds = [source(f"w{n}", httpserver.url_for(f"/rss{n}")) for n in range(count)]
    config = make_config(tmp_path, *feeds, source("page", httpserver.url_for("/html")))
    with caplog.at_level(logging.DEBUG, "aggregator.collector.parsers"):
        report = collect(config, store, fetcher, now=NOW)
    assert "parsing the rest of the pass in worker processes" in caplog.text
    assert sum(s.new for s in report.sources) == count
    (page,) = [s for s in report.sources if s.error]
    assert page.source == "page" and "not a feed" in page.error


def test_feeds_parsed_before_with_few_new_entries_are_parsed_in_this_process(caplog):
    from aggregator.collector.parsers import PARSE_INLINE_FIRST, PARSE_POOL_MIN, Parsers

    body = rss(GRAIN, FERRY).encode()
    result = FetchResult(url="https://news.example/rss", status=200, content=body)
    known = frozenset({"the key of an entry of the last body"})
    parsers = closing(Parsers(PARSE_POOL_MIN * 2))
    with caplog.at_level(logging.DEBUG, "aggregator.collector.parsers"), parsers as parser:
        for _ in range(PARSE_INLINE_FIRST * 3):
            assert len(parser("wire", result, NOW, known).articles) == 2
    assert "worker processes" not in caplog.text


def _no_parse_processes() -> bool:
    import multiprocessing

    starting = [t for t in threading.enumerate() if t.name == "parse-pool"]
    return not multiprocessing.active_children() and not starting


def test_parsing_goes_on_here_while_the_worker_processes_start(monkeypatch, caplog):
    from aggregator import parse
    from aggregator.collector import parsers

    real, go = parsers._process_pool, threading.Event()

    def slow_to_start(workers):
        go.wait()
        return real(workers)

    monkeypatch.setattr(parsers, "_process_pool", slow_to_start)
    body = rss(GRAIN, FERRY).encode()
    result = FetchResult(url="https://news.example/rss", status=200, content=body)
    expected = parse.parse_feed("wire", result, now=NOW, known=frozenset())
    pool = parsers.Parsers(parsers.PARSE_POOL_MIN, parsers.PARSE_POOL_EARLY)
    with caplog.at_level(logging.DEBUG, "aggregator.collector.parsers"), closing(pool) as parser:
        for _ in range(parsers.PARSE_INLINE_FIRST * 3):
            assert parser("wire", result, NOW, frozenset()) == expected
        assert "worker processes" not in caplog.text
        go.set()  # the pass ends while its processes start: closing waits for them, stops them
    assert _no_parse_processes()


def test_a_pass_of_many_feeds_never_parsed_starts_its_processes_before_any_body(monkeypatch):
    from aggregator.collector import parsers

    asked = threading.Event()

    def record(workers):
        asked.set()
        raise OSError("not in this test")

    monkeypatch.setattr(parsers, "_process_pool", record)
    with closing(parsers.Parsers(parsers.PARSE_POOL_MIN, parsers.PARSE_POOL_EARLY - 1)):
        pass
    assert not asked.is_set()
    with closing(parsers.Parsers(parsers.PARSE_POOL_MIN, parsers.PARSE_POOL_EARLY)):
        assert asked.wait(30)


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (8, 7)])
def test_a_pass_parses_in_a_process_per_core_but_the_collecting_one(monkeypatch, cores, workers):
    from aggregator.collector import parsers

    monkeypatch.setattr(parsers.os, "cpu_count", lambda: cores)
    assert parsers.parse_workers() == workers
    asked: list[int] = []

    def record(count):
        asked.append(count)
        raise OSError("not in this test")

    monkeypatch.setattr(parsers, "_process_pool", record)
    with closing(parsers.Parsers(parsers.PARSE_POOL_MIN, parsers.PARSE_POOL_EARLY)):
        pass
    assert asked == ([] if cores == 1 else [workers])


def test_a_pass_counts_the_due_feeds_it_never_parsed(
    tmp_path, store, fetcher, httpserver, monkeypatch
):
    from aggregator import collector

    made: list[tuple[int, int]] = []

    class Counted(collector.Parsers):
        def __init__(self, feeds: int, fresh: int = 0) -> None:
            made.append((feeds, fresh))
            super().__init__(feeds, fresh)

    monkeypatch.setattr(collector, "Parsers", Counted)
    feed = "application/rss+xml"
    httpserver.expect_request("/rss").respond_with_data(rss(GRAIN), content_type=feed)
    httpserver.expect_request("/empty").respond_with_data(rss(), content_type=feed)
    feeds = [
        source("wire", httpserver.url_for("/rss")),
        source("quiet", httpserver.url_for("/empty")),
    ]
    config = make_config(tmp_path, *feeds)
    collect(config, store, fetcher, now=NOW)
    collect(config, store, fetcher, now=NOW + 2 * HOUR)
    assert made == [(2, 2), (2, 1)]


def test_worker_processes_that_fail_to_start_leave_parsing_here(monkeypatch, caplog):
    from aggregator.collector import parsers

    def no_processes(workers):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(parsers, "_process_pool", no_processes)
    result = FetchResult(url="https://news.example/rss", status=200, content=rss(GRAIN).encode())
    pool = parsers.Parsers(parsers.PARSE_POOL_MIN, parsers.PARSE_POOL_EARLY)
    with caplog.at_level(logging.WARNING, "aggregator.collector.parsers"), closing(pool) as parser:
        for _ in range(parsers.PARSE_INLINE_FIRST * 3):
            assert len(parser("wire", result, NOW, frozenset()).articles) == 1
    assert "worker processes did not start (Resource temporarily unavailable)" in caplog.text


def test_ctrl_c_in_a_first_pass_leaves_no_parse_processes(tmp_path, store, fetcher, httpserver):
    from aggregator.collector.parsers import PARSE_POOL_EARLY

    def progress(report):
        raise KeyboardInterrupt

    for number in range(PARSE_POOL_EARLY):
        httpserver.expect_request(f"/rss{number}").respond_with_data(rss(GRAIN))
    feeds = [source(f"w{n}", httpserver.url_for(f"/rss{n}")) for n in range(PARSE_POOL_EARLY)]
    with pytest.raises(KeyboardInterrupt):
        collect(make_config(tmp_path, *feeds), store, fetcher, now=NOW, progress=progress)
    assert _no_parse_processes()


def test_the_websub_hub_is_pinged_with_the_changed_feeds(tmp_path, store, fetcher, httpserver):
    httpserver.expect_request("/rss").respond_with_data(rss(GRAIN))
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    hub = httpserver.url_for("/hub")
    config = make_config(
        tmp_path,
        source("wire", httpserver.url_for("/rss")),
        publish=f'{{dir: feeds, base_url: "http://127.0.0.1:8080/", hub: "{hub}"}}',
    )
    run_pass(config, store, fetcher, now=NOW)
    (ping,) = [request for request, _ in httpserver.log if request.path == "/hub"]
    assert ping.form["hub.mode"] == "publish"
    assert "http://127.0.0.1:8080/all.rss" in ping.form.getlist("hub.url")
    links = ElementTree.parse(tmp_path / "feeds" / "all.rss").iter(f"{ATOM}link")
    assert hub in [link.get("href") for link in links if link.get("rel") == "hub"]


def test_an_undated_entry_keeps_its_first_date(tmp_path, store, fetcher, httpserver):
    undated = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>'
        "<link>https://news.example/</link><lastBuildDate>{}</lastBuildDate>"
        "<item><guid>u1</guid><title>Undated notice</title></item></channel></rss>"
    )
    httpserver.expect_ordered_request("/rss").respond_with_data(undated.format("one"))
    httpserver.expect_ordered_request("/rss").respond_with_data(undated.format("two"))
    config = make_config(tmp_path, source("wire", httpserver.url_for("/rss")))
    collect(config, store, fetcher, now=NOW)
    second = collect(config, store, fetcher, now=NOW + 2 * HOUR)
    assert (second.sources[0].updated, second.sources[0].unchanged) == (0, 1)
    (story,) = store.articles(ArticleQuery())
    assert story.published == NOW


def test_a_gone_source_comes_back_when_its_url_is_edited() -> None:
    gone = FetchError("a", "HTTP 410 Gone", status=410)
    state = after_failure(
        SourceState(name="a", origin_url="https://old.example/rss"), gone, now=NOW, interval=HOUR
    )
    assert not is_due(state, NOW + HOUR, url="https://old.example/rss")
    assert is_due(state, NOW, url="https://new.example/rss")


def test_ctrl_c_starts_no_more_sources(tmp_path, store, fetcher, httpserver) -> None:
    calls = []

    def progress(report):
        calls.append(report.source)
        raise KeyboardInterrupt

    for number in range(6):
        httpserver.expect_request(f"/rss{number}").respond_with_data(rss(GRAIN))
    feeds = [source(f"w{n}", httpserver.url_for(f"/rss{n}")) for n in range(6)]
    config = make_config(tmp_path, *feeds).model_copy(update={"fetch": FetchConfig(workers=1)})
    with pytest.raises(KeyboardInterrupt):
        collect(config, store, fetcher, now=NOW, progress=progress)
    assert len(calls) == 1
    assert len(httpserver.log) <= 2  # the one reported, and at most one already running


def test_sources_that_stored_articles_give_up_their_leases_together(
    tmp_path, store, fetcher, httpserver, monkeypatch
):
    releases, reported = [], []
    release = store.release

    def counted(holder, names, *, states=()):
        releases.append((list(names), len(states)))
        release(holder, names, states=states)

    def progress(report):
        reported.append(report.source)

    monkeypatch.setattr(store, "release", counted)
    for number in range(6):
        httpserver.expect_request(f"/rss{number}").respond_with_data(rss(GRAIN))
    feeds = [source(f"w{n}", httpserver.url_for(f"/rss{n}")) for n in range(6)]
    config = make_config(tmp_path, *feeds).model_copy(update={"fetch": FetchConfig(workers=1)})
    collect(config, store, fetcher, now=NOW, progress=progress)
    assert releases == [([f"w{n}" for n in range(6)], 0)]  # one for all, when the pass ends
    assert reported == [f"w{n}" for n in range(6)]  # each as it finished
    assert not store.leases(now=datetime.now(UTC))


def _validated(request):
    """A feed that answers 304 to its ETag."""
    if request.headers.get("If-None-Match") == '"v1"':
        return Response(status=304)
    return Response(rss(GRAIN), headers={"ETag": '"v1"'}, content_type="application/rss+xml")


def _collected_once(tmp_path, store, fetcher, httpserver, *, feeds: int) -> Config:
    """The config of ``feeds`` sources w0, w1... that answer 304 to their ETag, one worker,
    collected once at NOW."""
    for number in range(feeds):
        httpserver.expect_request(f"/rss{number}").respond_with_handler(_validated)
    sources = [source(f"w{n}", httpserver.url_for(f"/rss{n}")) for n in range(feeds)]
    config = make_config(tmp_path, *sources).model_copy(update={"fetch": FetchConfig(workers=1)})
    collect(config, store, fetcher, now=NOW)
    return config


def _counted_releases(store, monkeypatch) -> list[tuple[list[str], int]]:
    """Every ``store.release`` from now on, as (names, how many states), in order."""
    releases = []
    release = store.release

    def counted(holder, names, *, states=(), **given):
        releases.append((list(names), len(states)))
        release(holder, names, states=states, **given)

    monkeypatch.setattr(store, "release", counted)
    return releases


def test_not_modified_sources_save_their_states_together_when_the_pass_ends(
    tmp_path, store, fetcher, httpserver, monkeypatch
):
    config = _collected_once(tmp_path, store, fetcher, httpserver, feeds=6)
    releases = _counted_releases(store, monkeypatch)

    second = collect(config, store, fetcher, now=NOW + 2 * HOUR)

    assert all(report.not_modified for report in second.sources)
    assert releases == [([f"w{n}" for n in range(6)], 6)]  # one transaction for all
    states = store.source_states()
    assert all(states[f"w{n}"].last_fetch >= NOW + 2 * HOUR for n in range(6))
    assert not store.leases(now=datetime.now(UTC))


def test_finished_sources_are_released_with_their_states_a_batch_at_a_time(
    tmp_path, store, fetcher, httpserver, monkeypatch
):
    monkeypatch.setattr("aggregator.collector.leases.RELEASE_BATCH", 2)
    config = _collected_once(tmp_path, store, fetcher, httpserver, feeds=5)
    releases = _counted_releases(store, monkeypatch)

    collect(config, store, fetcher, now=NOW + 2 * HOUR)

    # leased earliest due first, which after the first pass is not in name order
    assert [(len(names), saved) for names, saved in releases] == [(2, 2), (2, 2), (1, 1)]
    assert sorted(name for names, _ in releases for name in names) == [f"w{n}" for n in range(5)]


def test_a_pass_that_raises_saves_the_states_of_the_sources_it_finished(
    tmp_path, store, fetcher, httpserver
):
    reported = []

    def progress(report):
        reported.append(report.source)
        if len(reported) == 3:
            raise KeyboardInterrupt

    config = _collected_once(tmp_path, store, fetcher, httpserver, feeds=6)

    with pytest.raises(KeyboardInterrupt):
        collect(config, store, fetcher, now=NOW + 2 * HOUR, progress=progress)

    states = store.source_states()
    assert len(reported) == 3
    assert all(states[name].last_fetch >= NOW + 2 * HOUR for name in reported)
    unreported = [name for name in states if name not in reported]
    assert all(states[name].last_fetch < NOW + 2 * HOUR for name in unreported)
    assert not store.leases(now=datetime.now(UTC))


def test_a_changed_feed_parses_only_its_new_and_edited_entries(
    tmp_path, store, fetcher, httpserver
):
    storm = ("storm-1", "Storm warning for the Aegean coast", "Tue, 03 Mar 2026 09:00:00 +0000")
    fixed = (GRAIN[0], "Grain corridor talks resume in Istanbul", GRAIN[2])
    feed = "application/rss+xml"
    httpserver.expect_ordered_request("/rss").respond_with_data(
        rss(FERRY, GRAIN), content_type=feed
    )
    httpserver.expect_ordered_request("/rss").respond_with_data(
        rss(storm, FERRY, fixed), content_type=feed
    )
    config = make_config(tmp_path, source("wire", httpserver.url_for("/rss")))
    collect(config, store, fetcher, now=NOW)
    first_keys = store.source_state("wire").item_keys
    second = collect(config, store, fetcher, now=NOW + 2 * HOUR).sources[0]
    assert (second.new, second.updated, second.unchanged) == (1, 1, 1)
    assert len(store.source_state("wire").item_keys - first_keys) == 2
    titles = {a.title for a in store.articles(ArticleQuery())}
    assert titles == {storm[1], FERRY[1], fixed[1]}
