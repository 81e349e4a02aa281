"""The shared values: what their derived properties say."""

from __future__ import annotations

from builders import article


def test_all_links_are_the_stored_links_else_the_article_own_link() -> None:
    stored = article(links=("https://a.example/1", "https://b.example/1"))
    assert stored.all_links == ("https://a.example/1", "https://b.example/1")
    assert article(link="https://wire.example/9").all_links == ("https://wire.example/9",)
    assert article(link="", path="2026/03/ferry.txt").all_links == ()


def test_all_sources_are_the_stored_sources_else_the_article_own_source() -> None:
    assert article(source="aa", sources=("aa", "bb")).all_sources == ("aa", "bb")
    assert article(source="aa").all_sources == ("aa",)
