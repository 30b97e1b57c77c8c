"""Conversions between spans, marked text, label sequences and CoNLL: exact cases and round trips."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from ecr_hf.spans import (
    MarkerError,
    conll_to_document,
    document_to_conll,
    parse_marked,
    spans_to_marked,
    spans_to_tags,
    tags_to_spans,
)
from ecr_hf.spans import Span, SpanError

from conftest import shared_data

FIG3 = "感染性心内膜炎（IE）はその経過"


def test_figure3_marked_and_character_labels():
    spans = [Span(0, 7), Span(8, 10)]
    assert spans_to_marked(FIG3, spans) == "@@感染性心内膜炎##（@@IE##）はその経過"
    assert parse_marked("@@感染性心内膜炎##（@@IE##）はその経過") == (FIG3, spans)
    labels = spans_to_tags(spans, len(FIG3), scheme="IO", binary=True)
    assert labels.tolist() == [1] * 7 + [0] + [1, 1] + [0] * 6
    assert tags_to_spans(labels.tolist(), scheme="IO") == spans


@pytest.mark.parametrize(
    "marked, match",
    [
        ("@@lung cancer", "never closed"),
        ("lung## cancer", "closes no open span"),
        ("@@lung @@cancer####", "nested"),
        ("a @@## b", "empty span"),
    ],
)
def test_bad_markers(marked, match):
    with pytest.raises(MarkerError, match=match):
        parse_marked(marked)


def test_marked_text_that_differs_from_the_source_points_to_the_decoder():
    with pytest.raises(MarkerError, match="decode_marked"):
        parse_marked("@@lung cancr## found", text="lung cancer found")


def test_rendering_rejects_what_markers_cannot_hold():
    with pytest.raises(SpanError, match="overlap"):
        spans_to_marked("abcdef", [(0, 3), (2, 5)])
    with pytest.raises(MarkerError, match="already contains"):
        spans_to_marked("email me @@home", [(0, 5)])
    assert spans_to_marked("email me @@home", [(0, 5)], "[[", "]]") == "[[email]] me @@home"
    assert parse_marked("[[email]] me @@home", "[[", "]]")[1] == [Span(0, 5)]


def test_non_bmp_characters_count_as_one_offset():
    text = "𠮷野家で😀肺癌"
    spans = [Span(0, 3, "X"), Span(5, 7, "X")]
    assert [text[s.start:s.end] for s in spans] == ["𠮷野家", "肺癌"]
    marked = spans_to_marked(text, spans)
    assert marked == "@@𠮷野家##で😀@@肺癌##"
    assert parse_marked(marked, label="X") == (text, spans)


def test_tags_modes_match_seqeval():
    tags = ["I-D", "I-D", "O", "B-C", "I-D", "B-D", "I-D", "O", "I-C"]
    got = [(s.label, s.start, s.end - 1) for s in tags_to_spans(tags)]
    assert sorted(got) == sorted(get_entities(tags))
    strict = tags_to_spans(tags, mode="strict")
    assert strict == [Span(3, 4, "C"), Span(5, 7, "D")]


def test_untyped_bio_and_io_touching_spans():
    assert tags_to_spans(["B", "I", "B", "O"]) == [Span(0, 2), Span(2, 3)]
    assert spans_to_tags([(0, 2), (2, 3)], 4, scheme="IO") == ["I", "I", "I", "O"]  # IO merges them
    assert spans_to_tags([(0, 2), (2, 3)], 4) == ["B", "I", "B", "O"]
    with pytest.raises(SpanError, match="scheme='BIO'"):
        tags_to_spans(["B-X"], scheme="IO")
    with pytest.raises(SpanError, match="invalid tag .S-X."):
        tags_to_spans(["S-X"])


@st.composite
def text_and_spans(draw):
    text = draw(st.text(alphabet="ab c感染😀", min_size=0, max_size=40))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8, unique=True)))
    spans = [Span(a, b, draw(st.sampled_from(["A", "B"]))) for a, b in zip(cuts[::2], cuts[1::2])]
    return text, spans


@settings(max_examples=200, deadline=None)
@given(text_and_spans())
def test_round_trips(case):
    text, spans = case
    untyped = [s._replace(label=None) for s in spans]
    assert parse_marked(spans_to_marked(text, spans)) == (text, untyped)
    assert tags_to_spans(spans_to_tags(spans, len(text))) == spans
    assert tags_to_spans(spans_to_tags(spans, len(text)), mode="strict") == spans
    binary = spans_to_tags(spans, len(text), scheme="IO", binary=True)
    runs = tags_to_spans(binary.tolist(), scheme="IO")
    # IO cannot keep touching spans apart: compare the marked characters
    assert np.array_equal(spans_to_tags(runs, len(text), scheme="IO", binary=True), binary)


def test_conll_round_trip_on_bc5cdr():
    path = shared_data("bc5cdr", "bc5cdr.conll.jsonl")
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(2000), f)]
    for row in rows:
        text, spans = conll_to_document(row["tokens"], row["tags"])
        assert text == row["text"]
        assert [tuple(s) for s in spans] == [(e["start"], e["end"], e["label"]) for e in row["entities"]]
        assert document_to_conll(text, spans) == (row["tokens"], row["tags"])


def test_conll_boundary_inside_a_word_raises():
    with pytest.raises(SpanError, match="whitespace token boundaries"):
        document_to_conll("lung cancer", [(0, 3, "D")])
