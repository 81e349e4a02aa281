"""The benchmark's workload and feed server, on a tiny workload: the feeds parse cleanly,
the seed files have the seed shape, duplicates fold, and the server honours validators."""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import feedparser
import pytest

from aggregator.dedup import normalise_headline
from bench.server import FeedServer
from bench.workload import Workload, change_feeds, generate_feeds, write_seeds

DATE = re.compile(r"^- (Published|Modified) Date: \d\d:\d\d \| \d{1,2} [A-Z][a-z]+ \d{4}$")


@pytest.fixture(scope="module")
def workload() -> Workload:
    return generate_feeds(6, 12, seed=7)


def get(server: FeedServer, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(server.base_url.removeprefix("http://"), timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_same_seed_gives_the_same_bytes(workload: Workload) -> None:
    again = generate_feeds(6, 12, seed=7)
    assert [f.body for f in again.feeds] == [f.body for f in workload.feeds]
    assert generate_feeds(6, 12, seed=8).feeds[0].body != workload.feeds[0].body


def test_feeds_parse_cleanly_half_rss_half_atom(workload: Workload) -> None:
    kinds = [feed.kind for feed in workload.feeds]
    assert kinds.count("rss") == kinds.count("atom") == 3
    for feed in workload.feeds:
        parsed = feedparser.parse(feed.body)
        assert parsed.bozo == 0, (feed.name, parsed.get("bozo_exception"))
        assert parsed.version == ("rss20" if feed.kind == "rss" else "atom10")
        assert len(parsed.entries) == 12
        body = parsed.entries[0].content[0].value
        assert "<p>" in body and "<img" in body and "<a href" in body


def test_bodies_are_one_to_three_kilobytes_and_some_use_relative_urls(workload: Workload) -> None:
    stories = [story for feed in workload.feeds for story in feed.stories]
    assert all(900 <= len(s.body) <= 3300 for s in stories)
    assert any('src="images/' in s.body for s in stories)


def test_some_stories_repeat_across_feeds_with_other_case_and_punctuation() -> None:
    workload = generate_feeds(20, 20, seed=3)
    by_key: dict[str, set[str]] = {}
    titles: dict[str, set[str]] = {}
    for feed in workload.feeds:
        for story in feed.stories:
            key = normalise_headline(story.title)
            by_key.setdefault(key, set()).add(feed.name)
            titles.setdefault(key, set()).add(story.title)
    repeated = [key for key, feeds in by_key.items() if len(feeds) > 1]
    retold = sum(len(feeds) for key, feeds in by_key.items() if key in repeated)
    assert 0.05 <= retold / workload.entries <= 0.2  # about DUPLICATE_SHARE
    assert any(len(titles[key]) > 1 for key in repeated)


def test_change_adds_entries_at_the_top_and_new_validators(workload: Workload) -> None:
    changed, names = change_feeds(workload, 0.5, new_entries=3)
    assert len(names) == 3
    for old, new in zip(workload.feeds, changed.feeds, strict=True):
        if old.name in names:
            assert new.etag != old.etag and new.last_modified != old.last_modified
            assert new.stories[3:] == old.stories[:-3] and len(new.stories) == 12
            assert feedparser.parse(new.body).entries[0].title == new.stories[0].title
        else:
            assert new == old


def test_seed_files_have_the_seed_shape(tmp_path: Path) -> None:
    paths = write_seeds(tmp_path, 40, seed=5)
    assert len(paths) == len(list(tmp_path.glob("*.txt"))) == 40
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        headline, lede, section, agency, published = lines[:5]
        assert headline and lede and not headline.startswith("- ")
        assert section.startswith("- ") and agency.startswith("- ")
        assert DATE.match(published) and published.startswith("- Published Date")
        # The metadata is the first run of bullets; then body lines; then only bullets.
        meta_end = next(i for i in range(2, len(lines)) if not lines[i].startswith("- "))
        rest = lines[meta_end:]
        body_end = next((i for i, line in enumerate(rest) if line.startswith("- ")), len(rest))
        assert body_end >= 3
        assert all(line.startswith("- ") for line in rest[body_end:])


def test_server_honours_etag_and_last_modified(workload: Workload) -> None:
    feed = workload.feeds[0]
    with FeedServer(workload) as server:
        plain = get(server, feed.path)
        assert plain.status == 200
        assert plain.getheader("ETag") == feed.etag
        assert plain.getheader("Last-Modified") == feed.last_modified
        assert get(server, feed.path, **{"If-None-Match": feed.etag}).status == 304
        assert get(server, feed.path, **{"If-None-Match": '"other"'}).status == 200
        since = {"If-Modified-Since": feed.last_modified}
        assert get(server, feed.path, **since).status == 304
        assert get(server, "/missing.xml").status == 404
        changed, _ = change_feeds(workload, 1.0)
        server.serve(changed)
        assert get(server, feed.path, **{"If-None-Match": feed.etag}).status == 200
        assert server.counts() == {200: 3, 304: 2, 404: 1}
