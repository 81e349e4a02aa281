"""A config file being edited as text: each edit splices lines where ruamel.yaml
(round-trip mode) says a list item stands, and ``save`` validates the result before it
atomically replaces the file."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from aggregator.config import load_config
from aggregator.errors import ConfigError, ConfigProblem, ConfigWriteError

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_EMPTY_VALUE = re.compile(r"^(\s*[\w-]+:)\s*(?:~|null|Null|NULL|\[\s*\])?\s*(#.*)?$")
_DEFAULT_INDENT = (2, 4)  # dash column, key column of a new list


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewSource:
    """A feed source to append to ``sources:``; made by add and import-opml, written by
    ``ConfigDocument.append`` (a field left None is not written)."""

    LIST: ClassVar[str] = "sources"
    name: str
    title: str | None = None  # the fields in the order they are written
    url: str
    interval: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewCategory:
    """A category of named sources to append to ``categories:``; made by import-opml (one
    per folder), written by ``ConfigDocument.append``."""

    LIST: ClassVar[str] = "categories"
    name: str
    title: str
    sources: tuple[str, ...]


Item = NewSource | NewCategory


class ConfigDocument:
    """A config file being edited: its text, spliced line by line, and the loaded Config
    it started as. Nothing is written until ``save``."""

    def __init__(self, path: Path) -> None:
        """Load and validate ``path``; raises ConfigError when it does not load."""
        self.path = Path(path)
        self.config = load_config(self.path)
        self._raw = self.path.read_bytes()
        self.text = self._raw.decode("utf-8")
        newline = re.search(r"\r\n|\r|\n", self.text)
        self._newline = newline.group() if newline else "\n"

    def append(self, items: Sequence[NewSource] | Sequence[NewCategory]) -> None:
        """Append ``items`` to their top-level list (``sources:`` or ``categories:``),
        creating the list if needed and matching the indentation (and block or flow style)
        of its existing items.

        Raises ConfigError when the list is written in flow style (``[...]``).
        """
        if not items:
            return
        key = items[0].LIST
        lines, tree = self._parse()
        existing = tree.get(key)
        if key not in tree:
            block = [f"{key}:", *self._render(items, *self._list_indent(tree, lines))]
            self._splice(lines, len(lines), len(lines), block, pad=True)
        elif not existing:
            line = tree.lc.key(key)[0]
            match = _EMPTY_VALUE.match(lines[line].rstrip("\r\n"))
            if match is None:
                self._flow_problem(tree, key)
            comment = f"  {match.group(2)}" if match.group(2) else ""
            block = [match.group(1) + comment]
            block += self._render(items, *self._list_indent(tree, lines))
            self._splice(lines, line, line + 1, block)
        elif existing.fa.flow_style():
            self._flow_problem(tree, key)
        else:
            last = len(existing) - 1
            flow = isinstance(existing[last], CommentedMap) and existing[last].fa.flow_style()
            block = self._render(items, *_item_indent(existing, last, lines), flow=flow)
            end = _item_end(existing, last, lines)
            self._splice(lines, end, end, block)

    def remove(self, key: str, name: str) -> None:
        """Remove the item called ``name`` from the top-level list ``key``, with the comment
        lines right above it; an emptied list becomes ``[]``."""
        lines, tree = self._parse()
        items = tree[key]
        if items.fa.flow_style():
            self._flow_problem(tree, key)
        index = next(i for i, item in enumerate(items) if item.get("name") == name)
        start = items.lc.item(index)[0]
        dash, _ = _item_indent(items, index, lines)
        while start > 0 and _is_comment_at(lines[start - 1], dash):
            start -= 1
        end = _item_end(items, index, lines)
        if start > 0 and end < len(lines) and not lines[start - 1].strip():
            end += not lines[end].strip()  # keep one blank line, not two, between neighbours
        self._splice(lines, start, end, [])
        if len(items) == 1:
            self._mark_empty(key)

    def _mark_empty(self, key: str) -> None:
        """Write an emptied top-level list as ``key: []`` so the file still loads."""
        lines, tree = self._parse()
        line = tree.lc.key(key)[0]
        match = _EMPTY_VALUE.match(lines[line].rstrip("\r\n"))
        if match is not None:
            comment = f"  {match.group(2)}" if match.group(2) else ""
            self._splice(lines, line, line + 1, [f"{match.group(1)} []{comment}"])

    def set_value(self, key: str, name: str, field: str, value: str) -> None:
        """Set ``field`` of the item called ``name`` of the top-level list ``key`` to the
        string ``value``, rewriting only that value on its line: the key, any comment
        after it and the quoting style stay (a value that needs quotes gets them)."""
        lines, tree = self._parse()
        item = next(i for i in tree[key] if i.get("name") == name)
        line, column = item.lc.value(field)
        text = lines[line]
        end = _scalar_end(text, column, flow=item.fa.flow_style())
        quote = text[column] if text[column] in "'\"" else ""
        new = f"{quote}{value}{quote}" if quote and quote not in value else _scalar(value)
        self._splice(lines, line, line + 1, [text[:column] + new + text[end:].rstrip("\r\n")])

    def save(self) -> None:
        """Validate the edited text with ``load_config`` and atomically replace the file.

        Raises ConfigError (naming the real file) when the edited config would not load,
        and ConfigWriteError when the file cannot be written; either leaves it untouched.
        """
        data = self.text.encode("utf-8")
        if data == self._raw:
            return
        try:
            self._write_checked(data)
        except OSError as e:
            raise ConfigWriteError(f"{self.path}: cannot write: {e.strerror or e}") from e
        self._raw = data

    def _write_checked(self, data: bytes) -> None:
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                load_config(temp)
            except ConfigError as e:
                problems = [dataclasses.replace(p, file=str(self.path)) for p in e.problems]
                raise ConfigError(problems) from None
            with contextlib.suppress(OSError):
                temp.chmod(self.path.stat().st_mode & 0o7777)
            temp.replace(self.path)
        finally:
            temp.unlink(missing_ok=True)

    def _parse(self) -> tuple[list[str], CommentedMap]:
        return _LINE.findall(self.text), YAML(typ="rt").load(self.text)

    def _splice(
        self, lines: list[str], start: int, end: int, block: list[str], *, pad: bool = False
    ) -> None:
        """Replace lines ``start:end`` by ``block``; ``pad`` puts a blank line before it."""
        if start == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += self._newline
        new = ([""] if pad and lines else []) + block
        lines[start:end] = [line + self._newline for line in new]
        self.text = "".join(lines)

    @staticmethod
    def _render(items: Sequence[Item], dash: int, indent: int, *, flow: bool = False) -> list[str]:
        """List items with their ``-`` at column ``dash`` and their keys at ``indent``."""
        if flow:
            lead = " " * dash + "-" + " " * (indent - dash - 1)
            return [lead + _render_flow(item) for item in items]
        return [line for item in items for line in _render_block(item, dash, indent)]

    def _list_indent(self, tree: CommentedMap, lines: list[str]) -> tuple[int, int]:
        """The indentation of the other top-level lists, or two and four spaces."""
        for items in tree.values():
            if isinstance(items, CommentedSeq) and items and not items.fa.flow_style():
                return _item_indent(items, 0, lines)
        return _DEFAULT_INDENT

    def _flow_problem(self, tree: CommentedMap, key: str) -> NoReturn:
        raise ConfigError(
            [
                ConfigProblem(
                    str(self.path),
                    tree.lc.key(key)[0] + 1,
                    key,
                    "written in flow style ([...] or {...}); write it as a block list, "
                    "one '- name: ...' item a line, to edit it with Wiredesk",
                )
            ]
        )


def _scalar_end(text: str, start: int, *, flow: bool) -> int:
    """Where the scalar that starts at ``start`` of ``text`` ends: after its closing quote,
    or before a comment, the end of the line or (in a flow mapping) a ``,`` or ``}``."""
    if text[start] in "'\"":
        return text.index(text[start], start + 1) + 1
    marks = (" #", ",", "}") if flow else (" #",)
    found = [i for mark in marks if (i := text.find(mark, start)) >= 0]
    return len(text[: min([len(text.rstrip("\r\n")), *found])].rstrip(" "))


def _scalar(value: str) -> str:
    """``value`` as YAML writes it: plain, or quoted when it has to be."""
    return _dump(CommentedMap([("k", value)]))[len("k: ") :]


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_comment_at(line: str, column: int) -> bool:
    return line.lstrip(" ").startswith("#") and _indent_of(line) == column


def _item_indent(items: CommentedSeq, index: int, lines: list[str]) -> tuple[int, int]:
    """The column of an item's ``-`` and of its content."""
    line, column = items.lc.item(index)
    return lines[line].rfind("-", 0, column), column


def _item_end(items: CommentedSeq, index: int, lines: list[str]) -> int:
    """The line after the last line of a list item (its comments included, the blank
    lines and column-zero comments that follow it excluded)."""
    line, _ = items.lc.item(index)
    dash, _ = _item_indent(items, index, lines)
    return _block_end(lines, line, dash)


def _block_end(lines: list[str], start: int, column: int) -> int:
    """The line after the last line indented deeper than ``column`` that follows ``start``."""
    end = start + 1
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if not line.strip():
            continue
        deeper = _indent_of(line) > column
        if not deeper and not line.lstrip(" ").startswith("#"):
            break
        if deeper:
            end = number + 1
    return end


def _dump(data: Any) -> str:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.allow_unicode = True
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue().rstrip("\n")


def _value(value: str | Sequence[str]) -> Any:
    if isinstance(value, str):
        return value
    seq = CommentedSeq(value)
    seq.fa.set_flow_style()
    return seq


def _render_pair(key: str, value: str | Sequence[str]) -> str:
    return _dump(CommentedMap([(key, _value(value))]))


def _fields(item: Item) -> list[tuple[str, str | Sequence[str]]]:
    """The keys and values ``item`` writes, in its fields' order, None left out."""
    pairs = ((spec.name, getattr(item, spec.name)) for spec in dataclasses.fields(item))
    return [(key, value) for key, value in pairs if value is not None]


def _render_block(item: Item, dash: int, indent: int) -> list[str]:
    """``item`` as a block-style list item with its ``-`` at ``dash``, keys at ``indent``."""
    pairs = [_render_pair(key, value) for key, value in _fields(item)]
    first = " " * dash + "-" + " " * (indent - dash - 1) + pairs[0]
    return [first, *(" " * indent + pair for pair in pairs[1:])]


def _render_flow(item: Item) -> str:
    data = CommentedMap((key, _value(value)) for key, value in _fields(item))
    data.fa.set_flow_style()
    return _dump(data)
