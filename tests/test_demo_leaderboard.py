"""The demo leaderboard shipped in the package (examples/demo_leaderboard.py made it) loads and serves."""

import json

import pytest

from ecr_hf.leaderboard import load_results
from ecr_hf.leaderboard import DEMO_DIR, Leaderboard, build_app, copy_demo, load_references
from ecr_hf.utils import OutputExistsError

DATASETS = {"ncbi_disease_sample", "ebm_nlp_pico"}
SYSTEMS = {"dictionary": None, "minilm": "encoder", "smollm2": "decoder"}


def test_demo_results_hold_three_systems_on_two_datasets():
    rows = load_results(DEMO_DIR / "results").to_list()
    assert {(r["dataset"], r["model_name"]) for r in rows} == {(d, s) for d in DATASETS for s in SYSTEMS}
    for row in rows:
        assert row.get("family") == SYSTEMS[row["model_name"]]
        assert row["n_folds"] == 3 and 0 <= row["f1_ci_low"] <= row["f1"] <= row["f1_ci_high"] <= 1
        assert json.loads(row["bootstrap"])["n_resamples"] == 1000 and json.loads(row["bootstrap"])["seed"] == 0
        assert row["n_documents"] * row["n_folds"] == 300  # 300 sentences per data set, each tested once


def test_demo_ships_references_and_counts_of_ncbi_only():
    """EBM-NLP has no licence statement: its gold spans and counts stay out of the package."""
    assert set(load_references(DEMO_DIR / "references")) == {"ncbi_disease_sample"}
    counts = sorted(p.name for p in (DEMO_DIR / "references" / "ncbi_disease_sample" / "counts").iterdir())
    assert counts == [f"ncbi_disease_sample--{s}.counts.json" for s in sorted(SYSTEMS)]


def test_demo_app_builds_and_marks_significance(tmp_path):
    results, references = copy_demo(tmp_path / "demo")
    board = Leaderboard(results, references)
    assert set(board.datasets()) == DATASETS
    ncbi = board.table("p", "ncbi_disease_sample", board.families())
    assert "vs best F1" in ncbi["headers"]  # counts shipped: the paired test runs
    assert sorted(row[0] for row in ncbi["data"]) == sorted(SYSTEMS)
    assert "vs best F1" not in board.table("p", "ebm_nlp_pico", board.families())["headers"]  # no counts: no claim
    with open(results / "ncbi_disease_sample--minilm.json", encoding="utf-8") as f:
        f1 = json.load(f)["results"]["f1"]
    row = next(r for r in ncbi["data"] if r[0] == "minilm")
    assert pytest.approx(f1) in row  # the numbers shown are the file's
    build_app(results, references).close()
    with pytest.raises(OutputExistsError):
        copy_demo(tmp_path / "demo")
