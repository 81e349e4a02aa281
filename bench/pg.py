"""The PostgreSQL side of ``python bench/run.py --store postgresql://…``.

Every store a run makes is a schema of its own in that database (``bench_<pid>_<n>``,
reached through ``?options=-csearch_path%3D…``), dropped when the run ends. The synthetic
scale stores are built afresh each run: the first ``SEED_STORIES`` through the store's own
``ingest`` (``bench.scale_store``), the rest as copies of those rows made inside the
database by ``INSERT … SELECT`` (new keys, ids, headline keys and dates one workload
span further back), which fills 1M stories in minutes instead of hours. The two-node
step runs one ``collect`` pinned to core 0, then two at once pinned to cores 0 and 1, on
one fresh store, the way two one-core machines would share it. It also counts the CPU time
each pass cost: the nodes' process trees, the PostgreSQL server's processes (when it runs
on this machine; other clients' work counts too, so run it on a quiet machine) and this
process, which serves the feeds. On a machine where the nodes share the cores with the
server, two nodes cannot beat one by more than the cores over the CPU the one-node pass
took per second of it: ``ceiling``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import OUT, ROOT, wiredesk
from bench.proc import Child, cpu_ticks, run_measured
from bench.report import fmt_step, line
from bench.results import Sample, median_step
from bench.scale import publish_and_search
from bench.server import FeedServer
from bench.workload import Workload

SEED_STORIES = 10_000
CPU = ("nodes", "postgres", "feed_server")  # whose CPU time a nodes step counts
# Copied per story, in this order: every table a stored story has rows in (scale stories
# have one carrier, no headline words, no folds).
_COPIES = (
    """INSERT INTO articles (pk, id, guid, source, title, dedup_key, day, published, updated,
        first_seen, link, summary, content, author, section, tags, related, enclosures, path)
    SELECT pk + k * %(span)s, id || '-' || k, guid || '-' || k, source, title,
        dedup_key || ' ' || k, day - k * %(days)s, published - k * %(shift)s, updated,
        first_seen, link || '-' || k, summary, content, author, section, tags, related,
        enclosures, path
    FROM articles, generate_series(1, %(copies)s) AS k WHERE pk <= %(span)s""",
    """INSERT INTO carriers (article_pk, source, guid, link, seed, published, reason)
    SELECT article_pk + k * %(span)s, source, guid || '-' || k, link || '-' || k, seed,
        published - k * %(shift)s, reason
    FROM carriers, generate_series(1, %(copies)s) AS k WHERE article_pk <= %(span)s""",
    """INSERT INTO labels (label, published, article_pk)
    SELECT label, published - k * %(shift)s, article_pk + k * %(span)s
    FROM labels, generate_series(1, %(copies)s) AS k WHERE article_pk <= %(span)s""",
    """INSERT INTO articles_fts (article_pk, doc)
    SELECT article_pk + k * %(span)s, doc
    FROM articles_fts, generate_series(1, %(copies)s) AS k WHERE article_pk <= %(span)s""",
)


def is_postgres(location: str) -> bool:
    """True when ``location`` is a PostgreSQL URL."""
    return location.startswith(("postgresql://", "postgres://"))


class Schemas:
    """Fresh schemas in one PostgreSQL database, each a store location; ``drop`` drops
    every one made."""

    def __init__(self, url: str) -> None:
        """Make schemas in the database of ``url`` (a libpq URL without a query)."""
        self.url = url
        self._made: list[str] = []

    def location(self) -> str:
        """A new empty schema and the store URL that reaches it."""
        name = f"bench_{os.getpid()}_{len(self._made)}"
        self._sql(f"CREATE SCHEMA {name}")
        self._made.append(name)
        return f"{self.url}?options={quote(f'-csearch_path={name}')}"

    def drop(self) -> None:
        """Drop every schema made (with the store in it)."""
        for name in self._made:
            self._sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        self._made.clear()

    def _sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)


@contextmanager
def schemas(url: str) -> Iterator[Schemas]:
    """``Schemas`` in the database of ``url``, all dropped on exit."""
    made = Schemas(url)
    try:
        yield made
    finally:
        made.drop()


def fill(location: str, count: int) -> dict[str, Any]:
    """Fill the empty store at ``location`` with ``count`` synthetic stories: up to
    SEED_STORIES through ``bench.scale_store`` (the store's own ingest), the rest copied
    from them in the database. Returns what it took (or ``error``)."""
    import psycopg

    seeded = min(count, SEED_STORIES)
    measured = run_measured(
        [sys.executable, "-m", "bench.scale_store", location, str(seeded)], cwd=ROOT, timeout=3600
    )
    if not measured.ok:
        return {"error": measured.failure("wiredesk")}
    built = {**json.loads(measured.stdout), "articles": count, "ingested": seeded}
    copies = count // seeded - 1
    if copies <= 0:
        return built
    started = time.perf_counter()
    with psycopg.connect(location, autocommit=True) as conn, conn.transaction():
        (span,) = conn.execute("SELECT max(pk) FROM articles").fetchone() or (0,)
        # whole days back per copy, past the span of the ingested stories (95 s apart)
        days = -(-95 * seeded // 86400)
        params = {"span": span, "copies": copies, "days": days, "shift": days * 86_400_000_000}
        for statement in _COPIES:
            conn.execute(statement, params)
        conn.execute("SELECT setval('story_pks', %s)", (span * (copies + 1),))
        conn.execute("ANALYZE")
    built["copy_seconds"] = time.perf_counter() - started
    return built


def scale_steps(
    schemas: Schemas, sizes: tuple[int, ...], *, runs: int, timeout: float
) -> dict[str, Any]:
    """``bench.scale``'s steps on PostgreSQL: publish of one category and ``articles
    --search`` over a store of each size, in a fresh schema each."""
    results: dict[str, Any] = {}
    for count in sizes:
        location = schemas.location()
        build = fill(location, count)
        entry: dict[str, Any] = {"build": build}
        if build.get("error"):
            entry["publish"] = entry["search"] = {"error": build["error"]}
            results[str(count)] = entry
            continue
        entry |= publish_and_search(location, OUT / "scale-pg" / f"run-{count}", runs, timeout)
        results[str(count)] = entry
        schemas.drop()  # a 1M store takes gigabytes
    return results


def nodes_steps(
    schemas: Schemas, server: FeedServer, workload: Workload, *, runs: int, timeout: float
) -> dict[str, Any]:
    """The first pass by one node and by two, ``runs`` times each (medians), each run on
    a fresh store; ``speedup`` is two nodes' entries/s over one node's."""
    feeds = [(f.name, server.url(f)) for f in workload.feeds]
    steps: dict[str, Any] = {}
    for nodes in (1, 2):
        folder = OUT / "nodes" / str(nodes)
        samples = [
            nodes_step(
                schemas.location, folder, feeds, workload.entries, nodes=nodes, timeout=timeout
            )
            for _ in range(runs)
        ]
        steps[f"nodes_{nodes}"] = median_step(samples, workload.entries)
        steps[f"nodes_{nodes}"]["cpu"] = {
            who: _median(s["cpu"][who] for s in samples) for who in CPU
        }
    one, two = steps["nodes_1"].get("per_second"), steps["nodes_2"].get("per_second")
    steps["speedup"] = two / one if one and two else None
    steps["ceiling"] = ceiling(steps["nodes_1"])
    return steps


def ceiling(step: dict[str, Any], cores: int | None = os.cpu_count()) -> float | None:
    """The most that nodes on all ``cores`` could speed up the pass of ``step``: its
    seconds over the seconds its CPU time (nodes, server, feed server) needs on all cores
    at once. None when a part of that CPU time is unknown."""
    used = [step.get("cpu", {}).get(who) for who in CPU]
    seconds = step.get("seconds")
    if None in used or not seconds:
        return None
    return seconds / (sum(used) / (cores or 1))  # type: ignore[arg-type]


def _median(values: Iterable[float | None]) -> float | None:
    """The median of ``values``; None when one of them is."""
    known = list(values)
    return None if None in known else statistics.median(known)  # type: ignore[type-var]


def postgres_cpu() -> float | None:
    """The CPU seconds PostgreSQL's processes on this machine have used (the server's own
    and its exited backends', which the postmaster reaped); None when none runs here."""
    pids = [p.parent.name for p in Path("/proc").glob("[0-9]*/comm") if _comm(p) == "postgres"]
    if not pids:
        return None
    return sum(cpu_ticks(int(pid), reaped=True) for pid in pids) / os.sysconf("SC_CLK_TCK")


def _comm(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def nodes_step(
    locate: Callable[[], str],
    folder: Path,
    feeds: list[tuple[str, str]],
    entries: int,
    *,
    nodes: int,
    timeout: float,
) -> Sample:
    """The first pass of ``feeds`` into a fresh store by ``nodes`` ``collect`` processes
    started together, node N pinned to core N (``taskset -c N``) under its own node name;
    wall time from the first start to the last exit, entries/s over the whole workload."""
    location = locate()
    children = []
    server_cpu, own_cpu = postgres_cpu(), time.process_time()
    started = time.perf_counter()
    for n in range(nodes):
        config = wiredesk.write_config(
            folder / f"node{n}.yaml",
            store=location,
            publish_dir=folder / f"pub{n}",
            port=wiredesk.free_port(),
            feeds=feeds,
            node=f"bench-node{n}",
        )
        argv = ["taskset", "-c", str(n), sys.executable, str(wiredesk.RUN), "collect"]
        children.append(Child([*argv, "--no-publish", "--json", "--config", str(config)], cwd=ROOT))
    finished = [child.finish(timeout) for child in children]
    seconds = time.perf_counter() - started
    server_after = postgres_cpu()
    cpu = {
        "nodes": sum(m.cpu_seconds for m in finished),
        "postgres": None
        if server_cpu is None or server_after is None
        else server_after - server_cpu,
        "feed_server": time.process_time() - own_cpu,
    }
    failed = [m.failure("wiredesk") for m in finished if not m.ok]
    per_node = [_collected(m.stdout) if m.ok else 0 for m in finished]
    check = wiredesk.check_sources(folder / "node0.yaml", timeout=timeout)
    error = failed[0] if failed else check.error
    if not error and check.failed:
        error = f"wiredesk step failed: {check.failed} of {check.sources} sources failed"
    return {
        "seconds": seconds,
        "peak_mb": max(m.peak_mb for m in finished),
        "error": error,
        "nodes": nodes,
        "sources_per_node": per_node,
        "stored": check.articles,
        "per_second": entries / seconds if seconds else None,
        "cpu": cpu,
    }


def _collected(stdout: str) -> int:
    """How many sources one node's ``collect --json`` fetched (not left to the other)."""
    return sum(1 for source in json.loads(stdout)["sources"] if not source.get("skipped"))


def load_average() -> str:
    """``uptime``'s load averages, as a record of how busy the machine was."""
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return out.split("load average:")[-1].strip()


def table(results: dict[str, Any]) -> str:
    """SQLite and PostgreSQL side by side: the passes, publishing one category over each
    scale size, and the first pass by one and two one-core nodes; reader's first pass for
    reference; the load averages the run saw."""
    wd, ours, n = results["wiredesk"], results["postgres"], results["workload"]
    rows: list[tuple[str, ...]] = []
    for step, label, unit in (
        ("first_pass", f"first pass ({n['entries']} entries)", "entries"),
        ("not_modified_pass", f"all-304 pass ({n['feeds']} feeds)", "feeds"),
        ("changed_pass", f"10% changed ({n['changed_feeds']} feeds)", "entries"),
    ):
        rows.append(_row(label, wd[step], ours[step], unit))
    for count in ours["scale"]:
        sqlite = results["scale"].get(count, {}).get("publish", {"error": "not run"})
        label = f"publish 1 category @ {int(count):,} stored"
        rows.append(_row(label, sqlite, ours["scale"][count]["publish"], ""))
    nodes = ours["nodes"]
    for key, label in (("nodes_1", "first pass, 1 node (core 0)"), ("nodes_2", "2 nodes")):
        rows.append((label, "", fmt_step(nodes[key], "entries"), ""))
    speedup = nodes.get("speedup")
    rows.append(("2 nodes / 1 node", "", f"{speedup:.2f}x" if speedup else "-", ""))
    best = nodes.get("ceiling")
    rows.append(("best this machine allows", "", f"{best:.2f}x" if best else "-", ""))
    rows.append(("reader first pass", fmt_step(results["reader"]["first_pass"], "entries"), "", ""))
    header = ("step", "SQLite", "PostgreSQL", "PG / SQLite")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [line(header, widths), line(tuple("-" * w for w in widths), widths)]
    lines += [line(row, widths) for row in rows]
    cpu = [
        _cpu(nodes[key], label) for key, label in (("nodes_1", "1 node"), ("nodes_2", "2 nodes"))
    ]
    return "\n".join([*lines, *cpu, "load average: " + " -> ".join(results["load_average"])])


def _cpu(step: dict[str, Any], label: str) -> str:
    """The CPU time a nodes step took, by whom."""
    cpu = step.get("cpu") or {}
    shown = {who: "-" if cpu.get(who) is None else f"{cpu[who]:.1f} s" for who in CPU}
    return (
        f"CPU, {label}: node {shown['nodes']}, postgres {shown['postgres']},"
        f" feed server {shown['feed_server']}"
    )


def _row(label: str, sqlite: dict[str, Any], ours: dict[str, Any], unit: str) -> tuple[str, ...]:
    """One step on both stores, and PostgreSQL's throughput (or speed) over SQLite's."""
    a, b = sqlite.get("seconds"), ours.get("seconds")
    ratio = f"{a / b:.2f}x" if a and b and not (sqlite.get("error") or ours.get("error")) else "-"
    return (label, fmt_step(sqlite, unit), fmt_step(ours, unit), ratio)
