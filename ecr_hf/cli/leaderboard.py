"""The leaderboard commands of ``ecr-hf``: ``cv-split``, ``cv-score`` and ``leaderboard`` run the cross-validated
protocol of :mod:`ecr_hf.leaderboard.results` (folds, per-fold scores saved as a leaderboard file, tables of
several); ``evaluate`` runs a model (or reads a predictions file) on every fold into a results folder;
``leaderboard-serve`` and ``leaderboard-space`` put leaderboard files on a web page (gradio is imported
inside the commands); ``leaderboard-worker`` evaluates the models submitted to it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from ..corpora import json_line, pair_files
from ..scoring import DEFAULT_P_VALUES
from ..utils import atomic_write_folder, is_main_process
from .common import (LEVEL, POSITIVE, POSITIVE_INT, SEED, CommandFactory, P, add_input_options, check_output, checked,
                     echo, fold_pattern, input_options, read)

__all__ = ["add_cv_split", "add_cv_score", "add_evaluate", "add_leaderboard", "add_leaderboard_serve",
           "add_leaderboard_space", "add_leaderboard_worker", "add_generation_options", "generation_options"]


def _cv_split(args: argparse.Namespace) -> int:
    from ..leaderboard.results import cross_validation_indices

    # every field kept; 'split' names the fold's split
    docs = list(read(args.data, **input_options(args)).docs.values())
    try:
        folds = cross_validation_indices(len(docs), args.folds, validation=not args.no_validation, seed=args.seed)
    except ValueError as e:
        raise ValueError(f"{args.data}: {e}") from None
    files = {f"fold{k}/{name}.jsonl": "".join(json_line({**docs[i], "split": name}) for i in index.tolist())
             for k, fold in enumerate(folds) for name, index in fold.items()}
    atomic_write_folder(args.output_dir, files, overwrite=args.overwrite)
    sizes = ", ".join(f"{name} {len(split)}" for name, split in folds[0].items())
    echo(f"{len(docs)} documents in {args.folds} folds ({sizes} in fold 0): {args.output_dir}/fold{{k}}/")
    return 0


def _cv_score(args: argparse.Namespace) -> int:
    from ..leaderboard.evaluation import score_fold_files
    from ..leaderboard.results import leaderboard_table
    from ..scoring.significance import save_counts

    check_output(args.output, args.overwrite)
    if args.counts is not None:
        check_output(args.counts, args.overwrite)
    inputs = input_options(args)
    files = [(read(args.references.format(k=k), **inputs), read(args.predictions.format(k=k), marked=True, **inputs))
             for k in range(args.folds)]
    refs, preds, texts, faithfulness = (list(x) for x in zip(*(pair_files(r, p, args.typed) for r, p in files)))
    result = score_fold_files(files, refs, preds, faithfulness, counts=args.counts is not None, texts=texts,
                              p_values=args.p, score_p=args.p[0], typed=args.typed, empty_spans=args.empty_spans,
                              n_resamples=args.intervals or None, confidence_level=args.confidence_level,
                              seed=args.seed)
    counts = result.counts
    if args.constrained and args.family != "instruction-tuned":
        raise ValueError("--constrained describes instruction-tuned systems: give --family instruction-tuned")
    description = dict(model_name=args.model_name, dataset=args.dataset, method=args.method)
    if args.family is not None:  # how the leaderboard app filters systems
        description.update(family=args.family, constrained=args.constrained)
    path = result.save(args.output, **description, overwrite=args.overwrite)
    content = result.to_dict(**description)
    echo(leaderboard_table([{**content["config"], **content["results"]}]))
    echo(f"\nsaved {path}; tabulate several with: ecr-hf leaderboard {Path(path).parent}/*.json")
    if args.counts is not None:
        echo(f"saved {save_counts(counts, args.counts, overwrite=args.overwrite)} (per-document counts, for "
             "paired tests: keep them with the references, e.g. <references>/<dataset>/counts/"
             f"{Path(path).stem}.counts.json for ecr-hf leaderboard serve)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ..leaderboard.evaluation import evaluate_model
    from ..leaderboard.results import leaderboard_table, load_results
    from ..spans.label_map import LabelMap

    output = Path(args.output)
    main = is_main_process()  # under torchrun / accelerate launch only the first process writes and prints
    if main and output.is_dir() and any(output.iterdir()) and not args.overwrite:  # before any model is loaded
        raise ValueError(f"{output} is not empty; pass --overwrite to replace it whole")
    options = input_options(args)
    result = evaluate_model(
        args.model, args.data, output, kind=None if args.kind == "auto" else args.kind,
        label_map=None if args.label_map is None else LabelMap.from_json(args.label_map),
        model_name=args.model_name, dataset=args.dataset, method=args.method, family=args.family,
        p_values=args.p, typed=args.typed, empty_spans=args.empty_spans, batch_size=args.batch_size,
        max_length=args.max_length, n_resamples=args.intervals or None, confidence_level=args.confidence_level,
        seed=args.seed, input_format=None if options["input_format"] == "auto" else options["input_format"],
        read_options={"discontinuous": options["discontinuous"], "label_key": options["label_infon"]},
        generation=generation_options(args), overwrite=args.overwrite, progress=True)
    if not main:
        return 0
    echo(leaderboard_table(load_results(output / "results.json")))
    echo(f"\nscored {len(result.folds)} test set(s); wrote {output}/results.json, counts.json (per-document counts: "
         "keep them with the references) and predictions/")
    return 0


def generation_options(args: argparse.Namespace) -> Any:
    """The :class:`ecr_hf.leaderboard.evaluation.GenerationOptions` of :func:`add_generation_options`' options."""
    from ..leaderboard.evaluation import GenerationOptions

    return GenerationOptions(template=args.template, shots=args.shots, typed=args.typed_generation,
                             constrained=args.constrained, max_new_tokens=args.max_new_tokens,
                             chat={"auto": None, "chat": True, "plain": False}[args.prompt_format])


def _leaderboard_worker(args: argparse.Namespace) -> int:
    from ..leaderboard.worker import WorkerConfig, run_worker

    config = WorkerConfig(args.requests, args.results, args.references, time_limit=args.time_limit,
                          batch_size=args.batch_size)
    done = run_worker(config, once=args.once, poll=args.poll)
    echo(f"processed {done} request(s)")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from ..leaderboard.results import leaderboard_table, load_results

    echo(leaderboard_table(load_results(args.results), by=args.by, metrics=args.metrics, fmt=args.format))
    return 0


def _leaderboard_serve(args: argparse.Namespace) -> int:
    from ..leaderboard.app import copy_demo, serve

    if args.results is not None:
        serve(args.results, args.references, host=args.host, port=args.port, requests_dir=args.requests,
              models_dir=args.models_dir)
        return 0
    for option, value in (("--references", args.references), ("--requests", args.requests)):
        if value is not None:
            raise ValueError(f"{option} needs --results (without --results the shipped demo is served)")
    with tempfile.TemporaryDirectory() as tmp:  # a copy: submissions to the demo never write into the package
        serve(*copy_demo(Path(tmp) / "demo"), host=args.host, port=args.port)
    return 0


def _leaderboard_space(args: argparse.Namespace) -> int:
    from ..leaderboard.space import write_space

    path = write_space(args.output_dir, args.results, wheel=args.wheel, title=args.title, overwrite=args.overwrite)
    echo(f"wrote the Space folder {path}; run it with: cd {path} && pip install -r requirements.txt && python app.py\n"
         f"push it with: hf upload <user>/<space> {path} . --repo-type space")
    return 0


def add_cv_split(command: CommandFactory) -> None:
    split = command("cv-split", "document-level cross-validation folds of a JSONL file "
                    "(fold k: test part k, validation part k+1, train the rest)")
    split.add_argument("data", help="JSONL of documents {doc_id, text, entities}")
    split.add_argument("--folds", type=POSITIVE_INT, default=5,
                       help="number of folds (at least 3, or 2 with --no-validation; at most the documents)")
    split.add_argument("--no-validation", action="store_true", help="no validation split: train on the rest")
    split.add_argument("--seed", type=SEED, default=0, help="seed of the document shuffle")
    split.add_argument("--output-dir", required=True, help="writes <dir>/fold{k}/{train,validation,test}.jsonl, "
                       "all folds at once; a non-empty folder is refused without --overwrite")
    split.add_argument("--overwrite", action="store_true", help="replace a non-empty --output-dir whole")
    add_input_options(split)
    split.set_defaults(func=_cv_split)


def add_cv_score(command: CommandFactory) -> None:
    cv = command("cv-score", "score each fold's predictions and save a leaderboard file (mean and SD)")
    cv.add_argument("--references", required=True, type=fold_pattern,
                    help="gold JSONL path pattern with {k}, e.g. splits/fold{k}/test.jsonl")
    cv.add_argument("--predictions", required=True, type=fold_pattern,
                    help="predicted JSONL path pattern with {k}: {doc_id, entities} or {doc_id, marked} "
                    "generations (decoded; faithfulness_* keys join the scores)")
    cv.add_argument("--folds", type=POSITIVE_INT, default=5, help="number of folds: k = 0 .. folds-1")
    cv.add_argument("--model-name", required=True, help="the system's name in the leaderboard")
    cv.add_argument("--dataset", required=True, help="data set name, e.g. ncbi_disease")
    cv.add_argument("--method", default=None, help="how the system was built, e.g. token-classification or "
                    "instruction-tuning (None: not given)")
    cv.add_argument("--p", type=P, nargs="+", default=list(DEFAULT_P_VALUES),
                    help="fragmentation penalties (>= 1); the first is the main one")
    cv.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    cv.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                    help="a span with start == end: an error naming it, or drop it and count it in the scores")
    cv.add_argument("--family", choices=("encoder", "decoder", "instruction-tuned"), default=None,
                    help="the system's family, for the leaderboard app's filter (None: unspecified)")
    cv.add_argument("--constrained", action="store_true",
                    help="with --family instruction-tuned: generated under faithful constrained decoding")
    cv.add_argument("--intervals", type=checked(int, "an integer >= 0", lambda v: v >= 0), default=0,
                    help="bootstrap resamples of the documents (within each fold) for {key}_ci_low/_ci_high of the "
                    "main scores; 1000 is the usual minimum; 0: no intervals")
    cv.add_argument("--confidence-level", type=LEVEL, default=0.95, help="level of the --intervals")
    cv.add_argument("--seed", type=SEED, default=0, help="seed of the --intervals resampling (saved in the file)")
    cv.add_argument("--counts", default=None, help="also write the per-document counts (JSON) here, for paired "
                    "tests (ecr-hf leaderboard serve's 'vs best' column); they hold gold-derived counts: keep them "
                    "with the references, not with public results; an existing file is refused without --overwrite")
    cv.add_argument("--output", required=True, help="the leaderboard file to write (JSON); an existing file is "
                    "refused without --overwrite")
    cv.add_argument("--overwrite", action="store_true", help="replace an existing --output (and --counts)")
    add_input_options(cv)
    cv.set_defaults(func=_cv_score)


def add_leaderboard(command: CommandFactory) -> None:
    board = command("leaderboard", "tabulate leaderboard files: mean (SD) per p or per length bin")
    board.add_argument("results", nargs="+", help="leaderboard files (JSON) or folders of them")
    board.add_argument("--by", choices=("p", "length"), default="p", help="a column group per p or per length bin")
    board.add_argument("--metrics", nargs="+", default=["f1", "recall", "precision"], help="metrics of each group")
    board.add_argument("--format", choices=("markdown", "csv"), default="markdown", help="table format")
    board.set_defaults(func=_leaderboard)


def add_leaderboard_serve(command: CommandFactory) -> None:
    serve = command("leaderboard-serve", "the leaderboard web page (Gradio) over a folder of results files, with "
                    "submissions when --references is given (also: ecr-hf leaderboard serve)")
    serve.add_argument("--results", default=None, help="folder of leaderboard files; submissions are saved here "
                       "(None: a temporary copy of the shipped demo, ecr_hf/data/leaderboard_demo)")
    serve.add_argument("--references", default=None, help="folder of gold test files, <data set>/fold{k}/test.jsonl "
                       "(as cv-split writes them) or <data set>/test.jsonl: turns submissions on; never shown")
    serve.add_argument("--requests", default=None, help="folder of evaluation requests: turns on the Requests tab "
                       "and model submissions, which ecr-hf leaderboard-worker evaluates (needs --references)")
    serve.add_argument("--models-dir", default=None, help="the only folder whose models (and predictions files) may "
                       "be submitted for evaluation (None: model submissions are refused)")
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    serve.add_argument("--port", type=POSITIVE_INT, default=7860, help="the port to listen on")
    serve.set_defaults(func=_leaderboard_serve)


def add_leaderboard_space(command: CommandFactory) -> None:
    space = command("leaderboard-space", "write a ready-to-push Gradio Space folder for leaderboard files "
                    "(also: ecr-hf leaderboard space)")
    space.add_argument("output_dir", help="the Space folder to write (refused if not empty, unless --overwrite)")
    space.add_argument("--results", required=True, nargs="+", help="leaderboard files (JSON) or folders of them")
    space.add_argument("--wheel", default=None, help="the ecr-hf wheel to carry (None: built from this source tree)")
    space.add_argument("--title", default="E-CCR leaderboard", help="the Space's title")
    space.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder whole")
    space.set_defaults(func=_leaderboard_space)


def add_evaluate(command: CommandFactory) -> None:
    ev = command("evaluate", "run a model (or read a predictions file) on a test set or every cross-validation fold, "
                 "score it, and write predictions, per-document counts and a leaderboard file into one folder")
    ev.add_argument("--model", required=True, help="a token classifier folder (ecr-hf train, or any transformers "
                    "*ForTokenClassification checkpoint), a causal LM folder (*ForCausalLM, or a LoRA adapter on a "
                    "local base model) or a predictions file; {k} in the path: one per fold")
    ev.add_argument("--data", required=True, help="a test file, a cv-split folder (fold{k}/test.jsonl), a folder "
                    "with test.jsonl, or a path pattern with {k}")
    ev.add_argument("--output", required=True, help="the folder to write (results.json, counts.json, predictions/); "
                    "a non-empty folder is refused without --overwrite")
    ev.add_argument("--overwrite", action="store_true", help="replace a non-empty --output whole")
    ev.add_argument("--kind", choices=("auto", "token-classifier", "causal-lm", "predictions"), default="auto",
                    help="what --model is (auto: detected from the folder or file)")
    ev.add_argument("--label-map", default=None, help="JSON file mapping the model's labels to the data set's "
                    '({"map": {...}, "drop": [...], "untyped": false}); None: every predicted label must be one of '
                    "the data set's")
    ev.add_argument("--model-name", default=None, help="the system's name in the leaderboard (None: the model's "
                    "folder or file name)")
    ev.add_argument("--dataset", default=None, help="the data set's name (None: the --data folder's name)")
    ev.add_argument("--method", default=None, help="how the system was built (None: not given)")
    ev.add_argument("--family", choices=("encoder", "decoder", "instruction-tuned"), default=None,
                    help="the system's family, for the leaderboard app's filter (None: unspecified)")
    ev.add_argument("--p", type=P, nargs="+", default=list(DEFAULT_P_VALUES),
                    help="fragmentation penalties (>= 1, finite); the first is the main one")
    ev.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    ev.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                    help="a span with start == end: an error naming it, or drop it and count it in the scores")
    ev.add_argument("--batch-size", type=POSITIVE_INT, default=32, help="causal LMs: prompts per generate call; "
                    "token classifiers: windows per forward pass")
    ev.add_argument("--max-length", type=POSITIVE_INT, default=None,
                    help="token classifiers: window length in tokens (None: the tokenizer's)")
    ev.add_argument("--intervals", type=SEED, default=0, help="bootstrap resamples of the documents for "
                    "{key}_ci_low/_ci_high of the main scores; 0: no intervals")
    ev.add_argument("--confidence-level", type=LEVEL, default=0.95, help="level of the --intervals")
    ev.add_argument("--seed", type=SEED, default=0, help="seed of the --intervals resampling and of the --shots draw")
    add_generation_options(ev, shots="drawn from each fold's training part (fold{k}/train.jsonl beside its test file)")
    add_input_options(ev)
    ev.set_defaults(func=_evaluate)


def add_generation_options(parser: argparse.ArgumentParser, *, shots: str) -> None:
    """The causal-LM options of ``evaluate`` and ``predict`` (:class:`ecr_hf.leaderboard.evaluation.GenerationOptions`);
    ``shots`` says where the examples come from."""
    parser.add_argument("--template", default="en", help="causal LMs: the prompt, 'en', 'ja' or a template holding "
                        "{input} (typed: {labels} for markers, {label} for queries)")
    parser.add_argument("--prompt-format", choices=("auto", "chat", "plain"), default="auto",
                        help="causal LMs: the prompt through the tokenizer's chat template, or as plain text (auto: "
                        "the chat template when the tokenizer has one)")
    parser.add_argument("--shots", type=SEED, default=0, help=f"causal LMs: examples before each prompt, {shots}, as "
                        "earlier user/assistant turns (chat) or prefixed prompt + answer (plain); 0: zero-shot")
    parser.add_argument("--typed-generation", choices=("markers", "queries"), default=None,
                        help="causal LMs: typed extraction, a label after each ## (markers) or one query per label "
                        "(queries); None: untyped spans, scored untyped")
    parser.add_argument("--constrained", action="store_true",
                        help="causal LMs: faithful constrained decoding (every answer an exact copy of its text)")
    parser.add_argument("--max-new-tokens", type=POSITIVE_INT, default=None,
                        help="causal LMs: generation budget (None: per batch, 1.5x the longest text in tokens + 16)")


def add_leaderboard_worker(command: CommandFactory) -> None:
    worker = command("leaderboard-worker", "evaluate the models submitted to a leaderboard: runs the requests of a "
                     "requests folder one at a time (PENDING -> RUNNING -> FINISHED, or FAILED with the reason)")
    worker.add_argument("--requests", required=True, help="the requests folder the app writes (leaderboard-serve "
                        "--requests)")
    worker.add_argument("--results", required=True, help="the results folder the app reads; results files go here")
    worker.add_argument("--references", required=True, help="the references folder (<data set>/fold{k}/test.jsonl); "
                        "per-document counts go beside them")
    worker.add_argument("--time-limit", type=POSITIVE, default=3600.0, help="seconds one request may take")
    worker.add_argument("--poll", type=POSITIVE, default=10.0, help="seconds between looks at an empty queue")
    worker.add_argument("--once", action="store_true", help="stop when no request is pending")
    worker.add_argument("--batch-size", type=POSITIVE_INT, default=32, help="token classifiers: windows per forward "
                        "pass")
    worker.set_defaults(func=_leaderboard_worker)
