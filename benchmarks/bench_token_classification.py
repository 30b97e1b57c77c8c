"""Speed of ecr-hf token classification against the plain ``transformers`` path, as ratios from one run.

Everything runs on the CPU (``use_cpu=True``) with a fixed number of torch threads (``--threads``,
default 1: the steadiest on a shared machine) and fixed seeds, on NCBI-disease
(``/work/shared/data/ncbi_disease``, else the sample the package ships) with the offline
all-MiniLM-L6-v2 encoder and SmolLM2-135M decoder (:mod:`ecr_hf.utils.offline_models`). The two sides of
each comparison run alternately (the order flipped every round) and each keeps its best time;
process CPU time is printed beside wall time, as the steadier figure when others load the machine.
``ratio`` is always ecr-hf time / baseline time: below 1 is faster.

1. ``train``: time per optimizer step of ``ECRTrainer`` (documents in, window columns carried to the
   collator and stripped before the forward pass) against a plain ``Trainer`` on a copy of the same
   weights (the HF ``BertForTokenClassification`` inside the ecr-hf model), the same windows from
   ``tokenize_and_align`` without their window columns, ``DataCollatorForTokenClassification`` (both
   pad to the longest row). A collator wrapper checks that both saw the same batches in the same
   order. A callback times each step after ``--warmup`` steps (setup is left out); each step's best
   over the rounds is kept. Also timed alone: fetching and collating the batches, the part of a step
   that ecr-hf changes. Target: ratio <= 1.05.
2. ``eval``: ``ECRTrainer.evaluate()`` (window merging and character-span metrics: soft match at four
   p values, character, strict, per label and length) against ``Trainer.evaluate()`` whose
   ``compute_metrics`` argmaxes the logits, maps them to tags skipping -100 and calls seqeval's
   ``classification_report`` and ``accuracy_score`` (what ``evaluate.load("seqeval")`` runs). Same
   model (its head untrained, so it predicts many spans: a heavy load for both scorers), same test
   sentences, same batches; the time outside the model's forward pass is shown apart.
   Target: ratio <= 1.2.
3. ``infer``: characters per second of ``ECRExtractor`` with MiniLM (full fine-tune config) and
   SmolLM2 (LoRA config), untrained heads, on test sentences and on whole PubMed abstracts (windows of
   512 tokens, and of 128 for MiniLM so that abstracts span several), batch sizes 16 and 32; the
   ratio is against the ``transformers`` token-classification pipeline (``aggregation_strategy=
   "simple"``, same model, texts, windows and batch size). "forward" is the share of the time spent
   in the model's forward pass.

    python benchmarks/bench_token_classification.py            # full run, about 5-6 min on 2 cores
    python benchmarks/bench_token_classification.py --quick    # smoke run, under a minute
    python benchmarks/bench_token_classification.py --sections train,eval --profile
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import functools
import gc
import io
import json
import os
import pstats
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    DataCollatorForTokenClassification,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.utils import logging as hf_logging  # noqa: E402

from ecr_hf.token_classification.extractor import ECRExtractor  # noqa: E402
from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier  # noqa: E402
from ecr_hf.utils.offline_models import offline_model_path  # noqa: E402
from ecr_hf.token_classification import DataCollatorForWindowedTokenClassification, tokenize_and_align  # noqa: E402
from ecr_hf.token_classification.trainer import WINDOW_COLUMNS, ECRTrainer, ECRTrainingArguments  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NCBI_DIR = Path("/work/shared/data/ncbi_disease")
NCBI_SENTENCES = NCBI_DIR / "ncbi_disease.conll.jsonl"
NCBI_ABSTRACTS = NCBI_DIR / "ncbi_disease.pubtator.jsonl"
NCBI_SAMPLE = ROOT / "ecr_hf" / "data" / "ncbi_disease_sample.jsonl"
LABELS = ["O", "B-Disease", "I-Disease"]
TRAIN_TARGET, EVAL_TARGET = 1.05, 1.2
T = TypeVar("T")


# ---------------------------------------------------------------- data


def load_documents(path: Path, split: str | None, limit: int) -> list[dict]:
    """Up to ``limit`` documents ``{"text", "entities"}`` of one split (all entities typed "Disease")."""
    docs = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if split is not None and row.get("split") != split:
                continue
            ents = [{"start": e["start"], "end": e["end"], "label": "Disease"} for e in row["entities"]]
            docs.append({"text": row["text"], "entities": ents})
            if len(docs) == limit:
                break
    return docs


def sentences(split: str, limit: int) -> tuple[list[dict], str]:
    if NCBI_SENTENCES.exists():
        return load_documents(NCBI_SENTENCES, split, limit), f"NCBI {split} sentences"
    return load_documents(NCBI_SAMPLE, None, limit), "NCBI sample sentences"


def abstracts(limit: int) -> tuple[list[dict], str]:
    if NCBI_ABSTRACTS.exists():
        return load_documents(NCBI_ABSTRACTS, "test", limit), "NCBI test abstracts"
    docs = load_documents(NCBI_SAMPLE, None, 10 * limit)  # no abstracts: glue 10 sentences into one
    return [{"text": " ".join(d["text"] for d in docs[k:k + 10]), "entities": []}
            for k in range(0, len(docs), 10)], "NCBI sample, 10 sentences glued"


# ---------------------------------------------------------------- timing


class Results:
    """The printed table: one row per measurement, grouped by section."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, section: str, what: str, value: str, ratio: str = "", note: str = "") -> None:
        self.rows.append((section, what, value, ratio, note))
        print(f"  {what:<64} {value:>16} {ratio:>8}  {note}", flush=True)

    def render(self) -> str:
        lines = [f"{'section':<8} {'what':<64} {'value':>16} {'ratio':>8}  note", "-" * 126]
        lines += [f"{s:<8} {w:<64} {v:>16} {r:>8}  {n}" for s, w, v, r, n in self.rows]
        return "\n".join(lines)


def verdict(ratio: float, target: float) -> str:
    return f"target <= {target:.2f}x {'MET' if ratio <= target else 'MISSED'}"


@contextlib.contextmanager
def no_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class ForwardClock:
    """Adds up the wall time spent inside ``module.forward`` (patched on the instance, then restored)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.seconds = module, 0.0

    def __enter__(self) -> "ForwardClock":
        original = self.module.forward

        @functools.wraps(original)  # keeps the signature, which Trainer reads to drop unused columns
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        self.module.forward = timed
        return self

    def __exit__(self, *exc) -> None:
        del self.module.forward  # the class's forward shows through again


class StepClock(TrainerCallback):
    """Wall and process CPU time at the end of every optimizer step."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def steps(self, warmup: int) -> tuple[np.ndarray, np.ndarray]:
        """Wall and CPU seconds of each step after the first ``warmup``."""
        return np.diff(self.wall[warmup - 1:]), np.diff(self.cpu[warmup - 1:])


def best_per_step(runs: list[np.ndarray]) -> float:
    """Mean over steps of each step's best time across rounds. Both sides of a comparison run the same
    batches in the same order, so step k is the same work in every round and on both sides; a load
    spike from other users then spoils single steps, not a whole side."""
    return float(np.min(np.stack(runs), axis=0).mean())


class ShapeLog:
    """A collator wrapper that records each batch's ``input_ids`` shape: proof that both sides of a
    comparison saw the same batches with the same padding."""

    def __init__(self, collator) -> None:
        self.collator, self.shapes = collator, []

    def __call__(self, features):
        batch = self.collator(features)
        self.shapes.append(tuple(batch["input_ids"].shape))
        return batch


def quiet(trainer: Trainer) -> Trainer:
    trainer.remove_callback(PrinterCallback)  # disable_tqdm=True prints every log dict otherwise
    return trainer


def alternate(runs: dict[str, Callable[[], T]], repeat: int) -> dict[str, list[T]]:
    """Each run ``repeat`` times, the order flipped every round; returns every result of each."""
    times: dict[str, list[T]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(repeat):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(runs[name]())
    return times


def same_batches(logs: dict[str, ShapeLog]) -> str:
    shapes = {name: log.shapes for name, log in logs.items()}
    first = next(iter(shapes.values()))
    if any(s != first for s in shapes.values()):
        raise SystemExit(f"the compared runs saw different batches: {shapes}; the benchmark is unfair")
    tokens = sum(a * b for a, b in first)
    return f"{len(first)} batches, {tokens:,} padded tokens, identical on both sides"


def wall(fn: Callable[[], object]) -> float:
    with no_gc():
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0


def fmt(ts: list[float], digits: int = 0) -> str:
    return "/".join(f"{t:.{digits}f}" for t in ts)


# ---------------------------------------------------------------- models


def minilm(seed: int):
    path = offline_model_path("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    set_seed(seed)
    model = build_token_classifier(TokenClassifierConfig(str(path), labels=LABELS), tokenizer)
    return model, tokenizer


def smollm2(seed: int):
    path = offline_model_path("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(path)
    set_seed(seed)
    cfg = TokenClassifierConfig(str(path), labels=LABELS, lora={"r": 16, "lora_alpha": 32})
    return build_token_classifier(cfg, tokenizer), tokenizer


def base_args(tmp: str, seed: int) -> dict:
    return dict(output_dir=tmp, use_cpu=True, seed=seed, data_seed=seed, dataloader_num_workers=0, report_to=[],
                save_strategy="no", logging_strategy="no", eval_strategy="no", disable_tqdm=True)


# ---------------------------------------------------------------- 1. training step


def bench_train(results: Results, model, tokenizer, args, tmp: str) -> None:
    steps = args.warmup + args.steps
    docs, name = sentences("train", steps * args.batch_size)
    print(f"\n[train] MiniLM, {name}: {len(docs)}, batch {args.batch_size}, {args.warmup} warm-up + "
          f"{args.steps} timed steps, {args.repeat} rounds", flush=True)
    hf_model = model.model  # the BertForTokenClassification inside the ecr-hf wrapper
    initial = copy.deepcopy(hf_model.state_dict())
    plain_model = copy.deepcopy(hf_model)
    features = tokenize_and_align(docs, tokenizer, hf_model.config.label2id).remove_columns(list(WINDOW_COLUMNS))
    train_args = dict(base_args(tmp, args.seed), per_device_train_batch_size=args.batch_size, max_steps=steps,
                      learning_rate=5e-5)
    logs: dict[str, ShapeLog] = {}

    def run_ecr() -> tuple[np.ndarray, np.ndarray]:
        hf_model.load_state_dict(initial)
        clock, logs["ecr"] = StepClock(), ShapeLog(DataCollatorForWindowedTokenClassification(tokenizer))
        trainer = quiet(ECRTrainer(model=model, args=ECRTrainingArguments(**train_args), train_dataset=docs,
                                   processing_class=tokenizer, data_collator=logs["ecr"], callbacks=[clock]))
        with no_gc():
            trainer.train()
        return clock.steps(args.warmup)

    def run_plain() -> tuple[np.ndarray, np.ndarray]:
        plain_model.load_state_dict(initial)
        clock, logs["plain"] = StepClock(), ShapeLog(DataCollatorForTokenClassification(tokenizer))
        trainer = quiet(Trainer(model=plain_model, args=TrainingArguments(**train_args), train_dataset=features,
                                data_collator=logs["plain"], callbacks=[clock]))
        with no_gc():
            trainer.train()
        return clock.steps(args.warmup)

    runs = alternate({"ecr": run_ecr, "plain": run_plain}, args.repeat)
    print(f"  {same_batches(logs)}")
    wall = {k: best_per_step([w for w, _ in v]) for k, v in runs.items()}
    cpu = {k: best_per_step([c for _, c in v]) for k, v in runs.items()}
    whole = {k: [w.mean() * 1e3 for w, _ in v] for k, v in runs.items()}
    ecr, plain = wall["ecr"], wall["plain"]
    results.add("train", "plain Trainer + DataCollatorForTokenClassification", f"{plain * 1e3:.0f} ms/step",
                "1.00x", f"CPU {cpu['plain'] * 1e3:.0f} ms/step; rounds: {fmt(whole['plain'])} ms/step")
    results.add("train", "ECRTrainer (documents in, window columns)", f"{ecr * 1e3:.0f} ms/step",
                f"{ecr / plain:.2f}x", f"{verdict(ecr / plain, TRAIN_TARGET)}; CPU {cpu['ecr'] * 1e3:.0f} ms/step "
                f"({cpu['ecr'] / cpu['plain']:.2f}x); rounds: {fmt(whole['ecr'])} ms/step")

    # The part of a step that ecr-hf changes, without the model's noise: fetching and collating a batch.
    loaders = {
        "ecr": ECRTrainer(model=model, args=ECRTrainingArguments(**train_args), train_dataset=docs,
                          processing_class=tokenizer).get_train_dataloader(),
        "plain": Trainer(model=plain_model, args=TrainingArguments(**train_args), train_dataset=features,
                         data_collator=DataCollatorForTokenClassification(tokenizer)).get_train_dataloader(),
    }

    def load(key: str) -> Callable[[], float]:
        def run() -> float:
            with no_gc():
                t0 = time.perf_counter()
                n = sum(1 for _ in loaders[key])
                return (time.perf_counter() - t0) / n
        return run

    data = alternate({"ecr": load("ecr"), "plain": load("plain")}, 3 * args.repeat)
    d_ecr, d_plain = min(data["ecr"]), min(data["plain"])
    results.add("train", "  data only (fetch + collate): plain Trainer", f"{d_plain * 1e3:.1f} ms/step", "1.00x",
                f"{d_plain / plain:.1%} of its step")
    results.add("train", "  data only (fetch + collate): ECRTrainer", f"{d_ecr * 1e3:.1f} ms/step",
                f"{d_ecr / d_plain:.2f}x", f"{d_ecr / ecr:.1%} of its step; {(d_ecr - d_plain) * 1e3:+.1f} ms "
                f"= {(d_ecr - d_plain) / plain:+.1%} of a plain step")
    hf_model.load_state_dict(initial)
    if args.profile:
        profile(lambda: quiet(ECRTrainer(model=model, args=ECRTrainingArguments(**train_args), train_dataset=docs,
                                         processing_class=tokenizer)).train(), "ECRTrainer(...).train()")
        hf_model.load_state_dict(initial)


# ---------------------------------------------------------------- 2. evaluation


def seqeval_compute_metrics(id2label: dict[int, str]):
    """The compute_metrics of the transformers token-classification example, with seqeval called directly."""
    from seqeval.metrics import accuracy_score, classification_report

    def compute_metrics(eval_pred) -> dict[str, float]:
        predictions = np.argmax(eval_pred.predictions, axis=2)
        labels = eval_pred.label_ids
        true_tags = [[id2label[int(g)] for p, g in zip(pr, la) if g != -100] for pr, la in zip(predictions, labels)]
        pred_tags = [[id2label[int(p)] for p, g in zip(pr, la) if g != -100] for pr, la in zip(predictions, labels)]
        report = classification_report(true_tags, pred_tags, output_dict=True, zero_division=0)
        micro = report.pop("micro avg")
        out = {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1-score"],
               "accuracy": accuracy_score(true_tags, pred_tags)}
        out.update({f"{k}_f1": v["f1-score"] for k, v in report.items() if k not in ("macro avg", "weighted avg")})
        return out

    return compute_metrics


def bench_eval(results: Results, model, tokenizer, args, tmp: str) -> None:
    docs, name = sentences("test", args.eval_docs)
    print(f"\n[eval] MiniLM, {name}: {len(docs)}, eval batch {args.eval_batch_size}, {args.repeat} rounds",
          flush=True)
    hf_model = model.model
    eval_args = dict(base_args(tmp, args.seed), per_device_eval_batch_size=args.eval_batch_size)
    features = tokenize_and_align(docs, tokenizer, hf_model.config.label2id).remove_columns(list(WINDOW_COLUMNS))
    logs = {"ecr": ShapeLog(DataCollatorForWindowedTokenClassification(tokenizer)),
            "plain": ShapeLog(DataCollatorForTokenClassification(tokenizer))}
    trainers = {
        "ecr": quiet(ECRTrainer(model=model, args=ECRTrainingArguments(**eval_args), eval_dataset=docs,
                                processing_class=tokenizer, data_collator=logs["ecr"])),
        "plain": quiet(Trainer(model=hf_model, args=TrainingArguments(**eval_args), eval_dataset=features,
                               data_collator=logs["plain"],
                               compute_metrics=seqeval_compute_metrics(hf_model.config.id2label))),
    }
    forward: dict[str, list[float]] = {"ecr": [], "plain": []}
    cpu: dict[str, list[float]] = {"ecr": [], "plain": []}
    scores: dict[str, dict] = {}

    def timed(key: str) -> Callable[[], float]:
        def run() -> float:
            logs[key].shapes.clear()
            with ForwardClock(hf_model) as clock, no_gc():
                t0, c0 = time.perf_counter(), time.process_time()
                scores[key] = trainers[key].evaluate()
                seconds = time.perf_counter() - t0
            cpu[key].append(time.process_time() - c0)
            forward[key].append(clock.seconds)
            return seconds
        return run

    times = alternate({"ecr": timed("ecr"), "plain": timed("plain")}, args.repeat)
    print(f"  {same_batches(logs)}")
    ecr, plain = min(times["ecr"]), min(times["plain"])
    rest = {k: min(t - f for t, f in zip(times[k], forward[k])) for k in times}
    n_pred = int(scores["ecr"]["eval_n_pred"])
    results.add("eval", "plain Trainer.evaluate() + seqeval compute_metrics", f"{plain:.2f} s", "1.00x",
                f"CPU {min(cpu['plain']):.2f} s; rounds: {fmt(times['plain'], 2)} s; seqeval F1 "
                f"{scores['plain']['eval_f1']:.3f}")
    results.add("eval", "ECRTrainer.evaluate() (merge + span metrics)", f"{ecr:.2f} s", f"{ecr / plain:.2f}x",
                f"{verdict(ecr / plain, EVAL_TARGET)}; CPU {min(cpu['ecr']):.2f} s "
                f"({min(cpu['ecr']) / min(cpu['plain']):.2f}x); rounds: {fmt(times['ecr'], 2)} s; "
                f"strict F1 {scores['ecr']['eval_strict_f1']:.3f}, {n_pred:,} predicted spans")
    results.add("eval", "  outside the forward pass: plain + seqeval", f"{rest['plain']:.2f} s", "1.00x",
                f"{rest['plain'] / plain:.1%} of its evaluate()")
    results.add("eval", "  outside the forward pass: ECRTrainer", f"{rest['ecr']:.2f} s",
                f"{rest['ecr'] / rest['plain']:.2f}x", f"{rest['ecr'] / ecr:.1%} of its evaluate(); "
                f"{rest['ecr'] - rest['plain']:+.2f} s = {(rest['ecr'] - rest['plain']) / plain:+.1%} of plain")
    if args.profile:
        profile(trainers["ecr"].evaluate, "ECRTrainer.evaluate()")


# ---------------------------------------------------------------- 3. inference


def bench_infer(results: Results, name: str, model, tokenizer, corpora, args) -> None:
    """``corpora``: ``(label, texts, window)``; both sides cut texts into windows of ``window`` tokens
    that share a quarter of their text tokens (the pipeline through a tokenizer copy whose
    ``model_max_length`` is the window)."""
    from transformers import pipeline

    hf_model = model.model
    for corpus, texts, window in corpora:
        chars = sum(len(t) for t in texts)
        stride = (window - tokenizer.num_special_tokens_to_add(pair=False)) // 4
        windowed = copy.deepcopy(tokenizer)
        windowed.model_max_length = window
        print(f"\n[infer] {name}, {corpus}: {len(texts)} texts, {chars:,} characters, windows of {window} tokens "
              f"(stride {stride}), {args.infer_repeat} rounds", flush=True)
        for batch_size in args.infer_batch_sizes:
            extractor = ECRExtractor(model, tokenizer, max_length=window, stride=stride, batch_size=batch_size)
            pipe = pipeline("token-classification", model=hf_model, tokenizer=windowed, device="cpu",
                            aggregation_strategy="simple", batch_size=batch_size)
            share: dict[str, list[float]] = {"ecr": [], "pipe": []}

            def timed(key: str, fn: Callable[[], object]) -> Callable[[], float]:
                def run() -> float:
                    with ForwardClock(hf_model) as clock, no_gc():
                        t0 = time.perf_counter()
                        fn()
                        seconds = time.perf_counter() - t0
                    share[key].append(clock.seconds / seconds)
                    return seconds
                return run

            times = alternate({"ecr": timed("ecr", lambda: extractor(texts)),
                               "pipe": timed("pipe", lambda: pipe(texts, stride=stride))}, args.infer_repeat)
            ecr, pipe_s = min(times["ecr"]), min(times["pipe"])
            label = f"{name} {corpus} w{window}, batch {batch_size}"
            results.add("infer", f"{label}: transformers pipeline", f"{chars / pipe_s:,.0f} char/s", "1.00x",
                        f"{pipe_s:.2f} s; forward {np.median(share['pipe']):.0%} of it")
            results.add("infer", f"{label}: ECRExtractor", f"{chars / ecr:,.0f} char/s", f"{ecr / pipe_s:.2f}x",
                        f"{ecr:.2f} s; forward {np.median(share['ecr']):.0%} of it")
            if args.profile and batch_size == args.infer_batch_sizes[0]:
                profile(lambda: extractor(texts), f"ECRExtractor on {label}")

    # One short text: the fixed cost of a call, which large batches hide.
    text = corpora[0][1][0]
    extractor, pipe = ECRExtractor(model, tokenizer), pipeline("token-classification", model=hf_model,
                                                               tokenizer=tokenizer, aggregation_strategy="simple")
    times = alternate({"ecr": lambda: wall(lambda: extractor(text)), "pipe": lambda: wall(lambda: pipe(text))},
                      5 * args.infer_repeat)
    ecr, pipe_s = min(times["ecr"]), min(times["pipe"])
    results.add("infer", f"{name} one sentence ({len(text)} chars): transformers pipeline",
                f"{pipe_s * 1e3:.0f} ms/call", "1.00x")
    results.add("infer", f"{name} one sentence ({len(text)} chars): ECRExtractor", f"{ecr * 1e3:.0f} ms/call",
                f"{ecr / pipe_s:.2f}x", f"+{(ecr - pipe_s) * 1e3:.0f} ms fixed cost per call")
    if args.profile:
        profile(lambda: extractor(text), f"ECRExtractor on one sentence ({name})")


# ---------------------------------------------------------------- profile


def profile(fn: Callable[[], object], title: str, top: int = 25) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"ecr_hf|trainer\.py|data_collator|arrow_dataset|fingerprint", top)
    print(f"\ncProfile of {title} (cumulative; ecr_hf, Trainer, collator, datasets frames):\n{out.getvalue()}")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--sections", default="train,eval,infer", help="comma-separated: train, eval, infer")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (1: steadiest on a shared 2-core machine)")
    parser.add_argument("--repeat", type=int, default=None, help="rounds of the train and eval comparisons (best kept)")
    parser.add_argument("--infer-repeat", type=int, default=None, help="rounds of the inference comparisons")
    parser.add_argument("--batch-size", type=int, default=16, help="training batch size")
    parser.add_argument("--warmup", type=int, default=None, help="untimed training steps")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps")
    parser.add_argument("--eval-docs", type=int, default=None, help="test sentences evaluated")
    parser.add_argument("--eval-batch-size", type=int, default=32)
    parser.add_argument("--infer-docs", type=int, default=None, help="sentences for inference (abstracts: a tenth)")
    parser.add_argument("--infer-batch-sizes", default="16,32")
    parser.add_argument("--smollm2-fraction", type=float, default=0.15,
                        help="share of the inference texts given to SmolLM2 (about 10x slower than MiniLM)")
    parser.add_argument("--profile", action="store_true", help="cProfile the ecr-hf side of each comparison")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    quick = args.quick
    args.repeat = args.repeat or (1 if quick else 3)
    args.warmup = args.warmup or 2
    args.steps = args.steps or (3 if quick else 8)
    args.eval_docs = args.eval_docs or (64 if quick else 500)
    args.infer_docs = args.infer_docs or (32 if quick else 200)
    args.infer_repeat = args.infer_repeat or (1 if quick else 2)
    args.infer_batch_sizes = [int(b) for b in args.infer_batch_sizes.split(",")]
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    if unknown := sections - {"train", "eval", "infer"}:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from train, eval, infer")

    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore")
    t_start = time.perf_counter()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs "
          f"(load {os.getloadavg()[0]:.1f}), seed {args.seed}" + (" (quick)" if quick else ""), flush=True)
    results = Results()
    model, tokenizer = minilm(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if "train" in sections:
            bench_train(results, model, tokenizer, args, tmp)
        if "eval" in sections:
            bench_eval(results, model, tokenizer, args, tmp)
    if "infer" in sections:
        sents, sents_name = sentences("test", args.infer_docs)
        long, long_name = abstracts(max(args.infer_docs // 10, 2))
        print(f"\n[infer] sentences: {sents_name}; abstracts: {long_name}")
        sents, long = [d["text"] for d in sents], [d["text"] for d in long]
        bench_infer(results, "MiniLM", model, tokenizer, [("sentences", sents, 512), ("abstracts", long, 512),
                                                          ("abstracts", long, 128)], args)
        del model
        model, tokenizer = smollm2(args.seed)
        few, fewer = max(int(len(sents) * args.smollm2_fraction), 8), max(int(len(long) * args.smollm2_fraction), 2)
        bench_infer(results, "SmolLM2-LoRA", model, tokenizer, [("sentences", sents[:few], 512),
                                                                ("abstracts", long[:fewer], 512)], args)
    print("\n" + results.render())
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s (load {os.getloadavg()[0]:.1f}); "
          "ratio = ecr-hf time / baseline time (lower is better)")


if __name__ == "__main__":
    sys.exit(main())
