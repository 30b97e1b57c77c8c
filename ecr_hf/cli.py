"""The ``ecr-hf`` console script.

``ecr-hf train`` fine-tunes a token classifier on JSONL span documents (by default the NCBI-disease
sample shipped in ``ecr_hf/data`` and the offline MiniLM encoder), evaluates it on character spans,
prints the scores and saves the model. ``ecr-hf register-metrics`` makes ``evaluate.load("weighted_soft_match")`` / ``("span_metrics")``
work by bare name, offline (see :mod:`ecr_hf.evaluate_modules`). ``ecr-hf score`` scores a JSONL file
of predicted spans against a JSONL file of gold spans, one document per line
(``{"doc_id", "text", "entities": [{"start", "end", "label"}]}``, as in ``shared/data/*/*.jsonl``).
``ecr-hf predict`` writes a trained classifier's spans for a JSONL of texts. ``ecr-hf cv-split``,
``cv-score`` and ``leaderboard`` run the cross-validated protocol of :mod:`ecr_hf.leaderboard`:
folds, per-fold scores saved as a leaderboard file, tables of several.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .decode import decode_corpus
from .soft_match import DEFAULT_P_VALUES, flatten_scores, format_p, soft_match_scores

__all__ = ["main", "read_span_documents"]


def read_span_documents(path: str | Path, *, marked: bool = False, entities: bool = True) -> dict[str, dict[str, Any]]:
    """``{doc_id: document}`` from a JSONL file of span documents; every line needs ``doc_id`` and
    ``entities`` (or, with ``marked``, a ``marked`` string: a generation to decode; with
    ``entities=False``, a ``text`` instead), and a doc_id may appear once."""
    docs: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not a JSON object ({e})") from None
            if not entities:
                if not isinstance(doc, dict) or "doc_id" not in doc or not isinstance(doc.get("text"), str):
                    raise ValueError(f"{path}:{n}: each line must be a JSON object with 'doc_id' and a 'text' string")
            elif not isinstance(doc, dict) or "doc_id" not in doc or not (
                    isinstance(doc.get("entities"), list) or (marked and isinstance(doc.get("marked"), str))):
                raise ValueError(f"{path}:{n}: each line must be a JSON object with 'doc_id' and an 'entities' list "
                                 "of {'start', 'end', 'label'}" + (" or a 'marked' string" if marked else ""))
            if doc["doc_id"] in docs:
                raise ValueError(f"{path}:{n}: doc_id {doc['doc_id']!r} appears twice")
            docs[doc["doc_id"]] = doc
    return docs


def _pair(references: dict[str, dict], predictions: dict[str, dict],
          typed: bool = False) -> tuple[list, list, list[str] | None, dict[str, float]]:
    """Span lists in reference order, the reference texts (if every document has one), and the
    ``faithfulness_*`` report when predictions given as ``marked`` generations were decoded."""
    missing = [k for k in references if k not in predictions]
    extra = [k for k in predictions if k not in references]
    if missing or extra:
        raise ValueError(f"the files hold different documents: {len(missing)} doc_ids only in the references "
                         f"{missing[:5]}, {len(extra)} only in the predictions {extra[:5]}; give one prediction "
                         "line per reference document (with an empty 'entities' list where nothing was found)")
    texts = [doc.get("text") for doc in references.values()]
    for key, doc in references.items():
        other = predictions[key].get("text")
        if other is not None and doc.get("text") is not None and other != doc["text"]:
            raise ValueError(f"doc_id {key!r}: the prediction's text differs from the reference text, so its "
                             "offsets refer to another text")
    refs = [doc["entities"] for doc in references.values()]
    preds = [predictions[key].get("entities") for key in references]
    generated = [k for k, p in enumerate(preds) if p is None]  # 'marked' lines: decode onto the gold text
    faithfulness: dict[str, float] = {}
    if generated:
        if any(not isinstance(texts[k], str) for k in generated):
            raise ValueError("predictions given as 'marked' generations are decoded onto the reference 'text'; "
                             "the references lack it")
        if typed:
            raise ValueError("'marked' generations carry no labels: typed scores need 'entities' with labels")
        keys = list(references)
        spans, report = decode_corpus([predictions[keys[k]]["marked"] for k in generated], [texts[k] for k in generated])
        for k, found in zip(generated, spans):
            preds[k] = found
        faithfulness = report.to_dict(prefix="faithfulness_")
    return refs, preds, texts if all(isinstance(t, str) for t in texts) else None, faithfulness


def _table(result: dict[str, Any], main_p: float) -> str:
    def row(cells: Sequence[Any]) -> str:
        return "  ".join(f"{c:>10.4f}" if isinstance(c, float) else f"{c!s:>10}" for c in cells)

    head = ("precision", "recall", "f1", "marker_p", "marker_r", "marker_f1")
    keys = ("precision", "recall", "f1", "marker_precision", "marker_recall", "marker_f1")
    lines = [f"weighted soft matching ({'typed' if result['typed'] else 'untyped'}): {result['n_documents']} "
             f"documents, {result['n_gold']} gold spans, {result['n_pred']} predicted spans"
             f" (after merging {result['gold_merged']} + {result['pred_merged']} overlapping)", "",
             row(("p", *head))]
    lines += [row((format_p(p), *(entry[k] for k in keys))) for p, entry in result["p"].items()]
    per_label = result["p"][main_p]["per_label"]
    if per_label:
        lines += ["", f"per label at p={format_p(main_p)}", row(("label", "n_gold", "n_pred", *head[:3]))]
        lines += [row((name, e["n_gold"], e["n_pred"], e["precision"], e["recall"], e["f1"]))
                  for name, e in per_label.items()]
    return "\n".join(lines)


def _score(args: argparse.Namespace) -> int:
    refs, preds, texts, faithfulness = _pair(read_span_documents(args.references),
                                             read_span_documents(args.predictions, marked=True), args.typed)
    result = soft_match_scores(refs, preds, p_values=args.p, typed=args.typed, texts=texts)
    main_p = float(args.p[0])
    if args.format == "json":
        flat = {**flatten_scores(result, main_p), **faithfulness}
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in flat.items()}, indent=2))
    else:
        print(_table(result, main_p))
        if faithfulness:
            print("\ndecoded 'marked' generations: " + ", ".join(
                f"{k[len('faithfulness_'):]} {v:.4g}" for k, v in faithfulness.items()))
    return 0


def _register(args: argparse.Namespace) -> int:
    from .evaluate_modules import register_metrics

    for name, path in register_metrics(modules_cache=args.modules_cache).items():
        print(f"registered {name}: {path}")
    print('evaluate.load("<name>") now finds them offline, from any directory, with this HF_HOME/HF_MODULES_CACHE')
    return 0


SAMPLE = Path(__file__).resolve().parent / "data" / "ncbi_disease_sample.jsonl"
_TRAIN_KEYS = ("f1", "precision", "recall", "p1.5_f1", "p2_f1", "p100_f1", "marker_f1", "case_f1", "char_f1",
               "strict_f1")


def _split(path: str, split: str | None) -> list[dict[str, Any]]:
    docs = list(read_span_documents(path).values())
    if split is not None:
        docs = [d for d in docs if d.get("split") == split]
        if not docs:
            raise ValueError(f"{path} has no documents with split {split!r}")
    return [{"text": d["text"], "entities": d["entities"]} for d in docs]


def _train(args: argparse.Namespace) -> int:
    import time

    from transformers import AutoTokenizer

    from .alignment import TagSet
    from .modeling import TokenClassifierConfig, build_token_classifier
    from .offline_models import OFFLINE_MODELS, offline_model_path
    from .trainer import ECRTrainer, ECRTrainingArguments

    train = _split(args.train, args.train_split)
    test = _split(args.eval or args.train, args.eval_split)
    path = str(offline_model_path(args.model)) if args.model in OFFLINE_MODELS else args.model
    entity_labels = sorted({e["label"] for d in train for e in d["entities"]})
    labels = list(TagSet.from_labels(entity_labels).names)
    tokenizer = AutoTokenizer.from_pretrained(path)
    lora = {"r": args.lora_r, "lora_alpha": 2 * args.lora_r} if args.lora_r else None
    model = build_token_classifier(TokenClassifierConfig(path, labels=labels, lora=lora, crf=args.crf,
                                                         bidirectional=args.bidirectional), tokenizer)
    training_args = ECRTrainingArguments(
        output_dir=args.output_dir, num_train_epochs=args.epochs, learning_rate=args.learning_rate,
        warmup_steps=20, per_device_train_batch_size=16, per_device_eval_batch_size=64, max_length=args.max_length,
        stride=args.max_length // 4, logging_steps=20, save_strategy="no", report_to=[], seed=args.seed)
    trainer = ECRTrainer(model=model, args=training_args, train_dataset=train, eval_dataset=test,
                         processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    scores = trainer.evaluate()
    trainer.save_model(args.output_dir)
    print(f"\n{args.model}: trained on {len(train)} documents for {args.epochs:g} epochs in {seconds:.0f} s; "
          f"scored on {len(test)} held-out documents (character spans)")
    for key in _TRAIN_KEYS:
        print(f"  {key:<10} {scores['eval_' + key]:.4f}")
    print(f"saved to {args.output_dir}: ecr_hf.extractor.ECRExtractor.from_pretrained({args.output_dir!r})")
    return 0


def _cv_split(args: argparse.Namespace) -> int:
    from .leaderboard import cross_validation_indices

    docs = list(read_span_documents(args.data).values())  # every field kept; 'split' names the fold's split
    folds = cross_validation_indices(len(docs), args.folds, validation=not args.no_validation, seed=args.seed)
    for k, fold in enumerate(folds):
        for name, index in fold.items():
            path = Path(args.output_dir) / f"fold{k}" / f"{name}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(json.dumps({**docs[i], "split": name}, ensure_ascii=False) + "\n"
                             for i in index.tolist())
    sizes = ", ".join(f"{name} {len(split)}" for name, split in folds[0].items())
    print(f"{len(docs)} documents in {args.folds} folds ({sizes} in fold 0): {args.output_dir}/fold{{k}}/")
    return 0


def _cv_score(args: argparse.Namespace) -> int:
    from .leaderboard import cross_validate, leaderboard_table

    if "{k}" not in args.references or "{k}" not in args.predictions:
        raise ValueError("--references and --predictions are path patterns with {k} for the fold number, "
                         "e.g. splits/fold{k}/test.jsonl")
    folds = [_pair(read_span_documents(args.references.format(k=k)),
                   read_span_documents(args.predictions.format(k=k), marked=True), args.typed)
             for k in range(args.folds)]
    refs, preds, texts, faithfulness = (list(x) for x in zip(*folds))
    result = cross_validate(refs, preds, texts=texts, p_values=args.p, score_p=args.p[0], typed=args.typed)
    for scores, report in zip(result.folds, faithfulness):  # decoded generations: Table S18 per fold
        scores.update(report)
    path = result.save(args.output, model_name=args.model_name, dataset=args.dataset, method=args.method)
    print(leaderboard_table([{**result.to_dict()["config"], **result.to_dict()["results"]}]))
    print(f"\nsaved {path}; tabulate several with: ecr-hf leaderboard {Path(path).parent}/*.json")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .extractor import ECRExtractor

    docs = read_span_documents(args.data, entities=False)
    extractor = ECRExtractor.from_pretrained(args.model, batch_size=args.batch_size, max_length=args.max_length)
    found = extractor([doc["text"] for doc in docs.values()], progress=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        for key, spans in zip(docs, found):
            f.write(json.dumps({"doc_id": key, "entities": spans}, ensure_ascii=False) + "\n")
    print(f"{sum(map(len, found))} spans in {len(found)} documents: {args.output}")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from .leaderboard import leaderboard_table, load_results

    results = args.results[0] if len(args.results) == 1 else args.results  # one argument may be a folder
    print(leaderboard_table(load_results(results), by=args.by, metrics=args.metrics, fmt=args.format))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecr-hf", description="Extended Clinical Concept Recognition tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    reg = sub.add_parser("register-metrics",
                         help="make evaluate.load('weighted_soft_match') work by bare name, offline")
    reg.add_argument("--modules-cache", default=None,
                     help="evaluate's module cache to register in (default: $HF_MODULES_CACHE, else $HF_HOME/modules)")
    reg.set_defaults(func=_register)

    score = sub.add_parser("score", help="weighted soft matching of a predictions JSONL against a references JSONL")
    score.add_argument("--references", required=True, help="JSONL of gold documents {doc_id, text, entities}")
    score.add_argument("--predictions", required=True,
                       help="JSONL of predicted documents {doc_id, entities}, or {doc_id, marked} generations to decode")
    score.add_argument("--p", type=float, nargs="+", default=list(DEFAULT_P_VALUES),
                       help="fragmentation penalties; the first is the main one (default: 1 1.5 2 100)")
    score.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    score.add_argument("--format", choices=("table", "json"), default="table",
                       help="a table, or flat JSON keys as the evaluate module returns them")
    score.set_defaults(func=_score)

    train = sub.add_parser("train", help="fine-tune a token classifier and print its span scores "
                           "(defaults: the bundled NCBI-disease sample and the offline MiniLM encoder)")
    train.add_argument("--train", default=str(SAMPLE), help="JSONL of training documents {doc_id, text, entities}")
    train.add_argument("--train-split", default="train", help="keep lines whose 'split' is this (None: all)")
    train.add_argument("--eval", default=None, help="JSONL of evaluation documents (default: --train)")
    train.add_argument("--eval-split", default="test", help="keep lines whose 'split' is this")
    train.add_argument("--model", default="minilm", help="'minilm', 'smollm2' (offline PyPI models) or a path")
    train.add_argument("--epochs", type=float, default=3.0)
    train.add_argument("--learning-rate", type=float, default=1e-4)
    train.add_argument("--max-length", type=int, default=128, help="window length in tokens")
    train.add_argument("--lora-r", type=int, default=0, help="LoRA rank (0: full fine-tuning)")
    train.add_argument("--crf", action="store_true", help="add a BIO-constrained CRF head")
    train.add_argument("--bidirectional", default="none", help="decoders: 'none', 'all' or k (last k layers)")
    train.add_argument("--output-dir", default="outputs/ecr-hf-train")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=_train)

    split = sub.add_parser("cv-split", help="document-level cross-validation folds of a JSONL file "
                           "(fold k: test part k, validation part k+1, train the rest)")
    split.add_argument("data", help="JSONL of documents {doc_id, text, entities}")
    split.add_argument("--folds", type=int, default=5)
    split.add_argument("--no-validation", action="store_true", help="no validation split: train on the rest")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--output-dir", required=True, help="writes <dir>/fold{k}/{train,validation,test}.jsonl")
    split.set_defaults(func=_cv_split)

    cv = sub.add_parser("cv-score", help="score each fold's predictions and save a leaderboard file (mean and SD)")
    cv.add_argument("--references", required=True, help="gold JSONL path pattern with {k}, e.g. splits/fold{k}/test.jsonl")
    cv.add_argument("--predictions", required=True, help="predicted JSONL path pattern with {k}: {doc_id, entities} "
                    "or {doc_id, marked} generations (decoded; faithfulness_* keys join the scores)")
    cv.add_argument("--folds", type=int, default=5)
    cv.add_argument("--model-name", required=True)
    cv.add_argument("--dataset", required=True, help="data set name, e.g. ncbi_disease")
    cv.add_argument("--method", default=None, help="e.g. token-classification, instruction-tuning")
    cv.add_argument("--p", type=float, nargs="+", default=list(DEFAULT_P_VALUES),
                    help="fragmentation penalties; the first is the main one (default: 1 1.5 2 100)")
    cv.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    cv.add_argument("--output", required=True, help="the leaderboard file to write (JSON)")
    cv.set_defaults(func=_cv_score)

    predict = sub.add_parser("predict", help="spans of a trained token classifier for a JSONL of texts")
    predict.add_argument("--model", required=True, help="a folder saved by ecr-hf train / ECRTrainer.save_model")
    predict.add_argument("--data", required=True, help="JSONL of documents {doc_id, text} (entities are ignored)")
    predict.add_argument("--output", required=True, help="JSONL to write: {doc_id, entities} per document")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.add_argument("--max-length", type=int, default=None, help="window length (default: the tokenizer's)")
    predict.set_defaults(func=_predict)

    board = sub.add_parser("leaderboard", help="tabulate leaderboard files: mean (SD) per p or per length bin")
    board.add_argument("results", nargs="+", help="leaderboard files (JSON) or a folder of them")
    board.add_argument("--by", choices=("p", "length"), default="p")
    board.add_argument("--metrics", nargs="+", default=["f1", "recall", "precision"])
    board.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    board.set_defaults(func=_leaderboard)

    args = parser.parse_args(argv)
    if getattr(args, "bidirectional", "none").isdigit():
        args.bidirectional = int(args.bidirectional)
    for key in ("train_split", "eval_split"):
        if getattr(args, key, None) == "None":
            setattr(args, key, None)
    try:
        return args.func(args)
    except (OSError, ValueError) as e:
        print(f"ecr-hf {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
