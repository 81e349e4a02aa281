"""YAML text -> plain YAML values that remember their lines (``tree``). The only importer
of PyYAML.

libyaml (PyYAML's C parser, with the pure-Python one as fallback) turns the text into
events, and the tree is built here rather than by PyYAML's composer, so that its size
is bounded as it grows: nesting depth, and the number of values once aliases are
expanded (a 2 KB "billion laughs" file would otherwise take gigabytes). A duplicate key
is one problem among the others, not the end of the report, and syntax errors are told
in the words a person uses, with the line and column and the offending line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml import events

from aggregator.config.tree import YamlList, YamlMap
from aggregator.config.values import key_path, quote
from aggregator.errors import ConfigError, ConfigProblem

MAX_DEPTH = 32
MAX_VALUES = 200_000
_TAGS = "tag:yaml.org,2002:"
_STR = _TAGS + "str"
_MERGE = "tag:yaml.org,2002:merge"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()


@dataclass
class _Open:
    """A mapping or list whose end has not been read yet."""

    value: YamlMap | YamlList
    loc: tuple[str | int, ...]
    anchor: str | None
    size: int = 1
    key: Any = None  # a mapping's key waiting for its value
    key_line: int = 0
    merges: list[Any] = field(default_factory=list)


def parse(path: Path, text: str) -> tuple[Any, list[ConfigProblem]]:
    """The values of the YAML ``text`` of ``path``, and the problems that do not stop
    reading it (duplicate keys).

    Raises ConfigError when it is not YAML.
    """
    return _Tree(path, text).read()


class _Tree:
    """Builds the values of one document from the parser's events."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.problems: list[ConfigProblem] = []
        self.total = 0
        self.root: Any = None
        self.documents = 0

    def read(self) -> tuple[Any, list[ConfigProblem]]:
        try:
            for event in yaml.parse(self.text, Loader=_Loader):
                self._event(event)
        except yaml.MarkedYAMLError as e:
            raise self._syntax(e) from None
        except yaml.YAMLError as e:
            raise ConfigError.single(self.path, f"not YAML: {e}") from None
        return self.root, self.problems

    def _event(self, event: events.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 1
        top = self.stack[-1] if self.stack else None
        awaiting_key = top is not None and isinstance(top.value, YamlMap) and top.key is None
        if isinstance(event, events.ScalarEvent):
            if awaiting_key:
                self._key(event, line)
            else:
                self._add(self._scalar(event), 1, line, event.anchor)
        elif isinstance(event, events.AliasEvent):
            if awaiting_key:
                self._fail("an alias ('*name') used as a key; a key is a word before ':'", event)
            if event.anchor is None or event.anchor not in self.anchors:
                self._fail(f"'*{event.anchor}' refers to no '&{event.anchor}' above it", event)
            value, size = self.anchors[event.anchor]
            self._add(value, size, line, None, event)
        elif isinstance(event, events.CollectionStartEvent):
            self._start(event, line, awaiting_key)
        elif isinstance(event, events.CollectionEndEvent):
            done = self.stack.pop()
            if isinstance(done.value, YamlMap):
                self._merge(done)
            self._add(done.value, done.size, done.value.line, done.anchor, event, counted=True)
        elif isinstance(event, events.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self._fail("a second YAML document ('---'); a config is one document", event)

    def _start(self, event: events.CollectionStartEvent, line: int, awaiting_key: bool) -> None:
        if len(self.stack) >= MAX_DEPTH:
            self._fail(f"nested more than {MAX_DEPTH} levels deep", event)
        if awaiting_key:
            self._fail("a list or mapping used as a key; a key is a word before ':'", event)
        value: YamlMap | YamlList
        if isinstance(event, events.MappingStartEvent):
            value = YamlMap()
            value.key_lines = {}
        else:
            value = YamlList()
            value.item_lines = []
        value.line = line
        self.stack.append(_Open(value, self._child_loc(), event.anchor))

    def _child_loc(self) -> tuple[str | int, ...]:
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if isinstance(parent.value, YamlList):
            return (*parent.loc, len(parent.value))
        return (*parent.loc, parent.key)

    def _key(self, event: events.ScalarEvent, line: int) -> None:
        top = self.stack[-1]
        plain = event.implicit[0] and event.tag is None
        top.key = _MERGE if plain and event.value == "<<" else event.value
        top.key_line = line

    def _add(
        self,
        value: Any,
        size: int,
        line: int,
        anchor: str | None,
        event: events.Event | None = None,
        *,
        counted: bool = False,
    ) -> None:
        if not counted:
            self.total += size
        if self.total > MAX_VALUES:
            self._fail(
                f"more than {MAX_VALUES} values once its aliases ('*name') are expanded; "
                "write the values out instead",
                event,
            )
        if anchor:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.value, YamlList):
            top.value.append(value)
            top.value.item_lines.append(line)
            return
        key, top.key = top.key, None
        if key == _MERGE:
            top.merges.append(value)
        elif key in top.value:
            first = top.value.key_lines[key]
            where = key_path((*top.loc, key))
            message = f"duplicate key {quote(key)}; it is already set on line {first}"
            self.problems.append(ConfigProblem(str(self.path), top.key_line, where, message))
        else:
            top.value[key] = value
            top.value.key_lines[key] = top.key_line

    def _merge(self, done: _Open) -> None:
        """``<<: *defaults``: the anchored mapping's keys, where the mapping has none."""
        target = done.value
        assert isinstance(target, YamlMap)  # only a mapping gathers merges
        for merged in done.merges:
            for source in merged if isinstance(merged, list) else [merged]:
                if not isinstance(source, YamlMap):
                    self._fail("'<<' merges a mapping ('<<: *name'), not a single value", None)
                for key, value in source.items():
                    if key not in target:
                        target[key] = value
                        target.key_lines[key] = source.key_lines[key]

    def _scalar(self, event: events.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR:
            return event.value
        construct = _constructor.yaml_constructors.get(tag)
        if construct is None or tag == _MERGE:
            self._fail(f"unsupported YAML tag {quote(tag.replace(_TAGS, '!!'))}", event)
        try:
            return construct(_constructor, yaml.ScalarNode(tag, event.value))
        except (ValueError, OverflowError, yaml.YAMLError):
            self._fail(f"{quote(event.value)} is not a usable {tag.rsplit(':', 1)[-1]}", event)

    def _fail(self, message: str, event: events.Event | None) -> NoReturn:
        mark = event.start_mark if event is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError([ConfigProblem(str(self.path), line, "", message, column)])

    def _syntax(self, error: yaml.MarkedYAMLError) -> ConfigError:
        quoted = error.context and "quoted scalar" in error.context
        mark = error.context_mark if quoted else error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        lines = self.text.splitlines()
        shown = lines[line - 1] if 0 < line <= len(lines) else ""
        message = plain_words(error, shown, column)
        if shown.strip():
            message += f": {quote(shown.rstrip())}"
        return ConfigError([ConfigProblem(str(self.path), line, "", message, column)])


def plain_words(error: yaml.MarkedYAMLError, shown: str, column: int) -> str:
    """What a YAML syntax error means, said the way a person would."""
    problem = error.problem or ""
    context = error.context or ""
    at = shown[column - 1 : column] if 0 < column <= len(shown) else ""
    if "tab" in problem or at == "\t":
        return "a tab where spaces are needed (YAML indents with spaces only)"
    if "cannot start any token" in problem:
        return f"{at!r} cannot start a value; put the value in quotes"
    if "expected key" in problem or "expected '-' indicator" in problem:
        return "wrong indentation: this line does not line up with the lines above it"
    if "mapping values are not allowed" in problem:
        before = shown[: column - 1]
        if len(before.strip()) > 1024:
            return "a key longer than 1024 characters (YAML allows no longer)"
        if ": " in before or before.rstrip().endswith(":"):
            return "a second ': ' on one line; put a value that holds ': ' in quotes"
        return "wrong indentation, or a ':' missing on a line above"
    if "quoted scalar" in context:
        return "a quote that is never closed"
    if "flow sequence" in context or "expected ',' or ']'" in problem:
        return "a '[' list that is not closed with ']'"
    if "flow mapping" in context or "expected ',' or '}'" in problem:
        return "a '{' mapping that is not closed with '}'"
    if "flow node" in context:
        return "a '[' or '{' that is not closed, or a '- ' item inside one"
    if "block sequence entries are not allowed" in problem:
        return "a '- ' list item where a value was expected; check the indentation"
    if "control characters" in problem or "special characters" in problem:
        return "a control character that is not text"
    return f"not valid YAML: {problem or context}"
