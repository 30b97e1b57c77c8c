"""Attribute buckets (:mod:`ecr_hf.scoring.buckets`) on a corpus worked by hand.

Words are ``\\w+`` runs or single other non-space characters, lower-cased.

Training corpus: "fever and cough" (fever S, cough S), "chest pain, fever" (chest pain D, fever S),
"cough" (cough D). Mentions: fever {S: 2}, cough {S: 1, D: 1}, chest pain {D: 1}. Vocabulary: fever,
and, cough, chest, pain, ",".

Test corpus:

* doc 0 "fever with cough": 3 words (sLen 3), "with" out of vocabulary (oDen 1/3), 2 gold spans (eDen 2/3);
  gold g0 [0, 5) fever S, g1 [11, 16) cough S; predicted q0 [0, 5) fever S (exact), q1 [11, 14) "cou" S;
* doc 1 "sudden chest pain.": 4 words (sLen 4), "sudden" and "." out of vocabulary (oDen 2/4), eDen 2/4;
  gold g2 [0, 6) sudden S, g3 [7, 17) chest pain D; predicted q2 [7, 12) chest D, q3 [13, 17) pain D,
  q4 [0, 3) "sud" S.

Per gold span (chars, words, eCon, eFre) and its soft score at p = 1 (fraction found) and p = 2:
g0 (5, 1, consistent, 2) 1, 1; g1 (5, 1, inconsistent: S and D in training, 2) 3/5, 3/5;
g2 (6, 1, unseen, 0) 1/2, 1/2; g3 (10, 2, consistent, 1) 9/10, sqrt(0.5**2 + 0.4**2).
Per predicted span (chars, eCon, eFre): q0 (5, consistent, 2), q1 (3, unseen: "cou", 0), q2 (5, unseen: "chest"
alone is no training mention, 0), q3 (4, unseen, 0), q4 (3, unseen, 0); every one lies inside a gold span
(precision 1). Strict: only q0 = g0.

Buckets (InterpretEval's edges: integers lo <= x <= hi, densities lo < x <= hi, (v, v) the value alone):
elen_chars 3-6: gold g0 g1 g2, recall (5 + 3 + 3) / 16, strict 1/3; predicted all five, precision 1,
strict 1/5; 7-10: g3, recall 9/10, no prediction (precision 0). econ consistent: g0 g3, recall 14/15; q0.
efre 2-4: g0 g1 recall 8/10; q0. eden with buckets (0, 0), (0, 0.5], (0.5, ...): doc 1's 0.5 is in
"0-0.5", doc 0's 2/3 in "0.5+". Unseen recall: g2 alone, 3/6.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

import ecr_hf
from ecr_hf.cli import main
from ecr_hf.scoring import bootstrap, bucket_flat, bucket_rows, bucket_scores

TRAIN = (["fever and cough", "chest pain, fever", "cough"],
         [[(0, 5, "S"), (10, 15, "S")], [(0, 10, "D"), (12, 17, "S")], [(0, 5, "D")]])
TEXTS = ["fever with cough", "sudden chest pain."]
GOLD = [[(0, 5, "S"), (11, 16, "S")], [(0, 6, "S"), (7, 17, "D")]]
PRED = [[(0, 5, "S"), (11, 14, "S")], [(7, 12, "D"), (13, 17, "D"), (0, 3, "S")]]
BUCKETS = {"slen": [(1, 3), (4, None)], "eden": [(0, 0), (0, 0.5), (0.5, None)], "oden": [(0, 0.4), (0.4, None)]}


@pytest.fixture(scope="module")
def result():
    return bucket_scores(GOLD, PRED, texts=TEXTS, train=TRAIN, p_values=[1, 2], buckets=BUCKETS)


def test_attribute_values_by_hand(result):
    values = {a: {side: list(np.asarray(v).tolist()) for side, v in sides.items()}
              for a, sides in result["values"].items()}
    assert values["elen_chars"] == {"gold": [5, 5, 6, 10], "pred": [5, 3, 5, 4, 3]}
    assert values["elen_words"] == {"gold": [1, 1, 1, 2], "pred": [1, 1, 1, 1, 1]}
    assert values["econ"] == {"gold": ["consistent", "inconsistent", "unseen", "consistent"],
                              "pred": ["consistent", "unseen", "unseen", "unseen", "unseen"]}
    assert values["efre"] == {"gold": [2, 2, 0, 1], "pred": [2, 0, 0, 0, 0]}
    assert values["slen"] == {"gold": [3, 3, 4, 4], "pred": [3, 3, 4, 4, 4]}
    assert values["eden"]["gold"] == pytest.approx([2 / 3, 2 / 3, 0.5, 0.5])
    assert values["oden"]["pred"] == pytest.approx([1 / 3, 1 / 3, 0.5, 0.5, 0.5])
    assert values["label"] == {"gold": ["S", "S", "S", "D"], "pred": ["S", "S", "D", "D", "S"]}


def test_bucket_edges_and_scores_by_hand(result):
    a = result["attributes"]
    assert list(a["elen_chars"]) == ["1-2", "3-6", "7-10", "11-20", "21+"]
    assert list(a["elen_words"]) == ["1", "2", "3-4", "5+"] and list(a["efre"]) == ["0", "1", "2-4", "5+"]
    assert list(a["econ"]) == ["consistent", "inconsistent", "unseen"]
    assert list(a["eden"]) == ["0", "0-0.5", "0.5+"]
    # the edge: doc 1's density 0.5 is in (0, 0.5], doc 0's 2/3 above it
    assert (a["eden"]["0-0.5"]["n_gold"], a["eden"]["0.5+"]["n_gold"], a["eden"]["0"]["n_gold"]) == (2, 2, 0)
    assert (a["oden"]["0-0.4"]["n_pred"], a["oden"]["0.4+"]["n_pred"]) == (2, 3)
    mid = a["elen_chars"]["3-6"]
    assert (mid["n_gold"], mid["n_pred"]) == (3, 5)
    assert mid["p"][1.0]["recall"] == pytest.approx(11 / 16) and mid["p"][1.0]["precision"] == 1.0
    assert mid["p"][1.0]["f1"] == pytest.approx(2 * 11 / 16 / (1 + 11 / 16))
    assert mid["strict"]["recall"] == pytest.approx(1 / 3) and mid["strict"]["precision"] == pytest.approx(1 / 5)
    long = a["elen_chars"]["7-10"]
    assert long["p"][1.0]["recall"] == pytest.approx(0.9) and long["p"][1.0]["precision"] == 0.0
    assert long["p"][2.0]["recall"] == pytest.approx(math.sqrt(0.41))
    assert a["econ"]["consistent"]["p"][1.0]["recall"] == pytest.approx(14 / 15)
    assert a["econ"]["inconsistent"]["p"][1.0]["recall"] == pytest.approx(3 / 5)
    assert a["efre"]["2-4"]["p"][1.0]["recall"] == pytest.approx(8 / 10)
    assert a["slen"]["4+"]["p"][1.0]["recall"] == pytest.approx(12 / 16)
    assert a["label"]["D"]["p"][1.0]["recall"] == pytest.approx(0.9)
    assert result["unseen_recall"] == pytest.approx(0.5)


def test_every_bucket_is_span_metrics_on_its_subset(result):
    """Recall: the bucket's gold spans against every prediction; precision: its predictions against all gold."""
    def subset(corpus, mask):
        flat = iter(mask)
        return [[s for s in doc if next(flat)] for doc in corpus]

    checked = 0
    for attribute, by_bucket in result["attributes"].items():
        g_val, q_val = (np.asarray(v) for v in result["values"][attribute].values())
        for name, entry in by_bucket.items():
            g_mask = np.array([name == b for b in _bucket_of(attribute, g_val)], dtype=bool)
            q_mask = np.array([name == b for b in _bucket_of(attribute, q_val)], dtype=bool)
            assert (entry["n_gold"], entry["n_pred"]) == (g_mask.sum(), q_mask.sum()), (attribute, name)
            by_recall = ecr_hf.span_metrics(subset(GOLD, g_mask), PRED, texts=TEXTS, p_values=[1, 2])
            by_precision = ecr_hf.span_metrics(GOLD, subset(PRED, q_mask), texts=TEXTS, p_values=[1, 2])
            for p in (1, 2):
                assert entry["p"][float(p)]["recall"] == pytest.approx(by_recall[f"p{p}_recall"]), (attribute, name)
                assert entry["p"][float(p)]["precision"] == pytest.approx(by_precision[f"p{p}_precision"])
            assert entry["strict"]["recall"] == pytest.approx(by_recall["strict_recall"])
            assert entry["strict"]["precision"] == pytest.approx(by_precision["strict_precision"])
            checked += 1
    assert checked == 5 + 4 + 3 + 4 + 2 + 3 + 2 + 2


def _bucket_of(attribute: str, values: np.ndarray) -> list[str]:
    """The bucket of each value, written out from the module docstring's rule for this test's buckets."""
    if attribute in ("econ", "label"):
        return [str(v) for v in values]
    table = {"elen_chars": [(1, 2, "1-2"), (3, 6, "3-6"), (7, 10, "7-10"), (11, 20, "11-20"), (21, 1e9, "21+")],
             "elen_words": [(1, 1, "1"), (2, 2, "2"), (3, 4, "3-4"), (5, 1e9, "5+")],
             "efre": [(0, 0, "0"), (1, 1, "1"), (2, 4, "2-4"), (5, 1e9, "5+")],
             "slen": [(1, 3, "1-3"), (4, 1e9, "4+")]}
    if attribute in table:
        return [next((n for lo, hi, n in table[attribute] if lo <= v <= hi), "") for v in values]
    edges = {"eden": [(0, 0, "0"), (0, 0.5, "0-0.5"), (0.5, 1e9, "0.5+")],
             "oden": [(0, 0.4, "0-0.4"), (0.4, 1e9, "0.4+")]}[attribute]
    return [next((n for lo, hi, n in edges if (v == lo if lo == hi else lo < v <= hi)), "") for v in values]


def test_flat_keys(result):
    flat = bucket_flat(result)
    assert flat["bucket_elen_chars_3-6_recall"] == pytest.approx(11 / 16)  # the first p
    assert flat["bucket_elen_chars_7-10_p2_recall"] == pytest.approx(math.sqrt(0.41))
    assert flat["bucket_econ_unseen_strict_precision"] == 0.0 and flat["bucket_label_D_n_gold"] == 1.0
    assert flat["unseen_recall"] == pytest.approx(0.5)
    assert len(bucket_rows(result)) == 25


def test_document_bootstrap_per_bucket():
    result = bucket_scores(GOLD, PRED, texts=TEXTS, train=TRAIN, p_values=[1, 2], buckets=BUCKETS, per_document=True)
    counts = result["document_counts"]
    flat = bucket_flat(result)
    estimates = counts.estimate()
    assert set(estimates) <= set(flat) and "bucket_slen_4+_p2_f1" in estimates
    assert estimates == pytest.approx({k: flat[k] for k in estimates})
    intervals = bootstrap(counts, n_resamples=50, rng=0).intervals
    ci = intervals["bucket_slen_4+_recall"]  # one document in the bucket: every resample is 0 or 0.75
    assert ci.estimate == pytest.approx(0.75) and 0.0 <= ci.low <= ci.high <= 0.75


def test_attributes_that_need_training_data():
    plain = bucket_scores(GOLD, PRED, texts=TEXTS)
    assert list(plain["attributes"]) == ["elen_chars", "elen_words", "slen", "eden", "label"]
    assert "unseen_recall" not in plain
    with pytest.raises(ValueError, match=r"\['econ', 'oden'\] need the training corpus"):
        bucket_scores(GOLD, PRED, texts=TEXTS, attributes=["econ", "slen", "oden"])
    with pytest.raises(ValueError, match="unknown attributes"):
        bucket_scores(GOLD, PRED, texts=TEXTS, attributes=["eLen"])
    with pytest.raises(ValueError, match="invalid"):
        bucket_scores(GOLD, PRED, texts=TEXTS, buckets={"slen": [(2.5, 3)]})
    with pytest.raises(ValueError, match="texts"):
        bucket_scores(GOLD, PRED, texts=None)


def write_jsonl(path: Path, texts, corpus) -> str:
    rows = [{"doc_id": f"d{k}", **({"text": t} if t is not None else {}),
             "entities": [{"start": s, "end": e, "label": label} for s, e, label in doc]}
            for k, (t, doc) in enumerate(zip(texts, corpus))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_cli_from_files(tmp_path, capsys):
    refs = write_jsonl(tmp_path / "refs.jsonl", TEXTS, GOLD)
    preds = write_jsonl(tmp_path / "preds.jsonl", [None, None], PRED)
    train = write_jsonl(tmp_path / "train.jsonl", *TRAIN)
    out = tmp_path / "buckets.csv"
    assert main(["buckets", "--references", refs, "--predictions", preds, "--train", train, "--p", "1", "2",
                 "--format", "csv", "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    expected = bucket_rows(bucket_scores(GOLD, PRED, texts=TEXTS, train=TRAIN, p_values=[1, 2]))
    assert [(r["attribute"], r["bucket"]) for r in rows] == [(r["attribute"], r["bucket"]) for r in expected]
    for got, want in zip(rows, expected):
        assert {k: float(v) for k, v in got.items() if k not in ("attribute", "bucket")} == pytest.approx(
            {k: float(v) for k, v in want.items() if k not in ("attribute", "bucket")})
    assert main(["buckets", "--references", refs, "--predictions", preds, "--train", train, "--format", "csv",
                 "--output", str(out)]) == 2  # an existing output
    capsys.readouterr()
    assert main(["buckets", "--references", refs, "--predictions", preds, "--train", train,
                 "--attributes", "econ", "label"]) == 0
    table = capsys.readouterr().out
    assert "econ unseen" in table and "label D" in table and "unseen recall" in table and "0.5000" in table
    assert main(["buckets", "--references", refs, "--predictions", preds, "--attributes", "label", "--intervals",
                 "20", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(rows[0]["p1_f1_ci_low"]) <= float(rows[0]["p1_f1"]) <= float(rows[0]["p1_f1_ci_high"])
    assert main(["buckets", "--references", refs, "--predictions", preds, "--attributes", "efre"]) == 2
    assert "['efre'] need the training corpus" in capsys.readouterr().err
