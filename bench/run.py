"""``python bench/run.py [--quick] [--json PATH] [--runs K]``: Wiredesk against reader.

Generates the workload, serves it on 127.0.0.1, and times (median of K runs, each on a
fresh store): Wiredesk's seed ingest, first pass, all-304 pass, 10%-changed pass, full
publish and ``serve``; reader's first, 304 and 10% passes with its best worker count;
and Wiredesk's publish and search over synthetic stores of growing size. Prints a table
and writes every figure to ``--json PATH``. With ``--store postgresql://…`` Wiredesk's
steps run on PostgreSQL too, beside SQLite, with one and two collector nodes
(``bench/pg.py``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the project root importable so ``bench.*`` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import OUT, BenchError, peer, pg, wiredesk
from bench.proc import Measured
from bench.report import table
from bench.results import (
    PASSES,
    Sample,
    median_step,
    parsers,
    ratios,
    ratios_in_process,
    sample,
)
from bench.scale import scale_steps
from bench.server import FeedServer
from bench.workload import Workload, change_feeds, generate_feeds, write_seeds


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """The size of one benchmark run."""

    feeds: int
    entries: int
    seeds: int
    runs: int
    scale: tuple[int, ...]
    calibrate_feeds: int
    workers: tuple[int, ...]
    serve_requests: int
    serve_seconds: float
    serve_threads: int
    timeout: float  # per child process
    scale_timeout: float  # per synthetic store build


DEFAULT = Params(
    feeds=500,
    entries=50,
    seeds=2000,
    runs=3,
    scale=(1000, 100_000, 1_000_000),
    calibrate_feeds=100,
    workers=(1, 4, 8, 16),
    serve_requests=5000,
    serve_seconds=10,
    serve_threads=4,
    timeout=1800,
    scale_timeout=7200,
)
QUICK = Params(
    feeds=40,
    entries=20,
    seeds=200,
    runs=1,
    scale=(1000, 10_000),
    calibrate_feeds=40,
    workers=(4, 8),
    serve_requests=300,
    serve_seconds=2,
    serve_threads=4,
    timeout=60,
    scale_timeout=120,
)
CHANGED_FRACTION = 0.1


def _timed_step(server: FeedServer, run: Callable[[], Measured]) -> tuple[Sample, Measured]:
    server.reset_counts()
    measured = run()
    counts = {str(k): v for k, v in server.counts().items()}
    return sample(measured, "wiredesk", server=counts), measured


def _collect_step(server: FeedServer, config: Path, params: Params) -> Sample:
    """A timed ``collect``, then an untimed ``sources --json`` to see which sources failed."""
    step, measured = _timed_step(
        server,
        lambda: wiredesk.cli(
            ["collect", "--no-publish", "--json", "--config", str(config)], timeout=params.timeout
        ),
    )
    if step["error"]:
        return step
    collected = json.loads(measured.stdout)
    step["in_process_seconds"] = collected["seconds"]
    step["parsers"] = parsers(collected["sources"])
    check = wiredesk.check_sources(config, timeout=params.timeout)
    step.update(sources_failed=check.failed, stored=check.articles)
    if check.error:
        step["error"] = check.error
    elif check.failed:
        step["error"] = (
            f"wiredesk step failed: {check.failed} of {check.sources} sources failed: "
            f"{check.first_error}"
        )
    return step


def _let_sources_fall_due() -> None:
    # Bench sources are due every second after their last fetch.
    time.sleep(1.1)


def wiredesk_run(
    folder: Path,
    params: Params,
    server: FeedServer,
    workload: Workload,
    changed: Workload,
    store: Callable[[], str] | None = None,
) -> dict[str, Sample]:
    """One Wiredesk run on fresh stores in ``folder`` (or made by ``store``): every step,
    one sample each."""
    shutil.rmtree(folder, ignore_errors=True)
    port = wiredesk.free_port()
    feeds = [(f.name, server.url(f)) for f in workload.feeds]
    config = wiredesk.write_config(
        folder / "feeds.yaml",
        store=store() if store else folder / "feeds.db",
        publish_dir=folder / "pub",
        port=port,
        feeds=feeds,
    )
    seeds_config = wiredesk.write_config(
        folder / "seeds.yaml",
        store=store() if store else folder / "seeds.db",
        publish_dir=folder / "pub-seeds",
        port=port,
        seeds=OUT / "seeds",
    )

    steps: dict[str, Sample] = {}
    steps["seeds"] = _collect_step(server, seeds_config, params)
    server.serve(workload)
    steps["first_pass"] = _collect_step(server, config, params)
    _let_sources_fall_due()
    steps["not_modified_pass"] = _collect_step(server, config, params)
    server.serve(changed)
    _let_sources_fall_due()
    steps["changed_pass"] = _collect_step(server, config, params)
    publish = ["publish", "--config", str(config)]
    steps["publish"], _ = _timed_step(server, lambda: wiredesk.cli(publish, timeout=params.timeout))
    steps.update(_serve_steps(config, port, params))
    return steps


def _serve_steps(config: Path, port: int, params: Params) -> dict[str, Sample]:
    result = wiredesk.serve_throughput(
        config,
        port,
        f"/{wiredesk.SERVED_CATEGORY}.rss",
        requests=params.serve_requests,
        seconds=params.serve_seconds,
        threads=params.serve_threads,
    )
    steps = {}
    for name in ("plain", "conditional"):
        served = getattr(result, name)
        error = result.error or ("" if result.process.ok else result.process.failure("wiredesk"))
        steps[f"serve_{name}"] = {
            "seconds": served.seconds if served else None,
            "requests": served.requests if served else 0,
            "per_second": served.per_second if served else None,
            "statuses": {str(k): v for k, v in served.statuses.items()} if served else {},
            "peak_mb": result.process.peak_mb,
            "error": "" if served else error or "wiredesk step failed: no answers",
        }
    return steps


def reader_run(
    folder: Path,
    python: Path,
    workers: int,
    params: Params,
    server: FeedServer,
    workload: Workload,
    changed: Workload,
) -> dict[str, Sample]:
    """One reader run on a fresh database in ``folder``: its three passes."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    urls = folder / "urls.txt"
    urls.write_text("\n".join(server.url(f) for f in workload.feeds) + "\n")
    db = folder / "reader.sqlite"
    peer.report(peer.add_feeds(python, db, urls, timeout=params.timeout))
    steps: dict[str, Sample] = {}
    for step, version in zip(PASSES, (workload, workload, changed), strict=True):
        server.serve(version)
        server.reset_counts()
        measured = peer.update(python, db, workers, timeout=params.timeout)
        inside = json.loads(measured.stdout) if measured.ok else None
        steps[step] = sample(
            measured,
            "reader",
            server={str(k): v for k, v in server.counts().items()},
            reader=inside,
            **({"in_process_seconds": inside["seconds"]} if inside else {}),
        )
    return steps


def run(params: Params, postgres: pg.Schemas | None = None) -> dict[str, Any]:
    """The whole benchmark (Wiredesk's steps also on ``postgres`` when given); returns
    every figure as one JSON-ready dict."""
    started = time.perf_counter()
    loads = [pg.load_average()]
    workload = generate_feeds(params.feeds, params.entries)
    changed, changed_names = change_feeds(workload, CHANGED_FRACTION)
    shutil.rmtree(OUT / "seeds", ignore_errors=True)
    write_seeds(OUT / "seeds", params.seeds)
    counts = {
        "first_pass": workload.entries,
        "not_modified_pass": len(workload.feeds),
        "changed_pass": len(changed_names) * params.entries,
        "seeds": params.seeds,
    }
    python = peer.ensure_venv()
    print(f"workload ready in {time.perf_counter() - started:.1f} s; reader {peer.version(python)}")
    wd_runs: list[dict[str, Sample]] = []
    rd_runs: list[dict[str, Sample]] = []
    pg_runs: list[dict[str, Sample]] = []
    with FeedServer(workload) as server:
        calibration = _calibrate(python, params, server, workload)
        workers = calibration["best"]
        print(f"reader workers: {calibration}")
        for k in range(params.runs):
            print(f"run {k + 1}/{params.runs}: wiredesk", flush=True)
            wd_runs.append(
                wiredesk_run(OUT / f"run-{k}" / "wiredesk", params, server, workload, changed)
            )
            if postgres:
                print(f"run {k + 1}/{params.runs}: wiredesk on PostgreSQL", flush=True)
                pg_runs.append(
                    wiredesk_run(
                        OUT / f"run-{k}" / "postgres",
                        *(params, server, workload, changed, postgres.location),
                    )
                )
            print(f"run {k + 1}/{params.runs}: reader", flush=True)
            rd_runs.append(
                reader_run(
                    OUT / f"run-{k}" / "reader", python, workers, params, server, workload, changed
                )
            )
        if postgres:
            print("one and two nodes on PostgreSQL", flush=True)
            server.serve(workload)
            nodes = pg.nodes_steps(
                postgres, server, workload, runs=params.runs, timeout=params.timeout
            )
    loads.append(pg.load_average())
    print("scale", flush=True)
    scale = scale_steps(
        params.scale, runs=params.runs, timeout=params.timeout, build_timeout=params.scale_timeout
    )
    if postgres:
        print("scale on PostgreSQL", flush=True)
        pg_scale = pg.scale_steps(postgres, params.scale, runs=params.runs, timeout=params.timeout)
    loads.append(pg.load_average())
    wd = _medians(wd_runs, counts)
    rd = {step: median_step([r[step] for r in rd_runs], counts[step]) for step in PASSES}
    return {
        "params": asdict(params),
        "workload": {
            "feeds": params.feeds,
            "entries_per_feed": params.entries,
            "entries": workload.entries,
            "feed_bytes": sum(len(f.body) for f in workload.feeds),
            "changed_feeds": len(changed_names),
            "seeds": params.seeds,
        },
        "reader": {"version": peer.version(python), "calibration": calibration, **rd},
        "wiredesk": wd,
        "scale": scale,
        "ratios": ratios(wd, rd),
        "ratios_in_process": ratios_in_process(wd, rd),
        "seconds_total": time.perf_counter() - started,
        "load_average": loads,
        **(
            {"postgres": {**_medians(pg_runs, counts), "scale": pg_scale, "nodes": nodes}}
            if postgres
            else {}
        ),
    }


def _medians(runs: list[dict[str, Sample]], counts: dict[str, int]) -> dict[str, Any]:
    return {step: median_step([r[step] for r in runs], counts.get(step)) for step in runs[0]}


def _calibrate(
    python: Path, params: Params, server: FeedServer, workload: Workload
) -> dict[str, Any]:
    folder = OUT / "calibrate"
    folder.mkdir(parents=True, exist_ok=True)
    urls = folder / "urls.txt"
    chosen = workload.feeds[: params.calibrate_feeds]
    urls.write_text("\n".join(server.url(f) for f in chosen) + "\n")
    return peer.calibrate(python, folder, urls, params.workers, timeout=params.timeout * 4)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the benchmark, print the table; returns the exit code."""
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small workload, same steps")
    parser.add_argument("--json", metavar="PATH", type=Path, help="write every figure here")
    parser.add_argument("--runs", metavar="K", type=int, help="runs per step (median)")
    parser.add_argument(
        "--scale",
        metavar="N,N,...",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        help="sizes of the synthetic stores (default 1000,100000,1000000)",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="also run Wiredesk's steps on PostgreSQL (postgresql://user@host/db), each "
        "store in a fresh schema dropped after",
    )
    args = parser.parse_args(argv)
    params = QUICK if args.quick else DEFAULT
    if args.runs:
        params = replace(params, runs=args.runs)
    if args.scale:
        params = replace(params, scale=args.scale)
    if args.store and not pg.is_postgres(args.store):
        parser.error(f"--store: expected a postgresql:// URL; found {args.store!r}")
    try:
        if args.store:
            with pg.schemas(args.store) as postgres:
                results = run(params, postgres)
        else:
            results = run(params)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print(table(results))
    if "postgres" in results:
        print("\n" + pg.table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
