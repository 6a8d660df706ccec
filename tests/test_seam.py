"""Only orchestrator/engine.py reaches into doit's private parts.

doit's private names are read from doit's own source (methods and attributes whose name
starts with one underscore); an access `x._name` to one of them anywhere in the package
but the seam fails this test, as does importing a doit module the seam does not list.
The seam's docstring says why each private use is there.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import doit

PACKAGE = Path(__file__).resolve().parent.parent / "orchestrator"
SEAM = PACKAGE / "engine.py"
# doit modules with documented API for what the package uses outside the seam
DOCUMENTED = {"doit.exceptions", "doit.task"}


def doit_private_names() -> set[str]:
    names = set()
    for path in Path(doit.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {n for n in names if re.fullmatch(r"_[a-z0-9]\w*", n)}


def outside_the_seam() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p != SEAM]


def test_no_module_but_the_seam_touches_doit_private_attributes():
    private = doit_private_names()
    assert {"_set", "_conn", "_dirty", "_action_instances", "_actions"} <= private
    found = []
    for path in outside_the_seam():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private:
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue  # our own object's attribute of the same name
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                             f".{node.attr}")
    assert found == [], "doit internals used outside orchestrator/engine.py:\n" + \
        "\n".join(found)


def test_no_module_but_the_seam_imports_doit_beyond_its_documented_api():
    found = []
    for path in outside_the_seam():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                if (module == "doit" or module.startswith("doit.")) and \
                        module not in DOCUMENTED:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {module}")
    assert found == [], "doit imported outside orchestrator/engine.py:\n" + "\n".join(found)


def test_the_seam_lists_every_private_use():
    doc = ast.get_docstring(ast.parse(SEAM.read_text(encoding="utf-8")))
    for name in ("StageTask", "uptodate", "_actions", "_action_instances",
                 "PrefetchedSqliteDB", "flush_state", "save_values", "UnmetDependency",
                 "Globals.dep_manager", "tasks_and_deps_iter", "saved_state_rows",
                 "open_state", "0.36", "0.37"):
        assert name in doc, name
