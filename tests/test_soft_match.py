"""Weighted soft matching: hand-worked numbers, invariants, and a slow independent implementation."""

import json
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_hf.scoring import flatten_scores, soft_match_scores
from ecr_hf.spans import SpanError

from conftest import shared_data

INF = float("inf")


def score(gold, pred, p=1.0, **kw):
    return soft_match_scores(gold, pred, p_values=[p], **kw)["p"][float(p)]


# ---------------------------------------------------------------- hand-worked cases

def test_paper_figure3_sentence():
    text = "感染性心内膜炎（IE）はその経過"
    gold = [[(0, 7), (8, 10)]]  # 感染性心内膜炎, IE
    pred = [[(0, 3), (4, 7), (8, 10)]]  # 感染性 | 内膜炎 (心 missed) | IE
    assert text[0:7] == "感染性心内膜炎" and text[8:10] == "IE"
    r = soft_match_scores(gold, pred, p_values=[1, 2, INF], texts=[text])["p"]
    # gold 1 (l=7) has fragments 3 and 3; gold 2 (l=2) is matched whole.
    assert r[1.0]["recall"] == pytest.approx((7 * 6 / 7 + 2 * 1) / 9)  # = 8/9
    assert r[2.0]["recall"] == pytest.approx((7 * math.sqrt(9 + 9) / 7 + 2) / 9)
    assert r[INF]["recall"] == pytest.approx((7 * 3 / 7 + 2) / 9)  # = 5/9
    for p in (1.0, 2.0, INF):  # every predicted span lies inside a gold span
        assert r[p]["precision"] == 1.0
    assert r[1.0]["f1"] == pytest.approx(2 * (8 / 9) / (1 + 8 / 9))
    # marker matching: plain mean over the two gold spans
    assert r[1.0]["marker_recall"] == pytest.approx((6 / 7 + 1) / 2)
    assert r[INF]["marker_recall"] == pytest.approx((3 / 7 + 1) / 2)


def test_long_span_three_fragments():
    gold = [[{"start": 0, "end": 20, "label": "Finding"}]]
    pred = [[(0, 5), (7, 15), (16, 20)]]  # fragments 5, 8, 4 of a 20-character span
    assert score(gold, pred, 1)["recall"] == pytest.approx(17 / 20)
    assert score(gold, pred, 2)["recall"] == pytest.approx(math.sqrt(25 + 64 + 16) / 20)  # 0.51235
    assert score(gold, pred, INF)["recall"] == pytest.approx(8 / 20)
    assert score(gold, pred, 100)["recall"] == pytest.approx((5**100 + 8**100 + 4**100) ** 0.01 / 20)
    assert score(gold, pred, 2)["precision"] == 1.0


def test_precision_is_scored_from_the_predicted_side():
    gold = [[(0, 4), (6, 10)]]
    pred = [[(0, 10)]]  # one prediction covering two gold spans and the gap
    r = score(gold, pred, 2)
    assert r["recall"] == 1.0
    assert r["precision"] == pytest.approx(math.sqrt(0.4**2 + 0.4**2))
    assert r["precision_tp"] == pytest.approx(10 * math.sqrt(0.32))
    assert r["fp"] == pytest.approx(10 - 10 * math.sqrt(0.32))


def test_length_weighting_and_bins():
    gold = [[(0, 2), (10, 30)]]  # lengths 2 (bin 1-2) and 20 (bin 11-20)
    pred = [[(0, 2), (10, 20), (40, 45)]]  # lengths 2, 10 (7-10) and 5 (3-6, spurious)
    r = score(gold, pred, 1)
    assert r["recall"] == pytest.approx((2 + 10) / 22)
    assert r["precision"] == pytest.approx((2 + 10) / 17)
    assert r["marker_recall"] == pytest.approx((1 + 0.5) / 2)
    b = r["bins"]
    assert b["1-2"]["recall"] == 1.0 and b["1-2"]["precision"] == 1.0
    assert b["11-20"]["recall"] == 0.5 and b["11-20"]["n_pred"] == 0 and b["11-20"]["precision"] == 0.0
    assert b["7-10"]["precision"] == 1.0 and b["7-10"]["n_gold"] == 0
    assert b["3-6"]["precision"] == 0.0 and b["21+"]["n_gold"] == 0


def test_typed_counts_fragments_only_with_equal_labels():
    gold = [[(0, 10, "A"), (10, 20, "B")]]
    pred = [[(0, 10, "A"), (10, 20, "A")]]
    assert score(gold, pred, typed=False)["f1"] == 1.0
    r = score(gold, pred, typed=True)
    assert r["recall"] == 0.5 and r["precision"] == 0.5
    assert r["per_label"]["A"]["precision"] == 0.5 and r["per_label"]["B"]["recall"] == 0.0


def test_case_average():
    gold = [[(0, 10)], [(0, 4)], []]
    pred = [[(0, 5)], [(0, 4)], []]  # doc 3 has nothing on either side: not averaged
    r = score(gold, pred)
    assert r["case_recall"] == pytest.approx((0.5 + 1) / 2)
    assert r["case_precision"] == 1.0
    assert r["case_f1"] == pytest.approx((2 * 0.5 / 1.5 + 1) / 2)


def test_overlapping_spans_are_merged_and_counted():
    gold = [[(0, 6), (4, 10), (2, 3)]]  # overlapping + nested: union [0, 10)
    pred = [[(0, 10)]]
    res = soft_match_scores(gold, pred, p_values=[2])
    assert res["gold_merged"] == 2 and res["n_gold"] == 1
    assert res["p"][2.0]["f1"] == 1.0
    touching = soft_match_scores([[(0, 5), (5, 10)]], pred, p_values=[2])  # touching: two spans
    assert touching["gold_merged"] == 0
    assert touching["p"][2.0]["precision"] == pytest.approx(math.sqrt(0.5))


def test_zero_division_and_empty_inputs():
    empty = soft_match_scores([], [])
    assert empty["p"][1.0]["f1"] == 0.0 and empty["n_documents"] == 0
    assert soft_match_scores([[]], [[]], zero_division=1.0)["p"][1.0]["f1"] == 1.0
    r = score([[(0, 3)]], [[]])
    assert (r["precision"], r["recall"], r["f1"]) == (0.0, 0.0, 0.0)
    assert score([[(0, 3)]], [[]], zero_division=1.0)["precision"] == 1.0


def test_non_bmp_offsets_are_code_points():
    text = "😀 lung cancer"  # the emoji is one code point (two UTF-16 units)
    assert text[2:13] == "lung cancer"
    assert score([[(2, 13)]], [[(2, 6)]], texts=[text])["recall"] == pytest.approx(4 / 11)
    with pytest.raises(SpanError, match="past the end"):
        soft_match_scores([[(2, 14)]], [[]], texts=[text])


@pytest.mark.parametrize(
    "gold, pred, match",
    [
        ([[(0, 3)]], [[(0, 3)], []], "predictions has 2 documents but references has 1"),
        ([[(3, 3)]], [[]], "document 0, span 0: start 3 >= end 3"),
        ([[], [(-1, 2)]], [[], []], "document 1, span 0: negative start"),
        ([[{"begin": 0, "end": 2}]], [[]], "lacks key 'start'"),
        ([[(0.5, 2)]], [[]], "offsets must be integers"),
    ],
)
def test_bad_input_names_document_and_span(gold, pred, match):
    with pytest.raises(SpanError, match=match):
        soft_match_scores(gold, pred)


def test_bad_p_values():
    with pytest.raises(ValueError, match="p must be >= 1"):
        soft_match_scores([[]], [[]], p_values=[0.5])


def test_flat_keys():
    flat = flatten_scores(soft_match_scores([[(0, 4, "D")]], [[(0, 2, "D")]]), p=1.0)
    assert flat["f1"] == pytest.approx(2 / 3)
    assert flat["p100_recall"] == 0.5 and flat["p1.5_f1"] == pytest.approx(2 / 3) and "pinf_recall" not in flat
    assert flat["len_3-6_recall"] == 0.5 and flat["label_D_recall"] == 0.5
    assert all(isinstance(v, float) for v in flat.values())


# ---------------------------------------------------------------- slow independent implementation

def slow_scores(gold_docs, pred_docs, p, typed=False):
    """Per-character sets and explicit loops: the definition, written without the core."""

    def unions(doc):
        # maximal runs of marked characters (per label if typed); touching spans stay apart
        groups = {}
        for s, e, *rest in doc:
            groups.setdefault(rest[0] if (typed and rest) else None, []).append((s, e))
        out = []
        for lab, spans in groups.items():
            spans.sort()
            merged = []
            for s, e in spans:
                if merged and s < merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            out += [(s, e, lab) for s, e in merged]
        return out

    def side(a_docs, b_docs):
        num = den = 0.0
        for a_doc, b_doc in zip(a_docs, b_docs):
            bs = unions(b_doc)
            for s, e, lab in unions(a_doc):
                chars = set(range(s, e))
                frags = [len(chars & set(range(bs_, be_))) for bs_, be_, bl in bs if bl == lab]
                frags = [f / (e - s) for f in frags if f]
                if not frags:
                    val = 0.0
                elif math.isinf(p):
                    val = max(frags)
                else:
                    val = sum(f**p for f in frags) ** (1 / p)
                num += (e - s) * val
                den += e - s
        return num / den if den else 0.0

    r, pr = side(gold_docs, pred_docs), side(pred_docs, gold_docs)
    return pr, r, (2 * pr * r / (pr + r) if pr + r else 0.0)


def slow_char_f1(gold_docs, pred_docs):
    tp = fp = fn = 0
    for g, q in zip(gold_docs, pred_docs):
        gs = {c for s, e, *_ in g for c in range(s, e)}
        qs = {c for s, e, *_ in q for c in range(s, e)}
        tp, fp, fn = tp + len(gs & qs), fp + len(qs - gs), fn + len(gs - qs)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def perturb(docs, lengths, seed):
    """A seeded model of prediction errors: drop, shift, relabel, fragment, add spurious spans."""
    rng = random.Random(seed)
    out = []
    for doc, n in zip(docs, lengths):
        new = []
        for s, e, lab in doc:
            u = rng.random()
            if u < 0.1:
                continue
            if u < 0.25:
                s, e = max(0, s + rng.randint(-3, 3)), min(n, e + rng.randint(-3, 3))
            if u > 0.9:
                lab = lab + "x"
            if 0.8 < u <= 0.9 and e - s >= 4:
                cut = rng.randint(s + 1, e - 2)
                new += [(s, cut, lab), (cut + 1, e, lab)]
                continue
            if s < e:
                new.append((s, e, lab))
        if n > 5 and rng.random() < 0.3:
            s = rng.randrange(n - 3)
            new.append((s, s + rng.randint(1, 3), "spurious"))
        out.append(new)
    return out


def load(path, limit):
    docs, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            docs.append([(x["start"], x["end"], x["label"]) for x in d["entities"]])
            texts.append(d["text"])
            if len(docs) == limit:
                break
    return docs, texts


@pytest.mark.parametrize(
    "path, limit",
    [
        ("ncbi_disease/ncbi_disease.pubtator.jsonl", 200),
        ("bc5cdr/bc5cdr.conll.jsonl", 1500),
        ("jmedllm_ner/mrner_disease_spans.jsonl", 100),
    ],
)
def test_real_corpora_against_slow_implementation(path, limit):
    gold, texts = load(shared_data(*path.split("/")), limit)
    pred = perturb(gold, [len(t) for t in texts], seed=len(path))
    p_values = [1.0, 1.5, 2.0, 100.0, INF]
    for typed in (False, True):
        res = soft_match_scores(gold, pred, p_values=p_values, texts=texts, typed=typed)
        for p in p_values:
            got = res["p"][p]
            exp = slow_scores(gold, pred, p, typed=typed)
            assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(exp, abs=1e-12), (p, typed)
    res = soft_match_scores(gold, pred, p_values=[1.0], texts=texts)["p"][1.0]
    assert (res["precision"], res["recall"], res["f1"]) == pytest.approx(slow_char_f1(gold, pred), abs=1e-12)


# ---------------------------------------------------------------- invariants (hypothesis)

@st.composite
def corpora(draw, max_docs=4):
    n_docs = draw(st.integers(0, max_docs))
    gold, pred = [], []
    for _ in range(n_docs):
        for side in (gold, pred):
            cuts = sorted(draw(st.lists(st.integers(0, 60), max_size=10, unique=True)))
            spans = [(a, b, draw(st.sampled_from("AB"))) for a, b in zip(cuts[::2], cuts[1::2])]
            side.append(spans)
    return gold, pred


@settings(max_examples=150, deadline=None)
@given(corpora())
def test_invariants(case):
    gold, pred = case
    ps = [1.0, 1.5, 2.0, 3.0, 100.0, INF]
    res = soft_match_scores(gold, pred, p_values=ps)["p"]
    # p = 1 equals character-level scoring (spans here never overlap within a side)
    assert (res[1.0]["precision"], res[1.0]["recall"], res[1.0]["f1"]) == pytest.approx(slow_char_f1(gold, pred))
    # the score never rises with p
    for a, b in zip(ps, ps[1:]):
        assert res[b]["recall"] <= res[a]["recall"] + 1e-12
        assert res[b]["precision"] <= res[a]["precision"] + 1e-12
    # p = inf is the longest-fragment ratio
    assert res[INF]["recall"] == pytest.approx(slow_scores(gold, pred, INF)[1])
    # perfect prediction gives 1 wherever there is something to find
    if any(gold):
        perfect = soft_match_scores(gold, gold, p_values=ps)["p"]
        assert all(perfect[p]["f1"] == pytest.approx(1.0) for p in ps)
    # document and span order do not matter
    order = list(range(len(gold)))[::-1]
    shuffled = soft_match_scores([gold[i][::-1] for i in order], [pred[i][::-1] for i in order], p_values=ps)["p"]
    for p in ps:
        assert shuffled[p]["f1"] == pytest.approx(res[p]["f1"])
        assert shuffled[p]["case_f1"] == pytest.approx(res[p]["case_f1"])


@settings(max_examples=60, deadline=None)
@given(corpora(max_docs=6), st.integers(0, 6))
def test_splitting_the_corpus_does_not_matter(case, cut):
    gold, pred = case
    whole = soft_match_scores(gold, pred, p_values=[2.0])["p"][2.0]
    parts = [soft_match_scores(gold[a:b], pred[a:b], p_values=[2.0])["p"][2.0]
             for a, b in ((0, cut), (cut, len(gold)))]
    for key in ("recall_tp", "fn", "precision_tp", "fp"):
        assert sum(part[key] for part in parts) == pytest.approx(whole[key])


def test_large_p_does_not_underflow():
    gold = [[(0, 10_000)]]
    pred = [[(0, 10), (20, 30)]]  # ratios 0.001: 0.001 ** 100 underflows a naive sum
    r = score(gold, pred, 100)["recall"]
    assert r == pytest.approx(0.001 * 2 ** (1 / 100), rel=1e-12)
    assert np.isfinite(r)


def test_arrow_and_datasets_columns_give_the_same_scores():
    import datasets

    gold = [[{"start": 0, "end": 10, "label": "A"}], [], [{"start": 2, "end": 5, "label": None}]]
    pred = [[{"start": 0, "end": 4, "label": "A"}, {"start": 6, "end": 10, "label": "B"}], [],
            [{"start": 1, "end": 5, "label": None}]]
    ds = datasets.Dataset.from_dict({"gold": gold, "pred": pred})
    for typed in (False, True):
        want = flatten_scores(soft_match_scores(gold, pred, p_values=[1, 2], typed=typed))
        assert flatten_scores(soft_match_scores(ds["gold"], ds["pred"], p_values=[1, 2], typed=typed)) == want
        assert flatten_scores(soft_match_scores(ds.data.column("gold"), ds.data.column("pred"), p_values=[1, 2],
                                                typed=typed)) == want
    picked = ds.select([2, 0])  # an indices mapping over the Arrow table
    assert soft_match_scores(picked["gold"], picked["pred"])["p"][1.0]["recall"] == pytest.approx(
        soft_match_scores([gold[2], gold[0]], [pred[2], pred[0]])["p"][1.0]["recall"])
    bad = datasets.Dataset.from_dict({"s": [[], [{"start": 4, "end": 4, "label": "A"}]]})
    with pytest.raises(SpanError, match="document 1, span 0: start 4 >= end 4"):
        soft_match_scores(bad["s"], bad["s"])
    with pytest.raises(SpanError, match="past the end"):
        soft_match_scores(ds["gold"], ds["pred"], texts=["short", "", "abcdef"])
    with pytest.raises(SpanError, match="got 3 span documents but 2 texts"):  # checked before any offset
        soft_match_scores(ds["gold"], ds["pred"], texts=["abcdefghijk", ""])
