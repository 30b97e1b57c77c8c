"""Error classification and costs (ecr_hf.error_analysis.analysis): hand-worked cases, and properties that hold
for any input (every span in exactly one outcome; costs add up to the metric's loss)."""

import doctest
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_hf.error_analysis import analysis as error_analysis
from ecr_hf.error_analysis import ERROR_CLASSES, analyze_errors
from ecr_hf.scoring import soft_match_scores
from ecr_hf.spans import SpanError

TEXT = "".join(chr(97 + k % 26) for k in range(200))
# one document with one case of each outcome, 10 characters apart
GOLD = [(0, 10, "X"), (20, 30, "X"), (50, 60, "X"), (70, 75, "X"), (76, 80, "X"), (90, 100, "X"), (110, 120, "X"),
        (130, 140, "X"), (150, 160, "X"), (155, 158, "X")]
PRED = [(0, 10, "X"), (40, 45, "Y"), (50, 55, "X"), (57, 60, "X"), (70, 80, "X"), (90, 100, "Y"), (112, 125, "X"),
        (135, 145, "Y"), (150, 160, "X")]


def _by_start(analysis):
    return {e.start: e for e in analysis.errors}


def test_each_class_by_hand():
    out = analyze_errors([GOLD], [PRED], texts=[TEXT], doc_ids=["d0"], p_values=[1, 2])
    errors = _by_start(out)
    expected = {  # start: (class, label, length bin, cost in characters at p=1)
        20: ("missed", "X", "7-10", 10.0),
        40: ("spurious", "Y", "3-6", 5.0),
        50: ("fragmented", "X", "7-10", 2.0),  # 8 of 10 gold characters found; the pieces lose nothing
        70: ("merged", "X", "3-6", 1.0),  # the prediction covers the gap at 75
        90: ("wrong_type", "X", "7-10", 0.0),  # untyped: the metric does not see the label
        110: ("boundary", "X", "7-10", 7.0),  # gold 2 characters missing, prediction 5 extra
        130: ("wrong_type", "X", "7-10", 10.0),  # different label and boundaries: the type comes first
    }
    assert {k: (e.kind, e.label, e.length_bin, round(e.cost, 9)) for k, e in errors.items()} == expected
    assert out.counts == {"missed": 1, "spurious": 1, "fragmented": 1, "merged": 1, "wrong_type": 2, "boundary": 1,
                          "correct": 2}  # (0, 10) and the merged nested gold spans at 150
    assert out.gold_spans["merged"] == 2 and out.pred_spans["fragmented"] == 2
    assert sum(out.gold_spans.values()) == 9 and sum(out.pred_spans.values()) == 9  # 155-158 merged into 150-160
    frag = errors[50]
    assert [(s.start, s.end, s.text) for s in frag.pred] == [(50, 55, TEXT[50:55]), (57, 60, TEXT[57:60])]
    assert frag.gold[0].scores[1.0] == pytest.approx(0.8)
    assert frag.gold[0].scores[2.0] == pytest.approx(math.sqrt(0.5**2 + 0.3**2))
    assert frag.doc_id == "d0" and (frag.start, frag.end) == (50, 60)
    assert errors[90].pred[0].label == "Y" and errors[20].gold[0].text == TEXT[20:30]
    assert [e.cost for e in out.errors] == sorted((e.cost for e in out.errors), reverse=True)
    # F1 points: the costs over gold + predicted characters, summing to 1 - F1 at p = 1
    scores = soft_match_scores([GOLD], [PRED], p_values=[1])["p"][1.0]
    assert sum(e.cost_f1 for e in out.errors) == pytest.approx(1 - scores["f1"])


def test_costs_at_another_p_and_typed():
    out = analyze_errors([GOLD], [PRED], p_values=[1, 2], score_p=2)
    assert _by_start(out)[50].cost == pytest.approx(10 * (1 - math.sqrt(0.34)))
    typed = _by_start(analyze_errors([GOLD], [PRED], typed=True))
    assert typed[90].cost == 20.0  # typed: the gold span is missed and the prediction spurious
    assert typed[130].cost == 20.0 and typed[130].kind == "wrong_type"
    assert analyze_errors([GOLD], [PRED], score_p=1.5).p_values == (1.0, 1.5, 2.0, 100.0)
    assert analyze_errors([GOLD], [PRED], p_values=[2], score_p=1).p_values == (2.0, 1.0)


def test_typed_keeps_overlapping_spans_of_two_labels():
    gold = [[(0, 10, "A"), (5, 15, "B")]]
    out = analyze_errors(gold, [[(0, 10, "A")]], typed=True)
    # untyped the two gold spans would be one; typed they are two, both overlapping the prediction
    assert [(e.kind, len(e.gold), e.cost) for e in out.errors] == [("merged", 2, 10.0)]
    assert analyze_errors(gold, [[(0, 10, "A")]]).errors[0].kind == "boundary"


def test_documents_labels_bins_and_errors():
    out = analyze_errors([[(0, 3)], [], [(0, 40, "L")]], [[], [(2, 4)], [(0, 40, "L")]],
                         length_bins=[(1, 2), (3, 6)])
    assert [(e.kind, e.doc, e.doc_id, e.label, e.length_bin) for e in out.errors] == [
        ("missed", 0, 0, "_", "3-6"), ("spurious", 1, 1, "_", "1-2")]
    assert out.length_bins == ("1-2", "3-6")  # 'other' only where an error falls outside the bins
    assert analyze_errors([[(0, 40)]], [[]], length_bins=[(1, 2)]).errors[0].length_bin == "other"
    assert analyze_errors([[]], [[]]).errors == []
    with pytest.raises(ValueError, match="got 1 doc_ids for 2 documents"):
        analyze_errors([[], []], [[], []], doc_ids=["a"])
    with pytest.raises(SpanError, match="document 1, span 0: end 9 is past the end"):
        analyze_errors([[], [(0, 9)]], [[], []], texts=["abc", "abc"])
    with pytest.raises(SpanError, match="predictions has 1 documents but references has 2"):
        analyze_errors([[], []], [[]])
    with pytest.raises(ValueError, match="score_p must be >= 1"):
        analyze_errors([[]], [[]], score_p=0.5)
    with pytest.raises(ValueError, match="length bin"):
        analyze_errors([[]], [[]], length_bins=[(3, 1)])


@st.composite
def corpora(draw):
    n_docs = draw(st.integers(1, 4))
    span = st.tuples(st.integers(0, 40), st.integers(1, 12), st.sampled_from(["A", "B", None])).map(
        lambda t: (t[0], t[0] + t[1], t[2]))
    gold = [draw(st.lists(span, max_size=6)) for _ in range(n_docs)]
    pred = [draw(st.lists(span, max_size=6)) for _ in range(n_docs)]
    return gold, pred


@settings(max_examples=150, deadline=None)
@given(corpora(), st.sampled_from([1.0, 1.5, 2.0, math.inf]), st.booleans())
def test_every_span_has_one_outcome_and_costs_add_up(data, score_p, typed):
    gold, pred = data
    out = analyze_errors(gold, pred, p_values=[1, score_p], score_p=score_p, typed=typed)
    scores = out.scores
    assert sum(out.gold_spans.values()) == scores["n_gold"] and sum(out.pred_spans.values()) == scores["n_pred"]
    in_errors = [(e.doc, s.start, s.end, s.label) for e in out.errors for s in e.gold]
    assert len(in_errors) == len(set(in_errors)) == scores["n_gold"] - out.gold_spans["correct"]
    in_errors_pred = [(e.doc, s.start, s.end, s.label) for e in out.errors for s in e.pred]
    assert len(in_errors_pred) == len(set(in_errors_pred)) == scores["n_pred"] - out.pred_spans["correct"]
    assert out.counts["correct"] == out.gold_spans["correct"] == out.pred_spans["correct"]  # one of each
    assert sum(out.counts[k] for k in ERROR_CLASSES) == len(out.errors)
    entry = scores["p"][score_p]
    assert sum(e.cost for e in out.errors) == pytest.approx(entry["fn"] + entry["fp"], abs=1e-9)
    assert out.total_cost == pytest.approx(entry["fn"] + entry["fp"])
    for e in out.errors:
        assert e.cost >= -1e-12
        n_g, n_p = len(e.gold), len(e.pred)
        shape = {"missed": (n_g == 1 and n_p == 0), "spurious": (n_g == 0 and n_p == 1),
                 "fragmented": n_g >= 1 and n_p >= 2, "merged": n_g >= 2 and n_p >= 1,
                 "wrong_type": n_g == n_p == 1 and e.gold[0].label != e.pred[0].label,
                 "boundary": n_g == n_p == 1 and e.gold[0].label == e.pred[0].label
                 and (e.gold[0].start, e.gold[0].end) != (e.pred[0].start, e.pred[0].end)}
        assert shape[e.kind], e
    if entry["f1"] == entry["f1"] and score_p == 1.0 and scores["gold_chars"] + scores["pred_chars"]:
        assert sum(e.cost_f1 for e in out.errors) == pytest.approx(1 - entry["f1"], abs=1e-9)
    # the same spans in another order: the same errors
    rng = random.Random(0)
    shuffled = [rng.sample(d, len(d)) for d in pred]
    again = analyze_errors(gold, shuffled, p_values=[1, score_p], score_p=score_p, typed=typed)
    assert again.errors == out.errors and again.counts == out.counts


def test_doctests():
    assert doctest.testmod(error_analysis).failed == 0


@st.composite
def disjoint_spans(draw):
    """Spans of one side that do not overlap (so merging leaves them as given)."""
    spans, at = [], draw(st.integers(0, 3))
    for _ in range(draw(st.integers(0, 5))):
        length, gap = draw(st.integers(1, 8)), draw(st.integers(0, 4))
        spans.append((at, at + length, draw(st.sampled_from(["A", "B"]))))
        at += length + gap
    return spans


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(disjoint_spans(), disjoint_spans()), min_size=1, max_size=3))
def test_classes_agree_with_the_semeval_span_categories(docs):
    """Where an outcome is one gold and at most one predicted span, its class is what nervaluate's
    per-span categories (ecr_hf.scoring.semeval.semeval_spans) say of those spans."""
    from ecr_hf.scoring import semeval_spans

    gold, pred = [g for g, _ in docs], [p for _, p in docs]
    categories = semeval_spans(gold, pred)
    by_span = {(d, side, r["start"], r["end"], r["label"]): r for d, doc in enumerate(categories)
               for side in ("gold", "pred") for r in doc[side]}
    out = analyze_errors(gold, pred)
    expected = {"missed": {"strict": "MIS"}, "spurious": {"strict": "SPU"},
                "wrong_type": {"strict": "INC", "ent_type": "INC"},
                "boundary": {"strict": "INC", "partial": "PAR", "ent_type": "COR"}}
    for e in out.errors:
        if e.kind in expected:
            for side, spans in (("gold", e.gold), ("pred", e.pred)):
                for s in spans:
                    record = by_span[(e.doc, side, s.start, s.end, s.label)]
                    assert {k: record[k] for k in expected[e.kind]} == expected[e.kind], (e, record)
    correct = sum(r["strict"] == "COR" for doc in categories for r in doc["gold"])
    assert out.counts["correct"] <= correct  # a correct outcome is strict COR (several-span ones may hold more)
