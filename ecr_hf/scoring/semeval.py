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

Minimum overlap (``min_overlap``, nervaluate's ``min_overlap_percentage``). A pair is a candidate
only if the predicted span covers at least ``min_overlap`` of the *gold* span's length (nervaluate
measures overlap against the true entity too): ``overlap / len(gold) >= min_overlap``, a fraction
in ``[0, 1]``. The default ``0`` is any overlap of at least one character (or token: whatever the
offsets count). nervaluate's default, 1 percent, is ``min_overlap=0.01``; it differs from "any
overlap" only for gold spans longer than 100 offsets, where a one-character overlap is below 1%.
nervaluate compares ``overlap / len * 100 >= percentage`` in floating point, which misses some exact
thresholds (29 of 100 is 28.999...%, below 29); here the ratio is compared to the fraction directly,
so a pair exactly at the threshold is always a candidate. Exact boundary matches cover the whole gold
span and pass any threshold.

Label filter (``labels=[...]``, nervaluate's ``tags``): only spans with those labels, on both sides,
take part, before matching; the others are dropped as if never given. Unlabelled spans are kept
only if ``None`` is in the list. Each entry must occur in the references or the predictions: a
filter entry that selects nothing is most likely a typo, so it raises :class:`~ecr_hf.spans.SpanError`
(nervaluate silently ignores it).

Per-span categories (:func:`semeval_spans`): every gold and predicted span with its category under
each schema (``COR``, ``INC``, ``PAR``, ``MIS``, ``SPU``) and its partner in the matching. All four
schemas grade the same matching, so a span has one partner (nervaluate matches once per schema).
Their counts equal :func:`semeval_scores`'s; :func:`report_frame`, :func:`spans_frame` and
:func:`write_csv` give both as pandas tables and CSV.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..utils.outputs import atomic_write_text
from ..spans.span import SpanArrays, SpanError, _is_arrow, number_line, pair_arrays

if TYPE_CHECKING:
    import pandas

__all__ = ["SCHEMAS", "UNTYPED", "CATEGORIES", "semeval_scores", "semeval_arrays", "semeval_spans", "semeval_outcomes",
           "report_frame", "spans_frame", "write_csv"]

SCHEMAS = ("strict", "exact", "partial", "ent_type")
UNTYPED = "_"
CATEGORIES = ("COR", "INC", "PAR", "MIS", "SPU")
_COUNTS = ("correct", "incorrect", "partial", "missed", "spurious", "possible", "actual")


def _check_zero_division(zero_division: float) -> float:
    if isinstance(zero_division, bool) or not isinstance(zero_division, (int, float)) or not (
        math.isnan(zero_division) or 0.0 <= zero_division <= 1.0
    ):
        raise ValueError(f"zero_division must be a number in [0, 1] or nan, got {zero_division!r}")
    return float(zero_division)


def _check_min_overlap(min_overlap: float) -> float:
    if isinstance(min_overlap, bool) or not isinstance(min_overlap, (int, float)) or not 0.0 <= min_overlap <= 1.0:
        raise ValueError(f"min_overlap must be a fraction in [0, 1] of the gold span's length (nervaluate's "
                         f"min_overlap_percentage / 100; 0 = any overlap), got {min_overlap!r}")
    return float(min_overlap)


def candidate_pairs(gold: SpanArrays, pred: SpanArrays, *, min_overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """All overlapping (gold index, predicted index) pairs within a document, vectorised.

    Two half-open spans overlap iff the later-starting one starts inside the other, so the pairs are
    those with a predicted start in ``[g.start, g.end)`` plus those with a gold start in
    ``(p.start, p.end)``; both ranges come from ``searchsorted`` on sorted starts, with documents laid
    end to end on one axis (:func:`ecr_hf.spans.number_line`: only the order of offsets matters).

    Args:
        gold, pred: corpora flattened with :meth:`SpanArrays.from_corpus` (same number of documents).
        min_overlap: keep only pairs whose overlap is at least this fraction of the gold span's
            length (see the module docstring; 0 keeps every overlap).

    Returns:
        ``(gi, pj)``: int64 index arrays into ``gold`` and ``pred``, sorted by ``(gi, pj)``.

    Examples:
        >>> from ecr_hf.spans import Span
        >>> g = SpanArrays.from_corpus([[Span(0, 5), Span(10, 12)], [Span(0, 5)]])
        >>> p = SpanArrays.from_corpus([[Span(3, 11)], [Span(5, 9)]])
        >>> [tuple(map(int, a)) for a in candidate_pairs(g, p)]
        [(0, 1), (0, 0)]
        >>> [tuple(map(int, a)) for a in candidate_pairs(g, p, min_overlap=0.5)]  # 2 of 5, 1 of 2
        [(1,), (0,)]
    """
    min_overlap = _check_min_overlap(min_overlap)
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
    if min_overlap > 0:  # the ratio, not overlap >= min_overlap * length: 0.28 * 25 > 7 in floating point
        overlap = np.minimum(gold.end[gi], pred.end[pj]) - np.maximum(gold.start[gi], pred.start[pj])
        enough = overlap / (gold.end[gi] - gold.start[gi]) >= min_overlap
        gi, pj = gi[enough], pj[enough]
    order = np.lexsort((pj, gi))
    return gi[order], pj[order]


def _optimal_pairs(gi: np.ndarray, pj: np.ndarray, n_gold: int, n_pred: int,
                   weigh: Callable[[np.ndarray, int, int], np.ndarray]) -> np.ndarray:
    """Indices of the candidate pairs kept by a maximum-weight one-to-one matching.

    Solved exactly (``linear_sum_assignment``) per connected component of the candidate graph, so
    the dense matrices stay as small as the chains of overlapping spans; shared by every matching
    scorer (SemEval tiers here, Jaccard and IoU in :mod:`.lenient`). ``weigh(idx, n_rows, n_cols)``
    gives the positive weights of the pairs ``idx`` of one component with that many gold and
    predicted spans (so a lexicographic weight can size its digits).
    """
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
        weight = np.zeros((len(rows), len(cols)))
        weight[r, c] = weigh(idx, len(rows), len(cols))
        rr, cc = linear_sum_assignment(weight, maximize=True)
        chosen = np.zeros((len(rows), len(cols)), dtype=bool)
        chosen[rr, cc] = True
        keep.append(idx[chosen[r, c]])  # only candidates: a zero-weight filler pair is no pair
    return np.sort(np.concatenate(keep))


def _assign(gi: np.ndarray, pj: np.ndarray, tier: np.ndarray, n_gold: int, n_pred: int) -> np.ndarray:
    """Indices of the candidate pairs kept by the lexicographic optimal one-to-one matching."""

    def weigh(idx: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
        base = min(n_rows, n_cols) + 1  # every count below is < base: weights encode digits
        if base**4 >= 2**53:
            raise ValueError(f"{n_rows} gold and {n_cols} predicted spans overlap in one chain; "
                             "exact matching is limited to chains of fewer than 9,700 spans a side")
        t = tier[idx]
        return base**3 * (t == 3) + base**2 * (t >= 2) + base * (t >= 1) + 1

    return _optimal_pairs(gi, pj, n_gold, n_pred, weigh)


def _match(gold: SpanArrays, pred: SpanArrays, min_overlap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matched pairs ``(gi, pj, tier)`` (see the module docstring for the tiers)."""
    gi, pj = candidate_pairs(gold, pred, min_overlap=min_overlap)
    exact = (gold.start[gi] == pred.start[pj]) & (gold.end[gi] == pred.end[pj])
    tier = 2 * exact.astype(np.int64) + (gold.label[gi] == pred.label[pj])
    kept = _assign(gi, pj, tier, len(gold), len(pred))
    return gi[kept], pj[kept], tier[kept]


def _prf(credit: float, possible: int, actual: int, zero_division: float) -> tuple[float, float, float]:
    """Precision, recall, F1; F1 is ``zero_division`` only when both sides are empty (as scikit-learn)."""
    precision = credit / actual if actual else zero_division
    recall = credit / possible if possible else zero_division
    if precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    else:
        f1 = zero_division if not (actual or possible) else 0.0
    return float(precision), float(recall), float(f1)


def _schemas(gold: SpanArrays, pred: SpanArrays, zero_division: float,
             min_overlap: float = 0.0) -> dict[str, dict[str, float | int]]:
    return _counts(_match(gold, pred, min_overlap)[2], len(gold), len(pred), zero_division)


def _counts(kept: np.ndarray, n_gold: int, n_pred: int, zero_division: float) -> dict[str, dict[str, float | int]]:
    """The four schemas' counts and scores from the tiers of the matched pairs."""
    matched = len(kept)
    n3, n_exact, n_same = int((kept == 3).sum()), int((kept >= 2).sum()), int((kept % 2 == 1).sum())
    out = {}
    for name, cor, par in (("strict", n3, 0), ("exact", n_exact, 0), ("partial", n_exact, matched - n_exact),
                           ("ent_type", n_same, 0)):
        counts = dict(correct=cor, incorrect=matched - cor - par, partial=par, missed=n_gold - matched,
                      spurious=n_pred - matched, possible=n_gold, actual=n_pred)
        p, r, f = _prf(cor + 0.5 * par, n_gold, n_pred, zero_division)
        out[name] = {**counts, "precision": p, "recall": r, "f1": f}
    return out


def _subset(arr: SpanArrays, mask: np.ndarray) -> SpanArrays:
    return SpanArrays(arr.doc[mask], arr.start[mask], arr.end[mask], arr.label[mask], arr.labels)


def _label_codes(gold: SpanArrays, pred: SpanArrays) -> np.ndarray:
    """The label ids that occur (``-1``: unlabelled), sorted."""
    return np.unique(np.concatenate([gold.label, pred.label]))


def _filter_labels(gold: SpanArrays, pred: SpanArrays,
                   labels: Iterable[str | None] | None) -> tuple[SpanArrays, SpanArrays]:
    """Both sides restricted to ``labels`` (``None`` in it keeps unlabelled spans); see the module docstring."""
    if labels is None:
        return gold, pred
    if isinstance(labels, str) or not isinstance(labels, Iterable):
        raise ValueError(f"labels must be a list of label names (None for unlabelled spans), got {labels!r}")
    wanted = list(labels)
    if not wanted:
        raise ValueError("labels is empty: it would drop every span; pass labels=None to keep every label")
    bad = [x for x in wanted if x is not None and not (isinstance(x, str) and x)]
    if bad:
        raise ValueError(f"labels must be non-empty strings or None, got {bad[0]!r}")
    present = {gold.labels[k] if k >= 0 else None for k in _label_codes(gold, pred).tolist()}
    unknown = [x for x in dict.fromkeys(wanted) if x not in present]
    if unknown:
        shown = sorted(x for x in present if x is not None) + ([None] if None in present else [])
        raise SpanError(f"labels {unknown} occur in neither the references nor the predictions (their labels: "
                        f"{shown}); a filter entry that selects nothing is most likely a typo")
    codes = np.array([gold.labels.index(x) if x is not None else -1 for x in wanted], dtype=np.int64)
    return _subset(gold, np.isin(gold.label, codes)), _subset(pred, np.isin(pred.label, codes))


def semeval_arrays(gold: SpanArrays, pred: SpanArrays, *, zero_division: float = 0.0, min_overlap: float = 0.0,
                   labels: Iterable[str | None] | None = None) -> dict[str, dict[str, float | int]]:
    """The four schemas over already paired corpora (:func:`ecr_hf.spans.pair_arrays`), without the
    per-label breakdown: for callers that validated their input once for several scorers.
    ``min_overlap`` and ``labels`` as in :func:`semeval_scores`."""
    zero_division, min_overlap = _check_zero_division(zero_division), _check_min_overlap(min_overlap)
    return _schemas(*_filter_labels(gold, pred, labels), zero_division, min_overlap)


def semeval_scores(references: Iterable[Any], predictions: Iterable[Any], *, zero_division: float = 0.0,
                   empty_spans: str = "error", min_overlap: float = 0.0,
                   labels: Iterable[str | None] | None = None) -> dict:
    """SemEval-2013 9.1 counts and precision/recall/F1 for the four schemas, overall and per label.

    Precision is ``(COR + 0.5 * PAR) / ACT`` and recall ``(COR + 0.5 * PAR) / POS`` (``PAR`` is 0
    except in ``partial``). See the module docstring for the matching and per-label rules.

    Args:
        references: gold spans, one list per document (``Span``, dicts or tuples; may overlap or nest).
        predictions: predicted spans, same layout and number of documents.
        zero_division: precision when nothing is predicted, recall when nothing is gold.
        empty_spans: ``"error"`` (default) or ``"drop"`` spans with ``start == end`` (see
            :func:`ecr_hf.scoring.soft_match_scores`, which reports how many).
        min_overlap: a gold and a predicted span can only be paired if the prediction covers at
            least this fraction of the gold span; ``0`` (default) is any overlap of one character,
            ``0.01`` is nervaluate's default ``min_overlap_percentage=1``.
        labels: score only the spans with these labels (``None`` in the list: unlabelled spans),
            on both sides; each must occur somewhere, else :class:`~ecr_hf.spans.SpanError`.

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
        >>> out = semeval_scores(gold, pred, min_overlap=0.75, labels=["LOC"])  # 3 of 5 is too little
        >>> {k: out["partial"][k] for k in ("partial", "missed", "spurious")}, list(out["per_label"])
        ({'partial': 0, 'missed': 1, 'spurious': 1}, ['LOC'])
    """
    zero_division, min_overlap = _check_zero_division(zero_division), _check_min_overlap(min_overlap)
    gold, pred = _filter_labels(*pair_arrays(references, predictions, empty_spans=empty_spans), labels)
    result: dict[str, Any] = _schemas(gold, pred, zero_division, min_overlap)
    per_label = {}
    for k in _label_codes(gold, pred).tolist():
        name = gold.labels[k] if k >= 0 else UNTYPED
        per_label[name] = _schemas(_subset(gold, gold.label == k), _subset(pred, pred.label == k), zero_division,
                                   min_overlap)
    result["per_label"] = dict(sorted(per_label.items()))
    return result


def _partners(gold: SpanArrays, pred: SpanArrays, min_overlap: float, per_label: bool) -> tuple[np.ndarray, ...]:
    """Partner index (``-1``: none) and tier (``-1``: unmatched) of every gold and every predicted span."""
    g_partner, g_tier = np.full(len(gold), -1, np.int64), np.full(len(gold), -1, np.int64)
    p_partner, p_tier = np.full(len(pred), -1, np.int64), np.full(len(pred), -1, np.int64)
    if per_label:
        groups = [(np.flatnonzero(gold.label == k), np.flatnonzero(pred.label == k))
                  for k in _label_codes(gold, pred).tolist()]
    else:
        groups = [(np.arange(len(gold)), np.arange(len(pred)))]
    for g_sel, p_sel in groups:
        gi, pj, tier = _match(_subset(gold, g_sel), _subset(pred, p_sel), min_overlap)
        gi, pj = g_sel[gi], p_sel[pj]
        g_partner[gi], p_partner[pj], g_tier[gi], p_tier[pj] = pj, gi, tier, tier
    return g_partner, g_tier, p_partner, p_tier


def _grades(tier: np.ndarray, unmatched: int) -> dict[str, np.ndarray]:
    """Category codes (indices into :data:`CATEGORIES`) under each schema, from the pair tiers."""
    matched = tier >= 0
    cor_if = {"strict": tier == 3, "exact": tier >= 2, "partial": tier >= 2, "ent_type": tier % 2 == 1}
    other = {"strict": 1, "exact": 1, "partial": 2, "ent_type": 1}  # INC, or PAR in partial
    return {s: np.where(matched, np.where(cor_if[s], 0, other[s]), unmatched) for s in SCHEMAS}


def semeval_spans(references: Iterable[Any], predictions: Iterable[Any], *, empty_spans: str = "error",
                  min_overlap: float = 0.0, labels: Iterable[str | None] | None = None,
                  per_label: bool = False) -> list[dict[str, list[dict[str, Any]]]]:
    """Every gold and predicted span with its category under each schema and its partner span.

    The categories are those :func:`semeval_scores` counts (same arguments): summed over the
    corpus they give its ``correct`` ... ``spurious`` counts. A span's partner is the span it is
    matched to (one matching for all four schemas). With ``per_label=True`` each label is matched
    on its own, as in ``semeval_scores(...)["per_label"]``.

    Returns:
        One ``{"gold": [...], "pred": [...]}`` per document. Each record holds the span's ``start``,
        ``end``, ``label``, one of ``"COR" "INC" "PAR" "MIS" "SPU"`` under each schema name, and
        ``partner`` (``{"start", "end", "label"}`` or ``None``) with ``partner_index``, its position
        in the other side's list of the same document. The lists hold the scored spans in input
        order: the input spans themselves unless ``labels`` or ``empty_spans="drop"`` left some out.

    Examples:
        >>> out = semeval_spans([[(0, 5, "PER"), (10, 15, "LOC")]], [[(0, 5, "PER"), (10, 13, "ORG")]])
        >>> [(r["label"], r["strict"], r["partial"], r["ent_type"]) for r in out[0]["gold"]]
        [('PER', 'COR', 'COR', 'COR'), ('LOC', 'INC', 'PAR', 'INC')]
        >>> out[0]["pred"][1]["partner"], out[0]["pred"][1]["partner_index"]
        ({'start': 10, 'end': 15, 'label': 'LOC'}, 1)
        >>> [r["strict"] for r in semeval_spans([[(0, 10, "X")]], [[(8, 20, "X")]], min_overlap=0.5)[0]["pred"]]
        ['SPU']
    """
    min_overlap = _check_min_overlap(min_overlap)
    references, predictions = (x if _is_arrow(x) or isinstance(x, Sequence) else list(x)
                               for x in (references, predictions))
    gold, pred = _filter_labels(*pair_arrays(references, predictions, empty_spans=empty_spans), labels)
    return _records(gold, pred, len(references), *_partners(gold, pred, min_overlap, per_label))


def semeval_outcomes(gold: SpanArrays, pred: SpanArrays, n_docs: int, *, zero_division: float = 0.0
                     ) -> tuple[dict[str, dict[str, float | int]], list[dict[str, list[dict[str, Any]]]]]:
    """:func:`semeval_arrays` and :func:`semeval_spans` (default options) of already paired corpora from
    one matching: for a caller that shows both (the error browser)."""
    zero_division = _check_zero_division(zero_division)
    g_partner, g_tier, p_partner, p_tier = _partners(gold, pred, 0.0, False)
    scores = _counts(g_tier[g_tier >= 0], len(gold), len(pred), zero_division)
    return scores, _records(gold, pred, n_docs, g_partner, g_tier, p_partner, p_tier)


def _records(gold: SpanArrays, pred: SpanArrays, n_docs: int, g_partner: np.ndarray, g_tier: np.ndarray,
             p_partner: np.ndarray, p_tier: np.ndarray) -> list[dict[str, list[dict[str, Any]]]]:
    """The per-document span records of :func:`semeval_spans` from the partners and tiers of a matching."""
    names = np.array(list(gold.labels) + [None], dtype=object)  # label id -1 reads the None at the end
    codes = np.array(CATEGORIES, dtype=object)

    def records(side: SpanArrays, partner: np.ndarray, tier: np.ndarray, unmatched: int,
                other: SpanArrays) -> list[list[dict[str, Any]]]:
        first_of = np.searchsorted(side.doc, np.arange(n_docs + 1))  # spans are grouped by document
        other_first = np.searchsorted(other.doc, np.arange(n_docs))
        has = partner >= 0
        j = np.where(has, partner, 0)
        columns = {"start": side.start.tolist(), "end": side.end.tolist(), "label": names[side.label].tolist(),
                   **{s: codes[g].tolist() for s, g in _grades(tier, unmatched).items()}}
        keys = list(columns)
        flat = [dict(zip(keys, row)) for row in zip(*columns.values())]
        if len(other):
            triples = zip(other.start[j].tolist(), other.end[j].tolist(), names[other.label[j]].tolist(),
                          (j - other_first[side.doc]).tolist(), has.tolist())
        else:
            triples = ((0, 0, None, 0, False) for _ in flat)
        for record, (start, end, label, index, matched) in zip(flat, triples):
            record["partner"] = {"start": start, "end": end, "label": label} if matched else None
            record["partner_index"] = index if matched else None
        return [flat[a:b] for a, b in zip(first_of[:-1].tolist(), first_of[1:].tolist())]

    gold_docs = records(gold, g_partner, g_tier, CATEGORIES.index("MIS"), pred)
    pred_docs = records(pred, p_partner, p_tier, CATEGORIES.index("SPU"), gold)
    return [{"gold": g, "pred": p} for g, p in zip(gold_docs, pred_docs)]


def report_frame(scores: dict) -> "pandas.DataFrame":
    """:func:`semeval_scores` (or :func:`semeval_arrays`) output as one row per schema, overall and
    per label: columns ``scope`` (``"overall"`` or ``"label"``), ``label`` (missing overall),
    ``schema``, the seven counts, ``precision``, ``recall``, ``f1``.

    Examples:
        >>> frame = report_frame(semeval_scores([[(0, 5, "PER")]], [[(0, 3, "PER")]]))
        >>> print(frame[["scope", "label", "schema", "correct", "partial", "f1"]].head(5).to_string(index=False))
          scope label   schema  correct  partial  f1
        overall   NaN   strict        0        0 0.0
        overall   NaN    exact        0        0 0.0
        overall   NaN  partial        0        1 0.5
        overall   NaN ent_type        1        0 1.0
          label   PER   strict        0        0 0.0
    """
    import pandas as pd

    if not isinstance(scores, dict) or any(not isinstance(scores.get(s), dict) for s in SCHEMAS):
        raise ValueError(f"expected the dict semeval_scores returns (keys {list(SCHEMAS)} and 'per_label')")
    blocks = [("overall", None, scores)] + [("label", k, v) for k, v in scores.get("per_label", {}).items()]
    values = (*_COUNTS, "precision", "recall", "f1")
    rows = [{"scope": scope, "label": label, "schema": s, **{k: block[s][k] for k in values}}
            for scope, label, block in blocks for s in SCHEMAS]
    return pd.DataFrame(rows, columns=["scope", "label", "schema", *values])


def spans_frame(spans: list[dict[str, list[dict[str, Any]]]]) -> "pandas.DataFrame":
    """:func:`semeval_spans` output as one row per span: ``doc``, ``side`` (``"gold"``/``"pred"``),
    ``index`` (in that document's list), ``start``, ``end``, ``label``, the four schema columns,
    ``partner_index``, ``partner_start``, ``partner_end``, ``partner_label`` (missing when
    unmatched; the integer columns are pandas' nullable ``Int64``)."""
    import pandas as pd

    where = [(d, side, i) for d, doc in enumerate(spans) for side in ("gold", "pred") for i in range(len(doc[side]))]
    flat = [r for doc in spans for side in ("gold", "pred") for r in doc[side]]
    partners = [r["partner"] or {} for r in flat]
    columns = {"doc": [w[0] for w in where], "side": [w[1] for w in where], "index": [w[2] for w in where],
               **{k: [r[k] for r in flat] for k in ("start", "end", "label", *SCHEMAS, "partner_index")},
               **{f"partner_{k}": [q.get(k) for q in partners] for k in ("start", "end", "label")}}
    ints = ("doc", "index", "start", "end", "partner_index", "partner_start", "partner_end")
    return pd.DataFrame({k: pd.array(v, dtype="Int64") if k in ints else pd.Series(v, dtype=object)
                         for k, v in columns.items()})


def write_csv(frame: "pandas.DataFrame", path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a :func:`report_frame` or :func:`spans_frame` table as CSV (no index column, ``\\n``
    line ends), atomically; an existing file is kept unless ``overwrite``
    (:class:`ecr_hf.utils.OutputExistsError`)."""
    if not hasattr(frame, "to_csv"):
        raise TypeError(f"expected a pandas DataFrame (report_frame or spans_frame), got {type(frame).__name__}")
    return atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"), overwrite=overwrite)
