"""Category rules: each operator, whole words in any script, nesting, fields, explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from aggregator.config import Category, Config, Rule
from aggregator.filters import (
    ALL_CATEGORY,
    categories_with_all,
    explain,
    matches,
    store_query,
)
from tests.builders import article
from tests.fakes import FakeStore

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


# a wire story of an hour ago: each test sets only the fields its rule reads
story = partial(article, title="Ministers meet in the capital", published=NOW - timedelta(hours=1))


def rule(**fields: Any) -> Rule:
    return Rule.model_validate(fields)


@pytest.mark.parametrize(
    ("word", "title", "expected"),
    [
        ("Türkiye", "Elections in türkiye today", True),
        ("Türkiye", "TÜRKIYE VOTES", True),
        ("türkiye", "Türkiye's parliament", True),
        ("Karabakh", "Talks on Karabakh resume", True),
        ("Karabakh", "A new Karabakhstan rises", False),
        ("Karabakh", "Nagorno-Karabakh talks", True),
        ("Baku", "Bakuvian weather", False),
        ("Straße", "STRASSE closed", True),
        ("ｆｕｌｌ", "full width letters fold", True),
        ("joint statement", "A joint   statement was signed", True),
        ("joint statement", "A jointstatement", False),
        ("C++", "Why C++ still matters", True),
    ],
)
def test_include_matches_whole_words_across_case_and_scripts(
    word: str, title: str, expected: bool
) -> None:
    assert matches(rule(include=[word]), story(title=title), now=NOW) is expected


def test_include_is_any_of_and_exclude_is_none_of() -> None:
    caucasus = rule(include=["Armenia", "Azerbaijan"], exclude=["football"])
    assert matches(caucasus, story(title="Azerbaijan and Armenia sign deal"), now=NOW)
    assert not matches(caucasus, story(title="Armenia beat Azerbaijan at football"), now=NOW)
    assert not matches(caucasus, story(title="Georgia holds vote"), now=NOW)
    assert matches(rule(exclude=["football"]), story(title="Footballers strike"), now=NOW)


def test_regex_is_any_of_and_case_insensitive() -> None:
    prices = rule(regex=[r"inflation (rose|fell)", r"\bcpi\b"])
    assert matches(prices, story(title="Inflation ROSE again"), now=NOW)
    assert matches(prices, story(summary="<p>The CPI report</p>"), now=NOW)
    assert not matches(prices, story(title="Inflation steady"), now=NOW)


def test_fields_choose_where_words_look_and_html_is_stripped() -> None:
    body = story(title="Plain", content="<p>Talks in <b>Baku</b> &amp; Yerevan</p>")
    assert matches(rule(include=["Baku"]), body, now=NOW)
    assert not matches(rule(include=["Baku"], fields=["title"]), body, now=NOW)
    assert not matches(rule(include=["b"]), body, now=NOW), "tags are not text"
    assert matches(rule(include=["Baku & Yerevan"]), body, now=NOW), "entities are decoded"
    tagged = story(author="Jane Roe", tags=("Energy policy", "Gas"), section="Economy")
    assert matches(rule(include=["Roe"], fields=["author"]), tagged, now=NOW)
    assert matches(rule(include=["energy policy"], fields=["tags"]), tagged, now=NOW)
    assert not matches(rule(include=["policy gas"], fields=["tags"]), tagged, now=NOW)
    assert matches(rule(regex=["^econ"], fields=["section"]), tagged, now=NOW)
    assert not matches(rule(include=["Roe"]), tagged, now=NOW), "author is not a default field"


def test_sources_use_every_carrier_or_the_single_source() -> None:
    assert matches(rule(sources=["wire"]), story(), now=NOW)
    merged = story(source="wire", sources=("bbc", "aa"))
    assert matches(rule(sources=["aa"]), merged, now=NOW)
    assert not matches(rule(sources=["wire"]), merged, now=NOW)


def test_section_matches_section_or_tag_case_insensitively() -> None:
    world = rule(section=["World"])
    assert matches(world, story(section="WORLD"), now=NOW)
    assert matches(world, story(section="Politics", tags=("world",)), now=NOW)
    assert not matches(world, story(section="Worldwide"), now=NOW)
    assert matches(rule(section=["Türkiye"]), story(section="TÜRKIYE"), now=NOW)


def test_max_age_keeps_stories_published_within_it() -> None:
    day = rule(max_age="1d")
    assert matches(day, story(published=NOW - timedelta(hours=23)), now=NOW)
    assert matches(day, story(published=NOW - timedelta(days=1)), now=NOW)
    assert not matches(day, story(published=NOW - timedelta(days=1, seconds=1)), now=NOW)


def test_every_condition_set_must_hold() -> None:
    both = rule(include=["Baku"], section=["World"])
    assert matches(both, story(title="Baku summit", section="World"), now=NOW)
    assert not matches(both, story(title="Baku summit", section="Sport"), now=NOW)


def test_nesting_all_any_not() -> None:
    turkiye = rule(any=[{"section": "Türkiye"}, {"include": ["Turkey", "Ankara"]}])
    assert matches(turkiye, story(section="türkiye"), now=NOW)
    assert matches(turkiye, story(title="Ankara responds"), now=NOW)
    assert not matches(turkiye, story(title="Athens responds"), now=NOW)
    energy = rule(all=[{"include": "gas"}, {"not": {"include": "football"}}])
    assert matches(energy, story(title="Gas prices"), now=NOW)
    assert not matches(energy, story(title="Gas prices hit football clubs"), now=NOW)
    assert not matches(rule(**{"not": {"sources": ["wire"]}}), story(), now=NOW)


def test_an_empty_rule_and_the_all_category_match_everything() -> None:
    assert matches(Rule(), story(), now=NOW)
    assert matches(ALL_CATEGORY, story(published=datetime(1999, 1, 1, tzinfo=UTC)), now=NOW)
    config = Config(categories=(Category(name="world", section=("World",)),))
    assert [c.name for c in categories_with_all(config)] == ["all", "world"]


def test_explain_names_the_deciding_condition_and_its_path() -> None:
    caucasus = rule(include=["Karabakh"], exclude=["football"])
    verdict = explain(caucasus, story(title="Karabakh football final"), now=NOW)
    assert not verdict.matched
    assert verdict.reason == "exclude: 'football' found in title"
    verdict = explain(caucasus, story(summary="Karabakh talks"), now=NOW)
    assert verdict.matched
    assert "include: 'Karabakh' found in summary" in verdict.reason
    nested = rule(any=[{"section": "Sport"}, {"include": ["gas", "oil"]}])
    verdict = explain(nested, story(title="Weather"), now=NOW)
    assert not verdict.matched
    assert "any[1].include: no word found in title, summary, content" in verdict.reason
    assert "any[0].section:" in verdict.reason
    verdict = explain(nested, story(title="Oil falls"), now=NOW)
    assert verdict.reason == "any[1].include: 'oil' found in title"
    verdict = explain(rule(regex=[r"\d+ dead"]), story(title="Storm: 12 dead"), now=NOW)
    assert verdict.reason == r"regex: '\\d+ dead' matched '12 dead' in title"
    deep = rule(all=[{"not": {"include": ["rumour"]}}])
    verdict = explain(deep, story(title="A rumour spreads"), now=NOW)
    assert verdict.reason.startswith("all[0].not: the sub-rule matched")
    assert "all[0].not.include: 'rumour' found in title" in verdict.reason


def test_store_query_pushes_down_only_top_level_conditions() -> None:
    category = Category.model_validate(
        {
            "name": "x",
            "sources": ["aa"],
            "section": "World",
            "max_age": "2h",
            "include": ["gas"],
            "any": [{"sources": ["bbc"]}],
        }
    )
    query = store_query(category, now=NOW)
    assert query.sources == ("aa",)
    assert query.sections == ("World",)
    assert query.since == NOW - timedelta(hours=2)
    assert query.ids is None and query.search is None and query.limit is None
    nested_only = Category.model_validate({"name": "y", "any": [{"sources": ["bbc"]}]})
    assert store_query(nested_only, now=NOW) == store_query(ALL_CATEGORY, now=NOW)


def test_store_query_never_drops_a_story_the_rule_selects() -> None:
    stories = [
        story(id="a", sources=("aa",), section="World", title="Gas deal"),
        story(id="b", sources=("bbc",), section="World", title="Gas deal"),
        story(id="c", sources=("aa",), tags=("world",), title="Gas deal"),
        story(id="d", sources=("aa",), section="World", published=NOW - timedelta(days=2)),
    ]
    store = FakeStore(stories)
    category = Category.model_validate(
        {"name": "x", "sources": ["aa"], "section": "World", "max_age": "1d"}
    )
    pushed = {a.id for a in store.articles(store_query(category, now=NOW))}
    selected = {a.id for a in stories if matches(category, a, now=NOW)}
    assert pushed == selected == {"a", "c"}


def test_turkish_dotted_capital_i_matches_like_the_store_folds_it() -> None:
    elects = story(title="TÜRKİYE ELECTS", section="TÜRKİYE")
    assert matches(Category(name="t", section=("Türkiye",)), elects, now=NOW)
    assert matches(Category(name="t", include=("türkiye",)), elects, now=NOW)
