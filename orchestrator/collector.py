"""When Python's cyclic garbage collector may run during a command.

Loading a graph, planning, and building doit's tasks and its DB cache allocate tens
of thousands of objects that live until the command ends, and almost no cyclic garbage.
With the collector on, its full passes walk that growing heap again and again: about a
quarter of a no-op run of 10,000 stages. So `pipeline` pauses it from the start of a
command, and `resume()` turns it back on (after moving everything allocated so far out
of its reach with `gc.freeze()`) once real work begins: the first stage that executes,
or a command that keeps running, like `logs --follow`.
"""

from __future__ import annotations

import gc

_state = {"paused": False, "was_enabled": True}


def pause() -> None:
    """Stop automatic collection until `resume()` or `restore()`."""
    if _state["paused"]:
        return
    _state.update(paused=True, was_enabled=gc.isenabled())
    gc.disable()


def resume() -> None:
    """Collect again from here on; what exists now is frozen (never walked again)."""
    if not _state["paused"]:
        return
    _state["paused"] = False
    if _state["was_enabled"]:
        gc.freeze()
        gc.enable()


def restore() -> None:
    """The command is over: leave the collector as `pause()` found it (for callers that
    run commands in-process, like the tests)."""
    resume()
    if _state["was_enabled"]:
        gc.unfreeze()
