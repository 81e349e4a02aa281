"""The config fuzz: whatever the file holds, `check` never raises, exits 0 or 2, and stays
within bounded memory and time (liveness bounds far above the milliseconds it takes, not
benchmarks)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.cli import main
from aggregator.config import (
    Category,
    Config,
    DedupConfig,
    DefaultsConfig,
    FetchConfig,
    PublishConfig,
    ServerConfig,
    Source,
)
from aggregator.config.build import options
from tests.builders import ROOT

MEMORY_BOUND = 64 * 1024**2  # bytes allocated at the peak of one check
TIME_BOUND = 10.0  # seconds for one check

HOSTILE = [
    "999999w",
    "9999999999d",
    "0s",
    "rot13",
    "base64",
    "Mars/Olympus",
    "English",
    "../..",
    "/etc/*",
    "ftp://x/",
    "http://[bad/",
    "([a",
    "(a+)+$",
    "x" * 100_000,
    "\x00",
    "\t",
]
MODELS = (Config, PublishConfig, ServerConfig, DefaultsConfig, FetchConfig, DedupConfig)
KEYS = st.sampled_from(
    sorted({key for model in (*MODELS, Source, Category) for key in options(model)} | {"intreval"})
) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.from_regex(r"\A[0-9]{1,14}[smhdwxy]?\Z")
    | st.sampled_from(HOSTILE)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=40,
)
STRUCTURED = st.dictionaries(KEYS, VALUES, max_size=8).map(lambda d: json.dumps(d))
BASE = (ROOT / "config" / "example-full.yaml").read_text(encoding="utf-8")
EDITS = st.lists(
    st.tuples(
        st.integers(0, len(BASE)),
        st.integers(0, 40),
        st.sampled_from(
            ["\t", " ", ":", "- ", "[", "{", "&a ", "*a", "'", '"', "\n", "<<: *a", "!!", "%"]
        ),
    ),
    max_size=6,
)


def mutated(edits: list[tuple[int, int, str]]) -> str:
    text = BASE
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut :]
    return text


def bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level, before in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{level}: &{level} [{', '.join(['*' + before] * 9)}]")
    return "\n".join(lines) + "\n"


def check(text: str) -> int:
    """Run `check` on ``text`` in a fresh folder; the exit code, within the bounds."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feeds.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        tracemalloc.start()
        started = time.monotonic()
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                code = main(["check", "--config", str(path)])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        elapsed = time.monotonic() - started
    assert code in (0, 2)
    assert peak < MEMORY_BOUND, f"peak {peak} bytes"
    assert elapsed < TIME_BOUND, f"{elapsed:.1f} s"
    return code


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(STRUCTURED, EDITS.map(mutated), st.text(max_size=200)))
@example(bomb())
@example("x: " + "[" * 400 + "]" * 400 + "\n")
@example("categories:\n  - name: c\n" + "".join("  " * (i + 2) + "not:\n" for i in range(2000)))
@example("publish:\n  title: " + "y" * 10_000_000 + "\n")
@example("categories:\n  - name: c\n    regex: '" + "a(" * 500_000 + "'\n")
@example("a: &a [*a]\n")
@example("sources:\n  - {name: a, url: 'https://x/', interval: 999999w}\n")
def test_check_never_raises_and_stays_bounded(text: str) -> None:
    check(text)


def test_the_shipped_configs_check_clean() -> None:
    assert check(BASE) in (0, 2)  # 2 only when ../seeds is missing from a partial checkout
