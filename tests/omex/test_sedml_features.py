"""SED-ML features beyond the suite's archives, each on a small archive written by the test from a
shipped model (the repressilator BIOMD0000000012, the gene-expression program, e_coli_core), run
through ``run_experiment`` and compared with libRoadRunner or COBRApy run in-process."""

from __future__ import annotations

import re
import antimony
import cobra
import libsedml
import numpy as np
import pytest
import roadrunner
from bioxen_common.manifest import SHIPPED_DIR
from bioxen_services.errors import InvalidArchive, UnsupportedTask
from bioxen_services.omex.execute import run_experiment
from cobra.flux_analysis import flux_variability_analysis, pfba
from sedml_support import data_set, series, write_archive

REPRESSILATOR = (SHIPPED_DIR / "kinetic" / "BIOMD0000000012.xml").read_text()
E_COLI = (SHIPPED_DIR / "metabolic" / "e_coli_core.xml").read_text()
SPECIES = "/sbml:sbml/sbml:model/sbml:listOfSpecies/sbml:species[@id='{}']"
PARAMETER = "/sbml:sbml/sbml:model/sbml:listOfParameters/sbml:parameter[@id='{}']"
RTOL = 1e-6
_TASK = '<task id="task" modelReference="model" simulationReference="sim"/>'


def _gene_expression() -> str:
    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString((SHIPPED_DIR / "kinetic" / "gene_expression.ant").read_text()) >= 0
    return antimony.getSBMLString("gene_expression")


def _rr(sbml: str, **values) -> roadrunner.RoadRunner:
    rr = roadrunner.RoadRunner(sbml)
    for key, value in values.items():
        rr.setValue(key, value)
    return rr


def _variables(task: str, names: dict[str, str]) -> str:
    """Data generators ``dg_<id>`` of one variable each (``id`` -> target, or "time")."""
    out = []
    for ident, target in names.items():
        where = 'symbol="urn:sedml:symbol:time"' if target == "time" else f'target="{target}"'
        out.append(f'<dataGenerator id="dg_{ident}"><listOfVariables><variable id="{ident}" taskReference="{task}" '
                   f'{where}/></listOfVariables><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>{ident}</ci>'
                   '</math></dataGenerator>')
    return "".join(out)


def _report(ids) -> str:
    return ('<listOfOutputs><report id="report"><listOfDataSets>' + "".join(
        f'<dataSet id="ds_{i}" label="{i}" dataReference="dg_{i}"/>' for i in ids)
        + "</listOfDataSets></report></listOfOutputs>")


def _time_course(algorithm="KISAO:0000019", initial=0, start=0, end=50, points=50, params=""):
    return (f'<uniformTimeCourse id="sim" initialTime="{initial}" outputStartTime="{start}" outputEndTime="{end}" '
            f'numberOfPoints="{points}"><algorithm kisaoID="{algorithm}">{params}</algorithm></uniformTimeCourse>')


def _experiment(tmp_path, model: str, changes: str, simulations: str, tasks: str, generators: str,
                outputs: str, service: str = "dynamic", options=None) -> dict:
    sedml = (f'<listOfModels><model id="model" language="urn:sedml:language:sbml" source="model.xml">'
             f'<listOfChanges>{changes}</listOfChanges></model></listOfModels>'
             f'<listOfSimulations>{simulations}</listOfSimulations><listOfTasks>{tasks}</listOfTasks>'
             f'<listOfDataGenerators>{generators}</listOfDataGenerators>{outputs}')
    write_archive(tmp_path, model, sedml)
    return run_experiment(str(tmp_path), ["./experiment.sedml"], service, options)


def test_output_start_after_initial_time_and_a_changed_parameter_match_roadrunner(tmp_path):
    answer = _experiment(
        tmp_path, REPRESSILATOR,
        f'<changeAttribute target="{PARAMETER.format("KM")}/@value" newValue="25"/>',
        _time_course(initial=0, start=100, end=200, points=40),
        '<task id="task" modelReference="model" simulationReference="sim"/>',
        _variables("task", {"t": "time", "px": SPECIES.format("PX"), "km": PARAMETER.format("KM"),
                            "r1": "/sbml:sbml/sbml:model/sbml:listOfReactions/sbml:reaction[@id='Reaction1']"}),
        _report(["t", "px", "km", "r1"]))
    rr = _rr(REPRESSILATOR, KM=25)
    rr.simulate(0, 100, 2)
    reference = rr.simulate(100, 200, 41, ["time", "PX", "KM", "Reaction1"])
    assert list(answer["reports"]) == ["experiment.sedml/report"]  # keyed without "./"
    for column, ident in enumerate(["t", "px", "km", "r1"]):
        np.testing.assert_allclose(data_set(answer, "experiment.sedml/report", f"ds_{ident}"),
                                   reference[:, column], rtol=RTOL, atol=1e-9)
    assert answer["tasks"][0]["algorithm"] == {"requested": "KISAO_0000019", "used": "KISAO_0000019",
                                               "engine": "cvode"}


@pytest.mark.parametrize("model,compartment,species", [
    ("gene_expression", "default_compartment", "mRNA"),  # concentrations in the model
    ("repressilator", "cell", "PX"),  # only substance units: amounts in the model
])
def test_species_targets_are_concentrations_in_ode_runs_and_counts_in_gillespie_runs(tmp_path, model, compartment,
                                                                                     species):
    """With the compartment at size 4, concentrations and amounts differ by 4: an ODE task reports the
    concentration (libRoadRunner's ``[S]``, as its own SED-ML front end does) whatever
    hasOnlySubstanceUnits says, a Gillespie task the molecule count."""
    sbml = _gene_expression() if model == "gene_expression" else REPRESSILATOR
    where = f"/sbml:sbml/sbml:model/sbml:listOfCompartments/sbml:compartment[@id='{compartment}']/@size"
    params = '<listOfAlgorithmParameters><algorithmParameter kisaoID="KISAO:0000488" value="5"/>' \
             '</listOfAlgorithmParameters>'
    simulations = (_time_course(end=20, points=10)
                   + _time_course("KISAO:0000029", end=20, points=10, params=params).replace('id="sim"', 'id="ssa"'))
    tasks = _TASK + '<task id="stochastic" modelReference="model" simulationReference="ssa"/>'
    generators = (_variables("task", {"x": SPECIES.format(species)})
                  + _variables("stochastic", {"n": SPECIES.format(species)}))
    answer = _experiment(tmp_path, sbml, f'<changeAttribute target="{where}" newValue="4"/>', simulations, tasks,
                         generators, _report(["x", "n"]))
    element = re.search(rf'<compartment [^>]*id="{compartment}"[^>]*>', sbml).group(0)
    rr = roadrunner.RoadRunner(sbml.replace(element, re.sub(r'size="[^"]*"', 'size="4"', element)))
    concentration = rr.simulate(0, 20, 11, [f"[{species}]"])[:, 0]
    np.testing.assert_allclose(data_set(answer, "experiment.sedml/report", "ds_x"), concentration, rtol=RTOL)
    counts = data_set(answer, "experiment.sedml/report", "ds_n")
    assert (counts == np.round(counts)).all() and counts.max() > 0


def test_derived_model_and_cvode_tolerances(tmp_path):
    """A model whose source is another model's id takes that model's changes and adds its own; CVODE
    runs with the tolerances the algorithm gives (KISAO_0000209/0000211), as roadrunner does with them."""
    params = ('<listOfAlgorithmParameters><algorithmParameter kisaoID="KISAO:0000209" value="1e-3"/>'
              '<algorithmParameter kisaoID="KISAO:0000211" value="1e-3"/></listOfAlgorithmParameters>')
    sedml = (
        '<listOfModels><model id="base" language="urn:sedml:language:sbml" source="model.xml"><listOfChanges>'
        f'<changeAttribute target="{PARAMETER.format("KM")}/@value" newValue="25"/></listOfChanges></model>'
        '<model id="derived" language="urn:sedml:language:sbml" source="#base"><listOfChanges>'
        f'<changeAttribute target="{PARAMETER.format("eff")}/@value" newValue="10"/></listOfChanges></model>'
        f'</listOfModels><listOfSimulations>{_time_course(end=100, points=20, params=params)}</listOfSimulations>'
        '<listOfTasks><task id="task" modelReference="derived" simulationReference="sim"/></listOfTasks>'
        f'<listOfDataGenerators>{_variables("task", {"px": SPECIES.format("PX")})}</listOfDataGenerators>'
        f'{_report(["px"])}')
    write_archive(tmp_path, REPRESSILATOR, sedml)
    answer = run_experiment(str(tmp_path), ["experiment.sedml"], "dynamic")
    rr = _rr(REPRESSILATOR, KM=25, eff=10)
    rr.getIntegrator().setValue("relative_tolerance", 1e-3)
    rr.getIntegrator().setValue("absolute_tolerance", 1e-3)
    loose = rr.simulate(0, 100, 21, ["PX"])[:, 0]
    ours = data_set(answer, "experiment.sedml/report", "ds_px")
    np.testing.assert_allclose(ours, loose, rtol=1e-9, atol=1e-9)
    tight = _rr(REPRESSILATOR, KM=25, eff=10).simulate(0, 100, 21, ["PX"])[:, 0]
    assert np.abs(ours - tight).max() > 1e-6 and not answer["warnings"]


def test_compute_change_and_data_generator_math(tmp_path):
    """KM := 2 * KM + offset (computed from the model's own KM); a data generator PX + 2 PY and one
    with the aggregate max() over the run."""
    compute = (f'<computeChange target="{PARAMETER.format("KM")}/@value"><listOfVariables>'
               f'<variable id="km0" target="{PARAMETER.format("KM")}/@value"/></listOfVariables>'
               '<listOfParameters><parameter id="offset" value="3"/></listOfParameters>'
               '<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><plus/><apply><times/><cn>2</cn><ci>km0</ci>'
               '</apply><ci>offset</ci></apply></math></computeChange>')
    generators = (
        '<dataGenerator id="dg_sum"><listOfVariables>'
        f'<variable id="px" taskReference="task" target="{SPECIES.format("PX")}"/>'
        f'<variable id="py" taskReference="task" target="{SPECIES.format("PY")}"/></listOfVariables>'
        '<listOfParameters><parameter id="two" value="2"/></listOfParameters>'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><plus/><ci>px</ci><apply><times/><ci>two</ci>'
        '<ci>py</ci></apply></apply></math></dataGenerator>'
        '<dataGenerator id="dg_max"><listOfVariables>'
        f'<variable id="pz" taskReference="task" target="{SPECIES.format("PZ")}"/></listOfVariables>'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><max/><ci>pz</ci></apply></math></dataGenerator>')
    answer = _experiment(tmp_path, REPRESSILATOR, compute, _time_course(end=100, points=50),
                         '<task id="task" modelReference="model" simulationReference="sim"/>', generators,
                         _report(["sum", "max"]))
    data = _rr(REPRESSILATOR, KM=2 * 40 + 3).simulate(0, 100, 51, ["PX", "PY", "PZ"])
    np.testing.assert_allclose(data_set(answer, "experiment.sedml/report", "ds_sum"), data[:, 0] + 2 * data[:, 1],
                               rtol=RTOL, atol=1e-9)
    largest = data_set(answer, "experiment.sedml/report", "ds_max")  # padded to the report's shape
    assert largest[0] == pytest.approx(float(np.max(data[:, 2])), rel=RTOL) and np.isnan(largest[1:]).all()


def test_repeated_task_scan_with_set_values_matches_roadrunner_point_by_point(tmp_path):
    """A scan of KM over a uniform range (reset each iteration) with a second SetValue computed from the
    range; results are iterations x sub-tasks x points."""
    repeated = (
        '<task id="task" modelReference="model" simulationReference="sim"/>'
        '<repeatedTask id="scan" range="km_range" resetModel="true"><listOfRanges>'
        '<uniformRange id="km_range" start="10" end="40" numberOfPoints="3" type="linear"/></listOfRanges>'
        '<listOfChanges>'
        f'<setValue modelReference="model" target="{PARAMETER.format("KM")}" range="km_range">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><ci>km_range</ci></math></setValue>'
        f'<setValue modelReference="model" target="{PARAMETER.format("eff")}" range="km_range">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><divide/><ci>km_range</ci><cn>2</cn></apply></math>'
        '</setValue></listOfChanges>'
        '<listOfSubTasks><subTask order="1" task="task"/></listOfSubTasks></repeatedTask>')
    answer = _experiment(tmp_path, REPRESSILATOR, "", _time_course(end=60, points=30), repeated,
                         _variables("scan", {"t": "time", "px": SPECIES.format("PX")}), _report(["t", "px"]))
    px = data_set(answer, "experiment.sedml/report", "ds_px")
    assert px.shape == (4, 1, 31)
    for i, km in enumerate(np.linspace(10, 40, 4)):
        expected = _rr(REPRESSILATOR, KM=km, eff=km / 2).simulate(0, 60, 31, ["PX"])[:, 0]
        np.testing.assert_allclose(px[i, 0], expected, rtol=RTOL, atol=1e-9)
    assert not np.allclose(px[0, 0], px[-1, 0])
    assert answer["warnings"] == [] and [t["runs"] for t in answer["tasks"]] == [4]


def test_nested_repeated_tasks_vector_and_functional_ranges_and_continuing_state(tmp_path):
    """Outer: KM over a vector range (reset); inner: two one-second steps that do not reset, with n set
    by a functional range; each inner iteration carries on from the previous state."""
    tasks = (
        '<task id="task" modelReference="model" simulationReference="sim"/>'
        '<repeatedTask id="inner" range="steps" resetModel="false"><listOfRanges>'
        '<vectorRange id="steps"><value>0</value><value>1</value></vectorRange>'
        '<functionalRange id="hill" range="steps"><math xmlns="http://www.w3.org/1998/Math/MathML">'
        '<apply><plus/><cn>2</cn><ci>steps</ci></apply></math></functionalRange></listOfRanges>'
        f'<listOfChanges><setValue modelReference="model" target="{PARAMETER.format("n")}" range="hill">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><ci>hill</ci></math></setValue></listOfChanges>'
        '<listOfSubTasks><subTask order="1" task="task"/></listOfSubTasks></repeatedTask>'
        '<repeatedTask id="outer" range="kms" resetModel="true"><listOfRanges>'
        '<vectorRange id="kms"><value>20</value><value>30</value></vectorRange></listOfRanges>'
        f'<listOfChanges><setValue modelReference="model" target="{PARAMETER.format("KM")}" range="kms">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><ci>kms</ci></math></setValue></listOfChanges>'
        '<listOfSubTasks><subTask order="1" task="inner"/></listOfSubTasks></repeatedTask>')
    answer = _experiment(tmp_path, REPRESSILATOR, f'<changeAttribute target="{SPECIES.format("PX")}/@initialAmount" '
                         'newValue="10"/>', _time_course(end=5, points=5), tasks,
                         _variables("outer", {"px": SPECIES.format("PX")}), _report(["px"]))
    px = data_set(answer, "experiment.sedml/report", "ds_px")
    assert px.shape == (2, 1, 2, 1, 6)
    for i, km in enumerate([20, 30]):
        rr = _rr(REPRESSILATOR.replace('id="PX" initialAmount="0"', 'id="PX" initialAmount="10"'), KM=km)
        for j in range(2):
            rr.setValue("n", 2 + j)
            np.testing.assert_allclose(px[i, 0, j, 0], rr.simulate(0, 5, 6, ["PX"])[:, 0], rtol=RTOL, atol=1e-9)


def test_steady_state_and_one_step(tmp_path):
    sbml = _gene_expression()
    answer = _experiment(
        tmp_path, sbml, "",
        '<steadyState id="ss"><algorithm kisaoID="KISAO:0000407"/></steadyState>'
        '<oneStep id="one" step="2.5"><algorithm kisaoID="KISAO:0000019"/></oneStep>',
        '<task id="steady" modelReference="model" simulationReference="ss"/>'
        '<task id="step" modelReference="model" simulationReference="one"/>',
        _variables("steady", {"m": SPECIES.format("protein")}) + _variables("step", {"p": SPECIES.format("mRNA")}),
        _report(["m", "p"]))
    rr = _rr(sbml)
    rr.steadyState()
    report = answer["reports"]["experiment.sedml/report"]
    steady, step = (series(d["values"]) for d in report["data_sets"])
    assert steady[0] == pytest.approx(rr.getValue("[protein]"), rel=1e-6) and np.isnan(steady[1])
    np.testing.assert_allclose(step, _rr(sbml).simulate(0, 2.5, 2, ["[mRNA]"])[:, 0], rtol=RTOL, atol=1e-12)
    assert answer["substitutions"] == [{"task": "steady", "sedml": "experiment.sedml", "requested": "KISAO_0000407",
                                        "used": "KISAO_0000569", "reason": answer["substitutions"][0]["reason"]}]


def test_gillespie_seed_and_algorithm_parameters(tmp_path):
    """The seed parameter (KISAO_0000488) gives roadrunner's own run with that seed; a parameter no
    engine honours is a warning; tolerances reach CVODE."""
    sbml = _gene_expression()
    params = ('<listOfAlgorithmParameters><algorithmParameter kisaoID="KISAO:0000488" value="42"/>'
              '<algorithmParameter kisaoID="KISAO:0000999" value="1"/></listOfAlgorithmParameters>')
    answer = _experiment(tmp_path, sbml, "", _time_course("KISAO:0000027", end=100, points=20, params=params),
                         '<task id="task" modelReference="model" simulationReference="sim"/>',
                         _variables("task", {"p": SPECIES.format("protein")}), _report(["p"]))
    rr = roadrunner.RoadRunner(sbml)
    rr.setIntegrator("gillespie")
    rr.getIntegrator().setValue("variable_step_size", False)
    rr.getIntegrator().setValue("seed", 42)
    np.testing.assert_array_equal(data_set(answer, "experiment.sedml/report", "ds_p"),
                                  rr.simulate(0, 100, 21, ["[protein]"])[:, 0])
    assert any("KISAO_0000999" in w for w in answer["warnings"])
    assert answer["substitutions"][0]["requested"] == "KISAO_0000027" and answer["tasks"][0]["seeds"] == [42]


def test_repeated_gillespie_runs_differ_and_their_mean_follows_the_ode(tmp_path):
    """40 Gillespie runs of the linear gene-expression model as a repeated task: the runs differ (seeded
    seed, seed + 1, ...) and their mean mRNA count at each time is within 4 standard errors of the ODE
    solution, which for first-order kinetics is the exact mean."""
    tasks = (f'{_TASK}<repeatedTask id="runs" range="k" resetModel="true"><listOfRanges>'
             '<uniformRange id="k" start="1" end="40" numberOfPoints="39" type="linear"/></listOfRanges>'
             '<listOfSubTasks><subTask order="1" task="task"/></listOfSubTasks></repeatedTask>')
    sbml = _gene_expression()
    answer = _experiment(tmp_path, sbml, "", _time_course("KISAO:0000029", end=40, points=8), tasks,
                         _variables("runs", {"m": SPECIES.format("mRNA")}), _report(["m"]), options={"seed": 11})
    runs = data_set(answer, "experiment.sedml/report", "ds_m")[:, 0, :]
    assert runs.shape == (40, 9) and len({tuple(r) for r in runs}) > 30
    assert answer["tasks"][0]["seeds"] == list(range(11, 51))
    ode = _rr(sbml).simulate(0, 40, 9, ["[mRNA]"])[:, 0]
    standard_error = np.maximum(runs.std(axis=0, ddof=1), 0.1) / np.sqrt(len(runs))
    assert (np.abs(runs.mean(axis=0) - ode) <= 4 * standard_error).all()


def test_flux_balance_tasks_match_cobra(tmp_path):
    """FBA, pFBA and FVA of e_coli_core with a glucose bound changed in the model, against COBRApy."""
    bound = "/sbml:sbml/sbml:model/sbml:listOfParameters/sbml:parameter[@id='R_EX_glc__D_e_lower_bound']/@value"
    reaction = "/sbml:sbml/sbml:model/sbml:listOfReactions/sbml:reaction[@id='{}']"
    objective = "/sbml:sbml/sbml:model/fbc:listOfObjectives/fbc:objective[@fbc:id='obj']/@value"
    simulations = "".join(f'<steadyState id="{m}"><algorithm kisaoID="KISAO:{k}"/></steadyState>'
                          for m, k in (("fba", "0000437"), ("pfba", "0000528"), ("fva", "0000526")))
    tasks = "".join(f'<task id="t_{m}" modelReference="model" simulationReference="{m}"/>' for m in ("fba", "pfba", "fva"))
    generators = (_variables("t_fba", {"obj": objective, "pgi": reaction.format("R_PGI") + "/@flux"})
                  + _variables("t_pfba", {"ppgi": reaction.format("R_PGI") + "/@flux"})
                  + _variables("t_fva", {"lo": reaction.format("R_PGI") + "/@minFlux",
                                         "hi": reaction.format("R_PGI") + "/@maxFlux"}))
    model = E_COLI.replace('xmlns:fbc=', 'xmlns:fbc=')  # as shipped
    answer = _experiment(tmp_path, model, f'<changeAttribute target="{bound}" newValue="-6"/>', simulations, tasks,
                         generators, _report(["obj", "pgi", "ppgi", "lo", "hi"]), service="static")
    reference = cobra.io.read_sbml_model(str(SHIPPED_DIR / "metabolic" / "e_coli_core.xml"))
    reference.reactions.EX_glc__D_e.lower_bound = -6
    solution = reference.optimize()
    ranges = flux_variability_analysis(reference, ["PGI"], fraction_of_optimum=1.0)
    values = {d["id"]: d["values"][0] for d in answer["reports"]["experiment.sedml/report"]["data_sets"]}
    assert values["ds_obj"] == pytest.approx(solution.objective_value, rel=1e-6)
    assert values["ds_pgi"] == pytest.approx(solution.fluxes["PGI"], rel=1e-6, abs=1e-6)
    assert values["ds_ppgi"] == pytest.approx(pfba(reference).fluxes["PGI"], rel=1e-6, abs=1e-6)
    assert (values["ds_lo"], values["ds_hi"]) == pytest.approx(
        (ranges.loc["PGI", "minimum"], ranges.loc["PGI", "maximum"]), rel=1e-6, abs=1e-6)


def test_flux_balance_scan_over_an_uptake_bound_matches_cobra(tmp_path):
    """A repeated task setting the glucose bound parameter: one FBA per point, as COBRApy gives it."""
    bound = "/sbml:sbml/sbml:model/sbml:listOfParameters/sbml:parameter[@id='R_EX_glc__D_e_lower_bound']"
    objective = "/sbml:sbml/sbml:model/fbc:listOfObjectives/fbc:objective[@fbc:id='obj']/@value"
    tasks = ('<task id="fba" modelReference="model" simulationReference="sim"/>'
             '<repeatedTask id="scan" range="uptake" resetModel="true"><listOfRanges>'
             '<vectorRange id="uptake"><value>-2</value><value>-5</value><value>-8</value></vectorRange>'
             f'</listOfRanges><listOfChanges><setValue modelReference="model" target="{bound}" range="uptake">'
             '<math xmlns="http://www.w3.org/1998/Math/MathML"><ci>uptake</ci></math></setValue></listOfChanges>'
             '<listOfSubTasks><subTask order="1" task="fba"/></listOfSubTasks></repeatedTask>')
    answer = _experiment(tmp_path, E_COLI, "", '<steadyState id="sim"><algorithm kisaoID="KISAO:0000437"/></steadyState>',
                         tasks, _variables("scan", {"obj": objective}), _report(["obj"]), service="static")
    growth = data_set(answer, "experiment.sedml/report", "ds_obj")
    reference = cobra.io.read_sbml_model(str(SHIPPED_DIR / "metabolic" / "e_coli_core.xml"))
    expected = []
    for uptake in (-2, -5, -8):
        with reference:
            reference.reactions.EX_glc__D_e.lower_bound = uptake
            expected.append(reference.slim_optimize())
    assert growth.shape == (3, 1)
    np.testing.assert_allclose(growth[:, 0], expected, rtol=1e-6)


def test_plots_carry_curves_and_log_axes(tmp_path):
    outputs = ('<listOfOutputs><plot2D id="fig" name="Figure"><listOfCurves>'
               '<curve id="c1" name="PX" logX="false" logY="true" xDataReference="dg_t" yDataReference="dg_px"/>'
               '</listOfCurves></plot2D></listOfOutputs>')
    answer = _experiment(tmp_path, REPRESSILATOR, "", _time_course(end=10, points=10),
                         '<task id="task" modelReference="model" simulationReference="sim"/>',
                         _variables("task", {"t": "time", "px": SPECIES.format("PX")}), outputs)
    plot = answer["plots"]["experiment.sedml/fig"]
    assert (plot["kind"], plot["name"], plot["x_label"]) == ("2d", "Figure", "dg_t")
    curve = plot["curves"][0]
    assert (curve["log_x"], curve["log_y"], curve["x"]["id"], curve["y"]["id"]) == (False, True, "dg_t", "dg_px")
    assert len(curve["x"]["values"]) == len(curve["y"]["values"]) == 11


def test_level_1_version_4_axes_and_3d_plots(tmp_path):
    """L1V4 puts log scales and names on the plot's axes; a Plot3D's surfaces have x, y and z."""
    (tmp_path / "model.xml").write_text(REPRESSILATOR)
    generators = _variables("task", {"t": "time", "px": SPECIES.format("PX"), "py": SPECIES.format("PY")})
    (tmp_path / "v4.sedml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><sedML xmlns="http://sed-ml.org/sed-ml/level1/version4" level="1" '
        'version="4" xmlns:sbml="http://www.sbml.org/sbml/level2/version3"><listOfModels><model id="model" '
        'language="urn:sedml:language:sbml.level-2.version-3" source="model.xml"/></listOfModels>'
        f'<listOfSimulations>{_time_course(end=10, points=10)}</listOfSimulations><listOfTasks>{_TASK}</listOfTasks>'
        f'<listOfDataGenerators>{generators}</listOfDataGenerators><listOfOutputs>'
        '<plot2D id="p2"><xAxis id="xa" type="linear" name="time (s)"/><yAxis id="ya" type="log10"/><listOfCurves>'
        '<curve id="c" type="points" xDataReference="dg_t" yDataReference="dg_px"/></listOfCurves></plot2D>'
        '<plot3D id="p3"><listOfSurfaces><surface id="s" type="surfaceContour" xDataReference="dg_t" '
        'yDataReference="dg_px" zDataReference="dg_py"/></listOfSurfaces></plot3D></listOfOutputs></sedML>')
    answer = run_experiment(str(tmp_path), ["v4.sedml"], "dynamic")
    flat, surface = answer["plots"]["v4.sedml/p2"], answer["plots"]["v4.sedml/p3"]
    assert (flat["x_label"], flat["curves"][0]["log_x"], flat["curves"][0]["log_y"]) == ("time (s)", False, True)
    assert surface["kind"] == "3d" and surface["curves"][0]["z"]["id"] == "dg_py"
    np.testing.assert_allclose(surface["curves"][0]["z"]["values"],
                               _rr(REPRESSILATOR).simulate(0, 10, 11, ["PY"])[:, 0], rtol=RTOL, atol=1e-9)


def test_level_1_version_4_sub_task_set_values(tmp_path):
    """L1V4 lets a sub-task carry its own set values: applied before that sub-task runs."""
    (tmp_path / "model.xml").write_text(REPRESSILATOR)
    (tmp_path / "v4.sedml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><sedML xmlns="http://sed-ml.org/sed-ml/level1/version4" level="1" '
        'version="4" xmlns:sbml="http://www.sbml.org/sbml/level2/version3"><listOfModels><model id="model" '
        'language="urn:sedml:language:sbml" source="model.xml"/></listOfModels>'
        f'<listOfSimulations>{_time_course(end=30, points=10)}</listOfSimulations><listOfTasks>{_TASK}'
        '<repeatedTask id="scan" range="r" resetModel="true"><listOfRanges><vectorRange id="r"><value>15</value>'
        '<value>45</value></vectorRange></listOfRanges><listOfSubTasks><subTask order="1" task="task">'
        f'<listOfChanges><setValue modelReference="model" target="{PARAMETER.format("KM")}" range="r">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><ci>r</ci></math></setValue></listOfChanges>'
        '</subTask></listOfSubTasks></repeatedTask></listOfTasks>'
        f'<listOfDataGenerators>{_variables("scan", {"px": SPECIES.format("PX")})}</listOfDataGenerators>'
        f'{_report(["px"])}</sedML>')
    answer = run_experiment(str(tmp_path), ["v4.sedml"], "dynamic")
    px = data_set(answer, "v4.sedml/report", "ds_px")
    for i, km in enumerate([15, 45]):
        np.testing.assert_allclose(px[i, 0], _rr(REPRESSILATOR, KM=km).simulate(0, 30, 11, ["PX"])[:, 0],
                                   rtol=RTOL, atol=1e-9)


def test_xml_changes_are_applied_before_loading(tmp_path):
    """ChangeXML replaces KM's element; AddXML adds two parameters, RemoveXML drops one of them again:
    the output reads the one left, and a variable on the removed one names nothing."""
    changes = (f'<changeXML target="{PARAMETER.format("KM")}"><newXML>'
               '<sbml:parameter id="KM" value="15"/></newXML></changeXML>'
               '<addXML target="/sbml:sbml/sbml:model/sbml:listOfParameters"><newXML>'
               '<parameter xmlns="http://www.sbml.org/sbml/level2/version3" id="added" value="7"/>'
               '<parameter xmlns="http://www.sbml.org/sbml/level2/version3" id="dropped" value="8"/></newXML></addXML>'
               f'<removeXML target="{PARAMETER.format("dropped")}"/>')
    outputs = _variables("task", {"px": SPECIES.format("PX"), "added": PARAMETER.format("added")})
    answer = _experiment(tmp_path / "ok", REPRESSILATOR, changes, _time_course(end=30, points=10), _TASK, outputs,
                         _report(["px", "added"]))
    np.testing.assert_allclose(data_set(answer, "experiment.sedml/report", "ds_px"),
                               _rr(REPRESSILATOR, KM=15).simulate(0, 30, 11, ["PX"])[:, 0], rtol=RTOL, atol=1e-9)
    assert data_set(answer, "experiment.sedml/report", "ds_added").tolist() == [7.0] * 11
    with pytest.raises(InvalidArchive, match="names nothing"):
        _experiment(tmp_path / "removed", REPRESSILATOR, changes, _time_course(end=30, points=10), _TASK,
                    _variables("task", {"dropped": PARAMETER.format("dropped")}), _report(["dropped"]))


@pytest.mark.parametrize("service,model,simulation,variables,error,words", [
    ("dynamic", E_COLI, '<steadyState id="sim"><algorithm kisaoID="KISAO:0000437"/></steadyState>',
     {"x": "/sbml:sbml/sbml:model/sbml:listOfReactions/sbml:reaction[@id='R_PGI']/@flux"},
     UnsupportedTask, "flux-balance task"),
    ("static", REPRESSILATOR, _time_course(), {"px": SPECIES.format("PX")}, UnsupportedTask, "kinetic simulation"),
    ("dynamic", REPRESSILATOR, _time_course("KISAO:0000999"), {"px": SPECIES.format("PX")}, UnsupportedTask,
     "KISAO_0000999"),
    ("dynamic", REPRESSILATOR, _time_course(), {"px": SPECIES.format("NOPE")}, InvalidArchive, "names nothing"),
], ids=["fba-on-dynamic", "time-course-on-static", "unknown-algorithm", "target-names-nothing"])
def test_tasks_that_cannot_run_are_refused_by_name(tmp_path, service, model, simulation, variables, error, words):
    with pytest.raises(error) as raised:
        _experiment(tmp_path, model, "", simulation, _TASK, _variables("task", variables), _report(list(variables)),
                    service=service)
    assert words in raised.value.message
    if error is UnsupportedTask:
        assert raised.value.status_code == 422 and raised.value.code == "unsupported_task"
        assert raised.value.details["task"] == "task" and raised.value.details["sedml"] == "experiment.sedml"


@pytest.mark.parametrize("source,words", [
    ("https://www.ebi.ac.uk/biomodels/model/download/BIOMD0000000012", "URL or URN"),
    ("urn:miriam:biomodels.db:BIOMD0000000012", "URL or URN"),
    ("../outside.xml", "outside the archive"),
    ("/etc/hostname", "outside the archive"),
    ("missing.xml", "not a file in the archive"),
])
def test_model_sources_outside_the_archive_are_refused(tmp_path, source, words):
    (tmp_path / "outside.xml").write_text(REPRESSILATOR)
    folder = tmp_path / "archive"
    write_archive(folder, REPRESSILATOR, (
        f'<listOfModels><model id="model" language="urn:sedml:language:sbml" source="{source}"/></listOfModels>'
        f'<listOfSimulations>{_time_course()}</listOfSimulations><listOfTasks>{_TASK}</listOfTasks>'
        f'<listOfDataGenerators>{_variables("task", {"px": SPECIES.format("PX")})}</listOfDataGenerators>'
        f'{_report(["px"])}'))
    with pytest.raises(InvalidArchive) as raised:
        run_experiment(str(folder), ["experiment.sedml"], "dynamic")
    assert words in raised.value.message and raised.value.code == "invalid_archive"


def test_data_generator_naming_an_unknown_variable_is_refused(tmp_path):
    generator = ('<dataGenerator id="dg_px"><listOfVariables>'
                 f'<variable id="px" taskReference="task" target="{SPECIES.format("PX")}"/></listOfVariables>'
                 '<math xmlns="http://www.w3.org/1998/Math/MathML"><ci>py</ci></math></dataGenerator>')
    with pytest.raises(InvalidArchive, match="names 'py'"):
        _experiment(tmp_path, REPRESSILATOR, "", _time_course(), _TASK, generator, _report(["px"]))


@pytest.mark.parametrize("formula,expected", [
    ("x + 2 * y - 1", lambda x, y: x + 2 * y - 1),
    ("-x / y ^ 2", lambda x, y: -x / y**2),
    ("piecewise(x, gt(x, 2), y, lt(x, 2), 0)", lambda x, y: np.where(x > 2, x, np.where(x < 2, y, 0.0))),
    ("log(10, x) + ln(y) + exp(x) + abs(-y)", lambda x, y: np.log10(x) + np.log(y) + np.exp(x) + np.abs(y)),
    ("root(3, x) + floor(y / 3) + ceiling(x / 4)", lambda x, y: np.cbrt(x) + np.floor(y / 3) + np.ceil(x / 4)),
    ("and(geq(x, 2), leq(y, 25))", lambda x, y: ((x >= 2) & (y <= 25)).astype(float)),
    ("max(x, y / 10)", lambda x, y: np.fmax(x, y / 10)),
    ("sum(x) + mean(y)", lambda x, y: np.full_like(x, x.sum() + y.mean())),
    ("min(y) * product(x)", lambda x, y: np.full_like(x, y.min() * x.prod())),
    ("sin(pi * x) + cos(exponentiale)", lambda x, y: np.sin(np.pi * x) + np.cos(np.e)),
])
def test_math_is_evaluated_element_wise(formula, expected):
    from bioxen_services.omex.mathml import evaluate

    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 5.0])
    ast = libsedml.parseL3Formula(formula)
    assert ast is not None, libsedml.getLastParseL3Error()
    np.testing.assert_allclose(np.broadcast_to(evaluate(ast, {"x": x, "y": y}, "test"), x.shape),
                               expected(x, y), rtol=1e-12)


def test_math_naming_an_unknown_function_is_refused():
    from bioxen_services.omex.mathml import evaluate

    with pytest.raises(InvalidArchive, match="does not define"):
        evaluate(libsedml.parseL3Formula("unknownf(x)"), {"x": np.ones(2)}, "data generator 'g'")


def test_an_experiment_past_the_limits_is_refused_before_it_runs(tmp_path):
    from bioxen_services.errors import LimitExceeded
    from bioxen_services.omex.plan import MAX_POINTS

    with pytest.raises(LimitExceeded, match="points"):
        _experiment(tmp_path, REPRESSILATOR, "", _time_course(points=MAX_POINTS + 1), _TASK,
                    _variables("task", {"px": SPECIES.format("PX")}), _report(["px"]))


@pytest.mark.parametrize("kisao_id,service", [("KISAO:0000019", "dynamic"), ("KISAO_0000088", "dynamic"),
                                              ("KISAO_0000029", "dynamic"), ("KISAO_0000437", "static"),
                                              ("KISAO_0000528", "static"), ("KISAO_0000999", None)])
def test_each_algorithm_names_the_service_that_runs_it(kisao_id, service):
    from bioxen_services.omex.kisao import service_for

    assert service_for(kisao_id) == service


@pytest.mark.parametrize("asked,used,integrator", [
    ("KISAO:0000039", "KISAO_0000029", "gillespie"),  # tau-leaping: Gillespie's direct method
    ("KISAO:0000288", "KISAO_0000019", "cvode"),  # a BDF method: CVODE
    ("KISAO:0000435", "KISAO_0000086", "rk45"),  # an embedded Runge-Kutta 4(5): RKF45
])
def test_a_family_member_runs_as_its_familys_method_and_says_so(tmp_path, asked, used, integrator):
    """KiSAO ids our engines lack run on the method of their family the engine has, declared as a
    substitution; the numbers are that method's own run in-process."""
    sbml = _gene_expression()
    params = '<listOfAlgorithmParameters><algorithmParameter kisaoID="KISAO:0000488" value="7"/>' \
             '</listOfAlgorithmParameters>' if integrator == "gillespie" else ""
    answer = _experiment(tmp_path, sbml, "", _time_course(asked, end=20, points=10, params=params), _TASK,
                         _variables("task", {"p": SPECIES.format("protein")}), _report(["p"]))
    requested = asked.replace(":", "_")
    assert answer["tasks"][0]["algorithm"]["requested"] == requested and answer["tasks"][0]["algorithm"]["used"] == used
    assert [(s["requested"], s["used"]) for s in answer["substitutions"]] == [(requested, used)]
    rr = roadrunner.RoadRunner(sbml)
    rr.setIntegrator(integrator)
    if integrator == "gillespie":
        rr.getIntegrator().setValue("variable_step_size", False)
        rr.getIntegrator().setValue("seed", 7)
    expected = rr.simulate(0, 20, 11, ["[protein]"])[:, 0]
    np.testing.assert_allclose(data_set(answer, "experiment.sedml/report", "ds_p"), expected, rtol=1e-9)
