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
* Chat text (``"Sure, here is the output:\\n<answer>\\nHope this helps"``) is recognised at line
  granularity: when the generation has more lines than the source, up to ``_MAX_CHAT_LINES`` leading
  and trailing lines are cut where that brings the text closer to the source. Markers in them are
  ignored. Faithfulness is measured on the remaining answer (pass ``strip_chat=False`` to keep all).
* When the marker-free answer equals the source, offsets carry over unchanged. Otherwise both texts are
  normalised character by character (NFKC by default, so full-width/half-width variants match; offsets
  stay those of the raw texts) and aligned with ``rapidfuzz.distance.Indel.opcodes`` (a longest common
  subsequence, so every aligned pair is a literal match). Long texts are first anchored on unique
  ``_ANCHOR_K``-grams shared by both, and only the gaps between anchors are aligned.
* A span of the answer becomes the hull of the source characters aligned to its characters: text the
  model inserted maps to nothing, source text the model dropped at a span edge stays outside. A run of
  rewritten characters (adjacent deletions and insertions) of equal length on both sides is read as
  substitutions, position by position; a boundary strictly inside a run of unequal lengths has no
  defensible source offset, and that span is dropped. So is a span whose text has no counterpart in the
  source. A short chance match inside a rewrite (the "g" of "sneezing" and "cough") counts as part of
  the rewrite. Spans are never placed outside the source.
* Boundaries are mapped with numpy, all documents of a batch (``_BATCH``) in one pass.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import accumulate, repeat

import numpy as np
from rapidfuzz.distance import Indel, Levenshtein

from .spans import Span

__all__ = ["DecodeResult", "FaithfulnessReport", "decode_marked", "decode_corpus"]

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


@dataclass
class DecodeResult:
    """Spans decoded from one generation, with how faithfully the generation copied the source.

    ``n_spans_found`` counts the spans returned; ``n_spans_dropped`` the marked spans (or stray markers)
    that could not be placed, each explained in ``issues`` (the first ``_MAX_ISSUES``). The faithfulness
    fields compare the marker-free answer with the source: ``similarity`` is the Indel normalized
    similarity ``2 * LCS / (len(a) + len(b))`` (the measure of ``difflib.SequenceMatcher.ratio`` with an
    exact LCS), ``edit_distance`` the Levenshtein distance, ``length_difference`` ``len(answer) -
    len(source)``. ``answer`` is the ``[start, end)`` of the generation that was read (chat cut off).
    """

    spans: list[Span]
    exact: bool
    similarity: float
    edit_distance: int
    length_difference: int
    n_spans_found: int
    n_spans_dropped: int
    issues: list[str]
    answer: tuple[int, int]


@dataclass
class FaithfulnessReport:
    """Corpus faithfulness in the form of Table S18: exact rate, then means over mismatches only.

    The three ``mean_*`` fields are ``nan`` when every generation is exact (no mismatch to average).
    """

    n_documents: int
    n_exact: int
    exact_match_rate: float
    mean_similarity: float
    mean_edit_distance: float
    mean_length_difference: float
    n_spans_found: int
    n_spans_dropped: int

    @classmethod
    def from_results(cls, results: Sequence[DecodeResult]) -> "FaithfulnessReport":
        n = len(results)
        mismatches = [r for r in results if not r.exact]

        def mean(values: list[float]) -> float:
            return float(np.mean(values)) if values else math.nan

        return cls(
            n_documents=n,
            n_exact=n - len(mismatches),
            exact_match_rate=(n - len(mismatches)) / n if n else math.nan,
            mean_similarity=mean([r.similarity for r in mismatches]),
            mean_edit_distance=mean([r.edit_distance for r in mismatches]),
            mean_length_difference=mean([r.length_difference for r in mismatches]),
            n_spans_found=sum(r.n_spans_found for r in results),
            n_spans_dropped=sum(r.n_spans_dropped for r in results),
        )

    def to_dict(self, prefix: str = "faithfulness_") -> dict[str, float]:
        """Flat ``{prefix + name: float}``, ready for ``Trainer.log`` or ``evaluate`` results."""
        return {prefix + k: float(v) for k, v in vars(self).items()}


@lru_cache(maxsize=16)
def _marker_pattern(open_marker: str, close_marker: str) -> re.Pattern:
    for name, m in (("open_marker", open_marker), ("close_marker", close_marker)):
        if not isinstance(m, str) or not m:
            raise ValueError(f"{name} must be a non-empty string, got {m!r}")
    if open_marker in close_marker or close_marker in open_marker:
        raise ValueError(f"open_marker {open_marker!r} and close_marker {close_marker!r} must differ and "
                         "neither may contain the other, or markers cannot be told apart; use e.g. '@@' and '##'")
    return re.compile(f"({re.escape(open_marker)}|{re.escape(close_marker)})")


@lru_cache(maxsize=65536)
def _normalize_char(form: str, char: str) -> str:
    return unicodedata.normalize(form, char)


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


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


def _matching_blocks(a: str, b: str, i0: int = 0, j0: int = 0) -> list[int]:
    """Exact matches of an optimal Indel (LCS) alignment, flat ``[i, j, size, ...]``, shifted by i0, j0."""
    return [x for t, i1, i2, j1, _ in Indel.opcodes(a, b).as_list() if t == "equal"
            for x in (i1 + i0, j1 + j0, i2 - i1)]


def _align(a: str, b: str) -> tuple[list[int], bool]:
    """Matching blocks of an alignment of ``a`` and ``b``, and whether the alignment is optimal.

    Long texts are anchored on unique shared k-grams and only the gaps between anchors are aligned,
    which keeps the cost near-linear instead of O(len(a) * len(b) / 64).
    """
    if len(a) * len(b) >= _ANCHOR_MIN_CELLS:
        anchors = _anchors(a, b, _ANCHOR_K)
        if anchors:
            flat: list[int] = []
            ci = cj = 0
            for i, j, length in [*anchors, (len(a), len(b), 0)]:
                if i > ci and j > cj:
                    flat += _matching_blocks(a[ci:i], b[cj:j], ci, cj)
                if length:
                    flat += (i, j, length)
                ci, cj = i + length, j + length
            return flat, False
    return _matching_blocks(a, b), True


class _Blocks:
    """Alignments of many documents as one sequence of exact matches and the rewritten gaps between
    them (what the model inserted and deleted there): gap ``g`` lies before match ``g``.

    Documents are laid end to end; an empty ``fixed`` match at the start of each keeps gaps from
    spanning two documents. A match between two rewrites that is no longer than the text rewritten
    around it, in the answer and in the source (the "g" that "sneezing" shares with "cough"), is taken
    as part of the rewrite, much as diff-match-patch's semantic cleanup does; a word with insertions
    on both sides stays a match, since inserted text does not compete for its source characters.
    """

    def __init__(self, matches: np.ndarray, fixed: np.ndarray, n_answer: int, n_source: int):
        opaque = np.zeros(len(matches) + 1, dtype=bool)  # per gap: holds an absorbed match
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
            merged = np.zeros(group[-1] + 1, dtype=bool)
            np.logical_or.at(merged, group, opaque)
            merged[group[1:][absorb]] = True
            matches, fixed, opaque = matches[~absorb], fixed[~absorb], merged
        # a final empty match at the ends of both texts keeps the lookups below in range
        self.mi, self.mj = np.concatenate((mi, [n_answer])), np.concatenate((mj, [n_source]))
        self.me = self.mi + np.concatenate((size, _ZERO))
        self.gi1, self.gi2, self.gj1, self.gj2 = gi1, gi2, gj1, gj2
        # rewritten on both sides with unequal lengths or around an absorbed match: no reading by position
        self.unequal = (gap_j > 0) & ((gap_i != gap_j) | opaque)

    def map(self, q: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Source offsets of answer boundaries ``q`` (``-1`` where no offset is defensible).

        ``end`` marks end boundaries. A start boundary belongs to the character after it, an end
        boundary to the character before it (spans are non-empty, so both exist): a boundary is never
        placed on a pure deletion, so source text the model dropped at a span edge stays outside.
        """
        char = q - end
        k = np.searchsorted(self.mi, char, side="right") - 1  # last match starting at or before ``char``
        in_match = char < self.me[k]  # k >= 0: every document starts with its fixed match
        g = k + 1  # otherwise ``char`` lies in the gap after match ``k``
        i1, i2, j1, j2, unequal = self.gi1[g], self.gi2[g], self.gj1[g], self.gj2[g], self.unequal[g]
        out = np.minimum(j1 + (q - i1), j2)  # substituted: by position; inserted: j1
        out = np.where(unequal & (q == i2), j2, out)
        out = np.where(unequal & (q > i1) & (q < i2), -1, out)
        return np.where(in_match, self.mj[k] + (q - self.mi[k]), out)


def _answer_bounds(generation: str, source: str, pattern: re.Pattern, stripped: str) -> tuple[int, int]:
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
        chosen, cutoff = None, None
        for c in candidates:  # the first (least cut) wins ties
            a0, a1 = bounds(*c)
            text = pattern.sub("", generation[a0:a1])
            d = (Indel.distance(text, source, score_cutoff=cutoff) if cutoff is not None
                 else _bounded(Indel.distance, text, source, 2 * abs(len(text) - len(source)) + 64))
            if cutoff is None or d < cutoff:
                chosen, cutoff = c, d
        return chosen

    i, _ = best([(i, 0) for i in range(min(extra, _MAX_CHAT_LINES) + 1)])
    return bounds(*best([(i, j) for j in range(min(extra - i, _MAX_CHAT_LINES) + 1)]))


def _bounded(distance, a: str, b: str, guess: int) -> int:
    """Exact distance, banded around ``guess`` (near-linear when texts are close); falls back if above."""
    d = distance(a, b, score_cutoff=guess)
    return d if d <= guess else distance(a, b)


def _raw_offset(a0: int, positions: list[int], markers: list[str], k: int) -> int:
    """Offset of marker ``k`` in the generation (for messages): answer start + text + markers before."""
    return a0 + positions[k] + sum(map(len, markers[:k]))


def _pair_markers(markers: list[str], positions: list[int], a0: int, open_marker: str, close_marker: str,
                  issues: list[str]) -> tuple[list[int], list[int], list[int], int]:
    """Pair markers with a stack; keep outermost non-empty pairs.

    Returns starts, ends and open-marker indices of the kept pairs (sorted), and the number dropped.
    """
    def at(k: int) -> int:
        return _raw_offset(a0, positions, markers, k)

    if not len(markers) % 2 and {open_marker} >= set(markers[0::2]) and {close_marker} >= set(markers[1::2]):
        starts, ends = positions[0::2], positions[1::2]  # well formed: open, close, open, close...
        if all(map(int.__lt__, starts, ends)):
            return starts, ends, list(range(0, len(markers), 2)), 0
        pairs, dropped = list(zip(starts, ends, range(0, len(markers), 2))), 0
    else:
        stack: list[int] = []  # indices of open markers
        pairs, dropped = [], 0
        for k, marker in enumerate(markers):
            if marker == open_marker:
                stack.append(k)
            elif stack:
                o = stack.pop()
                pairs.append((positions[o], positions[k], o))
            else:
                dropped += 1
                if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                    issues.append(f"{close_marker!r} at generation offset {at(k)} closes no {open_marker!r}")
        for o in stack:
            dropped += 1
            if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                issues.append(f"{open_marker!r} at generation offset {at(o)} is never closed")
        pairs.sort(key=lambda p: (p[0], -p[1], p[2]))  # an outer pair sorts before the pairs inside it
    starts, ends, opens = [], [], []
    outer_end = -1
    for start, end, o in pairs:
        if start == end:
            dropped += 1
            if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                issues.append(f"span at generation offset {at(o)} is empty")
        elif end <= outer_end:
            dropped += 1
            if len(issues) < _MAX_ISSUES:  # keep a few: messages cost time
                issues.append(f"span at generation offset {at(o)} is nested inside another span")
        else:
            starts.append(start), ends.append(end), opens.append(o)
            outer_end = end
    return starts, ends, opens, dropped


class _Parsed:
    """One generation read and aligned, waiting for its spans to be mapped (with the others)."""

    __slots__ = ("stripped", "source", "answer", "markers", "positions", "starts", "ends", "opens", "dropped",
                 "issues", "n_answer", "n_source", "cum_answer", "cum_source", "changed", "matches", "optimal")


def _parse(generation: str, source: str, doc: int | None, pattern: re.Pattern, open_marker: str,
           close_marker: str, label: str | None, normalization: str | None,
           strip_chat: bool) -> DecodeResult | _Parsed:
    """Read markers, cut chat, align; an exact copy is finished here (offsets carry over)."""
    if not isinstance(generation, str) or not isinstance(source, str):
        where = "" if doc is None else f"document {doc}: "
        raise TypeError(f"{where}generation and source must be str, got {type(generation).__name__} and "
                        f"{type(source).__name__}")
    a0, a1 = 0, len(generation)
    parts = pattern.split(generation)
    stripped = "".join(parts[0::2])
    if strip_chat and stripped != source:
        a0, a1 = _answer_bounds(generation, source, pattern, stripped)
        if (a0, a1) != (0, len(generation)):
            parts = pattern.split(generation[a0:a1])
            stripped = "".join(parts[0::2])
    markers = parts[1::2]
    positions = list(accumulate(map(len, parts[0:-1:2])))  # offset of each marker in ``stripped``
    issues: list[str] = []
    starts, ends, opens, dropped = _pair_markers(markers, positions, a0, open_marker, close_marker, issues)
    if stripped == source:
        spans = list(map(_new_span, zip(starts, ends, repeat(label))))
        return DecodeResult(spans, True, 1.0, 0, 0, len(spans), dropped, issues, (a0, a1))

    p = _Parsed()
    p.stripped, p.source, p.answer, p.markers, p.positions = stripped, source, (a0, a1), markers, positions
    p.issues = issues
    p.starts, p.ends, p.opens, p.dropped = starts, ends, opens, dropped
    norm_answer, p.cum_answer, changed_answer = _normalize(stripped, normalization)
    norm_source, p.cum_source, changed_source = _normalize(source, normalization)
    p.n_answer, p.n_source, p.changed = len(norm_answer), len(norm_source), changed_answer + changed_source
    if norm_answer == norm_source:
        p.matches, p.optimal = [0, 0, len(norm_source)] if norm_source else [], True
    else:
        p.matches, p.optimal = _align(norm_answer, norm_source)
    return p


def _finish(parsed: list[_Parsed], label: str | None) -> list[DecodeResult]:
    """Map the spans of all documents onto their sources in one vectorised pass, then measure them."""
    n_matches = [len(p.matches) // 3 + 1 for p in parsed]  # + the fixed empty match that opens each
    n_spans = [len(p.starts) for p in parsed]
    offset_i = np.cumsum([0] + [p.n_answer for p in parsed])
    offset_j = np.cumsum([0] + [p.n_source for p in parsed])
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
    fixed[np.cumsum(n_matches) - n_matches] = True
    blocks = _Blocks(matches, fixed, int(offset_i[-1]), int(offset_j[-1]))

    n = len(starts)
    q = np.array(starts + ends, dtype=np.int64) + np.tile(np.repeat(offset_i[:-1], n_spans), 2)
    mapped = blocks.map(q, np.arange(2 * n) >= n)
    ambiguous = (mapped[:n] < 0) | (mapped[n:] < 0)
    mapped -= np.tile(np.repeat(offset_j[:-1], n_spans), 2)
    start, end = mapped[:n], mapped[n:]
    bounds = list(accumulate(n_spans, initial=0))
    for d, p in enumerate(parsed):
        if p.cum_source is not None and n_spans[d]:  # round outwards to whole raw characters
            b = slice(bounds[d], bounds[d + 1])
            start[b] = np.searchsorted(p.cum_source, start[b], side="right") - 1
            end[b] = np.searchsorted(p.cum_source, end[b], side="left")
    ok = ~ambiguous & (start < end)
    spans = list(map(_new_span, zip(start[ok].tolist(), end[ok].tolist(), repeat(label))))
    kept_bounds = np.concatenate((_ZERO, np.cumsum(ok))).take(bounds).tolist()
    for t in np.flatnonzero(~ok).tolist():
        d = bisect.bisect_right(bounds, t) - 1
        p, k = parsed[d], t - bounds[d]
        if len(p.issues) < _MAX_ISSUES:  # keep a few: messages cost time
            at = _raw_offset(p.answer[0], p.positions, p.markers, p.opens[k])
            why = "a boundary falls inside rewritten text" if ambiguous[t] else \
                "its text has no counterpart in the source"
            p.issues.append(f"span {p.stripped[p.starts[k]:p.ends[k]]!r} at generation offset {at}: {why}")

    results = []
    for d, p in enumerate(parsed):
        doc_spans = spans[kept_bounds[d]:kept_bounds[d + 1]]
        # The alignment cost is the exact Indel distance when the alignment is optimal and on unchanged
        # characters; otherwise it bounds the banded search (exact either way, see ``_bounded``).
        stripped, source = p.stripped, p.source
        cost = p.n_answer + p.n_source - 2 * sum(p.matches[2::3])
        indel = cost if p.optimal and not p.changed else \
            _bounded(Indel.distance, stripped, source, cost + 2 * p.changed)
        results.append(DecodeResult(
            spans=doc_spans,
            exact=False,
            similarity=1.0 - indel / (len(stripped) + len(source)),
            edit_distance=_bounded(Levenshtein.distance, stripped, source, indel),
            length_difference=len(stripped) - len(source),
            n_spans_found=len(doc_spans),
            n_spans_dropped=p.dropped + n_spans[d] - len(doc_spans),
            issues=p.issues,
            answer=p.answer,
        ))
    return results


def _decode(generations: Sequence[str], sources: Sequence[str], single: bool, open_marker: str,
            close_marker: str, label: str | None, normalization: str | None,
            strip_chat: bool) -> list[DecodeResult]:
    if normalization is not None and normalization not in _NORMALIZATION_FORMS:
        raise ValueError(f"normalization must be one of {_NORMALIZATION_FORMS} or None, got {normalization!r}")
    pattern = _marker_pattern(open_marker, close_marker)
    results: list[DecodeResult | _Parsed] = []
    for lo in range(0, len(generations), _BATCH):  # batches bound the memory held by parsed documents
        batch = [_parse(g, s, None if single else lo + d, pattern, open_marker, close_marker, label,
                        normalization, strip_chat)
                 for d, (g, s) in enumerate(zip(generations[lo:lo + _BATCH], sources[lo:lo + _BATCH]))]
        pending = [d for d, r in enumerate(batch) if isinstance(r, _Parsed)]
        if pending:
            for d, r in zip(pending, _finish([batch[d] for d in pending], label)):
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
) -> DecodeResult:
    """Decode the marked spans of ``generation`` onto character offsets of ``source``.

    Args:
        generation: the model's answer, e.g. ``"@@感染性心内膜炎## (IE) はその経過"``; may deviate from
            ``source`` (see the module docstring for how deviations are handled).
        source: the input text the spans refer to.
        open_marker, close_marker: the span markers (distinct, neither containing the other).
        label: label given to every span (the marker format is untyped).
        normalization: Unicode form both texts are compared under (``"NFKC"``, ``"NFC"``, ``"NFKD"``,
            ``"NFD"``) or ``None`` for raw comparison; offsets are always those of the raw ``source``.
        strip_chat: cut leading/trailing lines of chat text around the answer.

    Returns:
        A :class:`DecodeResult`; ``spans`` are sorted, non-overlapping, inside ``source``.

    Examples:
        >>> source = "CRPが上昇し、発熱"
        >>> r = decode_marked("Sure:\\n@@ＣＲＰ##が上昇し@@発熱##", source)
        >>> r.spans, [source[s.start:s.end] for s in r.spans]
        ([Span(start=0, end=3, label=None), Span(start=8, end=10, label=None)], ['CRP', '発熱'])
        >>> r.exact, r.edit_distance, r.n_spans_dropped
        (False, 4, 0)
    """
    return _decode([generation], [source], True, open_marker, close_marker, label, normalization, strip_chat)[0]


def decode_corpus(
    generations: Sequence[str],
    sources: Sequence[str],
    *,
    open_marker: str = "@@",
    close_marker: str = "##",
    label: str | None = None,
    normalization: str | None = "NFKC",
    strip_chat: bool = True,
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
    results = _decode(generations, sources, False, open_marker, close_marker, label, normalization, strip_chat)
    return [r.spans for r in results], FaithfulnessReport.from_results(results)
