"""A declared secret never leaves the run."""

from __future__ import annotations


def test_a_secret_printed_in_pieces_stays_on_its_prefixed_line(project):
    """Under --jobs 2 each console line is prefixed with its stage: output held back
    whole (it may begin the secret) must not end the line it continues."""
    graph = project.graph()
    graph["stages"][0]["command"] = {"executable": "python3", "args": ["-c", (
        "import os, sys, time\n"
        "t = os.environ['API_TOKEN']\n"
        "for piece in ('token is ', t[:6], t[6:], ' (printed slowly)\\n'):\n"
        "    sys.stdout.write(piece); sys.stdout.flush(); time.sleep(0.3)\n"
        "open('build/raw.json', 'w').write('{}')\n")]}
    graph["stages"][0]["environment"] = [{"name": "API_TOKEN", "required": True}]
    project.write_graph(graph)
    project.path("build").mkdir()
    result = project.pipeline("run", "--only", "extract", "--jobs", "2",
                              env={"API_TOKEN": "s3cr3t-token-value"})
    assert result.code == 0, result.text
    assert "\n[extract] token is *** (printed slowly)\n" in result.out, result.out
