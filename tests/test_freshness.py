"""When a stage runs: up-to-date decisions that can be trusted on real edits.

Each test makes a small project of real files, runs the real CLI (and plain doit where
it matters) as subprocesses, edits files the way people and tools do, and counts what
ran and why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import Project

# A stage that copies its inputs to its output and counts its runs. With WAIT_FOR set,
# it reads its inputs, says so (a file), waits for a go-ahead (another file), then
# writes what it read: a stand-in for a stage that works for a while.
COPY_STAGE = textwrap.dedent("""\
    import os, sys, time
    name, out, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(".counts", exist_ok=True)
    with open(os.path.join(".counts", name), "a") as f:
        f.write("ran\\n")
    parts = []
    for path in inputs:
        if os.path.isdir(path):
            for dirpath, _, files in sorted(os.walk(path)):
                for file in sorted(files):
                    with open(os.path.join(dirpath, file)) as f:
                        parts.append(f.read())
        else:
            with open(path) as f:
                parts.append(f.read())
    wait = os.environ.get("WAIT_FOR")
    if wait:
        open(wait + ".started", "w").close()
        deadline = time.time() + 30
        while not os.path.exists(wait) and time.time() < deadline:
            time.sleep(0.05)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        f.write("".join(parts))
    """)


def make(tmp_path: Path, graph: dict, files: dict[str, str]) -> Project:
    root = tmp_path / "proj"
    for rel, text in {"stages/copy.py": COPY_STAGE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "pipeline").mkdir(parents=True, exist_ok=True)
    graph = {"version": "test", "defaultPipeline": "all", **graph}
    graph.setdefault("pipelines", [{"id": "all", "stages": [s["id"] for s in graph["stages"]]}])
    (root / "pipeline" / "stage-graph.json").write_text(json.dumps(graph, indent=2))
    return Project(root)


def copy_stage(sid: str, inputs: list[str], output: str, extra_args=(), **more) -> dict:
    return {"id": sid,
            "command": {"executable": "python3",
                        "args": ["stages/copy.py", sid, f"out/{output}", *extra_args]},
            "inputs": [{"artifact": a} for a in inputs],
            "outputs": [{"artifact": output}], **more}


def record_of(project: Project) -> dict[str, dict]:
    return {s["id"]: s for s in project.last_record()["stages"]}


def reason(project: Project, sid: str) -> str | None:
    return record_of(project)[sid]["reason"]


def keep_times(path: Path, text: str) -> None:
    """Rewrite a file with the same size and put its old times back (`cp -p`, `touch -r`)."""
    st = path.stat()
    assert len(text.encode()) == st.st_size
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns


# -- 1. an input edited while its stage runs -----------------------------------------


@pytest.mark.parametrize("kind", ["file", "directory", "script"])
def test_an_input_edited_while_the_stage_runs_is_not_taken_as_current(tmp_path, kind):
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "tree", "type": "directory", "path": "data/tree"},
                 {"id": "result", "type": "file", "path": "out/result"}]
    project = make(tmp_path, {"artifacts": artifacts, "stages": [
        copy_stage("slow", ["in", "tree"], "result", ["data/in.txt", "data/tree"])]},
        {"data/in.txt": "old\n", "data/tree/a.txt": "old tree\n"})
    edited = {"file": "data/in.txt", "directory": "data/tree/a.txt",
              "script": "stages/copy.py"}[kind]
    shown = {"file": "data/in.txt", "directory": "data/tree/",
             "script": "stages/copy.py"}[kind]
    gate = project.path("go")
    env = {**os.environ, "WAIT_FOR": str(gate)}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run"], cwd=project.root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not Path(f"{gate}.started").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert Path(f"{gate}.started").exists(), proc.communicate()
    path = project.path(edited)
    path.write_text(path.read_text() + "# edited while the stage ran\n")
    gate.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert f"input changed during the run: {shown}" in err  # a warning, on stderr
    assert "the next run runs it again" in err
    assert record_of(project)["slow"]["warnings"]
    if kind != "script":  # the output was built from the old content
        assert "edited" not in project.path("out/result").read_text()

    again = project.pipeline("run")
    assert again.code == 0, again.text
    assert project.counts()["slow"] == 2
    assert reason(project, "slow") == f"input changed during the run: {shown}"
    if kind != "script":
        assert "edited" in project.path("out/result").read_text()
    third = project.pipeline("run")
    assert project.counts()["slow"] == 2, third.text
    assert "1 up to date" in third.out


# -- 2. content changed with its old mtime restored ----------------------------------


def test_content_changed_with_its_old_times_restored_is_seen(tmp_path):
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "tree", "type": "directory", "path": "data/tree"},
                 {"id": "a", "type": "file", "path": "out/a"},
                 {"id": "b", "type": "file", "path": "out/b"}]
    project = make(tmp_path, {"artifacts": artifacts, "stages": [
        copy_stage("from-file", ["in"], "a", ["data/in.txt"]),
        copy_stage("from-tree", ["tree"], "b", ["data/tree"])]},
        {"data/in.txt": "alpha\n", "data/tree/x.txt": "one\n"})
    assert project.pipeline("run").code == 0
    assert project.pipeline("run").code == 0
    assert project.counts() == {"from-file": 1, "from-tree": 1}

    keep_times(project.path("data/in.txt"), "gamma\n")
    keep_times(project.path("data/tree/x.txt"), "two\n")
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert project.counts() == {"from-file": 2, "from-tree": 2}
    assert reason(project, "from-file") == "input changed: data/in.txt"
    assert reason(project, "from-tree") == "input changed: data/tree/"
    assert project.path("out/a").read_text() == "gamma\n"

    # plain doit shares the state and the checker
    keep_times(project.path("data/in.txt"), "delta\n")
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "pipeline" / "basic" / "dodo.py",
                project.root)
    done = project.doit("run", "all")
    assert done.code == 0, done.text
    assert project.counts() == {"from-file": 3, "from-tree": 2}

    # a script edited the same way
    script = project.path("stages/copy.py")
    keep_times(script, script.read_text().replace("ran\\n", "RAN\\n"))
    project.pipeline("run")
    assert reason(project, "from-file") == "script changed: stages/copy.py"

    # touched, not changed: nothing runs
    os.utime(project.path("data/in.txt"))
    os.utime(project.path("data/tree/x.txt"))
    before = project.counts()
    assert project.pipeline("run").code == 0
    assert project.counts() == before


# -- 3. network and git side effects --------------------------------------------------


def test_a_stage_with_a_git_or_network_side_effect_always_runs(tmp_path):
    artifacts = [{"id": "list", "type": "file", "path": "data/list.txt"},
                 {"id": "cloned", "type": "file", "path": "out/cloned"},
                 {"id": "fetched", "type": "file", "path": "out/fetched"},
                 {"id": "cached", "type": "file", "path": "out/cached"},
                 {"id": "local", "type": "file", "path": "out/local"}]
    project = make(tmp_path, {"artifacts": artifacts, "stages": [
        copy_stage("clone", ["list"], "cloned", ["data/list.txt"], sideEffects=[
            {"type": "filesystem", "description": "writes a folder"},
            {"type": "git", "description": "clones every module"}]),
        copy_stage("fetch", ["list"], "fetched", ["data/list.txt"],
                   sideEffects=[{"type": "network"}]),
        copy_stage("cached", ["list"], "cached", ["data/list.txt"],
                   sideEffects=[{"type": "network", "maxAge": "1h"}]),
        copy_stage("local", ["cloned"], "local", ["out/cloned"],
                   sideEffects=[{"type": "filesystem", "description": "informative"}])]},
        {"data/list.txt": "modules\n"})
    assert project.pipeline("run").code == 0
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert project.counts() == {"clone": 2, "fetch": 2, "cached": 1, "local": 1}
    assert reason(project, "clone") == "side effect: git — clones every module"
    assert reason(project, "fetch") == "side effect: network"
    assert record_of(project)["cached"]["status"] == "up-to-date"

    check = project.pipeline("check", "--json")
    codes = [(w["code"], w.get("stage")) for w in json.loads(check.out)["warnings"]]
    assert ("always-runs", "clone") in codes and ("always-runs", "fetch") in codes
    assert ("always-runs", "cached") not in codes and ("always-runs", "local") not in codes
    described = json.loads(project.pipeline("describe", "clone", "--json").out)["stage"]
    assert described["status"]["reason"] == "side effect: git — clones every module"
    assert [e["alwaysRuns"] for e in described["sideEffects"]] == [False, True]
    text = project.pipeline("describe", "cached").out
    assert "network  [runs again 1h after a success]" in text
    dry = project.pipeline("run", "--dry-run")
    assert "side effect: network" in dry.out


# -- 4. modules a stage's script imports -----------------------------------------------


PY_MAIN = textwrap.dedent("""\
    import json, os, sys
    import helpers.plain
    from helpers import fromimport
    from helpers.pkg import sub
    import shadowed_by_nothing_here
    sys.path  # a name, not a module
    def later():
        from helpers.lazy import thing
    import copy_module  # beside the script: the script's folder is first on the path
    """)
NODE_MAIN = textwrap.dedent("""\
    import fs from 'node:fs';
    import { a } from './lib/a.mjs';
    import './lib/side-effect.js';
    export { b } from "./lib/b.mjs";
    const c = await import('./lib/c.mjs');
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const d = require('./lib/d');
    const e = require('./lib/folder');
    // import old from './lib/commented-out.mjs';
    const lodash = (() => { try { return require('lodash'); } catch { return null; } })();
    fs.mkdirSync('out', { recursive: true });
    fs.writeFileSync('out/node', 'node ' + a + c.c + d + e);
    """)


def _import_project(tmp_path: Path) -> Project:
    artifacts = [{"id": "py", "type": "file", "path": "out/py"},
                 {"id": "node", "type": "file", "path": "out/node"},
                 {"id": "in", "type": "file", "path": "data/in.txt"}]
    stages = [
        {"id": "py", "command": {"executable": "python3", "args": ["stages/main.py"]},
         "inputs": [{"artifact": "in"}], "outputs": [{"artifact": "py"}]},
        {"id": "node", "command": {"executable": "node", "args": ["stages/main.mjs"]},
         "inputs": [{"artifact": "in"}], "outputs": [{"artifact": "node"}]},
    ]
    py_main = PY_MAIN.replace("import shadowed_by_nothing_here\n", "") + textwrap.dedent("""\
        os.makedirs(".counts", exist_ok=True)
        open(".counts/py", "a").write("ran\\n")
        os.makedirs("out", exist_ok=True)
        open("out/py", "w").write("py")
        """)
    node_main = NODE_MAIN + textwrap.dedent("""\
        fs.mkdirSync('.counts', { recursive: true });
        fs.appendFileSync('.counts/node', 'ran\\n');
        """)
    files = {
        "data/in.txt": "in\n",
        "stages/main.py": py_main,
        "stages/copy_module.py": "",
        "helpers/__init__.py": "",
        "helpers/plain.py": "from . import relative\nfrom .deeper.leaf import x\n",
        "helpers/relative.py": "",
        "helpers/deeper/__init__.py": "",
        "helpers/deeper/leaf.py": "x = 1\n",
        "helpers/fromimport.py": "",
        "helpers/pkg/__init__.py": "",
        "helpers/pkg/sub.py": "",
        "helpers/lazy.py": "thing = 1\n",
        "helpers/unused.py": "",
        "stages/main.mjs": node_main,
        "stages/lib/a.mjs": "export const a = 'a';\n",
        "stages/lib/side-effect.js": "",
        "stages/lib/b.mjs": "import { shared } from './shared.mjs';\nexport const b = shared;\n",
        "stages/lib/shared.mjs": "export const shared = 1;\n",
        "stages/lib/c.mjs": "export const c = 'c';\n",
        "stages/lib/d.js": "module.exports = 'd' + require('./e.json').e;\n",
        "stages/lib/e.json": '{"e": "e"}\n',
        "stages/lib/folder/index.js": "module.exports = 'folder';\n",
        "stages/lib/commented-out.mjs": "",
        "stages/lib/unused.mjs": "",
    }
    return make(tmp_path, {"artifacts": artifacts, "stages": stages}, files)


PY_IMPORTED = ["helpers/__init__.py", "helpers/deeper/__init__.py", "helpers/deeper/leaf.py",
               "helpers/fromimport.py", "helpers/lazy.py", "helpers/pkg/__init__.py",
               "helpers/pkg/sub.py", "helpers/plain.py", "helpers/relative.py",
               "stages/copy_module.py"]
NODE_IMPORTED = ["stages/lib/a.mjs", "stages/lib/b.mjs", "stages/lib/c.mjs", "stages/lib/d.js",
                 "stages/lib/e.json", "stages/lib/folder/index.js", "stages/lib/shared.mjs",
                 "stages/lib/side-effect.js"]


def test_describe_lists_the_modules_a_stage_imports(tmp_path):
    project = _import_project(tmp_path)
    py = json.loads(project.pipeline("describe", "py", "--json").out)["stage"]
    assert py["scripts"] == ["stages/main.py"]
    assert py["importedModules"] == PY_IMPORTED
    node = json.loads(project.pipeline("describe", "node", "--json").out)["stage"]
    assert node["importedModules"] == NODE_IMPORTED
    assert "stages/lib/shared.mjs" in project.pipeline("describe", "node").out


def test_editing_an_imported_module_reruns_its_stage_only(tmp_path):
    project = _import_project(tmp_path)
    first = project.pipeline("run")
    assert first.code == 0, first.text
    assert project.path("out/node").read_text() == "node acdefolder"
    assert project.pipeline("run").code == 0
    expected = {"py": 1, "node": 1}
    assert project.counts() == expected
    for module in PY_IMPORTED + NODE_IMPORTED:  # every syntax, one edit at a time
        path = project.path(module)
        edit = "\n" if module.endswith(".json") else \
            "// edit\n" if module.startswith("stages/lib") else "# edit\n"
        path.write_text(path.read_text() + edit)
        result = project.pipeline("run")
        assert result.code == 0, result.text
        ran = "node" if module in NODE_IMPORTED else "py"
        expected[ran] += 1
        assert project.counts() == expected, module
        assert reason(project, ran) == f"imported module changed: {module}"


def test_editing_a_file_no_stage_imports_runs_nothing(tmp_path):
    project = _import_project(tmp_path)
    assert project.pipeline("run").code == 0
    for rel in ("helpers/unused.py", "stages/lib/unused.mjs", "stages/lib/commented-out.mjs"):
        project.path(rel).write_text("// changed\n")
    result = project.pipeline("run")
    assert result.code == 0
    assert project.counts() == {"py": 1, "node": 1}, result.text


def test_the_import_scan_is_cached_by_content_and_an_odd_cache_is_rebuilt(tmp_path):
    project = _import_project(tmp_path)
    assert project.pipeline("run").code == 0
    cache = project.path(".pipeline-runs/.cache/imports.json")
    saved = json.loads(cache.read_text())
    assert saved["version"] == 1 and len(saved["files"]) >= len(PY_IMPORTED)
    for odd in ("", "[]", '{"version": 1, "files": {"py:x": "not a list"}}', "\x00\xff"):
        cache.write_text(odd)
        result = project.pipeline("run")
        assert result.code == 0, result.text
        assert "Traceback" not in result.text
        assert project.counts() == {"py": 1, "node": 1}
    # a poisoned entry for main.py's content cannot hide its imports: entries are keyed
    # by content digest, and a wrong shape is read again
    described = json.loads(project.pipeline("describe", "py", "--json").out)["stage"]
    assert described["importedModules"] == PY_IMPORTED


# -- 6. VCS metadata and ignore patterns in directory artifacts -----------------------


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env,
                   check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_git_fetch_into_a_directory_artifact_runs_nothing(tmp_path):
    artifacts = [{"id": "modules", "type": "directory", "path": "modules",
                  "ignore": ["node_modules/", "__pycache__/"]},
                 {"id": "report", "type": "file", "path": "out/report"}]
    project = make(tmp_path, {"artifacts": artifacts, "stages": [
        copy_stage("report", ["modules"], "report", ["modules/mod/README"])]}, {})
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "README").write_text("v1\n")
    _git(upstream, "init")
    _git(upstream, "add", "README")
    _git(upstream, "commit", "-m", "v1")
    (project.root / "modules").mkdir()
    _git(project.root / "modules", "clone", str(upstream), "mod")
    assert project.pipeline("run").code == 0

    (upstream / "other").write_text("x\n")
    _git(upstream, "add", "other")
    _git(upstream, "commit", "-m", "v2")
    _git(project.root / "modules" / "mod", "fetch")  # rewrites .git/FETCH_HEAD only
    (project.root / "modules" / "mod" / "node_modules" / "dep").mkdir(parents=True)
    (project.root / "modules" / "mod" / "__pycache__").mkdir()
    (project.root / "modules" / "mod" / "__pycache__" / "x.pyc").write_text("c")
    result = project.pipeline("run")
    assert result.code == 0
    assert project.counts() == {"report": 1}, result.text

    _git(project.root / "modules" / "mod", "merge", "--ff-only", "origin/main")
    result = project.pipeline("run")
    assert project.counts() == {"report": 2}, result.text
    assert reason(project, "report") == "input changed: modules/"


def test_ignore_on_a_file_artifact_is_a_graph_error(tmp_path):
    project = make(tmp_path, {"artifacts": [
        {"id": "f", "type": "file", "path": "out/f", "ignore": ["*.tmp"]}],
        "stages": [copy_stage("s", [], "f")]}, {})
    result = project.pipeline("check")
    assert result.code == 2
    assert "artifacts[0].ignore: only a directory artifact can ignore entries" in result.err
