"""The flat metric keys that every ecr-hf training and evaluation path logs.

The token-classification trainer, the instruction-tuning evaluation and the leaderboard results all
score through :func:`span_metrics`, so their numbers and key names are the same: ``precision``/``recall``/``f1``
(weighted soft match at ``score_p``), ``p{p}_*`` for the p sweep, ``marker_*``, ``case_*``,
``len_{bin}_*``, ``label_{name}_*``, ``char_*`` (character level, = p 1 untyped) and ``strict_*``
(exact span and label match, as seqeval's strict mode: a span listed twice counts once). With
``empty_spans="drop"`` the counts ``gold_empty_dropped`` / ``pred_empty_dropped`` are added. Every
key means what the README's "Score keys" table says, in every entry point that returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .report import strict_counts
from .semeval import _prf
from .soft_match import (DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, check_p, check_p_values, flatten_scores,
                         score_arrays)
from ..spans.span import pair_arrays

__all__ = ["span_metrics"]


def span_metrics(
    references: Sequence[Any],
    predictions: Sequence[Any],
    *,
    texts: Sequence[str] | None = None,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float = 1.0,
    typed: bool = False,
    length_bins: Sequence[tuple[int, int | None]] | None = DEFAULT_LENGTH_BINS,
    zero_division: float = 0.0,
    empty_spans: str = "error",
) -> dict[str, float]:
    """Flat float scores of predicted against gold span documents (see the module docstring).

    Options are checked as in :func:`ecr_hf.scoring.soft_match_scores` (``score_p`` like a p);
    ``empty_spans="drop"`` drops spans with ``start == end`` instead of raising, and counts them.

    Examples:
        >>> m = span_metrics([[(0, 10, "D")]], [[(0, 4, "D"), (6, 10, "D")]], p_values=[1, 100])
        >>> round(m["f1"], 4), round(m["p100_recall"], 4), m["strict_f1"], m["char_recall"]
        (0.8889, 0.4028, 0.0, 0.8)
    """
    p_values = tuple(dict.fromkeys([check_p(score_p, "score_p"), *check_p_values(p_values), 1.0]))
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)  # validated once, for every scorer below
    n_docs = len(references)
    soft = score_arrays(gold, pred, n_docs, p_values=p_values, typed=typed, length_bins=length_bins,
                        zero_division=zero_division, empty_spans=empty_spans)
    flat = flatten_scores(soft, p=score_p)
    untyped_p1 = soft["p"][1.0] if not typed else score_arrays(
        gold, pred, n_docs, p_values=[1.0], length_bins=None, zero_division=zero_division)["p"][1.0]
    for key in ("precision", "recall", "f1"):
        flat[f"char_{key}"] = float(untyped_p1[key])
    correct, n_gold, n_pred = (float(c.sum()) for c in strict_counts(gold, pred, n_docs))
    for key, value in zip(("precision", "recall", "f1"), _prf(correct, n_gold, n_pred, zero_division)):
        flat[f"strict_{key}"] = value
    return flat
