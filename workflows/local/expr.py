"""The small expression languages an Argo DAG uses, evaluated the way Argo evaluates them.

Three grammars share one tokenizer and one precedence-climbing parser:

* ``retryStrategy.expression`` (expr-lang in Argo): identifiers such as ``lastRetry.status``,
  string and integer literals, ``== != < > <= >=``, ``&& || !`` (and ``and or not``), ``matches``
  (regular expression), ``contains``, parentheses, and ``asInt(...)`` because Argo passes
  ``lastRetry.exitCode`` as a *string*.
* ``when`` (govaluate in Argo), evaluated after ``{{...}}`` substitution: quoted strings, numbers,
  ``true``/``false``, ``== != < > <= >=``, ``&& || !``, parentheses. A bare word is an error, as in
  Argo (an unquoted substituted value is the usual mistake and must not pass silently).
* ``depends``: task names (which may contain ``-``), optionally ``.Result``, combined with
  ``&& || !`` and parentheses.

Anything outside these subsets raises :class:`ExprError` naming the expression, so an unsupported
construct in a rendered workflow is an error and never a silently wrong answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Value = str | int | float | bool


class ExprError(ValueError):
    """An expression outside the supported subset, or one that cannot be evaluated."""


@dataclass(frozen=True)
class Token:
    """One lexical token of an expression; ``value`` holds a literal's parsed value."""

    kind: str  # "str", "num", "ident", "op", "lparen", "rparen", "comma", "end"
    text: str
    value: Value | None = None


_OPS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!")
_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "matches": "matches", "contains": "contains"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_TASK = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z]+)?")
_NUM = re.compile(r"\d+(?:\.\d+)?")


def _tokenize(text: str, *, task_names: bool) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "'\"":
            j = i + 1
            buf = []
            while j < len(text) and text[j] != c:
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= len(text):
                raise ExprError(f"unterminated string in {text!r}")
            tokens.append(Token("str", text[i : j + 1], "".join(buf)))
            i = j + 1
            continue
        if c == "(":
            tokens.append(Token("lparen", c))
            i += 1
            continue
        if c == ")":
            tokens.append(Token("rparen", c))
            i += 1
            continue
        if c == ",":
            tokens.append(Token("comma", c))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("op", op))
            i += len(op)
            continue
        if task_names:
            m = _TASK.match(text, i)
            if m:
                tokens.append(Token("ident", m.group()))
                i = m.end()
                continue
        else:
            m = _NUM.match(text, i)
            if m:
                num: Value = float(m.group()) if "." in m.group() else int(m.group())
                tokens.append(Token("num", m.group(), num))
                i = m.end()
                continue
            m = _IDENT.match(text, i)
            if m:
                word = m.group()
                if word in _WORD_OPS:
                    tokens.append(Token("op", _WORD_OPS[word]))
                elif word in ("true", "false"):
                    tokens.append(Token("bool", word, word == "true"))
                else:
                    tokens.append(Token("ident", word))
                i = m.end()
                continue
        raise ExprError(f"unexpected {c!r} at position {i} in {text!r}")
    tokens.append(Token("end", ""))
    return tokens


# Binding power of binary operators (higher binds tighter).
_BINARY = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    ">": 3,
    "<=": 3,
    ">=": 3,
    "matches": 3,
    "contains": 3,
}

#: A parsed expression (an AST node): ("lit", v), ("var", name), ("not", e), ("call", f, args)
#: or ("bin", operator, left, right). Named so it does not clash with the executor's Node.
Expr = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str, tokens: list[Token], allowed: frozenset[str]) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0
        self.allowed = allowed

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Expr:
        node = self.expr(0)
        if self.peek().kind != "end":
            raise ExprError(f"unexpected {self.peek().text!r} in {self.text!r}")
        return node

    def expr(self, min_bp: int) -> Expr:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok.kind != "op" or tok.text not in _BINARY:
                return left
            bp = _BINARY[tok.text]
            if bp <= min_bp:
                return left
            if tok.text not in self.allowed:
                raise ExprError(f"operator {tok.text!r} is not supported in {self.text!r}")
            self.take()
            right = self.expr(bp)
            left = ("bin", tok.text, left, right)

    def unary(self) -> Expr:
        tok = self.take()
        if tok.kind == "op" and tok.text == "!":
            return ("not", self.unary())
        if tok.kind == "lparen":
            node = self.expr(0)
            if self.take().kind != "rparen":
                raise ExprError(f"missing ')' in {self.text!r}")
            return node
        if tok.kind in ("str", "num", "bool"):
            return ("lit", tok.value)
        if tok.kind == "ident":
            if self.peek().kind == "lparen" and "call" in self.allowed:
                self.take()
                args = [self.expr(0)]
                while self.peek().kind == "comma":
                    self.take()
                    args.append(self.expr(0))
                if self.take().kind != "rparen":
                    raise ExprError(f"missing ')' after arguments of {tok.text} in {self.text!r}")
                return ("call", tok.text, args)
            return ("var", tok.text)
        raise ExprError(f"unexpected {tok.text or 'end of expression'!r} in {self.text!r}")


_CMP = frozenset({"==", "!=", "<", ">", "<=", ">=", "&&", "||"})
_RETRY_OPS = _CMP | {"matches", "contains", "call"}
_WHEN_OPS = _CMP
_DEPENDS_OPS = frozenset({"&&", "||"})


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _compare(op: str, a: Any, b: Any, text: str) -> bool:
    if op == "==":
        return bool(type(a) is type(b) or (_is_num(a) and _is_num(b))) and a == b
    if op == "!=":
        return not _compare("==", a, b, text)
    comparable = (_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str))
    if not comparable:
        raise ExprError(f"cannot compare {a!r} {op} {b!r} in {text!r}")
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _truth(v: Any, text: str) -> bool:
    if not isinstance(v, bool):
        raise ExprError(f"{v!r} is not a boolean in {text!r}")
    return v


def _as_int(v: Any, text: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ExprError(f"asInt({v!r}): not an integer in {text!r}") from None


_FUNCS: dict[str, Callable[[Any, str], Any]] = {"asInt": _as_int}


def _eval(node: Expr, lookup: Callable[[str], Any], text: str) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "var":
        return lookup(node[1])
    if kind == "not":
        return not _truth(_eval(node[1], lookup, text), text)
    if kind == "call":
        name, args = node[1], node[2]
        if name not in _FUNCS or len(args) != 1:
            raise ExprError(f"function {name} is not supported in {text!r}")
        return _FUNCS[name](_eval(args[0], lookup, text), text)
    op, left, right = node[1], node[2], node[3]
    if op == "&&":
        return _truth(_eval(left, lookup, text), text) and _truth(_eval(right, lookup, text), text)
    if op == "||":
        return _truth(_eval(left, lookup, text), text) or _truth(_eval(right, lookup, text), text)
    a, b = _eval(left, lookup, text), _eval(right, lookup, text)
    if op == "matches":
        if not isinstance(a, str) or not isinstance(b, str):
            raise ExprError(f"matches needs strings in {text!r}")
        try:
            return re.search(b, a) is not None
        except re.error as exc:
            raise ExprError(f"bad regular expression {b!r} in {text!r}: {exc}") from None
    if op == "contains":
        if not isinstance(a, str) or not isinstance(b, str):
            raise ExprError(f"contains needs strings in {text!r}")
        return b in a
    return _compare(op, a, b, text)


def eval_retry(expression: str, variables: Mapping[str, Value]) -> bool:
    """Evaluate a ``retryStrategy.expression`` with ``lastRetry.*`` variables (expr-lang subset)."""
    tree = _Parser(expression, _tokenize(expression, task_names=False), _RETRY_OPS).parse()

    def lookup(name: str) -> Any:
        if name not in variables:
            raise ExprError(f"unknown variable {name!r} in {expression!r}")
        return variables[name]

    return _truth(_eval(tree, lookup, expression), expression)


def eval_when(expression: str) -> bool:
    """Evaluate a substituted ``when`` expression (govaluate subset). Bare words are errors."""
    tree = _Parser(expression, _tokenize(expression, task_names=False), _WHEN_OPS).parse()

    def lookup(name: str) -> Any:
        raise ExprError(f"unquoted word {name!r} in when expression {expression!r} (quote strings)")

    return _truth(_eval(tree, lookup, expression), expression)


#: Task results a ``depends`` expression may name (Argo's enhanced depends logic).
DEPENDS_RESULTS = frozenset(
    {
        "Succeeded",
        "Failed",
        "Errored",
        "Skipped",
        "Omitted",
        "Daemoned",
        "Completed",
        "AnySucceeded",
        "AllFailed",
    }
)


def parse_depends(expression: str) -> Expr:
    """Parse a ``depends`` expression; operands are ``("var", "task")`` or ``("var", "task.Result")``."""
    tree = _Parser(expression, _tokenize(expression, task_names=True), _DEPENDS_OPS).parse()
    for name in depends_operands(tree):
        _task, _, result = name.partition(".")
        if result and result not in DEPENDS_RESULTS:
            raise ExprError(f"unknown task result {result!r} in depends {expression!r}")
    return tree


def depends_operands(tree: Expr) -> list[str]:
    """Every ``task`` or ``task.Result`` operand of a parsed depends expression."""
    if tree[0] == "var":
        return [tree[1]]
    if tree[0] == "not":
        return depends_operands(tree[1])
    if tree[0] == "bin":
        return depends_operands(tree[2]) + depends_operands(tree[3])
    raise ExprError(f"unexpected literal in depends expression: {tree[1]!r}")


def eval_depends(tree: Expr, result: Callable[[str, str], bool], text: str = "depends") -> bool:
    """Evaluate a parsed depends expression; ``result(task, Result)`` answers one operand.

    A bare task name means ``task.Succeeded || task.Skipped || task.Daemoned``, as in Argo.
    """

    def lookup(name: str) -> bool:
        task, _, res = name.partition(".")
        if not res:
            return result(task, "Succeeded") or result(task, "Skipped") or result(task, "Daemoned")
        return result(task, res)

    return _truth(_eval(tree, lookup, text), text)
