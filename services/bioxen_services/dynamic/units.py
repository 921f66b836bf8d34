"""Units of a kinetic model's values, read once from its SBML unit definitions (libSBML) when the model
is compiled, so an answer can say what its numbers are: ``{"time": "min", "quantity": "concentration",
"values": {"S": "mM", "k1": "1/min", ...}}``.

A unit is written as a short symbol string (``mM``, ``nmol``, ``item``, ``min``, ``1/s``,
``item/µm^3``); ``None`` where the model declares nothing to go on (SBML Level 3 without model units,
most Antimony programs). SBML Level 2 has built-in defaults (substance mole, volume litre, time second),
which a unit definition with that id overrides; Level 3 has none. A species' concentration is its
substance unit over its compartment's size unit; a reaction rate is extent (Level 2: substance) per
time; parameters and compartments have the unit they declare.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import libsbml

log = logging.getLogger(__name__)

#: SI prefixes by the power of ten a unit's ``scale`` gives
PREFIXES = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", -2: "c", -1: "d", 0: "", 3: "k", 6: "M"}
SYMBOLS = {"mole": "mol", "litre": "L", "liter": "L", "second": "s", "gram": "g", "metre": "m", "meter": "m",
           "kilogram": "kg", "ampere": "A", "kelvin": "K", "candela": "cd", "item": "item", "dimensionless": "dimensionless"}
#: seconds multiplied into a named time unit
TIMES = {60.0: "min", 3600.0: "h", 86400.0: "day"}
#: SBML Level 2's built-in units, and what they are when no unit definition redefines them
LEVEL2_DEFAULTS = {"substance": "mole", "volume": "litre", "area": "metre", "length": "metre", "time": "second"}
DIMENSION_UNITS = {3: "volume", 2: "area", 1: "length"}


@dataclass(frozen=True)
class Unit:
    """One factor: (multiplier x 10^scale x kind)^exponent."""

    kind: str
    exponent: float = 1.0
    scale: int = 0
    multiplier: float = 1.0

    def symbol(self) -> str:
        base = SYMBOLS.get(self.kind, self.kind)
        if self.kind == "second" and self.scale == 0 and self.multiplier in TIMES:
            name = TIMES[self.multiplier]
        elif self.scale == 0 or (self.scale in PREFIXES and self.kind not in ("dimensionless", "item", "kilogram")):
            name = PREFIXES[self.scale] + base
            if self.multiplier != 1:
                name = f"{self.multiplier:g} {name}"
        else:
            name = f"{self.multiplier * 10 ** self.scale:g} {base}"
        power = abs(self.exponent)
        return name if power == 1 else f"{name}^{power:g}"


def _units_of(definition: libsbml.UnitDefinition) -> tuple[Unit, ...]:
    return tuple(Unit(libsbml.UnitKind_toString(u.getKind()), u.getExponentAsDouble(), u.getScale(),
                      u.getMultiplier())
                 for u in definition.getListOfUnits())


def format_units(units: tuple[Unit, ...] | None) -> str | None:
    """``mmol/L`` -> ``mM`` (molar); else numerator/denominator symbols; None for None."""
    if units is None:
        return None
    units = tuple(u for u in units if u.kind != "dimensionless" or u.multiplier * 10 ** u.scale != 1)
    if not units:
        return "dimensionless"
    molar = {u.kind: u for u in units}
    if (len(units) == 2 and molar.get("mole") and molar.get("litre") and molar["mole"].exponent == 1
            and molar["litre"].exponent == -1 and molar["litre"].scale == 0 and molar["litre"].multiplier == 1
            and molar["mole"].multiplier == 1 and molar["mole"].scale in PREFIXES):
        return PREFIXES[molar["mole"].scale] + "M"
    top = [u.symbol() for u in units if u.exponent > 0]
    bottom = [u.symbol() for u in units if u.exponent < 0]
    text = "·".join(top) or "1"
    if bottom:
        text += "/" + (bottom[0] if len(bottom) == 1 else "(" + "·".join(bottom) + ")")
    return text


def _invert(units: tuple[Unit, ...]) -> tuple[Unit, ...]:
    return tuple(Unit(u.kind, -u.exponent, u.scale, u.multiplier) for u in units)


@dataclass
class ModelUnits:
    """What each id of a model is measured in, as unit strings (None: not declared). Built once by
    :func:`model_units`; :meth:`describe` is then only dictionary look-ups (it runs per request)."""

    time: str | None = None
    #: per species: the unit of its concentration and of its amount
    concentration: dict[str, str | None] = field(default_factory=dict)
    amount: dict[str, str | None] = field(default_factory=dict)
    #: parameters, compartments and reactions: their unit
    other: dict[str, str | None] = field(default_factory=dict)

    def unit(self, name: str, amounts: bool) -> str | None:
        """The unit of a selection: ``[S]`` a concentration, a bare species id its amount or
        concentration as ``amounts`` says, any other id its declared unit."""
        if name in self.amount:
            return self.amount[name] if amounts else self.concentration[name]
        if len(name) > 2 and name[0] == "[" and name[-1] == "]":
            return self.concentration.get(name[1:-1])
        if name == "time":
            return self.time
        return self.other.get(name)

    def describe(self, names, species_values: str) -> dict:
        """The ``units`` field of an answer about ``names``."""
        amounts = species_values == "amounts"
        return {"time": self.time, "quantity": "amount" if amounts else "concentration",
                "values": {n: self.unit(n, amounts) for n in names}}


class _Resolver:
    """Unit references of one model (a unit definition id, a base unit kind, or a Level 2 built-in)."""

    def __init__(self, model: libsbml.Model):
        self.level = model.getLevel()
        self.version = model.getVersion()
        self.definitions = {d.getId(): _units_of(d) for d in model.getListOfUnitDefinitions()}

    def __call__(self, ref: str) -> tuple[Unit, ...] | None:
        if not ref:
            return None
        if ref in self.definitions:
            return self.definitions[ref]
        if self.level < 3 and ref in LEVEL2_DEFAULTS:
            return (Unit(LEVEL2_DEFAULTS[ref], 2 if ref == "area" else 1),) if ref != "volume" else (Unit("litre"),)
        if libsbml.UnitKind_isValidUnitKindString(ref, self.level, self.version):
            return (Unit(ref),)
        return None

    def default(self, model: libsbml.Model, what: str) -> tuple[Unit, ...] | None:
        """The model-wide unit of ``what`` (substance, time, volume, area, length, extent)."""
        if self.level >= 3:
            getter = getattr(model, f"get{what.capitalize()}Units")
            return self(getter())
        return self(what if what != "extent" else "substance")


def model_units(sbml: str) -> ModelUnits:
    """The units an SBML document declares for its time, species, parameters, compartments and reactions."""
    document = libsbml.readSBMLFromString(sbml)  # held: the model is freed with its document
    model = document.getModel()
    if model is None:
        return ModelUnits()
    resolve = _Resolver(model)
    time = resolve.default(model, "time")
    sizes = {}
    out = ModelUnits(time=format_units(time))
    for compartment in model.getListOfCompartments():
        dims = int(compartment.getSpatialDimensionsAsDouble()) if compartment.isSetSpatialDimensions() else 3
        unit = (resolve(compartment.getUnits()) if compartment.isSetUnits()
                else resolve.default(model, DIMENSION_UNITS.get(dims, "volume")) if dims else None)
        sizes[compartment.getId()] = unit
        out.other[compartment.getId()] = format_units(unit)
    model_substance = resolve.default(model, "substance")
    for species in model.getListOfSpecies():
        substance = resolve(species.getSubstanceUnits()) if species.isSetSubstanceUnits() else model_substance
        size = sizes.get(species.getCompartment())
        out.amount[species.getId()] = format_units(substance)
        out.concentration[species.getId()] = (None if substance is None or size is None
                                              else format_units(substance + _invert(size)))
    for parameter in model.getListOfParameters():
        out.other[parameter.getId()] = format_units(resolve(parameter.getUnits())) if parameter.isSetUnits() else None
    extent = resolve.default(model, "extent")
    rate = None if extent is None or time is None else format_units(extent + _invert(time))
    for reaction in model.getListOfReactions():
        out.other[reaction.getId()] = rate
    return out
