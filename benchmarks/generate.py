"""Generate the same trivial work as a stage graph, a raw doit dodo.py, a Makefile and a
Snakefile.

Every stage copies one small file to the next with `cp`. In a *chain* stage i reads what
stage i-1 wrote; in a *fan-out* one root stage writes a file that every other stage reads.
Each project keeps its source file in `data/s0.txt`; everything else under `data/` is an
output, so `clean_outputs` brings a project back to its fresh state. An *output* project
has one stage that prints a lot (see `write_output_project`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

SHAPES = ("chain", "fanout")
# not a shape of the main table: stages that each copy the source, with no dependencies
INDEPENDENT = "independent"
SOURCE = "data/s0.txt"


def edges(shape: str, size: int) -> list[tuple[str, str, str | None]]:
    """(input path, output path, stage it depends on) for each stage; stage i is `s{i}`."""
    if shape == "chain":
        return [(f"data/s{i}.txt", f"data/s{i + 1}.txt", f"s{i - 1}" if i else None)
                for i in range(size)]
    if shape == INDEPENDENT:
        return [(SOURCE, f"data/p{i}.txt", None) for i in range(size)]
    if shape == "fanout":
        # s0 copies the source to the root file; s1..s{size-1} each copy the root file.
        root = "data/s1.txt"
        return [(SOURCE, root, None)] + [(root, f"data/f{i}.txt", "s0")
                                         for i in range(1, size)]
    raise ValueError(f"unknown shape {shape!r} (expected one of {', '.join(SHAPES)})")


def _fresh(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "data").mkdir(parents=True)
    (directory / SOURCE).write_text("benchmark source\n")


def _shell(src: str, dst: str, delay: float) -> str:
    """The command line of a stage that sleeps `delay` seconds before copying."""
    return f"sleep {delay:g} && cp {src} {dst}"


def write_graph_project(directory: Path, shape: str, size: int, delay: float = 0) -> None:
    """A `pipeline` project: pipeline/stage-graph.json and a one-line dodo.py. With
    `delay`, each stage sleeps that long before it copies (through `sh -c`)."""
    _fresh(directory)
    steps = edges(shape, size)
    paths = sorted({p for src, dst, _ in steps for p in (src, dst)})
    artifact_of = {p: f"a-{Path(p).stem}" for p in paths}
    stages = []
    for i, (src, dst, dep) in enumerate(steps):
        command = {"executable": "sh", "args": ["-c", _shell(src, dst, delay)]} if delay \
            else {"executable": "cp", "args": [src, dst]}
        stage = {
            "id": f"s{i}",
            "command": command,
            "inputs": [{"artifact": artifact_of[src], "mode": "read"}],
            "outputs": [{"artifact": artifact_of[dst], "mode": "write"}],
        }
        if dep:
            stage["dependsOn"] = [dep]
        stages.append(stage)
    graph = {
        "version": f"bench-{shape}-{size}",
        "pipelines": [{"id": "all", "stages": [s["id"] for s in stages]}],
        "artifacts": [{"id": artifact_of[p], "type": "file", "path": p} for p in paths],
        "stages": stages,
    }
    (directory / "pipeline").mkdir()
    (directory / "pipeline" / "stage-graph.json").write_text(json.dumps(graph, indent=1))
    (directory / "dodo.py").write_text("from orchestrator.dodo import *  # noqa: F401,F403\n")


def write_doit_project(directory: Path, shape: str, size: int, delay: float = 0) -> None:
    """The same work as a raw doit dodo.py, written the way a person would: a loop."""
    _fresh(directory)
    steps = edges(shape, size)
    action = (f"['sh', '-c', f'sleep {delay:g} && cp {{src}} {{dst}}']" if delay
              else "['cp', src, dst]")
    (directory / "steps.json").write_text(json.dumps([[src, dst] for src, dst, _ in steps]))
    (directory / "dodo.py").write_text(
        '"""Raw doit: one task per copy, generated from steps.json."""\n'
        "import json\n\n"
        "STEPS = json.load(open('steps.json'))\n\n\n"
        "def task_copy():\n"
        "    for i, (src, dst) in enumerate(STEPS):\n"
        f"        yield {{'basename': f's{{i}}', 'actions': [{action}],\n"
        "               'file_dep': [src], 'targets': [dst]}\n"
    )


def write_make_project(directory: Path, shape: str, size: int, delay: float = 0) -> None:
    """The same work as a Makefile: one rule per copy, `all` wanting every output."""
    _fresh(directory)
    steps = edges(shape, size)
    lines = [".PHONY: all", "all: " + " ".join(dst for _, dst, _ in steps), ""]
    for src, dst, _ in steps:
        lines += [f"{dst}: {src}", f"\t{_shell(src, dst, delay) if delay else f'cp {src} {dst}'}",
                  ""]
    (directory / "Makefile").write_text("\n".join(lines))


def write_snakemake_project(directory: Path, shape: str, size: int) -> None:
    """The same work as a Snakefile, written like the Makefile: one rule per copy (named
    after its stage), and a first rule `all` wanting every output, which Snakemake runs
    by default. Snakemake's own state goes to `.snakemake/` beside it."""
    _fresh(directory)
    steps = edges(shape, size)
    lines = ["rule all:", "    input:"]
    lines += [f'        "{dst}",' for _, dst, _ in steps]
    lines.append("")
    for i, (src, dst, _) in enumerate(steps):
        lines += [f"rule s{i}:", f'    input: "{src}"', f'    output: "{dst}"',
                  '    shell: "cp {input} {output}"', ""]
    (directory / "Snakefile").write_text("\n".join(lines))


def clean_outputs(directory: Path) -> None:
    """Remove every output and every kind of run state: the project's fresh state."""
    for entry in (directory / "data").iterdir():
        if entry.name != Path(SOURCE).name:
            entry.unlink()
    for entry in directory.iterdir():
        if entry.name.startswith(".doit.db"):
            entry.unlink()
        elif entry.name in (".pipeline-runs", ".snakemake"):
            shutil.rmtree(entry)


def write_directory_projects(directory: Path, files: int) -> tuple[Path, Path]:
    """Two one-stage projects: one also reads a directory artifact of `files` small files.

    The difference of their no-op run times is the cost of checking the unchanged directory.
    """
    projects = []
    for name, with_tree in (("baseline", False), ("tree", True)):
        root = directory / name
        _fresh(root)
        artifacts = [{"id": "src", "type": "file", "path": SOURCE},
                     {"id": "out", "type": "file", "path": "data/out.txt"}]
        inputs = [{"artifact": "src", "mode": "read"}]
        if with_tree:
            tree = root / "data" / "tree"
            for sub in range(files // 1000 + 1):
                (tree / f"d{sub}").mkdir(parents=True, exist_ok=True)
            for i in range(files):
                (tree / f"d{i // 1000}" / f"f{i}.txt").write_text(f"{i}\n")
            artifacts.append({"id": "tree", "type": "directory", "path": "data/tree/"})
            inputs.append({"artifact": "tree", "mode": "read"})
        graph = {
            "pipelines": [{"id": "all", "stages": ["copy"]}],
            "artifacts": artifacts,
            "stages": [{"id": "copy",
                        "command": {"executable": "cp", "args": [SOURCE, "data/out.txt"]},
                        "inputs": inputs,
                        "outputs": [{"artifact": "out", "mode": "write"}]}],
        }
        (root / "pipeline").mkdir()
        (root / "pipeline" / "stage-graph.json").write_text(json.dumps(graph, indent=1))
        (root / "dodo.py").write_text("from orchestrator.dodo import *  # noqa: F401,F403\n")
        projects.append(root)
    return projects[0], projects[1]


# A stage printing SIZE bytes: 64 KiB blocks ending in a newline (`lines`) or not
# (`line`: one line of SIZE bytes); with OUTPUT_SECRET set, the value first and last.
PRINTER = """import os, sys
out, size, lines = sys.stdout.buffer, int(sys.argv[1]), sys.argv[2] == "lines"
secret = os.environ.get("OUTPUT_SECRET", "").encode()
block = b"0123456789abcdef" * 4095 + (b"0123456789abcde\\n" if lines else b"0123456789abcdef")
out.write(secret + b"\\n" if secret else b"")
for _ in range(size // len(block)):
    out.write(block)
out.write(secret)
"""
SECRET_VARIABLE = "OUTPUT_SECRET"


def write_output_project(directory: Path, size: int, lines: bool) -> None:
    """One stage printing `size` bytes, in lines or as one line without a newline; it
    declares OUTPUT_SECRET, whose value (when set) the run masks."""
    _fresh(directory)
    (directory / "stages").mkdir()
    (directory / "stages" / "printer.py").write_text(PRINTER)
    graph = {
        "pipelines": [{"id": "all", "stages": ["print"]}],
        "artifacts": [],
        "stages": [{"id": "print",
                    "command": {"executable": "python3",
                                "args": ["stages/printer.py", str(size),
                                         "lines" if lines else "line"]},
                    "environment": [{"name": SECRET_VARIABLE, "required": False}]}],
    }
    (directory / "pipeline").mkdir()
    (directory / "pipeline" / "stage-graph.json").write_text(json.dumps(graph, indent=1))


def copy_bundled_graph(repo: Path, directory: Path) -> Path:
    """A copy of the repository's own pipeline/ directory, to list without touching the repo."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    shutil.copytree(repo / "pipeline", directory / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return directory


def copy_bundled_project(repo: Path, directory: Path) -> Path:
    """A copy of the bundled pipeline with its offline inputs: real Node and Python stages
    whose scripts import helpers (what import scanning and script fingerprints cost)."""
    copy_bundled_graph(repo, directory)
    shutil.copytree(repo / "fixtures" / "catalogue", directory / "fixtures" / "catalogue")
    return directory


def environment() -> dict[str, str]:
    """The environment for every measured command: ours, without colour or graph overrides."""
    env = dict(os.environ)
    env.pop("PIPELINE_GRAPH", None)
    env["NO_COLOR"] = "1"
    return env
