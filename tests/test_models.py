"""The shared values: what their derived properties say."""

from __future__ import annotations

import dataclasses

from builders import article

from aggregator import models, models_lazy


def test_all_links_are_the_stored_links_else_the_article_own_link() -> None:
    stored = article(links=("https://a.example/1", "https://b.example/1"))
    assert stored.all_links == ("https://a.example/1", "https://b.example/1")
    assert article(link="https://wire.example/9").all_links == ("https://wire.example/9",)
    assert article(link="", path="2026/03/ferry.txt").all_links == ()


def test_all_sources_are_the_stored_sources_else_the_article_own_source() -> None:
    assert article(source="aa", sources=("aa", "bb")).all_sources == ("aa", "bb")
    assert article(source="aa").all_sources == ("aa",)


def test_every_lazily_loaded_model_is_exported_by_models() -> None:
    defined = {
        name
        for name, value in vars(models_lazy).items()
        if dataclasses.is_dataclass(value) and value.__module__ == models_lazy.__name__
    }
    assert defined == models._LAZY, "a model of models_lazy that models does not export"
    for name in defined:
        assert getattr(models, name) is getattr(models_lazy, name)
