"""Tolerant decoding of ``@@concept##``-marked generations back to character spans of the source.

Instruction-tuned decoders answer by rewriting the input with ``@@`` and ``##`` around concepts.
Most copies are exact, but some insert, drop or substitute characters, leave a marker unclosed or
wrap the answer in chat text. Offsets read off such a generation are offsets of the *generation*;
this module maps them onto the *source* through a character alignment, and measures how faithful
the copy was (the figures of Table S18 of the E-CCR paper: exact reproduction rate and, over
mismatches, similarity, Levenshtein distance and length difference).

How a generation is read:

* Markers are paired with a stack: ``##`` closes the most recent open ``@@``. An ``@@`` that is never
  closed (e.g. at the end of a truncated generation) and a ``##`` that closes nothing are dropped.
* Nested markers (``@@a @@b## c##``): the outermost span is kept and the spans inside it are dropped,
  since the format marks untyped concepts and the outer span already covers the inner text.
* Markers in the source: a marker of the generation that is aligned character for character onto the
  same marker at the same place of the source is source text, not a marker (``"a @@ b ## c"`` copied
  exactly has no span). Only where the source has no such marker, or the copy differs there, is it read
  as a marker. An exact copy of a source with markers therefore cannot mark a span that starts or ends
  exactly at a copied marker.
* Chat text (``"Sure, here is the output:\\n<answer>\\nHope this helps"``) is recognised at line
  granularity: when the generation has more lines than the source, up to ``_MAX_CHAT_LINES`` leading
  and trailing lines are cut where that brings the text closer to the source. Markers in them are
  ignored. Faithfulness is measured on the remaining answer (pass ``strip_chat=False`` to keep all).
* When the marker-free answer equals the source, offsets carry over unchanged. Otherwise both texts are
  normalised character by character (NFKC by default, so full-width/half-width variants match; offsets
  stay those of the raw texts) and aligned with ``rapidfuzz.distance.Indel.opcodes`` (a longest common
  subsequence, so every aligned pair is a literal match). Long texts are first anchored on unique
  ``_ANCHOR_K``-grams shared by both, and only the gaps between anchors are aligned; a long gap whose
  two sides differ little (a repetitive text with scattered edits has no unique anchors) is aligned in
  a band around the diagonal (``Levenshtein.opcodes`` with a distance hint), which is near-linear.
* A span of the answer becomes the hull of the source characters aligned to its characters: text the
  model inserted maps to nothing, source text the model dropped at a span edge stays outside. A run of
  rewritten characters (adjacent deletions and insertions) of equal length on both sides is read as
  substitutions, position by position. Spans are never placed outside the source.
* The placement is checked: a span whose source text differs from its marked text (compared under
  ``normalization``) is first looked for, as an exact copy of its marked text, in the source next to
  where the alignment put it (within its own length and the rewritten text beside it, between its
  neighbours); the nearest copy wins, and if the span before holds the only copy, that span moves
  back to its own nearest copy. This repairs boundaries that an edit right next to a marker pulled
  off (in ``"fever c@@cough##"`` the model inserted a "c", and the span is "cough", not "ough").
  Otherwise the hull is kept and counted as *adjusted* (``n_spans_adjusted``, with the text it got in
  ``issues``): the model changed the span's text. A span with no defensible hull is dropped and
  counted: a boundary strictly inside a run of unequal rewrites, text with no counterpart in the
  source (a hallucinated or repeated span), or a hull that would overlap a neighbour. A short chance
  match inside a rewrite (the "g" of "sneezing" and "cough") counts as part of the rewrite.
* Cost is bounded by ``max_cells`` (default :data:`MAX_CELLS`, 2**28): no alignment or distance step
  evaluates more cells of a dynamic-programming matrix than that (a plain alignment of ``n x m``
  characters needs ``n * m`` cells, ``n * m / 8`` bytes; a banded one ``max(n, m)`` cells per unit of
  band). Texts that are close or share anchors stay near-linear whatever their length. A stretch that
  is both too long and too different to align within the cap (say, two unrelated 100,000-character
  texts) is left unaligned: spans in it are dropped with the reason in ``issues``, and the document is
  counted in ``capped``. Its ``similarity``/``edit_distance`` are ``nan``/``None`` when the distances
  themselves exceed the cap, and such documents are left out of the report's means.
* Boundaries are mapped with numpy, all documents of a batch (``_BATCH``) in one pass.

Typed markers (``labels=`` given, e.g. ``"@@aspirin##Chemical"``): a closing marker may be followed,
with nothing in between, by a label of ``labels``, the longest one that matches there (the grammar of
:func:`ecr_hf.spans.spans_to_marked`); the label is read as part of the marker, so it is neither
aligned nor counted as copied text, and the span gets it. A closing marker with no label of the set
after it (a missing label, or one outside the set: ``"##Drug"`` reads as ``"##"`` followed by the
inserted text ``"Drug"``, which the alignment treats as any other insertion) still closes its span:
the span is kept with ``label`` (default ``None``: unlabelled, so it matches no gold span in typed
scoring) and counted in ``n_spans_unlabelled``, with the offset in ``issues``. A marker and label
copied exactly from the source (``"##Chemical"`` in the source, aligned onto itself) are source text,
as untyped markers are.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import accumulate, repeat

import numpy as np
from rapidfuzz.distance import Indel, Levenshtein

from .formats import check_labels
from .span import Span

__all__ = ["MAX_CELLS", "DecodeResult", "FaithfulnessReport", "decode_marked", "decode_corpus"]

MAX_CELLS = 2**28
"""Default ``max_cells``: the most cells of one alignment or distance matrix the decoder evaluates
(2**28 cells: a 32 MiB bit matrix and some 40 ms for a plain alignment of two 16,000-character texts)."""

_NORMALIZATION_FORMS = ("NFC", "NFKC", "NFD", "NFKD")
# From this many alignment cells (len(answer) * len(source), ~3,500 characters each) the alignment is
# anchored first: the bit-parallel alignment costs O(N * M / 64) whatever the edits; the anchored one
# grows linearly and is faster from ~3,000-4,000 characters (see benchmarks/bench_decode.py).
_ANCHOR_MIN_CELLS = 12_000_000
_ANCHOR_K = 32  # length of the exact k-grams used as anchors (a power of two, see _kgram_hashes)
_MAX_CHAT_LINES = 4  # most leading / trailing lines that may be cut as chat text
_MAX_ISSUES = 10
_BATCH = 2048  # documents mapped together in one vectorised pass
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)
_ZERO = np.zeros(1, dtype=np.int64)
_new_span = partial(tuple.__new__, Span)  # Span from a (start, end, label) tuple, without Python frames
_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")  # what str.splitlines splits on


def _repr(obj) -> str:
    """The dataclass repr, without ``n_spans_unlabelled`` when it is ``None`` (untyped: as before typing)."""
    fields = ", ".join(f"{k}={v!r}" for k, v in vars(obj).items() if not (k == "n_spans_unlabelled" and v is None))
    return f"{type(obj).__name__}({fields})"


@dataclass
class DecodeResult:
    """Spans decoded from one generation, with how faithfully the generation copied the source.

    ``n_spans_found`` counts the spans returned; ``n_spans_dropped`` the marked spans (or stray markers)
    that could not be placed; ``n_spans_adjusted`` the returned spans whose source text differs from
    their marked text (the model changed it). Each is explained in ``issues`` (the first
    ``_MAX_ISSUES``). The faithfulness fields compare the marker-free answer with the source:
    ``similarity`` is the Indel normalized similarity ``2 * LCS / (len(a) + len(b))`` (the measure of
    ``difflib.SequenceMatcher.ratio`` with an exact LCS), ``edit_distance`` the Levenshtein distance,
    ``length_difference`` ``len(answer) - len(source)``. ``capped`` says that ``max_cells`` was reached:
    a stretch was left unaligned (its spans dropped), and ``similarity``/``edit_distance`` are
    ``nan``/``None`` if the distances exceeded it too. ``answer`` is the ``[start, end)`` of the
    generation that was read (chat cut off). With typed markers (``labels=``),
    ``n_spans_unlabelled`` counts the returned spans whose closing marker carried no label of the set
    (``None`` for untyped decoding).
    """

    spans: list[Span]
    exact: bool
    similarity: float
    edit_distance: int | None
    length_difference: int
    n_spans_found: int
    n_spans_dropped: int
    n_spans_adjusted: int
    capped: bool
    issues: list[str]
    answer: tuple[int, int]
    n_spans_unlabelled: int | None = None

    __repr__ = _repr


@dataclass
class FaithfulnessReport:
    """Corpus faithfulness in the form of Table S18: exact rate, then means over mismatches only.

    The three ``mean_*`` fields are ``nan`` when every generation is exact (no mismatch to average);
    ``mean_similarity`` and ``mean_edit_distance`` leave out documents whose distances exceeded
    ``max_cells`` (counted in ``n_capped``, with those whose spans were dropped for the cap). The span
    counts are sums of the :class:`DecodeResult` fields of the same names; ``n_spans_unlabelled``
    is ``None`` (and left out of :meth:`to_dict`) unless the generations were decoded with typed
    markers (``labels=``).
    """

    n_documents: int
    n_exact: int
    exact_match_rate: float
    mean_similarity: float
    mean_edit_distance: float
    mean_length_difference: float
    n_spans_found: int
    n_spans_dropped: int
    n_spans_adjusted: int
    n_capped: int
    n_spans_unlabelled: int | None = None

    __repr__ = _repr

    @classmethod
    def from_results(cls, results: Sequence[DecodeResult]) -> "FaithfulnessReport":
        n = len(results)
        mismatches = [r for r in results if not r.exact]
        measured = [r for r in mismatches if r.edit_distance is not None]

        def mean(values: list[float]) -> float:
            return float(np.mean(values)) if values else math.nan

        return cls(
            n_documents=n,
            n_exact=n - len(mismatches),
            exact_match_rate=(n - len(mismatches)) / n if n else math.nan,
            mean_similarity=mean([r.similarity for r in measured]),
            mean_edit_distance=mean([r.edit_distance for r in measured]),
            mean_length_difference=mean([r.length_difference for r in mismatches]),
            n_spans_found=sum(r.n_spans_found for r in results),
            n_spans_dropped=sum(r.n_spans_dropped for r in results),
            n_spans_adjusted=sum(r.n_spans_adjusted for r in results),
            n_capped=sum(r.capped for r in results),
            n_spans_unlabelled=None if all(r.n_spans_unlabelled is None for r in results) else
            sum(r.n_spans_unlabelled or 0 for r in results),
        )

    def to_dict(self, prefix: str = "faithfulness_") -> dict[str, float]:
        """Flat ``{prefix + name: float}``, ready for ``Trainer.log`` or ``evaluate`` results (fields that
        are ``None`` are left out)."""
        return {prefix + k: float(v) for k, v in vars(self).items() if v is not None}


@lru_cache(maxsize=16)
def _marker_pattern(open_marker: str, close_marker: str) -> re.Pattern:
    for name, m in (("open_marker", open_marker), ("close_marker", close_marker)):
        if not isinstance(m, str) or not m:
            raise ValueError(f"{name} must be a non-empty string, got {m!r}")
    if open_marker in close_marker or close_marker in open_marker:
        raise ValueError(f"open_marker {open_marker!r} and close_marker {close_marker!r} must differ and "
                         "neither may contain the other, or markers cannot be told apart; use e.g. '@@' and '##'")
    return re.compile(f"({re.escape(open_marker)}|{re.escape(close_marker)})")


@lru_cache(maxsize=16)
def _typed_marker_pattern(open_marker: str, close_marker: str, labels: tuple[str, ...]) -> re.Pattern:
    """Like :func:`_marker_pattern`, with a closing marker taking the longest label of ``labels`` right after
    it into its match (one group, so ``split`` gives ``"##Chemical"`` as one marker)."""
    _marker_pattern(open_marker, close_marker)
    alternatives = "|".join(map(re.escape, sorted(labels, key=len, reverse=True)))
    return re.compile(f"({re.escape(open_marker)}|{re.escape(close_marker)}(?:{alternatives})?)")


@lru_cache(maxsize=65536)
def _normalize_char(form: str, char: str) -> str:
    return unicodedata.normalize(form, char)


def _codepoints(text: str) -> np.ndarray:
    """Code points (a lone surrogate such as "\\ud800", a valid JSON escape, is one too)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _normalize(text: str, form: str | None) -> tuple[str, np.ndarray | None, int]:
    """Normalise character by character, so each raw character owns its normalised characters.

    Returns the normalised text, ``cum`` (raw offset -> normalised offset; ``None`` when every character
    keeps length one, so offsets are unchanged) and how many raw characters changed.
    """
    if form is None or unicodedata.is_normalized(form, text):
        return text, None, 0
    table = {ord(c): n for c in set(text) if (n := _normalize_char(form, c)) != c}
    changed = sum(text.count(chr(o)) for o in table)
    resized = [(o, len(n)) for o, n in table.items() if len(n) != 1]
    if not resized:
        return text.translate(table), None, changed
    cp = _codepoints(text)
    lengths = np.ones(len(text), dtype=np.int64)
    for o, n in resized:
        lengths[cp == o] = n
    cum = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum(lengths, out=cum[1:])
    return text.translate(table), cum, changed


def _kgram_hashes(text: str, k: int) -> np.ndarray:
    """Polynomial hashes (mod 2**64) of every k-gram (``k`` a power of two), by doubling the width."""
    h = _codepoints(text).astype(np.uint64)
    width, power = 1, int(_HASH_BASE)
    while width < k:
        h = h[: max(len(h) - width, 0)] * np.uint64(power) + h[width:]
        power = power * power % 2**64
        width *= 2
    return h


def _longest_increasing(values: np.ndarray) -> list[int]:
    """Indices of a longest strictly increasing subsequence (patience sorting, O(m log m))."""
    tails: list[int] = []  # values[tail index] of the best chain of each length
    tail_idx: list[int] = []
    prev = [-1] * len(values)
    for i, v in enumerate(values.tolist()):
        pos = bisect.bisect_left(tails, v)
        if pos:
            prev[i] = tail_idx[pos - 1]
        if pos == len(tails):
            tails.append(v)
            tail_idx.append(i)
        else:
            tails[pos], tail_idx[pos] = v, i
    chain, i = [], tail_idx[-1] if tail_idx else -1
    while i >= 0:
        chain.append(i)
        i = prev[i]
    return chain[::-1]


def _anchors(a: str, b: str, k: int) -> list[tuple[int, int, int]]:
    """Exact matches ``(i, j, length)`` of k-grams found once in each text, in order in both texts.

    Candidates are the k-grams of ``a`` at multiples of ``k`` (every exact run of ``2 * k`` characters
    holds one); the chain kept is a longest one increasing in both texts.
    """
    ha, hb = _kgram_hashes(a, k), _kgram_hashes(b, k)
    pa = np.arange(0, len(ha), k)
    query = ha[pa]
    sorted_a = np.sort(ha)
    order_b = np.argsort(hb)
    sorted_b = hb[order_b]
    left_b = np.searchsorted(sorted_b, query, side="left")
    once = (np.searchsorted(sorted_b, query, side="right") - left_b == 1) & (
        np.searchsorted(sorted_a, query, side="right") - np.searchsorted(sorted_a, query, side="left") == 1)
    pa, pb = pa[once], order_b[left_b[once]]
    chain = _longest_increasing(pb)
    pa, pb = pa[chain].tolist(), pb[chain].tolist()
    out = []
    for n, (i, j) in enumerate(zip(pa, pb)):
        length = k if n + 1 == len(pa) else min(k, pa[n + 1] - i, pb[n + 1] - j)
        if a[i:i + length] == b[j:j + length]:  # guards against hash collisions
            out.append((i, j, length))
    return out


def _matching_blocks(a: str, b: str, i0: int = 0, j0: int = 0, score_hint: int | None = None) -> list[int]:
    """Exact matches of an optimal alignment, flat ``[i, j, size, ...]``, shifted by i0, j0: Indel (LCS),
    or Levenshtein in a band when ``score_hint`` (its distance) is given."""
    ops = Indel.opcodes(a, b) if score_hint is None else Levenshtein.opcodes(a, b, score_hint=score_hint)
    return [x for t, i1, i2, j1, _ in ops.as_list() if t == "equal" for x in (i1 + i0, j1 + j0, i2 - i1)]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    differ = np.flatnonzero(_codepoints(a[:n]) != _codepoints(b[:n]))
    return int(differ[0]) if len(differ) else n


def _align_gap(a: str, b: str, i0: int, j0: int, max_cells: int) -> tuple[list[int], int | None]:
    """Matching blocks of one stretch between anchors, within ``max_cells``: a plain LCS alignment when
    small; else the common prefix and suffix, and between them a banded alignment when the two sides
    are close, a plain one when it fits, or nothing. Returns the blocks and, when the middle is left
    unaligned, the index of the block after it."""
    n, m = len(a), len(b)
    if n * m <= min(max_cells, _ANCHOR_MIN_CELLS):
        return _matching_blocks(a, b, i0, j0), None
    head = _common_prefix(a, b)
    tail = _common_prefix(a[head:][::-1], b[head:][::-1])
    flat = [i0, j0, head] if head else []
    a, b, i0, j0 = a[head:n - tail], b[head:m - tail], i0 + head, j0 + head
    n, m = len(a), len(b)
    capped = None
    if n and m:
        band = max_cells // max(n, m)
        d = Levenshtein.distance(a, b, score_cutoff=band)  # costs about max(n, m) * band / 64 words
        if d <= band:
            flat += _matching_blocks(a, b, i0, j0, score_hint=d)
        elif n * m <= max_cells:
            flat += _matching_blocks(a, b, i0, j0)
        else:
            capped = len(flat) // 3
    if tail:
        flat += (i0 + n, j0 + m, tail)
    return flat, capped


def _align(a: str, b: str, max_cells: int) -> tuple[list[int], bool, list[int]]:
    """Matching blocks of an alignment of ``a`` and ``b``, whether it is optimal, and the stretches left
    unaligned for ``max_cells`` (``t``: the gap before match ``t``, counting the flat triples).

    Long texts are anchored on unique shared k-grams and only the gaps between anchors are aligned,
    which keeps the cost near-linear instead of O(len(a) * len(b) / 64).
    """
    if len(a) * len(b) < _ANCHOR_MIN_CELLS and len(a) * len(b) <= max_cells:
        return _matching_blocks(a, b), True, []
    flat: list[int] = []
    capped: list[int] = []
    ci = cj = 0
    for i, j, length in [*_anchors(a, b, _ANCHOR_K), (len(a), len(b), 0)]:
        if i > ci and j > cj:
            blocks, cap = _align_gap(a[ci:i], b[cj:j], ci, cj, max_cells)
            if cap is not None:
                capped.append(len(flat) // 3 + cap)
            flat += blocks
        if length:
            flat += (i, j, length)
        ci, cj = i + length, j + length
    return flat, False, capped


class _Blocks:
    """Alignments of many documents as one sequence of exact matches and the rewritten gaps between
    them (what the model inserted and deleted there): gap ``g`` lies before match ``g``.

    Documents are laid end to end; an empty ``fixed`` match at the start of each keeps gaps from
    spanning two documents. A match between two rewrites that is no longer than the text rewritten
    around it, in the answer and in the source (the "g" that "sneezing" shares with "cough"), is taken
    as part of the rewrite, much as diff-match-patch's semantic cleanup does; a word with insertions
    on both sides stays a match, since inserted text does not compete for its source characters.
    ``capped`` gaps (per gap) were left unaligned for the cap; absorbing a match keeps the flag.
    """

    def __init__(self, matches: np.ndarray, fixed: np.ndarray, capped: np.ndarray, n_answer: int,
                 n_source: int):
        opaque = capped.copy()  # per gap: no reading by position (holds an absorbed match, or unaligned)
        while True:
            mi, mj, size = matches[:, 0], matches[:, 1], matches[:, 2]
            gi1, gi2 = np.concatenate((_ZERO, mi + size)), np.concatenate((mi, [n_answer]))
            gj1, gj2 = np.concatenate((_ZERO, mj + size)), np.concatenate((mj, [n_source]))
            gap_i, gap_j = gi2 - gi1, gj2 - gj1
            rewritten = gap_i + gap_j > 0
            absorb = rewritten[:-1] & rewritten[1:] & ~fixed & (
                size <= np.minimum(gap_i[:-1] + gap_i[1:], gap_j[:-1] + gap_j[1:]))
            if not absorb.any():
                break
            group = np.concatenate((_ZERO, np.cumsum(~absorb)))  # gap -> gap after merging
            merged = np.zeros((2, group[-1] + 1), dtype=bool)
            np.logical_or.at(merged[0], group, opaque)
            np.logical_or.at(merged[1], group, capped)
            merged[0, group[1:][absorb]] = True
            matches, fixed, (opaque, capped) = matches[~absorb], fixed[~absorb], merged
        # a final empty match at the ends of both texts keeps the lookups below in range
        self.mi, self.mj = np.concatenate((mi, [n_answer])), np.concatenate((mj, [n_source]))
        self.me = self.mi + np.concatenate((size, _ZERO))
        self.gi1, self.gi2, self.gj1, self.gj2 = gi1, gi2, gj1, gj2
        self.capped = capped
        # rewritten on both sides with unequal lengths or around an absorbed match: no reading by position
        self.unequal = (gap_j > 0) & ((gap_i != gap_j) | opaque)

    def match_of(self, char: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last match starting at or before answer character ``char``, and whether it holds it."""
        k = np.searchsorted(self.mi, char, side="right") - 1
        return k, char < self.me[k]  # k >= 0: every document starts with its fixed match

    def map(self, q: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Source offsets of answer boundaries ``q`` (``-1`` where no offset is defensible), and the gap
        each boundary lies in or after.

        ``end`` marks end boundaries. A start boundary belongs to the character after it, an end
        boundary to the character before it (spans are non-empty, so both exist): a boundary is never
        placed on a pure deletion, so source text the model dropped at a span edge stays outside.
        """
        k, in_match = self.match_of(q - end)
        g = k + 1  # unless in the match, the character lies in the gap after match ``k``
        i1, i2, j1, j2, unequal = self.gi1[g], self.gi2[g], self.gj1[g], self.gj2[g], self.unequal[g]
        out = np.minimum(j1 + (q - i1), j2)  # substituted: by position; inserted: j1
        out = np.where(unequal & (q == i2), j2, out)
        out = np.where(unequal & (q > i1) & (q < i2), -1, out)
        return np.where(in_match, self.mj[k] + (q - self.mi[k]), out), g


def _nearest(text: str, sub: str, lo: int, hi: int, ref: int) -> int:
    """Start of the copy of ``sub`` inside ``text[lo:hi]`` nearest to ``ref`` (``-1`` if none; the
    earlier one on a tie)."""
    right = text.find(sub, max(lo, ref), hi)
    left = text.rfind(sub, lo, min(hi, ref - 1 + len(sub))) if ref > lo else -1
    if left < 0 or (right >= 0 and right - ref < ref - left):
        return right
    return left


def _split(generation: str, pattern: re.Pattern, literal: frozenset[int], a0: int, a1: int) -> list[str]:
    """``pattern.split(generation[a0:a1])``, leaving the ``literal`` markers (offsets) in the text."""
    text = generation[a0:a1]
    if not literal:
        return pattern.split(text)
    parts, pos = [], 0
    for m in pattern.finditer(text):
        if a0 + m.start() not in literal:
            parts += (text[pos:m.start()], m.group())
            pos = m.end()
    parts.append(text[pos:])
    return parts


def _literal_markers(generation: str, source: str, pattern: re.Pattern, max_cells: int) -> frozenset[int]:
    """Offsets of the generation's markers aligned exactly onto the same marker of the source: they copy
    source text and are not markers."""
    in_source = {m.start(): m.group() for m in pattern.finditer(source)}
    flat, _, _ = _align(generation, source, max_cells)
    block_starts = flat[0::3]
    literal = set()
    for m in pattern.finditer(generation):
        b = bisect.bisect_right(block_starts, m.start()) - 1
        if b >= 0 and m.end() <= flat[3 * b] + flat[3 * b + 2] and \
                in_source.get(flat[3 * b + 1] + m.start() - flat[3 * b]) == m.group():
            literal.add(m.start())
    return frozenset(literal)


def _answer_bounds(generation: str, source: str, split: Callable[[int, int], list[str]], stripped: str,
                   max_cells: int) -> tuple[int, int]:
    """Cut leading / trailing lines of chat text where that brings the text closer to the source."""
    if not source or _LINE_BREAK.search(stripped) is None:
        return 0, len(generation)
    extra = len(stripped.splitlines()) - len(source.splitlines())
    lines = generation.splitlines(keepends=True)
    extra = min(extra, len(lines) - 1)  # keep one line at least
    if extra <= 0:
        return 0, len(generation)
    starts = [0, *accumulate(map(len, lines))]

    def bounds(i: int, j: int) -> tuple[int, int]:
        if not j:
            return starts[i], len(generation)
        last = lines[len(lines) - j - 1]  # its line break separates the answer from the chat
        return starts[i], starts[len(lines) - j - 1] + len((last.splitlines() or [""])[0])

    def best(candidates: list[tuple[int, int]]) -> tuple[int, int]:
        chosen, distance = candidates[0], None  # the first (least cut) wins ties, and when none is in reach
        for c in candidates:
            text = "".join(split(*bounds(*c))[0::2])
            limit = _distance_limit(len(text), len(source), max_cells)
            if distance is not None:
                limit = min(limit, distance - 1)
            d = _bounded(Indel.distance, text, source, 2 * abs(len(text) - len(source)) + 64, limit)
            if d is not None:
                chosen, distance = c, d
        return chosen

    i, _ = best([(i, 0) for i in range(min(extra, _MAX_CHAT_LINES) + 1)])
    return bounds(*best([(i, j) for j in range(min(extra - i, _MAX_CHAT_LINES) + 1)]))


def _distance_limit(n: int, m: int, max_cells: int) -> int:
    """The largest distance of texts of lengths n, m worth computing within ``max_cells``: any when the
    whole matrix fits, else the band that does."""
    return n + m if n * m <= max_cells else max_cells // max(n, m)


def _bounded(distance, a: str, b: str, guess: int, limit: int) -> int | None:
    """Exact distance if at most ``limit`` (else ``None``), banded around ``guess`` first (near-linear
    when texts are close): the cost grows with the band, not with the product of the lengths."""
    if limit < 0:
        return None
    d = distance(a, b, score_cutoff=min(guess, limit))
    if d > guess and guess < limit:
        d = distance(a, b, score_cutoff=limit)
    return d if d <= limit else None


def _raw_offset(a0: int, positions: list[int], markers: list[str], k: int) -> int:
    """Offset of marker ``k`` in the generation (for messages): answer start + text + markers before."""
    return a0 + positions[k] + sum(map(len, markers[:k]))


def _pair_markers(markers: list[str], positions: list[int], a0: int, open_marker: str, close_marker: str,
                  issues: list[str]) -> tuple[list[int], list[int], list[int], list[int], int]:
    """Pair markers with a stack; keep outermost non-empty pairs. A marker other than ``open_marker``
    closes (``close_marker``, followed by a label with typed markers).

    Returns starts, ends, open- and close-marker indices of the kept pairs (sorted), and the number dropped.
    """
    def at(k: int) -> int:
        return _raw_offset(a0, positions, markers, k)

    if not len(markers) % 2 and {open_marker} >= set(markers[0::2]) and open_marker not in markers[1::2]:
        starts, ends = positions[0::2], positions[1::2]  # well formed: open, close, open, close...
        if all(map(int.__lt__, starts, ends)):
            return starts, ends, list(range(0, len(markers), 2)), list(range(1, len(markers), 2)), 0
        pairs, dropped = list(zip(starts, ends, range(0, len(markers), 2), range(1, len(markers), 2))), 0
    else:
        stack: list[int] = []  # indices of open markers
        pairs, dropped = [], 0
        for k, marker in enumerate(markers):
            if marker == open_marker:
                stack.append(k)
            elif stack:
                o = stack.pop()
                pairs.append((positions[o], positions[k], o, k))
            else:
                dropped += 1
                if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                    issues.append(f"{close_marker!r} at generation offset {at(k)} closes no {open_marker!r}")
        for o in stack:
            dropped += 1
            if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                issues.append(f"{open_marker!r} at generation offset {at(o)} is never closed")
        pairs.sort(key=lambda p: (p[0], -p[1], p[2]))  # an outer pair sorts before the pairs inside it
    starts, ends, opens, closes = [], [], [], []
    outer_end = -1
    for start, end, o, c in pairs:
        if start == end:
            dropped += 1
            if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                issues.append(f"span at generation offset {at(o)} is empty")
        elif end <= outer_end:
            dropped += 1
            if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                issues.append(f"span at generation offset {at(o)} is nested inside another span")
        else:
            starts.append(start), ends.append(end), opens.append(o), closes.append(c)
            outer_end = end
    return starts, ends, opens, closes, dropped


class _Parsed:
    """One generation read and aligned, waiting for its spans to be mapped (with the others)."""

    __slots__ = ("stripped", "source", "answer", "markers", "positions", "starts", "ends", "opens", "dropped",
                 "issues", "norm_answer", "norm_source", "cum_answer", "cum_source", "changed", "matches",
                 "optimal", "capped", "labels")


def _span_labels(markers: list[str], closes: list[int], close_marker: str, a0: int, positions: list[int],
                 issues: list[str]) -> list[str | None]:
    """The label each closing marker carries (``None``: none of the set), noting those without one."""
    cut = len(close_marker)
    labels = [markers[c][cut:] or None for c in closes]
    for c, found in zip(closes, labels):
        if found is None and len(issues) < _MAX_ISSUES:
            issues.append(f"{close_marker!r} at generation offset {_raw_offset(a0, positions, markers, c)} is not "
                          "followed by a known label: the span is kept unlabelled")
    return labels


def _parse(generation: str, source: str, doc: int | None, pattern: re.Pattern, open_marker: str,
           close_marker: str, label: str | None, normalization: str | None, strip_chat: bool,
           max_cells: int, typed: bool = False) -> DecodeResult | _Parsed:
    """Read markers, cut chat, align; an exact copy is finished here (offsets carry over)."""
    if not isinstance(generation, str) or not isinstance(source, str):
        where = "" if doc is None else f"document {doc}: "
        raise TypeError(f"{where}generation and source must be str, got {type(generation).__name__} and "
                        f"{type(source).__name__}")
    literal = _literal_markers(generation, source, pattern, max_cells) if pattern.search(source) else frozenset()
    split = partial(_split, generation, pattern, literal)
    a0, a1 = 0, len(generation)
    parts = split(a0, a1)
    stripped = "".join(parts[0::2])
    if strip_chat and stripped != source:
        a0, a1 = _answer_bounds(generation, source, split, stripped, max_cells)
        if (a0, a1) != (0, len(generation)):
            parts = split(a0, a1)
            stripped = "".join(parts[0::2])
    markers = parts[1::2]
    positions = list(accumulate(map(len, parts[0:-1:2])))  # offset of each marker in ``stripped``
    issues: list[str] = []
    starts, ends, opens, closes, dropped = _pair_markers(markers, positions, a0, open_marker, close_marker, issues)
    labels = _span_labels(markers, closes, close_marker, a0, positions, issues) if typed else None
    if stripped == source:
        if labels is None:
            spans = list(map(_new_span, zip(starts, ends, repeat(label))))
            return DecodeResult(spans, True, 1.0, 0, 0, len(spans), dropped, 0, False, issues, (a0, a1))
        spans = [_new_span((s, e, label if x is None else x)) for s, e, x in zip(starts, ends, labels)]
        return DecodeResult(spans, True, 1.0, 0, 0, len(spans), dropped, 0, False, issues, (a0, a1),
                            labels.count(None))

    p = _Parsed()
    p.stripped, p.source, p.answer, p.markers, p.positions = stripped, source, (a0, a1), markers, positions
    p.issues = issues
    p.starts, p.ends, p.opens, p.dropped, p.labels = starts, ends, opens, dropped, labels
    p.norm_answer, p.cum_answer, changed_answer = _normalize(stripped, normalization)
    p.norm_source, p.cum_source, changed_source = _normalize(source, normalization)
    p.changed = changed_answer + changed_source
    if p.norm_answer == p.norm_source:
        p.matches, p.optimal, p.capped = [0, 0, len(p.norm_source)] if p.norm_source else [], True, []
    else:
        p.matches, p.optimal, p.capped = _align(p.norm_answer, p.norm_source, max_cells)
    return p


def _show(text: str, limit: int = 80) -> str:
    """``repr`` of a text for a message, shortened in the middle past ``limit`` characters."""
    return repr(text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}")


def _windows(blocks: _Blocks, q: np.ndarray, span_doc: np.ndarray,
             offset_i: np.ndarray) -> tuple[list[int], list[int]]:
    """Where to look for a copy of each span's text: the span widened on both sides by its own length
    and the rewritten text next to it (in the answer), within its document, mapped onto the source and
    on into the source text the model dropped there."""
    n = len(span_doc)
    qs, qe = q[:n], q[n:]
    ks, in_s = blocks.match_of(qs)
    ke, in_e = blocks.match_of(qe - 1)
    rewritten = blocks.gi2 - blocks.gi1
    before = np.where(in_s, np.where(qs == blocks.mi[ks], rewritten[ks], 0), rewritten[ks + 1])
    after = np.where(in_e & (qe < blocks.me[ke]), 0, rewritten[ke + 1])
    lo = np.maximum(2 * qs - qe - before, offset_i[span_doc])
    hi = np.minimum(2 * qe - qs + after, offset_i[span_doc + 1])
    k, inside = blocks.match_of(lo)
    lo = np.where(inside & (lo > blocks.mi[k]), blocks.mj[k] + (lo - blocks.mi[k]),
                  blocks.gj1[np.where(inside, k, k + 1)])
    k, inside = blocks.match_of(hi - 1)
    hi = np.where(inside & (hi < blocks.me[k]), blocks.mj[k] + (hi - blocks.mi[k]), blocks.gj2[k + 1])
    return lo.tolist(), hi.tolist()


_WHY = {"rewritten": "a boundary falls inside rewritten text",
        "missing": "its text has no counterpart in the source",
        "overlap": "it would overlap a neighbouring span"}


def _place(parsed: list[_Parsed], blocks: _Blocks, q: np.ndarray, mapped: np.ndarray, gap: np.ndarray,
           keep: np.ndarray, span_doc: np.ndarray, offset_i: np.ndarray, offset_j: np.ndarray
           ) -> tuple[np.ndarray, dict[int, str | int]]:
    """Check the spans not inside one exact match (``~keep``), in place, in order: keep a hull whose
    source text is the marked text, else the nearest exact copy of that text in its window (see
    ``_windows``), moving the span before it back to its own nearest copy if that one holds the only
    copy, else the hull (marked adjusted), else drop. All coordinates are global (documents laid end
    to end). Returns ``adjusted`` and why each dropped span was dropped (a key of ``_WHY``, or the
    unaligned gap it lies in)."""
    n = len(keep)
    start, end = mapped[:n].tolist(), mapped[n:].tolist()
    adjusted = np.zeros(n, dtype=bool)
    why: dict[int, str | int] = {}
    if keep.all():
        return adjusted, why
    lo, hi = _windows(blocks, q, span_doc, offset_i)
    index = np.arange(n)
    prev_clean = np.maximum.accumulate(np.concatenate(([-1], np.where(keep, index, -1)[:-1]))).tolist()
    next_clean = np.minimum.accumulate(np.where(keep, index, n)[::-1])[::-1].tolist()
    span_doc, q, gap, capped = span_doc.tolist(), q.tolist(), gap.tolist(), blocks.capped.tolist()
    offset_i, offset_j = offset_i.tolist(), offset_j.tolist()
    last: dict[int, int] = {}  # per document: the last span placed here
    placed_after: dict[int, int] = {}  # span placed here -> the kept span before it

    def kept_before(t: int, d: int) -> int:  # the kept span before ``t`` (``-1``: none)
        c = prev_clean[t]
        return max(c if c >= 0 and span_doc[c] == d else -1, last.get(d, -1))

    def text_of(t: int) -> str:
        oi = offset_i[span_doc[t]]
        return parsed[span_doc[t]].norm_answer[q[t] - oi:q[n + t] - oi]

    for t in np.flatnonzero(~keep).tolist():
        d, s, e = span_doc[t], start[t], end[t]
        source, oj = parsed[d].norm_source, offset_j[d]
        g = gap[t] if s < 0 else gap[n + t]
        if (s < 0 or e < 0) and capped[g]:
            why[t] = g  # the unaligned stretch it lies in
            continue
        top, nxt = kept_before(t, d), next_clean[t]
        lower = end[top] if top >= 0 else oj
        upper = start[nxt] if nxt < n and span_doc[nxt] == d else offset_j[d + 1]
        text = text_of(t)
        hull = 0 <= s < e and lower <= s and e <= upper
        if not hull or source[s - oj:e - oj] != text:
            ref = (s if s >= 0 else int(blocks.gj1[gap[t]])) - oj
            pos = _nearest(source, text, max(lower, lo[t]) - oj, min(upper, hi[t]) - oj, ref) if text else -1
            if pos < 0 and top >= 0 and text:  # the span before may hold the only copy: move it back
                pos = _nearest(source, text, max(start[top], lo[t]) - oj, min(upper, hi[t]) - oj, ref)
                before = placed_after[top] if top in placed_after else kept_before(top, d)
                top_text = text_of(top)
                top_pos = -1 if pos < 0 else _nearest(
                    source, top_text, max(end[before] if before >= 0 else oj, lo[top]) - oj,
                    min(pos + oj, hi[top]) - oj, start[top] - oj)
                if top_pos >= 0:
                    start[top], end[top], adjusted[top] = top_pos + oj, top_pos + oj + len(top_text), False
                else:
                    pos = -1
            if pos >= 0:
                s, e = pos + oj, pos + oj + len(text)
            elif hull:
                adjusted[t] = True
            else:
                why[t] = "rewritten" if s < 0 or e < 0 else "missing" if s >= e else "overlap"
                continue
        start[t], end[t], keep[t], last[d], placed_after[t] = s, e, True, t, top
    mapped[:n], mapped[n:] = start, end
    return adjusted, why


def _finish(parsed: list[_Parsed], label: str | None, max_cells: int) -> list[DecodeResult]:
    """Map the spans of all documents onto their sources in one vectorised pass, then measure them."""
    n_matches = [len(p.matches) // 3 + 1 for p in parsed]  # + the fixed empty match that opens each
    n_spans = [len(p.starts) for p in parsed]
    offset_i = np.cumsum([0] + [len(p.norm_answer) for p in parsed])
    offset_j = np.cumsum([0] + [len(p.norm_source) for p in parsed])
    flat: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for p in parsed:
        flat += (0, 0, 0)
        flat += p.matches
        if p.cum_answer is None:
            starts += p.starts
            ends += p.ends
        else:
            starts += p.cum_answer[p.starts].tolist()
            ends += p.cum_answer[p.ends].tolist()
    matches = np.array(flat, dtype=np.int64).reshape(-1, 3)
    matches[:, 0] += np.repeat(offset_i[:-1], n_matches)
    matches[:, 1] += np.repeat(offset_j[:-1], n_matches)
    fixed = np.zeros(len(matches), dtype=bool)
    first = np.cumsum(n_matches) - n_matches
    fixed[first] = True
    capped = np.zeros(len(matches) + 1, dtype=bool)  # per gap; gap ``g`` lies before match ``g``
    for d, p in enumerate(parsed):
        capped[[first[d] + 1 + t for t in p.capped]] = True
    blocks = _Blocks(matches, fixed, capped, int(offset_i[-1]), int(offset_j[-1]))

    n = len(starts)
    span_doc = np.repeat(np.arange(len(parsed)), n_spans)
    is_end = np.arange(2 * n) >= n
    q = np.array(starts + ends, dtype=np.int64) + np.tile(offset_i[span_doc], 2)
    mapped, gap = blocks.map(q, is_end)
    k, in_match = blocks.match_of(q - is_end)
    keep = in_match[:n] & in_match[n:] & (k[:n] == k[n:])  # inside one exact match: the text carries over
    adjusted, why = _place(parsed, blocks, q, mapped, gap, keep, span_doc, offset_i, offset_j)
    mapped -= np.tile(offset_j[span_doc], 2)
    start, end = mapped[:n], mapped[n:]
    bounds = list(accumulate(n_spans, initial=0))
    for d, p in enumerate(parsed):
        if p.cum_source is not None and n_spans[d]:  # round outwards to whole raw characters
            b = slice(bounds[d], bounds[d + 1])
            start[b] = np.searchsorted(p.cum_source, start[b], side="right") - 1
            end[b] = np.searchsorted(p.cum_source, end[b], side="left")
    typed = bool(parsed) and parsed[0].labels is not None
    if typed:
        found = [x for p in parsed for x in p.labels]
        kept = np.flatnonzero(keep).tolist()
        span_labels = [label if found[t] is None else found[t] for t in kept]
        unlabelled = np.bincount(span_doc[[t for t in kept if found[t] is None]], minlength=len(parsed)).tolist()
        spans = list(map(_new_span, zip(start[keep].tolist(), end[keep].tolist(), span_labels)))
    else:
        spans = list(map(_new_span, zip(start[keep].tolist(), end[keep].tolist(), repeat(label))))
    kept_bounds = np.concatenate((_ZERO, np.cumsum(keep))).take(bounds).tolist()
    n_adjusted = np.bincount(span_doc[adjusted], minlength=len(parsed)).tolist()
    for t in sorted([*why, *np.flatnonzero(adjusted).tolist()]):
        d = span_doc[t]
        p, k = parsed[d], t - bounds[d]
        if len(p.issues) < _MAX_ISSUES:  # keep a few: messages cost time
            at = _raw_offset(p.answer[0], p.positions, p.markers, p.opens[k])
            if adjusted[t]:
                why_t = f"placed on {_show(p.source[start[t]:end[t]])}: the generation changed its text"
            elif isinstance(g := why[t], str):
                why_t = _WHY[g]
            else:
                why_t = (f"it lies in a stretch of {blocks.gi2[g] - blocks.gi1[g]} x {blocks.gj2[g] - blocks.gj1[g]} "
                         f"characters too different to align within max_cells={max_cells}")
            p.issues.append(f"span {_show(p.stripped[p.starts[k]:p.ends[k]])} at generation offset {at}: {why_t}")

    results = []
    for d, p in enumerate(parsed):
        doc_spans = spans[kept_bounds[d]:kept_bounds[d + 1]]
        # The alignment cost is the exact Indel distance when the alignment is optimal and on unchanged
        # characters; otherwise it bounds the banded search (exact either way, see ``_bounded``).
        stripped, source = p.stripped, p.source
        cost = len(p.norm_answer) + len(p.norm_source) - 2 * sum(p.matches[2::3])
        limit = _distance_limit(len(stripped), len(source), max_cells)
        indel = cost if p.optimal and not p.changed else \
            _bounded(Indel.distance, stripped, source, cost + 2 * p.changed, limit)
        distance = None if indel is None else _bounded(Levenshtein.distance, stripped, source, indel, indel)
        if p.capped:
            p.issues.append(f"{len(p.capped)} stretch(es) of the texts too different to align within "
                            f"max_cells={max_cells}: spans there are dropped")
        if distance is None:
            p.issues.append(f"similarity and edit distance not computed: the texts ({len(stripped)} and "
                            f"{len(source)} characters) differ too much for max_cells={max_cells}")
        results.append(DecodeResult(
            spans=doc_spans,
            exact=False,
            similarity=math.nan if indel is None else 1.0 - indel / (len(stripped) + len(source)),
            edit_distance=distance,
            length_difference=len(stripped) - len(source),
            n_spans_found=len(doc_spans),
            n_spans_dropped=p.dropped + n_spans[d] - len(doc_spans),
            n_spans_adjusted=n_adjusted[d],
            capped=bool(p.capped) or distance is None,
            issues=p.issues,
            answer=p.answer,
            n_spans_unlabelled=unlabelled[d] if typed else None,
        ))
    return results


def _decode(generations: Sequence[str], sources: Sequence[str], single: bool, open_marker: str,
            close_marker: str, label: str | None, normalization: str | None, strip_chat: bool,
            max_cells: int, labels: Sequence[str] | None = None) -> list[DecodeResult]:
    if normalization is not None and normalization not in _NORMALIZATION_FORMS:
        raise ValueError(f"normalization must be one of {_NORMALIZATION_FORMS} or None, got {normalization!r}")
    if isinstance(max_cells, bool) or not isinstance(max_cells, int) or max_cells < 1:
        raise ValueError(f"max_cells must be a positive int (default MAX_CELLS = 2**28), got {max_cells!r}")
    if labels is None:
        pattern = _marker_pattern(open_marker, close_marker)
    else:
        _marker_pattern(open_marker, close_marker)  # the markers' own errors first
        pattern = _typed_marker_pattern(open_marker, close_marker, check_labels(labels, open_marker, close_marker))
    typed = labels is not None
    results: list[DecodeResult | _Parsed] = []
    for lo in range(0, len(generations), _BATCH):  # batches bound the memory held by parsed documents
        batch = [_parse(g, s, None if single else lo + d, pattern, open_marker, close_marker, label,
                        normalization, strip_chat, max_cells, typed)
                 for d, (g, s) in enumerate(zip(generations[lo:lo + _BATCH], sources[lo:lo + _BATCH]))]
        pending = [d for d, r in enumerate(batch) if isinstance(r, _Parsed)]
        if pending:
            for d, r in zip(pending, _finish([batch[d] for d in pending], label, max_cells)):
                batch[d] = r
        results += batch
    return results


def decode_marked(
    generation: str,
    source: str,
    *,
    open_marker: str = "@@",
    close_marker: str = "##",
    label: str | None = None,
    normalization: str | None = "NFKC",
    strip_chat: bool = True,
    max_cells: int = MAX_CELLS,
    labels: Sequence[str] | None = None,
) -> DecodeResult:
    """Decode the marked spans of ``generation`` onto character offsets of ``source``.

    Args:
        generation: the model's answer, e.g. ``"@@感染性心内膜炎## (IE) はその経過"``; may deviate from
            ``source`` (see the module docstring for how deviations are handled).
        source: the input text the spans refer to.
        open_marker, close_marker: the span markers (distinct, neither containing the other).
        label: label given to every span (the marker format is untyped); with ``labels``, to the spans
            whose closing marker carries no label of the set.
        normalization: Unicode form both texts are compared under (``"NFKC"``, ``"NFC"``, ``"NFKD"``,
            ``"NFD"``) or ``None`` for raw comparison; offsets are always those of the raw ``source``.
        strip_chat: cut leading/trailing lines of chat text around the answer.
        max_cells: the most cells of one alignment or distance matrix to evaluate (see the module
            docstring): bounds time and memory; a stretch too long and too different to align within
            it has its spans dropped (``capped``, reasons in ``issues``).
        labels: typed markers: the labels a closing marker may carry (``"@@aspirin##Chemical"``; see
            the module docstring); ``None``: untyped.

    Returns:
        A :class:`DecodeResult`; ``spans`` are sorted, non-overlapping, inside ``source``.

    Examples:
        >>> source = "CRPが上昇し、発熱"
        >>> r = decode_marked("Sure:\\n@@ＣＲＰ##が上昇し@@発熱##", source)
        >>> r.spans, [source[s.start:s.end] for s in r.spans]
        ([Span(start=0, end=3, label=None), Span(start=8, end=10, label=None)], ['CRP', '発熱'])
        >>> r.exact, r.edit_distance, r.n_spans_dropped
        (False, 4, 0)
        >>> r = decode_marked("@@aspirin##Chemical-induced @@asthma##", "aspirin-induced asthma",
        ...                   labels=["Chemical", "Disease"])
        >>> r.spans, r.n_spans_unlabelled
        ([Span(start=0, end=7, label='Chemical'), Span(start=16, end=22, label=None)], 1)
    """
    return _decode([generation], [source], True, open_marker, close_marker, label, normalization, strip_chat,
                   max_cells, labels)[0]


def decode_corpus(
    generations: Sequence[str],
    sources: Sequence[str],
    *,
    open_marker: str = "@@",
    close_marker: str = "##",
    label: str | None = None,
    normalization: str | None = "NFKC",
    strip_chat: bool = True,
    max_cells: int = MAX_CELLS,
    labels: Sequence[str] | None = None,
) -> tuple[list[list[Span]], FaithfulnessReport]:
    """Decode one generation per source, as :func:`decode_marked` does (same options), in one batch.

    Returns:
        The spans of each source, and a :class:`FaithfulnessReport` in the form of Table S18.

    Examples:
        >>> spans, report = decode_corpus(["@@fever## today", "@@cough## "], ["fever today", "cough"])
        >>> spans
        [[Span(start=0, end=5, label=None)], [Span(start=0, end=5, label=None)]]
        >>> report.exact_match_rate, report.mean_edit_distance, report.mean_length_difference
        (0.5, 1.0, 1.0)
    """
    generations, sources = list(generations), list(sources)
    if len(generations) != len(sources):
        raise ValueError(f"got {len(generations)} generations but {len(sources)} sources; pass one "
                         "generation per source text, in the same order")
    results = _decode(generations, sources, False, open_marker, close_marker, label, normalization, strip_chat,
                      max_cells, labels)
    return [r.spans for r in results], FaithfulnessReport.from_results(results)
