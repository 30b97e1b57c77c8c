"""Strict span report and tag decoding, checked against seqeval on random tags and on BC5CDR."""

import doctest
import json
import random
import warnings

import pytest

import ecr_hf.scoring.report as report_module
from ecr_hf.scoring import bio_to_spans, classification_report
from ecr_hf.spans import Span, SpanError

seqeval_metrics = pytest.importorskip("seqeval.metrics")
from seqeval.metrics.sequence_labeling import get_entities  # noqa: E402
from seqeval.scheme import BILOU, IOB1, IOB2, IOBES, IOE1, IOE2, Tokens  # noqa: E402

from conftest import shared_data  # noqa: E402


def seqeval_report(y_true, y_pred, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on undefined precision/recall
        return seqeval_metrics.classification_report(y_true, y_pred, **kwargs)


def assert_same_report(ours, theirs):
    assert list(ours) == list(theirs)
    for row, values in theirs.items():
        assert ours[row]["support"] == values["support"], row
        for key in ("precision", "recall", "f1-score"):
            assert abs(ours[row][key] - values[key]) <= 1e-12, (row, key, ours[row][key], values[key])


def random_tags(rng, prefixes, n_seqs, max_len=10, types="XY"):
    vocab = ["O", "O"] + [f"{p}-{t}" for p in prefixes for t in types] + list(prefixes)
    return [[rng.choice(vocab) for _ in range(rng.randint(0, max_len))] for _ in range(n_seqs)]


def test_doctests():
    assert doctest.testmod(report_module).failed == 0


@pytest.mark.parametrize("suffix", [False, True])
@pytest.mark.parametrize("scheme, cls, prefixes", [
    ("IOB1", IOB1, "BI"), ("IOE1", IOE1, "IE"), ("IOB2", IOB2, "BI"), ("IOE2", IOE2, "IE"),
    ("IOBES", IOBES, "BIES"), ("BILOU", BILOU, "BILU")])
def test_strict_decoding_matches_seqeval(scheme, cls, prefixes, suffix):
    rng = random.Random(f"{scheme}-{suffix}")
    seqs = random_tags(rng, prefixes, 400)
    if suffix:  # "B-X" -> "X-B"; bare prefixes stay
        seqs = [[t if len(t) == 1 else f"{t[2:]}-{t[0]}" for t in seq] for seq in seqs]
    ours = bio_to_spans(seqs, scheme=scheme, suffix=suffix)
    assert bio_to_spans(seqs, scheme=cls, suffix=suffix) == ours  # seqeval's scheme class works as the scheme
    for seq, spans in zip(seqs, ours):
        entities = Tokens(seq, cls, suffix=suffix).entities
        assert spans == [Span(e.start, e.end, None if e.tag == "_" else e.tag) for e in entities], seq
        assert bio_to_spans(seq, scheme=scheme, suffix=suffix) == spans  # a single sequence gives the same


def test_default_decoding_reads_suffix_tags_as_seqeval():
    rng = random.Random(4)
    seqs = [[t if len(t) == 1 else f"{t[2:]}-{t[0]}" for t in seq] for seq in random_tags(rng, "BIES", 500)]
    for seq, spans in zip(seqs, bio_to_spans(seqs, mode="default", suffix=True)):
        expected = [Span(b, e + 1, None if t == "_" else t) for t, b, e in get_entities(seq, suffix=True)]
        assert spans == expected, seq


def test_default_decoding_matches_seqeval_conlleval():
    rng = random.Random(5)
    seqs = random_tags(rng, "BIES", 1000)
    for seq, spans in zip(seqs, bio_to_spans(seqs, mode="default")):
        expected = [Span(b, e + 1, None if t == "_" else t) for t, b, e in get_entities(seq)]
        assert spans == expected, seq


def test_decoding_hand_cases():
    tags = ["I-X", "I-X", "O", "B-X", "I-Y", "B-Y", "I-Y", "I-Y"]
    # strict IOB2: the leading I-X run and the I-Y after B-X are dropped
    assert bio_to_spans(tags) == [Span(3, 4, "X"), Span(5, 8, "Y")]
    # conlleval: I after O or after another type opens a chunk
    assert bio_to_spans(tags, mode="default") == [Span(0, 2, "X"), Span(3, 4, "X"), Span(4, 5, "Y"), Span(5, 8, "Y")]
    # IOBES: B-X I-X without an E is not an entity; B-X E-X is
    assert bio_to_spans(["B-X", "I-X", "O", "B-X", "E-X"], scheme="IOBES") == [Span(3, 5, "X")]
    assert bio_to_spans([]) == [] and bio_to_spans([[], ["O"]]) == [[], []]


def test_decoding_errors():
    with pytest.raises(ValueError, match=r"invalid tag 'E-X' \(sequence 1, token 0\).*scheme 'IOB2'"):
        bio_to_spans([["O"], ["E-X"]])
    with pytest.raises(ValueError, match="invalid tag 'B-'"):
        bio_to_spans(["B-"], mode="default")
    with pytest.raises(ValueError, match="invalid tag 'U-X'"):
        bio_to_spans(["U-X"], mode="default")
    with pytest.raises(ValueError, match="unknown scheme 'IOB3'"):
        bio_to_spans(["O"], scheme="IOB3")
    with pytest.raises(ValueError, match="mode must be"):
        bio_to_spans(["O"], mode="lenient")
    with pytest.raises(ValueError, match="wrap it in a list"):
        bio_to_spans("B-X")


def test_report_hand_worked():
    gold = [[(0, 3, "PER"), (5, 8, "LOC"), (10, 12, "LOC")], [(0, 4, "PER")]]
    # doc 0: PER exact, LOC [5,7) wrong boundary, LOC [10,12) exact, ORG spurious;
    # doc 1: PER exact, listed twice (counted once)
    pred = [[(0, 3, "PER"), (5, 7, "LOC"), (10, 12, "LOC"), (20, 22, "ORG")], [(0, 4, "PER"), (0, 4, "PER")]]
    out = classification_report(gold, pred)
    assert list(out) == ["LOC", "ORG", "PER", "micro avg", "macro avg", "weighted avg"]
    assert out["LOC"] == {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    assert out["ORG"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0}
    assert out["PER"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 2}
    # micro: TP 3 (PER 2, LOC 1), predicted 5 unique, gold 4
    assert out["micro avg"]["precision"] == pytest.approx(3 / 5)
    assert out["micro avg"]["recall"] == pytest.approx(3 / 4)
    assert out["micro avg"]["f1-score"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert out["macro avg"]["f1-score"] == pytest.approx(1.5 / 3)
    assert out["weighted avg"]["precision"] == pytest.approx((0.5 * 2 + 0 * 0 + 1.0 * 2) / 4)
    assert out["weighted avg"]["support"] == 4
    with_one = classification_report(gold, pred, zero_division=1.0)
    assert (with_one["ORG"]["recall"], with_one["ORG"]["f1-score"]) == (1.0, 0.0)


def test_report_untyped_empty_and_errors():
    out = classification_report([[(0, 2)]], [[(0, 2), (3, 4, "X")]])
    assert out["_"]["f1-score"] == 1.0 and out["X"]["precision"] == 0.0
    empty = classification_report([[]], [[]], zero_division=1.0)
    assert list(empty) == ["micro avg", "macro avg", "weighted avg"]
    assert empty["micro avg"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 0}
    assert isinstance(classification_report([[]], [[]], output_dict=False), str)
    with pytest.raises(SpanError, match="predictions has 2 documents but references has 1"):
        classification_report([[]], [[], []])


@pytest.mark.parametrize("zero_division", [0, 1])
def test_report_matches_seqeval_on_random_tags(zero_division):
    rng = random.Random(6 + zero_division)
    for _ in range(40):
        y_true = random_tags(rng, "BI", 20, types="XYZ")
        y_pred = random_tags(rng, "BI", 20, types="XY")
        y_pred = [(p + ["O"] * len(t))[: len(t)] for t, p in zip(y_true, y_pred)]
        theirs = seqeval_report(y_true, y_pred, output_dict=True, mode="strict", scheme=IOB2,
                                zero_division=zero_division)
        ours = classification_report(bio_to_spans(y_true), bio_to_spans(y_pred), zero_division=zero_division)
        assert_same_report(ours, theirs)
    text = classification_report(bio_to_spans(y_true), bio_to_spans(y_pred), output_dict=False, digits=4,
                                 zero_division=zero_division)
    assert text == seqeval_report(y_true, y_pred, mode="strict", scheme=IOB2, digits=4, zero_division=zero_division)


def perturb(rng, tags):
    """A plausible tagger's output: dropped, retyped, split, stray and extended chunks."""
    out = []
    for tag in tags:
        r = rng.random()
        if tag == "O":
            out.append(rng.choice(["B-Chemical", "I-Disease"]) if r < 0.02 else "O")
        elif r < 0.06:
            out.append("O")
        elif r < 0.09:
            out.append(tag[:2] + ("Disease" if tag.endswith("Chemical") else "Chemical"))
        elif r < 0.12:
            out.append("B" + tag[1:] if tag[0] == "I" else "I" + tag[1:])
        else:
            out.append(tag)
    return out


@pytest.fixture(scope="module")
def bc5cdr():
    with open(shared_data("bc5cdr", "bc5cdr.conll.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_report_matches_seqeval_on_bc5cdr(bc5cdr):
    rows = bc5cdr[:3000]
    rng = random.Random(7)
    y_true = [r["tags"] for r in rows]
    y_pred = [perturb(rng, t) for t in y_true]
    theirs = seqeval_report(y_true, y_pred, output_dict=True, mode="strict", scheme=IOB2)
    ours = classification_report(bio_to_spans(y_true), bio_to_spans(y_pred))
    assert_same_report(ours, theirs)
    assert 0.5 < ours["micro avg"]["f1-score"] < 0.95  # the perturbation really changed things
    default = classification_report(bio_to_spans(y_true, mode="default"), bio_to_spans(y_pred, mode="default"))
    assert_same_report(default, seqeval_report(y_true, y_pred, output_dict=True))
    assert default["micro avg"]["support"] == ours["micro avg"]["support"]  # valid gold: modes agree
    assert default["micro avg"]["precision"] != ours["micro avg"]["precision"]  # stray I- chunks differ


def test_bc5cdr_token_spans_are_the_character_entities(bc5cdr):
    # text is the tokens joined by single spaces, so token spans map to characters exactly
    spans = bio_to_spans([r["tags"] for r in bc5cdr])
    for row, doc in zip(bc5cdr, spans):
        starts, pos = [], 0
        for tok in row["tokens"]:
            starts.append(pos)
            pos += len(tok) + 1
        chars = [(starts[s.start], starts[s.end - 1] + len(row["tokens"][s.end - 1]), s.label) for s in doc]
        assert chars == [(e["start"], e["end"], e["label"]) for e in row["entities"]], row["doc_id"]
    assert sum(map(len, spans)) == 28787  # SOURCE.md's entity count
