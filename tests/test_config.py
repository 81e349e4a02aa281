"""Config loading: valid files become typed values; every invalid one names line and key."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config import load_config, parse_duration, parse_size
from aggregator.errors import ConfigError, Invalid
from tests.builders import ROOT


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_the_cached_parse_serves_only_the_same_text(tmp_path: Path, config_cache: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - {name: wire, url: "https://example.org/rss", intreval: 1h}
        """,
        name="cached.yaml",
    )
    first = problems(path)
    assert first[0].startswith(f"{path}:2: sources[0].intreval: unknown key")
    assert problems(path) == first  # read from the cache this time, lines and all
    [cache] = config_cache.glob("cached.yaml-*")
    # An edit that keeps the size and the modification time is still an edit.
    before = path.stat()
    path.write_text(path.read_text().replace("intreval", "interval"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert load_config(path).sources[0].interval == timedelta(hours=1)
    cache.write_bytes(b"not what a parse is cached as")
    assert load_config(path).sources[0].interval == timedelta(hours=1)


def test_no_cache_is_written_into_a_folder_others_may_write_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another user who may write there could plant a link where the cache is written, to a
    # file of the user's (of anyone's, when root runs it with this HOME): nothing is written.
    shared = tmp_path / "shared"
    (shared / "wiredesk").mkdir(parents=True)
    (shared / "wiredesk").chmod(0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    path = write(tmp_path, 'sources:\n  - {name: wire, url: "https://example.org/rss"}\n')
    assert load_config(path).sources[0].name == "wire"
    assert list((shared / "wiredesk").iterdir()) == []


def test_a_config_named_by_its_full_path_loads_from_a_deleted_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, 'sources:\n  - {name: wire, url: "https://example.org/rss"}\n')
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    for _ in range(2):  # parsed and cached, then read from the cache
        assert load_config(path).sources[0].name == "wire"


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
    with pytest.raises(dataclasses.FrozenInstanceError):
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
        (
            "publish:\n  max_items: many\n",
            ":2: publish.max_items: expected a whole number; found 'many'",
        ),
        (
            "publish:\n  max_items: true\n",
            ":2: publish.max_items: expected a whole number; found true",
        ),
        ("publish: {max_items: 0}\n", ":1: publish.max_items: must be from 1 to 10000; found 0"),
        (
            "publish: {max_items: }\n",
            ":1: publish.max_items: has no value; write one after the ':' or remove the key",
        ),
        (
            "publish: {title: 7}\n",
            ":1: publish.title: expected text; found the number 7 (put it in quotes)",
        ),
        (
            "defaults:\n  interval: 15x\n",
            ":2: defaults.interval: expected a duration like 90s, 15m, 2h or 1d; found '15x'",
        ),
        ("defaults: {interval: 0s}\n", ":1: defaults.interval: must be longer than 0; found '0s'"),
        (
            "defaults: {interval: 999999w}\n",
            ":1: defaults.interval: must be at most 30d; found '999999w'",
        ),
        (
            "sources:\n  - {name: a, url: 'https://x.org/', interval: 9999999999d}\n",
            ":2: sources[0].interval: must be at most 30d; found '9999999999d'",
        ),
        ("retention: 9999999999d\n", ":1: retention: must be at most 3650d; found '9999999999d'"),
        (
            "categories:\n  - {name: c, max_age: 9999999999d}\n",
            ":2: categories[0].max_age: must be at most 3650d; found '9999999999d'",
        ),
        ("defaults: {timeout: 2h}\n", ":1: defaults.timeout: must be at most 10m; found '2h'"),
        (
            "sources:\n  - {name: a, url: 'https://x.org/'}\n  - {name: a, url: 'https://y.org/'}\n",
            ":3: sources[1].name: duplicate name 'a'; names must be unique",
        ),
        (
            "sources:\n  - name: a\n    url: https://x.org/\n    path: seeds\n",
            ":2: sources[0]: a source needs exactly one of 'url' or 'path'; found both",
        ),
        (
            "sources:\n  - name: a\n",
            ":2: sources[0]: a source needs exactly one of 'url' or 'path'; found neither",
        ),
        ("sources:\n  - url: https://x.org/\n", ":2: sources[0].name: required key is missing"),
        (
            "sources:\n  - name: a\n    path: s\n    timezone: Europe/Istambul\n",
            ":4: sources[0].timezone: unknown time zone 'Europe/Istambul'; did you mean "
            "'Europe/Istanbul'?",
        ),
        (
            "sources:\n  - name: a\n    path: s\n    timezone: Mars/Olympus\n",
            ":4: sources[0].timezone: unknown time zone 'Mars/Olympus'; expected an IANA name "
            "like Europe/Istanbul",
        ),
        (
            "sources:\n  - {name: s, path: s, encoding: rot13}\n",
            ":2: sources[0].encoding: unknown text encoding 'rot13'; expected one like utf-8 or "
            "cp1254",
        ),
        (
            "sources:\n  - {name: s, url: 'ftp://x.org/'}\n",
            ":2: sources[0].url: expected an http:// or https:// URL; found 'ftp://x.org/'",
        ),
        (
            "categories:\n  - name: ../x\n",
            ":2: categories[0].name: expected a slug of lowercase letters, digits, '-' and '_' "
            "(it becomes a file name); found '../x'",
        ),
        (
            "categories:\n  - name: c\n    regex: '([a'\n",
            ":3: categories[0].regex[0]: invalid regex '([a': unterminated character set at "
            "position 1",
        ),
        (
            "categories:\n  - {name: c, fields: body}\n",
            ":2: categories[0].fields[0]: expected one of title, summary, content, author, tags, "
            "section; found 'body'",
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
        (
            "categories:\n  - name: all\n",
            ":2: categories[0].name: 'all' is the built-in category of every article; choose "
            "another name",
        ),
        (
            "store: mysql://h/db\n",
            ":1: store: unsupported database URL scheme 'mysql'; expected a file path, "
            "sqlite:///path or postgresql://user@host/database",
        ),
        (
            "fetch:\n  max_bytes: lots\n",
            ":2: fetch.max_bytes: expected a size like 10MB, 512KB or a byte count; found 'lots'",
        ),
        ("fetch: {max_bytes: 5GB}\n", ":1: fetch.max_bytes: must be from 1KB to 1GB; found '5GB'"),
        ("dedup:\n  similarity: 1.5\n", ":2: dedup.similarity: must be from 0 to 1; found 1.5"),
        (
            "publish: {language: English}\n",
            ":1: publish.language: expected a language tag like en, en-GB or pt-BR; found "
            "'English'",
        ),
        (
            "publish: {base_url: 'http://x.org'}\n",
            ":1: publish.base_url: must end with / (it is a folder); found 'http://x.org'",
        ),
        (
            "sources: 3\n",
            ":1: sources: expected a list ('- item' lines or [a, b]); found the number 3",
        ),
        ("server: [1]\n", ":1: server: expected keys and values (key: value); found a list"),
    ],
)
def test_each_problem_is_one_plain_line_with_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    assert problems(path) == [f"{path}{expected}"]


@pytest.mark.parametrize(
    "tag", ["en", "en-GB", "pt-BR", "zh-Hant", "sr-Latn-RS", "es-419", "de-CH-1996"]
)
def test_language_tags_that_are_bcp_47_load(tmp_path: Path, tag: str) -> None:
    assert load_config(write(tmp_path, f"publish: {{language: {tag}}}\n")).publish.language == tag


def test_a_long_value_is_quoted_in_80_characters(tmp_path: Path) -> None:
    path = write(tmp_path, "publish:\n  title: " + "y" * 100_000 + "\n")
    (problem,) = problems(path)
    assert problem == (
        f"{path}:2: publish.title: must be at most 300 characters; found "
        f"'{'y' * 77}'… (100000 characters)"
    )


def test_a_long_key_is_cut_too(tmp_path: Path) -> None:
    path = write(tmp_path, "publish:\n  " + "k" * 1000 + ": 1\n")
    (problem,) = problems(path)
    assert problem == f"{path}:2: publish.{'k' * 77}…: unknown key"
    path = write(tmp_path, "publish:\n  " + "k" * 100_000 + ": 1\n")
    (problem,) = problems(path)
    assert problem == (
        f"{path}:2:100003: a key longer than 1024 characters (YAML allows no longer): "
        f"'  {'k' * 75}'… (100005 characters)"
    )


def test_a_duplicate_key_is_one_problem_among_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults:\n  interval: 15m\n  interval: 20m\nsources: 3\n")
    assert problems(path) == [
        f"{path}:3: defaults.interval: duplicate key 'interval'; it is already set on line 2",
        f"{path}:4: sources: expected a list ('- item' lines or [a, b]); found the number 3",
    ]


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
        (
            "store: x\nsources:\n  - name: a\n   url: b\n",
            ":4:4: wrong indentation: this line does not line up with the lines above it: '   "
            "url: b'",
        ),
        (
            "publish:\n\tdir: x\n",
            ":2:1: a tab where spaces are needed (YAML indents with spaces only): '\\tdir: x'",
        ),
        (
            "title: a: b\n",
            ":1:9: a second ': ' on one line; put a value that holds ': ' in quotes: 'title: a: b'",
        ),
        (
            "publish:\n  dir: x\n    max: 3\n",
            ":3:8: wrong indentation, or a ':' missing on a line above: '    max: 3'",
        ),
        ('title: "abc\nstore: x\n', ":1:8: a quote that is never closed: 'title: \"abc'"),
        (
            "publish: {dir: x\nserver: 1\n",
            ":2:7: a '{' mapping that is not closed with '}': 'server: 1'",
        ),
        ("x: '@x'\ny: @x\n", ":2:4: '@' cannot start a value; put the value in quotes: 'y: @x'"),
        ("", ": the file is empty"),
        ("- a\n- b\n", ":1: expected keys and values at the top (key: value lines); found a list"),
        (
            "x: !!python/object:os.system ls\n",
            ":1:4: unsupported YAML tag '!!python/object:os.system'",
        ),
        ("x: 1\n---\ny: 2\n", ":2:1: a second YAML document ('---'); a config is one document"),
        ("x: " + "[" * 400 + "]" * 400 + "\n", ":1:35: nested more than 32 levels deep"),
        ("x: *nowhere\n", ":1:4: '*nowhere' refers to no '&nowhere' above it"),
    ],
)
def test_yaml_mistakes_are_told_in_plain_words_with_line_and_column(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    assert problems(path) == [f"{path}{expected}"]


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefghi":
        before = lines[-1].split("&")[1].split(" ")[0]
        lines.append(f"{level}: &{level} [{', '.join(['*' + before] * 9)}]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert path.stat().st_size < 2048
    (problem,) = problems(path)
    assert problem == (
        f"{path}:6:12: more than 200000 values once its aliases ('*name') are expanded; "
        "write the values out instead"
    )


def test_2000_nested_not_rules_are_refused_by_depth(tmp_path: Path) -> None:
    rules = "".join("  " * (i + 2) + "not:\n" for i in range(2000))
    path = write(tmp_path, "categories:\n  - name: c\n" + rules + "  " * 2002 + "include: x\n")
    (problem,) = problems(path)
    assert problem.endswith("nested more than 32 levels deep")


def test_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - &wire {name: a, url: "https://x.org/", interval: 2h}
          - {<<: *wire, name: b}
        """,
    )
    config = load_config(path)
    assert [(s.name, s.url, s.interval) for s in config.sources] == [
        ("a", "https://x.org/", timedelta(hours=2)),
        ("b", "https://x.org/", timedelta(hours=2)),
    ]


def test_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: config file not found"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "-5m", "1y", "m", 15])
def test_bad_durations(text: object) -> None:
    with pytest.raises(Invalid, match="expected a duration"):
        parse_duration(text)


def test_a_zero_duration_must_be_longer_than_0() -> None:
    with pytest.raises(Invalid, match=r"^must be longer than 0; found '0m'$"):
        parse_duration("0m")


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
