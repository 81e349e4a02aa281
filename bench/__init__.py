"""The benchmark harness: Wiredesk against lemon24's ``reader`` on one generated workload.

``python bench/run.py`` is the benchmark; the other scripts measure one part of it alone
(README, "Benchmarks", lists each with its command)::

    run.py           ``python bench/run.py``: every step, medians, the table and --json
    workload.py      seeded feeds, seed articles, and "10% of the feeds changed"
    prose.py         the generated headlines, sentences and HTML bodies
    server.py        the feeds over HTTP on 127.0.0.1, with ETag / Last-Modified / 304
    proc.py          a child process with its wall time, peak memory and CPU time
    wiredesk.py      Wiredesk driven only through its CLI (``python run.py ...``)
    scale.py         publish and search over synthetic stores of growing size
    scale_store.py   child script: a synthetic store of K articles via the store API
    pg.py            ``run.py --store postgresql://…``: fresh schemas, PostgreSQL scale
                     stores, one vs two one-core collector nodes, the side-by-side table
    reader_peer.py   child script run inside bench/out/reader-venv: reader's passes
    peer.py          installs reader into that venv and drives reader_peer.py
    results.py       samples of the runs -> medians, throughputs, ratios
    report.py        the printed table

    parse_bench.py   CPU time of parsing alone: one feed, or the workload's 500 bodies
    parse_diff.py    ``python bench/parse_diff.py PATH...``: the fast path against feedparser
    store_bench.py   the SQLite store alone: ingest, queries at 1k-1M stories, peak memory
                     (``store_before.json``: the figures of the store before its rework)
    pages_bench.py   publishing the feeds and pages of N stories: full, again, one changed
    dedup_eval.py    how precisely and completely the store folds a labelled set
    startup.py       the CLI's start-up: ``--help``, ``check``, a ``collect`` with nothing due
    soak.py          the daemon against 500 feeds on faultserver.py for ``--minutes``
    faultserver.py   feeds that fail in every way a publisher can (also the fault suite's)

Nothing here is imported by the ``aggregator`` package; ``reader`` is never a project
dependency.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


class BenchError(Exception):
    """The harness itself cannot go on (a venv cannot be built, a child never answers)."""
