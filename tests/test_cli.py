"""The ``ecr-hf`` console script: ``score`` on tiny JSONL files, ``register-metrics``."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from evaluate.loading import files_to_hash

from ecr_hf.cli import main
from ecr_hf.evaluate_modules import METRIC_NAMES, metric_script


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

    from ecr_hf.extractor import ECRExtractor
    from ecr_hf.modeling import TokenClassifierConfig, build_token_classifier

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
    assert main(["predict", "--model", str(tmp_path / "model"), "--data", refs + "x", "--output", str(out)]) == 2


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
