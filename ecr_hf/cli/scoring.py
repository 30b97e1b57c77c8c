"""The scoring commands of ``ecr-hf``: ``register-metrics`` makes ``evaluate.load("weighted_soft_match")`` /
``("span_metrics")`` work by bare name, offline (:mod:`ecr_hf.scoring.evaluate_modules`); ``score`` scores a
file of predicted spans against a file of gold spans, one document per line (``{"doc_id", "text", "entities":
[{"start", "end", "label"}]}``, as in ``shared/data/*/*.jsonl``, or a corpus format), and with ``--lenient`` adds
the Jaccard-lenient and IoU-threshold scores (:mod:`ecr_hf.scoring.lenient`); ``semeval`` gives the SemEval-2013
schemas of the same pair of files.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any

from ..corpora import locate_error, pair_files
from ..scoring import (DEFAULT_P_VALUES, check_iou_threshold, flatten_scores, format_p, lenient_metrics,
                       soft_match_scores)
from .common import P, CommandFactory, add_input_options, check_output, echo, input_options, read

__all__ = ["add_register_metrics", "add_score", "add_semeval"]


def _register(args: argparse.Namespace) -> int:
    from ..scoring.evaluate_modules import register_metrics

    for name, path in register_metrics(modules_cache=args.modules_cache).items():
        echo(f"registered {name}: {path}")
    echo('evaluate.load("<name>") now finds them offline, from any directory, with this HF_HOME/HF_MODULES_CACHE')
    return 0


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


def _lenient_table(lenient: dict[str, float], threshold: float) -> str:
    """Both lenient families, untyped and typed, one row each."""
    iou = next(k for k in lenient if k.startswith("iou")).split("_")[0]
    rows = [("jaccard", "jaccard"), ("jaccard typed", "jaccard_typed"), (f"IoU >= {threshold:g}", iou),
            (f"IoU >= {threshold:g} typed", f"{iou}_typed")]
    lines = ["lenient, one-to-one matching (Jaccard-lenient; IoU threshold)",
             "  ".join(f"{c:>18}" if k == 0 else f"{c:>10}" for k, c in enumerate(("", "precision", "recall", "f1")))]
    lines += ["  ".join([f"{name:>18}", *(f"{lenient[f'{prefix}_{m}']:>10.4f}" for m in ("precision", "recall", "f1"))])
              for name, prefix in rows]
    return "\n".join(lines)


def _score(args: argparse.Namespace) -> int:
    inputs = input_options(args)
    references, predictions = read(args.references, **inputs), read(args.predictions, marked=True, **inputs)
    refs, preds, texts, faithfulness = pair_files(references, predictions, args.typed)
    try:
        result = soft_match_scores(refs, preds, p_values=args.p, typed=args.typed, texts=texts,
                                   empty_spans=args.empty_spans)
        lenient = lenient_metrics(refs, preds, iou_threshold=args.iou_threshold, texts=texts,
                                  empty_spans=args.empty_spans) if args.lenient else {}
    except ValueError as e:
        raise locate_error(e, references, predictions) from e
    main_p = float(args.p[0])
    if args.format == "json":  # ASCII escapes: lone surrogates in labels stay valid JSON
        flat = {**flatten_scores(result, main_p), **lenient, **faithfulness}
        echo(json.dumps({k: (None if math.isnan(v) else v) for k, v in flat.items()}, indent=2))
    else:
        echo(_table(result, main_p))
        if lenient:
            echo("\n" + _lenient_table(lenient, args.iou_threshold))
        if args.empty_spans == "drop":
            echo(f"\nempty spans dropped: {result['gold_empty_dropped']} gold, "
                 f"{result['pred_empty_dropped']} predicted")
        if faithfulness:
            echo("\ndecoded 'marked' generations: " + ", ".join(
                f"{k[len('faithfulness_'):]} {v:.4g}" for k, v in faithfulness.items()))
    return 0


def _semeval(args: argparse.Namespace) -> int:
    from ..scoring.semeval import report_frame, semeval_scores, semeval_spans, spans_frame, write_csv

    if args.output:
        check_output(args.output, args.overwrite)
    inputs = input_options(args)
    references, predictions = read(args.references, **inputs), read(args.predictions, marked=True, **inputs)
    refs, preds, _, _ = pair_files(references, predictions)
    options = dict(empty_spans=args.empty_spans, min_overlap=args.min_overlap, labels=args.labels)
    try:
        if args.per_span:
            frame = spans_frame(semeval_spans(refs, preds, **options))
            keys = list(references.docs)
            frame.insert(0, "doc_id", [keys[d] for d in frame["doc"]])
        else:
            frame = report_frame(semeval_scores(refs, preds, **options))
    except ValueError as e:
        raise locate_error(e, references, predictions) from e
    if args.output:
        echo(f"wrote {write_csv(frame, args.output, overwrite=args.overwrite)}")
    else:
        echo(frame.to_string(index=False, na_rep=""))
    return 0


def _threshold(text: str) -> float:
    try:
        return check_iou_threshold(float(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_register_metrics(command: CommandFactory) -> None:
    reg = command("register-metrics", "make evaluate.load('weighted_soft_match') work by bare name, offline")
    reg.add_argument("--modules-cache", default=None,
                     help="evaluate's module cache to register in (None: $HF_MODULES_CACHE, else $HF_HOME/modules)")
    reg.set_defaults(func=_register)


def add_score(command: CommandFactory) -> None:
    score = command("score", "weighted soft matching of a predictions JSONL against a references JSONL")
    score.add_argument("--references", required=True, help="JSONL of gold documents {doc_id, text, entities}")
    score.add_argument("--predictions", required=True,
                       help="JSONL of predicted documents {doc_id, entities}, or {doc_id, marked} generations to "
                       "decode")
    score.add_argument("--p", type=P, nargs="+", default=list(DEFAULT_P_VALUES),
                       help="fragmentation penalties (>= 1); the first is the main one")
    score.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    score.add_argument("--format", choices=("table", "json"), default="table",
                       help="a table, or flat JSON keys as the evaluate module returns them")
    score.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                       help="a span with start == end: an error naming it, or drop it and count it in the scores")
    score.add_argument("--lenient", action="store_true",
                       help="also the Jaccard-lenient and IoU-threshold P/R/F1, untyped and typed (keys jaccard_*, "
                       "iou{t}_*)")
    score.add_argument("--iou-threshold", type=_threshold, default=0.5,
                       help="with --lenient: the IoU in (0, 1] a matched pair needs to count (0.5: keys iou50_*)")
    add_input_options(score)
    score.set_defaults(func=_score)


def add_semeval(command: CommandFactory) -> None:
    sem = command("semeval", "SemEval-2013 strict/exact/partial/type counts and P/R/F1 (nervaluate's schemas), "
                  "as a table or CSV")
    sem.add_argument("--references", required=True, help="gold documents {doc_id, text, entities}")
    sem.add_argument("--predictions", required=True, help="predicted documents {doc_id, entities}")
    sem.add_argument("--min-overlap", type=float, default=0.0,
                     help="a gold and a predicted span can pair only if the prediction covers at least this fraction "
                     "of the gold span (nervaluate's min_overlap_percentage / 100; 0: any overlap)")
    sem.add_argument("--labels", nargs="+", default=None, help="score only spans with these labels (nervaluate's tags)")
    sem.add_argument("--per-span", action="store_true",
                     help="one row per gold and predicted span: its category under each schema and its partner")
    sem.add_argument("--output", default=None, help="write the table as CSV here instead of printing it")
    sem.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    sem.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                     help="a span with start == end: an error naming it, or drop it")
    add_input_options(sem)
    sem.set_defaults(func=_semeval)
