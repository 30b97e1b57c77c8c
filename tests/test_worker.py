"""The request queue and the evaluation worker: requests end FINISHED with results or FAILED with a
reason, never run twice, never lost when a worker dies, and a failure writes no results."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_evaluate_causal import causal_dir, tokenizer  # noqa: F401  (a fixture and what it needs)
from test_evaluation import model_dir, write_jsonl  # noqa: F401  (a fixture)
from test_trainer import toy_documents

from ecr_hf.leaderboard import (EvaluationRequest, RequestQueue, WorkerConfig, load_results, process_request,
                                run_worker)
from ecr_hf.leaderboard.app import Leaderboard


@pytest.fixture
def server(tmp_path):
    """A server's folders: references of data set ``toy`` in 2 folds, empty results and requests, and
    a predictions file per fold that gets every gold span of the first document of each fold."""
    refs = tmp_path / "references" / "toy"
    preds = tmp_path / "submitted"
    for k in range(2):
        docs = [{"doc_id": f"f{k}-{i}", **d} for i, d in enumerate(toy_documents(5, seed=10 + k))]
        write_jsonl(refs / f"fold{k}" / "test.jsonl", docs)
        write_jsonl(preds / f"fold{k}.jsonl", [{"doc_id": d["doc_id"], "entities": d["entities"] if i == 0 else []}
                                               for i, d in enumerate(docs)])
    config = WorkerConfig(tmp_path / "requests", tmp_path / "results", tmp_path / "references", time_limit=120)
    return config, str(preds / "fold{k}.jsonl")


def request(model, name="sys", **kw):
    return EvaluationRequest(model=str(model), model_name=name, datasets=kw.pop("datasets", ["toy"]), **kw)


def test_a_request_goes_from_pending_to_finished_with_results_and_counts(server):
    config, preds = server
    queue = RequestQueue(config.requests_dir)
    submitted = queue.submit(request(preds, family="encoder"))
    assert queue.read(submitted.id).status == "PENDING"
    assert run_worker(config, once=True) == 1
    done = queue.read(submitted.id)
    assert done.status == "FINISHED" and done.attempts == 1 and done.reason is None
    assert [Path(p).name for p in done.results] == ["toy__sys.json"]
    row = load_results(done.results[0])[0]
    assert (row["model_name"], row["dataset"], row["request_id"], row["n_folds"]) == ("sys", "toy", done.id, 2)
    assert (config.references_dir / "toy" / "counts" / "toy__sys.counts.json").is_file()
    board = Leaderboard(config.results_dir, config.references_dir)  # the app reads it, counts checked
    assert [r["model_name"] for r in board.rows] == ["sys"]
    assert board._checked_counts(config.references_dir / "toy" / "counts" / "toy__sys.counts.json", "toy",
                                 board.rows[0]).estimate()["f1"] == pytest.approx(row["f1"])
    assert not list(config.requests_dir.glob(".*.work"))
    assert run_worker(config, once=True) == 0  # nothing left: a request never runs twice


def test_a_model_folder_is_evaluated(server, model_dir):  # noqa: F811
    config, _ = server
    queue = RequestQueue(config.requests_dir)
    queue.submit(request(model_dir, name="tiny bert"))
    assert process_request(queue, config).status == "FINISHED"
    assert load_results(config.results_dir / "toy__tiny_bert.json")[0]["kind"] == "token-classifier"


def test_a_causal_lm_runs_with_the_request_s_generation_options(server, causal_dir):  # noqa: F811
    config, _ = server
    queue = RequestQueue(config.requests_dir)
    queue.submit(request(causal_dir, name="tiny llama", generation={"constrained": True, "template": "en"}))
    done = process_request(queue, config)
    assert done.status == "FINISHED", done.reason
    row = load_results(config.results_dir / "toy__tiny_llama.json")[0]
    assert row["kind"] == "causal-lm" and row["faithfulness_exact_match_rate"] == 1.0  # constrained: exact copies
    with pytest.raises(ValueError, match="generation: .*unexpected keyword argument 'beams'"):
        request(causal_dir, generation={"beams": 4})
    with pytest.raises(ValueError, match="shots must be >= 0"):
        request(causal_dir, generation={"shots": -1})


@pytest.mark.parametrize(("model", "kw", "reason"), [
    ("empty-folder", {}, "a folder without config.json is not a model folder"),
    ("predictions", {"label_map": {"map": {"Sign": "Symptom"}}},
     "the label map maps 'Sign' to 'Symptom', not to labels of the data set (['Disease', 'Sign'])"),
    ("predictions", {"datasets": ["nope"]}, "this server holds no references for data set 'nope'"),
])
def test_failures_say_why_and_write_nothing(server, tmp_path, model, kw, reason):
    config, preds = server
    if model == "empty-folder":
        (tmp_path / "empty").mkdir()
        model = tmp_path / "empty"
    else:
        model = preds
    queue = RequestQueue(config.requests_dir)
    queue.submit(request(model, **kw))
    failed = process_request(queue, config)
    assert failed.status == "FAILED" and reason in failed.reason, failed.reason
    assert queue.read(failed.id).reason == failed.reason
    assert not list(config.results_dir.glob("*")) and not (config.references_dir / "toy" / "counts").exists()


def test_a_taken_name_fails(server):
    config, preds = server
    queue = RequestQueue(config.requests_dir)
    queue.submit(request(preds, name="Base"))
    run_worker(config, once=True)
    second = queue.submit(request(preds, name="base"))
    assert process_request(queue, config).reason == "a system named 'base' already has results on toy"
    assert queue.read(second.id).status == "FAILED" and len(list(config.results_dir.glob("*.json"))) == 1


def test_the_time_limit_fails_the_request(server, model_dir):  # noqa: F811
    config, _ = server
    short = WorkerConfig(config.requests_dir, config.results_dir, config.references_dir, time_limit=0.05)
    queue = RequestQueue(config.requests_dir)
    queue.submit(request(model_dir))
    assert process_request(queue, short).reason == "time limit of 0.05 s exceeded"
    assert not list(config.results_dir.glob("*"))


CLAIM_AND_HANG = textwrap.dedent("""
    import sys, time
    from ecr_hf.leaderboard import RequestQueue
    with RequestQueue(sys.argv[1]).claim() as request:
        print(request.id, flush=True)
        time.sleep(600)
""")


def test_a_killed_worker_s_request_is_requeued_not_lost_not_duplicated(server):
    config, preds = server
    queue = RequestQueue(config.requests_dir)
    submitted = queue.submit(request(preds))
    worker = subprocess.Popen([sys.executable, "-c", CLAIM_AND_HANG, str(config.requests_dir)],
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline().strip() == submitted.id
    assert queue.read(submitted.id).status == "RUNNING"
    assert queue.requeue_orphans() == []  # its worker is alive: the request is left alone
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert queue.read(submitted.id).status == "RUNNING"  # what a crash leaves
    assert run_worker(config, once=True) == 1  # a restarted worker requeues it first, then runs it
    done = queue.read(submitted.id)
    assert done.status == "FINISHED" and done.attempts == 2
    assert any("requeued" in line for line in done.history)
    assert len(list(config.results_dir.glob("*.json"))) == 1


def _worker(config, log):
    from ecr_hf.leaderboard import run_worker as run

    Path(log).write_text(str(run(config, once=True)))


def test_two_workers_on_one_folder_run_each_request_once(server, tmp_path):
    config, preds = server
    queue = RequestQueue(config.requests_dir)
    ids = [queue.submit(request(preds, name=f"sys{i}")).id for i in range(4)]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(config, tmp_path / f"w{i}")) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(300)
    assert all(w.exitcode == 0 for w in workers)
    assert sum(int((tmp_path / f"w{i}").read_text()) for i in range(2)) == 4
    for request_id in ids:
        done = queue.read(request_id)
        assert done.status == "FINISHED" and done.attempts == 1
        assert sum(line.split(" ", 1)[1].startswith("running") for line in done.history) == 1
    assert len(list(config.results_dir.glob("*.json"))) == 4


def test_request_files_are_checked(tmp_path):
    with pytest.raises(ValueError, match="datasets must be a non-empty list"):
        EvaluationRequest(model="m", model_name="x", datasets="toy")
    with pytest.raises(ValueError, match="kind must be one of"):
        EvaluationRequest(model="m", model_name="x", datasets=["toy"], kind="gliner")
    queue = RequestQueue(tmp_path)
    (tmp_path / "junk.json").write_text(json.dumps({"model": "m", "nope": 1}))
    with pytest.raises(ValueError, match=r"junk.json: not a request file: unknown request fields \['nope'\]"):
        queue.read("junk")
    assert queue.list() == []  # listed requests skip it
    first = queue.submit(request("m"))
    time.sleep(0.002)
    second = queue.submit(request("m"))
    assert [r.id for r in queue.list()] == [first.id, second.id]  # oldest first
