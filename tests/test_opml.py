"""OPML: the shapes real readers export, import without duplicates, export and back."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from aggregator.config import load_config
from aggregator.errors import OpmlError, ParseError
from aggregator.models import ParsedFeed, Subscription
from aggregator.opml import Outline, write_opml
from aggregator.opml.read import read_opml
from aggregator.opml.sources import export_opml, import_opml
from tests.builders import FIXTURES, commented_config

OPML = FIXTURES / "opml"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\nstore: wire.db\n", encoding="utf-8")
    return path


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    return commented_config(tmp_path)


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
                sub("https://untitled.example/rss", ""),
                sub("exec:~/bin/weather-to-rss.sh", "Weather script"),
            ],
        ),
        (
            "quirks",
            [
                sub("https://fjord.example/atom", "Fjord Daily", "News", "Regional", "North"),
                sub("https://notitle.example/feeds/all.rss", ""),
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
    assert result.categories_created == ("news", "news-regional", "news-regional-north", "all-2")
    config = load_config(empty)
    assert [(s.name, s.title, s.url) for s in config.sources] == [
        ("fjord-daily", "Fjord Daily", "https://fjord.example/atom"),
        ("notitle-example", "notitle.example", "https://notitle.example/feeds/all.rss"),
        ("everything-blog", "Everything Blog", "https://everything.example/rss"),
    ]
    assert [(c.name, c.title, c.sources) for c in config.categories] == [
        ("news", "News", ("fjord-daily",)),
        ("news-regional", "Regional", ("fjord-daily",)),
        ("news-regional-north", "North", ("fjord-daily",)),
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


def test_a_folder_named_like_a_category_leaves_it_alone(commented: Path, tmp_path: Path) -> None:
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
    assert result.categories_created == ()
    assert result.categories_kept == {"harbour": ("quay-watch",)}
    harbour = load_config(commented).categories[0]
    assert harbour.sources == ("harbour-wire",)
    assert harbour.include == ("ferry", "port", "quay")
    after = commented.read_text().splitlines(keepends=True)
    changed = [line for line in after if line not in before]
    assert changed == [
        "  - name: quay-watch\n",
        "    title: Quay Watch\n",
        "    url: https://quay.example/rss\n",
    ]


def test_folders_with_no_usable_name_get_a_clear_slug(empty: Path, tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        '<outline text="★★★"><outline text="Stars" xmlUrl="https://stars.example/rss"/></outline>'
        '<outline text="新闻"><outline text="Xinwen" xmlUrl="https://xw.example/rss"/>'
        '<outline text="···"><outline text="Dots" xmlUrl="https://dots.example/rss"/></outline>'
        "</outline></body></opml>",
        encoding="utf-8",
    )
    result = import_opml(empty, opml)
    assert result.categories_created == ("folder", "folder-2", "folder-2-folder")
    titles = {c.name: (c.title, c.sources) for c in load_config(empty).categories}
    assert titles == {
        "folder": ("★★★", ("stars",)),
        "folder-2": ("新闻", ("xinwen", "dots")),
        "folder-2-folder": ("···", ("dots",)),
    }
    assert import_opml(empty, opml).nothing_new


def test_checked_feeds_take_their_own_title_and_broken_ones_are_skipped(
    empty: Path,
) -> None:
    seen = []

    def check(url: str) -> ParsedFeed:
        seen.append(url)
        if "everything" in url:
            raise ParseError(url, "not a feed: the server sent an HTML page")
        return ParsedFeed(title=f"  Own title of\n{url.split('/')[2]} ")

    result = import_opml(empty, OPML / "quirks.opml", check=check)
    assert seen == [
        "https://fjord.example/atom",
        "https://notitle.example/feeds/all.rss",
        "https://everything.example/rss",
    ]
    assert result.skipped[-1] == (
        "https://everything.example/rss: check failed: "
        "https://everything.example/rss: not a feed: the server sent an HTML page"
    )
    config = load_config(empty)
    assert [(s.name, s.title) for s in config.sources] == [
        ("fjord-daily", "Fjord Daily"),
        ("own-title-of-notitle-example", "Own title of notitle.example"),
    ]
    assert "all-2" not in {c.name for c in config.categories}  # its one feed was skipped


def test_export_keeps_nested_folders_and_lists_a_feed_once_per_folder(empty: Path) -> None:
    import_opml(empty, OPML / "quirks.opml")
    import_opml(empty, OPML / "feedly.opml")
    body = etree.fromstring(export_opml(load_config(empty))).find("body")
    assert body is not None
    shape = [
        (o.get("text"), [(c.get("text"), len(c)) for c in o]) for o in body if not o.get("xmlUrl")
    ]
    assert shape == [
        ("News", [("Regional", 1)]),
        ("All", [("Everything Blog", 0)]),
        ("Tech", [("Byte Ledger", 0), ("Orbit Notes", 0)]),
        ("Must read", [("Byte Ledger", 0)]),
    ]
    north = body.find("outline[@text='News']/outline/outline[@text='North']")
    assert north is not None and [o.get("xmlUrl") for o in north] == ["https://fjord.example/atom"]
    exported = empty.parent / "exported.opml"
    exported.write_bytes(export_opml(load_config(empty)))
    assert read_opml(exported)[0].folders == ("News", "Regional", "North")


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


def test_the_writer_nests_folders_and_writes_only_what_an_outline_has() -> None:
    wire = Outline(
        title="Wire\x0b desk",  # a vertical tab, which XML 1.0 cannot carry
        xml_url="https://wire.example/rss?a=1&b=2",
        html_url="https://wire.example/",
        description="All the wire",
    )
    folder = Outline(title="News", children=(Outline(title="Fjord", xml_url="https://f.example/"),))
    assert write_opml("Desk \x01sources", [folder, wire]).decode("utf-8") == (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<opml version="2.0">\n'
        "  <head>\n"
        "    <title>Desk sources</title>\n"
        "  </head>\n"
        "  <body>\n"
        '    <outline text="News" title="News">\n'
        '      <outline type="rss" text="Fjord" title="Fjord" xmlUrl="https://f.example/" />\n'
        "    </outline>\n"
        '    <outline type="rss" text="Wire desk" title="Wire desk" description="All the wire"'
        ' xmlUrl="https://wire.example/rss?a=1&amp;b=2" htmlUrl="https://wire.example/" />\n'
        "  </body>\n"
        "</opml>\n"
    )
