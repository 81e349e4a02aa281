"""A config file -> plain YAML values that remember their lines: parsed by ``yamlfile``
(PyYAML) when the file is new or changed, and otherwise taken from a cache of that parse,
so that a cron ``collect`` of an unchanged config does not even import PyYAML.

The cache is one file per config file under ``$XDG_CACHE_HOME/wiredesk`` (by default
``~/.cache/wiredesk``), written with ``marshal``: plain values only, nothing that runs code
when read. It holds the whole text it was parsed from and is used only when the file's
text is the same, character for character (not merely its size or modification time),
and the parser is the same (this Python, and this ``yamlfile.py``, this ``tree.py`` and
this PyYAML, by their sizes and modification times). Anything else (no cache, another
user's, unreadable, stale, corrupt) is parsed again; a cache that cannot be written is
skipped, nothing is written into a cache folder that is not the user's own or that others
may write in, and a relative ``$XDG_CACHE_HOME`` (invalid, says the XDG spec) means no
cache.
Problems are never cached: a file with any is parsed, and reported, every time.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from contextlib import suppress
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from aggregator.errors import ConfigError, ConfigProblem

MAX_BYTES = 4 * 1024**2
_MISS: Any = object()


class YamlMap(dict[str, Any]):
    """A YAML mapping that knows the line of each of its keys."""

    line: int
    key_lines: dict[str, int]


class YamlList(list[Any]):
    """A YAML list that knows the line of each of its items."""

    line: int
    item_lines: list[int]


def read_yaml(path: Path) -> tuple[Any, list[ConfigProblem]]:
    """The values of a YAML file, and the problems that do not stop reading it
    (duplicate keys).

    Raises ConfigError when the file cannot be read or is not YAML.
    """
    text = _read_text(path)
    cache = _cache_file(path)
    stamp = _stamp()
    data = _cached(cache, stamp, text) if cache else _MISS
    if data is not _MISS:
        return data, []
    from aggregator.config import yamlfile  # PyYAML: only for a new or changed file

    data, problems = yamlfile.parse(path, text)
    if cache and not problems:
        _save(cache, stamp, text, data)
    return data, problems


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError.single(
                path, f"larger than {MAX_BYTES // 1024**2} MB; a config is written by hand"
            )
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError.single(path, "config file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError.single(
            path, f"not UTF-8 text: byte {e.object[e.start]:#04x} at offset {e.start}"
        ) from None
    except OSError as e:
        raise ConfigError.single(path, f"cannot read: {e.strerror or e}") from None


def _cache_file(path: Path) -> Path | None:
    """Where the parse of ``path`` is cached; None when there is no cache folder."""
    try:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser())
    except RuntimeError:
        return None  # no home folder: no cache
    if not folder.is_absolute():
        return None
    # absolute, its links left alone (they do not change the text); absolute() asks for
    # the working folder only for a relative path, so a full one works from a deleted one
    where = path.absolute()
    return folder / "wiredesk" / f"{where.name}-{zlib.crc32(str(where).encode()):08x}"


def _stamp() -> tuple[Any, ...]:
    """What identifies the parser: a parse by another one is not used."""
    here = Path(__file__)
    files = [here, here.with_name("yamlfile.py")]
    spec = find_spec("yaml")
    if spec and spec.origin:
        files.append(Path(spec.origin))
    stats = [file.stat() for file in files]
    return (sys.version, *((s.st_mtime_ns, s.st_size) for s in stats))


def _cached(cache: Path, stamp: tuple[Any, ...], text: str) -> Any:
    try:
        with cache.open("rb") as file:
            if os.fstat(file.fileno()).st_uid != os.getuid():
                return _MISS  # not written by us
            saved = marshal.loads(file.read())
    except (OSError, EOFError, ValueError, TypeError):
        return _MISS
    if type(saved) is not tuple or len(saved) != 3 or saved[0] != stamp or saved[1] != text:
        return _MISS
    return _unpack(saved[2])


def _save(cache: Path, stamp: tuple[Any, ...], text: str, data: Any) -> None:
    try:
        blob = marshal.dumps((stamp, text, _pack(data)))
    except ValueError:
        return  # a value marshal cannot hold (a date): such a file is parsed every time
    import tempfile  # only when a parse is to be saved: not on a run the cache serves

    partial: Path | None = None
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(cache.parent):
            return
        # mkstemp: a new file of a name no one could have planted a link under (O_EXCL,
        # O_NOFOLLOW), one per writer, that only the user may read (the config may hold a
        # database password)
        fd, name = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.")
        partial = Path(name)
        with os.fdopen(fd, "wb") as file:
            file.write(blob)
        partial.replace(cache)  # readers see the old cache or the new, never half
    except OSError:  # no cache then; the next run parses again
        if partial is not None:
            with suppress(OSError):
                partial.unlink()


def _private(folder: Path) -> bool:
    """Whether ``folder`` is the user's own and no one else may write in it: another user
    who could would swap the cache for links to the user's files (or, for root, anyone's)."""
    found = folder.stat()
    return found.st_uid == os.getuid() and not found.st_mode & 0o022


# A mapping is (0, line, [(key, line, value), ...]), a list (1, line, [(line, value), ...]);
# YAML gives no tuples of its own, so every tuple is one of these.


def _pack(value: Any) -> Any:
    if isinstance(value, YamlMap):
        return (0, value.line, [(k, value.key_lines[k], _pack(v)) for k, v in value.items()])
    if isinstance(value, YamlList):
        return (
            1,
            value.line,
            [(n, _pack(v)) for n, v in zip(value.item_lines, value, strict=True)],
        )
    return value


def _unpack(value: Any) -> Any:
    if type(value) is not tuple:
        return value
    kind, line, items = value
    made: YamlMap | YamlList
    if kind == 0:
        made = YamlMap()
        made.key_lines = {}
        for key, key_line, item in items:
            made[key] = _unpack(item)
            made.key_lines[key] = key_line
    else:
        made = YamlList()
        made.item_lines = [n for n, _ in items]
        made.extend(_unpack(item) for _, item in items)
    made.line = line
    return made
