"""nervaluate's remaining features in ecr_hf.scoring.semeval: min_overlap, per-span categories, the label
filter, and the report as a DataFrame / CSV. Hand-worked threshold edges, nervaluate 1.2 as the
reference where both are well defined, and hypothesis properties tying the per-span categories to
semeval_scores' counts."""

import math
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_hf.utils import OutputExistsError
from ecr_hf.scoring.semeval import (CATEGORIES, SCHEMAS, candidate_pairs, report_frame, semeval_arrays, semeval_scores,
                            semeval_spans, spans_frame, write_csv)
from ecr_hf.spans import SpanError, pair_arrays

COUNT_KEYS = ("correct", "incorrect", "partial", "missed", "spurious", "possible", "actual")
CATEGORY_KEY = dict(zip(CATEGORIES, ("correct", "incorrect", "partial", "missed", "spurious")))


def counts(block):
    return tuple(block[k] for k in COUNT_KEYS)


def inclusive(corpus):  # nervaluate's ends are inclusive
    return [[{"start": s, "end": e - 1, "label": lab} for s, e, lab in d] for d in corpus]


def nervaluate_run(gold, pred, tags, **kwargs):
    nervaluate = pytest.importorskip("nervaluate")
    evaluator = nervaluate.Evaluator(inclusive(gold), inclusive(pred), tags=tags, loader="dict", **kwargs)
    return evaluator, evaluator.evaluate()


def their_counts(r):
    return (r.correct, r.incorrect, r.partial, r.missed, r.spurious, r.possible, r.actual)


def one_to_one_corpus(rng, n_docs=200):
    """Documents where every span overlaps at most one span on the other side (nervaluate is right there)."""
    gold, pred = [], []
    for _ in range(n_docs):
        g, p, cursor = [], [], 0
        for _ in range(rng.randint(0, 4)):
            s, e = cursor + rng.randint(0, 3), cursor + rng.randint(4, 8)
            case = rng.randrange(5)
            if case != 0:  # 0: missed
                g.append((s, e, rng.choice("AB")))
            if case != 1:  # 1: spurious
                ps, pe = (s, e) if case == 2 else (s + rng.randint(0, 2), e + rng.randint(-2, 2))
                p.append((ps, max(pe, ps + 1), rng.choice("AB")))
            cursor += 10
        gold.append(g)
        pred.append(p)
    return gold, pred


def test_nervaluate_list_loader_is_bio_to_spans_default_mode():
    # The README maps nervaluate's loader="list" (BIO tags) to bio_to_spans(..., mode="default").
    loaders = pytest.importorskip("nervaluate.loaders")
    from ecr_hf.spans import bio_to_spans

    rng = random.Random(3)
    tags = [[rng.choice(["O", "O", "B-A", "I-A", "B-B", "I-B"]) for _ in range(rng.randint(1, 12))] for _ in range(300)]
    theirs = [[(e.start, e.end + 1, e.label) for e in doc] for doc in loaders.ListLoader().load(tags)]
    assert [[tuple(s) for s in doc] for doc in bio_to_spans(tags, mode="default")] == theirs


# --- min_overlap -------------------------------------------------------------------------------


@pytest.mark.parametrize("pred_start, paired", [(5, True), (6, False)])
def test_min_overlap_edges_by_hand(pred_start, paired):
    # Gold [0,10)A. [5,20) covers 5 of its 10 characters: exactly 0.5, a candidate; [6,20) covers 4.
    gold, pred = [[(0, 10, "A")]], [[(pred_start, 20, "A")]]
    out = semeval_scores(gold, pred, min_overlap=0.5)
    assert counts(out["partial"]) == ((0, 0, 1, 0, 0, 1, 1) if paired else (0, 0, 0, 1, 1, 1, 1))
    assert counts(out["ent_type"]) == ((1, 0, 0, 0, 0, 1, 1) if paired else (0, 0, 0, 1, 1, 1, 1))
    assert counts(semeval_scores(gold, pred)["partial"]) == (0, 0, 1, 0, 0, 1, 1)  # default: any overlap
    _, theirs = nervaluate_run(gold, pred, ["A"], min_overlap_percentage=50)
    for s in SCHEMAS:
        assert counts(out[s]) == their_counts(theirs["overall"][s]), s


@pytest.mark.parametrize("pred_start, paired", [(18, True), (19, False)])
def test_min_overlap_exact_threshold_in_floating_point(pred_start, paired):
    # 7 of 25 at 0.28: 0.28 * 25 is 7.000000000000001 in floating point, so overlap >= min_overlap * length
    # would miss this pair; the ratio 7 / 25 is the double nearest 0.28, exactly min_overlap.
    gold, pred = [[(0, 25, "A")]], [[(pred_start, 40, "A")]]
    out = semeval_scores(gold, pred, min_overlap=0.28)
    assert (out["partial"]["partial"], out["partial"]["missed"]) == ((1, 0) if paired else (0, 1))
    _, theirs = nervaluate_run(gold, pred, ["A"], min_overlap_percentage=28)  # 28.000000000000004 there
    assert counts(out["partial"]) == their_counts(theirs["overall"]["partial"])


def test_min_overlap_is_relative_to_the_gold_span():
    # Gold [0,4) inside prediction [0,100): the prediction covers all of the gold span (4% of itself).
    whole = semeval_scores([[(0, 4, "A")]], [[(0, 100, "A")]], min_overlap=1.0)
    assert counts(whole["partial"]) == (0, 0, 1, 0, 0, 1, 1)
    # Gold [0,100), prediction [0,4): 4% of the gold span, below 5%.
    short = semeval_scores([[(0, 100, "A")]], [[(0, 4, "A")]], min_overlap=0.05)
    assert counts(short["partial"]) == (0, 0, 0, 1, 1, 1, 1)
    for gold, pred, pct, ours in (([[(0, 4, "A")]], [[(0, 100, "A")]], 100, whole),
                                  ([[(0, 100, "A")]], [[(0, 4, "A")]], 5, short)):
        _, theirs = nervaluate_run(gold, pred, ["A"], min_overlap_percentage=pct)
        assert all(counts(ours[s]) == their_counts(theirs["overall"][s]) for s in SCHEMAS)


def test_default_is_any_overlap_and_nervaluates_default_is_one_percent():
    # One character of a 200-character gold span: 0.5%. Any overlap pairs them; nervaluate's default
    # (1%) does not, and min_overlap=0.01 reproduces it.
    gold, pred = [[(0, 200, "A")]], [[(199, 300, "A")]]
    assert counts(semeval_scores(gold, pred)["partial"]) == (0, 0, 1, 0, 0, 1, 1)
    ours = semeval_scores(gold, pred, min_overlap=0.01)
    _, theirs = nervaluate_run(gold, pred, ["A"])
    for s in SCHEMAS:
        assert counts(ours[s]) == their_counts(theirs["overall"][s]) == (0, 0, 0, 1, 1, 1, 1)


def test_nervaluate_misses_some_exact_percentages():
    # Deliberate difference: 29 of 100 is exactly 29%, but nervaluate computes 29 / 100 * 100 =
    # 28.999999999999996 < 29 and leaves the pair out. Here it is a candidate.
    gold, pred = [[(0, 100, "A")]], [[(71, 150, "A")]]
    assert counts(semeval_scores(gold, pred, min_overlap=0.29)["partial"]) == (0, 0, 1, 0, 0, 1, 1)
    _, theirs = nervaluate_run(gold, pred, ["A"], min_overlap_percentage=29)
    assert their_counts(theirs["overall"]["partial"]) == (0, 0, 0, 1, 1, 1, 1)


def test_threshold_applies_before_matching():
    # Gold [0,10)A; predictions [0,3)A (30%, same type) and [2,10)B (80%, other type). With any overlap
    # the same-type pair wins (tier 1 over tier 0); at 0.5 it is no candidate, so [2,10)B is matched.
    gold, pred = [[(0, 10, "A")]], [[(0, 3, "A"), (2, 10, "B")]]
    assert counts(semeval_scores(gold, pred)["ent_type"]) == (1, 0, 0, 0, 1, 1, 2)
    assert counts(semeval_scores(gold, pred, min_overlap=0.5)["ent_type"]) == (0, 1, 0, 0, 1, 1, 2)
    spans = semeval_spans(gold, pred, min_overlap=0.5)[0]
    assert spans["gold"][0]["partner"] == {"start": 2, "end": 10, "label": "B"}
    assert [r["partial"] for r in spans["pred"]] == ["SPU", "PAR"]


def test_min_overlap_in_per_label_scores_and_arrays():
    gold, pred = [[(0, 10, "A"), (20, 30, "B")]], [[(6, 10, "A"), (20, 29, "B")]]
    out = semeval_scores(gold, pred, min_overlap=0.5)
    assert counts(out["per_label"]["A"]["partial"]) == (0, 0, 0, 1, 1, 1, 1)  # 40%
    assert counts(out["per_label"]["B"]["partial"]) == (0, 0, 1, 0, 0, 1, 1)  # 90%
    g, p = pair_arrays(gold, pred)
    assert semeval_arrays(g, p, min_overlap=0.5)["partial"] == out["partial"]
    assert [tuple(map(int, a)) for a in candidate_pairs(g, p, min_overlap=0.5)] == [(1,), (1,)]


@pytest.mark.parametrize("bad", [-0.1, 1.5, 50, True, float("nan"), "0.5", None])
def test_min_overlap_errors(bad):
    with pytest.raises(ValueError, match="min_overlap must be a fraction in"):
        semeval_scores([[(0, 1)]], [[(0, 1)]], min_overlap=bad)
    with pytest.raises(ValueError, match="min_overlap_percentage / 100"):
        semeval_spans([[(0, 1)]], [[(0, 1)]], min_overlap=bad)


@pytest.mark.parametrize("pct", [1, 20, 50, 75, 100])
def test_min_overlap_agrees_with_nervaluate_on_one_to_one_documents(pct):
    # nervaluate compares overlap / length * 100 >= pct; on these lengths (1..10) that equals
    # overlap / length >= pct / 100, so both are well defined: check that first.
    assert all((k / n * 100 >= pct) == (k / n >= pct / 100) for n in range(1, 11) for k in range(1, n + 1))
    gold, pred = one_to_one_corpus(random.Random(pct))
    _, theirs = nervaluate_run(gold, pred, ["A", "B"], min_overlap_percentage=pct)
    ours = semeval_scores(gold, pred, min_overlap=pct / 100)
    if pct == 1:  # on spans this short 1% is any overlap: the default agrees with nervaluate's default too
        assert semeval_scores(gold, pred) == ours
    for s in SCHEMAS:
        assert counts(ours[s]) == their_counts(theirs["overall"][s]), s
        assert ours[s]["f1"] == pytest.approx(theirs["overall"][s].f1, abs=1e-12)
        for tag in ("A", "B"):
            assert counts(ours["per_label"][tag][s]) == their_counts(theirs["entities"][tag][s]), (tag, s)


# --- per-span categories ------------------------------------------------------------------------


def test_spans_scenario_table():
    gold = [[(0, 5, "PER"), (10, 15, "LOC"), (20, 30, "DRUG"), (40, 50, "X"), (60, 65, "PER")], []]
    pred = [[(0, 5, "PER"), (10, 15, "ORG"), (20, 25, "DRUG"), (45, 55, "Y"), (70, 75, "PER")], [(0, 2, "PER")]]
    out = semeval_spans(gold, pred)
    assert len(out) == 2 and out[1]["gold"] == []
    table = [tuple(r[s] for s in SCHEMAS) for r in out[0]["gold"]]
    assert table == [("COR", "COR", "COR", "COR"), ("INC", "COR", "COR", "INC"), ("INC", "INC", "PAR", "COR"),
                     ("INC", "INC", "PAR", "INC"), ("MIS", "MIS", "MIS", "MIS")]
    assert [r["partner_index"] for r in out[0]["gold"]] == [0, 1, 2, 3, None]
    assert [r["partner_index"] for r in out[0]["pred"]] == [0, 1, 2, 3, None]
    assert out[0]["gold"][3]["partner"] == {"start": 45, "end": 55, "label": "Y"}
    assert out[0]["pred"][4] == {"start": 70, "end": 75, "label": "PER", "strict": "SPU", "exact": "SPU",
                                 "partial": "SPU", "ent_type": "SPU", "partner": None, "partner_index": None}
    assert out[1]["pred"][0]["strict"] == "SPU"


def test_spans_per_label_matching():
    # Gold x [0,1); predictions y [0,2) and x [0,2) (nervaluate #84). Overall, gold pairs with x; per
    # label the same, and y, alone in its label, is spurious.
    out = semeval_spans([[(0, 1, "x")]], [[(0, 2, "y"), (0, 2, "x")]], per_label=True)
    assert [r["ent_type"] for r in out[0]["pred"]] == ["SPU", "COR"]
    # A wrong-type overlap is INC overall but MIS + SPU per label.
    overall = semeval_spans([[(0, 5, "A")]], [[(0, 5, "B")]])[0]
    per_label = semeval_spans([[(0, 5, "A")]], [[(0, 5, "B")]], per_label=True)[0]
    assert (overall["gold"][0]["exact"], overall["pred"][0]["strict"]) == ("COR", "INC")
    assert (per_label["gold"][0]["exact"], per_label["pred"][0]["exact"]) == ("MIS", "SPU")


def spans_match_scores(gold, pred, **kwargs):
    """Category counts of semeval_spans equal semeval_scores' counts; partners are consistent."""
    per_label = kwargs.pop("per_label", False)
    scores = semeval_scores(gold, pred, **kwargs)
    spans = semeval_spans(gold, pred, per_label=per_label, **kwargs)
    assert len(spans) == len(gold)
    groups: dict = {}
    for doc in spans:
        for side, other in (("gold", "pred"), ("pred", "gold")):
            for i, r in enumerate(doc[side]):
                partner = r["partner"]
                assert (partner is None) == (r["partner_index"] is None) == (r["strict"] in ("MIS", "SPU"))
                if partner is not None:
                    back = doc[other][r["partner_index"]]
                    assert partner == {k: back[k] for k in ("start", "end", "label")}
                    assert back["partner_index"] == i
                    assert all(r[s] == back[s] for s in SCHEMAS)  # a pair has one grade per schema
                    g, p = (r, back) if side == "gold" else (back, r)
                    overlap = min(g["end"], p["end"]) - max(g["start"], p["start"])
                    assert overlap > 0 and overlap / (g["end"] - g["start"]) >= kwargs.get("min_overlap", 0)
                    assert not per_label or g["label"] == p["label"]
                key = r["label"] if per_label else None
                block = groups.setdefault(key, {s: Counter() for s in SCHEMAS})
                for s in SCHEMAS:
                    block[s][r[s]] += 0.5 if r[s] in ("COR", "INC", "PAR") else 1  # a pair appears twice
    expected = {None: scores} if not per_label else {
        (None if name == "_" else name): block for name, block in scores["per_label"].items()}
    assert set(groups) == set(expected) or (not per_label and not any(map(len, gold + pred)))
    for key, block in groups.items():
        for s in SCHEMAS:
            got = {CATEGORY_KEY[c]: n for c, n in block[s].items()}
            assert all(got.get(k, 0) == expected[key][s][k] for k in CATEGORY_KEY.values()), (key, s)
    return spans


span_lists = st.lists(st.tuples(st.integers(0, 25), st.integers(1, 8), st.sampled_from(["A", "B", "C", None])),
                      max_size=6).map(lambda d: [(s, s + n, lab) for s, n, lab in d])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(span_lists, span_lists), min_size=1, max_size=4),
       st.sampled_from([0.0, 0.01, 0.25, 1 / 3, 0.5, 0.75, 1.0]), st.booleans(), st.data())
def test_span_categories_add_up_to_the_scores(docs, min_overlap, per_label, data):
    gold, pred = [g for g, _ in docs], [p for _, p in docs]
    present = sorted({s[2] for d in gold + pred for s in d}, key=str)
    labels = data.draw(st.none() | st.lists(st.sampled_from(present), min_size=1, unique=True) if present
                       else st.none())
    spans = spans_match_scores(gold, pred, min_overlap=min_overlap, per_label=per_label, labels=labels)
    keep = (lambda s: True) if labels is None else (lambda s: s[2] in labels)
    for doc, g, p in zip(spans, gold, pred):  # the scored spans, in input order
        assert [(r["start"], r["end"], r["label"]) for r in doc["gold"]] == [s for s in g if keep(s)]
        assert [(r["start"], r["end"], r["label"]) for r in doc["pred"]] == [s for s in p if keep(s)]


def test_span_categories_on_a_large_random_corpus():
    rng = random.Random(7)
    gold = [[(s, s + rng.randint(1, 8), rng.choice("AB")) for s in rng.sample(range(60), rng.randint(0, 8))]
            for _ in range(300)]
    pred = [[(s, s + rng.randint(1, 8), rng.choice("AB")) for s in rng.sample(range(60), rng.randint(0, 8))]
            for _ in range(300)]
    for per_label in (False, True):
        spans_match_scores(gold, pred, per_label=per_label, min_overlap=0.4)


def test_span_categories_equal_nervaluate_indices_on_one_to_one_documents():
    gold, pred = one_to_one_corpus(random.Random(11))
    _, theirs = nervaluate_run(gold, pred, ["A", "B"])
    spans = semeval_spans(gold, pred)

    def ours(side, category, schema, docs):
        return sorted((d, i) for d, doc in enumerate(docs) for i, r in enumerate(doc[side]) if r[schema] == category)

    for s in SCHEMAS:
        idx = theirs["overall_indices"][s]
        for category, name in (("COR", "correct"), ("INC", "incorrect"), ("PAR", "partial"), ("SPU", "spurious")):
            assert ours("pred", category, s, spans) == sorted(getattr(idx, f"{name}_indices")), (s, category)
        assert ours("gold", "MIS", s, spans) == sorted(idx.missed_indices), s
        # nervaluate's per-entity indices point into the lists filtered to that tag: labels=[tag]
        for tag in ("A", "B"):
            tagged = semeval_spans(gold, pred, labels=[tag])
            tidx = theirs["entity_indices"][tag][s]
            assert ours("pred", "COR", s, tagged) == sorted(tidx.correct_indices), (tag, s)
            assert ours("pred", "SPU", s, tagged) == sorted(tidx.spurious_indices), (tag, s)
            assert ours("gold", "MIS", s, tagged) == sorted(tidx.missed_indices), (tag, s)
            assert (ours("pred", "PAR", s, tagged) + ours("pred", "INC", s, tagged)
                    == sorted(tidx.partial_indices + tidx.incorrect_indices)), (tag, s)


def test_spans_empty_inputs_and_dropped_empty_spans():
    assert semeval_spans([[], []], [[], []]) == [{"gold": [], "pred": []}] * 2
    out = semeval_spans(iter([[(0, 3, "A"), (4, 4, "A")]]), iter([[(0, 3, "A")]]), empty_spans="drop")
    assert [r["strict"] for r in out[0]["gold"]] == ["COR"] and out[0]["pred"][0]["partner_index"] == 0
    with pytest.raises(SpanError, match="document 0, span 1"):
        semeval_spans([[(0, 3), (4, 4)]], [[]])


def test_spans_from_datasets_columns():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({
        "gold": [[{"start": 0, "end": 5, "label": "A"}], [], [{"start": 1, "end": 3, "label": None}]],
        "pred": [[{"start": 0, "end": 4, "label": "A"}], [{"start": 0, "end": 1, "label": "B"}], []]})
    as_lists = semeval_spans(ds["gold"][:], ds["pred"][:])
    assert semeval_spans(ds["gold"], ds["pred"]) == as_lists
    assert [len(d["gold"]) for d in as_lists] == [1, 0, 1]  # the empty trailing prediction document is kept
    assert (as_lists[0]["gold"][0]["partial"], as_lists[2]["gold"][0]["label"]) == ("PAR", None)


# --- label filter -------------------------------------------------------------------------------


def test_labels_filter_equals_scoring_the_filtered_corpus():
    rng = random.Random(5)
    gold = [[(s, s + rng.randint(1, 6), rng.choice(["A", "B", "C", None])) for s in rng.sample(range(40), 5)]
            for _ in range(50)]
    pred = [[(s, s + rng.randint(1, 6), rng.choice(["A", "B", "C", None])) for s in rng.sample(range(40), 5)]
            for _ in range(50)]
    for labels in (["A"], ["B", "A"], ["A", None], [None]):
        keep = [[s for s in d if s[2] in labels] for d in gold], [[s for s in d if s[2] in labels] for d in pred]
        out = semeval_scores(gold, pred, labels=labels)
        assert out == semeval_scores(*keep)
        assert sorted(out["per_label"]) == sorted("_" if x is None else x for x in labels)
        g, p = pair_arrays(gold, pred)
        assert semeval_arrays(g, p, labels=labels)["exact"] == out["exact"]


def test_labels_filter_drops_unlabelled_spans_unless_none_is_listed():
    gold, pred = [[(0, 5), (10, 15, "A")]], [[(0, 5), (10, 15, "A")]]
    assert counts(semeval_scores(gold, pred, labels=["A"])["strict"]) == (1, 0, 0, 0, 0, 1, 1)
    assert counts(semeval_scores(gold, pred, labels=["A", None])["strict"]) == (2, 0, 0, 0, 0, 2, 2)
    assert [r["label"] for r in semeval_spans(gold, pred, labels=["A"])[0]["gold"]] == ["A"]


def test_labels_filter_agrees_with_nervaluate_tags():
    gold, pred = one_to_one_corpus(random.Random(9))
    _, theirs = nervaluate_run(gold, pred, ["A"])
    ours = semeval_scores(gold, pred, labels=["A"])
    for s in SCHEMAS:
        assert counts(ours[s]) == their_counts(theirs["overall"][s]), s
    assert list(ours["per_label"]) == list(theirs["entities"]) == ["A"]


def test_labels_filter_errors():
    gold, pred = [[(0, 5, "A")]], [[(0, 5, "B")]]
    assert semeval_scores(gold, pred, labels=["B"])["strict"]["spurious"] == 1  # a label only predicted is known
    with pytest.raises(SpanError, match=r"labels \['Z'\] occur in neither .*\['A', 'B'\]"):
        semeval_scores(gold, pred, labels=["A", "Z"])
    with pytest.raises(SpanError, match=r"labels \[None\] occur in neither"):  # no unlabelled span to keep
        semeval_spans(gold, pred, labels=[None])
    with pytest.raises(ValueError, match="labels is empty"):
        semeval_scores(gold, pred, labels=[])
    with pytest.raises(ValueError, match="list of label names"):
        semeval_scores(gold, pred, labels="A")
    with pytest.raises(ValueError, match="non-empty strings or None"):
        semeval_scores(gold, pred, labels=["A", 3])


# --- DataFrame and CSV --------------------------------------------------------------------------


def test_report_frame_rows_and_values():
    pd = pytest.importorskip("pandas")
    scores = semeval_scores([[(0, 5, "PER"), (10, 15, "LOC")]], [[(0, 5, "PER"), (10, 13, "LOC"), (20, 25, "ORG")]])
    frame = report_frame(scores)
    assert list(frame.columns) == ["scope", "label", "schema", *COUNT_KEYS, "precision", "recall", "f1"]
    assert len(frame) == 4 * (1 + 3)
    assert frame["scope"].tolist() == ["overall"] * 4 + ["label"] * 12
    assert frame["label"].iloc[:4].isna().all()
    assert frame["label"].iloc[4:].tolist() == ["LOC"] * 4 + ["ORG"] * 4 + ["PER"] * 4
    for row in frame.itertuples(index=False):
        block = scores if row.scope == "overall" else scores["per_label"][row.label]
        assert tuple(getattr(row, k) for k in COUNT_KEYS) == counts(block[row.schema])
        assert (row.precision, row.recall, row.f1) == tuple(block[row.schema][k] for k in ("precision", "recall", "f1"))
    assert pd.api.types.is_integer_dtype(frame["correct"]) and pd.api.types.is_float_dtype(frame["f1"])
    g, p = pair_arrays([[(0, 5, "PER")]], [[(0, 5, "PER")]])
    assert len(report_frame(semeval_arrays(g, p))) == 4  # no per-label rows
    with pytest.raises(ValueError, match="semeval_scores returns"):
        report_frame({"strict": {}})


def test_report_frame_equals_nervaluate_csv():
    pd = pytest.importorskip("pandas")
    import io

    gold, pred = one_to_one_corpus(random.Random(13))
    evaluator, _ = nervaluate_run(gold, pred, ["A", "B"])
    frame = {(r.scope, r.label if isinstance(r.label, str) else None, r.schema): r
             for r in report_frame(semeval_scores(gold, pred)).itertuples(index=False)}
    theirs = pd.read_csv(io.StringIO(evaluator.results_to_csv()))
    for row in theirs.itertuples(index=False):
        ours = frame[("overall", None, row.Strategy)]
        assert (ours.correct, ours.incorrect, ours.partial, ours.missed, ours.spurious) == (
            row.Correct, row.Incorrect, row.Partial, row.Missed, row.Spurious)
        assert math.isclose(ours.f1, row._8, abs_tol=1e-12)  # "F1-Score"
    for s in SCHEMAS:
        theirs = pd.read_csv(io.StringIO(evaluator.results_to_csv(mode="entities", scenario=s)))
        for row in theirs.itertuples(index=False):
            ours = frame[("label", row.Entity, s)]
            assert (ours.correct, ours.missed, ours.spurious) == (row.Correct, row.Missed, row.Spurious)
            assert math.isclose(ours.precision, row.Precision, abs_tol=1e-12)


def test_write_csv_is_atomic_and_refuses_to_overwrite(tmp_path):
    pd = pytest.importorskip("pandas")
    scores = semeval_scores([[(0, 5, "PER")]], [[(0, 3, "PER")]])
    path = write_csv(report_frame(scores), tmp_path / "out" / "report.csv")
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "scope,label,schema," + ",".join(COUNT_KEYS) + ",precision,recall,f1"
    assert text.splitlines()[3] == "overall,,partial,0,0,1,0,0,1,1,0.5,0.5,0.5" and "\r" not in text
    back = pd.read_csv(path)
    assert back["f1"].tolist() == report_frame(scores)["f1"].tolist()
    with pytest.raises(OutputExistsError):
        write_csv(report_frame(semeval_scores([[]], [[]])), path)
    assert path.read_text(encoding="utf-8") == text  # the refused write left the file alone
    write_csv(report_frame(semeval_scores([[]], [[]])), path, overwrite=True)
    assert len(pd.read_csv(path)) == 4
    with pytest.raises(TypeError, match="DataFrame"):
        write_csv(scores, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists() and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.csv"]


def test_spans_frame_and_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    gold = [[(0, 5, "PER"), (10, 15, "LOC")], [(0, 4, None)]]
    pred = [[(0, 5, "PER"), (10, 13, "ORG"), (20, 25, "ORG")], []]
    spans = semeval_spans(gold, pred)
    frame = spans_frame(spans)
    assert len(frame) == 6
    assert list(frame.columns) == ["doc", "side", "index", "start", "end", "label", *SCHEMAS, "partner_index",
                                   "partner_start", "partner_end", "partner_label"]
    assert str(frame["partner_index"].dtype) == "Int64"
    scores = semeval_scores(gold, pred)
    for s in SCHEMAS:
        per_side = frame.groupby("side")[s].value_counts()
        assert per_side.get(("gold", "MIS"), 0) == scores[s]["missed"]
        assert per_side.get(("pred", "SPU"), 0) == scores[s]["spurious"]
        assert per_side.get(("gold", "PAR"), 0) == scores[s]["partial"]
    row = frame[(frame.side == "pred") & (frame["index"] == 1) & (frame.doc == 0)].iloc[0]
    assert (row.partner_index, row.partner_start, row.partner_end, row.partner_label) == (1, 10, 15, "LOC")
    assert frame[frame.doc == 1].iloc[0]["partner_index"] is pd.NA
    back = pd.read_csv(write_csv(frame, tmp_path / "spans.csv"))
    assert back["strict"].tolist() == frame["strict"].tolist() and len(back) == 6
    assert len(spans_frame(semeval_spans([[]], [[]]))) == 0
