"""Issue 8, metrics part: every input a user can send the scoring core and the evaluate modules gets
a right answer or a clear error (offset bound, bools, option checks, length bins and token offsets
of any size, lone surrogates, empty spans, streaming ECRExtractor-style dicts, atomic registration)."""

import json
import math
import threading
import tracemalloc

import numpy as np
import pyarrow as pa
import pytest

from ecr_hf.scoring import load_metric, metric_script, register_metrics
from ecr_hf.scoring import classification_report
from ecr_hf.scoring import span_metrics
from ecr_hf.scoring import semeval_scores
from ecr_hf.scoring import flatten_scores, soft_match_scores
from ecr_hf.spans import OFFSET_LIMIT, SpanArrays, SpanError, number_line, pair_arrays
from ecr_hf.scoring import token_scores, whitespace_offsets

from conftest import SHARED_DATA, needs_shared_data

EBM = SHARED_DATA / "ebm_nlp_pico" / "ebm_nlp.io.jsonl"
BIG = OFFSET_LIMIT - 1


@pytest.fixture(scope="module")
def wsm():
    return load_metric("weighted_soft_match")


@pytest.fixture(scope="module")
def span_module():
    return load_metric("span_metrics")


def flat(refs, preds, **kw):
    return flatten_scores(soft_match_scores(refs, preds, **kw), 1.0)


# ------------------------------------------------------------------ 1: streaming extractor output

EXTRACTED = [[{"start": 0, "end": 3, "text": "abc", "score": 0.93}],
             [{"start": 2, "end": 6, "label": "D", "text": "cdef", "score": 0.5}]]
GOLD = [[{"start": 0, "end": 5}], [{"start": 2, "end": 4, "label": "D"}]]


@pytest.mark.parametrize("name", ["weighted_soft_match", "span_metrics"])
def test_add_batch_and_add_take_dicts_without_label_and_with_extra_keys(name):
    once = load_metric(name).compute(predictions=EXTRACTED, references=GOLD)
    batched = load_metric(name)
    batched.add_batch(predictions=EXTRACTED, references=GOLD)
    assert batched.compute() == once
    single = load_metric(name)
    for p, r in zip(EXTRACTED, GOLD):
        single.add(prediction=p, reference=r)
    assert single.compute() == once
    assert once.get("char_recall", once["recall"]) > 0  # the extra keys were ignored, the offsets were scored
    assert EXTRACTED[0][0] == {"start": 0, "end": 3, "text": "abc", "score": 0.93}  # inputs left as they were


def test_issue_reproducer_add_batch_without_label(wsm):
    m = load_metric("weighted_soft_match")
    m.add_batch(predictions=[[{"start": 0, "end": 3}]], references=[[{"start": 0, "end": 5}]])
    assert m.compute()["recall"] == pytest.approx(0.6)


# ------------------------------------------------------------------ 4: atomic registration

def test_register_metrics_never_exposes_a_truncated_script(tmp_path):
    """One thread registers over and over; the other reads the registered script meanwhile: every
    read is the whole script (the old in-place copy let readers see an empty or partial file)."""
    cache = tmp_path / "modules"
    expected = metric_script("span_metrics").read_bytes()
    script = register_metrics(["span_metrics"], modules_cache=cache)["span_metrics"]
    stop, errors = threading.Event(), []

    def register():
        try:
            for _ in range(150):
                register_metrics(["span_metrics"], modules_cache=cache)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            stop.set()

    writer = threading.Thread(target=register)
    writer.start()
    reads = bad = 0
    while not stop.is_set() or reads == 0:
        data = script.read_bytes()
        reads += 1
        bad += data != expected
    writer.join()
    assert not errors
    assert bad == 0, f"{bad} of {reads} reads saw a partial script"
    assert not [p for p in script.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary file left
    assert json.loads(script.with_suffix(".json").read_text())["local file path"] == str(script)


# ------------------------------------------------------------------ 8: the offset bound

def test_offsets_just_below_the_bound_score_exactly():
    docs = [[(0, BIG)], [(0, BIG)]]
    assert soft_match_scores(docs, docs)["p"][1.0]["f1"] == 1.0
    m = span_metrics(docs, docs)
    assert (m["f1"], m["strict_f1"], m["char_f1"], m["gold_chars"]) == (1.0, 1.0, 1.0, 2.0 * BIG)
    assert semeval_scores(docs, docs)["strict"]["f1"] == 1.0
    assert token_scores(docs, docs, token_offsets=[[(0, 1), (BIG - 1, BIG)]] * 2)["f1"] == 1.0


def test_many_documents_with_huge_offsets_score_like_small_ones():
    """600 documents x 2**53 would pass int64 on a plain number line: the core switches to ranks."""
    half = OFFSET_LIMIT // 2

    def corpus(scale):
        gold = [[(0, 4 * scale, "A"), (6 * scale, 8 * scale, "B")] for _ in range(600)]
        pred = [[(2 * scale, 4 * scale, "A"), (3 * scale, 7 * scale, "B")] for _ in range(600)]
        return gold, pred

    small, huge = corpus(1), corpus(half // 8)
    for typed in (False, True):
        a, b = flat(*small, typed=typed), flat(*huge, typed=typed)
        for key in ("precision", "recall", "f1", "p2_f1", "marker_f1", "case_f1", "n_gold", "gold_merged"):
            assert a[key] == pytest.approx(b[key]), (typed, key)
    assert semeval_scores(*small)["partial"] == semeval_scores(*huge)["partial"]
    tokens = [[(s, s + 1) for s in (0, 3, 5, 7)]] * 600
    scale = half // 8
    assert token_scores(*small, token_offsets=tokens)["tp"] == token_scores(
        *huge, token_offsets=[[(s * scale, s * scale + 1) for s, _ in doc] for doc in tokens])["tp"]


def test_number_line_keeps_order_when_it_falls_back_to_ranks():
    doc = np.arange(1000)
    start, end = number_line((doc, np.full(1000, 5)), (doc, np.full(1000, BIG)))
    both = np.concatenate([start, end])
    assert both.max() < 2**62 and (start < end).all() and (end[:-1] < start[1:]).all()


@pytest.mark.parametrize("value", [OFFSET_LIMIT, 2**62, 2**63, 2**64 + 1])
@pytest.mark.parametrize("path", ["tuples", "dicts", "numpy", "arrow", "module"])
def test_offsets_past_the_bound_are_a_span_error_naming_the_document(value, path, wsm):
    good = [(0, 3)]
    if path == "tuples":
        call = lambda: soft_match_scores([good, [(1, value)]], [good, good])  # noqa: E731
    elif path == "dicts":
        call = lambda: span_metrics([good, [{"start": 1, "end": value}]], [good, good])  # noqa: E731
    elif path == "numpy":
        if value >= 2**64:
            pytest.skip("no numpy integer holds it")
        call = lambda: soft_match_scores([good, [(np.uint64(1), np.uint64(value))]], [good, good])  # noqa: E731
    elif path == "arrow":
        if value >= 2**64:
            pytest.skip("no Arrow integer holds it")
        kind = pa.list_(pa.struct([("start", pa.uint64()), ("end", pa.uint64())]))
        column = pa.array([[{"start": 0, "end": 3}], [{"start": 1, "end": value}]], type=kind)
        call = lambda: soft_match_scores(column, [good, good])  # noqa: E731
    else:
        call = lambda: wsm.compute(predictions=[[], [{"start": 1, "end": value}]], references=[[], []])  # noqa: E731
    with pytest.raises(SpanError, match=r"document 1.*past the supported maximum"):
        call()


@pytest.mark.parametrize("value", [OFFSET_LIMIT, 2**63, 2**70])
def test_add_batch_refuses_offsets_past_the_bound_before_storing(value):
    m = load_metric("weighted_soft_match")
    with pytest.raises(SpanError, match=r"document 1: predictions\[1\]\[0\].*past the supported maximum"):
        m.add_batch(predictions=[[], [{"start": 1, "end": value}]], references=[[], []])


def test_token_offsets_past_the_bound_are_refused():
    with pytest.raises(SpanError, match="document 0: token offsets"):
        token_scores([[(0, 3)]], [[(0, 3)]], token_offsets=[[(0, OFFSET_LIMIT)]])


# ------------------------------------------------------------------ 9: bools are never offsets

@pytest.mark.parametrize("docs", [
    [[(0, 3), (True, 5)]],
    [[(0, 3), (1, np.True_)]],
    [[{"start": False, "end": 3}]],
    [[(0, 3)], [(np.bool_(False), 5)]],
])
def test_bools_are_not_offsets_on_the_core_paths(docs):
    with pytest.raises(SpanError, match="offsets must be integers"):
        soft_match_scores(docs, [[] for _ in docs])
    with pytest.raises(SpanError, match="offsets must be integers"):
        span_metrics([[] for _ in docs], docs)


def test_bools_are_not_offsets_in_arrow_columns():
    kind = pa.list_(pa.struct([("start", pa.bool_()), ("end", pa.int64())]))
    column = pa.array([[{"start": True, "end": 5}]], type=kind)
    with pytest.raises(SpanError, match="offsets must be integers"):
        SpanArrays.from_arrow(column)


@pytest.mark.parametrize("offsets", [[[(0, True)]], [np.array([[False, True]])], [[(0, 2), (np.True_, 3)]]])
def test_bools_are_not_token_offsets(offsets):
    with pytest.raises(SpanError, match="not bools"):
        token_scores([[(0, 1)]], [[(0, 1)]], token_offsets=offsets)


# ------------------------------------------------------------------ 10: options

BAD_OPTIONS = [
    (dict(zero_division=2), "zero_division"),
    (dict(zero_division="0"), "zero_division"),
    (dict(p_values="12"), "p_values must be a list"),
    (dict(p_values=2), "p_values must be a list"),
    (dict(p_values=[1, "abc"]), "p must be >= 1"),
    (dict(p_values=[None]), "p must be >= 1"),
    (dict(p_values=[True]), "p must be >= 1"),
    (dict(p_values=[0.5]), "p must be >= 1"),
    (dict(p_values=[math.nan]), "p must be >= 1"),
    (dict(p_values=[10**400]), "p must be >= 1"),
    (dict(length_bins=[(1,)]), "length bin"),
    (dict(length_bins=[(1, 2, 3)]), "length bin"),
    (dict(length_bins=[(0, 2)]), "length bin"),
    (dict(length_bins=[(3, 2)]), "length bin"),
    (dict(length_bins=[(1.5, 2)]), "length bin"),
    (dict(length_bins=[(True, 2)]), "length bin"),
    (dict(length_bins=["12"]), "length bin"),
    (dict(length_bins="12"), "length_bins must be a list"),
    (dict(texts="abc"), "texts must be a list of strings"),
    (dict(texts=[3]), r"texts\[0\] is int"),
    (dict(texts=["abc", "def"]), "1 span documents but 2 texts"),
    (dict(empty_spans="skip"), "empty_spans must be"),
]


@pytest.mark.parametrize("options, message", BAD_OPTIONS)
def test_bad_options_are_clear_value_errors(options, message):
    for score in (soft_match_scores, span_metrics):
        with pytest.raises(ValueError, match=message):
            score([[(0, 3)]], [[(0, 2)]], **options)


@pytest.mark.parametrize("options, message", [
    (dict(zero_division=2), "zero_division"),
    (dict(p="abc"), "p must be >= 1"),
    (dict(p=None), "p must be >= 1"),
    (dict(p=0), "p must be >= 1"),
    (dict(p_values="12"), "p_values must be a list"),
    (dict(length_bins=[(1,)]), "length bin"),
    (dict(texts="a"), "texts must be a list of strings"),
    (dict(empty_spans=None), "empty_spans must be"),
])
def test_bad_module_options_are_clear_value_errors(wsm, options, message):
    with pytest.raises(ValueError, match=message):
        wsm.compute(predictions=[[{"start": 0, "end": 1}]], references=[[{"start": 0, "end": 1}]], **options)


def test_span_metrics_checks_score_p_and_every_scorer_checks_zero_division():
    with pytest.raises(ValueError, match="score_p must be >= 1"):
        span_metrics([[(0, 3)]], [[(0, 3)]], score_p="2")
    for score in (semeval_scores, classification_report, token_scores):
        with pytest.raises(ValueError, match="zero_division"):
            score([[(0, 3)]], [[(0, 3)]], zero_division=1.5, **({"texts": ["abc"]} if score is token_scores else {}))


def test_p_inf_is_the_best_fragment_and_numpy_numbers_are_fine():
    res = soft_match_scores([[(0, 10)]], [[(0, 4), (6, 10)]], p_values=np.array([1.0, np.inf]))
    assert res["p"][math.inf]["recall"] == pytest.approx(0.4) and res["p"][1.0]["recall"] == pytest.approx(0.8)


# ------------------------------------------------------------------ 13: length bins of any size

@pytest.mark.parametrize("bins", [[(1, 10**9)], [(21, 10**9)], [(1, 10**30)], [(1, 2), (3, 10**12), (10**20, None)]])
def test_huge_length_bins_are_cheap_and_right(bins):
    gold = [[(0, 2), (5, 30)], [(0, 3)]]
    pred = [[(0, 2), (5, 20)], [(1, 3)]]
    res = flat(gold, pred, length_bins=bins)
    for lo, hi in bins:
        name = f"{lo}+" if hi is None else f"{lo}-{hi}"
        inside = [[s for s in d if lo <= s[1] - s[0] <= (hi if hi is not None else math.inf)] for d in gold]
        n = sum(map(len, inside))
        assert res[f"len_{name}_n_gold"] == n
        if n:  # recall in a bin: the gold spans of that length against all predictions
            expected = flat(inside, pred, length_bins=None)["recall"]
            assert res[f"len_{name}_recall"] == pytest.approx(expected)


def test_default_bins_unchanged():
    gold = [[(0, 1), (2, 5), (10, 17), (20, 31), (40, 90)]]
    pred = [[(0, 1), (2, 4), (10, 12), (20, 31), (41, 90)]]
    res = flat(gold, pred)
    assert [res[f"len_{b}_n_gold"] for b in ("1-2", "3-6", "7-10", "11-20", "21+")] == [1, 1, 1, 1, 1]
    assert res["len_3-6_recall"] == pytest.approx(2 / 3) and res["len_21+_recall"] == pytest.approx(49 / 50)
    assert res["len_7-10_precision"] == 0.0 and res["len_1-2_precision"] == 1.0  # (10, 12) has length 2


# ------------------------------------------------------------------ 14: token offsets without texts

def test_token_scores_memory_does_not_grow_with_offsets():
    gold, pred = [[(0, 5), (10**12 - 10, 10**12)]], [[(10**12 - 5, 10**12)]]
    tokens = [[(0, 5), (10**12 - 10, 10**12 - 5), (10**12 - 5, 10**12)]]
    tracemalloc.start()
    try:
        out = token_scores(gold, pred, token_offsets=tokens)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (out["tp"], out["fp"], out["fn"]) == (1, 0, 2)
    assert peak < 5_000_000


def test_token_hits_match_a_character_level_count():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n_docs = int(rng.integers(1, 4))
        gold, pred, tokens = [], [], []
        for _ in range(n_docs):
            def spans():
                out = []
                for _ in range(int(rng.integers(0, 4))):
                    s = int(rng.integers(0, 30))
                    out.append((s, s + int(rng.integers(1, 6))))
                return out
            gold.append(spans())
            pred.append(spans())
            cuts = np.sort(rng.choice(40, size=8, replace=False)).tolist()
            tokens.append([(a, b) for a, b in zip(cuts, cuts[1:])] + [(cuts[0], cuts[0])])
        out = token_scores(gold, pred, token_offsets=tokens)

        def covered(doc, a, b):
            return b > a and any(s < b and e > a for s, e in doc)

        g = [covered(gd, a, b) for gd, t in zip(gold, tokens) for a, b in t]
        p = [covered(pd, a, b) for pd, t in zip(pred, tokens) for a, b in t]
        assert out["tp"] == sum(x and y for x, y in zip(g, p))
        assert out["fp"] == sum(y and not x for x, y in zip(g, p))
        assert out["fn"] == sum(x and not y for x, y in zip(g, p))


# ------------------------------------------------------------------ 16: lone surrogates

def test_lone_surrogates_in_texts_are_code_points():
    text = "a\ud800 b\udfff c"
    assert whitespace_offsets(text) == [(0, 2), (3, 5), (6, 7)]
    out = token_scores([[(0, 2)]], [[(3, 5)]], texts=[text])
    assert (out["tp"], out["fp"], out["fn"], out["n_tokens"]) == (0, 1, 1, 3)
    assert span_metrics([[(0, 2)]], [[(0, 2)]], texts=[text])["f1"] == 1.0


def test_span_metrics_module_takes_marked_strings_and_texts_with_lone_surrogates(span_module, wsm):
    marked = ["@@fever\ud800## and @@cough##", "no \udc00 finding"]
    out = span_module.compute(predictions=marked, references=marked)
    assert (out["f1"], out["char_f1"], out["token_f1"], out["n_gold"]) == (1.0, 1.0, 1.0, 2.0)
    assert wsm.compute(predictions=marked, references=marked)["f1"] == 1.0
    spans = [[{"start": 0, "end": 2, "label": "D"}]]
    out = span_module.compute(predictions=spans, references=spans, texts=["a\ud800 b"])
    assert out["token_f1"] == 1.0 and out["f1"] == 1.0


@pytest.mark.parametrize("preds, refs, where", [
    (["@@a##b", "x@@y\ud800##"], ["@@a##b", "x@@y\ud800##"], r"predictions\[1\] holds the lone surrogate"),
    ([[{"start": 0, "end": 1, "label": "D\udc00"}]], [[]], r"predictions\[0\] holds the lone surrogate"),
    ([["O", "B-\ud800"]], [["O", "O"]], r"predictions\[0\] holds the lone surrogate"),
])
def test_add_batch_with_a_lone_surrogate_names_the_document(preds, refs, where):
    m = load_metric("weighted_soft_match")
    with pytest.raises(SpanError, match=where):
        m.add_batch(predictions=preds, references=refs)


def test_add_batch_drops_a_surrogate_in_an_ignored_text_key():
    m = load_metric("weighted_soft_match")
    m.add_batch(predictions=[[{"start": 0, "end": 2, "text": "a\ud800"}]], references=[[{"start": 0, "end": 2}]])
    assert m.compute()["f1"] == 1.0


# ------------------------------------------------------------------ 19: empty spans

def parse_xml_tags(xml: str) -> tuple[str, list[tuple[int, int, str]]]:
    """A minimal MedTxt-style reader: ``<f>...</f>`` tags to (text, spans), as corpus converters do."""
    import re

    text, spans, pos, opened = [], [], 0, None
    for m in re.finditer(r"<(/?)(\w+)>", xml):
        text.append(xml[pos:m.start()])
        here = sum(map(len, text))
        if m.group(1):
            spans.append((opened, here, m.group(2)))
        else:
            opened = here
        pos = m.end()
    text.append(xml[pos:])
    return "".join(text), spans


def test_medtxt_empty_f_annotation_errors_by_default_and_drops_on_request(span_module, wsm):
    text, gold = parse_xml_tags("<d>Small nodule</d> in the <a>right lung</a>.<f></f> No <d>effusion</d>.")
    assert text == "Small nodule in the right lung. No effusion." and gold[2] == (31, 31, "f")  # <f></f>
    pred = [(0, 12, "d"), (35, 43, "d")]
    with pytest.raises(SpanError, match="document 0, span 2: start 31 >= end 31.*empty_spans='drop'"):
        span_metrics([gold], [pred], texts=[text])
    dropped = span_metrics([gold], [pred], texts=[text], empty_spans="drop")
    clean = span_metrics([[s for s in gold if s[0] < s[1]]], [pred], texts=[text])
    assert dropped == {**clean, "gold_empty_dropped": 1.0, "pred_empty_dropped": 0.0}
    refs = [[{"start": s, "end": e, "label": lab} for s, e, lab in gold]]
    preds = [[{"start": s, "end": e, "label": lab} for s, e, lab in pred]]
    for module in (wsm, span_module):
        with pytest.raises(SpanError, match="start 31 >= end 31"):
            module.compute(predictions=preds, references=refs)
        out = module.compute(predictions=preds, references=refs, empty_spans="drop")
        assert (out["gold_empty_dropped"], out["pred_empty_dropped"]) == (1.0, 0.0)
        assert "gold_empty_dropped" not in module.compute(predictions=preds, references=[refs[0][:2]])
    streamed = load_metric("span_metrics")
    streamed.add_batch(predictions=preds, references=refs)
    assert streamed.compute(empty_spans="drop") == span_module.compute(predictions=preds, references=refs,
                                                                       empty_spans="drop")


@pytest.mark.parametrize("path", ["tuples", "dicts", "mixed", "arrow"])
def test_empty_spans_drop_on_every_path(path):
    gold = [[(0, 3, "A"), (5, 5, "A")], [(2, 2, None)], [(1, 4, "B")]]
    pred = [[(0, 2, "A"), (7, 7, "B")], [], [(1, 1, "B"), (2, 4, "B")]]
    if path == "dicts":
        gold, pred = ([[{"start": s, "end": e, "label": x} for s, e, x in d] for d in c] for c in (gold, pred))
    elif path == "mixed":  # the slow path (a Span-like list among tuples)
        gold = [[list(s) for s in d] for d in gold]
    elif path == "arrow":
        gold = pa.array([[{"start": s, "end": e, "label": x} for s, e, x in d] for d in gold])
    g, p = pair_arrays(gold, pred, empty_spans="drop")
    assert (g.empty_dropped, p.empty_dropped, len(g), len(p)) == (2, 2, 2, 2)
    res = soft_match_scores(gold, pred, empty_spans="drop")
    clean = soft_match_scores([[(0, 3, "A")], [], [(1, 4, "B")]], [[(0, 2, "A")], [], [(2, 4, "B")]])
    assert res == {**clean, "gold_empty_dropped": 2, "pred_empty_dropped": 2}
    with pytest.raises(SpanError, match="start 5 >= end 5|start 2 >= end 2"):
        soft_match_scores(gold, pred)


def test_dropping_keeps_the_other_checks():
    with pytest.raises(SpanError, match="start 4 >= end 3"):
        soft_match_scores([[(4, 3)]], [[]], empty_spans="drop")
    with pytest.raises(SpanError, match="past the end of the text"):
        soft_match_scores([[(9, 9)]], [[]], texts=["abc"], empty_spans="drop")
    with pytest.raises(SpanError, match="offsets must be integers"):
        soft_match_scores([[(True, True)]], [[]], empty_spans="drop")


def test_one_shot_iterables_are_read_not_lost():
    """A generator per document used to be consumed by the fast path and read as empty by the slow one."""
    gold = [(s for s in [(0, 3), [4, 6]])]
    assert soft_match_scores(gold, [[(0, 3), (4, 6)]])["p"][1.0]["f1"] == 1.0


@needs_shared_data("ebm_nlp_pico", "ebm_nlp.io.jsonl")
def test_real_corpus_with_empty_annotations_scores_with_drop():
    """EBM-NLP (PICO) has zero-width gold annotations, as MedTxt-RR-EN has one <f></f>."""
    docs = [json.loads(line) for line in EBM.read_text(encoding="utf-8").splitlines()]
    spans = [d["entities"] for d in docs]
    texts = [d["text"] for d in docs]
    n_empty = sum(s["start"] == s["end"] for d in spans for s in d)
    assert n_empty > 0
    with pytest.raises(SpanError, match="must be non-empty"):
        span_metrics(spans, spans, texts=texts)
    out = span_metrics(spans, spans, texts=texts, empty_spans="drop")
    assert (out["f1"], out["strict_f1"], out["gold_empty_dropped"], out["pred_empty_dropped"]) == (
        1.0, 1.0, n_empty, n_empty)
    assert out["n_gold"] <= sum(map(len, spans)) - n_empty  # merged overlaps count once
