"""Console output: colour only on a terminal, never with NO_COLOR."""

from __future__ import annotations

import io

from orchestrator.console import Console, seconds


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_on_a_terminal_only(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = FakeTerminal()
    Console(tty).stage_succeeded(1, 2, "a", 1234)
    assert "\x1b[" in tty.getvalue() and "✔ [1/2] a done in 1.2s" in tty.getvalue()
    plain = io.StringIO()
    Console(plain).stage_succeeded(1, 2, "a", 1234)
    assert plain.getvalue() == "✔ [1/2] a done in 1.2s\n"


def test_no_color_wins_over_a_terminal(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    tty = FakeTerminal()
    Console(tty, tty).stage_failed(2, 6, "b", "exit code 1", "x.log", ["pipeline run-stage b"])
    assert "\x1b[" not in tty.getvalue()
    assert tty.getvalue().splitlines() == ["✖ [2/6] b failed: exit code 1", "    log: x.log",
                                           "    rerun: pipeline run-stage b"]


def test_durations_read_naturally():
    assert seconds(12400) == "12.4s"
    assert seconds(125000) == "2m05s"
