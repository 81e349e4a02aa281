"""What "the same story" means. Pure functions, no I/O.

    __init__.py   headlines to dedup keys and words; ``merge`` folds a carrier into a story
    fold.py       which rule folds two items: generic headlines, body similarity, reasons

Two articles are the same story when their dedup keys (normalised headlines) match and
their publication dates fall on the same UTC day, one day either side, unless the
headline is generic (``fold.generic_reason``): then their bodies must agree too. With a
similarity threshold set, reworded headlines in that window are the same story too when
they are close enough read with their bodies (``fold.story_similarity``).
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TypeVar

from aggregator.models import Article
from aggregator.text import collapse, plain_text

_T = TypeVar("_T")


class _PunctuationToSpace(dict[int, int]):
    """A ``str.translate`` table that turns punctuation and symbols into spaces and keeps
    everything else, filled in as characters are first seen."""

    def __missing__(self, code: int) -> int:
        folded = 32 if unicodedata.category(chr(code))[0] in "PS" else code
        self[code] = folded
        return folded


_FOLD = _PunctuationToSpace()


class _MarksToNothing(dict[int, int | None]):
    """A ``str.translate`` table that drops combining marks and keeps everything else,
    filled in as characters are first seen."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_MARKS = _MarksToNothing()


@functools.lru_cache(maxsize=65536)
def normalise_headline(headline: str) -> str:
    """The dedup form of a headline: NFKC, no HTML tags or entities, case-folded, every
    quote, dash and other punctuation folded away, whitespace collapsed."""
    return folded_text(headline)


def folded_text(markup: str) -> str:
    """``normalise_headline`` of any HTML fragment (a body too), without the cache."""
    return folded_plain(plain_text(markup))


def folded_plain(text: str) -> str:
    """``folded_text`` of text that is plain already (``text.plain_text``'s)."""
    return collapse(fold_case(text).translate(_FOLD))


def without_marks(text: str) -> str:
    """``text`` without its diacritics (combining marks); "ı" and "ø" stay as they are."""
    if text.isascii():
        return text  # no marks, and both normal forms leave it as it is
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKD", text).translate(_MARKS))


# What a headline is when a feed has none to give: never a key that stories fold by.
PLACEHOLDERS = frozenset({"", "untitled", "no title", "notitle", "none", "null", "n a", "title"})
# Signs agencies spell out or leave as they are: "Fish & chips", "Rates rise 5%".
_SPELLED = str.maketrans({"&": " and ", "%": " percent ", "ı": "i"})


@functools.lru_cache(maxsize=65536)
def headline_key(headline: str) -> str:
    """``normalise_headline`` with "&" and "%" spelled out and diacritics folded (so
    "Türkiye" meets "Turkiye", "Darıca" "Darica"); "" for a headline that names no story
    (empty, or a placeholder such as "Untitled" or "(no title)"). Its words are what
    near-duplicate matching compares."""
    key = without_marks(folded_text(plain_text(headline).translate(_SPELLED)))
    return "" if key in PLACEHOLDERS else key


def dedup_key(headline: str) -> str:
    """The key the store folds stories by: ``headline_key`` without its spaces, so that
    "re-opens" meets "reopens" and "Grain-corridor" "Grain corridor"."""
    return headline_key(headline).replace(" ", "")


def headline_key_of(article: Article) -> str:
    """``headline_key`` of ``article``'s title: the one parse derived beside the title
    (``Article.title_key``), or derived now (a seed's, or a story read from the store)."""
    pair = article.title_key
    return pair[1] if pair and pair[0] == article.title else headline_key(article.title)


def key_of(article: Article) -> str:
    """``dedup_key`` of ``article``'s title, by ``headline_key_of``."""
    return headline_key_of(article).replace(" ", "")


def fold_case(text: str) -> str:
    """``text`` in the form that compares Unicode case-insensitively: NFKC, case-folded,
    and Turkish "İ" folded like "I" ("TÜRKİYE", "Türkiye" and "ＴÜＲＫＩＹＥ" all give
    "türkiye"). The store keys sections and tags by it."""
    # casefold can leave text that NFKC changes again (so the key would not be idempotent),
    # and turns Turkish "İ" into "i" plus a combining dot that "I" never gets.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.replace("i\u0307", "i")


def story_day(published: datetime) -> date:
    """The UTC calendar day a story was published on."""
    return published.astimezone(UTC).date()


def headline_words(headline: str) -> frozenset[str]:
    """The distinct words of a headline's ``headline_key``, which near-duplicate matching
    compares."""
    return frozenset(headline_key(headline).split())


def similarity(a: str, b: str) -> float:
    """How alike two headlines are, from 0 to 1: the Dice coefficient of their word sets
    (twice the shared words over the sum of both counts). Word order and repeated words
    do not count, so a reworded headline of the same story still scores high."""
    words_a, words_b = headline_words(a), headline_words(b)
    if not words_a or not words_b:
        return 0.0
    return 2 * len(words_a & words_b) / (len(words_a) + len(words_b))


def min_shared_words(word_count: int, threshold: float) -> int:
    """The fewest words a headline of ``word_count`` words must share with another for
    their ``similarity`` to reach ``threshold``: from 2s/(n+m) >= t and m >= s it follows
    that s >= t*n/(2-t). Lets the store ask its word index only for real candidates."""
    return max(1, math.ceil(threshold * word_count / (2 - threshold) - 1e-9))


def primary_link(carried: Iterable[tuple[str, bool]]) -> str:
    """The link a story is published under, from ``(link, came_from_seed)`` pairs in the
    order its carriers arrived: the first publisher URL a feed gave, else the first seed
    permalink, else ""."""
    seed_links: list[str] = []
    for link, from_seed in carried:
        if link and not from_seed:
            return link
        if link:
            seed_links.append(link)
    return seed_links[0] if seed_links else ""


def richness(article: Article) -> tuple[bool, int]:
    """How much text an article carries, for comparing: a full body beats a summary,
    then the longer text wins."""
    return bool(article.content), len(article.content or article.summary)


def merge(existing: Article, incoming: Article) -> Article:
    """Fold ``incoming`` (another carrier of the same story) into ``existing``.

    The story keeps its id, guid, source and title; it gets the richest text, the
    earliest published and latest updated dates, a publisher URL over a seed permalink
    as its link, the seed file's path if either is a seed, and the union of sources,
    links, tags, related headlines and enclosures in the order first carried.
    """
    richer = incoming if richness(incoming) > richness(existing) else existing
    updates = [d for d in (existing.updated, incoming.updated) if d is not None]
    first_seen = [d for d in (existing.first_seen, incoming.first_seen) if d is not None]
    return replace(
        existing,
        summary=richer.summary,
        content=richer.content,
        texts=richer.texts,
        published=min(existing.published, incoming.published),
        updated=max(updates) if updates else None,
        link=primary_link(((existing.link, existing.is_seed), (incoming.link, incoming.is_seed))),
        author=existing.author or incoming.author,
        section=existing.section or incoming.section,
        path=existing.path or incoming.path,
        tags=_union(existing.tags, incoming.tags),
        related=_union(existing.related, incoming.related),
        enclosures=_union(existing.enclosures, incoming.enclosures),
        sources=_union(existing.all_sources, incoming.all_sources),
        links=_union(existing.all_links, incoming.all_links),
        first_seen=min(first_seen) if first_seen else None,
    )


def _union(first: tuple[_T, ...], second: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(item for item in dict.fromkeys(first + second) if item)
