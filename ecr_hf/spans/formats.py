"""Lossless conversions between the span model and the forms E-CCR data come in.

* ``@@...##`` marked text (paper 000, Figure 3; strict here, see :mod:`ecr_hf.spans.decode` for
  generations that do not copy the source faithfully), untyped or typed (``@@aspirin##Chemical``, see
  :func:`spans_to_marked`);
* label sequences, one label per unit: character-level IO (the paper's 0/1) or BIO labels, and
  word- or token-level tags (unit = one position);
* word-level CoNLL (``tokens`` + ``tags``), as in BC5CDR and NCBI-disease.

Token-level tags over a tokenizer's offsets live in :mod:`ecr_hf.token_classification.alignment`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any, Literal, NamedTuple

import numpy as np

from .span import Span, SpanError, to_spans

__all__ = [
    "spans_to_marked",
    "parse_marked",
    "MarkerError",
    "check_labels",
    "tags_to_spans",
    "bio_to_spans",
    "chunk_arrays",
    "Chunks",
    "detect_scheme",
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


def check_labels(labels: Any, open_marker: str = "@@", close_marker: str = "##") -> tuple[str, ...]:
    """The label set of typed markers, validated: non-empty strings, none holding a marker; in the
    given order, duplicates dropped.

    Raises ``TypeError`` for a single string (``labels="Chemical"``: wrap it in a list) and
    ``ValueError`` for an empty set, an empty or non-string label, or a label that contains
    ``open_marker`` or ``close_marker`` (it could not be told from a marker).

    Examples:
        >>> check_labels(["Disease", "Chemical", "Disease"])
        ('Disease', 'Chemical')
    """
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be a list of label strings, got the string {labels!r}; wrap it in a list")
    try:
        labels = tuple(dict.fromkeys(labels))
    except TypeError:
        raise TypeError(f"labels must be a list of label strings, got {type(labels).__name__}") from None
    if not labels:
        raise ValueError("labels is empty: typed markers need the set of labels a span may carry (e.g. "
                         "labels=['Chemical', 'Disease']); pass labels=None for untyped markers")
    for label in labels:
        if not isinstance(label, str) or not label:
            raise ValueError(f"every label must be a non-empty string, got {label!r}")
        for name, marker in (("open_marker", open_marker), ("close_marker", close_marker)):
            if marker and marker in label:
                raise ValueError(f"label {label!r} contains the {name} {marker!r}; it could not be told from a "
                                 "marker: rename the label or pick other markers")
    return labels


@lru_cache(maxsize=64)
def _typed_pattern(open_marker: str, close_marker: str, labels: tuple[str, ...]) -> re.Pattern:
    """``open_marker``, or ``close_marker`` followed by the longest label of ``labels`` there (if any):
    group ``close`` is set for a closing marker, group ``label`` to its label."""
    alternatives = "|".join(map(re.escape, sorted(labels, key=len, reverse=True)))
    close = f"(?P<close>{re.escape(close_marker)})(?P<label>{alternatives})?"
    opening = f"(?P<open>{re.escape(open_marker)})"
    return re.compile(f"{opening}|{close}" if len(open_marker) >= len(close_marker) else f"{close}|{opening}")


def spans_to_marked(
    text: str,
    spans: Iterable[Any],
    open_marker: str = "@@",
    close_marker: str = "##",
    *,
    doc: int | None = None,
    labels: Iterable[str] | None = None,
) -> str:
    """Render ``text`` with each span wrapped in markers, e.g. ``"@@感染性心内膜炎##（IE）"``.

    Raises :class:`SpanError` for overlapping spans and for a text that already contains a marker
    (the marked form would not read back to the same spans).

    Typed markers (``labels`` given, the set of labels a span may carry): each closing marker is
    followed, with nothing in between, by its span's label, e.g. ``"@@aspirin##Chemical caused"``.
    The label ends where the longest label of ``labels`` that matches there ends
    (:func:`parse_marked`), so no separator is needed and the text after it is left intact. Every
    span must carry a label of ``labels``. A label that is a prefix of another (``Chem`` and
    ``Chemical``) followed by text that completes the longer one (``"...##Chem" + "ical..."``) would
    read back as the longer label: such a text raises :class:`MarkerError`, as does any other marked
    text that would not read back to ``(text, spans)``.

    Examples:
        >>> spans_to_marked("lung cancer was found", [(0, 11)])
        '@@lung cancer## was found'
        >>> spans_to_marked("aspirin-induced asthma", [(0, 7, "Chemical"), (16, 22, "Disease")],
        ...                 labels=["Chemical", "Disease"])
        '@@aspirin##Chemical-induced @@asthma##Disease'
    """
    if labels is not None:
        labels = check_labels(labels, open_marker, close_marker)
    for m in (open_marker, close_marker):
        if m in text:
            raise MarkerError(f"{'document %d: ' % doc if doc is not None else ''}the text already contains "
                              f"the marker {m!r}; choose other markers (open_marker=/close_marker=)")
    spans = to_spans(spans, doc=doc, text=text)
    _check_no_overlap(spans, "marked text", doc)
    if labels is not None:
        return _typed_marked(text, spans, open_marker, close_marker, labels, doc)
    parts, pos = [], 0
    for s in spans:
        parts += [text[pos:s.start], open_marker, text[s.start:s.end], close_marker]
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


def _typed_marked(text: str, spans: list[Span], open_marker: str, close_marker: str, labels: tuple[str, ...],
                  doc: int | None) -> str:
    where = f"document {doc}: " if doc is not None else ""
    known = set(labels)
    parts, pos = [], 0
    for s in spans:
        if s.label not in known:
            raise SpanError(f"{where}span {tuple(s)} has label {s.label!r}, not one of the labels {list(labels)}; "
                            "typed markers need every span labelled with a known label")
        parts += [text[pos:s.start], open_marker, text[s.start:s.end], close_marker, s.label]
        pos = s.end
    parts.append(text[pos:])
    marked = "".join(parts)
    try:  # read it back: the label rule, or marker characters next to a marker, may read otherwise
        back = parse_marked(marked, open_marker, close_marker, labels=labels)
    except MarkerError as e:
        back = (None, str(e))
    if back == (text, spans):
        return marked
    for s in spans:
        after = text[s.end:]
        longer = [x for x in labels if len(x) > len(s.label) and x.startswith(s.label)
                  and after.startswith(x[len(s.label):])]
        if longer:
            raise MarkerError(f"{where}span {tuple(s)} labelled {s.label!r} is followed by {after[:20]!r}, so "
                              f"{close_marker}{s.label}{after[:20]} would read back as the label {longer[0]!r} "
                              "(labels are matched longest first): rename one of the labels")
    raise MarkerError(f"{where}the marked text {marked[:80]!r} does not read back to its spans (marker characters "
                      "next to a marker?); choose other markers (open_marker=/close_marker=)")


def parse_marked(
    marked: str,
    open_marker: str = "@@",
    close_marker: str = "##",
    *,
    text: str | None = None,
    label: str | None = None,
    doc: int | None = None,
    labels: Iterable[str] | None = None,
) -> tuple[str, list[Span]]:
    """Read strictly marked text back into ``(text, spans)``.

    Raises :class:`MarkerError` for a marker that is unbalanced, nested or encloses nothing, and,
    when the source ``text`` is given, if the unmarked text differs from it: a generation that did
    not copy its source faithfully must go through :func:`ecr_hf.spans.decode_marked`.

    Typed markers (``labels`` given): every closing marker must be followed by a label of
    ``labels``, the longest one that matches there (``"##Chemical"`` with labels ``Chem`` and
    ``Chemical`` is ``Chemical``); the label is taken out of the text and given to the span. A
    closing marker with no label of the set after it raises :class:`MarkerError` (``label`` does not
    apply).

    Examples:
        >>> parse_marked("@@感染性心内膜炎##（IE）はその経過")
        ('感染性心内膜炎（IE）はその経過', [Span(start=0, end=7, label=None)])
        >>> parse_marked("@@aspirin##Chemical-induced", labels=["Chem", "Chemical"])
        ('aspirin-induced', [Span(start=0, end=7, label='Chemical')])
    """
    where = f"document {doc}: " if doc is not None else ""
    if open_marker == close_marker:
        raise ValueError("open_marker and close_marker must differ")
    if labels is None:
        pattern = re.compile("|".join(re.escape(m) for m in sorted({open_marker, close_marker}, key=len,
                                                                      reverse=True)))
    else:
        if label is not None:
            raise ValueError("label= labels untyped spans; with labels= every span carries its own label")
        labels = check_labels(labels, open_marker, close_marker)
        pattern = _typed_pattern(open_marker, close_marker, labels)
    pieces, spans, pos, here, opened = [], [], 0, 0, None
    for m in pattern.finditer(marked):
        pieces.append(marked[pos:m.start()])
        here += m.start() - pos
        if m.group() == open_marker if labels is None else m.group("open") is not None:
            if opened is not None:
                raise MarkerError(f"{where}nested {open_marker!r} at character {m.start()} of the marked text "
                                  f"(a span opened at {opened[1]} is still open)")
            opened = (here, m.start())
        else:
            if opened is None:
                raise MarkerError(f"{where}{close_marker!r} at character {m.start()} closes no open span")
            if here == opened[0]:
                raise MarkerError(f"{where}empty span {open_marker}{close_marker} at character {opened[1]}")
            if labels is not None and m.group("label") is None:
                raise MarkerError(f"{where}{close_marker!r} at character {m.start()} is not followed by a label "
                                  f"of {list(labels)} ({marked[m.end():m.end() + 20]!r} follows)")
            spans.append(Span(opened[0], here, label if labels is None else m.group("label")))
            opened = None
        pos = m.end()
    if opened is not None:
        raise MarkerError(f"{where}{open_marker!r} at character {opened[1]} is never closed")
    pieces.append(marked[pos:])
    plain = "".join(pieces)
    if text is not None and plain != text:
        raise MarkerError(
            f"{where}the marked text without markers differs from the source text (lengths {len(plain)} "
            f"and {len(text)}); this is the generative case: use ecr_hf.spans.decode_marked(generated, "
            "source) to align it to the source"
        )
    return plain, spans


# seqeval's strict schemes as data (seqeval.scheme): the prefixes a scheme allows, and when a token
# starts a chunk, continues one ("inside") or, as the token after a chunk, ends it. A rule "P>C" holds
# for a token with prefix C after one with prefix P; "=" asks for the same label, "!" for another; "*"
# is any prefix (O included).
SCHEMES = {
    "IOB1": dict(allowed="IOB", start="O>I I>I! B>I I>B= B>B=", inside="B>I= I>I=",
                 end="I>I! I>O I>B B>O B>I! B>B="),
    "IOE1": dict(allowed="IOE", start="O>I I>I! E>I E>E=", inside="I>I= I>E=", end="I>I! I>O I>E! E>I= E>E="),
    "IOB2": dict(allowed="IOB", start="*>B", inside="B>I= I>I=", end="I>O I>I! I>B B>O B>I! B>B"),
    "IOE2": dict(allowed="IOE", start="O>I O>E E>I E>E I>I! I>E!", inside="I>E= I>I=", end="E>*"),
    "IOBES": dict(allowed="IOBES", start="*>B *>S", inside="B>I= B>E= I>I= I>E=", end="S>* E>*"),
    "BILOU": dict(allowed="IOBLU", start="*>B *>U", inside="B>I= B>L= I>I= I>L=", end="U>* L>*"),
}
_PREFIXES = "OBIESLU"  # code = index; O is 0
_CONLLEVAL = "BIESO"


def _rule_table(rules: str) -> np.ndarray:
    """``[same label, previous prefix, prefix]`` -> whether one of ``rules`` holds."""
    table = np.zeros((2, len(_PREFIXES), len(_PREFIXES)), dtype=bool)
    for rule in rules.split():
        prev, cur, cond = rule[0], rule[2], rule[3:]
        rows = slice(None) if prev == "*" else _PREFIXES.index(prev)
        col = slice(None) if cur == "*" else _PREFIXES.index(cur)
        for same in {"=": (1,), "!": (0,)}.get(cond, (0, 1)):
            table[same, rows, col] = True
    return table


_TABLES = {name: {part: _rule_table(rule[part]) for part in ("start", "inside", "end")}
           for name, rule in SCHEMES.items()}


def _split_tag(tag: Any, suffix: bool) -> tuple[str, str] | None:
    """``(prefix, label)`` of a tag (``"B-PER"``, or ``"PER-B"`` with ``suffix``); None if ill-formed."""
    if tag == "O":
        return "O", ""
    if not isinstance(tag, str):
        return None
    name, sep, head = tag.rpartition("-") if suffix else tag.partition("-")[::-1]
    if len(head) != 1 or head not in _PREFIXES[1:] or (sep and not name):
        return None
    return head, name


def _parse(flat: list[str], base: np.ndarray, allowed: str, hint: str, suffix: bool = False,
           untyped: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Prefix codes, label ids and label names of a flat tag list (``base``: sequence starts).

    A bare prefix (``"B"``) is labelled ``untyped``; when that is None its label id is -1, as O's.
    """
    uniq = sorted(set(flat), key=str)
    index = {tag: k for k, tag in enumerate(uniq)}
    inverse = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    prefix, label, names = np.zeros(len(uniq), np.int64), np.full(len(uniq), -1, np.int64), {}
    for k, tag in enumerate(uniq):
        parts = _split_tag(tag, suffix)
        if parts is None or parts[0] not in allowed:
            at = int(np.flatnonzero(inverse == k)[0])
            seq = int(np.searchsorted(base, at, side="right")) - 1
            form = "LABEL-PREFIX" if suffix else "PREFIX-LABEL"
            raise ValueError(f"invalid tag {tag!r} (sequence {seq}, token {at - base[seq]}): expected 'O' or "
                             f"{form} with PREFIX in {sorted(set(allowed) - {'O'})}{hint}")
        head, name = parts
        prefix[k] = _PREFIXES.index(head)
        if head != "O" and (name or untyped is not None):
            label[k] = names.setdefault(name or untyped, len(names))
    return prefix[inverse], label[inverse], list(names)


def _batch(tags: Any) -> tuple[bool, Sequence[Sequence[str]]]:
    if isinstance(tags, str):
        raise ValueError(f"tags must be a sequence of tag strings, got the string {tags!r}; wrap it in a list")
    batch = len(tags) > 0 and not isinstance(tags[0], str)
    return batch, (tags if batch else [tags])


def _detect(prefixes: set[str], untagged: str | None = None) -> str:
    """The scheme a set of prefixes (``O`` included or not) belongs to; see :func:`detect_scheme`.
    ``untagged``: the answer when there is no chunk tag at all (None: raise)."""
    seen = prefixes - {"O"}
    if not seen and untagged is not None:
        return untagged
    for name, needs in (("IOB2", "B"), ("IOE2", "E")):
        if seen and seen <= set(name) and needs in seen:
            return name
    if seen and seen <= set("BIES") and ("S" in seen or {"B", "E"} <= seen):
        return "IOBES"
    if seen and seen <= set("BILU") and seen & set("LU"):
        return "BILOU"
    shown = sorted(prefixes, key=_PREFIXES.index)
    why = ("there is no chunk tag" if not seen else
           "'I' alone fits IOB1 and IOE1 (and IO tags)" if seen == {"I"} else "they fit no single scheme")
    raise ValueError(f"cannot detect the tagging scheme from the prefixes {shown}: {why}; pass scheme= one of "
                     f"{list(SCHEMES)} (or use mode='default')")


def detect_scheme(tags: Sequence[str] | Sequence[Sequence[str]], *, suffix: bool = False,
                  untagged: str | None = None) -> str:
    """The strict scheme of a tag sequence (or batch), from the set of prefixes it uses.

    The rule (seqeval's ``auto_detect``, made total): with ``P`` the prefixes other than ``O``,
    ``IOB2`` if ``P`` is ``{B}`` or ``{B, I}``; ``IOE2`` if ``{E}`` or ``{E, I}``; ``IOBES`` if ``P``
    lies within ``{B, I, E, S}`` and holds ``S`` or both ``B`` and ``E``; ``BILOU`` if it lies within
    ``{B, I, L, U}`` and holds ``L`` or ``U``. Anything else (no chunk tag at all, ``I`` alone, a
    mixture such as ``{E, L}``) raises a ``ValueError`` listing the prefixes seen. IOB1 and IOE1 are
    never guessed (their tags also read as IOB2/IOE2 or as IO): pass them by name. Tags without any
    chunk (all ``O``, or none) give ``untagged`` when it is set. Where seqeval
    detects a scheme this gives the same one; seqeval also refuses a few sets only one scheme allows
    (``{S, O}``, ``{B, S}``, ``{U, O}``, ...), which this reads as IOBES or BILOU.

    Examples:
        >>> detect_scheme([["B-X", "I-X", "O"], ["B-Y"]])
        'IOB2'
        >>> detect_scheme(["O", "S-X", "B-Y", "E-Y"])
        'IOBES'
        >>> detect_scheme(["X-B", "X-L"], suffix=True)
        'BILOU'
        >>> detect_scheme(["I-X", "O"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: cannot detect the tagging scheme from the prefixes ['O', 'I']: 'I' alone fits IOB1 and IOE1 ...
    """
    _, seqs = _batch(tags)
    parts = [_split_tag(tag, suffix) for tag in set(chain.from_iterable(seqs))]
    if None in parts:  # name the first ill-formed tag and where it is
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        _parse(list(chain.from_iterable(seqs)), np.cumsum(lengths) - lengths, _PREFIXES, "", suffix)
    return _detect({head for head, _ in parts}, untagged)


class Chunks(NamedTuple):
    """Chunks of a batch of tag sequences as arrays: sequence index, token start and end (exclusive),
    label id into ``names`` (-1: unlabelled), in order of sequence and start."""

    seq: np.ndarray
    start: np.ndarray
    end: np.ndarray
    label: np.ndarray
    names: list[str]


def chunk_arrays(seqs: Sequence[Sequence[str]], scheme: Any = "IOB2", mode: str = "strict", *,
                 suffix: bool = False, untyped: str | None = None) -> Chunks:
    """:func:`bio_to_spans` on a batch, as arrays (no object per chunk); ``untyped`` names unlabelled chunks."""
    scheme = getattr(scheme, "__name__", scheme)
    if mode == "strict":
        if scheme in (None, "auto"):
            scheme = detect_scheme(seqs, suffix=suffix, untagged="IOB2")  # no chunk: any scheme gives none
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; choose one of {list(SCHEMES)}, 'auto' "
                             "(or mode='default')")
        allowed, hint = SCHEMES[scheme]["allowed"], f" for scheme {scheme!r} (or use mode='default')"
    elif mode == "default":
        allowed, hint = _CONLLEVAL, " (conlleval tags; use mode='strict' for BILOU)"
    else:
        raise ValueError(f"mode must be 'strict' or 'default', got {mode!r}")

    # One flat array, each sequence followed by an 'O' separator so chunks never cross sequences.
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    tight = np.cumsum(lengths) - lengths
    codes, ids, names = _parse(list(chain.from_iterable(seqs)), tight, allowed, hint, suffix, untyped)
    base = tight + np.arange(len(seqs))
    where = np.arange(len(codes)) + np.repeat(np.arange(len(seqs)), lengths)
    prefix = np.zeros(len(codes) + len(seqs), dtype=np.int64)
    label = np.full(len(prefix), -1, dtype=np.int64)
    prefix[where], label[where] = codes, ids
    prev_p, prev_l = np.r_[0, prefix[:-1]][: len(prefix)], np.r_[-1, label[:-1]][: len(prefix)]
    if mode == "strict":
        # seqeval scans left to right: a run of "inside" tokens after a non-inside one is one segment;
        # its first start token opens a chunk that runs to the segment's end, kept when the token
        # after it ends it (``end`` rule). Every rule looks at two neighbours only: vectorised.
        same = (prev_l == label).astype(np.int64)
        holds = {part: table[same, prev_p, prefix] for part, table in _TABLES[scheme].items()}
        heads = np.flatnonzero(~holds["inside"])
        segment = np.cumsum(~holds["inside"]) - 1
        opens = np.flatnonzero(holds["start"])
        opens = opens[np.r_[True, np.diff(segment[opens]) != 0]] if len(opens) else opens
        closes = heads[segment[opens] + 1]  # the last token is an 'O' separator: a head, never a start
        ok = holds["end"][closes]
        starts, ends = opens[ok], closes[ok]
    else:
        retyped = prev_l != label
        is_ = {c: prefix == _PREFIXES.index(c) for c in _CONLLEVAL}
        was = {c: prev_p == _PREFIXES.index(c) for c in _CONLLEVAL}
        opened = is_["B"] | is_["S"] | ((was["E"] | was["S"] | was["O"]) & (is_["E"] | is_["I"])) | (
            ~is_["O"] & retyped)
        closed = was["E"] | was["S"] | ((was["B"] | was["I"]) & (is_["B"] | is_["S"] | is_["O"])) | (
            ~was["O"] & retyped)
        starts, ends = np.flatnonzero(opened), np.flatnonzero(closed)
    seq = np.searchsorted(base, starts, side="right") - 1
    return Chunks(seq, starts - base[seq], ends - base[seq], label[starts], names)


def bio_to_spans(
    tags: Sequence[str] | Sequence[Sequence[str]],
    scheme: Any = "IOB2",
    mode: Literal["strict", "default"] = "strict",
    *,
    suffix: bool = False,
) -> list[Span] | list[list[Span]]:
    """Token spans of a tag sequence (or of a batch of sequences), as seqeval extracts them.

    ``mode="strict"`` matches seqeval's ``mode="strict", scheme=...`` rule for rule (:data:`SCHEMES`):
    for IOB2 a chunk is ``B-X`` followed by ``I-X`` tokens, and a stray ``I-X`` is not an entity;
    IOE2, IOBES and BILOU chunks must also end on ``E``/``S`` (``L``/``U``); IOB1 and IOE1 follow
    seqeval's rules too, quirks included (in IOB1 a ``B-X`` opens a chunk only right after an ``X``
    chunk, so ``B-X I-X`` after ``O`` gives the chunk ``I-X``). ``scheme="auto"`` (or None) picks the
    scheme from the prefixes used (:func:`detect_scheme`). ``mode="default"`` matches seqeval's default
    conlleval rules (``scheme`` is then ignored): ``I-X`` after ``O`` or after another label starts a
    chunk, so nothing is dropped. Tags are ``O`` or ``PREFIX-LABEL`` (``LABEL-PREFIX`` with
    ``suffix=True``, e.g. ``PER-B``); a bare prefix (``B``) gives an unlabelled span. The work is
    vectorised over the whole batch.

    Args:
        tags: one sequence of tag strings, or a list of such sequences.
        scheme: a name in :data:`SCHEMES` (``"IOB1"``, ``"IOE1"``, ``"IOB2"``, ``"IOE2"``,
            ``"IOBES"``, ``"BILOU"``), seqeval's scheme class, or ``"auto"``/None.
        mode: ``"strict"`` or ``"default"``.
        suffix: the prefix comes last (``PER-B``).

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
        >>> bio_to_spans(["I-X", "I-X", "B-X", "O"], scheme="IOB1")
        [Span(start=0, end=2, label='X'), Span(start=2, end=3, label='X')]
        >>> bio_to_spans(["PER-B", "PER-E", "O"], scheme="auto", suffix=True)
        [Span(start=0, end=2, label='PER')]
    """
    batch, seqs = _batch(tags)
    chunks = chunk_arrays(seqs, scheme, mode, suffix=suffix)
    out: list[list[Span]] = [[] for _ in seqs]
    names = chunks.names
    for k, s, e, lab in zip(chunks.seq.tolist(), chunks.start.tolist(), chunks.end.tolist(), chunks.label.tolist()):
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
