"""The CLI's tables fit an 80-column terminal: short ids, UTC times, long URLs, errors and
titles cut with "…"; and ``-v`` logs debug lines on a terminal as it does when piped."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from aggregator.cli import main
from tests.builders import ROOT, feeds_yaml, rss
from tests.faults.harness import free_port

LONG_PATH = "/syndication/international/desk/" + "europe-and-central-asia/" * 3 + "feed.rss"
LONG_TITLE = (
    "Grain corridor talks resume in Istanbul as negotiators from both sides meet "
    "for a third round of the Black Sea shipping talks"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@pytest.fixture
def config_file(tmp_path: Path, httpserver: HTTPServer) -> Path:
    httpserver.expect_request(LONG_PATH).respond_with_data(
        rss(("g-1", LONG_TITLE, "Mon, 02 Mar 2026 11:40:00 +0000")),
        content_type="application/rss+xml",
    )
    port = free_port()  # a port nothing listens on: a long "refused" error
    path = feeds_yaml(
        tmp_path,
        f"""
        store: data/wiredesk.db
        publish: {{dir: feeds}}
        sources:
          - {{name: wire, url: "{httpserver.url_for(LONG_PATH)}"}}
          - {{name: dead, url: "http://127.0.0.1:{port}{LONG_PATH}"}}
        categories:
          - {{name: grain, include: grain}}
        """,
    )
    assert main(["collect", "--no-publish", "--config", str(path)]) == 0
    return path


def on_terminal(*argv: str) -> list[str]:
    """The lines ``wiredesk ARGV`` writes on an 80-column pseudo-terminal, colours removed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator.cli", *argv],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=ROOT,
        env={**env, "TERM": "xterm"},
    )
    os.close(follower)
    written = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        written += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0, written
    text = _ANSI.sub("", written.decode("utf-8")).replace("\r", "")
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def piped(capsys, monkeypatch, *argv: str) -> list[str]:
    """The lines ``wiredesk ARGV`` prints into a pipe with ``COLUMNS=80``."""
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out.splitlines()


def fits(lines: list[str]) -> None:
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, too_long


def test_sources_fits_80_columns_with_times_in_utc(config_file: Path, capsys, monkeypatch) -> None:
    for lines in (
        on_terminal("sources", "--config", str(config_file)),
        piped(capsys, monkeypatch, "sources", "--config", str(config_file)),
    ):
        fits(lines)
        assert lines[0].split() == [
            "name", "location", "fetched", "(UTC)", "status", "errors", "due", "(UTC)", "articles"
        ]  # fmt: skip
        (wire,) = (line for line in lines if line.startswith("wire "))
        (dead,) = (line for line in lines if line.startswith("dead "))
        assert re.fullmatch(r"wire +http://\S+… +\d\d-\d\d \d\d:\d\d +200 +0 +\S+ \S+ +1", wire)
        assert re.fullmatch(r"dead +http://\S+… +\S+ \S+ +1 +\S+ \S+ +0", dead)
        (error,) = (line for line in lines if line.startswith("dead: "))
        assert error.startswith("dead: connection refused (http://127.0.0.1:")
        assert len(error) == 80 and error.endswith("…"), "cut, not wrapped"


@pytest.mark.parametrize("command", [["articles"], ["preview", "grain"]])
def test_story_tables_fit_80_columns_with_short_ids(
    command: list[str], config_file: Path, capsys, monkeypatch
) -> None:
    assert main(["articles", "--json", "--config", str(config_file)]) == 0
    (story_id,) = re.findall(r'"id": "([^"]+)"', capsys.readouterr().out)
    for lines in (
        on_terminal(*command, "--config", str(config_file)),
        piped(capsys, monkeypatch, *command, "--config", str(config_file)),
    ):
        fits(lines)
        assert any("published (UTC)" in line for line in lines)
        (row,) = (line for line in lines if "Grain corridor" in line)
        assert "2026-03-02 11:40" in row and "…" in row
        assert re.search(rf"\b{story_id[:8]}\b", row) and story_id not in row


def test_why_and_split_take_the_short_id(config_file: Path, capsys) -> None:
    assert main(["articles", "--json", "--config", str(config_file)]) == 0
    (story_id,) = re.findall(r'"id": "([^"]+)"', capsys.readouterr().out)
    assert main(["why", story_id[:8], "--config", str(config_file)]) == 0
    assert capsys.readouterr().out.startswith(f"{LONG_TITLE} ({story_id})\n")
    assert main(["split", story_id[:8], "wire", "--config", str(config_file)]) == 1
    assert "wire is its only source" in capsys.readouterr().err
    assert main(["why", "0000-none", "--config", str(config_file)]) == 2
    assert capsys.readouterr().err == "ID: no stored story has an id starting '0000-none'\n"


def test_verbose_shows_debug_lines_on_a_terminal(config_file: Path) -> None:
    lines = on_terminal("collect", "-v", "--source", "wire", "--config", str(config_file))
    assert any(" DEBUG aggregator.collector: wire: not modified" in line for line in lines)
