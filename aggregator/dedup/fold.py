"""Which rule folds an incoming item into a stored story, and why. Pure, no I/O.

A headline is evidence, not proof, when it is *generic*: it names a kind of item rather
than an event ("Live updates", "Morning briefing", "Photos of the day"), a source uses it
on more than one occasion (a series title), or the stories already carrying it were kept
apart (their own feed, a split or their bodies said they differ). Two items with a generic
headline fold only when their bodies agree too: the same link, or body texts whose
weighted Jaccard similarity over word shingles reaches ``GENERIC_BODY_SIMILARITY`` (the
measure lemon24's reader uses for its duplicate detection). The store supplies the
history (``series``, ``kept_apart``); everything here is a function of its arguments.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from aggregator.dedup import (
    dedup_key,
    folded_text,
    headline_key,
    similarity,
    story_day,
    without_marks,
)
from aggregator.models import Article
from aggregator.text import without_tags

# English function words: they say nothing about which event a text reports.
_STOPWORDS = (
    "a an the of in on at to for from by with and or but nor is are was were be been being"
    " has have had do does did it its this that these those as into over after before about"
    " up down out off than then so such what who whom whose which when where why how we you"
    " he she they i me my our your their his her them us not no yes will would can could may"
    " might shall should must just also more most very all any some each other there here"
    " says said say"
)
STOPWORDS = frozenset(_STOPWORDS.split())
# Words of stock headlines: they name a format or a slot in the schedule, not an event.
_FORMAT_WORDS = (
    "live update updates latest breaking news briefing explainer analysis opinion editorial"
    " comment column photos photo pictures gallery video videos watch listen podcast morning"
    " evening night daily weekly today tonight day week weekend weather roundup recap summary"
    " headlines highlights key events things know far newsletter digest report"
)
FORMAT_WORDS = frozenset(_FORMAT_WORDS.split())
# Fewer words that name something than this, and a headline names a slot, not an event:
# "Weather", "Live updates" and "Explainer: what we know so far" have none, "Sports
# roundup" and "Istanbul weather" one; "Dam opens" and "Earthquake hits Izmir" tell an
# event (two agencies' "Dam opens" on one day are one story far more often than not).
MIN_INFORMATIVE_WORDS = 2
# A body with fewer content words than this (a teaser line) is no evidence either way.
MIN_BODY_WORDS = 12
# Words per shingle: pairs of words keep "Izmir earthquake" apart from "earthquake" in a
# text about another city, while single shared names still count through the unigrams.
SHINGLE_WORDS = 2
# A headline that names no one and nothing (no proper name, no number: "Two killed in
# traffic accident", "Dam opens") pins an event down only with this many informative words.
MIN_UNNAMED_WORDS = 5
# The body similarity at which two items under a generic headline are one story: copies of
# one text (syndicated, lightly edited) score 0.6 and more, two agencies' own reports of
# one event 0.03 to 0.45, reports of different events under one headline at most 0.13 on
# the labelled set (tests/fixtures/dedup); 0.5 keeps well clear of the last.
GENERIC_BODY_SIMILARITY = 0.5
# Near-duplicate mode also folds a reworded headline of at least the configured
# similarity minus this margin when the bodies agree at least NEAR_BODY_SIMILARITY: two
# agencies rewrite a headline more than they change the facts in its text.
NEAR_MARGIN = 0.3
# Letters of a name that must agree for two headlines to mention the same one.
STEM_LETTERS = 4
NEAR_BODY_SIMILARITY = 0.2

SHORT, UNNAMED = "few informative words", "no name or number"
SERIES, KEPT_APART = "series title", "stories kept apart"
FIRST = "first carrier"
SAME_ID = "same id"
SAME_GUID = "same guid"
SAME_HEADLINE = "same headline and day"
NEAR = "near-duplicate"
NEAR_BODY = "near-duplicate headline + body similarity"
SPLIT = "split by hand"
LEGACY = "folded before reasons were recorded (same headline and day, or near-duplicate)"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Fold:
    """Why an item joined a story; made here (and by the store for ids and guids), stored
    with the item's carrier and read back by ``wiredesk why``."""

    rule: str
    score: float | None = None

    def describe(self) -> str:
        """The rule in words, with its score when it has one: "near-duplicate 0.91"."""
        return self.rule if self.score is None else f"{self.rule} {self.score:.2f}"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison (an incoming item or a stored story), made by the store."""

    title: str  # the headline as its feed wrote it
    day: int  # UTC day ordinal
    body: str = ""  # HTML or text of the body (or the summary when there is no body)
    links: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """The headline's ``dedup_key``; "" never folds."""
        return dedup_key(self.title)


def side_of(article: Article) -> Side:
    """An article (an incoming item, or a stored story) as one side of a comparison."""
    return Side(
        title=article.title,
        day=story_day(article.published).toordinal(),
        body=article.content or article.summary,
        links=frozenset(article.links or (article.link,)) - {""},
    )


def informative_words(title: str) -> list[str]:
    """The words of a headline that name something: neither function nor format words."""
    return [w for w in headline_key(title).split() if w not in STOPWORDS and w not in FORMAT_WORDS]


def names(side: Side) -> frozenset[str] | None:
    """The informative words a headline capitalises where grammar does not (proper
    names), folded: past its first word, or its first word when the body capitalises it
    after another word too ("Erdogan wins runoff" with "... said Tayyip Erdogan"). None
    when the headline's casing cannot tell (Title Case or ALL CAPS: no lower-case word
    after the first)."""
    words = [w for w in _WORD.findall(without_tags(side.title)) if w[0].isalpha()]
    if not any(w[0].islower() for w in words[1:]):
        return None
    capitals = {headline_key(w) for w in words[1:] if w[0].isupper()}
    if words and re.search(rf"[\w,;]\s+{re.escape(words[0])}\b", without_tags(side.body)):
        capitals.add(headline_key(words[0]))
    return frozenset(capitals & set(informative_words(side.title)))


def specific(*sides: Side) -> bool:
    """Whether headlines (of one key) name someone or something: a number, or a proper
    name in any of them; when no casing can tell, they are given the benefit of the doubt."""
    if any(c.isdigit() for c in headline_key(sides[0].title)):
        return True
    found = [names(side) for side in sides]
    return all(n is None for n in found) or any(found)


def generic_reason(*sides: Side, series: bool = False, kept_apart: bool = False) -> str | None:
    """Why the headline of ``sides`` (items or stories of one dedup key) is generic, or
    None when it is distinctive.

    ``series``: a source carrying it used it on another occasion (another day outside the
    dedup window); ``kept_apart``: stories with this key in the window were kept apart."""
    informative = len(informative_words(sides[0].title))
    if informative < MIN_INFORMATIVE_WORDS:
        return SHORT
    if informative < MIN_UNNAMED_WORDS and not specific(*sides):
        return UNNAMED
    if series:
        return SERIES
    return KEPT_APART if kept_apart else None


def body_shingles(text: str) -> Counter[tuple[str, ...]]:
    """The word unigrams and ``SHINGLE_WORDS``-grams of a body's content words (folded
    like a dedup key, function words dropped), with their counts."""
    words = [w for w in without_marks(folded_text(text)).split() if w not in STOPWORDS]
    grams: Counter[tuple[str, ...]] = Counter((w,) for w in words)
    grams.update(tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - 1))
    return grams


def body_similarity(a: str, b: str) -> float:
    """How alike two bodies are, 0 to 1: the weighted Jaccard similarity of their shingles
    (shared counts over combined counts); 0 when either is too short to tell."""
    first, second = body_shingles(a), body_shingles(b)
    if min(_words(first), _words(second)) < MIN_BODY_WORDS:
        return 0.0
    shared = sum((first & second).values())
    return shared / sum((first | second).values())


def _words(grams: Counter[tuple[str, ...]]) -> int:
    return sum(n for gram, n in grams.items() if len(gram) == 1)


def headline_fold(item: Side, story: Side, generic: str | None) -> Fold | None:
    """The rule by which ``item`` folds into ``story`` on their equal headline and day,
    given whether (and why) that headline is ``generic``; None when it does not."""
    if not item.key or item.key != story.key or abs(item.day - story.day) > 1:
        return None
    return Fold(SAME_HEADLINE) if generic is None else body_fold(item, story, generic)


def near_fold(item: Side, story: Side, threshold: float, *, series: bool = False) -> Fold | None:
    """The rule by which ``item`` folds into ``story`` on reworded headlines of one window:
    their similarity (Dice of their words) reaches ``threshold`` and they do not name
    different people, places or numbers, or it reaches ``threshold - NEAR_MARGIN`` and
    their bodies agree. A generic headline on either side (or a ``series`` title) needs
    agreeing bodies. None when they do not fold (and for equal keys: ``headline_fold``)."""
    if not item.key or not story.key or item.key == story.key or abs(item.day - story.day) > 1:
        return None
    score = similarity(item.title, story.title)
    if score < threshold - NEAR_MARGIN:
        return None
    generic = generic_reason(item, series=series) or generic_reason(story)
    if generic is not None:
        return body_fold(item, story, generic)
    if score >= threshold and not _other_names(item, story):
        return Fold(NEAR, score)
    body = body_similarity(item.body, story.body)
    return Fold(NEAR_BODY, body) if body >= NEAR_BODY_SIMILARITY else None


def _other_names(a: Side, b: Side) -> bool:
    """True when each headline names someone, somewhere or a number the other does not
    mention ("storm hits Istanbul" and "storm hits Izmir"; "rate at 45 percent" and "rate
    at 2.5 percent"), so that the words they share may describe two events. A name counts
    as mentioned by a word of the same stem ("Portugal's" and "Portuguese")."""
    words_a, words_b = set(headline_key(a.title).split()), set(headline_key(b.title).split())

    def unmentioned(side: Side, own: set[str], other: set[str]) -> bool:
        named = set(names(side) or ()) | {w for w in own if any(c.isdigit() for c in w)}
        stems = {_stem(w) for w in other}
        return any(_stem(w) not in stems for w in named)

    return unmentioned(a, words_a, words_b) and unmentioned(b, words_b, words_a)


def _stem(word: str) -> str:
    """A crude stem that lets inflections of a name meet: its first ``STEM_LETTERS``
    letters; numbers stay whole, since "45" and "4.5" differ."""
    return word if any(c.isdigit() for c in word) else word[:STEM_LETTERS]


def body_fold(item: Side, story: Side, generic: str) -> Fold | None:
    """The fold of two items under a ``generic`` headline: the same link, or bodies at
    least ``GENERIC_BODY_SIMILARITY`` alike; None otherwise."""
    if item.links & story.links:
        return Fold(f"generic headline ({generic}) + same link")
    score = body_similarity(item.body, story.body)
    if score < GENERIC_BODY_SIMILARITY:
        return None
    return Fold(f"generic headline ({generic}) + body similarity", score)


def is_global_guid(guid: str) -> bool:
    """True for a guid that names its item beyond its own feed (a URL, ``urn:`` or
    ``tag:``), so another source carrying it carries the same item; "1" or "item-3" may
    mean anything in another feed."""
    return guid.startswith(("http://", "https://", "urn:", "tag:"))
