"""ecr-hf evaluate and ecr-hf leaderboard-worker from files, as a new user runs them: the same
numbers as predict + cv-score by hand."""

import json
import subprocess
import sys
from pathlib import Path

from test_evaluation import model_dir, write_jsonl  # noqa: F401  (a fixture)
from test_trainer import toy_documents

from ecr_hf.cli import main
from ecr_hf.leaderboard import EvaluationRequest, RequestQueue, load_results


def folds(root: Path) -> Path:
    docs = [{"doc_id": f"d{i}", **d} for i, d in enumerate(toy_documents(18, seed=3))]
    data = write_jsonl(root / "all.jsonl", docs)
    assert main(["cv-split", data, "--folds", "3", "--output-dir", str(root / "cv")]) == 0
    return root / "cv"


def test_evaluate_a_model_equals_predict_then_cv_score(model_dir, tmp_path, capsys):  # noqa: F811
    cv = folds(tmp_path)
    for k in range(3):
        assert main(["predict", "--model", str(model_dir), "--data", str(cv / f"fold{k}" / "test.jsonl"),
                     "--output", str(tmp_path / "preds" / f"fold{k}.jsonl"), "--max-length", "12"]) == 0
    assert main(["cv-score", "--references", str(cv / "fold{k}" / "test.jsonl"), "--predictions",
                 str(tmp_path / "preds" / "fold{k}.jsonl"), "--folds", "3", "--model-name", "tiny", "--dataset", "toy",
                 "--output", str(tmp_path / "by_hand.json")]) == 0
    capsys.readouterr()
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(model_dir), "--data", str(cv), "--output", str(out), "--max-length", "12",
                 "--model-name", "tiny", "--dataset", "toy"]) == 0
    printed = capsys.readouterr().out
    assert "| tiny |" in printed and f"wrote {out}/results.json" in printed
    evaluated, by_hand = (json.loads(p.read_text()) for p in (out / "results.json", tmp_path / "by_hand.json"))
    assert evaluated["folds"] == by_hand["folds"] and evaluated["results"] == by_hand["results"]
    for k in range(3):  # the predictions it wrote are predict's, without the text and score fields
        ours = [json.loads(x) for x in (out / "predictions" / f"fold{k}.jsonl").read_text().splitlines()]
        theirs = [json.loads(x) for x in (tmp_path / "preds" / f"fold{k}.jsonl").read_text().splitlines()]
        assert ours == [{"doc_id": t["doc_id"], "entities": [{key: s[key] for key in ("start", "end", "label")}
                                                             for s in t["entities"]]} for t in theirs]
    assert main(["evaluate", "--model", str(model_dir), "--data", str(cv), "--output", str(out)]) == 2
    assert "is not empty; pass --overwrite" in capsys.readouterr().err


def test_evaluate_names_unknown_labels_and_takes_a_label_map(tmp_path, capsys):
    cv = folds(tmp_path)
    for k in range(3):
        docs = [json.loads(x) for x in (cv / f"fold{k}" / "test.jsonl").read_text().splitlines()]
        write_jsonl(tmp_path / "preds" / f"fold{k}.jsonl", [
            {"doc_id": d["doc_id"], "entities": [{**s, "label": s["label"].upper()} for s in d["entities"]]}
            for d in docs])
    argv = ["evaluate", "--model", str(tmp_path / "preds" / "fold{k}.jsonl"), "--data",
            str(cv / "fold{k}" / "test.jsonl"), "--output", str(tmp_path / "out"), "--typed"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ecr-hf evaluate: error: predicted labels ['DISEASE'" in err and "'SIGN'" in err
    (tmp_path / "map.json").write_text(json.dumps({"map": {"DISEASE": "Disease", "SIGN": "Sign"}}))
    assert main([*argv, "--label-map", str(tmp_path / "map.json")]) == 0
    row = load_results(tmp_path / "out" / "results.json")[0]
    assert row["strict_f1"] == row["f1"] == 1.0 and row["kind"] == "predictions" and row["model_name"] == "preds"


def test_the_worker_command_runs_the_queue(tmp_path, capsys):
    cv = folds(tmp_path)
    refs = tmp_path / "references" / "toy"
    refs.parent.mkdir()
    cv.rename(refs)
    for k in range(3):
        docs = [json.loads(x) for x in (refs / f"fold{k}" / "test.jsonl").read_text().splitlines()]
        write_jsonl(tmp_path / "preds" / f"fold{k}.jsonl", [{"doc_id": d["doc_id"], "entities": []} for d in docs])
    queue = RequestQueue(tmp_path / "requests")
    ok = queue.submit(EvaluationRequest(model=str(tmp_path / "preds" / "fold{k}.jsonl"), model_name="empty",
                                        datasets=["toy"]))
    bad = queue.submit(EvaluationRequest(model=str(tmp_path / "nothing"), model_name="bad", datasets=["toy"]))
    assert main(["leaderboard-worker", "--requests", str(tmp_path / "requests"), "--results", str(tmp_path / "results"),
                 "--references", str(tmp_path / "references"), "--once"]) == 0
    assert "processed 2 request(s)" in capsys.readouterr().out
    assert queue.read(ok.id).status == "FINISHED" and load_results(tmp_path / "results")[0]["recall"] == 0.0
    assert queue.read(bad.id).status == "FAILED" and "no such file or folder" in queue.read(bad.id).reason


def test_predict_and_evaluate_under_torchrun_equal_one_process(model_dir, tmp_path):  # noqa: F811
    """Two CPU processes (gloo): each extracts its share of the documents; the first writes the same
    files, in input order, as one process does."""
    cv = folds(tmp_path / "one")
    ranks = tmp_path / "ranks"
    (ranks / "data").parent.mkdir()
    folds(tmp_path / "two").rename(ranks / "data")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(Path(__file__).parent / "ddp_worker.py"), "cli", str(model_dir), str(ranks)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    reports = [json.loads((ranks / f"rank{r}.json").read_text()) for r in range(2)]
    assert [(r["predict"], r["evaluate"]) for r in reports] == [(0, 0), (0, 0)]
    assert [r["extracted"] for r in reports] == [12, 12]  # 6 test documents for predict, 3 folds of 6: shared out
    assert main(["predict", "--model", str(model_dir), "--data", str(cv / "fold0" / "test.jsonl"), "--output",
                 str(tmp_path / "predicted.jsonl"), "--max-length", "12"]) == 0
    assert (ranks / "predicted.jsonl").read_text() == (tmp_path / "predicted.jsonl").read_text()
    assert main(["evaluate", "--model", str(model_dir), "--data", str(cv), "--output", str(tmp_path / "evaluated"),
                 "--max-length", "12"]) == 0
    two, one = (json.loads((d / "results.json").read_text()) for d in (ranks / "evaluated", tmp_path / "evaluated"))
    assert two["folds"] == one["folds"]
    for k in range(3):
        name = f"predictions/fold{k}.jsonl"
        assert (ranks / "evaluated" / name).read_text() == (tmp_path / "evaluated" / name).read_text()
