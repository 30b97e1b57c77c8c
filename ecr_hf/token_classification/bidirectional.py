"""Bidirectional attention for causal decoders (LS-unLLaMA; layer-wise causal-mask removal).

How transformers 5 masks a decoder (Llama, Mistral, Qwen2, GPT-NeoX, GPT-2): the backbone builds one
mask with ``masking_utils.create_causal_mask`` (or its sliding-window twin) and hands it to every
layer's self-attention module as the ``attention_mask`` keyword. Its form depends on the kernel:

* ``eager``: a float ``(batch, 1, q, kv)`` mask, 0 where attended, the dtype's minimum elsewhere;
* ``sdpa``: a bool ``(batch, 1, q, kv)`` mask, or ``None`` when there is no padding, in which case
  the kernel applies causality itself from the attention module's ``is_causal`` attribute;
* ``flash_attention_*``: the 2D padding mask (or ``None``) plus the module's ``is_causal``.

So the least invasive change that covers all of them, layer by layer, is on the chosen layers'
self-attention modules only: set ``is_causal = False`` and register a forward pre-hook that turns a
4D mask into its padding-only version. A key position is attended by some query in a causal (or
sliding-window) mask exactly when it is not padding (the diagonal is always allowed), so the
padding mask is the mask reduced over queries; it is broadcast back to every query. The hook keeps
no state, so it also holds under gradient checkpointing, where layers run again during backward.
Other layers, the model config and the saved weights are untouched; the setting lives in
:class:`~ecr_hf.token_classification.TokenClassifierConfig` and is re-applied on loading. In the chosen layers a
sliding window is dropped too (padding-only means every real token sees every other).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

__all__ = ["apply_bidirectional_attention"]

_HOOK_ATTR = "_ecr_bidirectional_hook"


def _padding_only_mask(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    if "attention_mask" not in kwargs:
        raise RuntimeError(f"{type(module).__name__} got its attention mask positionally; bidirectional attention "
                           "needs it as the `attention_mask` keyword, as in Llama, Mistral, Qwen2, GPT-NeoX and GPT-2")
    mask = kwargs["attention_mask"]
    if mask is None or (isinstance(mask, torch.Tensor) and mask.ndim == 2):
        return args, kwargs  # sdpa without padding / flash: `is_causal = False` does it
    if not isinstance(mask, torch.Tensor) or mask.ndim != 4:
        raise TypeError(f"cannot make a {type(mask).__name__} attention mask bidirectional; use "
                        "attn_implementation='sdpa' or 'eager'")
    keys = mask.any(dim=-2, keepdim=True) if mask.dtype == torch.bool else mask.amax(dim=-2, keepdim=True)
    kwargs["attention_mask"] = keys.expand_as(mask)
    return args, kwargs


def _decoder_layers(model: PreTrainedModel) -> nn.ModuleList:
    config = model.config.get_text_config()
    n = config.num_hidden_layers
    found = [m for m in model.base_model.modules() if isinstance(m, nn.ModuleList) and len(m) == n
             and any(getattr(x, "is_causal", None) is True or hasattr(x, _HOOK_ATTR) for x in m.modules())]
    if len(found) != 1:
        raise ValueError(f"bidirectional attention needs a causal decoder, but model_type {config.model_type!r} has "
                         f"{'no' if not found else 'more than one'} stack of {n} layers with causal self-attention "
                         "(encoders are already bidirectional); set bidirectional='none'")
    return found[0]


def apply_bidirectional_attention(model: PreTrainedModel, layers: str | int) -> list[int]:
    """Remove the causal mask from the last ``layers`` decoder layers (every layer with ``"all"``).

    Padding stays masked. Works with ``attn_implementation`` ``"sdpa"``, ``"eager"`` and
    ``"flash_attention_*"``; applying it twice changes nothing more. Returns the indices of the
    layers that are now bidirectional (``[]`` for ``"none"``).
    """
    if layers == "none":
        return []
    stack = _decoder_layers(model)
    implementation = model.config._attn_implementation
    if implementation not in ("sdpa", "eager") and not str(implementation).startswith("flash_attention"):
        raise ValueError(f"bidirectional attention supports attn_implementation 'sdpa', 'eager' or "
                         f"'flash_attention_*', got {implementation!r}")
    n = len(stack)
    k = n if layers == "all" else layers
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"bidirectional must be 'none', 'all' or a number of last layers in [1, {n}] for this "
                         f"{n}-layer model, got {layers!r}")
    chosen = list(range(n - k, n))
    for i in chosen:
        for module in stack[i].modules():
            if getattr(module, "is_causal", None) is True:
                module.is_causal = False
                setattr(module, _HOOK_ATTR, module.register_forward_pre_hook(_padding_only_mask, with_kwargs=True))
    return chosen
