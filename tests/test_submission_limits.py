"""Bounded, validated submissions: the limits on free text, lines, spans and labels, messages that tell
nothing of the hidden references, the ignored ``text`` of prediction lines, and confusable names."""

import json
import re
import time

import pytest
from test_app_requests import _board, _server

import ecr_hf.leaderboard.app as app
from ecr_hf.leaderboard.app import (MAX_METHOD_CHARS, MAX_NAME_CHARS, MAX_SPANS_PER_DOCUMENT, Leaderboard,
                                    SubmissionError, load_references, name_keys, score_submission)

TEXT = "The patient had lung cancer and mild diabetes."  # hidden: 46 characters
GOLD = [{"start": 16, "end": 27, "label": "Disease"}, {"start": 37, "end": 45, "label": "Disease"}]


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def refs(tmp_path):
    """One data set, 'toy', of two folds of three documents each."""
    for k in range(2):
        _write(tmp_path / "references" / "toy" / f"fold{k}" / "test.jsonl",
               [{"doc_id": f"d{k}{i}", "text": TEXT, "entities": GOLD} for i in range(3)])
    return load_references(tmp_path / "references")["toy"]


def _lines(refs, **changes):
    """One prediction line per test document (the gold spans), the first changed by ``changes``."""
    rows = [{"doc_id": key, "entities": GOLD} for fold in refs.folds for key in fold]
    rows[0] = {**rows[0], **changes}
    return rows


@pytest.fixture
def server(tmp_path):
    return _server(tmp_path)


# -- free text -------------------------------------------------------------------------------------

def test_method_and_name_limits(server, monkeypatch):
    board = _board(server)
    monkeypatch.setattr(app, "score_submission", lambda *a, **k: pytest.fail("scored a refused entry"))
    long = "x" * 20_000
    with pytest.raises(SubmissionError, match=f"method: 20,000 characters; the limit is {MAX_METHOD_CHARS}"):
        board.submit("unused.jsonl", dataset="toy", model_name="new", family="encoder", method=long)
    with pytest.raises(SubmissionError, match=f"method: 201 characters .after Unicode NFKC normalisation."):
        board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name="new", family="encoder",
                           method="y" * 201)
    with pytest.raises(SubmissionError, match="method: .*limit"):  # one character that NFKC makes 18
        board.submit("unused.jsonl", dataset="toy", model_name="new", family="encoder", method="\ufdfa" * 20)
    with pytest.raises(SubmissionError, match=f"system name: 101 characters .*the limit is {MAX_NAME_CHARS}"):
        board.submit("unused.jsonl", dataset="toy", model_name="n" * 101, family="encoder")
    with pytest.raises(SubmissionError, match=f"give a system name of 1-{MAX_NAME_CHARS} letters"):
        board.submit("unused.jsonl", dataset="toy", model_name="new;", family="encoder")
    for field, kw in (("system name", {"model_name": "new\u202ename"}), ("method", {"method": "LoRA\nr=8"}),
                      ("method", {"method": "LoRA\x00"})):
        with pytest.raises(SubmissionError, match=f"{field}: control or invisible character U\\+"):
            board.submit("unused.jsonl", dataset="toy", family="encoder", **{"model_name": "new", **kw})
    request = board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name="ｎｅｗ", family="encoder",
                                 method=" LoRA ｒ=8 ")
    assert (request.model_name, request.method) == ("new", "LoRA r=8")  # stored as NFKC


# -- lines, spans and labels -----------------------------------------------------------------------

def test_more_lines_than_test_documents_is_refused(refs, tmp_path):
    rows = _lines(refs) + [{"doc_id": "extra", "entities": []}]
    with pytest.raises(SubmissionError, match="the file has 7 lines but toy has 6 test documents"):
        score_submission(_write(tmp_path / "p.jsonl", rows), refs)


def test_spans_per_document_are_bounded(refs, tmp_path):
    many = [{"start": 0, "end": 3, "label": "Disease"}] * (MAX_SPANS_PER_DOCUMENT + 1)
    with pytest.raises(SubmissionError, match=r"line 1 \(doc_id 'd00'\): 1,001 spans; the limit is 1,000"):
        score_submission(_write(tmp_path / "p.jsonl", _lines(refs, entities=many)), refs)
    marked = "@@a## " * (MAX_SPANS_PER_DOCUMENT + 1)
    with pytest.raises(SubmissionError, match="1,001 spans"):
        score_submission(_write(tmp_path / "m.jsonl", _lines(refs, entities=None, marked=marked)), refs)
    assert score_submission(_write(tmp_path / "ok.jsonl", _lines(refs, entities=many[:-1])), refs).mean()["f1"] < 1


def test_thousands_of_made_up_labels_are_refused_before_scoring(refs, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "cross_validate", lambda *a, **k: pytest.fail("scored made-up labels"))
    spans = [{"start": 16, "end": 27, "label": f"L{i}"} for i in range(3_000)]
    rows = [{"doc_id": row["doc_id"], "entities": spans[k::6]} for k, row in enumerate(_lines(refs))]
    start = time.perf_counter()
    with pytest.raises(SubmissionError) as info:
        score_submission(_write(tmp_path / "p.jsonl", rows), refs)
    assert time.perf_counter() - start < 5
    assert str(info.value).startswith("3,000 predicted labels that toy does not have: 'L0' (line 1), 'L6' (line 1)")
    assert str(info.value).count("(line") == 5 and ", ..." in str(info.value)
    with pytest.raises(SubmissionError, match=r"^1 predicted label that toy does not have: 'Gene' \(line 1\);"):
        score_submission(_write(tmp_path / "q.jsonl", _lines(refs, entities=[{**GOLD[0], "label": "Gene"}])), refs)


# -- nothing told of the hidden references ---------------------------------------------------------

@pytest.mark.parametrize("end", [47, 60, 1_000])
def test_out_of_range_offsets_do_not_tell_the_length(refs, tmp_path, end):
    rows = _lines(refs, entities=[{"start": 16, "end": end, "label": "Disease"}])
    with pytest.raises(SubmissionError, match=r"span 0: offset \d+ is out of range of the document") as info:
        score_submission(_write(tmp_path / "p.jsonl", rows), refs)
    assert str(len(TEXT)) not in re.findall(r"\d+", str(info.value))
    assert "length" not in str(info.value)


def test_a_lines_text_is_never_compared_with_the_hidden_text(refs, tmp_path):
    """No oracle: a wrong guess of the text, the right one and none give the same result."""
    scores = [score_submission(_write(tmp_path / f"p{i}.jsonl", _lines(refs, **text)), refs).mean()
              for i, text in enumerate([{}, {"text": "a wrong guess"}, {"text": TEXT}])]
    assert scores[0] == scores[1] == scores[2]


# -- names that only look alike --------------------------------------------------------------------

def test_name_keys_meet_confusables():
    for name in ["bаse", "ｂａｓｅ", "BASE", "Ваѕе", "ВАЅЕ", "bаѕе"]:
        assert name_keys(name) & name_keys("base"), name
    for name in ["ΒΕRΤ", "BЕRT", "bert"]:  # Greek; Latin with a Cyrillic Е
        assert name_keys(name) & name_keys("BERT"), name
    assert name_keys("minilm") & name_keys("rnini1m")  # rn looks like m, 1 like l
    assert not name_keys("base") & name_keys("bass")


@pytest.mark.parametrize("name", ["bаseline", "ｂａｓｅｌｉｎｅ", "BАSELINE", "bаsеlіnе"])
def test_confusable_names_are_refused(server, name):
    board = _board(server)
    with pytest.raises(SubmissionError, match="a system named 'baseline' already has results on toy"):
        board.submit("unused.jsonl", dataset="toy", model_name=name, family="encoder")
    with pytest.raises(SubmissionError, match="already has results on toy"):
        board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name=name, family="encoder")
    board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name="queued", family="encoder")
    with pytest.raises(SubmissionError, match="for a system named 'queued' on toy is PENDING"):
        board.submit_model("submitted/fold{k}.jsonl", datasets=["toy"], model_name="qսеսеd", family="encoder")
    with pytest.raises(SubmissionError, match="for a system named 'queued' on toy is PENDING"):
        Leaderboard(board.results_dir, board.references_dir, requests_dir=server["config"].requests_dir).submit(
            "unused.jsonl", dataset="toy", model_name="QUEUЕD", family="encoder")
