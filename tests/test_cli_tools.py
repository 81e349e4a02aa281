"""The config tools of issue 8 through ``main([...])``, the way a user runs them: add,
remove, import-opml, export-opml, schema, and preview (with --why) on stored stories."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from pytest_httpserver import HTTPServer

from aggregator.cli import main
from aggregator.cli.ids import story_id
from aggregator.config import load_config
from aggregator.errors import UsageError
from tests.builders import FIXTURES, ROOT, article, feeds_yaml, run_cli
from tests.fakes import FakeStore

HERE = FIXTURES / "cli_tools"
TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml", ".html": "text/html"}
STRIKE = "Lighthouse keepers vote to strike over night shifts"
CUP = "Lighthouse Rovers lift the regional cup"
TRAM = "Council approves tram line to the ferry terminal"


@pytest.fixture
def site(httpserver: HTTPServer) -> HTTPServer:
    """The fixture feeds and page, served from 127.0.0.1."""
    for path in HERE.iterdir():
        if path.suffix in TYPES:
            httpserver.expect_request(f"/{path.name}").respond_with_data(
                path.read_bytes(), content_type=TYPES[path.suffix]
            )
    return httpserver


@pytest.fixture
def config(tmp_path: Path, site: HTTPServer) -> Path:
    """A config with one local feed and three categories: include/exclude and nested."""
    return feeds_yaml(
        tmp_path,
        f"""
        # The desk's config; this comment must survive every edit.
        store: data/wiredesk.db
        publish: {{dir: out, base_url: "http://127.0.0.1:8080/"}}
        sources:
          - name: quay
            url: "{site.url_for("/quay.rss")}"
        categories:
          - name: coast
            include: [lighthouse]
            exclude: [football]
          - name: transit
            any:
              - section: Ferries
              - all: [{{include: [tram]}}, {{not: {{include: [football]}}}}]
        """,
    )


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    """``wiredesk ARGV --config CONFIG``: its exit code, stdout and stderr."""
    return run_cli(capsys, *argv, "--config", str(config))


def source_urls(config: Path) -> dict[str, str | None]:
    return {s.name: s.url for s in load_config(config).sources}


# --- add and remove ---------------------------------------------------------------------


def test_add_a_feed_url_names_it_from_its_title(capsys, config: Path, site: HTTPServer) -> None:
    before = config.read_text(encoding="utf-8")
    code, out, _ = run(capsys, config, "add", site.url_for("/dunes.atom"), "--interval", "2h")
    assert code == 0
    assert out.startswith("added dune-watch: Dune Watch (1 entry)")
    assert source_urls(config)["dune-watch"] == site.url_for("/dunes.atom")
    assert config.read_text(encoding="utf-8").startswith(before.split("categories:")[0])


def test_a_page_with_several_feeds_lists_them_and_changes_nothing(
    capsys, config: Path, site: HTTPServer
) -> None:
    before = config.read_bytes()
    code, out, err = run(capsys, config, "add", site.url_for("/two-feeds.html"))
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == (  # the lines before it are the test server's log
        f"error: {site.url_for('/two-feeds.html')}: the page offers 2 feeds: "
        f"1. Quayside Bulletin <{site.url_for('/quay.rss')}> (application/rss+xml), "
        f"2. Dune Watch <{site.url_for('/dunes.atom')}> (application/atom+xml); "
        "choose one with --pick K"
    )
    assert config.read_bytes() == before


def test_pick_chooses_one_of_a_pages_feeds(capsys, config: Path, site: HTTPServer) -> None:
    code, out, _ = run(capsys, config, "add", site.url_for("/two-feeds.html"), "--pick", "2")
    assert code == 0 and "dune-watch" in out
    assert source_urls(config)["dune-watch"] == site.url_for("/dunes.atom")


def test_adding_a_configured_feed_again_is_refused(capsys, config: Path, site: HTTPServer) -> None:
    code, _, err = run(capsys, config, "add", site.url_for("/two-feeds.html"), "--pick", "1")
    assert code == 2
    assert "already configured as 'quay'" in err


def test_remove_takes_a_source_out_and_keeps_the_comments(
    capsys, config: Path, site: HTTPServer
) -> None:
    run(capsys, config, "add", site.url_for("/dunes.atom"), "--name", "dunes")
    code, out, _ = run(capsys, config, "remove", "dunes")
    assert code == 0 and out.startswith("removed dunes")
    assert "dunes" not in source_urls(config)
    assert config.read_text(encoding="utf-8").startswith("# The desk's config;")
    code, _, err = run(capsys, config, "remove", "dunes")
    assert code == 2 and "no source named 'dunes'" in err


# --- OPML and schema --------------------------------------------------------------------


def test_import_opml_leaves_what_a_category_means_unchanged(
    capsys, config: Path, site: HTTPServer, collected: dict[str, str], tmp_path: Path
) -> None:
    opml = tmp_path / "reader.opml"
    opml.write_text(
        f"""<opml version="2.0"><body>
        <outline text="Coast">
          <outline type="rss" xmlUrl="{site.url_for("/dunes.atom")}"/>
          <outline text="A page, not a feed" xmlUrl="{site.url_for("/two-feeds.html")}"/>
        </outline>
        <outline text="Quay" xmlUrl="{site.url_for("/quay.rss")}"/>
        </body></opml>""",
        encoding="utf-8",
    )
    before = run(capsys, config, "preview", "coast")
    code, out, _ = run(capsys, config, "import-opml", str(opml))
    assert code == 0
    assert out.splitlines() == [
        "added 1 source: dune-watch",
        "category coast already exists and was left as it is: dune-watch added as sources only",
        f"skipped {site.url_for('/two-feeds.html')}: check failed: "
        f"{site.url_for('/two-feeds.html')}: not a feed: the server sent an HTML page",
        f"skipped {site.url_for('/quay.rss')}: already configured as 'quay'",
    ]
    assert run(capsys, config, "preview", "coast") == before
    coast = load_config(config).categories[0]
    assert (coast.include, coast.sources) == (("lighthouse",), ())
    assert load_config(config).sources[-1].title == "Dune Watch"  # the feed's own title
    code, out, _ = run(capsys, config, "import-opml", str(opml))
    assert code == 0 and out.startswith(f"nothing new in {opml}: no source or category to add")


def test_import_opml_unchecked_then_export_it(capsys, config: Path) -> None:
    code, out, _ = run(capsys, config, "import-opml", "--no-check", str(HERE / "desk.opml"))
    assert code == 0
    assert out.splitlines()[:2] == [
        "added 3 sources: tide-tables, gull-gazette, inland-courier",
        "category coast already exists and was left as it is: "
        "tide-tables, gull-gazette added as sources only",
    ]
    code, out, _ = run(capsys, config, "export-opml")
    assert code == 0
    body = etree.fromstring(out.encode("utf-8")).find("body")
    top = [o.get("xmlUrl") for o in body.findall("outline[@xmlUrl]")]
    assert "https://inland.example/atom.xml" in top and "https://tides.example/feed.xml" in top


def test_a_config_that_cannot_be_written_back_fails_in_one_line(config: Path) -> None:
    # A file-size limit of the config's own size stands for a full disk or a quota.
    before = config.read_bytes()
    limit = len(before)
    argv = ["--config", str(config), "import-opml", "--no-check", str(HERE / "desk.opml")]
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"error: {config}: cannot write: File too large\n"
    assert config.read_bytes() == before
    assert not list(config.parent.glob(f".{config.name}.*"))  # no temp file left


def test_schema_prints_the_shipped_schema(capsys) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == (ROOT / "config" / "feeds.schema.json").read_text(encoding="utf-8")
    assert json.loads(out)["type"] == "object"


# --- preview ----------------------------------------------------------------------------


@pytest.fixture
def collected(capsys, config: Path) -> dict[str, str]:
    """Collect the local feed; the stored stories' ids by title."""
    assert main(["collect", "--config", str(config)]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, config, "articles", "--json")
    assert code == 0
    return {a["title"]: a["id"] for a in json.loads(out)}


def test_preview_lists_what_include_and_exclude_select(capsys, config, collected) -> None:
    code, out, _ = run(capsys, config, "preview", "coast", "--json")
    assert code == 0
    assert [a["title"] for a in json.loads(out)] == [STRIKE]
    code, out, _ = run(capsys, config, "preview", "transit")
    assert code == 0 and collected[TRAM][:8] in out and collected[STRIKE][:8] not in out


def test_why_names_the_include_word(capsys, config, collected) -> None:
    code, out, _ = run(capsys, config, "preview", "coast", "--why", collected[STRIKE])
    assert code == 0
    assert out.splitlines()[0] == STRIKE
    assert out.splitlines()[1].startswith("coast: selected:")
    assert "include: 'lighthouse' found in title" in out


def test_why_names_the_exclude_word(capsys, config, collected) -> None:
    code, out, _ = run(capsys, config, "preview", "coast", "--why", collected[CUP], "--json")
    assert code == 0
    verdict = json.loads(out)
    assert verdict["matched"] is False
    assert verdict["reason"] == "exclude: 'football' found in summary"


def test_why_walks_the_nested_rule(capsys, config, collected) -> None:
    code, out, _ = run(capsys, config, "preview", "transit", "--why", collected[TRAM], "--json")
    assert code == 0 and json.loads(out)["matched"] is True
    assert "any[1].all[0].include: 'tram' found in title" in json.loads(out)["reason"]
    code, out, _ = run(capsys, config, "preview", "transit", "--why", collected[CUP], "--json")
    assert json.loads(out)["matched"] is False
    assert json.loads(out)["reason"].startswith("any: no sub-rule matched")


def test_why_takes_a_unique_id_prefix(capsys, config, collected) -> None:
    story = collected[STRIKE]
    others = [i for title, i in collected.items() if title != STRIKE]
    size = next(n for n in range(1, len(story)) if not any(o.startswith(story[:n]) for o in others))
    code, out, _ = run(capsys, config, "preview", "coast", "--why", story[:size])
    assert code == 0
    assert out.splitlines()[0] == STRIKE


def test_why_with_an_unknown_id_is_a_usage_error(capsys, config, collected) -> None:
    code, out, err = run(capsys, config, "preview", "coast", "--why", "zz-no-such-id")
    assert code == 2 and out == ""
    assert err == "--why: no stored story has an id starting 'zz-no-such-id'\n"


def test_why_with_a_prefix_of_several_ids_asks_for_more() -> None:
    stories = FakeStore([article(id=i, guid=i) for i in ("abc1", "abc2", "abd3", "b")])
    assert story_id(stories, "abd", "--why") == "abd3"
    assert story_id(stories, "b", "--why") == "b"
    with pytest.raises(UsageError) as caught:
        story_id(stories, "ab", "--why")
    assert (
        str(caught.value)
        == "--why: 'ab' starts several stories' ids (abc1, abc2, …); give more of it"
    )
    with pytest.raises(UsageError) as caught:
        story_id(stories, "abc", "--why")
    assert (
        str(caught.value)
        == "--why: 'abc' starts several stories' ids (abc1, abc2); give more of it"
    )


def test_add_blames_a_bad_flag_not_a_line_of_the_file(capsys, config: Path, site) -> None:
    before = config.read_text(encoding="utf-8")
    url = site.url_for("/dunes.atom")
    code, _, err = run(capsys, config, "add", url, "--name", "Bad Name")
    assert code == 2
    assert err == (
        "--name: expected a slug of lowercase letters, digits, '-' and '_' "
        "(it becomes a file name); found 'Bad Name'\n"
    )
    code, _, err = run(capsys, config, "add", url, "--interval", "0s")
    assert (code, err) == (2, "--interval: must be longer than 0; found '0s'\n")
    assert config.read_text(encoding="utf-8") == before


def test_remove_suggests_the_closest_name(capsys, config: Path) -> None:
    code, _, err = run(capsys, config, "remove", "quey")
    assert code == 2
    assert err == f"{config}: sources: no source named 'quey'; did you mean 'quay'?\n"


def test_json_outputs_parse(capsys, config, collected) -> None:
    for argv in (
        ["sources", "--json"],
        ["articles", "--json", "--category", "coast"],
        ["articles", "--json", "--search", 'tram "ferry terminal'],
        ["preview", "all", "--json", "--limit", "2"],
    ):
        code, out, _ = run(capsys, config, *argv)
        assert code == 0, argv
        assert isinstance(json.loads(out), list), argv
    code, out, _ = run(capsys, config, "preview", "all", "--json", "--limit", "2")
    assert len(json.loads(out)) == 2
