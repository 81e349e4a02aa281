"""A child process with its wall time, peak memory and CPU time.

Peak memory is sampled from /proc every SAMPLE_SECONDS: the larger of the largest
``VmHWM`` (a process's own high-water mark) of any process in the child's tree and the
largest sum of ``VmRSS`` over the whole tree (so a process pool counts as the sum of its
workers). ``ru_maxrss`` from ``wait4`` is not used: Linux carries the parent's high-water
mark across fork and exec, so every child of a big parent would report the parent's size.

CPU time is the sum over every process of the tree of its user and system time, as last
sampled (so up to SAMPLE_SECONDS of each process's end is missed). ``wait4``'s rusage is
not used either: it leaves out the parse workers, whose forkserver is never waited for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SAMPLE_SECONDS = 0.05
TAIL_CHARS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured:
    """What one child did: exit code, output, wall time and peak memory."""

    argv: tuple[str, ...]
    returncode: int
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False
    cpu_seconds: float = 0.0  # of the whole process tree

    @property
    def ok(self) -> bool:
        """True when the child exited 0 in time."""
        return self.returncode == 0 and not self.timed_out

    def failure(self, who: str) -> str:
        """``"<who> step failed: <the last line of stderr>"``, one line of at most
        TAIL_CHARS characters (a traceback's last line names the exception)."""
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines()]
        tail = next((line for line in reversed(lines) if line), "")
        tail = tail or f"exit status {self.returncode}"
        if self.timed_out:
            tail = f"timed out after {self.seconds:.0f} s; {tail}"
        return f"{who} step failed: {tail[-TAIL_CHARS:]}"


class Child:
    """A started child process; ``finish`` (or ``stop``) waits for it and measures it."""

    def __init__(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.argv = tuple(argv)
        # Files, not pipes: a chatty child can never block on a full pipe; _read closes them.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self._peak_kb = 0
        self._ticks: dict[int, int] = {}  # CPU clock ticks of each process of the tree
        self._started = time.perf_counter()
        self._process = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
        )
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def alive(self) -> bool:
        """True while the child has not exited (without reaping it)."""
        return Path(f"/proc/{self.pid}").exists() and _state(self.pid) not in ("Z", "X", "")

    def stop(self, timeout: float) -> Measured:
        """Send SIGTERM, then wait as ``finish`` does."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        return self.finish(timeout)

    def finish(self, timeout: float) -> Measured:
        """Wait for the child to exit (SIGKILL after ``timeout`` seconds) and measure it."""
        timer = threading.Timer(timeout, self._kill)
        timer.start()
        _, status, _ = os.wait4(self.pid, 0)
        seconds = time.perf_counter() - self._started
        timed_out = not timer.is_alive()
        timer.cancel()
        self._done.set()
        self._sampler.join()
        self._process.returncode = os.waitstatus_to_exitcode(status)
        return Measured(
            argv=self.argv,
            returncode=self._process.returncode,
            seconds=seconds,
            peak_mb=self._peak_kb / 1024,
            stdout=_read(self._out),
            stderr=_read(self._err),
            timed_out=timed_out,
            cpu_seconds=sum(self._ticks.values()) / os.sysconf("SC_CLK_TCK"),
        )

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            pids = tree(self.pid)
            self._peak_kb = max(self._peak_kb, tree_memory_kb(pids))
            for pid in pids:
                self._ticks[pid] = max(self._ticks.get(pid, 0), cpu_ticks(pid))


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Measured:
    """Run ``argv`` to completion in ``cwd``; SIGKILL it after ``timeout`` seconds."""
    return Child(argv, cwd=cwd, env=env).finish(timeout)


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    text = file.read().decode("utf-8", "replace")
    file.close()
    return text


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[0]


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it that is still running (none once it is gone)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        found.append(current)
    return found


def tree_memory_kb(pids: list[int]) -> int:
    """The larger of the summed VmRSS of ``pids`` and their largest VmHWM, in KiB."""
    total, highest = 0, 0
    for pid in pids:
        try:
            fields = dict(
                line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue
        total += int(fields.get("VmRSS", "0 kB").split()[0])
        highest = max(highest, int(fields.get("VmHWM", "0 kB").split()[0]))
    return max(total, highest)


def cpu_ticks(pid: int, *, reaped: bool = False) -> int:
    """The user and system time of process ``pid`` in clock ticks (0 once it is gone);
    with ``reaped``, that of the children it waited for too."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    # fields[0] is field 3 of proc(5): utime is 14, stime 15, cutime 16, cstime 17
    return sum(int(f) for f in fields[11 : 15 if reaped else 13])
