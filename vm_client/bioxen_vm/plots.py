"""Figures of the typed results (:mod:`bioxen_vm.results`), as a modeller would put them in a paper.

``result.plot()`` (or :func:`plot`) draws onto a matplotlib Axes, into a file, or a new Figure;
:func:`save_plot` is what ``bioxen ... --plot FILE`` uses. A result that cannot be drawn raises
:class:`PlotError` (a ValueError) saying why. What each result gets:

- :class:`~.results.Trajectory`: a line per selection; the time axis in the model's time unit and the
  values named as what they are (``concentration (mM)``, ``amount (nmol)``; Gillespie runs count
  molecules); an ensemble: the mean with a ±sd band;
- :class:`~.results.ScanResult`: one parameter: the final values against it; two: a heatmap of one
  selection with a labelled colorbar; more: a PlotError;
- :class:`~.results.DfbaResult`: biomass (gDW/L) on the left axis, concentrations (mM) on a twin right
  axis, time in h;
- :class:`~.results.FvaResult`: each reaction's range as a bar, a marker where minimum = maximum (at
  fraction 1.0 most are); whole models: the reactions carrying the most flux;
- :class:`~.results.KnockoutResult`: growth relative to the wild type, lethal deletions marked;
- :class:`~.results.FbaResult`, :class:`~.results.SteadyStateResult`: the largest values as bars.

Figures are made with ``matplotlib.figure.Figure`` (no pyplot, no backend switch: safe in threads,
notebooks display them); files are written by the Agg canvas. Needs ``pip install 'bioxen-vm[plot]'``.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .results import (DfbaResult, FbaResult, FvaResult, KnockoutResult, Result, ScanResult, SteadyStateResult,
                      Trajectory, typed)

PLOT_HINT = "pip install 'bioxen-vm[plot]'"
FLUX_UNIT = "mmol/gDW/h"
#: rows of a bar plot of a whole model (the rest are named in the title)
DEFAULT_TOP = 30
#: a deletion below this fraction of the wild type's growth is marked lethal
LETHAL = 0.01
DPI = 120


class PlotError(ValueError):
    """This result cannot be drawn (the message says why and what to do instead)."""


def _figure(rows: int = 0):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"plots need matplotlib: {PLOT_HINT}") from exc
    return Figure(figsize=(8, max(4.5, 0.22 * rows + 1.5)) if rows else (8, 5), layout="constrained")


def _num(values) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _label(name: str, unit: str | None) -> str:
    return f"{name} ({unit})" if unit else name


# -- time courses and scans --------------------------------------------------------------------------
def _units(result: dict) -> dict:
    units = result.get("units") or {}
    quantity = units.get("quantity") or ("amount" if result.get("species_values") == "amounts" else "concentration")
    return {"time": units.get("time"), "quantity": quantity, "values": units.get("values") or {}}


def value_label(result: dict, names: list[str]) -> tuple[str, dict[str, str]]:
    """The value axis label and each series' legend label: ``concentration (mM)`` when the series share
    a unit, else ``concentration`` with the unit in each legend entry. Gillespie amounts without a
    declared unit are molecule counts."""
    units = _units(result)
    found = {n: units["values"].get(n) for n in names}
    if result.get("integrator") == "gillespie" and units["quantity"] == "amount":
        found = {n: u or "molecules" for n, u in found.items()}
    shared = set(found.values())
    if len(shared) == 1:
        return _label(units["quantity"], shared.pop()), {n: n for n in names}
    return units["quantity"], {n: _label(n, u) for n, u in found.items()}


def _time_label(result: dict) -> str:
    return _label("time", _units(result)["time"])


def draw_trajectory(ax, result: Trajectory) -> None:
    names = result.selections
    if not names or not result.get("time"):
        raise PlotError("the time course has no values to draw")
    ylabel, labels = value_label(result, names)
    time = _num(result["time"])
    if result.is_ensemble:
        for name in names:
            mean, sd = _num(result["mean"][name]), _num(result["sd"][name])
            line, = ax.plot(time, mean, label=f"{labels[name]} mean")
            floor = 0.0 if min(mean) >= 0 else -math.inf  # amounts and concentrations stay >= 0
            ax.fill_between(time, [max(floor, m - s) for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)],
                            color=line.get_color(), alpha=0.25, linewidth=0, label=f"{labels[name]} ±sd")
        what = f"ensemble of {result.get('repetitions')} {result.get('integrator', '')} runs"
    else:
        steps = "steps-post" if result.get("integrator") == "gillespie" else "default"  # counts jump
        for name in names:
            ax.plot(time, _num(result["trajectories"][name]), label=labels[name], drawstyle=steps)
        what = f"{result.get('integrator', 'cvode')} run"
    ax.set_xlabel(_time_label(result))
    ax.set_ylabel(ylabel)
    ax.set_title(f"{result.model_id or 'model'}: {what}")
    _legend(ax, len(names))


def _legend(ax, entries: int) -> None:
    if entries <= 15:
        ax.legend(fontsize="small")


def draw_scan(ax, result: ScanResult, selection: str | None = None) -> None:
    params = result.parameters
    if "final" not in result:
        if len(params) != 1:
            raise PlotError(f"a scan of {len(params)} parameters with output trajectories cannot be drawn in "
                            "one plot; scan one parameter, or ask for output final")
        return _draw_scan_trajectories(ax, result, selection)
    if len(params) == 1:
        return _draw_scan_lines(ax, result)
    if len(params) == 2:
        return _draw_heatmap(ax, result, selection)
    raise PlotError(f"a scan of {len(params)} parameters ({', '.join(params)}) cannot be drawn in one plot: "
                    "scan one parameter (lines) or two (a heatmap), or take slices of result.to_frame()")


def _scan_value_label(result: ScanResult, names: list[str]) -> tuple[str, dict[str, str]]:
    ylabel, labels = value_label(result, names)
    tu = _units(result)["time"]
    return f"{ylabel} at t = {result.get('time_end'):g}{f' {tu}' if tu else ''}", labels


def _draw_scan_lines(ax, result: ScanResult) -> None:
    param = result.parameters[0]
    names = result.selections
    if not names:
        raise PlotError("the scan has no selections to draw")
    xs = [p[0] for p in result["points"]]
    ylabel, labels = _scan_value_label(result, names)
    for name in names:
        ax.plot(xs, _num(result["final"][name]), marker="o", label=labels[name])
    ax.set_xlabel(_label(param, _units(result)["values"].get(param)))
    ax.set_ylabel(ylabel)
    ax.set_title(f"{result.model_id or 'model'}: scan of {param}")
    _legend(ax, len(names))


def _pick(result: ScanResult, selection: str | None) -> str:
    names = result.selections
    if selection is None:
        if not names:
            raise PlotError("the scan has no selections to draw")
        return names[0]
    if selection not in names:
        raise PlotError(f"{selection!r} is not a selection of this scan ({', '.join(names)})")
    return selection


def _draw_heatmap(ax, result: ScanResult, selection: str | None) -> None:
    name = _pick(result, selection)
    (p0, p1), units = result.parameters, _units(result)["values"]
    rows = sorted({p[0] for p in result["points"]})
    cols = sorted({p[1] for p in result["points"]})
    grid = [[math.nan] * len(cols) for _ in rows]
    for point, value in zip(result["points"], result["final"][name]):
        grid[rows.index(point[0])][cols.index(point[1])] = math.nan if value is None else value
    mesh = ax.pcolormesh(cols, rows, grid, shading="nearest", cmap="viridis")
    if len(cols) <= 12 and len(rows) <= 12:  # the scanned values themselves on the axes
        ax.set_xticks(cols, [f"{c:g}" for c in cols])
        ax.set_yticks(rows, [f"{r:g}" for r in rows])
    label, _ = _scan_value_label(result, [name])
    ax.figure.colorbar(mesh, ax=ax, label=f"{name}: {label}")
    ax.set_xlabel(_label(p1, units.get(p1)))
    ax.set_ylabel(_label(p0, units.get(p0)))
    ax.set_title(f"{result.model_id or 'model'}: {name} over {p0} x {p1}")


def _draw_scan_trajectories(ax, result: ScanResult, selection: str | None) -> None:
    name = _pick(result, selection)
    param = result.parameters[0]
    unit = _units(result)["values"].get(param)
    ylabel, labels = value_label(result, [name])
    for point, run in zip(result["points"], result["trajectories"]):
        ax.plot(_num(result["time"]), _num(run[name]), label=f"{param} = {point[0]:g}{f' {unit}' if unit else ''}")
    ax.set_xlabel(_time_label(result))
    ax.set_ylabel(f"{labels[name]}: {ylabel}" if labels[name] != name else f"{name}: {ylabel}")
    ax.set_title(f"{result.model_id or 'model'}: {name}, scan of {param}")
    _legend(ax, len(result["points"]))


# -- dynamic FBA -------------------------------------------------------------------------------------
def draw_dfba(ax, result: DfbaResult) -> None:
    if not result.get("time"):
        raise PlotError("the dFBA result has no time points")
    time = _num(result["time"])
    biomass, = ax.plot(time, _num(result["biomass"]), color="black", linewidth=2, label="biomass")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("biomass (gDW/L)")
    lines = [biomass]
    if result["concentrations"]:
        right = ax.twinx()
        for name, values in result["concentrations"].items():
            lines += right.plot(time, _num(values), linestyle="--", label=name)
        right.set_ylabel("concentration (mM)")
    ax.legend(lines, [line.get_label() for line in lines], fontsize="small", loc="center right")
    ax.set_title(f"{result.model_id or 'model'}: dynamic FBA (batch culture)")


# -- flux and deletion bars --------------------------------------------------------------------------
def _largest(values: dict[str, Any], key, top: int | None) -> tuple[list[str], int]:
    """The ids of the ``top`` largest ``key(value)`` (largest first), and how many were nonzero."""
    ranked = sorted((k for k, v in values.items() if key(v) > 0), key=lambda k: -key(values[k]))
    return ranked[:top or DEFAULT_TOP], len(ranked)


def _shown(title: str, shown: int, nonzero: int, total: int) -> str:
    if shown == total:
        return title
    return f"{title}\n{shown} of {total} reactions shown (largest |flux|; {total - nonzero} carry none)"


def draw_fluxes(ax, result: FbaResult, top: int | None = None) -> None:
    fluxes = {k: (v or 0.0) for k, v in result["fluxes"].items()}
    names, nonzero = _largest(fluxes, abs, top)
    if not names:
        raise PlotError("every flux is zero: nothing to draw")
    names.reverse()  # largest on top
    ax.barh(names, [fluxes[n] for n in names], color=["tab:blue" if fluxes[n] >= 0 else "tab:orange" for n in names])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"flux ({FLUX_UNIT})")
    value = result.objective_value
    title = (f"{result.get('method', 'fba')} on {result.model_id or 'model'}: objective "
             f"{'-' if value is None else f'{value:.4g}'} /h")
    ax.set_title(_shown(title, len(names), nonzero, len(fluxes)), fontsize="medium")


def draw_fva(ax, result: FvaResult, top: int | None = None) -> None:
    ranges = {k: (_num([v["minimum"]])[0], _num([v["maximum"]])[0]) for k, v in result["ranges"].items()}
    if not ranges:
        raise PlotError("the FVA result has no ranges")
    names, nonzero = _largest(ranges, lambda r: max(abs(r[0]), abs(r[1])) if not math.isnan(r[0]) else 0.0, top)
    if not names:
        raise PlotError("every range is [0, 0]: nothing to draw")
    names.reverse()
    scale = max(max(abs(ranges[n][0]), abs(ranges[n][1])) for n in names)
    fixed = [n for n in names if ranges[n][1] - ranges[n][0] <= 1e-6 * max(scale, 1e-9)]
    spans = [n for n in names if n not in fixed]
    ax.set_yticks(range(len(names)), names)
    row = {n: i for i, n in enumerate(names)}
    if spans:
        ax.barh([row[n] for n in spans], [ranges[n][1] - ranges[n][0] for n in spans],
                left=[ranges[n][0] for n in spans], height=0.6, color="tab:blue", label="range (minimum to maximum)")
    if fixed:
        ax.plot([ranges[n][0] for n in fixed], [row[n] for n in fixed], linestyle="none", marker="D",
                color="tab:red", label="fixed (minimum = maximum)")
    ax.axvline(0, color="grey", linewidth=0.8)
    _wide_axis(ax, [abs(v) for n in names for v in ranges[n] if v])
    ax.set_xlabel(f"flux ({FLUX_UNIT})")
    title = f"FVA on {result.model_id or 'model'} at {result.get('fraction_of_optimum', 1.0):.0%} of the optimum"
    ax.set_title(_shown(title, len(names), nonzero, len(ranges)), fontsize="medium")
    _outside_legend(ax)


def _outside_legend(ax) -> None:
    """A legend right of the bars, never over them."""
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _wide_axis(ax, magnitudes: list[float]) -> None:
    """A symmetric-log flux axis when the largest value is 30 times the median (an unbounded loop at
    1000 next to fluxes of 5): both stay readable; linear below 1."""
    if magnitudes and max(magnitudes) > 30 * sorted(magnitudes)[len(magnitudes) // 2]:
        ax.set_xscale("symlog", linthresh=1.0)


def draw_knockouts(ax, result: KnockoutResult, top: int | None = None) -> None:
    rows = result["results"]
    if not rows:
        raise PlotError("the knockout result has no deletions")
    relative = {r["id"]: result.relative_growth(r) for r in rows}
    if all(v is None for v in relative.values()):
        raise PlotError("the wild type does not grow: there is no relative growth to draw")
    # the most harmful deletions first; a whole-genome screen shows the top rows
    ranked = sorted(relative, key=lambda k: (relative[k] is not None, relative[k] or 0.0))[:top or DEFAULT_TOP]
    ranked.reverse()
    values = [relative[k] or 0.0 for k in ranked]
    lethal = [relative[k] is None or relative[k] < LETHAL for k in ranked]
    ax.barh(ranked, values, color=["tab:red" if dead else "tab:blue" for dead in lethal])
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=1, label="wild type")
    dead = [k for k, is_dead in zip(ranked, lethal) if is_dead]
    if dead:
        ax.plot([0.0] * len(dead), dead, linestyle="none", marker="X", markersize=9, color="tab:red",
                label=f"lethal (< {LETHAL:.0%} of wild type)")
        for name in dead:
            ax.annotate("lethal", (0.0, name), xytext=(8, 0), textcoords="offset points", va="center",
                        color="tab:red", fontsize="small")
    ax.plot([], [], linestyle="none", marker="s", color="tab:blue", label="viable")
    ax.set_xlim(-0.05, max(1.1, max(values) * 1.05))
    ax.set_xlabel("growth relative to the wild type")
    wild = result.wild_type_growth
    title = f"deletions on {result.model_id or 'model'} (wild type {'-' if wild is None else f'{wild:.4g}'} /h)"
    if len(ranked) < len(rows):
        title += f"\n{len(ranked)} most harmful of {len(rows)} shown"
    ax.set_title(title, fontsize="medium")
    _outside_legend(ax)


def draw_steady_state(ax, result: SteadyStateResult, top: int | None = None) -> None:
    values = {k: (v or 0.0) for k, v in result["steady_state"].items()}
    if not values:
        raise PlotError("the model has no floating species at its steady state")
    names = sorted(values, key=lambda k: -abs(values[k]))[:top or DEFAULT_TOP]
    names.reverse()
    ylabel, labels = value_label(result, names)
    ax.barh([labels[n] for n in names], [values[n] for n in names])
    ax.set_xlabel(ylabel)
    ax.set_title(f"{result.model_id or 'model'}: steady state")


DRAW = {Trajectory: draw_trajectory, ScanResult: draw_scan, DfbaResult: draw_dfba, FbaResult: draw_fluxes,
        FvaResult: draw_fva, KnockoutResult: draw_knockouts, SteadyStateResult: draw_steady_state}
#: options each kind of plot takes
OPTIONS = {ScanResult: ("selection",), FbaResult: ("top",), FvaResult: ("top",), KnockoutResult: ("top",),
           SteadyStateResult: ("top",)}


def plot(result: Result, path_or_ax=None, *, kind: str | None = None, **options):
    """Draw ``result`` onto an Axes, into a file (a path: the format by its suffix) or onto a new Figure
    (None); returns the Figure. ``kind`` types a plain answer dict (``"fba"``, ``"scan"`` ...).
    ``options``: ``top`` (rows of a bar plot), ``selection`` (the one a heatmap shows); options that do
    not apply to this result are ignored, None ones too."""
    result = typed(kind, result) if kind else result
    draw = DRAW.get(type(result))
    if draw is None:
        raise PlotError(f"cannot draw a {type(result).__name__}: plot a typed result of the client "
                        "(fba, fva, knockouts, simulate, steady_state, scan, dfba)")
    options = {k: v for k, v in options.items() if v is not None and k in OPTIONS.get(type(result), ())}
    if hasattr(path_or_ax, "figure") and hasattr(path_or_ax, "plot"):  # an Axes
        draw(path_or_ax, result, **options)
        return path_or_ax.figure
    rows = len(result.get("ranges") or result.get("results") or ()) if isinstance(result, (FvaResult, KnockoutResult)) \
        else 0
    figure = _figure(min(rows, options.get("top") or DEFAULT_TOP))
    draw(figure.add_subplot(), result, **options)
    if path_or_ax is not None:
        figure.savefig(os.fspath(path_or_ax), dpi=DPI)
    return figure


def save_plot(result: Result, path, **options) -> str:
    """Draw ``result`` into the file ``path`` (what ``bioxen ... --plot FILE`` does); the path."""
    plot(result, path, **options)
    return os.fspath(path)


__all__ = ["PLOT_HINT", "PlotError", "plot", "save_plot", "value_label"]
