"""The live line of the running stage, in a real terminal (a pty): it fits the
terminal's width, and the width is measured again when the terminal is resized."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time

from orchestrator.console import columns

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ERASE = b"\x1b[K"  # every draw of the live line ends by erasing the rest of the row
LONG_ID = "refresh-the-catalogue-of-modules-from-upstream"  # 46 characters


def set_size(fd: int, cols: int, rows: int = 24) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def make_sleeper(tmp_path, seconds: float):
    root = tmp_path / "project"
    (root / "pipeline").mkdir(parents=True)
    (root / "pipeline" / "stage-graph.json").write_text(json.dumps({
        "version": "1", "pipelines": [{"id": "p", "stages": [LONG_ID]}],
        "artifacts": [],
        "stages": [{"id": LONG_ID, "command": {
            "executable": sys.executable,
            "args": ["-c", f"import time; time.sleep({seconds})"]}}]}))
    return root


def run_in_terminal(root, cols: int, resize_to: int | None = None,
                    resize_after: float = 1.6, argv=("run",)) -> tuple[int, str, int]:
    """`pipeline ARGV` (default `run`) with a pty of `cols` columns as its controlling
    terminal; the pty
    is resized after `resize_after` seconds, once a whole live line has been drawn (the
    kernel sends SIGWINCH; on a slow machine the start-up alone can take that long).
    Returns the exit code, what the terminal received, and where in it the resize
    happened: just after the last whole draw received."""
    master, slave = os.openpty()
    set_size(slave, cols)
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "NO_COLOR", "COLUMNS", "LINES") and not k.startswith("STUB_")}
    env["TERM"] = "xterm"

    def controlling_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", *argv], cwd=root, env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=controlling_terminal)
    os.close(slave)
    received, resized_at = b"", -1
    start = time.monotonic()
    try:
        while True:
            if (resize_to and resized_at < 0 and time.monotonic() - start > resize_after
                    and ERASE in received):
                set_size(master, resize_to)
                # a read may end inside a draw: what came before the resize ends at the
                # last whole one
                resized_at = len(received[:received.rindex(ERASE) + len(ERASE)]
                                 .decode("utf-8", "replace"))
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the other side is closed
                    break
                if not chunk:
                    break
                received += chunk
            elif proc.poll() is not None and time.monotonic() - start > 60:
                break
    finally:
        os.close(master)
    return proc.wait(timeout=30), received.decode("utf-8", "replace"), resized_at


def live_draws(text: str) -> list[str]:
    """Every state of the live line: the `▶` text between carriage returns and
    newlines, without colour codes."""
    return [part for part in re.split(r"[\r\n]", ANSI.sub("", text)) if part.startswith("▶")]


def test_the_live_line_fits_a_narrow_terminal(tmp_path):
    root = make_sleeper(tmp_path, 2.5)
    code, text, _ = run_in_terminal(root, cols=60)
    assert code == 0, text
    draws = live_draws(text)
    assert len(draws) >= 4, draws  # it was redrawn in place, as the seconds went by
    assert all(columns(d) <= 59 for d in draws), [d for d in draws if columns(d) > 59]
    # cut in the reason, with an ellipsis; the stage id and the elapsed time stay whole
    assert draws[-1].startswith(f"▶ [1/1] {LONG_ID} ") and "…" in draws[-1]
    assert re.search(r"… \d+s$", draws[-1])
    assert f"✔ [1/1] {LONG_ID} done in" in text


def test_a_resized_terminal_is_measured_again(tmp_path):
    root = make_sleeper(tmp_path, 3.5)
    code, text, resized_at = run_in_terminal(root, cols=100, resize_to=30)
    assert code == 0, text
    assert resized_at > 0
    before, after = live_draws(text[:resized_at]), live_draws(text[resized_at:])
    assert before and all(columns(d) <= 99 for d in before)
    assert before[-1].startswith(f"▶ [1/1] {LONG_ID} (never run) ")  # it fitted in 100
    # within half a second of SIGWINCH it is drawn again at the new width
    assert after and columns(after[-1]) <= 29, after
    assert after[-1].startswith("▶ [1/1] refresh-the") and "…" in after[-1]
