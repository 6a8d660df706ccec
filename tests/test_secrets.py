"""A declared secret never leaves the run, nor its usual encodings: stages that print it
(raw, base64, URL-encoded, JSON-escaped, repr-escaped, line by line) and a schema error
quoting it, under `pipeline run` and plain `doit run`; the console, the stage logs, the
JSONL events, the run records and doit's state (.doit.db) are all read back."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from urllib.parse import quote, quote_plus

# a multi-line secret whose every line is long enough to be masked alone, with
# characters that every encoding changes (space, quote, slash, plus, non-ASCII)
SECRET = 'Tok3n+/?&= "quoted"~~~??\nsecond l£ne €uro\n  indented-third'
LINES = ['Tok3n+/?&= "quoted"~~~??', "second l£ne €uro", "  indented-third"]

LEAK = r'''
import base64, json, os, re, sys
from urllib.parse import quote, quote_plus
secret = os.environ["API_TOKEN"]
raw = secret.encode()
print("raw:", secret)
print("repr:", repr(secret))
print("json:", json.dumps({"token": secret}))
print("ascii json:", json.dumps(secret, ensure_ascii=False))
print("url:", quote(secret, safe=""), quote(secret), quote_plus(secret))
print("url lower:", re.sub("%..", lambda m: m.group().lower(), quote(secret, safe="")))
print("base64:", base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode())
for head in ("u:", "us:", "usr:"):  # the secret at each alignment inside base64
    print("basic auth:", base64.b64encode(head.encode() + raw + b":tail").decode())
    print("basic auth url:", base64.urlsafe_b64encode(head.encode() + raw + b"!").decode())
for line in secret.splitlines():
    print("line:", line.strip(), flush=True)
mode = sys.argv[1]
os.makedirs("build", exist_ok=True)
if mode == "extract":
    with open("build/raw.json", "w") as f:
        json.dump({"n": len(secret)}, f)
else:  # an output whose field holds the secret, where its schema wants a digest
    with open("build/clean.json", "w") as f:
        json.dump({"stage": "transform", "digest": secret}, f)
'''


def forms(secret: str) -> list[str]:
    """What must never be found anywhere: the secret in every form the stages print."""
    raw = secret.encode()
    found = [secret, repr(secret)[1:-1], json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1], quote(secret, safe=""),
             quote(secret), quote_plus(secret),
             re.sub("%..", lambda m: m.group().lower(), quote(secret, safe="")),
             *[line.strip() for line in LINES], *LINES]
    for offset in range(3):  # the base64 characters that come from the secret alone
        part = raw[offset:]
        text = base64.b64encode(part).decode()[:len(part) * 8 // 6]
        found += [text, text.replace("+", "-").replace("/", "_")]
    return found


def leaking_project(project) -> None:
    project.path("stages/leak.py").write_text(LEAK)
    graph = project.graph()
    for stage in graph["stages"][:2]:
        stage["command"] = {"executable": "python3", "args": ["stages/leak.py", stage["id"]]}
        stage["environment"] = [{"name": "API_TOKEN", "required": True}]
    project.write_graph(graph)


def assert_nothing_leaks(project, result) -> None:
    secret_forms = forms(SECRET)
    texts = {"console": result.text}
    files = [p for p in project.root.rglob("*") if p.is_file()
             and (".pipeline-runs" in p.parts or p.name.startswith(".doit.db"))]
    assert any(p.name.startswith(".doit.db") for p in files)
    for path in files:
        texts[str(path.relative_to(project.root))] = path.read_bytes().decode("utf-8", "replace")
    for where, text in texts.items():
        for form in secret_forms:
            assert form not in text, (where, form)
    # JSON files escape what they hold: read them back too
    for path in files:
        if path.suffix in (".json", ".log") and ".pipeline-runs" in path.parts:
            decoded = path.read_text()
            for form in secret_forms:
                assert form not in decoded, (path, form)


def stage_log(project, record: dict, sid: str) -> str:
    entry = next(s for s in record["stages"] if s["id"] == sid)
    return project.path(entry["logPath"]).read_text()


def saved_failure(project, task: str) -> str:
    conn = sqlite3.connect(project.path(".doit.db"))
    try:
        (row,) = conn.execute("select task_data from doit where task_id = ?", (task,))
    finally:
        conn.close()
    return json.loads(row[0])["_values_:"]["lastFailure"]["error"]


def test_a_secret_and_its_encodings_never_leave_the_run(project):
    leaking_project(project)
    result = project.pipeline("run", "--jobs", "2", env={"API_TOKEN": SECRET})
    assert result.code == 1, result.text
    record = project.last_record()
    assert project.statuses(record)["extract"] == "succeeded"
    assert project.statuses(record)["transform"] == "failed"
    log = stage_log(project, record, "extract")
    # every line the stage printed is there, with the secret in it hidden
    printed = [line for line in log.splitlines() if line]
    assert len(printed) == 16, log
    for line in printed:
        assert "***" in line, line
    # (a chunk held back whole, as the secret's start, does not end the prefixed line)
    assert "[extract] raw: ***\n[extract] repr: '***'\n" in result.out
    # inside a longer base64 text, at each alignment, only the characters that mix the
    # secret's first or last bytes with their neighbours' stay (here "u:T" -> "dTpU")
    auth = re.findall(r"^\[extract\] basic auth(?: url)?: (.*)$", result.out, re.M)
    assert len(auth) == 6 and auth[0].startswith("dTpU***")
    for text in auth:
        head, tail = text.split("***")
        assert len(head) <= 8 and len(tail) <= 12, auth
    # the schema error quotes the field holding the secret (repr-escaped, multi-line)
    error = next(s for s in record["stages"] if s["id"] == "transform")["error"]
    assert "does not match schema" in error and "'***'" in error, error
    assert "'***' does not match" in saved_failure(project, "transform")
    assert_nothing_leaks(project, result)


def test_plain_doit_masks_the_same(project):
    leaking_project(project)
    result = project.doit("run", "full-refresh", env={"API_TOKEN": SECRET})
    assert result.code != 0
    record = project.last_record()
    assert record["options"]["entryPoint"] == "doit"
    assert "raw: ***\n" in stage_log(project, record, "extract")
    assert "raw: ***\n" in result.out
    assert "'***' does not match" in saved_failure(project, "transform")
    assert_nothing_leaks(project, result)


def test_a_short_line_of_a_secret_is_not_masked_alone(project):
    """Documented limit: a line shorter than four characters is not hidden on its own
    (it would hide every `ok` or `1`); the whole secret still is."""
    leaking_project(project)
    secret = "long-first-line\nok"
    result = project.pipeline("run-stage", "extract", env={"API_TOKEN": secret})
    assert result.code == 0, result.text
    log = stage_log(project, project.last_record(), "extract")
    assert "raw: ***\n" in log and "line: ***\nline: ok\n" in log
    assert secret not in log and repr(secret)[1:-1] not in log


def state_rows(project) -> dict[str, dict]:
    conn = sqlite3.connect(project.path(".doit.db"))
    try:
        return {task: json.loads(data) for task, data in
                conn.execute("select task_id, task_data from doit")}
    finally:
        conn.close()


def test_the_state_keeps_what_it_compares(project):
    """A secret whose text is part of a file path, or (by chance) of a stored digest,
    is left there in doit's state: masked, it would never match again, and its stage
    would run every time."""
    assert project.pipeline("run").code == 0
    digest = state_rows(project)["extract"]["data/source.txt"][-1]
    graph = project.graph()
    graph["stages"][0]["environment"] = [{"name": name} for name in
                                         ("A_WORD", "A_DIGEST_PART", "A_CLASS_NAME")]
    project.write_graph(graph)
    env = {"A_WORD": "source", "A_DIGEST_PART": digest[20:32], "A_CLASS_NAME": "Checker"}
    result = project.pipeline("run", "--force", env=env)
    assert result.code == 0, result.text
    extract = state_rows(project)["extract"]
    assert extract["data/source.txt"][-1] == digest and "data/source.txt" in extract["deps:"]
    assert extract["checker:"] == "ContentChecker"
    again = project.pipeline("run", env=env)
    assert "0 ran, 3 up to date" in again.out, again.out


def test_forms_checked_here_are_the_ones_printed():
    """The test's own list: each form is really in what the stage prints."""
    assert "\\n" in repr(SECRET) and "%20" in quote(SECRET) and "+" in quote_plus(SECRET)
    raw = SECRET.encode()
    for offset in range(3):  # the URL-safe alphabet differs at every alignment
        assert "+" in base64.b64encode(raw[offset:]).decode()
    assert SECRET.splitlines() == LINES


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


def test_a_short_secret_does_not_disfigure_what_the_runner_writes(project):
    """A declared value such as a year is masked in what stages print, not in the run
    ids, times and statuses the runner itself writes: its records stay readable."""
    graph = project.graph()
    graph["stages"][0]["environment"] = [{"name": "RELEASE_YEAR"}]
    graph["stages"][0]["command"] = {"executable": "python3", "args": [
        "-c", "import os; print('year', os.environ['RELEASE_YEAR'])"]}
    graph["stages"][0]["outputs"] = []
    project.write_graph(graph)
    year = str(__import__("datetime").datetime.now().year)
    result = project.pipeline("run", "--to", "extract", env={"RELEASE_YEAR": year})
    assert result.code == 0, result.text
    assert "year ***" in result.out
    record = project.last_record()
    assert record["startedAt"].startswith(year) and record["runId"].startswith(year)
    entry = record["stages"][0]
    assert entry["status"] == "succeeded" and entry["startedAt"].startswith(year)
    assert "year ***" in project.path(entry["logPath"]).read_text()
    events = project.events(record)
    assert all(e["ts"].startswith(year) and e["runId"] == record["runId"] for e in events)
    listing = project.pipeline("logs")
    assert record["runId"] in listing.out and "unreadable" not in listing.out
    assert project.pipeline("logs", "--latest").code == 0
