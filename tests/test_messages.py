"""Messages that help a new user: what exists when a name is wrong, `help`, log levels,
and rerun hints that work where they are printed (under `pipeline` and plain `doit`)."""

from __future__ import annotations

import shlex

COMMANDS = ("run, run-stage, list, describe, status, logs, history, report, graph, check, "
            "doctor")


def one_error(result) -> str:
    assert result.code == 2, result.text
    assert result.out == "" and "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def hints(text: str) -> list[str]:
    return [line.strip()[len("rerun: "):] for line in text.splitlines()
            if line.strip().startswith("rerun: ")]


def test_an_unknown_pipeline_lists_the_pipelines(project):
    graph = project.graph()
    graph["pipelines"].append({"id": "nightly", "stages": ["extract"]})
    project.write_graph(graph)
    assert one_error(project.pipeline("run", "weekly")) == (
        "pipeline: error: unknown pipeline 'weekly'; the pipelines are: full-refresh, nightly")
    assert one_error(project.pipeline("status", "nightly2")) == (
        "pipeline: error: unknown pipeline 'nightly2' (did you mean 'nightly'?); "
        "the pipelines are: full-refresh, nightly")
    assert project.counts() == {}


def test_run_given_a_stage_says_how_to_run_a_stage(project):
    error = one_error(project.pipeline("-C", ".", "run", "transform"))
    assert error == ("pipeline: error: 'transform' is a stage, not a pipeline: run it alone "
                     "with 'pipeline -C . run-stage transform', or in its pipeline with "
                     "'pipeline -C . run --only transform'")
    assert project.counts() == {}
    # both suggestions work as printed (transform's input is written by extract first)
    assert project.pipeline("run", "--only", "extract").code == 0
    for command in ("pipeline -C . run-stage transform", "pipeline -C . run --only transform"):
        done = project.pipeline(*shlex.split(command)[1:])
        assert done.code == 0, done.text
    # a stage that only another (non-default) pipeline lists: that pipeline is named
    graph = project.graph()
    graph["stages"].append(dict(graph["stages"][0], id="extract-again"))
    graph["pipelines"].append({"id": "again", "stages": ["extract-again"]})
    project.write_graph(graph)
    assert one_error(project.pipeline("run", "extract-again")).endswith(
        "or in its pipeline with 'pipeline run again --only extract-again'")


def test_run_stage_given_a_pipeline_says_how_to_run_it(project):
    assert one_error(project.pipeline("run-stage", "full-refresh")) == (
        "pipeline: error: 'full-refresh' is a pipeline, not a stage: run it with "
        "'pipeline run full-refresh'")


def test_an_unknown_command_gets_did_you_mean(project):
    assert one_error(project.pipeline("rn")) == (
        f"pipeline: error: unknown command 'rn' (did you mean 'run'?); the commands are: "
        f"{COMMANDS} (see 'pipeline --help')")
    assert one_error(project.pipeline("-C", ".", "statsu", "--json")).startswith(
        "pipeline: error: unknown command 'statsu' (did you mean 'status'?);")
    assert one_error(project.pipeline("frobnicate")).startswith(
        "pipeline: error: unknown command 'frobnicate'; the commands are: ")


def test_help_works_as_help_does(project):
    top, option = project.pipeline("help"), project.pipeline("--help")
    assert top.code == 0 and top.out == option.out and top.err == ""
    assert "pipeline help COMMAND" in top.out
    for command in ("run", "run-stage", "logs", "doctor"):
        asked = project.pipeline("-C", ".", "help", command)
        assert asked.code == 0 and asked.err == ""
        assert asked.out == project.pipeline(command, "--help").out
        assert asked.out.startswith(f"usage: pipeline {command} ")
    assert one_error(project.pipeline("help", "rnu")).startswith(
        "pipeline: error: unknown command 'rnu' (did you mean 'run'?)")
    assert one_error(project.pipeline("help", "run", "logs")) == (
        "pipeline: error: help takes at most one command, not 2 words (see 'pipeline --help')")
    # `help help` is about help itself, as `git help help` is: the top help, not a
    # suggestion of the word just typed
    assert project.pipeline("help", "help").out == top.out
    # docs/cli.md's stream table: no command is a usage error, its help on stderr
    bare = project.pipeline()
    assert bare.code == 2 and bare.out == "" and bare.err == top.out
    version = project.pipeline("--version")
    assert version.code == 0 and version.out.startswith("pipeline ") and version.err == ""


def test_help_tells_how_the_root_and_graph_are_found(project):
    """-C's default is found upward (as git does), and -g's honours PIPELINE_GRAPH:
    the help must not say 'the working directory'."""
    text = " ".join(project.pipeline("--help").out.split())
    assert "(default: the working directory)" not in text
    assert "found upward, as git does" in text
    assert "$PIPELINE_GRAPH" in text


def test_log_level_takes_any_case_and_warning(project):
    result = project.pipeline("run", "--log-level", "WARNING", env={"STUB_FAIL": "publish"})
    assert result.code == 1
    assert project.last_record()["options"]["logLevel"] == "warn"
    assert "extract: python stub running" not in result.text  # warn: output not streamed
    assert "publish: failing on purpose" in result.text  # the failing stage's tail is shown
    assert project.pipeline("run-stage", "extract", "--log-level", "Error").code == 0
    assert project.last_record()["options"]["logLevel"] == "error"
    assert project.pipeline("run", "--log-level", "DEBUG", "--dry-run").code == 0
    bad = one_error(project.pipeline("run", "--log-level", "loud"))
    assert "argument --log-level: invalid choice: 'loud'" in bad


def test_hints_offer_run_stage_only_where_it_can_start(project):
    """A stage failing in a run whose inputs exist gets run-stage and --from; once its
    input is gone both would stop on it, and the hint is `run PIPELINE --to STAGE`."""
    failed = project.pipeline("run", env={"STUB_FAIL": "transform"})
    assert failed.code == 1
    assert hints(failed.text) == ["pipeline run-stage transform",
                                  "pipeline run full-refresh --from transform"]
    project.path("build/raw.json").unlink()
    refused = project.pipeline("run", "--from", "transform")
    assert refused.code == 1
    assert hints(refused.text) == ["pipeline run full-refresh --to transform"]
    assert hints(project.pipeline("logs", "--latest").text) == hints(refused.text)
    # the hint works as printed
    again = project.pipeline(*shlex.split(hints(refused.text)[0])[1:])
    assert again.code == 0, again.text
    assert project.statuses() == {"extract": "succeeded", "transform": "succeeded",
                                  "publish": "skipped"}


def test_hints_under_plain_doit_are_doit_commands_that_work(project):
    failed = project.doit("run", "-f", "dodo.py", "full-refresh", env={"STUB_FAIL": "transform"})
    assert failed.code == 1
    assert hints(failed.text) == ["doit run -f dodo.py transform"]
    again = project.doit(*shlex.split(hints(failed.text)[0])[1:])
    assert again.code == 0, again.text
    assert project.counts() == {"extract": 1, "transform": 2}


def test_a_missing_input_written_outside_the_pipeline_hints_its_writer(project):
    graph = project.graph()
    graph["pipelines"].append({"id": "late", "stages": ["transform", "publish"]})
    project.write_graph(graph)
    refused = project.pipeline("run", "late")
    assert refused.code == 1
    # `run late --to transform` would stop on the same input: extract writes it
    assert hints(refused.text) == ["pipeline run-stage extract"]
    assert project.pipeline(*shlex.split(hints(refused.text)[0])[1:]).code == 0
    assert project.pipeline("run", "late").code == 0
