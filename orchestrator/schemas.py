"""Validate artifacts against their JSON Schemas, resolving `$ref`s from local files only.

Every `*.json` file under the directories holding the graph's schema files is a known
schema, by its file URI and by each `$id` it declares. A `$ref` is joined to the base URI
of the place it stands in (the `$id` in scope, else the URI the schema was reached by), and
the result names:

1. a known schema with that URI (a `$id`, a file URI, or a JSON Schema meta-schema);
2. else, when it is a `file:` URI, that file;
3. else, when the reference was written relative (`../partials/core.json` beside an
   `https` `$id` that no local schema declares), the file at that path relative to the
   file holding the reference.

Nothing is ever fetched over the network: an `http(s)` URI no local schema declares does
not resolve. The schemas are read once and kept while none of their files, nor the list of
files in those directories, changes.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from orchestrator.graph import Artifact
from orchestrator.paths import RUNS_DIR

MAX_ERRORS = 3
# Folders under a schema directory that hold tools, caches or records, never schemas.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv",
                       "__pycache__", RUNS_DIR})
# A larger *.json file in a schema directory is taken for data and not read for its
# `$id` (a `$ref` naming its path still reads it).
MAX_SCHEMA_BYTES = 4 * 1024 * 1024


class SchemaProblem(Exception):
    """The artifact or its schema could not be read, or the artifact does not match."""


@dataclass(frozen=True)
class RefProblem:
    """A `$ref` that does not resolve: the file holding it, the reference as written,
    and why."""

    file: Path
    ref: str
    why: str


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaProblem(f"{what} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SchemaProblem(f"{what} is not readable JSON: {exc}") from None


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _uri_path(uri: str) -> Path:
    return Path(unquote(urlsplit(uri).path))


def _id_of(resource) -> str | None:
    """A (sub)schema's `$id` as its draft reads it (`id` in draft 4; none beside `$ref`
    before 2019-09), or None."""
    try:
        declared = resource.id()
    except Exception:  # e.g. a `$id` that is not a string
        return None
    return declared if isinstance(declared, str) and declared else None


def _subresources(resource) -> list:
    """The subschemas its draft knows (properties, items, $defs ...); none for a
    malformed one (check_schema reports that)."""
    try:
        return list(resource.subresources())
    except Exception:  # e.g. "properties": 5, or an unknown nested $schema
        return []


@dataclass
class _File:
    path: Path
    uri: str  # its file URI
    resource: Any  # referencing.Resource


@dataclass
class Library:
    """The schema files under `dirs`, and those their `$ref`s reached elsewhere on disk."""

    root: Path
    dirs: tuple[Path, ...]
    scanned: tuple = ()  # (path, stat key) of every *.json under `dirs` when read
    files: dict[Path, _File] = field(default_factory=dict)
    by_uri: dict[str, _File] = field(default_factory=dict)  # $ids, file URIs, fallbacks
    duplicates: dict[str, list[Path]] = field(default_factory=dict)  # $id -> its files
    unreadable: dict[Path, str] = field(default_factory=dict)  # path -> why
    consulted: dict[Path, tuple | None] = field(default_factory=dict)  # read after `load`
    linked: set[tuple[Path, str]] = field(default_factory=set)  # (file, base) walked
    problems: dict[tuple[Path, str], RefProblem] = field(default_factory=dict)
    validators: dict[Path, Any] = field(default_factory=dict)
    checked: dict[Path, str | None] = field(default_factory=dict)  # path -> why invalid
    _registry: Any = None

    # -- finding and reading schema files --------------------------------------

    @staticmethod
    def scan(dirs: tuple[Path, ...]) -> tuple:
        """Every *.json file under `dirs` (sorted), with its stat key."""
        found = []
        for top in dirs:
            for folder, subdirs, names in os.walk(top):
                subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)
                for name in sorted(names):
                    if name.endswith(".json"):
                        path = Path(folder, name)
                        key = _stat_key(path)
                        if key is not None:
                            found.append((path, key))
        return tuple(found)

    def fresh(self, scanned: tuple) -> bool:
        """Nothing it read (or looked for) changed since."""
        return scanned == self.scanned and \
            all(_stat_key(path) == key for path, key in self.consulted.items())

    def load(self, scanned: tuple, declaring: dict | None = None) -> None:
        """Index the scanned files that declare a `$id`; the others are read when a `$ref`
        names them. A file unchanged since an earlier library read it (`declaring`, the
        cache's memo) is not read again (stages writing JSON beside the schemas make the
        library be built anew)."""
        self.scanned = scanned
        declaring = {} if declaring is None else declaring
        for path, key in scanned:
            known = declaring.get(path)
            if known is not None and known[0] == key:
                contents = known[1]
            else:
                contents = None
                if key[1] <= MAX_SCHEMA_BYTES:
                    try:
                        contents = json.loads(path.read_text(encoding="utf-8"))
                    except (OSError, UnicodeDecodeError, ValueError):
                        pass  # not a schema: reported only if a $ref names it
                if not isinstance(contents, dict) or not self._ids(self._file(path, contents)):
                    contents = None
                declaring[path] = (key, contents)
            if contents is not None:
                self._add(path, contents)

    @staticmethod
    def _file(path: Path, contents: Any) -> _File:
        from referencing import Resource
        from referencing.jsonschema import DRAFT202012, specification_with

        dialect = contents.get("$schema") if isinstance(contents, dict) else None
        spec = specification_with(dialect, default=DRAFT202012) \
            if isinstance(dialect, str) else DRAFT202012
        return _File(path, path.as_uri(), Resource(contents=contents, specification=spec))

    def _add(self, path: Path, contents: Any) -> _File:
        entry = self._file(path, contents)
        self.files[path] = entry
        self.by_uri.setdefault(entry.uri, entry)
        for declared in self._ids(entry):
            holder = self.by_uri.setdefault(declared, entry)
            if holder is not entry:  # the first file found keeps it
                self.duplicates.setdefault(declared, [holder.path]).append(path)
        self._registry = None
        return entry

    def _ids(self, entry: _File) -> list[str]:
        """The URIs the file's (sub)schemas declare with `$id`, made absolute."""
        ids = dict.fromkeys(here for here, _, _ in self._walk(entry, entry.uri, root_id=True))
        ids.pop(entry.uri, None)
        return list(ids)

    def file_at(self, path: Path) -> _File | None:
        """The schema file at `path` (read now if it was not read with the directories)."""
        if path in self.files:
            return self.files[path]
        if path in self.unreadable:
            return None
        self.consulted[path] = _stat_key(path)
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.unreadable[path] = "missing"
            return None
        except OSError as exc:
            self.unreadable[path] = f"not readable JSON: {exc.strerror or exc}"
            return None
        except (UnicodeDecodeError, ValueError) as exc:
            self.unreadable[path] = f"not readable JSON: {exc}"
            return None
        if not isinstance(contents, (dict, bool)):
            self.unreadable[path] = "not a JSON Schema (neither an object nor a boolean)"
            return None
        return self._add(path, contents)

    def show(self, path: Path) -> str:
        """`path` relative to the project root when inside it."""
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)

    # -- following $refs --------------------------------------------------------

    @staticmethod
    def base_of(entry: _File) -> str:
        """The base URI of a schema validated on its own: its `$id`, else its file URI."""
        declared = _id_of(entry.resource)
        return urljoin(entry.uri, declared) if declared else entry.uri

    @staticmethod
    def _walk(entry: _File, base: str, root_id: bool = False
              ) -> Iterator[tuple[str, str, str]]:
        """(base URI, file-relative URI, `$ref`) at each subschema of the file, entered
        with `base`; nested `$id`s change the base as the validator changes it. The file's
        own `$id` is applied only with `root_id`: a schema reached through a `$ref` keeps
        the URI it was reached by (as jsonschema does), and `base_of` already holds it."""
        stack = [(entry.resource, base, entry.uri, root_id)]
        while stack:
            resource, here, on_disk, apply_id = stack.pop()
            declared = _id_of(resource) if apply_id else None
            if declared:
                here = urljoin(here, declared)
                if not urlsplit(declared).scheme:
                    on_disk = urljoin(on_disk, declared)
            contents = resource.contents
            ref = contents.get("$ref") if isinstance(contents, dict) else None
            yield here, on_disk, ref if isinstance(ref, str) else ""
            stack.extend((sub, here, on_disk, True)
                         for sub in reversed(_subresources(resource)))

    def _refs(self, entry: _File, base: str) -> Iterator[tuple[str, str, str]]:
        return ((here, on_disk, ref) for here, on_disk, ref in self._walk(entry, base) if ref)

    def link(self, path: Path) -> None:
        """Make known every schema that the one at `path` reaches through `$ref`s, and
        note (in `problems`) the references that lead nowhere."""
        from jsonschema_specifications import REGISTRY as SPECIFICATIONS

        start = self.file_at(path)
        if start is None:
            return
        todo = [(start, self.base_of(start))]
        while todo:
            entry, base = todo.pop()
            if (entry.path, base) in self.linked:
                continue
            self.linked.add((entry.path, base))
            for here, on_disk, ref in self._refs(entry, base):
                if ref.startswith("#"):
                    continue  # within the same schema: the registry finds the fragment
                target = urldefrag(urljoin(here, ref))[0]
                found = self.by_uri.get(target)
                if found is None and target in SPECIFICATIONS:
                    continue
                if found is None:
                    found, why = self._on_disk(target, ref, on_disk)
                    if found is None:
                        self.problems.setdefault((entry.path, ref),
                                                 RefProblem(entry.path, ref, why))
                        continue
                    self.by_uri[target] = found
                    self._registry = None
                todo.append((found, target))

    def _on_disk(self, target: str, ref: str, on_disk: str) -> tuple[_File | None, str]:
        """The file a `$ref` means when no known schema has its URI, or (None, why not)."""
        if target.startswith("file:"):
            path, declares = _uri_path(target), ""
        elif not urlsplit(ref).scheme:  # written relative: relative to its file, on disk
            path = _uri_path(urldefrag(urljoin(on_disk, ref))[0])
            declares = f"no schema file {self._where()} declares $id {target}, and "
        else:
            return None, (f"no schema file {self._where()} declares $id {target} "
                          f"(schemas are never fetched over the network)")
        found = self.file_at(path)
        if found is not None:
            return found, ""
        why = self.unreadable.get(path, "missing")
        if why == "missing":
            return None, f"{declares}there is no file {self.show(path)}"
        return None, f"{declares}{self.show(path)} is {why}"

    def _where(self) -> str:
        return "in " + ", ".join(f"{self.show(d).rstrip('/')}/" for d in self.dirs)

    def reachable(self, path: Path) -> Iterator[tuple[_File, str]]:
        """(file, base) for the schema at `path` and each one its `$ref`s reach."""
        self.link(path)
        start = self.files.get(path)
        if start is None:
            return
        first = (start, self.base_of(start))
        seen = {(start.path, first[1])}
        todo = [first]
        while todo:
            entry, base = todo.pop()
            yield entry, base
            for here, _, ref in self._refs(entry, base):
                target = urldefrag(urljoin(here, ref))[0]
                found = self.by_uri.get(target)
                if found is not None and (found.path, target) not in seen:
                    seen.add((found.path, target))
                    todo.append((found, target))

    # -- validating -------------------------------------------------------------

    def registry(self):
        """Every known schema under each of its URIs; it never fetches anything."""
        if self._registry is None:
            from referencing import Registry
            from referencing.exceptions import NoSuchResource

            def refuse(uri: str):
                raise NoSuchResource(ref=uri)  # not the network, not an unread file

            registry = Registry(retrieve=refuse).with_resources(
                (uri, entry.resource) for uri, entry in self.by_uri.items()).crawl()
            # the crawl registered every file under its $ids in no set order: a $id two
            # files declare goes back to the first found, as in `by_uri`
            self._registry = registry.with_resources(
                (uri, self.by_uri[uri].resource) for uri in self.duplicates)
        return self._registry

    def invalid(self, entry: _File) -> str | None:
        """Why the file is not a valid JSON Schema of its draft, or None."""
        if entry.path not in self.checked:
            from jsonschema import validators
            from jsonschema.exceptions import SchemaError

            schema = entry.resource.contents
            try:
                cls = validators.validator_for(schema,
                                               default=validators.Draft202012Validator)
                cls.check_schema(schema)
                why = None
            except SchemaError as exc:
                where = "/".join(map(str, exc.path)) or "top level"
                why = f"not a valid JSON Schema at {where}: {_short(exc.message, 120)}"
            except Exception as exc:  # e.g. a $schema that is not a string
                why = f"not a valid JSON Schema: {_short(str(exc), 120)}"
            self.checked[entry.path] = why
        return self.checked[entry.path]

    def validator(self, path: Path):
        """A validator for the schema file at `path`, formats checked. SchemaProblem if
        it, or a schema it reaches, cannot be read or is not a JSON Schema."""
        if path in self.validators:
            return self.validators[path]
        from jsonschema import validators

        entry = self.file_at(path)
        if entry is None:
            raise SchemaProblem(self.unreadable.get(path, "missing"))
        for reached, _ in self.reachable(path):
            why = self.invalid(reached)
            if why:
                where = "" if reached is entry else f"{self.show(reached.path)} (reached " \
                                                    f"through a $ref) is "
                raise SchemaProblem(f"{where}{why}")
        schema = entry.resource.contents
        cls = validators.validator_for(schema, default=validators.Draft202012Validator)
        base = self.base_of(entry)
        # A schema with an absolute $id is given as it is (its $id is its base, and it
        # wins over another file declaring the same $id); any other is reached by its URI.
        top = schema if urlsplit(base).scheme and base != entry.uri else {"$ref": base}
        # formats are asserted (as Ajv with ajv-formats does upstream), not annotations
        validator = cls(top, registry=self.registry(), format_checker=cls.FORMAT_CHECKER)
        self.validators[path] = validator
        return validator

    def ref_problems(self, path: Path) -> list[RefProblem]:
        """Every `$ref` reachable from the schema at `path` that does not resolve, each
        looked up as validation does: a missing file or `$id`, JSON pointer or anchor."""
        from jsonschema_specifications import REGISTRY as SPECIFICATIONS
        from referencing.exceptions import NoSuchAnchor, PointerToNowhere, Unresolvable

        found: dict[tuple[Path, str], RefProblem] = {}
        reached = list(self.reachable(path))  # links first: the registry is complete
        registry = SPECIFICATIONS.combine(self.registry())
        for entry, base in reached:
            for here, _, ref in self._refs(entry, base):
                key = (entry.path, ref)
                if key in found:
                    continue
                if key in self.problems:
                    found[key] = self.problems[key]
                    continue
                try:
                    registry.resolver(here).lookup(ref)
                except PointerToNowhere as exc:
                    found[key] = RefProblem(entry.path, ref, f"{self._holder(here, ref)} "
                                                             f"has no {exc.ref}")
                except NoSuchAnchor as exc:
                    found[key] = RefProblem(entry.path, ref, f"{self._holder(here, ref)} "
                                                             f"has no anchor '{exc.anchor}'")
                except Unresolvable:
                    found[key] = RefProblem(entry.path, ref, "it names no known schema")
        return list(found.values())

    def _holder(self, here: str, ref: str) -> str:
        target = urldefrag(urljoin(here, ref))[0]
        found = self.by_uri.get(target)
        return self.show(found.path) if found is not None else target

    def formats(self, path: Path) -> dict[str, list[Path]]:
        """Each `format` the schema at `path` and the schemas it reaches use, with the
        files using it."""
        used: dict[str, list[Path]] = {}
        for entry, _ in self.reachable(path):
            stack = [entry.resource]
            while stack:
                resource = stack.pop()
                contents = resource.contents
                form = contents.get("format") if isinstance(contents, dict) else None
                if isinstance(form, str) and entry.path not in used.setdefault(form, []):
                    used[form].append(entry.path)
                stack.extend(_subresources(resource))
        return used


class SchemaCache:
    """The schema libraries one run (or one command) has read, kept while their files
    are unchanged: a run's own (RunSettings.schemas), never the process's."""

    def __init__(self):
        self.libraries: dict[tuple[Path, tuple[Path, ...]], Library] = {}
        # path -> (stat key, contents): a scanned file's schema if it declares a $id
        self.declaring: dict[Path, tuple[tuple, Any]] = {}
        self.lock = threading.Lock()  # `run --jobs N` validates in several threads


def schema_library(root: Path, schema_dirs: tuple[str, ...] | list[str],
                   cache: SchemaCache) -> Library:
    """The schemas under `schema_dirs` (relative to `root`), read again when a file there,
    or one a `$ref` reached elsewhere, changed, appeared or went away. Hold `cache.lock`."""
    root = Path(os.path.abspath(root))
    dirs = sorted({Path(os.path.normpath(root / d)) for d in schema_dirs})
    dirs = tuple(d for d in dirs if not any(d != o and d.is_relative_to(o) for o in dirs))
    scanned = Library.scan(dirs)
    known = cache.libraries.get((root, dirs))
    if known is not None and known.fresh(scanned):
        return known
    library = Library(root, dirs)
    library.load(scanned, cache.declaring)
    cache.libraries[(root, dirs)] = library
    return library


def validate_artifact(root: Path, artifact: Artifact,
                      schema_dirs: tuple[str, ...] | None = None,
                      cache: SchemaCache | None = None,
                      mask: Callable[[str], str] | None = None) -> None:
    """Raise SchemaProblem unless the artifact's file matches its schema. `schema_dirs`:
    the directories holding the graph's schema files (default: the schema's own);
    `cache`: the libraries read before (the run's). `mask` hides secrets in the values
    an error quotes, before a long one is cut short (a secret cut in half could no
    longer be recognised)."""
    from jsonschema.exceptions import ValidationError
    from referencing.exceptions import NoSuchAnchor, PointerToNowhere, Unresolvable

    mask = mask or (lambda text: text)
    rel = artifact.schema
    cache = SchemaCache() if cache is None else cache
    with cache.lock:
        library = schema_library(root, schema_dirs or (os.path.dirname(rel),), cache)
        schema_path = Path(os.path.normpath(library.root / rel))
        if _stat_key(schema_path) is None:
            raise SchemaProblem(f"schema {rel} not found")
        try:
            validator = library.validator(schema_path)
        except SchemaProblem as problem:
            raise SchemaProblem(f"schema {rel}: {problem}") from None
        problems = dict(library.problems)
    data = _load_json(root / artifact.path, artifact.path)
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    except Unresolvable as exc:
        cause = getattr(exc, "_wrapped", exc)  # jsonschema wraps referencing's error
        if isinstance(cause, PointerToNowhere):
            what = f": no {cause.ref} in the schema it names"
        elif isinstance(cause, NoSuchAnchor):
            what = f": no anchor '{cause.anchor}' in the schema it names"
        else:
            where = next((p for p in problems.values() if p.ref == cause.ref), None)
            what = f" '{cause.ref}'" + \
                (f" (in {library.show(where.file)}: {where.why})" if where else "")
        raise SchemaProblem(f"schema {rel}: cannot resolve $ref{what}") from None
    except (ValidationError, RecursionError) as exc:
        raise SchemaProblem(f"schema {rel}: {mask(str(exc))}") from None
    if errors:
        shown = "; ".join(f"{e.json_path}: {_short(mask(e.message))}"
                          for e in errors[:MAX_ERRORS])
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        raise SchemaProblem(f"does not match schema {rel}: {shown}{more}")


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
