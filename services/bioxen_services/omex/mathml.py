"""SED-ML math (libSEDML's parsed MathML) evaluated element-wise with numpy; no Python ``eval``.

Names are looked up in the values given (variables as arrays, parameters and range values as
numbers); a name missing there is an error of the archive. Operators and functions are those of
MathML as SBML and SED-ML use it, plus SED-ML's aggregate functions: ``min``/``max`` with one argument,
and ``sum``, ``product``, ``mean``, ``median``, ``stdev``, ``variance``, reduce a whole series to one
number (NaN ignored); ``min``/``max`` with several arguments compare element by element.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from ..errors import InvalidArchive

_CONSTANTS = {"pi": math.pi, "exponentiale": math.e, "true": 1.0, "false": 0.0,
              "avogadro": 6.02214076e23, "infinity": math.inf, "notanumber": math.nan}

_UNARY = {
    "abs": np.abs, "exp": np.exp, "ln": np.log, "floor": np.floor, "ceiling": np.ceil,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "arcsinh": np.arcsinh,
    "arccosh": np.arccosh, "arctanh": np.arctanh,
    "sec": lambda x: 1 / np.cos(x), "csc": lambda x: 1 / np.sin(x), "cot": lambda x: 1 / np.tan(x),
    "sech": lambda x: 1 / np.cosh(x), "csch": lambda x: 1 / np.sinh(x), "coth": lambda x: 1 / np.tanh(x),
    "not": lambda x: (np.asarray(x) == 0).astype(float),
    "factorial": lambda x: np.vectorize(lambda v: math.gamma(v + 1) if v >= 0 else math.nan)(x),
}

_RELATIONAL = {"eq": np.equal, "neq": np.not_equal, "gt": np.greater, "lt": np.less,
               "geq": np.greater_equal, "leq": np.less_equal}

_AGGREGATE = {"sum": np.nansum, "product": np.nanprod, "mean": np.nanmean, "median": np.nanmedian,
              "stdev": lambda x: np.nanstd(x, ddof=1), "variance": lambda x: np.nanvar(x, ddof=1),
              "min": np.nanmin, "max": np.nanmax}


def _fold(function, args):
    out = args[0]
    for arg in args[1:]:
        out = function(out, arg)
    return out


def evaluate(node, values: dict, where: str) -> np.ndarray:
    """The value of the libSEDML ASTNode ``node`` (a float array, 0-d for a number). ``where`` names
    the element the math belongs to, for the error message."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(_eval(node, values, where), dtype=float)
    except RecursionError as exc:
        raise InvalidArchive(f"{where}: its math is nested too deeply to evaluate") from exc


def _eval(node, values: dict, where: str):
    if node is None:
        raise InvalidArchive(f"{where} has no math")
    if node.isNumber():
        return float(node.getValue())
    if node.isName():
        name = node.getName()
        if name not in values:
            raise InvalidArchive(f"{where}: its math names {name!r}, which is none of its variables or "
                                 "parameters")
        return values[name]
    name = node.getName()
    if node.isConstant() and name in _CONSTANTS:
        return _CONSTANTS[name]
    args = [_eval(node.getChild(i), values, where) for i in range(node.getNumChildren())]
    operator = node.getCharacter() if node.isOperator() else None
    if operator == "+":
        return _fold(np.add, args) if args else 0.0
    if operator == "*":
        return _fold(np.multiply, args) if args else 1.0
    if operator == "-":
        return np.negative(args[0]) if len(args) == 1 else np.subtract(args[0], args[1])
    if operator == "/":
        return np.divide(args[0], args[1])
    if operator == "^" or name == "power":
        return np.power(args[0], args[1])
    return _function(name, args, where)


def _function(name: str | None, args: list, where: str):
    if name in ("min", "max") and len(args) > 1:
        return _fold(np.fmin if name == "min" else np.fmax, args)
    if name in _AGGREGATE and len(args) == 1:
        series = np.asarray(args[0], dtype=float)
        return _AGGREGATE[name](series) if series.size else math.nan
    if name in _UNARY and len(args) == 1:
        return _UNARY[name](args[0])
    if name in _RELATIONAL and len(args) >= 2:
        pairs = [_RELATIONAL[name](a, b) for a, b in pairwise(args)]
        return _fold(np.logical_and, pairs).astype(float)
    if name in ("and", "or", "xor") and args:
        truth = [np.asarray(a) != 0 for a in args]
        combine = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}[name]
        return _fold(combine, truth).astype(float)
    if name == "log":
        return np.log10(args[0]) if len(args) == 1 else np.log(args[1]) / np.log(args[0])
    if name == "root":
        return np.sqrt(args[0]) if len(args) == 1 else np.power(args[1], 1.0 / np.asarray(args[0]))
    if name == "piecewise":
        return _piecewise(args)
    raise InvalidArchive(f"{where}: its math uses {name or 'an operator'}(...) with {len(args)} "
                         "argument(s), which SED-ML math here does not define")


def _piecewise(args: list):
    """``piecewise(value1, condition1, value2, condition2, ..., otherwise)`` element-wise: the first
    piece whose condition holds."""
    otherwise = args[-1] if len(args) % 2 == 1 else math.nan
    out = np.asarray(otherwise, dtype=float)
    for value, condition in reversed(list(zip(args[0::2], args[1::2]))):
        out = np.where(np.asarray(condition) != 0, value, out)
    return out
