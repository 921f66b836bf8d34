"""Every LP a request solves starts from a basis the request alone decides.

GLPK warm-starts each simplex from the basis the previous solve left behind, and on degenerate optima
the answer depends on that start in its last bits (and, at GLPK's tolerances, more): measured on this
machine, FVA of the same iMM904 reactions asked in chunks of 7 or all at once differs by up to 2.5e-9
(a maximum of 0.32667000303 vs 0.32667000056), single-gene deletions of iMM904 by 1e-14, and any answer
of a cached model by what the engine computed before. Jobs split FVA and deletion batches into chunks
run by different engines, and must give the synchronous answer exactly, so:

- :func:`remember_start` keeps the basis of a model's first solve (at compile time) as its start;
- inside :func:`solves_from_start` the first solve starts from that basis, and, with ``each=True``,
  every later solve starts from the basis the first one ended with (an FVA's optimum, a deletion
  batch's wild type), so each reaction's range and each deletion's growth depend on it alone, never
  on which other items share its request or chunk, nor on the engine's history.

Restoring a basis costs one GLPK call per row and column (about 0.5 ms for iMM904's 1,226 rows and
3,154 columns); GLPK refactorizes at every solve anyway (optlang rescales the problem first). Rows and
columns added after the basis was taken (cobra's FVA constraint, pFBA's) start basic and non-basic
at a bound, as GLPK makes new ones. Models on other solvers are left alone.
"""

from __future__ import annotations

import itertools
import weakref
from contextlib import contextmanager
from typing import Iterator

import cobra

# the C functions themselves, without SWIG's Python shims: 0.5 instead of 0.8 ms per iMM904 basis
from swiglpk import _swiglpk as glpk

Basis = tuple[list[int], list[int]]

#: per model: (the solver the basis belongs to, the basis of the model's first solve)
_STARTS: "weakref.WeakKeyDictionary[cobra.Model, tuple[object, Basis]]" = weakref.WeakKeyDictionary()


def _problem(model: cobra.Model):
    solver = model.solver
    problem = getattr(solver, "problem", None)
    if type(solver).__module__ != "optlang.glpk_interface" or problem is None:
        return None
    return problem


def save_basis(problem) -> Basis:
    rows = list(map(glpk.glp_get_row_stat, itertools.repeat(problem), range(1, glpk.glp_get_num_rows(problem) + 1)))
    cols = list(map(glpk.glp_get_col_stat, itertools.repeat(problem), range(1, glpk.glp_get_num_cols(problem) + 1)))
    return rows, cols


def restore_basis(problem, basis: Basis) -> None:
    rows, cols = basis
    m, n = glpk.glp_get_num_rows(problem), glpk.glp_get_num_cols(problem)
    if m > len(rows):
        rows = rows + [glpk.GLP_BS] * (m - len(rows))
    if n > len(cols):  # GLPK turns GLP_NL into the status that fits the column's bounds
        cols = cols + [glpk.GLP_NL] * (n - len(cols))
    list(map(glpk.glp_set_row_stat, itertools.repeat(problem, m), range(1, m + 1), rows[:m]))
    list(map(glpk.glp_set_col_stat, itertools.repeat(problem, n), range(1, n + 1), cols[:n]))


def remember_start(model: cobra.Model) -> None:
    """Keep the model's current basis (call after its first solve) as the start of every request."""
    problem = _problem(model)
    if problem is not None:
        _STARTS[model] = (model.solver, save_basis(problem))


class Start:
    """What :func:`solves_from_start` yields: :meth:`restart` makes the next solve start again from
    the basis the block's first solve ended with."""

    def __init__(self, problem, remembered: Basis, each: bool):
        self._problem = problem
        self._next = remembered
        self._first: Basis | None = None
        self._each = each

    def restart(self) -> None:
        if self._first is not None:
            self._next = self._first

    def before_solve(self) -> None:
        if self._next is not None:
            restore_basis(self._problem, self._next)
            self._next = self._first if self._each else None

    def after_solve(self) -> None:
        if self._first is None:
            self._first = save_basis(self._problem)
            self._next = self._first if self._each else None


@contextmanager
def solves_from_start(model: cobra.Model, each: bool = False) -> Iterator[Start | None]:
    """Within the block, the model's first solve starts from its remembered basis; later solves start
    from the basis the first one ended with when ``each`` is true or after ``Start.restart()``, and
    warm from the previous solve otherwise. Yields None for a model on another solver than GLPK."""
    problem = _problem(model)
    if problem is None:
        yield None
        return
    solver = model.solver
    remembered = _STARTS.get(model)
    if remembered is None or remembered[0] is not solver:  # a model compiled elsewhere: its basis now
        remember_start(model)
        remembered = _STARTS[model]
    start = Start(problem, remembered[1], each)
    optimize = solver._optimize

    def from_start():
        start.before_solve()
        status = optimize()
        start.after_solve()
        return status

    solver._optimize = from_start
    try:
        yield start
    finally:
        del solver._optimize  # the class's method again
