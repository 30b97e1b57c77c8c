"""The ``ecr-hf`` console script: ``score`` on tiny JSONL files, ``register-metrics``, ``predict``,
``train`` and the cross-validation commands on a tiny model, and the errors a user meets."""

import argparse
import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from evaluate.loading import files_to_hash

from ecr_hf.cli import main
from ecr_hf.scoring import METRIC_NAMES, metric_script


def write_jsonl(path: Path, docs) -> str:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    return str(path)


# d1: "感染性心内膜炎（IE）" gold [0, 7) and [8, 10); predicted [0, 3) and [4, 7) (心 missed) and [8, 10).
# d2: gold [0, 5) "fever"; predicted [6, 11) "cough" (wrong) -- listed in another order in the file.
REFS = [
    {"doc_id": "d1", "text": "感染性心内膜炎（IE）",
     "entities": [{"start": 0, "end": 7, "label": "disease", "text": "感染性心内膜炎"}, {"start": 8, "end": 10, "label": "disease"}]},
    {"doc_id": "d2", "text": "fever cough", "entities": [{"start": 0, "end": 5, "label": "symptom"}]},
]
PREDS = [
    {"doc_id": "d2", "entities": [{"start": 6, "end": 11, "label": "symptom"}]},
    {"doc_id": "d1", "entities": [{"start": 0, "end": 3, "label": "disease"},
                                  {"start": 4, "end": 7, "label": "disease"},
                                  {"start": 8, "end": 10, "label": "disease"}]},
]


@pytest.fixture
def files(tmp_path):
    return write_jsonl(tmp_path / "refs.jsonl", REFS), write_jsonl(tmp_path / "preds.jsonl", PREDS)


def test_score_json_gives_hand_worked_numbers(files, capsys):
    refs, preds = files
    assert main(["score", "--references", refs, "--predictions", preds, "--p", "2", "1", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # gold chars 7 + 2 + 5 = 14; p=1 recall (6 + 2 + 0) / 14; p=2: d1's long span scores sqrt(2) * 3/7
    assert out["p1_recall"] == pytest.approx(8 / 14)
    assert out["recall"] == pytest.approx((7 * math.sqrt(2) * 3 / 7 + 2) / 14)
    assert out["precision"] == out["p1_precision"] == pytest.approx(8 / 13)  # predicted chars 3 + 3 + 2 + 5
    assert (out["n_documents"], out["n_gold"], out["n_pred"]) == (2, 3, 4)
    assert out["label_symptom_recall"] == 0.0
    assert out["label_disease_recall"] == pytest.approx((7 * math.sqrt(2) * 3 / 7 + 2) / 9)


def test_score_table_and_typed(files, capsys):
    refs, preds = files
    assert main(["score", "--references", refs, "--predictions", preds, "--p", "1", "100", "--typed"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("weighted soft matching (typed): 2 documents, 3 gold spans, 4 predicted spans")
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert rows["1"][:3] == [f"{8 / 13:.4f}", f"{8 / 14:.4f}", f"{2 * (8 / 13) * (8 / 14) / (8 / 13 + 8 / 14):.4f}"]
    assert rows["100"][1] == f"{(7 * 3 / 7 * 2 ** 0.01 + 2) / 14:.4f}"
    assert any(line.split()[:3] == ["disease", "2", "3"] for line in lines)


def test_score_decodes_marked_generations(tmp_path, files, capsys):
    refs, preds = files
    assert main(["score", "--references", refs, "--predictions", preds, "--p", "2", "1", "--format", "json"]) == 0
    from_spans = json.loads(capsys.readouterr().out)
    generations = write_jsonl(tmp_path / "gen.jsonl", [  # the same spans; d2's copy has a typo ("cogh")
        {"doc_id": "d1", "marked": "@@感染性##心@@内膜炎##（@@IE##）"}, {"doc_id": "d2", "marked": "fever @@cogh##"}])
    assert main(["score", "--references", refs, "--predictions", generations, "--p", "2", "1", "--format", "json"]) == 0
    decoded = json.loads(capsys.readouterr().out)
    assert decoded.pop("faithfulness_exact_match_rate") == 0.5 and decoded.pop("faithfulness_n_documents") == 2
    unlabelled = ("faithfulness_", "label_")  # generations carry no labels: per-label precision has nothing
    assert {k: v for k, v in decoded.items() if not k.startswith(unlabelled)} == \
        {k: v for k, v in from_spans.items() if not k.startswith(unlabelled)}
    assert main(["score", "--references", refs, "--predictions", generations, "--typed"]) == 2
    assert "'marked' generations carry no labels" in capsys.readouterr().err


def test_predict_writes_the_extractor_spans(tmp_path, capsys):
    from test_trainer import LABELS, tiny_checkpoint, toy_documents, toy_tokenizer

    from ecr_hf.token_classification import ECRExtractor
    from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier

    tok = toy_tokenizer()
    model = build_token_classifier(TokenClassifierConfig(tiny_checkpoint(tmp_path, "bert"), labels=LABELS), tok)
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    docs = [{"doc_id": f"t{i}", **d} for i, d in enumerate(toy_documents(6, seed=5))]
    data = write_jsonl(tmp_path / "docs.jsonl", [{"doc_id": d["doc_id"], "text": d["text"]} for d in docs])
    out = tmp_path / "preds.jsonl"
    assert main(["predict", "--model", str(tmp_path / "model"), "--data", data, "--output", str(out),
                 "--max-length", "12"]) == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    expected = ECRExtractor.from_pretrained(tmp_path / "model", max_length=12)([d["text"] for d in docs])
    assert [w["doc_id"] for w in written] == [d["doc_id"] for d in docs]
    def without_scores(docs):
        return [[{k: v for k, v in span.items() if k != "score"} for span in doc] for doc in docs]

    assert without_scores(w["entities"] for w in written) == without_scores(expected)
    assert [s["score"] for w in written for s in w["entities"]] == pytest.approx(
        [s["score"] for doc in expected for s in doc], abs=1e-5)
    assert sum(map(len, expected)) > 0  # an untrained head still tags something: the comparison is not empty
    refs = write_jsonl(tmp_path / "refs.jsonl", docs)  # the output scores as it is
    assert main(["score", "--references", refs, "--predictions", str(out), "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "model"), "--data", refs + "x", "--output",
                 str(tmp_path / "new.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "No such file or directory" in err and refs + "x" in err


def test_score_errors(tmp_path, files, capsys):
    refs, _ = files
    partial = write_jsonl(tmp_path / "partial.jsonl", PREDS[:1])
    assert main(["score", "--references", refs, "--predictions", partial]) == 2
    assert "1 doc_ids only in the references ['d1']" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"doc_id": "d1", "entities": [{"start": 0, "end": 99}]},
                                               {"doc_id": "d2", "entities": []}])
    assert main(["score", "--references", refs, "--predictions", bad]) == 2
    assert "document 0, span 0: end 99 is past the end of the text (length 11)" in capsys.readouterr().err
    (tmp_path / "broken.jsonl").write_text('{"doc_id": "d1"}\n')
    assert main(["score", "--references", refs, "--predictions", str(tmp_path / "broken.jsonl")]) == 2
    assert "broken.jsonl:1: each line must be a JSON object with 'doc_id' and an 'entities' list" in \
        capsys.readouterr().err


def test_console_script_runs(files):
    refs, preds = files
    exe = Path(sys.executable).with_name("ecr-hf")
    run = subprocess.run([str(exe), "score", "--references", refs, "--predictions", preds, "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["recall"] == pytest.approx(8 / 14)


def test_register_metrics_writes_evaluate_cache_layout(tmp_path, capsys):
    cache = tmp_path / "modules"
    home = cache / "evaluate_modules" / "metrics" / "evaluate-metric--span_metrics"
    (home / ("f" * 64)).mkdir(parents=True)  # an older registration
    assert main(["register-metrics", "--modules-cache", str(cache)]) == 0
    printed = capsys.readouterr().out
    for name in METRIC_NAMES:
        digest = files_to_hash([str(metric_script(name))])
        script = cache / "evaluate_modules" / "metrics" / f"evaluate-metric--{name}" / digest / f"{name}.py"
        assert script.read_bytes() == metric_script(name).read_bytes()
        assert f"registered {name}: {script}" in printed
        for package in (cache, cache / "evaluate_modules", script.parent.parent, script.parent):
            assert (package / "__init__.py").is_file()
    assert [p.name for p in home.iterdir() if p.is_dir()] == [files_to_hash([str(metric_script("span_metrics"))])]


# --------------------------------------------------------------------------- a tiny model for predict / train

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``base``: a tiny BERT backbone with the toy tokenizer (what ``ecr-hf train --model`` takes);
    ``model``: an untrained classifier saved as ``ecr-hf train`` saves one (what ``predict`` takes)."""
    from test_trainer import LABELS, tiny_checkpoint, toy_tokenizer
    from tokenizers import normalizers

    from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier

    root = tmp_path_factory.mktemp("tiny")
    tok = toy_tokenizer()  # with BERT's normaliser: a BOM or zero-width space leaves no tokens
    tok.backend_tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                                                  strip_accents=False, lowercase=False)
    base = Path(tiny_checkpoint(root, "bert"))
    tok.save_pretrained(base)
    model = build_token_classifier(TokenClassifierConfig(str(base), labels=LABELS), tok)
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    return {"base": str(base), "model": str(root / "model")}


def test_predict_keeps_odd_texts_and_never_overwrites(tiny, tmp_path, capsys, monkeypatch):
    texts = {"a": "fever and heart failure", "bom": "\ufeff", "zw": "\u200b \u200b", "empty": "",
             "odd\ud800": "fever \ud800 cough"}  # JSON escapes that read as lone surrogates
    data = tmp_path / "docs.jsonl"  # ASCII escapes, as json.dumps writes them
    data.write_text("".join(json.dumps({"doc_id": k, "text": t}) + "\n" for k, t in texts.items()), encoding="ascii")
    data, out = str(data), tmp_path / "out" / "preds.jsonl"
    argv = ["predict", "--model", tiny["model"], "--data", data, "--output", str(out), "--max-length", "12"]
    assert main(argv) == 0
    written = {d["doc_id"]: d["entities"] for d in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert written["bom"] == written["zw"] == written["empty"] == [] and written["a"]
    assert all(texts[k][s["start"]:s["end"]] == s["text"] for k in written for s in written[k])
    assert '"doc_id": "odd\\ud800"' in out.read_text(encoding="utf-8")  # an escape: UTF-8 cannot hold it
    before = out.read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    assert f"{out} exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert out.read_bytes() == before

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main([*argv, "--overwrite"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == before and os.listdir(out.parent) == ["preds.jsonl"]  # no half file, no temp file
    monkeypatch.undo()
    assert main([*argv[:-2], "--overwrite", "--batch-size", "1"]) == 0  # a whole new file, the same spans
    assert {d["doc_id"]: [s["start"] for s in d["entities"]]
            for d in map(json.loads, out.read_text(encoding="utf-8").splitlines())} == \
        {k: [s["start"] for s in v] for k, v in written.items()}


@pytest.mark.parametrize("option", [["--batch-size", "-1"], ["--batch-size", "0"], ["--batch-size", "2.5"],
                                    ["--max-length", "0"], ["--max-length", "-3"]])
def test_predict_numbers_are_checked_before_any_work(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exit:
        main(["predict", "--model", "m", "--data", "d.jsonl", "--output", str(tmp_path / "o.jsonl"), *option])
    assert exit.value.code == 2
    assert f"argument {option[0]}: expected an integer >= 1, got '{option[1]}'" in capsys.readouterr().err


def test_predict_max_length_too_short_for_the_special_tokens(tiny, tmp_path, capsys):
    data = write_jsonl(tmp_path / "docs.jsonl", [{"doc_id": "a", "text": "fever"}])
    assert main(["predict", "--model", tiny["model"], "--data", data, "--output", str(tmp_path / "o.jsonl"),
                 "--max-length", "2"]) == 2
    assert "max_length must be an integer > 2" in capsys.readouterr().err


def test_train_on_files_without_split_keys_keeps_the_best_epoch(tiny, tmp_path, capsys, monkeypatch,
                                                                transformers_log):
    from test_trainer import toy_documents

    from ecr_hf.token_classification import ECRExtractor
    from ecr_hf.token_classification import ECRTrainer

    f1 = []  # every evaluation: one per epoch on the validation set, then the final one
    evaluate = ECRTrainer.evaluate

    def recorded(self, *args, **kwargs):
        scores = evaluate(self, *args, **kwargs)
        f1.append(scores["eval_f1"])
        return scores

    monkeypatch.setattr(ECRTrainer, "evaluate", recorded)
    docs = [{"doc_id": i, **d} for i, d in enumerate(toy_documents(36, 1))]
    train = write_jsonl(tmp_path / "my.jsonl", docs[:24])
    dev = write_jsonl(tmp_path / "dev.jsonl", docs[24:30])
    test = write_jsonl(tmp_path / "test.jsonl", docs[30:])
    assert main(["train", "--train", train, "--validation", dev, "--eval", test, "--model", tiny["base"],
                 "--epochs", "3", "--crf", "--learning-rate", "5e-3", "--warmup", "0.1", "--max-length", "12",
                 "--output-dir", str(tmp_path / "models" / "m")]) == 0
    out = capsys.readouterr().out
    best = max(f1[:3])
    assert f"kept epoch {f1.index(best) + 1}, the best of 6 validation documents (f1)" in out
    assert "trained on 24 documents for 3 epochs" in out and "scored on 6 held-out documents" in out
    saved = ECRExtractor.from_pretrained(tmp_path / "models" / "m", max_length=12)
    monkeypatch.undo()
    from ecr_hf.scoring import span_metrics

    dev_docs = docs[24:30]  # the saved model is the best epoch's: it scores the validation set as that epoch did
    assert span_metrics([d["entities"] for d in dev_docs], saved([d["text"] for d in dev_docs]),
                        texts=[d["text"] for d in dev_docs])["f1"] == pytest.approx(best, abs=1e-6)
    assert not [r for r in transformers_log if "LOAD REPORT" in r.getMessage()]  # the new head is no news
    assert os.listdir(tmp_path / "models") == ["m"]  # the epoch checkpoints were temporary
    assert main(["train", "--train", train, "--model", tiny["base"], "--output-dir", str(tmp_path / "x")]) == 2
    assert "has no 'split' keys, so it holds no held-out documents: give --eval" in capsys.readouterr().err


def test_new_head_report_filter_keeps_real_warnings():
    from ecr_hf.token_classification import NewHeadReport

    def record(rows):
        table = "Key | Status | \n----+---+-\n" + "".join(f"{k} | \x1b[31m{s}\x1b[0m | \n" for k, s in rows)
        return logging.LogRecord("transformers.modeling_utils", logging.WARNING, __file__, 1,
                                 "BertForTokenClassification LOAD REPORT from: x\n" + table, None, None)

    keep = NewHeadReport().filter
    assert not keep(record([("pooler.dense.{weight, bias}", "UNEXPECTED"), ("classifier.{weight, bias}", "MISSING")]))
    assert not keep(record([("score.weight", "MISSING")]))
    assert keep(record([("classifier.weight", "MISSING"), ("encoder.layer.0.attention.self.query.weight", "MISSING")]))
    assert keep(record([("classifier.weight", "MISMATCH")]))
    assert keep(logging.LogRecord("transformers.modeling_utils", logging.WARNING, __file__, 1, "other", None, None))


def test_train_split_keys(tmp_path, capsys):
    docs = [{"doc_id": i, "text": "fever", "entities": [{"start": 0, "end": 5, "label": "S"}]} for i in range(4)]
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [{**d, "split": "train"} for d in docs[:3]] + docs[3:])
    assert main(["train", "--train", mixed, "--eval", mixed]) == 2
    assert f"{mixed}:4: no 'split' key, but 3 other lines have one" in capsys.readouterr().err
    split = write_jsonl(tmp_path / "split.jsonl", [{**d, "split": "train"} for d in docs])
    assert main(["train", "--train", split]) == 2
    assert "has no documents with split 'test' (its splits: ['train']); choose one with --eval-split, or " \
        "--eval-split None" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", [docs[0], {**docs[1], "entities": [{"start": 0, "end": 9}]}])
    assert main(["train", "--train", bad, "--eval", bad]) == 2
    assert f"{bad}:2: doc_id 1: " in capsys.readouterr().err


@pytest.mark.parametrize("option, message", [
    (["--warmup", "-1"], "argument --warmup: expected a whole number of steps >= 0"),
    (["--warmup", "2.5"], "argument --warmup: expected a whole number of steps >= 0"),
    (["--epochs", "0"], "argument --epochs: expected a finite number > 0"),
    (["--learning-rate", "nan"], "argument --learning-rate: expected a finite number > 0"),
    (["--bidirectional", "some"], "argument --bidirectional: expected 'none', 'all' or a number of layers >= 1"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0"),
])
def test_train_numbers_are_checked(capsys, option, message):
    with pytest.raises(SystemExit) as exit:
        main(["train", *option])
    assert exit.value.code == 2 and message in capsys.readouterr().err


# --------------------------------------------------------------------------- cross-validation commands

def cv_documents(n=6):
    return [{"doc_id": f"d{i}", "text": "fever cough", "entities": [{"start": 0, "end": 5, "label": "S"}]}
            for i in range(n)]


def test_cv_split_refuses_a_non_empty_folder_and_writes_all_folds_at_once(tmp_path, capsys, monkeypatch):
    data = write_jsonl(tmp_path / "data.jsonl", cv_documents())
    splits = tmp_path / "splits"
    assert main(["cv-split", data, "--folds", "5", "--output-dir", str(splits)]) == 0
    assert sorted(os.listdir(splits)) == [f"fold{k}" for k in range(5)]
    assert main(["cv-split", data, "--folds", "3", "--output-dir", str(splits)]) == 2
    assert f"{splits} is not empty" in capsys.readouterr().err and len(os.listdir(splits)) == 5
    calls = []

    def fails_on_the_fourth_file(fd):
        calls.append(fd)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fails_on_the_fourth_file)
    assert main(["cv-split", data, "--folds", "3", "--output-dir", str(splits), "--overwrite"]) == 2
    monkeypatch.undo()
    assert sorted(os.listdir(splits)) == [f"fold{k}" for k in range(5)]  # the old split, whole
    assert sorted(os.listdir(tmp_path)) == ["data.jsonl", "splits"]  # no temporary folder left
    assert main(["cv-split", data, "--folds", "3", "--output-dir", str(splits), "--overwrite"]) == 0
    assert sorted(os.listdir(splits)) == ["fold0", "fold1", "fold2"]  # no stale fold3/fold4
    lines = [json.loads(x) for x in (splits / "fold0" / "test.jsonl").read_text().splitlines()]
    assert {d["split"] for d in lines} == {"test"} and len(lines) == 2
    assert main(["cv-split", data, "--folds", "7", "--output-dir", str(tmp_path / "more")]) == 2
    assert f"{data}: n_folds must be between 3 and the number of documents (6), got 7" in capsys.readouterr().err


def test_cv_score_output_is_never_overwritten_silently(tmp_path, capsys):
    data = write_jsonl(tmp_path / "data.jsonl", cv_documents())
    assert main(["cv-split", data, "--folds", "3", "--output-dir", str(tmp_path / "splits")]) == 0
    argv = ["cv-score", "--references", str(tmp_path / "splits/fold{k}/test.jsonl"),
            "--predictions", str(tmp_path / "splits/fold{k}/test.jsonl"), "--folds", "3",
            "--model-name", "gold", "--dataset", "toy", "--output", str(tmp_path / "results" / "gold.json")]
    assert main(argv) == 0
    saved = (tmp_path / "results" / "gold.json").read_text()
    assert json.loads(saved)["results"]["f1"] == 1.0
    capsys.readouterr()
    assert main([*argv[:-2], "--method", "other", "--output", str(tmp_path / "results" / "gold.json")]) == 2
    assert "gold.json exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert (tmp_path / "results" / "gold.json").read_text() == saved
    assert main([*argv, "--overwrite", "--method", "copy"]) == 0
    assert json.loads((tmp_path / "results" / "gold.json").read_text())["config"]["method"] == "copy"
    assert main(["leaderboard", str(tmp_path / "results")]) == 0
    assert "| gold (copy) |" in capsys.readouterr().out


@pytest.mark.parametrize("pattern", ["splits/{split}/test.jsonl", "splits/fold{0}/test.jsonl", "fold{}.jsonl",
                                     "fold{k.real}.jsonl", "fold{k", "fold{k}{k:zz}.jsonl", "test.jsonl"])
def test_cv_score_patterns_hold_only_k(capsys, pattern):
    with pytest.raises(SystemExit) as exit:
        main(["cv-score", "--references", pattern, "--predictions", "p{k}.jsonl", "--model-name", "m",
              "--dataset", "d", "--output", "o.json"])
    assert exit.value.code == 2
    assert "is not a path pattern with {k} (the fold number) as its only {...} field" in capsys.readouterr().err


@pytest.mark.parametrize("folds", ["0", "-1"])
def test_cv_score_folds_at_least_one(capsys, folds):
    with pytest.raises(SystemExit) as exit:
        main(["cv-score", "--references", "r{k}", "--predictions", "p{k:02d}", "--model-name", "m", "--dataset",
              "d", "--output", "o.json", "--folds", folds])
    assert exit.value.code == 2 and f"expected an integer >= 1, got '{folds}'" in capsys.readouterr().err


def test_leaderboard_file_without_p_values_is_a_clean_error(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"config": {"model_name": "m", "dataset": "d"}, "results": {"f1": 0.5}}))
    assert main(["leaderboard", str(broken)]) == 2
    assert str(broken) in capsys.readouterr().err
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps({"config": [], "results": {}}))
    assert main(["leaderboard", str(listed)]) == 2
    assert str(listed) in capsys.readouterr().err


# --------------------------------------------------------------------------- input files and output

def test_jsonl_errors_name_the_file_and_the_line(tmp_path, files, capsys):
    refs, preds = files
    cases = {
        b'{"doc_id": "d1", "entities": []}\n{"doc_id": ["d", 2], "entities": []}\n':
            ":2: doc_id must be a string or an integer, got list",
        b'{"doc_id": {"a": 1}, "entities": []}\n': ":1: doc_id must be a string or an integer, got dict",
        b'{"doc_id": true, "entities": []}\n': ":1: doc_id must be a string or an integer, got bool",
        b'{"doc_id": "d1", "entities": []}\n{"doc_id": "d2", "te\xff": 1}\n':
            ":2: not UTF-8 text (byte 0xff at column 21)",
        b'{"doc_id": "d1", "entities": []}\n\n{"doc_id": "d2", "entities": [}\n':
            ":3: not valid JSON (Expecting value at column 31)",
        b"[" * 100_000 + b"\n": ":1: not valid JSON (nested too deeply)",
        b'{"doc_id": "d1", "entities": []}\n{"doc_id": "d1", "entities": []}\n':
            ":2: doc_id 'd1' appears twice (first on line 1)",
    }
    for k, (content, message) in enumerate(cases.items()):
        path = tmp_path / f"case{k}.jsonl"
        path.write_bytes(content)
        assert main(["score", "--references", refs, "--predictions", str(path)]) == 2
        assert f"{path}{message}" in capsys.readouterr().err
    bom = tmp_path / "bom.jsonl"  # a UTF-8 BOM (Windows editors) is not an error
    bom.write_bytes(b"\xef\xbb\xbf" + Path(preds).read_bytes())
    assert main(["score", "--references", refs, "--predictions", str(bom)]) == 0


def test_score_errors_name_the_document_lines(tmp_path, files, capsys):
    refs, _ = files
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"doc_id": "d2", "entities": []},
                                               {"doc_id": "d1", "entities": [{"start": 0, "end": 99}]}])
    assert main(["score", "--references", refs, "--predictions", bad]) == 2
    assert f"[document 0 is doc_id 'd1': {refs}:1 (references), {bad}:2 (predictions)]" in capsys.readouterr().err
    other = write_jsonl(tmp_path / "other.jsonl", [{"doc_id": "d2", "text": "fever cold", "entities": []},
                                                   {"doc_id": "d1", "entities": []}])
    assert main(["score", "--references", refs, "--predictions", other]) == 2
    assert f"{other}:1: doc_id 'd2': the prediction's text differs from the reference text" in \
        capsys.readouterr().err


def test_score_prints_lone_surrogates_as_escapes(tmp_path, capsys):
    """JSON escapes such as "\\ud800" read as lone surrogates, which no output encoding holds."""
    docs = [{"doc_id": "a", "text": "x\ud800 fever", "entities": [{"start": 2, "end": 7, "label": "s\udc00"}]}]
    refs = tmp_path / "refs.jsonl"
    refs.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="ascii")  # json.dumps: ASCII escapes
    assert main(["score", "--references", str(refs), "--predictions", str(refs), "--typed"]) == 0
    assert any(line.split()[:2] == ["s\\udc00", "1"] for line in capsys.readouterr().out.splitlines())
    assert main(["score", "--references", str(refs), "--predictions", str(refs), "--typed", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["label_s\udc00_recall"] == 1.0


def test_help_shows_every_option_with_its_default_and_the_version(capsys):
    from ecr_hf import __version__

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out.strip() == f"ecr-hf {__version__}"
    parser_actions = []
    real = argparse.ArgumentParser.parse_args

    def spy(self, args=None, namespace=None):
        parser_actions.append(self)
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = spy
    try:
        with pytest.raises(SystemExit):
            main(["score"])
    finally:
        argparse.ArgumentParser.parse_args = real
    commands = next(a for a in parser_actions[0]._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"register-metrics", "score", "train", "cv-split", "cv-score", "evaluate", "predict",
                             "leaderboard", "leaderboard-serve", "leaderboard-space", "leaderboard-worker",
                             "model-card", "plot", "significance", "errors", "buckets", "semeval"}
    for name, sub in commands.items():
        for action in sub._actions:
            assert action.help, f"ecr-hf {name} {action.option_strings or action.dest} has no help"
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "windows per forward pass (default: 32)" in " ".join(capsys.readouterr().out.split())


def test_errors_exit_2_from_the_console_and_a_closed_pipe_is_quiet(tmp_path, files):
    refs, preds = files
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"doc_id": ["d1"], "entities": []}])
    run = subprocess.run([sys.executable, "-m", "ecr_hf.cli", "score", "--references", refs, "--predictions", bad],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == f"ecr-hf score: error: {bad}:1: doc_id must be a string or an integer, got list [\"d1\"]\n"
    exe = Path(sys.executable).with_name("ecr-hf")  # `ecr-hf score | head -0`: the reader has gone
    proc = subprocess.Popen([str(exe), "score", "--references", refs, "--predictions", preds],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert stderr == ""  # no "BrokenPipeError" traceback or "Exception ignored" line


def test_a_missing_training_extra_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as on a core install: `import torch` fails
    monkeypatch.delitem(sys.modules, "ecr_hf.token_classification.extractor", raising=False)
    data = write_jsonl(tmp_path / "docs.jsonl", [{"doc_id": "a", "text": "fever"}])
    assert main(["predict", "--model", "m", "--data", data, "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "this command needs the training extras: pip install 'ecr-hf[train]'" in capsys.readouterr().err


def test_empty_gold_spans_are_an_error_or_dropped_and_counted(tmp_path, capsys):
    """MedTxt-RR-EN has one empty gold annotation (<f></f>): an error by default, or dropped and counted."""
    refs = [{"doc_id": "a", "text": "fever cough", "entities": [{"start": 0, "end": 5, "label": "x"},
                                                               {"start": 6, "end": 6, "label": "x"}]}]
    preds = [{"doc_id": "a", "entities": [{"start": 0, "end": 5, "label": "x"}]}]
    r, p = write_jsonl(tmp_path / "r.jsonl", refs), write_jsonl(tmp_path / "p.jsonl", preds)
    assert main(["score", "--references", r, "--predictions", p]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["score", "--references", r, "--predictions", p, "--empty-spans", "drop", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["f1"], out["n_gold"], out["gold_empty_dropped"], out["pred_empty_dropped"]) == (1.0, 1, 1, 0)
    assert main(["score", "--references", r, "--predictions", p, "--empty-spans", "drop"]) == 0
    assert "empty spans dropped: 1 gold, 0 predicted" in capsys.readouterr().out

    out_file = tmp_path / "board.json"
    args = ["cv-score", "--references", r.replace("r.jsonl", "{k}r.jsonl"), "--predictions",
            p.replace("p.jsonl", "{k}p.jsonl"), "--folds", "1", "--model-name", "m", "--dataset", "d",
            "--output", str(out_file)]
    os.rename(r, tmp_path / "0r.jsonl")
    os.rename(p, tmp_path / "0p.jsonl")
    assert main(args) == 2 and not out_file.exists()
    capsys.readouterr()
    assert main([*args, "--empty-spans", "drop", "--family", "encoder"]) == 0
    saved = json.loads(out_file.read_text())
    assert saved["results"]["gold_empty_dropped"] == 1 and saved["results"]["f1"] == 1.0
    assert (saved["config"]["family"], saved["config"]["constrained"]) == ("encoder", False)


def test_cv_score_constrained_needs_the_instruction_tuned_family(files, tmp_path, capsys):
    refs, preds = files
    args = ["cv-score", "--references", refs.replace("refs", "{k}refs"), "--predictions",
            preds.replace("preds", "{k}preds"), "--folds", "1", "--model-name", "m", "--dataset", "d",
            "--output", str(tmp_path / "o.json"), "--constrained"]
    os.rename(refs, refs.replace("refs", "0refs"))
    os.rename(preds, preds.replace("preds", "0preds"))
    assert main(args) == 2 and "--family instruction-tuned" in capsys.readouterr().err
    assert main([*args, "--family", "instruction-tuned"]) == 0
    assert json.loads((tmp_path / "o.json").read_text())["config"]["constrained"] is True


def _board(tmp_path, capsys) -> Path:
    from ecr_hf.leaderboard import cross_validate

    gold = [[[(0, 10, "D")]], [[(0, 4, "D")]]]
    pred = [[[(0, 4, "D"), (6, 10, "D")]], [[(0, 4, "D")]]]
    path = tmp_path / "results" / "sys.json"
    cross_validate(gold, pred, p_values=[1, 2]).save(path, model_name="sys", dataset="toy")
    return path


def test_model_card_and_plot_commands(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from huggingface_hub import ModelCard

    board = _board(tmp_path, capsys)
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text("# my model\n\nMy own words.\n")
    assert main(["model-card", str(model), "--results", str(board), "--dataset-id", "org/toy",
                 "--no-eval-results"]) == 0
    card = ModelCard.load(model / "README.md")
    assert "My own words." in card.text
    f1 = [r for r in card.data.eval_results if r.metric_type == "weighted_soft_match_f1"
          and r.metric_args.get("p") == 1]
    assert len(f1) == 1 and f1[0].metric_value == pytest.approx(json.loads(board.read_text())["results"]["f1"])
    out = tmp_path / "fig.png"
    assert main(["plot", str(board), "--output", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", str(board), "--output", str(out)]) == 2  # no silent overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_leaderboard_space_is_a_word_of_leaderboard(tmp_path, capsys, monkeypatch):
    pytest.importorskip("gradio")
    import ecr_hf.leaderboard.space

    calls = []
    monkeypatch.setattr(ecr_hf.leaderboard.space, "write_space", lambda out, results, **kw: calls.append((out, results, kw))
                        or Path(out))
    board = _board(tmp_path, capsys)
    assert main(["leaderboard", "space", str(tmp_path / "space"), "--results", str(board), "--overwrite"]) == 0
    assert calls == [(str(tmp_path / "space"), [str(board)],
                      {"wheel": None, "title": "E-CCR leaderboard", "overwrite": True})]
    assert main(["leaderboard", str(board)]) == 0  # the table command is unchanged
    assert "| sys" in capsys.readouterr().out

def test_significance_intervals_and_paired_test(tmp_path, capsys):
    from ecr_hf.scoring import bootstrap, document_counts, paired_test

    gold = [{"doc_id": f"d{i}", "text": "x" * 40, "entities": [{"start": 0, "end": 10, "label": "D"},
                                                               {"start": 20, "end": 30, "label": "D"}]}
            for i in range(40)]
    good = [{"doc_id": d["doc_id"], "entities": d["entities"] if i % 10 else d["entities"][:1]}
            for i, d in enumerate(gold)]
    bad = [{"doc_id": d["doc_id"], "entities": d["entities"][:1] if i % 2 else []} for i, d in enumerate(gold)]
    refs, a, b = (write_jsonl(tmp_path / f"{n}.jsonl", x) for n, x in (("refs", gold), ("a", good), ("b", bad)))
    assert main(["significance", "--references", refs, "--predictions", a, b, "--names", "good", "bad",
                 "--metrics", "f1", "strict_f1", "--n-resamples", "300", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    spans = lambda docs: [[(e["start"], e["end"], e["label"]) for e in d["entities"]] for d in docs]
    ca, cb = document_counts(spans(gold), spans(good)), document_counts(spans(gold), spans(bad))
    ci = bootstrap(ca, n_resamples=300, rng=0).intervals["f1"]
    assert out["intervals"]["good"]["f1"] == {"estimate": ci.estimate, "low": ci.low, "high": ci.high,
                                              "standard_error": ci.standard_error}
    test = paired_test(ca, cb, n_resamples=300, rng=0)
    assert out["paired_tests"]["good - bad"]["strict_f1"] == {"difference": test.difference["strict_f1"],
                                                              "p_value": test.p_value["strict_f1"]}
    assert out["paired_tests"]["good - bad"]["f1"]["p_value"] == 1 / 301
    assert main(["significance", "--references", refs, "--predictions", a, a, "--names", "x", "x"]) == 2
    assert "one distinct name per --predictions file" in capsys.readouterr().err
    assert main(["significance", "--references", refs, "--predictions", a, "--metrics", "F1"]) == 2
    assert "--metrics ['F1'] are not scores here" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["significance", "--references", refs, "--predictions", a, "--confidence-level", "95"])


def test_cv_score_intervals_and_counts(tmp_path, capsys):
    from ecr_hf.scoring import load_counts

    docs = [{"doc_id": f"d{i}", "text": "fever and cough", "entities": [{"start": 0, "end": 5, "label": "S"},
                                                                       {"start": 10, "end": 15, "label": "S"}]}
            for i in range(9)]
    data = write_jsonl(tmp_path / "data.jsonl", docs)
    assert main(["cv-split", data, "--folds", "3", "--output-dir", str(tmp_path / "splits")]) == 0
    (tmp_path / "preds").mkdir()
    for k in range(3):  # finds the first span of every document, and the second of every other one
        refs = [json.loads(line) for line in (tmp_path / f"splits/fold{k}/test.jsonl").read_text().splitlines()]
        write_jsonl(tmp_path / f"preds/fold{k}.jsonl", [{"doc_id": d["doc_id"], "entities": d["entities"][:1 + i % 2]}
                                                        for i, d in enumerate(refs)])
    out, counts = tmp_path / "results/m.json", tmp_path / "private/m.counts.json"
    argv = ["cv-score", "--references", str(tmp_path / "splits/fold{k}/test.jsonl"), "--predictions",
            str(tmp_path / "preds/fold{k}.jsonl"), "--folds", "3", "--model-name", "m", "--dataset", "toy",
            "--output", str(out), "--intervals", "300", "--seed", "4", "--counts", str(counts)]
    assert main(argv) == 0
    saved = json.loads(out.read_text())
    assert saved["config"]["bootstrap"]["n_resamples"] == 300 and saved["config"]["bootstrap"]["seed"] == 4
    r = saved["results"]
    assert r["f1_ci_low"] <= r["f1"] <= r["f1_ci_high"] and r["f1_ci_low"] < r["f1_ci_high"]
    assert f"[{r['f1_ci_low']:.3f}, {r['f1_ci_high']:.3f}]" in capsys.readouterr().out
    loaded = load_counts(counts)
    assert loaded.estimate()["f1"] == r["f1"] and loaded.strata.tolist() == [0] * 3 + [1] * 3 + [2] * 3
    assert list(loaded.doc_ids) == [json.loads(line)["doc_id"] for k in range(3)
                                    for line in (tmp_path / f"splits/fold{k}/test.jsonl").read_text().splitlines()]
    out.unlink()
    assert main(argv) == 2 and "m.counts.json exists; pass --overwrite" in capsys.readouterr().err
    assert not out.exists()  # refused before any work
    assert main([*argv, "--overwrite"]) == 0 and json.loads(out.read_text()) == saved  # same seed, same file
    assert main([*argv[:-6], "--overwrite"]) == 0  # default: no intervals
    assert "bootstrap" not in json.loads(out.read_text())["config"]
    with pytest.raises(SystemExit) as exit:
        main([*argv[:-6], "--intervals", "-1"])
    assert exit.value.code == 2 and "expected an integer >= 0, got '-1'" in capsys.readouterr().err


def test_leaderboard_serve_without_results_serves_a_copy_of_the_demo(tmp_path, capsys, monkeypatch):
    pytest.importorskip("gradio")
    import ecr_hf.leaderboard.app
    from ecr_hf.leaderboard import load_results

    served = []

    def fake_serve(results, references, **kw):  # what a browser would see, read while the copy exists
        served.append((Path(results), Path(references), kw, load_results(results).to_list()))

    monkeypatch.setattr(ecr_hf.leaderboard.app, "serve", fake_serve)
    assert main(["leaderboard", "serve", "--port", "7999"]) == 0
    (results, references, kw, rows), = served
    assert kw == {"host": "127.0.0.1", "port": 7999}
    monkeypatch.setattr(ecr_hf.leaderboard.app, "serve", lambda *args, **kw: served.append((args, kw)))
    assert main(["leaderboard", "serve", "--results", "r", "--references", "f", "--requests", "q", "--models-dir",
                 "m"]) == 0
    assert served[-1] == (("r", "f"), {"host": "127.0.0.1", "port": 7860, "requests_dir": "q", "models_dir": "m"})
    assert ecr_hf.leaderboard.app.DEMO_DIR not in results.parents  # never the package's own folder
    assert not results.exists()  # the temporary copy is gone after serving
    assert {(r["dataset"], r["model_name"]) for r in rows} >= {("ncbi_disease_sample", "minilm"),
                                                               ("ebm_nlp_pico", "dictionary")}
    assert main(["leaderboard", "serve", "--references", str(tmp_path)]) == 2
    assert "--references needs --results" in capsys.readouterr().err
    assert main(["leaderboard", "serve", "--requests", str(tmp_path)]) == 2
    assert "--requests needs --results" in capsys.readouterr().err


# --------------------------------------------------------------------------- corpus formats (ecr_hf.corpora)

def corpus_files(tmp_path):
    """REFS and PREDS (English documents) as a BRAT folder, a PubTator file, BioC XML and JSONL."""
    from ecr_hf.corpora import save_corpus

    refs = [{"doc_id": "1", "text": "Chest pain and fever", "entities": [{"start": 0, "end": 10, "label": "Finding"},
                                                                        {"start": 15, "end": 20, "label": "Finding"}]},
            {"doc_id": "2", "text": "No cough", "entities": [{"start": 3, "end": 8, "label": "Finding"}]}]
    preds = [{"doc_id": "1", "text": refs[0]["text"], "entities": [{"start": 6, "end": 10, "label": "Finding"}]},
             {"doc_id": "2", "text": refs[1]["text"], "entities": [{"start": 3, "end": 8, "label": "Finding"}]}]
    return {
        "jsonl": (write_jsonl(tmp_path / "refs.jsonl", refs), write_jsonl(tmp_path / "preds.jsonl", preds)),
        "brat": tuple(str(save_corpus(d, tmp_path / f"{n}_brat")) for n, d in (("refs", refs), ("preds", preds))),
        "pubtator": tuple(str(save_corpus(d, tmp_path / f"{n}.pubtator"))
                          for n, d in (("refs", refs), ("preds", preds))),
        "bioc": tuple(str(save_corpus(d, tmp_path / f"{n}.xml")) for n, d in (("refs", refs), ("preds", preds))),
    }


def test_score_reads_every_corpus_format_and_mixes_them(tmp_path, capsys):
    paths = corpus_files(tmp_path)
    scores = {}
    for ref_format, pred_format in [("jsonl", "jsonl"), ("brat", "brat"), ("pubtator", "pubtator"), ("bioc", "bioc"),
                                    ("brat", "jsonl"), ("pubtator", "bioc")]:
        assert main(["score", "--references", paths[ref_format][0], "--predictions", paths[pred_format][1],
                     "--format", "json"]) == 0
        scores[ref_format, pred_format] = json.loads(capsys.readouterr().out)
    first = scores["jsonl", "jsonl"]
    assert first["p1_recall"] == pytest.approx((4 + 5) / 20) and first["n_gold"] == 3
    assert all(s == first for s in scores.values())
    assert main(["score", "--references", paths["pubtator"][0], "--predictions", paths["pubtator"][1],
                 "--input-format", "pubtator", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert main(["significance", "--references", paths["brat"][0], "--predictions", paths["bioc"][1],
                 paths["pubtator"][1], "--names", "bioc", "pubtator", "--n-resamples", "20", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_documents"] == 2


def test_corpus_errors_name_the_file_and_annotation_and_exit_2(tmp_path, capsys):
    paths = corpus_files(tmp_path)
    ann = Path(paths["brat"][1]) / "1.ann"
    ann.write_text("T1\tFinding 6 10\tpains\n", encoding="utf-8")
    assert main(["score", "--references", paths["jsonl"][0], "--predictions", paths["brat"][1]]) == 2
    err = capsys.readouterr().err
    assert f"ecr-hf score: error: {ann}:1: annotation T1: its text field 'pains' differs from the text at 6 10: " \
           "'pain'" in err
    ann.write_text("T1\tFinding 0 5;6 10\tChest pain\n", encoding="utf-8")
    assert main(["score", "--references", paths["jsonl"][0], "--predictions", paths["brat"][1],
                 "--discontinuous", "error"]) == 2
    assert f"{ann}:1: annotation T1: a discontinuous annotation" in capsys.readouterr().err
    assert main(["score", "--references", paths["jsonl"][0], "--predictions", paths["brat"][1],
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_pred"] == 3  # split: one span per fragment
    pubtator = Path(paths["pubtator"][1])
    pubtator.write_text(pubtator.read_text() + "\n" + pubtator.read_text().split("\n\n")[0] + "\n")
    assert main(["score", "--references", paths["jsonl"][0], "--predictions", str(pubtator)]) == 2
    assert f"{pubtator}:9: doc_id '1' appears twice (first at {pubtator}:1)" in capsys.readouterr().err
    other = tmp_path / "other.pubtator"
    other.write_text("2|t|No coughs\n2|a|\n\n1|t|Chest pain and fever\n1|a|\n")
    assert main(["score", "--references", paths["brat"][0], "--predictions", str(other)]) == 2
    assert f"{other}:1: doc_id '2': the prediction's text differs from the reference text" in capsys.readouterr().err


def test_cv_split_reads_a_pubtator_file(tmp_path, capsys):
    path = tmp_path / "c.pubtator"
    path.write_text("".join(f"{k}|t|fever {k}\n{k}|a|\n{k}\t0\t5\tfever\tFinding\tD005334\n\n" for k in range(6)))
    assert main(["cv-split", str(path), "--folds", "3", "--output-dir", str(tmp_path / "folds")]) == 0
    test = [json.loads(line) for line in (tmp_path / "folds" / "fold0" / "test.jsonl").read_text().splitlines()]
    assert len(test) == 2 and test[0]["entities"][0]["id"] == "D005334" and test[0]["split"] == "test"


def test_cv_score_reads_brat_folds_against_bioc_predictions(tmp_path, capsys):
    """Each fold's gold as a BRAT folder, its predictions as BioC XML: the same scores as the JSONL folds."""
    from ecr_hf.corpora import read_corpus, save_corpus

    data = write_jsonl(tmp_path / "data.jsonl", cv_documents())
    assert main(["cv-split", data, "--folds", "3", "--output-dir", str(tmp_path / "splits")]) == 0
    for k in range(3):
        docs = read_corpus(tmp_path / f"splits/fold{k}/test.jsonl")
        save_corpus(docs, tmp_path / f"brat/fold{k}")
        save_corpus([{**d, "entities": [{**e, "end": 3} for e in d["entities"]]} for d in docs],
                    tmp_path / f"bioc/fold{k}.xml")
        save_corpus([{**d, "entities": [{**e, "end": 3} for e in d["entities"]]} for d in docs],
                    tmp_path / f"jsonl/fold{k}.jsonl")
    results = {}
    for name, references, predictions in (("corpora", "brat/fold{k}", "bioc/fold{k}.xml"),
                                          ("jsonl", "splits/fold{k}/test.jsonl", "jsonl/fold{k}.jsonl")):
        assert main(["cv-score", "--references", str(tmp_path / references), "--predictions",
                     str(tmp_path / predictions), "--folds", "3", "--model-name", "m", "--dataset", "toy",
                     "--output", str(tmp_path / f"{name}.json")]) == 0
        results[name] = json.loads((tmp_path / f"{name}.json").read_text())["results"]
    assert results["corpora"] == results["jsonl"] and results["jsonl"]["p1_recall"] == pytest.approx(3 / 5)


def test_a_missing_spacy_extra_is_named(tmp_path, capsys, monkeypatch):
    paths = corpus_files(tmp_path)
    spacy_file = tmp_path / "preds.spacy"
    spacy_file.write_bytes(b"\x00")
    monkeypatch.setitem(sys.modules, "spacy", None)
    assert main(["score", "--references", paths["jsonl"][0], "--predictions", str(spacy_file)]) == 2
    assert "pip install 'ecr-hf[spacy]'" in capsys.readouterr().err


def _page_data(path: Path) -> dict:
    """The error browser's embedded data (the JSON script the page renders)."""
    page = path.read_text(encoding="utf-8")
    start = page.index('<script type="application/json" id="data">') + len('<script type="application/json" id="data">')
    return json.loads(page[start:page.index("</script>", start)])


def test_errors_writes_the_error_browser(tmp_path, capsys):
    text = "Acute renal failure and fever."
    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({"doc_id": "d1", "text": text, "entities": [
        {"start": 0, "end": 19, "label": "Disease"}, {"start": 24, "end": 29, "label": "Disease"}]}) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"doc_id": "d1", "entities": [{"start": 6, "end": 19, "label": "Disease"}]}) + "\n")
    out = tmp_path / "report.html"
    argv = ["errors", "--references", str(refs), "--predictions", str(preds), "--output", str(out)]
    assert main(argv) == 0
    data = _page_data(out)
    # the boundary error ("renal failure" for "Acute renal failure") and the missed "fever"
    assert sorted(data["classes"][e["kind"]] for e in data["errors"]) == ["boundary", "missed"]
    assert data["docs"][0]["id"] == "d1" and data["docs"][0]["text"] == text
    assert main(argv) == 2 and "exists; pass --overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--typed", "--p", "2", "1"]) == 0
    preds.write_text(json.dumps({"doc_id": "d1", "entities": [{"start": 6, "end": 99, "label": "Disease"}]}) + "\n")
    assert main(argv + ["--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "past the end of the text" in err and "doc_id 'd1'" in err


def test_errors_reads_a_brat_folder_and_a_pubtator_file(tmp_path):
    brat = tmp_path / "gold"
    brat.mkdir()
    (brat / "d1.txt").write_text("Acute renal failure and fever.", encoding="utf-8")
    (brat / "d1.ann").write_text("T1\tDisease 0 19\tAcute renal failure\nT2\tDisease 24 29\tfever\n", encoding="utf-8")
    pred = tmp_path / "pred.pubtator"
    pred.write_text("d1|t|Acute renal failure and fever.\nd1|a|\nd1\t0\t19\tAcute renal failure\tDisease\t-\n\n",
                    encoding="utf-8")
    out = tmp_path / "report.html"
    assert main(["errors", "--references", str(brat), "--predictions", str(pred), "--output", str(out)]) == 0
    data = _page_data(out)
    assert [data["classes"][e["kind"]] for e in data["errors"]] == ["missed"]
    assert (data["counts"]["correct"], data["nGold"], data["nPred"]) == (1, 2, 1)


def test_semeval_prints_and_writes_csv(tmp_path, capsys):
    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({"doc_id": "a", "text": "x" * 30, "entities": [
        {"start": 0, "end": 10, "label": "D"}, {"start": 20, "end": 24, "label": "C"}]}) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"doc_id": "a", "entities": [
        {"start": 7, "end": 12, "label": "D"}, {"start": 20, "end": 24, "label": "C"}]}) + "\n")
    base = ["semeval", "--references", str(refs), "--predictions", str(preds)]
    assert main(base) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    partial = next(r for r in rows if r[:2] == ["overall", "partial"])
    assert partial[2:7] == ["1", "0", "1", "0", "0"]  # COR INC PAR MIS SPU: C exact, D partial
    out = tmp_path / "semeval.csv"
    assert main(base + ["--min-overlap", "0.5", "--output", str(out)]) == 0  # 3 of 10 < 0.5: D missed + spurious
    lines = out.read_text().splitlines()
    assert lines[0].startswith("scope,label,schema,correct,incorrect,partial,missed,spurious")
    assert any(line.startswith("overall,,partial,1,0,0,1,1,") for line in lines)
    assert main(base + ["--output", str(out)]) == 2 and "exists" in capsys.readouterr().err
    assert main(base + ["--per-span", "--labels", "C"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["doc_id", "doc", "side"] and len(table) == 3  # C's gold and predicted span
    assert main(base + ["--labels", "X"]) == 2 and "'X'" in capsys.readouterr().err
    assert main(base + ["--min-overlap", "50"]) == 2 and "min_overlap" in capsys.readouterr().err
