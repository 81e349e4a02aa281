"""Category rules -> which articles. Pure functions of a rule, an article and ``now``.

A rule holds when every condition it sets holds: ``include`` (any of these whole words or
phrases), ``exclude`` (none of them), ``regex`` (any of these), each looking in the rule's
``fields``; ``sources`` (carried by any of these); ``section`` (the section or a tag is one
of these); ``max_age`` (published within it); and the nested ``all`` / ``any`` / ``not``.
Words match case-insensitively after NFKC normalisation and case folding, and only as whole
words: "Türkiye" matches "TÜRKIYE", "Karabakh" does not match "Karabakhstan".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache

from aggregator.config import Category, Config, Rule
from aggregator.dedup import fold_case
from aggregator.models import Article, ArticleQuery, Verdict
from aggregator.text import plain_text

ALL_CATEGORY = Category(
    name="all", title="All stories", description="Every story on the wire, newest first."
)

_HTML_FIELDS = frozenset({"summary", "content"})


def categories_with_all(config: Config) -> tuple[Category, ...]:
    """Every category to publish: the built-in ``all`` first, then the config's, in order."""
    return (ALL_CATEGORY, *config.categories)


def matches(rule: Rule, article: Article, *, now: datetime) -> bool:
    """True when ``article`` meets every condition ``rule`` sets (``now`` is for max_age)."""
    return explain(rule, article, now=now).matched


def explain(rule: Rule, article: Article, *, now: datetime) -> Verdict:
    """Whether ``rule`` selects ``article`` and why: the first failing condition with its
    path (``any[1].include: no word found in title, summary, content``), or every condition
    that held. Raises nothing."""
    return _verdict(rule, _Texts(article), now, "")


def selecting(
    categories: Sequence[Category], article: Article, *, now: datetime
) -> tuple[Category, ...]:
    """The ``categories`` that select ``article``, its texts computed once for all of them
    (a story's page lists its categories)."""
    texts = _Texts(article)
    return tuple(c for c in categories if _verdict(c, texts, now, "").matched)


def store_query(category: Category, *, now: datetime) -> ArticleQuery:
    """The store query that can only narrow what ``category`` selects: its top-level
    ``sources``, ``section`` and ``max_age``. The caller still checks ``matches``."""
    return ArticleQuery(
        sources=category.sources or None,
        sections=category.section or None,
        since=now - category.max_age if category.max_age else None,
    )


class _Texts:
    """One article's field texts, computed once per evaluation and only when a rule asks."""

    def __init__(self, article: Article) -> None:
        self.article = article
        self._raw: dict[str, tuple[str, ...]] = {}
        self._folded: dict[str, tuple[str, ...]] = {}

    def raw(self, field: str) -> tuple[str, ...]:
        """The NFKC texts of a field (tags give one text each), HTML stripped."""
        if field not in self._raw:
            values = getattr(self.article, field)
            parts = values if isinstance(values, tuple) else (values,)
            if field in _HTML_FIELDS:
                parts = tuple(plain_text(part, lines=True) for part in parts)
            self._raw[field] = tuple(unicodedata.normalize("NFKC", p) for p in parts if p)
        return self._raw[field]

    def folded(self, field: str) -> tuple[str, ...]:
        """The texts of a field, case-folded for word matching."""
        if field not in self._folded:
            self._folded[field] = tuple(fold_case(part) for part in self.raw(field))
        return self._folded[field]


@lru_cache(maxsize=1024)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for a word list; group i+1 matches words[i] as a whole word or phrase."""
    # A blank word would match everywhere; "(?!)" never matches and keeps the group numbers.
    alternatives = (r"\s+".join(map(re.escape, fold_case(w).split())) or "(?!)" for w in words)
    groups = "|".join(f"({alternative})" for alternative in alternatives)
    return re.compile(rf"(?<!\w)(?:{groups})(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _regex_patterns(regexes: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(regex, re.IGNORECASE) for regex in regexes)


def _first_word(words: tuple[str, ...], fields: tuple[str, ...], texts: _Texts) -> str | None:
    """``'word' found in field`` for the first listed word found, or None."""
    pattern = _word_pattern(words)
    for field in fields:
        for text in texts.folded(field):
            found = pattern.search(text)
            if found and found.lastindex:
                return f"{words[found.lastindex - 1]!r} found in {field}"
    return None


def _first_regex(regexes: tuple[str, ...], fields: tuple[str, ...], texts: _Texts) -> str | None:
    """``'regex' matched 'text' in field`` for the first regex that matches, or None."""
    for regex, pattern in zip(regexes, _regex_patterns(regexes), strict=True):
        for field in fields:
            for text in texts.raw(field):
                found = pattern.search(text)
                if found:
                    return f"{regex!r} matched {found.group(0)[:60]!r} in {field}"
    return None


_Check = Callable[[Rule, _Texts, datetime, str], Verdict]


def _verdict(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    held = []
    for check in _checks(rule):
        verdict = check(rule, texts, now, path)
        if not verdict.matched:
            return verdict
        held.append(verdict.reason)
    return Verdict(matched=True, reason="; ".join(held) or f"{path or 'rule'}: no conditions")


def _checks(rule: Rule) -> Iterator[_Check]:
    """The checks of the conditions ``rule`` sets, cheapest first."""
    if rule.sources:
        yield _sources
    if rule.section:
        yield _section
    if rule.max_age:
        yield _max_age
    if rule.exclude:
        yield _exclude
    if rule.include:
        yield _include
    if rule.regex:
        yield _regex
    if rule.all_of:
        yield _all
    if rule.any_of:
        yield _any
    if rule.not_:
        yield _not


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _sources(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    carried = texts.article.all_sources
    found = next((name for name in carried if name in rule.sources), None)
    if found:
        return Verdict(matched=True, reason=f"{_at(path, 'sources')}: carried by {found!r}")
    wanted = ", ".join(map(repr, rule.sources))
    return Verdict(
        matched=False,
        reason=f"{_at(path, 'sources')}: carried by {', '.join(map(repr, carried))}, "
        f"not by any of {wanted}",
    )


def _section(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    wanted = {fold_case(section) for section in rule.section}
    article = texts.article
    found = next(
        (s for s in (article.section, *article.tags) if s and fold_case(s) in wanted), None
    )
    if found:
        return Verdict(matched=True, reason=f"{_at(path, 'section')}: {found!r} is listed")
    return Verdict(
        matched=False,
        reason=f"{_at(path, 'section')}: neither section {article.section!r} nor any tag "
        f"is one of {', '.join(map(repr, rule.section))}",
    )


def _max_age(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    assert rule.max_age is not None
    cutoff = now - rule.max_age
    published = texts.article.published
    if published >= cutoff:
        return Verdict(
            matched=True, reason=f"{_at(path, 'max_age')}: published within {rule.max_age}"
        )
    return Verdict(
        matched=False,
        reason=f"{_at(path, 'max_age')}: published {published.isoformat()}, "
        f"before {cutoff.isoformat()}",
    )


def _include(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    found = _first_word(rule.include, rule.fields, texts)
    if found:
        return Verdict(matched=True, reason=f"{_at(path, 'include')}: {found}")
    where = ", ".join(rule.fields)
    return Verdict(matched=False, reason=f"{_at(path, 'include')}: no word found in {where}")


def _exclude(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    found = _first_word(rule.exclude, rule.fields, texts)
    if found:
        return Verdict(matched=False, reason=f"{_at(path, 'exclude')}: {found}")
    where = ", ".join(rule.fields)
    return Verdict(matched=True, reason=f"{_at(path, 'exclude')}: no word found in {where}")


def _regex(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    found = _first_regex(rule.regex, rule.fields, texts)
    if found:
        return Verdict(matched=True, reason=f"{_at(path, 'regex')}: {found}")
    where = ", ".join(rule.fields)
    return Verdict(matched=False, reason=f"{_at(path, 'regex')}: no pattern matched in {where}")


def _all(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    reasons = []
    for index, sub in enumerate(rule.all_of):
        verdict = _verdict(sub, texts, now, _at(path, f"all[{index}]"))
        if not verdict.matched:
            return verdict
        reasons.append(verdict.reason)
    return Verdict(matched=True, reason="; ".join(reasons))


def _any(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    reasons = []
    for index, sub in enumerate(rule.any_of):
        verdict = _verdict(sub, texts, now, _at(path, f"any[{index}]"))
        if verdict.matched:
            return verdict
        reasons.append(verdict.reason)
    return Verdict(
        matched=False, reason=f"{_at(path, 'any')}: no sub-rule matched ({'; '.join(reasons)})"
    )


def _not(rule: Rule, texts: _Texts, now: datetime, path: str) -> Verdict:
    assert rule.not_ is not None
    verdict = _verdict(rule.not_, texts, now, _at(path, "not"))
    state = "matched" if verdict.matched else "failed"
    return Verdict(
        matched=not verdict.matched,
        reason=f"{_at(path, 'not')}: the sub-rule {state} ({verdict.reason})",
    )
