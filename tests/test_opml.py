"""OPML: the shapes real readers export, import without duplicates, export and back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aggregator.config import load_config
from aggregator.models import Subscription
from aggregator.opml import OpmlError, export_opml, import_opml, read_opml
from tests.conftest import FIXTURES

OPML = FIXTURES / "opml"
COMMENTED = FIXTURES / "configedit" / "commented.yaml"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\nstore: wire.db\n", encoding="utf-8")
    return path


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    shutil.copy(COMMENTED, path)
    return path


def sub(url: str, title: str, *folders: str, html: str = "") -> Subscription:
    return Subscription(url=url, title=title, html_url=html, folders=folders)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "miniflux",
            [
                sub("https://harbour.example/rss.xml", "Harbour Wire", "All", html="https://harbour.example/"),
                sub("https://orbit.example/feed.atom", "Orbit Notes", "Science & Space", html="https://orbit.example/"),
            ],
        ),
        (
            "freshrss",
            [
                sub("https://river.example/atom.xml", "River Post", "Uncategorized", html="https://river.example/"),
                sub("https://kaffee.example/rss", "Kaffeehaus Blätter", "Café Culture", html="https://kaffee.example/"),
            ],
        ),
        (
            "feedly",
            [
                sub("https://byteledger.example/feed/", "Byte Ledger", "Tech", html="https://byteledger.example"),
                sub("https://orbit.example/feed.atom", "Orbit Notes", "Tech", html="https://orbit.example/"),
                sub("https://byteledger.example/feed/", "Byte Ledger", "Must read", html="https://byteledger.example"),
            ],
        ),
        (
            "netnewswire",
            [
                sub("https://lakeside.example/index.xml", "Lakeside Gazette", html="https://lakeside.example/"),
                sub("https://quiet.example/feed.json", "Quiet Keyboard", "Blogs", html="https://quiet.example/"),
            ],
        ),
        (
            "newsboat",
            [
                sub("https://lakeside.example/index.xml", "Lakeside Gazette", html="https://lakeside.example/"),
                sub("https://untitled.example/rss", "untitled.example"),
                sub("exec:~/bin/weather-to-rss.sh", "Weather script"),
            ],
        ),
        (
            "quirks",
            [
                sub("https://fjord.example/atom", "Fjord Daily", "News", "Regional", "North"),
                sub("https://notitle.example/feeds/all.rss", "notitle.example"),
                sub("https://fjord.example/atom", "Fjord Daily (again)"),
                sub("https://everything.example/rss", "Everything Blog", "All"),
            ],
        ),
    ],
)  # fmt: skip
def test_read_each_exporters_shape(name: str, expected: list[Subscription]) -> None:
    assert read_opml(OPML / f"{name}.opml") == expected


def test_entity_declarations_are_refused_before_expansion() -> None:
    with pytest.raises(OpmlError, match=r"entities.opml: declares a DTD"):
        read_opml(OPML / "entities.opml")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<opml><body><outline", "not well-formed XML"),
        (b"<rss version='2.0'><channel/></rss>", r"not an OPML file"),
        (b"<opml version='2.0'><head/></opml>", r"not an OPML file"),
    ],
)
def test_files_that_are_not_opml_are_refused(tmp_path: Path, body: bytes, reason: str) -> None:
    path = tmp_path / "subs.opml"
    path.write_bytes(body)
    with pytest.raises(OpmlError, match=f"^{path}: {reason}"):
        read_opml(path)
    with pytest.raises(OpmlError, match="cannot read"):
        read_opml(tmp_path / "missing.opml")


def test_import_adds_sources_and_turns_folders_into_categories(empty: Path) -> None:
    result = import_opml(empty, OPML / "quirks.opml")
    assert result.added == ("fjord-daily", "notitle-example", "everything-blog")
    assert result.skipped == (
        "https://fjord.example/atom: listed twice in the file as 'fjord-daily'",
    )
    assert result.categories_created == ("news", "regional", "north", "all-2")
    config = load_config(empty)
    assert [(s.name, s.title, s.url) for s in config.sources] == [
        ("fjord-daily", "Fjord Daily", "https://fjord.example/atom"),
        ("notitle-example", "notitle.example", "https://notitle.example/feeds/all.rss"),
        ("everything-blog", "Everything Blog", "https://everything.example/rss"),
    ]
    assert [(c.name, c.title, c.sources) for c in config.categories] == [
        ("news", "News", ("fjord-daily",)),
        ("regional", "Regional", ("fjord-daily",)),
        ("north", "North", ("fjord-daily",)),
        ("all-2", "All", ("everything-blog",)),
    ]
    assert empty.read_text().startswith("# nothing yet\nstore: wire.db\n\nsources:\n")


@pytest.mark.parametrize(
    "name", ["miniflux", "freshrss", "feedly", "inoreader", "netnewswire", "newsboat", "quirks"]
)
def test_importing_twice_creates_nothing_new(commented: Path, name: str) -> None:
    import_opml(commented, OPML / f"{name}.opml")
    after_first = commented.read_bytes()
    again = import_opml(commented, OPML / f"{name}.opml")
    assert (again.added, again.categories_created) == ((), ())
    assert commented.read_bytes() == after_first


def test_import_never_duplicates_a_configured_source(commented: Path) -> None:
    before = commented.read_text().splitlines(keepends=True)
    result = import_opml(commented, OPML / "inoreader.opml")
    assert result.added == ("steppe-courier",)
    assert result.skipped == (
        "http://HARBOUR.example:80/rss.xml#top: already configured as 'harbour-wire'",
    )
    config = load_config(commented)
    assert config.categories[-1].sources == ("harbour-wire", "steppe-courier")
    added = [
        "  - name: steppe-courier\n",
        "    title: Steppe Courier\n",
        "    url: https://steppe.example/en/rss\n",
        "  - name: world\n",
        "    title: World\n",
        "    sources: [harbour-wire, steppe-courier]\n",
    ]
    after = commented.read_text().splitlines(keepends=True)
    assert [line for line in after if line not in added] == before
    assert len(after) == len(before) + len(added)


def test_a_feed_in_two_folders_is_one_source_in_two_categories(empty: Path) -> None:
    result = import_opml(empty, OPML / "feedly.opml")
    assert result.added == ("byte-ledger", "orbit-notes")
    config = load_config(empty)
    assert {c.name: c.sources for c in config.categories} == {
        "tech": ("byte-ledger", "orbit-notes"),
        "must-read": ("byte-ledger",),
    }


def test_import_skips_urls_that_are_not_http(empty: Path) -> None:
    result = import_opml(empty, OPML / "newsboat.opml")
    assert result.skipped == ("exec:~/bin/weather-to-rss.sh: not an http(s) feed URL",)
    assert result.added == ("lakeside-gazette", "untitled-example")


def test_a_folder_named_like_a_category_extends_it(commented: Path, tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="Harbour">'
        '<outline text="Quay Watch" xmlUrl="https://quay.example/rss"/>'
        '<outline text="Harbour Wire" xmlUrl="https://harbour.example/rss.xml"/>'
        "</outline></body></opml>",
        encoding="utf-8",
    )
    before = commented.read_text().splitlines(keepends=True)
    result = import_opml(commented, opml)
    assert (result.categories_created, result.categories_extended) == ((), ("harbour",))
    harbour = load_config(commented).categories[0]
    assert harbour.sources == ("harbour-wire", "quay-watch")
    assert harbour.include == ("ferry", "port", "quay")
    after = commented.read_text().splitlines(keepends=True)
    changed = [line for line in after if line not in before]
    assert changed == [
        "  - name: quay-watch\n",
        "    title: Quay Watch\n",
        "    url: https://quay.example/rss\n",
        "    sources: [harbour-wire, quay-watch]\n",
    ]


def test_export_groups_sources_by_the_categories_that_list_them(commented: Path) -> None:
    exported = export_opml(load_config(commented))
    path = commented.parent / "out.opml"
    path.write_bytes(exported)
    assert exported.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<opml version=\"2.0\">")
    assert read_opml(path) == [
        sub("https://harbour.example/rss.xml", "Harbour Wire — Port news", "Harbour"),
        sub("https://mountain.example/feed?format=atom&lang=en", "mountain-desk"),
        sub("https://river.example/atom.xml", "River Post"),
    ]


def test_export_then_import_gives_the_same_sources(commented: Path, empty: Path) -> None:
    exported = export_opml(load_config(commented))
    path = empty.parent / "out.opml"
    path.write_bytes(exported)
    import_opml(empty, path)
    original, imported = load_config(commented), load_config(empty)
    assert [(s.url, s.title or s.name) for s in imported.sources] == [
        (s.url, s.title or s.name) for s in original.sources
    ]
    assert [(c.name, c.title, len(c.sources)) for c in imported.categories] == [
        ("harbour", "Harbour", 1)
    ]
    assert export_opml(imported) == exported
