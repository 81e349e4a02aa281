"""``articles`` (stored stories, newest first, optionally one category's or a search's)
and ``preview`` (which stories a category selects now, and why one is or is not)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aggregator.cli import ids, output
from aggregator.cli.common import EXIT_OK, Adder, opened_store, positive
from aggregator.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from aggregator.config import Category, Config
    from aggregator.models import Article
    from aggregator.store import Store


def register(add: Adder) -> None:
    """Add ``articles`` and ``preview`` through the parser's ``add``."""
    articles = add("articles", "list stored articles, newest first", cmd_articles)
    articles.add_argument("--category", metavar="C", help="only articles this category selects")
    articles.add_argument("--search", metavar="Q", help="full-text search of titles and text")
    articles.add_argument(
        "--limit", metavar="N", type=positive, default=50, help="at most N (default 50)"
    )
    articles.add_argument("--json", action="store_true", help="print one JSON array")
    preview = add("preview", "which stored articles a category selects now, and why", cmd_preview)
    preview.add_argument("category", metavar="CATEGORY", help="a category name, or all")
    preview.add_argument(
        "--limit", metavar="N", type=positive, default=20, help="at most N (default 20)"
    )
    preview.add_argument("--why", metavar="ID", help="explain the verdict on one article")
    preview.add_argument("--json", action="store_true", help="print JSON")


def cmd_articles(args: argparse.Namespace, config: Config) -> int:
    """List stored articles, newest first."""
    from aggregator import filters

    category = _category(config, args.category) if args.category else None
    now = datetime.now(UTC)
    with opened_store(config) as store:
        articles = list(_select(store, category, args.search or None, args.limit, now))
        shown = ids.short_ids(store, [a.id for a in articles])
    if args.json:
        categories = filters.categories_with_all(config)
        payload = [_article_json(a, categories, now, config.publish.base_url) for a in articles]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return EXIT_OK
    output.article_table(articles, shown)
    return EXIT_OK


def cmd_preview(args: argparse.Namespace, config: Config) -> int:
    """Which stored articles a category selects now; with --why, the deciding rule."""
    from aggregator import filters

    category = _category(config, args.category)
    now = datetime.now(UTC)
    with opened_store(config) as store:
        if args.why:
            found = store.article(ids.story_id(store, args.why, "--why"))
            if found is None:  # pruned since its id was looked up
                raise UsageError("--why", f"story {args.why} is no longer stored")
            article, verdict = found, filters.explain(category, found, now=now)
        else:
            articles = list(_select(store, category, None, args.limit, now))
            shown = ids.short_ids(store, [a.id for a in articles])
    if args.why:
        if args.json:
            print(
                json.dumps(
                    {
                        "id": article.id,
                        "title": article.title,
                        "matched": verdict.matched,
                        "reason": verdict.reason,
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
        else:
            outcome = "selected" if verdict.matched else "not selected"
            print(f"{article.title}\n{category.name}: {outcome}: {verdict.reason}")
        return EXIT_OK
    if args.json:
        print(
            json.dumps(
                [_article_json(a, [category], now, config.publish.base_url) for a in articles],
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    output.article_table(articles, shown)
    return EXIT_OK


def _category(config: Config, name: str) -> Category:
    from aggregator import filters

    categories = filters.categories_with_all(config)
    for category in categories:
        if category.name == name:
            return category
    names = ", ".join(c.name for c in categories)
    raise ConfigError.single(config.path, f"unknown category {name!r}; expected one of {names}")


def _select(
    store: Store, category: Category | None, search: str | None, limit: int, now: datetime
) -> Iterator[Article]:
    from aggregator import filters
    from aggregator.models import ArticleQuery

    if category:
        query = replace(filters.store_query(category, now=now), search=search)
        chosen: Iterator[Article] = (
            a for a in store.articles(query) if filters.matches(category, a, now=now)
        )
    else:
        chosen = store.articles(ArticleQuery(search=search))
    for count, article in enumerate(chosen):
        if count >= limit:
            return
        yield article


def _article_json(
    article: Article, categories: Sequence[Any], now: datetime, base_url: str
) -> dict[str, Any]:
    from aggregator import filters
    from aggregator.publish.items import attachment, byline, enclosures, story_link, story_links

    return {
        "id": article.id,
        "title": article.title,
        "link": story_link(article, base_url),
        "links": list(story_links(article)),
        "sources": list(article.sources),
        "section": article.section,
        "categories": [c.name for c in categories if filters.matches(c, article, now=now)],
        "tags": list(article.tags),
        "author": byline(article.author),
        "published": output.iso(article.published),
        "updated": output.iso(article.updated),
        "summary": article.summary,
        "content": article.content,
        "related": list(article.related),
        "enclosures": [attachment(e) for e in enclosures(article)],
    }
