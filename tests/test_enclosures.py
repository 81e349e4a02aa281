"""Podcast audio and images carried through: a feed served on 127.0.0.1, collected and
published by the CLI, read back with feedparser from every format and ``articles --json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from pytest_httpserver import HTTPServer

from aggregator.cli import main
from aggregator.models import FetchResult
from aggregator.parse import parse_feed
from tests.builders import feeds_yaml

PODCAST = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Desk Radio</title><link>https://radio.example.org/</link>
<description>Talk</description>
<item><title>Episode 12: the harbour strike</title>
<link>https://radio.example.org/12</link><guid>ep-12</guid>
<pubDate>Mon, 06 May 2024 08:00:00 GMT</pubDate>
<author>producer@radio.example.org (Ayla Demir)</author>
<description>Dockers talk about the strike.</description>
<enclosure url="https://cdn.example.org/ep12.mp3" length="2400000" type="audio/mpeg"/>
<media:content url="https://cdn.example.org/ep12.jpg" type="image/jpeg" fileSize="5100"/>
</item>
</channel></rss>
"""
AUDIO = ("https://cdn.example.org/ep12.mp3", "audio/mpeg", "2400000")
IMAGE = ("https://cdn.example.org/ep12.jpg", "image/jpeg")
ATTACHMENTS = [
    {"url": AUDIO[0], "mime_type": "audio/mpeg", "size_in_bytes": 2400000},
    {"url": IMAGE[0], "mime_type": "image/jpeg", "size_in_bytes": 5100},
]


def test_a_podcast_keeps_its_enclosures_in_every_format(
    tmp_path: Path, httpserver: HTTPServer, capsys
) -> None:
    httpserver.expect_request("/podcast").respond_with_data(
        PODCAST, content_type="application/rss+xml"
    )
    config = feeds_yaml(
        tmp_path,
        f"""
        store: data/wiredesk.db
        publish: {{dir: feeds, base_url: "http://127.0.0.1:8080/"}}
        sources:
          - {{name: radio, url: "{httpserver.url_for("/podcast")}"}}
        """,
    )
    assert main(["collect", "--config", str(config)]) == 0
    feeds = tmp_path / "feeds"
    for suffix in (".rss", ".atom"):
        entry = feedparser.parse((feeds / f"all{suffix}").read_bytes()).entries[0]
        found = [(e["href"], e.get("type"), e.get("length")) for e in entry.enclosures]
        assert found[0] == AUDIO, suffix
        if suffix == ".rss":  # RSS allows one <enclosure>: the image is a media:content
            assert [(m["url"], m["type"]) for m in entry.media_content] == [IMAGE]
        else:
            assert [found[1][:2]] == [IMAGE]
        assert entry.author == "Ayla Demir", suffix
    # feedparser 6.0 reads no JSON Feed: Wiredesk's own JSON Feed reader reads it back.
    (item,) = json.loads((feeds / "all.json").read_text(encoding="utf-8"))["items"]
    assert item["attachments"] == ATTACHMENTS
    assert item["authors"] == [{"name": "Ayla Demir"}]
    body = FetchResult(url="http://127.0.0.1:8080/all.json", status=200,
                       content=(feeds / "all.json").read_bytes())  # fmt: skip
    (again,) = parse_feed("again", body, now=datetime.now(UTC)).articles
    assert [(e.url, e.type, e.length) for e in again.enclosures] == [
        (AUDIO[0], AUDIO[1], int(AUDIO[2])),
        (IMAGE[0], IMAGE[1], 5100),
    ]
    capsys.readouterr()
    assert main(["articles", "--config", str(config), "--json"]) == 0
    (episode,) = json.loads(capsys.readouterr().out)
    assert episode["enclosures"] == ATTACHMENTS
    assert episode["author"] == "Ayla Demir"
