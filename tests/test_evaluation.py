"""Label maps and evaluate_model: a model or a predictions file to a results folder, all or nothing,
with the numbers that predicting and scoring by hand give."""

import doctest
import json
from pathlib import Path

import pytest
from test_trainer import LABELS, tiny_checkpoint, toy_documents, toy_tokenizer

import ecr_hf.spans.label_map as label_map_module
from ecr_hf import span_metrics
from ecr_hf.leaderboard import detect_kind, evaluate_model, find_test_sets, load_results
from ecr_hf.spans import LabelMap, LabelMapError
from ecr_hf.token_classification import ECRExtractor, TokenClassifierConfig, build_token_classifier

REFS = [[{"start": 0, "end": 5, "label": "Disease"}, {"start": 10, "end": 20, "label": "Chemical"}], []]
PREDS = [[{"start": 0, "end": 5, "label": "DISEASE"}, {"start": 10, "end": 20, "label": "CHEM"},
          {"start": 30, "end": 34, "label": "GENE"}], [(1, 3, "Disease")]]


def write_jsonl(path: Path, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- label maps

def test_label_map_doctests():
    assert doctest.testmod(label_map_module).failed == 0


def test_mapped_dropped_and_kept_labels():
    lm = LabelMap(mapping={"DISEASE": "Disease", "CHEM": "Chemical"}, drop=("GENE",))
    refs, preds = lm.apply(REFS, PREDS)
    assert preds == [[{"start": 0, "end": 5, "label": "Disease"}, {"start": 10, "end": 20, "label": "Chemical"}],
                     [{"start": 1, "end": 3, "label": "Disease"}]]  # a data-set label maps to itself
    assert refs == REFS and PREDS[0][0]["label"] == "DISEASE"  # the caller's objects are not changed
    assert span_metrics(refs, preds, typed=True)["strict_recall"] == 1.0


def test_every_unknown_label_is_listed_with_its_count():
    with pytest.raises(LabelMapError) as e:
        LabelMap(mapping={"DISEASE": "Disease"}).apply(REFS, [*PREDS[:1], [(0, 2, "CHEM"), (3, 4, None)]])
    message = str(e.value)
    assert "'CHEM' (2 spans)" in message and "'GENE' (1 span)" in message and "None (1 span)" in message
    assert "['Chemical', 'Disease']" in message and '"untyped": true' in message


def test_a_map_onto_a_label_the_data_set_lacks_is_an_error():
    with pytest.raises(LabelMapError, match="maps 'DISEASE' to 'Diseases', not to labels of the data set"):
        LabelMap(mapping={"DISEASE": "Diseases", "CHEM": "Chemical", "unused": "X"}, drop=("GENE",)).apply(REFS, PREDS)


def test_untyped_removes_labels_on_both_sides():
    refs, preds = LabelMap(untyped=True, drop=("GENE",)).apply(REFS, PREDS)
    assert {s["label"] for doc in (*refs, *preds) for s in doc} == {None}
    assert [len(d) for d in preds] == [2, 1]


@pytest.mark.parametrize(("content", "message"), [
    ('{"map": {"A": "B"}, "drops": ["C"]}', "unknown label map keys ['drops']"),
    ('{"map": {"A": "B"}, "drop": ["A"]}', "labels ['A'] are both mapped and dropped"),
    ('{"map": {"A": ""}}', "'map' entries must be non-empty strings"),
    ('{"drop": "GENE"}', "'drop' must be a list of label names"),
    ('{"untyped": "yes"}', "'untyped' must be true or false"),
    ('["A"]', "a label map is a JSON object"),
    ('{"map": ', "not valid JSON"),
])
def test_bad_label_map_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "map.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LabelMapError, match="map.json: ") as e:
        LabelMap.from_json(path)
    assert message in str(e.value)


def test_label_map_round_trips_through_its_dict():
    lm = LabelMap(mapping={"b": "B", "a": "A"}, drop=("z", "y"))
    assert LabelMap.from_dict(lm.to_dict()) == lm
    assert list(lm.to_dict()["map"]) == ["a", "b"] and lm.to_dict()["drop"] == ["y", "z"]


# --------------------------------------------------------------------------- test sets and kinds

def test_test_sets_of_every_layout(tmp_path):
    one = write_jsonl(tmp_path / "t.jsonl", [])
    assert find_test_sets(one).files == (Path(one),) and not find_test_sets(one).folds
    for k in range(3):
        write_jsonl(tmp_path / "cv" / f"fold{k}" / "test.jsonl", [])
    sets = find_test_sets(tmp_path / "cv")
    assert sets.folds and [p.parent.name for p in sets.files] == ["fold0", "fold1", "fold2"]
    assert find_test_sets(str(tmp_path / "cv" / "fold{k}" / "test.jsonl")).files == sets.files
    write_jsonl(tmp_path / "single" / "test.jsonl", [])
    assert find_test_sets(tmp_path / "single").name(0) == "test.jsonl"
    write_jsonl(tmp_path / "gap" / "fold0" / "test.jsonl", [])
    write_jsonl(tmp_path / "gap" / "fold2" / "test.jsonl", [])
    with pytest.raises(ValueError, match=r"\['fold0', 'fold2'\] are not fold0 .. fold1"):
        find_test_sets(tmp_path / "gap")
    with pytest.raises(ValueError, match="neither fold0/test.jsonl"):
        find_test_sets(tmp_path)


def test_kinds_are_detected_from_the_folder(tmp_path, model_dir):
    from transformers import BertConfig, BertForTokenClassification, LlamaConfig, LlamaForCausalLM

    assert detect_kind(model_dir) == "token-classifier"
    assert detect_kind(write_jsonl(tmp_path / "p.jsonl", [])) == "predictions"
    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=40)
    BertForTokenClassification(BertConfig(**small, num_labels=3)).save_pretrained(tmp_path / "bert")
    assert detect_kind(tmp_path / "bert") == "token-classifier"
    LlamaForCausalLM(LlamaConfig(**small)).save_pretrained(tmp_path / "llama")
    assert detect_kind(tmp_path / "llama") == "causal-lm"  # tests/test_evaluate_causal.py evaluates one
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="without config.json"):
        detect_kind(tmp_path / "empty")
    with pytest.raises(ValueError, match="Hub ids are not fetched"):
        detect_kind("org/some-model")


# --------------------------------------------------------------------------- evaluate_model

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """An untrained classifier saved as ``ecr-hf train`` saves one: its spans are arbitrary but real."""
    root = tmp_path_factory.mktemp("model")
    tok = toy_tokenizer()
    model = build_token_classifier(TokenClassifierConfig(tiny_checkpoint(root, "bert"), labels=LABELS), tok)
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    return root / "model"


@pytest.fixture(scope="module")
def folds(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    for k in range(3):
        docs = [{"doc_id": f"f{k}-{i}", **d} for i, d in enumerate(toy_documents(8, seed=k))]
        write_jsonl(root / f"fold{k}" / "test.jsonl", docs)
    return root


def test_a_model_on_every_fold_gives_what_predict_and_score_give(model_dir, folds, tmp_path):
    out = tmp_path / "eval"
    result = evaluate_model(model_dir, folds, out, batch_size=3, max_length=12, model_name="tiny", dataset="toy")
    extractor = ECRExtractor.from_pretrained(model_dir, batch_size=3, max_length=12)
    for k, fold in enumerate(result.folds):
        docs = [json.loads(line) for line in (folds / f"fold{k}" / "test.jsonl").read_text().splitlines()]
        by_hand = span_metrics([d["entities"] for d in docs], extractor([d["text"] for d in docs]),
                               texts=[d["text"] for d in docs])
        defined = [key for key in by_hand if fold[key] == fold[key]]  # an empty bin or label is NaN in a fold
        assert {key: fold[key] for key in defined} == pytest.approx({key: by_hand[key] for key in defined})
        assert all(key.startswith(("len_", "label_")) for key in set(by_hand) - set(defined))
        written = [json.loads(line) for line in (out / "predictions" / f"fold{k}.jsonl").read_text().splitlines()]
        assert [w["doc_id"] for w in written] == [d["doc_id"] for d in docs]
    assert sum(len(w["entities"]) for w in written) > 0  # the untrained model does predict spans
    assert sorted(p.name for p in out.iterdir()) == ["counts.json", "predictions", "results.json"]
    row = load_results(out / "results.json")[0]
    assert (row["model_name"], row["dataset"], row["n_folds"], row["kind"]) == ("tiny", "toy", 3, "token-classifier")
    assert row["f1"] == pytest.approx(result.mean()["f1"])

    # the predictions it wrote, evaluated as a predictions file per fold: the same scores
    again = evaluate_model(str(out / "predictions" / "fold{k}.jsonl"), folds, tmp_path / "again")
    assert again.folds == result.folds
    with pytest.raises(ValueError, match="is not empty; pass overwrite=True"):
        evaluate_model(model_dir, folds, out)


def test_a_failed_fold_writes_nothing(model_dir, folds, tmp_path):
    broken = tmp_path / "cv"
    for k in range(3):
        lines = (folds / f"fold{k}" / "test.jsonl").read_text().splitlines()
        if k == 2:
            doc = json.loads(lines[0])
            doc.pop("text")
            lines[0] = json.dumps(doc)
        (broken / f"fold{k}").mkdir(parents=True)
        (broken / f"fold{k}" / "test.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="a model reads the documents' text"):
        evaluate_model(model_dir, broken, tmp_path / "out", max_length=12)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_predictions_with_the_models_own_labels_need_a_label_map(tmp_path):
    refs = write_jsonl(tmp_path / "test.jsonl", [{"doc_id": k, "text": "x" * 40, "entities": r}
                                                 for k, r in enumerate(REFS)])
    preds = write_jsonl(tmp_path / "preds.jsonl", [
        {"doc_id": k, "entities": [s if isinstance(s, dict) else dict(zip(("start", "end", "label"), s)) for s in p]}
        for k, p in enumerate(PREDS)])
    with pytest.raises(LabelMapError, match="'CHEM' .*'DISEASE' .*'GENE'"):  # no label map: the identity
        evaluate_model(preds, refs, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    lm = LabelMap(mapping={"DISEASE": "Disease", "CHEM": "Chemical"}, drop=("GENE",))
    result = evaluate_model(preds, refs, tmp_path / "out", label_map=lm, typed=True)
    assert result.folds[0]["strict_recall"] == 1.0 and result.folds[0]["strict_precision"] == 2 / 3
    row = json.loads((tmp_path / "out" / "results.json").read_text())["config"]
    assert row["label_map"] == lm.to_dict() and row["typed"] is True and row["model_name"] == "preds"
    written = [json.loads(x) for x in (tmp_path / "out" / "predictions" / "test.jsonl").read_text().splitlines()]
    assert [s["label"] for s in written[0]["entities"]] == ["Disease", "Chemical"]
