"""Cross-validated, length-stratified, p-swept reports, saved in files a Hub leaderboard can host.

Paper 000 reports every model as the mean (SD) over 5 cross-validation folds of the weighted soft
match at p = 1, 1.5, 2 and 100 (its Table 2), and by gold span length (Tables S19-S21). This module
gives the three steps of that protocol:

* :func:`cross_validation_splits`: document-level folds, each a ``DatasetDict`` with ``train``,
  ``validation`` and ``test`` (the paper's 0.6 : 0.2 : 0.2 rotation; the indices alone from
  :func:`cross_validation_indices`);
* :func:`cross_validate`: every fold scored by :func:`ecr_hf.scoring.span_metrics` (the keys that
  the trainers log), with the mean and sample SD (``ddof=1``) of every key;
* :meth:`CrossValidationResult.save` / :func:`load_results` / :func:`leaderboard_table`: one JSON
  file per system and data set (``{"config", "results", "folds"}``, the layout of Hub leaderboard
  results data sets), read back as a ``datasets.Dataset`` and rendered as the paper's tables.

Results files follow one schema, checked before :meth:`CrossValidationResult.save` writes and by
:func:`load_results` on every file it reads. A file is UTF-8, strict JSON (no ``NaN`` or
``Infinity``, no repeated key), one object with exactly these keys:

* ``config`` (object): ``model_name`` and ``dataset`` (non-empty strings), ``method`` (string or
  null), ``n_folds`` (integer >= 1), ``p_values`` (non-empty list of distinct finite numbers >= 1),
  ``score_p`` (finite number >= 1), ``typed`` (true or false), ``length_bins`` (list of distinct
  ``[lo, hi]`` integer pairs, 1 <= lo <= hi, ``hi`` null for no upper bound), and any other JSON
  values that describe the run (``epochs``, ``ecr_hf_version``...);
* ``results`` (object): ``{key: number or null}``, null where undefined (an SD from one fold, a
  length bin without spans); true and false are not numbers; no key repeats a ``config`` key;
* ``folds`` (list of ``n_folds`` objects): each ``{key: number or null}``.

Bootstrap intervals (optional; :func:`cross_validate` with ``n_resamples``): ``results`` then also
holds ``{key}_ci_low`` and ``{key}_ci_high`` for the main keys (``f1``, ``precision``, ``recall``,
``p{p}_*``, ``char_*``, ``strict_*``), the percentile interval of the fold mean ``{key}`` from
resampling documents within each fold (:mod:`ecr_hf.scoring.significance`), and ``config`` holds
``bootstrap``: ``{"n_resamples": integer >= 1, "confidence_level": number in (0, 1), "seed":
integer or null, "method": string}``. A file with ``_ci_`` keys but no such ``bootstrap``, or with
one end of a pair without the other or ``low > high``, breaks the schema.

JSON has no infinity, so a leaderboard run cannot use ``p = inf`` (the max-fragment limit):
:func:`cross_validate` refuses it; ``p = 100``, as in the paper, stands in for it. A file that
breaks the schema raises :class:`ResultsFileError`, which names the file and what is wrong; so do
two files for the same (``model_name``, ``dataset``, ``method``), naming both (keep one file per
system, or tell the runs apart by ``method``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from ..utils.outputs import atomic_write_text
from ..scoring.flat import span_metrics
from ..scoring.significance import BootstrapResult, DocumentCounts, bootstrap, document_counts
from ..scoring.soft_match import DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, bin_name, format_p

__all__ = ["cross_validation_indices", "cross_validation_splits", "cross_validate", "cross_validation_counts",
           "CrossValidationResult", "ResultsFileError", "load_results", "results_file_name", "scoring_settings",
           "leaderboard_table"]


def cross_validation_indices(n_documents: int, n_folds: int = 5, *, validation: bool = True,
                             seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Sorted document indices of each fold's ``train``, ``validation`` and ``test`` splits.

    The documents are shuffled once (``seed``) and cut into ``n_folds`` near-equal parts. Fold ``k``
    tests on part ``k``, validates on part ``k + 1`` (mod ``n_folds``) when ``validation``, and
    trains on the rest: with 5 folds, the paper's 0.6 : 0.2 : 0.2. Every document is tested exactly
    once.

    Examples:
        >>> [{k: v.tolist() for k, v in fold.items()} for fold in cross_validation_indices(4, 4)][0]
        {'train': [1, 3], 'validation': [0], 'test': [2]}
    """
    least = 3 if validation else 2
    if not least <= n_folds <= n_documents:
        raise ValueError(f"n_folds must be between {least} and the number of documents ({n_documents}), "
                         f"got {n_folds}")
    parts = [np.sort(p) for p in np.array_split(np.random.default_rng(seed).permutation(n_documents), n_folds)]
    folds = []
    for k in range(n_folds):
        held = {k, (k + 1) % n_folds} if validation else {k}
        fold = {"train": np.sort(np.concatenate([p for j, p in enumerate(parts) if j not in held]))}
        if validation:
            fold["validation"] = parts[(k + 1) % n_folds]
        fold["test"] = parts[k]
        folds.append(fold)
    return folds


def cross_validation_splits(
    documents: Dataset | Sequence[Mapping[str, Any]],
    n_folds: int = 5,
    *,
    validation: bool = True,
    seed: int = 0,
) -> list[DatasetDict]:
    """Document-level cross-validation folds as ``DatasetDict`` s (``train``, ``validation``,
    ``test``), from :func:`cross_validation_indices`; each split keeps the documents' order.

    Examples:
        >>> folds = cross_validation_splits([{"text": str(i), "entities": []} for i in range(10)])
        >>> [len(folds[0][s]) for s in ("train", "validation", "test")]
        [6, 2, 2]
    """
    data = documents if isinstance(documents, Dataset) else Dataset.from_list(list(documents))
    return [DatasetDict({name: data.select(index) for name, index in fold.items()})
            for fold in cross_validation_indices(len(data), n_folds, validation=validation, seed=seed)]


@dataclass
class CrossValidationResult:
    """Per-fold :func:`~ecr_hf.scoring.span_metrics` of one system, with their mean and SD."""

    folds: list[dict[str, float]]
    p_values: tuple[float, ...] = DEFAULT_P_VALUES
    score_p: float = 1.0
    typed: bool = False
    length_bins: tuple[tuple[int, int | None], ...] = DEFAULT_LENGTH_BINS
    config: dict[str, Any] = field(default_factory=dict)  # other description for every file (see save)
    intervals: BootstrapResult | None = None  # bootstrap of the fold means (cross_validate's n_resamples)
    bootstrap_seed: int | None = None  # the seed the intervals were drawn with (None: a Generator or none)
    counts: DocumentCounts | None = field(default=None, repr=False)  # per-document counts behind intervals

    def _values(self) -> dict[str, np.ndarray]:
        keys = dict.fromkeys(k for fold in self.folds for k in fold)
        values = {k: np.array([fold.get(k, math.nan) for fold in self.folds], dtype=np.float64) for k in keys}
        return {k: v[~np.isnan(v)] for k, v in values.items()}

    def mean(self) -> dict[str, float]:
        """Mean of every key over the folds where it is defined: a label absent from a fold has no
        keys there, and a length bin or label without gold (predicted) spans in a fold has no recall
        (precision) there (NaN in :attr:`folds`)."""
        return {k: float(v.mean()) if len(v) else math.nan for k, v in self._values().items()}

    def std(self) -> dict[str, float]:
        """Sample standard deviation (``ddof=1``, as the paper's SD) of every key, over the same folds
        as :meth:`mean`; NaN from fewer than two."""
        return {k: float(v.std(ddof=1)) if len(v) > 1 else math.nan for k, v in self._values().items()}

    def summary(self) -> dict[str, float]:
        """``{key: mean, key_sd: SD}`` for every key, and ``key_ci_low`` / ``key_ci_high`` for the
        main keys when :attr:`intervals` is set: the ``results`` of a leaderboard file."""
        sd = self.std()
        out = {name: value for k, m in self.mean().items() for name, value in ((k, m), (f"{k}_sd", sd[k]))}
        for key, ci in (self.intervals.intervals.items() if self.intervals is not None else ()):
            if key in out:
                out[f"{key}_ci_low"], out[f"{key}_ci_high"] = ci.low, ci.high
        return out

    def to_dict(self, **description: Any) -> dict[str, Any]:
        """The leaderboard file's content: ``config`` (:attr:`config`, then ``description`` such as
        ``model_name=...``, then the scoring settings), ``results`` (mean and SD, NaN as None) and
        ``folds``."""
        settings = {"n_folds": len(self.folds), "p_values": list(self.p_values), "score_p": self.score_p,
                    "typed": self.typed, "length_bins": [list(b) for b in self.length_bins]}
        if self.intervals is not None:
            settings["bootstrap"] = {"n_resamples": self.intervals.n_resamples,
                                     "confidence_level": self.intervals.confidence_level, "seed": self.bootstrap_seed,
                                     "method": "percentile; documents resampled within each fold"}
        reserved = sorted(set(description) & set(settings))
        if reserved:
            raise ValueError(f"{reserved} are set from the result itself; do not pass them")
        return {"config": {**self.config, **description, **settings}, "results": _json_floats(self.summary()),
                "folds": [_json_floats(f) for f in self.folds]}

    def save(self, path: str | os.PathLike, *, model_name: str, dataset: str, method: str | None = None,
             overwrite: bool = False, **config: Any) -> Path:
        """Write the leaderboard file (JSON, the schema in the module docstring) for ``model_name`` on
        ``dataset``; ``config`` adds any other description (``model_sha``, ``epochs``...).

        The content is checked against the schema first (:class:`ResultsFileError`), so what is
        saved always loads. The file is written atomically (a temporary file in the same folder,
        renamed): a failed write leaves the previous file whole. An existing file raises
        :class:`~ecr_hf.utils.OutputExistsError` unless ``overwrite``. :attr:`config` is not
        changed: one call's ``config`` never leaks into the next call's file.
        """
        try:
            text = self.to_json(model_name=model_name, dataset=dataset, method=method, **config)
        except ResultsFileError as e:
            raise ResultsFileError(f"{path}: not saved: {e}") from None
        return atomic_write_text(path, text, overwrite=overwrite)

    def to_json(self, *, model_name: str, dataset: str, method: str | None = None, **config: Any) -> str:
        """The text :meth:`save` writes, checked against the schema (:class:`ResultsFileError`), for
        callers that write it together with other files (:func:`ecr_hf.leaderboard.evaluate_model`)."""
        from .. import __version__

        if "ecr_hf_version" in config:
            raise ValueError("ecr_hf_version is set by save(); do not pass it")
        content = self.to_dict(model_name=model_name, dataset=dataset, method=method, **config,
                               ecr_hf_version=__version__)
        try:
            _check_file(content)
        except ValueError as e:
            raise ResultsFileError(str(e)) from None
        return json.dumps(content, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


class ResultsFileError(ValueError):
    """A leaderboard results file that breaks the schema (module docstring); the message names it."""


def _json_floats(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: None if math.isnan(v) else v for k, v in values.items()}


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_finite(value: Any) -> bool:
    try:
        return _is_real(value) and math.isfinite(value)
    except OverflowError:  # an integer past the float range
        return False


def _check_p(value: Any, name: str, finite: bool = True) -> float:
    if not ((_is_finite(value) or not finite and value == math.inf) and value >= 1):
        raise ValueError(f"{name} must hold finite numbers >= 1, got {value!r} (results files are JSON, which "
                         "has no infinity: use p = 100 for the max-fragment limit, as the paper does)" if finite
                         else f"{name} must hold numbers >= 1, got {value!r}")
    return float(value)


def _check_p_values(values: Any, finite: bool = True) -> list[float]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ValueError(f"p_values must be a list of numbers, got {values!r}")
    out = [_check_p(p, "p_values", finite) for p in values]
    if not out:
        raise ValueError("p_values is empty; give at least one p")
    return out


def _check_length_bins(bins: Any) -> list[tuple[int, int | None]]:
    if isinstance(bins, (str, bytes, Mapping)) or not isinstance(bins, Iterable):
        raise ValueError(f"length_bins must be a list of [lo, hi] pairs, got {bins!r}")
    out = []
    for b in bins:
        lo, hi = b if isinstance(b, (list, tuple)) and len(b) == 2 else (None, None)
        is_int = [isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in (lo, hi)]
        if not (is_int[0] and lo >= 1 and (hi is None or is_int[1] and hi >= lo)):
            raise ValueError(f"length bin {b!r} is not [lo, hi] with integers 1 <= lo <= hi (hi None for no "
                             "upper bound)")
        out.append((int(lo), None if hi is None else int(hi)))
    return out


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _check_scores(scores: Any, where: str) -> dict[str, float | None]:
    if not isinstance(scores, dict):
        raise ValueError(f"{where} is {_json_type(scores)}, not an object of numbers")
    values = [v for v in scores.values() if v is not None]
    if all(type(v) is float for v in values) and np.isfinite(np.array(values, dtype=np.float64)).all():
        return dict(scores)  # the common case, checked at C speed
    out: dict[str, float | None] = {}
    for key, value in scores.items():
        try:
            number = None if value is None else float(value) if isinstance(value, (int, float)) and \
                not isinstance(value, bool) else math.nan
        except OverflowError:  # an integer past the float range
            number = math.nan
        if number is not None and not math.isfinite(number):
            raise ValueError(f"{where} {key!r} is {value!r}: results are finite numbers or null (true and false "
                             "are not scores)")
        out[key] = number
    return out


def _check_file(data: Any) -> dict[str, Any]:
    """The table row (``config``, then ``results``) of a results file's content; a ValueError says
    what breaks the schema of the module docstring."""
    parts = ("config", "results", "folds")
    if not isinstance(data, dict):
        raise ValueError(f"holds {_json_type(data)}, not an object with {list(parts)}")
    if set(data) != set(parts):
        raise ValueError(f"not a leaderboard file: expected the keys {list(parts)}, got {list(data)[:10]}")
    config, results, folds = (data[k] for k in parts)
    if not isinstance(config, dict):
        raise ValueError(f"'config' is {_json_type(config)}, not an object")
    missing = [k for k in ("model_name", "dataset", "method", "n_folds", "p_values", "score_p", "typed",
                           "length_bins") if k not in config]
    if missing:
        raise ValueError(f"'config' lacks {missing}")
    for key in ("model_name", "dataset", "method"):
        value = config[key]
        if not (isinstance(value, str) and value.strip() or key == "method" and value is None):
            raise ValueError(f"config {key!r} must be a non-empty string{' or null' * (key == 'method')}, "
                             f"got {value!r}")
    n_folds = config["n_folds"]
    if not (isinstance(n_folds, int) and not isinstance(n_folds, bool) and n_folds >= 1):
        raise ValueError(f"config 'n_folds' must be an integer >= 1, got {n_folds!r}")
    for key, check in (("p_values", _check_p_values), ("length_bins", _check_length_bins)):
        if not isinstance(config[key], list):
            raise ValueError(f"config {key!r} is {_json_type(config[key])}, not an array")
        values = check(config[key])
        if len(set(values)) < len(values):
            raise ValueError(f"config {key!r} repeats a value: {config[key]}")
    _check_p(config["score_p"], "score_p")
    if not isinstance(config["typed"], bool):
        raise ValueError(f"config 'typed' must be true or false, got {config['typed']!r}")
    results = _check_scores(results, "'results'")
    if not isinstance(folds, list) or len(folds) != n_folds:
        raise ValueError(f"'folds' must be an array of n_folds = {n_folds} objects, got "
                         f"{len(folds) if isinstance(folds, list) else _json_type(folds)}")
    for k, fold in enumerate(folds):
        _check_scores(fold, f"fold {k}")
    clash = sorted(set(config) & set(results))
    if clash:
        raise ValueError(f"'results' repeats the config keys {clash[:5]}")
    _check_intervals(config, results)
    row: dict[str, Any] = {}
    texts = [*results, *(key for fold in folds for key in fold)]  # every string of the file, for UTF-8
    for key, value in config.items():
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"config {key!r} is not a JSON value: {e}") from None
        if isinstance(value, int) and not -2**63 <= value < 2**63:
            raise ValueError(f"config {key!r} = {value} is past the 64-bit integer range")
        row[key] = text if isinstance(value, (list, dict)) else value  # lists and objects: JSON text columns
        texts += (key, text)
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"holds a lone surrogate {e.object[e.start]!r}, which UTF-8 cannot encode") from None
    return {**row, **results}


def _check_intervals(config: Mapping[str, Any], results: Mapping[str, float | None]) -> None:
    """The bootstrap part of the schema (module docstring): ``_ci_low`` / ``_ci_high`` keys come in
    ordered pairs, described by ``config["bootstrap"]``."""
    ends = {k for k in results if k.endswith(("_ci_low", "_ci_high"))}
    if not ends and "bootstrap" not in config:
        return
    settings = config.get("bootstrap")
    n, level = (settings.get("n_resamples"), settings.get("confidence_level")) if isinstance(settings, dict) else (0, 0)
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1 and _is_finite(level) and 0 < level < 1):
        raise ValueError(f"config 'bootstrap' must be an object with 'n_resamples' (integer >= 1) and "
                         f"'confidence_level' (in (0, 1)) when 'results' holds intervals, got {settings!r}")
    for key in sorted(ends):
        base = key.rsplit("_ci_", 1)[0]
        low, high = results.get(f"{base}_ci_low", ...), results.get(f"{base}_ci_high", ...)
        if low is ... or high is ...:
            raise ValueError(f"'results' holds {key!r} without its other end ({base}_ci_low / {base}_ci_high)")
        if (low is None) != (high is None) or low is not None and low > high:
            raise ValueError(f"'results' interval of {base!r} is [{low}, {high}]: both ends null, or low <= high")


def cross_validation_counts(
    references: Sequence[Sequence[Any]],
    predictions: Sequence[Sequence[Any]],
    *,
    texts: Sequence[Sequence[str] | None] | None = None,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float = 1.0,
    typed: bool = False,
    empty_spans: str = "error",
    doc_ids: Sequence[Sequence[Any]] | None = None,
) -> DocumentCounts:
    """Per-document counts of every fold's test documents, each fold its own stratum, for
    :func:`ecr_hf.scoring.bootstrap` and :func:`~ecr_hf.scoring.paired_test` (whose scores
    are then fold means, as :meth:`CrossValidationResult.mean`). Arguments as :func:`cross_validate`;
    ``doc_ids``: one list per fold, kept so that a paired test checks it compares the same documents."""
    parts = []
    for k, (refs, preds) in enumerate(zip(references, predictions)):
        try:
            parts.append(document_counts(refs, preds, texts=None if texts is None else texts[k], p_values=p_values,
                                         score_p=score_p, typed=typed, empty_spans=empty_spans,
                                         doc_ids=None if doc_ids is None else doc_ids[k]))
        except ValueError as e:
            raise type(e)(f"fold {k}: {e}") from e
    return DocumentCounts.concat(parts)


def cross_validate(
    references: Sequence[Sequence[Any]],
    predictions: Sequence[Sequence[Any]],
    *,
    texts: Sequence[Sequence[str] | None] | None = None,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float = 1.0,
    typed: bool = False,
    length_bins: Sequence[tuple[int, int | None]] | None = DEFAULT_LENGTH_BINS,
    empty_spans: str = "error",
    n_resamples: int | None = None,
    confidence_level: float = 0.95,
    rng: int | np.random.Generator | None = None,
    doc_ids: Sequence[Sequence[Any]] | None = None,
) -> CrossValidationResult:
    """Score each fold's test predictions against its gold spans.

    Args:
        references: one corpus per fold: that fold's gold span documents (span lists, or a
            ``datasets`` column such as ``folds[k]["test"]["entities"]``).
        predictions: one corpus per fold, the same documents in the same order.
        texts: one list of document texts per fold (or None), to check offsets against.
        p_values, score_p, typed, length_bins: as in :func:`ecr_hf.scoring.span_metrics`, but every p
            finite (a results file is JSON, which has no infinity: use p = 100 as the paper does);
            repeated p values count once. A ratio with a zero denominator is 0.0 within a fold,
            except for length bins and labels: there it is undefined (NaN) and left out of the
            mean, so an empty bin does not pull a mean down.
        empty_spans: as in :func:`ecr_hf.scoring.span_metrics`: ``"drop"`` leaves spans with
            ``start == end`` out and counts them per fold (``gold_empty_dropped``,
            ``pred_empty_dropped``, so the results file says what was dropped).
        n_resamples, confidence_level, rng: with ``n_resamples`` (None: no intervals), the
            per-document counts (:func:`cross_validation_counts`, kept in ``counts``) are
            bootstrapped (:func:`ecr_hf.scoring.bootstrap`, documents resampled within each
            fold) into percentile intervals of the fold means of the main keys (``intervals``; saved
            as ``{key}_ci_low`` / ``{key}_ci_high``). ``rng``: a seed (recorded in the file) or a
            ``numpy.random.Generator``. Documents are scored once; resampling reweights their counts.
        doc_ids: one list of document ids per fold, stored in ``counts`` (for paired tests).

    Examples:
        >>> gold = [[[(0, 10, "D")]], [[(0, 4, "D")]]]
        >>> pred = [[[(0, 4, "D"), (6, 10, "D")]], [[(0, 4, "D")]]]
        >>> cv = cross_validate(gold, pred, p_values=[1, 2])
        >>> round(cv.mean()["recall"], 4), round(cv.std()["recall"], 4), round(cv.mean()["p2_recall"], 4)
        (0.9, 0.1414, 0.7828)
    """
    if len(references) != len(predictions):
        raise ValueError(f"got {len(predictions)} prediction folds but {len(references)} reference folds")
    if not len(references):
        raise ValueError("no folds given")
    if texts is not None and len(texts) != len(references):
        raise ValueError(f"got {len(texts)} text folds but {len(references)} reference folds")
    p_values = tuple(dict.fromkeys(_check_p_values(p_values)))
    score_p = _check_p(score_p, "score_p")
    if not isinstance(typed, (bool, np.bool_)):
        raise ValueError(f"typed must be True or False, got {typed!r}")
    length_bins = () if length_bins is None else tuple(_check_length_bins(length_bins))
    folds = []
    for k, (refs, preds) in enumerate(zip(references, predictions)):
        try:
            scores = span_metrics(refs, preds, texts=None if texts is None else texts[k], p_values=p_values,
                                  score_p=score_p, typed=typed, length_bins=length_bins,
                                  empty_spans=empty_spans)
        except ValueError as e:
            raise type(e)(f"fold {k}: {e}") from e
        folds.append(_undefined_as_nan(scores, [f"len_{bin_name(*b)}" for b in length_bins]))
    result = CrossValidationResult(folds, p_values, score_p, bool(typed), length_bins)
    if n_resamples is not None:
        counts = cross_validation_counts(references, predictions, texts=texts, p_values=p_values, score_p=score_p,
                                         typed=typed, empty_spans=empty_spans, doc_ids=doc_ids)
        seed = int(rng) if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) else None
        result.intervals = bootstrap(counts, n_resamples=n_resamples, confidence_level=confidence_level, rng=rng)
        result.bootstrap_seed, result.counts = seed, counts
    return result


def _undefined_as_nan(scores: dict[str, float], bins: list[str]) -> dict[str, float]:
    """A bin's or label's recall (precision) is undefined in a fold without its gold (predicted)
    spans, and F1 without either: NaN, so that the fold-mean leaves it out instead of averaging in
    a zero-division placeholder."""
    labels = [k[: -len("_n_gold")] for k in scores if k.startswith("label_") and k.endswith("_n_gold")]
    out = dict(scores)
    for group in (*bins, *labels):
        gold, pred = out[f"{group}_n_gold"], out[f"{group}_n_pred"]
        for kind in ("", "marker_"):
            for metric, defined in (("recall", gold > 0), ("precision", pred > 0), ("f1", gold + pred > 0)):
                if not defined and f"{group}_{kind}{metric}" in out:
                    out[f"{group}_{kind}{metric}"] = math.nan
    return out


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON; write null for an undefined value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) < len(pairs):
        repeated = [k for k, n in Counter(k for k, _ in pairs).items() if n > 1]
        raise ValueError(f"an object repeats the key {repeated[0]!r}")
    return out


def _read_results(path: Path) -> dict[str, Any]:
    """One results file's table row; :class:`ResultsFileError` names the file (and line) at fault."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ResultsFileError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); results "
                               "files are UTF-8 JSON") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as e:
        raise ResultsFileError(f"{path}, line {e.lineno} column {e.colno}: not valid JSON ({e.msg})") from None
    except (ValueError, RecursionError) as e:
        raise ResultsFileError(f"{path}: {e if isinstance(e, ValueError) else 'nested too deep'}") from None
    try:
        return _check_file(data)
    except ValueError as e:
        raise ResultsFileError(f"{path}: {e}") from None


def _column_type(value: Any) -> str | None:
    return None if value is None else "boolean" if isinstance(value, bool) else \
        "string" if isinstance(value, str) else "number"


def load_results(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Dataset:
    """Leaderboard files (paths, or folders of ``*.json``) as a ``Dataset``: one row per file, the
    ``config`` fields (lists and objects as JSON text) then the ``results`` keys as columns (None
    where a file lacks a key). The same file named twice is read once.

    Raises :class:`ResultsFileError`, naming the file, for a file that is not UTF-8, not JSON or
    breaks the schema of the module docstring; naming both files, for two files of one
    (``model_name``, ``dataset``, ``method``) and for a field whose type differs between files.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files = {}
    for path in map(Path, paths):
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            files.setdefault(file.resolve(), file)
    if not files:
        raise ResultsFileError(f"no leaderboard files (*.json) in {', '.join(map(str, paths)) or 'no paths'}")
    rows, systems, types = [], {}, {}
    for path in files.values():
        row = _read_results(path)
        system = (row["model_name"], row["dataset"], row["method"])
        if system in systems:
            raise ResultsFileError(f"{systems[system]} and {path} both hold model {system[0]!r} on dataset "
                                   f"{system[1]!r} with method {system[2]!r}; keep one file per system, or "
                                   "tell the runs apart by 'method'")
        systems[system] = path
        for key, value in row.items():
            kind = _column_type(value)
            first = types.setdefault(key, (kind, path)) if kind else (kind, path)
            if first[0] != kind:
                raise ResultsFileError(f"{path}: {key!r} is a {kind} here but a {first[0]} in {first[1]}; "
                                       "give it one type in every file")
        rows.append(row)
    columns = {k: [row.get(k) for row in rows] for k in dict.fromkeys(k for row in rows for k in row)}
    for key, values in columns.items():  # integers and floats in one column: all floats, as Arrow needs
        if any(isinstance(v, float) for v in values):
            columns[key] = [v if v is None else float(v) for v in values]
    return Dataset.from_dict(columns)


def results_file_name(dataset: str, model_name: str) -> str:
    """The results file name of a system on a data set in a leaderboard's results folder.

    Examples:
        >>> results_file_name("ncbi disease", "BERT (large)")
        'ncbi_disease__BERT_large.json'
    """
    def slug(text: str) -> str:
        return re.sub(r"[^\w.\-]+", "_", text).strip("_") or "_"
    return f"{slug(dataset)}__{slug(model_name)}.json"


def scoring_settings(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The scoring settings of a data set's results rows (:func:`load_results`), for a new system
    scored like the others: ``p_values``, ``score_p``, ``typed``, ``length_bins`` and, where a row
    has intervals, ``n_resamples``, ``confidence_level`` and ``seed``. Empty without rows (defaults)."""
    if not rows:
        return {}

    def listed(value: Any) -> list:
        return json.loads(value) if isinstance(value, str) else list(value)

    first = rows[0]
    settings: dict[str, Any] = {"p_values": listed(first["p_values"]), "score_p": first["score_p"],
                                "typed": bool(first["typed"]),
                                "length_bins": [tuple(b) for b in listed(first["length_bins"])]}
    boot = next((json.loads(row["bootstrap"]) for row in rows if row.get("bootstrap")), None)
    if boot:
        settings.update(n_resamples=boot["n_resamples"], confidence_level=boot["confidence_level"],
                        seed=boot.get("seed") or 0)
    return settings


def leaderboard_table(
    results: Dataset | Sequence[Mapping[str, Any]],
    *,
    by: str = "p",
    metrics: Sequence[str] = ("f1", "recall", "precision"),
    fmt: str = "markdown",
    digits: int = 3,
) -> str:
    """The paper's tables from leaderboard results (:func:`load_results` rows).

    ``by="p"``: a column group per p (Table 2), keys ``p{p}_{metric}``; ``by="length"``: a group per
    length bin at the runs' ``score_p`` (Tables S19-S21), keys ``len_{bin}_{metric}``. Cells read
    ``mean (SD)``, then ``[low, high]`` where the row holds bootstrap intervals (``-`` where no fold
    defines the value, e.g. a bin without spans); systems are
    sorted by the first column, and the best mean of each column is in bold (markdown). ``metrics``
    may name any metric the keys hold, e.g. ``marker_f1``. One table per data set; its runs must
    share ``typed`` and their p values (length bins and ``score_p``), and hold one row per
    (``model_name``, ``method``). CSV fields are quoted as needed (:mod:`csv`); in markdown, ``|`` and
    ``\\`` in names are escaped and line breaks become spaces.
    """
    if by not in ("p", "length"):
        raise ValueError(f"by must be 'p' or 'length', got {by!r}")
    if fmt not in ("markdown", "csv"):
        raise ValueError(f"fmt must be 'markdown' or 'csv', got {fmt!r}")
    rows = results.to_list() if isinstance(results, Dataset) else [dict(r) for r in results]
    if not rows:
        raise ValueError("no results to tabulate")
    tables = []
    for dataset in dict.fromkeys(row.get("dataset") for row in rows):
        group = [row for row in rows if row.get("dataset") == dataset]
        setting = "p_values" if by == "p" else "length_bins"
        shared = {setting: [tuple(_setting(row, setting)) for row in group],
                  "typed": [row.get("typed") for row in group]}
        if by == "length":
            shared["score_p"] = [row.get("score_p") for row in group]
        for name, values in shared.items():
            if len(set(values)) > 1:
                raise ValueError(f"dataset {dataset!r}: the runs have different {name}; tabulate them apart")
        systems = Counter((row.get("model_name"), row.get("method")) for row in group)
        repeated = [system for system, n in systems.items() if n > 1]
        if repeated:
            raise ValueError(f"dataset {dataset!r}: several rows for model {repeated[0][0]!r} with method "
                             f"{repeated[0][1]!r}; give one row per system")
        columns = _columns(shared[setting][0], by, metrics)
        unknown = [key for _, key in columns if all(key not in row for row in group)]
        if unknown:
            raise ValueError(f"dataset {dataset!r}: the results have no key {unknown[:5]}")
        first = columns[0][1]
        group.sort(key=lambda row: math.inf if (v := _number(row, first)) is None else -v)
        best = {key: max((v for row in group if (v := _number(row, key)) is not None), default=None)
                for _, key in columns}
        bold = fmt == "markdown" and len(group) > 1
        cells = [[_cell(row, key, digits, bold and _number(row, key) == best[key]) for _, key in columns]
                 for row in group]
        names = [_name(row) for row in group]
        header = ["model", *(title for title, _ in columns)]
        if fmt == "csv":
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows([header, *([name, *row] for name, row in zip(names, cells))])
            tables.append(out.getvalue().rstrip("\n"))
            continue
        level = _level(group)
        lines = [f"**{_markdown(str(dataset))}** ({group[0].get('n_folds')} folds, mean (SD)"
                 f"{f' [{level} bootstrap interval]' if level else ''})", "",
                 "| " + " | ".join(map(_markdown, header)) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join([_markdown(name), *row]) + " |" for name, row in zip(names, cells)]
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def _level(rows: Sequence[Mapping[str, Any]]) -> str:
    """"95%" when the rows' cells carry bootstrap intervals (one level: "95%/90%" when they differ)."""
    levels = []
    for row in rows:
        settings = row.get("bootstrap")
        settings = json.loads(settings) if isinstance(settings, str) else settings
        if isinstance(settings, Mapping) and _is_real(settings.get("confidence_level")):
            levels.append(f"{settings['confidence_level']:.0%}")
    return "/".join(dict.fromkeys(levels))


def _name(row: Mapping[str, Any]) -> str:
    return str(row.get("model_name")) + (f" ({row['method']})" if row.get("method") else "")


def _markdown(text: str) -> str:
    """A table cell: ``\\`` and ``|`` escaped, line breaks as spaces, so the row keeps its columns."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").splitlines())


def _setting(row: Mapping[str, Any], name: str) -> list:
    """``p_values`` or ``length_bins`` of a row, as saved or as :func:`load_results` stores it (JSON
    text); an in-memory row may hold p = inf."""
    if name not in row:
        raise ValueError(f"{_name(row)}: the row has no {name!r}")
    value = row[name]
    try:
        if isinstance(value, str):
            value = json.loads(value)
        return _check_p_values(value, finite=False) if name == "p_values" else _check_length_bins(value)
    except ValueError as e:  # JSONDecodeError included
        raise ValueError(f"{_name(row)}: {name} {row[name]!r} is not a list of p values (length bins): {e}") from None


def _number(row: Mapping[str, Any], key: str) -> float | None:
    """A result value, None where it is undefined (null in the file, NaN in memory)."""
    value = row.get(key)
    if value is None:
        return None
    if not _is_real(value):
        raise ValueError(f"{_name(row)}: result {key!r} is {value!r}, not a number")
    return None if math.isnan(value) else float(value)


def _columns(setting: Sequence[Any], by: str, metrics: Sequence[str]) -> list[tuple[str, str]]:
    if by == "p":
        groups = [(f"p={format_p(p)}", f"p{format_p(p)}") for p in setting]
    else:
        groups = [(bin_name(*b), f"len_{bin_name(*b)}") for b in setting]
    return [(f"{title} {metric}", f"{prefix}_{metric}") for title, prefix in groups for metric in metrics]


def _cell(row: Mapping[str, Any], key: str, digits: int, bold: bool) -> str:
    mean, sd = _number(row, key), _number(row, f"{key}_sd")
    if mean is None:
        return "-"  # undefined: no spans of that bin or label in any fold
    text = f"**{mean:.{digits}f}**" if bold else f"{mean:.{digits}f}"
    text = text if sd is None else f"{text} ({sd:.{digits}f})"
    low, high = _number(row, f"{key}_ci_low"), _number(row, f"{key}_ci_high")
    return text if low is None or high is None else f"{text} [{low:.{digits}f}, {high:.{digits}f}]"
