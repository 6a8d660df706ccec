"""The one place that prints for humans. Colour only on a terminal, never with NO_COLOR.

The colours are colorama's constants; colorama also sets a Windows console up to show
them (`just_fix_windows_console`, when a console first uses colour).
"""

from __future__ import annotations

import os
import sys
import time
from _thread import RLock

# the fast path prints through this module: what it imports, every no-op run pays for
# (textwrap, threading and typing are imported where they are needed)
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import TextIO

WIDTH = 100  # human output fits this many columns


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def in_ci() -> bool:
    """CI services set CI (GitHub Actions: CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def use_colour(stream: TextIO) -> bool:
    return not os.environ.get("NO_COLOR") and _is_tty(stream)


def one_line(text: str | None) -> str:
    """Free text from the graph file on one line: a newline there must not break a table."""
    if not text:
        return ""
    return " ".join(str(text).split())


def printable(text: str | None) -> str:
    """A path or argument on one line, control characters shown as escapes (not lost)."""
    if not text:
        return ""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def fit(text: str, width: int = WIDTH) -> str:
    """`text` cut to `width` columns, an ellipsis marking the cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


def columns(text: str) -> int:
    """How many terminal columns `text` takes: wide (East Asian) characters take two,
    combining marks none."""
    import unicodedata

    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def fit_columns(text: str, width: int) -> str:
    """`text` cut to take at most `width` terminal columns, an ellipsis marking the cut."""
    if columns(text) <= width:
        return text
    if width <= 0:
        return ""
    kept, used = [], 0
    for c in text:
        w = columns(c)
        if used + w > width - 1:
            break
        kept.append(c)
        used += w
    return "".join(kept) + "…"


def wrap(text: str, indent: str = "    ") -> list[str]:
    """Lines of at most WIDTH columns; long ids and paths are broken, never cut off."""
    import textwrap

    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_long_words=True,
                         break_on_hyphens=False) or [text]


def seconds(duration_ms: float | None) -> str:
    if duration_ms is None:
        return "?"
    s = duration_ms / 1000
    if s < 60:
        return f"{s:.1f}s"
    minutes, s = divmod(int(round(s)), 60)
    return f"{minutes}m{s:02d}s"


def pipeline_command(global_options: tuple[str, ...] | list[str], *words: str) -> str:
    """A `pipeline` command line to show, every word quoted for a POSIX shell; the global
    options (`-C DIR`, `-g FILE`) as the user gave them, so it runs from where they are."""
    import shlex

    return shlex.join(["pipeline", *global_options, *words])


def rerun_hints(stage_id: str, pipeline_id: str | None,
                global_options: tuple[str, ...] | list[str] = ()) -> list[str]:
    """How to rerun a failed stage: alone, and (in a pipeline's run) the pipeline from it."""
    hints = [pipeline_command(global_options, "run-stage", stage_id)]
    if pipeline_id:
        hints.append(pipeline_command(global_options, "run", pipeline_id, "--from", stage_id))
    return hints


LOG_LEVELS = ("debug", "info", "warn", "error")

# One mark (and style) per status of a run or a stage, wherever one is shown: the lines
# of a run, `logs` (runs and stages), `logs --follow`. `history` marks stages by the
# same rule (its `!` is "slower", not a status).
STATUS_MARKS = {
    "succeeded": ("✔", "ok"), "failed": ("✖", "fail"), "degraded": ("✖", "fail"),
    "interrupted": ("✖", "fail"), "abandoned": ("✖", "fail"), "blocked": ("⊘", "fail"),
    "running": ("▶", "start"), "up-to-date": ("↷", "skip"), "skipped": ("-", "skip"),
    "pending": ("·", "skip"), "unreadable": ("?", "fail"),
}


def status_mark(status: str | None) -> tuple[str, str | None]:
    return STATUS_MARKS.get(status or "", ("?", None))


class Console:
    """Human output of a run. `level`: `info` shows stage lines and streams stage output;
    `warn` shows stage lines and, for a failing stage, the end of its output; `error` only
    failures and the summary; `debug` adds commands and doit's decisions. With
    `json_events`, the run's JSONL events replace the human lines."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None,
                 level: str = "info", json_events: bool = False):
        self.colour = use_colour(out or sys.stdout) and not json_events
        self.colour_err = use_colour(err or sys.stderr) and not json_events
        if self.colour or self.colour_err:
            from colorama import Fore, Style, just_fix_windows_console

            # a Windows console shows the codes once colorama has set it up (a no-op on
            # other systems and on later calls); it may wrap sys.stdout and sys.stderr,
            # so they are read after it
            just_fix_windows_console()
            self._styles = {"start": Fore.CYAN, "ok": Fore.GREEN, "skip": Style.DIM,
                            "fail": Fore.RED, "note": Style.DIM, "bold": Style.BRIGHT}
            self._reset = Style.RESET_ALL
        else:
            self._styles, self._reset = {}, ""
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.level = level
        self.json_events = json_events
        self.masker = None  # masking.Masker: secrets never reach the console
        # live progress: the running stage's line shows its elapsed time, on a terminal
        # only, never in CI (whose logs would fill with carriage returns)
        self.live = _is_tty(self.out) and not json_events and not in_ci()
        self._live_text: str | None = None
        self._live_why = ""
        self._width: int | None = None  # the terminal's columns, measured again on SIGWINCH
        self._watching = False
        self._table_width: int | None = 0  # 0: not measured yet
        self._live_t0 = 0.0
        self._live_lock = RLock()
        self._ticker: threading.Thread | None = None
        if self.live:  # the signal handler can only be set from the main thread
            self._watch_resizes()

    def fit(self, text: str) -> str:
        """A table line as the reader gets it: on a terminal, cut to its width (an `…`
        marking the cut); piped or redirected, whole (`pipeline status | cat`, a file)."""
        width = self.table_width
        return text if width is None else fit_columns(text, width)

    @property
    def table_width(self) -> int | None:
        """The terminal's columns when stdout is one (COLUMNS does not count: a pipe
        gets whole lines), else None. Measured once per command (a table of 10,000
        rows asks for every row)."""
        if self._table_width == 0:
            self._table_width = None
            if _is_tty(self.out):
                try:
                    self._table_width = os.get_terminal_size(self.out.fileno()).columns or WIDTH
                except (AttributeError, OSError, ValueError):
                    self._table_width = WIDTH
        return self._table_width

    def row(self, text: str, style: str | None = None) -> None:
        """A line of a table or report: cut to a terminal's width, whole when piped."""
        self.line(self.fit(text), style)

    def cell(self, text: str, width: int) -> str:
        """A table cell of at most `width` columns on a terminal; whole otherwise."""
        return text if self.table_width is None else fit_columns(text, width)

    def column(self, values, heading: str, cap: int) -> int:
        """The width of a column: its longest value (or heading); on a terminal, at most
        `cap`, so that the columns after it stay on screen."""
        width = max([len(heading), *(len(v) for v in values)])
        return width if self.table_width is None else min(width, cap)

    def _paint(self, style: str, text: str, on_err: bool = False) -> str:
        code = self._styles.get(style) if (self.colour_err if on_err else self.colour) else None
        return f"{code}{text}{self._reset}" if code else text

    @property
    def streams_output(self) -> bool:
        """Whether stage output is copied to the console as it comes."""
        return self.level in ("debug", "info") and not self.json_events

    @property
    def debug(self) -> bool:
        return self.level == "debug" and not self.json_events

    def _shows(self, minimum: str) -> bool:
        """Progress lines (`info`/`warn`) vs failures (`error`); none with JSON events."""
        if self.json_events:
            return False
        return LOG_LEVELS.index(self.level) <= LOG_LEVELS.index(minimum)

    def _write(self, text: str) -> None:
        """Write a line; when the reader went away (`pipeline run | head`), the run goes on
        quietly: its records and logs still tell everything."""
        if self._live_text is not None:
            self.end_live()
        self._raw_write(text)

    def _raw_write(self, text: str) -> None:
        if self.masker:
            text = self.masker.mask_text(text)
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            self.out = open(os.devnull, "w", encoding="utf-8")

    def _write_err(self, text: str) -> None:
        """Write a line on stderr, after what stdout holds (and the live line, closed)."""
        if self._live_text is not None:
            self.end_live()
        if self.masker:
            text = self.masker.mask_text(text)
        try:
            self.out.flush()
        except BrokenPipeError:
            self.out = open(os.devnull, "w", encoding="utf-8")
        try:
            self.err.write(text)
            self.err.flush()
        except BrokenPipeError:
            self.err = open(os.devnull, "w", encoding="utf-8")

    @property
    def err_shows_out(self) -> bool:
        """Whether stderr and stdout are the same file or terminal: then what was
        streamed on stdout was seen where failures are told."""
        try:
            out, err = os.fstat(self.out.fileno()), os.fstat(self.err.fileno())
        except (AttributeError, OSError, ValueError):
            return False
        return (out.st_dev, out.st_ino) == (err.st_dev, err.st_ino)

    def event(self, event: dict) -> None:
        if self.json_events:
            import json

            self._write(json.dumps(event, ensure_ascii=False) + "\n")

    def line(self, text: str = "", style: str | None = None) -> None:
        """A progress line, on stdout."""
        self._write((self._paint(style, text) if style else text) + "\n")

    def failure_line(self, text: str, style: str | None = None) -> None:
        """A line about a failure (a failed stage, its log, hints, the end of its output,
        a run that did not succeed), on stderr: `pipeline run > run.txt` still shows it."""
        if style:
            text = self._paint(style, text, on_err=True)
        self._write_err(text + "\n")

    def json(self, data) -> None:
        """`--json`: exactly one JSON document on stdout."""
        import json

        self.out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self._write_err(text + "\n")

    def warning(self, text: str) -> None:
        """A warning: on stderr, shown unless only errors are asked for."""
        if not self._shows("warn"):
            return
        if self._live_text is not None:
            self.end_live()
        self.failure_line(text, "fail")

    @staticmethod
    def counter(index: int, total: int) -> str:
        return f"[{index}/{total}]"

    def stage_started(self, index: int, total: int, stage_id: str, reason: str | None) -> None:
        if not self._shows("warn"):
            return
        why = f" ({reason})" if reason else ""
        head = f"▶ {self.counter(index, total)} {stage_id}"
        if not self.live:
            self.line(self._paint("start", head) + why)
            return
        self.end_live()
        with self._live_lock:
            self._live_text, self._live_t0 = head, time.monotonic()
            self._live_why = why
            self._watch_resizes()  # once; a no-op after the first time
            self._draw_live(None)
            if self._ticker is None:
                import threading

                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()

    def _tick(self) -> None:
        while True:
            time.sleep(0.5)
            with self._live_lock:
                if self._live_text is not None:
                    self._draw_live(time.monotonic() - self._live_t0)

    def _draw_live(self, elapsed: float | None) -> None:
        """(Re)draw the live line in place, cut to the terminal's width: a line wider
        than the terminal wraps, and `\r` then goes back to its last row only, leaving
        a copy per redraw."""
        head, why = self._live_text or "", self._live_why
        if self.masker:  # before cutting: a cut must not split a secret from its mask
            head, why = self.masker.mask_text(head), self.masker.mask_text(why)
        tail = f" {elapsed:.0f}s" if elapsed is not None else ""
        room = self._terminal_width() - 1  # the last column would wrap on some terminals
        if columns(head) + columns(why) + columns(tail) > room:
            why = fit_columns(why, max(0, room - columns(head) - columns(tail)))
            if columns(head) + columns(why) + columns(tail) > room:
                head, why = fit_columns(head, max(1, room - columns(tail))), ""
            if columns(head) + columns(tail) > room:
                tail = ""
        self._raw_write(f"\r{self._paint('start', head)}{why}"
                        f"{self._paint('note', tail) if tail else ''}\x1b[K")

    def _terminal_width(self) -> int:
        if self._width is None:
            try:
                self._width = os.get_terminal_size(self.out.fileno()).columns or WIDTH
            except (AttributeError, OSError, ValueError):
                self._width = WIDTH
        return self._width

    def _watch_resizes(self) -> None:
        """Measure the width again when the terminal is resized (SIGWINCH); the next
        redraw, within half a second, fits the new width."""
        import signal
        import threading

        if self._watching or not hasattr(signal, "SIGWINCH") \
                or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGWINCH)

        def resized(signum, frame):
            self._width = None
            if callable(previous):
                previous(signum, frame)

        try:
            signal.signal(signal.SIGWINCH, resized)
        except (ValueError, OSError):
            return
        self._watching = True

    def end_live(self) -> None:
        """Close the live line (a newline), before anything else is printed."""
        with self._live_lock:
            if self._live_text is not None:
                self._live_text = None
                self._raw_write("\n")

    def stage_worker(self, stage_id: str, address: str, host: str) -> None:
        """Where a stage's command runs, when not here (--executor dask)."""
        if not self._shows("warn"):
            return
        self.line(f"  ↳ {stage_id} runs on {address} ({host})", "note")

    def stage_succeeded(self, index: int, total: int, stage_id: str, duration_ms: float) -> None:
        if not self._shows("warn"):
            return
        self.line(f"✔ {self.counter(index, total)} {stage_id} done in {seconds(duration_ms)}", "ok")

    def stage_up_to_date(self, index: int, total: int, stage_id: str, reason: str | None) -> None:
        if not self._shows("warn"):
            return
        why = f" ({reason})" if reason else ""
        self.line(f"↷ {self.counter(index, total)} {stage_id} up to date{why}", "skip")

    def stage_up_to_date_by_stamp(self, count: int, reason: str) -> None:
        """The partial fast path: one line for every stage the stamp found up to date."""
        if not self._shows("warn"):
            return
        self.line(f"↷ {reason}", "skip")

    def stage_blocked(self, index: int, total: int, stage_id: str, message: str) -> None:
        if not self._shows("error"):
            return
        self.failure_line(f"⊘ {self.counter(index, total)} {stage_id} blocked: {message}",
                          "fail")

    def stage_interrupted(self, index: int, total: int, stage_id: str) -> None:
        """The stage that was running when the run was interrupted (Ctrl-C, SIGTERM)."""
        if not self._shows("error"):
            return
        self.failure_line(f"{STATUS_MARKS['interrupted'][0]} {self.counter(index, total)} "
                          f"{stage_id} interrupted", "fail")

    def stage_failed(self, index: int, total: int, stage_id: str, message: str,
                     log_path: str | None, hints: list[str]) -> None:
        if not self._shows("error"):
            return
        self.failure_line(f"✖ {self.counter(index, total)} {stage_id} failed: {message}", "fail")
        if log_path:
            self.failure_line(f"    log: {log_path}", "note")
        for hint in hints:
            self.failure_line(f"    rerun: {hint}", "note")
