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
from itertools import chain
from typing import Any, Literal

import numpy as np

from .spans import Span, SpanError, to_spans

__all__ = [
    "spans_to_marked",
    "parse_marked",
    "MarkerError",
    "tags_to_spans",
    "bio_to_spans",
    "SCHEMES",
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


_BINARY = {0: "O", 1: "I"}


def tags_to_spans(
    tags: Sequence[Any],
    scheme: Scheme = "BIO",
    *,
    mode: Literal["default", "strict"] = "default",
    offsets: Sequence[tuple[int, int]] | np.ndarray | None = None,
) -> list[Span]:
    """Spans from one label per unit (character, word or token), through :func:`bio_to_spans`.

    ``scheme="BIO"``: ``mode="default"`` reads like conlleval (an ``I-X`` after ``O`` or after
    another type starts a span); ``mode="strict"`` is IOB2-strict (a run starting with ``I-X`` is
    not an entity). ``scheme="IO"``: a maximal run of one type is a span. Labels ``0``/``1`` are the
    paper's untyped character labels. Spans are in units; ``offsets`` (``[start, end)`` per unit)
    turns them into character spans.

    Examples:
        >>> tags_to_spans(["B-D", "I-D", "O", "I-C", "B-C"])
        [Span(start=0, end=2, label='D'), Span(start=3, end=4, label='C'), Span(start=4, end=5, label='C')]
        >>> tags_to_spans(["B-D", "I-D", "O", "I-C", "B-C"], mode="strict")
        [Span(start=0, end=2, label='D'), Span(start=4, end=5, label='C')]
        >>> tags_to_spans([0, 1, 1, 0], scheme="IO")
        [Span(start=1, end=3, label=None)]
    """
    if scheme not in ("IO", "BIO"):
        raise ValueError(f"scheme must be 'IO' or 'BIO', got {scheme!r}")
    names = [_BINARY.get(t, t) if isinstance(t, (int, np.integer)) and not isinstance(t, bool) else t for t in tags]
    allowed = ("O", "I") if scheme == "IO" else ("O", "B", "I")
    for tag in set(names):
        if not (isinstance(tag, str) and tag.partition("-")[0] in allowed):
            hint = "; pass scheme='BIO'" if str(tag).startswith("B") else ""
            raise SpanError(f"invalid tag {tag!r} for scheme={scheme!r}: expected 'O', "
                            f"{' or '.join(repr(p + '-<type>') for p in allowed[1:])} or 0/1{hint}")
    if scheme == "IO":
        mode = "default"  # an IO run is a span: conlleval rules read it so
    try:
        units = bio_to_spans(names, "IOB2", mode)
    except ValueError as e:
        raise SpanError(f"{e} (or 0/1 character labels)") from None
    if offsets is None:
        return units
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    if len(off) != len(names):
        raise SpanError(f"{len(names)} tags but {len(off)} offsets")
    return [Span(int(off[s.start, 0]), int(off[s.end - 1, 1]), s.label) for s in units]


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
