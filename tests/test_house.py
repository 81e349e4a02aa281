"""The rules the house claims to follow, checked over every module of ``aggregator``: one
error tree, drawn where it is defined."""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

import aggregator
from aggregator import errors
from aggregator.errors import WiredeskError

# One line of the drawing: the prefix of tree marks, then the class name.
_DRAWN = re.compile(r"^ {4}((?: [ │]   )*(?: [├└]── )?)([A-Z]\w+)\s")


def aggregator_modules() -> list[ModuleType]:
    """Every module of the aggregator package, imported (but ``__main__``, which would run
    the CLI)."""
    names = [aggregator.__name__]
    names += [m.name for m in pkgutil.walk_packages(aggregator.__path__, "aggregator.")]
    return [importlib.import_module(name) for name in names if not name.endswith(".__main__")]


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
