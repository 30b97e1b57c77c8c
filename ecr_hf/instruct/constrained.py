"""Faithful constrained decoding: the model may only copy its source and insert span markers.

A marked generation for source ``s`` is *faithful* when removing the markers gives back ``s``
exactly and the markers are balanced: ``open_marker`` and ``close_marker`` alternate, starting with
an open marker, every span encloses at least one character, no span is nested, and every span is
closed before the end. :class:`FaithfulMarkerLogitsProcessor` makes every generation faithful by
construction: at each step it allows exactly the tokens whose text keeps the output inside that
language, and EOS only once the whole source has been copied.

The check runs on the *decoded bytes* of tokens, not on token ids, so any tokenization of the
output is allowed (byte-level BPE pieces of a Japanese character, a re-tokenization that differs
from the source's own, tokens that mix source text and a marker such as ``"@@"`` or ``"。##"``).
Each token's bytes are computed once (:func:`token_bytes`) and stored in a byte trie; a step walks
the trie only along the bytes the grammar allows next (the next source byte, or a marker byte at a
character boundary), so its cost is the number of *valid* token prefixes, not the vocabulary size.

Two further guarantees keep generation from painting itself into a corner:

* a token is allowed only if the output can still be completed with the vocabulary (per source,
  the fewest tokens that spell ``source[p:]`` are precomputed for every byte position ``p``);
* with ``max_new_tokens`` given, a token is allowed only if the output can still be completed,
  EOS included, within the remaining budget, so generation never stops half-way through a source.

Ambiguity: a source that itself contains a marker string (or its first byte, e.g. ``"@"``) is
handled by tracking every reading of the output at once, but the marked text then does not read
back uniquely; :func:`ecr_hf.spans.spans_to_marked` refuses such sources for training data.

Typed markers (``labels=``): every ``close_marker`` is followed by one label of the set, and nothing
else (with ``label_required=False``, by a label or by nothing). The labels' bytes form a second trie,
walked like the source. The output must read back under the decoder's rule (the label is the longest
label that matches right after the marker): a reading that ends label ``L`` keeps walking the label
trie on the bytes that follow, and dies if they complete a longer label (``Chem`` then copied
``"ical"`` where ``Chemical`` is a label; or, with no label, copied text that starts with a label).
Every label must be spellable with the vocabulary for the model to choose it; the budget counts the
cheapest label that the source text after the span lets stand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache

import numpy as np
import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase
from transformers.utils import logging

from ..spans.formats import check_labels

logger = logging.get_logger(__name__)

__all__ = ["token_bytes", "ByteVocabulary", "FaithfulMarkerLogitsProcessor"]

_INF = 1 << 40
_DEAD = 2 * _INF  # the cost of a reading that cannot be finished (above any budget, _INF included)
_TERM = -1  # trie key holding the ids of the tokens that end at a node
_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_SUPPORTED_DECODERS = {"ByteLevel", "Replace", "ByteFallback", "Fuse", "Strip", "Metaspace"}


@lru_cache(maxsize=1)
def _byte_level_inverse() -> tuple[dict[int, int], frozenset[str]]:
    """Inverse of GPT-2's byte -> printable-character table used by byte-level BPE vocabularies, as a
    ``str.translate`` table onto code points 0-255 (then ``.encode("latin-1")`` gives the bytes)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = b
        else:
            table[256 + extra] = b
            extra += 1
    return table, frozenset(map(chr, table))


def _decoder_steps(tokenizer: PreTrainedTokenizerBase) -> list[dict]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(
            f"{type(tokenizer).__name__} has no `backend_tokenizer`; constrained decoding reads the decoder of a "
            "fast (`tokenizers`-backed) tokenizer. Load the tokenizer with AutoTokenizer (fast is the default)."
        )
    decoder = json.loads(backend.to_str()).get("decoder")
    if decoder is None:
        return []
    steps = decoder["decoders"] if decoder["type"] == "Sequence" else [decoder]
    kinds = [d["type"] for d in steps]
    unsupported = sorted(set(kinds) - _SUPPORTED_DECODERS)
    if unsupported:
        raise ValueError(
            f"tokenizer decoder step(s) {unsupported} are not supported by constrained decoding (supported: "
            f"{sorted(_SUPPORTED_DECODERS)}); it needs to know the exact bytes each token stands for."
        )
    if "Strip" in kinds and ("Fuse" not in kinds or kinds.index("Strip") < kinds.index("Fuse")):
        raise ValueError("a `Strip` decoder that acts on every token (before `Fuse`) is not supported: tokens "
                         "would not stand for fixed bytes")
    return steps


def token_bytes(tokenizer: PreTrainedTokenizerBase) -> list[bytes | None]:
    """The bytes each token id stands for, ``None`` for special tokens and tokens that stand for nothing.

    Byte-level vocabularies (GPT-2, Llama 3, SmolLM2) map back through the byte alphabet;
    SentencePiece-style ones (``"▁"`` for a space, ``<0xNN>`` byte fallback) through their
    ``Replace``/``Metaspace``/``ByteFallback`` decoder steps. Decoder steps that only strip the space
    at the start of a whole sequence are not applied: the table gives the bytes a token contributes
    *inside* a text, which is what the output offsets need.
    """
    steps = _decoder_steps(tokenizer)
    kinds = {d["type"] for d in steps}
    added = tokenizer.added_tokens_decoder
    special = set(tokenizer.all_special_ids) | {i for i, t in added.items() if t.special}
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    replacements = []
    for d in steps:
        if d["type"] == "Replace":
            if "String" not in d["pattern"]:
                raise ValueError(f"regex `Replace` decoder {d['pattern']} is not supported; only string patterns")
            replacements.append((d["pattern"]["String"], d["content"]))
        elif d["type"] == "Metaspace":
            replacements.append((d.get("replacement", "▁"), " "))
    inverse = _byte_level_inverse() if "ByteLevel" in kinds else None
    table: list[bytes | None] = []
    for i, piece in enumerate(pieces):
        if i in special or piece is None:
            table.append(None)
            continue
        if "ByteFallback" in kinds and (m := _BYTE_FALLBACK.match(piece)):
            raw = bytes([int(m.group(1), 16)])
        elif i in added:
            raw = added[i].content.encode("utf-8")
        elif inverse is not None:
            translate, alphabet = inverse
            # a piece outside the byte alphabet stands for no fixed bytes
            raw = piece.translate(translate).encode("latin-1") if alphabet.issuperset(piece) else b""
        else:
            for old, new in replacements:
                piece = piece.replace(old, new)
            raw = piece.encode("utf-8")
        table.append(raw or None)
    return table


class ByteVocabulary:
    """A tokenizer's token bytes in a byte trie; build once per tokenizer, share across processors.

    Args:
        table: the bytes of each token id (``None`` for tokens never to be generated), as returned
            by :func:`token_bytes`.
        eos_token_id: the id(s) that end a generation.
    """

    def __init__(self, table: Sequence[bytes | None], eos_token_id: int | Sequence[int]):
        self.table = list(table)
        eos = [eos_token_id] if isinstance(eos_token_id, (int, np.integer)) else list(eos_token_id)
        if not eos:
            raise ValueError("eos_token_id is empty; constrained decoding needs an EOS token to stop on")
        self.eos_token_ids = np.asarray(sorted({int(e) for e in eos}), dtype=np.int64)

    @cached_property
    def root(self) -> dict:
        """The byte trie: nested ``{byte: node}`` dicts; ``node[-1]`` holds the ids of the tokens ending there.
        Built on first use (decoding alone does not need it)."""
        by_bytes: dict[bytes, list[int]] = {}
        stop = set(self.eos_token_ids.tolist())
        for i, raw in enumerate(self.table):
            if raw is not None and i not in stop:
                by_bytes.setdefault(raw, []).append(i)
        root: dict = {}
        for raw, ids in by_bytes.items():
            node = root
            for b in raw:
                node = node.setdefault(b, {})
            node[_TERM] = np.asarray(ids, dtype=np.int64)
        return root

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerBase, eos_token_id: int | Sequence[int] | None = None
                       ) -> "ByteVocabulary":
        """Build from a fast tokenizer; ``eos_token_id`` defaults to ``tokenizer.eos_token_id``."""
        eos_token_id = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
        if eos_token_id is None:
            raise ValueError("the tokenizer has no eos_token_id; pass eos_token_id= explicitly")
        return cls(token_bytes(tokenizer), eos_token_id)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of generated ids (special tokens, EOS and padding dropped), byte-exact.

        Unlike ``tokenizer.decode`` it applies no clean-up (no leading-space strip, no
        ``clean_up_tokenization_spaces``), so a faithful generation decodes to its source exactly.
        """
        table = self.table
        raw = b"".join(table[i] for i in ids if 0 <= i < len(table) and table[i] is not None)
        return raw.decode("utf-8", errors="replace")

    def min_tokens(self, data: bytes) -> np.ndarray:
        """``out[p]``: the fewest tokens whose bytes spell ``data[p:]`` (``>= 2**40`` if none do)."""
        n = len(data)
        best = [_INF] * (n + 1)
        best[n] = 0
        root = self.root
        for p in range(n - 1, -1, -1):  # O(len * depth of the trie walk), once per source
            node, cost = root, _INF
            for q in range(p, n):
                node = node.get(data[q])
                if node is None:
                    break
                if _TERM in node and best[q + 1] + 1 < cost:
                    cost = best[q + 1] + 1
            best[p] = cost
        return np.asarray(best, dtype=np.int64)


# A reading of the output so far: (source byte position, inside a span, the span has a character,
# marker being written (0 none, 1 open, 2 close), bytes of that marker written).
_State = tuple[int, bool, bool, int, int]


class _SourceMachine:
    """The faithful-output automaton of one source, over bytes."""

    initial: tuple = (0, False, False, 0, 0)

    def __init__(self, source: str, vocab: ByteVocabulary, open_marker: bytes, close_marker: bytes):
        self.vocab = vocab
        self.src = source.encode("utf-8")
        self.n = n = len(self.src)
        arr = np.frombuffer(self.src, dtype=np.uint8)
        boundary = np.ones(n + 1, dtype=bool)
        boundary[:n] = (arr & 0xC0) != 0x80  # not a UTF-8 continuation byte
        self.boundary = boundary.tolist()
        self.markers = (b"", open_marker, close_marker)
        self.copy_cost = vocab.min_tokens(self.src).tolist()
        self.marker_cost = (None, vocab.min_tokens(open_marker).tolist(), vocab.min_tokens(close_marker).tolist())

    def furthest_spelled(self) -> int:
        """The furthest byte position that some token sequence spells the source up to (for errors)."""
        reach = np.zeros(self.n + 1, dtype=bool)
        reach[0] = True
        for p in range(self.n):
            node = self.vocab.root if reach[p] else None
            for q in range(p, self.n):
                node = node.get(self.src[q]) if node is not None else None
                if node is None:
                    break
                if _TERM in node:
                    reach[q + 1] = True
        return int(np.flatnonzero(reach)[-1])

    def cost(self, s: _State) -> int:
        """Tokens needed to finish from ``s``, EOS included: copy the rest, then close an open span."""
        p, inside, has_char, mk, mi = s
        close = self.marker_cost[2][0]
        if mk == 1:
            return self.marker_cost[1][mi] + self.copy_cost[p] + close + 1
        if mk == 2:
            return self.marker_cost[2][mi] + self.copy_cost[p] + 1
        if inside:
            return _INF if p == self.n and not has_char else self.copy_cost[p] + close + 1
        return self.copy_cost[p] + 1

    def moves(self, s: _State) -> list[tuple[int, _State]]:
        """The bytes allowed after reading ``s`` and the reading each leads to."""
        p, inside, has_char, mk, mi = s
        if mk:
            marker = self.markers[mk]
            if mi + 1 < len(marker):
                return [(marker[mi], (p, inside, has_char, mk, mi + 1))]
            return [(marker[mi], (p, mk == 1, False, 0, 0))]
        out = []
        if p < self.n:
            out.append((self.src[p], (p + 1, inside, inside, 0, 0)))
        if self.boundary[p]:
            if not inside and p < self.n:
                out.append(self._start(1, p))
            elif inside and has_char:
                out.append(self._start(2, p))
        return out

    def _start(self, mk: int, p: int) -> tuple[int, _State]:
        marker = self.markers[mk]
        if len(marker) == 1:
            return marker[0], (p, mk == 1, False, 0, 0)
        return marker[0], (p, mk == 2, mk == 2, mk, 1)

    def advance(self, states: Iterable[_State], raw: bytes) -> set[_State]:
        """Readings after appending ``raw`` to the output."""
        states = set(states)
        for b in raw:
            states = {t for s in states for c, t in self.moves(s) if c == b}
            if not states:
                break
        return states

    def accepting(self, states: Iterable[_State]) -> bool:
        return any(s[0] == self.n and not s[1] and not s[3] for s in states)

    def check_budget(self) -> int:
        """Tokens needed to write the whole output from the start, EOS included."""
        return self.cost(self.initial)

    def allowed(self, states: Iterable[_State], budget: float) -> np.ndarray:
        """Ids of the tokens that keep some reading faithful and finishable within ``budget`` tokens."""
        found, seen = [], set()
        stack = [(self.vocab.root, s) for s in states]
        while stack:
            node, s = stack.pop()
            for b, t in self.moves(s):
                child = node.get(b)
                if child is None or (id(child), t) in seen:
                    continue
                seen.add((id(child), t))
                ids = child.get(_TERM)
                if ids is not None and self.cost(t) <= budget:
                    found.append(ids)
                stack.append((child, t))
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(found)) if len(found) > 1 else found[0]


class _LabelTrie:
    """The labels' bytes as a trie of numbered nodes (0: the root), shared by the sources of a batch.

    ``label_at[node]``: the label that ends there (``-1``: none); ``ends[node]``: a label may end
    there (the root too when a label is optional); ``below[node]``: the labels through it, with the
    fewest tokens that spell their rest from it.
    """

    def __init__(self, labels: Sequence[bytes], vocab: ByteVocabulary, required: bool):
        self.labels = list(labels)
        self.children: list[dict[int, int]] = [{}]
        self.label_at, depth = [-1], [0]
        paths = []
        for k, raw in enumerate(self.labels):
            node, path = 0, [0]
            for b in raw:
                child = self.children[node].get(b)
                if child is None:
                    child = len(self.children)
                    self.children[node][b] = child
                    self.children.append({})
                    self.label_at.append(-1)
                    depth.append(depth[node] + 1)
                node = child
                path.append(node)
            self.label_at[node] = k
            paths.append(path)
        self.ends = [k >= 0 for k in self.label_at]
        self.ends[0] = not required
        self.required = required
        self.tokens = [vocab.min_tokens(raw).tolist() for raw in self.labels]  # tokens[k][d]: spell raw[d:]
        self.below: list[list[tuple[int, int]]] = [[] for _ in self.children]
        for k, path in enumerate(paths):
            for node in path:
                self.below[node].append((k, self.tokens[k][depth[node]]))
        self.node_of = [path[-1] for path in paths]

    def clear(self, node: int, data: bytes, start: int) -> bool:
        """Whether ``data[start:]`` after a label ending at ``node`` leaves it the longest label there
        (the bytes complete no longer label)."""
        children, label_at = self.children, self.label_at
        for q in range(start, len(data)):  # at most the depth of the trie
            node = children[node].get(data[q], -1)
            if node < 0:
                return True
            if label_at[node] >= 0:
                return False
        return True


class _TypedSourceMachine(_SourceMachine):
    """The faithful typed-output automaton of one source: after ``close_marker``, a label of the trie.

    A reading is ``(p, inside, has_char, mk, mi, shadow)``: as for untyped markers, with ``mk == 3``
    meaning a label is being written (``mi``: its trie node), and ``shadow`` the label-trie node that
    the bytes after the last label have walked to (``-1``: off the trie), so that a reading whose
    following bytes complete a longer label than the one it ended dies.
    """

    initial = (0, False, False, 0, 0, -1)

    def __init__(self, source: str, vocab: ByteVocabulary, open_marker: bytes, close_marker: bytes,
                 trie: _LabelTrie):
        super().__init__(source, vocab, open_marker, close_marker)
        self.trie = trie
        self._label_costs: dict[tuple[int, int], int] = {}
        self._shadow_costs: dict[tuple[int, int], int] = {}
        self._spell_costs: dict[tuple[int, int], int] = {}
        self.end_label = self.label_cost(0, self.n)  # the label after a span closed at the end

    def label_cost(self, node: int, p: int) -> int:
        """Fewest tokens to finish a label from ``node`` with source byte ``p`` next, over the labels the
        text after it lets stand (``_INF`` if none)."""
        key = (node, p)
        cost = self._label_costs.get(key)
        if cost is None:
            trie, cost = self.trie, _INF
            if node == 0 and not trie.required and trie.clear(0, self.src, p):
                cost = 0
            for k, tokens in trie.below[node]:
                if tokens < cost and trie.clear(trie.node_of[k], self.src, p):
                    cost = tokens
            self._label_costs[key] = cost
        return cost

    def _marker_clear(self, node: int, mi: int) -> bool:
        """Whether writing ``open_marker[mi:]`` after bytes that walked the label trie to ``node`` completes
        no label (a label never holds a whole marker, so the walk falls off by the marker's end)."""
        children, label_at = self.trie.children, self.trie.label_at
        for b in self.markers[1][mi:]:
            node = children[node].get(b, -1)
            if node < 0:
                return True
            if label_at[node] >= 0:
                return False
        return True

    def _spell(self, p: int, q: int) -> int:
        """Fewest tokens that spell ``src[p:q]`` (a few bytes: at most the depth of the label trie)."""
        if p == q:
            return 0
        key = (p, q)
        cost = self._spell_costs.get(key)
        if cost is None:
            cost = self._spell_costs[key] = int(self.vocab.min_tokens(self.src[p:q])[0])
        return cost

    def _shadow_cost(self, shadow: int, p: int) -> int:
        """Tokens to finish from outside a span at ``p`` after bytes that walked the label trie to ``shadow``:
        copy on while the bytes complete no longer label, then finish copying (once off the trie) or open
        a span before they would; ``_DEAD`` if neither can be done."""
        key = (shadow, p)
        best = self._shadow_costs.get(key)
        if best is not None:
            return best
        trie, n, src = self.trie, self.n, self.src
        close = self.marker_cost[2][0] + self.end_label
        best, node, q = _DEAD, shadow, p
        while True:
            if q < n and self.boundary[q] and self._marker_clear(node, 0):
                best = min(best, self._spell(p, q) + self.marker_cost[1][0] + self.copy_cost[q] + close + 1)
            if q == n:
                best = min(best, self.copy_cost[p] + 1)
                break
            node = trie.children[node].get(src[q], -1)
            if node < 0:
                best = min(best, self.copy_cost[p] + 1)
                break
            if trie.label_at[node] >= 0:  # copying on would complete a longer label
                break
            q += 1
        self._shadow_costs[key] = best
        return best

    def cost(self, s) -> int:
        p, inside, has_char, mk, mi, shadow = s
        close = self.marker_cost[2][0] + self.end_label
        if shadow >= 0 and not mk:
            return self._shadow_cost(shadow, p)
        if shadow >= 0 and mk == 1 and not self._marker_clear(shadow, mi):
            return _DEAD
        if mk == 3:
            return self.label_cost(mi, p) + self.copy_cost[p] + 1
        if mk == 1:
            return self.marker_cost[1][mi] + self.copy_cost[p] + close + 1
        if mk == 2:
            return self.marker_cost[2][mi] + self.label_cost(0, p) + self.copy_cost[p] + 1
        if inside:
            return _INF if p == self.n and not has_char else self.copy_cost[p] + close + 1
        return self.copy_cost[p] + 1

    def moves(self, s) -> list:
        p, inside, has_char, mk, mi, shadow = s
        if mk == 3:
            trie = self.trie
            out = [(b, (p, False, False, 3, child, -1)) for b, child in trie.children[mi].items()]
            if trie.ends[mi]:
                out += self._after((p, False, False, 0, 0), mi)
            return out
        return self._after((p, inside, has_char, mk, mi), shadow)

    def _after(self, s, shadow: int) -> list:
        """The moves of an untyped reading ``s``, a closed marker leading to a label, filtered by ``shadow``."""
        out = []
        for b, t in super().moves(s):
            p, inside, has_char, mk, mi = t
            if not mk and not inside and s[1]:  # a close marker was completed: its label comes next
                out.append((b, (p, False, False, 3, 0, -1)))
            else:
                out.append((b, (*t, -1)))
        if shadow < 0:
            return out
        children, label_at = self.trie.children[shadow], self.trie.label_at
        kept = []
        for b, t in out:
            child = children.get(b, -1)
            if child < 0:
                kept.append((b, t))
            elif label_at[child] < 0:
                kept.append((b, (*t[:5], child)))
            # else: these bytes complete a longer label, which the decoder would read instead
        return kept

    def accepting(self, states) -> bool:
        ends = self.trie.ends
        return any(s[0] == self.n and not s[1] and (not s[3] or (s[3] == 3 and ends[s[4]])) for s in states)


class FaithfulMarkerLogitsProcessor(LogitsProcessor):
    """Lets a causal LM only copy its source and insert ``open_marker``/``close_marker`` around spans.

    One processor serves one ``generate`` call (it remembers where the prompts end): build a new one
    per batch. Row ``r`` of the batch copies ``sources[r // k]`` where ``k = batch_rows /
    len(sources)``, so ``num_return_sequences > 1`` works; beam search (``num_beams > 1``) is not
    supported (beams are reordered between steps). Place it in ``logits_processor=``; ``generate``
    applies custom processors before temperature/top-k/top-p, so sampling stays inside the grammar.

    Args:
        sources: the text each row must reproduce.
        tokenizer: the model's tokenizer, or a prebuilt :class:`ByteVocabulary` (faster for many batches).
        open_marker / close_marker: the span markers (paper 000: ``"@@"`` and ``"##"``).
        labels: typed markers: every ``close_marker`` is followed by one of these labels
            (``"@@aspirin##Chemical"``), read back by the decoder's longest-label rule; ``None``: untyped.
        label_required: with ``labels``, whether a label must follow ``close_marker`` (default) or may
            be left out.
        eos_token_id: the id(s) that end a generation; default: the tokenizer's EOS.
        max_new_tokens: the ``max_new_tokens`` given to ``generate``; when set, generation is steered
            to finish (EOS included) within it. Without it, a too-small budget truncates the output.

    Examples:
        >>> processor = FaithfulMarkerLogitsProcessor(sources, tokenizer, max_new_tokens=64)  # doctest: +SKIP
        >>> out = model.generate(**batch, logits_processor=[processor], max_new_tokens=64)  # doctest: +SKIP
    """

    def __init__(
        self,
        sources: Sequence[str],
        tokenizer: PreTrainedTokenizerBase | ByteVocabulary,
        *,
        open_marker: str = "@@",
        close_marker: str = "##",
        labels: Sequence[str] | None = None,
        label_required: bool = True,
        eos_token_id: int | Sequence[int] | None = None,
        max_new_tokens: int | None = None,
    ):
        if isinstance(sources, str):
            raise TypeError("sources must be a list of strings, one per prompt; got a single string")
        if not open_marker or not close_marker or open_marker == close_marker:
            raise ValueError(f"open_marker and close_marker must be distinct non-empty strings, got "
                             f"{open_marker!r} and {close_marker!r}")
        if max_new_tokens is not None and max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if isinstance(tokenizer, ByteVocabulary):
            self.vocab = tokenizer if eos_token_id is None else ByteVocabulary(tokenizer.table, eos_token_id)
        else:
            self.vocab = ByteVocabulary.from_tokenizer(tokenizer, eos_token_id)
        self.max_new_tokens = max_new_tokens
        om, cm = open_marker.encode("utf-8"), close_marker.encode("utf-8")
        if labels is None:
            self.machines = [_SourceMachine(s, self.vocab, om, cm) for s in sources]
        else:
            labels = check_labels(labels, open_marker, close_marker)
            trie = _LabelTrie([x.encode("utf-8") for x in labels], self.vocab, label_required)
            for x, tokens in zip(labels, trie.tokens):
                if tokens[0] >= _INF:
                    logger.warning(f"label {x!r} cannot be written with this vocabulary; constrained generations "
                                   "will never give it")
            self.machines = [_TypedSourceMachine(s, self.vocab, om, cm, trie) for s in sources]
        for k, m in enumerate(self.machines):
            if m.copy_cost[0] >= _INF:
                bad = m.furthest_spelled()
                char = m.src[bad:].decode("utf-8", errors="replace")[:1]
                raise ValueError(f"source {k} cannot be spelled with this tokenizer's vocabulary (no token "
                                 f"sequence produces {char!r} at byte {bad}); constrained decoding can only "
                                 "copy text the vocabulary can write")
        for name, marker in (("open_marker", om), ("close_marker", cm)):
            if self.vocab.min_tokens(marker)[0] >= _INF:
                logger.warning(f"{name} {marker.decode()!r} cannot be written with this vocabulary; constrained "
                               "generations will copy the sources without spans")
        self._prompt_len: int | None = None
        self._seen = 0  # generated tokens already read into the states
        self._states: list[set[_State]] = []
        self._done: list[bool] = []

    def _start(self, rows: int, prompt_len: int) -> None:
        if rows % len(self.machines):
            raise ValueError(f"batch has {rows} rows but {len(self.machines)} sources; rows must be a multiple "
                             "of the number of sources (one source per prompt, times num_return_sequences)")
        self._per = rows // len(self.machines)
        self._prompt_len = prompt_len
        self._states = [{self.machines[r // self._per].initial} for r in range(rows)]
        self._done = [False] * rows
        if self.max_new_tokens is not None:
            for k, m in enumerate(self.machines):
                need = m.check_budget()
                if need > self.max_new_tokens:
                    raise ValueError(f"max_new_tokens={self.max_new_tokens} is too small for source {k}: copying "
                                     f"it takes at least {need} tokens (EOS included); raise max_new_tokens")

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows, length = input_ids.shape
        if self._prompt_len is None:
            self._start(rows, length)
        elif rows != len(self._states) or length < self._prompt_len + self._seen:
            raise RuntimeError("FaithfulMarkerLogitsProcessor was reused for another generate call; build a new "
                               "processor per call")
        generated = length - self._prompt_len
        budget = _INF if self.max_new_tokens is None else self.max_new_tokens - generated - 1
        new = input_ids[:, self._prompt_len + self._seen:].tolist()  # usually the last column only
        self._seen = generated
        eos = set(self.vocab.eos_token_ids.tolist())
        row_idx, col_idx = [], []
        for r in range(rows):
            machine = self.machines[r // self._per]
            for tok in new[r]:
                if self._done[r]:
                    break
                if tok in eos:
                    self._done[r] = True
                    break
                raw = self.vocab.table[tok] if tok < len(self.vocab.table) else None
                states = machine.advance(self._states[r], raw or b"")
                if raw is None or not states:
                    raise RuntimeError(f"row {r} generated token {tok} ({raw!r}), which leaves the faithful "
                                       "output; another logits processor must have forced it")
                self._states[r] = states
            if self._done[r]:
                ids = self.vocab.eos_token_ids[:1]
            else:
                ids = machine.allowed(self._states[r], budget)
                if machine.accepting(self._states[r]):
                    ids = np.concatenate([ids, self.vocab.eos_token_ids])
                if not len(ids):
                    raise RuntimeError(f"row {r}: no token continues the faithful output (budget {budget}); "
                                       "this is a bug, please report it with the source and tokenizer")
            row_idx.append(np.full(len(ids), r, dtype=np.int64))
            col_idx.append(ids)
        rr = torch.from_numpy(np.concatenate(row_idx)).to(scores.device)
        cc = torch.from_numpy(np.concatenate(col_idx)).to(scores.device)
        out = torch.full_like(scores, float("-inf"))
        out[rr, cc] = scores[rr, cc]
        return out

