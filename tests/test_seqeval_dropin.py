"""The seqeval drop-in (ecr_hf.scoring.report.seqeval_scores, the span_metrics "seqeval" configuration) against the
seqeval library: BC5CDR and NCBI-disease with perturbed predictions in every scheme and mode, random tags,
scheme detection, warnings, and a run_ner.py-style compute_metrics."""

import itertools
import json
import random
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_hf import load_metric
from ecr_hf.spans import SCHEMES, bio_to_spans, detect_scheme
from ecr_hf.scoring import (UndefinedMetricWarning, accuracy_score, precision_recall_fscore_support,
                           seqeval_scores)

seqeval_metrics = pytest.importorskip("seqeval.metrics")
import seqeval.scheme as seqeval_scheme  # noqa: E402
from seqeval.metrics import sequence_labeling, v1  # noqa: E402

from conftest import shared_data  # noqa: E402

CORPORA = {"bc5cdr": "bc5cdr.conll.jsonl", "ncbi_disease": "ncbi_disease.conll.jsonl"}  # ../shared/data/<name>/<file>
PREFIXES = {"IOB1": "IB", "IOE1": "IE", "IOB2": "BI", "IOE2": "IE", "IOBES": "BIES", "BILOU": "BILU"}


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval's UndefinedMetricWarning and "seems not to be NE tag"
        return fn(*args, **kwargs)


def seqeval_reference(refs, preds, *, mode=None, scheme=None, suffix=False, zero_division="warn",
                      sample_weight=None):
    """What evaluate's seqeval module returns: seqeval's classification_report (output_dict) reshaped,
    micro average as overall_*, and seqeval's accuracy_score."""
    scheme_cls = getattr(seqeval_scheme, scheme) if scheme else None
    report = quiet(seqeval_metrics.classification_report, refs, preds, output_dict=True, mode=mode,
                   scheme=scheme_cls, suffix=suffix, zero_division=zero_division, sample_weight=sample_weight)
    micro = report["micro avg"]
    out = {name: {"precision": row["precision"], "recall": row["recall"], "f1": row["f1-score"],
                  "number": row["support"]}
           for name, row in report.items() if not name.endswith(" avg")}
    out.update(overall_precision=micro["precision"], overall_recall=micro["recall"], overall_f1=micro["f1-score"],
               overall_accuracy=seqeval_metrics.accuracy_score(refs, preds))
    return out


def assert_same(ours, theirs):
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert ours[key]["number"] == value["number"], key
            for metric in ("precision", "recall", "f1"):
                assert ours[key][metric] == pytest.approx(value[metric], abs=1e-12, nan_ok=True), (key, metric)
        else:
            assert ours[key] == pytest.approx(value, abs=1e-12, nan_ok=True), key


# ------------------------------------------------------------------ tags in every scheme, and a tagger's errors

def encode(spans, n, scheme, suffix=False):
    """Tags of non-overlapping token spans ``(start, end, label)`` in ``scheme``."""
    prefixes = ["O"] * n
    labels = [""] * n
    for k, (s, e, label) in enumerate(spans):
        after_same = k > 0 and spans[k - 1][1] == s and spans[k - 1][2] == label
        before_same = k + 1 < len(spans) and spans[k + 1][0] == e and spans[k + 1][2] == label
        inner = {"IOB1": "I", "IOE1": "I", "IOB2": "I", "IOE2": "I", "IOBES": "I", "BILOU": "I"}[scheme]
        for i in range(s, e):
            prefixes[i], labels[i] = inner, label
        if scheme == "IOB1" and after_same:
            prefixes[s] = "B"
        elif scheme == "IOE1" and before_same:
            prefixes[e - 1] = "E"
        elif scheme == "IOB2":
            prefixes[s] = "B"
        elif scheme == "IOE2":
            prefixes[e - 1] = "E"
        elif scheme in ("IOBES", "BILOU"):
            single, first, last = ("S", "B", "E") if scheme == "IOBES" else ("U", "B", "L")
            if e - s == 1:
                prefixes[s] = single
            else:
                prefixes[s], prefixes[e - 1] = first, last
    return [p if p == "O" else (f"{label}-{p}" if suffix else f"{p}-{label}") for p, label in zip(prefixes, labels)]


def perturb_spans(rng, spans, n, labels):
    """A tagger's span errors: dropped, boundary-shifted, retyped and spurious entities."""
    out = []
    for s, e, label in spans:
        r = rng.random()
        if r < 0.08:
            continue
        if r < 0.14:
            s = max(0, s + rng.choice([-1, 1]))
        elif r < 0.20:
            e = min(n, e + rng.choice([-1, 1]))
        elif r < 0.25:
            label = rng.choice([x for x in labels if x != label] or [label])
        if s < e:
            out.append((s, e, label))
    for i in range(n):
        if rng.random() < 0.01:
            out.append((i, i + 1, rng.choice(labels)))
    kept, last = [], 0
    for s, e, label in sorted(out):
        if s >= last:
            kept.append((s, e, label))
            last = e
    return kept


def perturb_tags(rng, tags, scheme, labels, suffix=False):
    """Tag-level noise that strict and default decoding read differently: a stray inside tag after O,
    and a chunk tag's prefix swapped for another prefix of the scheme (B -> I, E -> I, S -> B, ...)."""
    out = list(tags)
    allowed = PREFIXES[scheme]
    for i, tag in enumerate(tags):
        r = rng.random()
        if tag == "O" and r < 0.01:
            label = rng.choice(labels)
            out[i] = f"{label}-I" if suffix else f"I-{label}"
        elif tag != "O" and r < 0.05:
            label, prefix = (tag[:-2], tag[-1]) if suffix else (tag[2:], tag[0])
            new = rng.choice([p for p in allowed if p != prefix])
            out[i] = f"{label}-{new}" if suffix else f"{new}-{label}"
    return out


def corpus_case(name, scheme, suffix=False, n_sentences=250, seed=0):
    path = shared_data(name, CORPORA[name])
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    rng = random.Random(f"{name}-{scheme}-{suffix}-{seed}")
    rows = rng.sample(rows, n_sentences)
    gold = bio_to_spans([r["tags"] for r in rows])
    labels = sorted({s.label for doc in gold for s in doc})
    refs, preds = [], []
    for row, spans in zip(rows, gold):
        n = len(row["tags"])
        spans = [(s.start, s.end, s.label) for s in spans]
        refs.append(encode(spans, n, scheme, suffix))
        predicted = encode(perturb_spans(rng, spans, n, labels), n, scheme, suffix)
        preds.append(perturb_tags(rng, predicted, scheme, labels, suffix))
    return refs, preds


def test_encoding_round_trips_in_every_scheme():
    spans = [(0, 1, "X"), (1, 3, "X"), (3, 4, "Y"), (5, 7, "Y"), (7, 8, "Y")]
    for scheme in SCHEMES:
        for suffix in (False, True):
            tags = encode(spans, 9, scheme, suffix)
            # seqeval's strict IOB1/IOE1 rules drop some well-formed chunks (below); conlleval reads them
            mode = "default" if scheme in ("IOB1", "IOE1") else "strict"
            assert [tuple(s) for s in bio_to_spans(tags, scheme, mode, suffix=suffix)] == spans, (scheme, tags)


def test_strict_iob1_and_ioe1_follow_seqevals_rules_quirks_included():
    # IOE1: a one-token chunk E-X after O is no chunk start in seqeval (its IOE1 "Todo"), so it is dropped
    tags = ["E-X", "I-X", "O", "I-Y", "E-Y", "I-Y"]
    assert bio_to_spans(tags, "IOE1") == [(1, 2, "X"), (3, 5, "Y"), (5, 6, "Y")]
    assert bio_to_spans(tags, "IOE1", "default") == [(0, 1, "X"), (1, 2, "X"), (3, 5, "Y"), (5, 6, "Y")]
    # IOB1: B-X opens a chunk only right after an X chunk; after O the chunk starts at the I-X
    assert bio_to_spans(["B-X", "I-X", "O", "I-X", "B-X"], "IOB1") == [(1, 2, "X"), (3, 4, "X"), (4, 5, "X")]
    for tags in (tags, ["B-X", "I-X", "O", "I-X", "B-X"]):
        for scheme in ("IOB1", "IOE1"):
            try:
                entities = seqeval_scheme.Tokens(tags, getattr(seqeval_scheme, scheme)).entities
                expected = [(e.start, e.end, e.tag) for e in entities]
            except ValueError:
                with pytest.raises(ValueError, match="invalid tag"):
                    bio_to_spans(tags, scheme)
                continue
            assert bio_to_spans(tags, scheme) == expected


@pytest.mark.parametrize("corpus", list(CORPORA))
@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_equals_seqeval_on_real_corpora(corpus, scheme):
    refs, preds = corpus_case(corpus, scheme)
    strict = seqeval_scores(refs, preds, mode="strict", scheme=scheme, zero_division=0)
    assert_same(strict, seqeval_reference(refs, preds, mode="strict", scheme=scheme, zero_division=0))
    assert 0.4 < strict["overall_f1"] < 0.95  # the perturbation really changed things
    if scheme == "BILOU":  # conlleval rules know no L/U: seqeval warns and makes up chunks, ecr_hf refuses
        with pytest.raises(ValueError, match="invalid tag '.-(Chemical|Disease)'.*use mode='strict' for BILOU"):
            seqeval_scores(refs, preds)
        return
    default = seqeval_scores(refs, preds, zero_division=0)
    assert_same(default, seqeval_reference(refs, preds, zero_division=0))
    assert default != strict  # the modes really differ here
    if scheme in ("IOB2", "IOE2", "IOBES"):  # seqeval's auto-detection covers these
        assert_same(seqeval_scores(refs, preds, mode="strict", zero_division=0), strict)
        assert_same(seqeval_reference(refs, preds, mode="strict", zero_division=0), strict)


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_sample_weight_suffix_and_averages_on_real_corpora(corpus):
    refs, preds = corpus_case(corpus, "IOBES", suffix=True, n_sentences=150)
    weights = [float(k % 3) for k in range(len(refs))]
    for mode in (None, "strict"):
        with pytest.warns(UserWarning, match="sample_weight has no effect"):
            ours = seqeval_scores(refs, preds, mode=mode, scheme="IOBES", suffix=True, sample_weight=weights,
                                  zero_division=1)
        assert_same(ours, seqeval_reference(refs, preds, mode=mode, scheme="IOBES", suffix=True,
                                            sample_weight=weights, zero_division=1))
    strict_cls = seqeval_scheme.IOBES
    for average, beta in itertools.product([None, "micro", "macro", "weighted"], [0.5, 1.0, 2.0]):
        theirs_default = quiet(sequence_labeling.precision_recall_fscore_support, refs, preds, average=average,
                               beta=beta, suffix=True)
        theirs_strict = quiet(v1.precision_recall_fscore_support, refs, preds, average=average, beta=beta,
                              suffix=True, scheme=strict_cls)
        for mode, theirs in ((None, theirs_default), ("strict", theirs_strict)):
            ours = precision_recall_fscore_support(refs, preds, average=average, beta=beta, suffix=True,
                                                   scheme="IOBES", mode=mode, zero_division=0)
            for mine, expected in zip(ours, theirs):
                np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ random tags, every scheme and mode

@st.composite
def tag_batches(draw):
    scheme = draw(st.sampled_from(list(SCHEMES)))
    suffix = draw(st.booleans())
    vocab = ["O"] + [f"{t}-{p}" if suffix else f"{p}-{t}" for p in PREFIXES[scheme] for t in "XY"]
    vocab += list(PREFIXES[scheme][:1])  # an untyped chunk tag ("_" in seqeval)
    lengths = draw(st.lists(st.integers(0, 8), min_size=1, max_size=6))
    refs = [draw(st.lists(st.sampled_from(vocab), min_size=n, max_size=n)) for n in lengths]
    preds = [draw(st.lists(st.sampled_from(vocab), min_size=n, max_size=n)) for n in lengths]
    return scheme, suffix, refs, preds


@settings(max_examples=150, deadline=None)
@given(tag_batches(), st.sampled_from([0, 1]))
def test_random_tags_equal_seqeval(case, zero_division):
    scheme, suffix, refs, preds = case
    if sum(map(len, refs)) == 0:  # seqeval divides by zero for the accuracy of no tokens
        assert seqeval_scores(refs, preds, zero_division=zero_division)["overall_accuracy"] == zero_division
        return
    kwargs = dict(suffix=suffix, zero_division=zero_division)
    assert_same(seqeval_scores(refs, preds, mode="strict", scheme=scheme, **kwargs),
                seqeval_reference(refs, preds, mode="strict", scheme=scheme, **kwargs))
    if scheme != "BILOU":
        assert_same(seqeval_scores(refs, preds, **kwargs), seqeval_reference(refs, preds, **kwargs))


def test_accuracy_is_seqevals():
    refs, preds = corpus_case("ncbi_disease", "IOB2", n_sentences=100)
    assert accuracy_score(refs, preds) == seqeval_metrics.accuracy_score(refs, preds)
    assert accuracy_score([["O", "B-X"], ["I-X"]], [["O", "I-X"], ["I-X"]]) == 2 / 3
    with pytest.warns(UndefinedMetricWarning, match="accuracy is ill-defined"):
        assert accuracy_score([[]], [[]]) == 0.0
    assert accuracy_score([[]], [[]], zero_division=1) == 1.0


# ------------------------------------------------------------------ scheme detection

def test_detection_agrees_with_seqeval_wherever_seqeval_detects():
    """Every set of prefixes: where seqeval's auto_detect names a scheme, detect_scheme names the same;
    where only ecr-hf does, the set holds a prefix only one scheme has (S or U), or B and L."""
    extra = []
    for size in range(1, 8):
        for prefixes in itertools.combinations("OBIESLU", size):
            tags = [p if p == "O" else f"{p}-X" for p in prefixes]
            try:
                theirs = seqeval_scheme.auto_detect([tags]).__name__
            except ValueError:
                theirs = None
            try:
                ours = detect_scheme(tags)
            except ValueError as e:
                assert theirs is None, (prefixes, theirs)
                assert str(list(prefixes)) in str(e)  # the message lists the prefixes seen, in this order
                continue
            if theirs is None:
                extra.append(("".join(prefixes), ours))
            else:
                assert ours == theirs, prefixes
    assert extra and all(("S" in p and s == "IOBES") or (set(p) & set("LU") and s == "BILOU") for p, s in extra)


def test_detection_errors_and_auto_decoding():
    with pytest.raises(ValueError, match=r"prefixes \['O'\]: there is no chunk tag"):
        seqeval_scores([["O", "O"]], [["B-X", "O"]], mode="strict")
    with pytest.raises(ValueError, match=r"prefixes \['O', 'I'\]: 'I' alone fits IOB1 and IOE1"):
        detect_scheme([["I-X", "O"]])
    with pytest.raises(ValueError, match=r"prefixes \['E', 'L'\]: they fit no single scheme"):
        detect_scheme(["E-X", "L-X"])
    # auto decoding in bio_to_spans; with no chunk tag any scheme gives no chunk
    assert bio_to_spans(["B-X", "E-X", "S-Y"], scheme="auto") == bio_to_spans(["B-X", "E-X", "S-Y"], scheme="IOBES")
    assert bio_to_spans(["O", "O"], scheme=None) == []
    # the references decide, as in seqeval: IOE2 references make a B- prediction an invalid tag
    with pytest.raises(ValueError, match="invalid tag 'B-X'.*scheme 'IOE2'"):
        seqeval_scores([["I-X", "E-X"]], [["B-X", "E-X"]], mode="strict")


# ------------------------------------------------------------------ options, warnings, errors

def test_zero_division_warning_names_the_score_and_label():
    refs, preds = [["B-X", "O", "O"]], [["O", "B-Y", "O"]]
    with pytest.warns(UndefinedMetricWarning) as record:
        out = seqeval_scores(refs, preds)
    messages = [str(w.message) for w in record]
    assert any(m.startswith("precision") and "'X'" in m and "no predicted entities" in m for m in messages)
    assert any(m.startswith("recall") and "'Y'" in m and "no reference entities" in m for m in messages)
    assert out["X"]["precision"] == 0.0 and out["Y"]["recall"] == 0.0
    with pytest.warns(UndefinedMetricWarning, match=r"precision .*\(no predicted entities\) for 'X', overall"):
        seqeval_scores(refs, [["O", "O", "O"]])
    assert issubclass(UndefinedMetricWarning, UserWarning)
    for value in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = seqeval_scores(refs, preds, zero_division=value)
        assert out["X"]["precision"] == value and out["Y"]["recall"] == value


def test_beta_and_average_by_hand():
    refs = [["B-X", "I-X", "O", "B-Y", "O", "B-Y"]]
    preds = [["B-X", "I-X", "O", "B-Y", "B-X", "O"]]
    # X: tp 1, pred 2, gold 1 -> P 0.5, R 1; Y: tp 1, pred 1, gold 2 -> P 1, R 0.5
    p, r, f, support = precision_recall_fscore_support(refs, preds, beta=2.0)
    assert p.tolist() == [0.5, 1.0] and r.tolist() == [1.0, 0.5] and support.tolist() == [1, 2]
    assert f.tolist() == pytest.approx([5 * 0.5 / (4 * 0.5 + 1), 5 * 0.5 / (4 + 0.5)])
    assert precision_recall_fscore_support(refs, preds, average="micro") == (2 / 3, 2 / 3, pytest.approx(2 / 3), 3)
    assert precision_recall_fscore_support(refs, preds, average="weighted")[1] == pytest.approx((1 + 2 * 0.5) / 3)
    assert seqeval_scores(refs, preds, beta=float("inf"))["overall_f1"] == 2 / 3  # F-inf is recall
    # no entity type at all: micro falls back to zero_division, macro is numpy's mean of nothing (nan), as in seqeval
    for average in ("micro", "macro", "weighted"):
        ours = precision_recall_fscore_support([["O"]], [["O"]], average=average, zero_division=1)
        theirs = quiet(sequence_labeling.precision_recall_fscore_support, [["O"]], [["O"]], average=average,
                       zero_division=1)
        np.testing.assert_equal(ours, theirs)
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        seqeval_scores(refs, preds, beta=-1)
    with pytest.raises(ValueError, match="average must be"):
        precision_recall_fscore_support(refs, preds, average="samples")


def test_input_errors():
    with pytest.raises(ValueError, match="sequence 1: 1 predicted tags but 2 reference tags"):
        seqeval_scores([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="got 1 predicted sequences but 2 reference"):
        seqeval_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="list of tag sequences"):
        seqeval_scores(["B-X", "O"], ["B-X", "O"])
    with pytest.raises(ValueError, match="unknown scheme 'IOB3'"):  # evaluate's seqeval checks it in any mode
        seqeval_scores([["O"]], [["O"]], scheme="IOB3")
    with pytest.raises(ValueError, match="mode must be None"):
        seqeval_scores([["O"]], [["O"]], mode="lenient")
    with pytest.raises(ValueError, match="zero_division"):
        seqeval_scores([["O"]], [["O"]], zero_division="ignore")
    with pytest.raises(ValueError, match="sample_weight has 3 values for 1 sequences"):
        seqeval_scores([["O"]], [["O"]], sample_weight=[1, 1, 1])
    with pytest.raises(ValueError, match=r"invalid tag 'PER-B' \(sequence 0, token 0\).*PREFIX-LABEL"):
        seqeval_scores([["PER-B"]], [["O"]])


# ------------------------------------------------------------------ the evaluate module

@pytest.fixture(scope="module")
def seqeval_module():
    return load_metric("span_metrics", config_name="seqeval")


def test_module_equals_seqeval_and_streams(seqeval_module):
    refs, preds = corpus_case("bc5cdr", "IOB2", n_sentences=120, seed=1)
    for kwargs in ({}, {"mode": "strict", "scheme": "IOB2"}, {"mode": "strict"}):
        expected = seqeval_reference(refs, preds, **kwargs)
        assert_same(quiet(seqeval_module.compute, predictions=preds, references=refs, **kwargs), expected)
        for k in range(0, len(refs), 64):  # add_batch keeps evaluate's own storage (Arrow), then compute
            seqeval_module.add_batch(predictions=preds[k:k + 64], references=refs[k:k + 64])
        assert_same(quiet(seqeval_module.compute, **kwargs), expected)


def test_module_suffix_and_errors(seqeval_module):
    out = seqeval_module.compute(predictions=[["PER-B", "PER-I", "O"]], references=[["PER-B", "PER-I", "O"]],
                                 suffix=True)
    assert out["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "number": 1}
    with pytest.raises(ValueError, match="'seqeval' configuration scores tag sequences"):
        seqeval_module.compute(predictions=[[{"start": 0, "end": 2}]], references=[[{"start": 0, "end": 2}]])
    with pytest.raises(ValueError, match="'seqeval' configuration scores tag sequences"):
        seqeval_module.add_batch(predictions=["@@a## b"], references=["@@a## b"])
    with pytest.raises(TypeError, match="texts"):
        seqeval_module.compute(predictions=[["O"]], references=[["O"]], texts=["a"])
    with pytest.raises(ValueError, match="unknown span_metrics configuration 'seqevl'"):
        load_metric("span_metrics", config_name="seqevl")


def test_default_configuration_keeps_flat_output_and_reads_new_tag_options():
    metric = load_metric("span_metrics")
    refs, preds = [["PER-B", "PER-E", "O", "LOC-S"]], [["PER-B", "PER-E", "O", "LOC-B"]]
    out = metric.compute(predictions=preds, references=refs, mode="strict", scheme="auto", suffix=True)
    assert all(isinstance(v, float) for v in out.values()) and "overall_f1" not in out
    assert out["strict_label_PER_f1"] == 1.0 and out["strict_label_LOC_recall"] == 0.0  # LOC-B without an end: no chunk
    with pytest.raises(ValueError, match="suffix= applies to tag strings"):
        metric.compute(predictions=["@@a## b"], references=["@@a## b"], suffix=True)


def test_run_ner_compute_metrics_works_after_changing_the_load_line(seqeval_module):
    """transformers' examples/pytorch/token-classification/run_ner.py, compute_metrics as it is."""
    label_list = ["O", "B-Disease", "I-Disease"]
    metric = seqeval_module  # was: evaluate.load("seqeval")

    def compute_metrics(p, return_entity_level_metrics=False):
        predictions, labels = p
        predictions = np.argmax(predictions, axis=2)
        true_predictions = [[label_list[p] for (p, l) in zip(prediction, label) if l != -100]
                            for prediction, label in zip(predictions, labels)]
        true_labels = [[label_list[l] for (p, l) in zip(prediction, label) if l != -100]
                       for prediction, label in zip(predictions, labels)]
        results = metric.compute(predictions=true_predictions, references=true_labels)
        if return_entity_level_metrics:
            final_results = {}
            for key, value in results.items():
                if isinstance(value, dict):
                    for n, v in value.items():
                        final_results[f"{key}_{n}"] = v
                else:
                    final_results[key] = value
            return final_results
        return {"precision": results["overall_precision"], "recall": results["overall_recall"],
                "f1": results["overall_f1"], "accuracy": results["overall_accuracy"]}

    labels = np.array([[-100, 1, 2, 0, 1, -100], [-100, 0, 1, 2, 2, -100]])
    predicted = np.array([[0, 1, 2, 0, 0, 0], [0, 0, 1, 2, 0, 0]])
    logits = np.eye(3)[predicted]
    out = compute_metrics((logits, labels))
    gold = [["B-Disease", "I-Disease", "O", "B-Disease"], ["O", "B-Disease", "I-Disease", "I-Disease"]]
    pred = [["B-Disease", "I-Disease", "O", "O"], ["O", "B-Disease", "I-Disease", "O"]]
    expected = seqeval_reference(gold, pred)
    assert out == {"precision": 0.5, "recall": 1 / 3, "f1": expected["overall_f1"], "accuracy": 6 / 8}
    flat = compute_metrics((logits, labels), return_entity_level_metrics=True)
    assert flat["Disease_number"] == 3 and flat["overall_f1"] == out["f1"]
