"""A ``transformers.Trainer`` whose evaluation scores character spans, and a ``compute_metrics``
factory that does the same for the plain ``Trainer``.

Evaluation decodes each batch of window logits as it comes (CRF: Viterbi; else argmax after window
merging), so memory holds span lists, never a corpus of logits. In distributed evaluation every
process gathers all windows and scores the whole evaluation set. The logged keys are those of
:func:`ecr_hf.scoring.span_metrics`, prefixed ``eval_``: ``eval_f1`` is the weighted soft match F1 at
``score_p``, so ``metric_for_best_model="f1"`` selects on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from datasets import Dataset
from transformers import EvalPrediction, Trainer, TrainingArguments
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_utils import EvalLoopOutput
from transformers.utils import logging

from .alignment import TagSet, WindowMerger
from .model import ECRTokenClassifier
from ..scoring.flat import span_metrics
from ..scoring.soft_match import DEFAULT_P_VALUES
from ..spans.span import to_spans
from .data import DataCollatorForWindowedTokenClassification, tokenize_and_align

logger = logging.get_logger(__name__)

__all__ = ["ECRTrainingArguments", "ECRTrainer", "make_compute_metrics"]

# Columns of tokenize_and_align that describe windows; the model never sees them.
WINDOW_COLUMNS = ("offset_mapping", "token_positions", "word_ids", "document_index", "window_index", "num_windows")


@dataclass
class ECRTrainingArguments(TrainingArguments):
    """``TrainingArguments`` plus what span-level training and evaluation need.

    Changed default: ``remove_unused_columns=False`` (the window columns must reach the collator).
    """

    text_column: str = field(default="text", metadata={"help": "Column holding each document's text."})
    spans_column: str = field(default="entities", metadata={"help": "Column holding each document's spans."})
    max_length: int | None = field(default=None, metadata={"help": "Window length in tokens (special tokens "
                                   "included); default: the tokenizer's model_max_length."})
    stride: int | None = field(default=None, metadata={"help": "Tokens shared by consecutive windows; "
                               "default: a quarter of the window."})
    label_all_tokens: bool = field(default=True, metadata={"help": "Label every sub-token, or only the first of each word."})
    window_strategy: Literal["central", "average"] = field(default="central", metadata={
        "help": "How overlapping windows are merged: the most central window per token, or averaged logits."})
    p_values: tuple[float, ...] = field(default=DEFAULT_P_VALUES, metadata={"help": "Weighted soft match p sweep."})
    score_p: float = field(default=1.0, metadata={"help": "p of the main precision/recall/f1 keys."})
    typed_scores: bool = field(default=False, metadata={"help": "Count fragments only where labels match."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Kept False: window columns are needed."})

    def __post_init__(self):
        super().__post_init__()
        if self.window_strategy not in ("central", "average"):
            raise ValueError(f"window_strategy must be 'central' or 'average', got {self.window_strategy!r}")
        if self.score_p < 1:
            raise ValueError(f"score_p must be >= 1, got {self.score_p}")
        self.p_values = tuple(float(p) for p in self.p_values)


def _documents(data: Dataset | Sequence[Mapping[str, Any]], text_column: str, spans_column: str) -> tuple[list[str], list]:
    rows = data.select_columns([text_column, spans_column]) if isinstance(data, Dataset) else data
    texts = [r[text_column] for r in rows]
    gold = [to_spans(r[spans_column], doc=k, text=texts[k]) for k, r in enumerate(rows)]
    return texts, gold


class ECRTrainer(Trainer):
    """``Trainer`` for span documents: tokenizes them into windows, trains, and evaluates on spans.

    ``train_dataset``/``eval_dataset`` are documents: a ``datasets.Dataset`` (or list of dicts) with
    a text column and a span column (``{"start", "end", "label"}`` dicts; see
    :class:`ECRTrainingArguments` for names). ``eval_dataset`` may be a dict of such datasets.
    ``processing_class`` must be a fast tokenizer. ``model`` is an
    :class:`~ecr_hf.token_classification.ECRTokenClassifier` or any HF token-classification model whose
    ``config.label2id`` holds the tags (``O``, ``B-X``, ``I-X``).

    ``evaluate()`` logs :func:`ecr_hf.scoring.span_metrics` keys; ``predict()`` returns the predicted
    spans per document as ``predictions``.
    """

    def __init__(self, model=None, args: ECRTrainingArguments | None = None, train_dataset=None, eval_dataset=None,
                 processing_class=None, data_collator=None, **kwargs):
        if args is None:
            args = ECRTrainingArguments(output_dir="ecr_hf_output")
        if not isinstance(args, ECRTrainingArguments):
            raise TypeError("ECRTrainer needs ECRTrainingArguments (span columns, windows, p values)")
        if processing_class is None:
            raise ValueError("ECRTrainer needs processing_class=<a fast tokenizer> to tokenize documents")
        self.tags = TagSet.from_labels(dict(model.config.label2id))
        self._gold: dict[str, tuple[list[str], list]] = {}  # by dataset fingerprint
        self._merger: WindowMerger | None = None
        self._predicted: list | None = None
        tokenizer = processing_class
        if tokenizer.padding_side != "right":
            logger.info("ECRTrainer pads token-classification windows on the right")
            tokenizer.padding_side = "right"
        self._tokenizer = tokenizer
        self._crf = getattr(model, "crf", None) is not None
        train_dataset = None if train_dataset is None else self._prepare(train_dataset, args, "train")
        if isinstance(eval_dataset, Mapping):
            eval_dataset = {k: self._prepare(v, args, f"eval {k}") for k, v in eval_dataset.items()}
        elif eval_dataset is not None:
            eval_dataset = self._prepare(eval_dataset, args, "eval")
        if data_collator is None:
            data_collator = DataCollatorForWindowedTokenClassification(tokenizer)
        super().__init__(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                         processing_class=processing_class, data_collator=data_collator, **kwargs)

    def _prepare(self, documents, args: ECRTrainingArguments, name: str) -> Dataset:
        """Tokenize documents into windows, keeping their texts and gold spans for scoring."""
        if isinstance(documents, Dataset) and "input_ids" in documents.column_names:
            raise ValueError(f"the {name} dataset is already tokenized; ECRTrainer takes documents (text + spans) "
                             "so that it can score character spans. Use make_compute_metrics with a plain Trainer "
                             "for pre-tokenized windows.")
        texts, gold = _documents(documents, args.text_column, args.spans_column)
        features = tokenize_and_align(
            documents, self._tokenizer, self.tags, text_column=args.text_column, spans_column=args.spans_column,
            max_length=args.max_length, stride=args.stride, label_all_tokens=args.label_all_tokens)
        if self._crf and "labels" in features.column_names:
            features = features.map(self._restart_spans, desc="Starting window spans with B-")
        keep = [c for c in features.column_names if c in ("input_ids", "attention_mask", "token_type_ids", "labels")
                or c in WINDOW_COLUMNS]
        features = features.select_columns(keep)
        self._gold[features._fingerprint] = (texts, gold)
        return features

    def _restart_spans(self, row: dict[str, Any]) -> dict[str, Any]:
        """A window that begins inside a span starts it with ``B-X``: a BIO CRF forbids ``I-X`` first."""
        labels = row["labels"]
        first = next((i for i, x in enumerate(labels) if x != -100), None)
        if first is not None and self.tags.scheme == "BIO":
            name = self.tags.names[labels[first]]
            if name.startswith("I-"):
                labels = list(labels)
                labels[first] = self.tags.label2id["B-" + name[2:]]
        return {"labels": labels}

    def _strip(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        meta = {k: inputs[k] for k in WINDOW_COLUMNS if k in inputs}
        return {k: v for k, v in inputs.items() if k not in WINDOW_COLUMNS}, meta

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return super().compute_loss(model, self._strip(inputs)[0], return_outputs, num_items_in_batch)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs, meta = self._strip(inputs)
        loss, logits, labels = super().prediction_step(model, inputs, False, ignore_keys=ignore_keys)
        if self._merger is None:
            return loss, logits, labels
        scores = logits
        crf = getattr(self.accelerator.unwrap_model(model), "crf", None)
        if crf is not None:  # Viterbi per window over the positions that carry tokens
            scores = crf.decode(logits, meta["token_positions"] >= 0).masked_fill(meta["token_positions"] < 0, 0)
        if self.accelerator.num_processes > 1:
            scores, meta = self._gather_windows(scores, meta)
        self._merger.add(scores, meta["token_positions"], meta["document_index"], meta["offset_mapping"],
                         word_ids=meta.get("word_ids"), num_windows=meta.get("num_windows"))
        return loss, None, None

    def _gather_windows(self, scores: torch.Tensor, meta: dict[str, torch.Tensor]):
        """Every process gets every process's windows of this batch, so that each one scores the whole
        evaluation set. ``gather_for_metrics`` drops the windows repeated to even out the last batch;
        padding tokens get position -1, which the merger ignores."""
        padded = {"scores": scores, **meta}
        for key, value in padded.items():
            if value.dim() > 1:
                padded[key] = self.accelerator.pad_across_processes(
                    value, dim=1, pad_index=-1 if key in ("token_positions", "word_ids") else 0)
        gathered = self.accelerator.gather_for_metrics(padded)
        return gathered.pop("scores"), gathered

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval") -> EvalLoopOutput:
        key = getattr(dataloader.dataset, "_fingerprint", None)
        if key not in self._gold:
            raise ValueError("ECRTrainer evaluates datasets it prepared itself: pass documents (text + spans)")
        texts, gold = self._gold[key]
        args = self.args
        self._merger = WindowMerger(self.tags, label_all_tokens=args.label_all_tokens,
                                    strategy=args.window_strategy, num_documents=len(gold))
        try:
            output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys,
                                             metric_key_prefix)
            predicted = self._merger.finalize()
        finally:
            self._merger = None
        scores = span_metrics(gold, predicted, texts=texts, p_values=args.p_values, score_p=args.score_p,
                              typed=args.typed_scores)
        metrics = dict(output.metrics)
        metrics.update({f"{metric_key_prefix}_{k}": v for k, v in scores.items()})
        return EvalLoopOutput(predictions=predicted, label_ids=None, metrics=metrics, num_samples=output.num_samples)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        if eval_dataset is not None and not isinstance(eval_dataset, str):
            eval_dataset = self._prepare(eval_dataset, self.args, "eval")
        return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)

    def predict(self, test_dataset, ignore_keys=None, metric_key_prefix="test"):
        return super().predict(self._prepare(test_dataset, self.args, "test"), ignore_keys, metric_key_prefix)

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        model = self.accelerator.unwrap_model(self.model)
        if not isinstance(model, ECRTokenClassifier):
            return super()._save(output_dir, state_dict)
        output_dir = output_dir or self.args.output_dir
        if self.args.should_save:  # one folder that ECRTokenClassifier/ECRExtractor.from_pretrained reload
            model.save_pretrained(output_dir)
            if self.processing_class is not None:
                self.processing_class.save_pretrained(output_dir)
            torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _restore(self, checkpoint: str) -> None:
        model = self.accelerator.unwrap_model(self.model)
        saved = ECRTokenClassifier.from_pretrained(checkpoint, is_trainable=True)
        model.load_state_dict(saved.state_dict())

    def _load_best_model(self) -> None:
        if not isinstance(self.accelerator.unwrap_model(self.model), ECRTokenClassifier):
            return super()._load_best_model()
        logger.info("Loading best model from %s (score: %s)", self.state.best_model_checkpoint, self.state.best_metric)
        self._restore(self.state.best_model_checkpoint)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None) -> None:
        if not isinstance(self.accelerator.unwrap_model(model or self.model), ECRTokenClassifier):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        self._restore(resume_from_checkpoint)


def make_compute_metrics(
    features: Dataset,
    documents: Dataset | Sequence[Mapping[str, Any]],
    label2id: Mapping[str, int],
    *,
    text_column: str = "text",
    spans_column: str = "entities",
    label_all_tokens: bool = True,
    window_strategy: Literal["central", "average"] = "central",
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float = 1.0,
    typed: bool = False,
):
    """A ``compute_metrics`` for the plain ``Trainer`` that scores character spans.

    ``features`` is the evaluation dataset made by :func:`ecr_hf.token_classification.tokenize_and_align` from
    ``documents``, in the order the ``Trainer`` evaluates it (sequential), padded on the right. With
    ``TrainingArguments(batch_eval_metrics=True)`` it works batch by batch (bounded memory);
    otherwise it gets all logits at once. Give the ``Trainer`` the features without their window
    columns (``remove_unused_columns=True``, the default, drops them).

    Examples:
        >>> compute = make_compute_metrics(eval_features, eval_docs, model.config.label2id)  # doctest: +SKIP
        >>> Trainer(model, args, eval_dataset=eval_features, compute_metrics=compute)  # doctest: +SKIP
    """
    texts, gold = _documents(documents, text_column, spans_column)
    tags = TagSet.from_labels(dict(label2id))
    meta = features.select_columns([c for c in WINDOW_COLUMNS if c in features.column_names])
    state = {"row": 0, "merger": None}

    def compute_metrics(eval_pred: EvalPrediction, compute_result: bool | None = None) -> dict[str, float]:
        if state["merger"] is None:
            state["merger"] = WindowMerger(tags, label_all_tokens=label_all_tokens, strategy=window_strategy,
                                           num_documents=len(gold))
        logits = eval_pred.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        logits = logits.detach().float().cpu().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)
        rows = meta[state["row"]:state["row"] + len(logits)]
        if len(rows["document_index"]) != len(logits):
            raise ValueError(f"got logits for {state['row'] + len(logits)} windows but the features have "
                             f"{len(meta)}; pass the same features as the Trainer's eval_dataset")
        state["row"] += len(logits)
        width = logits.shape[1]

        def pad(key: str, fill: int) -> np.ndarray:
            out = np.full((len(logits), width) + np.asarray(rows[key][0]).shape[1:], fill, dtype=np.int64)
            for b, row in enumerate(rows[key]):
                out[b, :len(row)] = np.asarray(row)[:width]
            return out

        state["merger"].add(logits, pad("token_positions", -1), rows["document_index"], pad("offset_mapping", 0),
                            word_ids=pad("word_ids", -1) if "word_ids" in rows else None,
                            num_windows=rows.get("num_windows"))
        if compute_result is False:
            return {}
        predicted = state["merger"].finalize()
        state.update(row=0, merger=None)
        return span_metrics(gold, predicted, texts=texts, p_values=p_values, score_p=score_p, typed=typed)

    return compute_metrics
