"""How long the CLI takes to start: ``wiredesk --help``, ``check`` and a cron ``collect``
with nothing due, each a whole process, against a 500-source config written the way
people write one (block style, comments).

    python bench/startup.py [--runs 10] [--sources 500] [--valgrind]

A local HTTP server answers the one first ``collect`` that makes every source fresh
(interval 1d); then each command runs ``--runs`` times and the median and fastest wall
times are printed with the median CPU time (user + system), which a busy machine skews
less. The config's parse is cached in the temporary folder (``$XDG_CACHE_HOME``), so the
commands after the first read it from there, as a cron job on an unchanged config does;
``collect (no config cache)`` runs without one, as the first run after an edit does.
Standard library only, so it times whatever ``aggregator`` the interpreter imports
(``PYTHONPATH=/path/to/old/checkout python bench/startup.py`` times an older one; the
commands run in a temporary folder, so the current one does not shadow it).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link>'
    b"<item><title>One story</title><link>http://x/1</link><guid>1</guid>"
    b"<pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
)


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(RSS)))
        self.end_headers()
        self.wfile.write(RSS)

    def log_message(self, format: str, *args: object) -> None:
        pass


def write_config(folder: Path, port: int, sources: int) -> Path:
    """A hand-written-looking config of ``sources`` feeds on 127.0.0.1:``port``."""
    lines = [
        "# A desk of many feeds, as a person keeps it.",
        "store: data/wiredesk.db",
        "publish:",
        "  dir: feeds",
        "  base_url: http://127.0.0.1:8080/",
        "defaults:",
        "  interval: 1d        # nothing is due again today",
        "fetch:",
        "  workers: 16",
        "  per_host: 16",
        "sources:",
    ]
    for number in range(sources):
        lines += [
            f"  - name: feed-{number}",
            f"    title: Feed number {number}",
            f"    url: http://127.0.0.1:{port}/feed/{number}.xml",
        ]
    lines += ["categories:", "  - name: world", "    include: [world, global]"]
    path = folder / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def timed(
    command: Sequence[str], runs: int, cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Median wall, fastest wall and median CPU seconds of ``runs`` runs of ``command``."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            command,
            check=True,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def instructions(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    """Instructions ``command`` executes, counted by valgrind's callgrind: the same on a
    busy machine as on an idle one, unlike its wall time."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))  # type: ignore[union-attr]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one line per command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    parser.add_argument("--sources", type=int, default=500, help="feeds in the config")
    parser.add_argument(
        "--valgrind", action="store_true", help="also count instructions (needs valgrind)"
    )
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cli = [sys.executable, "-m", "aggregator.cli"]
    with tempfile.TemporaryDirectory(prefix="wiredesk-startup-") as tmp:
        config = write_config(Path(tmp), server.server_address[1], args.sources)
        # The first run also writes the bytecode caches that every later run reads, and
        # the config's parse, cached here rather than in the user's ~/.cache.
        cached = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp, "cache"))}
        uncached = {**cached, "XDG_CACHE_HOME": "none"}  # not a folder: nothing cached
        env = {k: v for k, v in cached.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(
            [*cli, "collect", "--config", str(config)],
            check=True,
            cwd=tmp,
            env=env,
            capture_output=True,
        )
        server.shutdown()
        print(f"{args.sources} sources, {args.runs} runs each, load {os.getloadavg()[0]:.1f}")
        collect = ["collect", "--config", str(config)]
        for name, extra, run_env in (
            ("--help", ["--help"], cached),
            ("check", ["check", "--config", str(config)], cached),
            ("collect (nothing due)", collect, cached),
            ("collect (no config cache)", collect, uncached),
        ):
            median, fastest, cpu = timed([*cli, *extra], args.runs, Path(tmp), run_env)
            counted = ""
            if args.valgrind:
                count = instructions([*cli, *extra], Path(tmp), run_env)
                counted = f"  {count / 1e6:5.0f}M instructions"
            print(
                f"{name:<25} median {median * 1000:4.0f} ms  fastest {fastest * 1000:4.0f} ms  "
                f"cpu median {cpu * 1000:4.0f} ms{counted}"
            )
        bare = timed([sys.executable, "-c", "pass"], args.runs, Path(tmp))[0]
        print(f"{'python -c pass':<25} median {bare * 1000:4.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
