"""Text forms the store derives from an article: plain text for search, a safe FTS query."""

from __future__ import annotations

import re

from aggregator.text import without_tags

_QUERY_PART = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w")


def plain_text(fragment: str) -> str:
    """The words of an HTML fragment, without tags or entities, for the search index."""
    return without_tags(fragment)


def fts_query(text: str) -> str | None:
    """Turn what a user typed into an FTS5 query that cannot be a syntax error: every
    word must match, a "quoted phrase" stays a phrase, a trailing ``*`` makes a prefix,
    and every other character is only a word separator. Returns None when the text
    has no word to search for."""
    terms = []
    for phrase, word in _QUERY_PART.findall(text):
        part = phrase or word
        prefix = "*" if word.endswith("*") else ""
        part = part.rstrip("*") if prefix else part
        if _WORD.search(part):
            terms.append('"' + part.replace('"', '""') + '"' + prefix)
    return " AND ".join(terms) or None
