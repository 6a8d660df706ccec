"""Argument types shared by the command parsers."""

from __future__ import annotations


def not_empty(what: str):
    """An id argument that must name something: an empty value (a CI variable that came
    out empty, `--since "$LAST_GREEN"`) is a usage error, never read as "none given",
    which would run, show or select something else than asked."""
    def check(text: str) -> str:
        import argparse

        if not text.strip():
            raise argparse.ArgumentTypeError(f"empty {what} id")
        return text
    check.__name__ = f"{what} id"  # argparse names the type in some messages
    return check
