"""The CLI's commands: each takes the parsed arguments and the loaded config, calls the
library and returns an exit code. Only they and ``output`` print.

Each command imports what it needs when it runs (requests, lxml, feedparser, feedgen,
the store, the daemon): ``wiredesk --help`` then loads none of them, and a cron
``collect`` with nothing due loads neither requests nor a parser."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from aggregator.cli import ids, output
from aggregator.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from aggregator.config import Category, Config
    from aggregator.fetch import Fetcher
    from aggregator.models import Article, FetchResult, SourceState
    from aggregator.store import ArticleQuery, Store

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace, "Config"], int]


class SourceRow(TypedDict):
    """One row of ``sources``, as printed in the table and by ``--json``."""

    name: str
    moved_to: str | None
    kind: str
    location: str
    last_fetch: str | None
    status: int | None
    error_streak: int
    last_error: str
    next_due: str | None
    disabled: bool
    articles: int


# --- commands ---------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """The daemon: scheduled collection, publishing and the HTTP server."""
    from aggregator.daemon import run_daemon

    return run_daemon(config)


def cmd_collect(args: argparse.Namespace, config: Config) -> int:
    """One collection pass now, then publish; prints per-source counts (or JSON)."""
    from aggregator.config.values import quote, suggest

    names = {s.name for s in config.sources}
    for name in args.source or ():
        if name not in names:
            raise UsageError("--source", f"unknown source {quote(name)}{suggest(name, names)}")
    from aggregator.collector import run_pass

    with _open(config) as store, output.progress(len(args.source or config.sources)) as progress:
        fetcher = _FetcherOnDemand(config)
        try:
            report, published = run_pass(
                config,
                store,
                cast("Fetcher", fetcher),  # it stands for one: see _FetcherOnDemand
                now=datetime.now(UTC),
                only=args.source,
                progress=progress,
                publish_changes=not args.no_publish,
            )
        finally:
            fetcher.close()
    if args.json:
        print(json.dumps(output.pass_json(report, published), indent=2, ensure_ascii=False))
        return EXIT_OK
    rows = [output.summary_row(r) for r in report.sources]
    output.table(
        ["source", "new", "merged", "updated", "unchanged", "not modified", "errors"], rows
    )
    if not report.sources:
        print("no source is due; collect --source NAME fetches one anyway")
    written = len(published.written) if published else 0
    print(
        f"{output.count(len(report.changed_ids), 'story', 'stories')} changed; "
        f"{output.count(written, 'published file')} written"
    )
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, config: Config) -> int:
    """Regenerate every category feed from the store."""
    from aggregator import publish

    with _open(config) as store:
        report = publish.publish(config, store, full=True)
    print(
        f"published to {config.publish.dir}: {len(report.written)} written, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    """Serve the publish folder over HTTP until interrupted."""
    from aggregator.server import serve_forever

    serve_forever(config)
    return EXIT_OK


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    """Validate the config: it loaded, so look for what ``collect`` would trip over; print
    the warnings, and every problem (exit 2) or a summary (exit 0)."""
    from aggregator.config.checks import inspect

    problems, warnings = inspect(config)
    for warning in warnings:
        print(warning, file=sys.stderr)
    if problems:
        raise ConfigError(problems)
    seeds = sum(1 for s in config.sources if s.is_seed_folder)
    print(
        f"OK {config.path}: {output.count(len(config.sources), 'source')} "
        f"({output.count(len(config.sources) - seeds, 'feed')}, "
        f"{output.count(seeds, 'seed folder')}), "
        f"{output.count(len(config.categories), 'category', 'categories')}"
    )
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    """One row per source: where, last fetch, status, errors, next due, article count."""
    with _open(config) as store:
        states = store.source_states()
        counts = store.article_counts()
    moves = moved_sources(config, states)
    rows: list[SourceRow] = []
    for source in config.sources:
        state = states.get(source.name)
        rows.append(
            SourceRow(
                name=source.name,
                moved_to=moves.get(source.name),
                kind="seeds" if source.is_seed_folder else "feed",
                location=(state.url if state and state.url else None)
                or str(source.path or source.url),
                last_fetch=output.iso(state.last_fetch) if state else None,
                status=state.last_status if state else None,
                error_streak=state.error_streak if state else 0,
                last_error=state.last_error if state else "",
                # a disabled source runs again only when its url is edited
                next_due=output.iso(state.next_due) if state and not state.disabled else None,
                disabled=state.disabled if state else False,
                articles=counts.get(source.name, 0),
            )
        )
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    _source_table(rows)
    if moves:
        print(
            f"{output.count(len(moves), 'source')} moved for good (301/308): "
            "wiredesk apply-moves writes the new URLs into the config"
        )
    return EXIT_OK


def _source_table(rows: Sequence[SourceRow]) -> None:
    """The sources as a table, then the last error of each failing one (too long for a
    column of an 80-column terminal) on its own line."""
    headers = ["name", "location", "fetched (UTC)", "status", "errors", "due (UTC)", "articles"]
    table = [
        [
            r["name"]
            + (" (disabled)" if r["disabled"] else "")
            + (" (moved)" if r["moved_to"] else ""),
            r["location"],
            output.brief(r["last_fetch"]),
            r["status"] or "",
            r["error_streak"],
            output.brief(r["next_due"]),
            r["articles"],
        ]
        for r in rows
    ]
    output.table(headers, table)
    output.cut_lines([line for r in rows for line in _error_lines(r)])


def _error_lines(row: SourceRow) -> list[str]:
    """A source's last error as lines: a seed folder's, one per broken file."""
    from aggregator.models import FILE_ERRORS_SEPARATOR

    if not row["last_error"]:
        return []
    if row["kind"] == "seeds":
        return row["last_error"].split(FILE_ERRORS_SEPARATOR)
    return [row["last_error"]]


def moved_sources(config: Config, states: dict[str, SourceState]) -> dict[str, str]:
    """The feed sources a permanent redirect moved since their ``url`` was last edited:
    name -> the URL they moved to."""
    moves = {}
    for source in config.sources:
        state = states.get(source.name)
        if source.url and state and state.url and state.origin_url == source.url != state.url:
            moves[source.name] = state.url
    return moves


def cmd_apply_moves(args: argparse.Namespace, config: Config) -> int:
    """Write the new URL of every source moved by a permanent redirect into the config."""
    with _open(config) as store:
        moves = moved_sources(config, store.source_states())
    if not moves:
        print("no source has moved: nothing to change")
        return EXIT_OK
    from aggregator.configedit import apply_moves

    apply_moves(config.path, moves)
    for name, url in moves.items():
        print(f"{name}: {config.source(name).url} -> {url}")
    print(f"wrote {output.count(len(moves), 'new URL')} into {config.path}")
    return EXIT_OK


def cmd_articles(args: argparse.Namespace, config: Config) -> int:
    """List stored articles, newest first."""
    from aggregator import filters

    category = _category(config, args.category) if args.category else None
    now = datetime.now(UTC)
    with _open(config) as store:
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
    with _open(config) as store:
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


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    """Add a feed (or the feed a web page announces) to the config file."""
    from aggregator.config.model import Source
    from aggregator.discover import add_feed

    # Checked here, so the message blames the flag rather than a line of the edited file.
    for flag, key, value in (
        ("--name", "name", args.name),
        ("--interval", "interval", args.interval),
    ):
        if value is not None:
            _check_option(flag, Source, key, value)

    with _feed_reader(config) as (fetch, check):
        added = add_feed(
            config.path,
            args.url,
            name=args.name,
            interval=args.interval,
            pick=args.pick,
            fetch=fetch,
            parse=check,
        )
    entries = output.count(added.entries, "entry", "entries")
    print(f"added {added.name}: {added.title or added.url} ({entries}) {added.url}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    """Remove a source from the config file; its stored stories stay."""
    from aggregator.configedit import remove_source

    remove_source(config.path, args.name)
    print(f"removed {args.name} from {config.path}")
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace, config: Config) -> int:
    """Add every subscription of an OPML file as a source, each fetched and checked unless
    --no-check; folders become categories unless a category of that name exists."""
    from aggregator.opml import import_opml

    with _feed_reader(config) as (fetch, check):
        checker = None if args.no_check else (lambda url: check(fetch(url)))
        result = import_opml(config.path, args.file, check=checker)
    if result.nothing_new:
        print(f"nothing new in {args.file}: no source or category to add")
    else:
        print(f"added {output.count(len(result.added), 'source')}: {', '.join(result.added)}")
    for name in result.categories_created:
        print(f"created category {name}")
    for name, added in result.categories_kept.items():
        print(
            f"category {name} already exists and was left as it is: "
            f"{', '.join(added)} added as sources only"
        )
    for reason in result.skipped:
        print(f"skipped {reason}")
    return EXIT_OK


def cmd_export_opml(args: argparse.Namespace, config: Config) -> int:
    """Print the configured feed sources as OPML 2.0."""
    from aggregator.opml import export_opml

    sys.stdout.buffer.write(export_opml(config))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, config: Config | None) -> int:
    """Print the JSON Schema of the config file."""
    from aggregator.schema import schema_text

    print(schema_text(), end="")
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
    from aggregator.store import ArticleQuery

    if category:
        query = filters.store_query(category, now=now)
        query = ArticleQuery(**{**_fields(query), "search": search})
        chosen: Iterator[Article] = (
            a for a in store.articles(query) if filters.matches(category, a, now=now)
        )
    else:
        chosen = store.articles(ArticleQuery(search=search))
    for count, article in enumerate(chosen):
        if count >= limit:
            return
        yield article


def _fields(query: ArticleQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in query.__dataclass_fields__}


def _article_json(
    article: Article, categories: Sequence[Any], now: datetime, base_url: str
) -> dict[str, Any]:
    from aggregator import filters
    from aggregator.publish.items import attachment, byline, enclosures, story_link

    return {
        "id": article.id,
        "title": article.title,
        "link": story_link(article, base_url),
        "links": list(article.links),
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


def _check_option(flag: str, model: type, key: str, value: str) -> None:
    """Raise UsageError naming ``flag`` when ``value`` is not what ``key`` of ``model`` takes."""
    from aggregator.config.build import Context, options

    ctx = Context(Path.cwd())
    ctx.parse(options(model)[key][1].kind, value, ())
    if ctx.problems:
        raise UsageError(flag, ctx.problems[0][1])


class _FetcherOnDemand:
    """Stands for the pass's Fetcher and makes it (importing requests, ~50 ms) on first
    use: a cron ``collect`` with nothing due never needs one."""

    def __init__(self, config: Config) -> None:
        import threading

        self._config = config.fetch
        self._fetcher: Fetcher | None = None
        self._lock = threading.Lock()  # the collector's workers may ask at once

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._fetcher is None:
                from aggregator.fetch import Fetcher

                self._fetcher = Fetcher(self._config)
        return getattr(self._fetcher, name)

    def close(self) -> None:
        """Close the Fetcher, if one was made."""
        if self._fetcher is not None:
            self._fetcher.close()


@contextmanager
def _feed_reader(
    config: Config,
) -> Iterator[tuple[Callable[[str], FetchResult], Callable[[FetchResult], Any]]]:
    """A fetch (URL -> response) and a check (response -> parsed feed) for ``add`` and
    ``import-opml``, with the defaults' timeout."""
    from aggregator import parse
    from aggregator.fetch import Fetcher

    timeout = config.defaults.timeout.total_seconds()
    with Fetcher(config.fetch) as fetcher:

        def fetch(url: str) -> FetchResult:
            return fetcher.fetch(url, url, timeout=timeout)

        def check(result: FetchResult) -> Any:
            return parse.parse_feed(result.url, result, now=datetime.now(UTC))

        yield fetch, check


@contextmanager
def _open(config: Config) -> Iterator[Store]:
    from aggregator.store import open_store

    store = open_store(config.store, similarity=config.dedup.similarity)
    try:
        yield store
    finally:
        store.close()
