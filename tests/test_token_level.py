"""Token-level P/R/F1 against a slow per-token loop, with given, whitespace and HF tokenizer offsets."""

import doctest
import random
import re

import pytest

import ecr_hf.scoring.token_level as token_module
from ecr_hf.spans import SpanError
from ecr_hf.scoring import token_scores, whitespace_offsets

WORDS = ["heart", "failure", "of", "the", "left", "ventricle", "fever", "é", "😀x", "a-b", "(x)"]


def slow(gold, pred, offsets, typed):
    """Per token: positive if it shares a character with a span (of the label, when typed)."""
    labels = sorted({s[2] for d in gold + pred for s in d}) if typed else [None]
    per = {}
    for lab in labels:
        tp = fp = fn = 0
        for g, p, offs in zip(gold, pred, offsets):
            for ts, te in offs:
                def hit(spans):
                    return any(min(e, te) - max(s, ts) > 0 and lab in (None, name) for s, e, name in spans)
                tp += hit(g) and hit(p)
                fp += hit(p) and not hit(g)
                fn += hit(g) and not hit(p)
        per[lab] = (tp, fp, fn)
    return per


def random_docs(rng, n):
    texts, gold, pred = [], [], []
    for _ in range(n):
        text = "".join(rng.choice(WORDS) + rng.choice([" ", "  ", "\n", " \t"]) for _ in range(rng.randint(0, 12)))
        texts.append(text)

        def spans():
            out = []
            for _ in range(rng.randint(0, 4) if len(text) > 1 else 0):
                s = rng.randrange(len(text) - 1)
                out.append((s, rng.randint(s + 1, min(len(text), s + 15)), rng.choice("AB")))
            return out
        gold.append(spans())
        pred.append(spans())
    return texts, gold, pred


def check(out, expected, n_tokens):
    tp, fp, fn = expected
    assert (out["tp"], out["fp"], out["fn"], out["n_tokens"]) == (tp, fp, fn, n_tokens)
    assert out["precision"] == (tp / (tp + fp) if tp + fp else 0.0)
    assert out["recall"] == (tp / (tp + fn) if tp + fn else 0.0)


def test_doctests():
    assert doctest.testmod(token_module).failed == 0


def test_whitespace_offsets_match_regex():
    # every code point the regex \s matches, mixed with letters, a combining mark and an emoji
    spaces = re.findall(r"\s", "".join(map(chr, range(0x110000))))
    rng = random.Random(10)
    for _ in range(50):
        pool = spaces + ["a", "b", "\u00e9", "\u0301", "\U0001f600"]
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        assert whitespace_offsets(text) == [m.span() for m in re.finditer(r"\S+", text)], repr(text)
    assert whitespace_offsets("") == []


def test_hand_worked():
    text = "left ventricle failure"  # tokens [0,4) [5,14) [15,22)
    gold = [[(5, 22, "DIS")]]
    pred = [[(3, 6, "DIS")]]  # touches "left" and "ventricle"
    out = token_scores(gold, pred, texts=[text])
    assert (out["tp"], out["fp"], out["fn"]) == (1, 1, 1)
    assert out["precision"] == 0.5 and out["recall"] == 0.5 and out["f1"] == 0.5
    # a span ending exactly where a token starts does not touch it (half-open)
    assert token_scores([[(0, 5)]], [[(0, 4)]], texts=[text])["fp"] == 0


@pytest.mark.parametrize("typed", [False, True])
def test_matches_slow_loop_whitespace(typed):
    rng = random.Random(8 + typed)
    texts, gold, pred = random_docs(rng, 80)
    offsets = [whitespace_offsets(t) for t in texts]
    out = token_scores(gold, pred, texts=texts, typed=typed)
    expected = slow(gold, pred, offsets, typed)
    n_tokens = sum(map(len, offsets))
    if typed:
        assert set(out["per_label"]) == set(expected) == {"A", "B"}
        for lab, counts in expected.items():
            check({**out["per_label"][lab], "n_tokens": n_tokens}, counts, n_tokens)
        check(out, tuple(map(sum, zip(*expected.values()))), n_tokens)
    else:
        check(out, expected[None], n_tokens)


def test_explicit_offsets_with_empty_and_overlapping_tokens():
    offsets = [[(0, 3), (3, 3), (2, 6), (6, 6), (8, 10)], []]
    gold, pred = [[(3, 4, "A"), (9, 10, "B")], []], [[(0, 1, "A"), (5, 9, "B")], []]
    out = token_scores(gold, pred, token_offsets=offsets, typed=True)
    expected = slow(gold, pred, offsets, typed=True)
    check(out, tuple(map(sum, zip(*expected.values()))), 5)
    assert (out["per_label"]["B"]["tp"], out["per_label"]["B"]["fp"]) == expected["B"][:2]


def test_hf_fast_tokenizer_offsets():
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    rng = random.Random(9)
    texts, gold, pred = random_docs(rng, 30)
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, tokenizers.trainers.WordPieceTrainer(vocab_size=80, special_tokens=["[UNK]"]))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    offsets = [fast(t, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"] for t in texts]
    assert sum(map(len, offsets)) > sum(len(whitespace_offsets(t)) for t in texts)  # sub-word pieces
    out = token_scores(gold, pred, tokenizer=fast, texts=texts)
    check(out, slow(gold, pred, offsets, typed=False)[None], sum(map(len, offsets)))


def test_errors():
    with pytest.raises(ValueError, match="not both"):
        token_scores([[]], [[]], token_offsets=[[]], tokenizer=object())
    with pytest.raises(ValueError, match="needs token_offsets, or texts"):
        token_scores([[]], [[]])
    with pytest.raises(SpanError, match="predictions has 2 documents but references has 1"):
        token_scores([[]], [[], []], token_offsets=[[]])
    with pytest.raises(SpanError, match="2 token offset lists for 1 documents"):
        token_scores([[]], [[]], token_offsets=[[], []])
    with pytest.raises(SpanError, match="document 0: token offsets"):
        token_scores([[]], [[]], token_offsets=[[(3, 1)]])
    with pytest.raises(SpanError, match="past the end of the text"):
        token_scores([[(0, 9)]], [[]], texts=["short"])
