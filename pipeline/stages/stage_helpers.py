"""Helpers shared by the bundled Python stages (standard library only).

The graph declares this file as an input artifact (`python-stage-helpers`) of every
Python stage: a module a stage imports is not on its command line, so without that
declaration a change here would not make the stages run again.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def fail(stage: str, message: str) -> None:
    """One line on stderr, exit 1."""
    print(f"{stage}: {message}", file=sys.stderr)
    sys.exit(1)


def read_json(stage: str, path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        fail(stage, f"cannot read {path}: file not found")
    except OSError as error:
        fail(stage, f"cannot read {path}: {error.strerror}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        fail(stage, f"cannot read {path}: not valid JSON "
                    f"(line {error.lineno}, column {error.colno})")


def pretty_json(data) -> str:
    """Sorted keys and a fixed layout, so equal data gives equal bytes."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    """Written beside the target, then renamed over it: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, pretty_json(data))
