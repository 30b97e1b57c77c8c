"""Bootstrap intervals and the paired randomisation test, against slow references that re-score
every resampled corpus with the scorers themselves (plain Python resampling, same random draws)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from ecr_hf.leaderboard import cross_validate
from ecr_hf.scoring import span_metrics
from ecr_hf.scoring import classification_report
from ecr_hf.utils import OutputExistsError
from ecr_hf.scoring import (BootstrapResult, DocumentCounts, bootstrap, compare_to_best, document_counts,
                                 load_counts, paired_test, save_counts)
from ecr_hf.scoring import per_document_counts, soft_match_scores
from ecr_hf.spans import pair_arrays

P_VALUES = (1.0, 2.0, math.inf)


def corpus(n_docs: int, seed: int) -> list[list[tuple[int, int, str]]]:
    """Random labelled spans, overlapping and nested at times, some documents empty."""
    r = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        doc = []
        for _ in range(r.choice([0, 1, 2, 3, 5])):
            start = r.randrange(60)
            doc.append((start, start + r.randrange(1, 12), r.choice("XY")))
        docs.append(doc)
    return docs


def noisy(gold: list[list[tuple[int, int, str]]], seed: int, keep: float) -> list[list[tuple[int, int, str]]]:
    """Predictions: most gold spans kept (some moved, split or relabelled), a few spurious ones."""
    r = random.Random(seed)
    out = []
    for doc in gold:
        pred = []
        for s, e, lab in doc:
            if r.random() > keep:
                continue
            move = r.random()
            if move < 0.2 and e - s > 2:
                mid = (s + e) // 2
                pred += [(s, mid, lab), (mid + 1, e, lab)]
            elif move < 0.4:
                pred.append((s + 1 if e - s > 1 else s, e + 1, lab))
            else:
                pred.append((s, e, lab if r.random() < 0.8 else "Z"))
        if r.random() < 0.3:
            pred.append((70, 70 + r.randrange(1, 5), "X"))
        out.append(pred)
    return out


GOLD = corpus(24, seed=1)
PRED_A = noisy(GOLD, seed=2, keep=0.9)
PRED_B = noisy(GOLD, seed=3, keep=0.6)


def slow_scores(gold, pred, docs, typed=False, score_p=1.0):
    """span_metrics of the corpus made of documents ``docs`` (indices, repeats allowed)."""
    return span_metrics([gold[i] for i in docs], [pred[i] for i in docs], p_values=P_VALUES, score_p=score_p,
                        typed=typed, length_bins=None)


def percentile(values: list[float], q: float) -> float:
    """numpy's default ("linear") quantile, in plain Python."""
    v = sorted(values)
    h = (len(v) - 1) * q
    lo = math.floor(h)
    return v[lo] if lo + 1 >= len(v) else v[lo] + (h - lo) * (v[lo + 1] - v[lo])


@pytest.mark.parametrize("typed", [False, True])
def test_per_document_counts_add_up_to_the_corpus_counts(typed):
    gold, pred = pair_arrays(GOLD, PRED_A)
    counts = per_document_counts(gold, pred, len(GOLD), p_values=P_VALUES, typed=typed)
    result = soft_match_scores(GOLD, PRED_A, p_values=P_VALUES, typed=typed)
    assert counts["p_values"] == P_VALUES
    assert counts["recall_tp"].shape == counts["precision_tp"].shape == (len(GOLD), len(P_VALUES))
    assert result["gold_merged"] > 0 and result["pred_merged"] > 0  # overlaps are merged per document
    for k, p in enumerate(P_VALUES):
        entry = result["p"][p]
        assert counts["recall_tp"][:, k].sum() == pytest.approx(entry["recall_tp"], abs=1e-9)
        assert counts["gold_chars"].sum() == pytest.approx(entry["recall_tp"] + entry["fn"], abs=1e-9)
        assert counts["precision_tp"][:, k].sum() == pytest.approx(entry["precision_tp"], abs=1e-9)
        assert counts["pred_chars"].sum() == pytest.approx(entry["precision_tp"] + entry["fp"], abs=1e-9)
    # and document by document: each row is that document scored alone
    for i in (0, 5, 11):
        alone = soft_match_scores([GOLD[i]], [PRED_A[i]], p_values=P_VALUES, typed=typed)
        for k, p in enumerate(P_VALUES):
            assert counts["recall_tp"][i, k] == pytest.approx(alone["p"][p]["recall_tp"], abs=1e-12)
            assert counts["precision_tp"][i, k] == pytest.approx(alone["p"][p]["precision_tp"], abs=1e-12)


@pytest.mark.parametrize("typed, score_p", [(False, 1.0), (True, 2.0)])
def test_estimates_are_span_metrics(typed, score_p):
    counts = document_counts(GOLD, PRED_A, p_values=P_VALUES, typed=typed, score_p=score_p)
    expected = span_metrics(GOLD, PRED_A, p_values=P_VALUES, typed=typed, score_p=score_p)
    estimate = counts.estimate()
    assert set(estimate) == {f"{a}{m}" for a in ("", "p1_", "p2_", "pinf_", "char_", "strict_")
                             for m in ("precision", "recall", "f1")}
    for key, value in estimate.items():
        assert value == pytest.approx(expected[key], abs=1e-12), key


def test_strict_counts_are_seqeval_strict_over_span_sets():
    gold = [[(0, 5, "X"), (0, 5, "X"), (7, 9, "Y")], [(1, 4, "X")], []]
    pred = [[(0, 5, "X"), (0, 5, "X"), (0, 5, "X"), (7, 9, "X")], [(1, 4, "X"), (1, 3, "X")], [(0, 1, "Y")]]
    counts = document_counts(gold, pred)
    column = counts.columns.index("strict_correct")
    assert counts.counts[:, column].tolist() == [1.0, 1.0, 0.0]  # a span listed twice counts once, as in seqeval
    micro = classification_report(gold, pred)["micro avg"]
    estimate = counts.estimate()
    assert (estimate["strict_precision"], estimate["strict_recall"]) == (micro["precision"], micro["recall"])
    assert estimate["strict_f1"] == pytest.approx(micro["f1-score"], abs=1e-12) == span_metrics(gold, pred)["strict_f1"]


@pytest.mark.parametrize("typed", [False, True])
def test_bootstrap_equals_rescoring_resampled_corpora(typed):
    n_resamples, seed, level = 60, 7, 0.9
    counts = document_counts(GOLD, PRED_A, p_values=P_VALUES, typed=typed)
    result = bootstrap(counts, n_resamples=n_resamples, confidence_level=level, rng=seed)
    indices = np.random.default_rng(seed).integers(0, len(GOLD), size=(n_resamples, len(GOLD))).tolist()
    slow = [slow_scores(GOLD, PRED_A, idx, typed) for idx in indices]
    full = slow_scores(GOLD, PRED_A, range(len(GOLD)), typed)
    for key, ci in result.intervals.items():
        values = [s[key] for s in slow]
        assert ci.estimate == pytest.approx(full[key], abs=1e-12)
        assert ci.low == pytest.approx(percentile(values, 0.05), abs=1e-12), key
        assert ci.high == pytest.approx(percentile(values, 0.95), abs=1e-12), key
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        assert ci.standard_error == pytest.approx(sd, abs=1e-12)
    assert result.n_documents == len(GOLD) and result.n_resamples == n_resamples


def test_stratified_bootstrap_is_the_mean_over_folds():
    folds = [(0, 10), (10, 24)]
    parts = [document_counts(GOLD[a:b], PRED_A[a:b], p_values=P_VALUES) for a, b in folds]
    counts = DocumentCounts.concat(parts)
    mean = {k: sum(slow_scores(GOLD[a:b], PRED_A[a:b], range(b - a))[k] for a, b in folds) / 2 for k in counts.keys}
    for key, value in counts.estimate().items():
        assert value == pytest.approx(mean[key], abs=1e-12)
    n_resamples = 40
    result = bootstrap(counts, n_resamples=n_resamples, rng=3)
    rng = np.random.default_rng(3)
    draws = [rng.integers(0, b - a, size=(n_resamples, b - a)).tolist() for a, b in folds]
    slow = [{k: sum(slow_scores(GOLD[a:b], PRED_A[a:b], d[r])[k] for (a, b), d in zip(folds, draws)) / 2
             for k in ("f1", "p2_recall", "strict_precision")} for r in range(n_resamples)]
    for key in ("f1", "p2_recall", "strict_precision"):
        values = [s[key] for s in slow]
        assert result.intervals[key].low == pytest.approx(percentile(values, 0.025), abs=1e-12)
        assert result.intervals[key].high == pytest.approx(percentile(values, 0.975), abs=1e-12)


def test_paired_test_equals_rescoring_swapped_corpora():
    n_resamples, seed = 80, 11
    a, b = (document_counts(GOLD, x, p_values=P_VALUES) for x in (PRED_A, PRED_B))
    result = paired_test(a, b, n_resamples=n_resamples, rng=seed)
    swaps = np.random.default_rng(seed).integers(0, 2, size=(n_resamples, len(GOLD))).tolist()
    observed = {k: v - slow_scores(GOLD, PRED_B, range(len(GOLD)))[k]
                for k, v in slow_scores(GOLD, PRED_A, range(len(GOLD))).items()}
    slow = []
    for s in swaps:
        pa = [PRED_B[i] if s[i] else PRED_A[i] for i in range(len(GOLD))]
        pb = [PRED_A[i] if s[i] else PRED_B[i] for i in range(len(GOLD))]
        sa, sb = slow_scores(GOLD, pa, range(len(GOLD))), slow_scores(GOLD, pb, range(len(GOLD)))
        slow.append({k: sa[k] - sb[k] for k in sa})
    for key in a.keys:
        assert result.difference[key] == pytest.approx(observed[key], abs=1e-12)
        hits = sum(abs(d[key]) >= abs(observed[key]) - 1e-12 for d in slow)
        assert result.p_value[key] == (1 + hits) / (1 + n_resamples), key


def test_p_values_identical_and_clearly_different_systems():
    gold = corpus(200, seed=5)
    good, bad = document_counts(gold, noisy(gold, 6, keep=0.95)), document_counts(gold, noisy(gold, 7, keep=0.4))
    same = paired_test(good, good, n_resamples=500, rng=0)
    assert set(same.p_value.values()) == {1.0} and set(same.difference.values()) == {0.0}
    clear = paired_test(good, bad, n_resamples=500, rng=0)
    assert clear.difference["f1"] > 0.2
    assert clear.p_value["f1"] == clear.p_value["recall"] == 1 / 501  # no swap comes near the observed gap
    # a null that holds: two draws of the same noise are rarely "significant"
    twins = [paired_test(document_counts(gold, noisy(gold, s, 0.8)), document_counts(gold, noisy(gold, s + 100, 0.8)),
                         n_resamples=200, rng=s).p_value["f1"] for s in range(10)]
    assert sum(p < 0.05 for p in twins) <= 2


def test_intervals_contain_the_estimate_shrink_with_more_documents_and_repeat_with_a_seed():
    small, large = corpus(50, 8), corpus(800, 8)
    width = {}
    for name, gold in (("small", small), ("large", large)):
        result = bootstrap(document_counts(gold, noisy(gold, 9, 0.8)), n_resamples=400, rng=1)
        for key, ci in result.intervals.items():
            assert ci.low <= ci.estimate <= ci.high, key
        width[name] = result.intervals["f1"].high - result.intervals["f1"].low
    assert width["large"] < width["small"] / 2  # about 1/sqrt(16) of it
    counts = document_counts(small, noisy(small, 9, 0.8))
    first = bootstrap(counts, n_resamples=100, rng=42)
    assert bootstrap(counts, n_resamples=100, rng=np.random.default_rng(42)) == first
    assert bootstrap(counts, n_resamples=100, rng=43) != first


def test_flat_keys_for_results_files():
    result = bootstrap(document_counts(GOLD, PRED_A, p_values=[1, 2]), n_resamples=50, rng=0)
    assert isinstance(result, BootstrapResult)
    flat = result.flat()
    assert flat["f1_ci_low"] == result.intervals["f1"].low and flat["p2_recall_ci_high"] == result.intervals[
        "p2_recall"].high
    assert len(flat) == 3 * len(result.intervals)


def test_resamples_without_predictions_follow_zero_division():
    gold = [[(0, 4, "X")], [(0, 4, "X")], [(2, 5, "X")]]
    pred = [[(0, 4, "X")], [], []]
    for zero_division in (0.0, 1.0):
        counts = document_counts(gold, pred, p_values=[1], zero_division=zero_division)
        result = bootstrap(counts, n_resamples=300, rng=0)
        # a third of the resamples miss document 0, the only one with predictions: precision 0/0
        assert result.intervals["precision"].low == zero_division
        assert result.intervals["precision"].high == 1.0
        assert 0.0 <= result.intervals["f1"].low <= result.intervals["f1"].high <= 1.0


def test_compare_to_best_marks_ties():
    gold = corpus(150, seed=12)
    systems = {"weak": document_counts(gold, noisy(gold, 1, 0.4)),
               "strong": document_counts(gold, noisy(gold, 2, 0.95)),
               "strong-twin": document_counts(gold, noisy(gold, 3, 0.95))}
    marks = compare_to_best(systems, key="f1", n_resamples=300, rng=0)
    best = max(marks, key=lambda n: marks[n]["estimate"])
    assert best.startswith("strong") and marks[best]["best"] and marks[best]["p_value"] == 1.0
    assert marks["weak"]["tied_with_best"] is False and marks["weak"]["p_value"] < 0.01
    twin = "strong" if best == "strong-twin" else "strong-twin"
    assert marks[twin]["tied_with_best"] is True and not marks[twin]["best"]
    with pytest.raises(KeyError, match="no score 'F1'"):
        compare_to_best(systems, key="F1")


def test_bad_input_is_refused():
    counts = document_counts(GOLD, PRED_A)
    for bad in (0, -1, 1.5, True, "100"):
        with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
            bootstrap(counts, n_resamples=bad)
    for bad in (0, 1, 95, -0.1, math.nan, True):
        with pytest.raises(ValueError, match="confidence_level must be a number in"):
            bootstrap(counts, confidence_level=bad)
    with pytest.raises(ValueError, match="alpha must be a number in"):
        compare_to_best({"a": counts}, alpha=5)
    with pytest.raises(ValueError, match="not scored against the same references"):
        paired_test(counts, document_counts(GOLD[:-1], PRED_A[:-1]))
    with pytest.raises(ValueError, match="not scored against the same references"):
        paired_test(counts, document_counts(corpus(24, seed=99), PRED_A))
    with pytest.raises(ValueError, match="different settings"):
        paired_test(counts, document_counts(GOLD, PRED_B, p_values=[1, 3]))
    with pytest.raises(ValueError, match="at least one document"):
        bootstrap(document_counts([], []))
    with pytest.raises(ValueError, match="score_p"):
        document_counts(GOLD, PRED_A, score_p=0.5)


def test_counts_round_trip_through_json_and_refuse_mixed_settings():
    import json

    parts = [document_counts(GOLD[a:b], PRED_A[a:b], zero_division=math.nan, doc_ids=[f"d{i}" for i in range(a, b)])
             for a, b in ((0, 10), (10, 24))]
    counts = DocumentCounts.concat(parts)
    back = DocumentCounts.from_dict(json.loads(json.dumps(counts.to_dict(), allow_nan=False)))
    assert np.array_equal(back.counts, counts.counts) and np.array_equal(back.strata, counts.strata)
    assert back.doc_ids == tuple(f"d{i}" for i in range(24))
    assert back.columns == counts.columns and math.isnan(back.zero_division)
    assert bootstrap(back, n_resamples=30, rng=0) == bootstrap(counts, n_resamples=30, rng=0)
    data = counts.to_dict()
    negative = {"counts": [[-1.0] * len(data["columns"])], "strata": None}
    for change, match in (({"counts": [[1.0, 2.0]]}, "rows of"), (negative, ">= 0"), ({"strata": [0]}, "strata"),
                          ({"typed": "no"}, "a bool"), ({"scores": {"": [0, 1]}}, "4 column"),
                          ({"columns": None}, "not document counts"), ({"doc_ids": ["x"]}, "1 doc_ids")):
        with pytest.raises(ValueError, match=match):
            DocumentCounts.from_dict({**data, **change})
    with pytest.raises(ValueError, match="already concatenated"):
        DocumentCounts.concat([counts])
    with pytest.raises(ValueError, match="different settings"):
        paired_test(document_counts(GOLD, PRED_A), document_counts(GOLD, PRED_B, typed=True))


def test_doc_ids_must_agree_and_fold_strata_give_the_cross_validation_mean():
    ids = [f"d{i}" for i in range(len(GOLD))]
    a = document_counts(GOLD, PRED_A, doc_ids=ids)
    with pytest.raises(ValueError, match="doc_ids differ"):
        paired_test(a, document_counts(GOLD, PRED_B, doc_ids=ids[::-1]))
    with pytest.raises(ValueError, match="3 doc_ids for 24 documents"):
        document_counts(GOLD, PRED_A, doc_ids=ids[:3])
    folds = [(0, 8), (8, 16), (16, 24)]
    cv = cross_validate([GOLD[a:b] for a, b in folds], [PRED_A[a:b] for a, b in folds], p_values=[1, 2, 100])
    counts = DocumentCounts.concat([document_counts(GOLD[a:b], PRED_A[a:b], p_values=[1, 2, 100]) for a, b in folds])
    mean = cv.mean()
    for key, value in counts.estimate().items():
        assert value == pytest.approx(mean[key], abs=1e-12), key


def test_stratified_paired_test_swaps_within_folds():
    folds, n_resamples = [(0, 10), (10, 24)], 30
    a, b = (DocumentCounts.concat([document_counts(GOLD[s:e], x[s:e]) for s, e in folds]) for x in (PRED_A, PRED_B))
    result = paired_test(a, b, n_resamples=n_resamples, rng=5)
    rng = np.random.default_rng(5)
    swaps = [rng.integers(0, 2, size=(n_resamples, e - s)).tolist() for s, e in folds]

    def cv_f1(pred_a, pred_b):
        return sum(slow_scores(GOLD[s:e], pred_a[s:e], range(e - s))["f1"]
                   - slow_scores(GOLD[s:e], pred_b[s:e], range(e - s))["f1"] for s, e in folds) / len(folds)

    observed = cv_f1(PRED_A, PRED_B)
    hits = 0
    for r in range(n_resamples):
        flip = [x for fold in swaps for x in fold[r]]
        pa = [PRED_B[i] if flip[i] else PRED_A[i] for i in range(len(GOLD))]
        pb = [PRED_A[i] if flip[i] else PRED_B[i] for i in range(len(GOLD))]
        hits += abs(cv_f1(pa, pb)) >= abs(observed) - 1e-12
    assert result.difference["f1"] == pytest.approx(observed, abs=1e-12)
    assert result.p_value["f1"] == (1 + hits) / (1 + n_resamples)
    with pytest.raises(ValueError, match="without documents"):
        DocumentCounts.concat([document_counts(GOLD, PRED_A), document_counts([], [])])
    with pytest.raises(ValueError, match="same references"):
        paired_test(a, document_counts(GOLD, PRED_B))  # folds against no folds


def test_counts_files_are_written_atomically_and_checked_on_reading(tmp_path):
    counts = document_counts(GOLD, PRED_A, doc_ids=range(len(GOLD)))
    path = save_counts(counts, tmp_path / "a.counts.json")
    assert load_counts(path).estimate() == counts.estimate()
    with pytest.raises(OutputExistsError):
        save_counts(counts, path)
    save_counts(document_counts(GOLD, PRED_B), path, overwrite=True)
    assert load_counts(path).estimate() == document_counts(GOLD, PRED_B).estimate()
    for text in ("{not json", "[1, 2]", '{"columns": []}'):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ValueError, match=r"bad\.json: not (a )?document counts"):
            load_counts(tmp_path / "bad.json")
