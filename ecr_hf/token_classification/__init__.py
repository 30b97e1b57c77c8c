"""Token classification over encoders and causal decoders: a new model kind goes here.

* :mod:`.config`, :mod:`.model`, :mod:`.crf`, :mod:`.bidirectional`: the classifier and its builder;
* :mod:`.alignment`: character spans <-> token labels over a tokenizer's offsets, window merging;
* :mod:`.data`: documents -> windowed, tokenized, labelled features and their collator;
* :mod:`.trainer`: ``ECRTrainer``, whose evaluation scores character spans;
* :mod:`.extractor`: a trained classifier as a span extractor for raw texts.

Names are imported on first use, so ``import ecr_hf.token_classification`` does not import torch.
"""

from ..utils.lazy import lazy_exports

_EXPORTS = {
    # alignment
    "IGNORE_INDEX": "alignment",
    "TagSet": "alignment",
    "trim_offsets": "alignment",
    "word_index": "alignment",
    "drop_overlapping": "alignment",
    "spans_to_token_labels": "alignment",
    "token_labels_to_spans": "alignment",
    "merge_window_predictions": "alignment",
    "WindowMerger": "alignment",
    # bidirectional
    "apply_bidirectional_attention": "bidirectional",
    # config
    "TokenClassifierConfig": "config",
    "CONFIG_NAME": "config",
    "parse_label": "config",
    # crf
    "LinearChainCRF": "crf",
    "allowed_transitions": "crf",
    # data
    "ensure_pad_token": "data",
    "tokenize_and_align": "data",
    "DataCollatorForWindowedTokenClassification": "data",
    # extractor
    "ECRExtractor": "extractor",
    # load_report
    "NewHeadReport": "load_report",
    "quiet_new_head_reports": "load_report",
    # model
    "ECRTokenClassifier": "model",
    "build_token_classifier": "model",
    "CRF_WEIGHTS_NAME": "model",
    # trainer
    "ECRTrainingArguments": "trainer",
    "ECRTrainer": "trainer",
    "make_compute_metrics": "trainer",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
