"""Soak: the daemon against 500 feeds on the fault server, for ``--minutes``.

Most feeds are well-behaved (their newest story changes every ``--rotate`` seconds); the
rest fail in every way bench/faultserver.py knows. Every ``--every`` seconds the daemon's
resident memory (its own, and its whole tree with the parse workers a pass starts), open
descriptors and threads are sampled, with the passes /healthz counts and the length of
the last one. The series is printed, then a
verdict per measure: ``flat`` when the last third of the run is within the allowance of
the middle third (the first third is warm-up: caches and pools fill), else ``growing``.

    python bench/soak.py --minutes 30
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.faultserver import FAULTS, FaultServer

ROOT = Path(__file__).resolve().parent.parent
# What may grow from the middle third to the last before a measure counts as growing.
ALLOWANCE = {"rss_mb": 0.10, "tree_mb": 0.10, "fds": 0.10, "threads": 0.10}  # relative
SLACK = {"rss_mb": 5.0, "tree_mb": 10.0, "fds": 8, "threads": 4}  # absolute, for small numbers


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the daemon."""

    seconds: float
    rss_mb: float  # the daemon process alone
    tree_mb: float  # with its children (parse workers, during a pass)
    fds: int
    threads: int
    passes: int
    pass_seconds: float
    connections: int  # open at the fault server


def sources(server: FaultServer, count: int) -> list[tuple[str, str]]:
    """``count`` feeds: two in three well-behaved, the rest spread over every fault."""
    feeds = []
    for n in range(count):
        fault = "ok" if n % 3 else FAULTS[(n // 3) % len(FAULTS)]
        feeds.append((f"f{n:03d}-{fault}", server.url(fault, n)))
    return feeds


def write_config(folder: Path, feeds: list[tuple[str, str]], port: int, args) -> Path:
    """The soak's config: short intervals, a short timeout, the store and feeds in ``folder``."""
    lines = [
        "store: data/wiredesk.db",
        f'publish: {{dir: feeds, base_url: "http://127.0.0.1:{port}/"}}',
        f"server: {{host: 127.0.0.1, port: {port}}}",
        f"defaults: {{interval: {args.interval}s, timeout: 2s}}",
        "fetch: {workers: 16, per_host: 16}",
        "sources:",
        *(f"  - {{name: {name}, url: '{url}'}}" for name, url in feeds),
    ]
    path = folder / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    """A free TCP port of 127.0.0.1."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def health(port: int) -> dict:
    """The daemon's /healthz (503 answers carry the same JSON); {} when unreachable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as e:
        return json.load(e)
    except OSError:
        return {}


def tree_rss_kb(pid: int) -> int:
    """The resident memory of ``pid`` and its descendants now, in KiB (not the peak)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # a worker that just ended
    return total


def look(pid: int, port: int, started: float, server: FaultServer) -> Sample:
    """Sample the daemon ``pid`` now."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    state = health(port)
    last = state.get("last_pass") or {}
    length = 0.0
    if last:
        length = (
            datetime.fromisoformat(last["finished"]) - datetime.fromisoformat(last["started"])
        ).total_seconds()
    return Sample(
        seconds=time.monotonic() - started,
        rss_mb=int(status["VmRSS"].split()[0]) / 1024,
        tree_mb=tree_rss_kb(pid) / 1024,
        fds=sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
        threads=int(status["Threads"]),
        passes=int(state.get("passes", 0)),
        pass_seconds=length,
        connections=server.open_connections(),
    )


def verdict(samples: list[Sample]) -> dict[str, str]:
    """``flat`` or ``growing`` per measure: the last third's median against the middle's."""
    third = len(samples) // 3
    middle, last = samples[third : 2 * third], samples[2 * third :]
    verdicts = {}
    for measure in ALLOWANCE:
        before = statistics.median(getattr(s, measure) for s in middle)
        after = statistics.median(getattr(s, measure) for s in last)
        allowed = max(before * ALLOWANCE[measure], SLACK[measure])
        grew = after - before > allowed
        verdicts[measure] = (
            f"{'growing' if grew else 'flat'} ({before:g} -> {after:g}, allowance {allowed:g})"
        )
    return verdicts


def main(argv: list[str] | None = None) -> int:
    """Run the soak; exit 0 when every measure is flat and the daemon stopped with 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to run")
    parser.add_argument("--feeds", type=int, default=500, help="how many feeds")
    parser.add_argument("--interval", type=int, default=10, help="source interval, seconds")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--rotate", type=float, default=30.0, help="seconds a story stays new")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="wiredesk-soak-") as folder,
        FaultServer(drip=0.2, hold=10, rotate=args.rotate) as server,
    ):
        port = free_port()
        config = write_config(Path(folder), sources(server, args.feeds), port, args)
        log = (Path(folder) / "daemon.log").open("w")
        daemon = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        samples: list[Sample] = []
        print("  time  rss MB  tree MB  fds  threads  passes  last pass s  held conns", flush=True)
        try:
            while time.monotonic() - started < args.minutes * 60 and daemon.poll() is None:
                time.sleep(args.every)
                sample = look(daemon.pid, port, started, server)
                samples.append(sample)
                print(
                    f"{sample.seconds:6.0f}  {sample.rss_mb:6.1f}  {sample.tree_mb:7.1f}  "
                    f"{sample.fds:3d}  "
                    f"{sample.threads:7d}  {sample.passes:6d}  {sample.pass_seconds:11.2f}"
                    f"  {sample.connections:10d}",
                    flush=True,
                )
        finally:
            daemon.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            try:
                code = daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                code = daemon.wait()
            log.close()
            tracebacks = (Path(folder) / "daemon.log").read_text().count("Traceback")
        print(f"SIGTERM: exit {code} after {time.monotonic() - stopped_at:.1f} s")
        print(f"tracebacks in the daemon's log: {tracebacks}")
        print(f"requests by kind: {dict(sorted(server.counts.items()))}")
    if len(samples) < 6:
        print("too short for a verdict (fewer than 6 samples)")
        return 1
    verdicts = verdict(samples)
    lengths = [s.pass_seconds for s in samples if s.pass_seconds]
    if lengths:
        print(f"pass seconds: median {statistics.median(lengths):.2f}, max {max(lengths):.2f}")
    for measure, text in verdicts.items():
        print(f"{measure}: {text}")
    flat = all(text.startswith("flat") for text in verdicts.values())
    print(f"verdict: {'flat' if flat else 'growing'}")
    return 0 if flat and code == 0 and not tracebacks else 1


if __name__ == "__main__":
    sys.exit(main())
