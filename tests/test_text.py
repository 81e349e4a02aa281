"""The shared text helpers: plain text of sanitised HTML, counts in words, what XML may
not hold."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import text
from aggregator.text import (
    collapse,
    count,
    plain_text,
    strip_control,
    strip_xml_control,
    utf8_cut_c0,
    utf8_cut_control,
    utf8_without_control,
)

# XML 1.0's forbidden characters and the controls feed readers choke on (SPEC's pitfalls)
_XML_FORBIDDEN = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]"


def test_plain_text_keeps_one_line_per_block() -> None:
    markup = "<p>One &amp; <i>two</i></p>\n<p>Three<br/>four</p>"
    assert plain_text(markup, lines=True) == "One & two\nThree\nfour"


def test_plain_text_on_one_line_collapses_every_run_of_whitespace() -> None:
    markup = "<h2>Grain\tships</h2>\n\n<p>reach   <b>Odesa</b>\u00a0port</p>"
    assert plain_text(markup) == "Grain ships reach Odesa port"


def test_inline_tags_join_a_word_and_block_ends_part_words() -> None:
    markup = "<p><em>B</em>ig</p><table><tr><td>x</td><td>y</td></tr></table><ul><li>z</li></ul>"
    assert plain_text(markup) == "Big x y z"
    assert plain_text(markup, lines=True) == "Big\nx\ny\nz"


def test_an_escaped_angle_bracket_is_text_and_control_characters_go() -> None:
    assert plain_text("1 &lt; 2 &amp;&amp; 3 &gt; 2\x00\x85") == "1 < 2 && 3 > 2"


def test_plain_text_of_plain_text_is_the_text() -> None:
    assert plain_text("  Markets rally as talks resume ") == "Markets rally as talks resume"


def test_count_puts_the_noun_in_the_right_form() -> None:
    assert [count(n, "source") for n in (0, 1, 2)] == ["0 sources", "1 source", "2 sources"]
    assert count(1, "story", "stories") == "1 story"
    assert count(3, "story", "stories") == "3 stories"


# Characters near every boundary the byte-level cut knows: C0, DEL, C1, the UTF-8 lead bytes
# \xc2 and \xef, surrogates and the two non-characters.
_EDGES = st.sampled_from(
    "\x00\x08\t\n\x0b\r\x1f ~\x7f\x80\x85\x9f\xa0\xc2\xef\u2018\ud800\udfff\ufefe\ufffd\ufffe\uffff"
    "\U0001f600"
)


@given(st.text(st.one_of(_EDGES, st.characters()), max_size=60))
def test_utf8_without_control_is_strip_control_encoded(text: str) -> None:
    assert utf8_without_control(text) == strip_control(text).encode("utf-8")
    # the C0 controls may be left for later, and cut then: the same bytes in the end
    assert utf8_cut_c0(utf8_without_control(text, c0=False)) == utf8_without_control(text)
    if not any("\ud800" <= c <= "\udfff" for c in text):  # UTF-8 holds no surrogate
        data = text.encode("utf-8")
        assert utf8_cut_c0(utf8_cut_control(data, c0=False)) == utf8_cut_control(data)


@pytest.mark.parametrize(
    "text",
    [
        "tab\tLF\nCR\r kept",
        "a\x00b\x08c\x0bd\x1fe\x7ff",
        "\u2018quoted\u2019\x01",
        "\xa0no-break\x85\x9f\ufffd\ufffe\uffff\x7f",
        "é\x01\x85\ud800\ufffe",
    ],
)
def test_strip_control_drops_what_xml_cannot_carry_in_ascii_and_other_text(text: str) -> None:
    assert strip_control(text) == re.sub(_XML_FORBIDDEN, "", text)


@given(st.text(st.one_of(_EDGES, st.characters()), max_size=60))
def test_strip_control_keeps_every_character_xml_can_carry(text: str) -> None:
    assert strip_control(text) == re.sub(_XML_FORBIDDEN, "", text)


@given(st.text(st.sampled_from("ab é\n\t\r\x0b\x0c\x1c\x1f\x85\u2003")))
def test_collapse_leaves_single_spaces_between_the_words(text: str) -> None:
    assert collapse(text) == " ".join(text.split())


@pytest.mark.parametrize(
    "text", ["  two\n\nlines  ", "a  b\nc", "a\n \nb\r\nc", "é\nb", "a\x1fb\nc"]
)
def test_collapse_of_lines_is_the_collapse_of_their_words(text: str) -> None:
    assert collapse(text) == " ".join(text.split())


_MARKUP = st.lists(
    st.one_of(
        _EDGES,
        st.sampled_from(["<p>", "</P >", "<br/>", "< /li>", "<b>", "</b>", "<a href=x>", "</td>"]),
        st.sampled_from(["&amp;", "&lt;", "&#1;", "&#x85;", "&nbsp;", "&", " ", "  ", "\n", "x"]),
    ),
    max_size=40,
).map("".join)


def _plain_text_slowly(markup: str, *, lines: bool) -> str:
    """What plain_text says it does, step by step: tags out (block ends as line breaks),
    entities decoded, what XML cannot carry dropped, whitespace collapsed."""
    broken = re.sub(r"<\s*(?:br|hr)\b[^>]*>|<\s*/\s*(?:p|li|td)\s*>", "\n", markup, flags=re.I)
    text = re.sub(_XML_FORBIDDEN, "", html.unescape(re.sub(r"<[^>]*>", "", broken)))
    if not lines:
        return " ".join(text.split())
    return "\n".join(line for line in (" ".join(t.split()) for t in text.split("\n")) if line)


@given(_MARKUP, st.booleans())
def test_plain_text_is_its_steps_one_at_a_time(markup: str, lines: bool) -> None:
    assert plain_text(markup, lines=lines) == _plain_text_slowly(markup, lines=lines)
    # told that it holds no control, tab or CR (nor an entity of one), the same text
    if not re.search(r"[\x00-\x1f\x7f]|&#", markup.replace("\n", " ")):
        assert plain_text(markup, lines=lines, controls=False) == plain_text(markup, lines=lines)


def test_the_ascii_plain_text_leaves_no_whitespace_but_spaces_and_newlines() -> None:
    # its translate drops _CONTROL_BYTES and makes tab and CR spaces, then collapses only
    # spaces: right while those cover every other character str.split splits ASCII on
    split_on = {chr(c) for c in range(128) if len(f"a{chr(c)}b".split()) == 2}
    assert set(text._OTHER_ASCII_SPACE) == split_on - {" ", "\n"}
    assert set(text._OTHER_ASCII_SPACE) <= set(text._CONTROL_BYTES.decode()) | {"\t", "\r"}


@given(st.text(st.one_of(_EDGES, st.characters(), st.just(" ")), max_size=40), st.booleans())
def test_text_that_is_plain_already_comes_back_as_its_steps_give_it(text: str, lines: bool) -> None:
    # short plain text skips the steps; whatever it holds, the answer is theirs
    assert plain_text(text, lines=lines) == _plain_text_slowly(text, lines=lines)


# What a strict XML 1.0 parse can hand over: any character but the C0 controls (tab, LF and
# CR aside), which XML forbids even as character references.
_XML_READ = st.characters(blacklist_characters=[chr(c) for c in range(32) if c not in (9, 10, 13)])


@given(st.text(st.one_of(_EDGES.filter(lambda c: c in "\t\n\r" or c >= " "), _XML_READ)))
def test_strip_xml_control_is_strip_control_of_what_xml_can_hold(text: str) -> None:
    assert strip_xml_control(text) == strip_control(text)
