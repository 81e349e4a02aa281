"""Golden files: each real-shaped feed in tests/fixtures/golden/ parses to exactly the
Articles written out beside it (``<name>.expected.json``, every field), by the lxml fast
path and by feedparser alone; the seed article reads to exactly its own.

After a deliberate change to what the parser makes, rewrite the expected files with
``WIREDESK_UPDATE_GOLDEN=1 python -m pytest tests/test_parse_golden.py`` and read the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aggregator import dedup
from aggregator.models import Article, FetchResult, ParsedFeed
from aggregator.parse import parse_feed
from aggregator.seeds import parse_seed
from aggregator.text import plain_text
from tests.builders import FIXTURES

GOLDEN = FIXTURES / "golden"
NOW = datetime(2025, 4, 14, 12, 0, tzinfo=UTC)  # the clock of every parse, after every date
UPDATE = os.environ.get("WIREDESK_UPDATE_GOLDEN") == "1"

# file -> (the URL it was fetched from, the Content-Type it came with)
FEEDS = {
    "rss2.xml": ("https://courier.example.net/feed.xml", "application/rss+xml; charset=utf-8"),
    "atom.xml": ("https://weather.example.org/feed.atom", "application/atom+xml"),
    "rss1.rdf": ("https://archive.example.com/notes.rdf", "application/rdf+xml"),
    "jsonfeed.json": ("https://radio.example.kz/feed.json", "application/feed+json"),
}


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: datetimes in ISO 8601, tuples as lists, values as dicts."""
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # an Article's ``texts`` and ``title_key`` are derived from its summary, content
        # and title (the tests below)
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in ("texts", "title_key")
        }
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


def as_written(parsed: ParsedFeed) -> dict[str, Any]:
    """What the expected file of a feed holds: its title, link and every Article field."""
    return {
        "title": parsed.title,
        "link": parsed.link,
        "warnings": list(parsed.warnings),
        "articles": [plain(a) for a in parsed.articles],
    }


def written(got: dict[str, Any]) -> str:
    """``got`` as JSON to read: a line per key, and per field of each article."""

    def line(key: str, value: Any, indent: str) -> str:
        return f"{indent}{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"

    def block(fields: dict[str, Any]) -> str:
        return "    {\n" + ",\n".join(line(k, v, "      ") for k, v in fields.items()) + "\n    }"

    head = [line(k, v, "  ") for k, v in got.items() if k != "articles"]
    articles = '  "articles": [\n' + ",\n".join(map(block, got["articles"])) + "\n  ]"
    return "{\n" + ",\n".join([*head, articles]) + "\n}\n"


def expect(name: str, got: dict[str, Any]) -> None:
    """Compare ``got`` with ``name``'s expected file, or write it when updating."""
    expected = GOLDEN / f"{Path(name).stem}.expected.json"
    if UPDATE:
        expected.write_text(written(got), encoding="utf-8")
    assert got == json.loads(expected.read_text(encoding="utf-8"))


def parse(name: str, *, fast_path: bool) -> ParsedFeed:
    """The golden feed ``name`` parsed as source ``desk``."""
    url, content_type = FEEDS[name]
    result = FetchResult(
        url=url,
        status=200,
        content=(GOLDEN / name).read_bytes(),
        headers={"content-type": content_type},
    )
    return parse_feed("desk", result, now=NOW, fast_path=fast_path)


@pytest.mark.parametrize("name", FEEDS)
def test_a_feed_parses_to_exactly_its_golden_articles(name: str) -> None:
    expect(name, as_written(parse(name, fast_path=False)))


@pytest.mark.parametrize(
    ("name", "declined"),
    [("rss2.xml", ""), ("atom.xml", ""), ("rss1.rdf", "not RSS 2.0 or Atom 1.0")],
)
def test_the_fast_path_reads_each_feed_as_feedparser_does_or_declines(
    name: str, declined: str
) -> None:
    quick = parse(name, fast_path=True)
    assert quick.declined == declined
    expect(name, as_written(quick))


@pytest.mark.parametrize("name", FEEDS)
@pytest.mark.parametrize("fast_path", [True, False])
def test_each_article_carries_the_plain_text_of_its_html(name: str, fast_path: bool) -> None:
    for article in parse(name, fast_path=fast_path).articles:
        html = [h for h in (article.summary, article.content) if h]
        assert article.texts == tuple((h, plain_text(h)) for h in html)
        assert [article.plain(h) for h in html] == [plain_text(h) for h in html]


@pytest.mark.parametrize("name", FEEDS)
@pytest.mark.parametrize("fast_path", [True, False])
def test_each_article_carries_the_dedup_key_of_its_title(name: str, fast_path: bool) -> None:
    for article in parse(name, fast_path=fast_path).articles:
        assert article.title_key == (article.title, dedup.headline_key(article.title))
        assert dedup.key_of(article) == dedup.dedup_key(article.title)


def test_a_seed_article_reads_to_exactly_its_golden_article() -> None:
    article: Article = parse_seed(
        (GOLDEN / "seed.txt").read_text(encoding="utf-8"),
        source="bay",
        path="seeds/seed.txt",
        guid="seed.txt",
        timezone=ZoneInfo("Europe/Istanbul"),
    )
    expect("seed.txt", {"articles": [plain(article)]})


def test_every_golden_input_is_parsed_here_and_has_its_expected_file() -> None:
    names = {path.name for path in GOLDEN.iterdir()}
    inputs = {name for name in names if not name.endswith(".expected.json")}
    assert inputs == {*FEEDS, "seed.txt"}
    assert names - inputs == {f"{Path(name).stem}.expected.json" for name in inputs}
