"""seqeval-style strict span report over character spans, and tag sequences to spans.

``classification_report`` is seqeval's ``classification_report(mode="strict")`` computed on spans:
a predicted span counts only if a gold span in the same document has the same start, end and label.
Unlike the ``evaluate`` seqeval module it keeps ``macro avg`` and ``weighted avg``. Spans are sets:
a span listed twice in one document counts once on its side (BIO tags cannot repeat a chunk, so this
is what seqeval does). Unlabelled spans are reported under ``"_"``, seqeval's name for untyped chunks.

``bio_to_spans`` (defined in :mod:`ecr_hf.formats`, re-exported here) turns tag sequences into token
spans ``[start, end)`` the way seqeval does, in ``mode="strict"`` (chunks must follow the scheme;
ill-formed runs are dropped) or in its default conlleval mode (any I/E after O or after another type
opens a chunk).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .formats import SCHEMES, bio_to_spans
from .semeval import UNTYPED, _check_zero_division, _prf
from .spans import pair_arrays

__all__ = ["SCHEMES", "bio_to_spans", "classification_report"]  # the first two live in formats


def _format(rows: dict[str, dict[str, Any]], digits: int) -> str:
    width = max([len(name) for name in rows] + [len("weighted avg"), digits])
    line = "{:>{w}s}  {:>9.{d}f} {:>9.{d}f} {:>9.{d}f} {:>9}"
    head = "{:>{w}s}  {:>9} {:>9} {:>9} {:>9}".format("", "precision", "recall", "f1-score", "support", w=width)
    body = [line.format(n, r["precision"], r["recall"], r["f1-score"], r["support"], w=width, d=digits)
            for n, r in rows.items()]
    n_labels = len(rows) - 3
    return "\n".join([head, "", *body[:n_labels], "", *body[n_labels:], ""])


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
    g_keys = np.unique(np.stack([gold.doc, gold.start, gold.end, gold.label], axis=1), axis=0)
    p_keys = np.unique(np.stack([pred.doc, pred.start, pred.end, pred.label], axis=1), axis=0)
    both, seen = np.unique(np.concatenate([g_keys, p_keys]), axis=0, return_counts=True)
    n = len(gold.labels) + 1  # slot 0 is the unlabelled "_"
    true_sum = np.bincount(g_keys[:, 3] + 1, minlength=n)
    pred_sum = np.bincount(p_keys[:, 3] + 1, minlength=n)
    tp_sum = np.bincount(both[seen == 2, 3] + 1, minlength=n)
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
