"""Writes the two small COMBINE archives the /v1/omex operation documents as its examples
(services/bioxen_services/omex/examples/): a flux-balance task on a three-reaction toy network for the
static service, and a time course of the shipped gene-expression program for the dynamic one. Small
enough to sit base64-encoded in each service's OpenAPI document. Run it again after changing them:

    PYTHONPATH=common:services /work/main/.venv/bin/python scripts/make_omex_examples.py
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import antimony
import cobra

from bioxen_common.manifest import SHIPPED_DIR

OUT = Path(__file__).resolve().parents[1] / "services" / "bioxen_services" / "omex" / "examples"
MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<omexManifest xmlns="http://identifiers.org/combine.specifications/omex-manifest">
  <content location="." format="http://identifiers.org/combine.specifications/omex"/>
  <content location="./manifest.xml" format="http://identifiers.org/combine.specifications/omex-manifest"/>
  <content location="./model.xml" format="http://identifiers.org/combine.specifications/sbml"/>
  <content location="./simulation.sedml" format="http://identifiers.org/combine.specifications/sed-ml" master="true"/>
</omexManifest>
"""
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<sedML xmlns="http://sed-ml.org/sed-ml/level1/version3" level="1" version="3"
       xmlns:sbml="http://www.sbml.org/sbml/level3/version1/core"
       xmlns:fbc="http://www.sbml.org/sbml/level3/version1/fbc/version2">
  <listOfModels>
    <model id="model" language="urn:sedml:language:sbml" source="model.xml"/>
  </listOfModels>
"""


def _generator(dg: str, var: str, name: str, target: str) -> str:
    return f"""    <dataGenerator id="{dg}" name="{name}">
      <math xmlns="http://www.w3.org/1998/Math/MathML"><ci>{var}</ci></math>
      <listOfVariables><variable id="{var}" {target} taskReference="task"/></listOfVariables>
    </dataGenerator>
"""


def _report(ids: list[tuple[str, str]]) -> str:
    sets = "".join(f'        <dataSet id="ds_{dg}" label="{label}" dataReference="{dg}"/>\n' for dg, label in ids)
    return f"""  <listOfOutputs>
    <report id="report" name="Report">
      <listOfDataSets>
{sets}      </listOfDataSets>
    </report>
"""


def dynamic() -> tuple[str, str]:
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString((SHIPPED_DIR / "kinetic" / "gene_expression.ant").read_text()) < 0:
        raise RuntimeError(antimony.getLastError())
    sbml = antimony.getSBMLString("gene_expression")
    species = "/sbml:sbml/sbml:model/sbml:listOfSpecies/sbml:species[@id='{}']"
    sedml = HEAD + """  <listOfSimulations>
    <uniformTimeCourse id="sim" initialTime="0" outputStartTime="0" outputEndTime="100" numberOfPoints="50">
      <algorithm kisaoID="KISAO:0000019"/>
    </uniformTimeCourse>
  </listOfSimulations>
  <listOfTasks><task id="task" modelReference="model" simulationReference="sim"/></listOfTasks>
  <listOfDataGenerators>
""" + _generator("dg_time", "time", "time", 'symbol="urn:sedml:symbol:time"') + "".join(
        _generator(f"dg_{s}", f"v_{s}", s, f'target="{species.format(s)}"') for s in ("mRNA", "protein")) + \
        "  </listOfDataGenerators>\n" + _report([("dg_time", "time"), ("dg_mRNA", "mRNA"), ("dg_protein", "protein")]) + \
        """    <plot2D id="plot" name="Gene expression">
      <listOfCurves>
        <curve id="c_mRNA" name="mRNA" logX="false" logY="false" xDataReference="dg_time" yDataReference="dg_mRNA"/>
        <curve id="c_protein" name="protein" logX="false" logY="false" xDataReference="dg_time" yDataReference="dg_protein"/>
      </listOfCurves>
    </plot2D>
  </listOfOutputs>
</sedML>
"""
    return sbml, sedml


def static() -> tuple[str, str]:
    model = cobra.Model("toy")
    a, b = cobra.Metabolite("A", compartment="c"), cobra.Metabolite("B", compartment="c")
    uptake = cobra.Reaction("EX_A", lower_bound=-10, upper_bound=1000)
    uptake.add_metabolites({a: -1})
    convert = cobra.Reaction("R1", lower_bound=0, upper_bound=1000)
    convert.add_metabolites({a: -1, b: 1})
    growth = cobra.Reaction("GROWTH", lower_bound=0, upper_bound=1000)
    growth.add_metabolites({b: -1})
    model.add_reactions([uptake, convert, growth])
    model.objective = "GROWTH"
    path = OUT / "_toy.xml"
    cobra.io.write_sbml_model(model, str(path))
    sbml = path.read_text()
    path.unlink()
    flux = "/sbml:sbml/sbml:model/sbml:listOfReactions/sbml:reaction[@id='R_{}']/@flux"
    sedml = HEAD + """  <listOfSimulations>
    <steadyState id="sim"><algorithm kisaoID="KISAO:0000437"/></steadyState>
  </listOfSimulations>
  <listOfTasks><task id="task" modelReference="model" simulationReference="sim"/></listOfTasks>
  <listOfDataGenerators>
""" + _generator("dg_objective", "obj", "objective", 'target="/sbml:sbml/sbml:model/fbc:listOfObjectives/fbc:objective[@fbc:id=\'obj\']/@value"') + "".join(
        _generator(f"dg_{r}", f"v_{r}", r, f'target="{flux.format(r)}"') for r in ("EX_A", "R1", "GROWTH")) + \
        "  </listOfDataGenerators>\n" + _report([("dg_objective", "objective_value"), ("dg_EX_A", "EX_A"),
                                                 ("dg_R1", "R1"), ("dg_GROWTH", "GROWTH")]) + "  </listOfOutputs>\n</sedML>\n"
    return sbml, sedml


def write(name: str, sbml: str, sedml: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, text in (("manifest.xml", MANIFEST), ("model.xml", sbml), ("simulation.sedml", sedml)):
            info = zipfile.ZipInfo(entry, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            zf.writestr(info, text, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    (OUT / f"{name}.omex").write_bytes(buffer.getvalue())
    print(name, len(buffer.getvalue()), "bytes")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write("static", *static())
    write("dynamic", *dynamic())
