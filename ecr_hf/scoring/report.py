"""seqeval-style strict span report over character spans, and tag sequences to spans.

``classification_report`` is seqeval's ``classification_report(mode="strict")`` computed on spans:
a predicted span counts only if a gold span in the same document has the same start, end and label.
Unlike the ``evaluate`` seqeval module it keeps ``macro avg`` and ``weighted avg``. Spans are sets:
a span listed twice in one document counts once on its side (BIO tags cannot repeat a chunk, so this
is what seqeval does). Unlabelled spans are reported under ``"_"``, seqeval's name for untyped chunks.

``bio_to_spans`` (defined in :mod:`ecr_hf.spans.formats`, re-exported here) turns tag sequences into token
spans ``[start, end)`` the way seqeval does, in ``mode="strict"`` (chunks must follow the scheme;
ill-formed runs are dropped) or in its default conlleval mode (any I/E after O or after another type
opens a chunk).

The seqeval drop-in takes tag sequences, as ``seqeval`` and ``evaluate.load("seqeval")`` do, and gives
the same numbers: :func:`seqeval_scores` (the ``evaluate`` module's structure),
:func:`precision_recall_fscore_support` (``average=``, ``beta``) and :func:`accuracy_score`; a score
that falls back to ``zero_division="warn"`` emits an :class:`UndefinedMetricWarning` naming it.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from ..spans.formats import SCHEMES, bio_to_spans, chunk_arrays, detect_scheme
from .semeval import UNTYPED, _check_zero_division, _prf
from ..spans.span import SpanArrays, pair_arrays

__all__ = ["SCHEMES", "bio_to_spans", "detect_scheme", "classification_report",  # the first three: formats
           "seqeval_scores", "precision_recall_fscore_support", "accuracy_score", "UndefinedMetricWarning"]


def _format(rows: dict[str, dict[str, Any]], digits: int) -> str:
    width = max([len(name) for name in rows] + [len("weighted avg"), digits])
    line = "{:>{w}s}  {:>9.{d}f} {:>9.{d}f} {:>9.{d}f} {:>9}"
    head = "{:>{w}s}  {:>9} {:>9} {:>9} {:>9}".format("", "precision", "recall", "f1-score", "support", w=width)
    body = [line.format(n, r["precision"], r["recall"], r["f1-score"], r["support"], w=width, d=digits)
            for n, r in rows.items()]
    n_labels = len(rows) - 3
    return "\n".join([head, "", *body[:n_labels], "", *body[n_labels:], ""])


def _strict_sets(gold: SpanArrays, pred: SpanArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(doc, start, end, label)`` rows of each side and the rows on both: spans are sets."""
    g_keys, p_keys = (np.unique(np.stack([s.doc, s.start, s.end, s.label], axis=1), axis=0) for s in (gold, pred))
    both, seen = np.unique(np.concatenate([g_keys, p_keys]), axis=0, return_counts=True)
    return g_keys, p_keys, both[seen == 2]


def strict_counts(gold: SpanArrays, pred: SpanArrays, n_documents: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per document: strict matches, distinct gold spans and distinct predicted spans (float arrays).

    Their sums give the ``strict_*`` scores of :func:`ecr_hf.scoring.span_metrics`, equal to the
    ``micro avg`` of :func:`classification_report` (seqeval's strict ``overall_*``); per document they
    are what :mod:`ecr_hf.scoring.significance` resamples. ``gold`` and ``pred`` come from
    :func:`~ecr_hf.spans.pair_arrays` (one label set).
    """
    g_keys, p_keys, hits = _strict_sets(gold, pred)
    return tuple(np.bincount(keys[:, 0], minlength=n_documents).astype(np.float64) for keys in (hits, g_keys, p_keys))


def classification_report(
    references: Iterable[Any],
    predictions: Iterable[Any],
    *,
    digits: int = 2,
    output_dict: bool = True,
    zero_division: float = 0.0,
    empty_spans: str = "error",
) -> dict[str, dict[str, float | int]] | str:
    """Per-label strict span precision/recall/F1/support with micro, macro and weighted averages.

    Args:
        references: gold spans, one list per document (``Span``, dicts or tuples).
        predictions: predicted spans, same number of documents.
        digits: decimals in the string form.
        output_dict: return a dict (default) or seqeval's text table.
        zero_division: precision when a label has no predictions, recall when it has no gold spans.
        empty_spans: ``"error"`` (default) or ``"drop"`` spans with ``start == end``.

    Returns:
        ``{label: {"precision", "recall", "f1-score", "support"}, "micro avg": ..., "macro avg": ...,
        "weighted avg": ...}`` (seqeval's keys; labels sorted, only those seen on either side), or the
        same as a string. Macro averages the labels' scores; weighted weights them by support.

    Examples:
        >>> gold = [[(0, 3, "PER"), (5, 8, "LOC")], [(0, 4, "PER")]]
        >>> pred = [[(0, 3, "PER"), (5, 7, "LOC")], [(0, 4, "PER"), (0, 4, "PER")]]
        >>> report = classification_report(gold, pred)
        >>> report["PER"]
        {'precision': 1.0, 'recall': 1.0, 'f1-score': 1.0, 'support': 2}
        >>> round(report["micro avg"]["f1-score"], 4), report["macro avg"]["f1-score"]
        (0.6667, 0.5)
        >>> print(classification_report(gold, pred, output_dict=False))
                      precision    recall  f1-score   support
        <BLANKLINE>
                 LOC       0.00      0.00      0.00         1
                 PER       1.00      1.00      1.00         2
        <BLANKLINE>
           micro avg       0.67      0.67      0.67         3
           macro avg       0.50      0.50      0.50         3
        weighted avg       0.67      0.67      0.67         3
        <BLANKLINE>
    """
    zero_division = _check_zero_division(zero_division)
    gold, pred = pair_arrays(references, predictions, empty_spans=empty_spans)
    g_keys, p_keys, hits = _strict_sets(gold, pred)
    n = len(gold.labels) + 1  # slot 0 is the unlabelled "_"
    true_sum = np.bincount(g_keys[:, 3] + 1, minlength=n)
    pred_sum = np.bincount(p_keys[:, 3] + 1, minlength=n)
    tp_sum = np.bincount(hits[:, 3] + 1, minlength=n)
    names = [UNTYPED, *gold.labels]
    present = sorted((names[k], k) for k in range(n) if true_sum[k] or pred_sum[k])

    rows: dict[str, dict[str, Any]] = {}
    for name, k in present:
        p, r, f = _prf(int(tp_sum[k]), int(true_sum[k]), int(pred_sum[k]), zero_division)
        rows[name] = {"precision": p, "recall": r, "f1-score": f, "support": int(true_sum[k])}
    p, r, f = _prf(int(tp_sum.sum()), int(true_sum.sum()), int(pred_sum.sum()), zero_division)
    total = int(true_sum.sum())
    micro = {"precision": p, "recall": r, "f1-score": f, "support": total}
    scores = np.array([[row["precision"], row["recall"], row["f1-score"]] for row in rows.values()]).reshape(-1, 3)
    support = np.array([row["support"] for row in rows.values()], dtype=np.float64)
    if len(rows) == 0:
        macro, weighted = dict(micro), dict(micro)
    else:
        macro = dict(zip(("precision", "recall", "f1-score"), map(float, scores.mean(axis=0))), support=total)
        if total == 0:  # seqeval/scikit-learn: no gold spans at all
            none_predicted = pred_sum.sum() == 0
            weighted = {"precision": zero_division if none_predicted else 0.0, "recall": zero_division,
                        "f1-score": zero_division if none_predicted else 0.0, "support": 0}
        else:
            avg = np.average(scores, axis=0, weights=support)
            weighted = dict(zip(("precision", "recall", "f1-score"), map(float, avg)), support=total)
    rows.update({"micro avg": micro, "macro avg": macro, "weighted avg": weighted})
    return rows if output_dict else _format(rows, digits)


# ------------------------------------------------------------------ seqeval drop-in (tag sequences)


class UndefinedMetricWarning(UserWarning):
    """A score had a zero denominator and was set to 0.0 (``zero_division="warn"``, as seqeval and
    scikit-learn warn); pass ``zero_division=0`` or ``1`` to choose the value and silence it."""


class _Counts(NamedTuple):
    names: list[str]  # entity types, sorted as seqeval sorts them
    tp: np.ndarray
    pred: np.ndarray
    true: np.ndarray


def _tag_batches(references: Any, predictions: Any) -> tuple[list[Sequence[str]], list[Sequence[str]]]:
    sides = []
    for side, docs in (("references", references), ("predictions", predictions)):
        listed = isinstance(docs, (Sequence, np.ndarray)) and not isinstance(docs, str)
        kinds = set(map(type, docs)) if listed else {str}
        if any(issubclass(k, str) or not issubclass(k, (Sequence, np.ndarray)) for k in kinds):
            raise ValueError(f"{side} must be a list of tag sequences, one per sentence (e.g. "
                             "[['B-PER', 'I-PER', 'O']]), as seqeval takes them")
        sides.append(list(docs))
    refs, preds = sides
    if len(refs) != len(preds):
        raise ValueError(f"got {len(preds)} predicted sequences but {len(refs)} reference sequences")
    lengths = np.array([len(d) for d in refs], np.int64), np.array([len(d) for d in preds], np.int64)
    if not np.array_equal(*lengths):
        k = int(np.flatnonzero(lengths[0] != lengths[1])[0])
        raise ValueError(f"sequence {k}: {lengths[1][k]} predicted tags but {lengths[0][k]} reference tags; "
                         "give one tag per token on both sides")
    return refs, preds


def _seqeval_options(mode: str | None, scheme: Any, zero_division: Any, sample_weight: Any,
                     n: int) -> tuple[str, float]:
    """Checked ``mode`` and ``scheme`` (named even where the mode ignores it, as evaluate's seqeval
    checks it), and the numeric ``zero_division`` ("warn" acts as 0.0)."""
    if mode not in (None, "default", "strict"):
        raise ValueError(f"mode must be None (conlleval rules, seqeval's default) or 'strict', got {mode!r}")
    if getattr(scheme, "__name__", scheme) not in (None, "auto", *SCHEMES):
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {list(SCHEMES)}, or None to detect it")
    if sample_weight is not None:
        if len(sample_weight) != n:
            raise ValueError(f"sample_weight has {len(sample_weight)} values for {n} sequences")
        warnings.warn("sample_weight has no effect: seqeval accepts it but none of its averages (micro, macro, "
                      "weighted) uses it, so the drop-in ignores it too", UserWarning, stacklevel=3)
    value = 0.0 if zero_division == "warn" else _check_zero_division(zero_division)
    return mode or "default", value


def _entity_counts(references: list[Sequence[str]], predictions: list[Sequence[str]], *, suffix: bool,
                   scheme: Any, mode: str) -> _Counts:
    """True positives, predicted and gold entities per type, from one decoding of both sides."""
    if mode == "strict" and getattr(scheme, "__name__", scheme) in (None, "auto"):
        scheme = detect_scheme(references, suffix=suffix)  # seqeval detects on the references only
    n = len(references)
    chunks = chunk_arrays(references + predictions, scheme, mode, suffix=suffix, untyped=UNTYPED)
    lengths = np.array([len(d) for d in references], np.int64)
    # Within one side chunks never share a start token: the flat start position is a chunk's key.
    key = (np.cumsum(lengths) - lengths)[chunks.seq % max(n, 1)] + chunks.start
    gold, pred = (np.flatnonzero(side) for side in (chunks.seq < n, chunks.seq >= n))
    _, gi, pi = np.intersect1d(key[gold], key[pred], assume_unique=True, return_indices=True)
    gi, pi = gold[gi], pred[pi]
    hit = gi[(chunks.end[gi] == chunks.end[pi]) & (chunks.label[gi] == chunks.label[pi])]
    size = len(chunks.names)
    true, predicted, tp = (np.bincount(chunks.label[k], minlength=size) for k in (gold, pred, hit))
    order = sorted((name, k) for k, name in enumerate(chunks.names) if true[k] or predicted[k])
    keep = np.array([k for _, k in order], np.int64)
    return _Counts([name for name, _ in order], tp[keep], predicted[keep], true[keep])


def _divide(numerator: np.ndarray, denominator: np.ndarray, zero_division: float) -> np.ndarray:
    return np.where(denominator > 0, numerator / np.maximum(denominator, 1), zero_division)


def _fbeta(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    """seqeval's F-beta: 0 where precision and recall are both 0 (``beta = inf``: recall)."""
    if math.isinf(beta):
        return recall
    beta2 = beta * beta
    denominator = beta2 * precision + recall
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0.0, (1 + beta2) * precision * recall / safe)


def _warn_undefined(counts: _Counts, per_type: bool, overall: bool, zero_division: Any) -> None:
    """One UndefinedMetricWarning per ill-defined metric, naming the types (and "overall")."""
    if zero_division != "warn":
        return
    for metric, sums, what in (("precision", counts.pred, "no predicted entities"),
                               ("recall", counts.true, "no reference entities")):
        where = [repr(name) for name, total in zip(counts.names, sums.tolist()) if per_type and total == 0]
        if overall and sums.sum() == 0:
            where.append("overall")
        if where:
            warnings.warn(f"{metric} (and so F-score) is ill-defined and set to 0.0 ({what}) for "
                          f"{', '.join(where)}; pass zero_division=0 or 1 to choose the value and silence this warning",
                          UndefinedMetricWarning, stacklevel=3)


def _check_beta(beta: float) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
        raise ValueError(f"beta must be a number >= 0 (F-beta weighs recall beta times as much as precision), "
                         f"got {beta!r}")
    return float(beta)


def precision_recall_fscore_support(
    references: Sequence[Sequence[str]],
    predictions: Sequence[Sequence[str]],
    *,
    average: str | None = None,
    beta: float = 1.0,
    suffix: bool = False,
    scheme: Any = None,
    mode: str | None = None,
    sample_weight: Sequence[float] | None = None,
    zero_division: Any = "warn",
) -> tuple[Any, Any, Any, Any]:
    """Entity precision, recall, F-beta and support from tag sequences, equal to seqeval's.

    ``mode=None`` reads tags by conlleval's rules (seqeval's default; ``scheme`` is then ignored, as
    seqeval ignores it); ``mode="strict"`` by the rules of ``scheme`` (a name in :data:`SCHEMES`,
    seqeval's scheme class, or None/"auto": detected from the references, :func:`detect_scheme`).
    ``average=None`` gives one value per entity type (types sorted by name, the order of
    :func:`seqeval_scores`); "micro" pools the counts; "macro" averages the types' scores; "weighted"
    weighs them by support. Where a denominator is zero the score is ``zero_division`` ("warn": 0.0
    and an :class:`UndefinedMetricWarning`; or a number in [0, 1], or nan). ``sample_weight`` is
    accepted and, as in seqeval (1.2), has no effect (a warning says so).

    Note the argument order: references first (seqeval's ``y_true, y_pred``).

    Examples:
        >>> refs = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
        >>> preds = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
        >>> precision_recall_fscore_support(refs, preds, average="micro")
        (0.5, 0.5, 0.5, 2)
        >>> [x.tolist() for x in precision_recall_fscore_support(refs, preds)]
        [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1, 1]]
    """
    if average not in (None, "micro", "macro", "weighted"):
        raise ValueError(f"average must be None, 'micro', 'macro' or 'weighted', got {average!r}")
    beta = _check_beta(beta)
    refs, preds = _tag_batches(references, predictions)
    mode, value = _seqeval_options(mode, scheme, zero_division, sample_weight, len(refs))
    counts = _entity_counts(refs, preds, suffix=suffix, scheme=scheme, mode=mode)
    _warn_undefined(counts, average != "micro", average == "micro", zero_division)
    tp, pred, true = counts.tp, counts.pred, counts.true
    if average == "micro":
        tp, pred, true = (np.array([x.sum()]) for x in (tp, pred, true))
    precision, recall = _divide(tp, pred, value), _divide(tp, true, value)
    f_score = _fbeta(precision, recall, beta)
    if average is None:
        return precision, recall, f_score, true
    support = int(true.sum())
    if average == "weighted" and support == 0:  # seqeval/scikit-learn: no reference entity at all
        none_predicted = pred.sum() == 0
        return (value if none_predicted else 0.0, value, value if none_predicted else 0.0, 0)
    if len(tp) == 0:  # macro over no entity type: numpy's mean of nothing, as in seqeval
        return math.nan, math.nan, math.nan, 0
    weights = true if average == "weighted" else None
    return tuple(float(np.average(x, weights=weights)) for x in (precision, recall, f_score)) + (support,)


def accuracy_score(references: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]], *,
                   zero_division: Any = "warn") -> float:
    """Token accuracy (conlleval's and seqeval's): the fraction of tokens whose tag strings are equal,
    ``O`` tokens included. With no token at all it is ``zero_division`` (seqeval divides by zero).

    Examples:
        >>> accuracy_score([["O", "B-X", "I-X"], ["B-Y"]], [["O", "B-X", "O"], ["B-Y"]])
        0.75
    """
    return _accuracy(*_tag_batches(references, predictions), zero_division)


def _accuracy(refs: list[Sequence[str]], preds: list[Sequence[str]], zero_division: Any) -> float:
    total = sum(map(len, refs))
    if total == 0:
        if zero_division == "warn":
            warnings.warn("accuracy is ill-defined and set to 0.0 (no tokens); pass zero_division=0 or 1 to choose "
                          "the value and silence this warning", UndefinedMetricWarning, stacklevel=3)
            return 0.0
        return _check_zero_division(zero_division)
    return sum(map(operator.eq, chain.from_iterable(refs), chain.from_iterable(preds))) / total


def seqeval_scores(
    references: Sequence[Sequence[str]],
    predictions: Sequence[Sequence[str]],
    *,
    suffix: bool = False,
    scheme: Any = None,
    mode: str | None = None,
    sample_weight: Sequence[float] | None = None,
    zero_division: Any = "warn",
    beta: float = 1.0,
) -> dict[str, Any]:
    """What ``evaluate.load("seqeval").compute(...)`` returns, with the same arguments and numbers.

    ``{type: {"precision", "recall", "f1", "number"}, ..., "overall_precision", "overall_recall",
    "overall_f1", "overall_accuracy"}``: types sorted by name (``"_"`` for untyped chunks), ``number``
    the type's reference entities, ``overall_*`` micro-averaged, accuracy over tokens
    (:func:`accuracy_score`). The options are those of :func:`precision_recall_fscore_support`;
    with ``beta`` other than 1 the ``f1`` keys hold F-beta. Entities come from one vectorised
    decoding of both sides (:func:`ecr_hf.spans.chunk_arrays`), not seqeval's per-token loop.

    Examples:
        >>> refs = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
        >>> preds = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
        >>> results = seqeval_scores(refs, preds)
        >>> list(results)
        ['MISC', 'PER', 'overall_precision', 'overall_recall', 'overall_f1', 'overall_accuracy']
        >>> results["overall_f1"], results["PER"], results["overall_accuracy"]
        (0.5, {'precision': 1.0, 'recall': 1.0, 'f1': 1.0, 'number': 1}, 0.8)
        >>> seqeval_scores([["I-X", "I-X", "B-X"]], [["I-X", "I-X", "O"]], mode="strict", scheme="IOB1")["X"]
        {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'number': 2}
    """
    beta = _check_beta(beta)
    refs, preds = _tag_batches(references, predictions)
    mode, value = _seqeval_options(mode, scheme, zero_division, sample_weight, len(refs))
    counts = _entity_counts(refs, preds, suffix=suffix, scheme=scheme, mode=mode)
    _warn_undefined(counts, True, True, zero_division)
    precision, recall = _divide(counts.tp, counts.pred, value), _divide(counts.tp, counts.true, value)
    f_score = _fbeta(precision, recall, beta)
    out: dict[str, Any] = {
        name: {"precision": p, "recall": r, "f1": f, "number": n}
        for name, p, r, f, n in zip(counts.names, precision.tolist(), recall.tolist(), f_score.tolist(),
                                    counts.true.tolist())
    }
    tp, pred, true = (np.array([x.sum()]) for x in counts[1:])
    p, r = _divide(tp, pred, value), _divide(tp, true, value)
    out.update(overall_precision=float(p[0]), overall_recall=float(r[0]), overall_f1=float(_fbeta(p, r, beta)[0]),
               overall_accuracy=_accuracy(refs, preds, zero_division))
    return out
