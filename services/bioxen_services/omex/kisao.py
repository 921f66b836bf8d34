"""KiSAO ids of SED-ML algorithms and algorithm parameters, mapped onto what our two engines have.

A small table of our own rather than the ``kisao`` package (the ontology with its "is a" graph): the
question asked here is never "what is close to X in the ontology" but "which of the five libRoadRunner
integrators or three COBRApy methods runs X, and is that the same method or a substitute". That answer
is a decision about our engines that the ontology cannot make; the table states it, with the reason
each substitute is acceptable (BioSimulators' algorithm-substitution policy: same model semantics,
same kind of result, e.g. one deterministic ODE integrator for another). An id in neither table is a
task this service cannot run (:class:`~bioxen_services.errors.UnsupportedTask`).

Ids are written ``KISAO_0000019``; SED-ML files write ``KISAO:0000019`` too (:func:`normalise`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: what a simulation computes: a time course (deterministic or stochastic), a steady state of the ODEs,
#: or a constraint-based solution
ODE, SSA, STEADY, FBA, PFBA, FVA = "ode", "ssa", "steady_state", "fba", "pfba", "fva"
#: which service runs each kind
SERVICE_OF_KIND = {ODE: "dynamic", SSA: "dynamic", STEADY: "dynamic",
                   FBA: "static", PFBA: "static", FVA: "static"}


@dataclass(frozen=True)
class Algorithm:
    kisao: str
    name: str
    kind: str
    #: the libRoadRunner integrator or steady-state solver, or the cobra method
    engine: str


ALGORITHMS = {a.kisao: a for a in (
    Algorithm("KISAO_0000019", "CVODE", ODE, "cvode"),
    Algorithm("KISAO_0000496", "CVODES", ODE, "cvode"),
    Algorithm("KISAO_0000086", "Runge-Kutta-Fehlberg 4(5)", ODE, "rk45"),
    Algorithm("KISAO_0000032", "explicit fourth-order Runge-Kutta", ODE, "rk4"),
    Algorithm("KISAO_0000030", "forward Euler", ODE, "euler"),
    Algorithm("KISAO_0000029", "Gillespie direct method", SSA, "gillespie"),
    Algorithm("KISAO_0000569", "NLEQ2", STEADY, "nleq2"),
    Algorithm("KISAO_0000437", "flux balance analysis", FBA, "cobra-fba"),
    Algorithm("KISAO_0000528", "parsimonious flux balance analysis", PFBA, "cobra-pfba"),
    Algorithm("KISAO_0000526", "flux variability analysis", FVA, "cobra-fva"),
)}

#: asked-for id -> (the id run instead, why that is acceptable)
SUBSTITUTES = {
    "KISAO_0000088": ("KISAO_0000019", ("LSODA (stiff/non-stiff switching BDF/Adams) is not in libRoadRunner; "
                                       "CVODE is the same family of variable-order multistep ODE integrators")),
    "KISAO_0000560": ("KISAO_0000019", ("LSODAR (LSODA with root finding) is not in libRoadRunner; CVODE "
                                       "integrates the same ODEs and locates events itself")),
    "KISAO_0000089": ("KISAO_0000019", "LSODI is not in libRoadRunner; CVODE integrates the same ODEs"),
    "KISAO_0000094": ("KISAO_0000019", ("the Livermore solver is not in libRoadRunner; CVODE integrates the "
                                       "same ODEs")),
    "KISAO_0000087": ("KISAO_0000086", ("Dormand-Prince 4(5) is not in libRoadRunner; Runge-Kutta-Fehlberg 4(5) "
                                       "is the embedded explicit method of the same order")),
    "KISAO_0000433": ("KISAO_0000019", "a CVODE-like method: CVODE itself"),
    "KISAO_0000694": ("KISAO_0000019", "an ODE solver: CVODE"),
    "KISAO_0000027": ("KISAO_0000029", ("the Gibson-Bruck next-reaction method is not in libRoadRunner; "
                                       "Gillespie's direct method samples the same exact stochastic process")),
    "KISAO_0000241": ("KISAO_0000029", "a Gillespie-like method: Gillespie's direct method"),
    "KISAO_0000282": ("KISAO_0000569", "KINSOL is not in libRoadRunner; NLEQ2 solves the same steady state"),
    "KISAO_0000568": ("KISAO_0000569", "NLEQ1 is not in libRoadRunner's default set; NLEQ2 is its successor"),
    "KISAO_0000407": ("KISAO_0000569", "steady-state root finding: NLEQ2"),
    "KISAO_0000408": ("KISAO_0000569", "a Newton-type method: NLEQ2 (damped Newton)"),
    "KISAO_0000554": ("KISAO_0000437", ("geometric FBA is not in COBRApy's service methods; plain FBA gives "
                                       "the same objective value (fluxes may differ within the optimal set)")),
}

#: more KiSAO ids of each family above, run as the family's method: their representative -> (what they
#: are, their numbers). Which id belongs to which family is the mapping libRoadRunner's own SED-ML front
#: end uses (Tellurium 2.2.13, ``tellurium/sedml/tesedml.py``, its ``KISAOS_*`` lists); ids it files under
#: two families (99, 274, 407, 437) are left to the tables above. Exact stochastic methods and their
#: approximations (tau-leaping and hybrids) all become Gillespie's direct method, the exact process they
#: sample or approximate.
FAMILIES = {
    "KISAO_0000019": ("an implicit multistep ODE integrator (BDF or Adams family)", (35, 71, 280, 288)),
    "KISAO_0000032": ("an explicit Runge-Kutta method", (64,)),
    "KISAO_0000086": ("an embedded Runge-Kutta 4(5) method", (321, 434, 435)),
    "KISAO_0000030": ("an Euler method", (261,)),
    "KISAO_0000029": ("a stochastic simulation method (exact, tau-leaping or hybrid)",
                      (3, 15, 22, 28, 38, 39, 40, 45, 46, 48, 51, 74, 75, 76, 81, 82, 84, 95, 278, 319, 323, 324,
                       329, 330, 331, 333, 335, 336, 350, 351)),
    "KISAO_0000569": ("a nonlinear steady-state solver", (283, 355, 356, 409, 410, 411, 412, 413, 432)),
}
for _used, (_what, _numbers) in FAMILIES.items():
    for _number in _numbers:
        SUBSTITUTES.setdefault(f"KISAO_{_number:07d}", (_used, (
            f"{_what}, not in our engine; {ALGORITHMS[_used].name} is the one of its family the engine has")))

#: SED-ML algorithm parameters we honour: id -> short name used by the engines' code
PARAMETERS = {
    "KISAO_0000209": "relative_tolerance",
    "KISAO_0000211": "absolute_tolerance",
    "KISAO_0000415": "maximum_num_steps",
    "KISAO_0000467": "maximum_time_step",
    "KISAO_0000485": "minimum_time_step",
    "KISAO_0000483": "step_size",
    "KISAO_0000488": "seed",
}

_ID = re.compile(r"^KISAO[:_](\d{7})$")


def normalise(kisao_id: str | None) -> str | None:
    """``KISAO:0000019`` / ``KISAO_0000019`` -> ``KISAO_0000019``; anything else unchanged."""
    if not kisao_id:
        return None
    match = _ID.match(kisao_id.strip())
    return f"KISAO_{match.group(1)}" if match else kisao_id.strip()


def choose(kisao_id: str | None) -> tuple[Algorithm, str | None] | None:
    """The algorithm run for ``kisao_id`` and, when it is a substitute, why; None when neither table
    knows the id."""
    kisao_id = normalise(kisao_id)
    if kisao_id in ALGORITHMS:
        return ALGORITHMS[kisao_id], None
    if kisao_id in SUBSTITUTES:
        used, reason = SUBSTITUTES[kisao_id]
        return ALGORITHMS[used], reason
    return None


def service_for(kisao_id: str | None) -> str | None:
    """The service ("static" or "dynamic") that runs a simulation asking for ``kisao_id``, or None."""
    chosen = choose(kisao_id)
    return SERVICE_OF_KIND[chosen[0].kind] if chosen else None
