"""Lossless conversions between the span model and the forms E-CCR data come in.

* ``@@...##`` marked text (paper 000, Figure 3; strict here, see :mod:`ecr_hf.decode` for
  generations that do not copy the source faithfully);
* label sequences, one label per unit: character-level IO (the paper's 0/1) or BIO labels, and
  word- or token-level tags (unit = one position);
* word-level CoNLL (``tokens`` + ``tags``), as in BC5CDR and NCBI-disease.

Token-level tags over a tokenizer's offsets live in :mod:`ecr_hf.alignment`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np

from .spans import Span, SpanError, to_spans

__all__ = [
    "spans_to_marked",
    "parse_marked",
    "MarkerError",
    "tags_to_spans",
    "spans_to_tags",
    "conll_to_document",
    "document_to_conll",
]

Scheme = Literal["IO", "BIO"]


class MarkerError(SpanError):
    """Marked text that cannot be read strictly (unbalanced, nested or empty markers)."""


def _check_no_overlap(spans: list[Span], what: str, doc: int | None) -> None:
    for a, b in zip(spans, spans[1:]):
        if b.start < a.end:
            where = f"document {doc}: " if doc is not None else ""
            raise SpanError(f"{where}spans {tuple(a)} and {tuple(b)} overlap; {what} cannot represent "
                            "overlapping or nested spans (score them as span lists instead)")


def spans_to_marked(
    text: str,
    spans: Iterable[Any],
    open_marker: str = "@@",
    close_marker: str = "##",
    *,
    doc: int | None = None,
) -> str:
    """Render ``text`` with each span wrapped in markers, e.g. ``"@@感染性心内膜炎##（IE）"``.

    Raises :class:`SpanError` for overlapping spans and for a text that already contains a marker
    (the marked form would not read back to the same spans).

    Examples:
        >>> spans_to_marked("lung cancer was found", [(0, 11)])
        '@@lung cancer## was found'
    """
    for m in (open_marker, close_marker):
        if m in text:
            raise MarkerError(f"{'document %d: ' % doc if doc is not None else ''}the text already contains "
                              f"the marker {m!r}; choose other markers (open_marker=/close_marker=)")
    spans = to_spans(spans, doc=doc, text=text)
    _check_no_overlap(spans, "marked text", doc)
    parts, pos = [], 0
    for s in spans:
        parts += [text[pos:s.start], open_marker, text[s.start:s.end], close_marker]
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


def parse_marked(
    marked: str,
    open_marker: str = "@@",
    close_marker: str = "##",
    *,
    text: str | None = None,
    label: str | None = None,
    doc: int | None = None,
) -> tuple[str, list[Span]]:
    """Read strictly marked text back into ``(text, spans)``.

    Raises :class:`MarkerError` for a marker that is unbalanced, nested or encloses nothing, and,
    when the source ``text`` is given, if the unmarked text differs from it: a generation that did
    not copy its source faithfully must go through :func:`ecr_hf.decode.decode_marked`.

    Examples:
        >>> parse_marked("@@感染性心内膜炎##（IE）はその経過")
        ('感染性心内膜炎（IE）はその経過', [Span(start=0, end=7, label=None)])
    """
    where = f"document {doc}: " if doc is not None else ""
    pattern = re.compile("|".join(re.escape(m) for m in sorted({open_marker, close_marker}, key=len, reverse=True)))
    if open_marker == close_marker:
        raise ValueError("open_marker and close_marker must differ")
    pieces, spans, pos, opened = [], [], 0, None
    for m in pattern.finditer(marked):
        pieces.append(marked[pos:m.start()])
        here = sum(map(len, pieces))
        if m.group() == open_marker:
            if opened is not None:
                raise MarkerError(f"{where}nested {open_marker!r} at character {m.start()} of the marked text "
                                  f"(a span opened at {opened[1]} is still open)")
            opened = (here, m.start())
        else:
            if opened is None:
                raise MarkerError(f"{where}{close_marker!r} at character {m.start()} closes no open span")
            if here == opened[0]:
                raise MarkerError(f"{where}empty span {open_marker}{close_marker} at character {opened[1]}")
            spans.append(Span(opened[0], here, label))
            opened = None
        pos = m.end()
    if opened is not None:
        raise MarkerError(f"{where}{open_marker!r} at character {opened[1]} is never closed")
    pieces.append(marked[pos:])
    plain = "".join(pieces)
    if text is not None and plain != text:
        raise MarkerError(
            f"{where}the marked text without markers differs from the source text (lengths {len(plain)} "
            f"and {len(text)}); this is the generative case: use ecr_hf.decode.decode_marked(generated, "
            "source) to align it to the source"
        )
    return plain, spans


def _parse_tags(tags: Sequence[Any], scheme: Scheme) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Per position: prefix code (0 O, 1 B, 2 I) and type index into the returned type names."""
    uniq, inverse = np.unique(np.asarray([str(t) for t in tags], dtype=object), return_inverse=True)
    prefix = np.zeros(len(uniq), np.int8)
    names: list[str | None] = []
    type_of = np.zeros(len(uniq), np.int64)
    for k, tag in enumerate(uniq):
        if tag in ("O", "0"):
            continue
        if tag == "1":
            head, name = "I", None
        elif tag[:2] in ("B-", "I-"):
            head, name = tag[0], tag[2:] or None
        elif tag in ("B", "I"):
            head, name = tag, None
        else:
            raise SpanError(f"unknown tag {tag!r}; expected 'O', 'B-<type>', 'I-<type>' ({scheme}) or 0/1")
        if head == "B" and scheme == "IO":
            raise SpanError(f"tag {tag!r} has a B- prefix but scheme='IO'; pass scheme='BIO'")
        prefix[k] = 1 if head == "B" else 2
        if name not in names:
            names.append(name)
        type_of[k] = names.index(name)
    return prefix[inverse], type_of[inverse], names


def tags_to_spans(
    tags: Sequence[Any],
    scheme: Scheme = "BIO",
    *,
    mode: Literal["default", "strict"] = "default",
    offsets: Sequence[tuple[int, int]] | np.ndarray | None = None,
) -> list[Span]:
    """Spans from one label per unit (character, word or token); vectorised.

    ``mode="default"`` reads like conlleval/seqeval's default: an ``I-X`` after ``O`` or after
    another type starts a span. ``mode="strict"`` is IOB2-strict (seqeval ``mode="strict"``): a
    span must start with ``B-X``; a run that starts with ``I-X`` is not an entity. With
    ``scheme="IO"`` a maximal run of one type is a span. Labels ``0``/``1`` are the paper's
    untyped character labels. Spans are in units; ``offsets`` (``[start, end)`` per unit) turns
    them into character spans.

    Examples:
        >>> tags_to_spans(["B-D", "I-D", "O", "I-C", "B-C"])
        [Span(start=0, end=2, label='D'), Span(start=3, end=4, label='C'), Span(start=4, end=5, label='C')]
        >>> tags_to_spans(["B-D", "I-D", "O", "I-C", "B-C"], mode="strict")
        [Span(start=0, end=2, label='D'), Span(start=4, end=5, label='C')]
        >>> tags_to_spans([0, 1, 1, 0], scheme="IO")
        [Span(start=1, end=3, label=None)]
    """
    n = len(tags)
    if n == 0:
        return []
    prefix, kind, names = _parse_tags(tags, scheme)
    inside = prefix > 0
    prev_inside = np.r_[False, inside[:-1]]
    prev_kind = np.r_[-1, kind[:-1]]
    begin = inside & ((prefix == 1) | ~prev_inside | (prev_kind != kind))
    last = inside & np.r_[begin[1:] | ~inside[1:], True]
    starts, ends = np.flatnonzero(begin), np.flatnonzero(last) + 1
    keep = np.ones(len(starts), bool) if mode == "default" else prefix[starts] == 1
    if mode not in ("default", "strict"):
        raise ValueError(f"mode must be 'default' or 'strict', got {mode!r}")
    if offsets is not None:
        off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        if len(off) != n:
            raise SpanError(f"{n} tags but {len(off)} offsets")
        char_start, char_end = off[starts, 0], off[ends - 1, 1]
    else:
        char_start, char_end = starts, ends
    return [Span(int(a), int(b), names[kind[s]]) for a, b, s, k in zip(char_start, char_end, starts, keep) if k]


def spans_to_tags(
    spans: Iterable[Any],
    length: int,
    scheme: Scheme = "BIO",
    *,
    binary: bool = False,
    doc: int | None = None,
) -> list[str] | np.ndarray:
    """One label per unit (e.g. per character) from spans in those units.

    ``binary=True`` gives the paper's untyped 0/1 character labels as an ``int8`` array (``scheme``
    must be ``"IO"``). Overlapping spans raise: a label sequence cannot represent them. With
    ``scheme="IO"`` two touching spans of one type merge into one run: use BIO to keep them apart.

    Examples:
        >>> spans_to_tags([(0, 2, "D")], 4)
        ['B-D', 'I-D', 'O', 'O']
        >>> spans_to_tags([(1, 3)], 4, scheme="IO", binary=True).tolist()
        [0, 1, 1, 0]
    """
    spans = to_spans(spans, doc=doc, text=None)
    if spans and spans[-1].end > length:
        raise SpanError(f"span {tuple(spans[-1])} ends past the sequence length {length}")
    _check_no_overlap(spans, "a label sequence", doc)
    if scheme not in ("IO", "BIO"):
        raise ValueError(f"scheme must be 'IO' or 'BIO', got {scheme!r}")
    if binary and scheme != "IO":
        raise ValueError("binary labels are untyped IO labels; pass scheme='IO'")
    names = sorted({s.label or "" for s in spans})
    start = np.array([s.start for s in spans], np.int64)
    end = np.array([s.end for s in spans], np.int64)
    kind = np.array([names.index(s.label or "") + 1 for s in spans], np.int64)
    delta = np.zeros(length + 1, np.int64)  # spans do not overlap: a running sum paints them
    np.add.at(delta, start, kind)
    np.add.at(delta, end, -kind)
    code = np.cumsum(delta[:-1])
    if binary:
        return (code > 0).astype(np.int8)
    table = ["O"] + [f"I-{x}" if x else "I" for x in names] + [f"B-{x}" if x else "B" for x in names]
    if scheme == "BIO":
        code[start] += len(names)
    return np.asarray(table, dtype=object)[code].tolist()


def conll_to_document(tokens: Sequence[str], tags: Sequence[str], *, sep: str = " ",
                      scheme: Scheme = "BIO", mode: Literal["default", "strict"] = "default") -> tuple[str, list[Span]]:
    """Word-level CoNLL (tokens + tags) to ``(text, character spans)``; the text joins tokens with ``sep``.

    Examples:
        >>> conll_to_document(["lung", "cancer", "."], ["B-D", "I-D", "O"])
        ('lung cancer .', [Span(start=0, end=11, label='D')])
    """
    if len(tokens) != len(tags):
        raise SpanError(f"{len(tokens)} tokens but {len(tags)} tags")
    lengths = np.fromiter((len(t) for t in tokens), np.int64, count=len(tokens))
    if (lengths == 0).any():
        raise SpanError(f"empty token at position {int(np.argmax(lengths == 0))}")
    starts = np.cumsum(np.r_[0, lengths[:-1] + len(sep)])
    offsets = np.stack([starts, starts + lengths], axis=1)
    return sep.join(tokens), tags_to_spans(tags, scheme, mode=mode, offsets=offsets)


def document_to_conll(text: str, spans: Iterable[Any], scheme: Scheme = "BIO") -> tuple[list[str], list[str]]:
    """``(text, spans)`` to whitespace tokens and word tags. A span boundary inside a token raises
    (the word form could not represent it).

    Examples:
        >>> document_to_conll("lung cancer .", [(0, 11, "D")])
        (['lung', 'cancer', '.'], ['B-D', 'I-D', 'O'])
    """
    spans = to_spans(spans, text=text)
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    starts = np.array([w[0] for w in words], np.int64)
    ends = np.array([w[1] for w in words], np.int64)
    unit_spans = []
    for s in spans:
        i = int(np.searchsorted(starts, s.start))
        j = int(np.searchsorted(ends, s.end))
        if i >= len(words) or j >= len(words) or starts[i] != s.start or ends[j] != s.end:
            raise SpanError(f"span {tuple(s)} ({text[s.start:s.end]!r}) does not start and end on "
                            "whitespace token boundaries; the word-level form cannot represent it")
        unit_spans.append(Span(i, j + 1, s.label))
    return [text[a:b] for a, b in words], spans_to_tags(unit_spans, len(words), scheme)
