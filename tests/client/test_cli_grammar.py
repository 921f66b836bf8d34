"""One grammar for the ``bioxen`` command: the model first on every model command, ``--format
table|json|csv`` on every result command, ``models``, ``steady-state``, ``--version``, a quiet exit on a
closed pipe, model files told apart by content, and one clear message when no endpoint can be found.
Against the real services (session fixtures) and cobra / libRoadRunner in this process."""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import io
import json
import os
import subprocess

import pytest

from bioxen_common.manifest import default_manifest
from bioxen_vm.cli import FORMATS, MODEL_COMMANDS, build_parser, main, table
from support import BIN

#: sub-commands that print no result (they run something else or run until stopped)
NOT_RESULTS = {"serve", "worker", "demo", "vm"}


@pytest.fixture()
def ep(static_url, dynamic_url) -> list[str]:
    return ["--static-url", static_url, "--dynamic-url", dynamic_url]


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every leaf command, by its full name (``job submit``)."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                out.update(_subparsers(sub, full + " ") or {full: sub})
    return out


COMMANDS = _subparsers(build_parser())


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: a for a in parser._actions for flag in a.option_strings}


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _env() -> dict[str, str]:
    """This process's environment without any BioXen or cluster setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("BIOXEN_", "POD_NAMESPACE"))}


# -- the grammar, walked ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODEL_COMMANDS))
def test_every_model_command_takes_the_model_first_and_refuses_the_old_option(name, capsys):
    parser = COMMANDS[name]
    positionals = [a for a in parser._actions if not a.option_strings]
    assert positionals[0].dest == "model" and positionals[0].nargs == "?"
    assert positionals[0].default == MODEL_COMMANDS[name]
    assert parser.parse_args(["my_model"]).model == "my_model"
    assert parser.parse_args([]).model == MODEL_COMMANDS[name]
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--model", "iMM904"])
    assert exc.value.code == 2
    assert f"the model is the first argument, not an option: bioxen {name} iMM904" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(n for n in COMMANDS if n.split()[0] not in NOT_RESULTS))
def test_every_result_command_takes_format_and_json_as_its_alias(name):
    options = _options(COMMANDS[name])
    assert tuple(options["--format"].choices) == FORMATS and options["--format"].default == "table"
    alias = options["--json"]
    assert (alias.dest, alias.const, alias.nargs) == ("format", "json", 0)


def test_an_option_means_the_same_everywhere_it_appears():
    seen: dict[str, tuple] = {}
    for name, parser in COMMANDS.items():
        if name.split()[0] in ("serve", "worker"):
            continue
        for flag, action in _options(parser).items():
            shape = (type(action).__name__, action.type, action.nargs, action.dest)
            assert seen.setdefault(flag, shape) == shape, (name, flag)
    # the same things under the same names across the model commands
    kinetic, metabolic = ("simulate", "scan", "steady-state"), ("fba", "fva", "knockouts", "dfba")
    assert all({"--param", "--initial"} <= _options(COMMANDS[c]).keys() for c in kinetic)
    assert all({"--objective", "--bound"} <= _options(COMMANDS[c]).keys() for c in metabolic)
    assert all({"--start", "--end", "--points"} <= _options(COMMANDS[c]).keys() for c in ("simulate", "scan", "dfba"))


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"bioxen {importlib.metadata.version('bioxen-vm')}"


def test_table_aligns_ids_that_start_with_a_digit_as_text():
    lines = table(["reaction", "flux"], [["12DGR120tipp", 1.5], ["PGI", -10.25], ["3OAR40", None]]).splitlines()
    assert lines[2].startswith("12DGR120tipp ") and lines[4].startswith("3OAR40 ")  # left, as text
    assert lines[2].endswith("   1.5") and lines[3].endswith("-10.25") and lines[4].endswith("     -")


# -- formats against the real services ---------------------------------------------------------------
def test_fva_csv_is_the_tables_rows_and_matches_cobra(capsys, ep, reference_ecoli):
    from cobra.flux_analysis import flux_variability_analysis

    code, out, _ = _run(capsys, "fva", "e_coli_core", *ep, "--reactions", "PGI,PFK,EX_ac_e", "--format", "csv")
    assert code == 0
    rows = _csv(out)
    assert rows[0] == ["reaction", "minimum", "maximum"]
    expected = flux_variability_analysis(reference_ecoli, ["PGI", "PFK", "EX_ac_e"], fraction_of_optimum=1.0)
    assert [r[0] for r in rows[1:]] == ["PGI", "PFK", "EX_ac_e"]
    for rid, low, high in rows[1:]:
        assert float(low) == pytest.approx(expected.loc[rid, "minimum"], abs=1e-6)
        assert float(high) == pytest.approx(expected.loc[rid, "maximum"], abs=1e-6)


def test_fva_takes_the_same_model_changes_as_fba(capsys, ep, reference_ecoli):
    from cobra.flux_analysis import flux_variability_analysis

    code, out, _ = _run(capsys, "fva", *ep, "--reactions", "PGI", "--knockout-reactions", "PFK",
                        "--bound", "EX_glc__D_e=-5,1000", "--json")
    assert code == 0
    with reference_ecoli as model:
        model.reactions.PFK.knock_out()
        model.reactions.EX_glc__D_e.bounds = (-5, 1000)
        expected = flux_variability_analysis(model, ["PGI"], fraction_of_optimum=1.0)
    assert json.loads(out)["ranges"]["PGI"]["minimum"] == pytest.approx(expected.loc["PGI", "minimum"], abs=1e-6)


def test_models_lists_both_services_shipped_models(capsys, ep):
    manifest = default_manifest()
    code, out, _ = _run(capsys, "models", *ep, "--json")
    assert code == 0
    listed = json.loads(out)
    assert {m["id"] for m in listed["static"]} == set(manifest.metabolic_models)
    assert {m["id"] for m in listed["dynamic"]} == set(manifest.kinetic_programs)
    code, out, _ = _run(capsys, "models", *ep, "--service", "dynamic", "--format", "csv")
    rows = _csv(out)
    assert code == 0 and {r[0] for r in rows[1:]} == {"dynamic"}
    assert {r[1] for r in rows[1:]} == set(manifest.kinetic_programs)


def test_models_id_shows_reactions_and_genes_of_a_metabolic_model(capsys, ep, reference_ecoli):
    code, out, _ = _run(capsys, "models", "e_coli_core", *ep, "--format", "csv")
    assert code == 0
    rows = _csv(out)[1:]
    assert [r[1] for r in rows if r[0] == "reaction"] == [r.id for r in reference_ecoli.reactions]
    assert sorted(r[1] for r in rows if r[0] == "gene") == sorted(g.id for g in reference_ecoli.genes)
    uptake = {r[1]: float(r[2]) for r in rows if r[0] == "reaction" and r[2]}
    assert uptake == pytest.approx(reference_ecoli.medium)
    code, out, _ = _run(capsys, "models", "e_coli_core", *ep)
    assert code == 0 and out.startswith("e_coli_core (") and "medium uptake" in out


def test_models_id_shows_species_and_parameters_of_a_kinetic_program(capsys, ep, reference_rr):
    code, out, _ = _run(capsys, "models", "gene_expression", *ep, "--format", "csv")
    assert code == 0
    rows = _csv(out)[1:]
    assert [r[1] for r in rows if r[0] == "floating species"] == list(reference_rr.model.getFloatingSpeciesIds())
    parameters = {r[1]: float(r[2]) for r in rows if r[0] == "parameter"}
    assert parameters == pytest.approx(dict(zip(reference_rr.model.getGlobalParameterIds(),
                                                reference_rr.model.getGlobalParameterValues())))
    assert [r[1] for r in rows if r[0] == "reaction"] == list(reference_rr.model.getReactionIds())


def test_models_with_an_unknown_id_says_where_to_look(capsys, ep):
    code, _, err = _run(capsys, "models", "no_such_model", *ep)
    assert code == 2
    assert "no shipped model 'no_such_model' on the static or dynamic service (bioxen models lists them)" in err


def test_steady_state_matches_roadrunner(capsys, ep, reference_rr):
    code, out, _ = _run(capsys, "steady-state", "gene_expression", *ep, "--param", "k_translation=0.4", "--json")
    assert code == 0
    answer = json.loads(out)
    reference_rr["k_translation"] = 0.4
    reference_rr.steadyState()
    species = {s: reference_rr[f"[{s}]"] for s in reference_rr.model.getFloatingSpeciesIds()}
    rates = dict(zip(reference_rr.model.getReactionIds(), reference_rr.model.getReactionRates()))
    assert answer["steady_state"] == pytest.approx(species, rel=1e-6, abs=1e-9)
    assert answer["reaction_rates"] == pytest.approx(rates, rel=1e-6, abs=1e-9)
    code, out, _ = _run(capsys, "steady-state", *ep, "--format", "csv")
    rows = _csv(out)
    assert code == 0 and rows[0] == ["quantity", "id", "value"]
    assert {r[0] for r in rows[1:]} == {"species", "reaction rate"}


# -- model files by content --------------------------------------------------------------------------
@pytest.mark.parametrize("name, save", [("ecoli.txt", "save_json_model"), ("ecoli.data", "save_matlab_model")])
def test_cobra_json_and_matlab_files_are_converted_whatever_their_name(capsys, ep, tmp_path, reference_ecoli,
                                                                       name, save):
    import cobra.io

    path = tmp_path / name
    getattr(cobra.io, save)(reference_ecoli, str(path))
    code, out, err = _run(capsys, "fba", str(path), *ep, "--json")
    assert code == 0, err
    assert json.loads(out)["objective_value"] == pytest.approx(reference_ecoli.slim_optimize(), rel=1e-6)


def test_antimony_in_a_file_named_xml_is_sent_as_antimony(capsys, ep, tmp_path, gene_expression_text,
                                                          reference_rr):
    path = tmp_path / "circuit.xml"
    path.write_text(gene_expression_text)
    code, out, err = _run(capsys, "simulate", str(path), *ep, "--points", "11", "--json")
    assert code == 0, err
    assert json.loads(out)["trajectories"]["protein"][-1] == pytest.approx(
        reference_rr.simulate(0, 10, 11, ["time", "[protein]"])[-1, 1], rel=1e-6)


@pytest.mark.parametrize("content, message", [
    (b"\x89\xff\x00binary",
     "is neither UTF-8 text (SBML, Antimony, COBRA JSON) nor a MATLAB .mat file: byte 0x89 at offset 0 is not UTF-8"),
    (b"<?xml version='1.0'?><html/>", "is XML but not SBML (no <sbml> element)"),
    (b'{"nodes": []}', "is JSON but not a COBRA model (no reactions and metabolites)"),
])
def test_unreadable_model_files_are_refused_clearly(capsys, ep, tmp_path, content, message):
    path = tmp_path / "model.file"
    path.write_bytes(content)
    code, _, err = _run(capsys, "fba", str(path), *ep)
    assert (code, err.strip()) == (2, f"error: model file {path} {message}")


def test_a_missing_model_file_is_not_sent_as_a_model_id(capsys, ep, tmp_path):
    code, _, err = _run(capsys, "simulate", str(tmp_path / "nope.ant"), *ep)
    assert code == 2 and "no such model file" in err


def test_an_unreadable_model_file_is_an_error_not_a_traceback(tmp_path):
    from bioxen_vm import load_model_file

    with pytest.raises(ValueError, match=f"cannot read model file {tmp_path}: Is a directory"):
        load_model_file(tmp_path)


# -- processes: a closed pipe, no endpoint -------------------------------------------------------------
def test_a_closed_pipe_ends_quietly_with_pythons_status(dynamic_url):
    """``bioxen simulate ... | head -3`` with more output than a pipe holds: head leaves after 3 lines."""
    producer = subprocess.Popen([str(BIN / "bioxen"), "simulate", "--dynamic-url", dynamic_url, "--points", "20000",
                                 "--rows", "20000", "--format", "csv"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env())
    head = subprocess.run(["head", "-3"], stdin=producer.stdout, capture_output=True, timeout=60)
    producer.stdout.close()
    err = producer.stderr.read().decode()
    producer.stderr.close()
    assert producer.wait(timeout=60) == 1, err
    assert err == ""
    assert len(head.stdout.decode().splitlines()) == 3


def test_no_endpoint_is_one_message_saying_what_was_tried_and_what_to_set():
    proc = subprocess.run([str(BIN / "bioxen"), "fba"], env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    for text in ("no static service endpoint found", "--static-url and BIOXEN_STATIC_URL are not set",
                 "cannot resolve bioxen-static.default.svc.cluster.local",
                 "BIOXEN_STATIC_URL=http://HOST:PORT", "--static-url on the command line"):
        assert text in lines[0]


def test_dfba_takes_the_metabolic_changes_and_a_start_time(capsys, ep, client):
    argv = ["dfba", "e_coli_core", *ep, "--start", "1", "--end", "3", "--points", "3", "--json"]
    code, out, _ = _run(capsys, *argv, "--bound", "EX_o2_e=0,1000")
    assert code == 0
    anaerobic = json.loads(out)
    expected = client.dfba("e_coli_core", biomass=0.05, concentrations={"EX_glc__D_e": 10.0}, start=1, end=3,
                           points=3, bounds={"EX_o2_e": [0, 1000]})
    assert anaerobic["time"] == [1.0, 2.0, 3.0] and anaerobic["biomass"] == expected["biomass"]
    code, out, _ = _run(capsys, *argv)
    assert code == 0 and json.loads(out)["biomass"][-1] > anaerobic["biomass"][-1]  # oxygen makes a difference
