"""Document-level bootstrap confidence intervals and a paired randomisation test for span scores.

Every score here is a ratio of sums over documents: weighted soft match precision at ``p`` is
``Σ_docs precision_tp / Σ_docs pred_chars``, recall ``Σ recall_tp / Σ gold_chars`` (see
:func:`ecr_hf.scoring.per_document_counts`), strict precision ``Σ correct / Σ n_pred`` (distinct spans,
:func:`ecr_hf.scoring.report.strict_counts`). So each
system is scored once, into a ``(n_documents, n_columns)`` table of per-document counts
(:class:`DocumentCounts`), and a resample of documents is a weight vector over its rows: ``R``
resamples are one ``(R, n_documents) @ (n_documents, n_columns)`` product, not ``R`` re-scorings.

* :func:`bootstrap` - percentile bootstrap intervals over documents (Efron & Tibshirani 1993, ch. 13):
  draw ``n`` documents with replacement, score the pooled counts, take the ``(1 ± level) / 2``
  quantiles of the ``n_resamples`` scores. The document, not the span, is the unit: spans of one
  document are not independent, and a test set is a sample of documents.
* :func:`paired_test` - approximate randomisation (Noreen 1989; Yeh 2000 for F1): under the null
  hypothesis that systems A and B are interchangeable, each document's outputs could as well have
  come from the other system, so each resample swaps A's and B's counts on a random half of the
  documents and recomputes ``score(A) - score(B)``. The two-sided p-value is
  ``(1 + #{|d*| >= |d|}) / (1 + n_resamples)`` (never 0: the observed assignment is one of the
  possible ones). Chosen over the paired bootstrap because it tests exactly this null without
  assumptions on the distribution (the paired bootstrap has to shift its resampled differences to
  the null, and Koehn's "fraction of resamples where B wins" is not a p-value), and it is the test
  recommended for F1-like scores, which do not decompose over documents (Yeh 2000; Dror et al.
  2018). Identical systems get ``p = 1`` exactly.
* :func:`compare_to_best` - each system against the best one by a score: what a leaderboard marks.

With strata (the cross-validation fold of each document, set by :meth:`DocumentCounts.concat`)
documents are resampled and swapped within their stratum and the score is the *mean over strata*
of the per-stratum scores: the number a cross-validation leaderboard shows
(:meth:`ecr_hf.leaderboard.results.CrossValidationResult.mean`).
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.outputs import atomic_write_text
from .report import strict_counts
from .semeval import _check_zero_division
from .soft_match import DEFAULT_P_VALUES, check_p, check_p_values, format_p, per_document_counts
from ..spans.span import pair_arrays

__all__ = ["DocumentCounts", "ConfidenceInterval", "BootstrapResult", "PairedTestResult", "document_counts",
           "save_counts", "load_counts", "bootstrap", "paired_test", "compare_to_best"]

_BATCH = 1 << 22  # weight-matrix entries per batch of resamples (32 MiB of float64)


@dataclass(frozen=True, eq=False)
class DocumentCounts:
    """Per-document counts of one system against references: the rows that resampling reweights.

    ``counts[:, k]`` is column ``columns[k]``; ``scores`` maps a key prefix (``""`` for the main
    score, ``"p1.5_"``, ``"char_"``, ``"strict_"``) to the column indices of its precision numerator
    and denominator and recall numerator and denominator. ``strata``: an int per document (its fold)
    or None; ``doc_ids``: one per document or None (when given, a paired test checks that both
    systems list the same documents in the same order). :meth:`to_dict` / :meth:`from_dict` keep
    them in JSON.
    """

    counts: np.ndarray
    columns: tuple[str, ...]
    scores: Mapping[str, tuple[int, int, int, int]]
    strata: np.ndarray | None = None
    zero_division: float = 0.0
    typed: bool = False
    doc_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.doc_ids is not None and len(self.doc_ids) != len(self.counts):
            raise ValueError(f"{len(self.doc_ids)} doc_ids for {len(self.counts)} documents")

    @property
    def n_documents(self) -> int:
        return len(self.counts)

    @property
    def keys(self) -> list[str]:
        """The score keys, named as :func:`ecr_hf.scoring.span_metrics` names them."""
        return [f"{prefix}{m}" for prefix in self.scores for m in ("precision", "recall", "f1")]

    @classmethod
    def concat(cls, parts: Sequence["DocumentCounts"]) -> "DocumentCounts":
        """The documents of several test sets (the folds of a cross-validation), each its own stratum."""
        if not parts:
            raise ValueError("concat needs at least one DocumentCounts")
        first = parts[0]
        for part in parts:
            _check_compatible(first, part)
            if part.strata is not None:
                raise ValueError("concat takes the counts of single test sets, not ones already concatenated")
            if part.n_documents == 0:
                raise ValueError("concat: a test set without documents has no score to average")
        strata = np.repeat(np.arange(len(parts)), [p.n_documents for p in parts])
        ids = None if any(p.doc_ids is None for p in parts) else tuple(i for p in parts for i in p.doc_ids)
        return cls(np.concatenate([p.counts for p in parts]), first.columns, first.scores, strata,
                   first.zero_division, first.typed, ids)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content (plain lists and numbers; a nan ``zero_division`` as None)."""
        return {"columns": list(self.columns), "scores": {k: list(v) for k, v in self.scores.items()},
                "counts": self.counts.tolist(), "strata": None if self.strata is None else self.strata.tolist(),
                "zero_division": None if math.isnan(self.zero_division) else self.zero_division,
                "typed": self.typed, "doc_ids": None if self.doc_ids is None else list(self.doc_ids)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DocumentCounts":
        """Inverse of :meth:`to_dict`; a malformed dict raises ``ValueError`` saying what is wrong."""
        try:
            columns = tuple(str(c) for c in data["columns"])
            counts = np.array(data["counts"], dtype=np.float64)
            scores = {str(k): tuple(int(i) for i in v) for k, v in data["scores"].items()}
            strata = None if data["strata"] is None else np.array(data["strata"], dtype=np.int64)
            zero_division = math.nan if data["zero_division"] is None else float(data["zero_division"])
            typed = data["typed"]
            doc_ids = None if data.get("doc_ids") is None else tuple(str(i) for i in data["doc_ids"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"not document counts ({type(e).__name__}: {e})") from None
        if counts.size == 0:
            counts = counts.reshape(0, len(columns))
        if counts.ndim != 2 or counts.shape[1] != len(columns):
            raise ValueError(f"not document counts: 'counts' must be rows of {len(columns)} numbers")
        if not isinstance(typed, bool) or any(len(v) != 4 or min(v) < 0 or max(v) >= len(columns)
                                              for v in scores.values()):
            raise ValueError("not document counts: 'scores' must give 4 column indices each, 'typed' a bool")
        if strata is not None and strata.shape != (len(counts),):
            raise ValueError(f"not document counts: {len(counts)} documents but {strata.size} strata")
        if not np.isfinite(counts).all() or (counts < 0).any():
            raise ValueError("not document counts: counts must be finite and >= 0")
        if doc_ids is not None and len(doc_ids) != len(counts):
            raise ValueError(f"not document counts: {len(counts)} documents but {len(doc_ids)} doc_ids")
        return cls(counts, columns, scores, strata, _check_zero_division(zero_division), typed, doc_ids)

    def estimate(self) -> dict[str, float]:
        """The scores themselves (equal to :func:`~ecr_hf.scoring.span_metrics`, or to the mean over
        strata of it)."""
        table = _scores(self, [np.ones((1, len(rows))) for rows in _blocks(self)])
        return {k: float(v) for k, v in zip(self.keys, table[0])}


def save_counts(counts: DocumentCounts, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``counts`` as JSON, atomically; an existing file raises
    :class:`~ecr_hf.utils.OutputExistsError` unless ``overwrite``. They hold per-document gold
    counts (spans, characters), so keep them next to the references, not in a public results set."""
    return atomic_write_text(path, json.dumps(counts.to_dict(), allow_nan=False) + "\n", overwrite=overwrite)


def load_counts(path: str | os.PathLike) -> DocumentCounts:
    """Read what :func:`save_counts` wrote; a file that is not such JSON raises ``ValueError`` naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return DocumentCounts.from_dict(json.load(f))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a document counts file: {e}") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _check_compatible(a: DocumentCounts, b: DocumentCounts) -> None:
    same_zero = a.zero_division == b.zero_division or (math.isnan(a.zero_division) and math.isnan(b.zero_division))
    if a.columns != b.columns or dict(a.scores) != dict(b.scores) or not same_zero or a.typed != b.typed:
        raise ValueError("the counts were computed with different settings (p_values, score_p, typed or "
                         "zero_division); compute both with the same ones")


def document_counts(
    references: Sequence[Iterable[Any] | None],
    predictions: Sequence[Iterable[Any] | None],
    *,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float = 1.0,
    typed: bool = False,
    texts: Sequence[str] | None = None,
    zero_division: float = 0.0,
    empty_spans: str = "error",
    doc_ids: Sequence[Any] | None = None,
) -> DocumentCounts:
    """Score ``predictions`` once, per document, for :func:`bootstrap` and :func:`paired_test`.

    Arguments as :func:`ecr_hf.scoring.span_metrics`; the scores are its main keys:
    ``precision``/``recall``/``f1`` (weighted soft match at ``score_p``), ``p{p}_*`` for every p,
    ``char_*`` (character level) and ``strict_*`` (same offsets and label). ``doc_ids``: the
    documents' ids (strings), kept so that a paired test can check it compares the same documents.
    """
    p_values = tuple(dict.fromkeys([check_p(score_p, "score_p"), *check_p_values(p_values), 1.0]))
    zero_division = _check_zero_division(zero_division)
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)
    n = len(references)
    soft = per_document_counts(gold, pred, n, p_values=p_values, typed=typed)
    char = soft if not typed else per_document_counts(gold, pred, n, p_values=[1.0])
    at_1 = 0 if typed else p_values.index(1.0)
    strict = strict_counts(gold, pred, n)
    columns = [*(f"p{format_p(p)}_precision_tp" for p in p_values), *(f"p{format_p(p)}_recall_tp" for p in p_values),
               "pred_chars", "gold_chars", "char_precision_tp", "char_recall_tp", "char_pred_chars",
               "char_gold_chars", "strict_correct", "n_pred", "n_gold"]
    counts = np.column_stack([soft["precision_tp"], soft["recall_tp"], soft["pred_chars"], soft["gold_chars"],
                              char["precision_tp"][:, at_1], char["recall_tp"][:, at_1],
                              char["pred_chars"], char["gold_chars"], strict[0], strict[2], strict[1]])
    names = {f"p{format_p(p)}_": (f"p{format_p(p)}_precision_tp", "pred_chars", f"p{format_p(p)}_recall_tp",
                                  "gold_chars") for p in p_values}
    names = {"": names[f"p{format_p(p_values[0])}_"], **names,
             "char_": ("char_precision_tp", "char_pred_chars", "char_recall_tp", "char_gold_chars"),
             "strict_": ("strict_correct", "n_pred", "strict_correct", "n_gold")}
    scores = {prefix: tuple(columns.index(c) for c in cols) for prefix, cols in names.items()}
    ids = None if doc_ids is None else tuple(str(i) for i in doc_ids)
    return DocumentCounts(counts.astype(np.float64), tuple(columns), scores, None, zero_division, bool(typed), ids)


def _prf(num_p: np.ndarray, den_p: np.ndarray, num_r: np.ndarray, den_r: np.ndarray,
         zero_division: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of count arrays, with the rules of the scalar scorers."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(den_p > 0, num_p / den_p, zero_division)
        recall = np.where(den_r > 0, num_r / den_r, zero_division)
        total = precision + recall
        f1 = np.where(total > 0, 2 * precision * recall / total, 0.0)
    f1 = np.where((den_p == 0) & (den_r == 0), zero_division, f1)
    return precision, recall, f1


def _scores(counts: DocumentCounts, weights: list[np.ndarray]) -> np.ndarray:
    """Scores ``(R, len(keys))`` of resamples; ``weights[s]`` is ``(R, n_s)`` over stratum ``s``'s
    documents (one block of all documents without strata)."""
    return _scores_of_totals(counts, [w @ counts.counts[rows] for w, rows in zip(weights, _blocks(counts))])


def _scores_of_totals(counts: DocumentCounts, totals: list[np.ndarray]) -> np.ndarray:
    """Scores ``(R, len(keys))`` from each stratum's summed counts ``(R, n_columns)``, averaged over strata."""
    out = 0.0
    for t in totals:
        out = out + np.concatenate([np.stack(_prf(*(t[:, i] for i in idx), counts.zero_division), axis=1)
                                    for idx in counts.scores.values()], axis=1)
    return out / len(totals)


def _blocks(counts: DocumentCounts) -> list[np.ndarray]:
    """The document indices of each stratum (all documents when there are none)."""
    if counts.strata is None:
        return [np.arange(counts.n_documents)]
    order = np.argsort(counts.strata, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(counts.strata[order])) + 1)


def _check_options(n_resamples: Any, confidence_level: Any = 0.5) -> None:
    if not isinstance(n_resamples, numbers.Integral) or isinstance(n_resamples, bool) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if (not isinstance(confidence_level, numbers.Real) or isinstance(confidence_level, bool)
            or not 0 < confidence_level < 1):
        raise ValueError(f"confidence_level must be a number in (0, 1), got {confidence_level!r}")


def _batches(n_resamples: int, n_documents: int) -> list[int]:
    size = max(1, _BATCH // max(n_documents, 1))
    return [min(size, n_resamples - start) for start in range(0, n_resamples, size)]


def _bootstrap_weights(indices: list[np.ndarray]) -> list[np.ndarray]:
    """How often each document of a stratum is drawn: ``indices[s]`` is ``(R, n_s)`` positions in
    stratum ``s`` (one row per resample)."""
    out = []
    for idx in indices:
        r, n = idx.shape
        out.append(np.bincount((idx + n * np.arange(r)[:, None]).ravel(), minlength=r * n)
                   .reshape(r, n).astype(np.float64))
    return out


@dataclass(frozen=True)
class ConfidenceInterval:
    """A score, its bootstrap interval ``[low, high]`` and the bootstrap standard error."""

    estimate: float
    low: float
    high: float
    standard_error: float


@dataclass(frozen=True)
class BootstrapResult:
    """:func:`bootstrap`'s intervals, one per score key, and how they were drawn."""

    intervals: dict[str, ConfidenceInterval]
    n_documents: int
    n_resamples: int
    confidence_level: float
    method: str = "percentile"

    def flat(self) -> dict[str, float]:
        """``{key: estimate, key_ci_low: low, key_ci_high: high}``: flat keys for a results file."""
        return {name: value for k, ci in self.intervals.items()
                for name, value in ((k, ci.estimate), (f"{k}_ci_low", ci.low), (f"{k}_ci_high", ci.high))}


def _interval_table(counts: DocumentCounts, distribution: np.ndarray, confidence_level: float,
                    n_resamples: int) -> BootstrapResult:
    alpha = (1 - confidence_level) / 2
    low, high = np.quantile(distribution, [alpha, 1 - alpha], axis=0)
    se = distribution.std(axis=0, ddof=1) if len(distribution) > 1 else np.full(distribution.shape[1], math.nan)
    estimate = counts.estimate()
    intervals = {k: ConfidenceInterval(estimate[k], float(lo), float(hi), float(s))
                 for k, lo, hi, s in zip(counts.keys, low, high, se)}
    return BootstrapResult(intervals, counts.n_documents, n_resamples, float(confidence_level))


def bootstrap(counts: DocumentCounts, *, n_resamples: int = 1000, confidence_level: float = 0.95,
              rng: int | np.random.Generator | None = None) -> BootstrapResult:
    """Percentile bootstrap intervals over documents for every score of ``counts``.

    Each resample draws ``n`` documents with replacement (within each stratum, if any), adds their
    counts and scores the sums; ``low`` and ``high`` are the ``(1 - confidence_level) / 2`` and
    ``(1 + confidence_level) / 2`` quantiles of those scores (numpy's linear interpolation) and
    ``standard_error`` their SD. 1,000 resamples is the usual minimum for 95% percentile intervals
    (Efron & Tibshirani); more only steadies the last digit. ``rng``: a seed or a
    ``numpy.random.Generator`` (as ``scipy.stats.bootstrap``); the same seed gives the same intervals.

    Examples:
        >>> gold = [[(0, 10)], [(0, 4)], [(2, 6)], [(0, 3)]]
        >>> pred = [[(0, 4), (6, 10)], [(0, 4)], [(3, 6)], []]
        >>> ci = bootstrap(document_counts(gold, pred, p_values=[1]), n_resamples=200, rng=0)
        >>> f1 = ci.intervals["f1"]
        >>> f1.low <= round(f1.estimate, 4) <= f1.high
        True
    """
    _check_options(n_resamples, confidence_level)
    if counts.n_documents == 0:
        raise ValueError("bootstrap needs at least one document")
    rng = np.random.default_rng(rng)
    blocks = _blocks(counts)
    parts = []
    for r in _batches(n_resamples, counts.n_documents):
        indices = [rng.integers(0, len(rows), size=(r, len(rows))) for rows in blocks]
        parts.append(_scores(counts, _bootstrap_weights(indices)))
    return _interval_table(counts, np.concatenate(parts), confidence_level, n_resamples)


@dataclass(frozen=True)
class PairedTestResult:
    """:func:`paired_test`: per score key, ``score(A) - score(B)`` and its two-sided p-value."""

    difference: dict[str, float]
    p_value: dict[str, float]
    n_documents: int
    n_resamples: int
    method: str = "approximate randomisation"


def _randomisation(a: DocumentCounts, b: DocumentCounts, swaps: list[np.ndarray]) -> np.ndarray:
    """``score(A*) - score(B*)`` where ``swaps[s]`` (``(R, n_s)``, 0/1) says on which documents of
    stratum ``s`` A and B trade their counts."""
    total_a, total_b = [], []
    for s, rows in zip(swaps, _blocks(a)):
        ca, cb = a.counts[rows], b.counts[rows]
        delta = s @ (cb - ca)  # what A gains and B loses
        total_a.append(ca.sum(axis=0) + delta)
        total_b.append(cb.sum(axis=0) - delta)
    return _scores_of_totals(a, total_a) - _scores_of_totals(b, total_b)


def _p_values(observed: np.ndarray, resampled: np.ndarray) -> np.ndarray:
    """Two-sided ``(1 + #{|d*| >= |d|}) / (1 + R)``; 1e-12 absorbs rounding (scores are in [0, 1])."""
    hits = (np.abs(resampled) >= np.abs(observed) - 1e-12).sum(axis=0)
    return (1 + hits) / (1 + len(resampled))


def paired_test(a: DocumentCounts, b: DocumentCounts, *, n_resamples: int = 10_000,
                rng: int | np.random.Generator | None = None) -> PairedTestResult:
    """Approximate randomisation test of two systems scored on the same documents (module docstring).

    ``a`` and ``b`` come from :func:`document_counts` with the same references (in the same order)
    and settings; the references are checked through their per-document counts (and ``doc_ids``
    when both have them). A p-value below your level (0.05) says the difference is unlikely if the
    systems were interchangeable; the smallest p-value possible is ``1 / (1 + n_resamples)``
    (10,000 swaps by default: p-values near 0.05 are then good to about ±0.004).

    Examples:
        >>> gold = [[(0, 10)], [(0, 4)], [(2, 6)], [(0, 3)]]
        >>> a = document_counts(gold, gold, p_values=[1])
        >>> paired_test(a, a, n_resamples=100, rng=0).p_value["f1"]
        1.0
    """
    _check_options(n_resamples)
    _check_compatible(a, b)
    if a.doc_ids is not None and b.doc_ids is not None and a.doc_ids != b.doc_ids:
        raise ValueError("the two systems list other documents (doc_ids differ); a paired test needs the same "
                         "documents in the same order")
    gold = [a.columns.index(c) for c in ("gold_chars", "char_gold_chars", "n_gold")]
    same_strata = (a.strata is None) == (b.strata is None) and (a.strata is None or np.array_equal(a.strata, b.strata))
    if a.n_documents != b.n_documents or not same_strata or not np.array_equal(a.counts[:, gold], b.counts[:, gold]):
        raise ValueError("the two systems were not scored against the same references (document count, folds "
                         "or gold spans per document differ); a paired test needs the same documents in the same order")
    if a.n_documents == 0:
        raise ValueError("paired_test needs at least one document")
    rng = np.random.default_rng(rng)
    blocks = _blocks(a)
    observed = np.array([a.estimate()[k] - b.estimate()[k] for k in a.keys])
    parts = [_randomisation(a, b, [rng.integers(0, 2, size=(r, len(rows))).astype(np.float64) for rows in blocks])
             for r in _batches(n_resamples, a.n_documents)]
    p = _p_values(observed, np.concatenate(parts))
    return PairedTestResult(dict(zip(a.keys, observed.tolist())), dict(zip(a.keys, p.tolist())), a.n_documents,
                            n_resamples)


def compare_to_best(systems: Mapping[str, DocumentCounts], *, key: str = "f1", alpha: float = 0.05,
                    n_resamples: int = 10_000, rng: int | np.random.Generator | None = None
                    ) -> dict[str, dict[str, Any]]:
    """Each system against the best one by ``key``: ``{name: {"estimate", "p_value", "best",
    "tied_with_best"}}``. ``tied_with_best`` is True for the best system and for every system whose
    :func:`paired_test` p-value against it is ``>= alpha`` (not significantly worse; no correction
    for the several comparisons, so more systems are marked tied, not fewer). Ties for the best
    estimate go to the first system given.
    """
    _check_options(n_resamples)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    if not systems:
        raise ValueError("compare_to_best needs at least one system")
    names = list(systems)
    first = systems[names[0]]
    if key not in first.keys:
        raise KeyError(f"no score {key!r}; the scores are {first.keys}")
    estimates = {name: systems[name].estimate()[key] for name in names}
    best = max(names, key=lambda name: (estimates[name], -names.index(name)))
    rng = np.random.default_rng(rng)
    out = {}
    for name in names:
        p = 1.0 if name == best else paired_test(systems[best], systems[name], n_resamples=n_resamples,
                                                 rng=rng).p_value[key]
        out[name] = {"estimate": estimates[name], "p_value": p, "best": name == best, "tied_with_best": p >= alpha}
    return out
