"""Token-level precision/recall/F1 over character spans: each token is one position to classify.

A token is positive when it overlaps a span (``typed=True``: positive for a label when it overlaps a
span with that label, so with overlapping spans one token can be positive for several labels). The
token offsets come from ``token_offsets``, from a Hugging Face fast tokenizer applied to ``texts``, or,
when neither is given, from whitespace tokenization of ``texts`` (regex ``\\S+``). Empty tokens
(``start == end``, e.g. some byte-level pieces) overlap nothing and are never positive.

Counting is vectorised and independent of how large the offsets are: spans and tokens of all
documents go on one number line (:func:`ecr_hf.spans.number_line`), the spans sorted by start with
a running maximum of their ends, and a token ``[s, e)`` is positive when the spans starting before
``e`` reach past ``s`` (one ``searchsorted`` per token). Token offsets follow the span offset rules:
integers (never bools) in ``[0, OFFSET_LIMIT)``. Texts may hold lone surrogates: whitespace
tokenization reads code points, it never encodes to UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from .semeval import UNTYPED, _check_zero_division, _prf
from ..spans.span import OFFSET_LIMIT, SpanError, _holds_bool, _offsets_ok, check_texts, number_line, pair_arrays

__all__ = ["whitespace_offsets", "token_scores"]

# Code points for which str.isspace() holds, i.e. what the regex \s matches (all are below U+3001).
_SPACES = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def _whitespace_tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(doc, start, end)`` of the regex ``\\S+`` matches of all texts, vectorised over code points."""
    width = np.array([len(t) + 1 for t in texts], dtype=np.int64)  # +1: a separating space
    first = np.cumsum(width) - width
    codes = np.frombuffer(" ".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    edge = np.diff(np.r_[False, ~np.isin(codes, _SPACES), False].astype(np.int8))
    start, end = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    doc = np.searchsorted(first, start, side="right") - 1
    return doc, start - first[doc], end - first[doc]


def whitespace_offsets(text: str) -> list[tuple[int, int]]:
    """Character offsets ``(start, end)`` of the regex ``\\S+`` matches (non-whitespace runs) of ``text``.

    Examples:
        >>> whitespace_offsets("  heart\\u00a0 failure\\n")
        [(2, 7), (9, 16)]
    """
    _, start, end = _whitespace_tokens([text])
    return list(zip(start.tolist(), end.tolist()))


def _tokens(token_offsets, tokenizer, texts, n_docs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat ``(doc, start, end)`` token arrays from explicit offsets, a tokenizer or whitespace."""
    if token_offsets is not None and tokenizer is not None:
        raise ValueError("give either token_offsets or tokenizer, not both")
    if token_offsets is None and texts is None:
        raise ValueError("token_scores needs token_offsets, or texts (tokenized by tokenizer, or on whitespace)")
    if token_offsets is None and tokenizer is None:
        return _whitespace_tokens(list(texts))
    if token_offsets is None:
        token_offsets = tokenizer(list(texts), return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    token_offsets = list(token_offsets)
    if len(token_offsets) != n_docs:
        raise SpanError(f"got {len(token_offsets)} token offset lists for {n_docs} documents; give one per document")
    try:
        counts = [len(o) for o in token_offsets]
        rows = list(chain.from_iterable(token_offsets))
        flat = np.array(rows) if rows else np.zeros((0, 2), np.int64)
        ok = flat.ndim == 2 and flat.shape[1] == 2 and flat.dtype.kind in "iu" and not _holds_bool(rows, flat)
    except (TypeError, ValueError):  # ragged or not iterable
        ok = False
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), counts) if ok else None
    if ok:
        big = (flat >= OFFSET_LIMIT).any(axis=1)  # before the int64 cast (uint64 input)
        flat = flat.astype(np.int64)
        bad = big | (flat < 0).any(axis=1) | (flat[:, 1] < flat[:, 0])
        if not bad.any():
            return doc, flat[:, 0], flat[:, 1]
        k = int(doc[np.argmax(bad)])
    else:
        k = next((j for j, o in enumerate(token_offsets) if not _token_doc_ok(o)), 0)
    raise SpanError(f"document {k}: token offsets must be integer pairs (start, end), not bools, with "
                    f"0 <= start <= end < {OFFSET_LIMIT} (2**53), got {list(token_offsets[k])[:5]}...")


def _token_doc_ok(offsets: Any) -> bool:
    """Whether one document's token offsets are well formed (only to name the bad document)."""
    try:
        rows = list(offsets)
        return all(len(r) == 2 for r in rows) and _offsets_ok(chain.from_iterable(rows)) and all(
            0 <= a <= b < OFFSET_LIMIT for a, b in rows)
    except TypeError:
        return False


def _hits(span_start: np.ndarray, span_end: np.ndarray, tok_start: np.ndarray, tok_end: np.ndarray) -> np.ndarray:
    """Which tokens overlap at least one span; all are positions on one number line.

    Spans sorted by start with the running maximum of their ends: a token ``[s, e)`` overlaps a span
    iff the spans starting before ``e`` reach past ``s`` (earlier documents end before it starts).
    """
    order = np.argsort(span_start, kind="stable")
    starts, reach = span_start[order], np.maximum.accumulate(span_end[order])
    before = np.searchsorted(starts, tok_end, side="left")
    hit = np.zeros(len(tok_start), dtype=bool)
    some = before > 0
    hit[some] = reach[before[some] - 1] > tok_start[some]
    return hit & (tok_end > tok_start)  # an empty token overlaps nothing


def _block(gold_hit: np.ndarray, pred_hit: np.ndarray, zero_division: float) -> dict[str, float | int]:
    tp, fp, fn = int((gold_hit & pred_hit).sum()), int((~gold_hit & pred_hit).sum()), int((gold_hit & ~pred_hit).sum())
    p, r, f = _prf(tp, tp + fn, tp + fp, zero_division)
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def token_scores(
    references: Iterable[Any],
    predictions: Iterable[Any],
    *,
    token_offsets: Sequence[Sequence[tuple[int, int]]] | None = None,
    tokenizer: Any = None,
    texts: Sequence[str] | None = None,
    typed: bool = False,
    zero_division: float = 0.0,
    empty_spans: str = "error",
) -> dict[str, Any]:
    """Token-level precision, recall and F1 of predicted character spans against gold spans.

    Args:
        references: gold spans, one list per document.
        predictions: predicted spans, same number of documents.
        token_offsets: per document, ``(start, end)`` character offsets of its tokens.
        tokenizer: a Hugging Face fast tokenizer; offsets come from
            ``tokenizer(texts, return_offsets_mapping=True, add_special_tokens=False)``.
        texts: the documents' texts; needed with ``tokenizer`` or for the whitespace default, and
            used to check that span offsets fit the text.
        typed: score (token, label) positions: a token counts for each label it is covered with.
        zero_division: precision when nothing is predicted, recall when nothing is gold.
        empty_spans: ``"error"`` (default) or ``"drop"`` spans with ``start == end``.

    Returns:
        ``{"precision", "recall", "f1", "tp", "fp", "fn", "n_tokens"}``; with ``typed=True`` the
        scores are micro-averaged over labels and ``"per_label": {label: {...}}`` is added
        (unlabelled spans under ``"_"``).

    Examples:
        >>> text = "acute heart failure and fever"
        >>> gold, pred = [[(6, 19, "DIS")]], [[(0, 11, "DIS"), (24, 29, "SYM")]]
        >>> out = token_scores(gold, pred, texts=[text])
        >>> {k: out[k] for k in ("tp", "fp", "fn", "n_tokens")}
        {'tp': 1, 'fp': 2, 'fn': 1, 'n_tokens': 5}
        >>> token_scores(gold, pred, texts=[text], typed=True)["per_label"]["SYM"]["fp"]
        1
    """
    zero_division = _check_zero_division(zero_division)
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)
    n_docs = len(references)
    tok_doc, tok_start, tok_end = _tokens(token_offsets, tokenizer, check_texts(texts, n_docs), n_docs)
    gs, ge, ps, pe, ts, te = number_line((gold.doc, gold.start), (gold.doc, gold.end), (pred.doc, pred.start),
                                         (pred.doc, pred.end), (tok_doc, tok_start), (tok_doc, tok_end))

    def hits(start, end, mask):
        return _hits(start[mask], end[mask], ts, te)

    if not typed:
        every = slice(None)
        return {**_block(hits(gs, ge, every), hits(ps, pe, every), zero_division), "n_tokens": len(tok_doc)}
    per_label, tp, fp, fn = {}, 0, 0, 0
    for k, name in [(-1, UNTYPED)] + list(enumerate(gold.labels)):
        g_mask, p_mask = gold.label == k, pred.label == k
        if g_mask.any() or p_mask.any():
            block = _block(hits(gs, ge, g_mask), hits(ps, pe, p_mask), zero_division)
            per_label[name] = block
            tp, fp, fn = tp + block["tp"], fp + block["fp"], fn + block["fn"]
    p, r, f = _prf(tp, tp + fn, tp + fp, zero_division)
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn, "n_tokens": len(tok_doc),
            "per_label": dict(sorted(per_label.items()))}
