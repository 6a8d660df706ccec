"""npm's semver ranges (`engines.node` in a package.json), for checking a release version.

Supported, as npm reads them: comparators `<`, `<=`, `>`, `>=`, `=` joined by spaces
(all must hold), alternatives joined by `||`, x-ranges (`20`, `20.x`, `20.1.*`, `*`, an
empty range), tilde (`~20.1.0`, `~>20.1`), caret (`^20.3`, `^0.2.3`), hyphen ranges
(`18 - 20.5`), a leading `v` or `=` on a version, spaces after an operator (`>= 20`).
A version in a range may carry a pre-release tag (`>=20.0.0-rc.1`) or build metadata.

Only release versions are checked (what `node --version` prints), so npm's rule that a
pre-release version matches only comparators of its own release never comes up; a
release compares to a pre-release as semver orders them (`20.0.0 > 20.0.0-rc.1`).
"""

from __future__ import annotations

import re

Version = tuple[int, int, int]
Comparator = tuple[str, Version]

_X = r"(?:[xX*]|0|[1-9]\d*)"
_PARTIAL = (rf"v?(?P<major>{_X})(?:\.(?P<minor>{_X})(?:\.(?P<patch>{_X})"
            r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?)?)?")
_SIMPLE = re.compile(r"(?P<op><=|>=|<|>|=|~>|~|\^)?" + _PARTIAL)
_HYPHEN = re.compile(r"^(\S+)\s+-\s+(\S+)$")
_NEVER: list[Comparator] = [("<", (0, 0, 0))]  # nothing is older than 0.0.0


def _number(text: str | None) -> int | None:
    return None if text is None or text in "xX*" else int(text)


def _desugar(op: str, text: str) -> list[Comparator]:
    """One simple range (`^20.3`, `>=18`, `20.x`) as plain comparators."""
    match = _SIMPLE.fullmatch(text)
    if not match:
        raise ValueError(f"'{text}' is not a version or a comparator")
    op = op or match["op"] or ""
    major, minor, patch = (_number(match[k]) for k in ("major", "minor", "patch"))
    if major is None:
        minor = patch = None
    elif minor is None:
        patch = None
    pre = match["pre"] if patch is not None else None
    if op in ("", "="):
        if major is None:
            return []
        if minor is None:
            return [(">=", (major, 0, 0)), ("<", (major + 1, 0, 0))]
        if patch is None:
            return [(">=", (major, minor, 0)), ("<", (major, minor + 1, 0))]
        # only that pre-release matches `=1.2.3-rc.1`, and it is not a release
        return _NEVER if pre else [("=", (major, minor, patch))]
    if op == ">":
        if major is None:
            return _NEVER
        if minor is None:
            return [(">=", (major + 1, 0, 0))]
        if patch is None:
            return [(">=", (major, minor + 1, 0))]
        # a release above 1.2.3-rc.1 is 1.2.3 or above
        return [(">=" if pre else ">", (major, minor, patch))]
    if op == ">=":
        return [(">=", (major or 0, minor or 0, patch or 0))]
    if op == "<":
        if major is None:
            return _NEVER
        return [("<", (major, minor or 0, patch or 0))]
    if op == "<=":
        if major is None:
            return []
        if minor is None:
            return [("<", (major + 1, 0, 0))]
        if patch is None:
            return [("<", (major, minor + 1, 0))]
        return [("<" if pre else "<=", (major, minor, patch))]
    if op in ("~", "~>"):
        if major is None:
            return []
        if minor is None:
            return [(">=", (major, 0, 0)), ("<", (major + 1, 0, 0))]
        return [(">=", (major, minor, patch or 0)), ("<", (major, minor + 1, 0))]
    # "^": up to the next change of the leftmost non-zero part
    if major is None:
        return []
    if minor is None:
        return [(">=", (major, 0, 0)), ("<", (major + 1, 0, 0))]
    if major > 0:
        return [(">=", (major, minor, patch or 0)), ("<", (major + 1, 0, 0))]
    if patch is None or minor > 0:
        return [(">=", (0, minor, patch or 0)), ("<", (0, minor + 1, 0))]
    return [(">=", (0, 0, patch)), ("<", (0, 0, patch + 1))]


class Range:
    """A parsed range: alternatives, each a list of comparators that must all hold."""

    def __init__(self, text: str):
        self.text = text
        self.alternatives = [self._parse(part) for part in text.split("||")]

    @staticmethod
    def _parse(part: str) -> list[Comparator]:
        part = part.strip()
        hyphen = _HYPHEN.match(part)
        if hyphen:
            return _desugar(">=", hyphen[1]) + _desugar("<=", hyphen[2])
        # `>= 20` is `>=20`
        part = re.sub(r"(<=|>=|<|>|=|~>|~|\^)\s+", r"\1", part)
        comparators: list[Comparator] = []
        for token in part.split():
            comparators += _desugar("", token)
        return comparators

    def __contains__(self, version: Version) -> bool:
        return any(all(_holds(version, op, bound) for op, bound in comparators)
                   for comparators in self.alternatives)


def _holds(version: Version, op: str, bound: Version) -> bool:
    return {"<": version < bound, "<=": version <= bound, ">": version > bound,
            ">=": version >= bound, "=": version == bound}[op]


def parse_range(text: str) -> Range:
    """The range `text`; ValueError naming the part that is not one."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    return Range(text)


def satisfies(version: Version, text: str) -> bool:
    """Does release `version` (major, minor, patch) satisfy the range `text`?"""
    return tuple(version) in parse_range(text)
