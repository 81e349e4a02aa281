"""The CLI end to end, the way a user drives it: collect, then read the published feeds
back with feedparser; articles and sources as JSON; exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from aggregator.cli import main
from aggregator.cli.output import json_text
from tests.builders import FERRY, GRAIN, ROOT, SEED, feeds_yaml, rss


@pytest.fixture
def config_file(tmp_path: Path, httpserver: HTTPServer) -> Path:
    httpserver.expect_request("/rss").respond_with_data(
        rss(FERRY, GRAIN), content_type="application/rss+xml"
    )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ferry.txt").write_text(SEED, encoding="utf-8")
    return feeds_yaml(
        tmp_path,
        f"""
        store: data/wiredesk.db
        publish: {{dir: feeds, base_url: "http://127.0.0.1:8080/", max_items: 10}}
        sources:
          - {{name: wire, url: "{httpserver.url_for("/rss")}"}}
          - {{name: seeds, path: seeds, timezone: Europe/Istanbul}}
        categories:
          - {{name: turkiye, title: Türkiye, include: [Izmir, Türkiye]}}
          - {{name: grain, include: grain}}
        """,
    )


def test_collect_then_read_the_feeds_back(config_file: Path, capsys) -> None:
    assert main(["collect", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "wire" in out and "seeds" in out
    feeds = config_file.parent / "feeds"
    turkiye = feedparser.parse((feeds / "turkiye.atom").read_bytes())
    assert turkiye.bozo == 0
    (entry,) = turkiye.entries
    assert entry.title == FERRY[1]
    assert entry.link == "https://news.example/ferry-1"
    grain = feedparser.parse((feeds / "grain.rss").read_bytes())
    assert grain.bozo == 0 and [e.title for e in grain.entries] == [GRAIN[1]]
    everything = json.loads((feeds / "all.json").read_text(encoding="utf-8"))
    assert len(everything["items"]) == 2


def test_articles_json_has_every_field(config_file: Path, capsys) -> None:
    main(["collect", "--config", str(config_file)])
    capsys.readouterr()
    assert main(["articles", "--config", str(config_file), "--json"]) == 0
    articles = json.loads(capsys.readouterr().out)
    ferry = next(a for a in articles if a["title"] == FERRY[1])
    expected = {
        "id",
        "title",
        "link",
        "links",
        "sources",
        "section",
        "categories",
        "published",
        "updated",
        "summary",
        "content",
    }
    assert expected <= set(ferry)
    assert sorted(ferry["sources"]) == ["seeds", "wire"]
    assert ferry["categories"] == ["all", "turkiye"]
    assert ferry["published"].endswith("+00:00")
    main(["articles", "--config", str(config_file), "--json", "--category", "grain"])
    assert [a["title"] for a in json.loads(capsys.readouterr().out)] == [GRAIN[1]]
    main(["articles", "--config", str(config_file), "--json", "--search", "catamarans"])
    assert [a["title"] for a in json.loads(capsys.readouterr().out)] == [FERRY[1]]


def test_sources_json_shows_each_state(config_file: Path, capsys) -> None:
    main(["collect", "--config", str(config_file)])
    capsys.readouterr()
    assert main(["sources", "--config", str(config_file), "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["wire"]["status"] == 200 and rows["wire"]["articles"] == 2
    assert rows["seeds"]["articles"] == 1 and rows["seeds"]["kind"] == "seeds"


def test_the_fetcher_is_made_before_the_pass_s_clock_starts_and_only_for_a_feed(
    config_file: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass's ``seconds`` is the collection, as in the daemon, which makes its fetcher
    (importing requests) once at start: not the HTTP client's import as well."""
    from aggregator import fetch

    made: list[datetime] = []

    class Recorded(fetch.Fetcher):
        def __init__(self, *args: object, **kwargs: object) -> None:
            made.append(datetime.now(UTC))
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fetch, "Fetcher", Recorded)
    assert main(["collect", "--json", "--source", "seeds", "--config", str(config_file)]) == 0
    assert json.loads(capsys.readouterr().out)["sources"] and made == []
    assert main(["collect", "--json", "--source", "wire", "--config", str(config_file)]) == 0
    collected = json.loads(capsys.readouterr().out)
    assert [s["status"] for s in collected["sources"]] == [200]
    assert len(made) == 1 and made[0] < datetime.fromisoformat(collected["started"])


def test_collect_freezes_what_start_up_made_before_the_pass(
    config_file: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config, the states, the imported modules and the HTTP client live until the
    process exits: they are made, then frozen, before the pass, so that the pass's
    collections, and the interpreter's last one, do not scan them."""
    import gc

    import aggregator.collector
    from aggregator.cli import collect

    events: list[tuple[str, int]] = []  # (what, objects frozen by then)
    run_pass = aggregator.collector.run_pass
    made = collect._FetcherOnDemand.made

    def pass_recorded(*args: Any, **kwargs: Any) -> Any:
        events.append(("pass", gc.get_freeze_count()))
        return run_pass(*args, **kwargs)

    def made_recorded(self: Any) -> Any:
        fetcher = made(self)
        events.append(("made", gc.get_freeze_count()))
        return fetcher

    monkeypatch.setattr(aggregator.collector, "run_pass", pass_recorded)
    monkeypatch.setattr(collect._FetcherOnDemand, "made", made_recorded)
    gc.unfreeze()
    assert main(["collect", "--json", "--config", str(config_file)]) == 0
    assert json.loads(capsys.readouterr().out)["sources"]
    assert events[:2] == [("made", 0), ("pass", events[1][1])] and events[1][1] > 0


def test_a_collect_with_nothing_due_reads_the_source_states_once(
    config_file: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.store.sql.store import SqlStore

    assert main(["collect", "--config", str(config_file)]) == 0
    reads: list[int] = []
    read = SqlStore.source_states

    def counted(self: SqlStore) -> dict[str, object]:
        reads.append(1)
        return read(self)  # type: ignore[return-value]

    monkeypatch.setattr(SqlStore, "source_states", counted)
    assert main(["collect", "--config", str(config_file)]) == 0
    assert "no source is due" in capsys.readouterr().out
    assert len(reads) == 1  # the pass's, which the status page is published from


def test_unknown_names_are_usage_errors(config_file: Path, capsys) -> None:
    assert main(["collect", "--config", str(config_file), "--source", "wier"]) == 2
    assert capsys.readouterr().err == "--source: unknown source 'wier'; did you mean 'wire'?\n"
    assert main(["articles", "--config", str(config_file), "--category", "nope"]) == 2


def test_run_py_is_the_console_script() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "check",
            "--config",
            str(ROOT / "config/feeds.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK ")


@pytest.mark.parametrize(
    "command", ["run", "collect", "publish", "serve", "check", "sources", "articles"]
)
def test_every_command_has_help_and_config(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "--config" in capsys.readouterr().out


def test_collect_without_publishing_leaves_the_feeds_alone(config_file: Path, capsys) -> None:
    assert main(["collect", "--no-publish", "--config", str(config_file)]) == 0
    assert not (config_file.parent / "feeds" / "all.rss").exists()
    assert main(["publish", "--config", str(config_file)]) == 0
    assert (config_file.parent / "feeds" / "all.rss").exists()


def test_a_closed_pipe_is_not_a_traceback() -> None:
    script = (
        "import sys\n"
        "from aggregator import cli\n"
        "from aggregator.cli import configfile\n"
        "def closed(args, config):\n"
        "    raise BrokenPipeError\n"
        "configfile.cmd_check = closed\n"
        f"sys.exit(cli.main(['check', '--config', {str(ROOT / 'config/feeds.yaml')!r}]))\n"
    )
    result = _python(script)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


HEAVY = ("feedparser", "feedgen", "requests", "lxml", "ruamel", "multiprocessing")
MARKUP = ("html", "mimetypes")


def test_a_pass_with_nothing_to_parse_or_publish_loads_no_parser_feedgen_or_pyyaml(
    config_file: Path,
) -> None:
    assert main(["collect", "--config", str(config_file)]) == 0
    # The config is unchanged since, so its parse comes from the cache, without PyYAML.
    script = (
        "import sys\n"
        "from aggregator import cli\n"
        f"assert cli.main(['collect', '--config', {str(config_file)!r}]) == 0\n"
        # nor builds the models a pass of feeds never reads (~4M instructions a dataclass)
        "assert 'aggregator.models_lazy' not in sys.modules\n"
        # nor the pages' renderer and its views, nor what renders markup
        f"print(sorted(m for m in {(*HEAVY, 'yaml', 'aggregator.publish.pages', *MARKUP)!r}"
        " if m in sys.modules))\n"
    )
    result = _python(script)
    assert result.returncode == 0, result.stderr
    assert "no source is due" in result.stdout
    assert result.stdout.strip().endswith("[]")


def test_help_loads_neither_the_config_nor_any_commands_library() -> None:
    script = (
        "import sys\n"
        "from aggregator import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "wanted = ('yaml', 'sqlite3', 'aggregator.config', 'aggregator.store', 'html') + "
        f"{HEAVY!r}\n"
        "print(sorted(m for m in wanted if m in sys.modules))\n"
    )
    result = _python(script)
    assert result.returncode == 0, result.stderr
    assert "usage: wiredesk" in result.stdout
    assert result.stdout.strip().endswith("[]")


def _python(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter from the project root."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )


def test_a_pass_with_nothing_due_says_so(config_file: Path, capsys) -> None:
    main(["collect", "--config", str(config_file)])
    capsys.readouterr()
    assert main(["collect", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "no source is due" in out
    assert "0 stories changed; 0 published files written" in out


def test_an_empty_search_lists_everything(config_file: Path, capsys) -> None:
    main(["collect", "--config", str(config_file)])
    capsys.readouterr()
    main(["articles", "--config", str(config_file), "--json", "--search", ""])
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_a_seed_story_links_under_the_base_url_in_force(config_file: Path, capsys) -> None:
    main(["collect", "--config", str(config_file)])
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(
        text.replace("http://127.0.0.1:8080/", "https://desk.example/"), encoding="utf-8"
    )
    capsys.readouterr()
    main(["articles", "--config", str(config_file), "--json", "--search", "catamarans"])
    (ferry,) = json.loads(capsys.readouterr().out)
    assert ferry["link"] == "https://news.example/ferry-1"  # the feed's real URL wins
    seeds_only = config_file.parent / "seeds" / "grain.txt"
    seeds_only.write_text(
        SEED.replace("New ferry line links", "Dry dock opens in"), encoding="utf-8"
    )
    main(["collect", "--config", str(config_file), "--source", "seeds"])
    capsys.readouterr()
    main(["articles", "--config", str(config_file), "--json", "--search", "dock"])
    (dock,) = json.loads(capsys.readouterr().out)
    assert dock["link"] == f"https://desk.example/articles/{dock['id']}.html"


def test_piped_collect_logs_sources_that_brought_something_and_304s_only_at_debug(
    config_file: Path, capsys
):
    def wire_lines() -> list[str]:
        err = capsys.readouterr().err.splitlines()
        found = (
            re.search(r" aggregator\.collector: (wire: .*) in [\d.]+ s$", line) for line in err
        )
        return [match[1] for match in found if match]

    collect = ["collect", "--no-publish", "--source", "wire", "--config", str(config_file)]
    assert main(collect) == 0
    assert wire_lines() == ["wire: 2 new, 0 merged, 0 updated"]
    assert main(collect) == 0  # the same bytes again
    assert wire_lines() == []
    assert main([*collect, "--verbose"]) == 0
    assert wire_lines() == ["wire: not modified"]


def test_json_logs_put_each_sources_counts_in_fields(config_file: Path, capsys) -> None:
    main(["collect", "--log-format", "json", "--source", "wire", "--config", str(config_file)])
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    ours = {record["logger"].split(".")[0] for record in records} - {"werkzeug"}  # the test's
    assert ours == {"aggregator"}
    (wire,) = [record for record in records if record.get("source") == "wire"]
    assert (wire["new"], wire["merged"], wire["updated"], wire["status"]) == (2, 0, 0, 200)
    assert isinstance(wire["duration_s"], float) and wire["duration_s"] >= 0
    assert wire["level"] == "INFO" and wire["message"].startswith("wire: 2 new, 0 merged")


def test_collect_json_reports_the_pass(config_file: Path, capsys) -> None:
    assert main(["collect", "--json", "--config", str(config_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    started, finished = (datetime.fromisoformat(report[key]) for key in ("started", "finished"))
    assert started <= finished
    assert report["seconds"] == round((finished - started).total_seconds(), 3)
    assert (report["changed"], report["errors"]) == (2, 0)
    assert report["published"] > 0
    wire, seeds = report["sources"]
    assert (wire["source"], wire["new"] + wire["merged"], wire["not_modified"]) == (
        "wire",
        2,
        False,
    )
    assert (seeds["source"], seeds["file_errors"]) == ("seeds", [])
    assert main(["collect", "--json", "--source", "wire", "--config", str(config_file)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["sources"][0]["not_modified"] is True
    # no story changed: at most sources.html, whose last fetch is shown to the second
    assert again["published"] <= 1


_JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner),
    max_leaves=30,
)


@given(_JSON_VALUES)
def test_json_text_is_the_text_of_json_dumps_indented(value: object) -> None:
    """``--json`` prints through json_text, which must write exactly what json.dumps with
    indent=2 writes: nested, empty, non-ASCII, NaN, tuples."""
    assert json_text(value) == json.dumps(value, indent=2, ensure_ascii=False)
