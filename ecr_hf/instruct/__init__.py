"""Instruction tuning for E-CCR with TRL: ``@@concept##`` completions, faithful decoding, span metrics.

* :mod:`~ecr_hf.instruct.templates`: the paper's Japanese prompt (verbatim) and an English one.
* :mod:`~ecr_hf.instruct.formatting`: span documents -> TRL prompt-completion or conversational
  datasets, at sentence or document level.
* :mod:`~ecr_hf.instruct.constrained`: a logits processor that lets the model only copy its source
  and insert markers, so every generation is faithful by construction.
* :mod:`~ecr_hf.instruct.generation`: batched generation, decoding and weighted soft matching;
  ``ECRSFTTrainer`` logs them at every evaluation.

Typed extraction (typed corpora such as BC5CDR's Chemical/Disease or EBM-NLP's PICO elements), in the
two ways the field uses, through every layer above (``typed=`` of ``to_instruction_dataset``; the
rows then carry what generation and scoring need):

* ``typed="markers"``: the label follows the closing marker, ``@@aspirin##Chemical``. The label ends
  where the longest label of the given set that matches right after ``##`` ends: no separator, the
  text after it intact (:func:`ecr_hf.spans.spans_to_marked`, :func:`ecr_hf.spans.decode_marked`);
  constrained decoding lets only a label of the set follow ``##``. One generation per document.
* ``typed="queries"``: one query per label (UniversalNER's pattern): the prompt names one label, the
  model marks that label's concepts with untyped markers, the spans get the label, and the queries of
  a unit (all generated in the same batches) are merged. One generation per document *and label*:
  ``len(labels)`` times the generation cost, but labels may overlap and each answer is simpler.

The default (:data:`DEFAULT_TYPED`, used by the leaderboard for typed corpora) is ``"markers"``, the
cheaper one. Without ``typed=`` everything is untyped, as in the paper, and unchanged.

Names are imported lazily, so ``import ecr_hf.instruct`` does not import torch or TRL.
"""

from ..utils.lazy import lazy_exports

_EXPORTS = {
    "JA_TEMPLATE": "templates",
    "EN_TEMPLATE": "templates",
    "TEMPLATES": "templates",
    "render_prompt": "templates",
    "resolve_template": "templates",
    "EN_TYPED_TEMPLATE": "templates",
    "JA_TYPED_TEMPLATE": "templates",
    "TYPED_TEMPLATES": "templates",
    "EN_QUERY_TEMPLATE": "templates",
    "JA_QUERY_TEMPLATE": "templates",
    "QUERY_TEMPLATES": "templates",
    "TYPED_MODES": "templates",
    "DEFAULT_TYPED": "templates",
    "sentence_units": "formatting",
    "to_instruction_dataset": "formatting",
    "token_bytes": "constrained",
    "ByteVocabulary": "constrained",
    "FaithfulMarkerLogitsProcessor": "constrained",
    "generate_predictions": "generation",
    "evaluate_generations": "generation",
    "decode_generations": "generation",
    "ECRSFTConfig": "generation",
    "ECRSFTTrainer": "generation",
    "default_lora_config": "generation",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
