"""Cross-validated leaderboard reports: folds, mean/SD per key against an independent computation,
the leaderboard file round trip, the paper's tables, and the CLI end to end."""

import csv
import doctest
import io
import json
import math
import os
import random
import re
import statistics

import numpy as np
import pytest
from datasets import Dataset

import ecr_hf.leaderboard.results as leaderboard_module
from ecr_hf.cli import main
from ecr_hf.leaderboard import (
    ResultsFileError,
    cross_validate,
    cross_validation_indices,
    cross_validation_splits,
    leaderboard_table,
    load_results,
)
from ecr_hf.utils import OutputExistsError
from ecr_hf.scoring import span_metrics
from ecr_hf.spans import SpanError


def test_doctests():
    result = doctest.testmod(leaderboard_module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("n_docs, n_folds, validation", [(10, 5, True), (23, 5, True), (7, 3, False), (5, 5, True)])
def test_folds_partition_the_documents(n_docs, n_folds, validation):
    folds = cross_validation_indices(n_docs, n_folds, validation=validation, seed=3)
    tested = np.sort(np.concatenate([f["test"] for f in folds]))
    assert tested.tolist() == list(range(n_docs))  # every document tested exactly once
    for k, fold in enumerate(folds):
        parts = [fold[name] for name in fold]
        assert np.sort(np.concatenate(parts)).tolist() == list(range(n_docs))  # disjoint and complete
        assert all(np.all(np.diff(p) > 0) for p in parts)  # each split in document order
        assert abs(len(fold["test"]) - n_docs / n_folds) < 1
        if validation:
            assert fold["validation"].tolist() == folds[(k + 1) % n_folds]["test"].tolist()
        else:
            assert set(fold) == {"train", "test"}
    assert [f["test"].tolist() for f in cross_validation_indices(n_docs, n_folds, validation=validation, seed=3)] == \
        [f["test"].tolist() for f in folds]
    assert [f["test"].tolist() for f in cross_validation_indices(n_docs, n_folds, validation=validation, seed=4)] != \
        [f["test"].tolist() for f in folds]


def test_splits_are_dataset_dicts_of_the_documents():
    docs = [{"doc_id": f"d{i}", "text": "x" * (i + 1), "entities": [{"start": 0, "end": 1, "label": "D"}]}
            for i in range(10)]
    for source in (docs, Dataset.from_list(docs)):
        folds = cross_validation_splits(source, 5, seed=1)
        index = cross_validation_indices(10, 5, seed=1)
        for fold, idx in zip(folds, index):
            for name in ("train", "validation", "test"):
                assert fold[name]["doc_id"] == [docs[i]["doc_id"] for i in idx[name]]


def test_fold_count_errors():
    with pytest.raises(ValueError, match="n_folds must be between 3 and the number of documents"):
        cross_validation_indices(10, 2)
    with pytest.raises(ValueError, match="between 2 and the number of documents \\(4\\)"):
        cross_validation_indices(4, 5, validation=False)


def _char_prf(gold_docs, pred_docs):
    """Character-level P/R/F1 over sets of (document, character): p=1 weighted soft match, untyped."""
    def chars(docs):
        return {(d, c) for d, spans in enumerate(docs) for s, e, *_ in spans for c in range(s, e)}
    g, p = chars(gold_docs), chars(pred_docs)
    precision, recall = len(g & p) / len(p), len(g & p) / len(g)
    return precision, recall, 2 * precision * recall / (precision + recall)


def _random_fold(rng, n_docs):
    gold, pred = [], []
    for _ in range(n_docs):
        spans, pos = [], 0
        for _ in range(rng.randint(1, 5)):
            pos += rng.randint(1, 6)
            length = rng.randint(1, 25)
            spans.append((pos, pos + length, rng.choice("AB")))
            pos += length
        gold.append(spans)
        pred.append([(max(0, s + rng.randint(-2, 2)), e + rng.randint(-2, 2), lab) for s, e, lab in spans
                     if rng.random() < 0.8 and e - s > 4])
    return gold, pred


def test_mean_and_sd_match_an_independent_computation():
    rng = random.Random(0)
    folds = [_random_fold(rng, 12) for _ in range(5)]
    cv = cross_validate([g for g, _ in folds], [p for _, p in folds])
    per_fold = [_char_prf(g, p) for g, p in folds]
    mean, sd, summary = cv.mean(), cv.std(), cv.summary()
    for i, key in enumerate(("precision", "recall", "f1")):
        values = [f[i] for f in per_fold]
        assert mean[key] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert sd[key] == pytest.approx(statistics.stdev(values), abs=1e-12)  # sample SD
        assert summary[key] == mean[key] and summary[f"{key}_sd"] == sd[key]
        assert mean[f"char_{key}"] == pytest.approx(mean[key], abs=1e-12)
    assert [f["f1"] for f in cv.folds] == pytest.approx([f[2] for f in per_fold], abs=1e-12)
    for key in ("p100_f1", "len_21+_recall", "strict_f1", "case_f1", "marker_f1", "label_A_f1"):
        assert mean[key] == pytest.approx(statistics.mean(f[key] for f in cv.folds), abs=1e-12)


def test_keys_missing_from_a_fold_average_over_the_folds_that_have_them():
    gold = [[[(0, 4, "A")]], [[(0, 4, "B")]], [[(0, 4, "A")]]]
    pred = [[[(0, 2, "A")]], [[(0, 4, "B")]], [[(0, 4, "A")]]]
    cv = cross_validate(gold, pred)
    assert cv.mean()["label_A_recall"] == pytest.approx(0.75)  # folds 0 and 2 only
    assert cv.mean()["label_B_recall"] == 1.0 and math.isnan(cv.std()["label_B_recall"])  # one fold: no SD
    assert cv.mean()["recall"] == pytest.approx((0.5 + 1 + 1) / 3)


def test_bad_folds_raise_naming_the_fold():
    with pytest.raises(SpanError, match="fold 1: .*document 0, span 0: start 5 >= end 5"):
        cross_validate([[[(0, 2)]], [[(0, 2)]]], [[[(0, 2)]], [[(5, 5)]]])
    with pytest.raises(ValueError, match="2 prediction folds but 1 reference folds"):
        cross_validate([[[]]], [[[]], [[]]])
    with pytest.raises(ValueError, match="no folds"):
        cross_validate([], [])


def test_leaderboard_file_round_trip_and_tables(tmp_path):
    gold = [[[(0, 10, "D")]], [[(0, 4, "D")]]]
    good = cross_validate(gold, [[[(0, 10, "D")]], [[(0, 4, "D")]]], p_values=[1, 100])
    split = cross_validate(gold, [[[(0, 4, "D"), (6, 10, "D")]], [[(0, 4, "D")]]], p_values=[1, 100])
    good.save(tmp_path / "good.json", model_name="good", dataset="toy", method="token-classification", epochs=3)
    split.save(tmp_path / "split.json", model_name="split", dataset="toy")
    saved = json.loads((tmp_path / "split.json").read_text())
    assert saved["config"]["n_folds"] == 2 and saved["config"]["p_values"] == [1.0, 100.0]
    assert saved["results"]["recall"] == pytest.approx(0.9) and len(saved["folds"]) == 2
    assert saved["folds"][0] == pytest.approx({k: None if math.isnan(v) else v for k, v in split.folds[0].items()})

    table = load_results(tmp_path)
    assert isinstance(table, Dataset) and table["model_name"] == ["good", "split"]
    assert table["epochs"] == [3, None] and table["recall"] == pytest.approx([1.0, 0.9])

    # p=100 recall of "split" by hand: fold 0 max fragment 4/10 (= 0.4 up to 2**(1/100)), fold 1: 1
    p100 = [(2 * 0.4 ** 100) ** 0.01, 1.0]
    text = leaderboard_table(table, metrics=["recall"])
    assert text.splitlines() == [
        "**toy** (2 folds, mean (SD))", "",
        "| model | p=1 recall | p=100 recall |", "|---|---|---|",
        "| good (token-classification) | **1.000** (0.000) | **1.000** (0.000) |",
        f"| split | 0.900 (0.141) | {statistics.mean(p100):.3f} ({statistics.stdev(p100):.3f}) |",
    ]
    # a bin without gold spans in a fold has no recall there: each bin here has spans in one fold only
    assert math.isnan(split.folds[0]["len_3-6_recall"]) and split.folds[1]["len_3-6_recall"] == 1.0
    assert split.mean()["len_7-10_recall"] == pytest.approx(0.8) and math.isnan(split.std()["len_7-10_recall"])
    assert split.folds[0]["len_3-6_precision"] == 1.0  # ... but predicted spans of 4 characters: precision
    assert leaderboard_table(table, by="length", metrics=["recall"], fmt="csv").splitlines() == [
        "model,1-2 recall,3-6 recall,7-10 recall,11-20 recall,21+ recall",
        "good (token-classification),-,1.000,1.000,-,-",
        "split,-,1.000,0.800,-,-",
    ]
    assert saved["folds"][0]["len_3-6_recall"] is None  # NaN is written as null


def test_table_errors(tmp_path):
    cross_validate([[[(0, 3)]], [[(0, 3)]]], [[[(0, 3)]], [[(0, 3)]]], p_values=[1]).save(
        tmp_path / "a.json", model_name="a", dataset="toy")
    cross_validate([[[(0, 3)]], [[(0, 3)]]], [[[(0, 3)]], [[(0, 3)]]], p_values=[1, 2]).save(
        tmp_path / "b.json", model_name="b", dataset="toy")
    with pytest.raises(ValueError, match="the runs have different p_values"):
        leaderboard_table(load_results(tmp_path))
    with pytest.raises(ValueError, match="the results have no key \\['p1_f2'\\]"):
        leaderboard_table(load_results(tmp_path / "a.json"), metrics=["f2"])
    with pytest.raises(ValueError, match="by must be 'p' or 'length'"):
        leaderboard_table(load_results(tmp_path / "a.json"), by="label")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(ValueError, match="c.json: not a leaderboard file"):
        load_results(tmp_path)


def test_cli_cross_validation_end_to_end(tmp_path, capsys):
    rng = random.Random(1)
    lines = []
    for i in range(20):
        text = f"doc {i} " + " ".join(rng.choice(["fever", "lung cancer", "and", "no"]) for _ in range(6))
        spans = [{"start": j, "end": j + len(w), "label": "D"} for w in ("fever", "lung cancer")
                 for j in [text.find(w)] if j >= 0]
        lines.append({"doc_id": f"d{i}", "text": text, "entities": spans, "source": "toy"})
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in lines))
    assert main(["cv-split", str(data), "--folds", "4", "--output-dir", str(tmp_path / "splits")]) == 0
    for k in range(4):
        test = [json.loads(x) for x in (tmp_path / "splits" / f"fold{k}" / "test.jsonl").read_text().splitlines()]
        assert all(d == {**lines[int(d["doc_id"][1:])], "split": "test"} for d in test)  # every field kept
        with open(tmp_path / f"pred{k}.jsonl", "w") as f:  # a system that finds only "fever"
            for d in test:
                f.write(json.dumps({"doc_id": d["doc_id"], "entities": [e for e in d["entities"]
                                                                        if d["text"][e["start"]:e["end"]] == "fever"]}) + "\n")
    capsys.readouterr()
    assert main(["cv-score", "--references", str(tmp_path / "splits/fold{k}/test.jsonl"), "--predictions",
                 str(tmp_path / "pred{k}.jsonl"), "--folds", "4", "--model-name", "fever-only", "--dataset", "toy",
                 "--output", str(tmp_path / "results" / "fever.json")]) == 0
    out = capsys.readouterr().out
    assert "**toy** (4 folds" in out and "| fever-only | " in out  # the table names the system just saved
    assert "| fever-only | 1.000 (0.000)" not in out  # recall < 1: lung cancer is missed
    result = json.loads((tmp_path / "results" / "fever.json").read_text())
    golds = [[json.loads(x)["entities"] for x in (tmp_path / "splits" / f"fold{k}" / "test.jsonl").read_text().splitlines()]
             for k in range(4)]
    recalls = [sum(e["end"] - e["start"] for doc in g for e in doc if e["end"] - e["start"] == 5)
               / sum(e["end"] - e["start"] for doc in g for e in doc) for g in golds]
    assert result["results"]["recall"] == pytest.approx(statistics.mean(recalls))
    assert result["results"]["precision"] == 1.0
    for k in range(4):  # the same system as generations, one copied with a typo: decoded, then scored
        test = [json.loads(x) for x in (tmp_path / "splits" / f"fold{k}" / "test.jsonl").read_text().splitlines()]
        with open(tmp_path / f"gen{k}.jsonl", "w") as f:
            for i, d in enumerate(test):
                marked = d["text"].replace("fever", "@@fever##").replace("doc ", "dc " if i == 0 else "doc ", 1)
                f.write(json.dumps({"doc_id": d["doc_id"], "marked": marked}) + "\n")
    assert main(["cv-score", "--references", str(tmp_path / "splits/fold{k}/test.jsonl"), "--predictions",
                 str(tmp_path / "gen{k}.jsonl"), "--folds", "4", "--model-name", "fever-gen", "--dataset", "toy",
                 "--output", str(tmp_path / "results" / "gen.json")]) == 0
    generated = json.loads((tmp_path / "results" / "gen.json").read_text())
    assert generated["results"]["recall"] == pytest.approx(result["results"]["recall"])
    assert generated["results"]["faithfulness_exact_match_rate"] == pytest.approx(statistics.mean(
        1 - 1 / len(g) for g in golds))
    capsys.readouterr()
    assert main(["leaderboard", str(tmp_path / "results"), "--format", "csv", "--metrics", "recall"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(f"fever-only,{statistics.mean(recalls):.3f} (")
    try:  # a usage error: exit status 2, whether found by argparse or by the command
        status = main(["cv-score", "--references", "x.jsonl", "--predictions", "y{k}.jsonl", "--model-name", "m",
                       "--dataset", "d", "--output", "o.json"])
    except SystemExit as e:
        status = e.code
    assert status == 2 and "{k}" in capsys.readouterr().err


def _tiny(p_values=(1,)):
    return cross_validate([[[(0, 3)]], [[(0, 3)]]], [[[(0, 3)]], [[(0, 2)]]], p_values=p_values)


def test_save_refuses_to_overwrite_and_writes_atomically(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    _tiny().save(path, model_name="a", dataset="toy")
    before = path.read_text()
    with pytest.raises(OutputExistsError, match="a.json exists"):
        _tiny().save(path, model_name="b", dataset="toy")
    assert path.read_text() == before

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", disk_full)  # the write fails before the rename: the old file stays
    with pytest.raises(OSError, match="No space left"):
        _tiny().save(path, model_name="b", dataset="toy", overwrite=True)
    monkeypatch.undo()
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left
    _tiny().save(path, model_name="b", dataset="toy", overwrite=True)
    assert json.loads(path.read_text())["config"]["model_name"] == "b"


def test_save_does_not_carry_config_into_the_next_save(tmp_path):
    cv = _tiny()
    cv.save(tmp_path / "a.json", model_name="a", dataset="toy", epochs=3, model_sha="abc")
    cv.save(tmp_path / "b.json", model_name="b", dataset="toy")
    config = json.loads((tmp_path / "b.json").read_text())["config"]
    assert "epochs" not in config and "model_sha" not in config and cv.config == {}
    with pytest.raises(ValueError, match="\\['n_folds'\\] are set from the result itself"):
        cv.save(tmp_path / "c.json", model_name="c", dataset="toy", n_folds=9)
    assert not (tmp_path / "c.json").exists()


def _write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _content(**config):
    return _tiny().to_dict(model_name="a", dataset="toy", method=None, **config)


@pytest.mark.parametrize("text, problem", [
    ('{"config": {', r"bad.json, line 1 column 13: not valid JSON \(Expecting property name"),
    ('[]', "bad.json: holds an array, not an object with"),
    ('{"config": {}, "results": {}}',
     r"bad.json: not a leaderboard file: expected the keys \['config', 'results', 'folds'\]"),
    ('{"config": [], "results": {}, "folds": []}', "bad.json: 'config' is an array, not an object"),
    ('{"config": {"f1": 1}, "results": {}, "folds": []}', r"'config' lacks \['model_name', 'dataset'"),
    ('{"a": 1, "a": 2}', "an object repeats the key 'a'"),
    ('{"a": NaN}', "NaN is not JSON; write null"),
    ('{"a": [1, -Infinity]}', "-Infinity is not JSON; write null"),
])
def test_load_results_names_the_file_and_the_problem(tmp_path, text, problem):
    with pytest.raises(ResultsFileError, match=problem):
        load_results(_write(tmp_path / "bad.json", text))


def _broken(content, part, key, value):
    (content[part] if part != "folds" else content["folds"][0])[key] = value
    return content


_SCHEMA_CASES = [
    ("config", "p_values", None, "config 'p_values' is null, not an array"),
    ("config", "p_values", [], "p_values is empty"),
    ("config", "p_values", [1, 1], "config 'p_values' repeats a value"),
    ("config", "p_values", [1, True], "p_values must hold finite numbers >= 1, got True"),
    ("config", "p_values", [0.5], "p_values must hold finite numbers >= 1, got 0.5"),
    ("config", "p_values", "[1, 2]", "config 'p_values' is a string, not an array"),
    ("config", "score_p", 0.5, "score_p must hold finite numbers >= 1, got 0.5"),
    ("config", "typed", 1, "config 'typed' must be true or false, got 1"),
    ("config", "n_folds", 3, "'folds' must be an array of n_folds = 3 objects, got 2"),
    ("config", "n_folds", True, "config 'n_folds' must be an integer >= 1, got True"),
    ("config", "length_bins", [[1]], r"length bin \[1\] is not \[lo, hi\]"),
    ("config", "length_bins", [[3, 2]], r"length bin \[3, 2\] is not \[lo, hi\] with integers 1 <= lo <= hi"),
    ("config", "length_bins", [[1.5, None]], r"length bin \[1.5, None\] is not"),
    ("config", "model_name", "", "config 'model_name' must be a non-empty string, got ''"),
    ("config", "dataset", ["toy"], r"config 'dataset' must be a non-empty string, got \['toy'\]"),
    ("config", "method", 3, "config 'method' must be a non-empty string or null, got 3"),
    ("config", "f1", 0.5, r"'results' repeats the config keys \['f1'\]"),
    ("config", "huge", 2**64, "config 'huge' = 18446744073709551616 is past the 64-bit integer range"),
    ("config", "note", "\ud800", "holds a lone surrogate '\\\\ud800'"),
    ("results", "f1", True, "'results' 'f1' is True: results are finite numbers or null"),
    ("results", "f1", "0.9", "'results' 'f1' is '0.9'"),
    ("results", "f1", [0.9], r"'results' 'f1' is \[0.9\]"),
    ("results", "f1", 10**400, "'results' 'f1' is 1000"),
    ("folds", "f1", False, "fold 0 'f1' is False"),
]


@pytest.mark.parametrize("part, key, value, problem", _SCHEMA_CASES,
                         ids=[f"{part}-{key}-{i}" for i, (part, key, *_) in enumerate(_SCHEMA_CASES)])
def test_load_results_checks_the_schema(tmp_path, part, key, value, problem):
    path = _write(tmp_path / "bad.json", _broken(_content(), part, key, value))
    with pytest.raises(ResultsFileError, match=f"bad.json: .*{problem}"):
        load_results(path)


def test_lists_where_objects_belong_and_other_shapes(tmp_path):
    for part, value, problem in [("results", [0.9], "'results' is an array, not an object of numbers"),
                                 ("folds", {"f1": 1.0}, "'folds' must be an array of n_folds = 2 objects, got an "
                                                        "object"),
                                 ("folds", [[1.0], [1.0]], "fold 0 is an array, not an object of numbers")]:
        content = _content()
        content[part] = value
        with pytest.raises(ResultsFileError, match=f"bad.json: .*{problem}"):
            load_results(_write(tmp_path / "bad.json", content))
    raw = json.dumps(_content()).encode().replace(b'"toy"', b'"t\xf6y"')  # Latin-1, not UTF-8
    (tmp_path / "bad.json").write_bytes(b"\n" + raw)
    with pytest.raises(ResultsFileError, match="bad.json, line 2: not UTF-8 text \\(byte 0xf6\\)"):
        load_results(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(_content()).encode())  # a BOM is fine
    assert load_results(tmp_path / "bad.json")["model_name"] == ["a"]
    with pytest.raises(ResultsFileError, match="no leaderboard files \\(\\*.json\\) in .*empty"):
        load_results((tmp_path / "empty").mkdir() or tmp_path / "empty")


def test_a_bool_result_is_never_rendered_as_a_score(tmp_path):
    content = _content()
    content["results"]["p1_f1"] = True
    with pytest.raises(ResultsFileError, match="'results' 'p1_f1' is True"):
        load_results(_write(tmp_path / "a.json", content))
    row = {**content["config"], **content["results"]}
    with pytest.raises(ValueError, match="a: result 'p1_f1' is True, not a number"):
        leaderboard_table([row], metrics=["f1"])


def test_mixed_schemas_name_both_files(tmp_path):
    _tiny().save(tmp_path / "a.json", model_name="a", dataset="toy", epochs=3)
    _tiny().save(tmp_path / "b.json", model_name="b", dataset="toy", epochs="three")
    with pytest.raises(ResultsFileError, match="b.json: 'epochs' is a string here but a number in .*a.json"):
        load_results(tmp_path)
    (tmp_path / "b.json").unlink()
    _tiny().save(tmp_path / "b.json", model_name="b", dataset="toy", epochs=2.5, tags=["x"], seed=2**62 + 1)
    _tiny().save(tmp_path / "c.json", model_name="c", dataset="toy", seed=0.5)
    table = load_results(tmp_path)  # integers and floats share a column; lists are JSON text
    assert table["epochs"] == [3, 2.5, None] and table["tags"] == [None, '["x"]', None]
    assert table["seed"] == [None, 2.0**62, 0.5]


def test_two_files_of_one_system_are_an_error_naming_both(tmp_path):
    _tiny().save(tmp_path / "a.json", model_name="m", dataset="toy", method="x")
    _tiny().save(tmp_path / "a2.json", model_name="m", dataset="toy", method="y")  # another method: fine
    assert load_results(tmp_path)["method"] == ["x", "y"]
    _tiny().save(tmp_path / "b.json", model_name="m", dataset="toy", method="x")
    with pytest.raises(ResultsFileError, match="a.json and .*b.json both hold model 'm' on dataset 'toy' with "
                                               "method 'x'; keep one file per system"):
        load_results(tmp_path)
    assert len(load_results([tmp_path / "a.json", tmp_path / "a.json", tmp_path / "a2.json"])) == 2  # read once
    row = {**_content()["config"], **_content()["results"]}
    with pytest.raises(ValueError, match="several rows for model 'a' with method None"):
        leaderboard_table([row, row])


def test_runs_in_one_table_share_their_settings():
    rows = [{**_content()["config"], **_content()["results"]} for _ in range(2)]
    rows[1]["model_name"], rows[1]["typed"] = "b", True
    with pytest.raises(ValueError, match="the runs have different typed"):
        leaderboard_table(rows)
    rows[1]["typed"], rows[1]["score_p"] = False, 2.0
    assert leaderboard_table(rows)  # the p table does not depend on score_p
    with pytest.raises(ValueError, match="the runs have different score_p"):
        leaderboard_table(rows, by="length")
    del rows[1]["p_values"]
    with pytest.raises(ValueError, match="b: the row has no 'p_values'"):
        leaderboard_table(rows)


def test_infinite_p_is_refused_and_files_are_strict_json(tmp_path):
    with pytest.raises(ValueError, match="p_values must hold finite numbers >= 1, got inf .*use p = 100"):
        cross_validate([[[(0, 3)]]] * 2, [[[(0, 3)]]] * 2, p_values=[1, math.inf])
    with pytest.raises(ValueError, match="score_p must hold finite numbers >= 1, got nan"):
        cross_validate([[[(0, 3)]]] * 2, [[[(0, 3)]]] * 2, score_p=math.nan)
    cv = _tiny()
    cv.p_values = (1.0, math.inf)  # built by hand: save refuses, and writes nothing
    with pytest.raises(ResultsFileError, match="a.json: not saved: p_values must hold finite numbers"):
        cv.save(tmp_path / "a.json", model_name="a", dataset="toy")
    with pytest.raises(ResultsFileError, match="a.json: not saved: config 'seconds' is not a JSON value"):
        _tiny().save(tmp_path / "a.json", model_name="a", dataset="toy", seconds=math.nan)
    with pytest.raises(ResultsFileError, match="not saved: config 'model_name' must be a non-empty string"):
        _tiny().save(tmp_path / "a.json", model_name="", dataset="toy")
    assert not list(tmp_path.iterdir())
    path = _tiny().save(tmp_path / "a.json", model_name="a", dataset="toy")
    json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the file"))


def test_cross_validate_checks_its_settings(tmp_path):
    gold = [[[(0, 3)]]] * 2
    with pytest.raises(ValueError, match="p_values must be a list of numbers, got '12'"):
        cross_validate(gold, gold, p_values="12")  # was read as [1, 2]
    with pytest.raises(ValueError, match="typed must be True or False, got 1"):
        cross_validate(gold, gold, typed=1)
    with pytest.raises(ValueError, match=r"length bin \(1,\) is not \[lo, hi\]"):
        cross_validate(gold, gold, length_bins=[(1,)])
    cv = cross_validate(gold, gold, p_values=[np.int64(2), 1, 2.0], length_bins=[(np.int64(1), np.int64(5))])
    assert cv.p_values == (2.0, 1.0) and cv.length_bins == ((1, 5),)  # repeats count once; numpy numbers kept as JSON
    assert cross_validate(gold, gold, length_bins=None).length_bins == ()
    config = json.loads(cv.save(tmp_path / "a.json", model_name="a", dataset="toy").read_text())["config"]
    assert config["p_values"] == [2.0, 1.0] and config["length_bins"] == [[1, 5]]
    assert load_results(tmp_path)["p_values"] == ["[2.0, 1.0]"]


def test_names_with_commas_and_pipes_keep_their_rows(tmp_path):
    for name, method in (("bio,bert|v2", "fine-tune, 3 epochs"), ("a\\|b", None), ("line\nbreak", None)):
        _tiny().save(tmp_path / f"{len(name)}.json", model_name=name, dataset="toy", method=method)
    results = load_results(tmp_path)
    rows = list(csv.reader(io.StringIO(leaderboard_table(results, metrics=["f1"], fmt="csv"))))
    assert sorted(row[0] for row in rows[1:]) == ["a\\|b", "bio,bert|v2 (fine-tune, 3 epochs)", "line\nbreak"]
    assert all(len(row) == 2 for row in rows)
    markdown = leaderboard_table(results, metrics=["f1"]).splitlines()[4:]
    assert len(markdown) == 3
    assert all(len(re.findall(r"(?<!\\)(?:\\\\)*\|", line)) == 3 for line in markdown)  # unescaped pipes: 2 cells
    assert "| bio,bert\\|v2 (fine-tune, 3 epochs) |" in "\n".join(markdown)
    assert "| a\\\\\\|b |" in "\n".join(markdown) and "| line break |" in "\n".join(markdown)


def test_saved_files_always_load(tmp_path):
    rng = random.Random(5)
    for i in range(20):
        folds = [_random_fold(rng, 4) for _ in range(rng.randint(2, 4))]
        cv = cross_validate([g for g, _ in folds], [p for _, p in folds], typed=rng.random() < 0.5,
                            p_values=rng.sample([1, 1.5, 2, 100], rng.randint(1, 4)))
        cv.save(tmp_path / f"{i}.json", model_name=f"m{i}", dataset="toy", method=rng.choice([None, "x"]),
                seed=i, note=rng.choice(["", "é|,", "x"]))
    table = load_results(tmp_path)
    assert sorted(table["seed"]) == list(range(20))
    assert table.features["typed"].dtype == "bool" and table.features["f1"].dtype == "float64"


def _json_paths(value, prefix=()):
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _json_paths(item, (*prefix, key))


def test_damaged_files_load_or_raise_results_file_errors(tmp_path):
    """Any value of a valid file replaced (or a key removed): the file loads and tabulates, or the
    error is ours; never a raw JSON, pyarrow or Python error."""
    rng = random.Random(7)
    base = _tiny(p_values=[1, 2]).to_dict(model_name="a", dataset="toy", method=None, epochs=3)
    values = [None, True, 0, -1, 2.5, 1e308, "", "x", "\ud800", [], [1], [[1, None]], {}, {"a": 1}, 2**70]
    paths = list(_json_paths(base))
    for i in range(40):
        content, path = json.loads(json.dumps(base)), rng.choice(paths)
        parent = content
        for key in path[:-1]:
            parent = parent[key]
        if not path:
            content = rng.choice(values)
        elif isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = rng.choice(values)
        try:
            results = load_results(_write(tmp_path / f"{i}.json", content))
        except ResultsFileError as e:
            assert f"{i}.json" in str(e)
            continue
        for by in ("p", "length"):
            try:
                leaderboard_table(results, by=by)
            except ValueError as e:
                assert "the results have no key" in str(e)


def test_in_memory_rows_may_hold_infinite_p_but_not_broken_settings():
    scores = span_metrics([[(0, 10)]], [[(0, 4), (6, 10)]], p_values=[1, math.inf])
    row = {"model_name": "m", "dataset": "toy", "n_folds": 1, "p_values": [1, math.inf], "typed": False, **scores}
    assert leaderboard_table([row], metrics=["recall"]).splitlines()[2:] == [
        "| model | p=1 recall | p=inf recall |", "|---|---|---|", "| m | 0.800 | 0.400 |"]
    with pytest.raises(ValueError, match=r"m: p_values '\[1, 2' is not a list of p values"):
        leaderboard_table([{**row, "p_values": "[1, 2"}])
    with pytest.raises(ValueError, match=r"m: p_values \[0\] is not a list of p values .*got 0"):
        leaderboard_table([{**row, "p_values": [0]}])


# -- bootstrap intervals in results files -------------------------------------------------------

def _interval_folds(seed=0, n_folds=3, n_docs=25):
    rng = random.Random(seed)
    folds = [_random_fold(rng, n_docs) for _ in range(n_folds)]
    return [g for g, _ in folds], [p for _, p in folds]


def test_intervals_round_trip_and_bracket_the_fold_mean(tmp_path):
    gold, pred = _interval_folds()
    cv = cross_validate(gold, pred, p_values=[1, 2, 100], n_resamples=400, rng=1)
    mean = cv.mean()
    main_keys = [f"{prefix}{m}" for prefix in ("", "p1_", "p2_", "p100_", "char_", "strict_")
                 for m in ("precision", "recall", "f1")]
    assert sorted(cv.intervals.intervals) == sorted(main_keys)
    for key in main_keys:  # the stratified estimate is the fold mean the file shows
        ci = cv.intervals.intervals[key]
        assert ci.estimate == pytest.approx(mean[key], abs=1e-12)
        assert ci.low <= mean[key] <= ci.high and ci.high - ci.low > 0
    again = cross_validate(gold, pred, p_values=[1, 2, 100], n_resamples=400, rng=1)
    assert again.intervals.intervals == cv.intervals.intervals  # a seed gives the same intervals
    other = cross_validate(gold, pred, p_values=[1, 2, 100], n_resamples=400, rng=2)
    assert other.intervals.intervals["f1"] != cv.intervals.intervals["f1"]
    assert cv.counts.n_documents == 75 and cv.counts.strata.tolist() == [0] * 25 + [1] * 25 + [2] * 25

    row = load_results(cv.save(tmp_path / "a.json", model_name="a", dataset="toy")).to_list()[0]
    for key in main_keys:
        ci = cv.intervals.intervals[key]
        assert (row[f"{key}_ci_low"], row[f"{key}_ci_high"]) == (ci.low, ci.high)
    assert json.loads(row["bootstrap"]) == {"n_resamples": 400, "confidence_level": 0.95, "seed": 1,
                                            "method": "percentile; documents resampled within each fold"}
    assert "len_1-4_f1_ci_low" not in row  # intervals for the main keys only
    ci = cv.intervals.intervals["f1"]
    table = leaderboard_table([row], metrics=("f1",))
    assert "mean (SD) [95% bootstrap interval]" in table
    assert f"{mean['p1_f1']:.3f} ({cv.std()['p1_f1']:.3f}) [{row['p1_f1_ci_low']:.3f}, {row['p1_f1_ci_high']:.3f}]" \
        in table
    plain = cross_validate(gold, pred, p_values=[1, 2, 100])
    assert plain.intervals is None and plain.counts is None
    content = plain.to_dict(model_name="a", dataset="toy", method=None)
    assert "bootstrap" not in content["config"] and not any("_ci_" in k for k in content["results"])
    assert "[" not in leaderboard_table([{**content["config"], **content["results"]}])
    with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
        cross_validate(gold, pred, n_resamples=0)


@pytest.mark.parametrize("edit, problem", [
    (lambda c: c["config"].pop("bootstrap"), "config 'bootstrap' must be an object with 'n_resamples'"),
    (lambda c: c["config"]["bootstrap"].update(confidence_level=95),
     "'confidence_level' \\(in \\(0, 1\\)\\).*'confidence_level': 95"),
    (lambda c: c["results"].pop("f1_ci_high"), "'f1_ci_low' without its other end"),
    (lambda c: c["results"].update(f1_ci_low=0.9, f1_ci_high=0.1), "interval of 'f1' is \\[0.9, 0.1\\]"),
    (lambda c: c["results"].update(f1_ci_low=None), "interval of 'f1' is \\[None, "),
])
def test_interval_schema(tmp_path, edit, problem):
    gold, pred = _interval_folds(n_docs=5)
    content = cross_validate(gold, pred, p_values=[1], n_resamples=50, rng=0).to_dict(
        model_name="a", dataset="toy", method=None)
    assert load_results(_write(tmp_path / "good.json", content)).num_rows == 1
    edit(content)
    with pytest.raises(ResultsFileError, match=f"bad.json: .*{problem}"):
        load_results(_write(tmp_path / "bad.json", content))


def test_cross_validation_counts_estimate_the_fold_means():
    from ecr_hf.leaderboard import cross_validation_counts

    gold, pred = _interval_folds(seed=3, n_folds=4, n_docs=9)
    ids = [[f"f{k}d{i}" for i in range(9)] for k in range(4)]
    counts = cross_validation_counts(gold, pred, p_values=[1, 1.5], doc_ids=ids)
    mean = cross_validate(gold, pred, p_values=[1, 1.5]).mean()
    assert counts.estimate() == pytest.approx({k: mean[k] for k in counts.keys}, abs=1e-12)
    assert counts.doc_ids == tuple(i for fold in ids for i in fold)
    pred[2][1] = [(5, 2, "A")]
    with pytest.raises(SpanError, match="fold 2: "):
        cross_validation_counts(gold, pred)
