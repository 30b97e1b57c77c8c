"""The one input adapter of the ecr-hf ``evaluate`` modules: input forms in, span documents out.

A call gives ``predictions`` and ``references`` in one of these forms, one item per document:

* ``"spans"``: a list of ``{"start": int, "end": int, "label": str}`` dicts (``label`` optional;
  other keys, such as the ``"text"`` and ``"score"`` of :class:`ecr_hf.ECRExtractor` output, are
  ignored on every path: ``compute``, ``add`` and ``add_batch`` store and score only the offsets
  and the label; pass ``texts=`` to check offsets against the texts), half-open character offsets;
* ``"marked"``: a ``@@...##`` marked string. References are read strictly (they carry the source
  text); a prediction is read strictly against that text, and when it does not reproduce it (a
  generation) the predictions are decoded with :func:`ecr_hf.spans.decode_corpus` and the result
  carries ``faithfulness_*`` keys;
* ``"tags"``: one tag string per unit (character, word or token): ``O``, ``B-X``, ``I-X``, ...
  read as by seqeval (:func:`ecr_hf.scoring.bio_to_spans`, ``scheme``/``mode``/``suffix``); spans are
  in units;
* ``"binary"``: the paper's character labels, one int ``0``/``1`` per character (untyped).

The form is detected from the first non-empty document of each side; every document is then
checked against it, so a batch mixing forms, or predictions in another form than references, is a
clear ``ValueError``. :class:`SpanMetricMixin` gives the modules the same checks on every path, a
single-process ``compute`` that skips ``evaluate``'s Arrow round trip, and the options every module
shares (``texts``, ``scheme``/``mode``/``suffix``, ``decode``, ``zero_division``, ``empty_spans``),
documented once here (:data:`INPUT_ARGS`, :data:`SHARED_ARGS`, :data:`SHARED_RETURNS`).

Lone surrogates (``"\\ud800"``, a valid JSON escape) are fine in ``compute(predictions=...,
references=...)``: offsets are code points and nothing is encoded. ``add`` and ``add_batch`` store
the batch in ``evaluate``'s Arrow cache, whose strings are UTF-8 and cannot hold one, so there a
string with a lone surrogate is a :class:`~ecr_hf.spans.SpanError` naming the document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa
from datasets import Features, List, Value

from ..spans.decode import decode_corpus
from ..spans.formats import MarkerError, detect_scheme, parse_marked
from .report import bio_to_spans
from ..spans.span import OFFSET_LIMIT, Span, SpanError, check_texts

if TYPE_CHECKING:
    import evaluate

__all__ = ["FEATURES", "INPUT_FEATURES", "SpanDocuments", "detect_form", "check_inputs", "to_span_documents",
           "SpanMetricMixin", "CITATION", "INPUT_ARGS", "SHARED_ARGS", "SHARED_RETURNS", "metric_info"]

# What the modules' docstrings share: each module's _KWARGS_DESCRIPTION puts its own options around these.
CITATION = """\
@article{tsukiji2026eccr,
    title = {Evaluating Encoder and Decoder Models for Extended Clinical Concept Recognition in Japanese
             Clinical Texts: Comparative Study With Weighted Soft Matching},
    author = {Tsukiji, Yuya and Kataoka, Satoshi and Itokazu, Masafumi and Nagai, Ryozo and Imai, Takeshi},
    journal = {Journal of Medical Internet Research},
    volume = {28},
    pages = {e78681},
    year = {2026},
    doi = {10.2196/78681},
}
"""
INPUT_ARGS = """\
    predictions: one item per document, in one of these input forms (the same for both arguments):
        span lists `[{"start": int, "end": int, "label": str}, ...]` (half-open character offsets;
        `label` optional), `@@...##` marked strings, lists of tag strings (`"O"`, `"B-X"`, `"I-X"`, one
        per character, word or token) or lists of 0/1 character labels.
    references: the gold standard, same form and number of documents. Marked references carry the
        source text; a marked prediction that does not reproduce it is decoded onto it.
"""
SHARED_ARGS = """\
    zero_division (float): value of a ratio with a zero denominator, in [0, 1] or nan. Default 0.0.
    empty_spans (str): "error" (default): a span with start == end raises; "drop": such spans are left
        out of every score and counted in `gold_empty_dropped` / `pred_empty_dropped`.
    scheme (str), mode (str), suffix (bool): how tag strings are read (seqeval's names): mode "default"
        (conlleval rules, the default) or "strict" with scheme "IOB2" (default), "IOB1", "IOE1", "IOE2",
        "IOBES", "BILOU" or "auto" (detected from the references); suffix=True for "PER-B" tags.
    decode (bool): marked strings only: None (default) decodes the predictions when one does not
        reproduce its reference text, True always decodes, False never (a mismatch raises).
"""
SHARED_RETURNS = """\
    n_documents, n_gold, n_pred, gold_chars, pred_chars, gold_merged, pred_merged: counts of the soft
        match (overlapping spans on one side are merged into their union first, and counted here).
    gold_empty_dropped, pred_empty_dropped: with empty_spans="drop", the empty spans left out.
    faithfulness_*: when marked predictions were decoded: exact_match_rate, mean_similarity,
        mean_edit_distance, mean_length_difference (over mismatches), n_exact, n_documents,
        n_spans_found, n_spans_dropped, n_spans_adjusted, n_capped.
"""

_SPAN = {"start": Value("int64"), "end": Value("int64"), "label": Value("string")}
FEATURES: dict[str, Features] = {
    "spans": Features({"predictions": List(_SPAN), "references": List(_SPAN)}),
    "marked": Features({"predictions": Value("string"), "references": Value("string")}),
    "tags": Features({"predictions": List(Value("string")), "references": List(Value("string"))}),
    "binary": Features({"predictions": List(Value("int8")), "references": List(Value("int8"))}),
}
INPUT_FEATURES: list[Features] = list(FEATURES.values())  # evaluate's multiple-features mechanism
_SEQ = (list, tuple, np.ndarray)
_INT, _BOOL = (int, np.integer), (bool, np.bool_)
_HELP = ("give, per document, a list of {'start', 'end', 'label'} dicts, a '@@...##' marked string, a list "
         "of tag strings ('O', 'B-X', 'I-X') or a list of 0/1 character labels")


class SpanDocuments(NamedTuple):
    """What the scoring core needs: span lists per document, and what the input form adds."""

    references: list[list[Any]] | pa.ChunkedArray  # Arrow: span columns that evaluate stored
    predictions: list[list[Any]] | pa.ChunkedArray
    texts: list[str] | None  # source texts (marked form) or the ``texts=`` option (span form)
    units: list[int] | None  # sequence lengths (label-sequence forms): a span's unit is one position
    faithfulness: dict[str, float]  # faithfulness_* keys when marked predictions were decoded


def _doc_form(doc: Any) -> str | None:
    """The form one document is in; ``None`` for an empty one (fits every list form)."""
    if isinstance(doc, str):
        return "marked"
    if doc is None or (isinstance(doc, _SEQ) and len(doc) == 0):
        return None
    if isinstance(doc, _SEQ):
        first = doc[0]
        if isinstance(first, Mapping):
            return "spans"
        if isinstance(first, str):
            return "tags"
        if _check_int(first):
            return "binary"
    return "unknown"


def _side_form(docs: Any, side: str) -> str | None:
    for k, doc in enumerate(docs):
        form = _doc_form(doc)
        if form == "unknown":
            raise ValueError(f"{side}[{k}] is {_show(doc)}, which is no known input form; {_HELP}")
        if form is not None:
            return form
    return None


def _show(x: Any) -> str:
    text = repr(x)
    return f"{type(x).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"


def _as_corpus(docs: Any, side: str) -> Sequence[Any]:
    if docs is None or isinstance(docs, (str, Mapping)) or not isinstance(docs, (Sequence, np.ndarray)):
        raise ValueError(f"{side} must be a list with one item per document, got {_show(docs)}; {_HELP}")
    return docs


def _batch_form(predictions: Any, references: Any) -> str | None:
    pred = _side_form(_as_corpus(predictions, "predictions"), "predictions")
    ref = _side_form(_as_corpus(references, "references"), "references")
    if pred is not None and ref is not None and pred != ref:
        raise ValueError(f"predictions are {pred!r} but references are {ref!r}; give both in the same input form")
    return pred or ref


def detect_form(predictions: Sequence[Any], references: Sequence[Any]) -> str:
    """The input form of a batch (see the module docstring); only the first non-empty documents are
    read. A batch without any span or label (all documents empty) reads as ``"spans"``.

    Examples:
        >>> detect_form(["@@fever## today"], ["@@fever## today"])
        'marked'
        >>> detect_form([[]], [[{"start": 0, "end": 5, "label": "D"}]])
        'spans'
    """
    return _batch_form(predictions, references) or "spans"


def _check_int(x: Any) -> bool:
    return isinstance(x, _INT) and not isinstance(x, _BOOL)


def _types_ok(values: Iterable[Any], allowed: tuple[type, ...], banned: tuple[type, ...] = ()) -> bool:
    """Whether every value's type is one of ``allowed`` (and none of ``banned``), checked per distinct type."""
    return all(issubclass(t, allowed) and not issubclass(t, banned) for t in set(map(type, values)))


def _looks_valid(docs: Sequence[Any], form: str) -> bool:
    """The corpus-wide check of :func:`_check_docs`, without a Python loop per span or label; when it
    fails the per-item check runs and names the offending item."""
    if form == "marked":
        return _types_ok(docs, (str,))
    if form == "spans":
        if not _types_ok(docs, (list, tuple, type(None))):
            return False
        flat = list(chain.from_iterable(d for d in docs if d is not None))
        if not _types_ok(flat, (dict,)):
            return False
        starts, ends, labels = ([*map(dict.get, flat, repeat(key))] for key in ("start", "end", "label"))
        return (_types_ok(chain(starts, ends), _INT, _BOOL) and max(chain(starts, ends), default=0) < OFFSET_LIMIT
                and _types_ok(labels, (str, type(None))))
    if not _types_ok(docs, _SEQ):
        return False
    flat = list(chain.from_iterable(docs))
    if form == "tags":
        return _types_ok(flat, (str,))
    return _types_ok(flat, _INT, _BOOL) and bool(np.isin(np.asarray(flat, dtype=np.int64), (0, 1)).all())


def _check_docs(docs: Sequence[Any], form: str, side: str) -> None:
    if _looks_valid(docs, form):
        return
    for k, doc in enumerate(docs):
        found = _doc_form(doc)
        if found is not None and found != form:
            what = "an unknown form" if found == "unknown" else f"in form {found!r}"
            raise ValueError(f"{side}[{k}] is {what} ({_show(doc)}) but the other documents are {form!r}; "
                             f"mixed input forms in one call are not supported: {_HELP}")
        if form == "marked":
            if found is None:
                raise ValueError(f"{side}[{k}] is {_show(doc)} but the input form is 'marked'; give a string")
        elif form == "spans":
            if doc is not None and not isinstance(doc, (list, tuple)):
                raise ValueError(f"{side}[{k}] is {_show(doc)}; give a list of span dicts")
            for i, span in enumerate(doc or ()):
                if not isinstance(span, Mapping):
                    raise SpanError(f"{side}[{k}][{i}] is {_show(span)}; spans must be dicts "
                                    "{'start': int, 'end': int, 'label': str}")
                start, end, label = span.get("start"), span.get("end"), span.get("label")
                if not (_check_int(start) and _check_int(end)):
                    raise SpanError(f"{side}[{k}][{i}] = {dict(span)!r}: 'start' and 'end' must be present and "
                                    "integers (half-open character offsets)")
                if max(start, end) >= OFFSET_LIMIT:
                    raise SpanError(f"document {k}: {side}[{k}][{i}] = {dict(span)!r}: offset past the supported "
                                    f"maximum {OFFSET_LIMIT - 1} (2**53 - 1)")
                if label is not None and not isinstance(label, str):
                    raise SpanError(f"{side}[{k}][{i}] = {dict(span)!r}: 'label' must be a string or None")
        elif doc is None:
            raise ValueError(f"{side}[{k}] is None; give one label per unit (an empty list for an empty text)")
        elif form == "tags":
            if not all(isinstance(t, str) for t in doc):
                bad = next(t for t in doc if not isinstance(t, str))
                raise ValueError(f"{side}[{k}] mixes tag strings with {_show(bad)}; give one tag string per unit")
        else:  # binary
            if not all(_check_int(v) and v in (0, 1) for v in doc):
                raise ValueError(f"{side}[{k}] = {_show(doc)}: 0/1 character labels must all be the ints 0 or 1")


def check_inputs(predictions: Sequence[Any], references: Sequence[Any], expected: str | None = None) -> str:
    """Validate a batch (what ``evaluate``'s features would enforce, and stricter: no silent casts)
    and return its form. ``expected`` is the form earlier ``add``/``add_batch`` calls fixed.

    Examples:
        >>> check_inputs([[{"start": 0, "end": 3.5}]], [[]])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ecr_hf.spans.SpanError: predictions[0][0] = {'start': 0, 'end': 3.5}: 'start' and 'end' must be ...
        >>> check_inputs([["O", "B-D"]], [["O", "B-D"]])
        'tags'
    """
    found = _batch_form(predictions, references)
    if expected is not None and found is not None and found != expected:
        raise ValueError(f"this batch is in form {found!r} but earlier add()/add_batch() calls were {expected!r}; "
                         "mixed input forms in one evaluation are not supported")
    form = expected or found or "spans"
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions but {len(references)} references; "
                         "give one item per document on both sides")
    _check_docs(predictions, form, "predictions")
    _check_docs(references, form, "references")
    if form in ("tags", "binary"):
        for k, (p, r) in enumerate(zip(predictions, references)):
            if len(p) != len(r):
                raise ValueError(f"document {k}: {len(p)} predicted labels but {len(r)} reference labels; "
                                 "label sequences must have one label per unit on both sides")
    return form


def _binary_spans(docs: Sequence[Sequence[int]]) -> list[list[Span]]:
    """Maximal runs of 1s, per document, vectorised over the corpus (a 0 closes each document)."""
    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    base = np.cumsum(lengths + 1) - (lengths + 1)
    parts = [np.zeros(1, np.int8)]
    for d in docs:
        parts += [np.asarray(d, dtype=np.int8).reshape(-1), parts[0]]
    edges = np.diff(np.concatenate(parts))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    doc = np.searchsorted(base, starts, side="right") - 1
    out: list[list[Span]] = [[] for _ in docs]
    for k, s, e in zip(doc.tolist(), (starts - base[doc]).tolist(), (ends - base[doc]).tolist()):
        out[k].append(Span(s, e))
    return out


def _is_span_column(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) and pa.types.is_struct(kind.value_type)


def to_span_documents(
    predictions: Sequence[Any],
    references: Sequence[Any],
    *,
    texts: Sequence[str] | None = None,
    scheme: str | None = "IOB2",
    mode: str = "default",
    suffix: bool = False,
    decode: bool | None = None,
) -> SpanDocuments:
    """Translate a validated batch into span documents for the core (see the module docstring).

    Args:
        texts: the documents' texts, for the span form only (offsets are then checked against them).
        scheme, mode, suffix: how tag strings are read (:func:`ecr_hf.scoring.bio_to_spans`); a strict
            ``scheme`` of ``"auto"`` or None is detected from the references and used on both sides.
        decode: marked form only: ``None`` decodes predictions (and reports faithfulness) only when
            one does not reproduce its reference text strictly; ``True`` always; ``False`` never (a
            prediction that differs from its text then raises).

    ``evaluate`` hands stored batches over as ``pyarrow`` columns (the modules' ``format="arrow"``):
    span columns go to the core as they are (:meth:`ecr_hf.spans.span.SpanArrays.from_arrow`), the other
    forms are read back to Python first.

    Examples:
        >>> docs = to_span_documents(["@@fever## and @@cough##"], ["@@fever## and cough"])
        >>> docs.texts, docs.references
        (['fever and cough'], [[Span(start=0, end=5, label=None)]])
        >>> docs.predictions
        [[Span(start=0, end=5, label=None), Span(start=10, end=15, label=None)]]
    """
    arrow = isinstance(predictions, pa.ChunkedArray) and isinstance(references, pa.ChunkedArray)
    if arrow and not _is_span_column(references.type):
        predictions, references = predictions.to_pylist(), references.to_pylist()
        arrow = False
    form = "spans" if arrow else detect_form(predictions, references)
    if texts is not None:
        if form != "spans":
            raise ValueError(f"texts= checks the offsets of span lists; {form!r} inputs carry their own text or "
                             "units, drop texts=")
        texts = check_texts(texts, len(references))
    if decode is not None and form != "marked":
        raise ValueError(f"decode= applies to marked strings, not to {form!r} inputs")
    if suffix and form != "tags" and (arrow or form != "spans" or any(references) or any(predictions)):
        raise ValueError(f"suffix= applies to tag strings, not to {form!r} inputs")
    if arrow:  # span columns gathered by evaluate, validated when added: the core reads them as they are
        return SpanDocuments(references, predictions, texts, None, {})
    if form == "spans":
        return SpanDocuments([d or [] for d in references], [d or [] for d in predictions], texts, None, {})
    if form == "tags":
        if mode == "strict" and scheme in (None, "auto"):
            scheme = detect_scheme([list(d) for d in references], suffix=suffix, untagged="IOB2")
        refs, preds = ([] if not len(docs) else bio_to_spans([list(d) for d in docs], scheme, mode, suffix=suffix)
                       for docs in (references, predictions))
        return SpanDocuments(refs, preds, None, [len(d) for d in references], {})
    if form == "binary":
        return SpanDocuments(_binary_spans(references), _binary_spans(predictions), None,
                             [len(d) for d in references], {})
    parsed = [parse_marked(m, doc=k) for k, m in enumerate(references)]
    sources = [text for text, _ in parsed]
    refs = [spans for _, spans in parsed]
    if decode is not True:
        try:
            preds = [parse_marked(m, text=t, doc=k)[1] for k, (m, t) in enumerate(zip(predictions, sources))]
            return SpanDocuments(refs, preds, sources, None, {})
        except MarkerError:
            if decode is False:
                raise
    preds, report = decode_corpus(list(predictions), sources)
    return SpanDocuments(refs, preds, sources, None, report.to_dict(prefix="faithfulness_"))


def _storable(docs: Sequence[Any], form: str, side: str) -> Sequence[Any]:
    """A validated batch side in the exact shape of the Arrow features ``evaluate`` stores: span
    dicts reduced to ``start``, ``end`` and ``label`` (missing label: None; other keys dropped, as
    ``compute`` ignores them). A string with a lone surrogate cannot be stored as UTF-8: SpanError."""
    if form == "spans":
        docs = [[{"start": s["start"], "end": s["end"], "label": s.get("label")} for s in d or ()] for d in docs]
        strings = [[s["label"] for s in d if s["label"] is not None] for d in docs]
    elif form == "marked":
        strings = [[d] for d in docs]
    elif form == "tags":
        strings = docs
    else:
        return docs
    if not "".join(chain.from_iterable(strings)).isascii():
        for k, doc in enumerate(strings):
            for text in doc:
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise SpanError(
                        f"{side}[{k}] holds the lone surrogate {text[e.start]!r} at character {e.start} of "
                        f"{_show(text)}; add()/add_batch() store batches as UTF-8 (Arrow), which cannot hold it. "
                        "compute(predictions=..., references=...) in one call accepts it (offsets are code "
                        "points), or replace it in the text") from None
    return docs


def metric_info(description: str, kwargs_description: str, citation: str = CITATION,
                reference_urls: Sequence[str] = ("https://doi.org/10.2196/78681",)) -> "evaluate.MetricInfo":
    """The ``MetricInfo`` of an ecr-hf module: every one takes the same input forms."""
    import evaluate  # here, not at the top: only the module scripts need it, and they have loaded it

    return evaluate.MetricInfo(description=description, citation=citation, inputs_description=kwargs_description,
                               features=INPUT_FEATURES, homepage="https://doi.org/10.2196/78681",
                               reference_urls=list(reference_urls))


class SpanMetricMixin:
    """Input handling of the ecr-hf ``evaluate`` modules; mix in before ``evaluate.Metric``.

    Every entry point validates with :func:`check_inputs` before ``evaluate`` stores anything (its
    Arrow features alone would cast ``3.5`` to ``3`` or ``5`` to ``"5"`` silently). A
    single-process ``compute`` given both inputs, with nothing added before, calls ``_compute``
    directly; ``add``, ``add_batch`` and distributed runs keep ``evaluate``'s own storage, and read
    it back as Arrow. ``_compute`` reads the shared options (:data:`SHARED_ARGS`, ``texts``) and hands
    the span documents to the module's ``_score(docs, zero_division=..., empty_spans=..., **own_options)``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Stored batches reach ``_compute`` as Arrow columns, not Python lists (see to_span_documents).
        # Set after construction: MetricInfo refuses a format for nested features, a check meant for
        # the numpy/torch formats.
        self.info.format = "arrow"

    def _stored_form(self) -> str | None:
        if self.writer is None:
            return None
        return next(form for form, features in FEATURES.items() if features == self.selected_feature_format)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Compute the metric; a single-process call with both inputs skips the Arrow round trip."""
        if self.num_process == 1 and self.writer is None and predictions is not None and references is not None:
            check_inputs(predictions, references)
            return self._compute(predictions=predictions, references=references, **kwargs)
        return super().compute(predictions=predictions, references=references, **kwargs)

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of documents (validated here, stored by ``evaluate``)."""
        form = check_inputs(predictions, references, self._stored_form())
        predictions, references = (_storable(docs, form, side) for docs, side in
                                   ((predictions, "predictions"), (references, "references")))
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one document (validated here, stored by ``evaluate``)."""
        form = check_inputs([prediction], [reference], self._stored_form())
        [prediction], [reference] = (_storable([doc], form, side) for doc, side in
                                     ((prediction, "prediction"), (reference, "reference")))
        return super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(self, predictions, references, *, texts=None, scheme="IOB2", mode="default", suffix=False,
                 decode=None, zero_division=0.0, empty_spans="error", **options):
        docs = to_span_documents(predictions, references, texts=texts, scheme=scheme, mode=mode, suffix=suffix,
                                 decode=decode)
        scores = self._score(docs, zero_division=zero_division, empty_spans=empty_spans, **options)
        return {**scores, **docs.faithfulness}

    def _infer_feature_from_batch(self, batch):
        return FEATURES[detect_form(batch["predictions"], batch["references"])]

    def _infer_feature_from_example(self, example):
        return FEATURES[detect_form([example["predictions"]], [example["references"]])]
