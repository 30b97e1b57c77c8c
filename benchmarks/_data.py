"""Shared corpora for the benchmarks: gold and perturbed predictions in every tool's input form.

A :class:`Corpus` holds token-level spans as flat numpy arrays plus the tokens' character offsets,
so one set of spans is rendered, without loss, as

* character span lists ``[{"start", "end", "label"}]`` (ecr-hf, the ``evaluate`` module);
* token BIO tag sequences (seqeval, and nervaluate's ``loader="list"``).

Predictions are a seeded perturbation of gold (dropped spans, boundary shifts by one token,
label changes, fragments, spurious spans) that stays token-aligned and non-overlapping, so every
tool can represent it exactly and all tools score the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BC5CDR_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "bc5cdr" / "bc5cdr.conll.jsonl"


@dataclass
class Spans:
    """Token-level spans ``[start, end)`` of a corpus, flat and sorted by (doc, start)."""

    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    label: np.ndarray  # index into Corpus.labels

    def __len__(self) -> int:
        return len(self.doc)

    def take(self, mask: np.ndarray) -> "Spans":
        return Spans(self.doc[mask], self.start[mask], self.end[mask], self.label[mask])


@dataclass
class Corpus:
    """Token offsets (flat, per document) and gold/predicted token spans of one corpus."""

    name: str
    n_tokens: np.ndarray  # tokens per document
    tok_start: np.ndarray  # character offsets of every token, documents concatenated
    tok_end: np.ndarray
    labels: tuple[str, ...]
    gold: Spans
    pred: Spans

    @property
    def n_docs(self) -> int:
        return len(self.n_tokens)

    @property
    def tok_base(self) -> np.ndarray:
        """Index of each document's first token in the flat token arrays."""
        return np.r_[0, np.cumsum(self.n_tokens)[:-1]].astype(np.int64)

    def head(self, n_docs: int) -> "Corpus":
        """The first ``n_docs`` documents (a prefix keeps identical data across sizes)."""
        n_tok = int(self.n_tokens[:n_docs].sum())
        return Corpus(f"{self.name}[:{n_docs}]", self.n_tokens[:n_docs], self.tok_start[:n_tok],
                      self.tok_end[:n_tok], self.labels, self.gold.take(self.gold.doc < n_docs),
                      self.pred.take(self.pred.doc < n_docs))

    def char_arrays(self, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(doc, char_start, char_end, label)`` of one side, through the token offsets."""
        s: Spans = getattr(self, side)
        base = self.tok_base[s.doc]
        return s.doc, self.tok_start[base + s.start], self.tok_end[base + s.end - 1], s.label

    def char_spans(self, side: str) -> list[list[dict]]:
        """Character span lists ``[{"start", "end", "label"}]``, one per document."""
        doc, start, end, label = self.char_arrays(side)
        names = self.labels
        flat = [{"start": a, "end": b, "label": names[k]}
                for a, b, k in zip(start.tolist(), end.tolist(), label.tolist())]
        return _split(flat, np.bincount(doc, minlength=self.n_docs))

    def tags(self, side: str) -> list[list[str]]:
        """Token BIO (IOB2) tags, one list per document, read from the *character* spans of
        ``side`` through the token offsets (so they are the character spans, tokenised)."""
        doc, start, end, label = self.char_arrays(side)
        base = self.tok_base[doc]
        # one sorted number line: document k's characters sit at k * big + offset
        big = int(self.tok_end.max(initial=0)) + 1
        tok_doc = np.repeat(np.arange(self.n_docs, dtype=np.int64), self.n_tokens)
        first = np.searchsorted(self.tok_start + tok_doc * big, start + doc * big)
        last = np.searchsorted(self.tok_end + tok_doc * big, end + doc * big)  # the token ending the span
        s: Spans = getattr(self, side)
        if not (np.array_equal(first - base, s.start) and np.array_equal(last + 1 - base, s.end)):
            raise AssertionError("character spans do not fall on token boundaries")
        n_lab = len(self.labels)
        code = np.zeros(len(self.tok_start), np.int64)  # 0 O, 1..n B-x, n+1..2n I-x
        length = last + 1 - first
        inside = np.repeat(first, length) + (np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length))
        code[inside] = np.repeat(label, length) + 1 + n_lab
        code[first] = label + 1
        table = np.array(["O", *(f"B-{x}" for x in self.labels), *(f"I-{x}" for x in self.labels)], dtype=object)
        return _split(table[code].tolist(), self.n_tokens)

    def exact_f1(self) -> float:
        """Typed exact-match F1 over the span sets (what seqeval strict must report)."""
        def keys(s: Spans) -> np.ndarray:
            return np.unique(np.stack([s.doc, s.start, s.end, s.label], axis=1), axis=0)
        g, p = keys(self.gold), keys(self.pred)
        tp = len(np.intersect1d(g.view([("", g.dtype)] * 4), p.view([("", p.dtype)] * 4)))
        return 2 * tp / (len(g) + len(p)) if len(g) + len(p) else 0.0


def _split(flat: list, counts: np.ndarray) -> list[list]:
    bounds = np.r_[0, np.cumsum(counts)].tolist()
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def perturb(gold: Spans, n_tokens: np.ndarray, n_labels: int, seed: int = 0, *, drop: float = 0.10,
            shift: float = 0.15, relabel: float = 0.05, split: float = 0.05, spurious: float = 0.10) -> Spans:
    """Seeded noisy predictions from gold token spans, token-aligned and non-overlapping."""
    rng = np.random.default_rng(seed)
    keep = rng.random(len(gold)) >= drop
    doc, start, end, label = gold.doc[keep], gold.start[keep].copy(), gold.end[keep].copy(), gold.label[keep].copy()
    n = len(doc)
    # move one boundary by one token, either way
    moved = rng.random(n) < shift
    which, step = rng.random(n) < 0.5, rng.choice([-1, 1], n)
    start = np.where(moved & which, start + step, start)
    end = np.where(moved & ~which, end + step, end)
    new = rng.random(n) < relabel
    label = np.where(new, (label + rng.integers(1, max(n_labels, 2), n)) % max(n_labels, 1), label)
    # split spans of 2+ tokens into two fragments (with a one-token gap when there is room)
    cut = (rng.random(n) < split) & (end - start >= 2)
    mid = start + 1 + (rng.random(n) * np.maximum(end - start - 1, 1)).astype(np.int64)
    mid = np.minimum(mid, end - 1)
    gap = (end - mid >= 2).astype(np.int64)
    head_end = np.where(cut, mid, end)
    tail = (doc[cut], mid[cut] + gap[cut], end[cut], label[cut])
    end = head_end
    # spurious spans of 1-3 tokens anywhere
    m = int(round(spurious * len(gold)))
    s_doc = rng.integers(0, len(n_tokens), m)
    s_start = (rng.random(m) * n_tokens[s_doc]).astype(np.int64)
    s_end = s_start + rng.integers(1, 4, m)
    s_label = rng.integers(0, max(n_labels, 1), m)
    doc = np.concatenate([doc, tail[0], s_doc])
    start = np.concatenate([start, tail[1], s_start])
    end = np.concatenate([end, tail[2], s_end])
    label = np.concatenate([label, tail[3], s_label])
    start = np.clip(start, 0, None)
    end = np.minimum(end, n_tokens[doc])
    ok = start < end
    doc, start, end, label = doc[ok], start[ok], end[ok], label[ok]
    order = np.lexsort((end, start, doc))
    doc, start, end, label = doc[order], start[order], end[order], label[order]
    while True:  # drop spans overlapping their predecessor until none overlap
        clash = np.r_[False, (doc[1:] == doc[:-1]) & (start[1:] < end[:-1])]
        if not clash.any():
            return Spans(doc, start, end, label)
        # drop only the first of each clash run so chains resolve against kept spans
        first = clash & ~np.r_[False, clash[:-1]]
        doc, start, end, label = doc[~first], start[~first], end[~first], label[~first]


def load_bc5cdr(path: Path = BC5CDR_PATH, seed: int = 0) -> Corpus:
    """BC5CDR sentences (all splits) as one corpus; gold = its entities."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    labels = tuple(sorted({e["label"] for r in rows for e in r["entities"]}))
    index = {x: k for k, x in enumerate(labels)}
    n_tokens = np.array([len(r["tokens"]) for r in rows], np.int64)
    lengths = np.array([len(t) for r in rows for t in r["tokens"]], np.int64)
    tok_doc = np.repeat(np.arange(len(rows)), n_tokens)
    base = np.r_[0, np.cumsum(n_tokens)[:-1]]
    step = np.cumsum(lengths + 1) - (lengths + 1)  # text = " ".join(tokens)
    tok_start = step - np.repeat(step[base], n_tokens)
    tok_end = tok_start + lengths
    ents = [(k, e["start"], e["end"], index[e["label"]]) for k, r in enumerate(rows) for e in r["entities"]]
    e = np.array(ents, np.int64).reshape(-1, 4)
    # character entity -> token span through the offsets (entities lie on token boundaries)
    g_start = np.searchsorted(tok_start + tok_doc * 10**7, e[:, 1] + e[:, 0] * 10**7) - base[e[:, 0]]
    g_end = np.searchsorted(tok_end + tok_doc * 10**7, e[:, 2] + e[:, 0] * 10**7) + 1 - base[e[:, 0]]
    gold = Spans(e[:, 0], g_start, g_end, e[:, 3])
    corpus = Corpus("BC5CDR", n_tokens, tok_start, tok_end, labels, gold,
                    perturb(gold, n_tokens, len(labels), seed))
    check = corpus.char_arrays("gold")
    if not (np.array_equal(check[1], e[:, 1]) and np.array_equal(check[2], e[:, 2])):
        raise AssertionError("BC5CDR entities do not fall on token boundaries")
    return corpus


def synthetic(n_docs: int = 20_000, spans_per_doc: int = 50, n_labels: int = 4, seed: int = 0) -> Corpus:
    """Long whitespace-tokenised documents with ``spans_per_doc`` non-overlapping gold spans each.

    Spans are 1-6 tokens, separated by 1-3 ``O`` tokens; tokens are 2-8 characters and one space
    apart, so a 50-span document has about 230 tokens and 1,400 characters.
    """
    rng = np.random.default_rng(seed)
    shape = (n_docs, spans_per_doc)
    length = rng.choice(np.arange(1, 7), size=shape, p=[0.35, 0.3, 0.15, 0.1, 0.05, 0.05])
    gap = rng.integers(1, 4, size=shape)
    end = np.cumsum(gap + length, axis=1)
    start = end - length
    n_tokens = (end[:, -1] + rng.integers(1, 4, n_docs)).astype(np.int64)
    lengths = rng.integers(2, 9, int(n_tokens.sum()))
    base = np.r_[0, np.cumsum(n_tokens)[:-1]]
    step = np.cumsum(lengths + 1) - (lengths + 1)
    tok_start = step - np.repeat(step[base], n_tokens)
    labels = tuple(f"T{k}" for k in range(n_labels))
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), spans_per_doc)
    gold = Spans(doc, start.reshape(-1).astype(np.int64), end.reshape(-1).astype(np.int64),
                 rng.integers(0, n_labels, doc.size))
    name = f"synthetic {n_docs}x{spans_per_doc}"
    return Corpus(name, n_tokens, tok_start, tok_start + lengths, labels, gold,
                  perturb(gold, n_tokens, n_labels, seed + 1))
