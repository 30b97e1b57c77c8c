"""Instruction tuning for E-CCR with TRL: ``@@concept##`` completions, faithful decoding, span metrics.

* :mod:`~ecr_hf.instruct.templates`: the paper's Japanese prompt (verbatim) and an English one.
* :mod:`~ecr_hf.instruct.formatting`: span documents -> TRL prompt-completion or conversational
  datasets, at sentence or document level.
* :mod:`~ecr_hf.instruct.constrained`: a logits processor that lets the model only copy its source
  and insert markers, so every generation is faithful by construction.
* :mod:`~ecr_hf.instruct.generation`: batched generation, decoding and weighted soft matching;
  ``ECRSFTTrainer`` logs them at every evaluation.

Names are imported lazily, so ``import ecr_hf.instruct`` does not import torch or TRL.
"""

from ..utils.lazy import lazy_exports

_EXPORTS = {
    "JA_TEMPLATE": "templates",
    "EN_TEMPLATE": "templates",
    "TEMPLATES": "templates",
    "render_prompt": "templates",
    "resolve_template": "templates",
    "sentence_units": "formatting",
    "to_instruction_dataset": "formatting",
    "token_bytes": "constrained",
    "ByteVocabulary": "constrained",
    "FaithfulMarkerLogitsProcessor": "constrained",
    "generate_predictions": "generation",
    "evaluate_generations": "generation",
    "ECRSFTConfig": "generation",
    "ECRSFTTrainer": "generation",
    "default_lora_config": "generation",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
