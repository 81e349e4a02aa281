"""The keys a store derives from a story, the same for every backend: the UTC day it is
dated on and the case-folded labels it is listed under."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from aggregator import dedup
from aggregator.models import Article


def day_number(article: Article) -> int:
    """The ordinal of the UTC day an article was published on, as stored in ``day``."""
    return dedup.story_day(article.published).toordinal()


# a pass folds the same few sections and tags over and over
_folded_label = functools.lru_cache(maxsize=4096)(dedup.fold_case)


def labels(section: str, tags: Iterable[str]) -> set[str]:
    """The section and tags a story is listed under, folded by ``dedup.fold_case``."""
    return {_folded_label(label) for label in (section, *tags) if label}
