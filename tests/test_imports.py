"""Reading a script's imports: every syntax, nothing commented out, no pathological input."""

from __future__ import annotations

import subprocess
import sys

from orchestrator.imports import node_imports, python_imports


def test_node_syntaxes_are_read_and_comments_and_packages_are_not():
    source = b"""
    import fs from 'node:fs';
    import def, { a as b } from "./a.mjs";
    import * as ns from './ns.js'
    import './side.js';
    export { x } from './re.mjs';
    export * from "../up.mjs";
    const lazy = await import('./lazy.mjs');
    const again = import( `./tpl.mjs` );
    const c = require('./c');
    const pkg = require('lodash');
    // import gone from './line-comment.mjs';
    /* const gone = require('./block-comment');
       import x from './block-comment2.mjs' */
    const url = 'https://example.org/a//b'; import y from './after-url.mjs';
    """
    assert sorted(node_imports(source)) == sorted([
        "./a.mjs", "./ns.js", "./side.js", "./re.mjs", "../up.mjs", "./lazy.mjs",
        "./tpl.mjs", "./c", "./after-url.mjs"])


def test_python_syntaxes_are_read_without_running_the_file():
    source = b"""
import os, helpers.a as ha
from helpers import b
from . import c
from ..pkg.mod import d, e
def f():
    from lazy import g
raise SystemExit("never run")
"""
    assert python_imports(source) == [
        [0, "os", []], [0, "helpers.a", []], [0, "helpers", ["b"]], [1, "", ["c"]],
        [2, "pkg.mod", ["d", "e"]], [0, "lazy", ["g"]]]
    assert python_imports(b"def broken(:\n") == []
    assert python_imports(b"(" * 100_000) == []


def test_pathological_sources_are_read_in_linear_time():
    # nested repetition in a pattern made such input take minutes (a hang, to a user)
    code = (
        "from orchestrator.imports import node_imports\n"
        "for text in (b'import ' + b' ' * 500000 + b'x', b'import ' + b'a ' * 500000,\n"
        "             b'export ' + b'a, ' * 300000, b'/*' * 500000, b'a /* ' + b'/' * 10**6):\n"
        "    assert node_imports(text) == []\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
