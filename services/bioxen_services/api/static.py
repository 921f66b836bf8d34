"""Requests and answers of the static metabolic service (COBRApy). Units: fluxes and flux bounds in
mmol/gDW/h, growth rates in 1/h, concentrations in mM, biomass in gDW/L, time in h."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from .common import Answer, MetabolicModel, ModelInfo, Phase1Answer, Phase1Request
from .fields import Amount, Body, Bool, Bounds, Number, NumberMap, Positive, StrList, Whole, check_span, fail

#: the phase-1 default objective (the E. coli core biomass reaction)
PHASE1_DEFAULT_OBJECTIVE = "BIOMASS_Ecoli_core_w_GAM"

Objective = Annotated[str, Field(description="reaction id to optimize instead of the model's objective",
                                 examples=["BIOMASS_Ecoli_core_w_GAM"])]
Medium = NumberMap(Amount, "the medium: maximum uptake (mmol/gDW/h) by exchange reaction id; exchanges "
                           "left out are closed to uptake")


class Knockouts(Body):
    genes: StrList = Field(default_factory=list, description="gene ids to knock out")
    reactions: StrList = Field(default_factory=list, description="reaction ids to knock out")


class _Changes(Body):
    """A shipped or inline model and the changes applied to it for this request only."""

    model: MetabolicModel
    objective: Objective | None = None
    bounds: Bounds = Field(default_factory=dict)
    medium: Medium | None = None


class FbaRequest(_Changes):
    knockouts: Knockouts = Field(default_factory=Knockouts, description="genes and reactions knocked out")
    method: Literal["fba", "pfba"] = Field("fba", description="fba, or pfba (parsimonious: least total flux "
                                                              "at the optimum)")
    fluxes: StrList | None = Field(None, description="reaction ids whose fluxes to return (default: all)")


class FvaRequest(_Changes):
    knockouts: Knockouts = Field(default_factory=Knockouts, description="genes and reactions knocked out")
    reactions: StrList | None = Field(None, description="reaction ids to analyze (default: all)")
    fraction_of_optimum: Number = Field(1.0, ge=0, le=1, description="the objective is kept at or above this "
                                                                      "fraction of its optimum")
    loopless: Bool = Field(False, description="loopless FVA (no thermodynamically infeasible cycles); slower")


def _ids_or_all(value: Any) -> Any:
    if value in ("all", "all_pairs"):
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail("must be an array of strings, \"all\" or \"all_pairs\"")
    return value


IdsOrAll = Annotated[list[str] | Literal["all", "all_pairs"], BeforeValidator(_ids_or_all)]


class DeletionSet(Body):
    genes: StrList = Field(default_factory=list, description="genes deleted together")
    reactions: StrList = Field(default_factory=list, description="reactions deleted together")

    @model_validator(mode="after")
    def _not_empty(self):
        if not self.genes and not self.reactions:
            raise fail("deletes nothing")
        return self


class KnockoutsRequest(_Changes):
    genes: IdsOrAll = Field(default_factory=list, description="single deletions of these genes; \"all\": of "
                                                              "every gene; \"all_pairs\": every double deletion "
                                                              "(a job: POST /v1/jobs)")
    reactions: IdsOrAll = Field(default_factory=list, description="single deletions of these reactions, \"all\" "
                                                                  "or \"all_pairs\", as for genes")
    sets: list[DeletionSet] = Field(default_factory=list, description="deletions of several genes/reactions "
                                                                      "at once (double deletions and more)")

    @model_validator(mode="after")
    def _something(self):
        if not (self.genes or self.reactions or self.sets):
            raise fail("no deletions given: use genes, reactions (a list or \"all\") or sets")
        return self


# -- dynamic FBA ---------------------------------------------------------------------------------
class MichaelisMenten(Body):
    vmax: Amount = Field(description="maximum uptake rate, mmol/gDW/h")
    km: Amount = Field(description="half-saturation concentration, mM")


class UptakeExpression(Body):
    expression: str = Field(max_length=500, description="uptake rate (mmol/gDW/h) as arithmetic of S (this "
                                                        "exchange's concentration, mM), X (biomass, gDW/L), t (h) and "
                                                        "tracked exchange ids; + - * / **, min, max, exp, log, sqrt",
                            examples=["10 * S / (0.5 + S)"])


def _uptake_shape(spec: Any) -> str:
    return "expression_uptake" if isinstance(spec, dict) and "expression" in spec else "michaelis_menten"


def _uptake_input(spec: Any) -> Any:
    if not isinstance(spec, dict):
        raise fail("must be an object {\"vmax\": ..., \"km\": ...} or {\"expression\": ...}")
    if "expression" not in spec:
        missing = [k for k in ("vmax", "km") if spec.get(k) is None]
        if missing and not set(spec) - {"vmax", "km"}:
            raise fail(f"needs {missing} (Michaelis-Menten vmax mmol/gDW/h, km mM)")
    return spec


Uptake = Annotated[Annotated[MichaelisMenten, Tag("michaelis_menten")] | Annotated[UptakeExpression, Tag("expression_uptake")],
                   Discriminator(_uptake_shape), BeforeValidator(_uptake_input)]


class DfbaRequest(Body):
    model: MetabolicModel
    biomass: Positive = Field(description="initial biomass, gDW/L", examples=[0.05])
    concentrations: NumberMap(Amount, "initial concentrations (mM) of the tracked substrates and products, "
                                      "by exchange reaction id")
    uptake: dict[str, Uptake] = Field(default_factory=dict, description="uptake kinetics by exchange reaction "
                                                                        "id (tracked exchanges without one take "
                                                                        "what the LP chooses within their bounds)")
    start: Number = Field(0.0, description="start time, h")
    end: Number = Field(description="end time, h", examples=[8])
    points: Whole = Field(101, ge=2, description="output time points, start and end included")
    fluxes: StrList | None = Field(None, description="reaction ids whose fluxes to return (default: the "
                                                     "tracked exchanges)")
    objective: Objective | None = None
    bounds: Bounds = Field(default_factory=dict)
    max_step: Positive | None = Field(None, description="largest integration step, h (default: the output "
                                                        "spacing, at most 0.1 h)")

    @model_validator(mode="after")
    def _span(self):
        if not self.concentrations:
            raise fail("concentrations must name at least one exchange reaction, e.g. {\"EX_glc__D_e\": 10} (mM)")
        check_span(self.start, self.end)
        return self


# -- phase 1 -------------------------------------------------------------------------------------
class Phase1MetabolicRequest(Phase1Request):
    """The phase-1 contract: FBA of a chassis' model. Other fields are accepted and ignored."""

    chassis_type: str = Field("base", description="the VM chassis whose model to use (base, ecoli, yeast, "
                                                  "syn3a …)")
    objective: str = Field(PHASE1_DEFAULT_OBJECTIVE, description="reaction id to optimize; falls back to "
                                                                 "the model's objective when not a reaction of it")
    constraints: Bounds = Field(default_factory=dict)


# -- answers -------------------------------------------------------------------------------------
Fluxes = dict[str, float | None]


class FbaAnswer(Answer):
    status: str = Field(description="solver status: optimal, infeasible, unbounded …")
    objective: str | list[str] = Field(description="the objective reaction id(s)")
    method: Literal["fba", "pfba"]
    objective_value: float | None = Field(description="the optimum, 1/h for a biomass objective; null when "
                                                      "not optimal")
    fluxes: Fluxes = Field(description="flux by reaction id, mmol/gDW/h")
    flux_sum: float | None = Field(None, description="pfba: the least total absolute flux at the optimum, "
                                                     "mmol/gDW/h")
    model: ModelInfo


class FluxRange(Answer):
    minimum: float
    maximum: float


class FvaAnswer(Answer):
    status: str
    fraction_of_optimum: float
    objective_value: float | None
    ranges: dict[str, FluxRange] = Field(description="flux range by reaction id, mmol/gDW/h")
    model: ModelInfo


class DeletionResult(Answer):
    id: str = Field(description="the deleted genes/reactions joined by +")
    genes: list[str]
    reactions: list[str]
    growth: float | None = Field(description="optimal objective value with the deletion, 1/h; null when not optimal")
    status: str


class KnockoutsAnswer(Answer):
    status: str = Field(description="solver status of the wild type")
    wild_type_growth: float | None = Field(description="optimal objective value without deletions, 1/h")
    results: list[DeletionResult]
    model: ModelInfo


Series = list[float | None]


class DfbaAnswer(Answer):
    time: Series = Field(description="h")
    biomass: Series = Field(description="gDW/L")
    growth_rate: Series = Field(description="1/h")
    status: list[str] = Field(description="LP status at each output point")
    concentrations: dict[str, Series] = Field(description="mM, by exchange reaction id")
    fluxes: dict[str, Series] = Field(description="mmol/gDW/h, by reaction id")
    objective: str | list[str]
    solves: int = Field(description="LPs solved")
    max_step: float = Field(description="the largest step taken, h")
    method: str
    model: ModelInfo


class Phase1MetabolicAnswer(Phase1Answer):
    computation_type: Literal["static_metabolic"]
    optimal_objective: float | None
    objective: str | list[str]
    flux_state: Fluxes
    model_key: str
    chassis_type: str


class ExchangeReaction(Answer):
    id: str
    name: str
    bounds: list[float]


class MetabolicModelSummary(Answer):
    id: str
    sha256: str
    organism: str
    description: str
    default_objective: str
    chassis: list[str] = Field(description="the VM chassis that use this model")
    reactions: int
    metabolites: int
    genes: int
    objective: str | list[str]
    name: str


class MetabolicModelDetail(MetabolicModelSummary):
    medium: dict[str, float] = Field(description="maximum uptake by exchange reaction id, mmol/gDW/h")
    exchange_reactions: list[ExchangeReaction]
    reaction_ids: list[str]
    gene_ids: list[str]


class MetabolicModelList(Answer):
    models: list[MetabolicModelSummary]

