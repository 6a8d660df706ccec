"""The `pipeline` command line: parse, load the graph, dispatch, map errors to exit codes.

This is the only place where an error becomes a message and an exit code:
2 for a usage or graph error, 1 when a stage failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from orchestrator import __version__
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_USAGE, PipelineError, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pipeline", description="Run the stage graph's pipelines "
                     "incrementally through doit, validating every artifact and "
                     "recording each run under .pipeline-runs/.")
    parser.add_argument("--version", action="version", version=f"pipeline {__version__}")
    parser.add_argument("-C", "--directory", metavar="DIR",
                        help="project root (default: the working directory)")
    parser.add_argument("-g", "--graph", metavar="PATH",
                        help="stage graph file, JSON or YAML "
                             "(default: pipeline/stage-graph.json under the root)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run a pipeline; skip the stages that are up to date")
    run.add_argument("pipeline", nargs="?", metavar="PIPELINE",
                     help="pipeline id (default: defaultPipeline, else full-refresh, "
                          "else the only pipeline)")
    run.add_argument("--only", action="append", default=[], metavar="IDS",
                     help="run only these stages (comma-separated or repeated)")
    run.add_argument("--skip", action="append", default=[], metavar="IDS",
                     help="leave these stages out (comma-separated or repeated)")
    run.add_argument("--from", dest="start", metavar="STAGE",
                     help="start at this stage (earlier ones are left out)")
    run.add_argument("--to", dest="stop", metavar="STAGE",
                     help="stop after this stage (later ones are left out)")
    run.add_argument("--force", action="store_true",
                     help="run every selected stage even when up to date")
    run.add_argument("--dry-run", action="store_true",
                     help="print what would run and why; execute nothing")

    stage = commands.add_parser("run-stage", help="run one stage now, without its upstream "
                                                  "stages, even if up to date")
    stage.add_argument("stage", metavar="STAGE", help="stage id")
    stage.add_argument("--dry-run", action="store_true",
                       help="print what would run; execute nothing")
    return parser


def _enter_root(directory: str | None) -> Path:
    if directory is None:
        return Path.cwd()
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"-C {directory}: no such directory")
    os.chdir(root)
    return Path.cwd()


def dispatch(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from orchestrator.graph import load_graph, resolve_graph_path

    graph_arg = Path(args.graph).absolute() if args.graph else None  # before -C moves us
    root = _enter_root(args.directory)
    graph = load_graph(resolve_graph_path(root, graph_arg), root)
    from orchestrator.commands import run as run_command

    handler = {"run": run_command.run, "run-stage": run_command.run_stage}[args.command]
    return handler(graph, args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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
    except KeyboardInterrupt:
        print("pipeline: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_USAGE
    except OSError as exc:  # e.g. .pipeline-runs/ not writable
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pipeline: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug of ours: still one line, the traceback on request
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        print(f"pipeline: internal error: {type(exc).__name__}: {exc} "
              f"(set PIPELINE_DEBUG=1 to see the traceback)", file=sys.stderr)
        return EXIT_USAGE
