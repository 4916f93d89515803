"""Tests share builders through tests/factories.py, conftest.py fixtures and helper modules, never by importing
another test module (whose private helpers then change under the feet of the tests that borrowed them)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(module: str) -> bool:
    return module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")


def imports_of_test_modules(path: Path) -> list[str]:
    """The test modules that `path` imports (from `tests.x.test_y import …`, `import tests.x.test_y`, or
    `from tests.x import test_y`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _is_test_module(node.module):
                found.append(node.module)
            elif node.module.startswith("tests"):
                found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("test_")]
    return found


def test_no_test_module_imports_another():
    borrowed = {str(path.relative_to(TESTS.parent)): imports for path in sorted(TESTS.rglob("*.py"))
                if (imports := imports_of_test_modules(path))}
    assert borrowed == {}, "move the shared builders to tests/factories.py or a conftest.py"


def test_the_rule_finds_a_borrowed_helper(tmp_path):
    module = tmp_path / "test_borrower.py"
    module.write_text("from tests.payments.test_payroll import _enrol\nfrom tests import factories\n"
                      "from tests.webapp import test_audit\n", encoding="utf-8")
    assert imports_of_test_modules(module) == ["tests.payments.test_payroll", "tests.webapp.test_audit"]
