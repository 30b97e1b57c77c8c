"""Weighted soft matching (paper 000, Methods) and the marker matching score, vectorised with numpy.

For a gold span ``g`` of length ``l`` and the predicted spans ``p_i`` overlapping it, with fragments
``a_i = |g ∩ p_i|``::

    score(g) = (Σ_i (a_i / l) ** p) ** (1 / p)      (max_i a_i / l for p = inf; 0 if nothing overlaps)

Recall is the length-weighted mean of ``score(g)`` over gold spans; precision is the same with the
roles swapped (each predicted span scored by the gold fragments inside it, weighted by its own
length). The *marker* variant is the plain mean. With ``p = 1`` the weighted score is exactly
character-level P/R/F1; a larger ``p`` punishes fragmented extraction of one span.

Overlapping or nested spans on one side (gold corpora have them) are first merged into their union,
per document (and per label when ``typed``): the score is defined over the *set* of marked
characters, so each character counts once, scores stay in ``[0, 1]`` and ``p = 1`` stays equal to
character-level scoring. Touching spans (``a.end == b.start``) are not merged: they are two
fragments. The merge is counted in the result (``gold_merged``, ``pred_merged``), never silent.
A merged span keeps the label of its longest (then earliest) member, which only matters for the
per-label breakdown of untyped scores.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .semeval import _check_zero_division
from ..spans.span import OFFSET_LIMIT, SpanArrays, check_empty_spans, number_line, pair_arrays

__all__ = [
    "DEFAULT_P_VALUES",
    "DEFAULT_LENGTH_BINS",
    "soft_match_scores",
    "flatten_scores",
    "score_arrays",
    "per_document_counts",
    "merge_overlaps",
    "check_p",
    "check_p_values",
    "format_p",
    "bin_name",
]

DEFAULT_P_VALUES: tuple[float, ...] = (1.0, 1.5, 2.0, 100.0)
DEFAULT_LENGTH_BINS: tuple[tuple[int, int | None], ...] = ((1, 2), (3, 6), (7, 10), (11, 20), (21, None))
_METRICS = ("precision", "recall", "f1")


def format_p(p: float) -> str:
    """Key form of a p value: ``1.0 -> "1"``, ``1.5 -> "1.5"``, ``inf -> "inf"``."""
    if math.isinf(p):
        return "inf"
    return f"{p:g}"


def bin_name(lo: int, hi: int | None) -> str:
    """Key form of a length bin: ``(3, 6) -> "3-6"``, ``(21, None) -> "21+"``."""
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def check_p(p: Any, name: str = "p", where: str = "") -> float:
    """One fragmentation penalty as a float: a real number ``>= 1`` or ``float("inf")`` (the best
    single fragment). Below 1 a span's score could exceed 1; bools, strings, None and nan are refused."""
    try:
        value = float(p) if isinstance(p, numbers.Real) and not isinstance(p, (bool, np.bool_)) else math.nan
    except OverflowError:  # an int past the float range
        value = math.nan
    if not value >= 1.0:  # also nan
        raise ValueError(f"{name} must be >= 1 (a real number, or float('inf')), got {p!r}{where}")
    return value


def check_p_values(p_values: Iterable[float]) -> tuple[float, ...]:
    """The distinct p values of a list of them (each as :func:`check_p`); a string is not a list."""
    if isinstance(p_values, (str, bytes, Mapping)) or not isinstance(p_values, Iterable):
        raise ValueError(f"p_values must be a list of numbers >= 1, got {type(p_values).__name__} {p_values!r}")
    p_values = list(p_values)
    out = [check_p(p, where=f" in p_values {p_values!r}") for p in p_values]
    if not out:
        raise ValueError("p_values is empty; give at least one p >= 1")
    return tuple(dict.fromkeys(out))


def _check_bins(bins: Sequence[tuple[int, int | None]] | None) -> tuple[tuple[int, int | None], ...]:
    """Length bins as ``(lo, hi)`` int pairs with ``1 <= lo <= hi`` or ``hi=None`` (open-ended)."""
    if bins is None:
        return ()
    if isinstance(bins, (str, bytes, Mapping)) or not isinstance(bins, Iterable):
        raise ValueError(f"length_bins must be a list of (lo, hi) pairs, got {type(bins).__name__} {bins!r}")
    out = []
    for b in bins:
        ok = isinstance(b, (Sequence, np.ndarray)) and not isinstance(b, (str, bytes)) and len(b) == 2
        lo, hi = b if ok else (None, None)

        def is_int(x: Any) -> bool:
            return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))

        if not (ok and is_int(lo) and lo >= 1 and (hi is None or (is_int(hi) and hi >= lo))):
            raise ValueError(f"length bin {b!r} is invalid; give (lo, hi) with integers 1 <= lo <= hi, or (lo, None)")
        out.append((int(lo), None if hi is None else int(hi)))
    return tuple(out)


class _Line(NamedTuple):
    """Disjoint spans, sorted, at positions on one number line (:func:`ecr_hf.spans.number_line`:
    ordered by group, then offset) and with their real offsets (for lengths and overlaps)."""

    pos_start: np.ndarray
    pos_end: np.ndarray
    start: np.ndarray
    end: np.ndarray
    doc: np.ndarray
    label: np.ndarray
    n_merged: int


def _group(arr: SpanArrays, typed: bool) -> np.ndarray:
    return arr.doc * (len(arr.labels) + 1) + (arr.label + 1) if typed else arr.doc


def merge_overlaps(arr: SpanArrays, typed: bool, positions: tuple[np.ndarray, np.ndarray] | None = None) -> _Line:
    """Union overlapping/nested spans per document (and per label if ``typed``), sorted on one line.

    ``positions``: the spans' ``(start, end)`` on a number line shared with the other side (by
    default one of their own, from :func:`ecr_hf.spans.number_line`).
    """
    group = _group(arr, typed)
    gstart, gend = positions if positions is not None else number_line((group, arr.start), (group, arr.end))
    start, end, doc, label = arr.start, arr.end, arr.doc, arr.label
    if typed:  # spans usually come sorted per document; a stable sort by label group keeps that order
        order = np.argsort(group, kind="stable")
        gstart, gend, start, end, doc, label = (x[order] for x in (gstart, gend, start, end, doc, label))
    if len(gstart) == 0 or bool(np.all(gstart[1:] >= gend[:-1])):  # sorted and disjoint: the usual case
        return _Line(gstart, gend, start, end, doc, label, 0)
    # sort by start, longest first among equal starts (so a run's head is its longest member)
    order = np.lexsort((-gend, gstart))
    gstart, gend, start, end, doc, label = (x[order] for x in (gstart, gend, start, end, doc, label))
    reach = np.maximum.accumulate(gend)
    new_run = np.empty(len(gstart), dtype=bool)
    new_run[0] = True
    new_run[1:] = gstart[1:] >= reach[:-1]
    heads = np.flatnonzero(new_run)
    n_merged = len(gstart) - len(heads)
    if n_merged == 0:
        return _Line(gstart, gend, start, end, doc, label, 0)
    # one group per run, where positions and offsets have the same order: the furthest end is both
    pos_ends, ends = np.maximum.reduceat(gend, heads), np.maximum.reduceat(end, heads)
    # label of the longest member of each run; among equals the first label by name (ids are sorted
    # names), so that the input order of the spans never decides
    run = np.cumsum(new_run) - 1
    length = end - start
    best = np.lexsort((label, -length, run))
    first_of_run = best[np.r_[0, np.flatnonzero(np.diff(run[best])) + 1]]
    return _Line(gstart[heads], pos_ends, start[heads], ends, doc[heads], label[first_of_run], n_merged)


def _count_below(ref: np.ndarray, query: np.ndarray, *, inclusive: bool) -> np.ndarray:
    """``#{ref <= q}`` (``inclusive``) or ``#{ref < q}`` for each q; both arrays sorted.

    ``searchsorted`` would binary-search every query; a stable sort of the two sorted runs is
    timsort's linear merge, and the queries come out of it in their own order.
    """
    both = np.concatenate([ref, query] if inclusive else [query, ref])
    is_query = np.argsort(both, kind="stable")
    is_query = is_query >= len(ref) if inclusive else is_query < len(query)
    return np.flatnonzero(is_query) - np.arange(len(query))


def _pairs(a: _Line, b: _Line) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All overlapping (i in a, j in b) pairs of two disjoint sorted span sets, and overlap lengths.

    Both sets are disjoint and sorted (so their ends are sorted too), the b-spans meeting a[i] are a
    contiguous run, and the pairs number at most ``len(a) + len(b)``: linear in input size. Pairs
    come sorted by i and by j.
    """
    lo = _count_below(b.pos_end, a.pos_start, inclusive=True)
    hi = _count_below(b.pos_start, a.pos_end, inclusive=False)
    count = np.maximum(hi - lo, 0)
    ai = np.repeat(np.arange(len(a.start)), count)
    bj = np.arange(len(ai)) - np.repeat(np.cumsum(count) - count - lo, count)
    overlap = np.minimum(a.end[ai], b.end[bj]) - np.maximum(a.start[ai], b.start[bj])
    return ai, bj, overlap


def _holder(owner: np.ndarray, ratio: np.ndarray, n: int, p_values: tuple[float, ...]) -> dict[float, np.ndarray]:
    """Per-owner ``(Σ ratio**p) ** (1/p)`` for each p; ``owner`` is sorted (pairs come grouped).

    Computed as ``m * (Σ (ratio/m)**p) ** (1/p)`` with ``m`` the largest ratio, which is exact and
    cannot underflow for large p.
    """
    out = {}
    peak = np.zeros(n)
    if len(owner):
        heads = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
        peak[owner[heads]] = np.maximum.reduceat(ratio, heads)
    rel = ratio / np.where(peak[owner] > 0, peak[owner], 1.0)
    for p in p_values:
        if math.isinf(p):
            out[p] = peak
        elif p == 1.0:
            out[p] = np.bincount(owner, weights=ratio, minlength=n)
        else:
            out[p] = peak * np.bincount(owner, weights=_power(rel, p), minlength=n) ** (1.0 / p)
    return out


def _power(x: np.ndarray, p: float) -> np.ndarray:
    """``x ** p``; by squaring for integer p and through sqrt for halves (``pow`` is slow)."""
    if p == int(p) and p <= 1024:
        out, base, k = np.ones_like(x), x, int(p)
        while k:
            if k & 1:
                out = out * base
            k >>= 1
            if k:
                base = base * base
        return out
    if 2 * p == int(2 * p) and p <= 1024:
        return _power(x, p - 0.5) * np.sqrt(x)
    return x**p


class _Scores(NamedTuple):
    """Every span's score at every p. A span with one fragment scores ``a / l`` at any p, so
    ``single`` holds those scores once (0 elsewhere) and only the few spans with several fragments,
    ``multi``, are scored per p (``by_p``). Sums of scores are computed the same way."""

    single: np.ndarray
    multi: np.ndarray
    by_p: dict[float, np.ndarray]

    @classmethod
    def build(cls, owner: np.ndarray, ratio: np.ndarray, n: int, p_values: tuple[float, ...]) -> "_Scores":
        """``owner``: the span of each fragment (sorted); ``ratio``: fragment length / span length."""
        single = np.zeros(n)
        if not len(owner):
            return cls(single, np.zeros(0, np.int64), {p: np.zeros(0) for p in p_values})
        new = np.empty(len(owner), dtype=bool)
        new[0] = True
        np.not_equal(owner[1:], owner[:-1], out=new[1:])
        alone = new.copy()
        alone[:-1] &= new[1:]  # the first fragment of its span and the next one is another span's
        single[owner[alone]] = ratio[alone]
        rest = ~alone
        owner, ratio = owner[rest], ratio[rest]
        multi = owner[new[rest]]
        local = np.cumsum(new[rest]) - 1
        return cls(single, multi, _holder(local, ratio, len(multi), p_values))

    def sums(self, key: np.ndarray, weight: np.ndarray | None, n: int) -> dict[float, np.ndarray]:
        """``Σ weight·score`` per key, for every p: one pass for the single-fragment spans."""
        base = np.bincount(key, weights=self.single if weight is None else weight * self.single, minlength=n)
        k, w = key[self.multi], None if weight is None else weight[self.multi]
        return {p: base + np.bincount(k, weights=v if w is None else w * v, minlength=n)
                for p, v in self.by_p.items()}


def _prf(tp_p: float, den_p: float, tp_r: float, den_r: float, zero_division: float) -> dict[str, float]:
    if den_p == 0 and den_r == 0:
        return dict(precision=zero_division, recall=zero_division, f1=zero_division)
    precision = tp_p / den_p if den_p else zero_division
    recall = tp_r / den_r if den_r else zero_division
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return dict(precision=float(precision), recall=float(recall), f1=float(f1))


def _case_average(tp_r, den_r, tp_p, den_p, zero_division) -> dict[str, float]:
    """Per-document P/R/F1 from per-document sums, averaged over documents with any gold or
    predicted span."""
    scored = (den_r > 0) | (den_p > 0)
    if not scored.any():
        return dict(case_precision=zero_division, case_recall=zero_division, case_f1=zero_division)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(den_p > 0, tp_p / den_p, zero_division)[scored]
        rec = np.where(den_r > 0, tp_r / den_r, zero_division)[scored]
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    return dict(case_precision=float(prec.mean()), case_recall=float(rec.mean()), case_f1=float(f1.mean()))


class _Side(NamedTuple):
    """One side's merged spans with their per-p score sums: ``[Σ l·s, Σ l, Σ s, count]`` per
    (label slot, length slot) and ``Σ l·s``, ``Σ l`` per document."""

    tables: dict[float, np.ndarray]  # p -> shape (4, labels + 1, length slots)
    doc_hits: dict[float, np.ndarray]
    doc_length: np.ndarray

    @classmethod
    def build(cls, line: _Line, length: np.ndarray, scores: _Scores, n_labels: int, edges: np.ndarray,
              n_docs: int) -> "_Side":
        """``edges``: the sorted length-bin boundaries; a span's length slot is how many are <= its length."""
        shape = (n_labels + 1, len(edges) + 1)
        n = shape[0] * shape[1]
        key = (line.label + 1) * shape[1] + np.searchsorted(edges, line.end - line.start, side="right")
        length_sum = np.bincount(key, weights=length, minlength=n)
        count = np.bincount(key, minlength=n).astype(np.float64)
        hits, plain = scores.sums(key, length, n), scores.sums(key, None, n)
        tables = {p: np.stack([hits[p], length_sum, plain[p], count]).reshape(4, *shape) for p in hits}
        return cls(tables, scores.sums(line.doc, length, n_docs), np.bincount(line.doc, weights=length,
                                                                              minlength=n_docs))


def _bin_edges(bins: tuple[tuple[int, int | None], ...]) -> np.ndarray:
    """The length-slot boundaries of ``bins``: each ``lo`` and ``hi + 1``, capped at the offset limit
    (no span is that long). Their number, not their size, sets the work: binning is a searchsorted."""
    return np.unique(np.array([min(x, OFFSET_LIMIT) for lo, hi in bins for x in (lo, hi and hi + 1) if x],
                              dtype=np.int64))


def _bin_sums(table: np.ndarray, bins: tuple[tuple[int, int | None], ...], edges: np.ndarray) -> list[np.ndarray]:
    """Sums per length bin: cumulative over length slots, each bin a difference of two.

    Slot ``k`` holds the lengths in ``[edges[k-1], edges[k])``, so the lengths ``[lo, hi]`` are the
    slots after ``lo``'s edge up to ``hi + 1``'s edge."""
    cum = np.cumsum(table.sum(axis=1), axis=1)

    def at(x: int) -> int:
        return int(np.searchsorted(edges, min(x, OFFSET_LIMIT)))

    return [cum[:, -1 if hi is None else at(hi + 1)] - cum[:, at(lo)] for lo, hi in bins]


def _entry(g: np.ndarray, q: np.ndarray, zero_division: float) -> dict[str, float]:
    """Scores of one group from the gold and predicted ``[Σ l·s, Σ l, Σ s, count]``."""
    tp_r, den_r, s_r, n_r = (float(x) for x in g)
    tp_p, den_p, s_p, n_p = (float(x) for x in q)
    out = _prf(tp_p, den_p, tp_r, den_r, zero_division)
    out.update({f"marker_{k}": v for k, v in _prf(s_p, n_p, s_r, n_r, zero_division).items()})
    out.update(recall_tp=tp_r, fn=den_r - tp_r, precision_tp=tp_p, fp=den_p - tp_p, n_gold=int(n_r), n_pred=int(n_p))
    return out


def _sides(gold: SpanArrays, pred: SpanArrays, n_documents: int, p_values: tuple[float, ...], typed: bool,
           edges: np.ndarray) -> tuple[tuple[str, ...], _Line, _Line, _Side, _Side]:
    """Both sides merged, paired and scored: the work behind :func:`score_arrays` and
    :func:`per_document_counts`."""
    labels = tuple(sorted(set(gold.labels) | set(pred.labels)))
    if gold.labels != labels or pred.labels != labels:  # pair_arrays already shares one label set
        gold, pred = gold.relabel(labels), pred.relabel(labels)
    g_group, q_group = _group(gold, typed), _group(pred, typed)
    gs_pos, ge_pos, qs_pos, qe_pos = number_line((g_group, gold.start), (g_group, gold.end),
                                                 (q_group, pred.start), (q_group, pred.end))
    g = merge_overlaps(gold, typed, (gs_pos, ge_pos))
    q = merge_overlaps(pred, typed, (qs_pos, qe_pos))
    gl = (g.end - g.start).astype(np.float64)
    ql = (q.end - q.start).astype(np.float64)
    gi, qj, overlap = _pairs(g, q)  # sorted by gi and by qj
    gs = _Side.build(g, gl, _Scores.build(gi, overlap / gl[gi], len(gl), p_values), len(labels), edges, n_documents)
    qs = _Side.build(q, ql, _Scores.build(qj, overlap / ql[qj], len(ql), p_values), len(labels), edges, n_documents)
    return labels, g, q, gs, qs


def per_document_counts(gold: SpanArrays, pred: SpanArrays, n_documents: int, *,
                        p_values: Sequence[float] = DEFAULT_P_VALUES, typed: bool = False) -> dict[str, Any]:
    """Each document's soft character counts, the sums that pooled precision and recall divide.

    For paired arrays (:func:`ecr_hf.spans.pair_arrays`) returns ``p_values`` (the distinct p, in
    order), ``recall_tp`` and ``precision_tp`` of shape ``(n_documents, len(p_values))`` (``Σ l·score``
    over the document's gold / predicted spans after merging overlaps), and ``gold_chars`` and
    ``pred_chars`` of shape ``(n_documents,)`` (``Σ l``). Summed over documents they are the
    ``recall_tp``, ``recall_tp + fn``, ... of :func:`score_arrays`; resampling documents
    (:mod:`ecr_hf.scoring.significance`) reweights these rows instead of scoring the corpus again.
    """
    p_values = check_p_values(p_values)
    _, _, _, gs, qs = _sides(gold, pred, n_documents, p_values, typed, _bin_edges(()))
    return {
        "p_values": p_values,
        "recall_tp": np.stack([gs.doc_hits[p] for p in p_values], axis=1),
        "gold_chars": gs.doc_length,
        "precision_tp": np.stack([qs.doc_hits[p] for p in p_values], axis=1),
        "pred_chars": qs.doc_length,
    }


def score_arrays(
    gold: SpanArrays,
    pred: SpanArrays,
    n_documents: int,
    *,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    typed: bool = False,
    length_bins: Sequence[tuple[int, int | None]] | None = DEFAULT_LENGTH_BINS,
    zero_division: float = 0.0,
    empty_spans: str = "error",
) -> dict[str, Any]:
    """The scoring core over flattened span arrays (see :func:`soft_match_scores` for the result).
    ``empty_spans="drop"`` adds the arrays' drop counts (:attr:`SpanArrays.empty_dropped`) to it."""
    p_values, bins = check_p_values(p_values), _check_bins(length_bins)
    check_empty_spans(empty_spans)
    zero_division = _check_zero_division(zero_division)
    edges = _bin_edges(bins)
    labels, g, q, gs, qs = _sides(gold, pred, n_documents, p_values, typed, edges)
    gl, ql = g.end - g.start, q.end - q.start
    result: dict[str, Any] = {
        "p": {},
        "typed": typed,
        "n_documents": n_documents,
        "n_gold": int(len(gl)),
        "n_pred": int(len(ql)),
        "gold_chars": int(gl.sum()),
        "pred_chars": int(ql.sum()),
        "gold_merged": g.n_merged,
        "pred_merged": q.n_merged,
        "labels": labels,
    }
    if empty_spans == "drop":
        result.update(gold_empty_dropped=gold.empty_dropped, pred_empty_dropped=pred.empty_dropped)
    for p in p_values:
        g_tab, q_tab = gs.tables[p], qs.tables[p]
        entry = _entry(g_tab.sum(axis=(1, 2)), q_tab.sum(axis=(1, 2)), zero_division)
        entry.update(_case_average(gs.doc_hits[p], gs.doc_length, qs.doc_hits[p], qs.doc_length, zero_division))
        entry["bins"] = {bin_name(*b): _entry(gb, qb, zero_division)
                         for b, gb, qb in zip(bins, _bin_sums(g_tab, bins, edges), _bin_sums(q_tab, bins, edges))}
        g_lab, q_lab = g_tab.sum(axis=2), q_tab.sum(axis=2)
        entry["per_label"] = {name: _entry(g_lab[:, k + 1], q_lab[:, k + 1], zero_division)
                              for k, name in enumerate(labels)}
        result["p"][p] = entry
    return result


def soft_match_scores(
    references: Sequence[Iterable[Any] | None],
    predictions: Sequence[Iterable[Any] | None],
    *,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    typed: bool = False,
    texts: Sequence[str] | None = None,
    length_bins: Sequence[tuple[int, int | None]] | None = DEFAULT_LENGTH_BINS,
    zero_division: float = 0.0,
    empty_spans: str = "error",
) -> dict[str, Any]:
    """Weighted soft matching and marker matching scores of a corpus, for several ``p`` at once.

    Args:
        references: gold spans, one list per document (dicts ``{"start", "end", "label"}``,
            ``(start, end[, label])`` tuples or :class:`~ecr_hf.spans.Span`).
        predictions: predicted spans, in the same form and document order.
        p_values: the fragmentation penalties to compute, a list of numbers ``>= 1`` (below 1 a
            span's score could exceed 1); ``float("inf")`` scores each span by its best fragment.
        typed: if True a fragment counts only where gold and predicted labels are equal; if False
            (the paper's setting) labels are ignored.
        texts: the documents' texts (a list of strings); when given, offsets past the end of a
            text raise.
        length_bins: ``(lo, hi)`` character-length bins (ints, ``1 <= lo <= hi``), ``hi=None`` for
            open-ended; recall in a bin is over the gold spans of that length, precision over the
            predicted spans of that length. Any bound works: binning costs the number of bins.
        zero_division: value for a ratio whose denominator is zero (as in scikit-learn): a number in
            ``[0, 1]`` or nan.
        empty_spans: ``"error"`` (default): a span with ``start == end`` raises :class:`SpanError`;
            ``"drop"``: such spans are left out, and counted in ``gold_empty_dropped`` and
            ``pred_empty_dropped`` (keys present only then).

    Returns:
        A dict with ``"p"`` mapping each p to pooled ``precision``/``recall``/``f1``, their
        ``marker_*`` and per-document ``case_*`` averages, the soft character counts ``recall_tp``,
        ``fn``, ``precision_tp``, ``fp``, and ``bins`` / ``per_label`` breakdowns; plus corpus counts.
        :func:`flatten_scores` turns it into flat float keys.

    Examples:
        >>> gold = [[{"start": 0, "end": 10, "label": "X"}]]
        >>> pred = [[(0, 4), (6, 10)]]
        >>> r = soft_match_scores(gold, pred, p_values=[1, 2])
        >>> round(r["p"][1.0]["recall"], 4), round(r["p"][2.0]["recall"], 4)
        (0.8, 0.5657)
    """
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)
    return score_arrays(gold, pred, len(references), p_values=p_values, typed=typed,
                        length_bins=length_bins, zero_division=zero_division, empty_spans=empty_spans)


def flatten_scores(result: dict[str, Any], p: float | None = None) -> dict[str, float]:
    """Flat float keys for logging (``Trainer``, ``evaluate``): ``precision``/``recall``/``f1`` and
    their ``marker_*``, ``case_*`` and count keys at ``p`` (default: the first p computed);
    ``p{p}_{metric}`` for every p computed; ``len_{bin}_{metric}`` and ``label_{name}_{metric}`` at ``p``.
    """
    p_values = list(result["p"])
    main = p_values[0] if p is None else float(p)
    if main not in result["p"]:
        raise KeyError(f"p={main} was not computed; computed: {p_values}")
    entry = result["p"][main]
    flat: dict[str, float] = {}
    for key, value in entry.items():
        if key not in ("bins", "per_label"):
            flat[key] = float(value)
    for q in p_values:
        for key in (*_METRICS, *(f"marker_{m}" for m in _METRICS)):
            flat[f"p{format_p(q)}_{key}"] = float(result["p"][q][key])
    for name, sub in entry["bins"].items():
        for key in (*_METRICS, *(f"marker_{m}" for m in _METRICS), "n_gold", "n_pred"):
            flat[f"len_{name}_{key}"] = float(sub[key])
    for name, sub in entry["per_label"].items():
        for key in (*_METRICS, "n_gold", "n_pred"):
            flat[f"label_{name}_{key}"] = float(sub[key])
    for key in ("n_documents", "n_gold", "n_pred", "gold_chars", "pred_chars", "gold_merged", "pred_merged",
                "gold_empty_dropped", "pred_empty_dropped"):
        if key in result:
            flat[key] = float(result[key])
    return flat
