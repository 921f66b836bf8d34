"""The ``units`` of the dynamic engine's answers (:mod:`bioxen_services.dynamic.units`), on the real engine:
what the SBML declares (Level 3 model units, a species' own substance unit, Level 2's built-in defaults
redefined by the shipped BioModels) and nothing where it declares nothing."""

from __future__ import annotations

import libsbml
import pytest

from bioxen_services.dynamic import engine
from bioxen_services.dynamic.engine import SimSpec
from bioxen_services.dynamic.programs import compile_program
from support import BYTECODE

LEVEL3 = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="units_case" {model_units}>
    <listOfUnitDefinitions>
      <unitDefinition id="per_hour"><listOfUnits>
        <unit kind="second" exponent="-1" scale="0" multiplier="3600"/></listOfUnits></unitDefinition>
      <unitDefinition id="micromole"><listOfUnits>
        <unit kind="mole" exponent="1" scale="-6" multiplier="1"/></listOfUnits></unitDefinition>
    </listOfUnitDefinitions>
    <listOfCompartments>
      <compartment id="cell" spatialDimensions="3" size="1" constant="true" {volume}/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="S" compartment="cell" initialConcentration="1" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
      <species id="P" compartment="cell" initialAmount="0" substanceUnits="item" hasOnlySubstanceUnits="true"
               boundaryCondition="false" constant="false"/>
      <species id="Q" compartment="cell" initialConcentration="0" substanceUnits="micromole"
               hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k" value="0.5" constant="true" {k_units}/>
    </listOfParameters>
    <listOfReactions>
      <reaction id="J" reversible="false">
        <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="Q" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci><ci>S</ci>
        </apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>"""

DECLARED = dict(model_units='timeUnits="second" substanceUnits="mole" extentUnits="mole" volumeUnits="litre"',
                volume='units="litre"', k_units='units="per_hour"')
UNDECLARED = dict(model_units="", volume="", k_units="")
SELECTIONS = ["S", "[P]", "P", "Q", "k", "J", "cell"]


def _units(text: str, species_values: str = "concentrations", selections=SELECTIONS) -> dict:
    program = compile_program(text, "sbml")
    spec = SimSpec(end=1.0, points=3, selections=selections, species_values=species_values)
    return engine.simulate(program, spec)["units"]


def test_level3_units_as_declared():
    units = _units(LEVEL3.format(**DECLARED))
    assert units == {"time": "s", "quantity": "concentration",
                     "values": {"S": "M", "[P]": "item/L", "P": "item/L", "Q": "µM", "k": "1/h", "J": "mol/s",
                                "cell": "L"}}
    amounts = _units(LEVEL3.format(**DECLARED), "amounts")
    assert amounts["quantity"] == "amount"
    assert {n: amounts["values"][n] for n in ("S", "[P]", "P", "Q")} == {"S": "mol", "[P]": "item/L", "P": "item",
                                                                          "Q": "µmol"}


def test_nothing_declared_is_null():
    units = _units(LEVEL3.format(**UNDECLARED))
    assert units["time"] is None  # Level 3 has no default units
    assert set(units["values"].values()) == {None}  # no volume unit: no concentration unit either
    amounts = _units(LEVEL3.format(**UNDECLARED), "amounts", ["S", "P", "Q"])["values"]
    assert amounts == {"S": None, "P": "item", "Q": "µmol"}  # what the species themselves declare


@pytest.mark.parametrize("program_file", ["BIOMD0000000010.xml", "BIOMD0000000012.xml", "BIOMD0000000064.xml"])
def test_level2_builtin_units_redefined_by_the_biomodels(program_file):
    text = (BYTECODE / "kinetic" / program_file).read_text()
    document = libsbml.readSBMLFromString(text)
    model = document.getModel()
    time = model.getUnitDefinition("time")
    substance = model.getUnitDefinition("substance").getUnit(0)
    species = model.getSpecies(0).getId()
    units = _units(text, "amounts", [species])
    # Level 2: time is the second unless a "time" unit definition says otherwise (minutes here)
    assert units["time"] == ("s" if time is None else {60.0: "min"}[time.getUnit(0).getMultiplier()])
    prefix = {-9: "n", -3: "m", 0: ""}.get(substance.getScale())
    kind = libsbml.UnitKind_toString(substance.getKind())
    assert units["values"][species] == (f"{prefix}mol" if kind == "mole" else kind)
