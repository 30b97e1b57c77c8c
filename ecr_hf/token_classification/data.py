"""The ``datasets`` layer of token classification: documents with character spans -> windowed,
tokenized, labelled features for any fast tokenizer, and a collator that pads them.

Long documents are never truncated: each is cut into overlapping windows of ``max_length`` tokens
(the tokenizer's own ``return_overflowing_tokens`` with ``stride``), labels are computed once per
document (so a span cut by a window edge continues with ``I-`` in the next window), and every window
carries the document-level position of each of its tokens, which is what
:class:`ecr_hf.token_classification.WindowMerger` needs to merge the windows' predictions back. Alignment rules
(which token a span covers, words, byte-level pieces) are those of :mod:`ecr_hf.token_classification.alignment`.

Padding never compares ids with ``pad_token_id`` (decoders often pad with EOS): padding and special
tokens are told apart by ``attention_mask`` and by negative ``token_positions``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from datasets import Dataset, DatasetDict
from datasets.fingerprint import generate_random_fingerprint

from .alignment import (
    IGNORE_INDEX,
    TagSet,
    drop_overlapping,
    spans_to_token_labels,
    token_labels_to_spans,
    trim_offsets,
    word_index,
)
from ..spans.span import to_spans

__all__ = ["ensure_pad_token", "tokenize_and_align", "DataCollatorForWindowedTokenClassification"]

logger = logging.getLogger(__name__)

_UNBOUNDED = 10**12  # transformers sets model_max_length to 1e30 when the checkpoint gives none


def ensure_pad_token(tokenizer: Any) -> str | None:
    """Give ``tokenizer`` a pad token if it has none (GPT-2, Llama); returns what was done, or ``None``.

    The EOS token is reused when there is one. That is safe here because ecr-hf masks padding by
    ``attention_mask`` and token positions, never by ``input_ids == pad_token_id``, so real EOS
    tokens are neither masked nor dropped from the loss. Without an EOS token a ``<pad>`` token is
    added, and the model's embeddings must then be resized.
    """
    if tokenizer.pad_token is not None:
        return None
    name = type(tokenizer).__name__
    if tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
        msg = (f"{name} had no pad token: set pad_token to the eos_token {tokenizer.eos_token!r} "
               f"(id {tokenizer.pad_token_id}); padding is masked by attention_mask, EOS tokens are not.")
    else:
        size = len(tokenizer)
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
        msg = f"{name} had no pad or eos token: added pad_token '<pad>' (id {tokenizer.pad_token_id})"
        if len(tokenizer) > size:
            msg += "; resize the model's embeddings: model.resize_token_embeddings(len(tokenizer))"
    logger.warning(msg)
    return msg


def _check_fast(tokenizer: Any) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{type(tokenizer).__name__} is a slow (Python) tokenizer and gives no offset mapping, "
                         "which span alignment needs; use a fast tokenizer: AutoTokenizer.from_pretrained(name) "
                         "(fast is the default) or PreTrainedTokenizerFast(tokenizer_object=...)")


def _as_dataset(dataset_or_docs: Any) -> Dataset:
    if isinstance(dataset_or_docs, Dataset):
        return dataset_or_docs
    if isinstance(dataset_or_docs, DatasetDict):
        raise ValueError(f"got a DatasetDict with splits {list(dataset_or_docs)}; pass one split, "
                         "e.g. dataset['train']")
    docs = list(dataset_or_docs)
    if not docs:
        raise ValueError("no documents given")
    if bad := [k for k, d in enumerate(docs) if not isinstance(d, Mapping)]:
        raise ValueError(f"document {bad[0]} is a {type(docs[bad[0]]).__name__}; give dicts like "
                         "{'text': ..., 'entities': [{'start', 'end', 'label'}, ...]}")
    return Dataset.from_list([dict(d) for d in docs])


def _take(values: np.ndarray, positions: np.ndarray, fill: int) -> np.ndarray:
    out = np.full(positions.shape + values.shape[1:], fill, dtype=np.int64)
    keep = positions >= 0
    out[keep] = values[positions[keep]]
    return out


def _place_windows(enc: Any, wins: list[int], step: int, doc: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Document-level position of each token of a document's windows (-1: special token), and the
    document's token offsets and tokenizer word ids. Window ``w`` starts at token ``w * step``."""
    positions = []
    for w, i in enumerate(wins):
        content = np.array([s is not None for s in enc.sequence_ids(i)])
        positions.append(np.where(content, np.cumsum(content) - 1 + w * step, -1))
    n = max((int(p.max()) + 1 for p in positions), default=0)
    ids, offsets, words = np.full(n, -1), np.zeros((n, 2), dtype=np.int64), np.full(n, -1)
    for p, i in zip(positions, wins):
        keep = p >= 0
        ids[p[keep]] = np.asarray(enc["input_ids"][i])[keep]
        offsets[p[keep]] = np.asarray(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)[keep]
        words[p[keep]] = np.array([-1 if x is None else x for x in enc.word_ids(i)])[keep]
    if (ids < 0).any() or any(not np.array_equal(ids[p[p >= 0]], np.asarray(enc["input_ids"][i])[p >= 0])
                              for p, i in zip(positions, wins)):
        raise RuntimeError(f"document {doc}: the tokenizer's windows do not start every {step} tokens as "
                           "expected, so their tokens cannot be placed in the document")
    return positions, offsets, words


def tokenize_and_align(
    dataset_or_docs: Dataset | Iterable[Mapping[str, Any]],
    tokenizer: Any,
    labels: Sequence[str] | Mapping[str, int] | TagSet,
    *,
    text_column: str = "text",
    spans_column: str | None = "entities",
    scheme: Literal["BIO", "IO"] | None = None,
    max_length: int | None = None,
    stride: int | None = None,
    label_all_tokens: bool = True,
    overlapping: Literal["error", "longest"] = "error",
    num_proc: int | None = None,
    batch_size: int = 1000,
) -> Dataset:
    """Tokenize documents into overlapping windows with token labels aligned to their character spans.

    Args:
        dataset_or_docs: a ``datasets.Dataset`` or a list of dicts, each with a text and a list of
            spans (``{"start", "end", "label"}`` dicts, half-open code-point offsets).
        tokenizer: a fast tokenizer (``tokenizer.is_fast``); slow ones have no offsets and raise.
        labels: entity labels (tags ``O, B-X, I-X, ...`` in that order), a ``label2id`` dict or a
            :class:`~ecr_hf.token_classification.TagSet`.
        text_column, spans_column: column names; ``spans_column=None`` for unlabelled (inference) data.
        scheme: ``"BIO"`` (default) or ``"IO"``.
        max_length: window length in tokens, special tokens included; ``None`` takes
            ``tokenizer.model_max_length`` (an error if the tokenizer sets none, as GPT-2 style ones).
        stride: tokens shared by consecutive windows; ``None`` takes a quarter of the window's
            non-special tokens, so each token has some context on both sides in some window.
        label_all_tokens: label every sub-token (default: words are ill-defined for byte-level
            tokenizers and text without spaces), or only each word's first one (others ``-100``).
        overlapping: ``"error"`` on overlapping spans (flat tags cannot hold them), or
            ``"longest"`` to keep the longest of each overlapping group (the dropped are logged).
        num_proc, batch_size: passed to ``Dataset.map``.

    Returns:
        A ``Dataset`` with one row per window: ``input_ids``, ``attention_mask`` (and
        ``token_type_ids`` if the tokenizer makes them), ``labels`` (if ``spans_column``),
        ``offset_mapping`` (whitespace-trimmed character offsets, ``(0, 0)`` for special tokens),
        ``token_positions`` (each token's index in its document's token sequence, ``-1`` for
        special tokens), ``word_ids`` (word of each token, ``-1`` for none), ``document_index``
        (row of the input), ``window_index`` and ``num_windows``.

    Examples:
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> from transformers import PreTrainedTokenizerFast
        >>> backend = Tokenizer(models.WordLevel({"[UNK]": 0, "heart": 1, "failure": 2, "noted": 3}, "[UNK]"))
        >>> backend.pre_tokenizer = pre_tokenizers.Whitespace()
        >>> tok = PreTrainedTokenizerFast(tokenizer_object=backend)
        >>> docs = [{"text": "heart failure noted", "entities": [{"start": 0, "end": 13, "label": "D"}]}]
        >>> ds = tokenize_and_align(docs, tok, ["D"], max_length=2, stride=1)
        >>> rows = ds[:]
        >>> rows["labels"], rows["token_positions"], rows["num_windows"]
        ([[1, 2], [2, 0]], [[0, 1], [1, 2]], [2, 2])
    """
    _check_fast(tokenizer)
    if overlapping not in ("error", "longest"):
        raise ValueError(f"overlapping must be 'error' or 'longest', got {overlapping!r}")
    tags = TagSet.from_labels(labels, scheme)
    dataset = _as_dataset(dataset_or_docs)
    for column in (text_column, spans_column):
        if column is not None and column not in dataset.column_names:
            raise ValueError(f"column {column!r} not found; the documents have columns {dataset.column_names}")

    if max_length is None:
        if tokenizer.model_max_length >= _UNBOUNDED:
            raise ValueError(f"{type(tokenizer).__name__} sets no model_max_length; give max_length, the window "
                             "length in tokens (at most the model's config.max_position_embeddings)")
        max_length = tokenizer.model_max_length
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    if room < 1:
        raise ValueError(f"max_length={max_length} leaves no room for text next to the special tokens")
    stride = room // 4 if stride is None else stride
    if not 0 <= stride < room:
        raise ValueError(f"stride must be in [0, {room}) (max_length minus special tokens), got {stride}")
    step = room - stride
    if tokenizer.truncation_side != "right":  # windows are numbered from the start of the document
        tokenizer = copy.copy(tokenizer)
        tokenizer.truncation_side = "right"

    def encode(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        texts = batch[text_column]
        for text, doc in zip(texts, indices):
            if not isinstance(text, str) or not text:
                raise ValueError(f"document {doc}: text is {text!r}; every document needs a non-empty string "
                                 f"in column {text_column!r} (drop empty ones with dataset.filter)")
        enc = tokenizer(texts, return_offsets_mapping=True, truncation=True, max_length=max_length, stride=stride,
                        return_overflowing_tokens=True)
        windows_of: list[list[int]] = [[] for _ in texts]
        for i, k in enumerate(enc["overflow_to_sample_mapping"]):
            windows_of[k].append(i)
        out: dict[str, list] = {key: [] for key in enc if key in ("input_ids", "attention_mask", "token_type_ids")}
        out.update({key: [] for key in ("offset_mapping", "token_positions", "word_ids", "document_index",
                                        "window_index", "num_windows")})
        if spans_column is not None:
            out["labels"] = []
        dropped, altered, total = [], 0, 0
        for k, (text, doc) in enumerate(zip(texts, indices)):
            wins = windows_of[k]
            positions, offsets, raw_words = _place_windows(enc, wins, step, doc)
            offsets = trim_offsets(offsets, text)
            words = word_index(offsets, raw_words)
            if spans_column is not None:
                spans = to_spans(batch[spans_column][k], doc=doc, text=text)
                if overlapping == "longest":
                    spans, lost = drop_overlapping(spans, doc=doc)
                    dropped += [doc] * len(lost)
                doc_labels = spans_to_token_labels(spans, offsets, tags, label_all_tokens=label_all_tokens,
                                                   word_ids=words, doc=doc)
                back = token_labels_to_spans(doc_labels, offsets, tags, label_all_tokens=label_all_tokens,
                                             word_ids=words)
                altered += len(set(spans) - set(back))
                total += len(spans)
            for w, (p, i) in enumerate(zip(positions, wins)):
                for key in ("input_ids", "attention_mask", "token_type_ids"):
                    if key in out:
                        out[key].append(enc[key][i])
                if spans_column is not None:
                    out["labels"].append(_take(doc_labels, p, IGNORE_INDEX).tolist())
                out["offset_mapping"].append(_take(offsets, p, 0).tolist())
                out["token_positions"].append(p.tolist())
                out["word_ids"].append(_take(words, p, -1).tolist())
                out["document_index"].append(doc)
                out["window_index"].append(w)
                out["num_windows"].append(len(wins))
        if dropped:
            logger.warning("dropped %d spans overlapping longer ones (documents %s)", len(dropped),
                           sorted(set(dropped))[:10])
        if altered:
            logger.info("%d of %d spans do not fall on token boundaries: their token labels widen them to whole "
                        "tokens (or lose them where an earlier span holds all their tokens)", altered, total)
        return out

    # A fresh fingerprint: hashing the closure (and the tokenizer it holds) costs ~0.5 s a call, and a
    # cache hit keyed on anything cheaper could pair a dataset with another tokenizer's features.
    return dataset.map(encode, batched=True, batch_size=batch_size, with_indices=True, num_proc=num_proc,
                       remove_columns=dataset.column_names, desc="Tokenizing and aligning spans",
                       new_fingerprint=generate_random_fingerprint())


_PAD_VALUES = {"attention_mask": 0, "labels": IGNORE_INDEX, "offset_mapping": 0, "token_positions": -1, "word_ids": -1}


@dataclass
class DataCollatorForWindowedTokenClassification:
    """Pads :func:`tokenize_and_align` windows into a batch for a model and for ``WindowMerger``.

    Per-token columns are padded on ``tokenizer.padding_side``: ``input_ids`` with the pad token,
    ``token_type_ids`` with ``tokenizer.pad_token_type_id``, ``attention_mask`` with 0, ``labels``
    with -100, ``token_positions`` and ``word_ids`` with -1, ``offset_mapping`` with ``(0, 0)``;
    per-window integers (``document_index``, ...) are stacked. Remove the columns the model does not
    take (``offset_mapping``, ``token_positions``, ...) before its forward pass.
    """

    tokenizer: Any = field(metadata={"help": "The tokenizer that made the features; gives the pad token and side."})
    pad_to_multiple_of: int | None = field(default=None, metadata={"help": "Round the padded length up to this."})
    return_tensors: Literal["pt", "np"] = field(default="pt", metadata={"help": "'pt' (torch) or 'np' (numpy)."})

    def __post_init__(self):
        if self.return_tensors not in ("pt", "np"):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {self.return_tensors!r}")
        if self.tokenizer.pad_token_id is None:
            raise ValueError(f"{type(self.tokenizer).__name__} has no pad token; call "
                             "ecr_hf.token_classification.ensure_pad_token(tokenizer) first")

    def __call__(self, features: list[Mapping[str, Any]]) -> dict[str, Any]:
        length = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        pad_values = {**_PAD_VALUES, "input_ids": self.tokenizer.pad_token_id,
                      "token_type_ids": self.tokenizer.pad_token_type_id}
        left = self.tokenizer.padding_side == "left"
        batch = {}
        for key, value in features[0].items():
            if not isinstance(value, (list, tuple, np.ndarray)):
                batch[key] = np.array([f[key] for f in features], dtype=np.int64)
                continue
            if key not in pad_values:
                raise ValueError(f"no padding rule for column {key!r}; remove it or pad it yourself")
            rows = [np.asarray(f[key], dtype=np.int64) for f in features]
            arr = np.full((len(rows), length) + rows[0].shape[1:], pad_values[key], dtype=np.int64)
            for b, row in enumerate(rows):
                if left:
                    arr[b, length - len(row):] = row
                else:
                    arr[b, :len(row)] = row
            batch[key] = arr
        if self.return_tensors == "pt":
            import torch

            return {k: torch.from_numpy(v) for k, v in batch.items()}
        return batch
