"""publish.base_url follows the server: left unset, it is where the server listens, so
moving the port moves every link with it; `check` warns about loopback links on a server
open to every interface."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from aggregator.cli import main
from aggregator.config import load_config


def write(tmp_path: Path, server: str, publish: str = "") -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"store: wire.db\npublish: {{dir: feeds{publish}}}\nserver: {server}\n",
        encoding="utf-8",
    )
    return path


def test_an_unset_base_url_follows_the_server_port(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "{port: 9090}")
    assert load_config(path).publish.base_url == "http://127.0.0.1:9090/"
    assert main(["publish", "--config", str(path)]) == 0
    feed = feedparser.parse((tmp_path / "feeds" / "all.atom").read_bytes()).feed
    assert [link.href for link in feed.links if link.rel == "self"] == [
        "http://127.0.0.1:9090/all.atom"
    ]


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("{host: 10.0.0.5, port: 8081}", "http://10.0.0.5:8081/"),
        ("{host: '::', port: 8081}", "http://127.0.0.1:8081/"),
        ("{host: 'fd00::7'}", "http://[fd00::7]:8080/"),
    ],
)
def test_the_default_is_built_from_host_and_port(tmp_path: Path, server: str, expected: str):
    assert load_config(write(tmp_path, server)).publish.base_url == expected


def test_check_warns_of_loopback_links_on_a_server_open_to_all(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "{host: 0.0.0.0, port: 8081}")
    assert main(["check", "--config", str(path)]) == 0
    assert capsys.readouterr().err == (
        f"{path}:2: publish.base_url: warning: http://127.0.0.1:8081/ is a loopback address, "
        "but server.host '0.0.0.0' listens on every interface: readers on other machines "
        "get self links and permalinks they cannot open; set publish.base_url to the "
        "address they use\n"
    )
    public = write(tmp_path, "{host: 0.0.0.0}", ", base_url: 'https://desk.example/'")
    assert main(["check", "--config", str(public)]) == 0
    assert capsys.readouterr().err == ""
