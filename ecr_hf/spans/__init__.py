"""The span model and the text forms it converts to and from.

Half-open character spans (:mod:`.span`), lossless conversions to marked text, label sequences and
CoNLL (:mod:`.formats`), the tolerant decoder of ``@@concept##`` generations (:mod:`.decode`), and
label maps from a model's labels to a data set's (:mod:`.label_map`). Nothing here reads corpora or
scores: a new span form goes here.
"""

from .decode import MAX_CELLS, DecodeResult, FaithfulnessReport, decode_corpus, decode_marked
from .formats import (SCHEMES, Chunks, MarkerError, bio_to_spans, check_labels, chunk_arrays, conll_to_document,
                      detect_scheme, document_to_conll, parse_marked, spans_to_marked, spans_to_tags, tags_to_spans)
from .label_map import LabelMap, LabelMapError
from .span import (EMPTY_SPANS, OFFSET_LIMIT, Span, SpanArrays, SpanError, number_line, pair_arrays, to_corpus, to_span,
                   to_spans)

__all__ = [
    "LabelMap",
    "LabelMapError",
    "MAX_CELLS",
    "DecodeResult",
    "FaithfulnessReport",
    "decode_marked",
    "decode_corpus",
    "spans_to_marked",
    "parse_marked",
    "MarkerError",
    "check_labels",
    "tags_to_spans",
    "bio_to_spans",
    "chunk_arrays",
    "Chunks",
    "detect_scheme",
    "SCHEMES",
    "spans_to_tags",
    "conll_to_document",
    "document_to_conll",
    "OFFSET_LIMIT",
    "EMPTY_SPANS",
    "Span",
    "SpanError",
    "to_span",
    "to_spans",
    "to_corpus",
    "SpanArrays",
    "pair_arrays",
    "number_line",
]
