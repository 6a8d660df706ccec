"""Each state path of a project is named once, in orchestrator/paths.py."""

from __future__ import annotations

import ast
from pathlib import Path

from orchestrator import paths

PACKAGE = Path(paths.__file__).parent
SPELLINGS = (paths.RUNS_DIR, paths.STATE_DB)


def literals(tree: ast.AST):
    """The string constants of a module's code, docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings):
            yield node


def test_no_module_but_paths_spells_a_state_path():
    found = []
    for module in sorted(PACKAGE.rglob("*.py")):
        if module == Path(paths.__file__):
            continue
        for node in literals(ast.parse(module.read_text(encoding="utf-8"))):
            if any(spelling in node.value for spelling in SPELLINGS):
                found.append(f"{module.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}")
    assert found == [], "use orchestrator.paths instead:\n" + "\n".join(found)


def test_state_paths_live_under_the_runs_folder_or_the_root():
    for name in ("LOCK_FILE", "CACHE_DIR", "IMPORTS_CACHE", "DIGESTS_CACHE"):
        assert getattr(paths, name).startswith(paths.RUNS_DIR + "/"), name
    assert "/" not in paths.STATE_DB
