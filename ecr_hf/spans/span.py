"""The one span model of ecr-hf: half-open character spans ``[start, end)`` with an optional label.

Offsets are Python string indices, i.e. Unicode code points (not UTF-16 units, not bytes): a
non-BMP character such as an emoji counts as one, and so does a lone surrogate (``"\\ud800"``, a
valid JSON escape): nothing here encodes text to UTF-8. Every adapter (marked text, label
sequences, CoNLL, tokenizer offsets, ``evaluate`` modules, trainers) converts to and from this form.

One rule on every path (dicts, tuples, the fast array path, Arrow columns): offsets are integers
in ``[0, OFFSET_LIMIT)`` (``2**53``, where lengths stay exact in the float64 sums of the scores);
``bool`` is never an offset. A span is non-empty (``start < end``); an empty one (``start == end``)
is a :class:`SpanError` unless the caller passes ``empty_spans="drop"``, which drops it and counts
it (:attr:`SpanArrays.empty_dropped`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

__all__ = ["OFFSET_LIMIT", "EMPTY_SPANS", "Span", "SpanError", "to_span", "to_spans", "to_corpus", "SpanArrays",
           "pair_arrays", "number_line"]

OFFSET_LIMIT = 2**53
"""Offsets must be below this: lengths are summed in float64, exact up to 2**53."""
EMPTY_SPANS = ("error", "drop")
_LINE_LIMIT = 2**62  # positions on number_line's int64 line stay below this


class SpanError(ValueError):
    """Bad span input. The message names the document and the span, and says how to fix it."""


class Span(NamedTuple):
    """A half-open character span ``[start, end)``; ``label`` is ``None`` for untyped spans."""

    start: int
    end: int
    label: str | None = None

    @property
    def length(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


def _where(doc: int | None, i: int | None) -> str:
    parts = []
    if doc is not None:
        parts.append(f"document {doc}")
    if i is not None:
        parts.append(f"span {i}")
    return ", ".join(parts) + ": " if parts else ""


def check_empty_spans(empty_spans: str) -> str:
    """Validate the ``empty_spans`` option: ``"error"`` (the default everywhere) or ``"drop"``."""
    if empty_spans not in EMPTY_SPANS:
        raise ValueError(f"empty_spans must be 'error' or 'drop', got {empty_spans!r}")
    return empty_spans


def check_texts(texts: Any, n_docs: int) -> list[str] | None:
    """``texts`` as a list of one string per document (``None`` stays ``None``)."""
    if texts is None:
        return None
    if isinstance(texts, (str, bytes)) or not isinstance(texts, (Sequence, np.ndarray)):
        raise SpanError(f"texts must be a list of strings, one per document, got {type(texts).__name__} "
                        f"{repr(texts)[:60]}")
    texts = list(texts)
    if len(texts) != n_docs:
        raise SpanError(f"got {n_docs} span documents but {len(texts)} texts")
    for k, t in enumerate(texts):
        if not isinstance(t, str):
            raise SpanError(f"texts[{k}] is {type(t).__name__} {repr(t)[:60]}; give one string per document")
    return texts


def to_span(obj: Any, *, doc: int | None = None, i: int | None = None, text: str | None = None,
            allow_empty: bool = False) -> Span:
    """Coerce a ``Span``, a ``{"start", "end", "label"}`` mapping or a ``(start, end[, label])`` tuple.

    Raises :class:`SpanError` for non-integer (or bool) offsets, offsets outside ``[0, OFFSET_LIMIT)``,
    ``start >= end`` (``start > end`` with ``allow_empty``), and, when ``text`` is given, offsets
    past ``len(text)``.
    """
    if isinstance(obj, Mapping):
        try:
            start, end = obj["start"], obj["end"]
        except KeyError as e:
            raise SpanError(f"{_where(doc, i)}span dict {dict(obj)!r} lacks key {e}; expected "
                            "{'start': int, 'end': int, 'label': str}") from None
        label = obj.get("label")
    elif isinstance(obj, Sequence) and not isinstance(obj, str) and len(obj) in (2, 3):
        start, end = obj[0], obj[1]
        label = obj[2] if len(obj) == 3 else None
    else:
        raise SpanError(f"{_where(doc, i)}cannot read {obj!r} as a span; give a Span, a dict "
                        "{'start', 'end', 'label'} or a tuple (start, end[, label])")
    if isinstance(start, bool) or isinstance(end, bool) or not (
        isinstance(start, (int, np.integer)) and isinstance(end, (int, np.integer))
    ):
        raise SpanError(f"{_where(doc, i)}offsets must be integers, got start={start!r}, end={end!r}")
    start, end = int(start), int(end)
    if max(start, end) >= OFFSET_LIMIT:
        raise SpanError(f"{_where(doc, i)}offset {max(start, end)} is past the supported maximum "
                        f"{OFFSET_LIMIT - 1} (2**53 - 1) in {(start, end)}")
    if label is not None and not isinstance(label, str):
        label = str(label)
    if label == "":
        label = None
    if start < 0:
        raise SpanError(f"{_where(doc, i)}negative start {start} in {(start, end, label)}")
    if start > end or (start == end and not allow_empty):
        raise SpanError(f"{_where(doc, i)}start {start} >= end {end} in {(start, end, label)}; "
                        "spans are half-open [start, end) and must be non-empty"
                        + ("" if start > end else " (empty_spans='drop' drops and counts empty ones)"))
    if text is not None and end > len(text):
        raise SpanError(f"{_where(doc, i)}end {end} is past the end of the text (length {len(text)}) "
                        f"in {(start, end, label)}; offsets are Python code-point indices")
    return Span(start, end, label)


def to_spans(objs: Iterable[Any] | None, *, doc: int | None = None, text: str | None = None,
             empty_spans: str = "error") -> list[Span]:
    """Coerce one document's spans, sorted by ``(start, end, label)``; ``None`` means no spans.
    ``empty_spans="drop"`` leaves out spans with ``start == end`` (after checking them like any other)."""
    if objs is None:
        return []
    if isinstance(objs, (str, bytes)) or isinstance(objs, Mapping):
        raise SpanError(f"{_where(doc, None)}expected a list of spans, got {type(objs).__name__}")
    drop = check_empty_spans(empty_spans) == "drop"
    spans = [to_span(o, doc=doc, i=i, text=text, allow_empty=drop) for i, o in enumerate(objs)]
    if drop:
        spans = [s for s in spans if s.start < s.end]
    spans.sort(key=lambda s: (s.start, s.end, s.label or ""))
    return spans


def to_corpus(docs: Iterable[Iterable[Any] | None], texts: Sequence[str] | None = None,
              empty_spans: str = "error") -> list[list[Span]]:
    """Coerce a corpus (one span list per document), validating offsets against ``texts`` if given."""
    docs = list(docs)
    texts = check_texts(texts, len(docs))
    return [to_spans(d, doc=k, text=None if texts is None else texts[k], empty_spans=empty_spans)
            for k, d in enumerate(docs)]


def _materialize(doc: Any) -> Any:
    """A document's spans as a list if it is a one-shot iterable (a generator would be consumed by
    the fast path and read as empty by the slow one); other values are checked by :func:`to_spans`."""
    if doc is None:
        return []
    if isinstance(doc, (list, tuple, str, bytes, Mapping)) or not isinstance(doc, Iterable):
        return doc
    return list(doc)


def _offsets_ok(values: Iterable[Any]) -> bool:
    """Every value an integer and none a bool (one type check per value: for the slow paths)."""
    return all(issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_)) for t in set(map(type, values)))


def _holds_bool(rows: Sequence[Any], array: np.ndarray) -> bool:
    """Whether a bool hides in ``array = np.asarray(rows)`` (numpy reads ``[0, True]`` as ints
    silently). Only the entries equal to 0 or 1 can be one, so only those are looked at."""
    if array.ndim == 1:
        return any(isinstance(rows[i], (bool, np.bool_)) for i in np.flatnonzero(array <= 1).tolist())
    return any(isinstance(rows[i][j], (bool, np.bool_)) for i, j in zip(*np.nonzero(array <= 1)))


class SpanArrays(NamedTuple):
    """A corpus flattened to parallel numpy arrays (the form the scoring core works on)."""

    doc: np.ndarray  # int64 document index
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    label: np.ndarray  # int64 index into ``labels``; -1 for None
    labels: tuple[str, ...]
    empty_dropped: int = 0  # empty spans left out under empty_spans="drop"

    @property
    def length(self) -> np.ndarray:
        return self.end - self.start

    def __len__(self) -> int:
        return len(self.doc)

    def _with(self, **changes: Any) -> "SpanArrays":
        """``_replace``, which this class's ``__len__`` (spans, not fields) breaks."""
        return type(self)(**{**self._asdict(), **changes})

    @classmethod
    def from_corpus(cls, corpus: Sequence[Sequence[Span]], labels: Sequence[str] | None = None,
                    empty_dropped: int = 0) -> "SpanArrays":
        """Flatten ``corpus`` (already coerced); ``labels`` fixes the label vocabulary and its order."""
        flat = [s for d in corpus for s in d]
        doc = np.repeat(np.arange(len(corpus), dtype=np.int64), [len(d) for d in corpus])
        start = np.array([s[0] for s in flat], dtype=np.int64)
        end = np.array([s[1] for s in flat], dtype=np.int64)
        return cls._build(doc, start, end, *_first_seen([s[2] for s in flat]), labels)._with(
            empty_dropped=empty_dropped)

    @classmethod
    def _from_slow(cls, docs: list[Any], texts: list[str] | None, labels: Sequence[str] | None,
                   empty_spans: str) -> "SpanArrays":
        """The slow path: :func:`to_corpus` gives the exact error message, or coerces unusual inputs."""
        corpus = to_corpus(docs, texts, empty_spans)
        dropped = sum(map(len, docs)) - sum(map(len, corpus)) if empty_spans == "drop" else 0
        return cls.from_corpus(corpus, labels, dropped)

    @classmethod
    def _checked(cls, doc, start, end, codes, names, labels, texts, empty_spans) -> "SpanArrays | None":
        """Build from raw offset arrays if every span is valid (``None`` otherwise: take the slow path)."""
        if start.dtype.kind not in "iu" or end.dtype.kind not in "iu":
            return None
        if len(start) and (start.max() >= OFFSET_LIMIT or end.max() >= OFFSET_LIMIT):  # before any int64 cast
            return None
        start, end = start.astype(np.int64), end.astype(np.int64)
        empty = start == end
        drop = empty_spans == "drop"
        bad = (start < 0) | (start > end) | (empty & (not drop))
        if texts is not None:
            bad |= end > np.array([len(t) for t in texts], dtype=np.int64)[doc]
        if bad.any():
            return None
        if drop and empty.any():  # as if they were never given: their labels leave the vocabulary too
            keep = ~empty
            used, codes = np.unique(codes[keep], return_inverse=True)
            return cls._build(doc[keep], start[keep], end[keep], codes.reshape(-1), [names[k] for k in used],
                              labels)._with(empty_dropped=int(empty.sum()))
        return cls._build(doc, start, end, codes, names, labels)

    @classmethod
    def from_documents(
        cls,
        docs: Sequence[Iterable[Any] | None],
        texts: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        empty_spans: str = "error",
    ) -> "SpanArrays":
        """Validate and flatten raw span documents (dicts, tuples or ``Span``) without a Python
        object per span on the common path; any bad span is re-checked by :func:`to_corpus`, so the
        error names the document and the span. ``empty_spans="drop"`` drops (and counts) empty spans."""
        docs = [d if type(d) in (list, tuple) else _materialize(d) for d in docs]
        texts = check_texts(texts, len(docs))
        check_empty_spans(empty_spans)
        try:
            flat = list(chain.from_iterable(docs))
            if flat and isinstance(flat[0], Mapping):
                starts = list(map(itemgetter("start"), flat))
                ends = list(map(itemgetter("end"), flat))
                codes, names = _first_seen([s.get("label") for s in flat])
            else:
                starts = list(map(itemgetter(0), flat))
                ends = list(map(itemgetter(1), flat))
                codes, names = _first_seen([s[2] if len(s) > 2 else None for s in flat])
            ok = (
                all(isinstance(d, (list, tuple)) for d in docs)
                and all(n is None or (isinstance(n, str) and n) for n in names)
            )
        except (KeyError, TypeError, IndexError, AttributeError):
            ok = False
        if ok and not flat:
            return cls._build(*(np.zeros(0, np.int64),) * 3, codes, names, labels)
        if ok:  # np.asarray, not fromiter: a float must fail here, not be truncated
            start, end = np.asarray(starts), np.asarray(ends)
            doc = np.repeat(np.arange(len(docs), dtype=np.int64), [len(d) for d in docs])
            built = cls._checked(doc, start, end, codes, names, labels, texts, empty_spans)
            if built is not None and not (_holds_bool(starts, start) or _holds_bool(ends, end)):
                return built
        return cls._from_slow(docs, texts, labels, empty_spans)

    @classmethod
    def from_arrow(cls, column: Any, texts: Sequence[str] | None = None, empty_spans: str = "error") -> "SpanArrays":
        """Read a column of span lists straight from Arrow: a ``pyarrow`` list-of-struct array
        (``start``, ``end``, optional ``label``) or a ``datasets`` column (``dataset["entities"]``).
        No Python object is made per span; bad spans (bool or float offsets included) are re-read by
        :func:`to_corpus` for the error."""
        import pyarrow as pa

        check_empty_spans(empty_spans)
        if hasattr(column, "source") and hasattr(column, "column_name"):  # datasets.Column
            column = column.source.with_format("arrow")[column.column_name]
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if not pa.types.is_list(column.type) and not pa.types.is_large_list(column.type):
            raise SpanError(f"expected an Arrow list of span structs, got type {column.type}")
        texts = check_texts(texts, len(column))
        offsets = column.offsets.to_numpy()
        values = column.flatten()
        fields = {values.type.field(k).name for k in range(values.type.num_fields)}
        if not {"start", "end"} <= fields:
            raise SpanError(f"the span structs have fields {sorted(fields)}; expected 'start', 'end' and 'label'")
        start = values.field("start").to_numpy(zero_copy_only=False)
        end = values.field("end").to_numpy(zero_copy_only=False)
        doc = np.repeat(np.arange(len(column), dtype=np.int64), np.diff(offsets))
        if "label" in fields:  # codes into the dictionary's names, nulls after them as None
            encoded = values.field("label").dictionary_encode()
            names = [str(x) if x else None for x in encoded.dictionary.to_pylist()] + [None]
            codes = encoded.indices.fill_null(len(names) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
        else:
            names, codes = [None], np.zeros(len(start), dtype=np.int64)
        built = None
        if not (column.null_count or values.null_count):
            built = cls._checked(doc, start, end, codes, names, None, texts, empty_spans)
        if built is None:
            return cls._from_slow(column.to_pylist(), texts, None, empty_spans)
        return built

    @classmethod
    def _build(cls, doc, start, end, codes, names, labels) -> "SpanArrays":
        """``codes`` index ``names`` (see :func:`_first_seen`); label ids go into ``labels`` or, by
        default, the sorted label names."""
        vocab = list(labels) if labels is not None else sorted(x for x in names if x is not None)
        index = {x: k for k, x in enumerate(vocab)}
        index[None] = -1
        unknown = [x for x in names if x not in index]
        if unknown:
            raise SpanError(f"label {unknown[0]!r} is not in the label set {vocab}")
        remap = np.array([index[x] for x in names], dtype=np.int64)
        return cls(doc, start, end, remap[codes], tuple(vocab))

    def relabel(self, labels: Sequence[str]) -> "SpanArrays":
        """The same spans with label ids into ``labels`` (a superset of ``self.labels``)."""
        index = {x: k for k, x in enumerate(labels)}
        mapping = np.array([index[x] for x in self.labels] + [-1], dtype=np.int64)
        return self._with(label=mapping[self.label], labels=tuple(labels))


def _first_seen(names: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Codes of ``names`` in order of first appearance, and the distinct names: one dict lookup each."""
    seen: defaultdict[Any, int] = defaultdict()
    seen.default_factory = seen.__len__
    codes = np.fromiter(map(seen.__getitem__, names), dtype=np.int64, count=len(names))
    return codes, list(seen)


def _is_arrow(x: Any) -> bool:
    return type(x).__module__.startswith("pyarrow") or (hasattr(x, "source") and hasattr(x, "column_name"))


def pair_arrays(
    references: Sequence[Iterable[Any] | None],
    predictions: Sequence[Iterable[Any] | None],
    texts: Sequence[str] | None = None,
    empty_spans: str = "error",
) -> tuple[SpanArrays, SpanArrays]:
    """Validate a gold and a predicted corpus together: same document count, one label vocabulary.
    Spans keep their input order (every scorer here is order-free). With ``empty_spans="drop"``
    each side's ``empty_dropped`` counts the empty spans left out."""
    check_empty_spans(empty_spans)
    references, predictions = (x if _is_arrow(x) or isinstance(x, Sequence) else list(x)
                               for x in (references, predictions))
    if len(references) != len(predictions):
        raise SpanError(
            f"predictions has {len(predictions)} documents but references has {len(references)}; "
            "give one span list per document (an empty list for a document without spans)"
        )
    texts = check_texts(texts, len(references))
    gold, pred = (SpanArrays.from_arrow(x, texts, empty_spans) if _is_arrow(x)
                  else SpanArrays.from_documents(x, texts, empty_spans=empty_spans) for x in (references, predictions))
    labels = tuple(sorted(set(gold.labels) | set(pred.labels)))
    return gold.relabel(labels), pred.relabel(labels)


def number_line(*pairs: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """Int64 positions of ``(group, offset)`` pairs on one number line, in ``(group, offset)`` order.

    The usual layout is ``group * stride + offset`` with ``stride`` above every offset. Where that
    would reach 2**62 (many groups times huge offsets) the pairs get their dense ranks instead: the
    same order and equalities, but differences are no longer lengths, so callers take lengths from
    the offsets themselves. Either way nothing overflows and nothing is allocated per position.

    Examples:
        >>> doc, off = np.array([0, 1]), np.array([5, 2])
        >>> [x.tolist() for x in number_line((doc, off), (doc, off + 1))]
        [[5, 9], [6, 10]]
    """
    top = max((int(o.max()) for _, o in pairs if len(o)), default=0) + 1
    n_groups = max((int(g.max()) for g, _ in pairs if len(g)), default=0) + 1
    if n_groups * top < _LINE_LIMIT:
        return [g.astype(np.int64) * top + o for g, o in pairs]
    group = np.concatenate([g for g, _ in pairs]).astype(np.int64)
    offset = np.concatenate([o for _, o in pairs]).astype(np.int64)
    order = np.lexsort((offset, group))
    g, o = group[order], offset[order]
    new = np.r_[True, (g[1:] != g[:-1]) | (o[1:] != o[:-1])]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(new) - 1
    return np.split(rank, np.cumsum([len(o) for _, o in pairs])[:-1])
