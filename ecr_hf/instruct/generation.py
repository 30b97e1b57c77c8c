"""Evaluation by generation: prompt the model, decode its marked answers, score the spans.

:func:`generate_predictions` generates batch by batch (left padding, greedy by default), optionally
under :class:`~ecr_hf.instruct.FaithfulMarkerLogitsProcessor`;
:func:`evaluate_generations` reads the answers back onto source offsets with
:func:`ecr_hf.spans.decode_corpus` and scores them with weighted soft matching. :class:`ECRSFTTrainer`
(an ``SFTTrainer`` configured by :class:`ECRSFTConfig`) runs both at every evaluation, so the span
metrics and the faithfulness of the copies are logged next to the loss, with the ``eval_`` prefix,
and can drive ``metric_for_best_model`` and early stopping.

Recipe (LoRA as in paper 000, where the decoders were tuned with low-rank adapters)::

    train = to_instruction_dataset(train_docs, template="ja")
    dev = to_instruction_dataset(dev_docs, template="ja")
    args = ECRSFTConfig("out", num_train_epochs=10, eval_strategy="epoch", metric_for_best_model="f1",
                        load_best_model_at_end=True, save_strategy="epoch")
    trainer = ECRSFTTrainer(model, args=args, train_dataset=train, eval_dataset=dev,
                            processing_class=tokenizer, peft_config=default_lora_config())
    trainer.train()

Typed extraction needs nothing more: a dataset built with ``to_instruction_dataset(...,
typed="markers")`` carries its ``label_set``, so generation is constrained to known labels after
``##`` and scoring is typed (``label_{name}_f1`` ...); one built with ``typed="queries"`` carries a
``query_label`` per row, and the answers of a unit's queries are merged before scoring
(:func:`decode_generations`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object
from datasets import Dataset
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging
from trl import SFTConfig, SFTTrainer

from ..spans.decode import FaithfulnessReport, decode_corpus
from ..spans.formats import check_labels
from ..scoring.flat import span_metrics
from ..scoring.soft_match import DEFAULT_P_VALUES
from ..spans.span import Span, to_spans
from .constrained import ByteVocabulary, FaithfulMarkerLogitsProcessor
from .templates import render_prompt

logger = logging.get_logger(__name__)

__all__ = ["generate_predictions", "decode_generations", "evaluate_generations", "ECRSFTConfig", "ECRSFTTrainer",
           "default_lora_config"]


def _rows(dataset: Dataset | Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list]:
    names = dataset.column_names if isinstance(dataset, Dataset) else (list(dataset[0]) if len(dataset) else [])
    missing = [c for c in columns if c not in names]
    if missing and len(dataset):
        raise KeyError(f"the dataset lacks column(s) {missing} (it has {names}); build it with "
                       "ecr_hf.instruct.to_instruction_dataset, or pass template= to render prompts from 'source'")
    if isinstance(dataset, Dataset):
        return {c: list(dataset[c]) for c in columns}
    return {c: [row[c] for row in dataset] for c in columns}


def _column_names(dataset: Dataset | Sequence[Mapping[str, Any]]) -> list[str]:
    if isinstance(dataset, Dataset):
        return dataset.column_names
    return list(dataset[0]) if len(dataset) else []


def _typed(dataset: Dataset | Sequence[Mapping[str, Any]], labels: Sequence[str] | None, open_marker: str,
           close_marker: str) -> tuple[str | None, tuple[str, ...] | None]:
    """The typed mode of the rows (``None``, ``"markers"`` or ``"queries"``) and the label set: ``labels``
    if given (typed markers), else the rows' ``query_label`` (queries) or ``label_set`` column (markers)."""
    names = _column_names(dataset)
    if "query_label" in names:
        if labels is not None:
            raise ValueError("labels= sets the label set of typed markers, but the rows are per-label queries "
                             "(they have a 'query_label' column); leave labels=None")
        return "queries", None
    if labels is not None:
        return "markers", check_labels(labels, open_marker, close_marker)
    if "label_set" in names:
        sets = {tuple(x) for x in _rows(dataset, ["label_set"])["label_set"]}
        if len(sets) != 1:
            raise ValueError(f"the rows' 'label_set' differ ({sorted(sets)[:3]}...); typed markers need one label set: "
                             "pass labels=")
        return "markers", check_labels(sets.pop(), open_marker, close_marker)
    return None, None


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos:
        eos.append(tokenizer.eos_token_id)
    if not eos:
        raise ValueError("neither the model's generation_config nor the tokenizer defines an EOS token")
    return eos


@contextmanager
def _as_standalone(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and full precision for the duration; the mode and accelerate's autocast wrapper are restored.

    A ``Trainer`` with ``bf16``/``fp16`` (TRL's ``SFTConfig`` defaults to ``bf16=True``, on the CPU too)
    replaces the ``forward`` of the model it trains by an autocast wrapper, keeping the original in
    ``_original_forward``; generation from that model at evaluation then ran under autocast: other
    numbers than standalone generation and, on a CPU without native bf16, several times slower.
    """
    was_training = model.training
    wrapper, original = model.__dict__.get("forward"), model.__dict__.get("_original_forward")
    model.eval()
    if wrapper is not None and original is not None:
        model.forward = original
    try:
        yield
    finally:
        if wrapper is not None and original is not None:
            model.forward = wrapper
        model.train(was_training)


def generate_predictions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Dataset | Sequence[Mapping[str, Any]],
    *,
    template: str | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    constrained: bool = True,
    do_sample: bool = False,
    open_marker: str = "@@",
    close_marker: str = "##",
    labels: Sequence[str] | None = None,
    generation_kwargs: Mapping[str, Any] | None = None,
    show_progress: bool = True,
) -> list[str]:
    """Generate the marked answer for every row of ``dataset``, in order.

    Args:
        model: a causal LM (a ``PeftModel`` works too).
        tokenizer: its tokenizer (a fast one when ``constrained``).
        dataset: rows with ``"source"`` and, unless ``template`` is given, ``"prompt"`` (a string, or
            chat messages rendered with the tokenizer's chat template), as built by
            :func:`~ecr_hf.instruct.to_instruction_dataset`.
        template: render prompts from ``source`` with this template (``"ja"``, ``"en"`` or a string
            holding ``{input}``) instead of reading the ``prompt`` column.
        batch_size: prompts per ``generate`` call; rows are batched by prompt length (less padding)
            and returned in the dataset's order. Memory is bounded by one batch.
        max_new_tokens: generation budget; by default, per batch, ``ceil(1.5 * n) + 16`` where ``n`` is
            the longest source in tokens (room for the copy, its markers and EOS). Constrained
            generation is steered to finish within it.
        constrained: generate under :class:`FaithfulMarkerLogitsProcessor`: every answer is then its
            source with balanced markers, by construction.
        do_sample: sample instead of greedy decoding (pass temperature etc. in ``generation_kwargs``).
        open_marker / close_marker: the span markers the model was trained with.
        labels: typed markers: the label set (constrained generation then lets only one of these
            labels follow ``close_marker``; ``template=`` names them). Default: the dataset's
            ``label_set`` column when it has one (``to_instruction_dataset(..., typed="markers")``),
            else untyped. Rows with a ``query_label`` (per-label queries) are generated like
            untyped ones, ``template=`` naming each row's label: all the queries of a batch at once.
        generation_kwargs: more ``generate`` keyword arguments (``num_beams > 1`` is refused when
            constrained).
        show_progress: show a tqdm bar over batches.

    Generation runs the way it does standalone wherever the model comes from, so that answers and
    speed at a trainer's evaluation are those of a plain call: the model is put in eval mode (no
    dropout, no activation checkpointing), with the KV cache on (``use_cache=True``, whatever
    ``model.config`` or ``generation_config`` say: a ``Trainer`` sets ``config.use_cache=False``;
    pass ``generation_kwargs={"use_cache": False}`` to turn it off) and outside accelerate's
    mixed-precision autocast wrapper; the model's mode and wrapper are restored afterwards.

    Returns:
        The generated answers (prompt and EOS removed), decoded byte-exactly from the tokens
        (:meth:`ByteVocabulary.decode`: no clean-up of spaces, so offsets match the sources).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generation_kwargs = {"use_cache": True, **(generation_kwargs or {})}
    if constrained and generation_kwargs.get("num_beams", 1) > 1:
        raise ValueError("constrained generation does not support beam search (num_beams > 1); use greedy "
                         "decoding or sampling")
    mode, label_set = _typed(dataset, labels, open_marker, close_marker) if len(dataset) else (None, None)
    columns = ["source"] if template is not None else ["source", "prompt"]
    if template is not None and mode == "queries":
        columns.append("query_label")
    data = _rows(dataset, columns)
    sources = data["source"]
    if not sources:
        return []
    if template is not None and mode == "queries":
        prompts = [render_prompt(template, s, label=q) for s, q in zip(sources, data["query_label"])]
    elif template is not None and mode == "markers":
        prompts = [render_prompt(template, s, labels=label_set) for s in sources]
    elif template is not None:
        prompts = [render_prompt(template, s) for s in sources]
    else:
        prompts = data["prompt"]
    chat = not isinstance(prompts[0], str)
    if chat:
        prompts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    # tokenized as SFTTrainer tokenizes prompts: plain strings with the tokenizer's special tokens,
    # chat-rendered strings without (the chat template writes them)
    prompt_ids = tokenizer(prompts, add_special_tokens=not chat)["input_ids"]
    source_lengths = [len(ids) for ids in tokenizer(sources, add_special_tokens=False)["input_ids"]]
    eos = _eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    vocab = ByteVocabulary.from_tokenizer(tokenizer, eos)
    order = sorted(range(len(sources)), key=lambda i: len(prompt_ids[i]), reverse=True)
    batches = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    device = model.device
    out: list[str | None] = [None] * len(sources)
    with _as_standalone(model):
        for batch in tqdm(batches, desc="Generating", disable=not show_progress):
            width = max(len(prompt_ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, i in enumerate(batch):  # left padding
                ids = prompt_ids[i]
                input_ids[r, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
                attention_mask[r, width - len(ids):] = 1
            budget = max_new_tokens or math.ceil(1.5 * max(source_lengths[i] for i in batch)) + 16
            processors = []
            if constrained:
                processors.append(FaithfulMarkerLogitsProcessor(
                    [sources[i] for i in batch], vocab, open_marker=open_marker, close_marker=close_marker,
                    labels=label_set, max_new_tokens=budget))
            with torch.no_grad():
                generated = model.generate(
                    input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                    max_new_tokens=budget, do_sample=do_sample, logits_processor=processors,
                    pad_token_id=pad_id, eos_token_id=eos, **generation_kwargs)
            for r, i in enumerate(batch):
                ids = generated[r, width:].tolist()
                stop = next((k for k, t in enumerate(ids) if t in eos), len(ids))
                out[i] = vocab.decode(ids[:stop])
    return out


def decode_generations(
    dataset: Dataset | Sequence[Mapping[str, Any]],
    generations: Sequence[str],
    *,
    open_marker: str = "@@",
    close_marker: str = "##",
    labels: Sequence[str] | None = None,
) -> tuple[list[dict[str, Any]], FaithfulnessReport]:
    """Decode ``generations`` onto the dataset's sources, one entry per unit, typed where the rows are.

    Untyped rows and typed markers (``labels``, or the rows' ``label_set``) give one unit per row;
    per-label queries (rows with a ``query_label``) give one unit per ``(doc_index, offset)`` (per
    ``source`` without those columns), in order of first appearance: each query's spans get its
    label, and the spans of all the unit's queries are merged (they may overlap across labels).

    Returns:
        The units, each ``{"source", "spans" (predicted Span list), "entities" (gold Span list: the
        union of the unit's rows), "rows" (their indices)}``, with ``doc_index``/``offset`` when the rows
        have them; and the :class:`~ecr_hf.spans.FaithfulnessReport` over all generations (one per row,
        so per query).

    Examples:
        >>> rows = [{"source": "aspirin-induced asthma", "entities": [], "query_label": label, "doc_index": 0,
        ...          "offset": 0} for label in ("Chemical", "Disease")]
        >>> units, report = decode_generations(rows, ["@@aspirin##-induced asthma", "aspirin-induced @@asthma##"])
        >>> units[0]["spans"], report.n_documents
        ([Span(start=0, end=7, label='Chemical'), Span(start=16, end=22, label='Disease')], 2)
    """
    mode, label_set = _typed(dataset, labels, open_marker, close_marker) if len(dataset) else (None, None)
    columns = ["source", "entities"] + (["query_label"] if mode == "queries" else [])
    names = _column_names(dataset)
    placed = [c for c in ("doc_index", "offset") if c in names]
    data = _rows(dataset, columns + placed)
    if len(generations) != len(data["source"]):
        raise ValueError(f"got {len(generations)} generations for {len(data['source'])} rows; pass one per row")
    predicted, report = decode_corpus(generations, data["source"], open_marker=open_marker, close_marker=close_marker,
                                      labels=label_set)
    gold = [to_spans(e, doc=k) for k, e in enumerate(data["entities"])]
    if mode == "queries":
        predicted = [[Span(s.start, s.end, q) for s in doc] for doc, q in zip(predicted, data["query_label"])]
    units: dict[Any, dict[str, Any]] = {}
    for k, source in enumerate(data["source"]):
        if mode != "queries":
            key = k
        else:
            key = tuple(data[c][k] for c in placed) if len(placed) == 2 else source
        unit = units.get(key)
        if unit is None:
            unit = units[key] = {"source": source, "spans": [], "entities": [], "rows": [],
                                 **{c: data[c][k] for c in placed}}
        elif unit["source"] != source:
            raise ValueError(f"rows {unit['rows'][0]} and {k} are queries of one unit {key} but their sources differ")
        unit["spans"] += predicted[k]
        unit["entities"] += gold[k]
        unit["rows"].append(k)
    out = list(units.values())
    if mode == "queries":
        for unit in out:
            unit["spans"].sort()
            unit["entities"].sort(key=lambda s: (s.start, s.end, s.label or ""))
    return out, report


def evaluate_generations(
    dataset: Dataset | Sequence[Mapping[str, Any]],
    generations: Sequence[str],
    *,
    open_marker: str = "@@",
    close_marker: str = "##",
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    p: float | None = None,
    labels: Sequence[str] | None = None,
) -> dict[str, float]:
    """Decode marked ``generations`` onto the dataset's sources and score them against its gold spans.

    Untyped (the paper's format): gold labels are dropped. For the decoded spans themselves call
    :func:`ecr_hf.spans.decode_corpus` (or :func:`decode_generations`).

    Typed, when the rows are (a ``label_set`` or ``query_label`` column, see
    :func:`~ecr_hf.instruct.to_instruction_dataset`) or ``labels`` is given: spans are decoded with
    their labels (:func:`decode_generations`: typed markers, or per-label queries merged per unit) and
    scored with ``typed=True``, so a span counts only where its label is the gold one, and the
    ``label_{name}_*`` keys give each label's scores. A span decoded without a label (its ``##`` had
    none of the set) matches nothing; such spans are counted in ``faithfulness_n_spans_unlabelled``.

    Args:
        dataset: rows with ``"source"`` and gold ``"entities"`` (offsets into ``source``).
        generations: one marked answer per row, in order.
        open_marker / close_marker: the span markers.
        p_values: weighted soft matching penalties to compute; ``p`` picks the headline one (default:
            the first).
        labels: typed markers: the label set (default: the rows' ``label_set``, if any).

    Returns:
        Flat float metrics, the keys of :func:`ecr_hf.scoring.span_metrics` (the same as the
        token-classification trainer logs: ``f1`` at ``p``, ``p{p}_*``, ``char_*``, ``strict_*`` ...), plus ``faithfulness_*`` (exact-copy rate and
        mismatch statistics, see :class:`ecr_hf.spans.FaithfulnessReport`).
    """
    mode = _typed(dataset, labels, open_marker, close_marker)[0] if len(dataset) else None
    if mode is not None:
        units, report = decode_generations(dataset, generations, open_marker=open_marker, close_marker=close_marker,
                                           labels=labels)
        main = float(p_values[0] if p is None else p)
        scores = span_metrics([u["entities"] for u in units], [u["spans"] for u in units],
                              texts=[u["source"] for u in units], p_values=p_values, score_p=main, typed=True)
        return {**scores, **report.to_dict(prefix="faithfulness_")}
    data = _rows(dataset, ["source", "entities"])
    if len(generations) != len(data["source"]):
        raise ValueError(f"got {len(generations)} generations for {len(data['source'])} rows; pass one per row")
    predicted, report = decode_corpus(generations, data["source"], open_marker=open_marker, close_marker=close_marker)
    gold = [[s._replace(label=None) for s in to_spans(e, doc=k)] for k, e in enumerate(data["entities"])]
    main = float(p_values[0] if p is None else p)
    scores = span_metrics(gold, predicted, texts=data["source"], p_values=p_values, score_p=main)
    return {**scores, **report.to_dict(prefix="faithfulness_")}


@dataclass
class ECRSFTConfig(SFTConfig):
    """``SFTConfig`` plus evaluation by generation (:class:`ECRSFTTrainer`).

    Only the fields below are added; every ``SFTConfig`` default is kept (note TRL's: ``bf16=True``
    unless ``fp16``, activation (gradient) checkpointing on, ``learning_rate=2e-5``). On a CPU pass
    ``use_cpu=True, bf16=False, activation_checkpointing=False`` (the name since transformers 5.23,
    the floor this package declares; ``gradient_checkpointing`` is its deprecated alias). For a LoRA
    model, ``merge_and_unload()`` before a long :func:`generate_predictions` run makes generation
    faster with the same answers.
    """

    generation_eval: bool = field(
        default=True, metadata={"help": "At each evaluation, generate answers for the eval set and log span "
                                        "metrics and faithfulness (eval_f1, eval_faithfulness_*...)."})
    generation_constrained: bool = field(
        default=True, metadata={"help": "Generate under faithful constrained decoding (answers copy the source "
                                        "exactly); False measures how faithfully the model copies on its own."})
    generation_batch_size: int | None = field(
        default=None, metadata={"help": "Prompts per generate call; defaults to per_device_eval_batch_size."})
    generation_max_new_tokens: int | None = field(
        default=None, metadata={"help": "Generation budget; default per batch: 1.5x the longest source in "
                                        "tokens + 16."})
    generation_max_samples: int | None = field(
        default=None, metadata={"help": "Generate for at most this many eval rows (the first ones), to bound "
                                        "evaluation time; None: all."})
    open_marker: str = field(default="@@", metadata={"help": "Marker that opens a span in completions."})
    close_marker: str = field(default="##", metadata={"help": "Marker that closes a span in completions."})
    soft_match_p_values: list[float] = field(
        default_factory=lambda: list(DEFAULT_P_VALUES),
        metadata={"help": "Weighted soft matching penalties p to log; the first gives eval_precision/recall/f1."})

    def __post_init__(self):
        super().__post_init__()
        for name in ("generation_batch_size", "generation_max_new_tokens", "generation_max_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if not self.open_marker or not self.close_marker or self.open_marker == self.close_marker:
            raise ValueError(f"open_marker and close_marker must be distinct non-empty strings, got "
                             f"{self.open_marker!r} and {self.close_marker!r}")
        if not self.soft_match_p_values or any(float(p) < 1 for p in self.soft_match_p_values):
            raise ValueError(f"soft_match_p_values must be non-empty values >= 1, got {self.soft_match_p_values}")
        if self.generation_eval and self.eval_packing:
            raise ValueError("generation_eval needs the eval rows' 'prompt', 'source' and 'entities', which "
                             "packing drops; set eval_packing=False")


class ECRSFTTrainer(SFTTrainer):
    """``SFTTrainer`` that also generates for the eval set at each evaluation and logs span metrics.

    The eval dataset must carry ``prompt``, ``source`` and ``entities`` columns
    (:func:`~ecr_hf.instruct.to_instruction_dataset` builds them; TRL's preparation keeps them). The
    metrics join the loss in the dict ``evaluate`` returns and logs (``eval_f1``,
    ``eval_p2_f1``, ``eval_faithfulness_exact_match_rate``...), so they can be
    ``metric_for_best_model`` and drive early stopping. Only ``evaluate`` and ``evaluation_loop`` are
    overridden; both delegate to ``super()``.

    Typed eval sets (``to_instruction_dataset(..., typed="markers" | "queries")``) are generated for
    and scored typed (constrained to their labels; ``eval_label_{name}_f1`` ...), see
    :func:`evaluate_generations`. With ``generation_max_samples`` and per-label queries, a unit whose
    queries are cut off is scored on the queries kept.
    """

    args: ECRSFTConfig

    def __init__(self, model, args: ECRSFTConfig | None = None, *rest, **kwargs):
        if not isinstance(args, ECRSFTConfig):
            raise TypeError(f"ECRSFTTrainer needs args=ECRSFTConfig(...), got {type(args).__name__}")
        super().__init__(model, args, *rest, **kwargs)
        self._generation_dataset: Dataset | None = None

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        target = self.eval_dataset if eval_dataset is None else eval_dataset
        if isinstance(target, str):
            target = self.eval_dataset[target]
        self._generation_dataset = target if isinstance(target, Dataset) and self.args.generation_eval else None
        try:
            return super().evaluate(eval_dataset=eval_dataset, ignore_keys=ignore_keys,
                                    metric_key_prefix=metric_key_prefix)
        finally:
            self._generation_dataset = None

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix: str = "eval"):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only=prediction_loss_only,
                                         ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        if self._generation_dataset is not None:
            metrics = self.generation_metrics(self._generation_dataset)
            output.metrics.update({f"{metric_key_prefix}_{k}": v for k, v in metrics.items()})
        return output

    def generation_metrics(self, dataset: Dataset) -> dict[str, float]:
        """Generate for ``dataset`` (capped at ``generation_max_samples``) and score the answers.

        Under plain data parallelism each process generates for its contiguous share of the rows and
        the answers are gathered in order, so every process scores the whole set. With DeepSpeed or
        FSDP every process generates for every row: sharded weights need all processes in each
        forward pass.
        """
        args, acc = self.args, self.accelerator
        if args.generation_max_samples is not None and len(dataset) > args.generation_max_samples:
            dataset = dataset.select(range(args.generation_max_samples))
        shard = acc.num_processes > 1 and not (self.is_deepspeed_enabled or self.is_fsdp_enabled)
        # contiguous shares in rank order (Dataset.shard fails with fewer rows than processes)
        rows = dataset.select(np.array_split(np.arange(len(dataset)), acc.num_processes)[acc.process_index]) \
            if shard else dataset
        generations = generate_predictions(
            acc.unwrap_model(self.model), self.processing_class, rows,
            batch_size=args.generation_batch_size or args.per_device_eval_batch_size,
            max_new_tokens=args.generation_max_new_tokens, constrained=args.generation_constrained,
            open_marker=args.open_marker, close_marker=args.close_marker,
            show_progress=not args.disable_tqdm and acc.is_local_main_process)
        if shard:
            generations = gather_object(generations)
        return evaluate_generations(dataset, generations, open_marker=args.open_marker,
                                    close_marker=args.close_marker, p_values=args.soft_match_p_values)


def default_lora_config(**overrides: Any):
    """A ``peft.LoraConfig`` for causal-LM instruction tuning: r=8, alpha=16, dropout 0.05, all linear layers.

    Pass it as ``peft_config=`` to :class:`ECRSFTTrainer` (or ``SFTTrainer``); ``overrides`` replace
    any field, e.g. ``default_lora_config(r=16, target_modules=["q_proj", "v_proj"])``.
    """
    from peft import LoraConfig

    params = {"task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "lora_dropout": 0.05,
              "target_modules": "all-linear", **overrides}
    return LoraConfig(**params)
