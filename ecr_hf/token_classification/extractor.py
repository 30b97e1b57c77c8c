"""Inference: texts in, character spans with labels and scores out (windows for long texts)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from datasets import Dataset
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer, PreTrainedModel
from transformers.utils import logging

from .alignment import TagSet, merge_window_predictions, token_labels_to_spans, trim_offsets
from ..spans.formats import spans_to_marked
from ..utils import run_sharded
from .config import CONFIG_NAME
from .model import ECRTokenClassifier
from .data import DataCollatorForWindowedTokenClassification, _check_fast, tokenize_and_align

logger = logging.get_logger(__name__)

__all__ = ["ECRExtractor"]

_MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _label2id(model: Any, id2label: Mapping[int, str] | Sequence[str] | None) -> dict[str, int]:
    """The head's tags by id: ``id2label`` if given, else the model config's (``label2id`` is often
    missing or stale in checkpoints; ``id2label`` is what transformers' pipeline reads)."""
    num_labels = model.config.num_labels
    given = model.config.id2label if id2label is None else id2label
    given = dict(enumerate(given)) if isinstance(given, Sequence) and not isinstance(given, str) else given
    if not isinstance(given, Mapping):
        raise TypeError(f"id2label must be a dict {{id: tag}} or a list of tags in id order, got {id2label!r}")
    pairs = {int(i): name for i, name in given.items()}
    if sorted(pairs) != list(range(num_labels)):
        raise ValueError(f"id2label has ids {sorted(pairs)} but the model's head has {num_labels} outputs: give one "
                         f"tag for each id 0..{num_labels - 1}")
    names = list(pairs.values())
    if dupes := sorted({n for n in names if names.count(n) > 1}, key=str):
        raise ValueError(f"id2label gives several ids the tags {dupes}: each id needs a tag of its own; pass "
                         "id2label={0: 'O', 1: 'B-Disease', ...} with the tags the model was trained with")
    return {name: i for i, name in pairs.items()}


class ECRExtractor:
    """Extract concept spans from raw texts with a token classifier: an ecr-hf one or any
    ``transformers`` ``*ForTokenClassification`` checkpoint (public NER models included).

    Each span is ``{"start", "end", "label", "text", "score"}`` with code-point offsets into the
    text; ``score`` is the mean, over the span's tokens, of the probability of the predicted tag.

    The tags are read from the model's ``config.id2label`` (:class:`~ecr_hf.token_classification.TagSet`):
    BIO, IO (prefixed or bare, ``{"O", "PER"}``), BIOES or BILOU, decoded leniently, as transformers'
    ``pipeline("token-classification", aggregation_strategy="simple")`` reads BIO: an ``I-X`` after
    ``O`` starts a span. A checkpoint whose ``id2label`` is the placeholder ``LABEL_0, LABEL_1, ...``
    or spells its tags otherwise (``"No Disease"``, ``"B_X"``) raises; pass ``id2label=`` (a dict or
    a list of tags in id order, from the model card). Long texts are never truncated (the pipeline
    truncates unless given a ``stride``): they run in overlapping windows, merged per token before
    decoding. ``ECRTrainer`` trains and writes BIO or IO tags only.

    Examples:
        >>> extractor = ECRExtractor.from_pretrained("outputs/minilm-ncbi")  # doctest: +SKIP
        >>> extractor("Germline mutations in BRCA1 cause breast cancer.")  # doctest: +SKIP
        [{'start': 35, 'end': 48, 'label': 'Disease', 'text': 'breast cancer', 'score': 0.97}]
        >>> ner = ECRExtractor.from_pretrained("path/to/biobert-ncbi-disease")  # doctest: +SKIP
        >>> ner = ECRExtractor.from_pretrained("path/to/ner", id2label=["O", "B-D", "I-D"])  # doctest: +SKIP
    """

    def __init__(self, model: ECRTokenClassifier | PreTrainedModel, tokenizer: Any, *,
                 id2label: Mapping[int, str] | Sequence[str] | None = None, max_length: int | None = None,
                 stride: int | None = None, batch_size: int = 16, label_all_tokens: bool = True,
                 window_strategy: Literal["central", "average"] = "central"):
        """``tokenizer`` must be fast (offsets). ``id2label`` overrides the model's tag names, one per
        head output. ``batch_size`` windows per forward pass (at least 1); ``max_length`` tokens per window,
        special tokens included (``None``: the tokenizer's ``model_max_length``, 512 if it sets
        none); ``stride`` tokens shared by consecutive windows, in ``[0, max_length - special
        tokens)`` (``None``: a quarter of that). Out-of-range values raise ``ValueError`` here,
        not at the first call, and never give silently empty output."""
        _check_fast(tokenizer)
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if window_strategy not in ("central", "average"):
            raise ValueError(f"window_strategy must be 'central' or 'average', got {window_strategy!r}")
        if max_length is None and tokenizer.model_max_length >= 10**12:
            max_length = 512
            logger.info("the tokenizer sets no model_max_length: using windows of %d tokens", max_length)
        special = tokenizer.num_special_tokens_to_add(pair=False)
        if max_length is not None and (not _is_int(max_length) or max_length <= special):
            raise ValueError(f"max_length must be an integer > {special} (the tokenizer's special tokens per "
                             f"window), got {max_length!r}")
        room = (tokenizer.model_max_length if max_length is None else max_length) - special
        if stride is not None and (not _is_int(stride) or not 0 <= stride < room):
            raise ValueError(f"stride must be an integer in [0, {room}) (max_length minus special tokens), "
                             f"got {stride!r}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tags = TagSet.from_labels(_label2id(model, id2label))
        self.max_length, self.stride = max_length, stride
        self.batch_size, self.label_all_tokens, self.window_strategy = batch_size, label_all_tokens, window_strategy
        tokenizer.padding_side = "right"
        self.collator = DataCollatorForWindowedTokenClassification(tokenizer)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, id2label: Mapping[int, str] | Sequence[str] | None = None,
                        revision: str | None = None, dtype: Any = None, device: str | torch.device | None = None,
                        **kwargs) -> "ECRExtractor":
        """Load a model and its tokenizer from one folder (or Hub id), whichever kind it is.

        A folder with ``token_classifier_config.json`` is an ecr-hf classifier (``ECRTrainer.save_model``:
        CRF, LoRA, dtype as it was trained). Otherwise ``config.json`` must name a
        ``*ForTokenClassification`` architecture, loaded by ``AutoModelForTokenClassification``
        (``revision`` and ``dtype`` are passed to it). ``device`` moves either kind; ``kwargs`` go to
        ``__init__`` (``max_length``, ``batch_size``, ...)."""
        path = os.fspath(path)
        if os.path.isfile(os.path.join(path, CONFIG_NAME)):
            if revision is not None or dtype is not None:
                raise ValueError(f"{path!r} is an ecr-hf classifier folder, which loads with the dtype its "
                                 f"{CONFIG_NAME} names; revision and dtype apply to transformers checkpoints only")
            model = ECRTokenClassifier.from_pretrained(path)
        else:
            if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "config.json")):
                raise ValueError(f"{path!r} holds no model: expected {CONFIG_NAME} (an ecr-hf classifier saved by "
                                 "ECRTrainer.save_model) or config.json (a transformers token classifier), found "
                                 f"{sorted(os.listdir(path))[:12] or 'an empty folder'}")
            config = AutoConfig.from_pretrained(path, revision=revision)
            if not any(a.endswith("ForTokenClassification") for a in config.architectures or []):
                raise ValueError(f"{path!r} is a {config.model_type} checkpoint with architectures "
                                 f"{config.architectures}, not a token classifier: expected a *ForTokenClassification "
                                 "architecture (a model fine-tuned for NER). To train one from this checkpoint, use "
                                 "build_token_classifier and ECRTrainer")
            model = AutoModelForTokenClassification.from_pretrained(
                path, config=config, revision=revision, **({} if dtype is None else {"dtype": dtype}))
        if device is not None:
            model.to(device)
        return cls(model, AutoTokenizer.from_pretrained(path, revision=revision), id2label=id2label, **kwargs)

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

    def _spans(self, text: str, windows, original: str) -> list[dict[str, Any]]:
        """Spans of ``text`` (surrogate-free) with their ``text`` cut from ``original``."""
        positions = [w[0] for w in windows]
        if not sum(map(len, positions)):  # only special tokens (a BOM, zero-width or control characters)
            return []
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
            out.append({"start": s.start, "end": s.end, "label": s.label, "text": original[s.start:s.end],
                        "score": float(confidence[inside].mean()) if inside.any() else 0.0})
        return out

    def __call__(self, texts: str | list[str], *, progress: bool = False) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
        """Spans of one text, or a list of span lists for a list of texts.

        A text that is empty, blank or has no tokens (only characters the tokenizer drops, such as
        a BOM or zero-width space) has no spans: ``[]``, and ``ext([])`` is ``[]``. Lone surrogates
        (a JSON escape such as ``"\\ud800"`` decodes to one), which no tokenizer can encode, are read
        as U+FFFD, one code point for one, so offsets stay those of the text as given."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        for k, t in enumerate(batch):
            if not isinstance(t, str):
                raise TypeError(f"text {k} is a {type(t).__name__}, not a str")
        result: list[list[dict[str, Any]]] = [[] for _ in batch]
        nonempty = [k for k, t in enumerate(batch) if t.strip()]  # empty texts have no spans
        if not nonempty:
            return result[0] if single else result
        clean = [_SURROGATES.sub("\ufffd", batch[k]) for k in nonempty]
        for doc, windows in self._windows(clean, progress):
            result[nonempty[doc]] = self._spans(clean[doc], windows, batch[nonempty[doc]])
        return result[0] if single else result

    def extract_sharded(self, texts: list[str], *, progress: bool = False) -> list[list[dict[str, Any]]]:
        """``self(texts)`` shared out over the processes of ``torchrun`` / ``accelerate launch``: each
        process extracts a contiguous share on its own device, and every process gets all the span
        lists back, in input order. In one process it is ``self(texts)``."""
        return run_sharded(len(texts), lambda mine, main: self([texts[i] for i in mine], progress=progress and main),
                           self.model)

    def to_marked(self, texts: list[str], open_marker: str = "@@", close_marker: str = "##") -> list[str]:
        """The texts with each extracted span wrapped in markers (paper 000, Figure 3)."""
        return [spans_to_marked(t, [(s["start"], s["end"]) for s in spans], open_marker, close_marker)
                for t, spans in zip(texts, self(list(texts)))]

    def to_dataset(self, texts: list[str]) -> Dataset:
        """A ``datasets.Dataset`` with ``text`` and ``entities`` columns, the form ecr-hf reads.
        Arrow holds UTF-8 only: a text with a lone surrogate raises ``ValueError`` naming it."""
        for k, t in enumerate(texts):
            if isinstance(t, str) and (bad := _SURROGATES.search(t)):
                raise ValueError(f"text {k} has a lone surrogate {bad.group()!r} at {bad.start()}, which a Dataset "
                                 "(Arrow, UTF-8) cannot store; call the extractor itself for span lists")
        return Dataset.from_dict({"text": list(texts), "entities": self(list(texts))})
