"""`pipeline doctor` on copies of the fixture project, with one thing broken at a time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import reference_project


def unwrapped(text: str) -> str:
    """The report with each wrapped line joined again (continuations are indented)."""
    lines: list[str] = []
    for line in text.splitlines():
        if lines and line.startswith(" ") and not line.startswith("    fix: "):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(lines)


def doctor_json(project, env: dict | None = None) -> tuple[int, dict]:
    result = project.pipeline("doctor", "--json", env=env)
    return result.code, json.loads(result.out)


def by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def failed(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"] if not c["ok"]}


def fake_bin(tmp_path: Path, scripts: dict[str, str], link_python: bool = True) -> str:
    """A PATH holding only the given shell scripts (and the real python3 if asked)."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
    if link_python:
        (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    return str(bin_dir)


def test_fixture_project_passes_every_check(project):
    result = project.pipeline("doctor")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert all(line.startswith(("✔", "    ")) for line in lines[:-1]), result.out
    assert lines[-1].endswith("0 failed")
    assert all(len(line) <= 100 for line in lines)
    out = unwrapped(result.out)
    for name in ("python (runner)", "python for stages (python3)", "node", "executable node",
                 "executable python3", "scripts", "schemas", ".pipeline-runs/ writable",
                 "saved state"):
        assert f"✔ {name}: " in out
    assert "executable node: " in out and "(used by stage transform)" in out
    # probing .pipeline-runs/ leaves nothing behind when it was not there
    assert not project.path(".pipeline-runs").exists()


def test_json_shape(project):
    code, report = doctor_json(project)
    assert code == 0
    assert set(report) == {"ok", "checks"} and report["ok"] is True
    for check in report["checks"]:
        assert {"name", "ok", "detail", "remedy"} <= set(check)
        assert check["ok"] is True and check["remedy"] is None
    checks = by_name(report)
    assert int(checks["node"]["detail"].split(".")[0]) >= 20
    assert checks["python for stages (python3)"]["detail"].startswith("3.")
    assert checks["scripts"]["detail"] == "2 script file(s) present"
    assert checks["schemas"]["detail"] == \
        "1 schema file(s) present and valid; every $ref resolves (2 file(s) in all)"


def test_no_python_check_for_stages_when_no_stage_uses_python(project):
    graph = project.graph()
    graph["pipelines"][0]["stages"] = ["transform"]
    graph["stages"] = [s for s in graph["stages"] if s["id"] == "transform"]
    del graph["stages"][0]["dependsOn"]
    project.write_graph(graph)
    code, report = doctor_json(project)
    assert code == 0
    names = set(by_name(report))
    assert "python (runner)" in names and "node" in names
    assert not any(n.startswith("python for stages") for n in names)


def test_missing_executable_names_the_stage(project):
    graph = project.graph()
    graph["stages"][1]["command"]["executable"] = "no-such-tool-xyz"
    project.write_graph(graph)
    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ executable no-such-tool-xyz: executable 'no-such-tool-xyz' not found on PATH " \
           "(used by stage transform)" in out
    assert "    fix: install 'no-such-tool-xyz' on PATH" in out
    assert "Traceback" not in result.text


def test_missing_schema(project):
    project.path("schemas/clean.schema.json").unlink()
    code, report = doctor_json(project)
    assert code == 1 and report["ok"] is False
    check = failed(report)["schema schemas/clean.schema.json"]
    assert check["detail"] == "missing (schema of artifacts clean, report)"
    assert "restore schemas/clean.schema.json" in check["remedy"]


def test_invalid_schema(project):
    project.path("schemas/clean.schema.json").write_text('{"type": 12}')
    code, report = doctor_json(project)
    assert code == 1
    check = failed(report)["schema schemas/clean.schema.json"]
    assert check["detail"].startswith("not a valid JSON Schema at type: 12 is not valid")


def test_schema_that_is_not_json(project):
    project.path("schemas/clean.schema.json").write_text('{"type": ')
    code, report = doctor_json(project)
    assert code == 1
    assert failed(report)["schema schemas/clean.schema.json"]["detail"] \
        .startswith("not readable JSON:")


def test_missing_required_variable_is_named_and_its_value_never_printed(project):
    graph = project.graph()
    graph["stages"][2]["environment"] = [{"name": "DOCTOR_TEST_TOKEN", "required": True}]
    project.write_graph(graph)
    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ environment DOCTOR_TEST_TOKEN: required variable not set or empty (needed by stage " \
           "publish)" in out
    assert "fix: export DOCTOR_TEST_TOKEN=..." in out

    result = project.pipeline("doctor", "--json", env={"DOCTOR_TEST_TOKEN": "s3cret-v4lue"})
    assert result.code == 0, result.text
    assert "s3cret-v4lue" not in result.text
    assert by_name(json.loads(result.out))["environment"]["detail"] == \
        "1 required variable(s) set"


def test_missing_script_names_the_stage(project):
    project.path("stages/stub.mjs").unlink()
    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ script stages/stub.mjs: missing (used by stage transform)" in out
    # artifacts among the arguments (data/source.txt, build/raw.json ...) are not scripts
    assert "build/raw.json" not in out and "data/source.txt" not in out


def test_script_like_arguments_inside_a_directory_artifact_are_data(project):
    graph = project.graph()
    publish = next(s for s in graph["stages"] if s["id"] == "publish")
    # inside the `site` directory artifact: data; beside it, present: a script
    publish["command"]["args"] += ["build/site/extra/page.js", "build/site-tools.js"]
    project.write_graph(graph)
    out = unwrapped(project.pipeline("doctor").out)
    assert "build/site/extra/page.js" not in out
    # naming no file and not the program python runs: data, as for the run
    assert "build/site-tools.js" not in out
    project.path("build").mkdir()
    project.path("build/site-tools.js").write_text("")
    assert "3 script file(s) present" in unwrapped(project.pipeline("doctor").out)


def test_corrupt_state_fails_and_a_real_state_passes(project):
    assert project.pipeline("run").code == 0
    code, report = doctor_json(project)
    assert code == 0
    assert by_name(report)["saved state"]["detail"] == ".doit.db readable (3 task state(s))"
    assert by_name(report)[".pipeline-runs/ writable"]["detail"] == "run records can be written"

    project.path(".doit.db").write_bytes(b"\x00garbage, not sqlite\xff" * 200)
    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ saved state: .doit.db is not a readable doit state: file is not a database" \
        in out
    assert "fix: delete .doit.db" in out


def test_run_directory_that_is_a_file(project):
    project.path(".pipeline-runs").write_text("in the way")
    code, report = doctor_json(project)
    assert code == 1
    assert failed(report)[".pipeline-runs/ writable"]["detail"].startswith("cannot write there")
    assert project.path(".pipeline-runs").read_text() == "in the way"


def test_missing_node_is_a_failed_check_not_a_crash(project, tmp_path):
    path = fake_bin(tmp_path, {})
    result = project.pipeline("doctor", env={"PATH": path})
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ node: executable 'node' not found on PATH" in out
    assert "fix: install Node.js 20 or newer" in out
    assert "✔ python for stages (python3): " in out
    assert "Traceback" not in result.text


def test_old_node_and_old_python_fail_and_git_is_only_a_warning(project, tmp_path):
    path = fake_bin(tmp_path, {"node": "echo v18.19.0", "python3": "echo 'Python 3.8.10'"},
                    link_python=False)
    result = project.pipeline("doctor", env={"PATH": path})
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ node: 18.19.0 at " in out and "is older than 20" in out
    assert "✖ python for stages (python3): 3.8.10 at " in out
    # no stage of the fixture declares a git side effect: a missing git only warns
    assert "! git: executable 'git' not found on PATH (no stage declares a git side effect)" \
        in out
    assert result.out.splitlines()[-1].endswith(" checks: 2 failed, 1 warning")


def test_missing_git_fails_when_a_stage_declares_git(project, tmp_path):
    graph = project.graph()
    graph["stages"][0]["sideEffects"] = [{"type": "git", "description": "clones"}]
    project.write_graph(graph)
    path = fake_bin(tmp_path, {"node": "echo v20.1.0"})
    code, report = doctor_json(project, env={"PATH": path})
    assert code == 1
    git = failed(report)["git"]
    assert git["level"] == "error" and "stage extract declares a git side effect" in git["detail"]
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["git"]


def test_hanging_version_query_times_out(project, tmp_path):
    # doctor waits at most 10 s for `node --version`
    # a wrapper whose child keeps the output pipe open must not hold doctor either
    path = fake_bin(tmp_path, {"node": "/bin/sleep 30 & /bin/sleep 30"})
    result = project.pipeline("doctor", env={"PATH": path})
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ node: '" in out and "--version' did not answer within 10s" in out


def test_broken_graph_is_exit_2(project):
    project.path("pipeline/stage-graph.json").write_text("{")
    result = project.pipeline("doctor")
    assert result.code == 2
    assert result.err.startswith("pipeline/stage-graph.json: line 1, column 2: invalid JSON")
    assert result.out == ""


def test_reference_graph_names_each_missing_script(tmp_path):
    project = reference_project(tmp_path)
    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    for script, stage in (("scripts/create_module_list.js", "create-module-list"),
                          ("scripts/updateRepositoryApiData.js", "update-repository-data"),
                          ("scripts/get_modules.py", "get-modules"),
                          ("scripts/expand_module_list_with_repo_data.js", "expand-module-list"),
                          ("scripts/check_modules_js.js", "check-modules-js"),
                          ("scripts/check_modules.py", "check-modules")):
        assert f"✖ script {script}: missing (used by stage {stage})" in out
    assert "✖ schema dist/schemas/modules.stage.1.schema.json: missing" in out
    assert all(len(line) <= 100 for line in result.out.splitlines())
    # get-modules declares git: git is a required check there
    code, report = doctor_json(project)
    assert by_name(report)["git"]["level"] == "error"


def upstream_project(tmp_path: Path):
    """A project in the layout of the real catalogue: schemas with an https `$id` that
    refer to partials by relative path (see test_schemas.upstream_schemas)."""
    from test_schemas import STAGE_1, schema_project, upstream_schemas

    project = schema_project(tmp_path / "upstream", {}, STAGE_1.schema, [])
    upstream_schemas(project.root)
    return project


def test_refs_beside_an_https_id_resolve_from_local_files(tmp_path):
    project = upstream_project(tmp_path)
    code, report = doctor_json(project)
    assert code == 0, report
    assert by_name(report)["schemas"]["detail"] == \
        "1 schema file(s) present and valid; every $ref resolves (3 file(s) in all)"


def test_an_unresolvable_ref_names_the_schema_file_and_the_ref(tmp_path):
    project = upstream_project(tmp_path)
    core = json.loads(project.path("dist/partials/module.core.json").read_text())
    core["properties"]["image"] = {"$ref": "module.image.json"}  # no such partial
    core["properties"]["url"]["$ref"] = "module.links.json#/$defs/link"  # no such $def
    project.path("dist/partials/module.core.json").write_text(json.dumps(core))
    stage_1 = json.loads(project.path("dist/schemas/modules.stage.1.schema.json").read_text())
    stage_1["$defs"] = {"remote": {"$ref": "https://json.schemastore.org/package.json"}}
    project.path("dist/schemas/modules.stage.1.schema.json").write_text(json.dumps(stage_1))

    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ schema dist/partials/module.core.json: $ref 'module.image.json' does not " \
           "resolve: no schema file in dist/schemas/ declares $id " \
           "https://magicmirror.builders/partials/module.image.json, and there is no file " \
           "dist/partials/module.image.json, reached from schema " \
           "dist/schemas/modules.stage.1.schema.json" in out
    assert "    fix: fix the $ref in dist/partials/module.core.json, or add the schema it " \
           "names under the project" in out
    assert "✖ schema dist/partials/module.core.json: $ref 'module.links.json#/$defs/link' " \
           "does not resolve: dist/partials/module.links.json has no /$defs/link" in out
    assert "✖ schema dist/schemas/modules.stage.1.schema.json: $ref " \
           "'https://json.schemastore.org/package.json' does not resolve: no schema file " \
           "in dist/schemas/ declares $id https://json.schemastore.org/package.json " \
           "(schemas are never fetched over the network)" in out
    assert result.out.splitlines()[-1].endswith(" checks: 3 failed")
    assert "Traceback" not in result.text


def test_an_invalid_partial_fails(tmp_path):
    project = upstream_project(tmp_path)
    project.path("dist/partials/module.links.json").write_text('{"$defs": {"url": '
                                                               '{"type": 12}}}')
    code, report = doctor_json(project)
    assert code == 1
    check = failed(report)["schema dist/partials/module.links.json"]
    assert check["detail"].startswith("not a valid JSON Schema at $defs/url/type: 12 is not")
    assert check["detail"].endswith("(reached from schema "
                                    "dist/schemas/modules.stage.1.schema.json)")


def test_a_format_that_is_not_checked_warns(tmp_path):
    project = upstream_project(tmp_path)
    links = json.loads(project.path("dist/partials/module.links.json").read_text())
    links["$defs"]["tag"] = {"format": "semver"}
    project.path("dist/partials/module.links.json").write_text(json.dumps(links))
    result = project.pipeline("doctor")
    assert result.code == 0, result.text
    out = unwrapped(result.out)
    assert "! format semver: not checked: unknown to the validator for its draft, its " \
           "values pass (used in dist/partials/module.links.json)" in out
    assert "format date-time" not in out and "format uri" not in out
    assert result.out.splitlines()[-1].endswith(" checks: 0 failed, 1 warning")


def test_two_schemas_declaring_one_id_warn(tmp_path):
    project = upstream_project(tmp_path)
    project.path("dist/schemas/old").mkdir()
    project.path("dist/schemas/old/copy.json").write_text(
        project.path("dist/schemas/modules.stage.1.schema.json").read_text())
    code, report = doctor_json(project)
    assert code == 0
    check = by_name(report)["schema $id https://magicmirror.builders/schemas/"
                            "modules.stage.1.schema.json"]
    assert check["level"] == "warning" and check["detail"] == (
        "declared by dist/schemas/modules.stage.1.schema.json, dist/schemas/old/copy.json: "
        "a $ref to it means dist/schemas/modules.stage.1.schema.json")


def test_a_format_whose_package_is_missing_names_the_package():
    from orchestrator.commands.doctor import unchecked_formats

    [check] = unchecked_formats({"date-time": {"schemas/a.json", "partials/b.json"}})
    assert (check.name, check.level) == ("format date-time", "warning")
    assert check.detail == ("not checked: the package rfc3339-validator is not installed "
                            "(used in partials/b.json, schemas/a.json)")


# -- Node: the project's engines.node, and TypeScript stages ------------------------------


def fake_node(tmp_path: Path, version: str) -> str:
    """A PATH whose `node` says it is `version` (and the real python3)."""
    folder = tmp_path / f"node-{version}"
    if not folder.exists():
        folder.mkdir()
        fake_bin(folder, {"node": f"echo v{version}"})
    return str(folder / "fakebin")


def real_node_version() -> str:
    import subprocess

    return subprocess.run(["node", "--version"], capture_output=True, text=True,
                          check=True).stdout.strip().lstrip("v")


def with_engines(project, node_range) -> None:
    package = {"name": "catalogue", "private": True, "type": "module",
               "engines": {"node": node_range}}
    project.path("package.json").write_text(json.dumps(package, indent=2))


def test_node_is_checked_against_the_projects_engines_range(project):
    installed = real_node_version()
    major = int(installed.split(".")[0])
    with_engines(project, f">={major + 2}")
    code, report = doctor_json(project)
    assert code == 1
    node = failed(report)["node"]
    assert node["detail"].startswith(f"{installed} at ")
    assert node["detail"].endswith(f" does not satisfy engines.node '>={major + 2}' of "
                                   "package.json")
    assert node["remedy"] == (f"install a Node.js that satisfies '>={major + 2}' (first on "
                              "PATH as 'node'), or correct engines.node in package.json")

    with_engines(project, f">=18.0.0 <{major + 1}")
    code, report = doctor_json(project)
    assert code == 0, report
    assert by_name(report)["node"]["detail"].endswith(
        f", satisfies engines.node '>=18.0.0 <{major + 1}' of package.json")


def test_engines_ranges_against_other_node_versions(project, tmp_path):
    with_engines(project, "^20.3 || ~22.5.1")
    for version, ok in (("20.2.9", False), ("20.3.0", True), ("21.0.0", False),
                        ("22.5.0", False), ("22.5.7", True), ("22.6.0", False)):
        code, report = doctor_json(project, env={"PATH": fake_node(tmp_path, version)})
        assert by_name(report)["node"]["ok"] is ok, (version, report)
        assert f"{version} at " in by_name(report)["node"]["detail"]
    # a range below the built-in floor of 20 is the project's to choose
    with_engines(project, "18.x")
    code, report = doctor_json(project, env={"PATH": fake_node(tmp_path, "18.19.0")})
    assert by_name(report)["node"]["ok"] is True


def test_unreadable_package_json_or_range_is_a_failed_check(project):
    project.path("package.json").write_text('{"engines": ')
    code, report = doctor_json(project)
    assert code == 1
    assert failed(report)["package.json"]["detail"].startswith("not readable JSON: ")
    assert by_name(report)["node"]["ok"] is True  # checked against 20 or newer meanwhile
    with_engines(project, "lts")
    code, report = doctor_json(project)
    assert code == 1
    assert failed(report)["package.json"]["detail"] == (
        "engines.node \"lts\" is not a semver range: 'lts' is not a version or a comparator")
    with_engines(project, None)  # no engines.node at all: nothing to check
    project.path("package.json").write_text('{"name": "x"}')
    assert doctor_json(project)[0] == 0


TYPED_SCRIPT = """const greeting: string = "typed stage";
console.log(greeting);
"""


def with_typescript_stage(project, args_before: list[str] = (), name="typed.ts") -> None:
    project.path(f"stages/{name}").write_text(TYPED_SCRIPT)
    graph = project.graph()
    graph["stages"].append({"id": "typed", "command": {
        "executable": "node", "args": [*args_before, f"stages/{name}"]}})
    graph["pipelines"][0]["stages"].append("typed")
    project.write_graph(graph)


def test_a_typescript_stage_needs_a_node_that_strips_types(project):
    installed = real_node_version()
    assert int(installed.split(".")[0]) < 22, "this test expects the machine's Node 20"
    with_typescript_stage(project)
    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    assert (f"✖ typescript typed: node {installed} at ") in out
    assert ("cannot run stages/typed.ts (stage typed): Node.js strips types from 22.18 "
            "(23.6 on the 23 line), or from 22.6 with --experimental-strip-types") in out
    assert "fix: install Node.js 22.18 or newer, or pass --experimental-strip-types" in out
    # and that is true: this node cannot run it
    ran = project.pipeline("run-stage", "typed")
    assert ran.code == 1 and "SyntaxError" in project.path(
        project.last_record()["stages"][0]["logPath"]).read_text()


def test_a_loader_in_the_command_is_left_to_do_its_job(project):
    with_typescript_stage(project, ["--import", "tsx"])
    code, report = doctor_json(project)
    assert code == 0, failed(report)
    assert by_name(report)["typescript"]["detail"] == "1 TypeScript stage script(s) can run"
    project.path("stages/typed.mts").write_text(TYPED_SCRIPT)
    project.path("loader.mjs").write_text("export async function load(u, c, next) "
                                          "{ return next(u, c); }\n")
    for loader in (["--require", "ts-node/register"], ["--loader=ts-node/esm"],
                   ["--experimental-loader", "./loader.mjs"]):
        graph = project.graph()
        graph["stages"][-1]["command"]["args"] = [*loader, "stages/typed.mts"]
        project.write_graph(graph)
        code, report = doctor_json(project)
        assert code == 0, (loader, failed(report))
    # through NODE_OPTIONS, as node itself reads them
    graph["stages"][-1]["command"]["args"] = ["stages/typed.mts"]
    project.write_graph(graph)
    assert doctor_json(project)[0] == 1
    assert doctor_json(project, env={"NODE_OPTIONS": "--import tsx"})[0] == 0


def test_type_stripping_by_node_version_and_flag(project, tmp_path):
    with_typescript_stage(project, name="typed.cts")
    for version, flag, ok in (("22.5.1", False, False), ("22.6.0", False, False),
                              ("22.6.0", True, True), ("22.17.9", False, False),
                              ("22.18.0", False, True), ("23.5.0", False, False),
                              ("23.5.0", True, True), ("23.6.0", False, True),
                              ("24.1.0", False, True), ("20.11.1", True, False)):
        graph = project.graph()
        graph["stages"][-1]["command"]["args"] = \
            (["--experimental-strip-types"] if flag else []) + ["stages/typed.cts"]
        project.write_graph(graph)
        code, report = doctor_json(project, env={"PATH": fake_node(tmp_path, version)})
        checks = by_name(report)
        if ok:
            assert checks["typescript"]["ok"], (version, flag)
        else:
            assert "typescript typed" in failed(report), (version, flag)
            detail = failed(report)["typescript typed"]["detail"]
            assert f"node {version} at " in detail and "(stage typed)" in detail
            if flag:
                assert detail.endswith("--experimental-strip-types needs Node.js 22.6 or newer")


def test_an_undeclared_output_argument_is_not_a_missing_script(project):
    """`python3 stages/stub.py ... build/e.json`: the path after the script names no file
    yet (the stage writes it, undeclared). Not a script by the run's rule: doctor passes;
    a missing program file still fails, naming it."""
    graph = project.graph()
    graph["stages"][0]["command"]["args"] += ["1", "build/e.json", "notes/later.py"]
    project.write_graph(graph)
    result = project.pipeline("doctor", "--json")
    checks = by_name(json.loads(result.out))
    assert checks["scripts"]["ok"], checks
    assert "build/e.json" not in result.out and "notes/later.py" not in result.out
    graph["stages"][0]["command"]["args"][0] = "stages/renamed.py"
    project.write_graph(graph)
    result = project.pipeline("doctor")
    assert result.code == 1
    out = unwrapped(result.out)
    assert "✖ script stages/renamed.py: missing (used by stage extract)" in out
    assert "build/e.json" not in out and "notes/later.py" not in out
