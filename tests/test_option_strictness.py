"""Options are taken only as written: an empty id list is a usage error, and an
abbreviated option is unknown (as in git, not argparse's default)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("option", ["--only", "--skip", "--from", "--to"])
@pytest.mark.parametrize("value", ["", " ", ","])
def test_an_empty_id_list_is_a_usage_error(project, option, value):
    if value == "," and option in ("--from", "--to"):
        value = " "
    for extra in ((), ("--dry-run",)):
        result = project.pipeline("run", option, value, *extra)
        assert result.code == 2, result.text
        assert result.out == ""
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"pipeline: error: argument {option}: ")
    assert project.counts() == {}
    assert not (project.root / ".pipeline-runs").exists()


def test_an_empty_pipeline_id_is_a_usage_error(project):
    result = project.pipeline("run", "")
    assert result.code == 2
    assert result.err.splitlines() == [
        "pipeline: error: argument PIPELINE: empty pipeline id (see 'pipeline run --help')"]
    assert project.counts() == {}


@pytest.mark.parametrize("argv, argument", [
    (["run", "--since", ""], "--since"),
    (["run-stage", " "], "STAGE"),
    (["status", ""], "PIPELINE"),
    (["graph", ""], "PIPELINE"),
    (["describe", ""], "ID"),
    (["logs", ""], "RUN_ID"),
    (["logs", "--latest", "--stage", ""], "--stage"),
    (["report", "", "-o", "-"], "RUN_ID"),
    (["history", "--pipeline", ""], "--pipeline"),
])
def test_every_empty_id_is_a_usage_error(project, argv, argument):
    """An id that came out empty (`--since "$LAST_GREEN"` with the variable unset) is
    refused as such, never read as "no id given": `run --since ''` ran as a plain run,
    `status ''` showed the default pipeline, `logs --stage ''` the whole run."""
    assert project.pipeline("run").code == 0
    result = project.pipeline(*argv)
    assert result.code == 2, result.text
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"pipeline: error: argument {argument}: empty "), lines
    assert len(project.records()) == 1  # nothing ran


def test_an_id_list_with_an_empty_item_keeps_the_others(project):
    result = project.pipeline("run", "--only", "extract,")
    assert result.code == 0, result.text
    assert project.counts() == {"extract": 1}


@pytest.mark.parametrize("argv, meant", [
    (["run", "--json"], "--json-logs"),
    (["run", "--dry"], "--dry-run"),
    (["list", "--stage"], "--stages"),
    (["--direct", ".", "list"], "--directory"),
])
def test_an_abbreviated_option_is_unknown(project, argv, meant):
    result = project.pipeline(*argv)
    assert result.code == 2, result.text
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pipeline: error: "), lines
    # refused, never taken for `meant`
    assert any(why in lines[0] for why in ("is for", "unrecognized arguments", "unknown",
                                           "did you mean")), lines
    assert not (project.root / ".pipeline-runs").exists()  # nothing ran


def long_options_of_every_command() -> list[tuple[str, str]]:
    """(command, one of its long options) for every command the CLI has."""
    import argparse

    from orchestrator.parsing import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, sub in commands.choices.items():
        options = [o for a in sub._actions for o in a.option_strings
                   if o.startswith("--") and o != "--help" and len(o) > 4]
        found.append((name, max(options, key=len) if options else "--help"))
    return found


@pytest.mark.parametrize("command, option", long_options_of_every_command())
def test_no_command_takes_an_abbreviation(project, command, option):
    """Every command's parser refuses the option cut short by one letter (argparse makes
    command parsers of the main parser's class: this proves they keep its setting)."""
    positional = {"run-stage": ["extract"], "describe": ["extract"]}.get(command, [])
    result = project.pipeline(command, *positional, option[:-1])
    assert result.code == 2, result.text
    assert result.err.startswith("pipeline: error: ") and option[:-1] in result.err


@pytest.mark.parametrize("argv", [["run"], ["run", "full-refresh"], ["run", "nightly build"]])
def test_the_quick_parse_of_a_plain_run_is_what_argparse_makes_of_it(argv):
    """`pipeline run [PIPELINE]` skips argparse (a no-op run's time); what it gets must be
    argparse's namespace exactly, with every option's default (a new option of `run`
    without its default in quick_args fails here)."""
    from orchestrator.commands.run import quick_args
    from orchestrator.parsing import build_parser

    assert vars(quick_args(argv)) == vars(build_parser("run").parse_args(argv))


@pytest.mark.parametrize("argv", [["run", "--force"], ["run", "-"], ["run", ""],
                                  ["run", "a", "b"], ["run", "--"], ["list"], []])
def test_any_other_line_is_left_to_argparse(argv):
    from orchestrator.commands.run import quick_args

    assert quick_args(argv) is None


def test_a_usage_error_after_the_pipeline_id_is_still_argparses(project):
    result = project.pipeline("run", "full-refresh", "--jobs", "0")
    assert result.code == 2 and "--jobs" in result.err, result.text


def test_an_unknown_option_is_named_with_the_help_that_lists_the_right_ones(project):
    """Misplaced or mistyped options: the line names the option, and the help it points
    to is the one that lists the options at that place (the command's, after a command),
    never 'unknown command' for the value of an option that does not exist."""
    def error(*argv: str) -> str:
        result = project.pipeline(*argv)
        assert result.code == 2 and result.out == "", result.text
        assert len(result.err.splitlines()) == 1, result.err
        return result.err.strip()

    assert error("list", "--stage") == (
        "pipeline: error: unrecognized arguments: --stage (see 'pipeline list --help')")
    assert error("-C", ".", "run-stage", "extract", "--dry") == (
        "pipeline: error: unrecognized arguments: --dry (see 'pipeline run-stage --help')")
    assert error("--direct", ".", "list") == (
        "pipeline: error: unknown option '--direct' before the command (there: -C DIR, "
        "-g PATH, --version, --help; see 'pipeline --help')")
    assert error("--bogus", "list").startswith("pipeline: error: unknown option '--bogus' ")
    assert project.pipeline("-C.", "--graph=pipeline/stage-graph.json", "list").code == 0
    assert not (project.root / ".pipeline-runs").exists()
