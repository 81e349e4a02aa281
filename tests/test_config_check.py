"""`check` catches what `collect` would trip over and warns about what works but is unwise."""

from __future__ import annotations

from pathlib import Path

from aggregator.cli import main
from aggregator.config import load_config
from tests.builders import feeds_yaml


def test_a_missing_seed_folder_and_an_uncreatable_publish_folder_are_problems(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "plain-file").write_text("not a folder", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("a file where a folder should be", encoding="utf-8")
    path = feeds_yaml(
        tmp_path,
        """
        store: plain-file/wiredesk.db
        publish:
          dir: plain-file/feeds
        sources:
          - name: wire
            url: https://example.org/rss
          - name: desk
            path: no-such-folder
          - name: notes
            path: notes.txt
        """,
    )
    assert main(["check", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}:1: store: cannot create {tmp_path / 'plain-file'}: it is a file, not a folder",
        f"{path}:3: publish.dir: cannot create {tmp_path / 'plain-file' / 'feeds'}: "
        f"{tmp_path / 'plain-file'} is a file, not a folder",
        f"{path}:8: sources[1].path: seed folder {tmp_path / 'no-such-folder'} does not exist",
        f"{path}:10: sources[2].path: seed folder {tmp_path / 'notes.txt'} is not a folder",
    ]


def test_feeds_polled_more_than_once_a_minute_get_a_warning(tmp_path: Path, capsys) -> None:
    (tmp_path / "seeds").mkdir()
    path = feeds_yaml(
        tmp_path,
        """
        defaults: {interval: 30s}
        sources:
          - {name: wire, url: "https://example.org/rss"}
          - {name: fast, url: "https://example.org/fast", interval: 10s}
          - {name: calm, url: "https://example.org/calm", interval: 5m}
          - {name: seeds, path: seeds, interval: 5s}
        """,
    )
    assert main(["check", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"OK {path}: 4 sources")
    why = "fetching a feed that often rarely finds news and may get the desk blocked"
    assert err.splitlines() == [
        f"{path}:1: defaults.interval: warning: 30s is under 1m: {why}",
        f"{path}:4: sources[1].interval: warning: 10s is under 1m: {why}",
    ]


def test_a_usable_config_checks_clean(tmp_path: Path, capsys) -> None:
    (tmp_path / "seeds").mkdir()
    path = feeds_yaml(tmp_path, "sources:\n  - {name: seeds, path: seeds}\n")
    assert main(["check", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (f"OK {path}: 1 source (0 feeds, 1 seed folder), 0 categories\n", "")


def test_a_postgresql_store_is_taken_as_written_and_is_no_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "seeds").mkdir()
    for scheme in ("postgresql", "postgres"):
        url = f"{scheme}://wiredesk@db.example/desk?options=-csearch_path%3Dwire"
        path = feeds_yaml(tmp_path, f"store: {url}\nsources:\n  - {{name: seeds, path: seeds}}\n")
        assert load_config(path).store == url
        assert main(["check", "--config", str(path)]) == 0
        assert capsys.readouterr().err == ""
