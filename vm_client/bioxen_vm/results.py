"""Typed results: each is the service's JSON answer, unchanged, as a ``dict`` subclass, with accessors
that convert it to pandas and a ``plot()``.

``result["fluxes"]`` and every other key work as on the plain answer (and ``json.dumps(result)`` writes
it unchanged); ``result.json`` is a plain ``dict`` copy. The accessors are what cobra and tellurium users
reach for:

=====================  =====================================================================  ================
result                 pandas                                                                 from
=====================  =====================================================================  ================
:class:`FbaResult`     ``.fluxes`` (Series by reaction, as cobra's ``Solution.fluxes``),       fba, pfba
                       ``.objective_value``, ``.status``; ``.to_frame()``
:class:`FvaResult`     ``.to_frame()``: ``minimum``, ``maximum`` by reaction (as cobra's       fva
                       ``flux_variability_analysis``)
:class:`KnockoutResult` ``.to_frame()``: ``ids``, ``growth``, ``relative_growth``, ``status``  knockouts
:class:`Trajectory`    ``.to_frame()`` indexed by time; an ensemble: ``mean`` and ``sd``       simulate
                       column groups (``.mean``, ``.sd``)
:class:`ScanResult`    ``.to_frame()``: one row per grid point (and time point)                scan
:class:`SteadyStateResult` ``.steady_state``, ``.reaction_rates`` (Series); ``.to_frame()``          steady_state
:class:`DfbaResult`    ``.to_frame()`` indexed by time (h)                                      dfba
=====================  =====================================================================  ================

pandas is an optional extra (``pip install 'bioxen-vm[pandas]'``): the VM pods do not need it, and the
accessors say so when it is missing. ``plot()`` needs matplotlib (``[plot]``), see :mod:`bioxen_vm.plots`.
"""

from __future__ import annotations

from typing import Any

PANDAS_HINT = "pip install 'bioxen-vm[pandas]'"


def pandas():
    """The pandas module, or an ImportError saying how to install it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(f"this needs pandas: {PANDAS_HINT}") from exc
    return pd


class Result(dict):
    """A service answer (the JSON, unchanged) with typed accessors."""

    #: the job kind(s) whose answer this is
    kinds: tuple[str, ...] = ()

    @property
    def json(self) -> dict:
        """The answer as a plain dict (a shallow copy)."""
        return dict(self)

    @property
    def status(self) -> Any:
        return self.get("status")

    @property
    def model_id(self) -> str | None:
        return (self.get("model") or {}).get("id")

    def to_frame(self):  # pragma: no cover - every result defines it
        raise NotImplementedError

    def plot(self, path_or_ax=None):
        """Draw the result (:func:`bioxen_vm.plots.plot`): onto a matplotlib Axes, into a file (a path:
        PNG, SVG, PDF by its suffix), or a new figure (None); returns the Figure."""
        from .plots import plot

        return plot(self, path_or_ax)


def _series(values: dict, name: str):
    pd = pandas()
    return pd.Series({k: (float("nan") if v is None else v) for k, v in values.items()}, name=name, dtype=float)


def _frame(columns: dict[str, list], index, index_name: str):
    pd = pandas()
    frame = pd.DataFrame({k: pd.Series(v, dtype=float) for k, v in columns.items()})
    frame.index = pd.Index(index, name=index_name, dtype=float)
    return frame


class FbaResult(Result):
    """FBA or pFBA: ``status``, ``objective``, ``objective_value``, ``fluxes`` {reaction: mmol/gDW/h}."""

    kinds = ("fba",)

    @property
    def objective_value(self) -> float | None:
        return self.get("objective_value")

    @property
    def fluxes(self):
        """Flux by reaction id (mmol/gDW/h), a pandas Series named ``fluxes`` (as cobra's)."""
        return _series(self["fluxes"], "fluxes")

    def to_frame(self):
        """One column, ``fluxes``, by reaction (as cobra's ``Solution.to_frame()``)."""
        return self.fluxes.to_frame()


class FvaResult(Result):
    """Flux variability: ``ranges`` {reaction: {minimum, maximum}}."""

    kinds = ("fva",)

    @property
    def objective_value(self) -> float | None:
        return self.get("objective_value")

    def to_frame(self):
        """``minimum`` and ``maximum`` by reaction (mmol/gDW/h), in the request's order."""
        pd = pandas()
        ranges = self["ranges"]
        frame = pd.DataFrame({"minimum": [r["minimum"] for r in ranges.values()],
                              "maximum": [r["maximum"] for r in ranges.values()]},
                             index=pd.Index(list(ranges), name="reaction"), dtype=float)
        return frame


class KnockoutResult(Result):
    """Deletions: ``wild_type_growth`` and ``results`` [{id, genes, reactions, growth, status}]."""

    kinds = ("knockouts",)

    @property
    def wild_type_growth(self) -> float | None:
        return self.get("wild_type_growth")

    def relative_growth(self, row: dict) -> float | None:
        wild = self.get("wild_type_growth")
        if not wild or row.get("growth") is None:
            return None
        return row["growth"] / wild

    def to_frame(self):
        """One row per deletion, indexed by its id (``g1+g2`` for a set): ``ids`` (the deleted genes or
        reactions), ``growth`` (1/h), ``relative_growth`` (of the wild type), ``status``."""
        pd = pandas()
        rows = self["results"]
        return pd.DataFrame(
            {"ids": [tuple(r.get("genes") or r.get("reactions") or r["id"].split("+")) for r in rows],
             "growth": pd.Series([r["growth"] for r in rows], dtype=float),
             "relative_growth": pd.Series([self.relative_growth(r) for r in rows], dtype=float),
             "status": [r["status"] for r in rows]}).set_axis(pd.Index([r["id"] for r in rows], name="deletion"))


class Trajectory(Result):
    """A time course: ``time`` and ``trajectories`` {selection: values}; an ensemble (``repetitions``):
    ``mean`` and ``sd`` instead. ``units`` (when the service gives them): time unit and value units."""

    kinds = ("simulate", "ensemble")

    @property
    def is_ensemble(self) -> bool:
        return "mean" in self

    @property
    def selections(self) -> list[str]:
        return list(self["mean"] if self.is_ensemble else self["trajectories"])

    @property
    def mean(self):
        """An ensemble's mean per time point, a DataFrame indexed by time."""
        return _frame(self["mean"], self["time"], "time")

    @property
    def sd(self):
        """An ensemble's sample standard deviation per time point, a DataFrame indexed by time."""
        return _frame(self["sd"], self["time"], "time")

    def to_frame(self):
        """Values by selection, indexed by time (the model's time unit). An ensemble: column groups
        ``mean`` and ``sd`` (``frame["mean"]["S"]``)."""
        if not self.is_ensemble:
            return _frame(self["trajectories"], self["time"], "time")
        return pandas().concat({"mean": self.mean, "sd": self.sd}, axis=1)


class ScanResult(Result):
    """A parameter scan: ``parameters``, ``points``; ``final`` {selection: one value per point} at
    ``time_end``, or ``time`` and ``trajectories`` (one {selection: values} per point)."""

    kinds = ("scan",)

    @property
    def parameters(self) -> list[str]:
        return list(self["parameters"])

    @property
    def selections(self) -> list[str]:
        return list(self["final"] if "final" in self else (self["trajectories"] or [{}])[0])

    def _point_index(self, points: list[list[float]]):
        pd = pandas()
        if len(self["parameters"]) == 1:
            return pd.Index([p[0] for p in points], name=self["parameters"][0], dtype=float)
        return pd.MultiIndex.from_tuples([tuple(p) for p in points], names=self["parameters"])

    def to_frame(self):
        """Output final: one row per grid point (indexed by the parameter values), a column per
        selection. Output trajectories: one row per grid point and time point (index: the parameters,
        then ``time``)."""
        pd = pandas()
        if "final" in self:
            frame = pd.DataFrame({k: pd.Series(v, dtype=float) for k, v in self["final"].items()})
            frame.index = self._point_index(self["points"])
            return frame
        parts = [_frame(t, self["time"], "time") for t in self["trajectories"]]
        keys = [tuple(p) if len(p) > 1 else p[0] for p in self["points"]]
        return pd.concat(parts, keys=keys, names=[*self["parameters"], "time"])


class SteadyStateResult(Result):
    """A steady state: ``steady_state`` {species: value} and ``reaction_rates`` {reaction: rate}."""

    kinds = ("steady-state",)

    @property
    def steady_state(self):
        """Species values at the steady state, a Series by species (``values`` stays the dict's method)."""
        return _series(self["steady_state"], "value")

    @property
    def reaction_rates(self):
        return _series(self["reaction_rates"], "rate")

    def to_frame(self):
        """One column, ``value``, by species."""
        return self.steady_state.to_frame()


class DfbaResult(Result):
    """Dynamic FBA: ``time`` (h), ``biomass`` (gDW/L), ``growth_rate`` (1/h), ``concentrations``
    {exchange: mM}, ``fluxes`` {reaction: mmol/gDW/h}, ``status`` per point."""

    kinds = ("dfba",)

    def to_frame(self):
        """Indexed by time (h): ``biomass``, ``growth_rate``, then each concentration (mM)."""
        return _frame({"biomass": self["biomass"], "growth_rate": self["growth_rate"], **self["concentrations"]},
                      self["time"], "time")

    @property
    def fluxes(self):
        """Fluxes by reaction (mmol/gDW/h) at each time point, a DataFrame indexed by time."""
        return _frame(self["fluxes"], self["time"], "time")


RESULT_TYPES: dict[str, type[Result]] = {kind: cls for cls in (FbaResult, FvaResult, KnockoutResult, Trajectory,
                                                               ScanResult, SteadyStateResult, DfbaResult)
                                         for kind in cls.kinds}


def typed(kind: str | None, answer):
    """``answer`` as the typed result of ``kind`` (a job kind or endpoint name); unchanged when the
    kind has none or the answer is not a dict."""
    cls = RESULT_TYPES.get(kind or "")
    return cls(answer) if cls is not None and isinstance(answer, dict) else answer


__all__ = ["DfbaResult", "FbaResult", "FvaResult", "KnockoutResult", "PANDAS_HINT", "RESULT_TYPES", "Result",
           "ScanResult", "SteadyStateResult", "Trajectory", "pandas", "typed"]
