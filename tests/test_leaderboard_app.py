"""The leaderboard app and the metric Spaces' pages: scoring of submissions, the Space folder, and
the pages in headless Chromium (Debian's package, driven by Playwright)."""

import json
import os
import runpy
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from ecr_hf.leaderboard import cross_validate, cross_validation_counts, cross_validation_indices, load_results
from ecr_hf.error_analysis import ERROR_CLASSES, analyze_errors
from ecr_hf.corpora import write_bioc_json, write_bioc_xml, write_pubtator
from ecr_hf.leaderboard.app import (FAMILIES, Leaderboard, SubmissionError, _keep_error_page, build_app,
                                    error_report_page, load_references, score_submission)
from ecr_hf.scoring.metric_app import compute_from_json
from ecr_hf.utils import OutputExistsError
from ecr_hf.scoring import semeval_scores
from ecr_hf.scoring import load_counts, save_counts
from ecr_hf.leaderboard import build_wheel, write_metric_space, write_space

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
TEXT = "Patient with chronic kidney disease and lung cancer; severe anemia was noted on day two."
GOLD = [(TEXT.index(s), TEXT.index(s) + len(s), label) for s, label in
        (("chronic kidney disease", "Disease"), ("lung cancer", "Disease"), ("severe anemia", "Finding"))]


def _documents(n=12):
    entities = [{"start": s, "end": e, "label": lab} for s, e, lab in GOLD]
    return [{"doc_id": f"doc{i}", "text": TEXT, "entities": entities} for i in range(n)]


def _predict(docs, cut, seed):
    """Gold spans with ends cut by up to ``cut`` characters (a system of that quality)."""
    rng = np.random.default_rng(seed)
    return {d["doc_id"]: [{**e, "end": e["end"] - int(rng.integers(0, cut + 1))} for e in d["entities"]] for d in docs}


def _write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """Results of three systems on 'toy' (3 folds, whose references the server holds) and two on
    'other', made by cross_validate as ecr-hf cv-score does."""
    root = tmp_path_factory.mktemp("board")
    docs = _documents()
    folds = [[docs[i] for i in fold["test"]] for fold in cross_validation_indices(len(docs), 3, validation=False)]
    for k, fold in enumerate(folds):
        _write_jsonl(root / "references" / "toy" / f"fold{k}" / "test.jsonl", fold)
    systems = {"toy": [("dictionary", "encoder", None, 6), ("minilm", "encoder", None, 1),
                       ("smollm2-sft", "instruction-tuned", True, 3)],
               "other": [("dictionary", "encoder", None, 8), ("smollm2-tc", "decoder", None, 2)]}
    for dataset, entries in systems.items():
        for seed, (name, family, constrained, cut) in enumerate(entries):
            preds = _predict(docs, cut, seed)
            result = cross_validate([[d["entities"] for d in f] for f in folds],
                                    [[preds[d["doc_id"]] for d in f] for f in folds],
                                    texts=[[d["text"] for d in f] for f in folds], p_values=[1, 2, 100])
            extra = {"constrained": constrained} if constrained is not None else {}
            result.save(root / "results" / f"{dataset}__{name}.json", model_name=name, dataset=dataset,
                        family=family, **extra)
    return {"root": root, "results": root / "results", "references": root / "references", "folds": folds}


def _submission(path, folds, cut=2, seed=9, fold_key=True):
    rows = []
    preds = _predict([d for f in folds for d in f], cut, seed)
    for k, fold in enumerate(folds):
        rows += [{"doc_id": d["doc_id"], **({"fold": k} if fold_key else {}), "entities": preds[d["doc_id"]]}
                 for d in fold]
    return _write_jsonl(path, rows)


# -- scoring submissions (no browser) ------------------------------------------------------------

def test_submission_scores_as_cross_validate(board, tmp_path):
    refs = load_references(board["references"])["toy"]
    path = _submission(tmp_path / "sub.jsonl", board["folds"], fold_key=False)
    preds = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {p["doc_id"]: p["entities"] for p in preds}
    expected = cross_validate([[d["entities"] for d in f] for f in board["folds"]],
                              [[by_id[d["doc_id"]] for d in f] for f in board["folds"]], p_values=[1, 2, 100])
    got = score_submission(path, refs, p_values=[1, 2, 100])
    assert got.mean() == pytest.approx(expected.mean(), nan_ok=True)
    # lines in any order: each goes to the fold whose test set holds its doc_id
    _write_jsonl(path, preds[::-1])
    assert score_submission(path, refs, p_values=[1, 2, 100]).mean() == pytest.approx(expected.mean(), nan_ok=True)


def test_submission_of_marked_generations_reports_faithfulness(board, tmp_path):
    refs = load_references(board["references"])["toy"]
    rows = []
    for fold in board["folds"]:
        for d in fold:
            marked = TEXT.replace("lung cancer", "@@lung cancer##").replace("on day two", "on day 2")  # not a copy
            rows.append({"doc_id": d["doc_id"], "marked": marked})
    result = score_submission(_write_jsonl(tmp_path / "gen.jsonl", rows), refs)
    mean = result.mean()
    assert mean["faithfulness_exact_match_rate"] == 0.0 and mean["faithfulness_n_spans_dropped"] == 0.0
    assert mean["recall"] == pytest.approx(11 / 46)  # 'lung cancer' of the 22 + 11 + 13 gold characters


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows.__setitem__(2, "not json"), r"line 3: not (valid JSON|a JSON object)"),
    (lambda rows: rows.__setitem__(1, json.dumps({"doc_id": "doc0", "spans": []})), "line 2: each line must be"),
    (lambda rows: rows.__setitem__(3, rows[3].replace('"doc_id": "doc', '"doc_id": "nodoc')), "line 4: doc_id 'nodoc"),
    (lambda rows: rows.__setitem__(1, rows[0]), "appears twice"),
    (lambda rows: rows.append(rows[0]), "the file has 13 lines but toy has 12 test documents"),
    (lambda rows: rows.pop(), r"fold 2: no prediction line for 1 of its 4 test documents"),
    (lambda rows: rows.__setitem__(4, rows[4].replace('"fold": 1', '"fold": 0')), "line 5: doc_id 'doc"),
    (lambda rows: rows.__setitem__(6, rows[6].replace('"end": 35', '"end": 350')),
     r"line 7 \(doc_id 'doc\d+'\), span 0: offset 350 is out of range of the document"),
    (lambda rows: rows.__setitem__(0, rows[0].replace('"start": 13', '"start": "13"')),
     r"line 1 \(doc_id 'doc\d+'\), span 0: offsets must be integers"),
])
def test_bad_submission_names_line_and_problem(board, tmp_path, edit, message):
    refs = load_references(board["references"])["toy"]
    rows = _submission(tmp_path / "sub.jsonl", board["folds"], cut=0).read_text().splitlines()
    edit(rows)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(SubmissionError, match=message) as info:
        score_submission(path, refs)
    assert str(path) not in str(info.value)  # the server's temporary path is not shown


def test_submission_lines_count_as_the_reader_reads_them(board, tmp_path):
    """A BOM, CRLF line ends and blank lines do not shift the line named in an error."""
    refs = load_references(board["references"])["toy"]
    rows = _submission(tmp_path / "sub.jsonl", board["folds"], cut=0).read_text().splitlines()
    line = json.loads(rows[3])
    line["entities"][0]["start"] = -1
    rows[3] = json.dumps(line)
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows[:2] + ["", "  "] + rows[2:]).encode() + b"\r\n")
    with pytest.raises(SubmissionError, match=r"^line 6 \(doc_id '" + line["doc_id"] + "'\\), span 0: "):
        score_submission(path, refs)


def test_submission_size_is_bounded(board, tmp_path):
    refs = load_references(board["references"])["toy"]
    path = _submission(tmp_path / "sub.jsonl", board["folds"])
    with pytest.raises(SubmissionError, match=r"bytes; the limit is 100"):
        score_submission(path, refs, max_bytes=100)
    path.write_bytes(b"\xff\xfe{}\n")
    with pytest.raises(SubmissionError, match="(line 1: )?not UTF-8"):
        score_submission(path, refs)


def test_references_layouts(tmp_path):
    docs = _documents(4)
    _write_jsonl(tmp_path / "a" / "one" / "test.jsonl", docs)  # one test set
    assert [len(f) for f in load_references(tmp_path / "a")["one"].folds] == [4]
    _write_jsonl(tmp_path / "b" / "gap" / "fold0" / "test.jsonl", docs[:2])
    _write_jsonl(tmp_path / "b" / "gap" / "fold2" / "test.jsonl", docs[2:])
    with pytest.raises(ValueError, match=r"fold0 \.\. fold1, got \[0, 2\]"):
        load_references(tmp_path / "b")
    _write_jsonl(tmp_path / "c" / "twice" / "fold0" / "test.jsonl", docs[:2])
    _write_jsonl(tmp_path / "c" / "twice" / "fold1" / "test.jsonl", docs[1:])
    with pytest.raises(ValueError, match="doc_id 'doc1' is a test document of fold 0 and fold 1"):
        load_references(tmp_path / "c")
    (tmp_path / "d" / "empty").mkdir(parents=True)
    with pytest.raises(ValueError, match="no reference file"):
        load_references(tmp_path / "d")


def test_references_must_match_the_results_folds(board, tmp_path):
    _write_jsonl(tmp_path / "toy" / "test.jsonl", _documents())  # 1 fold, the results have 3
    with pytest.raises(ValueError, match="references of 'toy' have 1 folds but its results have \\[3\\]"):
        Leaderboard(board["results"], tmp_path)


def test_submit_saves_a_new_file_and_never_overwrites(board, tmp_path):
    results, references = tmp_path / "results", tmp_path / "references"
    shutil.copytree(board["results"], results)
    shutil.copytree(board["references"], references)  # a submission writes its counts there
    lb = Leaderboard(results, references)
    sub = _submission(tmp_path / "sub.jsonl", board["folds"])
    before = {p.name: p.read_bytes() for p in results.iterdir()}
    for name in ("minilm", "MiniLM"):  # a name on that data set, in any case
        with pytest.raises(SubmissionError, match="already has results on toy"):
            lb.submit(sub, dataset="toy", model_name=name, family="encoder")
    with pytest.raises(SubmissionError, match="no references for data set 'other'"):
        lb.submit(sub, dataset="other", model_name="new", family="encoder")
    with pytest.raises(SubmissionError, match="family must be one of"):
        lb.submit(sub, dataset="toy", model_name="new", family="transformer")
    with pytest.raises(SubmissionError, match="system name"):
        lb.submit(sub, dataset="toy", model_name="a\nb", family="encoder")
    assert {p.name: p.read_bytes() for p in results.iterdir()} == before
    path = lb.submit(sub, dataset="toy", model_name="new system", family="instruction-tuned", constrained=True)
    row = next(r for r in load_results(path).to_list())
    assert (row["model_name"], row["family"], row["constrained"], row["n_folds"]) == ("new system",
                                                                                       "instruction-tuned", True, 3)
    assert json.loads(row["p_values"]) == [1, 2, 100]  # the data set's settings, not the defaults
    assert row["f1"] == pytest.approx(score_submission(sub, lb.references["toy"], p_values=[1, 2, 100]).mean()["f1"])
    assert any(r["model_name"] == "new system" for r in lb.rows)
    with pytest.raises(SubmissionError, match="already has results"):
        lb.submit(sub, dataset="toy", model_name="New System", family="encoder")
    counts = load_counts(references / "toy" / "counts" / f"{path.stem}.counts.json")
    assert counts.estimate()["f1"] == pytest.approx(row["f1"], abs=1e-12)
    assert counts.doc_ids == tuple(d["doc_id"] for f in board["folds"] for d in f)
    orphan = references / "toy" / "counts" / "toy__orphan.counts.json"  # counts whose results file is gone
    orphan.write_text("{}")
    before = {p.name for p in results.iterdir()}
    with pytest.raises(SubmissionError, match="toy__orphan.counts.json exists already"):
        lb.submit(sub, dataset="toy", model_name="orphan", family="encoder")
    assert {p.name for p in results.iterdir()} == before and orphan.read_text() == "{}"


def test_tables_mean_sd_bold_and_sorted(board):
    lb = Leaderboard(board["results"])
    table = lb.table("p", "toy", list(lb.families()))
    rows = {r["model_name"]: r for r in load_results(board["results"]).to_list() if r["dataset"] == "toy"}
    names = [row[0] for row in table["data"]]
    assert names == sorted(rows, key=lambda n: -rows[n]["f1"])  # by the first column, p=1 F1
    assert table["headers"][:5] == ["system", "family", "p=1 F1", "p=1 R", "p=1 P"]
    col = table["headers"].index("p=2 R")
    shown = [r[col] for r in table["metadata"]["display_value"]]
    assert shown == [f"{rows[n]['p2_recall']:.3f} ({rows[n]['p2_recall_sd']:.3f})" for n in names]
    best = max(rows[n]["p2_recall"] for n in names)
    assert [s[col] == "font-weight: bold" for s in table["metadata"]["styling"]] == [
        rows[n]["p2_recall"] == best for n in names]
    families = lb.table("p", "toy", [FAMILIES["encoder"]])
    assert [r[0] for r in families["data"]] == [n for n in names if rows[n]["family"] == "encoder"]
    labels = lb.table("label", "toy", list(lb.families()))
    assert {r[0] for r in labels["data"]} == {"Disease", "Finding"}
    assert lb.table("faithfulness", "toy", list(lb.families()))["data"] == []  # no generations among them
    figures = lb.figures("toy", list(lb.families()))
    assert [len(f.axes[0].lines) > 0 for f in figures] == [True, True, True]  # by p, by length, folds
    assert lb.figures("toy", [FAMILIES["decoder"]]) == [None, None, None]  # no such system on toy
    length = lb.table("length", "toy", list(lb.families()))
    assert "-" in length["metadata"]["display_value"][0]  # a bin without gold or predicted spans


def _significance_board(root, n=60):
    """'good' (ends cut by up to 1 character, with bootstrap intervals) and 'worse' (up to 8) on
    'toy': 60 documents in 3 folds, results saved as cv-score does, counts not yet placed."""
    docs = _documents(n)
    folds = [[docs[i] for i in f["test"]] for f in cross_validation_indices(n, 3, validation=False)]
    for k, fold in enumerate(folds):
        _write_jsonl(root / "references" / "toy" / f"fold{k}" / "test.jsonl", fold)
    counts, preds = {}, {}
    for name, cut, seed in (("good", 1, 0), ("worse", 8, 1)):
        preds[name] = _predict(docs, cut, seed)
        result = cross_validate([[d["entities"] for d in f] for f in folds],
                                [[preds[name][d["doc_id"]] for d in f] for f in folds], p_values=[1, 2],
                                n_resamples=200 if name == "good" else None, rng=0,
                                doc_ids=[[d["doc_id"] for d in f] for f in folds])
        result.save(root / "results" / f"toy__{name}.json", model_name=name, dataset="toy", family="encoder")
        counts[name] = result.counts or cross_validation_counts(
            [[d["entities"] for d in f] for f in folds], [[preds[name][d["doc_id"]] for d in f] for f in folds],
            p_values=[1, 2], doc_ids=[[d["doc_id"] for d in f] for f in folds])
    return docs, counts, preds


def test_vs_best_marks_only_where_counts_support_them(tmp_path, caplog):
    docs, counts, preds = _significance_board(tmp_path)
    folder = tmp_path / "references" / "toy" / "counts"
    lb = Leaderboard(tmp_path / "results", tmp_path / "references")
    families = lb.families()

    def column(families=families):
        table = lb.table("p", "toy", families)
        if "vs best F1" not in table["headers"]:
            return None
        i = table["headers"].index("vs best F1")
        return {row[0]: shown[i] for row, shown in zip(table["data"], table["metadata"]["display_value"])}

    assert column() is None  # no counts: no claim about significance
    save_counts(counts["worse"], folder / "toy__worse.counts.json")
    assert column() is None  # the best system has no counts: no comparison with it
    save_counts(counts["good"], folder / "toy__good.counts.json")
    marks = column()
    assert marks["good"] == "best" and marks["worse"].startswith("p=")  # clearly worse: not marked
    assert float(marks["worse"][2:]) < 0.05
    table = lb.table("p", "toy", families)
    good = table["metadata"]["display_value"][0]
    row = next(r for r in lb.rows if r["model_name"] == "good")
    assert good[3] == (f"{row['p1_f1']:.3f} ({row['p1_f1_sd']:.3f}) "
                       f"[{row['p1_f1_ci_low']:.3f}, {row['p1_f1_ci_high']:.3f}]")
    assert "[" not in table["metadata"]["display_value"][1][3]  # 'worse' was saved without intervals
    assert lb.table("length", "toy", families)["headers"][2] != "vs best F1"  # the main key's view only

    copy = _write_jsonl(tmp_path / "copy.jsonl", [{"doc_id": d["doc_id"], "entities": preds["good"][d["doc_id"]]}
                                                  for d in docs])
    saved = lb.submit(copy, dataset="toy", model_name="copy of good", family="encoder")
    assert json.loads(load_results(saved)["bootstrap"][0])["n_resamples"] == 200  # the data set's intervals
    marks = column()
    assert sorted([marks["good"], marks["copy of good"]]) == ["best", "≈ p=1"]  # identical: tied with the best
    assert marks["worse"].startswith("p=")
    assert Leaderboard(tmp_path / "results").table("p", "toy", families)["headers"][2] != "vs best F1"

    save_counts(counts["good"], folder / "toy__worse.counts.json", overwrite=True)  # not worse's counts
    with caplog.at_level("WARNING", logger="ecr_hf.leaderboard.app"):
        marks = column()
    assert marks["worse"] == "-" and "toy__worse.counts.json left out" in caplog.text
    assert "is not the results file's" in caplog.text

    gold = [[d["entities"] for d in docs[i::3]] for i in range(3)]  # a best system without counts
    cross_validate(gold, gold, p_values=[1, 2]).save(tmp_path / "results" / "toy__oracle.json", model_name="oracle",
                                                     dataset="toy", family="decoder")
    lb.reload()
    assert column() is None  # shown, the oracle is the best: no claim
    assert column([FAMILIES["encoder"]])["good"] in ("best", "≈ p=1")  # the oracle filtered out


# -- the Errors tab (no browser) -----------------------------------------------------------------

def _error_files(tmp_path, n=5):
    """A references file of ``n`` documents and predictions with cut ends and a missed span."""
    docs = _documents(n)
    preds = _predict(docs, 3, 0)
    preds["doc1"] = preds["doc1"][1:]
    refs = _write_jsonl(tmp_path / "refs.jsonl", docs)
    pred = _write_jsonl(tmp_path / "preds.jsonl", [{"doc_id": k, "entities": v} for k, v in preds.items()])
    return refs, pred, docs, preds


def test_error_report_page_reads_uploads_as_the_cli(tmp_path):
    refs, pred, docs, preds = _error_files(tmp_path)
    page = error_report_page(refs, pred)
    analysis = analyze_errors([d["entities"] for d in docs], [preds[d["doc_id"]] for d in docs],
                              texts=[d["text"] for d in docs], doc_ids=[d["doc_id"] for d in docs])
    data = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert data["counts"] == analysis.counts and [d["id"] for d in data["docs"]] == [d["doc_id"] for d in docs]
    assert len(data["errors"]) == len(analysis.errors) > 0
    bad = tmp_path / "bad.jsonl"
    for content, message in (
            ('{"doc_id": "doc0", "entities": []}\nnot json\n', r"^predictions, line 2: not valid JSON"),
            ('{"doc_id": "doc0", "entities": []}\n', r"^references \(references\), predictions \(predictions\): the "
             r"files hold different documents"),
            ("".join(json.dumps({"doc_id": d["doc_id"], "entities": [{"start": 0, "end": 500}]}) + "\n" for d in docs),
             r"end 500 is past the end .*doc_id 'doc0': references:1 \(references\), predictions:1")):
        bad.write_text(content)
        with pytest.raises(SubmissionError, match=message) as info:
            error_report_page(refs, bad)
        assert str(tmp_path) not in str(info.value)  # the server's temporary paths are not shown
    no_text = _write_jsonl(tmp_path / "no_text.jsonl", [{k: v for k, v in d.items() if k != "text"} for d in docs])
    with pytest.raises(SubmissionError, match="every line needs its 'text'"):
        error_report_page(no_text, pred)
    with pytest.raises(SubmissionError, match="references: the file has .* bytes; the limit is 10"):
        error_report_page(refs, pred, max_bytes=10)


def test_error_report_page_reads_corpus_formats(tmp_path):
    """PubTator (by suffix, or a .txt starting 'PMID|t|'), BioC XML and JSON: each upload's format
    is detected and gives the JSONL page; a reader's error names the upload and its line or
    annotation, never the server's temporary path; BRAT (a folder) and spaCy DocBin (compressed) are
    refused before they are read."""
    refs, pred, docs, preds = _error_files(tmp_path)
    expected = error_report_page(refs, pred)
    pred_docs = [{**d, "entities": preds[d["doc_id"]]} for d in docs]
    uploads = {"pubtator": write_pubtator(docs, tmp_path / "up" / "refs.pubtator"),
               "pubtator-txt": write_pubtator(docs, tmp_path / "up" / "refs.txt"),
               "bioc-xml": write_bioc_xml(docs, tmp_path / "up" / "refs.xml"),
               "bioc-json": write_bioc_json(docs, tmp_path / "up" / "refs.json")}
    for name, path in uploads.items():
        assert error_report_page(path, pred) == expected, name
    pred_pubtator = write_pubtator(pred_docs, tmp_path / "up" / "preds.pubtator")
    assert error_report_page(uploads["pubtator"], pred_pubtator) == expected

    bad = tmp_path / "bad.pubtator"
    bad.write_text(pred_pubtator.read_text().replace("\tchronic kidney disease\t", "\tchronic kidney diseasX\t", 1))
    other_text = tmp_path / "other.pubtator"
    other_text.write_text(pred_pubtator.read_text().replace("day two", "day 222", 1))
    (tmp_path / "preds.spacy").write_bytes(b"\x00" * 64)  # refused by its suffix, never unpacked
    (tmp_path / "preds.parquet").write_bytes(b"PAR1" + b"\x00" * 64)
    xml = tmp_path / "bad.xml"
    xml.write_text(uploads["bioc-xml"].read_text().replace("<passage>", "<passage", 1))
    cases = (
        (refs, bad, r"^predictions, line \d+: PMID doc\d: the mention 'chronic kidney diseasX' differs from the text"),
        (bad, pred, r"^references, line \d+: PMID doc\d: the mention"),
        (refs, other_text, r"^predictions:1: doc_id 'doc0': the prediction's text differs from the reference "
         r"text.*\(reference: references:1\)"),
        (uploads["pubtator"], other_text, r"^predictions:1: doc_id 'doc0': .*\(reference: references:1\)"),
        (refs, xml, r"^predictions, line \d+: not well-formed XML"),
        (refs, tmp_path / "up", r"^predictions: BRAT standoff needs the .txt and .ann files side by side"),
        (refs, tmp_path / "preds.spacy", r"^predictions: spaCy DocBin files are not read on this server"),
        (refs, tmp_path / "preds.parquet", r"^predictions: Parquet files are not read on this server"),
    )
    for references, predictions, message in cases:
        with pytest.raises(SubmissionError, match=message) as info:
            error_report_page(references, predictions)
        assert str(tmp_path) not in str(info.value)  # the server's temporary paths are not shown


# -- the metric Spaces' page (no browser) --------------------------------------------------------

def test_metric_page_compute_and_errors():
    import ecr_hf

    module = ecr_hf.load_metric("weighted_soft_match")
    refs = json.dumps([[{"start": 0, "end": 10, "label": "finding"}]])
    preds = json.dumps([[{"start": 0, "end": 4, "label": "finding"}, {"start": 6, "end": 10, "label": "finding"}]])
    assert round(compute_from_json(module, refs, preds, '{"p": 2}')["f1"], 4) == 0.7226
    with pytest.raises(ValueError, match="predictions: not valid JSON at line 1 column 2"):
        compute_from_json(module, refs, "[x", "{}")
    with pytest.raises(ValueError, match="options: expected a JSON object"):
        compute_from_json(module, refs, preds, "[]")
    with pytest.raises(ValueError, match="document 0, span 0"):
        compute_from_json(module, refs, json.dumps([[{"start": 5, "end": 2}]]), "{}")


# -- the Space folder ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def space(board, wheel, tmp_path_factory):
    return write_space(tmp_path_factory.mktemp("space") / "leaderboard", board["results"], wheel=wheel)


def test_metric_space_folder(wheel, tmp_path):
    from huggingface_hub import RepoCard

    folder = write_metric_space(tmp_path / "wsm", "weighted_soft_match", wheel=wheel)
    card = RepoCard.load(folder / "README.md").data
    assert (card.sdk, card.sdk_version, card.app_file) == ("gradio", gr.__version__, "app.py")
    for name in ("app.py", "weighted_soft_match.py"):
        assert (folder / name).read_text() == (ROOT / "metrics" / "weighted_soft_match" / name).read_text()
    requirements = (folder / "requirements.txt").read_text().split()
    assert f"gradio=={gr.__version__}" in requirements and not any(r.startswith("ecr") for r in requirements)
    assert (folder / "ecr_hf" / "scoring" / "metric_app.py").is_file()
    demo = runpy.run_path(str(folder / "app.py"))["demo"]
    assert isinstance(demo, gr.Blocks)
    with pytest.raises(ValueError, match="no metric Space 'nope'"):
        write_metric_space(tmp_path / "nope", "nope", wheel=wheel)


def test_space_folder(space, board):
    from huggingface_hub import RepoCard

    card = RepoCard.load(space / "README.md").data
    assert (card.sdk, card.sdk_version, card.app_file) == ("gradio", gr.__version__, "app.py")
    requirements = (space / "requirements.txt").read_text().split()
    assert f"gradio=={gr.__version__}" in requirements
    assert {"datasets", "matplotlib"} <= {r.split(">")[0] for r in requirements}
    assert not any(r.startswith(("ecr-hf", "ecr_hf", "./")) for r in requirements)  # Spaces cannot install those
    for module in ("leaderboard/app.py", "leaderboard/results.py", "cli/__init__.py", "scoring/flat.py"):  # as built
        assert (space / "ecr_hf" / module).read_text() == (ROOT / "ecr_hf" / module).read_text()
    assert sorted(p.name for p in (space / "results").iterdir()) == sorted(p.name for p in board["results"].iterdir())
    assert not any("references" in str(p) for p in space.rglob("*"))
    with pytest.raises(OutputExistsError):
        write_space(space, board["results"])
    demo = runpy.run_path(str(space / "app.py"))["demo"]  # builds in-process, from the folder's results
    assert isinstance(demo, gr.Blocks)
    frames = [b for b in demo.blocks.values() if isinstance(b, gr.Dataframe)]
    assert {row[0] for row in frames[0].value["data"]} == {"dictionary", "smollm2-tc"}  # 'other', first by name


@pytest.mark.slow
def test_space_folder_runs_in_a_fresh_venv(space, tmp_path):
    """`pip install -r requirements.txt` into a new venv (from PyPI), then `python app.py` serves."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd=space, check=True)
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen([str(python), "app.py"], cwd=space, env=env)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", timeout=300)
    finally:
        proc.terminate()
        proc.wait(30)


# -- in the browser ------------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url, timeout):
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def _serve(demo):
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size=16 * 2**20)
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def app(board, tmp_path_factory):
    results = tmp_path_factory.mktemp("served") / "results"
    shutil.copytree(board["results"], results)
    demo = build_app(results, board["references"])
    url = _serve(demo)
    yield {"url": url, "results": results}
    demo.close()


def _idle(page):
    page.wait_for_function("() => !document.querySelector('.progress-text')", timeout=60000)


def _grid(page, view):
    """The shown cells of a table, row by row."""
    cells = page.locator(f"#table-{view} [role=gridcell]")
    texts = [c.inner_text().strip() for c in cells.all()]
    n = page.locator(f"#table-{view} [role=columnheader]").count()
    return [texts[i:i + n] for i in range(0, len(texts), n)]


def _choose(page, dataset):
    page.locator("#dataset input").click()
    page.get_by_role("option", name=dataset, exact=True).click()
    _idle(page)


def _open(browser, url):
    """The page, showing 'toy' (the data sets are listed by name: 'other' comes first)."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(url)
    page.wait_for_selector("#table-p [role=gridcell]")
    _idle(page)
    assert page.locator("#dataset input").input_value() == "other"
    _choose(page, "toy")
    return page


def test_browser_table_equals_results_files(browser, app, tmp_path):
    page = _open(browser, app["url"])
    files = {r["model_name"]: r for r in load_results(app["results"]).to_list() if r["dataset"] == "toy"}
    headers = [h.inner_text().strip() for h in page.locator("#table-p [role=columnheader]").all()]
    assert headers[:3] == ["system", "family", "p=1 F1"]
    grid = _grid(page, "p")
    assert [row[0] for row in grid] == sorted(files, key=lambda n: -files[n]["f1"])
    for row in grid:
        for title, cell in zip(headers[2:], row[2:]):
            p, metric = title[2:].split()
            key = f"p{p}_{dict(F1='f1', R='recall', P='precision')[metric]}"
            assert cell == f"{files[row[0]][key]:.3f} ({files[row[0]][key + '_sd']:.3f})", (row[0], title)
    best = max(files.values(), key=lambda r: r["f1"])["model_name"]
    weight = page.locator("#table-p [data-testid=cell-0-2]").evaluate("e => getComputedStyle(e).fontWeight")
    assert grid[0][0] == best and int(weight) >= 700
    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
    assert (tmp_path / "leaderboard.png").stat().st_size > 10_000
    page.close()


def test_browser_sort_switch_and_filter(browser, app):
    page = _open(browser, app["url"])
    files = {r["model_name"]: r for r in load_results(app["results"]).to_list() if r["dataset"] == "toy"}
    page.locator("#table-p [data-testid=header-3]").hover()  # its menu button shows on hover
    page.locator("#table-p [data-testid=header-3] button[aria-label='Open cell menu']").click()
    page.get_by_role("menuitem", name="Sort ascending").click()
    assert [row[0] for row in _grid(page, "p")] == sorted(files, key=lambda n: files[n]["recall"])
    _choose(page, "other")
    assert sorted(row[0] for row in _grid(page, "p")) == ["dictionary", "smollm2-tc"]
    page.get_by_label(FAMILIES["encoder"]).uncheck()
    _idle(page)
    assert [row[0] for row in _grid(page, "p")] == ["smollm2-tc"]
    page.get_by_role("tab", name="Plots").click()
    for name in ("p", "length", "folds"):  # matplotlib figures, rendered as images
        page.locator(f"#plot-{name} img").wait_for()
    page.close()


def test_browser_submissions(browser, app, board, tmp_path):
    page = _open(browser, app["url"])
    page.get_by_role("tab", name="Submit").click()
    before = sorted(p.name for p in app["results"].iterdir())
    rows = _submission(tmp_path / "sub.jsonl", board["folds"]).read_text().splitlines()
    line = json.loads(rows[5])
    line["entities"][0]["end"] = 350
    rows[5] = json.dumps(line)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(rows) + "\n")

    def submit(path, name):
        page.locator("#submit-name textarea, #submit-name input").first.fill(name)
        page.locator("#submit-file input[type=file]").set_input_files(str(path))
        page.wait_for_selector("#submit-file :text('.jsonl')")
        page.locator("#submit-button").click()
        page.wait_for_function("() => document.querySelector('#submit-status textarea').value !== ''")
        _idle(page)
        status = page.locator("#submit-status textarea").input_value()
        page.evaluate("() => { document.querySelector('#submit-status textarea').value = '' }")
        return status

    status = submit(bad, "new system")
    assert status.startswith("not added: line 6 (doc_id") and "out of range of the document" in status
    assert sorted(p.name for p in app["results"].iterdir()) == before
    page.get_by_role("tab", name="By p").click()
    systems = [row[0] for row in _grid(page, "p")]
    assert len(systems) == 3 and "new system" not in systems
    page.get_by_role("tab", name="Submit").click()
    status = submit(tmp_path / "sub.jsonl", "minilm")
    assert "already has results on toy" in status
    status = submit(tmp_path / "sub.jsonl", "new system")
    assert status.startswith("added 'new system' on toy")
    added = next(r for r in load_results(app["results"]).to_list() if r["model_name"] == "new system")
    page.get_by_role("tab", name="By p").click()
    page.locator("#table-p [role=gridcell]", has_text="new system").wait_for()
    row = next(row for row in _grid(page, "p") if row[0] == "new system")
    assert row[2] == f"{added['f1']:.3f} ({added['f1_sd']:.3f})"
    # the gold files are never served
    path = board["references"] / "toy" / "fold0" / "test.jsonl"
    for url in (f"{app['url']}gradio_api/file={path}", f"{app['url']}file={path}"):
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url, timeout=10)
    assert TEXT not in page.content()
    page.close()


@pytest.mark.parametrize("name, expected", [("weighted_soft_match", ("f1", 0.7226)), ("span_metrics", ("recall", 0.5))])
def test_browser_metric_pages(browser, name, expected):
    demo = runpy.run_path(str(ROOT / "metrics" / name / "app.py"))["demo"]
    url = _serve(demo)
    try:
        page = browser.new_page()
        page.goto(url)
        page.locator("#compute").click()
        page.wait_for_selector("#scores :text('n_documents')")
        text = page.locator("#scores").inner_text()
        key, value = expected
        assert f'"{key}"' in text.replace("'", '"') or key in text
        assert str(value) in text
        page.locator("#predictions textarea").fill("[[{\"start\": 5, \"end\": 2}]]")
        page.locator("#compute").click()
        page.wait_for_function("() => document.querySelector('#status textarea').value.startsWith('error')")
        assert "document 0, span 0" in page.locator("#status textarea").input_value()
        page.close()
    finally:
        demo.close()


def test_browser_errors_tab(browser, app, tmp_path):
    """The Errors tab shows the error browser of the two uploaded files, in an iframe; the references
    as PubTator (gradio keeps an upload's name, so its suffix tells the format)."""
    _, pred, docs, preds = _error_files(tmp_path)
    refs = write_pubtator(docs, tmp_path / "refs.pubtator")
    analysis = analyze_errors([d["entities"] for d in docs], [preds[d["doc_id"]] for d in docs],
                              texts=[d["text"] for d in docs])
    page = _open(browser, app["url"])
    page.get_by_role("tab", name="Errors").click()
    assert TEXT not in page.content()  # nothing of the server's references
    page.locator("#errors-references input[type=file]").set_input_files(str(refs))
    page.locator("#errors-predictions input[type=file]").set_input_files(str(pred))
    page.wait_for_selector("#errors-references :text('.pubtator')")
    page.wait_for_selector("#errors-predictions :text('.jsonl')")
    page.locator("#errors-button").click()
    assert page.locator("#errors-view iframe").get_attribute("sandbox") == "allow-scripts"  # away from the app
    frame = page.frame_locator("#errors-view iframe")
    frame.locator("body[data-ready='1']").wait_for(timeout=30000)
    counts = {k: int(frame.locator(f".count[data-kind={k}]").inner_text()) for k in ERROR_CLASSES}
    assert counts == {k: analysis.counts[k] for k in ERROR_CLASSES}
    assert frame.locator("#errors tbody tr").count() == len(analysis.errors)
    strict = semeval_scores([d["entities"] for d in docs], [preds[d["doc_id"]] for d in docs])["strict"]
    assert frame.locator("#semeval tr[data-schema=strict] td[data-col=MIS]").inner_text() == str(strict["missed"])
    frame.locator("#f-class label", has_text="missed").locator("input").uncheck()
    assert frame.locator("#errors tbody tr").count() == len(analysis.errors) - analysis.counts["missed"]
    assert page.locator("#errors-download a").first.get_attribute("href")
    page.screenshot(path=str(tmp_path / "errors_tab.png"), full_page=True)
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"doc_id": "doc0", "entities": []}])
    page.locator("#errors-predictions button[aria-label='Clear']").click()
    page.locator("#errors-predictions input[type=file]").set_input_files(str(bad))
    page.wait_for_selector("#errors-predictions :text('bad')")
    page.locator("#errors-button").click()
    page.wait_for_function("() => document.querySelector('#errors-status textarea').value.startsWith('error')")
    assert "the files hold different documents" in page.locator("#errors-status textarea").input_value()
    page.close()


def test_error_pages_to_download_are_pruned_after_an_hour(tmp_path):
    first = _keep_error_page(tmp_path, "<p>one</p>")
    second = _keep_error_page(tmp_path, "<p>two</p>")
    assert first != second and first.read_text() == "<p>one</p>" and second.read_text() == "<p>two</p>"
    hour_ago = time.time() - 3601
    os.utime(first, (hour_ago, hour_ago))
    third = _keep_error_page(tmp_path, "<p>three</p>")
    assert not first.exists() and second.exists() and third.exists()
    (tmp_path / "other.txt").write_text("not ours")
    os.utime(tmp_path / "other.txt", (hour_ago, hour_ago))
    _keep_error_page(tmp_path, "<p>four</p>", max_age=0)
    assert (tmp_path / "other.txt").exists() and len(list(tmp_path.glob("report-*.html"))) == 1
