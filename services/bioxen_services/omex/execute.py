"""Running the SED-ML experiments of an extracted COMBINE archive on one service's engine.

:func:`run_experiment` is what an engine process runs (module-level, picklable arguments; cobra or
libRoadRunner imported by the service's backend only). For each SED-ML file: every task whose results
an output needs is run (a Task on its model from the model's initial state; a RepeatedTask iterating
its range, resetting when asked, applying its set values, running its sub-tasks in ``order``; nested
ones within), data generators are evaluated over the variables (:mod:`.mathml`), and reports and
plots are assembled. Shapes follow BioSimulators: a Task gives a series per variable (a number for a
steady state), a RepeatedTask stacks its iterations and sub-tasks (iterations x sub-tasks x ...),
padding shorter results with NaN, and a report pads its data sets to one shape (a number becomes one
value), so that its rows are those of the reference ``reports.h5``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

import numpy as np

from ..errors import InvalidArchive, LimitExceeded, UnsupportedTask
from . import kisao
from .mathml import evaluate
from .plan import simulation_spec
from .sedml import (
    Models,
    Target,
    inside,
    namespaces,
    read_document,
    read_text,
    resolve_target,
    sedml_key,
)

TIME_SYMBOL = "urn:sedml:symbol:time"
#: most values all the tasks of one experiment may produce (points x variables, over every run)
MAX_VALUES = 50_000_000
#: most runs of sub-tasks one experiment's repeated tasks may make
MAX_RUNS = 100_000
#: most seeds listed per task in the answer (the first runs')
MAX_LISTED_SEEDS = 1000


def run_experiment(root: str, sedml_paths: list[str], service: str, options: dict | None = None) -> dict:
    """Run the SED-ML files ``sedml_paths`` (relative to ``root``) on ``service`` ("static": COBRApy,
    "dynamic": libRoadRunner). ``options``: ``seed`` (an int): stochastic runs whose algorithm names
    no seed (KISAO_0000488) are seeded ``seed``, ``seed + 1``, ... in the order they run (otherwise
    each draws one; the seeds used are in ``tasks``). Returns reports, plots, the tasks run,
    substitutions and warnings (JSON-able)."""
    if service not in ("static", "dynamic"):
        raise ValueError(f"unknown service {service!r}")
    answer = {"reports": {}, "plots": {}, "tasks": [], "substitutions": [], "warnings": []}
    documents = [(sedml_key(path), read_document(root, sedml_key(path))) for path in sedml_paths]
    experiments = [Experiment(root, key, doc, service, dict(options or {}), answer) for key, doc in documents]
    for experiment in experiments:  # every task checked before the first runs
        experiment.check()
    for experiment in experiments:
        experiment.run()
    answer["warnings"] = list(dict.fromkeys(answer["warnings"]))  # once each, not once per run
    return answer


def _backend(service: str, files):
    if service == "static":
        from .metabolic import MetabolicBackend

        return MetabolicBackend(files)
    from .kinetic import KineticBackend

    return KineticBackend(files)


class _ArchiveFiles(Mapping):
    """The files of the archive, by path relative to one model's folder, read when asked for (SBML comp
    external model definitions); only paths inside the archive."""

    def __init__(self, root: str, folder: str):
        self._root, self._folder = root, folder

    def _path(self, name: str) -> str | None:
        try:
            return inside(self._root, os.path.join(self._folder, name), f"external model {name!r}")
        except InvalidArchive:
            return None

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and self._path(name) is not None

    def __getitem__(self, name: str) -> str:
        path = self._path(name)
        if path is None:
            raise KeyError(name)
        return read_text(path, f"external model {name!r}")

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def _pad(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Arrays of one shape: the largest in every dimension, missing values NaN."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    ndim = max((a.ndim for a in arrays), default=0)
    arrays = [a.reshape(a.shape + (1,) * (ndim - a.ndim)) if a.ndim < ndim and a.ndim > 0 else a
              for a in arrays]
    arrays = [a.reshape((1,) * ndim) if a.ndim == 0 and ndim > 0 else a for a in arrays]
    shape = tuple(max(a.shape[d] for a in arrays) for d in range(ndim))
    out = []
    for a in arrays:
        if a.shape == shape:
            out.append(a)
            continue
        padded = np.full(shape, np.nan)
        padded[tuple(slice(0, n) for n in a.shape)] = a
        out.append(padded)
    return out


def jsonable(values: np.ndarray):
    """Nested lists of floats, non-finite values as None."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        return float(array) if math.isfinite(array) else None
    if np.isfinite(array).all():
        return array.tolist()
    return [jsonable(row) for row in array]


class Experiment:
    """One SED-ML document run on one service."""

    def __init__(self, root: str, sedml: str, doc, service: str, options: dict, answer: dict):
        self.root, self.sedml, self.doc, self.service = root, sedml, doc, service
        self.options, self.answer = options, answer
        self.warnings: list[str] = answer["warnings"]
        self.models = Models(root, sedml, doc)
        self.backend = _backend(service, lambda key: _ArchiveFiles(root, self.models.sources.get(key, "")))
        self.specs = {}
        self.task_entries: dict[str, dict] = {}
        self.values = 0
        self.runs = 0
        self.stochastic_runs = 0
        #: per task id, the variables (libSEDML objects) whose values it must give
        self.variables: dict[str, list] = {}

    # checks ---------------------------------------------------------------------------------------

    def _task(self, task_id: str, where: str):
        task = self.doc.getTask(task_id)
        if task is None:
            raise InvalidArchive(f"{self.sedml}: {where} names task {task_id!r}, which the document does "
                                 "not define")
        return task

    def check(self) -> None:
        """Every reference resolved and every task this service can run, before anything runs."""
        for i in range(self.doc.getNumDataGenerators()):
            generator = self.doc.getDataGenerator(i)
            for j in range(generator.getNumVariables()):
                variable = generator.getVariable(j)
                where = f"variable {variable.getId()!r} of data generator {generator.getId()!r}"
                task = self._task(variable.getTaskReference(), where)
                if (variable.isSetTerm() and variable.getTerm()) or variable.getNumAppliedDimensions():
                    raise UnsupportedTask(task.getId(), self.sedml, f"{where} asks for a term or applied "
                                          "dimensions (SED-ML L1V4 reductions), which are not supported")
                if not variable.isSetTarget() and variable.getSymbol() != TIME_SYMBOL:
                    raise (UnsupportedTask(task.getId(), self.sedml, f"{where} names symbol "
                                           f"{variable.getSymbol()!r}; only {TIME_SYMBOL} is supported")
                           if variable.isSetSymbol() else
                           InvalidArchive(f"{self.sedml}: {where} has neither a target nor a symbol"))
                self.variables.setdefault(task.getId(), []).append(variable)
        self.reached: set[str] = set()
        for task_id in self.variables:
            self._check_task(self.doc.getTask(task_id), ())
        for i in range(self.doc.getNumOutputs()):
            for generator_id in self._output_generators(self.doc.getOutput(i)):
                if self.doc.getDataGenerator(generator_id) is None:
                    raise InvalidArchive(f"{self.sedml}: output {self.doc.getOutput(i).getId()!r} names data "
                                         f"generator {generator_id!r}, which the document does not define")
        for i in range(self.doc.getNumTasks()):
            if self.doc.getTask(i).getId() not in self.reached:
                self.warnings.append(f"{self.sedml}: task {self.doc.getTask(i).getId()!r} contributes to no "
                                     "output; not run")

    def _check_task(self, task, chain: tuple[str, ...]) -> None:
        if task.getId() in chain:
            raise InvalidArchive(f"{self.sedml}: repeated tasks contain each other: "
                                 + " -> ".join([*chain, task.getId()]))
        self.reached.add(task.getId())
        kind = task.getElementName()
        if kind == "task":
            if task.getId() not in self.specs:
                spec = simulation_spec(self.doc, task, self.sedml, self.service, self.warnings)
                self.backend.load(task.getModelReference(), self.models.get(task.getModelReference()))
                self.specs[task.getId()] = self.backend.adapt(task.getModelReference(), spec)
            return
        if kind != "repeatedTask":
            raise UnsupportedTask(task.getId(), self.sedml, f"a {kind} is not supported")
        if task.getNumSubTasks() == 0:
            raise InvalidArchive(f"{self.sedml}: repeated task {task.getId()!r} has no sub-tasks")
        if task.getRange(task.getRangeId()) is None:
            raise InvalidArchive(f"{self.sedml}: repeated task {task.getId()!r} names range "
                                 f"{task.getRangeId()!r}, which it does not define")
        changes = [task.getTaskChange(i) for i in range(task.getNumTaskChanges())]
        for i in range(task.getNumSubTasks()):
            sub = task.getSubTask(i)
            inner = self._task(sub.getTask(), f"a sub-task of {task.getId()!r}")
            self._check_task(inner, (*chain, task.getId()))
            changes += [sub.getTaskChange(j) for j in range(sub.getNumTaskChanges())]
        for change in changes:
            model_id = change.getModelReference()
            if self.doc.getModel(model_id) is None:
                raise InvalidArchive(f"{self.sedml}: a set value of repeated task {task.getId()!r} names "
                                     f"model {model_id!r}, which the document does not define")
            self.backend.load(model_id, self.models.get(model_id))

    @staticmethod
    def _output_generators(output) -> list[str]:
        kind = output.getElementName()
        if kind == "report":
            return [output.getDataSet(i).getDataReference() for i in range(output.getNumDataSets())]
        if kind == "plot2D":
            return [ref for i in range(output.getNumCurves())
                    for ref in (output.getCurve(i).getXDataReference(), output.getCurve(i).getYDataReference())]
        if kind == "plot3D":
            return [ref for i in range(output.getNumSurfaces())
                    for s in [output.getSurface(i)]
                    for ref in (s.getXDataReference(), s.getYDataReference(), s.getZDataReference())]
        return []

    # running --------------------------------------------------------------------------------------

    def run(self) -> None:
        results: dict[str, dict[str, np.ndarray]] = {}
        for task_id, variables in self.variables.items():
            task = self.doc.getTask(task_id)
            for model_id in self._models_of(task):
                self.backend.reset(model_id)
            results[task_id] = self._execute(task, variables)
        generated = {}
        for i in range(self.doc.getNumDataGenerators()):
            generator = self.doc.getDataGenerator(i)
            generated[generator.getId()] = self._generate(generator, results)
        for i in range(self.doc.getNumOutputs()):
            self._output(self.doc.getOutput(i), generated)
        for entry in self.task_entries.values():
            entry["seconds"] = round(entry["seconds"], 6)
            self.answer["tasks"].append(entry)

    def _models_of(self, task) -> list[str]:
        if task.getElementName() == "task":
            return [task.getModelReference()]
        out = [task.getTaskChange(i).getModelReference() for i in range(task.getNumTaskChanges())]
        for i in range(task.getNumSubTasks()):
            out += self._models_of(self.doc.getTask(task.getSubTask(i).getTask()))
        return list(dict.fromkeys(out))

    def _execute(self, task, variables) -> dict[str, np.ndarray]:
        if task.getElementName() == "task":
            return self._run_task(task, variables)
        return self._run_repeated(task, variables)

    def _target(self, model_id: str, variable) -> Target | None:
        if not variable.isSetTarget():
            return None
        where = f"{self.sedml}: variable {variable.getId()!r}"
        return resolve_target(self.backend.xml(model_id), variable.getTarget(), namespaces(self.doc, variable), where)

    def _run_task(self, task, variables) -> dict[str, np.ndarray]:
        spec = self.specs[task.getId()]
        model_id = task.getModelReference()
        targets = {}
        for variable in variables:
            wanted = variable.getModelReference() if variable.isSetModelReference() else None
            if wanted and wanted != model_id:
                continue  # a repeated task's variable about another sub-task's model
            targets[variable.getId()] = self._target(model_id, variable)
        if spec.algorithm.kind == kisao.SSA and spec.seed is None:
            from .kinetic import draw_seed

            base = self.options.get("seed")  # run k of the experiment: base + k, so repetitions differ
            spec.seed = int(base) + self.stochastic_runs if base is not None else draw_seed()
            self.stochastic_runs += 1
        self.runs += 1
        if self.runs > MAX_RUNS:
            raise LimitExceeded(f"{self.sedml}: the repeated tasks make more than {MAX_RUNS} runs")
        started = time.perf_counter()
        out = self.backend.run(model_id, spec, targets, self.warnings)
        self._record(task, spec, time.perf_counter() - started)
        self.values += sum(max(1, a.size) for a in out.values())
        if self.values > MAX_VALUES:
            raise LimitExceeded(f"{self.sedml}: the tasks produce more than {MAX_VALUES} values")
        if spec.algorithm.kind == kisao.SSA and spec.parameters.get("seed") is None:
            spec.seed = None  # the next run of this task draws its own
        nan = np.full(next(iter(out.values())).shape if out else (), np.nan)
        return {v.getId(): out.get(v.getId(), nan) for v in variables}

    def _record(self, task, spec, seconds: float) -> None:
        """The task's entry in ``tasks`` (one per Task, over all its runs), and its substitution once the
        algorithm run differs from the one asked for (decided before the run, or by the run itself)."""
        entry = self.task_entries.get(task.getId())
        if entry is None:
            entry = self.task_entries[task.getId()] = {
                "id": task.getId(), "sedml": self.sedml, "simulation": spec.simulation,
                "algorithm": {"requested": spec.requested, "used": None, "engine": None},
                "seconds": 0.0, "runs": 0}
        if entry["algorithm"]["used"] != spec.algorithm.kisao:
            entry["algorithm"].update(used=spec.algorithm.kisao, engine=spec.algorithm.engine)
            if spec.requested != spec.algorithm.kisao:
                self.answer["substitutions"].append({"task": task.getId(), "sedml": self.sedml,
                                                     "requested": spec.requested,
                                                     "used": spec.algorithm.kisao, "reason": spec.reason})
        seeds = entry.setdefault("seeds", []) if spec.seed is not None else None
        if seeds is not None and len(seeds) < MAX_LISTED_SEEDS:
            seeds.append(spec.seed)
        entry["seconds"] += seconds
        entry["runs"] += 1

    def _range_values(self, range_, current: dict, model_values) -> list[float] | float:
        kind = range_.getElementName()
        if kind == "uniformRange":
            start, end, steps = range_.getStart(), range_.getEnd(), int(range_.getNumberOfPoints())
            if not 0 <= steps < MAX_RUNS:
                raise LimitExceeded(f"{self.sedml}: range {range_.getId()!r} has {steps + 1} values; a repeated "
                                    f"task may make at most {MAX_RUNS} runs")
            if (range_.getType() or "linear").lower() == "log":
                if start <= 0 or end <= 0:
                    raise InvalidArchive(f"{self.sedml}: log range {range_.getId()!r} needs positive bounds")
                return list(np.logspace(np.log10(start), np.log10(end), steps + 1))
            return list(np.linspace(start, end, steps + 1))
        if kind == "vectorRange":
            return [float(v) for v in range_.getValues()]
        if kind == "functionalRange":
            values = dict(current)
            for i in range(range_.getNumParameters()):
                values[range_.getParameter(i).getId()] = range_.getParameter(i).getValue()
            for i in range(range_.getNumVariables()):
                variable = range_.getVariable(i)
                values[variable.getId()] = model_values(variable)
            return float(evaluate(range_.getMath(), values, f"{self.sedml}: functional range {range_.getId()!r}"))
        raise UnsupportedTask(range_.getId(), self.sedml, f"a {kind} is not supported")

    def _run_repeated(self, task, variables) -> dict[str, np.ndarray]:
        task_id = task.getId()
        ranges = [task.getRange(i) for i in range(task.getNumRanges())]
        fixed = {r.getId(): self._range_values(r, {}, None) for r in ranges
                 if r.getElementName() != "functionalRange"}
        main = task.getRangeId()
        if main not in fixed:
            functional = task.getRange(main)
            main = functional.getRange() if functional.isSetRange() else None
        if main not in fixed:
            raise InvalidArchive(f"{self.sedml}: repeated task {task_id!r} has no range to iterate over")
        count = len(fixed[main])
        subtasks = sorted((task.getSubTask(i) for i in range(task.getNumSubTasks())), key=lambda s: s.getOrder())
        collected = {v.getId(): [] for v in variables}

        def model_value(model_id):
            def read(variable):
                if not variable.isSetTarget():
                    raise UnsupportedTask(task_id, self.sedml, f"variable {variable.getId()!r} of a range or "
                                          "set value must have a target")
                model = variable.getModelReference() if variable.isSetModelReference() else model_id
                return self.backend.get_value(model, self._target(model, variable))
            return read

        for iteration in range(count):
            if task.getResetModel():
                for model_id in self._models_of(task):
                    self.backend.reset(model_id)
            current = {rid: values[iteration] for rid, values in fixed.items() if len(values) > iteration}
            first_model = self._models_of(task)[0]
            for r in ranges:
                if r.getElementName() == "functionalRange":
                    current[r.getId()] = self._range_values(r, current, model_value(first_model))
            for i in range(task.getNumTaskChanges()):
                self._set_value(task.getTaskChange(i), current, model_value)
            row = {v: [] for v in collected}
            for sub in subtasks:
                for i in range(sub.getNumTaskChanges()):  # SED-ML L1V4: set values of one sub-task
                    self._set_value(sub.getTaskChange(i), current, model_value)
                sub_results = self._execute(self.doc.getTask(sub.getTask()), variables)
                for v, results in row.items():
                    results.append(sub_results[v])
            for v, rows in collected.items():
                rows.append(row[v])
        out = {}
        for v, rows in collected.items():
            flat = _pad([a for row in rows for a in row])
            shape = flat[0].shape if flat else ()
            out[v] = np.asarray(flat, dtype=float).reshape((count, len(subtasks), *shape))
        return out

    def _set_value(self, change, current: dict, model_value) -> None:
        model_id = change.getModelReference()
        where = f"{self.sedml}: set value of {change.getTarget()!r}"
        values = dict(current)
        if change.isSetRange() and change.getRange() in current:
            values[change.getRange()] = current[change.getRange()]
        for i in range(change.getNumParameters()):
            values[change.getParameter(i).getId()] = change.getParameter(i).getValue()
        reader = model_value(model_id)
        for i in range(change.getNumVariables()):
            values[change.getVariable(i).getId()] = reader(change.getVariable(i))
        if change.isSetMath():
            value = float(evaluate(change.getMath(), values, where))
        elif change.isSetRange():
            value = float(current[change.getRange()])
        else:
            raise InvalidArchive(f"{where} has neither math nor a range")
        target = resolve_target(self.backend.xml(model_id), change.getTarget(), namespaces(self.doc, change), where)
        self.backend.set_value(model_id, target, value)

    # outputs --------------------------------------------------------------------------------------

    def _generate(self, generator, results) -> np.ndarray:
        where = f"{self.sedml}: data generator {generator.getId()!r}"
        values = {}
        for i in range(generator.getNumParameters()):
            values[generator.getParameter(i).getId()] = generator.getParameter(i).getValue()
        names, arrays = [], []
        for i in range(generator.getNumVariables()):
            variable = generator.getVariable(i)
            names.append(variable.getId())
            arrays.append(results[variable.getTaskReference()][variable.getId()])
        values.update(zip(names, _pad(arrays)))
        return evaluate(generator.getMath(), values, where)

    def _output(self, output, generated) -> None:
        key = f"{self.sedml}/{output.getId()}"
        kind = output.getElementName()
        name = output.getName() or None
        if kind == "report":
            data_sets = [output.getDataSet(i) for i in range(output.getNumDataSets())]
            padded = _pad([np.atleast_1d(generated[d.getDataReference()]) for d in data_sets])
            self.answer["reports"][key] = {"id": output.getId(), "name": name, "data_sets": [
                {"id": d.getId(), "label": d.getLabel() if d.isSetLabel() else d.getId(),
                 "name": d.getName() or None, "values": jsonable(values)}
                for d, values in zip(data_sets, padded)]}
        elif kind in ("plot2D", "plot3D"):
            self.answer["plots"][key] = self._plot(output, kind, name, generated)
        else:
            self.warnings.append(f"{self.sedml}: output {output.getId()!r} is a {kind}; not produced")

    def _axis(self, generator_id: str, generated) -> dict:
        generator = self.doc.getDataGenerator(generator_id)
        return {"id": generator_id, "label": generator.getName() or generator_id,
                "values": jsonable(generated[generator_id])}

    def _plot(self, output, kind: str, name, generated) -> dict:
        def log(item, axis: str) -> bool:
            flag = getattr(item, f"getLog{axis}", None)
            if flag is not None and getattr(item, f"isSetLog{axis}")():
                return bool(flag())
            axis_of = getattr(output, f"get{axis}Axis", None)
            found = axis_of() if axis_of is not None else None
            return bool(found is not None and (found.getTypeAsString() or "").lower().startswith("log"))

        plot = {"id": output.getId(), "name": name, "kind": "2d" if kind == "plot2D" else "3d", "curves": []}
        items = ([output.getCurve(i) for i in range(output.getNumCurves())] if kind == "plot2D"
                 else [output.getSurface(i) for i in range(output.getNumSurfaces())])
        for item in items:
            entry = {"id": item.getId(), "name": item.getName() or None,
                     "x": self._axis(item.getXDataReference(), generated),
                     "y": self._axis(item.getYDataReference(), generated),
                     "log_x": log(item, "X"), "log_y": log(item, "Y")}
            if kind == "plot3D":
                entry["z"] = self._axis(item.getZDataReference(), generated)
                entry["log_z"] = log(item, "Z")
            plot["curves"].append(entry)
        for axis in ("x", "y", "z") if kind == "plot3D" else ("x", "y"):
            declared = getattr(output, f"get{axis.upper()}Axis", lambda: None)()
            labels = {c[axis]["label"] for c in plot["curves"]}
            if declared is not None and declared.isSetName():  # SED-ML L1V4 axes
                plot[f"{axis}_label"] = declared.getName()
            elif len(labels) == 1:
                plot[f"{axis}_label"] = labels.pop()
        return plot
