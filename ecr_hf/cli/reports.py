"""The report commands of ``ecr-hf``: ``errors`` writes the error browser of a predictions file, ``buckets`` scores
it per attribute bucket (:mod:`ecr_hf.scoring.buckets`), ``significance``
gives bootstrap intervals and paired tests of several systems, ``plot`` draws leaderboard files for papers
(matplotlib is imported inside it) and ``model-card`` puts scores on a Hub model card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..corpora import locate_error, pair_files
from ..scoring import DEFAULT_P_VALUES, format_p
from .common import (LEVEL, P, POSITIVE_INT, SEED, CommandFactory, add_input_options, check_output, echo,
                     input_options, read)

__all__ = ["add_buckets", "add_errors", "add_model_card", "add_plot", "add_significance"]


def _errors(args: argparse.Namespace) -> int:
    from ..error_analysis.browser import write_error_report

    check_output(args.output, args.overwrite)  # before reading anything
    inputs = input_options(args)
    references, predictions = read(args.references, **inputs), read(args.predictions, marked=True, **inputs)
    refs, preds, texts, _ = pair_files(references, predictions, args.typed)
    if texts is None:
        raise ValueError(f"{args.references}: every document needs its 'text': the error browser shows the documents")
    try:
        path = write_error_report(refs, preds, args.output, texts=texts, doc_ids=list(references.docs),
                                  p_values=args.p, typed=args.typed, empty_spans=args.empty_spans,
                                  title=args.title, overwrite=args.overwrite)
    except ValueError as e:
        raise locate_error(e, references, predictions) from e
    echo(f"wrote {path}")
    return 0


def _buckets(args: argparse.Namespace) -> int:
    import csv
    import io

    from ..scoring.buckets import bucket_rows, bucket_scores
    from ..utils import atomic_write_text

    if args.output:
        check_output(args.output, args.overwrite)  # before reading anything
    inputs = input_options(args)
    references, predictions = read(args.references, **inputs), read(args.predictions, marked=True, **inputs)
    refs, preds, texts, _ = pair_files(references, predictions, args.typed)
    if texts is None:
        raise ValueError(f"{args.references}: every document needs its 'text': words and mentions come from it")
    train = None
    if args.train:
        docs = list(read(args.train, **inputs).docs.values())
        if any(not isinstance(d.get("text"), str) for d in docs):
            raise ValueError(f"{args.train}: every training document needs its 'text'")
        train = ([d["text"] for d in docs], [d.get("entities") or [] for d in docs])
    try:
        result = bucket_scores(refs, preds, texts=texts, train=train, attributes=args.attributes, p_values=args.p,
                               typed=args.typed, empty_spans=args.empty_spans, per_document=bool(args.intervals))
    except ValueError as e:
        raise locate_error(e, references, predictions) from e
    rows = bucket_rows(result)
    main = f"p{format_p(result['p_values'][0])}_"
    if args.intervals:
        from ..scoring.significance import bootstrap

        intervals = bootstrap(result["document_counts"], n_resamples=args.intervals, rng=args.seed).intervals
        for row in rows:
            prefix = f"bucket_{row['attribute']}_{row['bucket']}_"
            for column in (f"{main}precision", f"{main}recall", f"{main}f1", "strict_f1"):
                ci = intervals[prefix + column]
                row.update({f"{column}_ci_low": ci.low, f"{column}_ci_high": ci.high})
    if args.format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["attribute", "bucket"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        cells = ("n_gold", "n_pred", f"{main}precision", f"{main}recall", f"{main}f1", "strict_f1")
        cells += (f"{main}f1_ci_low", f"{main}f1_ci_high") if args.intervals else ()
        width = max([len(r["attribute"]) + len(r["bucket"]) + 1 for r in rows] + [16])
        lines = [f"{result['n_documents']} documents; soft match at p={format_p(result['p_values'][0])}, "
                 f"{'typed' if result['typed'] else 'untyped'}; recall over the bucket's gold spans, precision over "
                 "its predicted spans",
                 f"{'attribute bucket':<{width}}  " + "  ".join(f"{c:>12}" for c in cells)]
        for r in rows:
            lines.append(f"{r['attribute'] + ' ' + r['bucket']:<{width}}  " + "  ".join(
                f"{r[c]:>12}" if isinstance(r[c], int) else f"{r[c]:>12.4f}" for c in cells))
        if "unseen_recall" in result:
            lines.append(f"\nunseen recall (gold mentions not in the training corpus): {result['unseen_recall']:.4f}")
        text = "\n".join(lines) + "\n"
    if args.output:
        echo(f"wrote {atomic_write_text(args.output, text, overwrite=args.overwrite)}")
    else:
        echo(text.rstrip("\n"))
    return 0


def _model_card(args: argparse.Namespace) -> int:
    from ..leaderboard.model_card import read_scores, write_model_card

    results = read_scores(args.results, typed=True if args.typed else None)
    paths = write_model_card(args.model_dir, results, model_name=args.model_name, dataset_id=args.dataset_id,
                             dataset_name=args.dataset_name, split=args.split, metrics=args.metrics,
                             sd=not args.no_sd, eval_results=not args.no_eval_results, date=args.date,
                             source_name=args.source_name, source_url=args.source_url)
    for path in paths:
        echo(f"wrote {path}")
    echo(f"upload with: hf upload <user>/<model> {args.model_dir} --repo-type model")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ..leaderboard.plots import PLOTS, save_figure  # matplotlib: the 'leaderboard' extra

    for path in args.output:  # refuse before drawing, and before writing any of them
        check_output(path, args.overwrite)
    options = {"key": args.metric} if args.kind == "folds" else {"metric": args.metric, "sd": not args.no_sd}
    figure = PLOTS[args.kind](args.results, dataset=args.dataset, **options)
    for path in args.output:
        echo(f"wrote {save_figure(figure, path, overwrite=args.overwrite, dpi=args.dpi)}")
    return 0


def _significance(args: argparse.Namespace) -> int:
    from ..scoring.significance import bootstrap, document_counts, paired_test

    names = args.names or [Path(p).stem for p in args.predictions]
    if len(names) != len(args.predictions) or len(set(names)) != len(names):
        raise ValueError(f"--names must give one distinct name per --predictions file ({len(args.predictions)}), "
                         f"got {names}")
    inputs = input_options(args)
    references = read(args.references, **inputs)
    systems = {}
    for name, path in zip(names, args.predictions):
        predictions = read(path, marked=True, **inputs)
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
        echo(json.dumps({
            "n_documents": base.n_documents, "n_resamples": args.n_resamples, "confidence_level": args.confidence_level,
            "seed": args.seed,
            "intervals": {name: {m: vars(ci[m]) for m in args.metrics} for name, ci in intervals.items()},
            "paired_tests": {f"{names[0]} - {name}": {m: {"difference": t.difference[m], "p_value": t.p_value[m]}
                                                      for m in args.metrics} for name, t in tests.items()},
        }, indent=2))
        return 0
    level = f"{args.confidence_level:.0%}"
    echo(f"{base.n_documents} documents; document bootstrap, {args.n_resamples} resamples, seed {args.seed}: "
         f"score [{level} interval]")
    width = max(len(n) for n in names)
    for name, ci in intervals.items():
        echo(f"{name:<{width}}  " + "  ".join(f"{m} {ci[m].estimate:.4f} [{ci[m].low:.4f}, {ci[m].high:.4f}]"
                                              for m in args.metrics))
    if tests:
        echo(f"\npaired approximate randomisation against {names[0]} ({args.n_resamples} resamples; the smallest "
             f"p-value possible is {1 / (1 + args.n_resamples):.2g}): difference {names[0]} - system (p-value)")
        for name, t in tests.items():
            echo(f"{name:<{width}}  " + "  ".join(f"{m} {t.difference[m]:+.4f} (p={t.p_value[m]:.4g})"
                                                  for m in args.metrics))
    return 0


def add_errors(command: CommandFactory) -> None:
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
    errors.add_argument("--p", type=P, nargs="+", default=list(DEFAULT_P_VALUES),
                        help="fragmentation penalties (>= 1) at which span scores are shown; the first gives the costs")
    errors.add_argument("--typed", action="store_true", help="cost as the typed score: a fragment counts only where "
                        "the labels agree")
    errors.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                        help="a span with start == end: an error naming it, or drop it")
    errors.add_argument("--title", default=None, help="the page's title (None: 'E-CCR error browser')")
    add_input_options(errors)
    errors.set_defaults(func=_errors)


def add_buckets(command: CommandFactory) -> None:
    from ..scoring.buckets import ATTRIBUTES

    buckets = command("buckets", "scores per attribute bucket (InterpretEval): mention length in characters and words, "
                      "label consistency and frequency in a training corpus, document length, entity and OOV density, "
                      "label; recall over each bucket's gold spans, precision over its predicted spans")
    buckets.add_argument("--references", required=True, help="gold documents {doc_id, text, entities} (JSONL or a "
                         "corpus format, see --input-format)")
    buckets.add_argument("--predictions", required=True,
                         help="predicted documents {doc_id, entities}, or {doc_id, marked} generations to decode")
    buckets.add_argument("--train", default=None, help="the training corpus {doc_id, text, entities}; econ, efre and "
                         "oden need it (None: those attributes are left out)")
    buckets.add_argument("--attributes", nargs="+", choices=ATTRIBUTES, default=None,
                         help="which attributes (None: all, less econ, efre, oden without --train)")
    buckets.add_argument("--p", type=P, nargs="+", default=list(DEFAULT_P_VALUES),
                         help="fragmentation penalties (>= 1); the first is the one the table shows")
    buckets.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    buckets.add_argument("--intervals", type=SEED, default=0, help="document bootstrap resamples for 95%% intervals "
                         "of each bucket's scores at the first p and its strict F1 (0: none)")
    buckets.add_argument("--seed", type=SEED, default=0, help="random seed of --intervals")
    buckets.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                         help="a span with start == end: an error naming it, or drop it")
    buckets.add_argument("--format", choices=("table", "csv"), default="table",
                         help="a table (at the first p), or CSV with every p")
    buckets.add_argument("--output", default=None, help="write to this file (None: print); an existing file is "
                         "refused without --overwrite")
    buckets.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    add_input_options(buckets)
    buckets.set_defaults(func=_buckets)


def add_model_card(command: CommandFactory) -> None:
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


def add_plot(command: CommandFactory) -> None:
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
    plot.add_argument("--dpi", type=POSITIVE_INT, default=200, help="resolution of .png files")
    plot.set_defaults(func=_plot)


def add_significance(command: CommandFactory) -> None:
    stats = command("significance", "document-level bootstrap intervals of each system's scores, and paired "
                    "approximate-randomisation tests of each system against the first")
    stats.add_argument("--references", required=True, help="JSONL of gold documents {doc_id, text, entities}")
    stats.add_argument("--predictions", required=True, nargs="+",
                       help="one predictions JSONL per system ({doc_id, entities} or {doc_id, marked}), all for the "
                       "same documents; the first is the one the others are tested against")
    stats.add_argument("--names", nargs="+", default=None, help="one name per --predictions file (None: file stems)")
    stats.add_argument("--metrics", nargs="+", default=["f1", "strict_f1"],
                       help="score keys to report, e.g. f1 precision recall p100_f1 char_f1 strict_f1")
    stats.add_argument("--p", type=P, nargs="+", default=list(DEFAULT_P_VALUES),
                       help="fragmentation penalties (>= 1); the first is the main one (f1, precision, recall)")
    stats.add_argument("--typed", action="store_true", help="count a fragment only where the labels agree")
    stats.add_argument("--empty-spans", choices=("error", "drop"), default="error",
                       help="a span with start == end: an error naming it, or drop it")
    stats.add_argument("--n-resamples", type=POSITIVE_INT, default=1000,
                       help="bootstrap resamples and random swaps of the paired test")
    stats.add_argument("--confidence-level", type=LEVEL, default=0.95, help="coverage of the intervals")
    stats.add_argument("--seed", type=SEED, default=0, help="random seed (same seed, same numbers)")
    stats.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
    add_input_options(stats)
    stats.set_defaults(func=_significance)
