"""Every score of ecr-hf, over the span model: a new metric goes here.

* :mod:`.soft_match`: the weighted soft matching score (any p, marker, per label, length bins);
* :mod:`.semeval`: SemEval-2013 strict/exact/partial/type with an order-independent matching;
* :mod:`.lenient`: Jaccard-lenient and IoU-threshold P/R/F1 from optimal one-to-one matchings;
* :mod:`.report`: seqeval's strict report and its ``evaluate`` drop-in;
* :mod:`.token_level`: token-level scores over any tokenization;
* :mod:`.flat`: :func:`span_metrics`, the flat keys every training and evaluation path logs;
* :mod:`.significance`: document-level bootstrap intervals and paired tests;
* :mod:`.buckets`: scores per attribute bucket (InterpretEval's eLen, eCon, eFre, sLen, eDen, oDen, label);
* :mod:`.metric_inputs`, :mod:`.evaluate_modules`, :mod:`.metric_app`: the glue of the ``evaluate``
  modules in the top-level ``metrics/`` folder.

Names are imported on first use, so ``import ecr_hf.scoring`` loads neither ``datasets`` nor gradio.
"""

from ..utils.lazy import lazy_exports

_EXPORTS = {
    # buckets
    "ATTRIBUTES": "buckets",
    "DEFAULT_BUCKETS": "buckets",
    "bucket_scores": "buckets",
    "bucket_flat": "buckets",
    "bucket_rows": "buckets",
    # evaluate_modules
    "METRIC_NAMES": "evaluate_modules",
    "metric_script": "evaluate_modules",
    "load_metric": "evaluate_modules",
    "register_metrics": "evaluate_modules",
    # flat
    "span_metrics": "flat",
    # lenient
    "lenient_scores": "lenient",
    "lenient_arrays": "lenient",
    "lenient_metrics": "lenient",
    "lenient_flat": "lenient",
    "lenient_matching": "lenient",
    "format_threshold": "lenient",
    "check_iou_threshold": "lenient",
    # metric_app
    "build_metric_app": "metric_app",
    # metric_inputs
    "FEATURES": "metric_inputs",
    "INPUT_FEATURES": "metric_inputs",
    "SpanDocuments": "metric_inputs",
    "detect_form": "metric_inputs",
    "check_inputs": "metric_inputs",
    "to_span_documents": "metric_inputs",
    "SpanMetricMixin": "metric_inputs",
    # report
    "SCHEMES": "report",
    "bio_to_spans": "report",
    "detect_scheme": "report",
    "classification_report": "report",
    "seqeval_scores": "report",
    "precision_recall_fscore_support": "report",
    "accuracy_score": "report",
    "UndefinedMetricWarning": "report",
    # semeval
    "SCHEMAS": "semeval",
    "UNTYPED": "semeval",
    "CATEGORIES": "semeval",
    "semeval_scores": "semeval",
    "semeval_arrays": "semeval",
    "semeval_spans": "semeval",
    "semeval_outcomes": "semeval",
    "report_frame": "semeval",
    "spans_frame": "semeval",
    "write_csv": "semeval",
    # significance
    "DocumentCounts": "significance",
    "ConfidenceInterval": "significance",
    "BootstrapResult": "significance",
    "PairedTestResult": "significance",
    "document_counts": "significance",
    "save_counts": "significance",
    "load_counts": "significance",
    "bootstrap": "significance",
    "paired_test": "significance",
    "compare_to_best": "significance",
    # soft_match
    "DEFAULT_P_VALUES": "soft_match",
    "DEFAULT_LENGTH_BINS": "soft_match",
    "soft_match_scores": "soft_match",
    "flatten_scores": "soft_match",
    "score_arrays": "soft_match",
    "per_document_counts": "soft_match",
    "merge_overlaps": "soft_match",
    "check_p": "soft_match",
    "check_p_values": "soft_match",
    "format_p": "soft_match",
    "bin_name": "soft_match",
    # token_level
    "whitespace_offsets": "token_level",
    "token_scores": "token_level",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
