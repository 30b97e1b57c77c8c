"""One token classifier over encoders and causal decoders, for a plain ``transformers.Trainer``.

:func:`build_token_classifier` turns a :class:`TokenClassifierConfig` into an
:class:`ECRTokenClassifier`: ``AutoModelForTokenClassification`` on the base checkpoint, optionally
bidirectional (decoders), LoRA-wrapped (peft) and topped with a CRF. ``save_pretrained`` /
``ECRTokenClassifier.from_pretrained`` round-trip all of it.

Padding and decoder tokenizers: many decoder tokenizers have no pad token. Given a tokenizer without
one, the builder sets ``tokenizer.pad_token = tokenizer.eos_token`` (so a collator can pad) and
records the pad id in the config and in ``model.config.pad_token_id``; without a tokenizer it takes
the checkpoint's pad id, else its EOS id. Padding is masked by ``attention_mask`` only, never by
token id, so real EOS tokens in the text are attended as usual. The id is written into the model
config after the weights are built, so Llama-style embeddings (whose ``padding_idx`` gets no
gradient) keep training the EOS row; a plain save carries the id in ``config.json``, so a reloaded
model that trains further freezes that one row.
"""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from peft.tuners.tuners_utils import check_target_module_exists
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModelForTokenClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.pytorch_utils import Conv1D
from transformers.utils import logging

from .load_report import quiet_new_head_reports
from .bidirectional import apply_bidirectional_attention
from .config import TokenClassifierConfig
from .data import ensure_pad_token
from .crf import LinearChainCRF

logger = logging.get_logger(__name__)

__all__ = ["ECRTokenClassifier", "build_token_classifier", "CRF_WEIGHTS_NAME"]

CRF_WEIGHTS_NAME = "crf.safetensors"


def _check_checkpoint_labels(hf_config: PretrainedConfig, config: TokenClassifierConfig, path: str) -> None:
    """A checkpoint that already has a token-classification head must have exactly our labels, in order."""
    if not any(a.endswith("ForTokenClassification") for a in hf_config.architectures or []):
        return
    theirs = [hf_config.id2label[i] for i in range(hf_config.num_labels)]
    if theirs != config.labels:
        raise ValueError(
            f"{path!r} is a token classifier with {len(theirs)} labels {theirs}, but labels has "
            f"{len(config.labels)}: {config.labels}. Pass its labels in that order to train its head further, or "
            "start from a checkpoint without a token-classification head (its backbone) to train a new one")


def _load(path: str, config: TokenClassifierConfig) -> PreTrainedModel:
    """``AutoModelForTokenClassification`` from ``path`` with our labels, dtype, kernel and attention setting."""
    hf_config = AutoConfig.from_pretrained(path)
    _check_checkpoint_labels(hf_config, config, path)
    hf_config.id2label, hf_config.label2id = config.id2label, config.label2id
    dtype = config.dtype if config.dtype == "auto" else getattr(torch, config.dtype)
    kwargs = {} if config.attn_implementation is None else {"attn_implementation": config.attn_implementation}
    with quiet_new_head_reports():  # the new head is MISSING by design; other rows still show
        model = AutoModelForTokenClassification.from_pretrained(path, config=hf_config, dtype=dtype, **kwargs)
    if config.pad_token_id is not None:
        model.config.pad_token_id = config.pad_token_id  # after construction: see the module docstring
    apply_bidirectional_attention(model, config.bidirectional)
    return model


def _head_names(model: PreTrainedModel) -> list[str]:
    """Top-level modules outside the backbone that hold weights: the classification head (``score``, ``classifier``)."""
    backbone = model.base_model
    return [n for n, m in model.named_children() if m is not backbone and next(m.parameters(), None) is not None]


def _lora_config(options: dict, model: PreTrainedModel) -> LoraConfig:
    """LoRA on the backbone's linear layers; the head trained in full via ``modules_to_save``.

    peft expands ``target_modules="all-linear"`` before it adds the head to ``modules_to_save`` for
    TOKEN_CLS, so the head would be LoRA-wrapped as well (peft issue #1485; peft 0.21 then fails with
    "modules_to_save cannot be applied to modules of type lora.Linear"). The targets are therefore
    resolved here, by full name, inside the backbone only.
    """
    options = dict(options)
    heads = _head_names(model)
    if options.get("target_modules") in (None, "all-linear"):
        prefix = model.base_model_prefix
        linear = {f"{prefix}.{n}": m for n, m in model.base_model.named_modules() if isinstance(m, (nn.Linear, Conv1D))}
        options["target_modules"] = sorted(linear)
        if any(isinstance(m, Conv1D) for m in linear.values()):
            options.setdefault("fan_in_fan_out", True)  # GPT-2's Conv1D stores weights transposed
    targets_only = LoraConfig(target_modules=options["target_modules"])
    hit = [n for n, _ in model.named_modules() if n.split(".")[0] in heads and check_target_module_exists(targets_only, n)]
    if hit:
        raise ValueError(f"lora target_modules {options['target_modules']!r} match the classification head {hit}, "
                         "which is trained in full (modules_to_save); target backbone layers only")
    options["modules_to_save"] = sorted(set(heads) | set(options.get("modules_to_save") or ()))
    return LoraConfig(task_type=TaskType.TOKEN_CLS, **options)


class ECRTokenClassifier(nn.Module):
    """A token classifier (HF model, maybe LoRA-wrapped) plus an optional CRF, trainable by ``transformers.Trainer``.

    ``forward(input_ids, attention_mask, labels)`` returns a ``TokenClassifierOutput`` with ``loss``
    (labels ``-100`` ignored; cross-entropy, or the CRF's NLL, per tagged token) and ``logits``
    (the CRF's emissions when it has one). ``decode`` gives label ids per token. ``config`` is the
    HF model config (what Trainer reads); ``ecr_config`` is the :class:`TokenClassifierConfig`.
    Trainer's own checkpoints of a non-``PreTrainedModel`` hold only a state dict: save with
    ``save_pretrained`` to reload with ``from_pretrained``.
    """

    # The loss is already normalised per tagged token; Trainer must not pass num_items_in_batch.
    accepts_loss_kwargs = False

    def __init__(self, model: PreTrainedModel | PeftModel, ecr_config: TokenClassifierConfig,
                 crf: LinearChainCRF | None = None) -> None:
        super().__init__()
        self.model = model
        self.ecr_config = ecr_config
        self.crf = crf

    @property
    def config(self) -> PretrainedConfig:
        return self.model.config

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> TokenClassifierOutput:
        extra = {"token_type_ids": token_type_ids, "position_ids": position_ids, "inputs_embeds": inputs_embeds}
        extra = {k: v for k, v in extra.items() if v is not None}
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        loss = None
        if labels is not None and self.crf is not None:
            loss = self.crf.nll(logits, labels)
        elif labels is not None:  # summed and divided, so that a batch with no labels gives 0, not nan
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100,
                                   reduction="sum") / (labels != -100).sum().clamp(min=1)
        return TokenClassifierOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def decode(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        label_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
    ) -> torch.LongTensor:
        """Label ids per token, ``-100`` at untagged positions: Viterbi with a CRF, argmax without.

        ``label_mask`` picks the positions to tag (default: ``attention_mask``); give the positions
        that carried labels in training (e.g. first sub-words) so that a CRF chains the same units.
        Call ``eval()`` first to switch dropout off.
        """
        logits = self(input_ids, attention_mask, token_type_ids=token_type_ids, position_ids=position_ids).logits
        tagged = torch.ones(logits.shape[:2], dtype=torch.bool, device=logits.device)
        for mask in (attention_mask, label_mask):
            if mask is not None:
                tagged &= mask.bool()
        if self.crf is None:
            return logits.argmax(-1).masked_fill(~tagged, -100)
        return self.crf.decode(logits, tagged)

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs: dict | None = None,
                                        every_n_layers: int = 1, offload: bool = False) -> None:
        """What ``Trainer`` calls for ``activation_checkpointing=True`` (transformers >= 5.23, the declared floor);
        bidirectional layers stay bidirectional."""
        self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=activation_checkpointing_kwargs,
                                                   every_n_layers=every_n_layers, offload=offload)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write the config, the weights (full model, or LoRA adapter + head) and the CRF transitions."""
        os.makedirs(save_directory, exist_ok=True)
        self.ecr_config.save_pretrained(save_directory)
        self.model.save_pretrained(save_directory)
        if self.crf is not None:
            save_file({k: v.contiguous() for k, v in self.crf.state_dict().items()},
                      os.path.join(save_directory, CRF_WEIGHTS_NAME))

    @classmethod
    def from_pretrained(cls, pretrained_path: str | os.PathLike, *, is_trainable: bool = False) -> "ECRTokenClassifier":
        """Rebuild a saved classifier. A LoRA adapter is loaded onto ``base_model_name_or_path`` again;
        ``is_trainable`` is peft's flag (``False`` freezes the adapter and head for inference)."""
        pretrained_path = os.fspath(pretrained_path)
        config = TokenClassifierConfig.from_pretrained(pretrained_path)
        if config.lora is None:
            model = _load(pretrained_path, config)
        else:
            model = PeftModel.from_pretrained(_load(config.base_model_name_or_path, config), pretrained_path,
                                              is_trainable=is_trainable)
        crf = None
        if config.crf:
            crf = LinearChainCRF.from_labels(config.labels, config.scheme)
            crf.load_state_dict(load_file(os.path.join(pretrained_path, CRF_WEIGHTS_NAME)))
            crf.to(model.device)
        return cls(model, config, crf)


def build_token_classifier(config: TokenClassifierConfig, tokenizer=None) -> ECRTokenClassifier:
    """Build a fresh classifier from ``config.base_model_name_or_path``: new head, LoRA and CRF as configured.

    ``tokenizer`` (optional) is given a pad token if it lacks one (see the module docstring). The
    returned model's ``ecr_config`` is ``config`` with ``pad_token_id`` filled in.

    Examples:
        >>> cfg = TokenClassifierConfig("path/to/llama", labels=["O", "B-D", "I-D"], crf=True,
        ...                             bidirectional="all", lora={"r": 8})  # doctest: +SKIP
        >>> model = build_token_classifier(cfg, tokenizer)  # doctest: +SKIP
        >>> model(**batch).loss.backward()  # doctest: +SKIP
    """
    if tokenizer is not None:
        ensure_pad_token(tokenizer)
        if config.pad_token_id is None:
            config = dataclasses.replace(config, pad_token_id=tokenizer.pad_token_id)
    model = _load(config.base_model_name_or_path, config)
    if tokenizer is not None and len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))  # ensure_pad_token had to add a <pad> token
    if config.pad_token_id is None:
        text = model.config.get_text_config()
        eos = text.eos_token_id[0] if isinstance(text.eos_token_id, list) else text.eos_token_id
        pad = text.pad_token_id if text.pad_token_id is not None else eos
        config = dataclasses.replace(config, pad_token_id=pad)
        model.config.pad_token_id = pad
    if config.lora is not None:
        model = get_peft_model(model, _lora_config(config.lora, model))
    crf = LinearChainCRF.from_labels(config.labels, config.scheme).to(model.device) if config.crf else None
    return ECRTokenClassifier(model, config, crf)
