"""Edit the YAML config in place: add and remove sources, add categories, move URLs.

People write the config by hand, so an edit changes only the lines it adds or removes:
ruamel.yaml (round-trip mode) tells where each list item stands, and the edit splices
text at those lines, so comments, key order, quoting and blank lines elsewhere stay
byte-for-byte. The result is validated with ``load_config`` before it replaces the file,
atomically. This module holds the operations; ``document`` the file being edited.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from aggregator.config import Config, Rule
from aggregator.config.edit.document import ConfigDocument, NewCategory, NewSource
from aggregator.config.values import quote, suggest
from aggregator.errors import ConfigError, ConfigProblem

__all__ = [
    "ConfigDocument",
    "NewCategory",
    "NewSource",
    "add_source",
    "apply_moves",
    "check_new_source",
    "normalise_url",
    "remove_source",
    "unique_name",
]

MAX_NAME = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Letters NFKD does not decompose into ASCII but that have an obvious ASCII spelling.
_LETTERS = str.maketrans(
    {"ı": "i", "ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th"}
)


def normalise_url(url: str) -> str:
    """The form two feed URLs are compared in: scheme ignored (http and https are one
    feed), host lowercased, default port and fragment dropped, an empty path made ``/``."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port not in (None, 80, 443) else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"//{host}{port}{parts.path or '/'}{query}"


def unique_name(title: str, taken: set[str], *, fallback: str = "feed") -> str:
    """A source name made from a feed title: lowercase ASCII letters, digits and ``-``,
    accents transliterated, at most 40 characters, with ``-2``, ``-3``... appended while
    the name is in ``taken``. A title with no usable letters gives ``fallback``."""
    ascii_text = (
        unicodedata.normalize("NFKD", title.lower().translate(_LETTERS))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    base = _NOT_SLUG.sub("-", ascii_text).strip("-")[:MAX_NAME].rstrip("-") or fallback
    name, number = base, 1
    while name in taken:
        number += 1
        suffix = f"-{number}"
        name = base[: MAX_NAME - len(suffix)].rstrip("-") + suffix
    return name


def check_new_source(config: Config, *, url: str, name: str | None = None) -> None:
    """Refuse a source whose name is taken or whose URL is already configured.

    Raises ConfigError naming the config file and the existing source.
    """
    wanted = normalise_url(url)
    for source in config.sources:
        if name is not None and source.name == name:
            _refuse(config.path, "sources", f"a source named {name!r} already exists")
        if source.url and normalise_url(source.url) == wanted:
            _refuse(config.path, "sources", f"{url} is already configured as {source.name!r}")


def add_source(
    config_path: Path,
    *,
    name: str,
    url: str,
    title: str | None = None,
    interval: str | None = None,
) -> None:
    """Append a feed source to the config file's ``sources:`` list, leaving every other
    byte of the file as it was.

    Raises ConfigError when the name or URL is taken, or when the edited file would not
    load (a bad name or interval); the file is then untouched.
    """
    document = ConfigDocument(config_path)
    check_new_source(document.config, url=url, name=name)
    title = " ".join(title.split()) if title else None  # a feed title may hold newlines
    document.append([NewSource(name=name, title=title, url=url, interval=interval)])
    document.save()


def remove_source(config_path: Path, name: str) -> None:
    """Remove a source, with its leading comment lines, from the config file.

    Raises ConfigError when no source has that name, or when categories still select
    by it (they are named, so that nothing changes silently); the file is then untouched.
    """
    document = ConfigDocument(config_path)
    config = document.config
    names = {source.name for source in config.sources}
    if name not in names:
        _refuse(config.path, "sources", f"no source named {quote(name)}{suggest(name, names)}")
    users = [c.name for c in config.categories if name in _rule_sources(c)]
    if users:
        _refuse(
            config.path,
            "sources",
            f"{name!r} is still selected by categories {', '.join(users)}; "
            "remove it from their 'sources' first",
        )
    document.remove("sources", name)
    document.save()


def apply_moves(config_path: Path, moves: Mapping[str, str]) -> None:
    """Write the new URL of each moved source (``moves``: name -> URL) into the config
    file, changing only those values (comments, quoting and everything else stay).

    Raises ConfigError when a name is not a feed source of the file, or the edited file
    would not load; the file is then untouched.
    """
    document = ConfigDocument(config_path)
    feeds = {source.name for source in document.config.sources if source.url}
    for name, url in moves.items():
        if name not in feeds:
            _refuse(document.config.path, "sources", f"no feed source named {name!r}")
        document.set_value("sources", name, "url", url)
    document.save()


def _refuse(path: Path, key: str, message: str) -> None:
    raise ConfigError([ConfigProblem(str(path), None, key, message)])


def _rule_sources(rule: Rule) -> set[str]:
    """Every source name a rule or its nested rules select by."""
    names = set(rule.sources)
    for sub in (*rule.all_of, *rule.any_of, *([rule.not_] if rule.not_ else [])):
        names |= _rule_sources(sub)
    return names
