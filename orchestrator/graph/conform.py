"""Does a parsed graph conform to the stage-graph JSON Schema? Yes or no, fast.

Most graphs a run reads are valid, and only an invalid one needs jsonschema's messages.
Importing jsonschema (with the format checkers it loads) and walking a graph with it
took about a quarter of a second before a 200-stage run could start its first stage.
This module answers the yes/no question from the same schema file, with the keywords
that file uses and the meaning jsonschema (draft 2020-12) gives them; `validate.py`
asks jsonschema only when the answer is no, for the messages.

Built from the schema, not written beside it: a keyword this module does not know makes
`conformance_check` return None, and every graph then goes to jsonschema as before, so
an edit of the schema can make validation slower, never laxer.
`tests/test_graph_conform.py` checks that the two agree on valid and broken graphs.
"""

from __future__ import annotations

import re
from typing import Any, Callable

Check = Callable[[Any], bool]

# keywords that describe and never constrain
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description",
                          "examples", "default"})


class _Unsupported(Exception):
    """The schema uses something this module does not implement."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    # jsonschema: a float with no fractional part is an integer too (1.0)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": _is_integer,
}


def conformance_check(schema: dict) -> Check | None:
    """A function telling whether a document conforms to `schema`; None when the schema
    uses a keyword this module does not implement (ask jsonschema then)."""
    defs = schema.get("$defs", {})
    built: dict[str, Check] = {}

    def resolve(ref: str) -> Check:
        if not ref.startswith("#/$defs/") or ref[len("#/$defs/"):] not in defs:
            raise _Unsupported(ref)
        name = ref[len("#/$defs/"):]
        if name not in built:
            built[name] = lambda v: built[name](v)  # a reference back to itself
            built[name] = _compile(defs[name], resolve)
        return built[name]

    try:
        return _compile(schema, resolve)
    except (_Unsupported, re.error, TypeError, ValueError):
        return None


def conforms(check: Check, data: Any) -> bool:
    """`check(data)`, False when the document is too deeply nested to walk."""
    try:
        return check(data)
    except RecursionError:
        return False


def _compile(schema: Any, resolve: Callable[[str], Check]) -> Check:
    if schema is True:
        return lambda v: True
    if not isinstance(schema, dict):
        raise _Unsupported(repr(schema))
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        make = _KEYWORDS.get(keyword)
        if make is None:
            if keyword in ("then", "else"):  # compiled with their `if`
                continue
            raise _Unsupported(keyword)
        checks.append(make(value, schema, resolve))
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    return _all_of(tuple(checks))


def _all_of(checks: tuple[Check, ...]) -> Check:
    # loops rather than all() over a generator: this runs for every object of the graph
    def check(v: Any) -> bool:
        for test in checks:
            if not test(v):
                return False
        return True
    return check


def _type(value: Any, schema: dict, resolve) -> Check:
    names = value if isinstance(value, list) else [value]
    tests = [_TYPES[name] for name in names]  # KeyError: an unknown type
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(test(v) for test in tests)


def _required(value: Any, schema: dict, resolve) -> Check:
    keys = tuple(value)
    return lambda v: not isinstance(v, dict) or all(key in v for key in keys)


def _properties(value: Any, schema: dict, resolve) -> Check:
    checks = {key: _compile(sub, resolve) for key, sub in value.items()}

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, item in v.items():
            test = checks.get(key)
            if test is not None and not test(item):
                return False
        return True
    return check


def _items(value: Any, schema: dict, resolve) -> Check:
    if not isinstance(value, dict):
        raise _Unsupported("items")
    item = _compile(value, resolve)

    def check(v: Any) -> bool:
        if not isinstance(v, list):
            return True
        for x in v:
            if not item(x):
                return False
        return True
    return check


def _ref(value: Any, schema: dict, resolve) -> Check:
    return resolve(value)


def _pattern(value: Any, schema: dict, resolve) -> Check:
    search = re.compile(value).search  # jsonschema searches, it does not match
    return lambda v: not isinstance(v, str) or search(v) is not None


def _min_length(value: Any, schema: dict, resolve) -> Check:
    return lambda v: not isinstance(v, str) or len(v) >= value


def _max_length(value: Any, schema: dict, resolve) -> Check:
    return lambda v: not isinstance(v, str) or len(v) <= value


def _strings(values: list) -> frozenset:
    # jsonschema compares a string only with strings; other constants (numbers, where
    # True equals 1 to Python but not to JSON Schema) are left to jsonschema
    if not all(isinstance(item, str) for item in values):
        raise _Unsupported("a constant that is not a string")
    return frozenset(values)


def _enum(value: Any, schema: dict, resolve) -> Check:
    allowed = _strings(list(value))
    return lambda v: isinstance(v, str) and v in allowed


def _const(value: Any, schema: dict, resolve) -> Check:
    _strings([value])
    return lambda v: isinstance(v, str) and v == value


def _bound(fails: Callable[[Any, Any], bool]):
    def make(value: Any, schema: dict, resolve) -> Check:
        if not _is_number(value):
            raise _Unsupported("a bound that is not a number")
        return lambda v: not _is_number(v) or not fails(v, value)
    return make


def _if(value: Any, schema: dict, resolve) -> Check:
    condition = _compile(value, resolve)
    then = _compile(schema.get("then", True), resolve)
    otherwise = _compile(schema.get("else", True), resolve)
    return lambda v: then(v) if condition(v) else otherwise(v)


def _one_of(value: Any, schema: dict, resolve) -> Check:
    options = [_compile(sub, resolve) for sub in value]
    return lambda v: sum(1 for option in options if option(v)) == 1


_KEYWORDS: dict[str, Callable[[Any, dict, Callable[[str], Check]], Check]] = {
    "type": _type,
    "required": _required,
    "properties": _properties,
    "items": _items,
    "$ref": _ref,
    "pattern": _pattern,
    "minLength": _min_length,
    "maxLength": _max_length,
    "enum": _enum,
    "const": _const,
    # each as jsonschema words it: the comparison that fails the value
    "minimum": _bound(lambda v, bound: v < bound),
    "maximum": _bound(lambda v, bound: v > bound),
    "exclusiveMinimum": _bound(lambda v, bound: v <= bound),
    "exclusiveMaximum": _bound(lambda v, bound: v >= bound),
    "if": _if,
    "oneOf": _one_of,
}
