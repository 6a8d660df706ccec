"""Dotenv files read by `orchestrator.envfile`: syntax, expansion and one-line errors."""

from __future__ import annotations

import os

import pytest

from orchestrator.envfile import load_env_file, parse_env
from orchestrator.errors import UsageError


def write(tmp_path, content: str | bytes, name: str = ".env"):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def error_line(tmp_path, content, environ=None, shown=".env") -> str:
    path = write(tmp_path, content)
    with pytest.raises(UsageError) as info:
        load_env_file(path, environ or {}, shown=shown)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_comments_blanks_export_and_whitespace(tmp_path):
    path = write(tmp_path, (
        "# a comment\n"
        "\n"
        "   \n"
        "  # indented comment\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "export\tTABBED=t\n"
        "  SPACED   =   padded value   \n"
        "TRAILING=kept # dropped\n"
        "HASH_INSIDE=a#b\n"
        "HASH_FIRST=#c\n"
        "ONLY_COMMENT= # nothing\n"
        "EMPTY=\n"
        "export=a key named export\n"
        "_under_9=x\n"
        "QUOTES_INSIDE=it's \"fine\"\n"
        "BACKSLASH=C:\\temp\\n\n"
        "EQUALS=a=b==c\n"
    ))
    assert load_env_file(path, {}) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "TABBED": "t",
        "SPACED": "padded value",
        "TRAILING": "kept",
        "HASH_INSIDE": "a#b",
        "HASH_FIRST": "#c",
        "ONLY_COMMENT": "",
        "EMPTY": "",
        "export": "a key named export",
        "_under_9": "x",
        "QUOTES_INSIDE": "it's \"fine\"",
        "BACKSLASH": "C:\\temp\\n",
        "EQUALS": "a=b==c",
    }


def test_single_quotes_are_literal(tmp_path):
    path = write(tmp_path, (
        "A='  $HOME ${HOME} \\n \\' \n"
        "B = 'with # hash' # comment\n"
        "C=''\n"
        "D='say \"hi\"'\n"
    ))
    assert load_env_file(path, {"HOME": "/home/me"}) == {
        "A": "  $HOME ${HOME} \\n \\",
        "B": "with # hash",
        "C": "",
        "D": 'say "hi"',
    }


def test_double_quotes_escapes_and_expansion(tmp_path):
    path = write(tmp_path, (
        'A="line1\\nline2\\ttab \\"q\\" back\\\\slash \\$HOME"\n'
        'B="$HOME/x ${HOME}y $HOMEz"\n'
        'C="  keep spaces  " # comment\n'
        'D="unknown \\q escape and # not a comment"\n'
        'E=""\n'
        'F="a $ b $5 $"\n'
    ))
    assert load_env_file(path, {"HOME": "/home/me"}) == {
        "A": 'line1\nline2\ttab "q" back\\slash $HOME',
        "B": "/home/me/x /home/mey ",
        "C": "  keep spaces  ",
        "D": "unknown \\q escape and # not a comment",
        "E": "",
        "F": "a $ b $5 $",
    }


def test_expansion_prefers_earlier_keys_then_environ_and_undefined_is_empty(tmp_path):
    path = write(tmp_path, (
        "BASE=/srv\n"
        "DATA=$BASE/data\n"
        "LOGS=${BASE}/logs\n"
        "PATH=$PATH:/opt/bin\n"
        "USER=from-file\n"
        "GREETING=\"hi $USER\"\n"
        "MISSING=[$NOPE][${NOPE}]\n"
        "LATER=$DEFINED_BELOW\n"
        "DEFINED_BELOW=too late\n"
        "COUNT=1\n"
        "COUNT=${COUNT}2\n"
        "PRICE=$5.00\n"
    ))
    environ = {"PATH": "/usr/bin", "USER": "from-env", "BASE": "/ignored"}
    assert load_env_file(path, environ) == {
        "BASE": "/srv",
        "DATA": "/srv/data",
        "LOGS": "/srv/logs",
        "PATH": "/usr/bin:/opt/bin",
        "USER": "from-file",
        "GREETING": "hi from-file",
        "MISSING": "[][]",
        "LATER": "",
        "DEFINED_BELOW": "too late",
        "COUNT": "12",
        "PRICE": "$5.00",
    }
    assert environ == {"PATH": "/usr/bin", "USER": "from-env", "BASE": "/ignored"}


def test_quoted_values_may_span_lines(tmp_path):
    path = write(tmp_path, (
        'KEY="-----BEGIN KEY-----\n'
        'abc $X\n'
        '-----END KEY-----"\n'
        "RAW='one\n"
        "two'  # comment\n"
        "AFTER=3\n"
    ))
    assert load_env_file(path, {"X": "x"}) == {
        "KEY": "-----BEGIN KEY-----\nabc x\n-----END KEY-----",
        "RAW": "one\ntwo",
        "AFTER": "3",
    }
    # Line numbers after a multi-line value still name the right line.
    bad = write(tmp_path, 'A="x\ny"\nB=1\nnot an assignment\n', "multi.env")
    with pytest.raises(UsageError, match=r"^multi\.env:4: malformed line"):
        load_env_file(bad, {}, shown="multi.env")


def test_crlf_and_byte_order_mark(tmp_path):
    path = write(tmp_path, "\ufeffA=1\r\nB=\"two\"\r\nC='3'  \r\n")
    assert load_env_file(path, {}) == {"A": "1", "B": "two", "C": "3"}


def test_empty_file_gives_no_variables(tmp_path):
    assert load_env_file(write(tmp_path, ""), {}) == {}
    assert load_env_file(write(tmp_path, "# only\n\n"), {}) == {}


@pytest.mark.parametrize("content, message", [
    ("A=1\nB=2\njust words\n", ".env:3: malformed line (expected KEY=value)"),
    ("export FOO\n", ".env:1: malformed line (expected KEY=value)"),
    ("=value\n", ".env:1: malformed line (expected KEY=value)"),
    ("  = \n", ".env:1: malformed line (expected KEY=value)"),
    ("A=1\n9LIVES=x\n",
     ".env:2: bad key '9LIVES' (letters, digits and _ only, not starting with a digit)"),
    ("MY-KEY=x\n",
     ".env:1: bad key 'MY-KEY' (letters, digits and _ only, not starting with a digit)"),
    ("TWO WORDS=x\n",
     ".env:1: bad key 'TWO WORDS' (letters, digits and _ only, not starting with a digit)"),
    ("A=1\nB='open\nC=2\n", ".env:2: unterminated single quote"),
    ("A=1\n\nB=\"open \\\" still open\n", ".env:3: unterminated double quote"),
    ("A=\"closed\" trailing\n", ".env:1: unexpected text after the closing quote"),
    ("A='closed'x\n", ".env:1: unexpected text after the closing quote"),
    ('A="forgot to close\nB="x"\n',
     ".env:2: unexpected text after the closing quote (the value of A opened on line 1)"),
    ("A=${B\n", ".env:1: bad variable reference (expected ${NAME})"),
    ("A=ok\nB=\"${C:-default}\"\n", ".env:2: bad variable reference (expected ${NAME})"),
    ("A=${}\n", ".env:1: bad variable reference (expected ${NAME})"),
    ("A=nul\0here\n", ".env:1: the value of A contains a NUL character"),
])
def test_syntax_errors_name_file_and_line(tmp_path, content, message):
    assert error_line(tmp_path, content) == message


def test_single_quoted_reference_syntax_is_not_checked(tmp_path):
    # Single quotes are literal, so `${` there is just text.
    assert load_env_file(write(tmp_path, "A='${B'\n"), {}) == {"A": "${B"}


def test_messages_show_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "ci.env").write_text("A=1\nB\n")
    with pytest.raises(UsageError) as info:
        load_env_file("conf/ci.env", {})
    assert str(info.value) == "conf/ci.env:2: malformed line (expected KEY=value)"
    with pytest.raises(UsageError) as info:
        load_env_file(tmp_path / "conf" / "ci.env", {}, shown="./conf/ci.env")
    assert str(info.value) == "./conf/ci.env:2: malformed line (expected KEY=value)"


def test_unreadable_files(tmp_path):
    def message(path, shown):
        with pytest.raises(UsageError) as info:
            load_env_file(path, {}, shown=shown)
        return str(info.value)

    assert message(tmp_path / "absent.env", "absent.env") == "--env-file absent.env: no such file"
    assert message(tmp_path, "somedir") == "--env-file somedir: is a directory, not a file"
    non_utf8 = write(tmp_path, b"A=1\nB=caf\xe9\n", "latin1.env")
    assert message(non_utf8, "latin1.env") == "--env-file latin1.env: not UTF-8 text (line 2)"
    flat = write(tmp_path, "A=1\n", "flat")
    assert (message(flat / "below", "flat/below")
            == "--env-file flat/below: cannot read (Not a directory)")
    if os.geteuid() != 0:  # root reads any file regardless of its mode
        locked = write(tmp_path, "A=1\n", "locked.env")
        locked.chmod(0)
        assert message(locked, "locked.env") == "--env-file locked.env: permission denied"


def test_the_flag_named_in_file_errors_can_be_chosen(tmp_path):
    with pytest.raises(UsageError) as info:
        load_env_file(tmp_path / "x", {}, shown="x", flag="PIPELINE_ENV_FILE")
    assert str(info.value) == "PIPELINE_ENV_FILE x: no such file"


def test_parse_env_works_on_text():
    assert parse_env("A=1\nB=\"$A$A\"\n", {}) == {"A": "1", "B": "11"}
    with pytest.raises(UsageError, match=r"^\.env:1: malformed line"):
        parse_env("nope\n", {})
