"""Figures of leaderboard results (matplotlib): the paper's p and length views, and the folds.

* :func:`plot_f1_by_p`: a metric against p per system, the mean over folds with a ±1 SD band;
* :func:`plot_f1_by_length`: the same by gold-span length bin (at the runs' ``score_p``);
* :func:`plot_fold_scatter`: every fold's score per system, with the mean and ±1 SD.

Each returns a :class:`matplotlib.figure.Figure` with one panel per data set (no pyplot state, so
a web app may build figures in several threads), which :func:`save_figure` writes as PNG, SVG or
PDF atomically. p values and length bins are categorical axes, evenly spaced and labelled by
value (1, 1.5, 2 and 100 on a log axis would crowd the first three); a system without a value at
some p or bin (a bin with no spans in any fold) has a gap there, never a zero.

``results`` is what :func:`ecr_hf.leaderboard.load_results` returns (a ``Dataset``, or its rows),
:class:`~ecr_hf.leaderboard.CrossValidationResult` objects, or leaderboard files and folders of
them; :func:`plot_fold_scatter` needs the per-fold scores, which the files and the
``CrossValidationResult`` objects hold and the ``load_results`` rows do not.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    from matplotlib.figure import Figure
except ImportError as e:  # an optional dependency: plots are for leaderboards and papers
    raise ImportError("ecr_hf.leaderboard.plots needs matplotlib: pip install 'ecr-hf[leaderboard]'") from e

from datasets import Dataset

from .results import CrossValidationResult, load_results
from ..utils.outputs import OutputExistsError, atomic_write_bytes
from ..scoring.soft_match import bin_name, format_p

__all__ = ["PlotError", "plot_f1_by_p", "plot_f1_by_length", "plot_fold_scatter", "save_figure", "PLOTS"]

_NAMES = {"f1": "F1", "precision": "precision", "recall": "recall"}


class PlotError(ValueError):
    """Results that cannot be drawn as asked (no such data set or key, no per-fold scores...)."""


@dataclass
class _System:
    name: str
    dataset: str
    row: dict[str, Any]  # config then results, as a load_results row
    folds: list[dict[str, Any]] | None


def _from_content(data: Mapping[str, Any]) -> tuple[dict[str, Any], list | None]:
    """A results file's content as (row, folds)."""
    return {**data["config"], **data["results"]}, list(data["folds"]) if "folds" in data else None


def _systems(results: Any) -> list[_System]:
    """Every input form as systems, validated the way :func:`load_results` validates files."""
    items: list[tuple[dict[str, Any], list | None]] = []
    if isinstance(results, Dataset):
        items = [(row, None) for row in results.to_list()]
    elif isinstance(results, (CrossValidationResult, Mapping, str, os.PathLike)):
        return _systems([results])
    else:
        paths = []
        for item in results:
            if isinstance(item, CrossValidationResult):
                items.append(_from_content(item.to_dict()))
            elif isinstance(item, Mapping):
                items.append(_from_content(item) if {"config", "results"} <= item.keys() else (dict(item), None))
            elif isinstance(item, (str, os.PathLike)):
                paths += sorted(Path(item).glob("*.json")) if Path(item).is_dir() else [Path(item)]
            else:
                raise TypeError(f"cannot plot a {type(item).__name__}: give load_results rows, "
                                "CrossValidationResult objects or leaderboard files")
        if paths:
            load_results(paths)  # the schema check: a bad file raises ResultsFileError naming it
            items += [_from_content(json.loads(p.read_text(encoding="utf-8-sig"))) for p in paths]
    if not items:
        raise PlotError("no results to plot")
    out = []
    for k, (row, folds) in enumerate(items):
        name = str(row.get("model_name") or f"system {k + 1}") + (f" ({row['method']})" if row.get("method") else "")
        out.append(_System(name, str(row.get("dataset") or ""), row, folds))
    return out


def _by_dataset(systems: list[_System], dataset: str | None) -> dict[str, list[_System]]:
    groups: dict[str, list[_System]] = {}
    for system in systems:
        groups.setdefault(system.dataset, []).append(system)
    if dataset is not None:
        if dataset not in groups:
            raise PlotError(f"no results for dataset {dataset!r}; the results hold {sorted(groups)}")
        groups = {dataset: groups[dataset]}
    return groups


def _setting(system: _System, name: str) -> list:
    value = system.row.get(name)
    if value is None:
        raise PlotError(f"{system.name}: the results have no {name!r}")
    return json.loads(value) if isinstance(value, str) else list(value)


def _value(system: _System, key: str, row: Mapping[str, Any] | None = None) -> float:
    """A score as a float, NaN where undefined (None / NaN / absent)."""
    value = (system.row if row is None else row).get(key)
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PlotError(f"{system.name}: {key!r} is {value!r}, not a number")
    return float(value)


def _check_metric(metric: str) -> None:
    if metric.removeprefix("marker_") not in _NAMES:
        raise PlotError(f"metric must be one of {[*_NAMES, *(f'marker_{m}' for m in _NAMES)]}, got {metric!r}")


def _label(metric: str) -> str:
    return ("marker " if metric.startswith("marker_") else "") + _NAMES[metric.removeprefix("marker_")]


def _panels(n: int, legend: bool = True) -> tuple[Figure, list]:
    fig = Figure(figsize=(5.2 * n + 2.4 * legend, 4.0), layout="constrained")
    return fig, list(fig.subplots(1, n, squeeze=False)[0])


def _title(dataset: str, systems: list[_System], what: str = "mean ± SD") -> str:
    folds = {s.row.get("n_folds") for s in systems}
    n = f"{folds.pop()} folds" if len(folds) == 1 and None not in folds else "folds"
    return f"{dataset or 'results'} ({n}, {what})"


def _lines(ax: Any, systems: list[_System], keys: list[str], ticks: list[str], sd: bool) -> None:
    x = np.arange(len(keys), dtype=float)
    for system in systems:
        mean = np.array([_value(system, k) for k in keys])
        (line,) = ax.plot(x, mean, marker="o", label=system.name)
        if sd:
            dev = np.array([_value(system, f"{k}_sd") for k in keys])
            ax.fill_between(x, mean - dev, mean + dev, color=line.get_color(), alpha=0.18, linewidth=0)
    ax.set_xticks(x, ticks)
    _clamp(ax)
    ax.grid(True, alpha=0.3)


def _clamp(ax: Any) -> None:
    """Zoom on the data, but never past [0, 1]: scores cannot leave it, SD bands may."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(max(lo, -0.02), min(hi, 1.02))


def _legend(fig: Figure, axes: list) -> None:
    handles, labels = axes[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen), loc="outside right upper", frameon=False)


def plot_f1_by_p(results: Any, *, metric: str = "f1", dataset: str | None = None, sd: bool = True) -> Figure:
    """``metric`` (``f1``, ``precision``, ``recall`` or their ``marker_*``) of every system against p:
    one line per system at each of the runs' p values (the union, in order), with a ±1 SD band
    (``sd``); one panel per data set (or only ``dataset``)."""
    _check_metric(metric)
    groups = _by_dataset(_systems(results), dataset)
    fig, axes = _panels(len(groups))
    for ax, (name, systems) in zip(axes, groups.items()):
        p_values = sorted({float(p) for s in systems for p in _setting(s, "p_values")})
        keys = [f"p{format_p(p)}_{metric}" for p in p_values]
        _lines(ax, systems, keys, [format_p(p) for p in p_values], sd)
        ax.set(xlabel="p (weighted soft match)", ylabel=f"{_label(metric)}", title=_title(name, systems))
    _legend(fig, axes)
    return fig


def plot_f1_by_length(results: Any, *, metric: str = "f1", dataset: str | None = None, sd: bool = True) -> Figure:
    """``metric`` of every system per gold-span length bin (characters), at the runs' ``score_p``,
    which must be the same for the systems of one panel; one line per system with a ±1 SD band."""
    _check_metric(metric)
    groups = _by_dataset(_systems(results), dataset)
    fig, axes = _panels(len(groups))
    for ax, (name, systems) in zip(axes, groups.items()):
        score_p = {float(s.row.get("score_p", 1.0)) for s in systems}
        if len(score_p) > 1:
            raise PlotError(f"dataset {name!r}: the runs score length bins at different p {sorted(score_p)}; "
                            "plot them apart")
        bins = list(dict.fromkeys(bin_name(lo, hi) for s in systems for lo, hi in _setting(s, "length_bins")))
        _lines(ax, systems, [f"len_{b}_{metric}" for b in bins], bins, sd)
        ax.set(xlabel="gold span length (characters)", ylabel=f"{_label(metric)} (p={format_p(score_p.pop())})",
               title=_title(name, systems))
    _legend(fig, axes)
    return fig


def _key_label(key: str, score_p: float | None) -> str:
    for prefix, what in (("strict_", "strict span "), ("char_", "character ")):
        if key.startswith(prefix) and key[len(prefix):] in _NAMES:
            return what + _NAMES[key[len(prefix):]]
    head, _, metric = key.partition("_")
    if head.startswith("p") and metric in _NAMES:
        return f"{_NAMES[metric]} (p={head[1:]})"
    if key in _NAMES:
        return _NAMES[key] + ("" if score_p is None else f" (p={format_p(score_p)})")
    return key


def plot_fold_scatter(results: Any, *, key: str = "f1", dataset: str | None = None) -> Figure:
    """Every fold's ``key`` (any result key: ``f1``, ``p100_f1``, ``strict_f1``...) per system:
    one dot per fold, spread sideways in fold order, with the mean (bar) and ±1 SD (whiskers) of
    those folds; one panel per data set. Needs per-fold scores (files or CrossValidationResult)."""
    groups = _by_dataset(_systems(results), dataset)
    fig, axes = _panels(len(groups), legend=False)
    for ax, (name, systems) in zip(axes, groups.items()):
        score_p = {float(s.row.get("score_p", 1.0)) for s in systems}
        if len(score_p) > 1 and not (re.match(r"p(\d|inf)", key) or key.startswith(("strict_", "char_"))):
            raise PlotError(f"dataset {name!r}: {key!r} is at each run's score_p, and the runs differ "
                            f"{sorted(score_p)}; plot a p{{p}}_ key or the runs apart")
        for i, system in enumerate(systems):
            if system.folds is None:
                raise PlotError(f"{system.name}: no per-fold scores (load_results rows hold only the mean and "
                                "SD); pass the results files or CrossValidationResult objects")
            values = np.array([_value(system, key, fold) for fold in system.folds])
            if np.isnan(values).all():
                raise PlotError(f"{system.name}: no fold has a value for {key!r}")
            offsets = np.linspace(-0.28, 0.08, len(values)) if len(values) > 1 else np.full(1, -0.1)
            points = ax.scatter(i + offsets, values, s=28, alpha=0.8, label=system.name, zorder=3)
            defined = values[~np.isnan(values)]
            dev = defined.std(ddof=1) if len(defined) > 1 else 0.0
            ax.errorbar([i + 0.24], [defined.mean()], yerr=[dev], fmt="D", markersize=6, capsize=5,
                        color=points.get_facecolor()[0][:3], zorder=2)
        ax.set_xticks(range(len(systems)), [s.name for s in systems], rotation=20, ha="right")
        ax.set(xlim=(-0.6, len(systems) - 0.4), ylabel=f"{_key_label(key, score_p.pop())} per fold",
               title=_title(name, systems, "dots: folds, ◆: mean ± SD"))
        _clamp(ax)
        ax.grid(True, axis="y", alpha=0.3)
    return fig


PLOTS = {"p": plot_f1_by_p, "length": plot_f1_by_length, "folds": plot_fold_scatter}
_FORMATS = ("png", "svg", "pdf")


def save_figure(fig: Figure, path: str | os.PathLike, *, overwrite: bool = False, dpi: int = 200) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names (.png, .svg or .pdf), atomically: the
    image is rendered in memory, written to a temporary file in the same folder and renamed. An
    existing file raises :class:`~ecr_hf.utils.OutputExistsError` unless ``overwrite``."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise PlotError(f"{path}: the suffix must be one of {['.' + f for f in _FORMATS]}")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata={"Date": None} if fmt in ("svg", "pdf") else None)
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)
