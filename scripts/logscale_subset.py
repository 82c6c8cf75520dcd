"""An interpreter of the part of LogScale's query language that the generated rules use, so that
`make sigma` runs every converted LogScale query over events/ (as it runs the QRadar queries in
DuckDB) instead of only converting it.

What it takes, as pySigma-backend-crowdstrike and scripts/sigma_targets.py write it:
- filters `field=/regex/flags`, `field=*`, `field!=*`, `field=value`, `field!=value`,
  `field="text"`, `field<n`, `field<=n`, `field>n`, `field>=n`; a field name bare or in double
  quotes;
- `test(a == b)` (and `!=`) between two fields;
- `array:exists(...)` and `objectArray:exists(...)` with `array="p[]"`, `var=v` and
  `condition={...}`;
- `not`, `or`, `and`, juxtaposition (an implicit `and`) and parentheses.
Anything else is a ValueError: the check then fails rather than guess.

Semantics, from LogScale's documentation ("Operators", "Array Syntax", array:exists and
objectArray:exists) and the backend:
- The event is the record as `parseJson()` names it: object members joined by `.`, array
  elements as `[i]`, every value text (booleans `true` / `false`). A JSON null is no field (the
  generated queries read a null as "no value" either way: `f!=* or f=/^$/i`).
- A comparison on a field the event does not have fails, except `!=`. `=` on a plain value is
  exact and case-sensitive; a regex is searched, not anchored. Numeric comparisons need a number.
- `test(a == b)` needs both fields; it compares numbers as numbers, else text.
- Precedence is the backend's (`precedence = (NOT, OR, AND)`): `not` binds tightest, then `or`,
  then `and`, so `a b or c` is `a and (b or c)`.
- `array:exists` / `objectArray:exists` pass when one element `p[i]` (i = 0, 1, ... while the
  element exists) passes the condition, with the element bound to `v` (`v`, `v.member`) beside
  the event's own fields.
"""
from __future__ import annotations

import json
import re

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<open>\() | (?P<close>\)) | (?P<rbrace>\}) | (?P<comma>,)
  | (?P<condition>condition=\{)
  | (?P<function>(?:array|objectArray):exists|test)\(
  | (?P<filter>(?P<field>"(?:[^"\\]|\\.)*"|[\w.@\[\]]+)\s*(?P<op>!=|<=|>=|==|=|<|>)\s*
        (?P<value>\*|/(?:[^/\\]|\\.)*/[imsg]*|"(?:[^"\\]|\\.)*"|[^\s(){},]+))
  | (?P<word>\w+)
""", re.X)


def flatten(record) -> dict[str, str]:
    """The fields parseJson() makes of a JSON record."""
    out: dict[str, str] = {}

    def walk(v, name: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{name}.{k}" if name else k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{name}[{i}]")
        elif isinstance(v, bool):
            out[name] = "true" if v else "false"
        elif v is not None:
            out[name] = v if isinstance(v, str) else json.dumps(v)
    walk(record, "")
    return out


def unquote(s: str) -> str:
    return json.loads(s) if s.startswith('"') else s


def number(s: str | None) -> float | None:
    try:
        return float(s) if s is not None else None
    except ValueError:
        return None


class Parser:
    def __init__(self, query: str):
        self.tokens, pos = [], 0
        while pos < len(query):
            m = TOKEN.match(query, pos)
            if not m:
                raise ValueError(f"not in the subset at {pos}: {query[pos:pos + 40]!r}")
            if m.lastgroup != "space":
                kind = "filter" if m.group("filter") else m.lastgroup
                self.tokens.append((kind, m))
            pos = m.end()
        self.i = 0

    def peek(self) -> str | None:
        if self.i >= len(self.tokens):
            return None
        kind, m = self.tokens[self.i]
        return m.group("word").lower() if kind == "word" else kind

    def take(self, kind: str):
        if self.peek() != kind:
            raise ValueError(f"expected {kind}, found {self.peek()}")
        self.i += 1
        return self.tokens[self.i - 1][1]

    def parse(self):
        node = self.conjunction()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()}")
        return node

    def conjunction(self):
        parts = [self.disjunction()]
        while self.peek() not in (None, "close", "rbrace"):
            if self.peek() == "and":
                self.i += 1
            parts.append(self.disjunction())
        return ("and", parts)

    def disjunction(self):
        parts = [self.unary()]
        while self.peek() == "or":
            self.i += 1
            parts.append(self.unary())
        return ("or", parts)

    def unary(self):
        kind = self.peek()
        if kind == "not":
            self.i += 1
            return ("not", self.unary())
        if kind == "open":
            self.i += 1
            node = self.conjunction()
            self.take("close")
            return node
        if kind == "filter":
            m = self.take("filter")
            return ("filter", unquote(m.group("field")), m.group("op"), m.group("value"))
        if kind == "function":
            return self.function()
        raise ValueError(f"unexpected {kind}")

    def function(self):
        name = self.take("function").group("function")
        if name == "test":
            m = self.take("filter")
            if m.group("op") not in ("==", "!=") or m.group("value").startswith(("/", '"', "*")):
                raise ValueError(f"test() of {m.group(0)!r}: not in the subset")
            self.take("close")
            return ("test", m.group("field"), m.group("op"), m.group("value"))
        args = {}
        while self.peek() == "filter":
            m = self.take("filter")
            if m.group("op") != "=":
                raise ValueError(f"{name} argument {m.group(0)!r}")
            args[m.group("field")] = unquote(m.group("value"))
            self.take("comma")
        self.take("condition")
        condition = self.conjunction()
        self.take("rbrace")
        self.take("close")
        if set(args) != {"array", "var"} or not args["array"].endswith("[]"):
            raise ValueError(f"{name} needs array=\"p[]\" and var=v: {args}")
        return ("exists", name, args["array"][:-2], args["var"], condition)


def parse(query: str):
    """The query's tree; a ValueError for anything outside the subset."""
    return Parser(query).parse()


def element_count(fields: dict[str, str], array: str) -> int:
    n = 0
    while any(k == f"{array}[{n}]" or k.startswith((f"{array}[{n}].", f"{array}[{n}][")) for k in fields):
        n += 1
    return n


def evaluate(node, fields: dict[str, str]) -> bool:
    kind = node[0]
    if kind == "and":
        return all(evaluate(n, fields) for n in node[1])
    if kind == "or":
        return any(evaluate(n, fields) for n in node[1])
    if kind == "not":
        return not evaluate(node[1], fields)
    if kind == "filter":
        return compare(fields.get(node[1]), node[2], node[3])
    if kind == "test":
        a, b = fields.get(node[1]), fields.get(node[3])
        if a is None or b is None:
            return False
        na, nb = number(a), number(b)
        same = na == nb if na is not None and nb is not None else a == b
        return same if node[2] == "==" else not same
    _, name, array, var, condition = node
    for i in range(element_count(fields, array)):
        element = f"{array}[{i}]"
        if name == "array:exists" and element not in fields:
            raise ValueError(f"array:exists over an array of objects: {array}")
        bound = dict(fields)
        for k, v in fields.items():
            if k == element:
                bound[var] = v
            elif k.startswith(element + "."):
                bound[var + k[len(element):]] = v
        if evaluate(condition, bound):
            return True
    return False


def compare(value: str | None, op: str, literal: str) -> bool:
    if literal == "*":
        if op not in ("=", "!="):
            raise ValueError(f"{op} *")
        return (value is not None) == (op == "=")
    if op == "!=":
        return value is None or not compare(value, "=", literal)
    if value is None:
        return False
    if op == "=":
        if literal.startswith("/"):
            body, flags = literal[1:].rsplit("/", 1)
            return re.search(body, value, re.I if "i" in flags else 0) is not None
        return value == unquote(literal)
    a, b = number(value), number(literal)
    if b is None:
        raise ValueError(f"{op} {literal}: not a number")
    if a is None:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
