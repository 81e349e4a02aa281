"""Broken sources at a glance: `sources` and `collect --json` tell the same story of a
feed that answered 200 with something unparsable, a seed folder with broken files and a
source disabled by 410 Gone."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from pytest_httpserver import HTTPServer

from aggregator.cli import main
from tests.builders import GRAIN, SEED, desk_config, rss, source


def test_sources_and_collect_json_agree_on_what_is_broken(
    tmp_path: Path, httpserver: HTTPServer, capsys, monkeypatch
) -> None:
    httpserver.expect_request("/junk").respond_with_data("just text", content_type="text/plain")
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_text(SEED, encoding="utf-8")
    (seeds / "empty.txt").write_text("", encoding="utf-8")
    (seeds / "blank.txt").write_text("\n\n", encoding="utf-8")
    config = desk_config(
        tmp_path,
        source("junk", httpserver.url_for("/junk")),
        source("gone", httpserver.url_for("/gone")),
        source("seeds", "seeds"),
    )
    assert main(["collect", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    per_source = [(1 if s["error"] else 0) + len(s["file_errors"]) for s in report["sources"]]
    assert per_source == [1, 1, 2]
    assert report["errors"] == sum(per_source)
    assert main(["sources", "--config", str(config), "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    junk, gone, folder = rows["junk"], rows["gone"], rows["seeds"]
    assert (junk["status"], junk["error_streak"]) == (200, 1)
    assert junk["last_error"].startswith("junk: not a feed")
    assert (gone["status"], gone["disabled"], gone["next_due"]) == (410, True, None)
    assert folder["error_streak"] == 1 and folder["articles"] == 1
    assert "blank.txt" in folder["last_error"] and "empty.txt" in folder["last_error"]
    monkeypatch.setenv("COLUMNS", "400")  # room for the long temporary paths
    assert main(["sources", "--config", str(config)]) == 0
    table = capsys.readouterr().out.splitlines()
    broken = [line for line in table if "blank.txt" in line or "empty.txt" in line]
    assert len(broken) == 2, "each broken seed file gets a line of its own"
    assert all(line.startswith(f"seeds: {seeds}") for line in broken)


def test_a_moved_source_is_flagged_and_apply_moves_writes_the_new_url(
    tmp_path: Path, httpserver: HTTPServer, capsys
) -> None:
    old, new = httpserver.url_for("/old"), httpserver.url_for("/new")
    httpserver.expect_request("/old", query_string="x=1").respond_with_data(
        "", status=308, headers={"Location": new + "?x=1"}
    )
    httpserver.expect_request("/new", query_string="x=1").respond_with_data(rss(GRAIN))
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": new})
    httpserver.expect_request("/new").respond_with_data(rss(GRAIN), content_type="text/xml")
    config = tmp_path / "feeds.yaml"
    before = textwrap.dedent(
        f"""\
        # the desk
        store: wire.db
        publish: {{dir: feeds}}
        sources:
          - name: wire            # the main wire
            url: '{old}'   # moved last spring
          - {{name: also, url: {old}?x=1, interval: 1h}}  # flow style
          - {{name: seeds, path: .}}
        """
    )
    config.write_text(before, encoding="utf-8")
    assert main(["collect", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["sources", "--config", str(config), "--json"]) == 0
    rows = {row["name"]: row["moved_to"] for row in json.loads(capsys.readouterr().out)}
    assert rows == {"wire": new, "also": new + "?x=1", "seeds": None}
    assert main(["apply-moves", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote 2 new URLs into {config}"
    assert config.read_text(encoding="utf-8") == before.replace(f"'{old}'", f"'{new}'").replace(
        f"url: {old}?x=1", f"url: {new}?x=1"
    )
    assert main(["apply-moves", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "no source has moved: nothing to change\n"
