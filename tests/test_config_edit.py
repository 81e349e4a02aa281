"""Config edits: only the added or removed lines change; every refusal leaves the file as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import load_config
from aggregator.config.edit import add_source, normalise_url, remove_source, unique_name
from aggregator.errors import ConfigError
from tests.builders import commented_config, feeds_yaml


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return commented_config(tmp_path)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def refused(path: Path, call, *args, **kwargs) -> str:
    """Run an edit that must fail; check the file did not change and no temp file is left."""
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        call(*args, **kwargs)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    return str(caught.value)


def test_add_appends_one_block_and_keeps_every_other_byte(config: Path) -> None:
    before = lines(config)
    add_source(
        config,
        name="fjord-daily",
        url="https://fjord.example/atom",
        title="Fjord Daily: 'tides' & #weather",
        interval="2h",
    )
    after = lines(config)
    at = before.index("    url: https://river.example/atom.xml   # trailing comment\n") + 1
    assert after == [
        *before[:at],
        "  - name: fjord-daily\n",
        "    title: \"Fjord Daily: 'tides' & #weather\"\n",
        "    url: https://fjord.example/atom\n",
        "    interval: 2h\n",
        *before[at:],
    ]
    source = load_config(config).source("fjord-daily")
    assert source.title == "Fjord Daily: 'tides' & #weather"
    assert source.url == "https://fjord.example/atom"


def test_remove_takes_the_item_and_its_comments_and_nothing_else(config: Path) -> None:
    before = lines(config)
    remove_source(config, "mountain-desk")
    start = before.index("  # The mountain desk; nobody has touched it in years.\n")
    end = before.index("    # timeout: 1m   (commented out on purpose)\n") + 2  # and one blank
    assert lines(config) == before[:start] + before[end:]
    assert [s.name for s in load_config(config).sources] == ["harbour-wire", "river-post"]


def test_add_then_remove_gives_back_the_same_file(config: Path) -> None:
    before = config.read_bytes()
    add_source(config, name="fjord-daily", url="https://fjord.example/atom")
    remove_source(config, "fjord-daily")
    assert config.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "category"), [("harbour-wire", "harbour"), ("river-post", "weather")]
)
def test_remove_refuses_a_source_categories_still_select_by(
    config: Path, name: str, category: str
) -> None:
    message = refused(config, remove_source, config, name)
    assert f"still selected by categories {category}" in message
    assert message.startswith(f"{config}: sources: ")


def test_remove_refuses_an_unknown_name(config: Path) -> None:
    assert "no source named 'nowhere'" in refused(config, remove_source, config, "nowhere")


def test_add_refuses_a_taken_name_and_a_configured_url(config: Path) -> None:
    message = refused(
        config, add_source, config, name="harbour-wire", url="https://new.example/rss"
    )
    assert "a source named 'harbour-wire' already exists" in message
    message = refused(
        config, add_source, config, name="again", url="http://HARBOUR.example:80/rss.xml#top"
    )
    assert "is already configured as 'harbour-wire'" in message


def test_an_edit_that_would_not_load_names_the_real_file_and_line(config: Path) -> None:
    message = refused(
        config, add_source, config, name="fjord", url="https://fjord.example/a", interval="soon"
    )
    assert message.startswith(f"{config}:")
    assert "sources[3].interval" in message
    message = refused(config, add_source, config, name="Bad Name", url="https://x.example/")
    assert "sources[3].name" in message


def test_add_creates_the_sources_list_when_there_is_none(tmp_path: Path) -> None:
    path = feeds_yaml(tmp_path, "# only a store\nstore: wire.db")  # no final newline
    add_source(path, name="fjord", url="https://fjord.example/atom")
    assert path.read_text() == (
        "# only a store\nstore: wire.db\n\nsources:\n"
        "  - name: fjord\n    url: https://fjord.example/atom\n"
    )


def test_add_fills_an_empty_list_and_keeps_its_comment(tmp_path: Path) -> None:
    path = feeds_yaml(tmp_path, "sources: []   # none yet\ncategories: []\n")
    add_source(path, name="fjord", url="https://fjord.example/atom")
    assert path.read_text() == (
        "sources:  # none yet\n  - name: fjord\n    url: https://fjord.example/atom\n"
        "categories: []\n"
    )


def test_removing_the_last_source_leaves_an_empty_list(tmp_path: Path) -> None:
    path = feeds_yaml(tmp_path, "sources:  # feeds\n- name: fjord\n  url: https://fjord.example/\n")
    remove_source(path, "fjord")
    assert path.read_text() == "sources: []  # feeds\n"
    assert load_config(path).sources == ()


def test_add_follows_the_lists_indentation_and_flow_items(tmp_path: Path) -> None:
    path = feeds_yaml(
        tmp_path,
        """
        sources:
        -   {name: fjord, url: "https://fjord.example/atom"}
        """,
    )
    add_source(path, name="river", url="https://river.example/", title="River")
    assert lines(path)[2] == "-   {name: river, title: River, url: https://river.example/}\n"
    assert [s.name for s in load_config(path).sources] == ["fjord", "river"]


def test_a_flow_style_list_is_refused_with_its_line(tmp_path: Path) -> None:
    path = feeds_yaml(tmp_path, "store: x.db\nsources: [{name: a, url: 'https://a.example/'}]\n")
    message = refused(path, add_source, path, name="b", url="https://b.example/")
    assert message.startswith(f"{path}:2: sources: written in flow style")


def test_windows_line_endings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"sources:\r\n  - name: a\r\n    url: https://a.example/\r\n")
    add_source(path, name="b", url="https://b.example/")
    assert path.read_bytes() == (
        b"sources:\r\n  - name: a\r\n    url: https://a.example/\r\n"
        b"  - name: b\r\n    url: https://b.example/\r\n"
    )


@pytest.mark.parametrize(
    ("title", "taken", "expected"),
    [
        ("Anadolu Ajansı — Türkiye", set(), "anadolu-ajansi-turkiye"),
        ("  Straße & Café: Ærø!  ", set(), "strasse-cafe-aero"),
        ("BBC News", {"bbc-news", "bbc-news-2"}, "bbc-news-3"),
        ("Новости", set(), "feed"),
        ("", {"feed"}, "feed-2"),
        ("a" * 50, set(), "a" * 40),
        ("a" * 50, {"a" * 40}, "a" * 38 + "-2"),
        ("word " * 20, set(), ("word-" * 8).rstrip("-")),
    ],
)
def test_unique_name(title: str, taken: set[str], expected: str) -> None:
    assert unique_name(title, taken) == expected


def test_unique_names_load_as_source_names(tmp_path: Path) -> None:
    name = unique_name("Île-de-France 24/7 — Ünlü Şehir", set())
    path = feeds_yaml(tmp_path, f"sources:\n  - name: {name}\n    url: https://x.example/\n")
    assert load_config(path).sources[0].name == "ile-de-france-24-7-unlu-sehir"


def test_normalised_urls_ignore_scheme_case_default_port_and_fragment() -> None:
    assert normalise_url("http://Example.ORG:80#x") == normalise_url("https://example.org/")
    assert normalise_url("https://example.org/a?b=1") != normalise_url("https://example.org/a")
    assert normalise_url("https://example.org:8443/") != normalise_url("https://example.org/")
