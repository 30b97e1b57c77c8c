"""Faithful constrained decoding: every generation copies its source exactly and marks balanced spans.

Checked against an independent, slow reference (a memoised search over the marked text) on a tiny
random-weight Llama with two tokenizers built here: a byte-level BPE (Japanese characters split
into byte pieces) and a SentencePiece-style BPE with ``"▁"`` spaces and ``<0xNN>`` byte fallback.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessor, PreTrainedTokenizerFast

from ecr_hf.instruct import ByteVocabulary, FaithfulMarkerLogitsProcessor, token_bytes

JA = [
    "感染性心内膜炎（IE）はその経過中に脳梗塞を合併した。",
    "発熱と咳嗽が見られた。",
    "胸部X線で右下肺野に浸潤影を認めた。",
]
EN = [
    "The patient had lung cancer and severe chest pain.",
    "No fever was reported.",
    "CT showed a 3.5 cm mass in the right lower lobe!",
]
MARKED = [
    "@@感染性心内膜炎##（IE）はその経過中に@@脳梗塞##を合併した。",
    "@@発熱##と@@咳嗽##が見られた。",
    "The patient had @@lung cancer## and @@severe chest pain##.",
]
TRAIN = JA + EN + MARKED


def _hf(tok: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


@lru_cache(maxsize=None)
def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TRAIN * 3, trainer)
    return _hf(tok)


@lru_cache(maxsize=None)
def sentencepiece_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    trainer = trainers.BpeTrainer(vocab_size=260, special_tokens=["<pad>", "<s>", "</s>"])
    tok.train_from_iterator(TRAIN * 3, trainer)
    # as in Llama/SentencePiece vocabularies, the 256 byte pieces are ordinary tokens of the model
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    return _hf(Tokenizer.from_str(json.dumps(spec)))


TOKENIZERS = {"byte_level": byte_level_tokenizer, "sentencepiece": sentencepiece_tokenizer}


@lru_cache(maxsize=None)
def tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config).eval()


# --- independent reference -------------------------------------------------------------------------

def faithful(marked: str, source: str, om: str = "@@", cm: str = "##", *, prefix: bool = False,
             data: bytes | None = None, labels: list[str] | None = None, required: bool = True) -> bool:
    """Whether ``marked`` (or, with ``prefix``, some continuation of it) is ``source`` with balanced
    non-nested non-empty spans. Works over bytes so a prefix may end inside a character. With
    ``labels`` (typed markers), each closing marker is followed by the label the longest-label rule
    reads there (or, if not ``required``, by no label when none matches)."""
    out = marked.encode() if data is None else data
    src, o, c = source.encode(), om.encode(), cm.encode()
    raw = [x.encode() for x in labels or ()]
    starts = {len(source[:k].encode()) for k in range(len(source) + 1)}

    def after_close(i: int, j: int) -> bool:
        if labels is None:
            return ok(i, j, False, False)
        rest = out[i:]
        if prefix and any(x.startswith(rest) for x in raw):  # a label can still be completed here
            return True
        read = max((x for x in raw if rest.startswith(x)), key=len, default=None)
        if read is None:
            return not required and ok(i, j, False, False)
        return ok(i + len(read), j, False, False)

    @lru_cache(maxsize=None)
    def ok(i: int, j: int, inside: bool, has_char: bool) -> bool:
        if i == len(out):
            return prefix or (j == len(src) and not inside)
        if j < len(src) and out[i] == src[j] and ok(i + 1, j + 1, inside, inside):
            return True
        if j in starts and not inside and j < len(src):
            if out.startswith(o, i) and ok(i + len(o), j, True, False):
                return True
            if prefix and o.startswith(out[i:]):
                return True
        if j in starts and inside and has_char:
            if out.startswith(c, i) and after_close(i + len(c), j):
                return True
            if prefix and c.startswith(out[i:]):
                return True
        return False

    return ok(0, 0, False, False)


def strip_markers(text: str) -> str:
    return text.replace("@@", "").replace("##", "")


class Boost(LogitsProcessor):
    """Pushes marker tokens up so that random-weight models actually open and close spans."""

    def __init__(self, ids: list[int], by: float = 8.0):
        self.ids, self.by = ids, by

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.ids] += self.by
        return scores


def marker_ids(tokenizer) -> list[int]:
    table = token_bytes(tokenizer)
    return [i for i, b in enumerate(table) if b and (b.startswith(b"@") or b.startswith(b"#"))]


def generate(tokenizer, sources, *, do_sample=False, boost=True, max_new_tokens=None, seed=0, **kwargs):
    model = tiny_llama(len(tokenizer))
    tokenizer.padding_side = "left"
    prompts = [f"<s>{s}\n" for s in sources]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    budget = max_new_tokens or 4 * max(len(s.encode()) for s in sources) + 16
    processor = FaithfulMarkerLogitsProcessor(sources, tokenizer, max_new_tokens=budget)
    processors = ([Boost(marker_ids(tokenizer))] if boost else []) + [processor]
    torch.manual_seed(seed)
    out = model.generate(**batch, logits_processor=processors, max_new_tokens=budget, do_sample=do_sample,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **kwargs)
    new = out[:, batch["input_ids"].shape[1]:]
    return [processor.vocab.decode(row) for row in new.tolist()], new


# --- token bytes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(TOKENIZERS))
def test_token_bytes_spell_the_text(name):
    tok = TOKENIZERS[name]()
    table = token_bytes(tok)
    assert all(table[i] is None for i in tok.all_special_ids)
    for text in [*TRAIN, "未知の語彙 ☃ 𝔸 x@y#z"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert b"".join(table[i] for i in ids) == text.encode()
        assert ByteVocabulary.from_tokenizer(tok).decode(ids) == text == tok.decode(ids)


def test_byte_level_pieces_are_partial_characters():
    table = token_bytes(byte_level_tokenizer())
    partial = [b for b in table if b is not None and not _is_utf8(b)]
    assert partial, "the byte-level vocabulary should hold pieces of Japanese characters"


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# --- generation is faithful ----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(TOKENIZERS))
@pytest.mark.parametrize("do_sample", [False, True])
def test_generation_reproduces_the_source(name, do_sample):
    tok = TOKENIZERS[name]()
    sources = JA + EN
    texts, _ = generate(tok, sources, do_sample=do_sample, seed=1)
    n_spans = 0
    for text, source in zip(texts, sources):
        assert strip_markers(text) == source
        assert faithful(text, source)
        assert text.count("@@") == text.count("##")
        n_spans += text.count("@@")
    assert n_spans > 0  # spans were opened and closed, not only copied


@pytest.mark.parametrize("name", list(TOKENIZERS))
def test_unboosted_and_multiple_return_sequences(name):
    tok = TOKENIZERS[name]()
    texts, _ = generate(tok, JA[:2], do_sample=True, boost=False, num_return_sequences=2, seed=3)
    assert len(texts) == 4
    for k, text in enumerate(texts):
        assert faithful(text, JA[k // 2]) and strip_markers(text) == JA[k // 2]


def test_unconstrained_random_model_is_not_faithful():
    """The control: without the processor the same model does not copy its source."""
    tok = byte_level_tokenizer()
    model = tiny_llama(len(tok))
    tok.padding_side = "left"
    batch = tok([f"<s>{s}\n" for s in JA], return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(**batch, max_new_tokens=40, do_sample=False, pad_token_id=0, eos_token_id=2)
    vocab = ByteVocabulary.from_tokenizer(tok)
    texts = [vocab.decode(r) for r in out[:, batch["input_ids"].shape[1]:].tolist()]
    assert not any(faithful(t, s) for t, s in zip(texts, JA))


def test_tight_budget_still_finishes():
    """With max_new_tokens equal to the shortest spelling plus EOS, generation is steered to finish."""
    tok = sentencepiece_tokenizer()
    vocab = ByteVocabulary.from_tokenizer(tok)
    source = JA[0]
    need = int(vocab.min_tokens(source.encode())[0]) + 1
    assert need <= len(tok(source, add_special_tokens=False)["input_ids"]) + 1
    texts, new = generate(tok, [source], max_new_tokens=need)
    assert faithful(texts[0], source)  # markers only where a token spells them at no extra cost
    assert new[0, -1].item() == tok.eos_token_id and new.shape[1] == need
    with pytest.raises(ValueError, match="too small for source 0"):
        generate(tok, [source], max_new_tokens=need - 1)


def test_source_containing_marker_characters():
    tok = byte_level_tokenizer()
    sources = ["x@y#z 1@@2", "メール@病院 #3"]
    texts, _ = generate(tok, sources, do_sample=True, seed=5)
    for text, source in zip(texts, sources):
        assert faithful(text, source)


# --- the allowed set is exactly the faithful continuations -------------------------------------

@pytest.mark.parametrize("name", list(TOKENIZERS))
@pytest.mark.parametrize("marked", [MARKED[0], MARKED[2], "発熱と@@咳嗽##が@@見##られた。"])
def test_allowed_tokens_match_brute_force(name, marked):
    tok = TOKENIZERS[name]()
    source = strip_markers(marked)
    table = token_bytes(tok)
    prefix_ids = tok(marked, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    prompt = torch.tensor([[1, 5, 6]])
    processor = FaithfulMarkerLogitsProcessor([source], tok)
    for k in range(len(prefix_ids)):
        ids = torch.cat([prompt, torch.tensor([prefix_ids[:k]], dtype=torch.long)], dim=1)
        allowed = set(np.flatnonzero(np.isfinite(processor(ids, torch.zeros(1, len(tok))).numpy()[0])).tolist())
        done = b"".join(table[i] for i in prefix_ids[:k])
        expected = {t for t, raw in enumerate(table)
                    if raw is not None and faithful("", source, prefix=True, data=done + raw)}
        if faithful("", source, data=done):
            expected.add(tok.eos_token_id)
        # every token allowed here can be completed: both vocabularies hold all 256 bytes
        assert allowed == expected, f"step {k} after {done.decode(errors='replace')!r}"
        assert prefix_ids[k] in allowed


# --- errors --------------------------------------------------------------------------------------

def test_errors():
    tok = byte_level_tokenizer()
    with pytest.raises(TypeError, match="list of strings"):
        FaithfulMarkerLogitsProcessor("abc", tok)
    with pytest.raises(ValueError, match="distinct"):
        FaithfulMarkerLogitsProcessor(["abc"], tok, open_marker="#", close_marker="#")
    processor = FaithfulMarkerLogitsProcessor(["ab", "cd"], tok)
    with pytest.raises(ValueError, match="multiple of the number of sources"):
        processor(torch.ones(3, 4, dtype=torch.long), torch.zeros(3, len(tok)))
    # a char-level vocabulary without "z" cannot spell the source
    chars = {c: i for i, c in enumerate(["<pad>", "<s>", "</s>", "a", "b", "@", "#"])}
    wl = Tokenizer(models.WordLevel(chars, unk_token="<pad>"))
    wl.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    with pytest.raises(ValueError, match="cannot be spelled.*'z'"):
        FaithfulMarkerLogitsProcessor(["abz"], _hf(wl))
    # once started, a processor belongs to one generate call
    processor = FaithfulMarkerLogitsProcessor(["ab"], tok)
    processor(torch.ones(1, 4, dtype=torch.long), torch.zeros(1, len(tok)))
    with pytest.raises(RuntimeError, match="build a new processor"):
        processor(torch.ones(1, 2, dtype=torch.long), torch.zeros(1, len(tok)))
