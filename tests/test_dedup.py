"""What counts as the same story, and how two carriers of it fold into one."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from aggregator import dedup
from aggregator.models import Article, Enclosure
from tests.builders import WHEN, article

WORDS = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzçğıöşüéàñ0123456789", min_size=1, max_size=8),
    min_size=1,
    max_size=8,
)
PUNCTUATION = st.sampled_from(
    [",", ".", ":", ";", "!", "?", "'", '"', "‘", "’", "“", "”", "«", "»", "-", "–", "—", "…"]
)
SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", " \u2003 "])


@given(st.text())
def test_normalising_twice_changes_nothing(headline: str) -> None:
    once = dedup.normalise_headline(headline)
    assert dedup.normalise_headline(once) == once


@given(WORDS, st.data())
def test_case_punctuation_and_whitespace_never_change_the_key(
    words: list[str], data: st.DataObject
) -> None:
    plain = " ".join(words)
    noisy = ""
    for word in words:
        cased = "".join(c.upper() if data.draw(st.booleans()) and c != "ı" else c for c in word)
        noisy += data.draw(PUNCTUATION) + cased + data.draw(PUNCTUATION) + data.draw(SPACES)
    assert dedup.normalise_headline(noisy) == dedup.normalise_headline(plain)


@given(WORDS, st.data())
def test_html_entities_and_tags_never_change_the_key(words: list[str], data: st.DataObject) -> None:
    headline = " & ".join(words) + " ‘quoted’ — done"
    escaped = "".join(
        f"&#{ord(c)};" if data.draw(st.booleans()) else html.escape(c) for c in headline
    )
    assert dedup.normalise_headline(escaped) == dedup.normalise_headline(headline)
    assert dedup.normalise_headline(f"<b>{headline}</b>") == dedup.normalise_headline(headline)


def test_turkish_capitals_fold_to_the_same_key() -> None:
    assert dedup.normalise_headline("TÜRKİYE’S GRAIN DEAL") == dedup.normalise_headline(
        "Türkiye's grain deal"
    )


def test_the_story_day_is_the_utc_day() -> None:
    istanbul = timezone(timedelta(hours=3))
    late_night = datetime(2024, 11, 11, 1, 30, tzinfo=istanbul)  # 22:30Z on the 10th
    assert dedup.story_day(late_night).isoformat() == "2024-11-10"


def test_reworded_headlines_are_similar_and_unrelated_ones_are_not() -> None:
    first = "Russia, Azerbaijan, Armenia leaders agree joint statement on Karabakh"
    second = "Leaders of Russia, Azerbaijan, Armenia agree on joint statement about Karabakh"
    assert dedup.similarity(first, second) >= 0.8
    assert dedup.similarity(first, "Armenia, Azerbaijan leaders meet in Moscow") < 0.5
    assert dedup.similarity(first, "Ferry line to Izmir opens next spring") == 0
    assert dedup.similarity("", first) == 0


@given(WORDS, WORDS, st.floats(min_value=0.05, max_value=1))
def test_min_shared_words_never_drops_a_match(a: list[str], b: list[str], t: float) -> None:
    first, second = " ".join(a), " ".join(b)
    shared = len(dedup.headline_words(first) & dedup.headline_words(second))
    if dedup.similarity(first, second) >= t:
        assert shared >= dedup.min_shared_words(len(dedup.headline_words(first)), t)


def test_primary_link_prefers_a_publisher_url_over_a_seed_permalink() -> None:
    permalink = "http://127.0.0.1:8080/articles/a1.html"
    assert dedup.primary_link([(permalink, True), ("https://aa.example/1", False)]) == (
        "https://aa.example/1"
    )
    assert dedup.primary_link([("", False), (permalink, True)]) == permalink
    assert dedup.primary_link([]) == ""


SEED = article(
    id="seed-1",
    guid="001.txt",
    source="seeds",
    path="seeds/001.txt",
    link="http://127.0.0.1:8080/articles/seed-1.html",
    summary="Talks resume.",
    content="<p>Delegations met again on Monday to discuss the corridor.</p>",
    section="World",
    tags=("Economy",),
    published=WHEN - timedelta(hours=2),
)
FEED = article(
    id="feed-1",
    guid="https://aa.example/1",
    source="aa",
    link="https://aa.example/1",
    summary="Delegations meet to discuss the grain corridor, a summary that is rather long.",
    tags=("Trade", "Economy"),
    updated=WHEN + timedelta(hours=1),
    enclosures=(Enclosure(url="https://aa.example/1.jpg", type="image/jpeg"),),
)


def test_merging_a_seed_and_a_feed_entry_keeps_the_best_of_both() -> None:
    merged = dedup.merge(SEED, FEED)
    assert merged.id == "seed-1"
    assert merged.content == SEED.content  # a full body beats a longer summary
    assert merged.link == "https://aa.example/1"
    assert merged.path == "seeds/001.txt"
    assert merged.published == SEED.published
    assert merged.updated == FEED.updated
    assert merged.tags == ("Economy", "Trade")
    assert merged.sources == ("seeds", "aa")
    assert merged.links == (SEED.link, FEED.link)
    assert merged.enclosures == FEED.enclosures


def test_a_longer_summary_beats_a_shorter_one_when_neither_has_a_body() -> None:
    short = article(summary="Short.")
    long = article(guid="g2", source="other", summary="A much longer summary of the talks.")
    assert dedup.merge(short, long).summary == long.summary
    assert dedup.merge(long, short).summary == long.summary


def test_a_merge_keeps_the_plain_text_parse_derived_for_the_text_it_keeps() -> None:
    short = article(summary="<p>Short.</p>", texts=(("<p>Short.</p>", "Short."),))
    long = article(guid="g2", source="other", summary="<p>A much <b>longer</b> one.</p>")
    long = replace(long, texts=((long.summary, "A much longer one."),))
    assert dedup.merge(short, long).texts == long.texts
    assert dedup.merge(long, short).plain(long.summary) == "A much longer one."


def test_the_key_of_an_article_is_the_one_parse_derived_beside_its_title() -> None:
    carried = article(title="Ferry strike ends", title_key=("Ferry strike ends", "as parsed"))
    assert dedup.headline_key_of(carried) == "as parsed"
    assert dedup.key_of(carried) == "asparsed"
    retitled = replace(carried, title="Ferry strike goes on")  # the pair is another title's
    assert dedup.key_of(retitled) == dedup.dedup_key("Ferry strike goes on") == "ferrystrikegoeson"
    assert dedup.key_of(article(title="Ferry strike ends")) == "ferrystrikeends"


TEXTS = st.tuples(st.text(max_size=30), st.text(max_size=30))
MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@st.composite
def carriers(draw: st.DrawFn) -> Article:
    summary, content = draw(TEXTS)
    seed = draw(st.booleans())
    return article(
        id=draw(st.sampled_from(["x", "y"])),
        source=draw(st.sampled_from(["aa", "bb", "seeds"])),
        summary=summary,
        content=content,
        published=draw(MOMENTS),
        updated=draw(st.none() | MOMENTS),
        link=draw(st.sampled_from(["", "https://a.example/1", "https://b.example/2"])),
        path="seeds/x.txt" if seed else "",
        tags=tuple(
            draw(st.lists(st.sampled_from(["World", "Economy", "Sport"]), max_size=3, unique=True))
        ),
    )


@given(carriers(), carriers())
def test_merge_is_order_independent_where_it_should_be(a: Article, b: Article) -> None:
    ab, ba = dedup.merge(a, b), dedup.merge(b, a)
    assert ab.published == ba.published == min(a.published, b.published)
    assert ab.updated == ba.updated
    assert set(ab.tags) == set(ba.tags) == set(a.tags) | set(b.tags)
    assert set(ab.sources) == set(ba.sources)
    assert set(ab.links) == set(ba.links)
    assert ab.is_seed == ba.is_seed == (a.is_seed or b.is_seed)
    assert dedup.richness(ab) == dedup.richness(ba) == max(dedup.richness(a), dedup.richness(b))
    real = {x.link for x in (a, b) if x.link and not x.is_seed}
    if real:
        assert ab.link in real and ba.link in real


@given(carriers())
def test_merging_a_story_with_itself_changes_nothing(a: Article) -> None:
    once = dedup.merge(a, a)
    assert dedup.merge(once, a) == once
    assert replace(once, sources=(), links=()) == replace(a, sources=(), links=())
