"""Lenient span scores of the field: Jaccard-lenient and IoU-threshold P/R/F1, order independent.

Both grade one optimal one-to-one matching of gold and predicted spans per document, so a
prediction stands for at most one gold span and the numbers do not depend on input order (unlike
nervaluate's greedy loops, MantisAI/nervaluate#40). Spans are scored as given, like the SemEval
schemas: overlapping or repeated spans on one side are not merged (a span listed twice can match
once; the copy is unmatched). The overlap of two spans is the Jaccard index of their character
sets, ``|g ∩ p| / |g ∪ p|`` (the IoU).

* **Jaccard-lenient** (BioNLP-ST 2013, SPRadIE 2020): the matching maximises the sum of the overlaps
  of the matched pairs; ``P = ΣJ / |pred|``, ``R = ΣJ / |gold|``, F1 their harmonic mean
  (``2ΣJ / (|pred| + |gold|)``). Keys ``jaccard_{m}``, ``jaccard_typed_{m}``.
* **IoU threshold** (presidio-research's span evaluator; i2b2's "inexact" match): a pair counts
  (a true positive) when its IoU is at least ``iou_threshold`` (default 0.5); the matching
  maximises the number of such pairs, ties broken by their total IoU; ``P = TP / |pred|``,
  ``R = TP / |gold|``. Keys ``iou{t}_{m}``, ``iou{t}_typed_{m}`` with ``{t}`` the threshold in
  percent (:func:`format_threshold`: ``iou50_f1``).

``typed``: only spans with the same label can pair. The matchings reuse the exact solver of the
SemEval schemas (:func:`ecr_hf.scoring.semeval.candidate_pairs`, one ``linear_sum_assignment`` per
connected chain of overlapping spans): the optimal totals are unique, so P/R/F1 are too.

How they relate to the weighted soft match and to SemEval partial. Take one gold span 0-10 found
as 0-4 and 6-10 (2 characters missed between them):

=========================  =========  ======  ======
score                      precision  recall  F1
=========================  =========  ======  ======
soft match p = 1           1.0        0.8     0.889
soft match p = inf         1.0        0.4     0.571
SemEval partial            0.25       0.5     0.333
Jaccard-lenient            0.2        0.4     0.267
IoU >= 0.5 (``iou50``)     0.0        0.0     0.0
IoU >= 0.4 (``iou40``)     0.5        1.0     0.667
=========================  =========  ======  ======

The soft match credits every fragment against the gold span (p = 1: 8 of 10 characters; p = inf:
the largest fragment, 4 of 10) and scores each prediction by the gold characters inside it, so
both fragments are fully precise. The one-to-one matchings pair the gold span with one fragment
only; the other is a false positive. SemEval partial gives that pair a flat 0.5 (1 for exact
boundaries); Jaccard-lenient gives it its overlap, 4/10 = 0.4 (1 exactly when the boundaries
agree), so it is SemEval partial with the 0.5 replaced by the overlap. Per gold span the overlap is
at most the fraction of the gold span found (``|g ∩ p| / |g ∪ p| <= |g ∩ p| / |g|``), which is at
most the span's soft match score at p = inf (its largest fragment), itself at most the p = 1 score:
where no spans overlap on one side, Jaccard-lenient recall <= the p = inf marker recall (the plain
mean over gold spans, ``p{p}_marker_recall``) <= the p = 1 marker recall, and likewise for
precision; recall is equal to the p = inf marker recall when every gold span is matched to its
largest fragment lying inside it, as here. The IoU threshold turns the overlap into a yes/no: at
``iou_threshold=1`` a pair counts only with exact boundaries, so ``iou100_*`` is SemEval ``exact``
(typed: ``strict``).

Examples:
    >>> out = lenient_scores([[(0, 10, "D")]], [[(0, 4, "D"), (6, 10, "D")]])
    >>> out["jaccard"]["precision"], out["jaccard"]["recall"], round(out["jaccard"]["f1"], 4)
    (0.2, 0.4, 0.2667)
    >>> out["iou"]["correct"], out["iou"]["f1"]
    (0, 0.0)
    >>> out = lenient_scores([[(0, 10, "D")]], [[(0, 4, "D"), (6, 10, "D")]], iou_threshold=0.4)
    >>> out["iou"]["precision"], out["iou"]["recall"]
    (0.5, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..spans.span import SpanArrays, pair_arrays
from .semeval import _check_zero_division, _optimal_pairs, _prf, candidate_pairs

__all__ = ["lenient_scores", "lenient_arrays", "lenient_metrics", "lenient_flat", "lenient_matching",
           "format_threshold", "check_iou_threshold"]

_METRICS = ("precision", "recall", "f1")


def check_iou_threshold(threshold: Any) -> float:
    """``threshold`` as a float in ``(0, 1]``: an IoU of 0 would pair spans that do not overlap,
    and a percentage (``50``) is a likely slip, so both are errors."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or not 0.0 < threshold <= 1.0:
        raise ValueError(f"iou_threshold must be a fraction in (0, 1] (0.5: half the union of the two spans), "
                         f"got {threshold!r}")
    return float(threshold)


def format_threshold(threshold: float) -> str:
    """Key form of an IoU threshold, in percent: ``0.5 -> "50"``, ``1.0 -> "100"``, ``0.333 -> "33.3"``."""
    return f"{check_iou_threshold(threshold) * 100:.10g}"


def _overlaps(gold: SpanArrays, pred: SpanArrays, typed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The overlapping pairs ``(gi, pj)`` (same label only when typed) and their IoU, vectorised."""
    gi, pj = candidate_pairs(gold, pred)
    if typed:
        same = gold.label[gi] == pred.label[pj]
        gi, pj = gi[same], pj[same]
    inter = np.minimum(gold.end[gi], pred.end[pj]) - np.maximum(gold.start[gi], pred.start[pj])
    union = (gold.end[gi] - gold.start[gi]) + (pred.end[pj] - pred.start[pj]) - inter
    return gi, pj, inter / union


def _jaccard_pairs(gi: np.ndarray, pj: np.ndarray, iou: np.ndarray, n_gold: int,
                   n_pred: int) -> np.ndarray:
    """Kept pairs of the matching with the largest total overlap."""
    return _optimal_pairs(gi, pj, n_gold, n_pred, lambda idx, n_rows, n_cols: iou[idx])


def _threshold_pairs(gi: np.ndarray, pj: np.ndarray, iou: np.ndarray, n_gold: int, n_pred: int,
                     threshold: float) -> np.ndarray:
    """Kept pairs of the matching with the most pairs at IoU >= threshold, then the largest total IoU.

    A pair weighs ``base + IoU`` with ``base`` above any component's total IoU, so one more pair
    always outweighs any IoU; the ratio is compared to the threshold directly (as SemEval's
    ``min_overlap``): 3/10 >= 0.3 holds.
    """
    ok = np.flatnonzero(iou >= threshold)
    above = iou[ok]
    kept = _optimal_pairs(gi[ok], pj[ok], n_gold, n_pred,
                          lambda idx, n_rows, n_cols: min(n_rows, n_cols) + 1 + above[idx])
    return ok[kept]


def _families(gold: SpanArrays, pred: SpanArrays, threshold: float, typed: bool,
              zero_division: float) -> dict[str, dict[str, float | int]]:
    gi, pj, iou = _overlaps(gold, pred, typed)
    n_gold, n_pred = len(gold), len(pred)
    jaccard = iou[_jaccard_pairs(gi, pj, iou, n_gold, n_pred)]
    total = math.fsum(np.sort(jaccard).tolist())  # exactly rounded: the same for any order of the pairs
    tp = len(_threshold_pairs(gi, pj, iou, n_gold, n_pred, threshold))
    out: dict[str, dict[str, float | int]] = {}
    for name, credit, counts in (("jaccard", total, {"overlap": total, "matched": len(jaccard)}),
                                 ("iou", tp, {"correct": tp, "threshold": threshold})):
        p, r, f = _prf(credit, n_gold, n_pred, zero_division)
        out[name] = {**counts, "possible": n_gold, "actual": n_pred, "precision": p, "recall": r, "f1": f}
    return out


def lenient_arrays(gold: SpanArrays, pred: SpanArrays, *, iou_threshold: float = 0.5, typed: bool = False,
                   zero_division: float = 0.0) -> dict[str, dict[str, float | int]]:
    """:func:`lenient_scores` over already paired corpora (:func:`ecr_hf.spans.pair_arrays`)."""
    threshold, zero_division = check_iou_threshold(iou_threshold), _check_zero_division(zero_division)
    return _families(gold, pred, threshold, bool(typed), zero_division)


def lenient_scores(references: Iterable[Any], predictions: Iterable[Any], *, iou_threshold: float = 0.5,
                   typed: bool = False, zero_division: float = 0.0, empty_spans: str = "error",
                   texts: Sequence[str] | None = None) -> dict[str, dict[str, float | int]]:
    """Jaccard-lenient and IoU-threshold scores of predicted against gold spans (module docstring).

    Args:
        references, predictions: one span list per document (``Span``, ``(start, end[, label])`` or
            ``{"start", "end", "label"}``; half-open character offsets).
        iou_threshold: the IoU in ``(0, 1]`` a matched pair needs to count in the ``iou`` family.
        typed: pair only spans with the same label.
        zero_division: a ratio with a zero denominator, in ``[0, 1]`` or nan.
        empty_spans, texts: as in :func:`ecr_hf.scoring.soft_match_scores`.

    Returns:
        ``{"jaccard": {...}, "iou": {...}}``, each with ``precision``, ``recall``, ``f1`` and the
        ints ``possible`` (gold spans) and ``actual`` (predicted spans); ``jaccard`` adds
        ``overlap`` (the total overlap ΣJ) and ``matched`` (pairs), ``iou`` adds ``correct`` (TP)
        and ``threshold``.

    Examples:
        A boundary off by two (IoU 8/12) and a label error:

        >>> gold = [[(0, 10, "D"), (20, 25, "S")]]
        >>> pred = [[(2, 12, "D"), (20, 25, "D")]]
        >>> out = lenient_scores(gold, pred)
        >>> round(out["jaccard"]["overlap"], 4), round(out["jaccard"]["f1"], 4), out["iou"]["correct"]
        (1.6667, 0.8333, 2)
        >>> typed = lenient_scores(gold, pred, typed=True, iou_threshold=0.7)
        >>> round(typed["jaccard"]["recall"], 4), typed["iou"]["correct"]
        (0.3333, 0)
    """
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)
    return lenient_arrays(gold, pred, iou_threshold=iou_threshold, typed=typed, zero_division=zero_division)


def lenient_metrics(references: Iterable[Any], predictions: Iterable[Any], *, iou_threshold: float = 0.5,
                    zero_division: float = 0.0, empty_spans: str = "error",
                    texts: Sequence[str] | None = None) -> dict[str, float]:
    """The flat keys of both families, untyped and typed: ``jaccard_{m}``, ``jaccard_typed_{m}``,
    ``iou{t}_{m}``, ``iou{t}_typed_{m}`` (README, "Score keys"), as the ``span_metrics`` module and
    ``ecr-hf score --lenient`` return them.

    Examples:
        >>> m = lenient_metrics([[(0, 10, "D")]], [[(0, 4, "D"), (6, 10, "D")]], iou_threshold=0.4)
        >>> m["jaccard_recall"], m["iou40_precision"], m["iou40_typed_recall"]
        (0.4, 0.5, 1.0)
    """
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)
    return lenient_flat(gold, pred, iou_threshold=iou_threshold, zero_division=zero_division)


def lenient_flat(gold: SpanArrays, pred: SpanArrays, *, iou_threshold: float = 0.5,
                 zero_division: float = 0.0) -> dict[str, float]:
    """:func:`lenient_metrics` over already paired corpora."""
    prefix = f"iou{format_threshold(iou_threshold)}"
    out: dict[str, float] = {}
    for suffix, typed in (("", False), ("_typed", True)):
        scores = lenient_arrays(gold, pred, iou_threshold=iou_threshold, typed=typed, zero_division=zero_division)
        out.update({f"jaccard{suffix}_{m}": float(scores["jaccard"][m]) for m in _METRICS})
        out.update({f"{prefix}{suffix}_{m}": float(scores["iou"][m]) for m in _METRICS})
    return out


def lenient_matching(gold: SpanArrays, pred: SpanArrays, *, iou_threshold: float | None = None,
                     typed: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matched pairs ``(gi, pj, iou)`` (indices into ``gold`` and ``pred``): the Jaccard
    matching, or with ``iou_threshold`` the threshold one; for inspecting which span took which."""
    gi, pj, iou = _overlaps(gold, pred, bool(typed))
    if iou_threshold is None:
        kept = _jaccard_pairs(gi, pj, iou, len(gold), len(pred))
    else:
        kept = _threshold_pairs(gi, pj, iou, len(gold), len(pred), check_iou_threshold(iou_threshold))
    return gi[kept], pj[kept], iou[kept]
