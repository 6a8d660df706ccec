"""The argparse side of the command line: the parsers of `pipeline` and its commands.

Imported only when a command line is parsed with argparse (see `cli.parse`): argparse
and the parsers it builds are most of what a no-op run would otherwise cost.
"""

from __future__ import annotations

import argparse
import importlib

from orchestrator import __version__
from orchestrator.cli import GLOBAL_OPTIONS_WITH_VALUE, HELP_COMMAND, command_word
from orchestrator.errors import UsageError
from orchestrator.paths import RUNS_DIR

# Each module under orchestrator/commands/ has `register(subparsers)`, which adds its
# parser(s) and sets `handler(ctx, args)` as the parser default. Adding a command is
# adding a module; this tuple only orders the help text.
COMMAND_ORDER = ("run", "list", "describe", "status", "logs", "history", "report", "graph",
                 "check", "doctor")


def command_modules() -> list[str]:
    import pkgutil

    from orchestrator import commands

    found = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
    return sorted(found, key=lambda name: (rank.get(name, len(rank)), name))


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, and an option is taken
    only as written: no abbreviations (`--json` is not `--json-logs`, `--dry` not
    `--dry-run`). The command parsers are of this class too (argparse makes subparsers
    of the parent's class), so this holds for every command."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._argv: list[str] = []

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        self._argv = list(args or [])
        return super().parse_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self._help_for(message)} --help')")

    def _help_for(self, message: str) -> str:
        """Whose help lists the options at fault: argparse reports a command's unknown
        option from the main parser, whose help does not list the command's options."""
        at = command_word(self._argv)
        if message.startswith("unrecognized arguments") and at is not None \
                and self._argv[at] in getattr(self, "command_names", ()):
            return f"{self.prog} {self._argv[at]}"
        return self.prog


def refuse_unknown_global_option(before: list[str]) -> None:
    """An option before the command that `pipeline` lacks (`--direct DIR`, cut short):
    named as such, rather than its value taken for an unknown command."""
    for word in before:
        name = word.split("=", 1)[0]
        attached = word[:2] in ("-C", "-g")  # -Cdir, -gfile: argparse takes those
        if word.startswith("-") and not attached \
                and name not in (*GLOBAL_OPTIONS_WITH_VALUE, "--version"):
            raise UsageError(f"unknown option '{name}' before the command (there: -C DIR, "
                             f"-g PATH, --version, --help; see 'pipeline --help')")


def refuse_unknown_command(argv: list[str], parser: argparse.ArgumentParser) -> None:
    """One line for a command that does not exist, with the closest one."""
    at = command_word(argv)
    known = list(getattr(parser, "command_names", ()))
    if at is None or not known:
        return
    refuse_unknown_global_option(argv[:at])
    if argv[at] in known:
        return
    import difflib

    word = argv[at]
    close = difflib.get_close_matches(word, [*known, HELP_COMMAND], n=1, cutoff=0.6)
    suggestion = f" (did you mean '{close[0]}'?)" if close else ""
    raise UsageError(f"unknown command '{word}'{suggestion}; the commands are: "
                     f"{', '.join(known)} (see 'pipeline --help')")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = Parser(prog="pipeline", description="Run the stage graph's pipelines "
                     "incrementally through doit, validating every artifact and "
                     f"recording each run under {RUNS_DIR}/.")
    parser.add_argument("--version", action="version", version=f"pipeline {__version__}")
    parser.add_argument("-C", "--directory", metavar="DIR",
                        help="project root (default: found upward, as git does)")
    parser.add_argument("-g", "--graph", metavar="PATH",
                        help="stage graph file, JSON or YAML (default: $PIPELINE_GRAPH, "
                             "else pipeline/stage-graph.json)")
    parser.epilog = ("'pipeline help COMMAND' (or 'pipeline COMMAND --help') shows a "
                     "command's options.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [only] if only else command_modules():
        importlib.import_module(f"orchestrator.commands.{name}").register(commands)
    parser.command_names = tuple(commands.choices)  # type: ignore[attr-defined]
    return parser
