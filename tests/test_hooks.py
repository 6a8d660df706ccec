"""Stage hooks: before / after / onFailure, run by the stage action and recorded."""

from __future__ import annotations


def rotating_graph(project):
    graph = project.graph()
    graph["artifacts"] += [
        {"id": "work", "type": "directory", "path": "work/"},
        {"id": "work-temp", "type": "directory", "path": "work_temp/"},
    ]
    graph["stages"].append({
        "id": "fetch",
        "command": {"executable": "python3", "args": ["stages/stub.py", "fetch",
                                                      "--in", "data/source.txt",
                                                      "--out-dir", "work"]},
        "inputs": [{"artifact": "source"}, {"artifact": "work-temp", "optional": True}],
        "outputs": [{"artifact": "work"}, {"artifact": "work-temp"}],
        "hooks": {
            "before": [{"move": {"from": "work", "to": "work-temp"}}],
            "after": [{"remove": "work-temp"}],
            "onFailure": [{"move": {"from": "work-temp", "to": "work"}}],
        },
    })
    graph["pipelines"].append({"id": "fetch-only", "stages": ["fetch"]})
    project.write_graph(graph)


def test_hooks_rotate_before_and_clean_up_after_success(project):
    rotating_graph(project)
    assert project.pipeline("run", "fetch-only").code == 0
    (project.path("work") / "old.txt").write_text("from the previous run")
    assert project.pipeline("run", "fetch-only", "--force").code == 0
    assert project.path("work/index.txt").exists()
    assert not project.path("work/old.txt").exists()  # rotated away, then removed
    assert not project.path("work_temp").exists()
    hooks = project.last_record()["stages"][0]["hooks"]
    assert [(h["moment"], h["hook"], h["status"]) for h in hooks] == [
        ("before", "move work/ -> work_temp/", "succeeded"),
        ("after", "remove work_temp/", "succeeded"),
    ]


def test_on_failure_hook_restores_the_previous_state(project):
    rotating_graph(project)
    assert project.pipeline("run", "fetch-only").code == 0
    previous = project.path("work/index.txt").read_text()
    result = project.pipeline("run", "fetch-only", "--force", env={"STUB_FAIL": "fetch"})
    assert result.code == 1
    assert project.path("work/index.txt").read_text() == previous
    assert not project.path("work_temp").exists()
    hooks = project.last_record()["stages"][0]["hooks"]
    assert [(h["moment"], h["status"]) for h in hooks] == [("before", "succeeded"),
                                                          ("onFailure", "succeeded")]


def test_a_failing_command_hook_fails_the_stage(project):
    graph = project.graph()
    graph["stages"][0]["hooks"] = {"before": [{"command": {"executable": "python3",
                                                          "args": ["-c", "raise SystemExit(4)"]}}]}
    project.write_graph(graph)
    result = project.pipeline("run")
    assert result.code == 1
    assert "before hook 'run python3 -c raise SystemExit(4)' failed: exit code 4" in result.err
    assert project.counts() == {}


def test_hooks_never_touch_anything_outside_the_root(project, tmp_path):
    rotating_graph(project)
    graph = project.graph()
    for artifact in graph["artifacts"]:
        if artifact["id"] == "work-temp":
            artifact["path"] = "link/work_temp/"
    project.write_graph(graph)
    project.path("link").mkdir()
    assert project.pipeline("run", "fetch-only").code == 0  # checked, and cached
    outside = tmp_path / "outside"
    (outside / "work_temp").mkdir(parents=True)
    (outside / "work_temp" / "precious.txt").write_text("keep me")
    project.path("link").rmdir()
    project.path("link").symlink_to(outside)  # the graph is unchanged: no new check
    result = project.pipeline("run", "fetch-only", "--force")
    assert result.code == 1
    assert "link/work_temp leads outside the project root" in result.err
    assert (outside / "work_temp" / "precious.txt").read_text() == "keep me"
    assert project.graph() == graph
