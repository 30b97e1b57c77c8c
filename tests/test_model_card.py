"""Model-card metadata from ecr-hf results, read back with huggingface_hub's own parsers."""

from __future__ import annotations

import json

import huggingface_hub
import numpy as np
import pytest
import yaml
from huggingface_hub import ModelCard
from huggingface_hub.repocard import metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results

from ecr_hf.leaderboard import cross_validate
from ecr_hf.leaderboard import (ModelCardError, card_metrics, eval_result_entries, model_index_results, read_scores,
                               write_model_card)
from ecr_hf.scoring import span_metrics

# .eval_results needs huggingface_hub >= 1.4; the floor environment (transformers < 5) has 0.36
HAS_EVAL_RESULTS = hasattr(huggingface_hub, "EvalResultEntry")
needs_eval_results = pytest.mark.skipif(not HAS_EVAL_RESULTS, reason="huggingface_hub < 1.4: no .eval_results API")
GOLD = [[[(0, 10, "D")], [(3, 9, "C")]], [[(0, 4, "D")]], [[(0, 8, "D"), (10, 20, "D")]]]
PRED = [[[(0, 4, "D"), (6, 10, "D")], []], [[(0, 4, "D")]], [[(0, 8, "D"), (12, 19, "D")]]]


@pytest.fixture
def cv():
    result = cross_validate(GOLD, PRED, p_values=[1, 1.5, 2, 100])
    result.config.update(model_name="minilm-ecr", dataset="ecr/ncbi_sample", method="token classification")
    return result


def _by_type(results):
    return {(r.metric_type, (r.metric_args or {}).get("p")): r for r in results}


def test_round_trip_through_model_card_load(tmp_path, cv):
    paths = write_model_card(tmp_path / "model", cv, eval_results=HAS_EVAL_RESULTS)
    assert paths == [tmp_path / "model" / "README.md",
                     *[tmp_path / "model" / ".eval_results" / "ecr_ncbi_sample.yaml"] * HAS_EVAL_RESULTS]
    card = ModelCard.load(paths[0])
    assert card.data.model_name == "minilm-ecr"
    got = _by_type(card.data.eval_results)
    mean, sd = cv.mean(), cv.std()
    for p, key in ((1, "p1"), (1.5, "p1.5"), (2, "p2"), (100, "p100")):
        for metric in ("f1", "precision", "recall"):
            r = got[(f"weighted_soft_match_{metric}", p)]
            assert r.metric_value == mean[f"{key}_{metric}"]
            assert r.metric_args == {"p": p, "typed": False, "n_folds": 3}
            assert r.dataset_type == "ecr/ncbi_sample" and r.task_type == "token-classification"
            assert got[(f"weighted_soft_match_{metric}_sd", p)].metric_value == sd[f"{key}_{metric}"]
    assert got[("weighted_soft_match_f1", 2)].metric_name == "Weighted soft match F1 (p=2), mean of 3 folds"
    assert got[("weighted_soft_match_f1_sd", 2)].metric_name == "Weighted soft match F1 (p=2), SD over 3 folds"
    assert got[("strict_span_f1", None)].metric_value == mean["strict_f1"]
    assert got[("character_recall", None)].metric_value == mean["char_recall"]
    assert got[("character_f1_sd", None)].metric_value == sd["char_f1"]
    assert all(r.verified is None for r in card.data.eval_results)  # only the Hub's service verifies


@needs_eval_results
def test_eval_results_file_round_trips(tmp_path, cv):
    path = write_model_card(tmp_path, cv)[1]
    parsed = huggingface_hub.parse_eval_result_entries(yaml.safe_load(path.read_text()))
    entries = {e.task_id: e for e in parsed}
    mean, sd = cv.mean(), cv.std()
    assert entries["weighted_soft_match_f1_p1.5"].value == mean["p1.5_f1"]
    assert entries["weighted_soft_match_recall_p100"].value == mean["p100_recall"]
    assert entries["strict_span_precision"].value == mean["strict_precision"]
    assert entries["character_f1"].value == mean["char_f1"]
    assert {e.dataset_id for e in entries.values()} == {"ecr/ncbi_sample"}
    assert f"SD {sd['p2_f1']:.4f}" in entries["weighted_soft_match_f1_p2"].notes
    assert "mean of 3 cross-validation folds" in entries["weighted_soft_match_f1_p2"].notes
    assert len(entries) == 4 * 3 + 3 + 3
    # a second data set gets its own file; the same one again replaces its entries, and an entry of
    # another task keeps every field, even one huggingface_hub does not know
    mine = {"dataset": {"id": "ecr/ncbi_sample", "task_id": "my_task", "config": "x"}, "value": 0.5,
            "evaluation_framework": "ecr-hf"}
    path.write_text(yaml.safe_dump([mine, *yaml.safe_load(path.read_text())]), encoding="utf-8")
    write_model_card(tmp_path, cv, dataset_id="other/set")
    write_model_card(tmp_path, cv)
    assert sorted(p.name for p in path.parent.iterdir()) == ["ecr_ncbi_sample.yaml", "other_set.yaml"]
    merged = yaml.safe_load(path.read_text())
    assert len(merged) == 19 and merged[0] == mine
    path.write_text("- dataset: {id: x}\n  value: 1\n", encoding="utf-8")  # no task_id
    with pytest.raises(ModelCardError, match="not a valid .eval_results file"):
        write_model_card(tmp_path, cv)


@pytest.mark.skipif(HAS_EVAL_RESULTS, reason="checks the message of an older huggingface_hub")
def test_old_huggingface_hub_says_what_is_missing(tmp_path, cv):
    with pytest.raises(ModelCardError, match="huggingface_hub >= 1.4"):
        write_model_card(tmp_path, cv)
    assert not (tmp_path / "README.md").exists()


@needs_eval_results
def test_existing_readme_keeps_prose_and_metadata(tmp_path, cv):
    prose = "\n# My model\n\nTrained with care.\n\n```yaml\n---\nnot: metadata\n---\n```\n"
    other = {"name": "my-model", "results": [{"task": {"type": "token-classification"},
                                                "dataset": {"type": "other/set", "name": "Other"},
                                                "metrics": [{"type": "accuracy", "value": 0.5}]}]}
    stale = {"name": "my-model", "results": [{"task": {"type": "token-classification",
                                                         "name": "Clinical concept recognition (character spans)"},
                                                "dataset": {"type": "ecr/ncbi_sample", "name": "ecr/ncbi_sample"},
                                                "metrics": [{"type": "strict_span_f1", "value": 0.01,
                                                             "args": {"n_folds": 3}},
                                                            {"type": "my_metric", "value": 0.3}]}]}
    front = {"license": "apache-2.0", "tags": ["clinical"], "model-index": [
        {"name": "my-model", "results": other["results"] + stale["results"]}]}
    readme = tmp_path / "README.md"
    readme.write_text("---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + prose, encoding="utf-8")
    write_model_card(tmp_path, cv)
    text = readme.read_text(encoding="utf-8")
    assert text.endswith("---\n" + prose)
    assert ModelCard.load(readme).data.model_name == "my-model"  # the card's own name, one model-index entry
    meta = metadata_load(readme)
    assert meta["license"] == "apache-2.0" and meta["tags"] == ["clinical"]
    name, results = model_index_to_eval_results(meta["model-index"])
    by = {(r.dataset_type, r.metric_type, (r.metric_args or {}).get("p")): r for r in results}
    assert by[("other/set", "accuracy", None)].metric_value == 0.5  # another data set: kept
    assert by[("ecr/ncbi_sample", "my_metric", None)].metric_value == 0.3  # another metric: kept
    assert by[("ecr/ncbi_sample", "strict_span_f1", None)].metric_value == cv.mean()["strict_f1"]  # replaced
    assert sum(r.metric_type == "strict_span_f1" for r in results) == 1
    # writing again changes nothing: replaced, not appended
    write_model_card(tmp_path, cv)
    assert readme.read_text(encoding="utf-8") == text
    assert len(yaml.safe_load((tmp_path / ".eval_results" / "ecr_ncbi_sample.yaml").read_text())) == 18


def test_readme_without_metadata_and_crlf(tmp_path, cv):
    readme = tmp_path / "README.md"
    readme.write_bytes(b"# Title\r\n\r\nSome text.\r\n")
    write_model_card(tmp_path, cv, eval_results=False)
    raw = readme.read_bytes()
    assert raw.endswith(b"---\r\n# Title\r\n\r\nSome text.\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert not (tmp_path / ".eval_results").exists()
    assert ModelCard.load(readme).data.eval_results


def test_test_set_scores_and_leaderboard_file(tmp_path, cv):
    scores = span_metrics(GOLD[0], PRED[0], p_values=[1, 100])
    results = model_index_results(scores, dataset_id="bigbio/ncbi_disease", split="test")
    got = _by_type(results)
    assert got[("weighted_soft_match_f1", 100)].metric_value == scores["p100_f1"]
    assert got[("weighted_soft_match_f1", 100)].metric_args == {"p": 100, "typed": False}
    assert got[("weighted_soft_match_f1", 100)].metric_name == "Weighted soft match F1 (p=100)"
    assert not any(r.metric_type.endswith("_sd") for r in results)  # one test set: no SD
    assert {r.dataset_split for r in results} == {"test"}
    with pytest.raises(ModelCardError, match="dataset_id"):
        model_index_results(scores)
    # a saved leaderboard file gives the same numbers as the in-memory result
    path = cv.save(tmp_path / "r.json", model_name="minilm-ecr", dataset="ecr/ncbi_sample")
    assert [(m.key, m.value, m.sd) for m in card_metrics(path)] == [(m.key, m.value, m.sd) for m in card_metrics(cv)]
    if HAS_EVAL_RESULTS:
        entries = eval_result_entries(json.loads(path.read_text()), date="2026-01-01")
        assert entries[0].date == "2026-01-01" and entries[0].value == cv.mean()["p1_f1"]


def test_read_scores_files(tmp_path, cv):
    scores = span_metrics(GOLD[0], PRED[0], p_values=[1, 2], typed=True)
    flat = tmp_path / "scores.json"  # as `ecr-hf score --format json` writes it
    flat.write_text(json.dumps(scores), encoding="utf-8")
    got = {m.key: m for m in card_metrics(read_scores(flat, typed=True))}
    assert got["p2_f1"].value == scores["p2_f1"] and got["p2_f1"].args == {"p": 2, "typed": True}
    saved = cv.save(tmp_path / "cv.json", model_name="m", dataset="d")
    assert read_scores(saved)["n_folds"] == 3
    with pytest.raises(ModelCardError, match="typed=False, not typed=True"):
        read_scores(saved, typed=True)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelCardError, match="bad.json: holds a JSON list"):
        read_scores(bad)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ModelCardError, match="bad.json: cannot read"):
        write_model_card(tmp_path / "m", bad, dataset_id="d")
    assert not (tmp_path / "m").exists()


def test_reported_p_values_are_the_runs(cv):
    run = cross_validate(GOLD, PRED, p_values=[2, 100])  # p=1 is scored too, but not asked for
    run.config.update(dataset="d")
    assert sorted({m.args.get("p") for m in card_metrics(run)} - {None}) == [2, 100]
    assert card_metrics({"p1_f1": np.float32(0.5), "dataset": "d"}, metrics=["f1"])[0].value == 0.5


def test_typed_names_and_single_fold_sd(tmp_path):
    one = cross_validate(GOLD[:1], PRED[:1], typed=True, p_values=[2])
    one.config.update(model_name="m", dataset="d")
    metrics = {m.key: m for m in card_metrics(one)}
    assert metrics["p2_f1"].name == "Weighted soft match F1 (p=2, typed)" and metrics["p2_f1"].args["typed"] is True
    assert metrics["p2_f1"].sd is None  # SD of one fold is undefined: no SD entry
    assert not any(r.metric_type.endswith("_sd") for r in model_index_results(one))


def test_bad_inputs_are_errors(tmp_path, cv):
    with pytest.raises(ModelCardError, match="outside"):
        card_metrics({"p1_f1": 81.2, "dataset": "d"})
    with pytest.raises(ModelCardError, match="not a number"):
        card_metrics({"p1_f1": "0.8"})
    with pytest.raises(ModelCardError, match="no f1"):
        card_metrics({"accuracy": 0.8})
    with pytest.raises(ModelCardError, match="metrics must be"):
        card_metrics(cv, metrics=["accuracy"])
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: [unclosed\n---\nprose\n", encoding="utf-8")
    with pytest.raises(ModelCardError, match="not valid YAML"):
        write_model_card(tmp_path, cv, eval_results=HAS_EVAL_RESULTS)
    for bad in ("3", "[{name: m}]", "[{name: m, results: [{task: {type: t}, metrics: []}]}]"):
        readme.write_text(f"---\nmodel-index: {bad}\n---\nprose\n", encoding="utf-8")
        with pytest.raises(ModelCardError, match="model-index is malformed"):
            write_model_card(tmp_path, cv, eval_results=HAS_EVAL_RESULTS)
        assert readme.read_text(encoding="utf-8") == f"---\nmodel-index: {bad}\n---\nprose\n"  # untouched
    assert not (tmp_path / ".eval_results").exists()
