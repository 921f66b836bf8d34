"""Requests and answers of the dynamic kinetic service (libRoadRunner). Time is in the model's time
unit; species values are concentrations or amounts as ``species_values`` says."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge, Le, MinLen
from pydantic import BeforeValidator, Field, model_validator

from .common import Answer, KineticModel, ModelInfo, Phase1Answer, Phase1Request
from .fields import Body, Bool, Number, NumberMap, Positive, StrList, Whole, check_span, fail, number, whole

Integrator = Literal["cvode", "gillespie"]
SpeciesValues = Literal["concentrations", "amounts"]

Parameters = NumberMap(Number, "parameter values for this run, by global parameter id")
InitialConditions = NumberMap(Annotated[float, Ge(0), BeforeValidator(number)], "initial values (>= 0) by species id, "
                                                               "concentrations or amounts as species_values says")


class _Values(Body):
    """What a species id means and what the run starts from."""

    model: KineticModel
    parameters: Parameters = Field(default_factory=dict)
    initial_conditions: InitialConditions = Field(default_factory=dict)
    species_values: SpeciesValues = Field("concentrations", description="what a bare species id means in "
                                                                        "selections, initial conditions and "
                                                                        "answers")


class _TimeCourse(_Values):
    start: Number = Field(0.0, ge=0, description="start time, model time units")
    end: Number = Field(10.0, description="end time, model time units")
    points: Whole = Field(100, ge=2, description="output time points, start and end included")
    selections: StrList | None = Field(None, description="what to report: species, parameter or reaction ids "
                                                         "([S] for a concentration); default: every species")
    integrator: Integrator = Field("cvode", description="cvode (deterministic ODE) or gillespie (stochastic)")
    seed: whole(Ge(0), Le(2**31 - 1)) | None = Field(None, description="random seed (gillespie, or random "
                                                                     "functions); a fresh one when absent")
    absolute_tolerance: Positive | None = Field(None, description="CVODE absolute tolerance")
    relative_tolerance: Positive | None = Field(None, description="CVODE relative tolerance")

    @model_validator(mode="after")
    def _span(self):
        check_span(self.start, self.end)
        if self.integrator != "cvode" and (self.absolute_tolerance or self.relative_tolerance):
            raise fail("absolute_tolerance and relative_tolerance apply to the cvode integrator only")
        return self


class SimulateRequest(_TimeCourse):
    repetitions: whole(Ge(1)) | None = Field(None, description="an ensemble: this many runs (run i seeded "
                                                              "seed + i), answered as mean and sd per point")
    return_runs: Bool = Field(False, description="with repetitions: also return every run")

    @model_validator(mode="after")
    def _runs(self):
        if self.return_runs and self.repetitions is None:
            raise fail("return_runs needs repetitions")
        return self


class SteadyStateRequest(_Values):
    pass


def _grid(value: Any) -> Any:
    if not isinstance(value, dict):
        raise fail(f"must be an object, got {'array' if isinstance(value, list) else type(value).__name__}")
    if not value:
        raise fail("must name at least one parameter: {\"k\": [values...]}")
    for pid, values in value.items():
        if not isinstance(values, list) or not values:
            raise fail(f"[{pid!r}] must be a non-empty array of numbers")
    return value


Grid = Annotated[dict[str, Annotated[list[Number], MinLen(1)]], BeforeValidator(_grid),
                 Field(description="values of each parameter; every combination is run",
                       json_schema_extra={"minProperties": 1}, examples=[{"k_translation": [0.1, 0.2]}])]


class ScanRequest(_TimeCourse):
    grid: Grid
    output: Literal["final", "trajectories"] = Field("final", description="final values, or whole trajectories")


class Phase1KineticRequest(Phase1Request):
    """The phase-1 contract: simulate Antimony (or SBML) text, or the default gene-expression program.
    Other fields are accepted and ignored."""

    kinetic_code: str | None = Field(None, description="Antimony or SBML text; the gene-expression program "
                                                       "when absent or blank")
    initial_conditions: InitialConditions = Field(default_factory=dict)
    time_start: Number = Field(0.0, ge=0, description="start time")
    time_end: Number = Field(10.0, description="end time")
    time_points: Whole = Field(100, ge=2, description="output time points")

    @model_validator(mode="after")
    def _span(self):
        check_span(self.time_start, self.time_end)
        return self


# -- answers -------------------------------------------------------------------------------------
Series = list[float | None]


class Units(Answer):
    """What an answer's numbers are measured in, from the model's SBML unit definitions; null where the
    model declares nothing to go on (SBML Level 3 without model units, most Antimony programs)."""

    time: str | None = Field(description="the model's time unit (s, min, h ...)")
    quantity: Literal["concentration", "amount"] = Field(description="what a bare species id's values are "
                                                                     "(species_values); [S] is always a "
                                                                     "concentration")
    values: dict[str, str | None] = Field(description="unit by id (selection, species, reaction or scanned "
                                                      "parameter): mM, nmol, item, 1/min ...")


def units_field():
    return Field(None, description="units of the answer's values, from the model")


class SimulateAnswer(Answer):
    status: str
    time: Series
    trajectories: dict[str, Series] | None = Field(None, description="one run: values by selection")
    mean: dict[str, Series] | None = Field(None, description="an ensemble: mean per point by selection")
    sd: dict[str, Series] | None = Field(None, description="an ensemble: sample standard deviation per point")
    runs: list[dict[str, Series]] | None = Field(None, description="an ensemble with return_runs: every run")
    integrator: Integrator
    species_values: SpeciesValues
    seed: int | None = Field(None, description="the seed used (stochastic runs)")
    repetitions: int | None = None
    units: Units | None = units_field()
    model: ModelInfo


class SteadyStateAnswer(Answer):
    status: str
    species_values: SpeciesValues
    steady_state: dict[str, float | None] = Field(description="species values at the steady state")
    reaction_rates: dict[str, float | None] = Field(description="reaction rates at the steady state")
    units: Units | None = units_field()
    model: ModelInfo


class ScanAnswer(Answer):
    status: str
    parameters: list[str] = Field(description="the scanned parameter ids, in the order of each point's values")
    points: list[list[float]] = Field(description="the grid points: values of the parameters, in that order")
    species_values: SpeciesValues
    seed: int | None = Field(None, description="the seed used (stochastic runs)")
    final: dict[str, Series] | None = Field(None, description="output final: the value at end of each "
                                                              "selection, one per grid point")
    time_end: float | None = Field(None, description="output final: the time of those values")
    time: Series | None = Field(None, description="output trajectories: the time points")
    trajectories: list[dict[str, Series]] | None = Field(None, description="output trajectories: one per grid "
                                                                           "point, values by selection")
    units: Units | None = units_field()
    model: ModelInfo


class Phase1KineticAnswer(Phase1Answer):
    computation_type: Literal["dynamic_kinetic"]
    time_vector: Series
    species_trajectories: dict[str, Series]
    final_state: Series
    species: list[str]
    program_key: str


class KineticProgramSummary(Answer):
    id: str
    sha256: str
    format: str = Field(description="antimony or sbml")
    description: str
    floating_species: list[str]


class KineticProgramDetail(KineticProgramSummary):
    boundary_species: list[str]
    parameters: dict[str, float]
    reactions: list[str]


class KineticProgramList(Answer):
    models: list[KineticProgramSummary]
