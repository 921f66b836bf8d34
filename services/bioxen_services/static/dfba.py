"""Dynamic flux-balance analysis (dFBA) of a batch culture, as plain functions on a cached cobra Model.

State: biomass ``X`` (gDW/L) and the extracellular concentrations ``S_j`` (mM) of the exchange
reactions named in the request. Rates: at every step an FBA of the cell, with the uptake of each
tracked substrate bounded by its kinetics, gives the growth rate ``mu`` (1/h, the flux of the
objective reaction) and the exchange fluxes ``v_j`` (mmol/gDW/h, positive = secretion)::

    dX/dt = mu X                  dS_j/dt = v_j X

Method: the static-optimization approach (SOA) of Mahadevan, Edwards & Doyle (2002), "Dynamic flux
balance analysis of diauxic growth in Escherichia coli", Biophys. J. 83:1331-1340, with an adaptive
explicit step:

- Within a step the FBA fluxes are held constant (the SOA assumption), so the step is integrated
  exactly: ``X(t+h) = X e^(mu h)`` and ``S_j(t+h) = S_j + v_j X (e^(mu h) - 1) / mu``.
- The step is at most ``max_step`` (default: the output spacing, capped at :data:`DEFAULT_MAX_STEP`),
  never crosses an output time, and is shortened so that no substrate with uptake kinetics changes
  by more than ``RTOL * (S + Km)`` (which resolves the Michaelis-Menten bend near exhaustion).
- A step that would drive a substrate below zero is cut at the exact time it runs out (an event);
  the substrate is then set to 0, so concentrations never overshoot to negative values.
- Uptake bounds: Michaelis-Menten ``vmax S / (Km + S)``, or an arithmetic expression of the state
  (:mod:`.dfba_uptake`, e.g. acetate uptake repressed by glucose), for exchanges given kinetics (replacing
  the model's own uptake bound, but within ``bounds`` when the request gives some); an exchange
  tracked without kinetics may take up only what is present, at most ``S / (X max_step)`` and never
  more than its model or request bound (e_coli_core's closed acetate uptake stays closed); exchanges
  not tracked keep their bounds (unlimited medium components such as oxygen, unless the request
  bounds them).
- When the FBA has no optimal solution (typically: the substrate is exhausted and maintenance
  cannot be met), growth stops: the rates are zero, so the state is frozen from there on and the
  remaining output points carry that state with the solver's status. The run does not fail.

The direct method of Harwood et al. (2016), "Dynamic flux balance analysis using linear
programming with lexicographic optimisation", J. Comput. Appl. Math., as implemented in the ``dfba``
package (Tourigny et al. 2020, JOSS 5:2342), integrates with an implicit ODE solver and switches LP
bases at events; this module does not reproduce it (it needs SUNDIALS and a compiled extension).
Alternative optima are resolved by the solver as in plain FBA (no lexicographic objectives).

Every model change happens inside one ``with model:`` block: the cached model gets its bounds and
objective back when the run ends or fails; nothing is copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cobra
from optlang.interface import OPTIMAL

from ..errors import ComputationFailed, ValidationError
from ..modelref import MAX_BOUND
from .engine import Changes, apply_changes, check_changes, check_reactions, objective_ids
from .dfba_uptake import ExpressionUptake, Uptake
from .lp_start import solves_from_start

METHOD = "static-optimization (Mahadevan et al. 2002), adaptive explicit step with exhaustion events"
#: default upper limit of the internal step, hours
DEFAULT_MAX_STEP = 0.1
#: most relative change of a kinetic substrate in one step, measured against (S + Km)
RTOL = 0.05
#: the shortest step, as a fraction of the maximum step (guards against endless shrinking)
MIN_STEP_FRACTION = 1e-3


@dataclass
class DfbaProblem:
    biomass: float
    concentrations: dict[str, float]
    end: float
    start: float = 0.0
    points: int = 101
    uptake: dict[str, Uptake | ExpressionUptake] = field(default_factory=dict)
    fluxes: list[str] | None = None  # reactions to report; default: the tracked exchanges
    objective: str | None = None
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    max_step: float | None = None

    def output_times(self) -> list[float]:
        span = self.end - self.start
        n = self.points - 1
        return [self.start + span * i / n for i in range(n)] + [self.end]

    def step(self) -> float:
        spacing = (self.end - self.start) / (self.points - 1)
        return self.max_step if self.max_step is not None else min(spacing, DEFAULT_MAX_STEP)


class DfbaResult(dict):
    """The run as a JSON-ready dict. ``result["status"]`` lists the solver status of every output
    point; the attribute ``status`` is the one at the end (the bounded label the runtime counts the
    run under: "infeasible" when growth ended, "optimal" when still growing)."""

    @property
    def status(self) -> str:
        return self["status"][-1]


@dataclass
class _Exchange:
    """A tracked exchange reaction: ``secretion = direction * flux`` (mmol/gDW/h)."""

    reaction: cobra.Reaction
    direction: float  # -coefficient of its one metabolite: +1 for "met <=>", -1 for "<=> met"
    bounds: tuple[float, float]  # after the request's changes, before kinetics
    uptake: Uptake | ExpressionUptake | None

    def limit_uptake(self, most: float) -> None:
        """Bound uptake to ``most`` (>= 0) within the exchange's own bounds. A limit past
        :data:`~bioxen_services.modelref.MAX_BOUND` (a huge rate, or a tiny biomass) binds nothing:
        it is left out rather than handed to GLPK, which aborts on bounds near 1e308."""
        if most > MAX_BOUND:
            most = math.inf
        lb, ub = self.bounds
        if self.direction > 0:
            self.reaction.bounds = (max(lb, -most), ub)
        else:
            self.reaction.bounds = (lb, min(ub, most))


def _exchange_direction(model: cobra.Model, rid: str) -> float:
    reaction = model.reactions.get_by_id(rid)
    if reaction not in model.boundary or len(reaction.metabolites) != 1:
        raise ValidationError(f"concentrations can be given only for exchange (boundary) reactions with "
                              f"one metabolite; {rid!r} is not one in model {model.id!r}")
    (coefficient,) = reaction.metabolites.values()
    return -math.copysign(1.0, coefficient)


def _exchange(model: cobra.Model, rid: str, problem: DfbaProblem) -> _Exchange:
    reaction = model.reactions.get_by_id(rid)
    direction = _exchange_direction(model, rid)
    lb, ub = reaction.bounds
    kinetics = problem.uptake.get(rid)
    if kinetics is not None and rid not in problem.bounds:
        # kinetics replace the model's medium bound on uptake (e_coli_core closes acetate uptake)
        lb, ub = (-math.inf, ub) if direction > 0 else (lb, math.inf)
    return _Exchange(reaction, direction, (lb, ub), kinetics)


def check_problem(model: cobra.Model, problem: DfbaProblem) -> Changes:
    """Refuse unknown or unsuitable ids before touching the model; the changes to apply."""
    check_reactions(model, problem.concentrations)
    check_reactions(model, problem.uptake)
    if problem.fluxes is not None:
        check_reactions(model, problem.fluxes)
    changes = Changes(objective=problem.objective, bounds=problem.bounds)
    check_changes(model, changes)
    untracked = sorted(set(problem.uptake) - set(problem.concentrations))
    if untracked:
        raise ValidationError(f"uptake kinetics given for {untracked} without an initial concentration; "
                              "add them to concentrations")
    for rid in problem.concentrations:
        _exchange_direction(model, rid)
        lb, ub = problem.bounds.get(rid, model.reactions.get_by_id(rid).bounds)
        if not lb <= 0 <= ub:
            raise ValidationError(f"the bounds of {rid!r} ({lb}, {ub}) force secretion or uptake; a tracked "
                                  "exchange must allow zero flux")
    return changes


def _growth_factor(mu: float, h: float) -> float:
    """Integral of ``e^(mu t)`` over ``[0, h]``: the biomass-time a step accumulates per unit of X."""
    return math.expm1(mu * h) / mu if abs(mu * h) > 1e-12 else h


def _time_to_exhaustion(amount: float, secretion: float, biomass: float, mu: float) -> float:
    """When ``amount + secretion X (e^(mu t) - 1) / mu`` reaches 0 (``secretion`` < 0); inf if never."""
    consumed_per_growth = amount / (-secretion * biomass)
    if abs(mu) < 1e-12:
        return consumed_per_growth
    arg = consumed_per_growth * mu
    return math.log1p(arg) / mu if arg > -1 else math.inf


def _next_step(h: float, min_step: float, exchanges: dict[str, _Exchange], secretion: dict[str, float],
               biomass: float, mu: float, conc: dict[str, float]) -> tuple[float, list[str]]:
    """The step from ``h`` (at most): shortened to keep each kinetic substrate's change within
    ``RTOL * (S + Km)`` (not below ``min_step``), then cut at the first exhaustion, whose exchanges
    are returned so the caller sets them to exactly zero."""
    for rid, ex in exchanges.items():
        rate = -secretion[rid] * biomass
        if ex.uptake is not None and rate > 0:
            h = min(h, max(min_step, RTOL * (conc[rid] + ex.uptake.km) / rate))
    exhausted: list[str] = []
    for rid, sec in secretion.items():
        if sec < 0:
            t_out = _time_to_exhaustion(conc[rid], sec, biomass, mu)
            if t_out < h:
                h, exhausted = t_out, [rid]
            elif t_out == h:
                exhausted.append(rid)
    return h, exhausted


def growth_reaction(model: cobra.Model) -> cobra.Reaction:
    """The objective's one reaction (call with the request's changes applied)."""
    objective = objective_ids(model)
    if len(objective) != 1:
        raise ValidationError(f"dFBA needs one growth reaction as objective; model {model.id!r} has "
                              f"{objective}: name one with 'objective'")
    return model.reactions.get_by_id(objective[0])


class _Solver:
    """The FBA of one state, with the exchanges' uptake bounds set from the state."""

    def __init__(self, model: cobra.Model, problem: DfbaProblem, exchanges: dict[str, _Exchange]):
        self.model = model
        self.exchanges = exchanges
        self.growth = growth_reaction(model)
        report = problem.fluxes if problem.fluxes is not None else list(problem.concentrations)
        self.report = [model.reactions.get_by_id(r) for r in report]
        self.step = problem.step()
        self.solves = 0

    def solve(self, biomass: float, conc: dict[str, float]):
        """(status, growth rate, secretion per tracked exchange, reported fluxes or None)."""
        env = {**conc, "X": biomass}
        for rid, ex in self.exchanges.items():
            s = conc[rid]
            if ex.uptake is not None:
                ex.limit_uptake(ex.uptake.rate(s, env))
            else:
                ex.limit_uptake(s / (biomass * self.step) if s > 0 else 0.0)
        self.model.slim_optimize(error_value=float("nan"))
        self.solves += 1
        status = self.model.solver.status
        if status != OPTIMAL:
            return status, 0.0, None, None
        primals = self.model.solver.primal_values

        def net(r):
            return primals[r.id] - primals[r.reverse_id]

        secretion = {rid: ex.direction * net(ex.reaction) for rid, ex in self.exchanges.items()}
        return status, net(self.growth), secretion, {r.id: net(r) for r in self.report}


def run_dfba(model: cobra.Model, problem: DfbaProblem) -> DfbaResult:
    """Integrate the batch culture over the output grid; see the module docstring for the method."""
    changes = check_problem(model, problem)
    times = problem.output_times()
    max_step = problem.step()
    min_step = max_step * MIN_STEP_FRACTION
    out = DfbaResult({"time": times, "biomass": [], "concentrations": {rid: [] for rid in problem.concentrations},
                      "fluxes": {}, "growth_rate": [], "status": []})
    with model, solves_from_start(model):
        apply_changes(model, changes)
        exchanges = {rid: _exchange(model, rid, problem) for rid in problem.concentrations}
        solver = _Solver(model, problem, exchanges)
        out["fluxes"] = {r.id: [] for r in solver.report}
        t, biomass = problem.start, float(problem.biomass)
        conc = {rid: float(v) for rid, v in problem.concentrations.items()}
        status, mu, secretion, reported = solver.solve(biomass, conc)
        for k, target in enumerate(times):
            while k > 0 and t < target:
                if secretion is None:  # no growth, no exchange: the state is frozen
                    t = target
                    break
                h, exhausted = _next_step(min(max_step, target - t), min_step, exchanges, secretion,
                                          biomass, mu, conc)
                grown = biomass * _growth_factor(mu, h)
                for rid, sec in secretion.items():
                    conc[rid] = max(0.0, conc[rid] + sec * grown)
                for rid in exhausted:
                    conc[rid] = 0.0
                biomass *= math.exp(mu * h)
                if not math.isfinite(biomass) or any(not math.isfinite(c) for c in conc.values()):
                    raise ComputationFailed(
                        f"the state overflowed at t = {t:g} h (growth rate {mu:g}/h from objective "
                        f"{solver.growth.id!r}); the objective must be a growth rate in 1/h")
                t = target if target - t - h <= 1e-12 * max(1.0, abs(target)) else t + h
                status, mu, secretion, reported = solver.solve(biomass, conc)
            out["biomass"].append(biomass)
            for rid in conc:
                out["concentrations"][rid].append(conc[rid])
            out["growth_rate"].append(mu)
            out["status"].append(status)
            for rid, series in out["fluxes"].items():
                series.append(None if reported is None else reported[rid])
        out["objective"] = solver.growth.id
        out["solves"] = solver.solves
    out["method"] = METHOD
    out["max_step"] = max_step
    return out
