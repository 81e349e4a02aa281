"""What a user typed into search, as the terms every backend's query is made of (the
search index holds ``text.plain_text`` of each story's title, summary and content)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUERY_PART = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class Term:
    """One part of a search that every match must contain: a word, or a quoted phrase
    (its words in that order); ``prefix`` when the last word may go on (a trailing ``*``).
    Made by ``search_terms``, turned into its own query language by each backend."""

    text: str
    prefix: bool


def search_terms(text: str) -> list[Term]:
    """The terms of what a user typed: every word must match, a "quoted phrase" stays a
    phrase, a trailing ``*`` makes a prefix, and every other character is only a word
    separator. Empty when the text has no word to search for. Raises nothing."""
    terms = []
    for phrase, word in _QUERY_PART.findall(text):
        part = phrase or word
        prefix = word.endswith("*")
        part = part.rstrip("*") if prefix else part
        if _WORD.search(part):
            terms.append(Term(part, prefix))
    return terms
