"""Uptake kinetics of dynamic FBA: Michaelis-Menten, or an arithmetic expression of the state.

An expression is parsed once into a small tree of Python closures; nothing is ever passed to
``eval``. It may use finite numbers, ``+ - * / **``, parentheses, the functions ``exp(x)``, ``log(x)``
or ``log(x, base)``, ``sqrt(x)``, ``min(a, b, ...)`` and ``max(a, b, ...)`` (two or more arguments),
and the names ``S`` (the substrate's own concentration, mM), ``X`` (biomass, gDW/L) and the ids of the
tracked exchange reactions (their concentrations, mM), e.g. acetate uptake repressed by glucose::

    3 * S / (0.5 + S) / (1 + EX_glc__D_e / 0.05)

Literals and the number of arguments of each function are checked when the expression is parsed
(400). A negative value means no uptake. Every step of an evaluation must give a finite real number
(``**`` is :func:`math.pow`, so a negative base with a fractional exponent is a domain error, never a
complex number): a value that is not fails the run with a 422 naming the expression, the part that
failed and the state it failed at.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ComputationFailed, ValidationError

MAX_EXPRESSION_CHARS = 500
MAX_EXPRESSION_NODES = 200
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: math.pow}  # float only: (-1) ** 0.5 is a ValueError, not a complex number
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCTIONS = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "min": min, "max": max}
#: how many arguments each function takes: (fewest, most); None: no upper limit
_ARITY = {"exp": (1, 1), "log": (1, 2), "sqrt": (1, 1), "min": (2, None), "max": (2, None)}

Env = dict[str, float]


@dataclass(frozen=True)
class Uptake:
    """Michaelis-Menten uptake kinetics: ``vmax S / (km + S)`` mmol/gDW/h."""

    vmax: float
    km: float

    def rate(self, concentration: float, env: Env | None = None) -> float:
        if concentration <= 0:
            return 0.0
        return self.vmax * concentration / (self.km + concentration)


@dataclass(frozen=True)
class ExpressionUptake:
    """Uptake rate (mmol/gDW/h) given by an expression of the state (see the module docstring)."""

    text: str
    names: frozenset[str]
    evaluate: Callable[[Env], float] = field(compare=False, repr=False)
    km: float = 0.0  # no half-saturation scale: steps are controlled on the concentration alone

    def __reduce__(self):
        """Sent to an engine process as its text, compiled again there (closures do not pickle)."""
        return parse_expression, (self.text, set(self.names), "uptake")

    def rate(self, concentration: float, env: Env | None = None) -> float:
        if concentration <= 0:
            return 0.0
        state = {**(env or {}), "S": concentration}
        try:
            value = self.evaluate(state)
        except _NotFinite as exc:
            at = ", ".join(f"{name} = {state[name]:g}" for name in sorted(self.names | {"S"}))
            raise ComputationFailed(f"uptake expression {self.text!r} has no finite real value at {at}: "
                                    f"{exc}") from None
        return max(0.0, value)


class _NotFinite(Exception):
    """A part of an expression gave no finite real number; the message names the part."""


def _checked(part: str, fn: Callable[[Env], float]) -> Callable[[Env], float]:
    """``fn`` whose value must be a finite real number, else :class:`_NotFinite` naming ``part``."""
    def run(env: Env) -> float:
        try:
            value = fn(env)
        except (ArithmeticError, ValueError) as exc:
            raise _NotFinite(f"{part} failed ({exc})") from None
        if not math.isfinite(value):
            raise _NotFinite(f"{part} gave {value}")
        return value
    return run


def _arity_text(fewest: int, most: int | None) -> str:
    if most is None:
        return f"at least {fewest} arguments"
    return f"exactly {fewest} argument{'s' * (fewest > 1)}" if fewest == most else f"{fewest} to {most} arguments"


def _short(text: str, most: int = 40) -> str:
    return text if len(text) <= most else f"{text[:most]}... ({len(text)} characters)"


def parse_expression(text: str, names: set[str], where: str) -> ExpressionUptake:
    """Compile ``text``; ``names`` are the concentration ids it may use besides ``S`` and ``X``."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValidationError(f"{where}: the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ValidationError(f"{where}: the expression is not valid arithmetic: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_EXPRESSION_NODES:
        raise ValidationError(f"{where}: the expression has more than {MAX_EXPRESSION_NODES} parts")
    allowed = {"S", "X", *names}
    used: set[str] = set()

    def build(node: ast.AST) -> Callable[[Env], float]:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            literal = _short(ast.get_source_segment(source, node) or repr(node.value))
            try:
                value = float(node.value)
            except OverflowError:
                raise ValidationError(f"{where}: the number {literal} is too large") from None
            if not math.isfinite(value):
                raise ValidationError(f"{where}: the number {literal} is not a finite number")
            return lambda env: value
        if isinstance(node, ast.Name):
            if node.id not in allowed:
                raise ValidationError(f"{where}: unknown name {node.id!r} in the expression; it may use S, X "
                                      f"and the tracked concentrations {sorted(names)}")
            used.add(node.id)
            name = node.id
            return lambda env: env[name]
        part = _short(ast.unparse(node))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op, left, right = _BINARY[type(node.op)], build(node.left), build(node.right)
            return _checked(part, lambda env: op(left(env), right(env)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            op, operand = _UNARY[type(node.op)], build(node.operand)
            return _checked(part, lambda env: op(operand(env)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            name = node.func.id
            if node.keywords:
                raise ValidationError(f"{where}: {name}() takes no keyword arguments: {part}")
            fewest, most = _ARITY[name]
            if len(node.args) < fewest or (most is not None and len(node.args) > most):
                raise ValidationError(f"{where}: {name}() takes {_arity_text(fewest, most)}, got "
                                      f"{len(node.args)}: {part}")
            fn, args = _FUNCTIONS[name], [build(a) for a in node.args]
            return _checked(part, lambda env: fn(*(a(env) for a in args)))
        raise ValidationError(f"{where}: {type(node).__name__} is not allowed in an uptake expression "
                              f"(numbers, + - * / **, {', '.join(sorted(_FUNCTIONS))} and names only)")

    evaluate = build(tree.body)
    return ExpressionUptake(text, frozenset(used), evaluate)
