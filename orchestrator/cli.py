"""The `pipeline` command line: parse, load the graph, dispatch, map errors to exit codes.

This is the only place where an error becomes a message and an exit code:
2 for a usage or graph error, 1 when a stage failed, 3 for a bug of ours (an exception
nobody expected: one line, the traceback with PIPELINE_DEBUG=1), 130 when interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from orchestrator import __version__
from orchestrator.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    PipelineError,
    Terminated,
    UsageError,
)


class Context:
    """What every command gets: the project root, and the graph, loaded on first use."""

    def __init__(self, root: Path, graph_path: Path | None, start_dir: Path | None = None,
                 global_options: tuple[str, ...] = ()):
        self.root = root
        self.graph_path = graph_path
        self.start_dir = start_dir or root  # where the command was started (before -C)
        # `-C DIR` / `-g FILE` as given: a command we suggest repeats them
        self.global_options = global_options
        self._graph = None
        self.argv: tuple[str, ...] = ()  # the command line after `pipeline`, as given
        self.write_cache = False  # set by commands that run stages (they write anyway)
        self.warn_misspelled = True  # `check` reports misspelled fields as findings instead

    @property
    def graph(self):
        if self._graph is None:
            from orchestrator.graph import load_graph, resolve_graph_path

            self._graph = load_graph(resolve_graph_path(self.root, self.graph_path), self.root,
                                     write_cache=self.write_cache)
            if self.warn_misspelled:  # once per command, on stderr: stdout may be JSON
                for line in self._graph.misspelling_lines():
                    print(f"pipeline: warning: {line}", file=sys.stderr)
        return self._graph


# set (not empty, not 0) to print the traceback of an internal error
DEBUG_VARIABLE = "PIPELINE_DEBUG"

# commands whose module has another name
COMMAND_MODULE_OF = {"run-stage": "run"}
GLOBAL_OPTIONS_WITH_VALUE = ("-C", "--directory", "-g", "--graph")


def command_word(argv: list[str]) -> int | None:
    """Where in `argv` the command is (the first word that is neither a global option
    nor its value), or None; also None when `-h`/`--help` comes first."""
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in GLOBAL_OPTIONS_WITH_VALUE:
            skip = True
        elif arg.startswith("-"):
            if arg in ("-h", "--help"):
                return None
        else:
            return i
    return None


def requested_module(argv: list[str]) -> str | None:
    """The module of the command `argv` names, if it names a known one: only that module
    need be imported to parse the line (the others are for help and errors)."""
    at = command_word(argv)
    if at is None:
        return None
    name = COMMAND_MODULE_OF.get(argv[at], argv[at])
    return name if _is_command_module(name) else None


HELP_COMMAND = "help"


def help_as_option(argv: list[str]) -> list[str]:
    """`pipeline help` is `pipeline --help`, and `pipeline help COMMAND` is
    `pipeline COMMAND --help` (as `git help` and `doit help` go)."""
    at = command_word(argv)
    if at is None or argv[at] != HELP_COMMAND:
        return argv
    rest = argv[at + 1:]
    if rest == [HELP_COMMAND]:  # `help help`: help itself is what `--help` tells
        rest = []
    if len(rest) > 1:
        raise UsageError(f"help takes at most one command, not {len(rest)} words "
                         f"(see 'pipeline --help')")
    return [*argv[:at], *rest, "--help"]


def _is_command_module(name: str) -> bool:
    """Is there a command module `name`? (a file check: cheaper than listing them all)"""
    from orchestrator import commands

    return name.isidentifier() and not name.startswith("_") and any(
        os.path.isfile(os.path.join(folder, f"{name}.py")) for folder in commands.__path__)


def _enter_root(directory: str | None, graph: str | None) -> Path:
    """The project root, made the working directory: `-C DIR`; else, with `-g`, the
    working directory; else the first directory from here up that holds the graph file
    (see discovery.py)."""
    if directory is None:
        if graph is not None:
            return Path.cwd()
        from orchestrator.discovery import find_root

        root = find_root(Path.cwd())
        os.chdir(root)
        return root
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"-C {directory}: no such directory")
    os.chdir(root)
    return Path.cwd()


def parse(argv: list[str]):
    """The parsed command line; an int when argparse answered it (--help: its exit code).

    `pipeline run` and `pipeline run PIPELINE`, the lines a no-op run is started with,
    are parsed by the run module itself: building argparse's parsers costs a no-op run
    a quarter of its time (see `quick_args`)."""
    if argv[:1] == ["run"]:
        from orchestrator.commands.run import quick_args

        args = quick_args(argv)
        if args is not None:
            return args
    from orchestrator.parsing import build_parser, refuse_unknown_command

    parser = build_parser(only=requested_module(argv))
    refuse_unknown_command(argv, parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or --version, printed: argparse's exit, as a code
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return args


def dispatch(argv: list[str]) -> int:
    argv = help_as_option(argv)
    args = parse(argv)
    if isinstance(args, int):
        return args
    start_dir = Path.cwd()  # before -C moves us
    graph_arg = Path(args.graph).absolute() if args.graph else None
    given = (*(("-C", args.directory) if args.directory is not None else ()),
             *(("-g", args.graph) if args.graph is not None else ()))
    root = _enter_root(args.directory, args.graph)
    if graph_arg is None:
        from orchestrator.discovery import graph_from_environment

        named = graph_from_environment()  # $PIPELINE_GRAPH: relative to the root
        graph_arg = (root / named).absolute() if named else None
    if getattr(args, "env_file", None):
        args.env_file = from_start(args.env_file, start_dir, root)
    ctx = Context(root, graph_arg, start_dir, given)
    ctx.argv = tuple(argv)
    return args.handler(ctx, args)


def from_start(path: str, start_dir: Path, root: Path) -> str:
    """A path typed on the command line, taken from where the command was started (as
    -g and -o are), given relative to the root the command now runs in: `--env-file
    ../.env` typed in a subdirectory names the file beside that subdirectory."""
    if os.path.isabs(path) or start_dir == root:
        return path
    return os.path.relpath(os.path.join(start_dir, path), root)


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def entry() -> None:
    """The `pipeline` executable: main(), then exit without tearing the heap down.

    Once the command is over nothing is left to do but free memory the OS takes back
    anyway: after a 10,000-stage run, Python's own shutdown (a last collection, then
    freeing every object one by one) took a fifth of a second. Output is flushed and
    every file the command wrote is closed before main() returns.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:  # answered before any command module is imported
        print(f"pipeline {__version__}")
        return 0
    import signal

    from orchestrator import collector

    signal.signal(signal.SIGTERM, _on_sigterm)
    collector.pause()  # resumed when stages start executing (see collector.py)
    try:
        return dispatch(argv)
    except UsageError as exc:
        sys.stdout.flush()
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except PipelineError as exc:
        sys.stdout.flush()
        for line in exc.lines():
            print(line, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"pipeline: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_USAGE
    except OSError as exc:  # e.g. .pipeline-runs/ not writable
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pipeline: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug of ours: still one line, the traceback on request
        return _internal_error(exc)
    finally:
        collector.restore()


def _internal_error(exc: Exception) -> int:
    """An exception nobody expected reached the CLI: one line saying it is a bug, what
    failed and where, and how to see the traceback; with PIPELINE_DEBUG set (not empty,
    not 0), the traceback is printed before it."""
    import traceback

    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    if os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0"):
        traceback.print_exception(exc)
        hint = "the traceback is above"
    else:
        hint = f"set {DEBUG_VARIABLE}=1 to see the traceback"
    try:  # on one line; and nothing here may fail in turn
        what = " ".join(str(exc).split())
    except Exception:
        what = "(its message cannot be shown)"
    print(f"pipeline: internal error (this is a bug): {type(exc).__name__}"
          f"{': ' + what if what else ''}{_where(traceback.extract_tb(exc.__traceback__))} "
          f"({hint})", file=sys.stderr)
    return EXIT_INTERNAL


def _where(frames: list) -> str:
    """` at orchestrator/MODULE.py:LINE`: the innermost frame in this package, else the
    innermost frame's file name and line."""
    package = os.path.dirname(os.path.abspath(__file__))
    ours = [f for f in frames if os.path.abspath(f.filename).startswith(package + os.sep)]
    if not frames:
        return ""
    frame = (ours or frames)[-1]
    shown = (os.path.relpath(os.path.abspath(frame.filename), os.path.dirname(package))
             if ours else os.path.basename(frame.filename))
    return f" at {shown.replace(os.sep, '/')}:{frame.lineno}"
