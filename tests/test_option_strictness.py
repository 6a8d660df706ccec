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


def test_an_id_list_with_an_empty_item_keeps_the_others(project):
    result = project.pipeline("run", "--only", "extract,")
    assert result.code == 0, result.text
    assert project.counts() == {"extract": 1}
