"""Full-text search in PostgreSQL that finds what SQLite's FTS5 finds: the words are cut
and folded here, as FTS5's ``unicode61 remove_diacritics 2`` tokenizer does (letters and
digits; lower case; accents dropped from Latin letters), and written as ``tsvector`` and
``tsquery`` values directly, so neither the server's parser nor its locale decides what a
word is."""

from __future__ import annotations

import re
import unicodedata

from aggregator.store.text import search_terms

_TOKEN = re.compile(r"[^\W_]+")
# PostgreSQL's limits: a lexeme of at most 2047 bytes, a tsvector of at most 1 MiB (a word
# costs its bytes, about 6 more and 2 a position, of which it keeps 256); positions past
# 16383 all count as 16383. Text past them is not searchable (stories are far shorter).
_LONGEST_WORD = 2047
_LARGEST = 1_000_000
_LAST = 16383


def words_of(text: str) -> list[str]:
    """The search words of ``text``, in order."""
    return _TOKEN.findall((text if text.isascii() else text.translate(_FOLDS)).lower())


class _Folds(dict[int, str]):
    """Each character ``str.translate`` met so far, by code point, as ``_folded`` folds it:
    worked out once per character, then looked up at C speed."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _folded(chr(code))
        return folded


def _folded(char: str) -> str:
    """A Latin letter without its accents ("é" → "e"), as FTS5 folds it; anything else,
    a ligature or a Greek letter with an accent too, stays as it is."""
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if marks and "LATIN" in unicodedata.name(base, "") and all(map(unicodedata.combining, marks)):
        return base
    return char


_FOLDS = _Folds()


def vector(*fields: str) -> str:
    """The ``tsvector`` of a story's fields: each word at its positions (its first 256), a
    position left empty between fields so that a phrase never spans two of them; a word
    too long, or one that would take the vector past its size, is left out."""
    positions: dict[str, list[int]] = {}
    start = 1
    for field in fields:
        words = words_of(field)
        for at, word in enumerate(words, start):
            if word in positions:
                positions[word].append(at)
            else:
                positions[word] = [at]
        start += len(words) + 1
    kept = []
    size = 0
    for word, where in positions.items():
        length = len(word.encode())
        if length > _LONGEST_WORD or size + length + 6 > _LARGEST:
            continue
        where = where[:256]
        size += length + 6 + 2 * len(where)
        if where[-1] > _LAST:
            where = [min(at, _LAST) for at in where]
        # words hold only letters and digits, so they need no escaping inside the quotes
        kept.append(f"'{word}':{','.join(map(str, where))}")
    return " ".join(kept)


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
