"""SED-ML flux-balance tasks on COBRApy: FBA (KISAO_0000437), parsimonious FBA (0000528) and flux
variability analysis (0000526) of a steady-state simulation, on models read the way the metabolic
service reads inline SBML (:func:`~bioxen_services.static.models.parse_sbml`).

Variable targets, as BioSimulators' COBRApy simulator reads them: an fbc objective's ``@value`` (the
objective value), a reaction's ``@flux`` (``@minFlux`` / ``@maxFlux`` for FVA) or ``@reducedCost``, a
species' ``@shadowPrice``. Changes, including a repeated task's set values, are made in the model's
XML, which is read again (once per distinct text): a flux bound is an SBML parameter there.
"""

from __future__ import annotations

import hashlib

import numpy as np
from cobra.flux_analysis import flux_variability_analysis, pfba
from cobra.io.sbml import F_REPLACE

from ..errors import ComputationFailed, UnsupportedTask
from ..static.models import parse_sbml
from . import kisao
from .plan import ModelKey, SimulationSpec
from .sedml import ModelXml, Target, value_text

#: most distinct model texts kept parsed during one experiment (a scan over bounds parses each point)
MAX_PARSED = 8
_VALUE_ATTRIBUTE = {"parameter": "value", "compartment": "size"}


class MetabolicBackend:
    """A set value on a parameter that is a flux bound (fbc's ``lowerFluxBound`` / ``upperFluxBound``)
    becomes a bound on the cobra model inside ``with model:`` (a scan over an uptake rate parses the
    model once); any other change is made in the XML, which is read again."""

    service = "static"

    def __init__(self, files=None):
        self._original: dict[ModelKey, ModelXml] = {}
        self._current: dict[ModelKey, ModelXml] = {}
        self._parsed: dict[str, object] = {}
        #: per model: flux-bound parameter id -> the (SBML reaction id, "lower" | "upper") it bounds
        self._bound_uses: dict[ModelKey, dict[str, list[tuple[str, str]]]] = {}
        #: per model: flux-bound parameters set since the last reset, and whether anything else was
        self._bounds: dict[ModelKey, dict[str, float]] = {}
        self._edited: dict[ModelKey, bool] = {}

    def load(self, key: ModelKey, xml: ModelXml) -> None:
        if key not in self._original:
            self._original[key] = xml
            self._bound_uses[key] = _bound_uses(xml)
            self.reset(key)
            self._model(key)  # refuse a model cobra cannot read before any task runs

    def adapt(self, key: ModelKey, spec: SimulationSpec) -> SimulationSpec:
        return spec

    def xml(self, key: ModelKey) -> ModelXml:
        return self._current[key]

    def reset(self, key: ModelKey) -> None:
        self._current[key] = self._original[key].copy()
        self._bounds[key] = {}
        self._edited[key] = False

    def set_value(self, key: ModelKey, target: Target, value: float) -> None:
        attribute = target.attribute or _VALUE_ATTRIBUTE.get(target.kind)
        if target.kind == "species" and attribute is None:
            attribute = "initialAmount" if target.amount else "initialConcentration"
        if attribute is None:
            raise UnsupportedTask(target.id, "", f"a set value on a {target.kind} without an attribute")
        target.element.set(attribute, value_text(value))  # what get_value reads
        if target.kind == "parameter" and attribute == "value" and target.id in self._bound_uses[key]:
            self._bounds[key][target.id] = float(value)
        else:
            self._edited[key] = True

    def get_value(self, key: ModelKey, target: Target) -> float:
        attribute = target.attribute or _VALUE_ATTRIBUTE.get(target.kind, "value")
        raw = next((v for k, v in target.element.attrib.items() if k.rsplit("}", 1)[-1] == attribute), None)
        if raw is None:
            raise ComputationFailed(f"{target.kind} {target.id!r} has no {attribute!r} in the model")
        return float(raw)

    def _model(self, key: ModelKey):
        text = (self._current[key] if self._edited[key] else self._original[key]).text()
        digest = hashlib.sha256(text.encode()).hexdigest()
        model = self._parsed.get(digest)
        if model is None:
            if len(self._parsed) >= MAX_PARSED:
                self._parsed.pop(next(iter(self._parsed)))
            model = parse_sbml(text, key)
            model.solver = "glpk"
            self._parsed[digest] = model
        return model

    def _apply_bounds(self, key: ModelKey, model) -> None:
        """The flux-bound parameters set since the reset, on ``model`` (inside ``with model:``)."""
        for parameter, value in self._bounds[key].items():
            for sbml_id, side in self._bound_uses[key][parameter]:
                reaction = model.reactions.get_by_id(_cobra_id(model.reactions, sbml_id, "F_REACTION"))
                lower, upper = reaction.bounds
                bounds = (value, upper) if side == "lower" else (lower, value)
                if bounds[0] > bounds[1]:
                    raise ComputationFailed(f"setting {parameter!r} to {value:g} gives reaction "
                                            f"{reaction.id!r} a lower bound above its upper bound {bounds}")
                reaction.bounds = bounds

    def run(self, key: ModelKey, spec: SimulationSpec, targets: dict[str, Target | None],
            warnings: list[str]) -> dict[str, np.ndarray]:
        for name in spec.parameters:
            warnings.append(f"task {spec.task!r}: algorithm parameter {name} has no effect on COBRApy's "
                            f"{spec.algorithm.name}; ignored")
        model = self._model(key)
        readers = {var: self._reader(model, spec, var, target) for var, target in targets.items()}
        with model:
            self._apply_bounds(key, model)
            objective = model.slim_optimize(error_value=float("nan"))
            fluxes = reduced = prices = ranges = None
            if np.isnan(objective):
                warnings.append(f"task {spec.task!r}: the problem has no optimal solution "
                                f"({model.solver.status}); its values are NaN")
            elif spec.algorithm.kind == kisao.FVA:
                ranges = flux_variability_analysis(model, fraction_of_optimum=1.0)
            else:
                solution = pfba(model) if spec.algorithm.kind == kisao.PFBA else model.optimize()
                fluxes, reduced, prices = solution.fluxes, solution.reduced_costs, solution.shadow_prices
        tables = {"objective": objective, "flux": fluxes, "reducedCost": reduced, "shadowPrice": prices,
                  "minFlux": None if ranges is None else ranges["minimum"],
                  "maxFlux": None if ranges is None else ranges["maximum"]}
        return {var: np.asarray(read(tables)) for var, read in readers.items()}

    @staticmethod
    def _reader(model, spec: SimulationSpec, var: str, target: Target | None):
        """How to read the variable's value from the solution's tables (checked before solving)."""
        def unsupported(why):
            return UnsupportedTask(spec.task, spec.sedml, f"variable {var!r}: {why}")

        if target is None:
            raise unsupported("a flux-balance task has no time")
        if target.kind == "objective" and target.attribute in (None, "value"):
            return lambda tables: tables["objective"]
        allowed = {"reaction": ("flux", "reducedCost") if spec.algorithm.kind != kisao.FVA else ("minFlux", "maxFlux"),
                   "species": ("shadowPrice",)}.get(target.kind, ())
        if target.attribute not in allowed:
            raise unsupported(f"{target.kind} {target.id!r} /@{target.attribute} is not a result of "
                              f"{spec.algorithm.name} (targets: objective @value, reaction "
                              f"{', '.join('@' + a for a in allowed) or '-'})")
        container = model.reactions if target.kind == "reaction" else model.metabolites
        ident = _cobra_id(container, target.id, "F_REACTION" if target.kind == "reaction" else "F_SPECIE")
        if not container.has_id(ident):
            raise unsupported(f"the model as COBRApy reads it has no {target.kind} {target.id!r}")
        attribute = target.attribute

        def read(tables):
            table = tables[attribute]
            return float("nan") if table is None else float(table[ident])
        return read


def _cobra_id(container, sbml_id: str, kind: str) -> str:
    """The id cobra gave an SBML reaction or species (it strips BiGG's ``R_`` / ``M_`` prefixes)."""
    return sbml_id if container.has_id(sbml_id) else F_REPLACE[kind](sbml_id)


def _bound_uses(xml: ModelXml) -> dict[str, list[tuple[str, str]]]:
    uses: dict[str, list[tuple[str, str]]] = {}
    for element in xml.root.iter():
        if not element.tag.endswith("}reaction"):
            continue
        for name, value in element.attrib.items():
            side = {"lowerFluxBound": "lower", "upperFluxBound": "upper"}.get(name.rsplit("}", 1)[-1])
            if side:
                uses.setdefault(value, []).append((element.get("id", ""), side))
    return uses
