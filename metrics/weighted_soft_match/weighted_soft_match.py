"""Weighted soft matching: length-weighted, fragmentation-penalised span scores for concept recognition."""

import evaluate

from ecr_hf.scoring import metric_inputs
from ecr_hf.scoring import (DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, check_p, check_p_values, flatten_scores,
                            soft_match_scores)

_DESCRIPTION = """\
Weighted soft matching (Tsukiji et al., JMIR 2026) scores extracted character spans against gold
spans for extended clinical concept recognition, where concepts are often long phrases. For a gold
span g of length l and the predicted spans overlapping it in fragments a_i = |g ∩ p_i|,
score(g) = (Σ_i (a_i / l) ** p) ** (1 / p). Recall is the length-weighted mean of score(g) over gold
spans, precision the same with the roles swapped, and F1 their harmonic mean. With p = 1 this is
character-level precision/recall/F1; a larger p punishes extracting one concept in fragments
(p = 100 is close to "best single fragment"). Unweighted "marker" scores, per-document averages and
breakdowns by span length and by label come with it.
"""

_KWARGS_DESCRIPTION = """
Computes weighted soft matching scores of predicted spans against reference spans.

Args:
""" + metric_inputs.INPUT_ARGS + """\
    p (float): the fragmentation penalty of the main `precision`/`recall`/`f1`: a number >= 1, or
        float("inf") (each span scored by its best fragment). Default 1.0.
    p_values (list of float): penalties reported as `p{p}_*` keys (a list, each as `p`); `p` is
        always added. Default (1, 1.5, 2, 100).
    typed (bool): if True a fragment counts only where the labels agree. Default False (the paper's).
    length_bins (list of (lo, hi)): character-length bins for `len_{lo}-{hi}_*` keys: int pairs with
        1 <= lo <= hi, `hi` None for open-ended; any size (binning costs the number of bins).
        Default ((1, 2), (3, 6), (7, 10), (11, 20), (21, None)).
    texts (list of str): span lists only: the documents' texts, to check that offsets fit them.
""" + metric_inputs.SHARED_ARGS + """
Returns:
    A flat dict of floats, named as in ecr-hf's one table of score keys (README, "Score keys"):
    precision, recall, f1: weighted soft matching scores at `p`.
    marker_precision, marker_recall, marker_f1: the same, every span weighing the same.
    case_precision, case_recall, case_f1: per-document scores averaged over documents with spans.
    recall_tp, fn, precision_tp, fp: the soft character counts behind them.
    p{p}_precision, p{p}_recall, p{p}_f1 (and p{p}_marker_*): for every p computed, e.g. p1.5_f1.
    len_{bin}_precision / _recall / _f1 / _marker_* / _n_gold / _n_pred: per length bin, e.g. len_21+_recall.
    label_{label}_precision / _recall / _f1 / _n_gold / _n_pred: per label (recall over the label's
        gold spans, precision over its predicted spans).
""" + metric_inputs.SHARED_RETURNS + """
Examples:

    A gold concept of 10 characters found in two fragments of 4:

    >>> import evaluate
    >>> metric = evaluate.load("weighted_soft_match")
    >>> references = [[{"start": 0, "end": 10, "label": "finding"}]]
    >>> predictions = [[{"start": 0, "end": 4, "label": "finding"},
    ...                 {"start": 6, "end": 10, "label": "finding"}]]
    >>> results = metric.compute(predictions=predictions, references=references)
    >>> round(results["precision"], 4), round(results["recall"], 4), round(results["f1"], 4)
    (1.0, 0.8, 0.8889)
    >>> results = metric.compute(predictions=predictions, references=references, p=2)
    >>> round(results["recall"], 4), round(results["p1_recall"], 4), round(results["p100_recall"], 4)
    (0.5657, 0.8, 0.4028)

    Marked strings, as an instruction-tuned decoder writes them:

    >>> results = metric.compute(predictions=["@@感染性心内膜炎##（IE）"], references=["@@感染性心内膜炎（IE）##"])
    >>> round(results["precision"], 4), round(results["recall"], 4)
    (1.0, 0.6364)
    >>> results = metric.compute(predictions=["@@fevr## today"], references=["@@fever## today"])
    >>> results["recall"], results["faithfulness_exact_match_rate"], results["faithfulness_mean_edit_distance"]
    (1.0, 0.0, 1.0)

    The paper's character labels (0/1 per character):

    >>> results = metric.compute(predictions=[[0, 1, 1, 0, 0]], references=[[0, 1, 1, 1, 0]])
    >>> round(results["precision"], 4), round(results["recall"], 4)
    (1.0, 0.6667)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class WeightedSoftMatch(metric_inputs.SpanMetricMixin, evaluate.Metric):
    def _info(self):
        return metric_inputs.metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION)

    def _score(self, docs, *, zero_division, empty_spans, p=1.0, p_values=DEFAULT_P_VALUES, typed=False,
               length_bins=DEFAULT_LENGTH_BINS):
        p = check_p(p)
        result = soft_match_scores(docs.references, docs.predictions, p_values=[*check_p_values(p_values), p],
                                   typed=typed, texts=docs.texts, length_bins=length_bins,
                                   zero_division=zero_division, empty_spans=empty_spans)
        return flatten_scores(result, p)
