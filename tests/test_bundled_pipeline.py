"""The bundled catalogue pipeline (what `make run` runs), on a copy of the repository."""

from __future__ import annotations

import json
import shutil

from conftest import REPO, Project

STAGES = ["create-module-list", "update-repository-data", "get-modules", "expand-module-list",
          "check-modules-js", "check-modules"]


def bundled(tmp_path) -> Project:
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("pipeline", "fixtures", "dodo.py"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    return Project(root)


def test_full_refresh_runs_offline_then_is_up_to_date(tmp_path):
    project = bundled(tmp_path)
    first = project.pipeline("run")
    assert first.code == 0, first.text
    assert [s["id"] for s in project.last_record()["stages"]] == STAGES
    assert set(project.statuses().values()) == {"succeeded"}
    data = project.path("website/data")
    catalogue = json.loads((data / "modules.json").read_text())
    assert catalogue  # the published catalogue, validated against its schema by the run
    assert (project.path("website/result.md")).read_text().strip()
    assert json.loads((data / "modules.min.json").read_text())
    assert project.path("modules").is_dir() and not project.path("modules_temp").exists()

    second = project.pipeline("run")
    assert second.code == 0
    record = project.last_record()
    if "fastPath" in record:  # nothing changed: decided from the stamp, without doit
        assert record["fastPath"]["stages"] == len(STAGES)
        assert f"0 ran, {len(STAGES)} up to date (fast path" in second.out
    else:
        assert set(project.statuses().values()) == {"up-to-date"}
    third = project.pipeline("run", "--no-fast-path")  # stage by stage, the same answer
    assert third.code == 0, third.text
    assert set(project.statuses().values()) == {"up-to-date"}


def test_forced_rebuild_reuses_the_previous_clones_through_the_hooks(tmp_path):
    project = bundled(tmp_path)
    assert project.pipeline("run").code == 0
    before = {p.relative_to(project.root) for p in project.path("modules").rglob("*")}
    result = project.pipeline("run", "--force")
    assert result.code == 0, result.text
    assert "0 copied" in result.out  # everything came back from modules_temp/
    after = {p.relative_to(project.root) for p in project.path("modules").rglob("*")}
    assert before == after
    hooks = project.last_record()["stages"][2]["hooks"]
    assert [(h["moment"], h["hook"]) for h in hooks] == [
        ("before", "move modules/ -> modules_temp/"), ("after", "remove modules_temp/")]
    assert not project.path("modules_temp").exists()


def test_a_failing_get_modules_restores_the_previous_clones(tmp_path):
    project = bundled(tmp_path)
    assert project.pipeline("run").code == 0
    before = sorted(p.name for p in project.path("modules").iterdir())
    stage_file = project.path("website/data/modules.stage.2.json")
    stage_file.write_text("not json")  # get-modules cannot read its input
    result = project.pipeline("run-stage", "get-modules")
    assert result.code == 1
    assert sorted(p.name for p in project.path("modules").iterdir()) == before
    assert not project.path("modules_temp").exists()
    moments = [h["moment"] for h in project.last_record()["stages"][0]["hooks"]]
    assert moments == ["before", "onFailure"]
