"""The benchmark workload: N feeds × M entries, a folder of seed articles, and the step
that "changes" some feeds between passes.

Everything is drawn from one seeded ``random.Random``, so the same parameters give
byte-identical feeds and seed files on every run. Half the feeds are RSS 2.0 and half
Atom; entry bodies are 1–3 KB of HTML with paragraphs, links, images and (in about a
third of them) relative URLs; about 10% of the entries retell a story another feed also
carries, under a headline with other case and punctuation.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from bench.prose import AGENCIES, Writer, slug

BASE_TIME = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SEED_ZONE = ZoneInfo("Europe/Istanbul")
SECTIONS = (
    "World",
    "Politics",
    "Business",
    "Economy",
    "Technology",
    "Science",
    "Health",
    "Culture",
    "Sports",
    "Environment",
)
# Words the benchmark's include-categories look for; each is in the vocabulary below.
TOPIC_WORDS = ("port", "grain", "election", "railway", "drought")
DUPLICATE_SHARE = 0.1
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """One generated feed entry; made by the generator, rendered into a feed body."""

    guid: str
    title: str
    link: str
    published: datetime  # aware, UTC
    section: str
    author: str
    summary: str  # plain text
    body: str  # HTML, 1–3 KB


@dataclass(frozen=True, slots=True, kw_only=True)
class Feed:
    """One served feed: its entries and the exact bytes and validators the server sends."""

    name: str
    kind: str  # "rss" or "atom"
    site: str  # the feed's home page; relative URLs in bodies resolve against it
    stories: tuple[Story, ...]
    version: int
    body: bytes
    etag: str
    last_modified: str  # an HTTP date

    @property
    def path(self) -> str:
        """The URL path the server answers this feed on."""
        return f"/{self.name}.xml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """Every feed of one benchmark run, in serving order."""

    feeds: tuple[Feed, ...]
    seed: int

    @property
    def entries(self) -> int:
        """How many entries all feeds carry together."""
        return sum(len(feed.stories) for feed in self.feeds)


def _variant(title: str, rng: random.Random) -> str:
    """The same headline with other case and punctuation; it normalises to the original."""
    words = title.split()
    index = rng.randrange(len(words))
    words[index] = f"‘{words[index]}’" if rng.random() < 0.5 else f'"{words[index]}"'
    if len(words) > 3 and rng.random() < 0.5:
        words.insert(rng.randint(2, len(words) - 1), "—")
    text = " ".join(words) + rng.choice(("", ".", "!", ":", " …"))
    return rng.choice((str.upper, str.lower, str.title))(text)


def _story(writer: Writer, feed: int, guid: str, title: str, published: datetime) -> Story:
    rng = writer.rng
    site = _site(feed)
    name = slug(title)[:60]
    return Story(
        guid=guid,
        title=title,
        link=f"{site}{name}-{guid.rsplit('-', 1)[-1]}",
        published=published,
        section=rng.choice(SECTIONS),
        author=rng.choice(AGENCIES),
        summary=writer.sentence(),
        body=writer.body(site, name),
    )


def _site(feed: int) -> str:
    return f"https://wire{feed % 50:02d}.example.net/"


def generate_feeds(feeds: int = 500, entries: int = 50, *, seed: int = 1) -> Workload:
    """Generate ``feeds`` feeds of ``entries`` entries each (even indexes RSS 2.0, odd Atom).

    About ``DUPLICATE_SHARE`` of the entries retell a story from a shared pool that other
    feeds also carry, with a reworded-case headline and a published time a few hours off.
    Returns the workload at version 0; raises ValueError for non-positive sizes.
    """
    if feeds < 1 or entries < 1:
        raise ValueError(f"feeds and entries must be positive; found {feeds} × {entries}")
    writer = Writer(random.Random(seed))
    rng = writer.rng
    pool_size = max(1, int(feeds * entries * DUPLICATE_SHARE / 3))
    pool = [
        (writer.headline(), _published(rng, rng.randrange(entries * 2))) for _ in range(pool_size)
    ]
    built = []
    for index in range(feeds):
        stories = []
        for position in range(entries):
            guid = f"f{index:04d}-e{position:05d}"
            if rng.random() < DUPLICATE_SHARE:
                title, when = rng.choice(pool)
                title = _variant(title, rng)
                when += timedelta(minutes=rng.randint(-180, 180))
            else:
                title, when = writer.headline(), _published(rng, position)
            stories.append(_story(writer, index, guid, title, when))
        stories.sort(key=lambda s: s.published, reverse=True)
        built.append(_feed(index, tuple(stories), version=0))
    return Workload(feeds=tuple(built), seed=seed)


def _published(rng: random.Random, position: int) -> datetime:
    return BASE_TIME - timedelta(hours=2 * position, minutes=rng.randrange(120))


def change_feeds(
    workload: Workload, fraction: float = 0.1, *, step: int = 1, new_entries: int = 5
) -> tuple[Workload, tuple[str, ...]]:
    """Give ``fraction`` of the feeds ``new_entries`` new entries at the top (the oldest
    drop off, so each feed keeps its length) and a new ETag and Last-Modified.

    ``step`` numbers successive changes so each draws other feeds and other entries.
    Returns the new workload and the names of the changed feeds.
    """
    rng = random.Random(f"{workload.seed}-change-{step}")
    writer = Writer(rng)
    count = max(1, round(len(workload.feeds) * fraction))
    chosen = set(rng.sample(range(len(workload.feeds)), count))
    feeds = list(workload.feeds)
    for index in sorted(chosen):
        feed = feeds[index]
        version = feed.version + 1
        fresh = tuple(
            _story(
                writer,
                index,
                f"f{index:04d}-v{version}-{k}",
                writer.headline() + f" ({step}.{k})",
                BASE_TIME + timedelta(hours=version, minutes=new_entries - k),
            )
            for k in range(new_entries)
        )
        stories = (fresh + feed.stories)[: len(feed.stories)]
        feeds[index] = _feed(index, stories, version=version)
    changed = tuple(workload.feeds[i].name for i in sorted(chosen))
    return replace(workload, feeds=tuple(feeds)), changed


def _feed(index: int, stories: tuple[Story, ...], *, version: int) -> Feed:
    kind = "rss" if index % 2 == 0 else "atom"
    name = f"feed-{index:04d}"
    site = _site(index)
    render = _render_rss if kind == "rss" else _render_atom
    body = render(name, site, stories).encode("utf-8")
    modified = BASE_TIME + timedelta(hours=version, seconds=index)
    return Feed(
        name=name,
        kind=kind,
        site=site,
        stories=stories,
        version=version,
        body=body,
        etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"',
        last_modified=format_datetime(modified, usegmt=True),
    )


def _render_rss(name: str, site: str, stories: Sequence[Story]) -> str:
    items = "".join(
        f"<item><title>{escape(s.title)}</title><link>{escape(s.link)}</link>"
        f'<guid isPermaLink="false">{s.guid}</guid>'
        f"<pubDate>{format_datetime(s.published)}</pubDate>"
        f"<category>{s.section}</category><dc:creator>{s.author}</dc:creator>"
        f"<description>{escape(s.summary)}</description>"
        f"<content:encoded><![CDATA[{s.body}]]></content:encoded></item>\n"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>'
        f"<title>Wire {name}</title><link>{site}</link>"
        f"<description>Stories from {site}</description><language>en</language>\n"
        f"{items}</channel></rss>\n"
    )


def _render_atom(name: str, site: str, stories: Sequence[Story]) -> str:
    entries = "".join(
        f"<entry><title>{escape(s.title)}</title><id>urn:wire:{s.guid}</id>"
        f"<link rel='alternate' href={quoteattr(s.link)}/>"
        f"<published>{s.published.isoformat()}</published>"
        f"<updated>{s.published.isoformat()}</updated>"
        f"<category term={quoteattr(s.section)}/><author><name>{s.author}</name></author>"
        f"<summary>{escape(s.summary)}</summary>"
        f'<content type="html">{escape(s.body)}</content></entry>\n'
        for s in stories
    )
    updated = max(s.published for s in stories).isoformat()
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{site}">'
        f"<title>Wire {name}</title><id>urn:wire:{name}</id><updated>{updated}</updated>"
        f"<link rel='alternate' href='{site}'/>\n{entries}</feed>\n"
    )


def write_seeds(folder: Path, count: int = 2000, *, seed: int = 1) -> list[Path]:
    """Write ``count`` seed articles into ``folder`` (created if missing), in the seed shape:
    headline, lede, the metadata bullets (section, agency, Europe/Istanbul dates), body
    paragraphs (sometimes repeating the lede) and trailing related-headline bullets.

    Returns the paths written, in order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    writer = Writer(random.Random(f"{seed}-seeds"))
    return [_write_seed(folder, writer, number) for number in range(count)]


def _write_seed(folder: Path, writer: Writer, number: int) -> Path:
    rng = writer.rng
    title = writer.headline()
    lede = writer.sentence()
    published = BASE_TIME - timedelta(minutes=37 * number + rng.randrange(30))
    lines = [
        title,
        lede,
        f"- {rng.choice(SECTIONS)}",
        f"- {rng.choice(AGENCIES)}",
        f"- Published Date: {_seed_date(published)}",
    ]
    if rng.random() < 0.6:
        lines.append(f"- Modified Date: {_seed_date(published + timedelta(minutes=45))}")
    if rng.random() < 0.1:
        lines.append(f"- {rng.choice(TOPIC_WORDS).title()}")
    body = [writer.paragraph() for _ in range(rng.randint(3, 7))]
    if rng.random() < 0.5:
        body.insert(rng.randint(0, 1), lede)
    lines += body
    lines += [f"- {writer.headline()}" for _ in range(rng.randint(0, 4))]
    path = folder / f"{number:05d}_{slug(title)[:40]}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _seed_date(moment: datetime) -> str:
    local = moment.astimezone(SEED_ZONE)
    return f"{local:%H:%M} | {local.day} {MONTHS[local.month - 1]} {local.year}"
