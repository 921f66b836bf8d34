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
    service = "static"

    def __init__(self, files=None):
        self._original: dict[ModelKey, ModelXml] = {}
        self._current: dict[ModelKey, ModelXml] = {}
        self._parsed: dict[str, object] = {}

    def load(self, key: ModelKey, xml: ModelXml) -> None:
        if key not in self._original:
            self._original[key] = xml
            self._current[key] = xml.copy()
            self._model(key)  # refuse a model cobra cannot read before any task runs

    def adapt(self, key: ModelKey, spec: SimulationSpec) -> SimulationSpec:
        return spec

    def xml(self, key: ModelKey) -> ModelXml:
        return self._current[key]

    def reset(self, key: ModelKey) -> None:
        self._current[key] = self._original[key].copy()

    def set_value(self, key: ModelKey, target: Target, value: float) -> None:
        attribute = target.attribute or _VALUE_ATTRIBUTE.get(target.kind)
        if target.kind == "species" and attribute is None:
            attribute = "initialAmount" if target.amount else "initialConcentration"
        if attribute is None:
            raise UnsupportedTask(target.id, "", f"a set value on a {target.kind} without an attribute")
        target.element.set(attribute, value_text(value))

    def get_value(self, key: ModelKey, target: Target) -> float:
        attribute = target.attribute or _VALUE_ATTRIBUTE.get(target.kind, "value")
        raw = next((v for k, v in target.element.attrib.items() if k.rsplit("}", 1)[-1] == attribute), None)
        if raw is None:
            raise ComputationFailed(f"{target.kind} {target.id!r} has no {attribute!r} in the model")
        return float(raw)

    def _model(self, key: ModelKey):
        text = self._current[key].text()
        digest = hashlib.sha256(text.encode()).hexdigest()
        model = self._parsed.get(digest)
        if model is None:
            if len(self._parsed) >= MAX_PARSED:
                self._parsed.pop(next(iter(self._parsed)))
            model = parse_sbml(text, key)
            model.solver = "glpk"
            self._parsed[digest] = model
        return model

    def run(self, key: ModelKey, spec: SimulationSpec, targets: dict[str, Target | None],
            warnings: list[str]) -> dict[str, np.ndarray]:
        for name in spec.parameters:
            warnings.append(f"task {spec.task!r}: algorithm parameter {name} has no effect on COBRApy's "
                            f"{spec.algorithm.name}; ignored")
        model = self._model(key)
        readers = {var: self._reader(model, spec, var, target) for var, target in targets.items()}
        with model:
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
        replace = F_REPLACE["F_REACTION" if target.kind == "reaction" else "F_SPECIE"]
        ident = target.id if container.has_id(target.id) else replace(target.id)
        if not container.has_id(ident):
            raise unsupported(f"the model as COBRApy reads it has no {target.kind} {target.id!r}")
        attribute = target.attribute

        def read(tables):
            table = tables[attribute]
            return float("nan") if table is None else float(table[ident])
        return read
