"""Read a dotenv file (`--env-file`) into a dict of variables; pure, touches nothing else.

Syntax, one assignment per line:

- blank lines and lines whose first non-blank character is `#` are ignored;
- `KEY=value`, optionally preceded by `export `; KEY matches `[A-Za-z_][A-Za-z0-9_]*`;
  whitespace around the key and around `=` is ignored;
- unquoted values are trimmed; a `#` preceded by a space or tab starts a comment
  (`A=x #note` is `x`, `A=x#y` is `x#y`); `$VAR` and `${VAR}` are expanded, backslashes
  and quote characters inside the value are kept as written;
- single-quoted values are literal: no expansion, no escapes;
- double-quoted values understand the escapes `\\n`, `\\t`, `\\"`, `\\\\` and `\\$`
  (any other backslash is kept as written) and expand `$VAR` and `${VAR}`;
- a quoted value may span lines: it ends at its closing quote, and the newlines in
  between are part of the value (so a PEM key can be pasted as is);
- after a closing quote only blanks and a `#` comment may follow.

`$` followed by anything but a name or `{NAME}` is a literal `$` (`A=$5` is `$5`); `${`
not followed by `NAME}` is an error, so `${A:-x}` is refused rather than half-understood.
Expansion looks a name up among the keys assigned earlier in the same file first, then in
`environ`; **an undefined variable expands to the empty string** (as in a shell). A key
assigned twice keeps its last value. A UTF-8 byte order mark and CRLF line ends are
accepted.

Every problem raises `UsageError` with one line: `FILE:LINE: what` for the contents,
`--env-file FILE: what` when the file cannot be read at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from orchestrator.errors import UsageError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "$": "$"}
_COMMENT = re.compile(r"[ \t]#")


def load_env_file(path: Path | str, environ: Mapping[str, str], shown: str | None = None,
                  flag: str = "--env-file") -> dict[str, str]:
    """The variables a dotenv file assigns, in file order, with references expanded.

    `shown` is how messages name the file (default: `path` as given); `flag` prefixes the
    messages about a file that cannot be read at all.
    """
    shown = str(path) if shown is None else shown
    from orchestrator.files import NotAFile, read_regular_file

    try:
        data = read_regular_file(path)
    except NotAFile as exc:
        raise UsageError(f"{flag} {shown}: {exc}") from None
    except FileNotFoundError:
        raise UsageError(f"{flag} {shown}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{flag} {shown}: is a directory, not a file") from None
    except PermissionError:
        raise UsageError(f"{flag} {shown}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{flag} {shown}: cannot read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL byte in the path
        raise UsageError(f"{flag} {shown!r}: not a usable file path") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{flag} {shown}: not UTF-8 text (line {line})") from None
    return parse_env(text, environ, shown)


def parse_env(text: str, environ: Mapping[str, str], shown: str = ".env") -> dict[str, str]:
    """The variables dotenv `text` assigns; `shown` names the file in error messages."""
    return _Parser(text, environ, shown).parse()


class _Parser:
    """Walks the whole text by offset, since a quoted value may run over several lines."""

    def __init__(self, text: str, environ: Mapping[str, str], shown: str):
        if text.startswith("\ufeff"):
            text = text[1:]
        self.text = text.replace("\r\n", "\n")
        self.environ = environ
        self.shown = shown
        self.values: dict[str, str] = {}

    def error(self, lineno: int, message: str) -> UsageError:
        return UsageError(f"{self.shown}:{lineno}: {message}")

    def parse(self) -> dict[str, str]:
        text, pos, lineno = self.text, 0, 1
        while pos < len(text):
            eol = self._eol(pos)
            stripped = text[pos:eol].strip()
            if stripped and not stripped.startswith("#"):
                eol, extra_lines = self._assignment(pos, eol, lineno)
                lineno += extra_lines
            pos = eol + 1
            lineno += 1
        return self.values

    def _eol(self, pos: int) -> int:
        eol = self.text.find("\n", pos)
        return len(self.text) if eol == -1 else eol

    def _assignment(self, pos: int, eol: int, lineno: int) -> tuple[int, int]:
        """Parse the assignment starting on line `lineno`; return where it ends (the end of
        the line holding its last character) and how many further lines it took."""
        text = self.text
        body = text[pos:eol].lstrip()
        start = eol - len(body)
        if body.startswith("export") and body[6:7] in (" ", "\t"):
            rest = body[6:].lstrip()
            start += len(body) - len(rest)
            body = rest
        eq = body.find("=")
        if eq == -1 or not body[:eq].strip():
            raise self.error(lineno, "malformed line (expected KEY=value)")
        key = body[:eq].strip()
        if not _KEY.fullmatch(key):
            raise self.error(lineno, f"bad key {key!r} (letters, digits and _ only, "
                                     "not starting with a digit)")
        value_start = start + eq + 1
        while value_start < eol and text[value_start] in " \t":
            value_start += 1
        quote = text[value_start:value_start + 1] if value_start < eol else ""
        if quote in ("'", '"'):
            value, close = (self._single(value_start, lineno) if quote == "'"
                            else self._double(value_start, lineno))
            extra_lines = text.count("\n", value_start, close)
            eol = self._eol(close)
            trailing = text[close + 1:eol].strip()
            if trailing and not trailing.startswith("#"):
                where = f" (the value of {key} opened on line {lineno})" if extra_lines else ""
                raise self.error(lineno + extra_lines,
                                 f"unexpected text after the closing quote{where}")
        else:
            raw = text[start + eq + 1:eol]
            comment = _COMMENT.search(raw)
            if comment:
                raw = raw[:comment.start()]
            value, extra_lines = self._expand(raw.strip(), lineno), 0
        if "\0" in value:
            raise self.error(lineno, f"the value of {key} contains a NUL character")
        self.values[key] = value
        return eol, extra_lines

    def _single(self, open_at: int, lineno: int) -> tuple[str, int]:
        close = self.text.find("'", open_at + 1)
        if close == -1:
            raise self.error(lineno, "unterminated single quote")
        return self.text[open_at + 1:close], close

    def _double(self, open_at: int, lineno: int) -> tuple[str, int]:
        text, out, i = self.text, [], open_at + 1
        while i < len(text):
            ch = text[i]
            if ch == '"':
                return "".join(out), i
            if ch == "\\" and text[i + 1:i + 2] in _ESCAPES:
                out.append(_ESCAPES[text[i + 1]])
                i += 2
            elif ch == "$":
                replacement, i = self._reference(text, i, lineno)
                out.append(replacement)
            else:
                out.append(ch)
                i += 1
        raise self.error(lineno, "unterminated double quote")

    def _expand(self, raw: str, lineno: int) -> str:
        out, i = [], 0
        while (dollar := raw.find("$", i)) != -1:
            out.append(raw[i:dollar])
            replacement, i = self._reference(raw, dollar, lineno)
            out.append(replacement)
        out.append(raw[i:])
        return "".join(out)

    def _reference(self, s: str, dollar: int, lineno: int) -> tuple[str, int]:
        """The expansion of the `$` at `s[dollar]` and the index just past the reference."""
        if s.startswith("{", dollar + 1):
            braced = _BRACED.match(s, dollar + 1)
            if not braced:
                raise self.error(lineno, "bad variable reference (expected ${NAME})")
            return self._lookup(braced.group(1)), braced.end()
        bare = _KEY.match(s, dollar + 1)
        if not bare:
            return "$", dollar + 1
        return self._lookup(bare.group(0)), bare.end()

    def _lookup(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        return self.environ.get(name, "")
