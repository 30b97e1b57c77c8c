"""Model submissions in the leaderboard app: what the Submit tab checks at once (names, the models
folder allow-list, kinds, label maps), the requests it queues for the worker, and the Requests view
and tables in headless Chromium as the worker finishes or fails them."""

import json
import os
from pathlib import Path

import gradio as gr
import pytest
from test_evaluation import write_jsonl
from test_leaderboard_app import _idle, _serve
from test_trainer import toy_documents

from ecr_hf.leaderboard import RequestQueue, WorkerConfig, process_request
from ecr_hf.leaderboard.app import Leaderboard, SubmissionError, build_app

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _server(root: Path, single: bool = False) -> dict:
    """A server's folders: references of ``toy`` (2 folds; with ``single`` also ``one``, one test set),
    a results folder with ``baseline`` on toy, an empty requests folder, and a models folder holding
    per-fold predictions (``submitted/fold{k}.jsonl``: the gold spans of each fold's first document),
    a folder that is no model (``broken``) and a symlink out of it (``escape``) to a model-looking
    folder outside (``secret``)."""
    refs, models = root / "references", root / "models"
    everything = []
    for k in range(2):
        docs = [{"doc_id": f"f{k}-{i}", **d} for i, d in enumerate(toy_documents(5, seed=10 + k))]
        write_jsonl(refs / "toy" / f"fold{k}" / "test.jsonl", docs)
        preds = [{"doc_id": d["doc_id"], "entities": d["entities"] if i == 0 else []} for i, d in enumerate(docs)]
        write_jsonl(models / "submitted" / f"fold{k}.jsonl", preds)
        everything += [{**p, "entities": d["entities"]} for p, d in zip(preds, docs)]
    if single:
        write_jsonl(refs / "one" / "test.jsonl", [{"doc_id": i, **d} for i, d in enumerate(toy_documents(3, seed=3))])
    (models / "broken").mkdir()
    (models / "broken" / "README.md").write_text("weights to come\n")
    (root / "secret").mkdir()
    (root / "secret" / "config.json").write_text(json.dumps({"architectures": ["BertForTokenClassification"]}))
    (models / "escape").symlink_to(root / "secret", target_is_directory=True)
    Leaderboard(root / "results", refs).submit(write_jsonl(root / "all.jsonl", everything), dataset="toy",
                                               model_name="baseline", family="encoder")
    config = WorkerConfig(root / "requests", root / "results", refs, time_limit=120)
    return {"root": root, "models": models, "config": config}


@pytest.fixture
def server(tmp_path):
    return _server(tmp_path, single=True)


def _board(server, **kw):
    config = server["config"]
    return Leaderboard(config.results_dir, config.references_dir, requests_dir=config.requests_dir,
                       models_dir=kw.get("models_dir", server["models"]))


# -- the checks made at once (no browser) --------------------------------------------------------

def test_a_model_submission_is_queued_and_the_worker_runs_it(server):
    board = _board(server)
    request = board.submit_model(" submitted/fold{k}.jsonl ", datasets=["toy"], model_name=" queued ", family="decoder",
                                 method="LoRA r=8", label_map='{"drop": ["GENE"]}')
    queue = RequestQueue(server["config"].requests_dir)
    saved = queue.read(request.id)
    assert (saved.status, saved.model_name, saved.datasets, saved.kind) == ("PENDING", "queued", ["toy"], None)
    assert saved.model == str(server["models"].resolve() / "submitted" / "fold{k}.jsonl")  # absolute: the worker's
    assert (saved.family, saved.method, saved.label_map) == ("decoder", "LoRA r=8",
                                                             {"map": {}, "drop": ["GENE"], "untyped": False})
    with pytest.raises(SubmissionError, match=f"request {request.id} for a system named 'queued' on toy is PENDING"):
        board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name="QUEUED", family="encoder")
    assert process_request(queue, server["config"]).status == "FINISHED"
    board.reload()
    row = next(r for r in board.rows if r["model_name"] == "queued")
    assert (row["dataset"], row["family"], row["kind"], row["request_id"]) == ("toy", "decoder", "predictions",
                                                                               request.id)
    table = board.requests_table()
    assert table["headers"] == ["submitted", "request", "system", "data sets", "status", "results", "reason"]
    assert table["data"] == [[saved.submitted_at.replace("T", " ").replace("+00:00", " UTC"), request.id, "queued",
                              "toy", "FINISHED", f"toy: F1 {row['f1']:.3f} at p=1", ""]]
    # finished: a row now
    with pytest.raises(SubmissionError, match="'queued' already has results on toy, and 'Queued' looks like it"):
        board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name="Queued", family="encoder")


@pytest.mark.parametrize(("model", "kw", "message"), [
    ("submitted/fold{k}.jsonl", {"model_name": "a;b"}, "give a system name of 1-100 letters"),
    ("submitted/fold{k}.jsonl", {"model_name": "a\nb"}, "system name: control or invisible character U+000A"),
    ("submitted/fold{k}.jsonl", {"model_name": "Baseline"},
     "a system named 'baseline' already has results on toy, and 'Baseline' looks like it"),
    ("submitted/fold{k}.jsonl", {"family": "transformer"}, "family must be one of"),
    ("submitted/fold{k}.jsonl", {"datasets": []}, "choose at least one data set"),
    ("submitted/fold{k}.jsonl", {"datasets": ["nope"]}, "this server holds no references for data set 'nope'"),
    ("submitted/fold{k}.jsonl", {"kind": "gliner"}, "kind must be auto or one of ['token-classifier', 'causal-lm', 'predictions']"),
    ("submitted/fold{k}.jsonl", {"label_map": '{"map": '}, "label map: not valid JSON: "),
    ("submitted/fold{k}.jsonl", {"label_map": '{"maps": {"A": "B"}}'}, "label map: unknown label map keys ['maps']"),
    ("submitted/fold{k}.jsonl", {"label_map": '["A"]'}, "label map: a label map is a JSON object"),
    ("submitted/fold{k}.jsonl", {"datasets": ["toy", "one"]}, "{k} names one model per fold, but one has one test set"),
    ("{root}/secret", {}, "not inside this server's models folder"),
    ("../secret", {}, "not inside this server's models folder"),
    ("broken/../../secret", {}, "not inside this server's models folder"),
    ("escape", {}, "escape: not inside this server's models folder"),  # a symlink that leads out
    ("", {}, "give the path of a model folder or predictions file"),
    (".", {}, "not inside this server's models folder"),  # the folder itself is not a model in it
    ("nope", {}, "nope: no such file or folder in the models folder"),
    ("submitted/fold{k}.json", {}, "no such file or folder in the models folder (fold 0)"),
    ("submitted/{k.__class__}.jsonl", {}, "the only braces a model path may hold are {k}"),
    ("broken", {}, "model broken: a folder without config.json is not a model folder"),  # kind auto: detected now
])
def test_refused_model_submissions_say_why_and_queue_nothing(server, model, kw, message):
    board = _board(server)
    args = {"datasets": ["toy"], "model_name": "new", "family": "encoder", **kw}
    with pytest.raises(SubmissionError) as e:
        board.submit_model(model.format(root=server["root"]) if "{root}" in model else model, **args)
    assert message in str(e.value)
    assert str(server["models"].resolve()) not in str(e.value)  # the server's folders are not shown
    assert RequestQueue(server["config"].requests_dir).list() == []


def test_a_named_kind_is_left_to_the_worker(server):
    """Only ``auto`` is detected at once; a folder named a token classifier fails in the worker, with its reason."""
    board = _board(server)
    request = board.submit_model("broken", datasets=["toy"], model_name="broken", family="encoder",
                                 kind="token-classifier")
    failed = process_request(RequestQueue(server["config"].requests_dir), server["config"])
    assert (failed.id, failed.status) == (request.id, "FAILED") and "holds no model" in failed.reason
    shown = failed.reason.replace(f"{server['models'].resolve()}/", "")  # as the user gave the path
    assert shown.startswith("'broken' holds no model: expected token_classifier_config.json")
    assert [board.requests_table()["data"][0][i] for i in (4, 6)] == ["FAILED", shown]  # the whole reason


def test_without_a_models_folder_no_model_is_taken(server):
    board = _board(server, models_dir=None)
    with pytest.raises(SubmissionError, match="this server does not take model submissions"):
        board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name="new", family="encoder")
    with pytest.raises(SubmissionError, match="this server does not take model submissions"):
        Leaderboard(server["config"].results_dir, server["config"].references_dir,
                    models_dir=server["models"]).submit_model("submitted/fold{k}.jsonl", datasets=["toy"],
                                                              model_name="new", family="encoder")
    with pytest.raises(ValueError, match="models_dir .* is not a folder"):
        _board(server, models_dir=server["root"] / "nope")


def _ids(demo: gr.Blocks) -> set:
    return {getattr(block, "elem_id", None) for block in demo.blocks.values()}


def test_the_model_form_shows_only_with_a_requests_folder(server):
    config = server["config"]
    plain = _ids(build_app(config.results_dir, config.references_dir))
    assert "submit-file" in plain and not {"model-path", "requests-table"} & plain  # file submissions as before
    no_models = build_app(config.results_dir, config.references_dir, requests_dir=config.requests_dir)
    assert "requests-table" in _ids(no_models) and "model-path" not in _ids(no_models)
    assert any("does not take model submissions" in str(getattr(b, "value", "")) for b in no_models.blocks.values())
    full = _ids(build_app(config.results_dir, config.references_dir, requests_dir=config.requests_dir,
                          models_dir=server["models"]))
    assert {"submit-file", "model-path", "model-kind", "model-datasets", "model-label-map", "requests-table"} <= full


# -- in the browser ------------------------------------------------------------------------------

def _fill(page, elem_id, text):
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(text)


def _pick(page, elem_id, option):
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def _submit_model(page, path, name, kind=None, family=None, label_map=""):
    page.get_by_role("tab", name="Submit").click()
    _fill(page, "model-path", path)
    _fill(page, "model-name", name)
    _fill(page, "model-label-map", label_map)
    if kind:
        _pick(page, "model-kind", kind)
    if family:
        _pick(page, "model-family", family)
    page.evaluate("() => { document.querySelector('#model-status textarea').value = '' }")
    page.locator("#model-button").click()
    page.wait_for_function("() => document.querySelector('#model-status textarea').value !== ''")
    _idle(page)
    return page.locator("#model-status textarea").input_value()


def _rows(page, selector):
    """The shown cells of a table, row by row."""
    n = page.locator(f"{selector} [role=columnheader]").count()
    texts = [c.inner_text().strip() for c in page.locator(f"{selector} [role=gridcell]").all()]
    return [texts[i:i + n] for i in range(0, len(texts), n)]


def _requests(page):
    page.get_by_role("tab", name="Requests").click()
    page.locator("#requests-refresh").click()
    _idle(page)
    return _rows(page, "#requests-table")


def test_browser_model_submissions_through_the_worker(browser, tmp_path):
    server = _server(tmp_path)
    config, queue = server["config"], RequestQueue(server["config"].requests_dir)
    demo = build_app(config.results_dir, config.references_dir, requests_dir=config.requests_dir,
                     models_dir=server["models"])
    url = _serve(demo)
    try:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        page.wait_for_selector("#table-p [role=gridcell]")
        _idle(page)
        assert [row[0] for row in _rows(page, "#table-p")] == ["baseline"]

        status = _submit_model(page, "../secret", "sneaky")
        assert status.startswith("not queued: ../secret: not inside this server's models folder")
        status = _submit_model(page, "submitted/fold{k}.jsonl", "queued system", family="instruction-tuned",
                               label_map='{"drop": ["GENE"]}')
        first = queue.list()[-1]
        assert status.startswith(f"queued as request {first.id}: a worker will evaluate 'queued system' on toy")
        page.screenshot(path="/tmp/app_requests_submit.png", full_page=True)
        rows = _requests(page)
        assert [row[1:5] for row in rows] == [[first.id, "queued system", "toy", "PENDING"]]
        page.screenshot(path="/tmp/app_requests_pending.png", full_page=True)

        assert process_request(queue, config).status == "FINISHED"  # the worker, in this process
        rows = _requests(page)
        assert rows[0][4] == "FINISHED" and rows[0][5].startswith("toy: F1 ")
        page.get_by_role("tab", name="By p").click()
        page.locator("#table-p [role=gridcell]", has_text="queued system").wait_for()
        table = {row[0]: row for row in _rows(page, "#table-p")}
        assert set(table) == {"baseline", "queued system"}
        assert table["queued system"][1] == "instruction-tuned"  # a family new to this page is shown, not filtered
        headers = [h.inner_text().strip() for h in page.locator("#table-p [role=columnheader]").all()]
        assert rows[0][5] == f"toy: F1 {table['queued system'][headers.index('p=1 F1')].split()[0]} at p=1"
        page.screenshot(path="/tmp/app_requests_finished.png", full_page=True)

        status = _submit_model(page, "broken", "broken model", kind="token classifier (model folder)")
        second = queue.list()[-1]
        assert status.startswith(f"queued as request {second.id}")
        failed = process_request(queue, config)
        assert failed.status == "FAILED" and "holds no model" in failed.reason
        rows = _requests(page)
        assert [row[1] for row in rows] == [second.id, first.id]  # newest first
        assert [rows[0][i] for i in (4, 6)] == ["FAILED", failed.reason.replace(f"{server['models'].resolve()}/", "")]
        table_box, cell_box = (page.locator(selector).bounding_box()
                               for selector in ("#requests-table", "#requests-table [data-testid=cell-0-6]"))
        assert cell_box["x"] + cell_box["width"] <= table_box["x"] + table_box["width"] + 1  # wrapped, not cut off
        color = page.locator("#requests-table [data-testid=cell-0-4]").evaluate("e => getComputedStyle(e).color")
        assert color == "rgb(185, 28, 28)"
        page.screenshot(path="/tmp/app_requests_failed.png", full_page=True)

        page.reload()  # a fresh page reads both folders again too
        page.wait_for_selector("#table-p [role=gridcell]")
        _idle(page)
        assert {row[0] for row in _rows(page, "#table-p")} == {"baseline", "queued system"}
        page.close()
    finally:
        demo.close()
