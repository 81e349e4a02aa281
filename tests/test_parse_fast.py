"""The lxml fast path's contract: a document it accepts gives the Articles feedparser's
would, field for field; everything else it declines, with a reason, to feedparser."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from feedparser.datetimes import _parse_date
from feedparser.urls import _urljoin
from hypothesis import HealthCheck, example, find, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from aggregator.collector import collect
from aggregator.config import FetchConfig, load_config
from aggregator.fetch import Fetcher
from aggregator.models import FetchResult
from aggregator.parse import fast, parse_feed
from aggregator.parse.fast import cdata, dates, fields
from aggregator.store import open_store
from aggregator.xml import XMLSyntaxError, parse_xml
from bench.parse_diff import compare
from bench.workload import change_feeds, generate_feeds

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feeds"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
URL = "https://news.example/feeds/main.xml"
NAMESPACES = (
    'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:x="http://x.example/ns" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
)


def fetched(body: str | bytes, ctype: str = "application/rss+xml", url: str = URL) -> FetchResult:
    content = body.encode("utf-8") if isinstance(body, str) else body
    return FetchResult(url=url, status=200, content=content, headers={"content-type": ctype})


def rss(items: str, *, channel: str = "", base: str = "") -> str:
    return (
        f'<rss version="2.0" {NAMESPACES}><channel{base}><title>Desk</title>'
        f"<link>/home</link>{channel}{items}</channel></rss>"
    )


def atom(entries: str, *, base: str = "") -> str:
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom"{base}><title>Desk</title><id>urn:d</id>'
        f"{entries}</feed>"
    )


def agrees(body: str | bytes, **kwargs: str) -> str:
    """The decline reason ("" when accepted); fails when the two paths disagree."""
    outcome = compare(fetched(body, **kwargs))
    assert outcome.verdict != "disagrees", outcome.reason
    return outcome.reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("rss20.xml", ""),
        ("atom10.xml", fast.Decline.TEXT_TYPE),  # an XHTML content
        ("rss091.xml", fast.Decline.FORMAT),
        ("rss10.rdf", fast.Decline.FORMAT),
    ],
)
def test_the_fixtures_agree(name: str, reason: str) -> None:
    assert agrees((FIXTURES / name).read_bytes()) == reason


def test_the_benchmark_workload_is_read_by_the_fast_path_and_agrees() -> None:
    workload = generate_feeds(4, 12, seed=3)
    changed, names = change_feeds(workload, 0.5, new_entries=3)
    for before, after in zip(workload.feeds, changed.feeds, strict=True):
        first = parse_feed("w", fetched(before.body), now=NOW)
        assert first.declined == "" and len(first.articles) == 12
        assert agrees(before.body) == ""
        # the next pass: known entries are cut out before either parser runs
        outcome = compare(fetched(after.body), known=first.item_keys)
        assert outcome.verdict == "accepted", outcome.reason
    assert names


AWKWARD = [
    # nested and odd xml:base, relative and empty hrefs, a javascript: base ignored
    atom(
        '<entry xml:base="sub/"><id>x/1</id><title type="html">A &amp;lt;b&amp;gt;</title>'
        '<link href=""/><link rel="enclosure" href="a.mp3" length="12" type="Audio/MPEG"/>'
        '<content type="html" xml:base="../up/">&lt;a href="p"&gt;p&lt;/a&gt;</content></entry>'
        '<entry xml:base="javascript:alert(1)"><id>urn:2</id><link href="rel"/>'
        "<updated>2024-02-30T10:00:00Z</updated></entry>",
        base=' xml:base="http://base.example/a/b/"',
    ),
    # guid as link, isPermaLink spelled other ways, CDATA, entities, categories
    rss(
        "<item><guid>g/1</guid><title><![CDATA[Cdata <b>t</b>]]></title>"
        '<category domain="d"></category><category>One</category><category>One</category>'
        "<description>&lt;p&gt;Hi &amp;amp; bye&lt;/p&gt;</description></item>"
        '<item><guid isPermaLink="True">g/2</guid><link>a?b=1&amp;amp;c=2</link>'
        "<pubDate>Sun, 31 Dec 1899 25:61:00 +9999</pubDate><author>a@b.example (Ay)</author>"
        '<enclosure url="" length="x"/><enclosure url="m.mp3" length=" 5 "/></item>',
        base=' xml:base="/chan/"',
    ),
    # Latin-1-read UTF-8, cp1252 code points, mixed namespaces, an unknown element
    rss(
        "<item><title>CafÃ© &#x80;&#x99;</title><dc:creator>Zoë</dc:creator>"
        "<x:note><x:inner>n</x:inner></x:note><atom:link href='/x' rel='alternate'/>"
        "<content:encoded>&lt;p&gt;body&lt;/p&gt;</content:encoded><dc:date>2024-01-01</dc:date>"
        "</item>"
    ),
    # DEL and C1 controls by reference, the only controls a strict XML parse lets through
    rss(
        "<item><guid>g/3</guid><description>a&#127;b&#x81;c&#x85;</description>"
        "<content:encoded>&lt;p&gt;x&#x7f;y &#x9f;&lt;/p&gt;&#127;</content:encoded></item>"
        "<item><guid>g/4</guid><description><![CDATA[<p>plain</p>]]>&#127;</description>"
        '</item><item><guid>g/5</guid><description type="text">t&#127;&#9;u</description></item>'
    ),
]


@pytest.mark.parametrize("body", AWKWARD)
def test_awkward_documents_are_accepted_and_agree(body: str) -> None:
    assert agrees(body) == ""


def test_controls_a_strict_parse_lets_through_are_dropped_from_its_html() -> None:
    parsed = parse_feed("desk", fetched(AWKWARD[-1]), now=NOW)
    assert parsed.declined == ""
    html = [part for a in parsed.articles for part in (a.summary, a.content)]
    # (&#x9f; is read as cp1252's "Ÿ", &#x85; as a space)
    assert html == ["abc", "<p>xy \u0178</p>", "<p>plain</p>", "", "t\tu", ""]


@pytest.mark.parametrize(
    ("body", "ctype", "reason"),
    [
        (rss("<item><title>t</title></item>"), "text/plain", fast.Decline.MEDIA_TYPE),
        (rss("<item><title>t &nbsp;</title></item>"), "", fast.Decline.NOT_WELL_FORMED),
        (rss("<item><title>a</title><title>b</title></item>"), "", fast.Decline.REPEATED),
        (
            rss(
                '<item><media:content xmlns:media="http://search.yahoo.com/mrss/" url="u"/></item>'
            ),
            "",
            fast.Decline.ELEMENT,
        ),
        (
            atom(
                '<entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div>'
                "</content></entry>"
            ),
            "",
            fast.Decline.TEXT_TYPE,
        ),
        (rss("<item><description>a <!-- c --> b</description></item>"), "", fast.Decline.MIXED),
        (rss("<item><date>2024-01-01</date></item>"), "", fast.Decline.ELEMENT),  # is "updated"
        (
            rss('<item><title xmlns="http://x.example/">t</title></item>'),
            "",
            fast.Decline.NAMESPACE,
        ),
        (rss('<item x:href="h"><title>t</title></item>'), "", fast.Decline.ATTRIBUTE),
        ('<rss version="0.91"><channel><title>t</title></channel></rss>', "", fast.Decline.FORMAT),
        ('<rss version="2.0"><channel/><item/></rss>', "", fast.Decline.PLACEMENT),
    ],
)
def test_what_the_fast_path_declines(body: str, ctype: str, reason: str) -> None:
    assert agrees(body, ctype=ctype or "application/rss+xml").startswith(reason)


# --- generated documents ------------------------------------------------------------------

TEXTS = st.sampled_from(
    [
        "",
        "  spaced  out ",
        "a &amp; b",
        "&lt;b&gt;bold&lt;/b&gt; &amp;amp;",
        "<![CDATA[<p>c &amp; <a href='r'>d</a></p>]]>",
        "<![CDATA[a]]]]><![CDATA[>b]]>]",
        "<!-- <![CDATA[ --><![CDATA[<?pi x?> <!-- c -->\r\nline\r]]>",
        "<?pi <![CDATA[?>t<![CDATA[]]>",
        "CafÃ© Ã¼ber",
        "&#x80;&#x93;quoted&#x94;",
        "http://abs.example/p?q=1&amp;r=2",
        "rel/path?x=1#f",
        "../up",
        "mailto:a@b.example",
        "javascript:alert(1)",
        "http://[bad/x",
        "Mon, 01 Apr 2024 10:00:00 GMT",
        "2024-04-01T10:00:00+02:00",
        "yesterday",
    ]
)
BASES = st.sampled_from(
    ["", ' xml:base="http://b.example/d/"', ' xml:base="sub/"', ' xml:base=""', ' base="/r/"']
)
ATTRS = st.sampled_from(
    [
        "",
        ' type="html"',
        ' type="text"',
        ' type="xhtml"',
        ' type="text/html"',
        ' isPermaLink="false"',
        ' rel="enclosure" href="e.mp3"',
        ' rel="self" href="s"',
        ' href=""',
        ' href="h/1"',
        ' url="u.mp3" length="3"',
        ' term="T" label="L"',
        ' domain="d"',
        ' mode="escaped"',
        ' src="s"',
    ]
)
RSS_NAMES = st.sampled_from(
    [
        "title",
        "link",
        "description",
        "guid",
        "pubDate",
        "category",
        "enclosure",
        "author",
        "comments",
        "dc:creator",
        "dc:date",
        "dc:subject",
        "content:encoded",
        "atom:link",
        "atom:summary",
        "atom:id",
        "atom:updated",
        "x:extra",
        "date",
        "source",
        "itunes:summary",
    ]
)
ATOM_NAMES = st.sampled_from(
    [
        "title",
        "link",
        "id",
        "published",
        "updated",
        "summary",
        "content",
        "category",
        "author",
        "rights",
        "x:extra",
        "pubDate",
        "contributor",
        "description",
    ]
)


@st.composite
def child(draw: st.DrawFn, names: st.SearchStrategy[str]) -> str:
    name = draw(names)
    attrs = draw(ATTRS) + draw(BASES)
    if name in ("author", "contributor") and draw(st.booleans()):
        inner = f"<name>{draw(TEXTS)}</name><email>e@x.example</email>"
    elif draw(st.integers(0, 9)) == 0:
        inner = f"x<b xmlns='http://www.w3.org/1999/xhtml'>{draw(TEXTS)}</b>"
    else:
        inner = draw(TEXTS)
    if name.startswith("x:"):
        attrs = ""
    return f"<{name}{attrs}>{inner}</{name}>"


@st.composite
def document(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        items = "".join(
            f"<item{draw(BASES)}>{''.join(draw(st.lists(child(RSS_NAMES), max_size=7)))}</item>"
            for _ in range(draw(st.integers(1, 3)))
        )
        return rss(items, base=draw(BASES))
    entries = "".join(
        f"<entry{draw(BASES)}>{''.join(draw(st.lists(child(ATOM_NAMES), max_size=7)))}</entry>"
        for _ in range(draw(st.integers(1, 3)))
    ).replace("<x:extra", "<x:extra xmlns:x='http://x.example/ns'")
    return atom(entries, base=draw(BASES))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_generated_documents_agree_when_accepted(body: str) -> None:
    agrees(body)


_SECTIONS = st.sampled_from(
    ["<![CDATA[", "]]>", "]", ">", "<", "&amp;", "<!--", "-->", "<?p", "?>", "x", "\r\n", "&"]
)


@given(st.lists(_SECTIONS, max_size=12).map("".join))
@example("]]<![CDATA[]]>>")  # an empty section between "]]" and ">"
@example("<![CDATA[]]>")  # lxml: '' for the empty section, None for no text at all
def test_cdata_read_as_text_gives_the_same_text_or_the_same_refusal(inner: str) -> None:
    data = f"<r><!-- c --><a>{inner}</a><?p <![CDATA[ ?><b>t<![CDATA[x]]></b></r>".encode()
    try:
        ElementTree.fromstring(data)  # a document read whole, as the known-scan's expat does
    except ElementTree.ParseError:
        return
    texts = []
    for body in (data, cdata.as_text(data)):
        try:
            texts.append([(e.text or "", e.tail or "") for e in parse_xml(body).root.iter()])
        except XMLSyntaxError:
            texts.append(None)
    assert texts[0] == texts[1]


def test_cdata_sections_are_written_as_character_data_unless_a_bracket_could_close_one() -> None:
    data = b"<r><a><![CDATA[x < y & z]]></a><b>]]<![CDATA[]]>></b><c><![CDATA[a]b]]></c></r>"
    assert cdata.as_text(data) == (
        b"<r><a>x &lt; y &amp; z</a><b>]]<![CDATA[]]>></b><c><![CDATA[a]b]]></c></r>"
    )


def test_the_generator_makes_documents_the_fast_path_accepts_and_declines() -> None:
    """Else the test above would pass while comparing nothing, or only accepted ones."""
    searching = settings(max_examples=300, database=None, deadline=None)
    accepted = find(document(), lambda body: agrees(body) == "", settings=searching)
    declined = find(document(), lambda body: agrees(body) != "", settings=searching)
    assert agrees(accepted) == "" != agrees(declined)


def test_a_pass_reports_and_logs_why_a_feed_went_to_feedparser(
    tmp_path: Path, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/rss2").respond_with_data(
        rss("<item><guid>a</guid><title>Fast</title></item>"), content_type="application/rss+xml"
    )
    httpserver.expect_request("/rss091").respond_with_data(
        '<rss version="0.91"><channel><title>Old</title><item><title>Slow</title>'
        "<link>https://old.example/1</link></item></channel></rss>",
        content_type="application/rss+xml",
    )
    config_file = tmp_path / "feeds.yaml"
    config_file.write_text(
        "store: data/test.db\npublish: {dir: out, base_url: 'http://127.0.0.1:8080/'}\n"
        f"sources:\n  - {{name: new, url: '{httpserver.url_for('/rss2')}'}}\n"
        f"  - {{name: old, url: '{httpserver.url_for('/rss091')}'}}\n",
        encoding="utf-8",
    )
    config = load_config(config_file)
    store = open_store(str(tmp_path / "data" / "test.db"))
    fetcher = Fetcher(FetchConfig())
    try:
        with caplog.at_level(logging.DEBUG, logger="aggregator.collector"):
            report = collect(config, store, fetcher, now=NOW)
    finally:
        fetcher.close()
        store.close()
    assert [(s.source, s.new, s.declined) for s in report.sources] == [
        ("new", 1, ""),
        ("old", 1, fast.Decline.FORMAT),
    ]
    assert f"old: parsed by feedparser: the fast path declined ({fast.Decline.FORMAT})" in (
        caplog.text
    )


_URI_PARTS = st.sampled_from(
    [
        *("urn", "tag", "HTTP", "https", "svn+ssh", "a,b", "mailto", "1x", ":", "//", "/"),
        *("x", ".", " ", "\t", "\n", "[", "?", "#", "é", "@", "%41"),
    ]
)


@given(st.lists(_URI_PARTS, max_size=8).map("".join), st.sampled_from(["", URL, "urn:base"]))
def test_an_iri_joins_to_what_feedparser_joins_it_to(uri: str, base: str) -> None:
    assert fields.join(base, uri) == _urljoin(base, uri)


@pytest.mark.parametrize(
    "uri", ["urn:///x", "tag://x", "HTTP:x", "https:x", "svn+ssh:x", "file:x", " urn:x", "ur\tn:x"]
)
def test_a_scheme_urljoin_joins_on_or_a_uri_feedparser_rewrites_is_joined(uri: str) -> None:
    for base in (URL, "http://news.example/a/", "svn+ssh://h/a/", "file:///a/"):
        assert fields.join(base, uri) == _urljoin(base, uri)


@pytest.mark.parametrize(
    "uri",
    ["urn:wire:f0001-e00000", "tag:news.example,2024:1", "mailto:desk@news.example", "x.y-z+1:a"],
)
def test_an_id_with_a_scheme_urljoin_never_joins_is_kept_as_written(uri: str) -> None:
    assert fields.join(URL, uri) == _urljoin(URL, uri) == uri


_DATE_PARTS = st.sampled_from(
    [
        *("Mon, ", "sat, ", "THU, ", "Sun,", "Fri "),
        *("Jan", "feb", "OCT", "Dez", "jun", "ſep"),
        *("02", "31", "29", "00", "9", " 2026", " 1899", " 9999", " 0001", " 26", "-", "T", "t"),
        *(":", "10:13:00", "23:59:60", "24:00:00", "25:61:00", "10:13"),
        *(" +0000", " -0530", " +9999", " GMT", " gmt", " EST", " Z", "Z", "+05:30", "-00:00"),
        *(" ", "  ", "\t", ".5", "2026-03-02", "2024-02-29", "2023-02-29", "0000-01-01"),
    ]
)
_DATES = (
    st.lists(_DATE_PARTS, max_size=9).map("".join)
    | st.builds(
        "{:%a, %d %b %Y %H:%M:%S} {}".format,
        st.datetimes(),
        st.sampled_from(["+0000", "-1200", "+1400", "GMT", "-0000", "+0530"]),
    )
    | st.builds(
        "{:%Y-%m-%dT%H:%M:%S}{}".format,
        st.datetimes(),
        st.sampled_from(["Z", "+00:00", "-12:00", "+14:00", "z", "+05:30", "-09:30"]),
    )
)


@settings(max_examples=500)
@given(_DATES)
def test_a_date_reads_as_feedparser_reads_it(value: str) -> None:
    assert dates.parse_date(value) == _parse_date(value)


def test_the_workload_dates_read_as_feedparser_reads_them() -> None:
    read = 0
    for feed in generate_feeds(6, 50, seed=5).feeds:
        quick = fast.parse(feed.body.partition(b"?>")[2], URL, "application/xml")
        assert isinstance(quick, fast.FastFeed)
        for entry in quick.entries:
            assert entry.published_parsed == _parse_date(entry.published) is not None
            assert entry.updated_parsed == _parse_date(entry.updated)
            read += 1
    assert read == 300
