"""--env-file, required variables, and masking of their values everywhere we write."""

from __future__ import annotations

SECRET = "s3cr3t-token-value"


def token_stage(project, required: bool = True) -> None:
    graph = project.graph()
    graph["stages"][0]["command"] = {"executable": "python3", "args": [
        "-c", "import os, pathlib; t = os.environ['API_TOKEN']; print('token is', t); "
              "print('split', t[:5], flush=True); print(t[5:]); "
              "pathlib.Path('build').mkdir(exist_ok=True); "
              "pathlib.Path('build/raw.json').write_text('{\"seen\": %d}' % len(t))"]}
    graph["stages"][0]["environment"] = [{"name": "API_TOKEN", "required": required}]
    project.write_graph(graph)


def test_env_file_reaches_the_stage_and_its_value_is_masked_everywhere(project):
    token_stage(project)
    project.path(".env").write_text(f'# for the tests\nexport API_TOKEN="{SECRET}"\n')
    result = project.pipeline("run", "--env-file", ".env", "--log-level", "debug")
    assert result.code == 0, result.text
    assert project.path("build/raw.json").read_text() == f'{{"seen": {len(SECRET)}}}'
    assert "token is ***" in result.out
    assert SECRET not in result.text
    for path in project.path(".pipeline-runs").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    log = project.path(project.last_record()["stages"][0]["logPath"]).read_text()
    assert "token is ***" in log
    assert project.last_record()["options"]["envFile"] == ".env"


def test_the_environment_wins_over_the_env_file(project):
    token_stage(project)
    project.path(".env").write_text(f"API_TOKEN={SECRET}\n")
    result = project.pipeline("run", "--env-file", ".env", env={"API_TOKEN": "from-the-env-x"})
    assert result.code == 0
    assert project.path("build/raw.json").read_text() == '{"seen": 14}'
    assert "from-the-env-x" not in result.out and "token is ***" in result.out


def test_missing_required_variables_stop_the_run_before_anything_starts(project):
    token_stage(project)
    graph = project.graph()
    graph["stages"][1]["environment"] = [{"name": "OTHER_KEY", "required": True}]
    project.write_graph(graph)
    result = project.pipeline("run", env={"API_TOKEN": ""})
    assert result.code == 2
    assert result.err.strip() == ("pipeline: error: required environment variable not set or "
                                  "empty: API_TOKEN (stage extract), OTHER_KEY (stage transform)")
    assert project.counts() == {} and not project.path("build").exists()


def test_env_file_errors_exit_2_naming_file_and_line(project):
    token_stage(project)
    result = project.pipeline("run", "--env-file", "missing.env")
    assert result.code == 2 and "missing.env" in result.err
    project.path("bad.env").write_text("API_TOKEN=ok\nthis is not a line\n")
    result = project.pipeline("run", "--env-file", "bad.env")
    assert result.code == 2 and "bad.env:2:" in result.err
    assert len(result.err.strip().splitlines()) == 1
