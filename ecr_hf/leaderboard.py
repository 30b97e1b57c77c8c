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
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from .outputs import atomic_write_text
from .scoring import span_metrics
from .soft_match import DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, bin_name, format_p

__all__ = ["cross_validation_indices", "cross_validation_splits", "cross_validate", "CrossValidationResult", "load_results", "leaderboard_table"]


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
    config: dict[str, Any] = field(default_factory=dict)  # model_name, dataset, method, ... (see save)

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
        """``{key: mean, key_sd: SD}`` for every key: the ``results`` of a leaderboard file."""
        sd = self.std()
        return {name: value for k, m in self.mean().items() for name, value in ((k, m), (f"{k}_sd", sd[k]))}

    def _settings(self) -> dict[str, Any]:
        return {"n_folds": len(self.folds), "p_values": list(self.p_values), "score_p": self.score_p,
                "typed": self.typed, "length_bins": [list(b) for b in self.length_bins]}

    def to_dict(self) -> dict[str, Any]:
        """The leaderboard file's content: ``config``, ``results`` (mean and SD) and ``folds``."""
        return {"config": {**self.config, **self._settings()}, "results": _json_floats(self.summary()),
                "folds": [_json_floats(f) for f in self.folds]}

    def save(self, path: str | Path, *, model_name: str, dataset: str, method: str | None = None,
             overwrite: bool = False, **config: Any) -> Path:
        """Write the leaderboard file (JSON) for ``model_name`` on ``dataset``; ``config`` adds any
        other description (``model_sha``, ``epochs``...). NaN (an SD from one fold) is written as null.

        The file is written atomically (a temporary file in the same folder, renamed): a failed write
        leaves the previous file whole. An existing file raises
        :class:`~ecr_hf.outputs.OutputExistsError` unless ``overwrite``. Each call describes this
        result afresh: :attr:`config` is not changed, so one call's ``config`` never leaks into the next.
        """
        from . import __version__

        settings = self._settings()
        reserved = sorted(set(config) & {*settings, "ecr_hf_version"})
        if reserved:
            raise ValueError(f"{path}: {reserved} are set from the result itself; do not pass them to save()")
        content = self.to_dict()
        content["config"] = {**self.config, "model_name": model_name, "dataset": dataset, "method": method,
                             **config, "ecr_hf_version": __version__, **settings}
        text = json.dumps(content, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        return atomic_write_text(path, text, overwrite=overwrite)


def _json_floats(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: None if math.isnan(v) else v for k, v in values.items()}


def cross_validate(
    references: Sequence[Sequence[Any]],
    predictions: Sequence[Sequence[Any]],
    *,
    texts: Sequence[Sequence[str] | None] | None = None,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float = 1.0,
    typed: bool = False,
    length_bins: Sequence[tuple[int, int | None]] = DEFAULT_LENGTH_BINS,
) -> CrossValidationResult:
    """Score each fold's test predictions against its gold spans.

    Args:
        references: one corpus per fold: that fold's gold span documents (span lists, or a
            ``datasets`` column such as ``folds[k]["test"]["entities"]``).
        predictions: one corpus per fold, the same documents in the same order.
        texts: one list of document texts per fold (or None), to check offsets against.
        p_values, score_p, typed, length_bins: as in :func:`ecr_hf.scoring.span_metrics`. A ratio with
            a zero denominator is 0.0 within a fold, except for length bins and labels: there it is
            undefined (NaN) and left out of the mean, so an empty bin does not pull a mean down.

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
    p_values = tuple(float(p) for p in p_values)
    folds = []
    for k, (refs, preds) in enumerate(zip(references, predictions)):
        try:
            scores = span_metrics(refs, preds, texts=None if texts is None else texts[k], p_values=p_values,
                                  score_p=score_p, typed=typed, length_bins=length_bins)
        except ValueError as e:
            raise type(e)(f"fold {k}: {e}") from e
        folds.append(_undefined_as_nan(scores, [f"len_{bin_name(*b)}" for b in length_bins]))
    return CrossValidationResult(folds, p_values, float(score_p), typed, tuple(tuple(b) for b in length_bins))


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


def load_results(paths: str | Path | Iterable[str | Path]) -> Dataset:
    """Leaderboard files (a folder of ``*.json``, or paths) as a ``Dataset``: one row per file, the
    ``config`` fields then the ``results`` keys as columns (None where a file lacks a key)."""
    if isinstance(paths, (str, Path)) and Path(paths).is_dir():
        paths = sorted(Path(paths).glob("*.json"))
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    rows = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not {"config", "results"} <= data.keys():
            raise ValueError(f"{path}: not a leaderboard file (expected 'config' and 'results')")
        config = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in data["config"].items()}
        rows.append({**config, **data["results"]})
    if not rows:
        raise ValueError("no leaderboard files found")
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return Dataset.from_dict({k: [row.get(k) for row in rows] for k in keys})


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
    ``mean (SD)`` (``-`` where no fold defines the value, e.g. a bin without spans); systems are
    sorted by the first column, and the best mean of each column is in bold (markdown). ``metrics``
    may name any metric the keys hold, e.g. ``marker_f1``. One table per data set; its runs must
    share their p values (length bins).
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
        if len({json.dumps(_listed(row[setting])) for row in group}) > 1:
            raise ValueError(f"dataset {dataset!r}: the runs have different {setting}; tabulate them apart")
        columns = _columns(group[0], by, metrics)
        unknown = [key for _, key in columns if all(key not in row for row in group)]
        if unknown:
            raise ValueError(f"dataset {dataset!r}: the results have no key {unknown[:5]}")
        first = columns[0][1]
        group.sort(key=lambda row: math.inf if (v := _number(row.get(first))) is None else -v)
        best = {key: max((v for row in group if (v := _number(row.get(key))) is not None), default=None)
                for _, key in columns}
        bold = fmt == "markdown" and len(group) > 1
        cells = [[_cell(row, key, digits, bold and _number(row.get(key)) == best[key]) for _, key in columns]
                 for row in group]
        names = [str(row.get("model_name")) + (f" ({row['method']})" if row.get("method") else "") for row in group]
        header = ["model", *(title for title, _ in columns)]
        if fmt == "csv":
            lines = [",".join(header)] + [",".join([name, *row]) for name, row in zip(names, cells)]
        else:
            lines = [f"**{dataset}** ({group[0].get('n_folds')} folds, mean (SD))", "",
                     "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join([name, *row]) + " |" for name, row in zip(names, cells)]
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def _listed(value: Any) -> list:
    """A config list, as saved or as :func:`load_results` stores it (JSON text)."""
    return json.loads(value) if isinstance(value, str) else list(value)


def _number(value: Any) -> float | None:
    """A result value, None where it is undefined (null in the file, NaN in memory)."""
    return None if value is None or math.isnan(value) else float(value)


def _columns(row: Mapping[str, Any], by: str, metrics: Sequence[str]) -> list[tuple[str, str]]:
    if by == "p":
        groups = [(f"p={format_p(p)}", f"p{format_p(p)}") for p in _listed(row["p_values"])]
    else:
        groups = [(bin_name(*b), f"len_{bin_name(*b)}") for b in _listed(row["length_bins"])]
    return [(f"{title} {metric}", f"{prefix}_{metric}") for title, prefix in groups for metric in metrics]


def _cell(row: Mapping[str, Any], key: str, digits: int, bold: bool) -> str:
    mean, sd = _number(row.get(key)), _number(row.get(f"{key}_sd"))
    if mean is None:
        return "-"  # undefined: no spans of that bin or label in any fold
    text = f"**{mean:.{digits}f}**" if bold else f"{mean:.{digits}f}"
    return text if sd is None else f"{text} ({sd:.{digits}f})"
