"""Full-text search in PostgreSQL that finds what SQLite's FTS5 finds: the words are cut
and folded here, as FTS5's ``unicode61 remove_diacritics 2`` tokenizer does (letters and
digits; lower case; accents dropped from Latin letters), and written as ``tsvector`` and
``tsquery`` values directly, so neither the server's parser nor its locale decides what a
word is."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from aggregator.store.text import search_terms

_TOKEN = re.compile(r"[^\W_]+")
# PostgreSQL's limits: a lexeme of at most 2047 bytes, a tsvector of at most 1 MiB (a word
# costs its bytes, about 6 more and 2 a position, of which it keeps 256); positions past
# 16383 all count as 16383. Text past them is not searchable (stories are far shorter).
_LONGEST_WORD = 2047
_LARGEST = 1_000_000


def words_of(text: str) -> list[str]:
    """The search words of ``text``, in order."""
    return _TOKEN.findall("".join(map(_folded, text)).lower())


@lru_cache(maxsize=4096)
def _folded(char: str) -> str:
    """A Latin letter without its accents ("é" → "e"), as FTS5 folds it; anything else,
    a ligature or a Greek letter with an accent too, stays as it is."""
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if marks and "LATIN" in unicodedata.name(base, "") and all(map(unicodedata.combining, marks)):
        return base
    return char


def vector(*fields: str) -> str:
    """The ``tsvector`` of a story's fields: each word at its position, a position left
    empty between fields so that a phrase never spans two of them."""
    positions: dict[str, list[str]] = {}
    at = size = 0
    for field in fields:
        for word in words_of(field):
            at += 1
            if word not in positions:
                length = len(word.encode())
                if length > _LONGEST_WORD or size + length + 6 > _LARGEST:
                    continue
                size += length + 6
                positions[word] = []
            if len(positions[word]) < 256:
                positions[word].append(str(min(at, 16383)))
                size += 2
        at += 1
    # words hold only letters and digits, so they need no escaping inside the quotes
    return " ".join(f"'{word}':{','.join(where)}" for word, where in positions.items())


def query(text: str) -> str | None:
    """What a user typed (``text.search_terms``) as a ``tsquery``: every term must match,
    a phrase's words in order, a prefix term's last word as a prefix. None when there is
    no term, or a term without a word (FTS5 matches nothing then either)."""
    parts = []
    for term in search_terms(text):
        words = [f"'{word}'" for word in words_of(term.text)]
        if not words:
            return None
        if term.prefix:
            words[-1] += ":*"
        parts.append(" <-> ".join(words))
    return " & ".join(f"({part})" for part in parts) or None
