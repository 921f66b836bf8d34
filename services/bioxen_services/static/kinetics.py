"""Uptake kinetics of dynamic FBA: Michaelis-Menten, or an arithmetic expression of the state.

An expression is parsed once into a small tree of Python closures; nothing is ever passed to
``eval``. It may use numbers, ``+ - * / **``, parentheses, the functions ``exp log sqrt min max``,
and the names ``S`` (the substrate's own concentration, mM), ``X`` (biomass, gDW/L) and the ids of the
tracked exchange reactions (their concentrations, mM), e.g. acetate uptake repressed by glucose::

    3 * S / (0.5 + S) / (1 + EX_glc__D_e / 0.05)

A negative value means no uptake; a value that is not a finite number fails the run with a 422.
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
           ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCTIONS = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "min": min, "max": max}

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
        try:
            value = self.evaluate({**(env or {}), "S": concentration})
        except (ArithmeticError, ValueError) as exc:
            raise ComputationFailed(f"uptake expression {self.text!r} failed: {exc}") from exc
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ComputationFailed(f"uptake expression {self.text!r} gave {value}, not a finite rate")
        return max(0.0, float(value))


def parse_expression(text: str, names: set[str], where: str) -> ExpressionUptake:
    """Compile ``text``; ``names`` are the concentration ids it may use besides ``S`` and ``X``."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValidationError(f"{where}: the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValidationError(f"{where}: the expression is not valid arithmetic: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_EXPRESSION_NODES:
        raise ValidationError(f"{where}: the expression has more than {MAX_EXPRESSION_NODES} parts")
    allowed = {"S", "X", *names}
    used: set[str] = set()

    def build(node: ast.AST) -> Callable[[Env], float]:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            value = float(node.value)
            return lambda env: value
        if isinstance(node, ast.Name):
            if node.id not in allowed:
                raise ValidationError(f"{where}: unknown name {node.id!r} in the expression; it may use S, X "
                                      f"and the tracked concentrations {sorted(names)}")
            used.add(node.id)
            name = node.id
            return lambda env: env[name]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op, left, right = _BINARY[type(node.op)], build(node.left), build(node.right)
            return lambda env: op(left(env), right(env))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            op, operand = _UNARY[type(node.op)], build(node.operand)
            return lambda env: op(operand(env))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
                and not node.keywords and node.args:
            fn, args = _FUNCTIONS[node.func.id], [build(a) for a in node.args]
            return lambda env: fn(*(a(env) for a in args))
        raise ValidationError(f"{where}: {type(node).__name__} is not allowed in an uptake expression "
                              f"(numbers, + - * / **, {', '.join(sorted(_FUNCTIONS))} and names only)")

    evaluate = build(tree.body)
    return ExpressionUptake(text, frozenset(used), evaluate)
