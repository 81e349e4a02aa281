"""The database going away and coming back under a running daemon: a real ``wiredesk run``
on a PostgreSQL store reached through a TCP proxy (``tests/tcpproxy.py``) that the test
cuts and restores; the machine's own server is never touched. While cut, the daemon
serves the files it published, says so on /healthz and logs the outage once; restored, it
logs that once and collects again. A one-shot command on the cut store, and a daemon
started on it, print one line naming the host and exit 1.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import requests

from tests.builders import SEED
from tests.faults.harness import free_port, log_of, running, stop, wait_for, wiredesk
from tests.tcpproxy import TcpProxy


def served(base: str, path: str) -> requests.Response | None:
    try:
        return requests.get(base + path, timeout=5)
    except requests.ConnectionError:
        return None


def titles(base: str) -> list[str]:
    reply = served(base, "all.json")
    if reply is None or reply.status_code != 200:
        return []
    return [item["title"] for item in reply.json()["items"]]


def metrics(base: str) -> str:
    reply = served(base, "metrics")
    return "" if reply is None else reply.text


def health(base: str) -> dict:
    reply = served(base, "healthz")
    return {} if reply is None else reply.json()


def outage_lines(config: Path) -> list[str]:
    return [line for line in log_of(config).splitlines() if "serving the files last" in line]


def test_the_daemon_rides_out_a_database_outage(
    tmp_path: Path, pg_schema: Callable[[], str]
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ferry.txt").write_text(SEED, encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with TcpProxy() as proxy:
        store = pg_schema().replace("127.0.0.1:5432", proxy.address)
        config = tmp_path / "feeds.yaml"
        config.write_text(
            textwrap.dedent(
                f"""\
                store: "{store}"
                publish: {{dir: feeds, base_url: "{base}"}}
                server: {{host: 127.0.0.1, port: {port}}}
                sources:
                  - {{name: seeds, path: seeds, timezone: Europe/Istanbul, interval: 1s}}
                """
            ),
            encoding="utf-8",
        )
        with running(config) as daemon:
            wait_for(lambda: "New ferry line links Izmir" in " ".join(titles(base)), "a publish")
            assert health(base)["store"] == "ok"

            proxy.cut()
            wait_for(lambda: health(base).get("store") == "unreachable", "the outage on /healthz")
            passes = health(base)["passes"]
            (seeds / "grain.txt").write_text(
                SEED.replace("New ferry line links", "Grain ships reach"), encoding="utf-8"
            )
            wait_for(lambda: health(base)["passes"] >= passes + 2, "two more passes while cut")
            assert "New ferry line links Izmir" in " ".join(titles(base))  # still served
            down = health(base)
            assert "wiredesk_store_reachable 0.0" in metrics(base)
            assert down["status"] == "failing"
            assert any(r.startswith("store unreachable since ") for r in down["reasons"])
            (line,) = outage_lines(config)
            assert f" ERROR aggregator.daemon: store postgresql://postgres@{proxy.address}/" in line
            assert [
                n for n in log_of(config).splitlines() if " WARNING " in n or " ERROR " in n
            ] == [line]
            one_shot = wiredesk(config, "articles", "--json")
            assert one_shot.returncode == 1
            assert one_shot.stdout == ""
            (message,) = one_shot.stderr.splitlines()
            assert (
                message.startswith("error: store postgresql://postgres@")
                and proxy.address in message
            )

            proxy.restore()
            wait_for(lambda: "Grain ships reach" in " ".join(titles(base)), "collection again")
            wait_for(lambda: health(base).get("store") == "ok", "the store back on /healthz")
            assert "wiredesk_store_reachable 1.0" in metrics(base)
            assert len(outage_lines(config)) == 1
            backs = [line for line in log_of(config).splitlines() if " back after " in line]
            assert len(backs) == 1
            assert stop(daemon) == 0
        proxy.cut()
        refused = wiredesk(config, "run")
    assert (refused.returncode, refused.stdout) == (1, "")
    (message,) = refused.stderr.splitlines()
    assert message.startswith(f"error: store postgresql://postgres@{proxy.address}/")
    assert "cannot connect" in message
