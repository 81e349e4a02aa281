"""The shared values: what their derived properties say."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from builders import T0, article, every_field_set

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


def _field_values(value: object) -> tuple[object, ...]:
    """Every field of a dataclass, those left out of ``==`` too."""
    return tuple(getattr(value, f.name) for f in dataclasses.fields(value))  # type: ignore[arg-type]


def test_an_article_survives_a_trip_between_processes_with_every_field() -> None:
    original = every_field_set()
    assert all(getattr(original, f.name) != f.default for f in dataclasses.fields(original)), (
        "a field left at its default proves nothing about its pickling"
    )
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(original, protocol))
        assert type(copy) is models.Article
        assert _field_values(copy) == _field_values(original)
        assert _field_values(copy.enclosures[0]) == _field_values(original.enclosures[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.title = "changed"  # type: ignore[misc]


def test_the_values_that_carry_articles_survive_a_trip_between_processes() -> None:
    story = every_field_set()
    carriers = [
        models.ParsedFeed(title="Wire", articles=(story, article(n=2)), item_keys=frozenset("ab")),
        models_lazy.SeedScan(articles=(story,), stamps={"a.txt": "1"}, unchanged=3),
    ]
    for carrier in carriers:
        copy = pickle.loads(pickle.dumps(carrier))
        assert copy == carrier
        assert [_field_values(a) for a in copy.articles] == [
            _field_values(a) for a in carrier.articles
        ]


def test_a_model_remade_with_changes_is_what_dataclasses_replace_makes() -> None:
    item = every_field_set()
    changes = {"sources": ("aa", "bb"), "first_seen": T0, "title": "Another headline"}
    made, expected = models.remade(item, **changes), dataclasses.replace(item, **changes)
    fields = dataclasses.fields(models.Article)  # each, as equality leaves some out
    assert [getattr(made, f.name) for f in fields] == [getattr(expected, f.name) for f in fields]
    assert models.remade(item) is not item
