"""`pipeline doctor`: is this machine and this project ready to run the stage graph?

Each check is one line (✔ passed, ✖ failed, ! warning) and every failure says how to
fix it. Nothing here runs a stage or writes outside a temporary probe file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestrator.commands._environment import add_env_file, env_file_values, stage_environ
from orchestrator.console import Console, wrap
from orchestrator.errors import EXIT_OK, EXIT_STAGE_FAILED
from orchestrator.graph import (
    Command,
    Graph,
    Stage,
    interpreter_program,
    missing_script,
    script_path,
)
from orchestrator.paths import RUNS_DIR, STATE_DB
from orchestrator.runtimes import PYTHON_EXECUTABLES, Interpreter
from orchestrator.semver import Range, parse_range

MIN_PYTHON = (3, 10)
MIN_NODE = (20,)
VERSION_TIMEOUT = 10  # seconds: a version query that hangs is a failed check, not a hang
PACKAGE_JSON = "package.json"  # at the project root: its engines.node says which Node
# An argument without a "/" is taken for a script only with one of these extensions, so
# that values such as "1.5" or "example.com" are not reported as missing files.


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    remedy: str | None = None
    level: str = "error"  # "warning": reported, but does not make doctor fail


def register(commands) -> None:
    parser = commands.add_parser(
        "doctor", help="check the machine and project: runtimes, executables, scripts, "
                       "schemas, environment, run directory, saved state")
    parser.add_argument("--json", action="store_true",
                        help='print {"ok", "checks": [...]} as one JSON document')
    add_env_file(parser)
    from orchestrator.commands.run import add_executor_options

    add_executor_options(parser, doctor=True)
    parser.set_defaults(handler=doctor)


def doctor(ctx, args) -> int:
    from orchestrator.commands.run import executor_settings

    settings = executor_settings(args)  # bad or missing Dask: exit 2, before any check
    graph = ctx.graph  # a broken graph is exit 2 with the usual lines, like every command
    environ = stage_environ(env_file_values(args.env_file), args.python)
    checks = run_checks(graph, ctx.root, environ)
    if settings:
        checks.extend(dask_checks(graph, ctx.root, settings))
    ok = all(c.ok or c.level == "warning" for c in checks)
    console = Console()
    if args.json:
        console.json({"ok": ok, "checks": [asdict(c) for c in checks]})
    else:
        show(console, checks)
    return EXIT_OK if ok else EXIT_STAGE_FAILED


def show(console: Console, checks: list[Check]) -> None:
    for c in checks:
        mark, style = ("✔", "ok") if c.ok else ("!", "bold") if c.level == "warning" \
            else ("✖", "fail")
        for text in wrap(f"{mark} {c.name}: {c.detail}"):
            console.line(text, style)
        if not c.ok and c.remedy:
            for text in wrap(f"    fix: {c.remedy}", indent="         "):
                console.line(text, "note")
    failed = sum(1 for c in checks if not c.ok and c.level != "warning")
    warned = sum(1 for c in checks if not c.ok and c.level == "warning")
    summary = f"{len(checks)} checks: {failed} failed"
    summary += f", {warned} warning{'s' if warned != 1 else ''}" if warned else ""
    console.line(summary, "fail" if failed else "ok")


def run_checks(graph: Graph, root: Path, environ: dict[str, str] | None = None
               ) -> list[Check]:
    """Every check; `environ` is the stages' environment (default: ours)."""
    environ = dict(os.environ) if environ is None else environ
    from orchestrator.runtimes import stage_interpreter, uses_python_on_path

    commands = list(stage_commands(graph))
    runtimes = {_runtime(cmd) for _, cmd in commands}
    checks = [runner_python()]
    # the Python commands whose interpreter is configured ("python", --python), by path
    configured: dict[str, tuple[Interpreter, list[str]]] = {}
    by_default: list[tuple[str, Command]] = []
    for stage in graph.stages.values():
        interpreter = stage_interpreter(graph, stage, root, environ)
        for who, cmd in stage_commands(graph, stage):
            if not uses_python_on_path(cmd):
                continue
            if interpreter is None:
                by_default.append((who, cmd))
            else:
                configured.setdefault(interpreter.path, (interpreter, []))[1].append(who)
    if "python" in runtimes:
        for name in sorted({cmd.executable for _, cmd in commands if _runtime(cmd) == "python"
                            and (cmd.executable not in PYTHON_EXECUTABLES
                                 or (_, cmd) in by_default)}):
            checks.append(stage_python(name, root))
        checks.extend(configured_python(interpreter, who, root)
                      for interpreter, who in configured.values())
    # an executable a configured interpreter replaces need not be on PATH
    configured_commands = [(who, cmd) for who, cmd in commands if uses_python_on_path(cmd)
                           and (who, cmd) not in by_default]
    if "node" in runtimes:
        engines, problem = node_engines(root)
        found = {}
        for name in sorted({cmd.executable for _, cmd in commands if _runtime(cmd) == "node"}):
            found[name] = query_version(name, root)
            checks.append(node_version(name, *found[name], engines))
        if problem is not None:
            checks.append(problem)
        checks.extend(typescript(commands, found))
    checks.append(git_present(graph, root))
    checks.extend(executables([c for c in commands if c not in configured_commands], root))
    checks.extend(scripts(graph, commands, root))
    checks.extend(schemas(graph, root))
    checks.extend(environment(graph, environ))
    checks.append(runs_writable(root))
    checks.append(state_readable(root))
    return checks


def dask_checks(graph: Graph, root: Path, settings: dict) -> list[Check]:
    """--executor dask: the scheduler answers, and each worker runs this package, sees
    the project, and finds every executable the stages name (`node`, `python3`, ...)."""
    from orchestrator import __version__
    from orchestrator.dask_executor import import_distributed, load_security
    from orchestrator.dask_remote import file_digest, probe, version

    distributed = import_distributed()
    checks = [Check("dask", True, f"distributed {distributed.__version__}")]
    address, timeout = settings["scheduler"], settings["connect_timeout"]
    if address is None:
        checks.append(Check("dask scheduler", True, "none given: `pipeline run --executor "
                            "dask` starts a local cluster of --jobs workers on 127.0.0.1"))
        return checks
    name = f"dask scheduler {address}"
    security = load_security(settings["scheduler_security"])
    try:
        client = distributed.Client(address, timeout=timeout, security=security,
                                    set_as_default=False)
    except Exception as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        return [*checks, Check(name, False, f"not reachable within {timeout:g}s: {why}",
                               "start it (`dask scheduler`), or check the address, the "
                               "network and --scheduler-security")]
    with client:
        try:
            on_scheduler = client.run_on_scheduler(version)
        except Exception as exc:
            on_scheduler = None
            checks.append(Check(name, False, f"cannot load pipeline-orchestrator: "
                                f"{type(exc).__name__}: {exc}",
                                "install pipeline-orchestrator where the scheduler runs"))
        if on_scheduler is not None:
            same = on_scheduler == __version__
            checks.append(Check(name, same, f"reachable, pipeline-orchestrator {on_scheduler}",
                                None if same else f"install version {__version__} there"))
        try:
            client.wait_for_workers(1, timeout=timeout)
        except Exception:
            return [*checks, Check("dask workers", False, f"none connected after {timeout:g}s",
                                   "start workers: dask worker " + address)]
        commands = list(stage_commands(graph))
        wanted = sorted({cmd.executable for _, cmd in commands if "/" not in cmd.executable})
        runtimes = sorted({cmd.executable for _, cmd in commands
                           if _runtime(cmd) in ("node", "python")})
        answers = client.run(probe, str(root), str(graph.path), file_digest(str(graph.path)),
                             wanted, runtimes, on_error="return")
    engines = node_engines(root)[0] if any(
        _runtime(cmd) == "node" for _, cmd in commands) else None
    for worker, answer in sorted(answers.items()):
        checks.append(_worker_check(worker, answer, __version__))
        if isinstance(answer, BaseException):
            continue
        for name, (found, where) in sorted(answer["versions"].items()):
            found = tuple(found) if found is not None else None
            where = f"{where} on {answer['host']}" if found is not None else where
            if os.path.basename(name) == "node":
                check = node_version(name, found, where, engines)
            else:
                check = stage_python(name, root, (found, where))
            check.name = f"{check.name} on {worker}"
            checks.append(check)
    return checks


def _worker_check(worker: str, answer, own_version: str) -> Check:
    name = f"dask worker {worker}"
    if isinstance(answer, BaseException):
        return Check(name, False, f"cannot run pipeline-orchestrator's probe: "
                     f"{type(answer).__name__}: {answer}",
                     f"install pipeline-orchestrator {own_version} on the workers, and "
                     f"restart them (a worker keeps the version it first loaded)")
    detail = (f"{answer['host']}, Python {answer['python']}, pipeline-orchestrator "
              f"{answer['orchestrator']}")
    missing = [exe for exe, where in answer["executables"].items() if where is None]
    found = ", ".join(f"{exe} at {where}" for exe, where in answer["executables"].items()
                      if where)
    if answer["problem"]:
        return Check(name, False, f"{detail}; does not see this project: "
                     f"{answer['problem']}", "share the project root at the same path on "
                     "every worker (see docs/distributed.md)")
    if answer["orchestrator"] != own_version:
        return Check(name, False, detail, f"install pipeline-orchestrator {own_version}")
    if missing:
        return Check(name, False, f"{detail}; not on its PATH: {', '.join(missing)}",
                     "install them on the worker, or put them on the PATH of "
                     "`dask worker`")
    return Check(name, True, f"{detail}; sees the project{'; ' + found if found else ''}")


def stage_commands(graph: Graph, only: Stage | None = None):
    """(who, command) for every stage command and every hook command (of the stage
    `only`, when given); `who` names it."""
    for stage in graph.stages.values() if only is None else (only,):
        yield stage.id, stage.command
        for moment, hooks in (("before", stage.hooks.before), ("after", stage.hooks.after),
                              ("onFailure", stage.hooks.on_failure)):
            for hook in hooks:
                if hook.command is not None:
                    yield f"{stage.id} ({moment} hook)", hook.command


def stages_text(who: list[str]) -> str:
    """`stage a` or `stages a, b`."""
    unique = list(dict.fromkeys(who))
    return f"stage{'s' if len(unique) > 1 else ''} {', '.join(unique)}"


def _runtime(command: Command) -> str:
    from orchestrator.runtimes import runtime_of

    return runtime_of(command)


# ---------------------------------------------------------------------------
# Runtimes


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def runner_python() -> Check:
    version = tuple(sys.version_info[:3])
    name = "python (runner)"
    detail = f"{_version_text(version)} at {sys.executable}"
    if version[:2] >= MIN_PYTHON:
        return Check(name, True, detail)
    return Check(name, False, f"{detail} is older than {_version_text(MIN_PYTHON)}",
                 f"install the pipeline with Python {_version_text(MIN_PYTHON)} or newer")


def query_version(executable: str, root: Path) -> tuple[tuple[int, ...] | None, str]:
    """(version, where) from `EXECUTABLE --version`, or (None, why not). `python3` and
    `python` are looked up as a stage's are: the runner's own virtualenv skipped."""
    from orchestrator.runtimes import ExecutableNotFound, resolve_executable, resolve_python

    try:
        path = (resolve_python(executable, root) if executable in PYTHON_EXECUTABLES
                else resolve_executable(executable, root))
    except ExecutableNotFound as exc:
        return None, str(exc)
    try:
        # its own process group, so a wrapper script's children are stopped with it
        proc = subprocess.Popen([path, "--version"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=root,
                                text=True, errors="replace", start_new_session=True)
    except OSError as exc:
        return None, f"cannot run {path}: {exc.strerror or exc}"
    try:
        said, _ = proc.communicate(timeout=VERSION_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return None, f"'{path} --version' did not answer within {VERSION_TIMEOUT}s"
    # Python 2 printed its version on stderr: both streams are read
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", said)
    if proc.returncode != 0 or not match:
        first = said.strip().splitlines()
        return None, (f"'{path} --version' exited {proc.returncode} without a version"
                      f"{': ' + first[0][:60] if first else ''}")
    return tuple(int(g) for g in match.groups() if g is not None), path


def _kill_group(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()


def _version_check(name: str, version: tuple[int, ...] | None, where: str,
                   minimum: tuple[int, ...], missing_fix: str, old_fix: str) -> Check:
    """`version` (None: not found, `where` says why) is at least `minimum`."""
    if version is None:
        return Check(name, False, where, missing_fix)
    if version[:len(minimum)] < minimum:
        return Check(name, False, f"{_version_text(version)} at {where} is older than "
                                  f"{_version_text(minimum)}", old_fix)
    return Check(name, True, f"{_version_text(version)} at {where}")


def stage_python(executable: str, root: Path, found: tuple | None = None) -> Check:
    """The Python stages use; `found`: its (version, where) already queried (on a Dask
    worker), else it is queried here."""
    want = _version_text(MIN_PYTHON)
    version, where = found if found is not None else query_version(executable, root)
    return _version_check(
        f"python for stages ({executable})", version, where, MIN_PYTHON,
        f"install Python {want} or newer and put '{executable}' on PATH "
        f"(stages use it, not the pipeline's own interpreter)",
        f"put a Python {want} or newer first on PATH as '{executable}'")


def configured_python(interpreter: Interpreter, who: list[str], root: Path) -> Check:
    """The interpreter the graph's `python` (or --python / PIPELINE_PYTHON) chose for
    some Python stages: it runs, and is at least MIN_PYTHON."""
    from orchestrator.runtimes import PYTHON_VARIABLE

    want = _version_text(MIN_PYTHON)
    if interpreter.source == PYTHON_VARIABLE:
        source, fix = f"--python / {PYTHON_VARIABLE}", f"--python or {PYTHON_VARIABLE}"
    else:
        source = f"\"python\" of the {interpreter.source}"
        fix = source
    if os.path.isfile(interpreter.path) and os.access(interpreter.path, os.X_OK):
        version, where = query_version(interpreter.path, root)
    else:
        version, where = None, f"{interpreter.path}: not found or not executable"
    check = _version_check(
        f"python for stages ({interpreter.setting})", version, where, MIN_PYTHON,
        f"create the virtualenv (python3 -m venv DIR) or fix {fix}",
        f"point {fix} at a Python {want} or newer")
    check.detail += f" ({source}; used by {stages_text(who)})"
    return check


def node_engines(root: Path) -> tuple[Range | None, Check | None]:
    """The project's `engines.node` range from `package.json` at the root, if it declares
    one; or a failed check saying why it cannot be read."""
    path = root / PACKAGE_JSON
    try:
        package = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return None, Check(PACKAGE_JSON, False, f"not readable JSON: {reason}",
                           f"fix the JSON in {PACKAGE_JSON}")
    engines = package.get("engines") if isinstance(package, dict) else None
    if not isinstance(engines, dict) or "node" not in engines:
        return None, None
    try:
        return parse_range(engines["node"]), None
    except ValueError as exc:
        return None, Check(PACKAGE_JSON, False,
                           f"engines.node {json.dumps(engines['node'])} is not a semver "
                           f"range: {exc}",
                           "write engines.node as an npm semver range, e.g. \">=20\"")


def node_version(executable: str, version: tuple[int, ...] | None, where: str,
                 engines: Range | None) -> Check:
    """The node stages use: found, and in the project's engines.node range (or, when
    package.json declares none, 20 or newer)."""
    name = f"node ({executable})" if executable != "node" else "node"
    if engines is None:
        want = _version_text(MIN_NODE)
        return _version_check(
            name, version, where, MIN_NODE,
            f"install Node.js {want} or newer and put '{executable}' on PATH",
            f"install Node.js {want} or newer (first on PATH)")
    wanted = f"engines.node '{engines.text}' of {PACKAGE_JSON}"
    if version is None:
        return Check(name, False, where, f"install a Node.js that satisfies '{engines.text}' "
                                         f"and put '{executable}' on PATH")
    found = f"{_version_text(version)} at {where}"
    if _release(version) in engines:
        return Check(name, True, f"{found}, satisfies {wanted}")
    return Check(name, False, f"{found} does not satisfy {wanted}",
                 f"install a Node.js that satisfies '{engines.text}' (first on PATH as "
                 f"'{executable}'), or correct engines.node in {PACKAGE_JSON}")


def _release(version: tuple[int, ...]) -> tuple[int, int, int]:
    return (tuple(version) + (0, 0, 0))[:3]  # type: ignore[return-value]


NODE_LOADER_OPTIONS = ("-r", "--require", "--import", "--loader", "--experimental-loader")
TYPESCRIPT_SUFFIXES = (".ts", ".mts", ".cts")
STRIP_FLAG = "--experimental-strip-types"  # since Node.js 22.6
TRANSFORM_FLAG = "--experimental-transform-types"  # since Node.js 22.7
FLAG_SINCE = {STRIP_FLAG: (22, 6, 0), TRANSFORM_FLAG: (22, 7, 0)}
NO_STRIP_FLAGS = ("--no-experimental-strip-types", "--no-strip-types")


def strips_types_by_default(version: tuple[int, int, int]) -> bool:
    """Node.js runs a `.ts` file with no flag from 22.18 on the 22 line and 23.6 on."""
    return version >= (23, 6, 0) or (22, 18, 0) <= version < (23, 0, 0)


def typescript_problem(options: list[str], version: tuple[int, int, int]) -> str | None:
    """Why this node, given these options (its own and NODE_OPTIONS), cannot run a
    TypeScript file; None when it can, or when a loader is passed (`--import tsx`,
    `--require ts-node/register`, `--loader ...`: it is the loader's business)."""
    names = [option.split("=", 1)[0] for option in options]
    if any(name in NODE_LOADER_OPTIONS for name in names):
        return None
    if any(name in NO_STRIP_FLAGS for name in names):
        return "its command turns type stripping off"
    flags = [name for name in names if name in FLAG_SINCE]
    if flags:
        since = max(FLAG_SINCE[flag] for flag in flags)
        if version >= since:
            return None
        return f"{flags[0]} needs Node.js {_version_text(since[:2])} or newer"
    if strips_types_by_default(version):
        return None
    return ("Node.js strips types from 22.18 (23.6 on the 23 line), or from 22.6 with "
            f"{STRIP_FLAG}")


def typescript(commands: list[tuple[str, Command]],
               found: dict[str, tuple[tuple[int, ...] | None, str]]) -> list[Check]:
    """Stages whose node script is TypeScript: the node they use can strip its types, or
    the command passes a loader. One failed check per such stage, naming it."""
    import shlex

    environment_options = shlex.split(os.environ.get("NODE_OPTIONS", ""))
    count = 0
    failures = []
    for who, cmd in commands:
        if _runtime(cmd) != "node":
            continue
        options, script = interpreter_program(cmd)
        if not script or not script.lower().endswith(TYPESCRIPT_SUFFIXES):
            continue
        version, where = found.get(cmd.executable, (None, ""))
        if version is None:
            continue  # the node check already failed
        count += 1
        problem = typescript_problem(options + environment_options, _release(version))
        if problem is None:
            continue
        failures.append(Check(
            f"typescript {who}", False,
            f"node {_version_text(version)} at {where} cannot run {script} "
            f"(stage {who}): {problem}",
            f"install Node.js 22.18 or newer, or pass {STRIP_FLAG} (Node.js 22.6 or newer) "
            f"or a loader (e.g. --import tsx) before the script in the command of "
            f"stage {who}"))
    if failures or not count:
        return failures
    return [Check("typescript", True, f"{count} TypeScript stage script(s) can run")]


def git_present(graph: Graph, root: Path) -> Check:
    """git is needed by stages that declare a `git` side effect; otherwise only a warning."""
    users = [s.id for s in graph.stages.values() if any(e.type == "git" for e in s.side_effects)]
    level = "error" if users else "warning"
    version, where = query_version("git", root)
    if version is not None:
        return Check("git", True, f"{_version_text(version)} at {where}", level=level)
    verb = "declares" if len(users) == 1 else "declare"
    why = f"{stages_text(users)} {verb} a git side effect" if users \
        else "no stage declares a git side effect"
    return Check("git", False, f"{where} ({why})", "install git and put it on PATH",
                 level=level)


# ---------------------------------------------------------------------------
# Project files


def executables(commands: list[tuple[str, Command]], root: Path) -> list[Check]:
    """One check per distinct executable, naming the stages that use it."""
    from orchestrator.runtimes import ExecutableNotFound, resolve_executable, resolve_python

    users: dict[str, list[str]] = {}
    for who, cmd in commands:
        users.setdefault(cmd.executable, []).append(who)
    checks = []
    for executable, who in users.items():
        name = f"executable {executable}"
        used_by = stages_text(who)
        try:
            path = (resolve_python(executable, root) if executable in PYTHON_EXECUTABLES
                    else resolve_executable(executable, root))
        except ExecutableNotFound as exc:
            where = "in the project" if "/" in executable else "on PATH"
            checks.append(Check(name, False, f"{exc} (used by {used_by})",
                                f"install '{executable}' {where}, or fix the command of "
                                f"{used_by}"))
        else:
            checks.append(Check(name, True, f"{path} (used by {used_by})"))
    return checks


def scripts(graph: Graph, commands: list[tuple[str, Command]], root: Path) -> list[Check]:
    """The scripts the commands name exist: an argument that can be a script
    (`script_path`, the rule a run fingerprints scripts by) and names a file is one; one
    that names no file is missing only when it is the program the command's interpreter
    runs (`missing_script`): any other is data, never a failure. A path-like executable
    is left to the `executables` check."""
    present: set[str] = set()
    missing: dict[str, list[str]] = {}
    is_file: dict[str, bool] = {}  # each path asked once, however many commands name it
    for who, cmd in commands:
        for arg in cmd.args:
            rel = script_path(arg, root, graph.artifact_paths)
            if rel is None:
                continue  # data the stage reads or writes, checked by the run itself
            if rel not in is_file:
                is_file[rel] = (root / rel).is_file()
            if is_file[rel]:
                present.add(rel)
            elif missing_script(cmd, root, graph.artifact_paths, rel):
                missing.setdefault(rel, []).append(who)
    if not missing:
        return [Check("scripts", True, f"{len(present)} script file(s) present")]
    return [Check(f"script {rel}", False, f"missing (used by {stages_text(who)})",
                  f"restore {rel}, or fix the command arguments of {stages_text(who)}")
            for rel, who in missing.items()]


def schemas(graph: Graph, root: Path) -> list[Check]:
    """Every artifact schema exists, is JSON, and is a valid JSON Schema of its draft;
    every `$ref` it reaches resolves (as validation resolves it: from local files), and
    every schema it reaches is valid. A `format` that validation cannot check warns."""
    from jsonschema import validators

    from orchestrator.schemas import SchemaCache, schema_library

    by_schema: dict[str, list[str]] = {}
    for artifact in graph.artifacts.values():
        if artifact.schema:
            by_schema.setdefault(artifact.schema, []).append(artifact.id)
    failures: list[Check] = []
    reached: dict[tuple[Path, str], tuple[str, str]] = {}  # (file, ref) -> why, schema
    broken: dict[Path, tuple[str, str]] = {}  # a reached schema -> why, schema
    unchecked: dict[str, set[str]] = {}  # format validation skips -> the files using it
    files: set[Path] = set()  # every schema file reached
    cache = SchemaCache()
    with cache.lock:
        library = schema_library(root, graph.schema_dirs, cache)
        for rel, ids in by_schema.items():
            owners = f"artifact{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
            problem = _schema_file(library, rel, owners)
            if problem:
                failures.append(problem)
                continue
            path = Path(os.path.normpath(library.root / rel))
            for ref in library.ref_problems(path):
                reached.setdefault((ref.file, ref.ref), (ref.why, rel))
            for entry, _ in library.reachable(path):
                files.add(entry.path)
                why = library.invalid(entry)
                if why and entry.path != path:
                    broken.setdefault(entry.path, (why, rel))
            # the validator checks formats with its schema's checker, partials included
            known = validators.validator_for(
                library.files[path].resource.contents,
                default=validators.Draft202012Validator).FORMAT_CHECKER.checkers
            for name, users in library.formats(path).items():
                if name not in known:
                    unchecked.setdefault(name, set()).update(map(library.show, users))
        warnings = unchecked_formats(unchecked) + [
            Check(f"schema $id {uri}", False,
                  f"declared by {', '.join(library.show(p) for p in paths)}: a $ref to it "
                  f"means {library.show(paths[0])}",
                  "give each schema its own $id", level="warning")
            for uri, paths in sorted(library.duplicates.items())]
    for (file, ref), (why, rel) in reached.items():
        shown = library.show(file)
        source = "" if shown == rel else f", reached from schema {rel}"
        failures.append(Check(f"schema {shown}", False,
                              f"$ref '{ref}' does not resolve: {why}{source}",
                              f"fix the $ref in {shown}, or add the schema it names under "
                              f"the project (schemas are never fetched over the network)"))
    for file, (why, rel) in broken.items():
        shown = library.show(file)
        failures.append(Check(f"schema {shown}", False, f"{why} (reached from schema {rel})",
                              f"fix {shown}"))
    if failures:
        return failures + warnings
    return [Check("schemas", True, f"{len(by_schema)} schema file(s) present and valid; "
                                   f"every $ref resolves ({len(files)} file(s) in all)")
            ] + warnings


def _schema_file(library, rel: str, owners: str) -> Check | None:
    """The failed check of a graph's schema file that is missing, not JSON or not a JSON
    Schema; None when it is fine."""
    name = f"schema {rel}"
    path = Path(os.path.normpath(library.root / rel))
    entry = library.file_at(path)
    if entry is None:
        why = library.unreadable.get(path, "missing")
        if why == "missing":
            return Check(name, False, f"missing (schema of {owners})",
                         f"restore {rel}, or fix the 'schema' of {owners}")
        return Check(name, False, why, f"fix the JSON in {rel}")
    why = library.invalid(entry)
    if why:
        return Check(name, False, why, f"fix {rel} (it is used for {owners})")
    return None


# The packages behind jsonschema's format checks, each a dependency of the pipeline: a
# format named here is unchecked only when its package is missing from the environment.
FORMAT_PACKAGES = {
    "date-time": "rfc3339-validator", "time": "rfc3339-validator",
    "uri": "rfc3986-validator", "uri-reference": "rfc3986-validator",
    "hostname": "fqdn", "idn-hostname": "idna", "duration": "isoduration",
    "json-pointer": "jsonpointer", "relative-json-pointer": "jsonpointer",
    "uri-template": "uri-template",
}


def unchecked_formats(unchecked: dict[str, set[str]]) -> list[Check]:
    """A warning per `format` the schemas use that validation does not check (its values
    pass, as JSON Schema wants for a format the validator does not know)."""
    checks = []
    for name, users in sorted(unchecked.items()):
        used = f"used in {', '.join(sorted(users))}"
        package = FORMAT_PACKAGES.get(name)
        if package:
            checks.append(Check(f"format {name}", False,
                                f"not checked: the package {package} is not installed "
                                f"({used})", f"reinstall the pipeline (its dependencies "
                                f"include {package})", level="warning"))
        else:
            checks.append(Check(f"format {name}", False,
                                f"not checked: unknown to the validator for its draft, its "
                                f"values pass ({used})",
                                "use a format the validator checks (docs/stage-graph-"
                                "format.md lists them), or a `pattern`", level="warning"))
    return checks


def environment(graph: Graph, environ: dict[str, str]) -> list[Check]:
    """Required variables are set. Only names are printed, never values."""
    required: dict[str, list[str]] = {}
    for stage in graph.stages.values():
        for var in stage.environment:
            if var.required:
                required.setdefault(var.name, []).append(stage.id)
    # as a run judges it: set and not empty, after --env-file
    missing = [name for name in required if not environ.get(name)]
    if not missing:
        detail = f"{len(required)} required variable(s) set" if required \
            else "no stage requires a variable"
        return [Check("environment", True, detail)]
    return [Check(f"environment {name}", False,
                  f"required variable not set or empty (needed by "
                  f"{stages_text(required[name])})",
                  f"export {name}=... before running the pipeline, or set it in the "
                  f"--env-file you run with")
            for name in missing]


def runs_writable(root: Path) -> Check:
    """Create and delete a probe file in .pipeline-runs/ (and the directory, if it was not
    there before), so nothing is left behind."""
    name = f"{RUNS_DIR}/ writable"
    runs = root / RUNS_DIR
    existed = runs.is_dir()
    probe = runs / f".doctor-{uuid.uuid4().hex}"
    try:
        if not existed:
            runs.mkdir()
        try:
            probe.write_bytes(b"")
            probe.unlink()
        finally:
            if not existed:
                runs.rmdir()
    except OSError as exc:
        return Check(name, False, f"cannot write there: {exc.strerror or exc}",
                     f"make {root / RUNS_DIR} a writable directory (run records go there)")
    return Check(name, True, "run records can be written" if existed
                 else "can be created (it does not exist yet)")


def state_readable(root: Path) -> Check:
    """doit's saved state (.doit.db) opens read-only and every row decodes."""
    import sqlite3

    from orchestrator.engine import saved_state_rows

    name = "saved state"
    path = root / STATE_DB
    if not path.exists():
        return Check(name, True, f"no {STATE_DB} yet (nothing has run here)")
    remedy = (f"delete {STATE_DB}: the state is lost and every stage runs again "
              f"on the next run")
    try:
        rows = saved_state_rows(path)
    except sqlite3.Error as exc:
        return Check(name, False, f"{STATE_DB} is not a readable doit state: {exc}", remedy)
    if rows is None:
        return Check(name, True, f"{STATE_DB} holds no stage state yet")
    for task_id, data in rows:
        try:
            json.loads(data)
        except (TypeError, ValueError):
            return Check(name, False, f"{STATE_DB}: state of '{task_id}' is not JSON", remedy)
    return Check(name, True, f"{STATE_DB} readable ({len(rows)} task state(s))")
