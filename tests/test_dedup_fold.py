"""The generic-headline rule and the fold decisions of ``dedup.fold`` (pure)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.models import Article
from aggregator.text import plain_text

DAY = 739_000
STORY = (
    "A magnitude 5.4 earthquake struck the Bayrakli district of Izmir at 10:12 local time, "
    "the disaster agency said, and eleven people were treated for minor injuries."
)


@pytest.mark.parametrize(
    "headline",
    ["Live updates", "Morning briefing", "Photos of the day", "Weather", "Sports roundup"],
)
def test_stock_headlines_are_short_in_informative_words(headline: str) -> None:
    assert fold.generic_reason(side(headline)) == fold.SHORT
    assert fold.generic_reason(side("Explainer: what we know so far")) == fold.SHORT


def test_a_short_headline_that_names_its_event_is_distinctive() -> None:
    assert fold.generic_reason(side("Earthquake hits Izmir")) is None
    assert fold.generic_reason(side("EARTHQUAKE HITS IZMIR")) is None  # casing cannot tell
    assert fold.generic_reason(side("earthquake hits izmir")) is None  # nor here
    assert fold.generic_reason(side("Parliament passes 2027 budget")) is None
    # no name, no number and few words: two cities' accidents share this headline
    accident = side("Two killed in traffic accident", "Two people died on the coast road.")
    assert fold.generic_reason(accident) == fold.UNNAMED
    assert fold.generic_reason(accident, side("TWO KILLED IN TRAFFIC ACCIDENT")) == fold.UNNAMED
    # a first word is a name when the body capitalises it where grammar does not
    runoff = "Erdogan wins runoff"
    assert fold.generic_reason(side(runoff, "Crowds cheered as Erdogan spoke.")) is None
    assert fold.generic_reason(side(runoff, "Erdogan won 52 percent.")) == fold.UNNAMED


def test_history_and_kept_apart_stories_make_a_distinctive_headline_generic() -> None:
    title = "Borsa Istanbul closing report: shares and lira"
    assert fold.generic_reason(side(title)) is None
    assert fold.generic_reason(side(title), series=True) == fold.SERIES
    assert fold.generic_reason(side(title), kept_apart=True) == fold.KEPT_APART


def test_dedup_keys_fold_diacritics_signs_and_hyphens_and_drop_placeholders() -> None:
    same = [
        ("Türkiye’s inflation slows to 38%", "TURKIYE'S INFLATION SLOWS TO 38 PERCENT"),
        ("Metro links Gebze to Darıca", "Metro links Gebze to Darica"),
        ("Floods in São Paulo", "Floods in Sao Paulo"),
        ("Fish &amp; chips award", "Fish and chips award"),
        ("Port of Mersin re-opens", "Port of Mersin reopens"),
    ]
    for a, b in same:
        assert dedup.dedup_key(a) == dedup.dedup_key(b) != ""
    for placeholder in ["", "  ", "Untitled", "(no title)", "[No Title]", "<b></b>"]:
        assert dedup.dedup_key(placeholder) == ""
        assert dedup.headline_words(placeholder) == frozenset()


def side(title: str, body: str = "", link: str = "", day: int = DAY) -> fold.Side:
    return fold.Side(title=title, day=day, body=body, links=frozenset({link}) - {""})


def test_a_generic_headline_folds_on_agreeing_bodies_or_the_same_link() -> None:
    copy = STORY.replace("were treated for minor injuries", "had minor injuries")
    folded = fold.headline_fold(side("Live updates", STORY), side("LIVE UPDATES", copy), "x")
    assert folded is not None and folded.score is not None and 0.5 < folded.score < 1
    assert folded.describe().startswith("generic headline (x) + body similarity 0.")
    other = "Election night in Lisbon: the first exit poll puts the Socialists ahead with 31."
    assert fold.headline_fold(side("Live updates", STORY), side("Live updates", other), "x") is None
    link = "https://a.example/1"
    by_link = fold.headline_fold(side("Weather", link=link), side("Weather", link=link), "x")
    assert by_link == fold.Fold("generic headline (x) + same link")


def test_a_distinctive_headline_folds_within_one_day_either_side() -> None:
    one = side("Earthquake hits Izmir")
    assert fold.headline_fold(one, side("Earthquake hits İzmir", day=DAY + 1), None) == fold.Fold(
        fold.SAME_HEADLINE
    )
    assert fold.headline_fold(one, side("Earthquake hits Izmir", day=DAY + 2), None) is None
    assert fold.headline_fold(side(""), side(""), None) is None


def test_near_duplicates_that_name_other_places_or_numbers_need_agreeing_bodies() -> None:
    istanbul, izmir = "Two killed as storm hits Istanbul", "Two killed as storm hits Izmir"
    assert dedup.similarity(istanbul, izmir) >= 0.8
    assert fold.near_fold(side(istanbul), side(izmir), 0.8) is None
    rates = ("Central bank holds rate at 45 percent", "Central bank holds rate at 2.5 percent")
    assert fold.near_fold(side(rates[0]), side(rates[1]), 0.7) is None
    reworded = fold.near_fold(
        side("Galatasaray sign Brazilian striker Lucas Moreira"),
        side("Brazilian striker Lucas Moreira joins Galatasaray"),
        0.8,
    )
    assert reworded is not None and reworded.describe() == "near-duplicate 0.83"


def test_reworded_headlines_are_read_with_their_bodies() -> None:
    wildfire = side(
        "Wildfire near Antalya forces evacuation of 3,000 residents",
        "Firefighters battled a wildfire near Antalya as it spread towards villages.",
    )
    evacuated = side("3,000 evacuated as wildfire spreads near Antalya", "Residents were moved.")
    # "forces", "evacuation" and "residents" are carried by the other item's text
    assert dedup.similarity(wildfire.title, evacuated.title) < 0.6
    assert fold.story_similarity(wildfire, evacuated) > 0.9
    assert fold.near_fold(wildfire, evacuated, 0.7) == fold.Fold(
        fold.NEAR, fold.story_similarity(wildfire, evacuated)
    )
    # what one headline tells and the other item never mentions keeps the score down
    second = side("Second earthquake hits Izmir within hours", "A 4.8 quake struck Seferihisar.")
    first = side("Earthquake hits Izmir", STORY)
    assert fold.story_similarity(second, first) < 0.7
    assert fold.near_fold(second, first, 0.7) is None
    assert fold.story_similarity(side("Live updates"), side("Live updates: Izmir")) == 0.0


def test_a_number_of_one_headline_must_be_carried_by_the_other_item() -> None:
    quake = side("Magnitude 6.1 earthquake hits Crete", "Houses were damaged in Ierapetra.")
    aftershock = side(
        "Magnitude 4.9 aftershock hits Crete hours after earthquake",
        "It came seven hours after the 6.1 earthquake.",
    )
    assert fold.story_similarity(quake, aftershock) >= 0.7
    assert fold.near_fold(quake, aftershock, 0.7) is None  # nothing in the quake says 4.9
    assert fold.stem("200m") == fold.stem("200") != fold.stem("2")
    reported = side("Magnitude 6.1 earthquake hits Crete, 4.9 aftershock follows")
    assert fold.near_fold(reported, aftershock, 0.7) is not None


def test_an_unnamed_headline_folds_when_the_bodies_name_the_same_places() -> None:
    title = "Miners trapped after tunnel collapse"
    zonguldak = side(title, "Eight miners were trapped at a coal mine in Zonguldak.")
    also = side(title, "A tunnel collapse in Zonguldak has trapped eight miners, Ankara said.")
    elsewhere = side(title, "Four miners were trapped in a gold mine near Kalgoorlie.")
    assert fold.generic_reason(zonguldak) == fold.UNNAMED
    assert fold.body_names(also.body) == {"zonguldak", "ankara"}  # not "A" nor a weekday
    folded = fold.headline_fold(zonguldak, also, fold.UNNAMED)
    assert folded is not None and folded.describe() == (
        "generic headline (no name or number) + same names 0.50"
    )
    assert fold.headline_fold(zonguldak, elsewhere, fold.UNNAMED) is None
    # a headline generic for another reason needs its bodies' text to agree
    assert fold.headline_fold(zonguldak, also, fold.SHORT) is None


FERRY = "Ferry catches fire, passengers evacuated"
BODRUM = "The Coast Guard took 80 passengers off a ferry that caught fire near Bodrum harbour."
COOK = "A car ferry caught fire in the Cook Strait and the Coast Guard evacuated its passengers."


def test_a_nameless_headline_is_vetoed_by_bodies_that_name_other_places() -> None:
    bodrum, cook = side(FERRY, BODRUM), side(FERRY, COOK)
    assert fold.generic_reason(bodrum, cook) is None  # five informative words: distinctive
    assert fold.bodies_disagree(bodrum, cook) and fold.bodies_disagree(cook, bodrum)
    assert fold.headline_fold(bodrum, cook, None) is None
    # the same link still folds them, and `why` names the veto
    linked = fold.headline_fold(
        side(FERRY, BODRUM, "https://a.example/1"), side(FERRY, COOK, "https://a.example/1"), None
    )
    assert linked == fold.Fold("generic headline (bodies disagree) + same link")
    # a one-line item is no evidence either way: it folds on headline and day
    teaser = side(FERRY, "Passengers were taken off a burning ferry near Lesbos.")
    assert fold.headline_fold(bodrum, teaser, None) == fold.Fold(fold.SAME_HEADLINE)
    # bodies naming the same place do not disagree
    same = side(FERRY, BODRUM.replace("The Coast Guard took", "Rescuers in Bodrum lifted"))
    assert fold.headline_fold(bodrum, same, None) == fold.Fold(fold.SAME_HEADLINE)


def test_a_headline_whose_first_word_may_be_a_name_is_never_vetoed() -> None:
    title = "Bosphorus ferry crews end three-day strike"
    marmaray = side(title, "Commuters crowded onto the Marmaray line during the long ferry strike.")
    kadikoy = side(title, "Crews accepted a 20 percent raise and the first boats leave Kadikoy.")
    assert not fold.nameless(marmaray, kadikoy)
    assert fold.headline_fold(marmaray, kadikoy, None) == fold.Fold(fold.SAME_HEADLINE)


WORDS_A = st.lists(st.sampled_from(["ankara", "lira", "budget", "wheat", "ferry"]), min_size=12)
WORDS_B = st.lists(st.sampled_from(["lisbon", "poll", "tennis", "comet", "opera"]), min_size=12)
GENERIC = st.sampled_from(
    ["Live updates", "Weather", "Morning briefing", "Two killed in traffic accident"]
)


@given(GENERIC, WORDS_A, WORDS_B, st.integers(-1, 1), st.booleans())
def test_a_generic_headline_never_folds_bodies_that_share_nothing(
    headline: str, a: list[str], b: list[str], shift: int, capitals: bool
) -> None:
    if capitals:  # names, to the rule that compares the names of two bodies
        a, b = [w.title() for w in a], [w.title() for w in b]
    first = side(headline, " ".join(a), "https://a.example/1")
    second = side(headline.upper(), " ".join(b), "https://b.example/2", DAY + shift)
    reason = fold.generic_reason(side(headline))
    assert reason is not None
    assert fold.headline_fold(first, second, reason) is None
    assert fold.near_fold(first, second, 0.5) is None


TITLES = st.sampled_from(
    [
        "Live updates",
        "Earthquake hits Izmir",
        "Magnitude 5.4 earthquake hits Izmir, eleven injured",
        "Two killed as storm hits Istanbul",
        "Two killed as storm hits Izmir",
        "Central bank holds policy rate at 45 percent",
        "Central bank keeps policy rate unchanged at 45 percent",
        FERRY,
        "",
    ]
)
BODIES = st.sampled_from(
    [
        "",
        STORY,
        STORY[:120],
        "Storm winds toppled trees in Istanbul.",
        "Izmir and Istanbul.",
        BODRUM,
        COOK,
    ]
)


@given(TITLES, TITLES, BODIES, BODIES, st.integers(-2, 2), st.floats(0.5, 1))
def test_fold_decisions_are_symmetric(
    t1: str, t2: str, b1: str, b2: str, shift: int, threshold: float
) -> None:
    a, b = side(t1, b1), side(t2, b2, day=DAY + shift)
    generic = fold.generic_reason(a, b)
    assert fold.headline_fold(a, b, generic) == fold.headline_fold(b, a, generic)
    assert fold.near_fold(a, b, threshold) == fold.near_fold(b, a, threshold)
    assert fold.body_similarity(b1, b2) == fold.body_similarity(b2, b1)
    assert fold.story_similarity(a, b) == fold.story_similarity(b, a)
    assert fold.names_agreement(b1, b2) == fold.names_agreement(b2, b1)


_SNIPPETS = st.sampled_from(
    ["Erdogan", "erdogan", "said", "_", "4", "é", ",", ";", ".", " ", "\n", "\u2003", "-"]
)


@given(st.lists(_SNIPPETS, max_size=12).map("".join), st.sampled_from(["Erdogan", "said", "é4"]))
def test_a_headline_word_follows_a_word_where_the_regular_expression_says(
    text: str, word: str
) -> None:
    expected = re.search(rf"[\w,;]\s+{re.escape(word)}\b", text) is not None
    assert fold.follows_a_word(word, text) == expected


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Tayyip,  Erdogan won", True),
        ("rivals; Erdogan won", True),
        ("é\u2003Erdogan-led", True),
        ("_ Erdogan", True),
        ("4\nErdogan.", True),
        ("Erdogan won", False),
        ("rivals;Erdogan", False),
        ("won. Erdogan", False),
        ("said Erdogans", False),
        ("said Erdogan_", False),
    ],
)
def test_a_name_the_body_capitalises_after_a_word_counts_as_a_name(text: str, found: bool) -> None:
    assert fold.follows_a_word("Erdogan", text) == found
    assert (re.search(r"[\w,;]\s+Erdogan\b", text) is not None) == found


def test_a_side_reads_the_plain_text_parse_derived_for_its_body() -> None:
    body = "<p>Crews &amp; passengers</p>"
    parsed = article(FERRY, body, texts=((body, "what the worker derived"),))
    assert fold.side_of(parsed).text == "what the worker derived"
    assert fold.side_of(replace(parsed, texts=())).text == "Crews & passengers"  # from the store


@pytest.mark.parametrize(
    ("title", "body", "other_title", "other_body"),
    [
        (FERRY, f"<p>{BODRUM}</p>", FERRY.upper(), f"<p><i>{COOK}</i></p>"),
        ("Live updates", f"<p>{STORY}</p>", "Live updates", f"<div>{STORY}&nbsp;More.</div>"),
        (
            "Wildfire near Antalya forces evacuation of 3,000 residents",
            "<p>Firefighters battled a wildfire near <b>Antalya</b> as it spread.</p>",
            "3,000 evacuated as wildfire spreads near Antalya",
            "<p>Residents of villages near Antalya were moved as firefighters battled.</p>",
        ),
    ],
)
def test_a_fold_given_the_worker_plain_text_equals_one_deriving_it(
    title: str, body: str, other_title: str, other_body: str
) -> None:
    def sides(given: bool) -> tuple[fold.Side, fold.Side]:
        pair = article(title, body), article(other_title, other_body)
        if not given:  # as read back from the store
            pair = replace(pair[0], texts=()), replace(pair[1], texts=())
        return fold.side_of(pair[0]), fold.side_of(pair[1])

    given, derived = sides(True), sides(False)
    assert given[0].plain is not None and derived[0].plain is None
    for a, b in (given, derived):
        assert (a.text, b.text) == (plain_text(a.body), plain_text(b.body))
    for decide in (
        lambda a, b: fold.generic_reason(a, b),
        lambda a, b: fold.headline_fold(a, b, fold.generic_reason(a, b)),
        lambda a, b: fold.near_fold(a, b, 0.7),
        fold.bodies_disagree,
        fold.story_similarity,
        lambda a, b: fold.body_fold(a, b, fold.UNNAMED),
    ):
        assert decide(*given) == decide(*derived)


def article(title: str, body: str, **fields: Any) -> Article:
    """An item as parse makes it: with the plain text of its body (``Article.texts``)."""
    return Article(
        id=f"urn:{title}",
        guid=title,
        source="a",
        title=title,
        published=datetime(2026, 3, 5, 9, tzinfo=UTC),
        content=body,
        **({"texts": ((body, plain_text(body)),)} | fields),
    )
