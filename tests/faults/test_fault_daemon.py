"""The daemon against a server that fails in every way at once: every fault stays in its
own source's record, the good feeds are published pass after pass, /healthz answers, and
SIGTERM ends it with 0 — with no traceback anywhere in its log."""

from __future__ import annotations

from pathlib import Path

import requests

from bench.faultserver import FAULTS, FaultServer
from tests.faults.harness import (
    free_port,
    integrity,
    log_of,
    published,
    query,
    running,
    source_errors,
    stop,
    wait_for,
    write_config,
)

DAY_US = 86_400 * 1_000_000

# What each fault's source must have recorded: its own error, worded truthfully.
EXPECTED = {
    "e500": "HTTP 500 Internal Server Error",
    "r429": "HTTP 429 Too Many Requests (retry in 24.0h)",
    "r503": "HTTP 503 Service Unavailable (retry in 24.0h)",
    "rdate": "HTTP 503 Service Unavailable (retry in 24.0h)",
    "driphead": "timed out after 2s",
    "dripbody": "timed out after 2s",
    "slow": "timed out after 2s",
    "truncated": "connection broken",
    "garbage": "",  # any error: random bytes are not a feed
    "reset": "connection reset by the server",
    "loop": "redirect loop",
    "bighead": "invalid response",  # a 70 KB header line is refused by the HTTP parser
}


def test_every_fault_stays_in_its_own_source(tmp_path: Path) -> None:
    port = free_port()
    with FaultServer(drip=0.2, hold=20) as server:
        sources = [(f"ok{n}", server.url("ok", n)) for n in range(2)]
        sources += [(fault, server.url(fault, 0)) for fault in FAULTS]
        config = write_config(tmp_path, sources, port=port)
        with running(config) as daemon:
            wait_for(
                lambda: set(source_errors(config)) >= set(EXPECTED),
                "every fault to be recorded",
            )
            wait_for(
                lambda: len(published(config).get("items", ())) >= 6,
                "the good feeds to be published",
            )
            health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            passes = health.json()["passes"]
            wait_for(
                lambda: (
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["passes"]
                    > passes
                ),
                "another pass",
            )
            assert stop(daemon) == 0
    errors = source_errors(config)
    for fault, wording in EXPECTED.items():
        assert errors[fault].startswith(f"{fault}: "), errors[fault]
        assert wording in errors[fault], errors[fault]
    assert errors["ok0"] == errors["ok1"] == ""
    # a Retry-After of 1e20 s, 8.6e13 s or the year 9999 parks a source for a day, no more
    for name in ("r429", "r503", "rdate"):
        ((fetched, due),) = query(
            config, "SELECT last_fetch, next_due FROM sources WHERE name = ?", name
        )
        assert due - fetched == DAY_US
    assert "Traceback" not in log_of(config)
    assert integrity(config) == "ok"
