"""Seed articles: the news-wire text shape becomes Articles; a folder is scanned by stamp."""

from __future__ import annotations

import html
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import Source
from aggregator.errors import SeedError
from aggregator.models import Article
from aggregator.seeds import parse_seed, read_seed, scan_folder, seed_id
from tests.builders import FIXTURES, ROOT, SHARED_SEEDS

GOOD = FIXTURES / "seeds" / "good"
BROKEN = FIXTURES / "seeds" / "broken"
ISTANBUL = "Europe/Istanbul"
# The sample sits beside the checkout; a git worktree nests the checkout one level deeper.
SAMPLE = next(
    (p for p in (SHARED_SEEDS, *(d / "shared" / "seeds" for d in ROOT.parents)) if p.is_dir()),
    SHARED_SEEDS,
)


def seed_source(folder: Path, *, timezone: str = ISTANBUL, **options: str) -> Source:
    return Source(name="desk", path=folder, timezone=timezone, **options)


def read(file: Path, *, timezone: str = ISTANBUL, **options: str) -> Article:
    source = seed_source(file.parent, timezone=timezone, **options)
    return read_seed(file, folder=file.parent, source=source)


def parse(text: str, *, timezone: str = ISTANBUL) -> Article:
    return parse_seed(
        text,
        source="desk",
        path="/seeds/story.txt",
        guid="story.txt",
        timezone=ZoneInfo(timezone),
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def paragraphs(html_text: str) -> list[str]:
    inner = html_text.removeprefix("<p>").removesuffix("</p>")
    return [html.unescape(p) for p in inner.split("</p><p>")]


# --- the real sample --------------------------------------------------------------------


def test_the_anadolu_sample() -> None:
    if not SAMPLE.is_dir():
        pytest.skip(f"{SAMPLE} is absent")
    file = sorted(SAMPLE.glob("*.txt"))[0]
    article = read(file)
    lines = file.read_text(encoding="utf-8").splitlines()
    lede = html.escape(lines[1].strip())

    assert article.title == lines[0].strip()
    assert article.section == "World"
    assert article.author == "Anadolu Agency"
    assert article.published == utc(2022, 10, 31, 7, 31)
    assert article.updated == utc(2022, 10, 31, 7, 40)
    assert len(article.related) == 5
    assert article.content.count(lede) == 1
    assert article.summary == f"<p>{lede}</p>"
    for headline in article.related:
        assert html.escape(headline) not in article.content
    assert article.guid == file.name
    assert article.path == str(file.absolute())
    assert article.link == ""  # publish gives it its permalink page
    assert article.tags == ()


# --- our fixtures, one variant each -----------------------------------------------------


def test_non_ascii_story_with_tags_between_dates_and_a_repeated_lede() -> None:
    article = read(GOOD / "cesme_ferry.txt")
    assert article.title == "Ferry link between Çeşme and Chios to run daily through the summer"
    assert (article.section, article.author) == ("Türkiye", "Anadolu Agency")
    assert article.tags == ("Tourism", "İzmir")
    # one-digit hour and day; Modified before Published: dates are found by label
    assert article.published == utc(2023, 7, 4, 6, 5)
    assert article.updated == utc(2023, 7, 4, 6, 40)
    assert article.related == (
        "Istanbul's Boğaziçi bridge to close for two nights of maintenance",
        "Heatwave warning issued for western provinces",
        "Ağrı opens its new ski centre a month early",
    )
    body = paragraphs(article.content)
    assert len(body) == 5
    assert body[0].startswith("Ferry operators in the Aegean resort town of Çeşme")
    assert body.count(paragraphs(article.summary)[0]) == 1


def test_crlf_line_endings_and_a_two_line_standfirst() -> None:
    file = GOOD / "rate_decision_crlf.txt"
    assert b"\r\n" in file.read_bytes()
    article = read(file)
    assert article.title == "Central bank holds policy rate steady for third month"
    assert article.published == utc(2023, 3, 23, 11, 0)
    assert article.updated == utc(2023, 3, 23, 11, 25)
    assert paragraphs(article.summary) == [
        "The bank said inflation expectations had improved but remained above target.",
        "Economists had broadly expected the decision.",
    ]
    body = paragraphs(article.content)
    # the standfirst line the body leaves out leads the content; the repeated one is kept once
    assert body[0] == "Economists had broadly expected the decision."
    assert body.count(paragraphs(article.summary)[0]) == 1
    assert len(body) == 5
    assert not any("\r" in p for p in [*body, article.title, *article.related])
    assert article.related == (
        "Lira steady against dollar after rate decision",
        "Gold prices ease in early trading",
    )


def test_a_bom_no_standfirst_and_no_modified_date() -> None:
    file = GOOD / "storm_bom.txt"
    assert file.read_bytes().startswith(b"\xef\xbb\xbf")
    article = read(file)
    assert article.title == "Fishing fleet returns early as storm closes Black Sea ports"
    assert article.summary == ""
    assert article.updated is None
    assert article.published == utc(2022, 11, 12, 3, 15)
    assert len(paragraphs(article.content)) == 3
    assert article.related == ("Anchovy prices climb at Istanbul fish markets",)


def test_blank_lines_between_every_line_and_no_related_headlines() -> None:
    article = read(GOOD / "mosaics_blank_lines.txt")
    assert (article.section, article.author) == ("Culture", "Anadolu Agency")
    assert article.published == utc(2022, 12, 2, 8, 30)
    assert article.updated == utc(2022, 12, 2, 9, 10)
    assert article.related == ()
    assert len(paragraphs(article.content)) == 3
    assert "<p></p>" not in article.content


def test_trailing_spaces_are_dropped_and_plain_text_is_escaped() -> None:
    article = read(GOOD / "summit_trailing_spaces.txt")
    assert article.title == "Tech firms pledge R&D spending boost at Ankara summit"
    assert (article.section, article.author) == ("Technology", "Anadolu Agency")
    assert article.related == ("Startup fund reaches its first close",)
    assert article.updated is None
    assert "<script>" not in article.content
    assert "&lt;script&gt;" in article.content
    assert "research &amp; development" in article.content
    assert all(p == p.strip() for p in paragraphs(article.content))


def test_local_times_follow_daylight_saving_time() -> None:
    summer = read(GOOD / "ferry_summer_dst.txt", timezone="America/New_York")
    winter = read(GOOD / "mosaics_blank_lines.txt", timezone="America/New_York")
    assert summer.published == utc(2023, 7, 14, 22, 20)  # 18:20 EDT, UTC-4
    assert winter.published == utc(2022, 12, 2, 16, 30)  # 11:30 EST, UTC-5
    assert read(GOOD / "ferry_summer_dst.txt").published == utc(2023, 7, 14, 15, 20)


def test_the_fallback_encoding_decodes_what_utf8_cannot() -> None:
    article = read(BROKEN / "windows_1254.txt", encoding="cp1254")
    assert article.title == "Çeşme marina expands berths for winter season"
    assert "Kuşadası" in article.content


@pytest.mark.parametrize(
    "value",
    [
        "10:31 | 31 October 2022",
        "10:31|31 October 2022",
        "  10:31  |  31   october 2022 ",
        "10.31 | 31 Oct 2022",
        "10:31 | 31 Oct. 2022",
    ],
)
def test_date_spellings_are_read_leniently(value: str) -> None:
    article = parse(f"Headline\n- World\n- Agency\n- Published Date: {value}\nBody.\n")
    assert article.published == utc(2022, 10, 31, 7, 31)


def test_body_bullets_between_paragraphs_stay_body() -> None:
    article = parse("H\n- World\n- Agency\n- Published Date: 1:00 | 1 May 2023\nA.\n- b\nC.\n- D\n")
    assert paragraphs(article.content) == ["A.", "- b", "C."]
    assert article.related == ("D",)


def test_control_characters_are_dropped_before_they_reach_a_feed_writer() -> None:
    article = parse("Head\x1bline\n- W\n- A\n- Published Date: 1:00 | 1 May 2023\nA\x0bB.\n")
    assert (article.title, article.content) == ("Headline", "<p>AB.</p>")


# --- ids --------------------------------------------------------------------------------


def test_the_id_depends_on_source_normalised_headline_and_utc_day_only() -> None:
    day = utc(2023, 5, 1, 9, 0)
    same = seed_id("desk", "Bank holds rate", day)
    assert re.fullmatch(r"[0-9a-f]{16}", same), same
    assert seed_id("desk", "  BANK holds rate!", utc(2023, 5, 1, 23, 0)) == same
    assert seed_id("other", "Bank holds rate", day) != same
    assert seed_id("desk", "Bank cuts rate", day) != same
    assert seed_id("desk", "Bank holds rate", utc(2023, 5, 2, 9, 0)) != same

    article = parse("Bank holds rate\n- E\n- A\n- Published Date: 12:00 | 1 May 2023\nOne.\n")
    edited = parse("Bank holds rate\n- E\n- A\n- Published Date: 12:00 | 1 May 2023\nTwo.\n")
    assert article.id == edited.id == same
    assert article.content != edited.content


# --- broken files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "reason"),
    [
        ("empty.txt", {}, "empty file"),
        ("no_headline.txt", {}, "no headline"),
        ("no_published_date.txt", {}, "Published Date"),
        ("no_metadata.txt", {}, "no metadata block"),
        ("malformed_date.txt", {}, "malformed Published Date '25:10 | 31 October 2022'"),
        ("binary.txt", {}, "binary file"),
        ("windows_1254.txt", {}, "cannot decode as utf-8"),
        ("windows_1254.txt", {"encoding": "ascii"}, "cannot decode as utf-8 or ascii"),
        ("binary.txt", {"encoding": "latin-1"}, "binary file"),
    ],
)
def test_a_broken_file_is_a_seed_error_naming_path_and_reason(
    name: str, options: dict[str, str], reason: str
) -> None:
    file = BROKEN / name
    with pytest.raises(SeedError) as caught:
        read(file, **options)
    error = caught.value
    assert error.path == str(file.absolute())
    assert reason in error.reason
    assert str(error).startswith(f"desk: {file.absolute()}: ")
    assert "\n" not in str(error)


def test_an_unreadable_path_is_a_seed_error(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(SeedError, match="cannot read: Is a directory"):
        read(tmp_path / "folder.txt")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (" \n\t\r\n\n", "empty file"),
        ("H\n- World\n- Agency\n- Published Date: 10:31 | 31 Octember 2022\nB.\n", "malformed"),
        ("H\n- World\n- Agency\n- Published Date: 10:31 | 31 February 2022\nB.\n", "malformed"),
        ("H\n- World\n- Modified Date: 10:31 | 1 May 2023\nB.\n", "no '- Published Date"),
        ("H\n- Published Date: 1:00 | 1 May 2023\n- Published Date: 2:00 | 1 May 2023\n", "more"),
    ],
)
def test_text_not_in_the_seed_shape(text: str, reason: str) -> None:
    with pytest.raises(SeedError, match=reason):
        parse(text)


# --- folders ----------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    desk = tmp_path / "desk"
    shutil.copytree(GOOD, desk)
    return desk


def rewrite(file: Path, text: str) -> None:
    """Write ``text`` and move the mtime on, so the stamp changes even on a coarse clock."""
    before = file.stat().st_mtime_ns
    file.write_text(text, encoding="utf-8")
    os.utime(file, ns=(before + 10**9, before + 10**9))


def test_first_pass_reads_every_file_and_stamps_it(folder: Path) -> None:
    scan = scan_folder(seed_source(folder), {})
    names = sorted(p.name for p in GOOD.glob("*.txt"))
    assert [a.guid for a in scan.articles] == names
    assert sorted(scan.stamps) == names
    assert (scan.errors, scan.unchanged) == ((), 0)


def test_unchanged_files_are_not_read_again(folder: Path) -> None:
    source = seed_source(folder)
    first = scan_folder(source, {})
    # Garble a file without changing its stamp: a re-read would report it as binary.
    file = folder / "storm_bom.txt"
    stat = file.stat()
    file.write_bytes(b"\x00" * stat.st_size)
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    again = scan_folder(source, first.stamps)
    assert again.articles == ()
    assert again.errors == ()
    assert again.unchanged == len(first.stamps)
    assert dict(again.stamps) == dict(first.stamps)
    assert [e.reason for e in scan_folder(source, {}).errors] == ["binary file"]


def test_a_new_file_is_read_alone(folder: Path) -> None:
    source = seed_source(folder)
    first = scan_folder(source, {})
    (folder / "late.txt").write_text(
        "Late story\n- World\n- Agency\n- Published Date: 23:50 | 1 May 2023\nBody.\n",
        encoding="utf-8",
    )
    scan = scan_folder(source, first.stamps)
    assert [a.guid for a in scan.articles] == ["late.txt"]
    assert scan.unchanged == len(first.stamps)
    assert set(scan.stamps) == {*first.stamps, "late.txt"}


def test_an_edited_file_keeps_its_guid_and_id(folder: Path) -> None:
    source = seed_source(folder)
    first = scan_folder(source, {})
    before = next(a for a in first.articles if a.guid == "storm_bom.txt")
    file = folder / "storm_bom.txt"
    rewrite(file, file.read_text(encoding="utf-8-sig").replace("Monday", "Tuesday evening"))

    scan = scan_folder(source, first.stamps)
    (after,) = scan.articles
    assert (after.guid, after.id) == (before.guid, before.id)
    assert "Tuesday evening" in after.content and after.content != before.content
    assert scan.stamps["storm_bom.txt"] != first.stamps["storm_bom.txt"]
    assert scan.unchanged == len(first.stamps) - 1

    rewrite(file, file.read_text(encoding="utf-8").replace("Fishing fleet", "Trawlers"))
    (retitled,) = scan_folder(source, scan.stamps).articles
    assert retitled.guid == before.guid
    assert retitled.title.startswith("Trawlers")


def test_a_deleted_file_drops_out_of_the_stamps(folder: Path) -> None:
    source = seed_source(folder)
    first = scan_folder(source, {})
    (folder / "storm_bom.txt").unlink()
    scan = scan_folder(source, first.stamps)
    assert "storm_bom.txt" not in scan.stamps
    assert (scan.articles, scan.errors) == ((), ())
    assert scan.unchanged == len(first.stamps) - 1


def test_broken_files_are_reported_every_pass_and_the_good_ones_still_come(
    folder: Path,
) -> None:
    for file in BROKEN.iterdir():
        shutil.copy2(file, folder / f"zz_{file.name}")
    source = seed_source(folder)
    first = scan_folder(source, {})
    good = sorted(p.name for p in GOOD.glob("*.txt"))
    assert [a.guid for a in first.articles] == good
    assert sorted(first.stamps) == good
    assert sorted(Path(e.path).name for e in first.errors) == sorted(
        f"zz_{p.name}" for p in BROKEN.glob("*.txt")
    )

    again = scan_folder(source, first.stamps)
    assert again.articles == ()
    assert len(again.errors) == len(first.errors)


def test_the_glob_picks_the_files(folder: Path) -> None:
    (folder / "README.md").write_text("not a story", encoding="utf-8")
    nested = folder / "archive"
    nested.mkdir()
    shutil.copy2(GOOD / "storm_bom.txt", nested / "old.txt")
    flat = scan_folder(seed_source(folder), {})
    deep = scan_folder(seed_source(folder, glob="**/*.txt"), {})
    assert "README.md" not in flat.stamps and "archive/old.txt" not in flat.stamps
    assert "archive/old.txt" in deep.stamps
    assert (flat.errors, deep.errors) == ((), ())


def test_a_missing_folder_is_a_seed_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SeedError) as caught:
        scan_folder(seed_source(missing), {})
    assert (caught.value.path, caught.value.reason) == (str(missing), "folder not found")
