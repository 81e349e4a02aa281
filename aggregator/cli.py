"""argv -> exit code. The only module that prints for humans.

Exit codes: 0 success, 1 runtime failure (a WiredeskError), 2 usage or config error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator import __version__, filters, parse, publish
from aggregator.collector import run_pass
from aggregator.config import Category, Config, config_path, load_config
from aggregator.configedit import remove_source
from aggregator.discover import add_feed
from aggregator.errors import ConfigError, WiredeskError
from aggregator.fetch import Fetcher
from aggregator.models import Article, FetchResult, SourceReport
from aggregator.opml import export_opml, import_opml
from aggregator.publish.items import story_link
from aggregator.schema import schema_text
from aggregator.store import ArticleQuery, Store, open_store

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("wiredesk")

Command = Callable[[argparse.Namespace, Config], int]


# --- commands ---------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """The daemon: scheduled collection, publishing and the HTTP server."""
    from aggregator.daemon import run_daemon

    return run_daemon(config)


def cmd_collect(args: argparse.Namespace, config: Config) -> int:
    """One collection pass now, then publish; prints per-source counts."""
    unknown = [name for name in args.source or () if name not in {s.name for s in config.sources}]
    if unknown:
        raise ConfigError.single(config.path, f"--source: unknown source {unknown[0]!r}")
    with _open(config) as store, _progress(len(args.source or config.sources)) as progress:
        fetcher = Fetcher(config.fetch)
        try:
            report, published = run_pass(
                config,
                store,
                fetcher,
                now=datetime.now(UTC),
                only=args.source,
                progress=progress,
                publish_changes=not args.no_publish,
            )
        finally:
            fetcher.close()
    rows = [_summary_row(r) for r in report.sources]
    _table(["source", "new", "merged", "updated", "unchanged", "not modified", "errors"], rows)
    if not report.sources:
        print("no source is due; collect --source NAME fetches one anyway")
    written = len(published.written) if published else 0
    print(
        f"{_count(len(report.changed_ids), 'story', 'stories')} changed; "
        f"{_count(written, 'published file')} written"
    )
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, config: Config) -> int:
    """Regenerate every category feed from the store."""
    with _open(config) as store:
        report = publish.publish(config, store)
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
    """Validate the config; reaching here means it loaded without problems."""
    seeds = sum(1 for s in config.sources if s.is_seed_folder)
    print(
        f"OK {config.path}: {len(config.sources)} sources "
        f"({len(config.sources) - seeds} feeds, {seeds} seed folders), "
        f"{len(config.categories)} categories"
    )
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    """One row per source: where, last fetch, status, errors, next due, article count."""
    with _open(config) as store:
        states = store.source_states()
        counts = store.article_counts()
    rows = []
    for source in config.sources:
        state = states.get(source.name)
        rows.append(
            {
                "name": source.name,
                "kind": "seeds" if source.is_seed_folder else "feed",
                "location": (state.url if state and state.url else None)
                or str(source.path or source.url),
                "last_fetch": _iso(state.last_fetch) if state else None,
                "status": state.last_status if state else None,
                "error_streak": state.error_streak if state else 0,
                "last_error": state.last_error if state else "",
                "next_due": _iso(state.next_due) if state else None,
                "disabled": state.disabled if state else False,
                "articles": counts.get(source.name, 0),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    headers = ["name", "kind", "location", "last fetch", "status", "errors", "next due", "articles"]
    table = [
        [
            r["name"] + (" (disabled)" if r["disabled"] else ""),
            r["kind"],
            r["location"],
            _short(r["last_fetch"]),
            r["status"] or "",
            f"{r['error_streak']}: {r['last_error']}" if r["last_error"] else r["error_streak"],
            _short(r["next_due"]),
            r["articles"],
        ]
        for r in rows
    ]
    _table(headers, table)
    return EXIT_OK


def cmd_articles(args: argparse.Namespace, config: Config) -> int:
    """List stored articles, newest first."""
    category = _category(config, args.category) if args.category else None
    now = datetime.now(UTC)
    with _open(config) as store:
        articles = list(_select(store, category, args.search or None, args.limit, now))
    if args.json:
        categories = filters.categories_with_all(config)
        payload = [_article_json(a, categories, now, config.publish.base_url) for a in articles]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return EXIT_OK
    _article_table(articles)
    return EXIT_OK


def cmd_preview(args: argparse.Namespace, config: Config) -> int:
    """Which stored articles a category selects now; with --why, the deciding rule."""
    category = _category(config, args.category)
    now = datetime.now(UTC)
    with _open(config) as store:
        if args.why:
            article = store.article(args.why)
            if article is None:
                raise WiredeskError(f"{args.why}: no stored article has this id")
            verdict = filters.explain(category, article, now=now)
        else:
            articles = list(_select(store, category, None, args.limit, now))
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
    _article_table(articles)
    return EXIT_OK


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    """Add a feed (or the feed a web page announces) to the config file."""
    timeout = config.defaults.timeout.total_seconds()
    with Fetcher(config.fetch) as fetcher:

        def fetch(url: str) -> FetchResult:
            return fetcher.fetch(url, url, timeout=timeout)

        def check(result: FetchResult) -> Any:
            return parse.parse_feed(result.url, result, now=datetime.now(UTC))

        added = add_feed(
            config.path,
            args.url,
            name=args.name,
            interval=args.interval,
            pick=args.pick,
            fetch=fetch,
            parse=check,
        )
    print(f"added {added.name}: {added.title or added.url} ({added.entries} entries) {added.url}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    """Remove a source from the config file; its stored stories stay."""
    remove_source(config.path, args.name)
    print(f"removed {args.name} from {config.path}")
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace, config: Config) -> int:
    """Add every subscription of an OPML file as a source; folders become categories."""
    result = import_opml(config.path, args.file)
    print(f"added {len(result.added)} sources: {', '.join(result.added) or '-'}")
    for name in result.categories_created:
        print(f"created category {name}")
    for name in result.categories_extended:
        print(f"extended category {name}")
    for reason in result.skipped:
        print(f"skipped {reason}")
    return EXIT_OK


def cmd_export_opml(args: argparse.Namespace, config: Config) -> int:
    """Print the configured feed sources as OPML 2.0."""
    sys.stdout.buffer.write(export_opml(config))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, config: Config | None) -> int:
    """Print the JSON Schema of the config file."""
    print(schema_text(), end="")
    return EXIT_OK


# --- helpers -------------------------------------------------------------------------------


def _category(config: Config, name: str) -> Category:
    categories = filters.categories_with_all(config)
    for category in categories:
        if category.name == name:
            return category
    names = ", ".join(c.name for c in categories)
    raise ConfigError.single(config.path, f"unknown category {name!r}; expected one of {names}")


def _select(
    store: Store, category: Category | None, search: str | None, limit: int, now: datetime
) -> Iterator[Article]:
    if category:
        query = filters.store_query(category, now=now)
        query = ArticleQuery(**{**_fields(query), "search": search})
        chosen = (a for a in store.articles(query) if filters.matches(category, a, now=now))
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
    return {
        "id": article.id,
        "title": article.title,
        "link": story_link(article, base_url),
        "links": list(article.links),
        "sources": list(article.sources),
        "section": article.section,
        "categories": [c.name for c in categories if filters.matches(c, article, now=now)],
        "tags": list(article.tags),
        "author": article.author,
        "published": _iso(article.published),
        "updated": _iso(article.updated),
        "summary": article.summary,
        "content": article.content,
        "related": list(article.related),
    }


def _article_table(articles: Sequence[Article]) -> None:
    rows = [[_short(_iso(a.published)), ", ".join(a.sources), a.title, a.id] for a in articles]
    _table(["published", "sources", "title", "id"], rows)


def _summary_row(report: SourceReport) -> list[object]:
    errors = (1 if report.error else 0) + len(report.file_errors)
    return [
        report.source,
        report.new,
        report.merged,
        report.updated,
        report.unchanged,
        "yes" if report.not_modified else "",
        errors or "",
    ]


def _count(number: int, singular: str, plural: str = "") -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _short(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else ""


@contextmanager
def _open(config: Config) -> Iterator[Store]:
    store = open_store(config.store, similarity=config.dedup.similarity)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _progress(total: int) -> Iterator[Callable[[SourceReport], None]]:
    """A live progress bar on a terminal; one log line per source otherwise."""
    if not sys.stderr.isatty():
        # Failures are already logged as warnings by the collector.
        yield lambda report: None if report.error else log.info("%s", _describe(report))
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("collecting", total=total)
        yield lambda report: bar.update(task, advance=1, description=report.source)


def _describe(report: SourceReport) -> str:
    if report.not_modified:
        return f"{report.source}: not modified"
    return (
        f"{report.source}: {report.new} new, {report.merged} merged, "
        f"{report.updated} updated, {report.unchanged} unchanged"
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """An aligned table: rich on a terminal, plain columns when piped."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table()
        for header in headers:
            # Ids and names are copied into other commands: never cut them.
            keep_whole = header in {"id", "name", "source"}
            table.add_column(header, no_wrap=keep_whole)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        Console().print(table)
        return
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line with time, level, logger and message."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, so a replaced stderr (tests,
    daemonisers) never leaves the handler writing to a closed stream."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(log_format: str, verbose: bool) -> None:
    """Log to stderr with timestamps, as text or as JSON lines."""
    handler = _StderrHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler", "urllib3", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- argv ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command, with --help and --config on each."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $WIREDESK_CONFIG or config/feeds.yaml)",
    )
    common.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=argparse.SUPPRESS,
        help="log lines on stderr as text (default) or one JSON object per line",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    parser = argparse.ArgumentParser(
        prog="wiredesk",
        description="Collect RSS/Atom feeds and seed articles, fold duplicate stories, "
        "and republish filtered category feeds. Without a command, runs the daemon.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"wiredesk {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, handler: Command) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    add("run", "run the daemon: scheduled collection, publishing and the HTTP server", cmd_run)
    collect = add("collect", "collect every due source once now, then publish", cmd_collect)
    collect.add_argument(
        "--source",
        action="append",
        metavar="NAME",
        help="collect only this source, due or not (repeatable)",
    )
    collect.add_argument(
        "--no-publish",
        action="store_true",
        help="only collect; leave the feeds as they are until the next publish",
    )
    add("publish", "regenerate every category feed from the store", cmd_publish)
    add("serve", "serve the publish folder over HTTP", cmd_serve)
    add(
        "check",
        "validate the config; exit 0 if it is usable, 2 with every problem if not",
        cmd_check,
    )
    sources = add(
        "sources", "one row per source: state, errors, next due, article count", cmd_sources
    )
    sources.add_argument("--json", action="store_true", help="print one JSON array")
    articles = add("articles", "list stored articles, newest first", cmd_articles)
    articles.add_argument("--category", metavar="C", help="only articles this category selects")
    articles.add_argument("--search", metavar="Q", help="full-text search of titles and text")
    articles.add_argument(
        "--limit", metavar="N", type=_positive, default=50, help="at most N (default 50)"
    )
    articles.add_argument("--json", action="store_true", help="print one JSON array")
    preview = add("preview", "which stored articles a category selects now, and why", cmd_preview)
    preview.add_argument("category", metavar="CATEGORY", help="a category name, or all")
    preview.add_argument(
        "--limit", metavar="N", type=_positive, default=20, help="at most N (default 20)"
    )
    preview.add_argument("--why", metavar="ID", help="explain the verdict on one article")
    preview.add_argument("--json", action="store_true", help="print JSON")
    add_cmd = add(
        "add", "add a feed, or the feed a web page announces, to the config file", cmd_add
    )
    add_cmd.add_argument("url", metavar="URL", help="a feed URL or a web page URL")
    add_cmd.add_argument("--name", metavar="N", help="source name (default: from the title)")
    add_cmd.add_argument("--interval", metavar="I", help="fetch interval, e.g. 15m")
    add_cmd.add_argument(
        "--pick", metavar="K", type=_positive, help="which of a page's feeds to add (1-based)"
    )
    remove = add("remove", "remove a source from the config file", cmd_remove)
    remove.add_argument("name", metavar="NAME", help="the source's name")
    import_cmd = add(
        "import-opml", "add the subscriptions of an OPML file as sources", cmd_import_opml
    )
    import_cmd.add_argument("file", metavar="FILE", type=Path, help="an OPML file")
    add("export-opml", "print the configured feeds as OPML 2.0", cmd_export_opml)
    schema = add("schema", "print the JSON Schema of the config file", cmd_schema)
    schema.set_defaults(needs_config=False)
    parser.set_defaults(handler=cmd_run)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number; found {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(getattr(args, "log_format", "text"), getattr(args, "verbose", False))
    try:
        if not getattr(args, "needs_config", True):
            return args.handler(args, None)
        config = load_config(config_path(getattr(args, "config", None)))
        return args.handler(args, config)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except WiredeskError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`... | head`): not an error worth a trace.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
