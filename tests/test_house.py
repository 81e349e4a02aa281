"""The rules the house claims to follow, checked over every module of ``aggregator``: one
error tree, drawn where it is defined, one home for each third-party library, and the
README's Architecture table naming every package and the libraries it owns."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
import sys
from collections import defaultdict
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType

import aggregator
from aggregator import errors
from aggregator.errors import WiredeskError

# Each library -> the modules that may import it (a trailing * takes a package's modules).
# sqlite3 is the standard library's, but it is the store's driver all the same.
HOMES = {
    "apscheduler": ["aggregator.daemon"],
    "feedgen": ["aggregator.publish.feeds"],
    "feedparser": ["aggregator.parse*"],
    "jinja2": ["aggregator.publish.pages"],
    "lxml": ["aggregator.xml"],
    "markupsafe": ["aggregator.publish.pages"],  # Jinja2's own Markup
    "nh3": ["aggregator.parse.entries"],
    "prometheus_client": ["aggregator.metrics"],
    "psycopg": ["aggregator.store.postgres*"],
    "psycopg_pool": ["aggregator.store.postgres"],
    "requests": ["aggregator.fetch*"],
    "rich": ["aggregator.cli.output"],
    "ruamel": ["aggregator.config.edit.document"],
    "sqlite3": ["aggregator.store.sqlite*"],
    "urllib3": ["aggregator.fetch*"],  # requests' own exceptions and retries
    "waitress": ["aggregator.server*"],
    "yaml": ["aggregator.config.yamlfile"],
}

# One line of the drawing: the prefix of tree marks, then the class name.
_DRAWN = re.compile(r"^ {4}((?: [ │]   )*(?: [├└]── )?)([A-Z]\w+)\s")


def module_names() -> list[str]:
    """The name of every module of the aggregator package."""
    names = [aggregator.__name__]
    return names + [m.name for m in pkgutil.walk_packages(aggregator.__path__, "aggregator.")]


def aggregator_modules() -> list[ModuleType]:
    """Every module of the aggregator package, imported (but ``__main__``, which would run
    the CLI)."""
    return [importlib.import_module(n) for n in module_names() if not n.endswith(".__main__")]


def imported_libraries() -> dict[str, set[str]]:
    """Each top-level module outside aggregator and the standard library (and sqlite3)
    -> the aggregator modules whose source imports it, at the top or inside a function."""
    found: dict[str, set[str]] = defaultdict(set)
    for name in module_names():
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        for node in ast.walk(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported = [node.module]
            else:
                continue
            for top in {full.partition(".")[0] for full in imported}:
                if top in HOMES or top not in sys.stdlib_module_names | {"aggregator"}:
                    found[top].add(name)
    return found


def exception_classes() -> dict[type[BaseException], str]:
    """Each exception class defined in aggregator -> the module that defines it."""
    return {
        value: module.__name__
        for module in aggregator_modules()
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    }


def drawn_parents() -> dict[str, str | None]:
    """Each class the errors docstring draws -> the class drawn above it (None at the top)."""
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = _DRAWN.match(line)
        if match is None:
            continue
        depth = len(match.group(1)) // 5
        del path[depth:]
        parents[match.group(2)] = path[-1] if path else None
        path.append(match.group(2))
    return parents


def test_every_exception_is_defined_in_errors_under_wiredesk_error() -> None:
    classes = exception_classes()
    assert len(classes) > 10  # the walk found the tree, so the checks below check something
    elsewhere = sorted(f"{module}.{cls.__name__}" for cls, module in classes.items())
    assert [name for name in elsewhere if not name.startswith("aggregator.errors.")] == []
    assert [cls.__name__ for cls in classes if not issubclass(cls, WiredeskError)] == []


def test_the_errors_docstring_draws_each_class_under_its_base() -> None:
    drawn = drawn_parents()
    actual = {
        cls.__name__: None if cls is WiredeskError else cls.__base__.__name__
        for cls in exception_classes()
    }
    assert drawn == actual


def test_every_library_is_imported_only_by_its_home() -> None:
    aggregator_modules()  # each module imports, so the sources read below are the real ones
    found = imported_libraries()
    assert sorted(found) == sorted(HOMES)  # a new library needs its row; a dropped one, none
    strays = {
        library: sorted(m for m in modules if not any(fnmatch(m, h) for h in HOMES[library]))
        for library, modules in found.items()
    }
    assert {library: modules for library, modules in strays.items() if modules} == {}
    unused = [
        h
        for library, homes in HOMES.items()
        for h in homes
        if not any(fnmatch(m, h) for m in found[library])
    ]
    assert unused == []


def architecture_rows() -> dict[str, set[str]]:
    """The README's Architecture table: each row's module or package, as a dotted name
    under aggregator -> the libraries its "owns" cell names (their import names)."""
    readme = (Path(aggregator.__file__).resolve().parent.parent / "README.md").read_text(
        encoding="utf-8"
    )
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        path = cells[0].strip("`").removesuffix(".py").strip("/")
        rows["aggregator." + path.replace("/", ".")] = set(re.findall(r"`(\w+)`", cells[2]))
    return rows


def test_the_readme_architecture_lists_every_module_and_package_and_what_each_owns() -> None:
    listed = {  # the top-level modules and every package, at any depth
        m.name
        for m in pkgutil.walk_packages(aggregator.__path__, "aggregator.")
        if m.ispkg or m.name.count(".") == 1
    }
    rows = architecture_rows()
    unlisted, gone = sorted(listed - set(rows)), sorted(set(rows) - listed)
    assert (unlisted, gone) == ([], [])
    owned: dict[str, set[str]] = {row: set() for row in rows}
    for library, homes in HOMES.items():
        for home in homes:  # a home belongs to the deepest row that holds it
            module = home.rstrip("*") + "."
            owned[max((row for row in rows if module.startswith(row + ".")), key=len)].add(library)
    assert rows == owned
