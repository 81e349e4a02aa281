"""``ArticleQuery`` to SQL: one page of stories, newest published first.

A page is chosen on narrow rows (``published`` and ``pk``) and only then are the full rows
read. Where the query names sections or sources, each one is walked in its own index
(``labels`` and ``carriers`` hold a copy of ``published`` for this), newest first, and the
walks are merged, so the newest stories of a common section cost no more than those of a
rare one. A search starts from its full-text matches, so its cost follows how many
stories match, not how many are stored.
"""

from __future__ import annotations

from aggregator import dedup
from aggregator.models import ArticleQuery
from aggregator.store.rows import ARTICLE_COLUMNS, to_micros
from aggregator.store.sql import Dialect

After = tuple[int, int]  # (published, pk) of the last story of the previous page
_NEWEST = "ORDER BY published DESC, pk DESC"
Sql = tuple[str, list[object]]


def page_sql(dialect: Dialect, query: ArticleQuery, after: After | None, size: int) -> Sql | None:
    """The SQL and parameters that read the next ``size`` stories of ``query`` after
    ``after``, as ``ARTICLE_COLUMNS`` rows, newest published first; None when the query
    can match nothing. Raises nothing."""
    if query.search is not None and dialect.search(query.search) is None:
        return None
    keys = _walks(query)
    if keys is not None and not keys[2]:
        return None
    if keys is None:
        inner, params = _scan(dialect, query, after, size)
    else:
        table, column, values = keys
        parts = [_walk(dialect, query, table, column, v, after, size) for v in values]
        inner = " UNION ".join(
            f"SELECT * FROM ({sql}) AS walk{n}" for n, (sql, _) in enumerate(parts)
        )
        inner = f"SELECT pk FROM ({inner}) AS walks {_NEWEST} LIMIT ?"
        params = [p for _, part in parts for p in part] + [size]
    sql = f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE pk IN ({inner}) {_NEWEST}"
    return sql, params


def _walks(query: ArticleQuery) -> tuple[str, str, list[str]] | None:
    """The index to walk per key, when sections or sources (and no ids or search, which
    narrow more) are asked for: (table, key column, keys)."""
    if query.ids is not None or query.search is not None:
        return None
    if query.sections is not None:
        folded = list(dict.fromkeys(dedup.fold_case(s) for s in query.sections))
        return "labels", "label", folded
    if query.sources is not None:
        return "carriers", "source", list(dict.fromkeys(query.sources))
    return None


def _walk(
    dialect: Dialect,
    query: ArticleQuery,
    table: str,
    column: str,
    value: str,
    after: After | None,
    size: int,
) -> Sql:
    """One key's newest ``size`` stories from ``table``'s (key, published, article_pk) index."""
    where, params = _conditions(dialect, query, f"{table}.article_pk", skip=table, after=after)
    sql = (
        f"SELECT DISTINCT published, article_pk AS pk FROM {table} WHERE {column} = ?"
        f"{''.join(' AND ' + w for w in where)}"
        " ORDER BY published DESC, article_pk DESC LIMIT ?"
    )
    return sql, [value, *params, size]


def _scan(dialect: Dialect, query: ArticleQuery, after: After | None, size: int) -> Sql:
    """The newest ``size`` stories read from ``articles`` (its published index, or the
    ids or search matches sorted on narrow rows)."""
    where, params = _conditions(dialect, query, "articles.pk", skip="", after=after)
    if query.seeds_only:
        where.append("path != ''")
    sql = (
        f"SELECT pk FROM articles{' WHERE ' + ' AND '.join(where) if where else ''}"
        f" {_NEWEST} LIMIT ?"
    )
    return sql, [*params, size]


def _conditions(
    dialect: Dialect, query: ArticleQuery, pk: str, *, skip: str, after: After | None
) -> tuple[list[str], list[object]]:
    """The WHERE clauses of ``query`` on a row whose story is ``pk``, leaving out the
    filter the walked table ``skip`` already applies (and ``seeds_only`` in ``articles``)."""
    where: list[str] = []
    params: list[object] = []
    among, listed = dialect.among, dialect.listed
    if query.ids is not None:
        where.append(f"{pk} IN (SELECT pk FROM articles WHERE id {among})")
        params.append(listed(query.ids))
    if query.sources is not None and skip != "carriers":
        where.append(
            f"EXISTS (SELECT 1 FROM carriers c WHERE c.article_pk = {pk} AND c.source {among})"
        )
        params.append(listed(query.sources))
    if query.sections is not None and skip != "labels":
        where.append(
            f"EXISTS (SELECT 1 FROM labels l WHERE l.article_pk = {pk} AND l.label {among})"
        )
        params.append(listed([dedup.fold_case(s) for s in query.sections]))
    if query.since is not None:
        where.append("published >= ?")
        params.append(to_micros(query.since))
    if query.search is not None:
        where.append(f"{pk} {dialect.matching}")
        params.append(dialect.search(query.search))
    if query.seeds_only and skip:
        where.append(f"EXISTS (SELECT 1 FROM articles a WHERE a.pk = {pk} AND a.path != '')")
    if after is not None:
        where.append(f"(published, {pk}) < (?, ?)")
        params.extend(after)
    return where, params
