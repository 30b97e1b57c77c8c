"""Char spans <-> token labels, windowing and window merging, over tokenizers built in memory.

Expected values come from hand-worked cases or from ``reference_labels``, a per-character Python
implementation of the documented rules that shares no code with ``ecr_hf.token_classification.alignment``.
"""

from __future__ import annotations

import doctest
import logging
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

import ecr_hf.token_classification.alignment
import ecr_hf.token_classification.data
from ecr_hf.token_classification import (
    TagSet,
    WindowMerger,
    drop_overlapping,
    merge_window_predictions,
    spans_to_token_labels,
    token_labels_to_spans,
    trim_offsets,
    word_index,
)
from ecr_hf.spans import Span, SpanError
from ecr_hf.token_classification import (
    DataCollatorForWindowedTokenClassification,
    ensure_pad_token,
    tokenize_and_align,
)

EN = [
    "The patient had heart failure and chronic kidney disease.",
    "No fever, cough or chest pain was noted; the murmur resolved.",
    "Infective endocarditis (IE) was treated with antibiotics for six weeks.",
]
JA = [
    "感染性心内膜炎（IE）はその経過により急性と亜急性に分類される。",
    "発熱と咳嗽を認め、胸部X線で肺炎と診断した。",
    "心不全の既往があり、腎機能障害を伴う。",
]
WORDS = ["heart", "failure", "fever", "cough", "kidney", "disease", "IE", "（IE）", "café", "naïve",
         "感染性心内膜炎", "咳嗽", "発熱", "の", "経過", "🙂", "x-ray", "3.5mg", "pain", "endocarditis"]
SEPARATORS = [" ", " ", "", "  ", "\n", "、", ", ", "\u3000", "\xa0"]
LABELS = ["A", "B"]


BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def _wrap(backend: Tokenizer, **special) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=128, **special)


def _bert_style(tk: Tokenizer) -> PreTrainedTokenizerFast:
    cls, sep = tk.token_to_id("[CLS]"), tk.token_to_id("[SEP]")
    tk.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                      special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return _wrap(tk, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]")


def wordpiece() -> PreTrainedTokenizerFast:
    tk = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.train_from_iterator(EN * 2, trainers.WordPieceTrainer(vocab_size=120, show_progress=False,
                                                             special_tokens=BERT_SPECIALS))
    return _bert_style(tk)


def japanese_bpe() -> PreTrainedTokenizerFast:
    """BPE over raw Japanese characters (no pre-tokenizer): tokens cross span boundaries."""
    tk = Tokenizer(models.BPE(unk_token="[UNK]"))
    tk.train_from_iterator(JA * 3 + EN, trainers.BpeTrainer(vocab_size=260, show_progress=False,
                                                            special_tokens=BERT_SPECIALS))
    return _bert_style(tk)


def byte_level() -> PreTrainedTokenizerFast:
    """GPT-2 style: byte-level BPE, offsets keep the leading space (trim_offsets=False), no pad token."""
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=400, show_progress=False, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(EN * 3 + JA, trainer)
    return _wrap(tk, eos_token="<|endoftext|>", bos_token="<|endoftext|>")


def byte_fallback() -> PreTrainedTokenizerFast:
    """Llama 2 style: SentencePiece-like BPE with byte fallback, no pre-tokenizer (one 'word'), BOS template."""
    tk = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tk.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")  # train merges within words only,
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tk.train_from_iterator(EN * 3, trainers.BpeTrainer(vocab_size=420, show_progress=False, special_tokens=specials))
    tk.pre_tokenizer = None  # then encode as Llama 2's tokenizer.json does: the normalizer makes the "▁"s
    tk.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tk.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tk.token_to_id("<s>"))])
    return _wrap(tk, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


TOKENIZERS = {"wordpiece": wordpiece(), "japanese_bpe": japanese_bpe(), "byte_level": byte_level(),
              "byte_fallback": byte_fallback()}


def encode(tok, text):
    enc = tok(text, return_offsets_mapping=True)
    return np.array(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2), enc.word_ids()


# ---------------------------------------------------------------- independent reference (per character)

def reference_units(text, offsets, word_ids, label_all_tokens):
    """Lists of token indices per unit (token or word), following the documented rules by hand."""
    trimmed = []
    for s, e in offsets:
        chars = [c for c in range(s, e) if not text[c].isspace()]
        trimmed.append((chars[0], chars[-1] + 1) if chars else None)
    units, max_end, prev_word = [], -1, None
    for t, span in enumerate(trimmed):
        if span is None:
            continue
        new = (not units or label_all_tokens or span[0] > max_end
               or (word_ids is not None and word_ids[t] != prev_word))
        if new:
            units.append([])
        units[-1].append(t)
        max_end = max(max_end, span[1])
        prev_word = None if word_ids is None else word_ids[t]
    return trimmed, units


def reference_labels(text, offsets, spans, label_all_tokens=True, word_ids=None):
    owner = [None] * len(text)
    for k, (s, e, _) in enumerate(spans):
        for c in range(s, e):
            owner[c] = k
    trimmed, units = reference_units(text, offsets, word_ids, label_all_tokens)
    out, prev = ["-"] * len(offsets), None
    for unit in units:
        chars = sorted({c for t in unit for c in range(*trimmed[t])})
        hits = [owner[c] for c in chars if owner[c] is not None]
        own = hits[0] if hits else None
        out[unit[0]] = "O" if own is None else ("B-" if own != prev else "I-") + spans[own][2]
        prev = own
    return out


def names(ids, tags):
    return ["-" if i == -100 else tags.names[i] for i in ids]


# ---------------------------------------------------------------- hand-worked cases

@pytest.mark.parametrize("module", [ecr_hf.token_classification.alignment, ecr_hf.token_classification.data])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_offsets_of_byte_level_tokens_include_the_space_and_are_trimmed():
    tok = TOKENIZERS["byte_level"]
    text = "heart failure"
    offsets, _ = encode(tok, text)
    pieces = [text[s:e] for s, e in offsets]
    assert "".join(pieces) == text and any(p.startswith(" ") for p in pieces)  # "Ġfailure"-style offsets
    trimmed = trim_offsets(offsets, text)
    assert not any(text[s:e] != text[s:e].strip() for s, e in trimmed)
    spans = token_labels_to_spans(["O"] + ["B-A"] + ["I-A"] * (len(offsets) - 2), offsets, ["A"], text=text)
    assert spans == [Span(offsets[1][0], 13, "A")] and text[spans[0].start] != " "


def test_span_boundary_inside_token_widens_and_shared_token_goes_left():
    text = "abcdefghi"
    offsets = [(0, 0), (0, 5), (5, 9), (0, 0)]
    ids = spans_to_token_labels([(2, 7, "A")], offsets, LABELS, text=text)
    assert ids.tolist() == [-100, 1, 2, -100]
    assert token_labels_to_spans(ids, offsets, LABELS) == [Span(0, 9, "A")]
    # token "abcde" touches A=[0,2) and B=[2,7): it goes to A, B starts at its own first token
    ids = spans_to_token_labels([(0, 2, "A"), (2, 7, "B")], offsets, LABELS)
    assert names(ids, TagSet.from_labels(LABELS)) == ["-", "B-A", "B-B", "-"]
    # B lies inside A's token: it has no token of its own and is lost
    ids = spans_to_token_labels([(0, 1, "A"), (2, 3, "B")], offsets, LABELS)
    assert token_labels_to_spans(ids, offsets, LABELS) == [Span(0, 5, "A")]


def test_bytes_of_one_character_inherit_the_span():
    tok = TOKENIZERS["byte_fallback"]
    text = "the 咳 noted"  # 咳 is unseen: three <0x..> tokens with the same offsets
    offsets, word_ids = encode(tok, text)
    toks = tok.convert_ids_to_tokens(tok(text)["input_ids"])
    byte_tokens = [k for k, t in enumerate(toks) if t.startswith("<0x")]
    assert len(byte_tokens) == 3 and len({tuple(offsets[k]) for k in byte_tokens}) == 1
    ids = spans_to_token_labels([(4, 5, "A")], offsets, LABELS, text=text)
    assert names(ids[byte_tokens], TagSet.from_labels(LABELS)) == ["B-A", "I-A", "I-A"]
    assert token_labels_to_spans(ids, offsets, LABELS, text=text) == [Span(4, 5, "A")]


def test_whitespace_only_tokens_are_ignored_and_spans_continue_across_them():
    tok = TOKENIZERS["byte_level"]
    text = "heart  \n failure noted"
    offsets, _ = encode(tok, text)
    ids = spans_to_token_labels([(0, 16, "A")], offsets, LABELS, text=text)
    blank = [k for k, (s, e) in enumerate(offsets) if not text[s:e].strip()]
    assert blank and all(ids[k] == -100 for k in blank)
    noisy = np.where(ids == -100, 3, ids)  # whatever is predicted on blank tokens does not matter
    assert token_labels_to_spans(noisy, offsets, LABELS, text=text) == [Span(0, 16, "A")]


def test_first_sub_token_labels_and_words_without_word_ids():
    tok = TOKENIZERS["wordpiece"]
    text = "chronic kidney disease"
    offsets, word_ids = encode(tok, text)
    assert len(offsets) > 5  # sub-words exist
    ids = spans_to_token_labels([(8, 22, "B")], offsets, LABELS, label_all_tokens=False, word_ids=word_ids, text=text)
    words = word_index(trim_offsets(offsets, text), word_ids)
    first = [k for k in range(len(words)) if words[k] >= 0 and (k == 0 or words[k - 1] != words[k])]
    assert [k for k in range(len(ids)) if ids[k] != -100] == first
    assert names(ids[first], TagSet.from_labels(LABELS)) == ["O", "B-B", "I-B"]
    # predictions on non-first sub-tokens are ignored when decoding words
    noisy = np.where(ids == -100, 1, ids)
    assert token_labels_to_spans(noisy, offsets, LABELS, label_all_tokens=False, word_ids=word_ids,
                                 text=text) == [Span(8, 22, "B")]
    # a Llama 2 style tokenizer reports one word for the whole text; spaces still split words
    lt = TOKENIZERS["byte_fallback"]
    offsets, word_ids = encode(lt, text)
    assert set(w for w in word_ids if w is not None) == {0}
    assert word_index(trim_offsets(offsets, text), word_ids).max() == 2


def test_ignored_tokens_are_skipped_when_decoding():
    offsets = [(0, 3), (4, 7), (8, 11), (12, 15)]
    assert token_labels_to_spans(["B-A", -100, "I-A", "O"], offsets, LABELS) == [Span(0, 11, "A")]
    assert token_labels_to_spans(["B-A", "O", "I-A", "O"], offsets, LABELS) == [Span(0, 3, "A"), Span(8, 11, "A")]


def test_io_scheme_merges_adjacent_spans_of_one_label():
    offsets = [(0, 3), (4, 7), (8, 11)]
    ids = spans_to_token_labels([(0, 3, "A"), (4, 7, "A"), (8, 11, "B")], offsets, LABELS, scheme="IO")
    assert names(ids, TagSet.from_labels(LABELS, "IO")) == ["I-A", "I-A", "I-B"]
    assert token_labels_to_spans(ids, offsets, LABELS, scheme="IO") == [Span(0, 7, "A"), Span(8, 11, "B")]


def test_tag_sets_and_label2id_order():
    tags = TagSet.from_labels({"B-D": 2, "O": 1, "I-D": 0})
    ids = spans_to_token_labels([(0, 3, "D")], [(0, 2), (2, 3), (4, 5)], tags)
    assert ids.tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match=r"needs tags \['I-X'\]"):
        TagSet.from_labels({"O": 0, "B-X": 1})
    with pytest.raises(ValueError, match="scheme is 'IO'"):
        TagSet.from_labels({"O": 0, "B-X": 1, "I-X": 2}, "IO")


def test_bad_spans_raise_and_name_the_document():
    with pytest.raises(SpanError, match=r"document 7: span 0 .* label 'Drug'.*\['A', 'B'\]"):
        spans_to_token_labels([(0, 2, "Drug")], [(0, 2)], LABELS, doc=7)
    with pytest.raises(SpanError, match="document 3: spans .* overlap"):
        spans_to_token_labels([(0, 4, "A"), (2, 6, "B")], [(0, 6)], LABELS, doc=3)
    tok = TOKENIZERS["wordpiece"]
    docs = [{"text": "heart failure", "entities": []},
            {"text": "fever", "entities": [{"start": 0, "end": 9, "label": "A"}]}]
    with pytest.raises(SpanError, match="document 1, span 0: end 9 is past the end"):
        tokenize_and_align(docs, tok, LABELS)
    with pytest.raises(ValueError, match="document 1: text is ''"):
        tokenize_and_align([{"text": "fever", "entities": []}, {"text": "", "entities": []}], tok, LABELS)
    with pytest.raises(ValueError, match=r"column 'spans' not found.*\['text', 'entities'\]"):
        tokenize_and_align(docs, tok, LABELS, spans_column="spans")
    unbounded = PreTrainedTokenizerFast(tokenizer_object=tok.backend_tokenizer)
    with pytest.raises(ValueError, match="sets no model_max_length; give max_length"):
        tokenize_and_align(docs[:1], unbounded, LABELS)
    with pytest.raises(ValueError, match=r"stride must be in \[0, 6\)"):
        tokenize_and_align(docs[:1], tok, LABELS, max_length=8, stride=6)


def test_slow_tokenizer_is_refused(tmp_path):
    from transformers import BertTokenizerLegacy

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "fever"]))
    slow = BertTokenizerLegacy(vocab_file=str(tmp_path / "vocab.txt"))
    with pytest.raises(ValueError, match="slow .* use a fast tokenizer"):
        tokenize_and_align([{"text": "fever", "entities": []}], slow, LABELS)


def test_overlapping_spans_error_or_keep_longest(caplog):
    assert drop_overlapping([(0, 5, "A"), (2, 12, "B"), (12, 14, "A"), (13, 20, "B")]) == (
        [Span(2, 12, "B"), Span(13, 20, "B")], [Span(0, 5, "A"), Span(12, 14, "A")])
    tok = TOKENIZERS["wordpiece"]
    docs = [{"text": "chronic kidney disease",
             "entities": [{"start": 0, "end": 22, "label": "A"}, {"start": 8, "end": 14, "label": "B"}]}]
    with pytest.raises(SpanError, match="overlap.*overlapping='longest'"):
        tokenize_and_align(docs, tok, LABELS)
    with caplog.at_level(logging.WARNING, logger="ecr_hf.token_classification.data"):
        ds = tokenize_and_align(docs, tok, LABELS, overlapping="longest")
    assert "dropped 1 spans" in caplog.text
    row = ds[0]
    assert token_labels_to_spans(row["labels"], row["offset_mapping"], LABELS) == [Span(0, 22, "A")]


def test_ensure_pad_token():
    tok = byte_level()
    assert tok.pad_token is None
    msg = ensure_pad_token(tok)
    assert tok.pad_token == "<|endoftext|>" and "eos_token" in msg
    assert ensure_pad_token(tok) is None
    bare = _wrap(Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, "[UNK]")), unk_token="[UNK]")
    msg = ensure_pad_token(bare)
    assert bare.pad_token == "<pad>" and bare.pad_token_id == 2 and "resize_token_embeddings" in msg


# ---------------------------------------------------------------- properties over random texts

texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=1, max_size=12).map(
    lambda parts: "".join(w + s for w, s in parts).strip() or "fever")


def atoms(text, tok, label_all_tokens):
    """``[start, end)`` of each unit, units sharing a character (byte pieces) merged: where spans may cut."""
    offsets, word_ids = encode(tok, text)
    trimmed, units = reference_units(text, offsets, word_ids, label_all_tokens)
    out, max_end = [], -1
    for unit in units:
        start, end = trimmed[unit[0]][0], max(trimmed[t][1] for t in unit)
        if out and start < max_end:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
        max_end = max(max_end, end)
    return out, offsets, word_ids


def aligned_spans(data, text, tok, label_all_tokens, scheme):
    """Random non-overlapping spans whose edges fall on unit (token or word) boundaries."""
    cuts, offsets, word_ids = atoms(text, tok, label_all_tokens)
    spans, k = [], 0
    gap = 1 if scheme == "IO" else 0  # IO cannot separate touching spans
    while k < len(cuts):
        k += data.draw(st.integers(0, 2))
        if k >= len(cuts):
            break
        j = data.draw(st.integers(k + 1, min(k + 3, len(cuts))))
        spans.append(Span(cuts[k][0], cuts[j - 1][1], data.draw(st.sampled_from(LABELS))))
        k = j + gap
    return spans, offsets, word_ids


@pytest.mark.parametrize("name", list(TOKENIZERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, data=st.data(), label_all_tokens=st.booleans(), scheme=st.sampled_from(["BIO", "IO"]))
def test_round_trip_on_token_boundaries(name, text, data, label_all_tokens, scheme):
    tok = TOKENIZERS[name]
    spans, offsets, word_ids = aligned_spans(data, text, tok, label_all_tokens, scheme)
    ids = spans_to_token_labels(spans, offsets, LABELS, scheme=scheme, label_all_tokens=label_all_tokens,
                                word_ids=word_ids, text=text)
    back = token_labels_to_spans(ids, offsets, LABELS, scheme=scheme, label_all_tokens=label_all_tokens,
                                 word_ids=word_ids, text=text)
    assert back == spans


@pytest.mark.parametrize("name", list(TOKENIZERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, data=st.data(), label_all_tokens=st.booleans())
def test_labels_match_per_character_reference(name, text, data, label_all_tokens):
    """Arbitrary spans (edges inside tokens too) are labelled as the documented rules say."""
    tok = TOKENIZERS[name]
    offsets, word_ids = encode(tok, text)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = [Span(a, b, data.draw(st.sampled_from(LABELS))) for a, b in zip(cuts[::2], cuts[1::2]) if a < b]
    ids = spans_to_token_labels(spans, offsets, LABELS, label_all_tokens=label_all_tokens, word_ids=word_ids, text=text)
    assert names(ids, TagSet.from_labels(LABELS)) == reference_labels(text, offsets, spans, label_all_tokens, word_ids)


# ---------------------------------------------------------------- windows and merging

def long_docs(tok, n_docs=3, seed=0):
    """Documents of 40-80 random words with spans aligned to token atoms."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        words = rng.choice(WORDS, size=rng.integers(40, 80))
        text = "".join(w + rng.choice(SEPARATORS) for w in words).strip()
        cuts, _, _ = atoms(text, tok, True)
        spans, k = [], int(rng.integers(0, 3))
        while k < len(cuts):
            j = min(k + int(rng.integers(1, 4)), len(cuts))
            spans.append({"start": cuts[k][0], "end": cuts[j - 1][1], "label": str(rng.choice(LABELS))})
            k = j + int(rng.integers(0, 4))
        docs.append({"text": text, "entities": spans})
    return docs


def gold(docs, tok, label_all_tokens=True):
    """Each document's spans as its token labels represent them (the best any model can do)."""
    out = []
    for d in docs:
        offsets, word_ids = encode(tok, d["text"])
        ids = spans_to_token_labels(d["entities"], offsets, LABELS, label_all_tokens=label_all_tokens,
                                    word_ids=word_ids, text=d["text"])
        out.append(token_labels_to_spans(ids, offsets, LABELS, label_all_tokens=label_all_tokens,
                                         word_ids=word_ids, text=d["text"]))
    return out


def one_hot(rows, num_labels, rng):
    """Window logits from the features' labels; ignored (-100) tokens get random classes."""
    labels = np.array(rows, dtype=np.int64)
    labels = np.where(labels == -100, rng.integers(0, num_labels, labels.shape), labels)
    return np.eye(num_labels, dtype=np.float32)[labels]


@pytest.mark.parametrize("name", ["wordpiece", "japanese_bpe", "byte_level", "byte_fallback"])
def test_windows_cover_every_token_and_merge_back(name):
    tok = TOKENIZERS[name]
    docs = long_docs(tok)
    ds = tokenize_and_align(docs, tok, LABELS, max_length=16, stride=4)
    rows = ds[:]
    tags = TagSet.from_labels(LABELS)
    for k, d in enumerate(docs):
        full = tok(d["text"], add_special_tokens=False)["input_ids"]
        mine = [i for i, doc in enumerate(rows["document_index"]) if doc == k]
        assert len(mine) > 1 and all(len(rows["input_ids"][i]) <= 16 for i in mine)
        rebuilt = np.full(len(full), -1)
        for i in mine:
            pos = np.array(rows["token_positions"][i])
            special = pos < 0
            assert (np.array(rows["labels"][i])[special] == -100).all()
            assert (np.array(rows["offset_mapping"][i])[special] == 0).all()
            rebuilt[pos[pos >= 0]] = np.array(rows["input_ids"][i])[pos >= 0]
        assert rebuilt.tolist() == full  # every token is in some window, in order
    expected = gold(docs, tok)
    assert sum(map(len, expected)) > 10
    assert expected == [sorted(map(Span._make, [(s["start"], s["end"], s["label"]) for s in d["entities"]]))
                        for d in docs]  # spans on token boundaries survive the token form exactly
    for strategy in ("central", "average"):
        merger = WindowMerger(LABELS, strategy=strategy)
        rng = np.random.default_rng(1)
        for i in range(len(ds)):
            merger.add(one_hot([rows["labels"][i]], tags.num_labels, rng), [rows["token_positions"][i]],
                       [rows["document_index"][i]], [rows["offset_mapping"][i]])
        assert merger.finalize() == expected


def test_merging_in_any_order_over_padded_batches_with_eos_in_text():
    """GPT-2 style tokenizer padded with EOS; a literal EOS inside a document stays a real token."""
    tok = byte_level()
    ensure_pad_token(tok)
    docs = long_docs(tok, n_docs=4, seed=3)
    docs[0]["text"] = "fever<|endoftext|> " + docs[0]["text"]
    docs[0]["entities"] = [{"start": 0, "end": 5, "label": "A"}] + [
        {**s, "start": s["start"] + 19, "end": s["end"] + 19} for s in docs[0]["entities"]]
    ds = tokenize_and_align(docs, tok, LABELS, max_length=12, stride=3)
    eos_rows = [i for i in range(len(ds)) if tok.eos_token_id in ds[i]["input_ids"]]
    assert eos_rows and all(ds[i]["labels"][ds[i]["input_ids"].index(tok.eos_token_id)] == 0 for i in eos_rows)
    expected = gold(docs, tok)
    tags = TagSet.from_labels(LABELS)
    collate = DataCollatorForWindowedTokenClassification(tok, pad_to_multiple_of=8, return_tensors="np")
    order = np.random.default_rng(0).permutation(len(ds))
    for with_counts, side in ((True, "right"), (False, "left")):
        tok.padding_side = side
        merger = WindowMerger(LABELS, num_documents=len(docs))
        rng = np.random.default_rng(2)
        for b in range(0, len(order), 5):
            batch = collate([ds[int(i)] for i in order[b:b + 5]])
            assert batch["input_ids"].shape[1] % 8 == 0
            pad = batch["attention_mask"] == 0
            assert pad[:, 0 if side == "left" else -1].any() and (batch["input_ids"][pad] == tok.eos_token_id).all()
            assert (batch["token_positions"][pad] == -1).all() and (batch["labels"][pad] == -100).all()
            # logits, or label ids as they are (-100 on blank tokens included)
            logits = one_hot(batch["labels"], tags.num_labels, rng) if with_counts else batch["labels"]
            merger.add(logits, batch["token_positions"], batch["document_index"], batch["offset_mapping"],
                       num_windows=batch["num_windows"] if with_counts else None)
        assert not merger._pending if with_counts else len(merger._pending) == len(docs)  # decoded on arrival
        assert merger.finalize() == expected
    batch = DataCollatorForWindowedTokenClassification(tok)([ds[0], ds[1]])
    assert all(v.dtype == torch.int64 for v in batch.values()) and batch["offset_mapping"].shape[-1] == 2


def test_central_strategy_ignores_window_edges_average_does_not():
    tok = TOKENIZERS["wordpiece"]
    docs = long_docs(tok, n_docs=2, seed=5)
    ds = tokenize_and_align(docs, tok, LABELS, max_length=14, stride=6)
    tags = TagSet.from_labels(LABELS)
    expected = gold(docs, tok)
    results = {}
    for strategy in ("central", "average"):
        merger = WindowMerger(LABELS, strategy=strategy)
        for row in ds:
            pos = np.array(row["token_positions"])
            labels = np.where(np.array(row["labels"]) == -100, 0, row["labels"])
            logits = np.eye(tags.num_labels)[labels]
            content = np.flatnonzero(pos >= 0)
            n = max(p for r in ds if r["document_index"] == row["document_index"] for p in r["token_positions"]) + 1
            for k in (content[0], content[-1]):  # a strong wrong vote at window edges inside the document
                if pos[k] not in (0, n - 1):
                    wrong = tags.label2id["B-A"] if labels[k] == tags.outside_id else tags.outside_id
                    logits[k] = 0
                    logits[k, wrong] = 5.0
            merger.add(logits[None], pos[None], [row["document_index"]], [row["offset_mapping"]])
        results[strategy] = merger.finalize()
    assert results["central"] == expected
    assert results["average"] != expected


def test_merge_window_predictions_by_hand():
    pos = [[-1, 0, 1, 2, 3, -1], [-1, 2, 3, 4, 5, -1]]  # document of 6 tokens, windows share 2 and 3
    a = np.zeros((6, 2))
    a[[1, 2, 3, 4], [0, 0, 1, 1]] = 1.0  # window 0: tokens 0..3 -> 0, 0, 1, 1
    b = np.zeros((6, 2))
    b[[1, 2, 3, 4], [0, 0, 0, 1]] = [1.0, 3.0, 1.0, 1.0]  # window 1: tokens 2..5 -> 0, 0, 0, 1
    # context = min(tokens left, tokens right) within the window
    # token 2: window 0 min(2, 1)=1, window 1 min(0, 3)=0 -> window 0 says 1
    # token 3: window 0 min(3, 0)=0, window 1 min(1, 2)=1 -> window 1 says 0
    assert merge_window_predictions([a, b], pos, strategy="central").argmax(-1).tolist() == [0, 0, 1, 0, 0, 1]
    # average: token 2 (0 + 1, 1 + 0) / 2, token 3 (0 + 3, 1 + 0) / 2
    assert merge_window_predictions([a, b], pos, strategy="average")[2:4].tolist() == [[0.5, 0.5], [1.5, 0.5]]
    with pytest.raises(ValueError, match=r"document tokens \[2, 3\] are in no window"):
        merge_window_predictions([a, b], [[-1, 0, 1, -1, -1, -1], [-1, 4, 5, -1, -1, -1]])


def test_merger_reports_missing_and_extra_windows():
    merger = WindowMerger(LABELS, num_documents=2)
    logits, pos, off = np.zeros((1, 3, 5)), [[-1, 0, -1]], [[(0, 0), (0, 3), (0, 0)]]
    merger.add(logits, pos, [0], off, num_windows=[2])
    with pytest.raises(ValueError, match=r"documents \[1\] got no window"):
        merger.finalize()
    merger = WindowMerger(LABELS)
    merger.add(logits, pos, [0], off, num_windows=[2])
    with pytest.raises(ValueError, match="document 0 got 1 of its 2 windows"):
        merger.finalize()
    merger = WindowMerger(LABELS)
    merger.add(logits, pos, [0], off, num_windows=[1])
    with pytest.raises(ValueError, match="document 0 got a window after all its 1 windows"):
        merger.add(logits, pos, [0], off, num_windows=[1])


def test_first_sub_token_windows_merge_back():
    tok = TOKENIZERS["wordpiece"]
    docs = long_docs(tok, n_docs=2, seed=7)
    ds = tokenize_and_align(docs, tok, LABELS, max_length=16, stride=4, label_all_tokens=False)
    tags = TagSet.from_labels(LABELS)
    merger = WindowMerger(LABELS, label_all_tokens=False)
    rng = np.random.default_rng(4)
    for row in ds:
        merger.add(one_hot([row["labels"]], tags.num_labels, rng), [row["token_positions"]],
                   [row["document_index"]], [row["offset_mapping"]], word_ids=[row["word_ids"]])
    assert merger.finalize() == gold(docs, tok, label_all_tokens=False)


def test_num_proc_gives_the_same_dataset():
    tok = TOKENIZERS["japanese_bpe"]
    docs = long_docs(tok, n_docs=6, seed=11)
    one = tokenize_and_align(docs, tok, LABELS, max_length=20, stride=5, batch_size=2)
    two = tokenize_and_align(docs, tok, LABELS, max_length=20, stride=5, batch_size=2, num_proc=2)
    assert one.to_list() == two.to_list() and len(one) > len(docs)
    unlabelled = tokenize_and_align([{"text": d["text"]} for d in docs], tok, LABELS, spans_column=None,
                                    max_length=20, stride=5)
    assert unlabelled.to_list() == one.remove_columns("labels").to_list()


def test_left_truncating_tokenizer_gives_the_same_windows():
    import copy

    tok = TOKENIZERS["byte_fallback"]
    left = copy.copy(tok)
    left.truncation_side = "left"  # decoder checkpoints often ship this
    docs = long_docs(tok, n_docs=2, seed=13)
    expected = tokenize_and_align(docs, tok, LABELS, max_length=10, stride=2).to_list()
    assert tokenize_and_align(docs, left, LABELS, max_length=10, stride=2).to_list() == expected
    assert left.truncation_side == "left"


def test_tag_names_given_as_entity_labels_raise():
    with pytest.raises(ValueError, match="look like tags"):
        TagSet.from_labels(["O", "B-Disease", "I-Disease"])


# ---------------------------------------------------------------- tag sets of other checkpoints

@pytest.mark.parametrize("label2id, scheme, entities", [
    ({"B-Disease": 1, "I-Disease": 2, "O": 0}, "BIO", ("Disease",)),
    ({"I-PER": 0, "O": 2, "B-PER": 1}, "BIO", ("PER",)),  # O last, as some checkpoints have it
    ({"O": 0, "I-D": 1, "I-C": 2}, "IO", ("D", "C")),
    ({"O": 0, "PER": 1, "LOC": 2}, "IO", ("PER", "LOC")),  # unprefixed IO, as transformers' pipeline reads it
    ({"S-D": 0, "E-D": 1, "O": 2, "I-D": 3, "B-D": 4}, "BIOES", ("D",)),
    ({"O": 0, "B-D": 1, "I-D": 2, "L-D": 3, "U-D": 4, "B-Sign-symptom": 5, "I-Sign-symptom": 6,
      "L-Sign-symptom": 7, "U-Sign-symptom": 8}, "BILOU", ("D", "Sign-symptom")),
])
def test_checkpoint_tag_sets_are_read_in_any_id_order(label2id, scheme, entities):
    tags = TagSet.from_labels(label2id)
    assert (tags.scheme, tags.entity_labels, tags.label2id) == (scheme, entities, label2id)


@pytest.mark.parametrize("label2id, message", [
    ({"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}, r"placeholders .* id2label=\{0: 'O'"),
    ({"No Disease": 0, "Disease": 1, "Disease Continuation": 2}, "exactly one 'O' tag.*id2label="),
    ({"O": 0, "Begin": 1, "I-Disease": 2}, r"cannot read tags \['Begin'\].*id2label="),
    ({"O": 0, "B_X": 1, "I_X": 2}, r"cannot read tags \['B_X', 'I_X'\]"),  # not read as IO labels 'B_X', 'I_X'
    ({"O": 0, "X-B": 1, "X-I": 2}, r"cannot read tags \['X-B', 'X-I'\]"),
    ({"O": 0, "B-X": 1, "I-X": 2, "E-X": 3, "L-X": 4}, r"mix the prefixes \['B', 'E', 'I', 'L'\]"),
    ({"O": 0, "B-X": 1, "I-X": 2, "E-X": 3}, r"scheme BIOES needs tags \['S-X'\]"),
])
def test_unreadable_tag_sets_raise_and_say_how_to_fix(label2id, message):
    with pytest.raises(ValueError, match=message):
        TagSet.from_labels(label2id)


def test_bioes_and_bilou_are_decoded_not_encoded():
    offsets = [(0, 5), (6, 13), (14, 19), (20, 25)]  # heart failure fever cough
    for tags in (["B-D", "E-D", "S-S", "S-S"], ["B-D", "L-D", "U-S", "U-S"]):
        scheme = "BIOES" if "S-S" in tags else "BILOU"
        spans = token_labels_to_spans(tags, offsets, ["D", "S"], scheme=scheme)
        assert spans == [Span(0, 13, "D"), Span(14, 19, "S"), Span(20, 25, "S")]
    with pytest.raises(ValueError, match="BIO or IO tags.*these tags are BIOES"):
        spans_to_token_labels([(0, 5, "D")], offsets, ["D"], scheme="BIOES")


BIOES_TAGS = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "E-Y", "S-Y"]


@settings(max_examples=100, deadline=None)
@given(tags=st.lists(st.sampled_from(BIOES_TAGS + [-100]), max_size=30))
def test_bioes_and_bilou_read_leniently_as_conlleval(tags):
    """Ill-formed sequences (a stray E-, I- after E-, B- without E-) keep every tagged token, as
    seqeval's default (conlleval) reading does; -100 tokens are skipped and a span continues across them."""
    from seqeval.metrics.sequence_labeling import get_entities

    offsets = [(4 * k, 4 * k + 3) for k in range(len(tags))]
    kept = [k for k, t in enumerate(tags) if t != -100]
    expected = [Span(offsets[kept[s]][0], offsets[kept[e]][1], label)
                for label, s, e in get_entities([tags[k] for k in kept])]
    bioes = TagSet.from_labels(["X", "Y"], "BIOES")
    assert token_labels_to_spans(tags, offsets, bioes) == sorted(expected)
    bilou = [t if t == -100 else t.replace("E-", "L-").replace("S-", "U-") for t in tags]
    assert token_labels_to_spans(bilou, offsets, ["X", "Y"], scheme="BILOU") == sorted(expected)


def test_bioes_span_cut_by_a_window_edge_decodes_as_one():
    tags = TagSet.from_labels({"O": 0, "B-D": 1, "I-D": 2, "E-D": 3, "S-D": 4})
    merger = WindowMerger(tags)
    windows = np.eye(5)[[[0, 0, 1, 2, 0], [0, 2, 3, 4, 0]]]  # token 2 (I-D) is in both windows
    merger.add(windows, token_positions=[[-1, 0, 1, 2, -1], [-1, 2, 3, 4, -1]], document_index=[0, 0],
               offset_mapping=[[(0, 0), (0, 2), (3, 8), (9, 14), (0, 0)], [(0, 0), (9, 14), (15, 20), (21, 24),
                                                                         (0, 0)]])
    assert merger.finalize() == [[Span(3, 20, "D"), Span(21, 24, "D")]]
