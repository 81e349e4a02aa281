"""Config loading: valid files become typed values; every invalid one names line and key."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config import load_config, parse_duration, parse_size
from aggregator.errors import ConfigError
from tests.conftest import ROOT


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_shipped_configs_load() -> None:
    for name in ("feeds.yaml", "example-full.yaml"):
        config = load_config(ROOT / "config" / name)
        assert config.sources
        assert config.publish.dir.is_absolute()


def test_values_are_typed_and_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        store: data/x.db
        publish: {dir: out, base_url: "http://example.org/feeds/", max_items: 7}
        defaults: {interval: 2h, timeout: 90s}
        sources:
          - {name: wire, url: "https://example.org/rss"}
          - {name: seeds, path: seeds, timezone: Europe/Istanbul, interval: 1d}
        categories:
          - {name: caucasus, include: Karabakh, exclude: [football]}
        """,
    )
    config = load_config(path)
    assert config.store == str(tmp_path / "data" / "x.db")
    assert config.publish.dir == tmp_path / "out"
    assert config.publish.max_items == 7
    seeds = config.source("seeds")
    assert seeds.path == tmp_path / "seeds"
    assert config.interval(seeds) == timedelta(days=1)
    assert config.interval(config.source("wire")) == timedelta(hours=2)
    assert config.timeout(config.source("wire")) == timedelta(seconds=90)
    assert config.categories[0].include == ("Karabakh",)
    with pytest.raises(Exception, match="frozen"):
        config.publish.max_items = 3  # type: ignore[misc]


def test_environment_variable_names_the_config(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "sources: []\n")
    monkeypatch.setenv("WIREDESK_CONFIG", str(path))
    assert load_config().path == path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - name: a\n    url: https://x.org/\n    intreval: 15m\n",
            ":4: sources[0].intreval: unknown key; did you mean 'interval'?",
        ),
        ("publish:\n  max_items: many\n", ":2: publish.max_items: input should be a valid integer"),
        ("defaults:\n  interval: 15x\n", ":2: defaults.interval: expected a duration"),
        (
            "sources:\n  - {name: a, url: 'https://x.org/'}\n  - {name: a, url: 'https://y.org/'}\n",
            ":3: sources[1].name: duplicate name 'a'",
        ),
        (
            "sources:\n  - name: a\n    url: https://x.org/\n    path: seeds\n",
            ":2: sources[0]: a source needs exactly one of 'url' or 'path'; found both",
        ),
        ("sources:\n  - name: a\n", ":2: sources[0]: a source needs exactly one"),
        (
            "sources:\n  - name: a\n    path: s\n    timezone: Mars/Olympus\n",
            ":4: sources[0].timezone: unknown time zone 'Mars/Olympus'",
        ),
        ("categories:\n  - name: ../x\n", ":2: categories[0].name: expected a slug"),
        ("categories:\n  - name: a/b\n", ":2: categories[0].name: expected a slug"),
        (
            "categories:\n  - name: c\n    regex: '([a'\n",
            ":3: categories[0].regex[0]: invalid regex '([a'",
        ),
        (
            "sources: [{name: wire, url: 'https://x.org/'}]\n"
            "categories:\n  - name: c\n    sources: [wier]\n",
            ":4: categories[0].sources: unknown source 'wier'; did you mean 'wire'?",
        ),
        (
            "categories:\n  - name: c\n    any:\n      - include: [x]\n      - nott: {}\n",
            ":5: categories[0].any[1].nott: unknown key; did you mean 'not'?",
        ),
        ("categories:\n  - name: all\n", ":2: categories[0].name: 'all' is the built-in"),
        ("store: postgres://h/db\n", ":1: store: unsupported database URL scheme 'postgres'"),
        ("fetch:\n  max_bytes: lots\n", ":2: fetch.max_bytes: expected a size"),
        ("dedup:\n  similarity: 1.5\n", ":2: dedup.similarity: input should be less than"),
    ],
)
def test_each_problem_names_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    found = problems(path)
    assert any(p.startswith(str(path)) and expected in p for p in found), found


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        defaults: {interval: soon}
        sources:
          - {name: a, url: "https://x.org/", colour: red}
          - {name: B, path: s}
        """,
    )
    assert len(problems(path)) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources: [\n  - a\n", "YAML syntax error at column"),
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping of keys at the top; found a seq"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert expected in problems(path)[0]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "store: x\nsources:\n  - name: a\n   url: b\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:4: YAML syntax error at column")


def test_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: config file not found"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "0m", "-5m", "1y", "m", 15])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_sizes() -> None:
    assert parse_size("10MB") == 10 * 1024 * 1024
    assert parse_size("512kb") == 512 * 1024
    assert parse_size(2048) == 2048


def test_check_command_exit_codes(tmp_path: Path, capsys) -> None:
    good = write(tmp_path, "sources: [{name: a, url: 'https://x.org/'}]\n", "good.yaml")
    assert main(["check", "--config", str(good)]) == 0
    assert capsys.readouterr().out.startswith("OK ")
    bad = write(tmp_path, "sources:\n  - name: a\n    url: https://x.org/\n    intreval: 1m\n")
    assert main(["--config", str(bad), "check"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: sources[0].intreval: unknown key; did you mean 'interval'?" in err


def test_default_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    config = load_config(write(folder, "sources: []\n"))
    assert config.store == str(tmp_path / "data" / "wiredesk.db")
    assert config.publish.dir == tmp_path / "feeds"
    partial = load_config(write(folder, "publish: {max_items: 5}\n", "partial.yaml"))
    assert partial.publish.dir == tmp_path / "feeds"


@pytest.mark.parametrize("pattern", ["", "/tmp/*.txt", "../*.txt"])
def test_a_seed_glob_must_stay_inside_its_folder(tmp_path: Path, pattern: str) -> None:
    path = write(tmp_path, f"sources:\n  - name: s\n    path: seeds\n    glob: '{pattern}'\n")
    assert any(":4: sources[0].glob: expected a file pattern" in p for p in problems(path))
