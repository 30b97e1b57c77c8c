"""Conventional span metrics (entity-level, character-level, token-level, SemEval) on one span core."""

import evaluate
import numpy as np
import pyarrow as pa

from ecr_hf.scoring import (SCHEMAS, classification_report, flatten_scores, lenient_metrics, metric_inputs,
                            seqeval_scores, semeval_scores, soft_match_scores, token_scores)

_METRICS = ("precision", "recall", "f1")
_REPORT = ("precision", "recall", "f1-score")  # the same, in classification_report's names
_CONFIGS = ("default", "seqeval")
_COUNTS = ("n_documents", "n_gold", "n_pred", "gold_chars", "pred_chars", "gold_merged", "pred_merged",
           "gold_empty_dropped", "pred_empty_dropped")

_CITATION = metric_inputs.CITATION + """\
@inproceedings{segura-bedmar-etal-2013-semeval,
    title = {{S}em{E}val-2013 Task 9: Extraction of Drug-Drug Interactions from Biomedical Texts},
    author = {Segura-Bedmar, Isabel and Mart{\\'i}nez, Paloma and Herrero-Zazo, Mar{\\'i}a},
    booktitle = {Second Joint Conference on Lexical and Computational Semantics (*SEM)},
    year = {2013},
    pages = {341--350},
}
"""

_DESCRIPTION = """\
The conventional scores of concept and entity recognition, computed from one set of character spans
so that they can be read side by side with weighted soft matching (Tsukiji et al., JMIR 2026):
character-level precision/recall/F1 (weighted soft matching at p = 1), untyped and typed;
token-level precision/recall/F1; entity-level strict precision/recall/F1 with a per-label report and
macro and weighted averages (seqeval's classification_report, mode="strict"); and the SemEval-2013
task 9.1 schemas strict, exact, partial and ent_type with their COR/INC/PAR/MIS/SPU counts, from an
order-independent one-to-one matching; and the lenient scores of shared tasks, Jaccard-lenient
(BioNLP-ST 2013) and IoU-threshold P/R/F1 (presidio-research, i2b2 inexact), each from an optimal
one-to-one matching. The keys mean what they mean everywhere in ecr-hf: `f1` is
the weighted soft match (here at p = 1, untyped), `strict_f1` the exact-match entity F1.

The "seqeval" configuration (evaluate.load("span_metrics", "seqeval")) is a drop-in for
evaluate.load("seqeval"): tag sequences in, the seqeval module's output and numbers out.
"""

_KWARGS_DESCRIPTION = """
Computes character-level, token-level, entity-level strict and SemEval span scores.

Args:
""" + metric_inputs.INPUT_ARGS + """\
    min_overlap (float): SemEval keys only: a gold and a predicted span can be paired only if the
        prediction covers at least this fraction of the gold span (nervaluate's min_overlap_percentage
        / 100). Default 0.0: any overlap of one character.
    semeval_labels (list of str): SemEval keys only: score only the spans with these labels, on both
        sides (nervaluate's tags; None in the list keeps unlabelled spans); a label found on neither
        side is an error.
    iou_threshold (float): iou{t}_* keys only: the IoU (Jaccard index of the character sets) in (0, 1]
        a matched gold and predicted pair needs to count as a true positive. Default 0.5 (keys iou50_*).
    texts (list of str): span lists only: the documents' texts; offsets are checked against them and
        split on whitespace they give the tokens of the token_* scores.
    token_offsets (list of list of (start, end)): span lists or marked strings: the character offsets
        of each document's tokens (e.g. a fast tokenizer's offset mapping), for the token_* scores.
""" + metric_inputs.SHARED_ARGS + """
Returns:
    A flat dict of floats, named as in ecr-hf's one table of score keys (README, "Score keys"):
    precision, recall, f1: weighted soft matching at p = 1, labels ignored: the `f1` of
        ecr_hf.span_metrics and of the weighted_soft_match module (equal to char_*).
    char_precision, char_recall, char_f1: character-level scores (labels ignored);
        char_typed_*: the same where the labels agree.
    token_precision, token_recall, token_f1 and token_typed_*: token-level scores (a token is
        positive when it overlaps a span). Tokens are the units of label sequences, whitespace
        tokens of marked texts or of `texts`, or `token_offsets`; absent for span lists without
        either.
    strict_precision, strict_recall, strict_f1: entity-level strict scores (same start, end and
        label), micro-averaged: seqeval's overall_* with mode="strict" (a span listed twice counts once).
    strict_macro_*, strict_weighted_* (precision, recall, f1): the macro and support-weighted averages
        of the per-label report.
    strict_label_{label}_precision / _recall / _f1 / _support: per label ("_" for unlabelled spans).
    semeval_{schema}_precision / _recall / _f1 and the counts semeval_{schema}_correct /
        _incorrect / _partial / _missed / _spurious / _possible / _actual, for the schemas strict,
        exact, partial and ent_type.
    jaccard_precision / _recall / _f1 and jaccard_typed_*: Jaccard-lenient: the one-to-one matching
        with the largest total overlap J = |g & p| / |g | p|; precision sum(J) / predicted spans,
        recall sum(J) / gold spans (typed: only same-label pairs).
    iou{t}_precision / _recall / _f1 and iou{t}_typed_*: the one-to-one matching with the most pairs
        at IoU >= iou_threshold ({t} in percent: iou50_f1); precision TP / predicted, recall TP / gold.
""" + metric_inputs.SHARED_RETURNS + """
Examples:

    >>> import evaluate
    >>> metric = evaluate.load("span_metrics")
    >>> references = [[{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 15, "label": "LOC"}]]
    >>> predictions = [[{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 13, "label": "LOC"},
    ...                 {"start": 20, "end": 25, "label": "ORG"}]]
    >>> results = metric.compute(predictions=predictions, references=references)
    >>> round(results["strict_precision"], 4), results["strict_recall"], results["strict_label_PER_f1"]
    (0.3333, 0.5, 1.0)
    >>> results["semeval_partial_correct"], results["semeval_partial_partial"], results["semeval_partial_f1"]
    (1.0, 1.0, 0.6)
    >>> round(results["precision"], 4), results["recall"], results["f1"] == results["char_f1"]
    (0.6154, 0.8, True)
    >>> results["jaccard_precision"], results["jaccard_recall"], results["iou50_recall"]
    (0.5333..., 0.8, 1.0)

    Word tags (the unit is the word, so character and token scores count words):

    >>> results = metric.compute(predictions=[["B-D", "I-D", "O", "O"]], references=[["B-D", "I-D", "I-D", "O"]])
    >>> results["strict_f1"], results["semeval_exact_incorrect"], round(results["token_recall"], 4)
    (0.0, 1.0, 0.6667)

Configuration "seqeval": a drop-in for evaluate.load("seqeval"), with its arguments and output.

Args:
    predictions, references: one list of tag strings per sentence (other input forms are refused).
    suffix (bool): tags are "PER-B" rather than "B-PER". Default False.
    scheme (str): "IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU", or None (default: detected from
        the references in strict mode); ignored unless mode="strict", as in seqeval.
    mode (str): None (default: conlleval rules) or "strict".
    sample_weight: accepted; as in seqeval it changes nothing (a warning says so).
    zero_division: "warn" (default: 0.0 and an UndefinedMetricWarning naming the score), 0, 1 (or
        any number in [0, 1], or nan).
    beta (float): F-beta instead of F1 under the same "f1" keys. Default 1.0.

Returns:
    {type: {"precision", "recall", "f1", "number"}, ..., "overall_precision", "overall_recall",
    "overall_f1", "overall_accuracy"}, equal to seqeval's numbers (see ecr_hf.scoring.seqeval_scores).

    >>> seqeval = evaluate.load("span_metrics", "seqeval")
    >>> predictions = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    >>> references = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    >>> results = seqeval.compute(predictions=predictions, references=references)
    >>> list(results)
    ['MISC', 'PER', 'overall_precision', 'overall_recall', 'overall_f1', 'overall_accuracy']
    >>> results["overall_f1"], results["PER"]["f1"]
    (0.5, 1.0)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SpanMetrics(metric_inputs.SpanMetricMixin, evaluate.Metric):
    def _info(self):
        if self.config_name not in _CONFIGS:
            raise ValueError(f"unknown span_metrics configuration {self.config_name!r}; choose one of {list(_CONFIGS)}")
        return metric_inputs.metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION, _CITATION,
                                         ["https://doi.org/10.2196/78681", "https://aclanthology.org/S13-2056"])

    def _check_form(self, predictions, references):
        """The seqeval configuration takes tag sequences only (what evaluate's seqeval module takes)."""
        if self.config_name == "seqeval":
            form = metric_inputs.detect_form(predictions, references)
            empty = not any(len(d) for d in (*predictions, *references) if d is not None)
            if form != "tags" and not empty:
                raise ValueError(f"the 'seqeval' configuration scores tag sequences (one list of tag strings per "
                                 f"sentence), as evaluate's seqeval module does; got {form!r} inputs: use the "
                                 "default configuration for them")

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of documents (tag sequences only in the seqeval configuration)."""
        self._check_form(predictions, references)
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one document (a tag sequence only in the seqeval configuration)."""
        self._check_form([prediction], [reference])
        return super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(self, predictions, references, **kwargs):
        if self.config_name == "seqeval":
            if isinstance(predictions, pa.ChunkedArray):  # stored by add()/add_batch(): back to Python lists
                predictions, references = predictions.to_pylist(), references.to_pylist()
            self._check_form(predictions, references)
            return seqeval_scores(references, predictions, **kwargs)
        return super()._compute(predictions, references, **kwargs)

    def _score(self, docs, *, zero_division, empty_spans, token_offsets=None, min_overlap=0.0, semeval_labels=None,
               iou_threshold=0.5):
        refs, preds = docs.references, docs.predictions
        soft = {typed: flatten_scores(soft_match_scores(refs, preds, p_values=[1.0], typed=typed, texts=docs.texts,
                                                        length_bins=None, zero_division=zero_division,
                                                        empty_spans=empty_spans)) for typed in (False, True)}
        out = {key: soft[False][key] for key in _METRICS}  # f1 means here what it means in ecr_hf.span_metrics
        for prefix, typed in (("char", False), ("char_typed", True)):
            out.update({f"{prefix}_{key}": soft[typed][key] for key in _METRICS})

        if docs.units is not None:  # label sequences: every unit is a token
            token_offsets = [np.stack([np.arange(n), np.arange(1, n + 1)], axis=1) for n in docs.units]
        if token_offsets is not None or docs.texts is not None:
            for prefix, typed in (("token", False), ("token_typed", True)):
                tokens = token_scores(refs, preds, token_offsets=token_offsets, texts=docs.texts, typed=typed,
                                      zero_division=zero_division, empty_spans=empty_spans)
                out.update({f"{prefix}_{key}": tokens[key] for key in _METRICS})

        report = classification_report(refs, preds, zero_division=zero_division, empty_spans=empty_spans)
        for prefix, average in (("strict", "micro"), ("strict_macro", "macro"), ("strict_weighted", "weighted")):
            out.update({f"{prefix}_{key}": report[f"{average} avg"][name] for key, name in zip(_METRICS, _REPORT)})
        for label, row in report.items():
            if not label.endswith(" avg"):
                out.update({f"strict_label_{label}_{key}": row[name] for key, name in zip(_METRICS, _REPORT)})
                out[f"strict_label_{label}_support"] = row["support"]

        semeval = semeval_scores(refs, preds, zero_division=zero_division, empty_spans=empty_spans,
                                 min_overlap=min_overlap, labels=semeval_labels)
        for schema in SCHEMAS:
            out.update({f"semeval_{schema}_{key}": value for key, value in semeval[schema].items()})
        out.update(lenient_metrics(refs, preds, iou_threshold=iou_threshold, zero_division=zero_division,
                                   empty_spans=empty_spans, texts=docs.texts))
        out.update({key: soft[False][key] for key in _COUNTS if key in soft[False]})
        return {key: float(value) for key, value in out.items()}
