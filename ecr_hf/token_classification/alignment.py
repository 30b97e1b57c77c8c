"""Character spans <-> token labels over a tokenizer's offset mapping, and window merging.

Everything here works on one document's token offsets (``[T, 2]`` half-open character offsets, as
returned by a fast tokenizer with ``return_offsets_mapping=True``) with numpy array arithmetic:
no Python loop over characters.

Alignment rules (the token-level form of a span is necessarily coarser than the span):

* A token is **inside** a span if *any* character it covers is inside (not "its first character"):
  byte-level tokens (GPT-2, Llama 3, SmolLM2) carry the preceding space in their offsets, and a
  span that starts in the middle of a token would vanish under a first-character rule. Spans whose
  boundaries fall inside a token are therefore *widened* to whole tokens (whole words when
  ``label_all_tokens=False``).
* A token touching two spans belongs to the **leftmost** one; the later span starts at its first
  token of its own (it *shrinks*), or is lost if it has none. Overlapping (nested) spans cannot be
  tagged flat: they raise, see :func:`drop_overlapping`.
* ``B-`` marks the first token of each span (``IO``: every token is ``I-``, so adjacent spans of
  one label merge when decoded). Encoding writes BIO or IO only, the schemes ecr-hf trains with;
  decoding also reads the BIOES and BILOU tags of other checkpoints (see :class:`TagSet`).
* Offsets are **trimmed** of leading/trailing whitespace first (:func:`trim_offsets`) when the text
  is given: ``"Ġword"``/``"▁word"`` tokens report the space before the word. A token that covers
  no character after trimming (special tokens ``(0, 0)``, whitespace-only tokens, padding) is
  *empty*: it gets label ``-100`` and is skipped when decoding, so a span continues across it.
* Several tokens sharing one character (byte-level BPE or byte fallback splitting one non-ASCII
  character into bytes, all reporting the same offsets) each count as covering it: they inherit
  the span, the first one gets ``B-``.
* Decoding, a span is the union of its tokens' (trimmed) offsets. Tags are read leniently, as
  conlleval and transformers' token-classification pipeline read them, so no predicted tag is
  dropped: an ``I-X`` (or ``E-X``/``L-X``) that does not continue an ``X`` span starts one, and a
  span ends at ``O``, at another label, at ``B-``/``S-``/``U-``, or after ``E-``/``S-``/``L-``/``U-``.
  Window predictions are merged per token first (:func:`merge_window_predictions`), so a span cut
  by a window edge decodes as one.

Words (for ``label_all_tokens=False``, first sub-token labelling): a token starts a new word where
the tokenizer's ``word_ids`` change **or** where its trimmed start lies past the previous token's end
(whitespace between them). The tokenizer's ``word_ids`` alone are not usable: Llama 2/Gemma style
tokenizers (no pre-tokenizer) report one word for the whole text, and byte-level ones glue the
space to the next word. Text without spaces (Japanese) may then be one long word: use
``label_all_tokens=True`` (the default) there.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from ..spans.formats import chunk_arrays
from ..spans.span import Span, SpanError, to_spans

__all__ = [
    "IGNORE_INDEX",
    "TagSet",
    "trim_offsets",
    "word_index",
    "drop_overlapping",
    "spans_to_token_labels",
    "token_labels_to_spans",
    "merge_window_predictions",
    "WindowMerger",
]


IGNORE_INDEX = -100
"""Label of tokens that take no part in the loss (PyTorch ``CrossEntropyLoss`` ``ignore_index``)."""

_IS_SPACE = np.array([chr(c).isspace() for c in range(0x3002)])  # str.isspace(); the last one is U+3000

Scheme = Literal["BIO", "IO", "BIOES", "BILOU"]

_PREFIXES: dict[str, str] = {"IO": "I", "BIO": "BI", "BIOES": "BIES", "BILOU": "BILU"}
"""Chunk prefixes of each scheme, in the order :meth:`TagSet.from_labels` lays out a label's tags."""

_DEFAULT_NAME = re.compile(r"LABEL_\d+")  # transformers' id2label when a checkpoint names no tags
_OTHER_SPELLING = re.compile(r"^[BIESLU]_.|.[-_][BIESLU]$")  # B_X, X-B, X_B: refused, not read as IO labels


@dataclass(frozen=True)
class TagSet:
    """The token tags of a scheme over entity labels, with ids as a model's ``id2label`` uses them.

    Build it with :meth:`from_labels` from entity labels (``["Disease", ...]``: ids ``O=0``, then
    ``B-X``, ``I-X`` per label in the given order) or from a model's ``label2id``.

    Schemes, read from a checkpoint's tags, whatever their id order: ``BIO``, ``IO``, ``BIOES``
    (``S-`` single-token span, ``E-`` last token) and ``BILOU`` (``U-``, ``L-``), the schemes public
    NER checkpoints use. ``IO`` tags may lack the prefix (``{"O", "PER", "LOC"}``, as some
    checkpoints write them and transformers' pipeline reads them); a set is read so only when none of
    its tags has one. Other spellings (``B_X``, ``X-B``, ``No Disease``) and transformers' default
    ``LABEL_0, LABEL_1, ...`` raise: rename the tags (``ECRExtractor(..., id2label=...)``).
    Training (:func:`spans_to_token_labels`, ``ECRTrainer``) writes BIO or IO only.

    Examples:
        >>> tags = TagSet.from_labels(["Disease", "Drug"])
        >>> tags.id2label
        {0: 'O', 1: 'B-Disease', 2: 'I-Disease', 3: 'B-Drug', 4: 'I-Drug'}
        >>> TagSet.from_labels({"O": 0, "I-d": 1}).scheme
        'IO'
        >>> TagSet.from_labels({"O": 0, "S-d": 1, "B-d": 2, "I-d": 3, "E-d": 4}).scheme
        'BIOES'
    """

    names: tuple[str, ...] = field(metadata={"help": "Tag name of each id, e.g. ('O', 'B-Disease', 'I-Disease')."})
    entity_labels: tuple[str, ...] = field(metadata={"help": "Entity labels, in order of first appearance."})
    scheme: Scheme = field(default="BIO", metadata={"help": "'BIO', 'IO', 'BIOES' or 'BILOU'."})

    def __post_init__(self):
        if self.scheme not in _PREFIXES:
            raise ValueError(f"scheme must be one of {list(_PREFIXES)}, got {self.scheme!r}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"duplicate tag names in {self.names}")
        prefixes = _PREFIXES[self.scheme]
        for name, (p, e) in zip(self.names, self._parsed):
            if p not in "O" + prefixes:
                raise ValueError(f"tag {name!r} has a {p}- prefix but the scheme is {self.scheme!r}, whose "
                                 f"prefixes are {list(prefixes)}; leave scheme unset to read it from the tags")
            if e is not None and e not in self.entity_labels:
                raise ValueError(f"tag {name!r} names label {e!r}, which is not in {list(self.entity_labels)}")
        if self.names.count("O") != 1:
            raise ValueError(f"the tag set needs exactly one 'O' tag, got {list(self.names)}; a checkpoint "
                             "that spells its tags otherwise needs them renamed (ECRExtractor's id2label=)")
        have = set(self._parsed)
        if missing := [f"{p}-{e}" for e in self.entity_labels for p in prefixes if (p, e) not in have]:
            raise ValueError(f"scheme {self.scheme} needs tags {missing}, which are missing from {list(self.names)}")

    @cached_property
    def _parsed(self) -> tuple[tuple[str, str | None], ...]:
        """``(prefix, entity label)`` of each tag; an unprefixed IO tag ``X`` reads as ``("I", "X")``."""
        return _parse_tags(self.names)

    @cached_property
    def _chunk_names(self) -> np.ndarray:
        """Each tag as conlleval reads it: ``O`` or ``B/I/E/S-X`` (BILOU's ``L``/``U`` are ``E``/``S``)."""
        return np.array(["O" if p == "O" else f"{_CONLLEVAL.get(p, p)}-{e}" for p, e in self._parsed], dtype=object)

    @classmethod
    def from_labels(cls, labels: Labels, scheme: Scheme | None = None) -> "TagSet":
        """Entity labels (``scheme`` defaults to BIO), a ``label2id`` mapping (scheme read from its
        tags) or a ``TagSet`` (returned as is; ``scheme``, if given, must agree)."""
        if isinstance(labels, TagSet):
            tags = labels
        elif isinstance(labels, Mapping):
            ids = sorted(labels.values())
            if ids != list(range(len(ids))):
                raise ValueError(f"label2id ids must be 0..{len(ids) - 1} without gaps, got {ids}")
            names = tuple(sorted(labels, key=labels.__getitem__))
            parsed = _parse_tags(names)
            entities = tuple(dict.fromkeys(e for _, e in parsed if e is not None))
            tags = cls(names, entities, scheme or _infer_scheme({p for p, _ in parsed}, names))
        elif isinstance(labels, str) or not isinstance(labels, Iterable):
            raise ValueError(f"labels must be a list of entity labels or a label2id dict, got {labels!r}")
        else:
            entities = tuple(labels)
            valid = all(isinstance(e, str) and e for e in entities)
            if not entities or not valid or len(set(entities)) < len(entities):
                raise ValueError(f"entity labels must be distinct non-empty strings, got {list(entities)}")
            if tags := [e for e in entities if e == "O" or e[:2] in ("B-", "I-")]:
                raise ValueError(f"{tags} look like tags, not entity labels: pass entity labels (e.g. ['Disease']) "
                                 "or a model's label2id dict ({'O': 0, 'B-Disease': 1, ...})")
            scheme = scheme or "BIO"
            if scheme not in _PREFIXES:
                raise ValueError(f"scheme must be one of {list(_PREFIXES)}, got {scheme!r}")
            names = ("O",) + tuple(f"{p}-{e}" for e in entities for p in _PREFIXES[scheme])
            tags = cls(names, entities, scheme)
        if scheme is not None and tags.scheme != scheme:
            raise ValueError(f"these tags use the {tags.scheme} scheme but scheme={scheme!r} was asked for")
        return tags

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @property
    def outside_id(self) -> int:
        return self.names.index("O")

    @property
    def begin_ids(self) -> np.ndarray:
        """Id of the tag opening a span, per entity label: ``B-X`` (``I-X`` under IO)."""
        return self._ids("I" if self.scheme == "IO" else "B")

    @property
    def inside_ids(self) -> np.ndarray:
        """Id of ``I-X`` per entity label."""
        return self._ids("I")

    def _ids(self, prefix: str) -> np.ndarray:
        index = {tag: i for i, tag in enumerate(self._parsed)}
        return np.array([index[prefix, e] for e in self.entity_labels], dtype=np.int64)


Labels = Sequence[str] | Mapping[str, int] | TagSet
"""What ``labels`` arguments take: entity labels, a model's ``label2id``, or a :class:`TagSet`."""

_CONLLEVAL = {"L": "E", "U": "S"}  # BILOU's last and unit tags are BIOES's end and single ones


def _parse_tags(names: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    """``(prefix, entity label)`` of each tag: ``("O", None)`` or ``(P, "X")`` for ``P-X``, ``P`` one of
    ``B I E S L U``. A set without any prefixed tag is unprefixed IO: ``X`` is ``("I", "X")``."""
    if names and all(isinstance(n, str) and _DEFAULT_NAME.fullmatch(n) for n in names):
        raise ValueError(f"the tags are transformers' placeholders {list(names)[:3]}...: the checkpoint does not say "
                         "which id is which tag. Pass them, in id order: ECRExtractor.from_pretrained(path, "
                         "id2label={0: 'O', 1: 'B-Disease', 2: 'I-Disease'}) (see the model card)")
    parsed = [_parse_tag(n) for n in names]
    bare = all(p is None or p[0] == "O" for p in parsed) and all(isinstance(n, str) and n for n in names)
    if bare and not any(_OTHER_SPELLING.search(n) for n in names):
        return tuple(p or ("I", n) for p, n in zip(parsed, names))
    if bad := [n for n, p in zip(names, parsed) if p is None]:
        raise ValueError(f"cannot read tags {bad[:5]} among {list(names)[:12]}: tags are 'O' and PREFIX-LABEL with "
                         "PREFIX one of B, I, E, S, L, U (or, for IO, bare labels only); rename them in id order, "
                         "e.g. ECRExtractor.from_pretrained(path, id2label={0: 'O', 1: 'B-Disease', 2: 'I-Disease'})")
    return tuple(parsed)


def _parse_tag(name: Any) -> tuple[str, str | None] | None:
    if name == "O":
        return "O", None
    if isinstance(name, str) and len(name) > 2 and name[1] == "-" and name[0] in "BIESLU":
        return name[0], name[2:]
    return None


def _infer_scheme(prefixes: set[str], names: Sequence[str]) -> Scheme:
    """The first scheme (IO, BIO, BIOES, BILOU) whose prefixes hold all of ``prefixes``."""
    for scheme, allowed in _PREFIXES.items():
        if prefixes <= set("O" + allowed):
            return scheme
    raise ValueError(f"the tags {list(names)[:12]} mix the prefixes {sorted(prefixes - {'O'})}, which no one scheme "
                     f"of {list(_PREFIXES)} has; rename them (ECRExtractor's id2label=)")


def _as_offsets(offsets: Any) -> np.ndarray:
    arr = np.asarray(offsets, dtype=np.int64)
    if arr.size == 0:
        return arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"offsets must have shape [num_tokens, 2], got {arr.shape}")
    return arr


def trim_offsets(offsets: Any, text: str) -> np.ndarray:
    """Shrink each token's ``(start, end)`` to exclude leading and trailing whitespace of ``text``.

    Byte-level (``"Ġword"``) and SentencePiece (``"▁word"``) tokens report the space before the word;
    whitespace-only tokens become empty ``(start, start)``. Idempotent.

    Examples:
        >>> trim_offsets([(0, 0), (0, 5), (5, 13), (13, 14)], "heart failure ").tolist()
        [[0, 0], [0, 5], [6, 13], [13, 13]]
    """
    offsets = _as_offsets(offsets)
    n = len(text)
    if len(offsets) and (offsets.min() < 0 or offsets.max() > n or np.any(offsets[:, 1] < offsets[:, 0])):
        raise ValueError(f"offsets {offsets.tolist()[:8]}... do not fit a text of length {n}; "
                         "pass the text the offsets were computed on")
    solid = ~_IS_SPACE[np.minimum(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), 0x3001)]
    pos = np.arange(n, dtype=np.int64)
    # next_solid[c]: first non-space index >= c (n if none); solid_end[c]: 1 + last non-space index < c.
    next_solid = np.append(np.minimum.accumulate(np.where(solid, pos, n)[::-1])[::-1], n)
    solid_end = np.concatenate(([0], np.maximum.accumulate(np.where(solid, pos + 1, 0))))
    start, end = next_solid[offsets[:, 0]], solid_end[offsets[:, 1]]
    empty = start >= end
    return np.stack([np.where(empty, offsets[:, 0], start), np.where(empty, offsets[:, 0], end)], axis=1)


def word_index(offsets: Any, word_ids: Sequence[int | None] | None = None) -> np.ndarray:
    """Word number of each token (``-1`` for empty tokens), from trimmed ``offsets`` and ``word_ids``.

    A non-empty token starts a new word where ``word_ids`` changes (``None``/negative ids count as
    no word) or where its start lies past the previous non-empty token's end. Pass offsets trimmed
    by :func:`trim_offsets`, or the space glued to ``"Ġword"`` hides the boundary.

    Examples:
        >>> word_index([(0, 0), (0, 3), (3, 5), (6, 9), (0, 0)]).tolist()
        [-1, 0, 0, 1, -1]
    """
    offsets = _as_offsets(offsets)
    keep = np.flatnonzero(offsets[:, 1] > offsets[:, 0])
    out = np.full(len(offsets), -1, dtype=np.int64)
    if not len(keep):
        return out
    start, end = offsets[keep, 0], offsets[keep, 1]
    new = np.ones(len(keep), dtype=bool)
    new[1:] = start[1:] > np.maximum.accumulate(end)[:-1]
    if word_ids is not None:
        if len(word_ids) != len(offsets):
            raise ValueError(f"word_ids has {len(word_ids)} entries for {len(offsets)} tokens")
        w = np.array([-1 if x is None else x for x in word_ids], dtype=np.int64)[keep]
        new[1:] |= w[1:] != w[:-1]
    out[keep] = np.cumsum(new) - 1
    return out


def drop_overlapping(spans: Iterable[Any], *, doc: int | None = None) -> tuple[list[Span], list[Span]]:
    """Keep a flat (non-overlapping) subset of ``spans``, longest first, ties to the earliest.

    Flat token tags cannot hold nested or crossing spans. Returns ``(kept, dropped)``, both sorted.

    Examples:
        >>> drop_overlapping([(0, 5, "a"), (2, 12, "b"), (12, 14, "c")])
        ([Span(start=2, end=12, label='b'), Span(start=12, end=14, label='c')], [Span(start=0, end=5, label='a')])
    """
    kept: list[Span] = []  # sorted by start; never overlapping, so a new span need only check its neighbours
    dropped = []
    for s in sorted(to_spans(spans, doc=doc), key=lambda s: (-s.length, s.start, s.end)):
        k = bisect.bisect_left(kept, s.start, key=lambda x: x.start)
        if (k and kept[k - 1].end > s.start) or (k < len(kept) and kept[k].start < s.end):
            dropped.append(s)
        else:
            kept.insert(k, s)
    return kept, sorted(dropped, key=lambda s: (s.start, s.end, s.label or ""))


def _check_flat(spans: list[Span], tags: TagSet, doc: int | None) -> None:
    where = f"document {doc}: " if doc is not None else ""
    for i, s in enumerate(spans):
        if s.label not in tags.entity_labels:
            raise SpanError(f"{where}span {i} {tuple(s)} has label {s.label!r}, which is not in the label "
                            f"set {list(tags.entity_labels)}; add it to `labels` or drop the span")
    for a, b in zip(spans, spans[1:]):
        if b.start < a.end:
            raise SpanError(f"{where}spans {tuple(a)} and {tuple(b)} overlap, and flat token tags cannot hold "
                            "overlapping spans; keep one of them (drop_overlapping(spans) keeps the longest, "
                            "tokenize_and_align(..., overlapping='longest') does it for a corpus)")


def _units(offsets: np.ndarray, label_all_tokens: bool, word_ids: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelling units: every non-empty token, or every word. Returns each unit's first token, start
    and end (the furthest end of its tokens)."""
    if label_all_tokens:
        unit = np.where(offsets[:, 1] > offsets[:, 0], 0, -1)
        keep = np.flatnonzero(unit == 0)
        unit[keep] = np.arange(len(keep))
    else:
        unit = word_index(offsets, word_ids)
        keep = np.flatnonzero(unit >= 0)
    first = np.flatnonzero(np.diff(unit[keep], prepend=-1))  # index into keep of each unit's first token
    start = offsets[keep[first], 0]
    end = np.maximum.reduceat(offsets[keep, 1], first) if len(keep) else np.zeros(0, dtype=np.int64)
    return keep[first], start, end


def spans_to_token_labels(
    spans: Iterable[Any] | None,
    offsets: Any,
    labels: Labels,
    *,
    scheme: Scheme | None = None,
    label_all_tokens: bool = True,
    word_ids: Sequence[int | None] | None = None,
    text: str | None = None,
    doc: int | None = None,
) -> np.ndarray:
    """Token label ids for one document's character ``spans`` (rules in the module docstring).

    Args:
        spans: ``Span``s, ``{"start", "end", "label"}`` dicts or tuples; must not overlap.
        offsets: ``[T, 2]`` token offsets into the document; special tokens ``(0, 0)``.
        labels: entity labels, a ``label2id`` dict or a :class:`TagSet`.
        scheme: ``"BIO"`` (default for entity labels) or ``"IO"``.
        label_all_tokens: label every token of a span; if ``False``, only each word's first token,
            the others get ``-100`` (a span touching a word takes the whole word).
        word_ids: the tokenizer's ``word_ids()`` for these tokens (only read for words).
        text: the document; when given, offsets are whitespace-trimmed and spans checked against it.
        doc: document number for error messages.

    Returns:
        ``int64`` array of ``T`` label ids, ``-100`` on empty tokens and non-first sub-tokens.

    Examples:
        >>> offsets = [(0, 0), (0, 3), (3, 5), (5, 13), (0, 0)]  # [CLS] "hea" "rt" " failure" [SEP]
        >>> spans_to_token_labels([(0, 13, "D")], offsets, ["D"], text="heart failure").tolist()
        [-100, 1, 2, 2, -100]
        >>> spans_to_token_labels([(0, 13, "D")], offsets, ["D"], label_all_tokens=False,
        ...                       text="heart failure").tolist()
        [-100, 1, -100, 2, -100]
    """
    tags = TagSet.from_labels(labels, scheme)
    if tags.scheme not in ("BIO", "IO"):
        raise ValueError(f"spans are written as BIO or IO tags, the schemes ecr-hf trains with; these tags are "
                         f"{tags.scheme}, which token_labels_to_spans reads but this does not write")
    offsets = _as_offsets(offsets) if text is None else trim_offsets(offsets, text)
    spans = to_spans(spans, doc=doc, text=text)
    _check_flat(spans, tags, doc)
    first, ustart, uend = _units(offsets, label_all_tokens, word_ids)
    out = np.full(len(offsets), IGNORE_INDEX, dtype=np.int64)
    owner = np.full(len(ustart), -1, dtype=np.int64)
    if spans:
        sstart = np.array([s.start for s in spans], dtype=np.int64)
        send = np.array([s.end for s in spans], dtype=np.int64)
        # Leftmost span ending after the unit's start; the unit is inside it if it starts before the unit ends.
        k = np.searchsorted(send, ustart, side="right")
        hit = k < len(spans)
        hit[hit] = sstart[k[hit]] < uend[hit]
        owner[hit] = k[hit]
    unit_label = np.full(len(owner), tags.outside_id, dtype=np.int64)
    inside = owner >= 0
    if inside.any():
        entity = np.array([tags.entity_labels.index(s.label) for s in spans], dtype=np.int64)[owner[inside]]
        begins = np.diff(owner, prepend=-1)[inside] != 0
        unit_label[inside] = np.where(begins, tags.begin_ids[entity], tags.inside_ids[entity])
    out[first] = unit_label  # with words, the other tokens of a word stay -100
    return out


def token_labels_to_spans(
    tags: Sequence[str] | Sequence[int] | np.ndarray,
    offsets: Any,
    labels: Labels,
    *,
    scheme: Scheme | None = None,
    label_all_tokens: bool = True,
    word_ids: Sequence[int | None] | None = None,
    text: str | None = None,
) -> list[Span]:
    """Character spans of one document's token tags: the inverse of :func:`spans_to_token_labels`.

    ``tags`` are tag names or ids (``-100`` entries are skipped, as are empty tokens). A span is the
    union of its tokens' offsets (trimmed of whitespace when ``text`` is given). With
    ``label_all_tokens=False`` each word takes its first token's tag. Any scheme of :class:`TagSet`
    (BIO, IO, BIOES, BILOU), read leniently as the module docstring says: an ``I-`` after ``O`` or
    after another label starts a span, and so does a stray ``E-``/``L-``.

    Examples:
        >>> offsets = [(0, 0), (0, 3), (3, 5), (5, 13), (0, 0)]
        >>> token_labels_to_spans([0, 1, 2, 2, 0], offsets, ["D"], text="heart failure")
        [Span(start=0, end=13, label='D')]
        >>> token_labels_to_spans(["O", "O", "O", "B-D", "O"], offsets, ["D"], text="heart failure")
        [Span(start=6, end=13, label='D')]
        >>> token_labels_to_spans(["O", "B-D", "E-D", "S-D", "O"], offsets, {"O": 0, "B-D": 1, "I-D": 2, "E-D": 3,
        ...                       "S-D": 4}, text="heart failure")
        [Span(start=0, end=5, label='D'), Span(start=6, end=13, label='D')]
    """
    tagset = TagSet.from_labels(labels, scheme)
    offsets = _as_offsets(offsets) if text is None else trim_offsets(offsets, text)
    ids = _tag_ids(tags, tagset)
    if len(ids) != len(offsets):
        raise ValueError(f"got {len(ids)} tags for {len(offsets)} tokens")
    if label_all_tokens:  # -100 tokens are skipped like empty ones; with words only first tokens count
        offsets = np.where((ids == IGNORE_INDEX)[:, None], 0, offsets)
    first, ustart, uend = _units(offsets, label_all_tokens, word_ids)
    unit_ids = ids[first]
    unit_tags = tagset._chunk_names[np.where(unit_ids == IGNORE_INDEX, tagset.outside_id, unit_ids)]
    chunks = chunk_arrays([unit_tags.tolist()], mode="default")  # conlleval's lenient rules, vectorised
    return [Span(s, e, chunks.names[k]) for s, e, k in
            zip(ustart[chunks.start].tolist(), uend[chunks.end - 1].tolist(), chunks.label.tolist())]


def _tag_ids(tags: Any, tagset: TagSet) -> np.ndarray:
    arr = _numpy(tags) if hasattr(tags, "detach") or isinstance(tags, np.ndarray) else None
    if arr is None or arr.dtype.kind in "USO":
        values = list(tags)
        if any(isinstance(t, str) for t in values):
            lookup = tagset.label2id
            try:
                return np.array([IGNORE_INDEX if t == IGNORE_INDEX else lookup[t] for t in values], dtype=np.int64)
            except KeyError as e:
                raise ValueError(f"tag {e.args[0]!r} is not in the tag set {list(tagset.names)}") from None
        arr = np.asarray(values)
    arr = arr.astype(np.int64, copy=False).reshape(-1)
    bad = (arr != IGNORE_INDEX) & ((arr < 0) | (arr >= tagset.num_labels))
    if bad.any():
        raise ValueError(f"tag ids {sorted(set(arr[bad].tolist()))} are outside 0..{tagset.num_labels - 1} "
                         f"(and are not {IGNORE_INDEX})")
    return arr


def _numpy(x: Any) -> np.ndarray:
    """numpy view of a numpy array, list or torch tensor (bf16/fp16 logits are upcast to float32)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def merge_window_predictions(
    scores: Iterable[Any],
    token_positions: Iterable[Any],
    *,
    num_labels: int | None = None,
    strategy: Literal["central", "average"] = "central",
) -> np.ndarray:
    """Merge one document's window predictions into one score row per document token.

    Args:
        scores: per window, ``[T_w, C]`` logits or ``[T_w]`` label ids (taken as one-hot; ``-100``
            as no vote).
        token_positions: per window, ``[T_w]`` document-level token index, negative for special
            and padding tokens.
        num_labels: ``C``; needed only when ``scores`` are label ids.
        strategy: ``"central"`` (default) takes each token from the window where it has the most
            context, ``min(tokens to its left, tokens to its right)`` within the window, ties to the
            earlier window: the max-context rule of BERT's SQuAD windows, which keeps the poorer
            predictions near window edges out.
            ``"average"`` averages the scores over the windows holding the token (a vote for ids).

    Returns:
        ``[n, C]`` float array for document tokens ``0..n-1``; raises if a token is in no window.

    Examples:
        >>> pos = [[-1, 0, 1, 2, -1], [-1, 1, 2, 3, -1]]  # two windows sharing tokens 1 and 2
        >>> merge_window_predictions([[0, 0, 1, 1, 0], [0, 0, 0, 1, 0]], pos, num_labels=2).argmax(-1).tolist()
        [0, 1, 0, 1]
    """
    if strategy not in ("central", "average"):
        raise ValueError(f"strategy must be 'central' or 'average', got {strategy!r}")
    pos_parts, score_parts, window_parts, first, last = [], [], [], [], []
    for w, (s, p) in enumerate(zip(scores, token_positions, strict=True)):
        s, p = _numpy(s), _numpy(p).astype(np.int64).reshape(-1)
        if s.shape[0] != len(p):
            raise ValueError(f"window {w}: {s.shape[0]} score rows for {len(p)} token positions")
        keep = p >= 0
        if s.ndim == 1:
            if num_labels is None:
                raise ValueError("scores are label ids: pass num_labels to one-hot them")
            ids = s[keep].astype(np.int64)
            s = np.zeros((len(ids), num_labels), dtype=np.float32)
            s[ids != IGNORE_INDEX, ids[ids != IGNORE_INDEX]] = 1.0  # -100 (e.g. gold labels) casts no vote
        else:
            s = s[keep].astype(np.float32, copy=False)
        p = p[keep]
        if len(p):
            pos_parts.append(p)
            score_parts.append(s)
            window_parts.append(np.full(len(p), w))
            first.append(np.full(len(p), p.min()))
            last.append(np.full(len(p), p.max()))
    if not pos_parts:
        return np.zeros((0, num_labels or 0), dtype=np.float32)
    pos, score = np.concatenate(pos_parts), np.concatenate(score_parts)
    n = int(pos.max()) + 1
    count = np.bincount(pos, minlength=n)
    if (missing := np.flatnonzero(count == 0)).size:
        raise ValueError(f"document tokens {missing[:10].tolist()} are in no window; the windows must cover "
                         "every token (use a stride smaller than the window)")
    if strategy == "average":
        total = np.zeros((n, score.shape[1]), dtype=np.float64)
        np.add.at(total, pos, score)
        return (total / count[:, None]).astype(np.float32)
    first, last, window = np.concatenate(first), np.concatenate(last), np.concatenate(window_parts)
    order = np.lexsort((window, -np.minimum(pos - first, last - pos), pos))
    best = order[np.concatenate(([True], np.diff(pos[order]) != 0))]
    return score[best]


class WindowMerger:
    """Accumulates a Trainer's per-batch window logits and returns character spans per document.

    Built for evaluation loops (e.g. ``compute_metrics`` with ``batch_eval_metrics=True``): call
    :meth:`add` once per batch, :meth:`finalize` at the end. Documents may be split over batches and
    windows may come in any order. Memory holds only documents still missing windows when
    ``num_windows`` is given (each complete document is decoded at once and its logits dropped),
    otherwise every document's window logits until :meth:`finalize`.

    Contract of ``add`` (a batch of ``B`` windows padded to ``T`` tokens, numpy or torch):

    * ``logits``: ``[B, T, C]`` scores, or ``[B, T]`` predicted label ids;
    * ``token_positions``: ``[B, T]`` index of each token in its document's token sequence,
      negative for special and padding tokens (which are ignored; nothing is read from ids);
    * ``document_index``: ``[B]`` document of each window;
    * ``offset_mapping``: ``[B, T, 2]`` character offsets, whitespace-trimmed (as
      :func:`ecr_hf.token_classification.tokenize_and_align` stores them);
    * ``word_ids``: ``[B, T]`` word of each token, needed only with ``label_all_tokens=False``;
    * ``num_windows``: ``[B]`` window count of each window's document (optional, see above).

    ``finalize()`` returns one sorted span list per document ``0..num_documents - 1`` (or up to the
    largest index seen), raises if a document got no window or fewer/more than ``num_windows``, and
    resets the merger.

    Examples:
        >>> merger = WindowMerger(["D"])
        >>> logits = np.eye(3)[[[0, 1, 2, 0], [0, 0, 0, 0]]]  # window 0: [CLS] B-D I-D [SEP]
        >>> merger.add(logits, token_positions=[[-1, 0, 1, -1], [-1, 0, -1, -1]], document_index=[0, 1],
        ...            offset_mapping=[[(0, 0), (0, 5), (6, 13), (0, 0)], [(0, 0), (0, 2), (0, 0), (0, 0)]])
        >>> merger.finalize()
        [[Span(start=0, end=13, label='D')], []]
    """

    def __init__(
        self,
        labels: Labels,
        *,
        scheme: Scheme | None = None,
        label_all_tokens: bool = True,
        strategy: Literal["central", "average"] = "central",
        num_documents: int | None = None,
    ):
        if strategy not in ("central", "average"):
            raise ValueError(f"strategy must be 'central' or 'average', got {strategy!r}")
        self.tags = TagSet.from_labels(labels, scheme)
        self.label_all_tokens = label_all_tokens
        self.strategy = strategy
        self.num_documents = num_documents
        self._reset()

    def _reset(self) -> None:
        self._pending: dict[int, list[tuple[np.ndarray, ...]]] = {}
        self._expected: dict[int, int] = {}
        self._done: dict[int, list[Span]] = {}

    def add(
        self,
        logits: Any,
        token_positions: Any,
        document_index: Any,
        offset_mapping: Any,
        *,
        word_ids: Any = None,
        num_windows: Any = None,
    ) -> None:
        """Take one batch of windows (shapes in the class docstring)."""
        logits, positions = _numpy(logits), _numpy(token_positions).astype(np.int64)
        docs, offsets = _numpy(document_index).astype(np.int64).reshape(-1), _numpy(offset_mapping).astype(np.int64)
        if positions.ndim != 2 or logits.shape[:2] != positions.shape or offsets.shape != positions.shape + (2,):
            raise ValueError(f"expected logits [B, T, C] or [B, T], token_positions [B, T] and offset_mapping "
                             f"[B, T, 2]; got {logits.shape}, {positions.shape} and {offsets.shape}")
        if len(docs) != len(positions):
            raise ValueError(f"document_index has {len(docs)} entries for a batch of {len(positions)} windows")
        if word_ids is None and not self.label_all_tokens:
            raise ValueError("label_all_tokens=False decodes words: pass word_ids")
        words = None if word_ids is None else _numpy(word_ids).astype(np.int64)
        counts = None if num_windows is None else _numpy(num_windows).astype(np.int64).reshape(-1)
        for b, doc in enumerate(docs.tolist()):
            if doc in self._done:
                raise ValueError(f"document {doc} got a window after all its {self._expected[doc]} windows")
            keep = positions[b] >= 0
            self._pending.setdefault(doc, []).append(
                (positions[b][keep], logits[b][keep], offsets[b][keep], None if words is None else words[b][keep]))
            if counts is not None:
                self._expected[doc] = int(counts[b])
                if len(self._pending[doc]) == counts[b]:
                    self._done[doc] = self._decode(self._pending.pop(doc))

    def _decode(self, windows: list[tuple[np.ndarray, ...]]) -> list[Span]:
        pos = [w[0] for w in windows]
        merged = merge_window_predictions([w[1] for w in windows], pos, num_labels=self.tags.num_labels,
                                          strategy=self.strategy)
        offsets = np.zeros((len(merged), 2), dtype=np.int64)
        words = np.full(len(merged), -1, dtype=np.int64)
        for p, _, o, w in windows:
            offsets[p] = o
            if w is not None:
                words[p] = w
        return token_labels_to_spans(merged.argmax(-1), offsets, self.tags, label_all_tokens=self.label_all_tokens,
                                     word_ids=None if self.label_all_tokens else words)

    def finalize(self) -> list[list[Span]]:
        """Spans of every document (see the class docstring); resets the merger."""
        seen = set(self._pending) | set(self._done)
        n = self.num_documents if self.num_documents is not None else (max(seen) + 1 if seen else 0)
        if missing := sorted(set(range(n)) - seen):
            raise ValueError(f"documents {missing[:10]} got no window")
        if extra := sorted(seen - set(range(n))):
            raise ValueError(f"documents {extra[:10]} are outside 0..{n - 1} (num_documents={n})")
        if short := [d for d in self._pending if d in self._expected]:
            d = short[0]
            raise ValueError(f"document {d} got {len(self._pending[d])} of its {self._expected[d]} windows "
                             f"({len(short)} documents are incomplete)")
        out = [self._done[d] if d in self._done else self._decode(self._pending[d]) for d in range(n)]
        self._reset()
        return out
