"""Attribute buckets: why a model misses what it misses (InterpretEval, Fu et al. 2020).

Fu, Liu and Neubig, "Interpretable Multi-dataset Evaluation for Named Entity Recognition" (EMNLP 2020;
code neulab/InterpretEval, ``tensorEvaluation-ner.py``) split the gold spans of a test set into buckets
by an *attribute* and score each bucket: recall over the gold spans in it, precision over the predicted
spans in it, each side bucketed by its own attribute value. Here each bucket gets the weighted soft
match at every p (:func:`ecr_hf.scoring.score_arrays`, not reimplemented) and strict P/R/F1. The
attributes, as InterpretEval's ``getAspectValue`` defines them, adapted to character offsets:

* ``elen_chars`` / ``elen_words`` (eLen): the mention's length in characters / in words (InterpretEval: tokens);
* ``econ`` (eCon): label consistency of the mention string in the training corpus. InterpretEval's value is
  the share of the string's training occurrences with this label (0 when unseen); its buckets here:
  ``consistent`` (seen, always with this label), ``inconsistent`` (seen, at least once with another
  label; also seen only with other labels, where InterpretEval's value is 0), ``unseen``;
* ``efre`` (eFre): how often the mention string is a gold mention in training (any label);
* ``slen`` (sLen): the length of the unit in words; the unit is the document here (InterpretEval: the sentence);
* ``eden`` (eDen): gold spans per word of the unit (InterpretEval's code counts entity tokens per token);
* ``oden`` (oDen): the share of the unit's words not in the training vocabulary;
* ``label``: the span's label (``_`` for none).

A *word* is a run of word characters or one other non-space character (regex ``\\w+|[^\\w\\s]``), so
punctuation counts as a word; the mention string is its words lower-cased and joined by one space, and
the training vocabulary is every lower-cased word of the training texts. Document attributes (slen, eden,
oden) come from the gold side for both sides, so that a bucket's precision and recall cover the same
documents. A gold span's words are the words it overlaps.

Buckets of a numeric attribute are ``(lo, hi)`` pairs: for integer attributes ``lo <= x <= hi`` (as the
length bins of :mod:`.soft_match`; InterpretEval writes ``(lo - 1, hi]``); for the densities InterpretEval's
``lo < x <= hi``; ``(v, v)`` is the value ``v`` alone and ``hi=None`` has no upper bound. Named ``2-4``,
``5+``, ``0``, ``0.02-0.05``. A value in no bucket is left out of that attribute; overlapping buckets are allowed.

Recall in a bucket is the soft recall of its gold spans against every predicted span (overlapping gold
spans of the bucket merged, as :func:`score_arrays` does), precision that of its predicted spans
against every gold span: each equals :func:`ecr_hf.span_metrics` on that subset of one side. Buckets
are small; ``per_document=True`` keeps the per-document counts so that :func:`~ecr_hf.scoring.bootstrap`
gives each bucket a document-level interval.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .semeval import _check_zero_division
from .significance import DocumentCounts
from .soft_match import (DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, _prf, check_p_values, format_p, per_document_counts,
                         score_arrays)
from ..spans.span import SpanArrays, check_empty_spans, pair_arrays

__all__ = ["ATTRIBUTES", "TRAIN_ATTRIBUTES", "DEFAULT_BUCKETS", "WORD_PATTERN", "bucket_scores", "bucket_flat",
           "bucket_rows"]

ATTRIBUTES: tuple[str, ...] = ("elen_chars", "elen_words", "econ", "efre", "slen", "eden", "oden", "label")
TRAIN_ATTRIBUTES: tuple[str, ...] = ("econ", "efre", "oden")  # these need the training corpus
_INTEGER = ("elen_chars", "elen_words", "efre", "slen")
_DENSITY = ("eden", "oden")
ECON_BUCKETS: tuple[str, ...] = ("consistent", "inconsistent", "unseen")
DEFAULT_BUCKETS: dict[str, tuple[tuple[float, float | None], ...]] = {
    "elen_chars": DEFAULT_LENGTH_BINS,
    "elen_words": ((1, 1), (2, 2), (3, 4), (5, None)),
    "efre": ((0, 0), (1, 1), (2, 4), (5, None)),
    "slen": ((1, 100), (101, 250), (251, 500), (501, 1000), (1001, None)),
    "eden": ((0, 0), (0, 0.02), (0.02, 0.05), (0.05, 0.1), (0.1, None)),
    "oden": ((0, 0), (0, 0.02), (0.02, 0.05), (0.05, 0.1), (0.1, None)),
}
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
_METRICS = ("precision", "recall", "f1")


def _name(lo: float, hi: float | None) -> str:
    """Key form of a bucket: ``(2, 4) -> "2-4"``, ``(5, None) -> "5+"``, ``(0, 0) -> "0"``."""
    def text(x: float) -> str:
        return str(int(x)) if float(x) == int(x) else f"{x:g}"

    return f"{text(lo)}+" if hi is None else text(lo) if hi == lo else f"{text(lo)}-{text(hi)}"


def _check_buckets(attribute: str, bins: Any) -> tuple[tuple[float, float | None], ...]:
    """``(lo, hi)`` pairs with ``0 <= lo <= hi`` (or ``hi=None``); integers for the integer attributes."""
    integer = attribute in _INTEGER
    if isinstance(bins, (str, bytes, Mapping)) or not isinstance(bins, Iterable):
        raise ValueError(f"buckets of {attribute} must be a list of (lo, hi) pairs, got {bins!r}")
    out = []
    for b in bins:
        ok = isinstance(b, (Sequence, np.ndarray)) and not isinstance(b, (str, bytes)) and len(b) == 2
        lo, hi = b if ok else (None, None)

        def good(x: Any) -> bool:
            kind = (int, np.integer) if integer else numbers.Real
            return isinstance(x, kind) and not isinstance(x, (bool, np.bool_)) and math.isfinite(x) and x >= 0

        if not (ok and good(lo) and (hi is None or (good(hi) and hi >= lo))):
            what = "integers" if integer else "finite numbers"
            raise ValueError(f"bucket {b!r} of {attribute} is invalid; give (lo, hi) with {what} 0 <= lo <= hi, "
                             "or (lo, None)")
        out.append((lo, hi))
    if not out:
        raise ValueError(f"no buckets for {attribute}; give at least one (lo, hi) pair")
    return tuple(out)


def _masks(attribute: str, values: np.ndarray, bins: tuple[tuple[float, float | None], ...]) -> dict[str, np.ndarray]:
    """Which spans fall in each bucket: ``lo <= x <= hi`` (integers) or ``lo < x <= hi`` (densities)."""
    out = {}
    for lo, hi in bins:
        low = values >= lo if attribute in _INTEGER or lo == hi else values > lo
        out[_name(lo, hi)] = low & (values <= hi) if hi is not None else low
    return out


class _Words:
    """The words of a corpus on one number line: document ``d``'s offsets shifted by ``base[d]``."""

    def __init__(self, texts: Sequence[str]):
        spans = [[m.span() for m in WORD_PATTERN.finditer(t)] for t in texts]
        self.base = np.r_[0, np.cumsum([len(t) + 1 for t in texts])].astype(np.int64)
        count = np.array([len(s) for s in spans], dtype=np.int64)
        doc = np.repeat(np.arange(len(texts)), count)
        pairs = np.array([x for s in spans for x in s], dtype=np.int64).reshape(-1, 2)
        self.start, self.end = pairs[:, 0] + self.base[doc], pairs[:, 1] + self.base[doc]
        self.doc, self.per_doc, self._texts = doc, count, texts

    def lower(self) -> np.ndarray:
        """Every word, lower-cased (only oden needs them)."""
        return np.char.lower(np.array([w for t in self._texts for w in WORD_PATTERN.findall(t)], dtype=str))

    def overlapping(self, arr: SpanArrays) -> np.ndarray:
        """Words each span overlaps (word end > span start and word start < span end)."""
        s, e = arr.start + self.base[arr.doc], arr.end + self.base[arr.doc]
        return np.searchsorted(self.start, e, side="left") - np.searchsorted(self.end, s, side="right")


def _mention(text: str) -> str:
    return " ".join(WORD_PATTERN.findall(text.lower()))


def _label_names(arr: SpanArrays) -> np.ndarray:
    names = np.array([*arr.labels, "_"], dtype=object)
    return names[arr.label]  # -1 (no label) picks the last, "_"


class _Training:
    """What the training corpus tells: mention strings with their label counts, and the vocabulary."""

    def __init__(self, train: Any):
        if not (isinstance(train, (tuple, list)) and len(train) == 2):
            raise ValueError("train must be a (texts, references) pair: the training texts and their gold span "
                             f"lists, one per text; got {type(train).__name__}")
        texts, refs = train
        gold, _ = pair_arrays(refs, [[] for _ in range(len(refs))], texts, "drop")
        names = _label_names(gold)
        self.mentions: dict[str, Counter] = {}
        for d, s, e, name in zip(gold.doc.tolist(), gold.start.tolist(), gold.end.tolist(), names):
            self.mentions.setdefault(_mention(texts[d][s:e]), Counter())[name] += 1
        self.vocabulary = np.array(sorted({w for t in texts for w in WORD_PATTERN.findall(t.lower())}), dtype=str)


def _values(attribute: str, arr: SpanArrays, texts: Sequence[str], words: _Words, doc_values: dict[str, np.ndarray],
            mentions: list[str], training: _Training | None) -> np.ndarray:
    """Each span's value of ``attribute`` (names for econ and label)."""
    if attribute == "elen_chars":
        return arr.end - arr.start
    if attribute == "elen_words":
        return words.overlapping(arr)
    if attribute == "label":
        return _label_names(arr)
    if attribute in doc_values:
        return doc_values[attribute][arr.doc]
    assert training is not None
    if attribute == "efre":
        return np.array([sum(training.mentions.get(m, {}).values()) for m in mentions], dtype=np.int64)
    names = _label_names(arr)  # econ
    out = []
    for m, name in zip(mentions, names):
        seen = training.mentions.get(m)
        out.append("unseen" if not seen else "consistent" if seen.keys() == {name} else "inconsistent")
    return np.array(out, dtype=object)


def _subset(arr: SpanArrays, mask: np.ndarray) -> SpanArrays:
    return arr._with(doc=arr.doc[mask], start=arr.start[mask], end=arr.end[mask], label=arr.label[mask])


def _strict_flags(gold: SpanArrays, pred: SpanArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per span: the first of its equal ``(doc, start, end, label)`` rows on its side (spans are sets, as in
    :func:`~ecr_hf.scoring.report.strict_counts`), and whether the other side has that row. Equal rows
    share every attribute value, so a bucket's distinct spans are its first rows: one sort for all buckets."""
    n = len(gold)
    keys = [np.concatenate([getattr(gold, f), getattr(pred, f)]) for f in ("doc", "start", "end", "label")]
    order = np.lexsort(keys[::-1])
    new = np.ones(len(order), dtype=bool)
    if len(order):
        new[1:] = np.any([np.diff(k[order]) != 0 for k in keys], axis=0)
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    g_group, q_group = group[:n], group[n:]
    in_gold, in_pred = (np.bincount(g, minlength=int(new.sum())) > 0 for g in (g_group, q_group))

    def first(g: np.ndarray) -> np.ndarray:
        out = np.zeros(len(g), dtype=bool)
        out[np.unique(g, return_index=True)[1]] = True
        return out

    return first(g_group), in_pred[g_group], first(q_group), in_gold[q_group]


def _bucket(gold: SpanArrays, pred: SpanArrays, g_mask: np.ndarray, q_mask: np.ndarray, n_docs: int,
            p_values: tuple[float, ...], typed: bool, zero_division: float,
            strict: tuple[np.ndarray, ...]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One bucket's scores (recall from its gold spans, precision from its predicted spans) and the
    per-document counts behind them (the columns a document bootstrap resamples)."""
    by_recall = per_document_counts(_subset(gold, g_mask), pred, n_docs, p_values=p_values, typed=typed)
    by_precision = per_document_counts(gold, _subset(pred, q_mask), n_docs, p_values=p_values, typed=typed)
    columns: dict[str, np.ndarray] = {"pred_chars": by_precision["pred_chars"], "gold_chars": by_recall["gold_chars"]}
    scores = {}
    for k, p in enumerate(p_values):
        columns[f"p{format_p(p)}_precision_tp"] = by_precision["precision_tp"][:, k]
        columns[f"p{format_p(p)}_recall_tp"] = by_recall["recall_tp"][:, k]
        scores[p] = _prf(float(by_precision["precision_tp"][:, k].sum()), float(columns["pred_chars"].sum()),
                         float(by_recall["recall_tp"][:, k].sum()), float(columns["gold_chars"].sum()), zero_division)
    g_first, g_hit, q_first, q_hit = strict
    for name, doc, keep in (("strict_n_pred", pred.doc, q_first & q_mask), ("strict_hit_pred", pred.doc,
                            q_first & q_mask & q_hit), ("strict_n_gold", gold.doc, g_first & g_mask),
                            ("strict_hit_gold", gold.doc, g_first & g_mask & g_hit)):
        columns[name] = np.bincount(doc[keep], minlength=n_docs).astype(np.float64)
    n_r, n_p, hit_r, hit_p = (float(columns[c].sum()) for c in ("strict_n_gold", "strict_n_pred", "strict_hit_gold",
                                                                  "strict_hit_pred"))
    entry = {"n_gold": int(g_mask.sum()), "n_pred": int(q_mask.sum()), "p": scores,
             "strict": _prf(hit_p, n_p, hit_r, n_r, zero_division)}
    return entry, columns


def _document_counts(columns: dict[str, dict[str, np.ndarray]], p_values: tuple[float, ...], typed: bool,
                     zero_division: float) -> DocumentCounts:
    """Every bucket's per-document counts as one :class:`DocumentCounts`, its keys the flat keys."""
    names, arrays, scores = [], [], {}
    for prefix, cols in columns.items():
        index = {}
        for name, values in cols.items():
            index[name] = len(names)
            names.append(prefix + name)
            arrays.append(values)
        for k, p in enumerate(p_values):
            idx = (index[f"p{format_p(p)}_precision_tp"], index["pred_chars"], index[f"p{format_p(p)}_recall_tp"],
                   index["gold_chars"])
            if k == 0:
                scores[prefix] = idx
            scores[f"{prefix}p{format_p(p)}_"] = idx
        scores[f"{prefix}strict_"] = (index["strict_hit_pred"], index["strict_n_pred"], index["strict_hit_gold"],
                                      index["strict_n_gold"])
    n_docs = len(arrays[0]) if arrays else 0
    counts = np.stack(arrays, axis=1) if arrays else np.zeros((n_docs, 0))
    return DocumentCounts(counts, tuple(names), scores, None, zero_division, bool(typed))


def bucket_scores(
    references: Sequence[Iterable[Any] | None],
    predictions: Sequence[Iterable[Any] | None],
    *,
    texts: Sequence[str],
    train: tuple[Sequence[str], Sequence[Iterable[Any]]] | None = None,
    attributes: Sequence[str] | None = None,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    length_bins: Sequence[tuple[int, int | None]] | None = None,
    buckets: Mapping[str, Sequence[tuple[float, float | None]]] | None = None,
    typed: bool = False,
    zero_division: float = 0.0,
    empty_spans: str = "error",
    per_document: bool = False,
) -> dict[str, Any]:
    """Scores per attribute bucket (see the module docstring for the attributes and buckets).

    Args:
        references, predictions: gold and predicted spans per document, as :func:`soft_match_scores`.
        texts: the documents' texts (words, mention strings).
        train: ``(texts, references)`` of the training corpus; ``econ``, ``efre`` and ``oden`` need it.
        attributes: which of :data:`ATTRIBUTES` (None: all, less those needing ``train`` when it is None).
        p_values: the soft match's p values; the first is the main one (``unseen_recall``, flat ``{m}`` keys).
        length_bins: buckets of ``elen_chars`` (None: the default length bins), as ``buckets["elen_chars"]``.
        buckets: ``{attribute: [(lo, hi), ...]}`` replacing :data:`DEFAULT_BUCKETS` for numeric attributes.
        typed, zero_division, empty_spans: as :func:`soft_match_scores`.
        per_document: also return ``"document_counts"``, a :class:`~ecr_hf.scoring.DocumentCounts` of every
            bucket, so that :func:`~ecr_hf.scoring.bootstrap` gives document-level intervals keyed by the flat keys.

    Returns:
        ``{"p_values", "typed", "n_documents", "attributes": {attribute: {bucket: {"n_gold", "n_pred",
        "p": {p: {precision, recall, f1}}, "strict": {precision, recall, f1}}}}, "values": {attribute:
        {"gold": array, "pred": array}}}`` and, with ``train``, ``"unseen_recall"``: the soft recall at the
        main p of the gold spans whose mention string is no training mention.
    """
    p_values = check_p_values(p_values)
    check_empty_spans(empty_spans)
    zero_division = _check_zero_division(zero_division)
    if texts is None:
        raise ValueError("bucket_scores needs the documents' texts (texts=...): words and mentions come from them")
    if attributes is None:
        attributes = [a for a in ATTRIBUTES if train is not None or a not in TRAIN_ATTRIBUTES]
    elif isinstance(attributes, str):
        attributes = [attributes]
    attributes = list(dict.fromkeys(attributes))
    unknown = [a for a in attributes if a not in ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown attributes {unknown}; choose from {list(ATTRIBUTES)}")
    need = [a for a in attributes if a in TRAIN_ATTRIBUTES]
    if need and train is None:
        raise ValueError(f"attributes {need} need the training corpus: pass train=(texts, references) "
                         "(ecr-hf buckets --train FILE), or leave them out")
    bins = {**DEFAULT_BUCKETS, **({"elen_chars": length_bins} if length_bins is not None else {}), **(buckets or {})}
    unknown = [a for a in (buckets or {}) if a not in DEFAULT_BUCKETS]
    if unknown:
        raise ValueError(f"buckets given for {unknown}; only numeric attributes take them: {list(DEFAULT_BUCKETS)}")
    bins = {a: _check_buckets(a, bins[a]) for a in attributes if a in bins}

    gold, pred = pair_arrays(references, predictions, texts, empty_spans)
    texts = list(texts)
    n_docs = len(references)
    training = _Training(train) if train is not None else None
    words = _Words(texts)
    n_words = words.per_doc.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        doc_values = {"slen": words.per_doc,
                      "eden": np.where(n_words > 0, np.bincount(gold.doc, minlength=n_docs) / n_words, 0.0)}
        if training is not None:
            oov = ~np.isin(words.lower(), training.vocabulary)
            doc_values["oden"] = np.where(n_words > 0, np.bincount(words.doc, weights=oov, minlength=n_docs) / n_words,
                                          0.0)
    mentions = {}
    if training is not None:  # the per-span string work, done once per side
        for side, arr in (("gold", gold), ("pred", pred)):
            mentions[side] = [_mention(texts[d][s:e]) for d, s, e in
                              zip(arr.doc.tolist(), arr.start.tolist(), arr.end.tolist())]
    options = dict(p_values=p_values, typed=typed, empty_spans=empty_spans)
    strict = _strict_flags(gold, pred)
    columns: dict[str, dict[str, np.ndarray]] = {}
    result: dict[str, Any] = {"p_values": p_values, "typed": typed, "n_documents": n_docs, "attributes": {},
                              "values": {}}
    for attribute in attributes:
        g_val, q_val = (_values(attribute, arr, texts, words, doc_values, mentions.get(side, []), training)
                        for side, arr in (("gold", gold), ("pred", pred)))
        result["values"][attribute] = {"gold": g_val, "pred": q_val}
        if attribute in bins:
            g_masks, q_masks = _masks(attribute, g_val, bins[attribute]), _masks(attribute, q_val, bins[attribute])
        else:
            names = ECON_BUCKETS if attribute == "econ" else sorted(set(g_val.tolist()) | set(q_val.tolist()))
            g_masks, q_masks = ({n: v == n for n in names} for v in (g_val, q_val))
        result["attributes"][attribute] = {}
        for name in g_masks:
            entry, cols = _bucket(gold, pred, g_masks[name], q_masks[name], n_docs, p_values, typed, zero_division,
                                  strict)
            result["attributes"][attribute][name] = entry
            if per_document:
                columns[f"bucket_{attribute}_{name}_"] = cols
    if training is not None:
        unseen = np.array([m not in training.mentions for m in mentions["gold"]], dtype=bool)
        recall = score_arrays(_subset(gold, unseen), pred, n_docs, length_bins=None, zero_division=zero_division,
                              **options)["p"][p_values[0]]["recall"]
        result["unseen_recall"] = float(recall)
    if per_document:
        result["document_counts"] = _document_counts(columns, p_values, typed, zero_division)
    return result


def bucket_flat(result: dict[str, Any]) -> dict[str, float]:
    """Flat float keys of :func:`bucket_scores`: ``bucket_{attribute}_{bucket}_{m}`` (main p),
    ``..._p{p}_{m}`` (each p), ``..._strict_{m}``, ``..._n_gold``, ``..._n_pred``; and ``unseen_recall``."""
    main = result["p_values"][0]
    flat: dict[str, float] = {}
    for attribute, by_bucket in result["attributes"].items():
        for name, entry in by_bucket.items():
            prefix = f"bucket_{attribute}_{name}_"
            flat.update({prefix + m: float(entry["p"][main][m]) for m in _METRICS})
            for p, scores in entry["p"].items():
                flat.update({f"{prefix}p{format_p(p)}_{m}": float(scores[m]) for m in _METRICS})
            flat.update({f"{prefix}strict_{m}": float(entry["strict"][m]) for m in _METRICS})
            flat.update({prefix + "n_gold": float(entry["n_gold"]), prefix + "n_pred": float(entry["n_pred"])})
    if "unseen_recall" in result:
        flat["unseen_recall"] = result["unseen_recall"]
    return flat


def bucket_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per bucket (``attribute``, ``bucket``, counts, soft P/R/F1 at each p, strict), for tables."""
    rows = []
    for attribute, by_bucket in result["attributes"].items():
        for name, entry in by_bucket.items():
            row: dict[str, Any] = {"attribute": attribute, "bucket": name, "n_gold": entry["n_gold"],
                                   "n_pred": entry["n_pred"]}
            for p, scores in entry["p"].items():
                row.update({f"p{format_p(p)}_{m}": scores[m] for m in _METRICS})
            row.update({f"strict_{m}": entry["strict"][m] for m in _METRICS})
            rows.append(row)
    return rows
