"""Inference: texts in, character spans with labels and scores out (windows for long texts)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import torch
from datasets import Dataset
from tqdm.auto import tqdm
from transformers import AutoTokenizer
from transformers.utils import logging

from .alignment import TagSet, merge_window_predictions, token_labels_to_spans, trim_offsets
from .formats import spans_to_marked
from .modeling import ECRTokenClassifier
from .token_data import DataCollatorForWindowedTokenClassification, tokenize_and_align

logger = logging.get_logger(__name__)

__all__ = ["ECRExtractor"]

_MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids")


class ECRExtractor:
    """Extract concept spans from raw texts with a trained token classifier.

    Each span is ``{"start", "end", "label", "text", "score"}`` with code-point offsets into the
    text; ``score`` is the mean, over the span's tokens, of the probability of the predicted tag.

    Examples:
        >>> extractor = ECRExtractor.from_pretrained("outputs/minilm-ncbi")  # doctest: +SKIP
        >>> extractor("Germline mutations in BRCA1 cause breast cancer.")  # doctest: +SKIP
        [{'start': 35, 'end': 48, 'label': 'Disease', 'text': 'breast cancer', 'score': 0.97}]
    """

    def __init__(self, model: ECRTokenClassifier, tokenizer: Any, *, max_length: int | None = None,
                 stride: int | None = None, batch_size: int = 16, label_all_tokens: bool = True,
                 window_strategy: Literal["central", "average"] = "central"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tags = TagSet.from_labels(dict(model.config.label2id))
        if max_length is None and tokenizer.model_max_length >= 10**12:
            max_length = 512
            logger.info("the tokenizer sets no model_max_length: using windows of %d tokens", max_length)
        self.max_length, self.stride = max_length, stride
        self.batch_size, self.label_all_tokens, self.window_strategy = batch_size, label_all_tokens, window_strategy
        tokenizer.padding_side = "right"
        self.collator = DataCollatorForWindowedTokenClassification(tokenizer)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs) -> "ECRExtractor":
        """Load a classifier saved by ``ECRTrainer.save_model`` (model and tokenizer in one folder)."""
        return cls(ECRTokenClassifier.from_pretrained(path), AutoTokenizer.from_pretrained(path), **kwargs)

    @torch.no_grad()
    def _windows(self, texts: list[str], progress: bool) -> Iterable[tuple[int, list[tuple[np.ndarray, ...]]]]:
        """Per document, its windows as (token positions, tag votes, tag probabilities, offsets)."""
        features = tokenize_and_align([{"text": t} for t in texts], self.tokenizer, self.tags, spans_column=None,
                                      max_length=self.max_length, stride=self.stride,
                                      label_all_tokens=self.label_all_tokens)
        device = next(self.model.parameters()).device
        pending: dict[int, list] = {}
        for lo in tqdm(range(0, len(features), self.batch_size), disable=not progress, desc="Extracting"):
            batch = self.collator([features[i] for i in range(lo, min(lo + self.batch_size, len(features)))])
            inputs = {k: v.to(device) for k, v in batch.items() if k in _MODEL_COLUMNS}
            logits = self.model(**inputs).logits.float()
            probs = logits.softmax(-1)
            votes = probs
            crf = getattr(self.model, "crf", None)
            if crf is not None:  # the Viterbi path decides; the emissions' softmax gives the scores
                ids = crf.decode(logits, batch["token_positions"].to(device) >= 0).clamp(min=0)
                votes = torch.nn.functional.one_hot(ids, logits.shape[-1]).float()
            probs, votes = probs.cpu().numpy(), votes.cpu().numpy()
            for b in range(len(probs)):
                doc, keep = int(batch["document_index"][b]), (batch["token_positions"][b] >= 0).numpy()
                pending.setdefault(doc, []).append((batch["token_positions"][b].numpy()[keep], votes[b][keep],
                                                    probs[b][keep], batch["offset_mapping"][b].numpy()[keep]))
                if len(pending[doc]) == int(batch["num_windows"][b]):
                    yield doc, pending.pop(doc)

    def _spans(self, text: str, windows) -> list[dict[str, Any]]:
        positions = [w[0] for w in windows]
        ids = merge_window_predictions([w[1] for w in windows], positions, strategy=self.window_strategy).argmax(-1)
        probs = merge_window_predictions([w[2] for w in windows], positions, strategy=self.window_strategy)
        offsets = np.zeros((len(ids), 2), dtype=np.int64)
        for pos, _, _, off in windows:
            offsets[pos] = off
        spans = token_labels_to_spans(ids, offsets, self.tags, text=text)
        trimmed = trim_offsets(offsets, text)
        confidence = probs[np.arange(len(ids)), ids]
        out = []
        for s in spans:
            inside = (trimmed[:, 0] >= s.start) & (trimmed[:, 1] <= s.end) & (trimmed[:, 1] > trimmed[:, 0])
            out.append({"start": s.start, "end": s.end, "label": s.label, "text": text[s.start:s.end],
                        "score": float(confidence[inside].mean()) if inside.any() else 0.0})
        return out

    def __call__(self, texts: str | list[str], *, progress: bool = False) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
        """Spans of one text, or a list of span lists for a list of texts."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        for k, t in enumerate(batch):
            if not isinstance(t, str):
                raise TypeError(f"text {k} is a {type(t).__name__}, not a str")
        result: list[list[dict[str, Any]]] = [[] for _ in batch]
        nonempty = [k for k, t in enumerate(batch) if t.strip()]  # empty texts have no spans
        for doc, windows in self._windows([batch[k] for k in nonempty], progress):
            k = nonempty[doc]
            result[k] = self._spans(batch[k], windows)
        return result[0] if single else result

    def to_marked(self, texts: list[str], open_marker: str = "@@", close_marker: str = "##") -> list[str]:
        """The texts with each extracted span wrapped in markers (paper 000, Figure 3)."""
        return [spans_to_marked(t, [(s["start"], s["end"]) for s in spans], open_marker, close_marker)
                for t, spans in zip(texts, self(list(texts)))]

    def to_dataset(self, texts: list[str]) -> Dataset:
        """A ``datasets.Dataset`` with ``text`` and ``entities`` columns, the form ecr-hf reads."""
        return Dataset.from_dict({"text": list(texts), "entities": self(list(texts))})
