"""Every error of a prediction set, classified and costed by the weighted soft match metric.

Units. Spans are first merged as :mod:`ecr_hf.scoring.soft_match` merges them (overlapping or nested spans
of one side into their union, per document, and per label when ``typed``), so the errors are those
of the spans the metric scores.

Errors. Gold and predicted units of one document that overlap (any labels) are linked; each
connected group (a *component*) is one outcome, so every gold and every predicted span belongs to
exactly one. Its class, in this order of precedence:

- ``missed``: one gold span, no prediction overlaps it;
- ``spurious``: one predicted span, it overlaps no gold span;
- ``fragmented``: a gold span overlapped by two or more predicted spans (its pieces); the record
  gives that gold span's soft score at each p, ``(Σ (a_i / l) ** p) ** (1 / p)``;
- ``merged``: a predicted span overlapping two or more gold spans (and no gold span in pieces);
- ``wrong_type``: one gold and one predicted span, labels differ (same or overlapping boundaries:
  the type error takes precedence over the boundary error);
- ``boundary``: one gold and one predicted span, same label, different boundaries;
- otherwise (same boundaries and label) the component is *correct*: no error.

Cost. Each gold span loses ``l · (1 - score)`` characters of recall and each predicted span
``l · (1 - score)`` of precision at the report's ``score_p`` (the metric's own per-span scores,
typed or not); an error costs the sum over its spans. Costs add up: their sum is ``fn + fp`` of
:func:`ecr_hf.scoring.score_arrays`, and ``cost_f1 = cost / (gold_chars + pred_chars)`` sums to
``1 - F1`` exactly at p = 1 (``F1 = 2TP / (2TP + FN + FP)``; at other p to ``1 - (G·R + Q·P) / (G + Q)``,
the length-weighted mean of recall and precision), so sorting by cost ranks errors by what they
take from the score. An error the metric cannot see costs 0 (a wrong type with exact boundaries,
untyped).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..scoring.semeval import UNTYPED, candidate_pairs
from ..scoring.soft_match import (DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, _check_bins, _group, _holder, _pairs, bin_name,
                         check_p, check_p_values, merge_overlaps, score_arrays)
from ..spans.span import SpanArrays, number_line, pair_arrays

__all__ = ["ERROR_CLASSES", "OTHER_BIN", "ErrorSpan", "ErrorRecord", "ErrorAnalysis", "analyze_errors",
           "analyze_error_arrays"]

ERROR_CLASSES = ("missed", "spurious", "fragmented", "merged", "wrong_type", "boundary")
"""The error classes, in order of precedence (module docstring)."""
_CORRECT = len(ERROR_CLASSES)  # class code of a correct component
OTHER_BIN = "other"
"""Length bin of a span that falls in none of the given bins."""


@dataclass(frozen=True)
class ErrorSpan:
    """One merged span of an error: offsets, label (``"_"`` for none), text (``None`` without
    texts) and its soft score at each p (by gold fragments for a prediction, as in precision)."""

    start: int
    end: int
    label: str
    text: str | None
    scores: dict[float, float]


@dataclass(frozen=True)
class ErrorRecord:
    """One error: its class, the document (index and id), its extent ``[start, end)`` (the union
    of its spans), its label (the longest gold span's, or the prediction's for ``spurious``), the
    length bin of that span, its cost (characters and F1 points, module docstring) and its spans."""

    kind: str
    doc: int
    doc_id: Any
    start: int
    end: int
    label: str
    length_bin: str
    cost: float
    cost_f1: float
    gold: tuple[ErrorSpan, ...]
    pred: tuple[ErrorSpan, ...]


@dataclass
class ErrorAnalysis:
    """The errors of a corpus, sorted by cost (highest first; then document order), and its counts.

    ``counts``: errors per class (and ``correct`` components); ``gold_spans`` / ``pred_spans``: the
    merged spans per class (each span in exactly one); ``scores``: :func:`~ecr_hf.scoring.score_arrays`
    of the same spans; ``gold_units`` / ``pred_units``: every merged span per document, as
    ``(start, end, label)``, for displays."""

    errors: list[ErrorRecord]
    counts: dict[str, int]
    gold_spans: dict[str, int]
    pred_spans: dict[str, int]
    p_values: tuple[float, ...]
    score_p: float
    typed: bool
    length_bins: tuple[str, ...]
    doc_ids: list[Any]
    scores: dict[str, Any]
    gold_units: list[list[tuple[int, int, str]]] = field(repr=False)
    pred_units: list[list[tuple[int, int, str]]] = field(repr=False)

    @property
    def total_cost(self) -> float:
        """``fn + fp`` at ``score_p``: the characters the errors cost, all together."""
        entry = self.scores["p"][self.score_p]
        return float(entry["fn"] + entry["fp"])


def _length_bins(lengths: np.ndarray, bins: tuple[tuple[int, int | None], ...]) -> list[str]:
    """The name of the first bin holding each length (:data:`OTHER_BIN` if none does)."""
    names = np.array([bin_name(*b) for b in bins] + [OTHER_BIN], dtype=object)
    slot = np.full(len(lengths), len(bins))
    for k, (lo, hi) in reversed(list(enumerate(bins))):
        slot[(lengths >= lo) & (lengths <= hi) if hi is not None else lengths >= lo] = k
    return names[slot].tolist()


def analyze_errors(
    references: Sequence[Iterable[Any] | None],
    predictions: Sequence[Iterable[Any] | None],
    *,
    texts: Sequence[str] | None = None,
    doc_ids: Sequence[Any] | None = None,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float | None = None,
    typed: bool = False,
    length_bins: Sequence[tuple[int, int | None]] = DEFAULT_LENGTH_BINS,
    empty_spans: str = "error",
) -> ErrorAnalysis:
    """Classify and cost every error of ``predictions`` against ``references`` (module docstring).

    Args:
        references, predictions: span lists per document, as :func:`~ecr_hf.scoring.soft_match_scores`
            takes them.
        texts: the documents' texts; offsets are checked against them and errors carry snippets.
        doc_ids: a name per document (default: its index).
        p_values: the p at which each span's score is reported.
        score_p: the p whose scores give the costs (default: the first of ``p_values``; added to
            them if missing).
        typed: score as the typed metric (a fragment counts only where labels agree): then a wrong
            type costs the whole gold and predicted spans.
        length_bins: bins of the errors' lengths (:data:`~ecr_hf.scoring.DEFAULT_LENGTH_BINS`).
        empty_spans: ``"error"`` or ``"drop"``, as everywhere.

    Raises:
        ecr_hf.spans.SpanError: bad spans or texts (naming the document and the span); ValueError:
            bad options or ``doc_ids`` of another length.

    Examples:
        >>> gold = [[(0, 10, "X"), (20, 25, "X")]]
        >>> pred = [[(0, 4, "X"), (6, 10, "X"), (30, 33, "Y")]]
        >>> out = analyze_errors(gold, pred, p_values=[1, 2])
        >>> [(e.kind, round(e.cost, 9)) for e in out.errors]
        [('missed', 5.0), ('spurious', 3.0), ('fragmented', 2.0)]
        >>> round(out.errors[2].gold[0].scores[2.0], 4)
        0.5657
    """
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)
    return analyze_error_arrays(gold, pred, len(references), texts=texts, doc_ids=doc_ids, p_values=p_values,
                                score_p=score_p, typed=typed, length_bins=length_bins, empty_spans=empty_spans)


def analyze_error_arrays(gold: SpanArrays, pred: SpanArrays, n_docs: int, *, texts: Sequence[str] | None = None,
                         doc_ids: Sequence[Any] | None = None, p_values: Sequence[float] = DEFAULT_P_VALUES,
                         score_p: float | None = None, typed: bool = False,
                         length_bins: Sequence[tuple[int, int | None]] = DEFAULT_LENGTH_BINS,
                         empty_spans: str = "error") -> ErrorAnalysis:
    """:func:`analyze_errors` of corpora already paired and validated (:func:`ecr_hf.spans.pair_arrays`,
    with ``texts`` when given), for callers that score the same spans in other ways too."""
    p_values = check_p_values(p_values)
    score_p = p_values[0] if score_p is None else check_p(score_p, "score_p")
    p_values = tuple(dict.fromkeys((*p_values, score_p)))
    bins = _check_bins(length_bins)
    if doc_ids is None:
        doc_ids = list(range(n_docs))
    elif len(doc_ids) != n_docs:
        raise ValueError(f"got {len(doc_ids)} doc_ids for {n_docs} documents")
    scores = score_arrays(gold, pred, n_docs, p_values=p_values, typed=typed, length_bins=bins,
                          empty_spans=empty_spans)
    labels = gold.labels

    # the metric's units and per-span scores, as soft_match computes them
    g_group, q_group = _group(gold, typed), _group(pred, typed)
    gs_pos, ge_pos, qs_pos, qe_pos = number_line((g_group, gold.start), (g_group, gold.end),
                                                 (q_group, pred.start), (q_group, pred.end))
    g = merge_overlaps(gold, typed, (gs_pos, ge_pos))
    q = merge_overlaps(pred, typed, (qs_pos, qe_pos))
    gl, ql = (g.end - g.start).astype(np.float64), (q.end - q.start).astype(np.float64)
    gi, qj, overlap = _pairs(g, q)
    g_score = _holder(gi, overlap / gl[gi], len(gl), p_values)
    q_score = _holder(qj, overlap / ql[qj], len(ql), p_values)

    # components of the overlap graph, any labels
    n_g, n_q = len(gl), len(ql)
    g_units = SpanArrays(g.doc, g.start, g.end, g.label, labels)
    q_units = SpanArrays(q.doc, q.start, q.end, q.label, labels)
    ci, cj = candidate_pairs(g_units, q_units)
    graph = coo_matrix((np.ones(len(ci)), (ci, n_g + cj)), shape=(n_g + n_q,) * 2)
    n_comp, comp = connected_components(graph, directed=False)
    g_comp, q_comp = comp[:n_g], comp[n_g:]
    n_gold = np.bincount(g_comp, minlength=n_comp)
    n_pred = np.bincount(q_comp, minlength=n_comp)
    g_pieces = np.bincount(ci, minlength=n_g)  # predicted spans overlapping each gold span
    q_pieces = np.bincount(cj, minlength=n_q)
    split = np.bincount(g_comp, weights=g_pieces >= 2, minlength=n_comp) > 0
    joined = np.bincount(q_comp, weights=q_pieces >= 2, minlength=n_comp) > 0
    one_to_one = (n_gold == 1) & (n_pred == 1)
    first_g, first_q = np.full(n_comp, -1), np.full(n_comp, -1)  # a member; read only where it is the one
    first_g[g_comp], first_q[q_comp] = np.arange(n_g), np.arange(n_q)
    a, b = first_g[one_to_one], first_q[one_to_one]
    same_label = np.zeros(n_comp, dtype=bool)
    same_label[one_to_one] = g.label[a] == q.label[b]
    exact = np.zeros(n_comp, dtype=bool)
    exact[one_to_one] = (g.start[a] == q.start[b]) & (g.end[a] == q.end[b])
    kind = np.select([n_pred == 0, n_gold == 0, split, joined, one_to_one & ~same_label, one_to_one & ~exact],
                     list(range(len(ERROR_CLASSES))), _CORRECT)

    # costs at score_p, summed per component
    g_loss = gl * (1.0 - g_score[score_p])
    q_loss = ql * (1.0 - q_score[score_p])
    cost = np.bincount(g_comp, weights=g_loss, minlength=n_comp) + np.bincount(q_comp, weights=q_loss,
                                                                               minlength=n_comp)
    denominator = float(gl.sum() + ql.sum())

    # each component's extent, document and headline span (its longest gold span, else its prediction)
    doc = np.zeros(n_comp, dtype=np.int64)
    doc[g_comp], doc[q_comp] = g.doc, q.doc
    lo = np.full(n_comp, np.iinfo(np.int64).max)
    hi = np.zeros(n_comp, dtype=np.int64)
    for comp_of, line in ((g_comp, g), (q_comp, q)):
        np.minimum.at(lo, comp_of, line.start)
        np.maximum.at(hi, comp_of, line.end)
    head_len, head_label = np.zeros(n_comp, dtype=np.int64), np.full(n_comp, -1)
    order = np.lexsort((np.arange(n_g), -gl, g_comp))  # per component: longest first, then first
    heads = order[np.r_[True, g_comp[order][1:] != g_comp[order][:-1]]] if n_g else order
    head_len[g_comp[heads]], head_label[g_comp[heads]] = g.end[heads] - g.start[heads], g.label[heads]
    spur = n_gold == 0
    head_len[spur], head_label[spur] = q.end[first_q[spur]] - q.start[first_q[spur]], q.label[first_q[spur]]
    names = np.array([*labels, UNTYPED], dtype=object)  # label -1 reads as the last name
    bin_of = _length_bins(head_len, bins)

    class_names = (*ERROR_CLASSES, "correct")
    counts = {name: int((kind == k).sum()) for k, name in enumerate(class_names)}
    gold_spans = {name: int((kind[g_comp] == k).sum()) for k, name in enumerate(class_names)}
    pred_spans = {name: int((kind[q_comp] == k).sum()) for k, name in enumerate(class_names)}

    def units(line: Any) -> list[list[tuple[int, int, str]]]:
        per_doc: list[list[tuple[int, int, str]]] = [[] for _ in range(n_docs)]
        for d, s, e, label in zip(line.doc.tolist(), line.start.tolist(), line.end.tolist(),
                                  names[line.label].tolist()):
            per_doc[d].append((s, e, label))
        for spans in per_doc:
            spans.sort()
        return per_doc

    def members(line: Any, comp_of: np.ndarray, score: dict[float, np.ndarray]) -> dict[int, list[ErrorSpan]]:
        """The spans of each error component (in offset order), with their scores at every p."""
        out: dict[int, list[ErrorSpan]] = {}
        in_error = np.flatnonzero(kind[comp_of] != _CORRECT)
        for k in in_error[np.argsort(line.start[in_error], kind="stable")].tolist():
            d, s, e = int(line.doc[k]), int(line.start[k]), int(line.end[k])
            out.setdefault(int(comp_of[k]), []).append(ErrorSpan(
                s, e, str(names[line.label[k]]), None if texts is None else texts[d][s:e],
                {p: float(score[p][k]) for p in p_values}))
        return out

    members_g, members_q = members(g, g_comp, g_score), members(q, q_comp, q_score)
    head_names = names[head_label].tolist()
    errors = []
    for c in np.flatnonzero(kind != _CORRECT).tolist():
        d = int(doc[c])
        errors.append(ErrorRecord(
            ERROR_CLASSES[kind[c]], d, doc_ids[d], int(lo[c]), int(hi[c]), head_names[c], bin_of[c],
            float(cost[c]), float(cost[c] / denominator) if denominator else 0.0,
            tuple(members_g.get(c, ())), tuple(members_q.get(c, ()))))
    errors.sort(key=lambda e: (-e.cost, e.doc, e.start, e.end, e.label))  # never the input order
    gold_units, pred_units = units(g), units(q)
    bin_names = [bin_name(*b) for b in bins]
    if any(e.length_bin == OTHER_BIN for e in errors):
        bin_names.append(OTHER_BIN)
    return ErrorAnalysis(errors, counts, gold_spans, pred_spans, p_values, score_p, typed, tuple(bin_names),
                         list(doc_ids), scores, gold_units, pred_units)
