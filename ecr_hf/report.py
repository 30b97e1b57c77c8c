"""seqeval-style strict span report over character spans, and tag sequences to spans.

``classification_report`` is seqeval's ``classification_report(mode="strict")`` computed on spans:
a predicted span counts only if a gold span in the same document has the same start, end and label.
Unlike the ``evaluate`` seqeval module it keeps ``macro avg`` and ``weighted avg``. Spans are sets:
a span listed twice in one document counts once on its side (BIO tags cannot repeat a chunk, so this
is what seqeval does). Unlabelled spans are reported under ``"_"``, seqeval's name for untyped chunks.

``bio_to_spans`` turns tag sequences into token spans ``[start, end)`` the way seqeval does, in
``mode="strict"`` (chunks must follow the scheme; ill-formed runs are dropped) or in its default
conlleval mode (any I/E after O or after another type opens a chunk).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, Literal

import numpy as np

from .semeval import UNTYPED, _check_zero_division, _prf
from .spans import Span, pair_arrays

__all__ = ["SCHEMES", "bio_to_spans", "classification_report"]

# Strict schemes as data: allowed prefixes, prefixes that open a chunk, which prefix may follow which
# inside one chunk (same label only), and prefixes a chunk may end on.
SCHEMES = {
    "IOB2": dict(allowed="BIO", starts="B", follows={"B": "I", "I": "I"}, finals="BI"),
    "IOE2": dict(allowed="IEO", starts="IE", follows={"I": "IE"}, finals="E"),
    "IOBES": dict(allowed="BIESO", starts="BS", follows={"B": "IE", "I": "IE"}, finals="ES"),
    "BILOU": dict(allowed="BILUO", starts="BU", follows={"B": "IL", "I": "IL"}, finals="LU"),
}
_PREFIXES = "OBIESLU"  # code = index; O is 0
_CONLLEVAL = "BIESO"


def _parse(flat: list[str], base: np.ndarray, allowed: str, hint: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Prefix codes, label ids (-1 for none) and label names of a flat tag list (``base``: sequence starts)."""
    uniq = sorted(set(flat), key=str)
    index = {tag: k for k, tag in enumerate(uniq)}
    inverse = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    prefix, label, names = np.zeros(len(uniq), np.int64), np.full(len(uniq), -1, np.int64), {}
    for k, tag in enumerate(uniq):
        head, sep, name = tag.partition("-") if isinstance(tag, str) else ("", "", "")
        if tag != "O" and (len(head) != 1 or head not in allowed or head == "O" or (sep and not name)):
            at = int(np.flatnonzero(inverse == k)[0])
            seq = int(np.searchsorted(base, at, side="right")) - 1
            raise ValueError(f"invalid tag {tag!r} (sequence {seq}, token {at - base[seq]}): expected 'O' or "
                             f"PREFIX-LABEL with PREFIX in {sorted(set(allowed) - {'O'})}{hint}")
        prefix[k] = _PREFIXES.index(head)
        if name:
            label[k] = names.setdefault(name, len(names))
    return prefix[inverse], label[inverse], list(names)


def bio_to_spans(
    tags: Sequence[str] | Sequence[Sequence[str]],
    scheme: str = "IOB2",
    mode: Literal["strict", "default"] = "strict",
) -> list[Span] | list[list[Span]]:
    """Token spans of a tag sequence (or of a batch of sequences), as seqeval extracts them.

    ``mode="strict"`` matches seqeval's ``mode="strict", scheme=...``: for IOB2 a chunk is ``B-X``
    followed by ``I-X`` tokens, and a stray ``I-X`` is not an entity; IOE2, IOBES and BILOU chunks
    must also end on ``E``/``S`` (``L``/``U``). ``mode="default"`` matches seqeval's default
    conlleval rules (``scheme`` is then ignored): ``I-X`` after ``O`` or after another label starts a
    chunk, so nothing is dropped. Tags are ``O`` or ``PREFIX-LABEL``; a bare prefix (``B``) gives an
    unlabelled span. The work is vectorised over the whole batch.

    Args:
        tags: one sequence of tag strings, or a list of such sequences.
        scheme: ``"IOB2"``, ``"IOE2"``, ``"IOBES"`` or ``"BILOU"`` (or seqeval's scheme class).
        mode: ``"strict"`` or ``"default"``.

    Returns:
        ``Span(start, end, label)`` lists with token indices, end exclusive, in order of start; a list
        of them when ``tags`` is a batch.

    Examples:
        >>> bio_to_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
        [Span(start=0, end=2, label='PER'), Span(start=4, end=5, label='LOC')]
        >>> bio_to_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"], mode="default")[1]
        Span(start=3, end=4, label='LOC')
        >>> bio_to_spans([["S-X", "B-Y", "I-Y"], ["B-Y", "E-Y"]], scheme="IOBES")
        [[Span(start=0, end=1, label='X')], [Span(start=0, end=2, label='Y')]]
    """
    if isinstance(tags, str):
        raise ValueError(f"tags must be a sequence of tag strings, got the string {tags!r}; wrap it in a list")
    batch = len(tags) > 0 and not isinstance(tags[0], str)
    seqs = tags if batch else [tags]
    scheme = getattr(scheme, "__name__", scheme)
    if mode == "strict":
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; choose one of {list(SCHEMES)} (or mode='default')")
        rule = SCHEMES[scheme]
        allowed, hint = rule["allowed"], f" for scheme {scheme!r} (or use mode='default')"
    elif mode == "default":
        allowed, hint = _CONLLEVAL, " (conlleval tags; use mode='strict' for BILOU)"
    else:
        raise ValueError(f"mode must be 'strict' or 'default', got {mode!r}")

    # One flat array, each sequence followed by an 'O' separator so chunks never cross sequences.
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    tight = np.cumsum(lengths) - lengths
    codes, ids, names = _parse(list(chain.from_iterable(seqs)), tight, allowed, hint)
    base = tight + np.arange(len(seqs))
    where = np.arange(len(codes)) + np.repeat(np.arange(len(seqs)), lengths)
    prefix = np.zeros(len(codes) + len(seqs), dtype=np.int64)
    label = np.full(len(prefix), -1, dtype=np.int64)
    prefix[where], label[where] = codes, ids
    prev_p, prev_l = np.r_[0, prefix[:-1]], np.r_[-1, label[:-1]]
    retyped = prev_l != label
    if mode == "strict":
        follows = np.zeros((len(_PREFIXES),) * 2, dtype=bool)
        for a, bs in rule["follows"].items():
            follows[_PREFIXES.index(a), [_PREFIXES.index(b) for b in bs]] = True
        linked = follows[prev_p, prefix] & ~retyped
        inside = prefix != 0
        heads = np.flatnonzero(inside & ~linked)
        tails = np.flatnonzero(inside & ~np.r_[linked[1:], False])
        ok = np.isin(prefix[heads], [_PREFIXES.index(c) for c in rule["starts"]]) & np.isin(
            prefix[tails], [_PREFIXES.index(c) for c in rule["finals"]])
        starts, ends = heads[ok], tails[ok] + 1
    else:
        is_ = {c: prefix == _PREFIXES.index(c) for c in _CONLLEVAL}
        was = {c: prev_p == _PREFIXES.index(c) for c in _CONLLEVAL}
        opened = is_["B"] | is_["S"] | ((was["E"] | was["S"] | was["O"]) & (is_["E"] | is_["I"])) | (
            ~is_["O"] & retyped)
        closed = was["E"] | was["S"] | ((was["B"] | was["I"]) & (is_["B"] | is_["S"] | is_["O"])) | (
            ~was["O"] & retyped)
        starts, ends = np.flatnonzero(opened), np.flatnonzero(closed)
    seq = np.searchsorted(base, starts, side="right") - 1
    out: list[list[Span]] = [[] for _ in seqs]
    for k, s, e, lab in zip(seq.tolist(), (starts - base[seq]).tolist(), (ends - base[seq]).tolist(),
                            label[starts].tolist()):
        out[k].append(Span(s, e, names[lab] if lab >= 0 else None))
    return out if batch else out[0]


def _format(rows: dict[str, dict[str, Any]], digits: int) -> str:
    width = max([len(name) for name in rows] + [len("weighted avg"), digits])
    line = "{:>{w}s}  {:>9.{d}f} {:>9.{d}f} {:>9.{d}f} {:>9}"
    head = "{:>{w}s}  {:>9} {:>9} {:>9} {:>9}".format("", "precision", "recall", "f1-score", "support", w=width)
    body = [line.format(n, r["precision"], r["recall"], r["f1-score"], r["support"], w=width, d=digits)
            for n, r in rows.items()]
    n_labels = len(rows) - 3
    return "\n".join([head, "", *body[:n_labels], "", *body[n_labels:], ""])


def classification_report(
    references: Iterable[Any],
    predictions: Iterable[Any],
    *,
    digits: int = 2,
    output_dict: bool = True,
    zero_division: float = 0.0,
) -> dict[str, dict[str, float | int]] | str:
    """Per-label strict span precision/recall/F1/support with micro, macro and weighted averages.

    Args:
        references: gold spans, one list per document (``Span``, dicts or tuples).
        predictions: predicted spans, same number of documents.
        digits: decimals in the string form.
        output_dict: return a dict (default) or seqeval's text table.
        zero_division: precision when a label has no predictions, recall when it has no gold spans.

    Returns:
        ``{label: {"precision", "recall", "f1-score", "support"}, "micro avg": ..., "macro avg": ...,
        "weighted avg": ...}`` (seqeval's keys; labels sorted, only those seen on either side), or the
        same as a string. Macro averages the labels' scores; weighted weights them by support.

    Examples:
        >>> gold = [[(0, 3, "PER"), (5, 8, "LOC")], [(0, 4, "PER")]]
        >>> pred = [[(0, 3, "PER"), (5, 7, "LOC")], [(0, 4, "PER"), (0, 4, "PER")]]
        >>> report = classification_report(gold, pred)
        >>> report["PER"]
        {'precision': 1.0, 'recall': 1.0, 'f1-score': 1.0, 'support': 2}
        >>> round(report["micro avg"]["f1-score"], 4), report["macro avg"]["f1-score"]
        (0.6667, 0.5)
        >>> print(classification_report(gold, pred, output_dict=False))
                      precision    recall  f1-score   support
        <BLANKLINE>
                 LOC       0.00      0.00      0.00         1
                 PER       1.00      1.00      1.00         2
        <BLANKLINE>
           micro avg       0.67      0.67      0.67         3
           macro avg       0.50      0.50      0.50         3
        weighted avg       0.67      0.67      0.67         3
        <BLANKLINE>
    """
    zero_division = _check_zero_division(zero_division)
    gold, pred = pair_arrays(references, predictions)
    g_keys = np.unique(np.stack([gold.doc, gold.start, gold.end, gold.label], axis=1), axis=0)
    p_keys = np.unique(np.stack([pred.doc, pred.start, pred.end, pred.label], axis=1), axis=0)
    both, seen = np.unique(np.concatenate([g_keys, p_keys]), axis=0, return_counts=True)
    n = len(gold.labels) + 1  # slot 0 is the unlabelled "_"
    true_sum = np.bincount(g_keys[:, 3] + 1, minlength=n)
    pred_sum = np.bincount(p_keys[:, 3] + 1, minlength=n)
    tp_sum = np.bincount(both[seen == 2, 3] + 1, minlength=n)
    names = [UNTYPED, *gold.labels]
    present = sorted((names[k], k) for k in range(n) if true_sum[k] or pred_sum[k])

    rows: dict[str, dict[str, Any]] = {}
    for name, k in present:
        p, r, f = _prf(int(tp_sum[k]), int(true_sum[k]), int(pred_sum[k]), zero_division)
        rows[name] = {"precision": p, "recall": r, "f1-score": f, "support": int(true_sum[k])}
    p, r, f = _prf(int(tp_sum.sum()), int(true_sum.sum()), int(pred_sum.sum()), zero_division)
    total = int(true_sum.sum())
    micro = {"precision": p, "recall": r, "f1-score": f, "support": total}
    scores = np.array([[row["precision"], row["recall"], row["f1-score"]] for row in rows.values()]).reshape(-1, 3)
    support = np.array([row["support"] for row in rows.values()], dtype=np.float64)
    if len(rows) == 0:
        macro, weighted = dict(micro), dict(micro)
    else:
        macro = dict(zip(("precision", "recall", "f1-score"), map(float, scores.mean(axis=0))), support=total)
        if total == 0:  # seqeval/scikit-learn: no gold spans at all
            none_predicted = pred_sum.sum() == 0
            weighted = {"precision": zero_division if none_predicted else 0.0, "recall": zero_division,
                        "f1-score": zero_division if none_predicted else 0.0, "support": 0}
        else:
            avg = np.average(scores, axis=0, weights=support)
            weighted = dict(zip(("precision", "recall", "f1-score"), map(float, avg)), support=total)
    rows.update({"micro avg": micro, "macro avg": macro, "weighted avg": weighted})
    return rows if output_dict else _format(rows, digits)
