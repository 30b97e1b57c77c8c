"""SemEval-2013 9.1 scores: hand-worked cases (incl. nervaluate #39/#40/#84/#85), brute force, invariances."""

import doctest
import random

import numpy as np
import pytest

import ecr_hf.scoring.semeval as semeval_module
from ecr_hf.scoring.semeval import SCHEMAS, candidate_pairs, semeval_scores
from ecr_hf.spans import SpanArrays, SpanError, to_corpus

COUNT_KEYS = ("correct", "incorrect", "partial", "missed", "spurious", "possible", "actual")


def counts(block):
    return tuple(block[k] for k in COUNT_KEYS)


def test_doctests():
    assert doctest.testmod(semeval_module).failed == 0


def test_semeval_scenario_table():
    # One document with each SemEval scenario once:
    # [0,5)PER exact match (tier 3); [10,15)LOC vs [10,15)ORG same boundaries, wrong type (tier 2);
    # [20,30)DRUG vs [20,25)DRUG overlap, same type (tier 1); [40,50)X vs [45,55)Y overlap, wrong
    # type (tier 0); [60,65)PER missed; [70,75)PER spurious.
    gold = [[(0, 5, "PER"), (10, 15, "LOC"), (20, 30, "DRUG"), (40, 50, "X"), (60, 65, "PER")]]
    pred = [[(0, 5, "PER"), (10, 15, "ORG"), (20, 25, "DRUG"), (45, 55, "Y"), (70, 75, "PER")]]
    out = semeval_scores(gold, pred)
    # (COR, INC, PAR, MIS, SPU, POS, ACT)
    assert counts(out["strict"]) == (1, 3, 0, 1, 1, 5, 5)  # only tier 3 is correct
    assert counts(out["exact"]) == (2, 2, 0, 1, 1, 5, 5)  # tiers 3, 2 have the same boundaries
    assert counts(out["partial"]) == (2, 0, 2, 1, 1, 5, 5)  # the two overlaps are partial
    assert counts(out["ent_type"]) == (2, 2, 0, 1, 1, 5, 5)  # tiers 3, 1 have the right type
    assert out["strict"]["precision"] == pytest.approx(0.2) and out["strict"]["recall"] == pytest.approx(0.2)
    assert out["exact"]["f1"] == pytest.approx(0.4)
    assert out["partial"]["precision"] == pytest.approx((2 + 0.5 * 2) / 5)
    assert out["ent_type"]["recall"] == pytest.approx(0.4)
    # per label: each label alone. PER: one exact match, one missed, one spurious.
    assert counts(out["per_label"]["PER"]["strict"]) == (1, 0, 0, 1, 1, 2, 2)
    # LOC gold has no LOC prediction (ORG is another label): missed; ORG is spurious.
    assert counts(out["per_label"]["LOC"]["exact"]) == (0, 0, 0, 1, 0, 1, 0)
    assert counts(out["per_label"]["ORG"]["exact"]) == (0, 0, 0, 0, 1, 0, 1)
    # DRUG alone: an overlap: strict INC, partial PAR, ent_type COR.
    drug = out["per_label"]["DRUG"]
    assert (drug["strict"]["incorrect"], drug["partial"]["partial"], drug["ent_type"]["correct"]) == (1, 1, 1)
    assert sorted(out["per_label"]) == ["DRUG", "LOC", "ORG", "PER", "X", "Y"]


@pytest.mark.parametrize("gold_order", [0, 1])
def test_nervaluate_40_one_prediction_over_two_gold(gold_order):
    # nervaluate #40 (NER-Evaluation #17): the same gold in two orders gave two results there.
    gold = [(0, 12, "A"), (14, 17, "B")]
    gold = [gold if gold_order == 0 else gold[::-1]]
    pred = [[(0, 17, "A")]]
    out = semeval_scores(gold, pred)
    # The prediction overlaps both; pairing it with the same-type A (tier 1) beats B (tier 0).
    # B is then MIS: one predicted span cannot stand for two entities. POS=2, ACT=1.
    assert counts(out["strict"]) == (0, 1, 0, 1, 0, 2, 1)
    assert counts(out["exact"]) == (0, 1, 0, 1, 0, 2, 1)
    assert counts(out["partial"]) == (0, 0, 1, 1, 0, 2, 1)
    assert counts(out["ent_type"]) == (1, 0, 0, 1, 0, 2, 1)
    assert out["partial"]["precision"] == 0.5 and out["partial"]["recall"] == 0.25
    assert out["partial"]["f1"] == pytest.approx(1 / 3)
    assert out["ent_type"]["precision"] == 1.0 and out["ent_type"]["recall"] == 0.5
    assert out["ent_type"]["f1"] == pytest.approx(2 / 3)


def test_nervaluate_39_loop_break_two_gold_one_prediction():
    # nervaluate #39 (NER-Evaluation #17/#21): gold [2,4) and [5,7), one prediction [3,6) over both.
    out = semeval_scores([[(2, 4, "X"), (5, 7, "X")]], [[(3, 6, "X")]])
    # One pair (either gold, both tier 1), the other gold is missed.
    assert counts(out["partial"]) == (0, 0, 1, 1, 0, 2, 1)
    assert counts(out["ent_type"]) == (1, 0, 0, 1, 0, 2, 1)
    assert counts(out["strict"]) == (0, 1, 0, 1, 0, 2, 1)
    assert (out["partial"]["precision"], out["partial"]["recall"]) == (0.5, 0.25)


def test_nervaluate_84_per_label_does_not_depend_on_other_labels():
    # nervaluate #84: gold x [0,1); predictions y [0,2) and x [0,2). nervaluate's per-tag x
    # ent_type correct was 1 with tags=['x'] and 0 with tags=['x', 'y'].
    gold = [[(0, 1, "x")]]
    pred = [[(0, 2, "y"), (0, 2, "x")]]
    out = semeval_scores(gold, pred)
    # Overall: gold pairs with the same-type x prediction (tier 1 beats tier 0); y is spurious.
    assert counts(out["ent_type"]) == (1, 0, 0, 0, 1, 1, 2)
    assert counts(out["partial"]) == (0, 0, 1, 0, 1, 1, 2)
    assert out["partial"]["precision"] == 0.25 and out["partial"]["recall"] == 0.5
    x = out["per_label"]["x"]
    assert counts(x["ent_type"]) == (1, 0, 0, 0, 0, 1, 1)
    assert x["ent_type"]["f1"] == 1.0
    # Without the y prediction, label x scores the same.
    assert semeval_scores(gold, [[(0, 2, "x")]])["per_label"]["x"] == x
    y = out["per_label"]["y"]
    assert counts(y["ent_type"]) == (0, 0, 0, 0, 1, 0, 1)
    assert (y["ent_type"]["precision"], y["ent_type"]["recall"]) == (0.0, 0.0)  # recall 0/0 -> zero_division


def test_nervaluate_85_incorrect_prediction_over_two_gold_counted_once():
    # nervaluate PR #85: a wrong-type prediction overlapping two gold spans was counted INC twice.
    out = semeval_scores([[(0, 5, "A"), (6, 10, "A")]], [[(0, 10, "B")]])
    for schema, expected in {"strict": (0, 1, 0, 1, 0, 2, 1), "exact": (0, 1, 0, 1, 0, 2, 1),
                             "partial": (0, 0, 1, 1, 0, 2, 1), "ent_type": (0, 1, 0, 1, 0, 2, 1)}.items():
        assert counts(out[schema]) == expected, schema
    assert out["partial"]["precision"] == 0.5  # 0.5 * 1 PAR / 1 ACT: never above 1


def test_several_predictions_over_one_gold():
    # nervaluate #29 / eval4ner #2: one gold split into two predictions. One pairs (PAR), one is SPU.
    out = semeval_scores([[(0, 10, "A")]], [[(0, 4, "A"), (5, 10, "A")]])
    assert counts(out["partial"]) == (0, 0, 1, 0, 1, 1, 2)
    assert counts(out["ent_type"]) == (1, 0, 0, 0, 1, 1, 2)
    assert (out["partial"]["precision"], out["partial"]["recall"]) == (0.25, 0.5)
    assert (out["ent_type"]["precision"], out["ent_type"]["recall"]) == (0.5, 1.0)


def test_optimal_assignment_beats_greedy():
    # G1=[0,10) G2=[10,20); P1=[5,15) overlaps both (5 chars each), P2=[0,3) overlaps G1 only.
    # Greedy by overlap would pair P1-G1 and leave P2, G2 unpaired; the optimum pairs P1-G2, P2-G1.
    out = semeval_scores([[(0, 10, "A"), (10, 20, "A")]], [[(5, 15, "A"), (0, 3, "A")]])
    assert counts(out["partial"]) == (0, 0, 2, 0, 0, 2, 2)
    assert out["partial"]["f1"] == 0.5


def test_tier_priority_exact_boundary_first():
    # Gold [0,5)A; predictions [0,5)B (same boundaries, wrong type: tier 2) and [0,3)A (tier 1).
    # Same-boundary pairs are maximised before same-type pairs, so [0,5)B is paired, [0,3)A is SPU.
    out = semeval_scores([[(0, 5, "A")]], [[(0, 3, "A"), (0, 5, "B")]])
    assert counts(out["strict"]) == (0, 1, 0, 0, 1, 1, 2)
    assert counts(out["exact"]) == (1, 0, 0, 0, 1, 1, 2)
    assert counts(out["partial"]) == (1, 0, 0, 0, 1, 1, 2)
    assert counts(out["ent_type"]) == (0, 1, 0, 0, 1, 1, 2)


def test_duplicates_and_untyped():
    # Two identical gold spans and one identical prediction: one COR, one MIS (each span is one entity).
    out = semeval_scores([[(0, 3), (0, 3)]], [[(0, 3)]])
    assert counts(out["strict"]) == (1, 0, 0, 1, 0, 2, 1)
    assert list(out["per_label"]) == ["_"]


def test_empty_and_zero_division():
    out = semeval_scores([[(0, 3, "A")], []], [[], []])
    assert counts(out["strict"]) == (0, 0, 0, 1, 0, 1, 0)
    assert (out["strict"]["precision"], out["strict"]["recall"], out["strict"]["f1"]) == (0.0, 0.0, 0.0)
    out = semeval_scores([[(0, 3, "A")]], [[]], zero_division=1.0)
    assert (out["strict"]["precision"], out["strict"]["recall"], out["strict"]["f1"]) == (1.0, 0.0, 0.0)
    nothing = semeval_scores([[]], [[]], zero_division=1.0)
    assert (nothing["exact"]["precision"], nothing["exact"]["f1"], nothing["per_label"]) == (1.0, 1.0, {})


def test_errors():
    with pytest.raises(SpanError, match="predictions has 2 documents but references has 3"):
        semeval_scores([[], [], []], [[], []])
    with pytest.raises(ValueError, match="zero_division"):
        semeval_scores([[]], [[]], zero_division=2)
    with pytest.raises(SpanError, match="document 0, span 1"):
        semeval_scores([[(0, 2), (5, 5)]], [[]])


def random_corpus(rng, n_docs, max_spans, width=30, labels="AB"):
    return [[(s, s + rng.randint(1, 8), rng.choice(labels)) for s in (rng.randrange(width) for _ in
             range(rng.randint(0, max_spans)))] for _ in range(n_docs)]


def test_candidate_pairs_match_quadratic_loop():
    rng = random.Random(1)
    gold, pred = random_corpus(rng, 40, 6), random_corpus(rng, 40, 6)
    g, p = SpanArrays.from_corpus(to_corpus(gold)), SpanArrays.from_corpus(to_corpus(pred))
    gi, pj = candidate_pairs(g, p)
    expected = [(i, j) for i in range(len(g)) for j in range(len(p))
                if g.doc[i] == p.doc[j] and g.start[i] < p.end[j] and p.start[j] < g.end[i]]
    assert list(zip(gi.tolist(), pj.tolist())) == expected


def brute_force_counts(gold, pred, min_overlap=0.0):
    """Enumerate every one-to-one matching of overlapping spans (covering at least ``min_overlap`` of
    the gold span); grade the lexicographic best."""
    best_key, best = None, set()

    def grade(pairs):
        tiers = [2 * (g[:2] == p[:2]) + (g[2] == p[2]) for g, p in pairs]
        key = (sum(t == 3 for t in tiers), sum(t >= 2 for t in tiers), sum(t >= 1 for t in tiers), len(tiers))
        m, mis, spu = len(tiers), len(gold) - len(tiers), len(pred) - len(tiers)
        cor = {"strict": key[0], "exact": key[1], "partial": key[1], "ent_type": sum(t % 2 for t in tiers)}
        return key, tuple((cor[s], m - cor[s] - (m - key[1] if s == "partial" else 0),
                           m - key[1] if s == "partial" else 0, mis, spu) for s in SCHEMAS)

    def rec(i, used, pairs):
        nonlocal best_key, best
        if i == len(gold):
            key, graded = grade(pairs)
            if best_key is None or key > best_key:
                best_key, best = key, {graded}
            elif key == best_key:
                best.add(graded)
            return
        rec(i + 1, used, pairs)
        for j, p in enumerate(pred):
            overlap = min(gold[i][1], p[1]) - max(gold[i][0], p[0])
            if j not in used and overlap > 0 and overlap / (gold[i][1] - gold[i][0]) >= min_overlap:
                rec(i + 1, used | {j}, pairs + [(gold[i], p)])

    rec(0, frozenset(), [])
    assert len(best) == 1  # every optimal matching grades the same: counts do not depend on ties
    return best.pop()


def test_matches_brute_force_on_random_overlapping_documents():
    rng = random.Random(2)
    for _ in range(150):
        gold, pred = random_corpus(rng, 1, 5, width=15), random_corpus(rng, 1, 5, width=15)
        out = semeval_scores(gold, pred)
        expected = brute_force_counts(gold[0], pred[0])
        assert tuple(counts(out[s])[:5] for s in SCHEMAS) == expected, (gold, pred)
        a_gold = [[s for s in gold[0] if s[2] == "A"]]
        a_pred = [[s for s in pred[0] if s[2] == "A"]]
        if a_gold[0] or a_pred[0]:
            got = out["per_label"]["A"]
            assert tuple(counts(got[s])[:5] for s in SCHEMAS) == brute_force_counts(a_gold[0], a_pred[0])


def test_min_overlap_matches_brute_force():
    rng = random.Random(6)
    for _ in range(150):
        gold, pred = random_corpus(rng, 1, 5, width=15), random_corpus(rng, 1, 5, width=15)
        min_overlap = rng.choice([0.2, 1 / 3, 0.5, 0.75, 1.0])
        out = semeval_scores(gold, pred, min_overlap=min_overlap)
        expected = brute_force_counts(gold[0], pred[0], min_overlap)
        assert tuple(counts(out[s])[:5] for s in SCHEMAS) == expected, (gold, pred, min_overlap)


def test_order_invariance_invariants_and_additivity():
    rng = random.Random(3)
    gold, pred = random_corpus(rng, 60, 8), random_corpus(rng, 60, 8)
    out = semeval_scores(gold, pred, zero_division=1.0)
    n_gold, n_pred = sum(map(len, gold)), sum(map(len, pred))
    for s in SCHEMAS:
        c = out[s]
        assert (c["possible"], c["actual"]) == (n_gold, n_pred)
        assert c["correct"] + c["incorrect"] + c["partial"] + c["missed"] == n_gold
        assert c["correct"] + c["incorrect"] + c["partial"] + c["spurious"] == n_pred
        assert 0 <= c["precision"] <= 1 and 0 <= c["recall"] <= 1
    # shuffled spans within documents, shuffled documents, dicts instead of tuples: same numbers
    order = list(range(len(gold)))
    rng.shuffle(order)
    shuffled_gold = [rng.sample(gold[k], len(gold[k])) for k in order]
    shuffled_pred = [[{"start": s, "end": e, "label": lab} for s, e, lab in rng.sample(pred[k], len(pred[k]))]
                     for k in order]
    assert semeval_scores(shuffled_gold, shuffled_pred, zero_division=1.0) == out
    # counts add up over a split of the corpus
    halves = [semeval_scores(gold[:25], pred[:25]), semeval_scores(gold[25:], pred[25:])]
    for s in SCHEMAS:
        assert counts(out[s]) == tuple(a + b for a, b in zip(counts(halves[0][s]), counts(halves[1][s])))


def test_large_overlap_chain_is_fast_and_consistent():
    # 400 gold spans and 400 predictions, each overlapping its neighbours: one big component.
    gold = [[(i * 10, i * 10 + 15, "A") for i in range(400)]]
    pred = [[(i * 10 + 5, i * 10 + 20, "A") for i in range(400)]]
    out = semeval_scores(gold, pred)
    assert counts(out["partial"]) == (0, 0, 400, 0, 0, 400, 400)
    assert np.isclose(out["partial"]["f1"], 0.5)
