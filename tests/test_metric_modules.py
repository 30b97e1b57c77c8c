"""The evaluate modules: loading (path, packaged, bare name offline), input forms against the core,
errors, streaming, two-process distributed compute, the fast path, doctests and Trainer use."""

import json
import math
import multiprocessing
import os
import runpy
import subprocess
import sys
import tomllib
from pathlib import Path

import evaluate
import numpy as np
import pytest
from seqeval.metrics import classification_report as seqeval_report
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.scheme import IOB2

from ecr_hf.spans import decode_corpus
from ecr_hf.scoring import METRIC_NAMES, load_metric, metric_script, register_metrics
from ecr_hf.spans import MarkerError
from ecr_hf.scoring import semeval_scores
from ecr_hf.scoring import flatten_scores, soft_match_scores
from ecr_hf.spans import Span, SpanArrays, SpanError
from ecr_hf.scoring import token_scores

REPO = Path(__file__).resolve().parents[1]
P_VALUES = [1.0, 1.5, 2.0, 100.0]


@pytest.fixture(scope="module")
def wsm():
    return load_metric("weighted_soft_match")


@pytest.fixture(scope="module")
def span_metrics():
    return load_metric("span_metrics")


def core(refs, preds, p=1.0, **kw):
    """What the module must return for span lists: the core, flattened at p."""
    return flatten_scores(soft_match_scores(refs, preds, p_values=[*P_VALUES, p], **kw), p)


# Two documents in every input form. Doc 0: a 10-character concept found as 4 + 4 characters.
# Doc 1 (text "abcdefghi"): gold "cde" [2, 5) and "hi" [7, 9); "cde" found whole, "hi" missed.
def span(start, end, label):
    return {"start": start, "end": end, "label": label}


SPANS = {
    "refs": [[span(0, 10, "X")], [span(2, 5, "Y"), span(7, 9, "Y")]],
    "preds": [[span(0, 4, "X"), span(6, 10, "X")], [span(2, 5, "Y")]],
}
FORMS = {
    "spans": (SPANS["preds"], SPANS["refs"]),
    "marked": (["@@abcd##ef@@ghij##", "ab@@cde##fghi"], ["@@abcdefghij##", "ab@@cde##fg@@hi##"]),
    "tags": ([["B-X", "I-X", "I-X", "I-X", "O", "O", "B-X", "I-X", "I-X", "I-X"],
              ["O", "O", "B-Y", "I-Y", "I-Y", "O", "O", "O", "O"]],
             [["B-X"] + ["I-X"] * 9, ["O", "O", "B-Y", "I-Y", "I-Y", "O", "O", "B-Y", "I-Y"]]),
    "binary": ([[1, 1, 1, 1, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 0, 0, 0]], [[1] * 10, [0, 0, 1, 1, 1, 0, 0, 1, 1]]),
}
TYPED_FORMS = ("spans", "tags")  # the forms that carry labels


def hand_spans(form):
    """The same spans written by hand as Span lists (labels only where the form has them)."""
    def strip(docs):
        return [[Span(s["start"], s["end"], s["label"] if form in TYPED_FORMS else None) for s in d] for d in docs]
    return strip(SPANS["refs"]), strip(SPANS["preds"])


# ---------------------------------------------------------------- loading and packaging

def test_packaged_scripts_are_the_repository_folders():
    for name in METRIC_NAMES:
        assert metric_script(name).resolve() == (REPO / "metrics" / name / f"{name}.py").resolve()
        for extra in ("README.md", "app.py", "requirements.txt"):
            assert (REPO / "metrics" / name / extra).is_file()
        assert "evaluate>=0.4.3,<0.5" in (REPO / "metrics" / name / "requirements.txt").read_text()
    with pytest.raises(ValueError, match="unknown ecr-hf metric 'seqeval'"):
        metric_script("seqeval")


def test_pyproject_ships_the_metrics_and_every_subpackage():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"ecr_hf._metrics": "metrics"}
    subpackages = {"ecr_hf." + ".".join(p.parent.relative_to(REPO / "ecr_hf").parts)
                   for p in (REPO / "ecr_hf").rglob("__init__.py") if p.parent != REPO / "ecr_hf"}
    missing = subpackages - set(setuptools["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"
    for name in METRIC_NAMES:
        assert f"ecr_hf._metrics.{name}" in setuptools["packages"]
        assert set(setuptools["package-data"][f"ecr_hf._metrics.{name}"]) == {"README.md", "requirements.txt"}


def test_path_load_and_packaged_load_give_the_core_numbers(wsm):
    by_path = evaluate.load(str(REPO / "metrics" / "weighted_soft_match"))
    assert type(by_path).__name__ == type(wsm).__name__ == "WeightedSoftMatch"
    expected = core(SPANS["refs"], SPANS["preds"])
    assert by_path.compute(predictions=SPANS["preds"], references=SPANS["refs"]) == expected
    assert wsm.compute(predictions=SPANS["preds"], references=SPANS["refs"]) == expected


def test_app_loads_the_module_beside_it():
    pytest.importorskip("gradio")
    for name in METRIC_NAMES:
        demo = runpy.run_path(str(REPO / "metrics" / name / "app.py"))["demo"]
        assert demo.title == name.replace("_", " ").title()  # built on current gradio, not evaluate's gradio-3 widget


STALE = '''import datasets, evaluate
class WeightedSoftMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="stale", citation="", features=datasets.Features(
            {"predictions": datasets.Value("string"), "references": datasets.Value("string")}))
    def _compute(self, predictions, references):
        return {"stale": 1.0}
'''

CHILD = r'''
import doctest, inspect, io, json, re, sys
import evaluate
from ecr_hf.scoring import metric_script
out = {}
for name in sys.argv[1:]:
    metric = evaluate.load(name)
    readme = re.sub(r"(?m)^```.*$", "", metric_script(name).with_name("README.md").read_text())
    result = {"class": type(metric).__name__, "file": inspect.getfile(type(metric))}
    for part, text in (("kwargs", metric.inputs_description), ("readme", readme)):
        test = doctest.DocTestParser().get_doctest(text, {}, f"{name} {part}", None, 0)
        runner, log = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS), io.StringIO()
        runner.run(test, out=log.write)
        result[part] = [runner.failures, runner.tries, log.getvalue()]
    out[name] = result
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def fresh_process(tmp_path_factory):
    """Register into a temporary HF_HOME that holds a stale, newer-looking copy of an older module,
    then load both modules by bare name in a fresh process, offline, from another directory, and
    run their docstring and README examples there."""
    home, cwd = tmp_path_factory.mktemp("hf_home"), tmp_path_factory.mktemp("elsewhere")
    stale = home / "modules" / "evaluate_modules" / "metrics" / "evaluate-metric--weighted_soft_match" / ("0" * 64)
    stale.mkdir(parents=True)
    (stale / "__init__.py").touch()
    (stale / "weighted_soft_match.py").write_text(STALE)
    os.utime(stale / "weighted_soft_match.py", (2e9, 2e9))  # year 2033: "the latest cached version"
    registered = register_metrics(modules_cache=home / "modules")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_MODULES_CACHE", "HF_EVALUATE_OFFLINE")}
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1")
    run = subprocess.run([sys.executable, "-c", CHILD, *METRIC_NAMES], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return registered, json.loads(run.stdout.strip().splitlines()[-1]), stale


def test_bare_name_load_offline_after_registration_replaces_stale_copies(fresh_process):
    registered, out, stale = fresh_process
    assert not stale.exists()
    for name in METRIC_NAMES:
        assert out[name]["class"] in ("WeightedSoftMatch", "SpanMetrics")
        assert Path(out[name]["file"]).resolve() == registered[name].resolve()
        assert registered[name].read_bytes() == metric_script(name).read_bytes()


@pytest.mark.parametrize("name", METRIC_NAMES)
@pytest.mark.parametrize("part", ["kwargs", "readme"])
def test_docstring_and_readme_examples_run(fresh_process, name, part):
    failures, tries, log = fresh_process[1][name][part]
    assert tries >= 4 and failures == 0, log


# ---------------------------------------------------------------- input forms against the core

@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("p", [1.0, 2.0])
def test_every_input_form_gives_the_core_numbers(wsm, form, p):
    preds, refs = FORMS[form]
    gold, pred = hand_spans(form)
    out = wsm.compute(predictions=preds, references=refs, p=p)
    assert out == core(gold, pred, p)
    assert all(isinstance(v, float) for v in out.values())
    # by hand: recall (8 + 3 + 0) / 15 at p = 1; doc 0 scores 10 * (0.4**p + 0.4**p) ** (1/p) at p
    assert out["recall"] == pytest.approx((10 * (2 * 0.4**p) ** (1 / p) + 3) / 15)
    assert out["precision"] == 1.0
    assert out["p1_recall"] == pytest.approx(11 / 15)
    assert (out["n_gold"], out["n_pred"], out["gold_chars"]) == (3.0, 3.0, 15.0)


def test_typed_and_options_reach_the_core(wsm):
    refs = [[{"start": 0, "end": 6, "label": "A"}]]
    preds = [[{"start": 0, "end": 3, "label": "A"}, {"start": 3, "end": 6, "label": "B"}]]
    untyped = wsm.compute(predictions=preds, references=refs)
    typed = wsm.compute(predictions=preds, references=refs, typed=True, p_values=[1.0, float("inf")],
                        length_bins=[(1, 3), (4, None)], zero_division=1.0)
    assert untyped["recall"] == 1.0 and typed["recall"] == 0.5 and typed["precision"] == 0.5
    assert typed == flatten_scores(soft_match_scores(refs, preds, p_values=[1.0, float("inf")], typed=True,
                                                     length_bins=[(1, 3), (4, None)], zero_division=1.0), 1.0)
    assert "pinf_recall" in typed and "p2_recall" not in typed and "len_4+_recall" in typed
    texts = ["abcdef"]
    assert wsm.compute(predictions=preds, references=refs, texts=texts) == untyped
    with pytest.raises(SpanError, match="past the end of the text"):
        wsm.compute(predictions=preds, references=refs, texts=["abc"])


def test_marked_generations_are_decoded_and_report_faithfulness(wsm):
    refs = ["@@fever## and @@cough## today", "no finding"]
    preds = ["@@fevr## and @@cough## today", "no finding"]
    out = wsm.compute(predictions=preds, references=refs)
    spans, report = decode_corpus(preds, ["fever and cough today", "no finding"])
    assert out == core([[(0, 5), (10, 15)], []], spans) | report.to_dict(prefix="faithfulness_")
    assert out["recall"] == 1.0 and out["faithfulness_exact_match_rate"] == 0.5
    assert out["faithfulness_mean_edit_distance"] == 1.0
    faithful = wsm.compute(predictions=refs, references=refs)
    assert not any(k.startswith("faithfulness_") for k in faithful)
    assert wsm.compute(predictions=refs, references=refs, decode=True)["faithfulness_exact_match_rate"] == 1.0
    with pytest.raises(MarkerError, match="decode_marked"):
        wsm.compute(predictions=preds, references=refs, decode=False)


# ---------------------------------------------------------------- errors

GOOD = [span(0, 3, "X")]
BAD = [
    ([[span(0, 3.5, "X")]], [GOOD], SpanError, r"predictions\[0\]\[0\].*must be present and integers"),
    ([[{"start": 0, "label": "X"}]], [GOOD], SpanError, r"predictions\[0\]\[0\].*'start' and 'end' must be present"),
    ([[{"start": True, "end": 3}]], [GOOD], SpanError, "must be present and integers"),
    ([[{"start": 0, "end": 3, "label": 5}]], [GOOD], SpanError, "'label' must be a string"),
    ([GOOD, [(0, 3, "X")]], [GOOD, GOOD], ValueError, r"predictions\[1\] is an unknown form"),
    ([GOOD, "@@abc##"], [GOOD, GOOD], ValueError, r"predictions\[1\] is in form 'marked'.*mixed input forms"),
    (["@@abc##"], [GOOD], ValueError, "predictions are 'marked' but references are 'spans'"),
    ([["O", "B-X"]], [[0, 1]], ValueError, "predictions are 'tags' but references are 'binary'"),
    ([GOOD], [GOOD, GOOD], ValueError, "got 1 predictions but 2 references"),
    ([["O", "B-X"]], [["O", "B-X", "I-X"]], ValueError, "document 0: 2 predicted labels but 3 reference labels"),
    ([[0, 2]], [[0, 1]], ValueError, r"0/1 character labels must all be the ints 0 or 1"),
    ([["O", 1]], [["O", "O"]], ValueError, "mixes tag strings"),
    ([{1, 2}], [GOOD], ValueError, "no known input form"),
    ("@@abc##", ["@@abc##"], ValueError, "predictions must be a list with one item per document"),
    ([[{"start": 3, "end": 3}]], [GOOD], SpanError, "start 3 >= end 3"),
]


@pytest.mark.parametrize("preds, refs, error, message", BAD)
def test_bad_inputs_raise_clear_errors_on_every_path(wsm, preds, refs, error, message):
    with pytest.raises(error, match=message):
        wsm.compute(predictions=preds, references=refs)
    if "start 3 >= end 3" not in message:  # offsets are checked by the core, at compute
        stream = load_metric("weighted_soft_match")
        with pytest.raises(error, match=message):
            stream.add_batch(predictions=preds, references=refs)


def test_option_errors(wsm, span_metrics):
    with pytest.raises(ValueError, match="texts= checks the offsets of span lists"):
        wsm.compute(predictions=[["O", "B-X"]], references=[["O", "B-X"]], texts=["ab"])
    with pytest.raises(ValueError, match="decode= applies to marked strings"):
        wsm.compute(predictions=[GOOD], references=[GOOD], decode=True)
    with pytest.raises(ValueError, match="p must be >= 1"):
        wsm.compute(predictions=[GOOD], references=[GOOD], p=0.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'pvalues'"):
        wsm.compute(predictions=[GOOD], references=[GOOD], pvalues=[1])
    with pytest.raises(ValueError, match="unknown scheme"):
        span_metrics.compute(predictions=[["B-X"]], references=[["B-X"]], mode="strict", scheme="IOB9")


def test_mixing_forms_across_add_batch_calls_raises():
    metric = load_metric("weighted_soft_match")
    metric.add_batch(predictions=[GOOD], references=[GOOD])
    metric.add_batch(predictions=[[]], references=[[]])  # empty documents fit any form
    with pytest.raises(ValueError, match="this batch is in form 'marked' but earlier add.*'spans'"):
        metric.add_batch(predictions=["@@abc##"], references=["@@abc##"])
    with pytest.raises(ValueError, match="in form 'tags' but earlier"):
        metric.add(prediction=["B-X"], reference=["B-X"])
    assert metric.compute()["recall"] == 1.0


# ---------------------------------------------------------------- streaming, distributed, fast path

@pytest.mark.parametrize("form", FORMS)
def test_add_batch_and_add_equal_one_shot(form):
    preds, refs = FORMS[form]
    metric = load_metric("weighted_soft_match")
    one_shot = metric.compute(predictions=preds, references=refs, p=1.5)
    metric.add_batch(predictions=preds[:1], references=refs[:1])
    metric.add(prediction=preds[1], reference=refs[1])
    assert metric.compute(p=1.5) == one_shot


def test_stream_starting_with_empty_documents(wsm):
    preds, refs = [[], *SPANS["preds"]], [[], *SPANS["refs"]]
    metric = load_metric("weighted_soft_match")
    for k in range(3):
        metric.add_batch(predictions=preds[k:k + 1], references=refs[k:k + 1])
    assert metric.compute() == wsm.compute(predictions=preds, references=refs) == core(refs, preds)


def _distributed_shard(process_id, preds, refs, cache_dir, queue):
    metric = load_metric("weighted_soft_match", num_process=2, process_id=process_id,
                         experiment_id="test-two-processes", cache_dir=cache_dir)
    for k in range(0, len(preds), 2):
        metric.add_batch(predictions=preds[k:k + 2], references=refs[k:k + 2])
    queue.put((process_id, metric.compute(p=2.0)))


def test_two_processes_give_the_single_process_result(wsm, tmp_path):
    rng = np.random.default_rng(0)
    refs, preds = [], []
    for _ in range(12):
        refs.append([{"start": int(s), "end": int(s) + int(n), "label": "X"} for s, n in
                     zip(rng.choice(100, 3, replace=False) * 10, rng.integers(1, 10, 3))])
        preds.append([{"start": s["start"] + int(rng.integers(0, 3)), "end": s["end"] + 2, "label": "X"}
                      for s in refs[-1] if rng.random() < 0.8])
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    shards = [(refs[:7], preds[:7]), (refs[7:], preds[7:])]
    procs = [ctx.Process(target=_distributed_shard, args=(i, shards[i][1], shards[i][0], str(tmp_path), queue))
             for i in range(2)]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert results[1] is None
    assert results[0] == wsm.compute(predictions=preds, references=refs, p=2.0) == core(refs, preds, 2.0)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_stored_span_batches_reach_the_core_as_arrow(name, monkeypatch):
    metric = load_metric(name)
    one_shot = metric.compute(predictions=SPANS["preds"], references=SPANS["refs"])
    metric.add_batch(predictions=SPANS["preds"], references=SPANS["refs"])

    def no_python_copy(*args, **kwargs):
        raise AssertionError("stored spans were read back as Python dicts")

    monkeypatch.setattr(SpanArrays, "from_documents", no_python_copy)
    assert metric.compute() == one_shot


def test_stored_span_batches_are_checked_against_texts():
    metric = load_metric("weighted_soft_match")
    metric.add_batch(predictions=[[span(0, 3, "X")], [span(2, 9, "X")]], references=[GOOD, GOOD])
    with pytest.raises(SpanError, match="document 1, span 0: end 9 is past the end of the text"):
        metric.compute(texts=["abcdef", "abcdef"])


def test_single_process_compute_skips_the_arrow_round_trip(monkeypatch):
    metric = load_metric("weighted_soft_match")

    def no_storage(*args, **kwargs):
        raise AssertionError("evaluate's storage was used")

    monkeypatch.setattr(metric, "_finalize", no_storage)
    assert metric.compute(predictions=SPANS["preds"], references=SPANS["refs"]) == core(SPANS["refs"], SPANS["preds"])
    metric.add_batch(predictions=SPANS["preds"], references=SPANS["refs"])
    with pytest.raises(AssertionError, match="storage was used"):  # streaming keeps evaluate's machinery
        metric.compute()


def test_trainer_compute_metrics_returns_flat_floats(wsm):
    """A ``Trainer(compute_metrics=...)`` function for a token classifier, built on the module."""
    id2label = {0: "O", 1: "B-D", 2: "I-D"}

    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        predictions = np.argmax(logits, axis=-1)
        keep = labels != -100
        refs = [[id2label[int(x)] for x in row[m]] for row, m in zip(labels, keep)]
        preds = [[id2label[int(x)] for x in row[m]] for row, m in zip(predictions, keep)]
        return wsm.compute(predictions=preds, references=refs, p=2.0)

    labels = np.array([[-100, 1, 2, 2, 2, 0, -100], [-100, 0, 1, 2, 0, -100, -100]])
    predicted = np.array([[0, 1, 2, 0, 2, 0, 0], [0, 0, 1, 2, 0, 0, 0]])  # doc 0: 4-word span found as 2 + 1
    logits = np.eye(3)[predicted]
    out = compute_metrics((logits, labels))
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in out.items())
    assert out["recall"] == pytest.approx((4 * math.sqrt(0.5**2 + 0.25**2) + 2) / 6)
    assert out["p1_recall"] == pytest.approx(5 / 6) and out["precision"] == 1.0


# ---------------------------------------------------------------- span_metrics

def random_tags(rng, n_docs=60):
    refs, preds = [], []
    for _ in range(n_docs):
        n = int(rng.integers(1, 15))
        ref = rng.choice(["O", "O", "B-A", "I-A", "B-B", "I-B"], n).tolist()
        pred = [t if rng.random() < 0.7 else rng.choice(["O", "B-A", "I-A", "I-B"]) for t in ref]
        refs.append(ref)
        preds.append(pred)
    return refs, preds


@pytest.mark.parametrize("mode", ["default", "strict"])
def test_span_metrics_entity_scores_match_seqeval(span_metrics, mode):
    refs, preds = random_tags(np.random.default_rng(1))
    out = span_metrics.compute(predictions=preds, references=refs, mode=mode)
    kwargs = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    assert out["strict_f1"] == pytest.approx(seqeval_f1(refs, preds, **kwargs))
    report = seqeval_report(refs, preds, output_dict=True, zero_division=0, **kwargs)
    for label in ("A", "B"):
        assert out[f"strict_label_{label}_f1"] == pytest.approx(report[label]["f1-score"])
        assert out[f"strict_label_{label}_support"] == report[label]["support"]
    for prefix, average in (("strict", "micro"), ("strict_macro", "macro"), ("strict_weighted", "weighted")):
        assert out[f"{prefix}_recall"] == pytest.approx(report[f"{average} avg"]["recall"])
    assert not any(key.startswith(("micro_", "macro_", "weighted_", "label_")) for key in out)
    assert out["f1"] == out["char_f1"]  # the bare keys are the soft match, as in ecr_hf.span_metrics


def test_span_metrics_reuses_the_core_on_the_same_spans(span_metrics):
    refs, preds = SPANS["refs"], SPANS["preds"]
    texts = ["ten chars.", "abcde f hi"]
    out = span_metrics.compute(predictions=preds, references=refs, texts=texts)
    chars = flatten_scores(soft_match_scores(refs, preds, p_values=[1]))
    typed_chars = flatten_scores(soft_match_scores(refs, preds, p_values=[1], typed=True))
    tokens = token_scores(refs, preds, texts=texts)
    semeval = semeval_scores(refs, preds)
    for key in ("precision", "recall", "f1"):
        assert out[key] == out[f"char_{key}"] == chars[key] and out[f"char_typed_{key}"] == typed_chars[key]
        assert out[f"token_{key}"] == tokens[key]
        for schema in ("strict", "exact", "partial", "ent_type"):
            assert out[f"semeval_{schema}_{key}"] == semeval[schema][key]
    # by hand: tokens "ten" "chars." | "abcde" "f" "hi"; gold covers four, predictions three of them
    assert (out["token_precision"], out["token_recall"]) == (1.0, 0.75)
    # SemEval: doc 0 pairs the gold span with one fragment (INC), the other fragment is SPU;
    # doc 1 "cde" COR, "hi" MIS
    assert [out[f"semeval_strict_{k}"] for k in ("correct", "incorrect", "missed", "spurious")] == [1.0, 1.0, 1.0, 1.0]
    assert (out["n_gold"], out["n_pred"], out["n_documents"]) == (3.0, 3.0, 2.0)
    assert "token_f1" not in span_metrics.compute(predictions=preds, references=refs)  # no tokens known
    assert all(isinstance(v, float) for v in out.values())


@pytest.mark.parametrize("form", FORMS)
def test_span_metrics_input_forms_agree(span_metrics, form):
    preds, refs = FORMS[form]
    out = span_metrics.compute(predictions=preds, references=refs)
    gold, pred = hand_spans(form)
    assert out["char_recall"] == out["recall"] == pytest.approx(11 / 15)
    assert out["strict_f1"] == pytest.approx(semeval_scores(gold, pred)["strict"]["f1"])


def test_span_metrics_min_overlap_and_semeval_labels_reach_the_semeval_keys(span_metrics):
    # gold "0..10" D and "20..24" C; the D prediction covers 3 of 10 characters, the C one is exact
    refs = [[{"start": 0, "end": 10, "label": "D"}, {"start": 20, "end": 24, "label": "C"}]]
    preds = [[{"start": 7, "end": 12, "label": "D"}, {"start": 20, "end": 24, "label": "C"}]]
    base = span_metrics.compute(predictions=preds, references=refs)
    assert (base["semeval_partial_partial"], base["semeval_partial_missed"]) == (1.0, 0.0)
    strict = span_metrics.compute(predictions=preds, references=refs, min_overlap=0.5)  # 3/10 < 0.5: no pair
    assert (strict["semeval_partial_partial"], strict["semeval_partial_missed"], strict["semeval_partial_spurious"]) \
        == (0.0, 1.0, 1.0)
    assert span_metrics.compute(predictions=preds, references=refs, min_overlap=0.3)["semeval_partial_partial"] == 1.0
    only_c = span_metrics.compute(predictions=preds, references=refs, semeval_labels=["C"])
    assert (only_c["semeval_strict_correct"], only_c["semeval_strict_possible"], only_c["semeval_strict_f1"]) \
        == (1.0, 1.0, 1.0)
    assert (only_c["n_gold"], only_c["n_pred"]) == (2.0, 2.0)  # the filter is SemEval's only
    assert only_c["char_recall"] == base["char_recall"]
    with pytest.raises(ValueError, match="min_overlap"):
        span_metrics.compute(predictions=preds, references=refs, min_overlap=50)
    with pytest.raises(SpanError, match="'X'"):
        span_metrics.compute(predictions=preds, references=refs, semeval_labels=["X"])


def test_weighted_soft_match_reads_suffix_tags(wsm):
    out = wsm.compute(predictions=[["D-B", "D-I", "O", "O"]], references=[["D-B", "D-I", "D-I", "O"]], suffix=True)
    assert out["recall"] == pytest.approx(2 / 3) and out["precision"] == 1.0
    with pytest.raises(ValueError, match="D-B"):
        wsm.compute(predictions=[["D-B", "O"]], references=[["D-B", "O"]])
