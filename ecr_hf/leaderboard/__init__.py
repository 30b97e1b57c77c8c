"""Leaderboards and reports: cross-validated results files, the Gradio app and Space, figures and
model cards. A new leaderboard view goes here.

* :mod:`.results`: folds, cross-validated scores and the results files;
* :mod:`.evaluation`: a model (or a predictions file) to a results file in one call;
* :mod:`.requests`, :mod:`.worker`: the queue of model submissions and the worker that evaluates them;
* :mod:`.app`, :mod:`.space`: the leaderboard web app and a ready-to-push Space folder;
* :mod:`.plots`, :mod:`.model_card`: figures for papers, scores on Hub model cards.

Names are imported on first use, so ``import ecr_hf.leaderboard`` loads neither gradio nor matplotlib.
"""

from ..utils.lazy import lazy_exports

_EXPORTS = {
    # app
    "DEMO_DIR": "app",
    "copy_demo": "app",
    "FAMILIES": "app",
    "MAX_SUBMISSION_BYTES": "app",
    "ERROR_PAGE_MAX_AGE": "app",
    "SIGNIFICANCE_RESAMPLES": "app",
    "SIGNIFICANCE_LEVEL": "app",
    "SubmissionError": "app",
    "ReferenceSet": "app",
    "load_references": "app",
    "score_submission": "app",
    "error_report_page": "app",
    "Leaderboard": "app",
    "MAX_NAME_CHARS": "app",
    "MAX_METHOD_CHARS": "app",
    "MAX_SPANS_PER_DOCUMENT": "app",
    "name_keys": "app",
    "build_app": "app",
    "serve": "app",
    # model_card
    "ModelCardError": "model_card",
    "CardMetric": "model_card",
    "read_scores": "model_card",
    "card_metrics": "model_card",
    "model_index_results": "model_card",
    "eval_result_entries": "model_card",
    "write_model_card": "model_card",
    # plots
    "PlotError": "plots",
    "plot_f1_by_p": "plots",
    "plot_f1_by_length": "plots",
    "plot_fold_scatter": "plots",
    "save_figure": "plots",
    "PLOTS": "plots",
    # evaluation
    "MODEL_KINDS": "evaluation",
    "TestSets": "evaluation",
    "detect_kind": "evaluation",
    "find_test_sets": "evaluation",
    "evaluate_model": "evaluation",
    "score_fold_files": "evaluation",
    # requests
    "STATUSES": "requests",
    "EvaluationRequest": "requests",
    "RequestQueue": "requests",
    # worker
    "DEFAULT_TIME_LIMIT": "worker",
    "WorkerConfig": "worker",
    "process_request": "worker",
    "run_worker": "worker",
    # results
    "cross_validation_indices": "results",
    "cross_validation_splits": "results",
    "cross_validate": "results",
    "cross_validation_counts": "results",
    "CrossValidationResult": "results",
    "ResultsFileError": "results",
    "load_results": "results",
    "scoring_settings": "results",
    "results_file_name": "results",
    "leaderboard_table": "results",
    # space
    "build_wheel": "space",
    "write_space": "space",
    "write_metric_space": "space",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
