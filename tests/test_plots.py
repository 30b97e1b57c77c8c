"""Leaderboard figures: the plotted series are the results' numbers, and the files are valid images."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.collections import PathCollection  # noqa: E402

from ecr_hf.leaderboard.results import cross_validate, load_results  # noqa: E402
from ecr_hf.utils.outputs import OutputExistsError  # noqa: E402
from ecr_hf.leaderboard.plots import (PlotError, plot_f1_by_length, plot_f1_by_p, plot_fold_scatter,  # noqa: E402
                                      save_figure)

GOLD = [[[(0, 10, "D"), (20, 22, "D")]], [[(0, 4, "D"), (8, 40, "D")]], [[(0, 8, "D"), (10, 20, "D")]]]
SYSTEMS = {
    "exact": GOLD,
    "fragments": [[[(0, 4, "D"), (6, 10, "D")]], [[(0, 4, "D"), (8, 20, "D"), (22, 40, "D")]], [[(0, 8, "D")]]],
    "misses": [[[(20, 22, "D")]], [[(0, 3, "D")]], [[(10, 15, "D")]]],
}


@pytest.fixture
def folder(tmp_path):
    for dataset in ("ncbi", "pico"):
        for name, pred in SYSTEMS.items():
            cv = cross_validate(GOLD, pred, p_values=[1, 2, 100])
            cv.save(tmp_path / f"{dataset}_{name}.json", model_name=name, dataset=dataset)
    return tmp_path


def _rows(folder, dataset):
    return {r["model_name"]: r for r in load_results(folder).to_list() if r["dataset"] == dataset}


def test_f1_by_p_series_are_the_results(folder):
    fig = plot_f1_by_p(load_results(folder))
    assert [ax.get_title() for ax in fig.axes] == ["ncbi (3 folds, mean ± SD)", "pico (3 folds, mean ± SD)"]
    for ax, dataset in zip(fig.axes, ("ncbi", "pico")):
        rows = _rows(folder, dataset)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "100"]
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert sorted(lines) == sorted(SYSTEMS)  # one line per system
        for name, line in lines.items():
            assert list(line.get_ydata()) == [rows[name][f"p{p}_f1"] for p in ("1", "2", "100")]
        assert len(ax.collections) == len(SYSTEMS)  # one SD band per system
        band = ax.collections[list(lines).index("fragments")].get_paths()[0].vertices
        at_p2 = sorted(band[np.isclose(band[:, 0], 1.0), 1])
        row = rows["fragments"]
        assert np.allclose([at_p2[0], at_p2[-1]], [row["p2_f1"] - row["p2_f1_sd"], row["p2_f1"] + row["p2_f1_sd"]])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(SYSTEMS)


def test_f1_by_p_other_metric_gaps_and_union_of_p(folder):
    rows = [dict(r) for r in load_results(folder).to_list() if r["dataset"] == "ncbi"]
    rows[0]["p100_recall"] = None  # undefined: a gap, not a zero
    other = cross_validate(GOLD, GOLD, p_values=[1.5]).to_dict(model_name="other", dataset="ncbi")
    fig = plot_f1_by_p([*rows, other], metric="recall", sd=False)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "1.5", "2", "100"]
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    assert math.isnan(lines[rows[0]["model_name"]][3]) and math.isnan(lines[rows[0]["model_name"]][1])
    assert list(lines["other"][:2]) == [1.0, 1.0] and math.isnan(lines["other"][2])  # p=1 is always scored
    assert not ax.collections and ax.get_ylabel() == "recall"


def test_f1_by_length(folder):
    fig = plot_f1_by_length(folder, dataset="pico")
    (ax,) = fig.axes
    bins = ["1-2", "3-6", "7-10", "11-20", "21+"]
    assert [t.get_text() for t in ax.get_xticklabels()] == bins
    assert ax.get_ylabel() == "F1 (p=1)"
    rows = _rows(folder, "pico")
    for line in ax.get_lines():
        want = [np.nan if rows[line.get_label()][f"len_{b}_f1"] is None else rows[line.get_label()][f"len_{b}_f1"]
                for b in bins]
        assert np.allclose(line.get_ydata(), want, equal_nan=True)


def test_fold_scatter_points_are_the_folds(folder):
    fig = plot_fold_scatter([folder / "pico_exact.json", folder / "pico_fragments.json"], key="p100_f1")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["exact", "fragments"]
    assert ax.get_ylabel() == "F1 (p=100) per fold"
    data = json.loads((folder / "pico_fragments.json").read_text())
    points = [c for c in ax.collections if isinstance(c, PathCollection)][1].get_offsets()
    assert list(points[:, 1]) == [fold["p100_f1"] for fold in data["folds"]]
    assert np.all((points[:, 0] > 0.5) & (points[:, 0] < 1.5))  # around its system's tick
    mean_marker = [line for line in ax.get_lines() if line.get_marker() == "D"][1]
    assert mean_marker.get_ydata()[0] == pytest.approx(data["results"]["p100_f1"])
    with pytest.raises(PlotError, match="no per-fold scores"):
        plot_fold_scatter(load_results(folder))


def test_cross_validation_results_in_memory():
    runs = [cross_validate(GOLD, pred, p_values=[1, 100]) for pred in SYSTEMS.values()]
    fig = plot_fold_scatter(runs, key="strict_f1")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["system 1", "system 2", "system 3"]
    assert fig.axes[0].get_ylabel() == "strict span F1 per fold"
    (line,) = [ln for ln in plot_f1_by_p(runs[1]).axes[0].get_lines()]
    assert list(line.get_ydata()) == [runs[1].mean()["p1_f1"], runs[1].mean()["p100_f1"]]


def test_bad_requests_are_errors(folder):
    mixed = [cross_validate(GOLD, GOLD, score_p=p).to_dict(model_name=str(p), dataset="d") for p in (1, 2)]
    with pytest.raises(PlotError, match="different p"):
        plot_f1_by_length(mixed)
    with pytest.raises(PlotError, match="score_p"):
        plot_fold_scatter(mixed, key="f1")
    assert plot_fold_scatter(mixed, key="p2_f1").axes[0].get_ylabel() == "F1 (p=2) per fold"
    with pytest.raises(PlotError, match="no results for dataset 'nope'"):
        plot_f1_by_p(folder, dataset="nope")
    with pytest.raises(PlotError, match="metric must be"):
        plot_f1_by_p(folder, metric="accuracy")
    with pytest.raises(PlotError, match="no fold has a value"):
        plot_fold_scatter(folder, key="accuracy")
    with pytest.raises(PlotError, match="no results"):
        plot_f1_by_p([])


def test_save_png_svg_pdf(tmp_path, folder):
    fig = plot_f1_by_p(folder)
    png = save_figure(fig, tmp_path / "out" / "p.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_figure(fig, tmp_path / "out" / "p.svg")
    assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert save_figure(fig, tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p.png", "p.svg"]  # no temp file left
    with pytest.raises(OutputExistsError):
        save_figure(fig, png)
    before = png.read_bytes()
    save_figure(plot_f1_by_length(folder), png, overwrite=True, dpi=60)
    assert png.read_bytes() != before
    with pytest.raises(PlotError, match="suffix"):
        save_figure(fig, tmp_path / "p.jpg")
