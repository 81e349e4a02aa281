"""parse_feed: the four feed formats, normalisation into Articles, sanitising, XML attacks."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
import xml.sax
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from aggregator import parse
from aggregator.errors import ParseError
from aggregator.models import Enclosure, FetchResult
from aggregator.parse import entries, known, parse_feed
from aggregator.parse.entries import feed_text, web_link
from aggregator.text import strip_control
from bench.workload import generate_feeds

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"


def result(
    body: bytes | str, *, url: str = "https://news.example/feeds/main.xml", ctype: str = ""
) -> FetchResult:
    content = body.encode("utf-8") if isinstance(body, str) else body
    return FetchResult(
        url=url,
        status=200,
        content=content,
        headers={"content-type": ctype or "application/rss+xml; charset=utf-8"},
    )


def rss(items: str, *, prolog: str = "", channel: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}<rss version="2.0"><channel>'
        f"<title>Test desk</title><link>https://news.example/</link>{channel}{items}"
        "</channel></rss>"
    )


def item(body: str, *, title: str = "A story", link: str = "/stories/1") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{body}</item>"


def only(feed: str | bytes, **kwargs: str):
    parsed = parse_feed("desk", result(feed, **kwargs), now=NOW)
    assert len(parsed.articles) == 1
    return parsed.articles[0]


def test_rss_091_with_netscape_doctype() -> None:
    parsed = parse_feed(
        "gazette",
        result((FEEDS / "rss091.xml").read_bytes(), url="http://gazette.example/rss.xml"),
        now=NOW,
    )
    assert parsed.title == "Harbour Gazette"
    assert [a.title for a in parsed.articles] == [
        "Lighthouse keeper retires after forty winters",
        "Fish market moves indoors",
    ]
    first = parsed.articles[0]
    assert first.link == first.guid == "http://gazette.example/2024/lighthouse.html"
    assert first.summary == "The lamp at Gull Point will be automated next spring."
    assert first.published == NOW  # no dates at all in RSS 0.91
    assert first.source == "gazette"


def test_rss_20_fields() -> None:
    parsed = parse_feed(
        "courier",
        result((FEEDS / "rss20.xml").read_bytes(), url="https://courier.example/rss"),
        now=NOW,
    )
    assert parsed.title == "Valley Courier — Regional"
    assert parsed.link == "https://courier.example/regional/"
    assert parsed.warnings == ()
    bridge, cider = parsed.articles
    assert bridge.title == "Bridge over the Amber reopens & traffic flows"
    assert bridge.guid == "courier-2024-0412"
    assert bridge.published == datetime(2024, 4, 12, 6, 30, tzinfo=UTC)
    assert bridge.updated is None
    assert bridge.author == "Mira Olsen"
    assert bridge.section == "Transport"
    assert bridge.tags == ("Transport", "Infrastructure")
    assert bridge.summary == "Engineers signed off the repairs overnight."
    assert '<a href="https://courier.example/regional/timetable" rel="noopener noreferrer">' in (
        bridge.content
    )
    assert 'src="https://courier.example/img/bridge.jpg"' in bridge.content
    assert bridge.enclosures == (
        Enclosure(url="https://courier.example/audio/bridge.mp3", type="audio/mpeg", length=482113),
    )
    assert cider.guid == cider.link == "https://courier.example/regional/cider"
    assert cider.summary == "<p>Pressing runs late into the evening.</p>"
    assert cider.content == ""
    assert len(bridge.id) == 32 and bridge.id != cider.id


def test_rss_10_rdf() -> None:
    parsed = parse_feed(
        "almanac",
        result((FEEDS / "rss10.rdf").read_bytes(), url="http://almanac.example/rss"),
        now=NOW,
    )
    (frost,) = parsed.articles
    assert parsed.title == "Weather Almanac"
    assert frost.title == "Early frost expected in the hills"
    assert frost.link == "http://almanac.example/notes/frost"
    assert frost.published == datetime(2024, 3, 2, 18, 0, tzinfo=UTC)
    assert frost.section == "Forecast"


def test_atom_10_with_xml_base() -> None:
    parsed = parse_feed(
        "obs",
        result((FEEDS / "atom10.xml").read_bytes(), url="https://observatory.example/atom"),
        now=NOW,
    )
    assert parsed.title == "Observatory Log"
    assert parsed.link == "https://observatory.example/"
    comet, dome = parsed.articles
    assert comet.guid == "tag:observatory.example,2024:comet"
    assert comet.link == "https://observatory.example/log/2024/comet"
    assert comet.published == datetime(2024, 5, 20, 19, 15, tzinfo=UTC)
    assert comet.updated == datetime(2024, 5, 20, 22, 0, tzinfo=UTC)
    assert comet.author == "Dr. Ines Varga"
    assert comet.summary == "Look just after sunset."
    assert 'href="https://observatory.example/log/charts/west.png"' in comet.content
    # The second entry's own xml:base wins over the feed's.
    assert dome.link == "https://mirror.example/obs/dome"
    assert 'href="https://mirror.example/obs/photos/dome.jpg"' in dome.content
    assert dome.published == dome.updated == datetime(2024, 5, 18, 8, 0, tzinfo=UTC)


def test_ids_are_stable_and_depend_on_source_and_guid() -> None:
    body = (FEEDS / "rss20.xml").read_bytes()
    first = parse_feed("courier", result(body), now=NOW).articles
    again = parse_feed("courier", result(body), now=NOW + timedelta(hours=1)).articles
    other = parse_feed("other", result(body), now=NOW).articles
    assert [a.id for a in first] == [a.id for a in again]
    assert {a.id for a in first}.isdisjoint(a.id for a in other)


def test_guid_falls_back_to_a_hash_of_title_and_date() -> None:
    feed = rss(
        "<item><title>No link here</title><pubDate>Mon, 01 Apr 2024 10:00:00 GMT</pubDate>"
        "<description>x</description></item>"
    )
    article = only(feed)
    assert len(article.guid) == 64 and article.link == ""
    assert only(feed).id == article.id


def test_content_equal_to_summary_is_kept_once() -> None:
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>'
        "<entry><id>urn:e</id><title>t</title><content>Only a body</content></entry></feed>"
    )
    article = only(atom)
    assert article.content == "Only a body"
    assert article.summary == ""


def test_scripts_event_handlers_and_dangerous_urls_are_removed() -> None:
    html = (
        '<p onclick="steal()">Hello <script>alert(1)</script><a href="javascript:alert(2)">a</a>'
        '<a href="vbscript:x">b</a><img src="data:image/png;base64,AAAA" onerror="bad()">'
        '<iframe src="https://evil.example/"></iframe><object data="x.swf"></object>'
        '<style>p{}</style><a href="ok.html">fine</a><b>kept</b></p>'
    )
    article = only(rss(item(f"<description><![CDATA[{html}]]></description>")))
    for bad in (
        "script",
        "alert",
        "onclick",
        "onerror",
        "javascript:",
        "vbscript:",
        "data:",
        "iframe",
        "object",
        "style",
    ):
        assert bad not in article.summary
    assert '<a href="https://news.example/feeds/ok.html" rel="noopener noreferrer">fine</a>' in (
        article.summary
    )
    assert "<b>kept</b>" in article.summary


def test_titles_are_plain_text() -> None:
    feed = rss(
        item(
            "",
            title="  Markets &lt;b&gt;rally&lt;/b&gt;\n  as &amp;quot;talks&amp;quot;"
            " &lt;script&gt;x()&lt;/script&gt; resume ",
        )
    )
    assert only(feed).title == 'Markets rally as "talks" resume'


def test_non_http_links_are_dropped() -> None:
    assert only(rss(item("", link="javascript:alert(1)"))).link == ""
    assert only(rss(item("", link="ftp://files.example/a"))).link == ""
    assert only(rss(item("", link="../up/story"))).link == "https://news.example/up/story"


def test_control_characters_are_stripped() -> None:
    feed = rss(item("<description>bell\x07 and\x1b escape</description>", title="Tab\x00 null\x0b"))
    article = only(feed)
    assert article.title == "Tab null"
    assert article.summary == "bell and escape"


def test_controls_written_as_character_references_in_html_are_stripped() -> None:
    # the sanitiser turns each reference into the character it names, which XML cannot carry
    html = "<p>bell&#7; del&#127; non&#xFFFE;char &#38; amp</p>"
    escaped = html.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for description in (escaped, f"<![CDATA[{html}]]>"):
        body = rss(item(f"<description>{description}</description>"))
        for fast_path in (True, False):
            parsed = parse_feed("desk", result(body), now=NOW, fast_path=fast_path)
            assert [a.summary for a in parsed.articles] == ["<p>bell del nonchar &amp; amp</p>"]


def test_a_body_with_c0_controls_is_cut_of_them_and_keyed_and_read_by_the_fast_path() -> None:
    # the known-scan refuses the body as it came, so the controls are cut and it scans again
    feed = rss(item("<description>bell\x07 and\x1b escape</description>", title="Tab\x00 a\x7f"))
    parsed = parse_feed("desk", result(feed), now=NOW)
    clean = parse_feed("desk", result(re.sub("[\x00\x07\x1b\x7f]", "", feed)), now=NOW)
    assert parsed.declined == "" and len(parsed.item_keys) == 1
    assert (parsed.articles, parsed.item_keys) == (clean.articles, clean.item_keys)


def test_missing_and_future_dates() -> None:
    future = rss(item("<pubDate>Tue, 01 Jan 2030 00:00:00 GMT</pubDate>"))
    assert only(future).published == NOW
    missing = rss(item(""))
    assert only(missing).published == NOW
    updated_only = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id><entry>'
        "<id>urn:e</id><title>t</title><updated>2024-01-02T03:04:05Z</updated></entry></feed>"
    )
    assert only(updated_only).published == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("declared", "body"),
    [
        ("iso-8859-1", "Café in Zürich".encode()),  # says Latin-1, is UTF-8
        ("utf-8", "Café in Zürich".encode("latin-1")),  # says UTF-8, is Latin-1
    ],
)
def test_wrong_declared_charset_still_reads(declared: str, body: bytes) -> None:
    feed = (
        (
            f'<?xml version="1.0" encoding="{declared}"?>'
            '<rss version="2.0"><channel><title>c</title>'
        ).encode()
        + b"<item><title>"
        + body
        + b"</title></item></channel></rss>"
    )
    article = only(feed, ctype=f"application/xml; charset={declared}")
    assert article.title == "Café in Zürich"


def test_utf16_feed() -> None:
    article = only(rss(item("", title="Über")).replace("utf-8", "utf-16").encode("utf-16"))
    assert article.title == "Über"


def test_bozo_feed_with_entries_is_kept_with_a_warning() -> None:
    broken = rss(item("<description>unclosed <b>bold</description>"))
    parsed = parse_feed("desk", result(broken), now=NOW)
    assert len(parsed.articles) == 1
    assert parsed.warnings and parsed.warnings[0].startswith("desk: parsed leniently")


def test_html_page_is_not_a_feed() -> None:
    page = "<!DOCTYPE html><html><head><title>Home</title></head><body><p>hi</p></body></html>"
    with pytest.raises(ParseError, match=r"^desk: not a feed: the server sent an HTML page$"):
        parse_feed("desk", result(page, ctype="text/html; charset=utf-8"), now=NOW)


def test_empty_and_broken_bodies_are_errors() -> None:
    for blank in (b"", b"  \n", "\u3000\xa0\t".encode()):  # Unicode spaces are blank too
        with pytest.raises(ParseError, match="empty"):
            parse_feed("desk", result(blank), now=NOW)
    with pytest.raises(ParseError, match=r"^desk: not a (usable )?feed"):
        parse_feed("desk", result('<rss version="2.0"><channel><title>x'), now=NOW)


def test_entities_inside_cdata_are_just_text() -> None:
    text = "Why <!ENTITY lol> declarations are dangerous"
    article = only(rss(item(f"<description><![CDATA[<p>{text}</p>]]></description>")))
    assert "declarations are dangerous" in article.summary


# --- XML attacks: refused, or harmless; never expanded, never fetched ---

LAUGHS = '<!ENTITY lol0 "lol">' + "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
)


def test_billion_laughs_is_refused() -> None:
    feed = rss(item("<description>&lol9;</description>"), prolog=f"<!DOCTYPE rss [{LAUGHS}]>")
    with pytest.raises(ParseError, match=r"^desk: refused: the document declares XML entities"):
        parse_feed("desk", result(feed), now=NOW)


def test_quadratic_blowup_is_refused_fast() -> None:
    entity = "A" * 100_000
    body = "&a;" * 20_000
    feed = rss(
        item(f"<description>{body}</description>"),
        prolog=f'<!DOCTYPE rss [<!ENTITY a "{entity}">]>',
    )
    started = time.perf_counter()
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed("desk", result(feed), now=NOW)
    assert time.perf_counter() - started < 2  # feedparser alone: about a minute


@pytest.mark.parametrize(
    "doctype",
    [
        # a quoted literal or a comment must not hide the declarations that follow
        '<!DOCTYPE rss SYSTEM "<a]>" [<!ENTITY a "x">]>',
        '<!DOCTYPE rss [<!-- ]> --><!ENTITY a "x">]>',
        '<!DOCTYPE rss [<!ENTITY % p "x">]>',
    ],
)
def test_entity_declarations_cannot_hide(doctype: str) -> None:
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed(
            "desk", result(rss(item("<description>&a;</description>"), prolog=doctype)), now=NOW
        )


def test_external_entity_to_a_local_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    feed = rss(
        item("<description>&xxe;</description>"),
        prolog=f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>',
    )
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed("desk", result(feed), now=NOW)


def test_external_dtd_is_never_fetched(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/evil.dtd").respond_with_data('<!ENTITY x "pwned">')
    dtd = httpserver.url_for("/evil.dtd")
    # on the XML declaration's line: feedparser's own DOCTYPE stripper would miss it
    feed = rss(item("<description>safe</description>"), prolog=f'<!DOCTYPE rss SYSTEM "{dtd}">')
    article = only(feed)
    assert article.summary == "safe"
    assert httpserver.log == []


def test_xinclude_is_never_fetched(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/secret.xml").respond_with_data("<p>pwned</p>")
    include = (
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        f'href="{httpserver.url_for("/secret.xml")}" parse="xml"/>'
    )
    article = only(rss(item(f"<description>before {include} after</description>")))
    assert "pwned" not in article.summary + article.content
    assert httpserver.log == []


def test_a_truncated_feed_gives_the_reason_without_expat_noise() -> None:
    from datetime import UTC, datetime

    from aggregator.errors import ParseError
    from aggregator.models import FetchResult
    from aggregator.parse import parse_feed

    body = b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel>\n<title>Cut'
    result = FetchResult(
        url="http://127.0.0.1/rss",
        status=200,
        content=body,
        headers={"content-type": "application/rss+xml"},
    )
    with pytest.raises(ParseError) as caught:
        parse_feed("wire", result, now=datetime.now(UTC))
    assert "<unknown>" not in str(caught.value)
    assert str(caught.value) == "wire: not a usable feed: no element found"


def test_parsing_a_feed_loads_no_html_parser() -> None:
    # every collecting process imports the parsers: lxml.html is for web pages only
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from aggregator.models import FetchResult\n"
        "from aggregator.parse import parse_feed\n"
        'body = b\'<rss version="2.0"><channel><title>T</title><item><title>A</title>'
        "<description>&lt;p&gt;x&lt;/p&gt;</description></item></channel></rss>'\n"
        "result = FetchResult(url='https://news.example/rss', status=200, content=body)\n"
        "assert parse_feed('desk', result, now=datetime.now(UTC)).articles\n"
        "print('lxml.html' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "False"


# --- entries known from the last body are not parsed again --------------------------------


def atom(entries: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Atom desk</title><id>urn:desk</id><updated>2024-05-31T10:00:00Z</updated>"
        f"{entries}</feed>"
    )


def entry(n: int, summary: str = "Summary") -> str:
    return (
        f"<entry><id>urn:story:{n}</id><title>Story {n}</title>"
        f"<updated>2024-05-31T0{n}:00:00Z</updated><summary>{summary} {n}</summary></entry>"
    )


def rdf(items: str) -> str:
    return (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://news.example/">'
        "<title>RDF desk</title><link>https://news.example/</link></channel>"
        f"{items}</rdf:RDF>"
    )


def rdf_item(n: int) -> str:
    return (
        f'<item rdf:about="https://news.example/{n}"><title>Story {n}</title>'
        f"<link>https://news.example/{n}</link></item>"
    )


def titles(parsed) -> list[str]:
    return [a.title for a in parsed.articles]


@pytest.mark.parametrize(
    ("document", "one"),
    [
        (lambda n: rss("".join(item("", title=f"Story {i}") for i in n)), "rss"),
        (lambda n: atom("".join(entry(i) for i in n)), "atom"),
        (lambda n: rdf("".join(rdf_item(i) for i in n)), "rdf"),
    ],
)
def test_known_entries_are_skipped_and_new_ones_parsed(document, one: str) -> None:
    first = parse_feed("desk", result(document([1, 2])), now=NOW)
    assert titles(first) == ["Story 1", "Story 2"] and len(first.item_keys) == 2
    assert first.skipped_entries == 0
    later = parse_feed("desk", result(document([3, 1, 2])), now=NOW, known=first.item_keys)
    assert titles(later) == ["Story 3"]
    assert later.skipped_entries == 2
    assert first.item_keys < later.item_keys and len(later.item_keys) == 3
    assert later.title.endswith("desk")


def test_an_edited_entry_is_parsed_again() -> None:
    first = parse_feed("desk", result(atom(entry(1) + entry(2))), now=NOW)
    edited = atom(entry(1) + entry(2, summary="Corrected summary"))
    later = parse_feed("desk", result(edited), now=NOW, known=first.item_keys)
    assert [a.summary for a in later.articles] == ["Corrected summary 2"]


def test_keys_depend_on_the_feed_url_and_the_context_of_the_entry() -> None:
    body = rss(item("<description>Relative <a href='x'>link</a></description>"))
    first = parse_feed("desk", result(body), now=NOW)
    moved = parse_feed("desk", result(body, url="https://other.example/"), now=NOW)
    assert moved.item_keys.isdisjoint(first.item_keys)
    rebased = body.replace("<channel>", '<channel xml:base="https://cdn.example/">')
    assert parse_feed("desk", result(rebased), now=NOW).item_keys.isdisjoint(first.item_keys)


def test_keys_change_when_feedparser_or_nh3_is_upgraded(monkeypatch) -> None:
    body = rss(item("<description>Same bytes</description>"))
    before = parse_feed("desk", result(body), now=NOW).item_keys
    for library in (feedparser, nh3):
        assert f" {library.__version__}" in known._PARSED_BY
        upgraded = known._PARSED_BY.replace(f" {library.__version__}", " 99.0")
        monkeypatch.setattr(known, "_PARSED_BY", upgraded)
        assert parse_feed("desk", result(body), now=NOW).item_keys.isdisjoint(before)
        monkeypatch.undo()


@pytest.mark.parametrize(
    "body",
    [
        "<rss><item><title>Same</title></item>"
        "<channel><item><title>Same</title></item></channel></rss>",
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel>'
        "<item><title>Same</title></item></channel><item><title>Same</title></item></rdf:RDF>",
    ],
)
def test_the_same_bytes_in_another_place_get_another_key(body: str) -> None:
    first, second = known.scan_items(body.encode(), "https://news.example/")
    assert first.key != second.key
    twice = body.replace("<item><title>Same</title></item>", "<item>1</item><item>1</item>")
    assert len({i.key for i in known.scan_items(twice.encode(), "https://news.example/")}) == 2


def test_a_leniently_parsed_feed_gets_no_keys() -> None:
    body = rss(item("", title="Story 1"))
    first = parse_feed("desk", result(body, ctype="text/plain"), now=NOW)
    assert first.warnings and first.item_keys == frozenset()


def test_cutting_entries_never_loses_what_they_declared() -> None:
    body = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel>'
        "<title>RDF desk</title></channel>"
        '<item xmlns="http://purl.org/rss/1.0/"><title>Story 1</title></item>'
        '<item xmlns="http://purl.org/rss/1.0/"><title>Story 2</title></item></rdf:RDF>'
    )
    first = parse_feed("desk", result(body), now=NOW)
    again = parse_feed("desk", result(body), now=NOW, known=first.item_keys)
    assert titles(again) == ["Story 1", "Story 2"] and again.skipped_entries == 0


def test_a_broken_document_gets_no_keys_and_is_parsed_whole() -> None:
    broken = rss(item("", title="Story 1") + item("<description>a &nbsp; b</description>"))
    first = parse_feed("desk", result(broken), now=NOW)
    assert len(first.articles) == 2 and first.item_keys == frozenset()
    assert first.warnings


def test_empty_and_nested_items_are_not_keyed() -> None:
    body = rss("<item/>" + item("<item><title>inner</title></item>", title="Outer"))
    parsed = parse_feed("desk", result(body), now=NOW)
    assert len(parsed.item_keys) == 1
    again = parse_feed("desk", result(body), now=NOW, known=parsed.item_keys)
    assert again.skipped_entries == 1 and len(again.articles) == 1  # the empty item, parsed again


def test_the_buffering_sax_driver_parses_exactly_like_the_stock_one(monkeypatch) -> None:
    text = "Line one &amp; two\n" * 400 + "<![CDATA[ <b>raw</b> ]]> &#233;t&#233; &lt;ok&gt;"
    body = rss(
        item(f"<description>{text}</description><author>a@b.example (Ay &amp; Bee)</author>")
    )
    buffered = parse_feed("desk", result(body), now=NOW)
    monkeypatch.setattr(
        feedparser.api,
        "PREFERRED_XML_PARSERS",
        [d for d in feedparser.api.PREFERRED_XML_PARSERS if d != parse.SAX_DRIVER],
    )
    stock = parse_feed("desk", result(body), now=NOW)
    assert buffered == stock
    assert "Line one &amp; two\nLine one" in buffered.articles[0].summary


def test_memoised_base_joins_parse_exactly_like_feedparsers_own(monkeypatch) -> None:
    body = (FEEDS / "atom10.xml").read_bytes()
    fetched = result(body, url="https://observatory.example/atom")
    joins = feedparser.mixin.make_safe_absolute_uri
    joins.cache_clear()
    memoised = parse_feed("obs", fetched, now=NOW)
    assert joins.cache_info().hits > 0
    monkeypatch.setattr(
        feedparser.mixin, "make_safe_absolute_uri", feedparser.urls.make_safe_absolute_uri
    )
    assert memoised == parse_feed("obs", fetched, now=NOW)
    assert memoised.articles[1].link == "https://mirror.example/obs/dome"  # a nested base


def test_feedparser_gets_the_buffering_sax_driver() -> None:
    driver = xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS)
    driver.reset()
    assert driver._parser.buffer_text


# --- a malformed URL drops that URL, never the entry ----------------------------------------


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_malformed_url_is_dropped_with_a_warning(fast_path: bool) -> None:
    body = rss(
        item(
            '<guid isPermaLink="false">g-1</guid><enclosure url="http://[bad/x.mp3" length="1"/>'
            '<enclosure url="/ok.mp3" type="audio/mpeg"/>',
            link="http://[bad/story",
        )
        + item("", title="Next", link="/next")
    )
    parsed = parse_feed("desk", result(body), now=NOW, fast_path=fast_path)
    assert (parsed.declined == "") == fast_path
    first, second = parsed.articles
    assert first.link == "" and first.guid == "g-1" and first.title == "A story"
    assert first.enclosures == (Enclosure(url="https://news.example/ok.mp3", type="audio/mpeg"),)
    assert second.link == "https://news.example/next"
    # (feedparser itself already turns the unjoinable link into "")
    assert parsed.warnings == (
        "desk: entry 1 (g-1): dropped the malformed URL 'http://[bad/x.mp3' (Invalid IPv6 URL)",
    )


def test_a_malformed_feed_url_drops_the_links_it_would_resolve() -> None:
    body = rss(
        item(
            "<description>&lt;a href='x'&gt;x&lt;/a&gt;</description>"
            '<enclosure url="/a.mp3"/><enclosure url="https://cdn.example/b.mp3"/>'
        ),
        channel="<link>http://[bad/</link>",
    ).replace("<link>https://news.example/</link>", "")
    parsed = parse_feed("desk", result(body, url="http://[bad/feed"), now=NOW)
    assert parsed.link == "" and parsed.articles[0].link == ""
    only = parsed.articles[0]
    assert only.summary == '<a rel="noopener noreferrer">x</a>'  # no usable base: not linked
    assert only.enclosures == (Enclosure(url="https://cdn.example/b.mp3"),)
    assert parsed.warnings == (
        "desk: entry 1 (A story): dropped the malformed base URL 'http://[bad/feed' "
        "(Invalid IPv6 URL)",
        "desk: entry 1 (A story): dropped the malformed URL '/a.mp3' (Invalid IPv6 URL)",
    )


def test_a_base_nh3_refuses_is_dropped_and_the_feed_url_used() -> None:
    body = rss(
        item(
            '<description xml:base="http://a:99999/">&lt;a href="x"&gt;x&lt;/a&gt;</description>'
            '<enclosure url="/e.mp3" length="²"/>'
        )
    )
    parsed = parse_feed("desk", result(body), now=NOW)
    (only,) = parsed.articles
    assert 'href="https://news.example/feeds/x"' in only.summary
    assert only.enclosures == (Enclosure(url="https://news.example/e.mp3"),)
    assert parsed.warnings == (
        "desk: entry 1 (A story): dropped the malformed base URL 'http://a:99999/' "
        '(invalid url_relative base URL "http://a:99999/": invalid port number)',
    )


# --- the cheaper Article step gives what the old one gave -------------------------------------

TEXT = st.text(
    alphabet=st.sampled_from("ab <>&;#x9amp\t\r\n\xa0\x00\x0c\x7f\x85\u2028\ufeffé/:?=\"'"),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_plain_text_without_markup_skips_nh3_and_gives_the_same(value: str) -> None:
    cleaned = nh3.clean(value, tags=set(), clean_content_tags={"script", "style"})
    reference = re.sub(r"\s+", " ", strip_control(html.unescape(cleaned))).strip()
    assert feed_text(value) == reference


@settings(max_examples=300, deadline=None)
@given(TEXT | st.text(max_size=20))
def test_html_without_markup_skips_nh3_and_gives_the_same(value: str) -> None:
    problems: list[str] = []
    summary = entries._html(entries.Text(value, "text/html"), "https://a.example/", problems.append)
    reference = nh3.clean(
        strip_control(value),
        clean_content_tags={"script", "style"},
        url_schemes={"http", "https", "mailto"},
        url_relative=("rewrite_with_base", "https://a.example/"),
    )
    assert summary == (reference if value else "") and not problems


URLS = st.builds(
    "".join,
    st.lists(
        st.sampled_from(
            [
                "http://",
                "https://",
                "HTTP://",
                "/",
                "a",
                ".",
                "..",
                "?",
                "#",
                ";",
                "=",
                "&",
                "\t",
                "\n",
                " ",
                "[",
                "]",
                "@",
                ":",
                "%20",
                "é",
                "x.example",
            ]
        ),
        max_size=8,
    ),
)


@settings(max_examples=500, deadline=None)
@given(URLS, st.sampled_from(["https://news.example/feeds/", "http://a.example/b?c#d", ""]))
def test_absolute_urls_are_not_joined_again_and_links_are_the_same(url: str, base: str) -> None:
    try:
        joined = urljoin(base, strip_control(url.strip())) if url else ""
        parts = urlsplit(joined)
        reference = joined if parts.scheme in ("http", "https") and parts.netloc else ""
    except ValueError:
        reference = "malformed"
    problems: list[str] = []
    link = web_link(url, base, problems.append)
    assert (link if not problems else "malformed") == reference


_BODY_PARTS = st.sampled_from(
    [
        *('<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0"?>', "\ufeff", " \n"),
        *('<!DOCTYPE rss SYSTEM "x.dtd">', "<!-- c -->", "<rss>", "</rss>", "<t>", "</t>"),
        *("é", "\u2019", "\x85", "\x01", "\x7f", "\ufffe", "\U0001f600", "text", "\xa0"),
    ]
)


@given(st.lists(_BODY_PARTS, max_size=12).map("".join), st.sampled_from(["", "latin-1"]))
def test_a_body_cut_from_its_own_utf8_is_the_body_encoded_again(body: str, charset: str) -> None:
    for data in (body.encode("utf-8"), body.encode("utf-8", errors="ignore")[1:]):
        decoded = parse.document.decode(data, charset)
        try:
            cut = parse.document.without_doctype("s", *decoded)
        except ParseError:
            continue
        assert cut == parse.document.without_doctype("s", decoded.text)
        if decoded.utf8:
            assert decoded.utf8 == data and data.decode("utf-8") == decoded.text


@pytest.mark.parametrize(
    ("entries", "by_end_tags"),
    [
        ("<item><title>One</title></item><item><title>Two</title></item>", True),
        ("<item><item><title>Inner</title></item></item><item>2</item>", False),
        (
            "<item><description><![CDATA[<item>not a tag</item>]]></description></item><item/>",
            False,
        ),
        ("<item><!-- <item> --><title>Commented</title></item><item>2</item>", False),
        ("<item><x:item xmlns:x='urn:x'>prefixed</x:item><items>plural</items></item>", True),
        ("<item><itemx/><item/></item><item>2</item>", False),
        ("<item>1</item><item/><item>3</item>", True),
    ],
)
def test_finding_entries_by_their_end_tags_agrees_with_counting_every_tag(
    entries: str, by_end_tags: bool
) -> None:
    """scan_items looks only at end tags inside an entry, unless the entry's bytes hold a
    start tag of its name (nested, in CDATA or a comment): then it counts every element."""
    body = f'<rss version="2.0"><channel><title>T</title>{entries}</channel></rss>'.encode()
    assert (known._scan(body, "https://news.example/", nested=False) is not None) == by_end_tags
    counted = known._scan(body, "https://news.example/", nested=True)
    assert counted and known.scan_items(body, "https://news.example/") == counted


def _scannable(data: bytes) -> bytes:
    """A body as scan_items is given it."""
    body = parse.document.decode(data, "")
    return parse.document.without_doctype("s", body.text, utf8=body.utf8)


def test_the_end_tag_scan_finds_what_counting_finds_in_real_shaped_and_workload_feeds() -> None:
    golden = Path(__file__).parent / "fixtures" / "golden"
    bodies = [_scannable(p.read_bytes()) for p in golden.iterdir() if p.suffix in (".xml", ".rdf")]
    bodies += [_scannable(feed.body) for feed in generate_feeds(4, 20).feeds]
    for body in bodies:
        by_end_tags = known._scan(body, "https://news.example/", nested=False)
        assert by_end_tags, "every one of these bodies has entries and is read by end tags"
        assert by_end_tags == known._scan(body, "https://news.example/", nested=True)
