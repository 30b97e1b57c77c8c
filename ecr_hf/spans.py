"""The one span model of ecr-hf: half-open character spans ``[start, end)`` with an optional label.

Offsets are Python string indices, i.e. Unicode code points (not UTF-16 units, not bytes): a
non-BMP character such as an emoji counts as one. Every adapter (marked text, label sequences,
CoNLL, tokenizer offsets, ``evaluate`` modules, trainers) converts to and from this form.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Span", "SpanError", "to_span", "to_spans", "to_corpus", "SpanArrays", "pair_arrays"]


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


def to_span(obj: Any, *, doc: int | None = None, i: int | None = None, text: str | None = None) -> Span:
    """Coerce a ``Span``, a ``{"start", "end", "label"}`` mapping or a ``(start, end[, label])`` tuple.

    Raises :class:`SpanError` for ``start >= end``, negative offsets, non-integer offsets, and, when
    ``text`` is given, offsets past ``len(text)``.
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
    if label is not None and not isinstance(label, str):
        label = str(label)
    if label == "":
        label = None
    if start < 0:
        raise SpanError(f"{_where(doc, i)}negative start {start} in {(start, end, label)}")
    if start >= end:
        raise SpanError(f"{_where(doc, i)}start {start} >= end {end} in {(start, end, label)}; "
                        "spans are half-open [start, end) and must be non-empty")
    if text is not None and end > len(text):
        raise SpanError(f"{_where(doc, i)}end {end} is past the end of the text (length {len(text)}) "
                        f"in {(start, end, label)}; offsets are Python code-point indices")
    return Span(start, end, label)


def to_spans(objs: Iterable[Any] | None, *, doc: int | None = None, text: str | None = None) -> list[Span]:
    """Coerce one document's spans, sorted by ``(start, end, label)``; ``None`` means no spans."""
    if objs is None:
        return []
    if isinstance(objs, (str, bytes)) or isinstance(objs, Mapping):
        raise SpanError(f"{_where(doc, None)}expected a list of spans, got {type(objs).__name__}")
    spans = [to_span(o, doc=doc, i=i, text=text) for i, o in enumerate(objs)]
    spans.sort(key=lambda s: (s.start, s.end, s.label or ""))
    return spans


def to_corpus(docs: Iterable[Iterable[Any] | None], texts: Sequence[str] | None = None) -> list[list[Span]]:
    """Coerce a corpus (one span list per document), validating offsets against ``texts`` if given."""
    docs = list(docs)
    if texts is not None and len(texts) != len(docs):
        raise SpanError(f"got {len(docs)} span documents but {len(texts)} texts")
    return [to_spans(d, doc=k, text=None if texts is None else texts[k]) for k, d in enumerate(docs)]


class SpanArrays(NamedTuple):
    """A corpus flattened to parallel numpy arrays (the form the scoring core works on)."""

    doc: np.ndarray  # int64 document index
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    label: np.ndarray  # int64 index into ``labels``; -1 for None
    labels: tuple[str, ...]

    @property
    def length(self) -> np.ndarray:
        return self.end - self.start

    def __len__(self) -> int:
        return len(self.doc)

    @classmethod
    def from_corpus(cls, corpus: Sequence[Sequence[Span]], labels: Sequence[str] | None = None) -> "SpanArrays":
        """Flatten ``corpus`` (already coerced); ``labels`` fixes the label vocabulary and its order."""
        flat = [s for d in corpus for s in d]
        doc = np.repeat(np.arange(len(corpus), dtype=np.int64), [len(d) for d in corpus])
        start = np.array([s[0] for s in flat], dtype=np.int64)
        end = np.array([s[1] for s in flat], dtype=np.int64)
        return cls._build(doc, start, end, *_first_seen([s[2] for s in flat]), labels)

    @classmethod
    def from_documents(
        cls,
        docs: Sequence[Iterable[Any] | None],
        texts: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> "SpanArrays":
        """Validate and flatten raw span documents (dicts, tuples or ``Span``) without a Python
        object per span on the common path; any bad span is re-checked by :func:`to_corpus`, so the
        error names the document and the span."""
        docs = [[] if d is None else d for d in docs]
        if texts is not None and len(texts) != len(docs):
            raise SpanError(f"got {len(docs)} span documents but {len(texts)} texts")
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
            start, end = np.asarray(starts), np.asarray(ends)  # not fromiter: it would truncate 1.5 to 1
            ok = (
                all(isinstance(d, (list, tuple)) for d in docs)
                and (not flat or (start.dtype.kind in "iu" and end.dtype.kind in "iu"))
                and all(n is None or (isinstance(n, str) and n) for n in names)
            )
        except (KeyError, TypeError, IndexError, AttributeError):
            ok = False
        if ok and flat:
            start, end = start.astype(np.int64), end.astype(np.int64)
            doc = np.repeat(np.arange(len(docs), dtype=np.int64), [len(d) for d in docs])
            bad = (start < 0) | (start >= end)
            if texts is not None:
                bad |= end > np.array([len(t) for t in texts], dtype=np.int64)[doc]
            ok = not bad.any()
        if not ok:  # slow path: exact error message, or coercion of unusual inputs
            return cls.from_corpus(to_corpus(docs, texts), labels)
        if not flat:
            doc = start = end = np.zeros(0, np.int64)
        return cls._build(doc, start, end, codes, names, labels)

    @classmethod
    def from_arrow(cls, column: Any, texts: Sequence[str] | None = None) -> "SpanArrays":
        """Read a column of span lists straight from Arrow: a ``pyarrow`` list-of-struct array
        (``start``, ``end``, optional ``label``) or a ``datasets`` column (``dataset["entities"]``).
        No Python object is made per span; bad spans are re-read by :func:`to_corpus` for the error."""
        import pyarrow as pa

        if hasattr(column, "source") and hasattr(column, "column_name"):  # datasets.Column
            column = column.source.with_format("arrow")[column.column_name]
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if not pa.types.is_list(column.type) and not pa.types.is_large_list(column.type):
            raise SpanError(f"expected an Arrow list of span structs, got type {column.type}")
        if texts is not None and len(texts) != len(column):
            raise SpanError(f"got {len(column)} span documents but {len(texts)} texts")
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
        bad = start.dtype.kind not in "iu" or end.dtype.kind not in "iu" or column.null_count or values.null_count
        if not bad and len(start):
            start, end = start.astype(np.int64), end.astype(np.int64)
            invalid = (start < 0) | (start >= end)
            if texts is not None:
                invalid |= end > np.array([len(t) for t in texts], dtype=np.int64)[doc]
            bad = bool(invalid.any())
        if bad:
            return cls.from_corpus(to_corpus(column.to_pylist(), texts))
        return cls._build(doc, start.astype(np.int64), end.astype(np.int64), codes, names, None)

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
        return SpanArrays(self.doc, self.start, self.end, mapping[self.label], tuple(labels))


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
) -> tuple[SpanArrays, SpanArrays]:
    """Validate a gold and a predicted corpus together: same document count, one label vocabulary.
    Spans keep their input order (every scorer here is order-free)."""
    references, predictions = (x if _is_arrow(x) or isinstance(x, Sequence) else list(x)
                               for x in (references, predictions))
    if len(references) != len(predictions):
        raise SpanError(
            f"predictions has {len(predictions)} documents but references has {len(references)}; "
            "give one span list per document (an empty list for a document without spans)"
        )
    gold, pred = (SpanArrays.from_arrow(x, texts) if _is_arrow(x) else SpanArrays.from_documents(x, texts)
                  for x in (references, predictions))
    labels = tuple(sorted(set(gold.labels) | set(pred.labels)))
    return gold.relabel(labels), pred.relabel(labels)
