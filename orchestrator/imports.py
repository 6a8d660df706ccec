"""The project modules a stage's scripts import, found by reading the scripts.

A stage is stale when a helper module its script imports changes, even though the
graph names only the script. This module finds those helpers, transitively:

- Python (`.py`): `import a.b`, `from a.b import c`, `from . import z`, `from ..x import y`,
  resolved the way the interpreter would for `python3 path/to/script.py` run from the
  project root with the root on PYTHONPATH: first the script's own folder, then the
  root; `from a import b` also tracks `a/b.py` when `b` is a submodule; a package's
  `__init__.py` files count. Imports anywhere in the file count (inside functions, under
  `try`), since the file is parsed, never run.
- Node (`.js`, `.mjs`, `.cjs`, `.jsx`, `.ts`, `.mts`, `.cts`): `import … from './x.mjs'`,
  `import './x.js'`, `export … from './x.js'`, `import('./y.js')`, `require('./z')`,
  resolved against the importing file's folder with Node's CommonJS rules (the exact
  file, then the extensions, then a folder's `package.json` `main` and `index.*`).

Only files inside the project root are kept; the standard library, installed
packages and bare package names (`import os`, `require('lodash')`) resolve to nothing
here and are ignored. A file that cannot be read or parsed contributes no imports.

Reading a file's imports costs a parse; the result is cached by the file's content
digest (`.pipeline-runs/.cache/imports.json`, plain JSON and untrusted: an odd file is
no cache), so a no-op run only hashes (or finds unchanged by stat) each module and
checks where its imports resolve.
"""

from __future__ import annotations

import ast
import json
import os
import re

from orchestrator.digest import DigestCache

PYTHON_SUFFIXES = (".py",)
NODE_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts")
# what Node's CommonJS resolver tries after the exact name (TypeScript loaders add theirs)
_NODE_EXTENSIONS = (".js", ".mjs", ".cjs", ".json", ".ts", ".mts", ".cts", ".jsx")
_NODE_INDEXES = tuple("index" + ext for ext in _NODE_EXTENSIONS)
_CACHE_VERSION = 1


def language_of(path: str) -> str | None:
    if path.endswith(PYTHON_SUFFIXES):
        return "py"
    if path.endswith(NODE_SUFFIXES):
        return "js"
    return None


# -- reading one file ----------------------------------------------------------------

def python_imports(source: bytes) -> list[list]:
    """[[level, module, [names]]] for every import statement of a Python source."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend([0, alias.name, []] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append([node.level or 0, node.module or "",
                          [alias.name for alias in node.names if alias.name != "*"]])
    return found


_LINE_COMMENT = re.compile(rb"(?m)(?:^|(?<=[\s;{}()]))//.*$")
_QUOTED = rb"""(?:'([^'\n]+)'|"([^"\n]+)"|`([^`$\n]+)`)"""
# Each pattern is linear in the text (no nested repetition): a minified bundle of
# megabytes is scanned in milliseconds. `from '…'` covers `import … from` and
# `export … from`; `from` followed directly by a quote occurs nowhere else in JavaScript.
_NODE_PATTERNS = (
    re.compile(rb"\bfrom\s*" + _QUOTED),  # import x from './x.mjs', export * from
    re.compile(rb"\bimport\s*" + _QUOTED),  # import './side-effect.js'
    re.compile(rb"\bimport\s*\(\s*" + _QUOTED),  # import('./y.js')
    re.compile(rb"\brequire\s*\(\s*" + _QUOTED),  # require('./z')
)


def _without_block_comments(text: bytes) -> bytes:
    parts, at = [], 0
    while True:
        start = text.find(b"/*", at)
        if start < 0:
            parts.append(text[at:])
            break
        parts.append(text[at:start])
        end = text.find(b"*/", start + 2)
        if end < 0:
            break  # unterminated: the rest is a comment
        at = end + 2
    return b" ".join(parts)


def node_imports(source: bytes) -> list[str]:
    """The specifiers a JavaScript / TypeScript source imports or requires (relative
    and absolute paths only: bare package names are installed packages)."""
    text = _LINE_COMMENT.sub(b"", _without_block_comments(source))
    found: list[str] = []
    for pattern in _NODE_PATTERNS:
        for match in pattern.finditer(text):
            raw = next(g for g in match.groups() if g)
            spec = raw.decode("utf-8", "surrogateescape")
            if spec.startswith(("./", "../", "/")) or spec in (".", ".."):
                if spec not in found:
                    found.append(spec)
    return found


# -- resolving -----------------------------------------------------------------------

def _is_file(path: str) -> bool:
    return os.path.isfile(path)


def _python_module(base: str, parts: list[str], found: list[str]) -> bool:
    """Add the files of module `parts` under `base` (its packages' `__init__.py` and the
    module itself) to `found`; False if the top-level name is not there."""
    here = base
    for number, part in enumerate(parts):
        package = os.path.join(here, part)
        if number == len(parts) - 1:
            if _is_file(package + ".py"):
                found.append(package + ".py")
                return True
        if os.path.isdir(package):
            init = os.path.join(package, "__init__.py")
            if _is_file(init):
                found.append(init)
            here = package
            continue
        if number == 0:
            return False
        return True  # an attribute of the package, or an installed module's part
    return True


def _resolve_python(path: str, specs: list, bases: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for level, module, names in specs:
        if level:
            package = os.path.dirname(path)
            for _ in range(level - 1):
                package = os.path.dirname(package)
            parts = module.split(".") if module else []
            if parts:
                _python_module(package, parts, found)
            for name in names:  # `from . import z`: z may be a module
                _python_module(os.path.join(package, *parts), [name], found)
            continue
        parts = module.split(".")
        for base in bases:  # the first folder on the path that has the name wins
            if _python_module(base, parts, found):
                for name in names:
                    _python_module(os.path.join(base, *parts), [name], found)
                break
    return found


def _node_file(candidate: str) -> str | None:
    if _is_file(candidate):
        return candidate
    for ext in _NODE_EXTENSIONS:
        if _is_file(candidate + ext):
            return candidate + ext
    if os.path.isdir(candidate):
        main = _package_main(candidate)
        if main is not None:
            return main
        for index in _NODE_INDEXES:
            if _is_file(os.path.join(candidate, index)):
                return os.path.join(candidate, index)
    return None


def _package_main(folder: str) -> str | None:
    try:
        with open(os.path.join(folder, "package.json"), encoding="utf-8") as f:
            main = json.load(f).get("main")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(main, str) or not main:
        return None
    target = os.path.normpath(os.path.join(folder, main))
    if _is_file(target):
        return target
    for ext in _NODE_EXTENSIONS:
        if _is_file(target + ext):
            return target + ext
    return None


def _resolve_node(path: str, specs: list[str]) -> list[str]:
    folder = os.path.dirname(path)
    found = []
    for spec in specs:
        target = _node_file(os.path.normpath(
            spec if spec.startswith("/") else os.path.join(folder, spec)))
        if target is not None:
            found.append(target)
    return found


# -- the scan ------------------------------------------------------------------------

class ImportScanner:
    """Finds the project modules scripts import, remembering each file's imports by
    its content digest (in memory, and in `cache_file` across runs)."""

    def __init__(self, root: str, cache_file: str | None = None,
                 digests: DigestCache | None = None):
        self.root = os.path.abspath(root)
        self.digests = DigestCache() if digests is None else digests
        self.cache_file = cache_file
        self._by_digest: dict[str, list] = {}
        self._added = False
        self._loaded = cache_file is None

    def _load(self) -> None:
        self._loaded = True
        try:
            with open(self.cache_file, encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError, RecursionError):
            return
        if isinstance(saved, dict) and saved.get("version") == _CACHE_VERSION \
                and isinstance(saved.get("files"), dict):
            self._by_digest = {k: v for k, v in saved["files"].items() if isinstance(v, list)}

    def save(self) -> None:
        """Keep what was read for the next run; best effort (a cache)."""
        if not self._added or self.cache_file is None:
            return
        from orchestrator.files import replace_with_json

        try:
            replace_with_json(self.cache_file,
                              {"version": _CACHE_VERSION, "files": self._by_digest})
            self._added = False
        except OSError:
            pass

    def _specs(self, path: str, language: str) -> list:
        if not self._loaded:
            self._load()
        try:
            key = f"{language}:{self.digests.file_digest(path)}"
        except OSError:
            return []
        specs = self._by_digest.get(key)
        if not isinstance(specs, list) or not _well_formed(specs, language):
            try:
                with open(path, "rb") as f:
                    source = f.read()
            except OSError:
                return []
            specs = python_imports(source) if language == "py" else node_imports(source)
            self._by_digest[key] = specs
            self._added = True
        return specs

    def imported_by(self, scripts: list[str] | tuple[str, ...]) -> list[str]:
        """Project-relative paths of the modules `scripts` (project-relative) import,
        directly or through each other, sorted; the scripts themselves left out."""
        root = self.root
        prefix = root + os.sep
        found: set[str] = set()
        for script in scripts:
            language = language_of(script)
            if language is None:
                continue
            start = os.path.join(root, script)
            bases = (os.path.dirname(start), root)  # sys.path[0], then PYTHONPATH
            queue, seen = [start], {start}
            while queue:
                path = queue.pop()
                kind = language_of(path)
                if kind is None:
                    continue  # e.g. a required .json: tracked, has no imports
                specs = self._specs(path, kind)
                if not specs:
                    continue
                targets = (_resolve_python(path, specs, bases) if kind == "py"
                           else _resolve_node(path, specs))
                for target in targets:
                    target = os.path.normpath(target)
                    if target in seen or not target.startswith(prefix):
                        continue
                    seen.add(target)
                    found.add(target[len(prefix):].replace(os.sep, "/"))
                    queue.append(target)
        return sorted(found - set(scripts))


def _well_formed(specs: list, language: str) -> bool:
    if language == "js":
        return all(isinstance(s, str) for s in specs)
    return all(isinstance(s, list) and len(s) == 3 and isinstance(s[0], int)
               and isinstance(s[1], str) and isinstance(s[2], list)
               and all(isinstance(n, str) for n in s[2]) for s in specs)
