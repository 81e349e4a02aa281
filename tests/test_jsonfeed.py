"""JSON Feed sources: a source serving JSON Feed 1.0 or 1.1 is collected like RSS and Atom,
and ``add`` on a page that announces only a JSON Feed adds it (all on 127.0.0.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.errors import ParseError
from aggregator.models import FetchResult
from aggregator.parse import parse_feed
from tests.builders import desk_config, source

V11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Steppe Notes",
    "home_page_url": "https://steppe.example/",
    "items": [
        {
            "id": "https://steppe.example/p/2",
            "url": "https://steppe.example/p/2",
            "title": "Wheat harvest starts early",
            "content_html": "<p>Combines roll <a href='https://steppe.example/fields'>out</a>.</p>",
            "summary": "Combines roll out.",
            "date_published": "2024-05-06T09:30:00+03:00",
            "date_modified": "2024-05-06T10:00:00Z",
            "authors": [{"name": "Dana Sarsen"}],
            "tags": ["Farming"],
            "attachments": [
                {"url": "https://cdn.steppe.example/2.mp3", "mime_type": "audio/mpeg",
                 "size_in_bytes": 1200},
            ],
        },
        "not an item",
    ],
}  # fmt: skip
V10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "Old Steppe",
    "items": [
        {
            "id": 7,
            "url": "https://old.example/7",
            "title": "Rain at last",
            "content_text": "Rain <fell> all night.",
            "date_published": "2024-05-05T06:00:00Z",
            "author": {"name": "Old Desk"},
        }
    ],
}


def test_json_feed_sources_are_collected_like_rss(
    tmp_path: Path, httpserver: HTTPServer, capsys
) -> None:
    httpserver.expect_request("/v11").respond_with_json(V11, content_type="application/feed+json")
    httpserver.expect_request("/v10").respond_with_data(json.dumps(V10), content_type="text/plain")
    config = desk_config(
        tmp_path,
        source("steppe", httpserver.url_for("/v11")),
        source("old", httpserver.url_for("/v10")),
    )
    assert main(["collect", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(s["source"], s["new"], s["error"]) for s in report["sources"]] == [
        ("steppe", 1, ""),
        ("old", 1, ""),
    ]
    assert main(["articles", "--config", str(config), "--json"]) == 0
    wheat, rain = json.loads(capsys.readouterr().out)
    assert (wheat["title"], wheat["link"], wheat["author"]) == (
        "Wheat harvest starts early",
        "https://steppe.example/p/2",
        "Dana Sarsen",
    )
    assert wheat["published"] == "2024-05-06T06:30:00+00:00"
    assert wheat["updated"] == "2024-05-06T10:00:00+00:00"
    assert (
        wheat["content"] == '<p>Combines roll <a href="https://steppe.example/fields" '
        'rel="noopener noreferrer">out</a>.</p>'
    )
    assert (wheat["summary"], wheat["section"]) == ("Combines roll out.", "Farming")
    assert wheat["enclosures"] == [
        {
            "url": "https://cdn.steppe.example/2.mp3",
            "mime_type": "audio/mpeg",
            "size_in_bytes": 1200,
        }
    ]
    assert (rain["title"], rain["author"]) == ("Rain at last", "Old Desk")
    assert rain["content"] == "Rain &lt;fell&gt; all night."


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"version": "https://example.org/v2", "items": []}', "JSON without a"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
            "a JSON Feed without an items",
        ),
        (b'{"version": ', "broken JSON"),
    ],
)
def test_json_that_is_not_a_json_feed_is_a_parse_error(body: bytes, reason: str) -> None:
    result = FetchResult(url="https://x.example/feed", status=200, content=body)
    with pytest.raises(ParseError, match=f"^x: not a feed: {reason}"):
        parse_feed("x", result, now=datetime(2024, 5, 10, tzinfo=UTC))


def test_add_on_a_page_announcing_only_a_json_feed_adds_it(
    tmp_path: Path, httpserver: HTTPServer, capsys
) -> None:
    httpserver.expect_request("/feed.json").respond_with_json(
        V11, content_type="application/feed+json"
    )
    httpserver.expect_request("/").respond_with_data(
        '<!doctype html><html><head><link rel="alternate" type="application/feed+json" '
        'title="Steppe Notes" href="/feed.json"></head><body>Hello</body></html>',
        content_type="text/html",
    )
    config = tmp_path / "feeds.yaml"
    config.write_text("store: wire.db\nsources: []\n", encoding="utf-8")
    assert main(["add", httpserver.url_for("/"), "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("added steppe-notes: Steppe Notes (1 entry)")
    assert [s.url for s in load_config(config).sources] == [httpserver.url_for("/feed.json")]
