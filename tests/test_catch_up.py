"""Publishing catches up by itself: whatever the store holds reaches the publish folder by
the next pass, however the last one ended (killed, a failed publish, ``--no-publish``), and
whatever happened to the folder (files deleted or edited by hand, a category removed, the
store moved to another machine). Each pass here collects nothing new: the seed folder is
not due again for an hour, so only the store's publish state can tell the pass what to do."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from aggregator.cli import main
from tests.builders import ROOT, files

HEADLINE = "Night trains return to the coast line"
SEED = f"""\
{HEADLINE}
Sleeper carriages run again from May.
- Travel
- Sample Wire
- Published Date: 21:15 | 4 March 2026
Sleeper carriages run again from May.
The operator said two trains a week will run at first.
"""


def desk(folder: Path, categories: str = "") -> Path:
    """A config in ``folder`` with one seed folder holding one story; returns its path."""
    (folder / "seeds").mkdir(parents=True, exist_ok=True)
    (folder / "seeds" / "trains.txt").write_text(SEED, encoding="utf-8")
    path = folder / "feeds.yaml"
    path.write_text(
        textwrap.dedent(
            """
            store: data/desk.db
            publish: {dir: out, base_url: "http://127.0.0.1:8080/"}
            sources:
              - {name: seeds, path: seeds, timezone: Europe/Istanbul, interval: 1h}
            """
        )
        + categories,
        encoding="utf-8",
    )
    return path


def collect(config: Path, *flags: str) -> int:
    return main(["collect", "--config", str(config), *flags])


def listed(out: Path, name: str = "all") -> list[str]:
    """The headlines the JSON Feed ``name`` lists; [] when it is missing."""
    path = out / f"{name}.json"
    return [i["title"] for i in json.loads(path.read_text())["items"]] if path.exists() else []


def test_a_pass_killed_between_commit_and_publish_is_published_by_the_next(tmp_path: Path):
    config = desk(tmp_path)
    # a real process, killed with SIGKILL at the moment it would start publishing
    script = (
        "import os, signal, sys\n"
        "import aggregator.publish\n"
        "aggregator.publish.publish = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from aggregator.cli import main\n"
        f"sys.exit(main(['collect', '--config', {str(config)!r}]))\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert listed(tmp_path / "out") == []
    assert collect(config) == 0
    assert listed(tmp_path / "out") == [HEADLINE]


def test_a_failed_publish_is_caught_up_once_the_folder_can_be_written(tmp_path: Path):
    config = desk(tmp_path)
    (tmp_path / "out").write_text("a file where the publish folder should be\n")
    assert collect(config) == 1
    (tmp_path / "out").unlink()
    assert collect(config) == 0
    assert listed(tmp_path / "out") == [HEADLINE]


def test_stories_collected_without_publishing_are_published_by_the_next_pass(tmp_path: Path):
    config = desk(tmp_path)
    assert collect(config, "--no-publish") == 0
    assert not (tmp_path / "out").exists()
    assert collect(config) == 0
    assert listed(tmp_path / "out") == [HEADLINE]


def test_files_deleted_or_edited_by_hand_are_restored_and_no_other_is_touched(tmp_path: Path):
    config = desk(tmp_path)
    out = tmp_path / "out"
    assert collect(config) == 0
    before = files(out)
    untouched = (out / "all.atom").stat().st_mtime_ns
    (out / "all.rss").unlink()
    (out / "all.json").write_text((out / "all.json").read_text().replace(HEADLINE, "Edited"))
    page = next(name for name in before if name.startswith("articles/"))
    (out / page).write_text("<p>defaced</p>")
    assert collect(config) == 0
    assert files(out) == before
    assert (out / "all.atom").stat().st_mtime_ns == untouched


def test_a_removed_category_loses_its_files_at_the_next_pass(tmp_path: Path):
    trains = "categories:\n  - {name: trains, include: [trains]}\n"
    config = desk(tmp_path, trains)
    out = tmp_path / "out"
    assert collect(config) == 0
    assert listed(out, "trains") == [HEADLINE]
    (out / "notes.rss").write_text("<rss>the operator's own file</rss>")
    config.write_text(config.read_text().replace(trains, ""), encoding="utf-8")
    assert collect(config) == 0
    assert not list(out.glob("trains.*"))
    assert (out / "notes.rss").exists() and listed(out) == [HEADLINE]


def test_a_store_moved_to_another_machine_publishes_the_same_feeds(tmp_path: Path):
    config = desk(tmp_path / "old")
    assert collect(config) == 0
    moved = tmp_path / "new"
    (moved / "data").mkdir(parents=True)
    shutil.copy(tmp_path / "old" / "data" / "desk.db", moved / "data" / "desk.db")
    shutil.copy(config, moved / "feeds.yaml")
    assert collect(moved / "feeds.yaml") == 0
    assert files(moved / "out") == files(tmp_path / "old" / "out")
    assert listed(moved / "out") == [HEADLINE]
