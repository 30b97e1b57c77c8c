"""SemEval-2013 task 9.1 span scores (``strict``, ``exact``, ``partial``, ``ent_type``), order independent.

Every gold span is paired with at most one predicted span and vice versa (a one-to-one matching
per document), so ``possible`` is always the number of gold spans, ``actual`` the number of
predicted spans, and precision and recall stay in ``[0, 1]``. This is where nervaluate goes wrong
(MantisAI/nervaluate issues #39, #40, #84, #85): its greedy loops let one prediction count against
two gold spans, stop looking after the first overlap, and give different numbers for the same spans
in another order.

Matching. Only overlapping spans can be paired. Each candidate pair has a tier: 3 same boundaries
and label, 2 same boundaries only, 1 overlap with the same label, 0 overlap only. Per document the
matching maximises, in this order: the number of tier-3 pairs, of tier >= 2 pairs, of tier >= 1
pairs, of pairs (an optimal assignment, solved exactly per connected component of the overlap
graph). All four schemas grade these pairs, and their counts are functions of those four optimal
numbers, so they do not depend on input order or on how ties are broken.

Grading a matched pair (SemEval scenarios): ``strict`` COR if tier 3 else INC; ``exact`` COR if
the boundaries agree else INC; ``partial`` COR if the boundaries agree else PAR; ``ent_type`` COR
if the labels agree else INC. Unmatched gold spans are MIS and unmatched predictions SPU, also when
they overlap a span that was matched to something else: one predicted span stands for one entity,
so a prediction merging two gold entities recovers one of them, not both (nervaluate's fix for
#39/#40 instead drops the second gold span from ``possible``, which inflates recall).

Per label, each label is scored on its own: only the gold and predicted spans with that label take
part, like seqeval's per-type scores (a prediction with the wrong label is MIS for the gold label
and SPU for the predicted one), so a label's numbers do not depend on which other labels exist
(nervaluate #84). There ``strict == exact`` and ``ent_type`` counts any overlap as correct.
Unlabelled spans (``label=None``) are reported under ``"_"`` (seqeval's name for untyped chunks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .spans import SpanArrays, number_line, pair_arrays

__all__ = ["SCHEMAS", "UNTYPED", "semeval_scores", "semeval_arrays"]

SCHEMAS = ("strict", "exact", "partial", "ent_type")
UNTYPED = "_"
_COUNTS = ("correct", "incorrect", "partial", "missed", "spurious", "possible", "actual")


def _check_zero_division(zero_division: float) -> float:
    if isinstance(zero_division, bool) or not isinstance(zero_division, (int, float)) or not (
        math.isnan(zero_division) or 0.0 <= zero_division <= 1.0
    ):
        raise ValueError(f"zero_division must be a number in [0, 1] or nan, got {zero_division!r}")
    return float(zero_division)


def candidate_pairs(gold: SpanArrays, pred: SpanArrays) -> tuple[np.ndarray, np.ndarray]:
    """All overlapping (gold index, predicted index) pairs within a document, vectorised.

    Two half-open spans overlap iff the later-starting one starts inside the other, so the pairs are
    those with a predicted start in ``[g.start, g.end)`` plus those with a gold start in
    ``(p.start, p.end)``; both ranges come from ``searchsorted`` on sorted starts, with documents laid
    end to end on one axis (:func:`ecr_hf.spans.number_line`: only the order of offsets matters).

    Args:
        gold, pred: corpora flattened with :meth:`SpanArrays.from_corpus` (same number of documents).

    Returns:
        ``(gi, pj)``: int64 index arrays into ``gold`` and ``pred``, sorted by ``(gi, pj)``.

    Examples:
        >>> from ecr_hf.spans import Span
        >>> g = SpanArrays.from_corpus([[Span(0, 5), Span(10, 12)], [Span(0, 5)]])
        >>> p = SpanArrays.from_corpus([[Span(3, 11)], [Span(5, 9)]])
        >>> [tuple(map(int, a)) for a in candidate_pairs(g, p)]
        [(0, 1), (0, 0)]
    """
    gs, ge, ps, pe = number_line((gold.doc, gold.start), (gold.doc, gold.end), (pred.doc, pred.start),
                                 (pred.doc, pred.end))

    def expand(lo: np.ndarray, hi: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = np.maximum(hi - lo, 0)
        owner = np.repeat(np.arange(len(lo), dtype=np.int64), count)
        step = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        return owner, order[np.repeat(lo, count) + step]

    p_order = np.argsort(ps, kind="stable")
    gi_a, pj_a = expand(np.searchsorted(ps[p_order], gs, "left"), np.searchsorted(ps[p_order], ge, "left"), p_order)
    g_order = np.argsort(gs, kind="stable")
    pj_b, gi_b = expand(np.searchsorted(gs[g_order], ps, "right"), np.searchsorted(gs[g_order], pe, "left"), g_order)
    gi, pj = np.concatenate([gi_a, gi_b]), np.concatenate([pj_a, pj_b])
    order = np.lexsort((pj, gi))
    return gi[order], pj[order]


def _assign(gi: np.ndarray, pj: np.ndarray, tier: np.ndarray, n_gold: int, n_pred: int) -> np.ndarray:
    """Indices of the candidate pairs kept by the lexicographic optimal one-to-one matching."""
    if len(gi) == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(gi)), (gi, n_gold + pj)), shape=(n_gold + n_pred,) * 2)
    _, comp = connected_components(graph, directed=False)
    pair_comp = comp[gi]
    size = np.bincount(pair_comp, minlength=comp.max() + 1)
    keep = [np.flatnonzero(size[pair_comp] == 1)]  # a lone pair is its own optimum
    crowded = np.flatnonzero(size[pair_comp] > 1)
    crowded = crowded[np.argsort(pair_comp[crowded], kind="stable")]
    bounds = np.flatnonzero(np.diff(pair_comp[crowded])) + 1
    for idx in (np.split(crowded, bounds) if len(crowded) else []):
        rows, r = np.unique(gi[idx], return_inverse=True)
        cols, c = np.unique(pj[idx], return_inverse=True)
        base = min(len(rows), len(cols)) + 1  # every count below is < base: weights encode digits
        if base**4 >= 2**53:
            raise ValueError(f"{len(rows)} gold and {len(cols)} predicted spans overlap in one chain; "
                             "exact matching is limited to chains of fewer than 9,700 spans a side")
        t = tier[idx]
        weight = np.zeros((len(rows), len(cols)))
        weight[r, c] = base**3 * (t == 3) + base**2 * (t >= 2) + base * (t >= 1) + 1
        rr, cc = linear_sum_assignment(weight, maximize=True)
        chosen = np.zeros((len(rows), len(cols)), dtype=bool)
        chosen[rr, cc] = True
        keep.append(idx[chosen[r, c]])
    return np.sort(np.concatenate(keep))


def _prf(credit: float, possible: int, actual: int, zero_division: float) -> tuple[float, float, float]:
    """Precision, recall, F1; F1 is ``zero_division`` only when both sides are empty (as scikit-learn)."""
    precision = credit / actual if actual else zero_division
    recall = credit / possible if possible else zero_division
    if precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    else:
        f1 = zero_division if not (actual or possible) else 0.0
    return float(precision), float(recall), float(f1)


def _schemas(gold: SpanArrays, pred: SpanArrays, zero_division: float) -> dict[str, dict[str, float | int]]:
    gi, pj = candidate_pairs(gold, pred)
    exact = (gold.start[gi] == pred.start[pj]) & (gold.end[gi] == pred.end[pj])
    same = gold.label[gi] == pred.label[pj]
    tier = 2 * exact.astype(np.int64) + same
    kept = tier[_assign(gi, pj, tier, len(gold), len(pred))]
    matched = len(kept)
    n3, n_exact, n_same = int((kept == 3).sum()), int((kept >= 2).sum()), int((kept % 2 == 1).sum())
    out = {}
    for name, cor, par in (("strict", n3, 0), ("exact", n_exact, 0), ("partial", n_exact, matched - n_exact),
                           ("ent_type", n_same, 0)):
        counts = dict(correct=cor, incorrect=matched - cor - par, partial=par, missed=len(gold) - matched,
                      spurious=len(pred) - matched, possible=len(gold), actual=len(pred))
        p, r, f = _prf(cor + 0.5 * par, len(gold), len(pred), zero_division)
        out[name] = {**counts, "precision": p, "recall": r, "f1": f}
    return out


def _subset(arr: SpanArrays, mask: np.ndarray) -> SpanArrays:
    return SpanArrays(arr.doc[mask], arr.start[mask], arr.end[mask], arr.label[mask], arr.labels)


def semeval_arrays(gold: SpanArrays, pred: SpanArrays, *, zero_division: float = 0.0) -> dict[str, dict[str, float | int]]:
    """The four schemas over already paired corpora (:func:`ecr_hf.spans.pair_arrays`), without the
    per-label breakdown: for callers that validated their input once for several scorers."""
    return _schemas(gold, pred, _check_zero_division(zero_division))


def semeval_scores(references: Iterable[Any], predictions: Iterable[Any], *, zero_division: float = 0.0,
                   empty_spans: str = "error") -> dict:
    """SemEval-2013 9.1 counts and precision/recall/F1 for the four schemas, overall and per label.

    Precision is ``(COR + 0.5 * PAR) / ACT`` and recall ``(COR + 0.5 * PAR) / POS`` (``PAR`` is 0
    except in ``partial``). See the module docstring for the matching and per-label rules.

    Args:
        references: gold spans, one list per document (``Span``, dicts or tuples; may overlap or nest).
        predictions: predicted spans, same layout and number of documents.
        zero_division: precision when nothing is predicted, recall when nothing is gold.
        empty_spans: ``"error"`` (default) or ``"drop"`` spans with ``start == end`` (see
            :func:`ecr_hf.soft_match.soft_match_scores`, which reports how many).

    Returns:
        ``{schema: counts_and_scores, "per_label": {label: {schema: ...}}}`` with schemas
        ``strict``, ``exact``, ``partial``, ``ent_type``; each holds the ints ``correct``,
        ``incorrect``, ``partial``, ``missed``, ``spurious``, ``possible``, ``actual`` and the floats
        ``precision``, ``recall``, ``f1``.

    Examples:
        >>> gold = [[(0, 5, "PER"), (10, 15, "LOC")]]
        >>> pred = [[(0, 5, "PER"), (10, 13, "LOC"), (20, 25, "ORG")]]
        >>> out = semeval_scores(gold, pred)
        >>> {k: out["partial"][k] for k in ("correct", "partial", "spurious", "precision", "recall")}
        {'correct': 1, 'partial': 1, 'spurious': 1, 'precision': 0.5, 'recall': 0.75}
        >>> out["strict"]["f1"], out["per_label"]["LOC"]["ent_type"]["f1"]
        (0.4, 1.0)
    """
    zero_division = _check_zero_division(zero_division)
    gold, pred = pair_arrays(references, predictions, empty_spans=empty_spans)
    result: dict[str, Any] = _schemas(gold, pred, zero_division)
    per_label = {}
    for k, name in [(-1, UNTYPED)] + list(enumerate(gold.labels)):
        g_mask, p_mask = gold.label == k, pred.label == k
        if g_mask.any() or p_mask.any():
            per_label[name] = _schemas(_subset(gold, g_mask), _subset(pred, p_mask), zero_division)
    result["per_label"] = dict(sorted(per_label.items()))
    return result
