"""The suite's own rule: a test module imports its helpers from tests/builders.py or a
helper module, never from another test module or from conftest.py (pytest's, not ours)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports by absolute name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_test_or_conftest(module: str) -> bool:
    """Whether ``module`` names a test module or a conftest of this suite."""
    parts = module.split(".")
    return parts[0] == "tests" and any(
        part.startswith("test_") or part == "conftest" for part in parts[1:]
    )


def test_no_test_module_imports_another_test_module() -> None:
    modules = sorted(TESTS.rglob("*.py"))
    assert len([m for m in modules if m.name.startswith("test_")]) > 30
    wrong = {
        str(path.relative_to(TESTS)): sorted(filter(is_test_or_conftest, imported_modules(path)))
        for path in modules
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def test_the_rule_sees_each_way_of_importing_a_test_module(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import tests.test_store\n"
        "from tests import test_cli\n"
        "from tests.conftest import ROOT\n"
        "from tests.faults.test_fault_kill import WAIT\n"
        "from tests.builders import article\n"
        "from tests.faults.harness import wiredesk\n",
        encoding="utf-8",
    )
    assert sorted(filter(is_test_or_conftest, imported_modules(sample))) == [
        "tests.conftest",
        "tests.conftest.ROOT",
        "tests.faults.test_fault_kill",
        "tests.faults.test_fault_kill.WAIT",
        "tests.test_cli",
        "tests.test_store",
    ]
