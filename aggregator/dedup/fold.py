"""Which rule folds an incoming item into a stored story, and why. Pure, no I/O.

A headline is evidence, not proof, when it is *generic*: it names a kind of item rather
than an event ("Live updates", "Morning briefing", "Photos of the day"), a source uses it
on more than one occasion (a series title), the stories already carrying it were kept
apart (their own feed, a split or their bodies said they differ), or, for a headline that
names no one, the two items' bodies name different places and people (``bodies_disagree``:
one ferry on fire off Bodrum, another in the Cook Strait). Two items with a generic
headline fold only when their bodies agree too: the same link, or body texts whose
weighted Jaccard similarity over word shingles reaches ``GENERIC_BODY_SIMILARITY`` (the
measure lemon24's reader uses for its duplicate detection); a headline generic only for
naming no one needs bodies that name the same places and people. Near-duplicate mode
reads reworded headlines with their bodies (``story_similarity``: the share of each
headline's words, by stem, that the other item carries anywhere), and keeps apart two
headlines that state numbers or names the other item never mentions. The store supplies
the history (``series``, ``kept_apart``); everything here is a function of its arguments.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass

from aggregator.dedup import (
    dedup_key,
    folded_plain,
    headline_key,
    similarity,
    story_day,
    without_marks,
)
from aggregator.models import Article
from aggregator.text import plain_text

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
# Capitalised mid-sentence, yet they say when, not who or where.
_CALENDAR = (
    "monday tuesday wednesday thursday friday saturday sunday january february march april"
    " may june july august september october november december"
)
CALENDAR = frozenset(_CALENDAR.split())
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
# Near-duplicate mode compares headlines read with their bodies (``story_similarity``) and
# folds at the configured threshold. It looks only at stories whose headlines share words:
# a Dice coefficient (``dedup.similarity``) of at least the threshold minus this margin,
# which is what the store's word index is asked for. Two agencies' headlines of one story
# may share only a third of their words ("Turkey and Greece agree to reopen border crossing
# at Kipoi" / "Greek-Turkish crossing to reopen to trucks in March").
NEAR_MARGIN = 0.4
# Letters of a word that must agree for two texts to use the same one: "Portugal's" meets
# "Portuguese", "injured" "injuries", "evacuation" "evacuated".
STEM_LETTERS = 4
# Below the threshold, reworded headlines still fold when their bodies (long enough to
# tell, ``MIN_BODY_WORDS``) agree at least this much: independent reports of one event
# score 0.2 and more, reports of different events under similar headlines 0.16 at most.
NEAR_BODY_SIMILARITY = 0.2
# A headline that names no one (``UNNAMED``) folds with another when their bodies name
# the same places and people: at least half of all the names either body uses.
NAMES_AGREE = 0.5
# A headline that names no one yet tells an event in ``MIN_UNNAMED_WORDS`` words ("Ferry
# catches fire, passengers evacuated") folds on headline and day, unless two bodies of
# at least this many content words (a wire lead sentence that says who and where: "The
# Coast Guard took 80 passengers off a ferry that caught fire near Bodrum harbour" has
# 11; a teaser line such as "Passengers were taken off a burning ferry near Lesbos" 6)
# disagree: each names a place or person the other item never mentions, and they share
# fewer than ``NAMES_AGREE`` of their names. Such a pair is then a generic headline's
# (``DISAGREE``): it still folds on the same link or on copies of one text
# (``GENERIC_BODY_SIMILARITY``). A headline that names its place ("Bosphorus
# ferry crews end three-day strike") is left alone: there two reports of one event name
# different districts (Kadikoy, Marmaray), and the headline already says where.
DISAGREE_BODY_WORDS = 10

SHORT, UNNAMED = "few informative words", "no name or number"
SERIES, KEPT_APART = "series title", "stories kept apart"
DISAGREE = "bodies disagree"
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
    # ``text.plain_text(body)`` when its maker has it (parse derived an item's in its
    # worker: ``Article.texts``); None for a story read from the store, whose text is
    # derived only when a rule reads it, as most comparisons never do
    plain: str | None = None

    @property
    def key(self) -> str:
        """The headline's ``dedup_key``; "" never folds."""
        return dedup_key(self.title)

    @property
    def text(self) -> str:
        """The plain text of ``body``, which the rules read: ``plain``, or derived now."""
        return _plain(self.body) if self.plain is None else self.plain


def side_of(article: Article) -> Side:
    """An article (an incoming item, or a stored story) as one side of a comparison, with
    the plain text of its body when parse derived it (``Article.texts``)."""
    body = article.content or article.summary
    return Side(
        title=article.title,
        day=story_day(article.published).toordinal(),
        body=body,
        links=frozenset(article.all_links),
        plain=dict(article.texts).get(body),
    )


def informative_words(title: str) -> list[str]:
    """The words of a headline that name something: neither function nor format words,
    nor a letter left alone by its punctuation (the "s" of "Istanbul's")."""
    return [
        w
        for w in headline_key(title).split()
        if w not in STOPWORDS and w not in FORMAT_WORDS and (len(w) > 1 or w.isdigit())
    ]


def names(side: Side) -> frozenset[str] | None:
    """The informative words a headline capitalises where grammar does not (proper
    names), folded: past its first word, or its first word when the body capitalises it
    after another word too ("Erdogan wins runoff" with "... said Tayyip Erdogan"). None
    when the headline's casing cannot tell: Title Case or ALL CAPS (no lower-case word
    after the first), or all lower case (no capital at all), as feeds print one story's
    headline in any of the three."""
    words = [w for w in _WORD.findall(plain_text(side.title)) if w[0].isalpha()]
    if not any(w[0].islower() for w in words[1:]) or not any(w[0].isupper() for w in words):
        return None
    capitals = {headline_key(w) for w in words[1:] if w[0].isupper()}
    if words and follows_a_word(words[0], side.text):
        capitals.add(headline_key(words[0]))
    return frozenset(capitals & set(informative_words(side.title)))


def follows_a_word(word: str, text: str) -> bool:
    r"""Whether ``word`` (a run of word characters) stands whole in ``text`` after another
    word, a comma or a semicolon and whitespace: where ``[\w,;]\s+word\b`` matches, found
    by ``str.find`` (a regular expression tries every character of a body as a start)."""
    start = text.find(word)
    while start != -1:
        end = start + len(word)
        if end == len(text) or not _is_word_character(text[end]):
            before = start
            while before and text[before - 1].isspace():
                before -= 1
            if 0 < before < start and (
                _is_word_character(text[before - 1]) or text[before - 1] in ",;"
            ):
                return True
        start = text.find(word, start + 1)
    return False


def _is_word_character(character: str) -> bool:
    r"""What ``\w`` matches in a str pattern."""
    return character.isalnum() or character == "_"


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


def nameless(a: Side, b: Side) -> bool:
    """Whether the headline of two items (of one key) surely names no one: not
    ``specific``, and its first word, which casing cannot tell, is written in lower case
    in a body ("Ferry catches fire" beside "a ferry that caught fire"), as a name is not
    ("Bosphorus ferry crews end three-day strike" beside bodies silent on the Bosphorus)."""
    words = [w for w in _WORD.findall(plain_text(a.title)) if w[0].isalpha()]
    if not words or specific(a, b):
        return False
    return any(words[0].lower() in _body_words(s.text) for s in (a, b))


def body_shingles(text: str) -> Counter[tuple[str, ...]]:
    """The word unigrams and ``SHINGLE_WORDS``-grams of the content words of a body's
    plain text (folded like a dedup key, function words dropped), with their counts."""
    words = [w for w in _folded(text).split() if w not in STOPWORDS]
    grams: Counter[tuple[str, ...]] = Counter((w,) for w in words)
    grams.update(tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - 1))
    return grams


def body_similarity(a: str, b: str) -> float:
    """How alike two bodies' plain texts are, 0 to 1: the weighted Jaccard similarity of
    their shingles (shared counts over combined counts); 0 when either is too short to
    tell."""
    (first, words_a, total_a), (second, words_b, total_b) = _shingles(a), _shingles(b)
    if min(words_a, words_b) < MIN_BODY_WORDS:
        return 0.0
    if len(second) < len(first):
        first, second = second, first
    # the counts of ``first & second`` summed, and of ``first | second`` (what either has)
    shared = sum(min(n, second[gram]) for gram, n in first.items() if gram in second)
    return shared / (total_a + total_b - shared)


def _words(grams: Counter[tuple[str, ...]]) -> int:
    return sum(n for gram, n in grams.items() if len(gram) == 1)


# Each comparison reads both bodies several ways, and an incoming item's body is compared
# with each of its candidates: what a body gives is kept for the last few hundred bodies,
# which cover a pass without holding many texts in memory. The values are only read.
_BODIES = 256


@functools.lru_cache(maxsize=_BODIES)
def _plain(text: str) -> str:
    return plain_text(text)


@functools.lru_cache(maxsize=_BODIES)
def _body_words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text))


@functools.lru_cache(maxsize=_BODIES)
def _folded(text: str) -> str:
    return without_marks(folded_plain(text))


@functools.lru_cache(maxsize=_BODIES)
def _shingles(text: str) -> tuple[Counter[tuple[str, ...]], int, int]:
    """``body_shingles`` of a body, how many content words it has, and all their counts."""
    grams = body_shingles(text)
    return grams, _words(grams), sum(grams.values())


def headline_fold(item: Side, story: Side, generic: str | None) -> Fold | None:
    """The rule by which ``item`` folds into ``story`` on their equal headline and day,
    given whether (and why) that headline is ``generic``; None when it does not."""
    if not item.key or item.key != story.key or abs(item.day - story.day) > 1:
        return None
    if generic is None and bodies_disagree(item, story):
        generic = DISAGREE
    return Fold(SAME_HEADLINE) if generic is None else body_fold(item, story, generic)


def bodies_disagree(a: Side, b: Side) -> bool:
    """Whether two items under one headline that surely names no one (``nameless``)
    report different events by their bodies: both long enough to tell
    (``DISAGREE_BODY_WORDS``), each naming a place or person the other item never mentions
    (by ``stem``), and sharing fewer than ``NAMES_AGREE`` of their names. Symmetric."""
    if not nameless(a, b):
        return False
    if min(_shingles(a.text)[1], _shingles(b.text)[1]) < DISAGREE_BODY_WORDS:
        return False
    only_a = {stem(n) for n in body_names(a.text)} - carried_stems(b)
    only_b = {stem(n) for n in body_names(b.text)} - carried_stems(a)
    return bool(only_a and only_b) and names_agreement(a.text, b.text) < NAMES_AGREE


def near_fold(item: Side, story: Side, threshold: float, *, series: bool = False) -> Fold | None:
    """The rule by which ``item`` folds into ``story`` on reworded headlines of one window:
    their ``story_similarity`` reaches ``threshold`` and neither names a person, place or
    number the other never mentions, or their bodies agree (``NEAR_BODY_SIMILARITY``). Only
    headlines whose words overlap (``dedup.similarity`` of ``threshold - NEAR_MARGIN``) are
    compared. A generic headline on either side (or a ``series`` title) needs agreeing
    bodies. None when they do not fold (and for equal keys: ``headline_fold``)."""
    if not item.key or not story.key or item.key == story.key or abs(item.day - story.day) > 1:
        return None
    if similarity(item.title, story.title) < threshold - NEAR_MARGIN:
        return None
    generic = generic_reason(item, series=series) or generic_reason(story)
    if generic is not None:
        return body_fold(item, story, generic)
    score = story_similarity(item, story)
    if score >= threshold and not _other_names(item, story):
        return Fold(NEAR, score)
    body = body_similarity(item.text, story.text)
    return Fold(NEAR_BODY, body) if body >= NEAR_BODY_SIMILARITY else None


def story_similarity(a: Side, b: Side) -> float:
    """How alike two items' headlines are, read with their bodies, from 0 to 1: the share
    of both headlines' informative words (by ``stem``) that the other item carries, in its
    headline or its body. Agencies rewriting one story pick different words for their
    headlines, but each body carries the other's ("Wildfire near Antalya forces evacuation
    of 3,000 residents" / "3,000 evacuated as wildfire spreads near Antalya"); a headline
    telling what the other item never mentions ("Second earthquake hits Izmir within
    hours") scores low. Symmetric; 0 when either headline has no informative word."""
    own_a, own_b = headline_stems(a.title), headline_stems(b.title)
    if not own_a or not own_b:
        return 0.0
    carried_a, carried_b = carried_stems(a), carried_stems(b)
    return (len(own_a & carried_b) + len(own_b & carried_a)) / (len(own_a) + len(own_b))


def headline_stems(title: str) -> frozenset[str]:
    """The stems of a headline's informative words."""
    return frozenset(stem(w) for w in informative_words(title))


def carried_stems(side: Side) -> frozenset[str]:
    """The stems of every word an item carries, in its headline or its body."""
    return frozenset(stem(w) for w in headline_key(side.title).split()) | _text_stems(side.text)


@functools.lru_cache(maxsize=_BODIES)
def _text_stems(text: str) -> frozenset[str]:
    return frozenset(map(stem, set(_folded(text).split())))


def _other_names(a: Side, b: Side) -> bool:
    """True when a headline states a number the other item never mentions, in its headline
    or its body ("aftershock of magnitude 4.9" beside a 6.1 earthquake), or each headline
    names someone or somewhere the other item never mentions ("storm hits Istanbul" and
    "storm hits Izmir"), so that the words they share may describe two events. A name
    counts as mentioned by a word of the same ``stem``."""
    return bool(_numbers(a) - carried_stems(b) or _numbers(b) - carried_stems(a)) or bool(
        {stem(w) for w in names(a) or ()} - carried_stems(b)
        and {stem(w) for w in names(b) or ()} - carried_stems(a)
    )


def _numbers(side: Side) -> set[str]:
    return {stem(w) for w in headline_key(side.title).split() if any(c.isdigit() for c in w)}


@functools.lru_cache(maxsize=65536)  # a pass's bodies use the same few thousand words
def stem(word: str) -> str:
    """A crude stem that lets inflections meet: a word's first ``STEM_LETTERS`` letters;
    a number keeps all its digits and only them ("200m" meets "200-m"; "45" and "4.5",
    which a key splits into "4" and "5", stay apart)."""
    if any(c.isdigit() for c in word):
        return "".join(c for c in word if c.isdigit())
    return word[:STEM_LETTERS]


def body_fold(item: Side, story: Side, generic: str) -> Fold | None:
    """The fold of two items under a ``generic`` headline: the same link, or bodies at
    least ``GENERIC_BODY_SIMILARITY`` alike; None otherwise."""
    if item.links & story.links:
        return Fold(f"generic headline ({generic}) + same link")
    score = body_similarity(item.text, story.text)
    if score >= GENERIC_BODY_SIMILARITY:
        return Fold(f"generic headline ({generic}) + body similarity", score)
    if generic == UNNAMED:
        agree = names_agreement(item.text, story.text)
        if agree >= NAMES_AGREE:
            return Fold(f"generic headline ({generic}) + same names", agree)
    return None


def names_agreement(a: str, b: str) -> float:
    """How far two bodies' plain texts name the same places and people, 0 to 1: the
    Jaccard similarity of their names (``body_names``); 0 when either names none."""
    first, second = body_names(a), body_names(b)
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


@functools.lru_cache(maxsize=_BODIES)
def body_names(text: str) -> frozenset[str]:
    """The words a body's plain text capitalises where grammar does not (past the first
    word of a sentence), folded like a dedup key; function and calendar words left out."""
    found: set[str] = set()
    for sentence in re.split(r"[.!?]\s+", text):
        for word in _WORD.findall(sentence)[1:]:
            folded = headline_key(word)
            if word[0].isupper() and folded not in STOPWORDS and folded not in CALENDAR:
                found.add(folded)
    return frozenset(found)


def is_global_guid(guid: str) -> bool:
    """True for a guid that names its item beyond its own feed (a URL, ``urn:`` or
    ``tag:``), so another source carrying it carries the same item; "1" or "item-3" may
    mean anything in another feed."""
    return guid.startswith(("http://", "https://", "urn:", "tag:"))
