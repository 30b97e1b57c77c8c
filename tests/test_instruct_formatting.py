"""Instruction formatting: the paper's template verbatim, sentence units, and what TRL builds from them."""

from __future__ import annotations

import os
from functools import lru_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from trl import SFTConfig, SFTTrainer

from ecr_hf.spans import MarkerError, parse_marked
from ecr_hf.instruct import sentence_units, to_instruction_dataset
from ecr_hf.instruct import EN_TEMPLATE, JA_TEMPLATE, render_prompt, resolve_template

DOCS = [
    {"doc_id": "a", "text": "感染性心内膜炎（IE）はその経過中に脳梗塞を\n合併した。発熱なし。",
     "entities": [{"start": 0, "end": 7, "label": "C"}, {"start": 18, "end": 25, "label": "C"}]},
    {"doc_id": "b", "text": "The patient had lung cancer. Dose 3.5 mg daily!  \n\nNo fever.",
     "entities": [{"start": 16, "end": 27, "label": "C"}, {"start": 51, "end": 59, "label": "C"}]},
    {"doc_id": "c", "text": "所見なし。", "entities": []},
]


# --- templates -----------------------------------------------------------------------------------

def test_japanese_template_is_the_papers_verbatim():
    expected = ("以下は、タスクを説明する指示と、文脈のある入力組み合わせです。要求を適切に満たす応答を書きなさい。 \n"
                "\n### 指示:\n与えられた文に対して重要臨床概念を@@と##で強調表示し、抽出してください。重要臨床概念"
                "が存在しない場合は同じ文を出力してください。 \n\n### 入力:発熱あり。 \n\n### 応答:")
    assert render_prompt("ja", "発熱あり。") == expected
    assert resolve_template("ja") == JA_TEMPLATE


def test_english_template_has_the_japanese_layout():
    expected = ("The following is a combination of instructions describing a task and contextual input. Write a "
                "response that appropriately fulfills the request. \n\n### Instruction:\nFor the given sentence, "
                "highlight the key clinical concepts using @@ and ##, and extract them. If there are no key "
                "clinical concepts, output the same sentence as it is. \n\n### Input:No fever. \n\n### Response:")
    assert render_prompt("en", "No fever.") == expected == EN_TEMPLATE.replace("{input}", "No fever.")


def test_user_templates():
    assert render_prompt("<{input}> {x}", "a{b}") == "<a{b}> {x}"
    for bad in ["no placeholder", "{input}{input}"]:
        with pytest.raises(ValueError, match="exactly once"):
            resolve_template(bad)


# --- sentence units ------------------------------------------------------------------------------

def test_sentence_units():
    text = DOCS[1]["text"]
    units = sentence_units(text)
    assert [text[a:b] for a, b in units] == ["The patient had lung cancer.", "Dose 3.5 mg daily!", "No fever."]
    ja = DOCS[0]["text"]
    assert [ja[a:b] for a, b in sentence_units(ja)] == ["感染性心内膜炎（IE）はその経過中に脳梗塞を", "合併した。", "発熱なし。"]
    # a span across the line break merges the two pieces it touches
    merged = sentence_units(ja, DOCS[0]["entities"])
    assert [ja[a:b] for a, b in merged] == ["感染性心内膜炎（IE）はその経過中に脳梗塞を\n合併した。", "発熱なし。"]
    quote = "「痛い！」と訴えた。"
    assert [quote[a:b] for a, b in sentence_units(quote)] == ["「痛い！」", "と訴えた。"]
    # trimming never cuts into a span that starts with whitespace
    assert sentence_units("a. b.", [(2, 4)]) == [(0, 2), (2, 5)]
    assert sentence_units(" \n ") == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list("ab 。.\n!x")), min_size=1, max_size=30), st.data())
def test_units_keep_every_span_and_every_character(chars, data):
    text = "".join(chars)
    n = len(text)
    cuts = sorted(data.draw(st.sets(st.integers(0, n), max_size=6)))
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2]) if a < b]
    units = sentence_units(text, spans)
    assert all(a < b for a, b in units) and all(b <= c for (_, b), (c, _) in zip(units, units[1:]))
    for a, b in spans:
        assert sum(u <= a and b <= v for u, v in units) == 1
    covered = np.zeros(n, bool)
    for a, b in units:
        covered[a:b] = True
    assert all(covered[i] or text[i].isspace() for i in range(n))


# --- datasets ------------------------------------------------------------------------------------

def test_prompt_completion_dataset_round_trips():
    ds = to_instruction_dataset(Dataset.from_list(DOCS), template="en")
    assert set(ds.column_names) == {"prompt", "completion", "source", "entities", "doc_index", "offset", "doc_id"}
    assert ds["completion"] == [
        "@@感染性心内膜炎##（IE）はその経過中に@@脳梗塞を\n合併##した。", "発熱なし。",
        "The patient had @@lung cancer##.", "Dose 3.5 mg daily!", "@@No fever##.", "所見なし。",
    ]
    assert ds["doc_id"] == ["a", "a", "b", "b", "b", "c"]
    n_spans = 0
    for row in ds:
        text, spans = parse_marked(row["completion"])
        assert text == row["source"] and row["prompt"] == render_prompt("en", row["source"])
        assert [s.to_dict() for s in spans] == [{**e, "label": None} for e in row["entities"]]
        doc = DOCS[row["doc_index"]]
        for e in row["entities"]:  # unit offsets map back to the document
            start, end = row["offset"] + e["start"], row["offset"] + e["end"]
            assert doc["text"][start:end] == row["source"][e["start"]:e["end"]]
        n_spans += len(row["entities"])
    assert n_spans == sum(len(d["entities"]) for d in DOCS)


def test_document_units_and_conversational():
    ds = to_instruction_dataset(DOCS, unit="document", conversational=True, template="ja")
    assert ds["source"] == [d["text"] for d in DOCS] and ds["offset"] == [0, 0, 0]
    row = ds[1]
    assert row["prompt"] == [{"role": "user", "content": render_prompt("ja", DOCS[1]["text"])}]
    assert row["completion"] == [{"role": "assistant", "content":
                                  "The patient had @@lung cancer##. Dose 3.5 mg daily!  \n\n@@No fever##."}]


def test_formatting_errors():
    with pytest.raises(ValueError, match="tells the model to use @@ and ##"):
        to_instruction_dataset(DOCS, open_marker="<e>", close_marker="</e>")
    ds = to_instruction_dataset(DOCS[:1], open_marker="<e>", close_marker="</e>", template="{input} =>")
    assert ds["completion"][0].startswith("<e>感染性心内膜炎</e>")
    with pytest.raises(MarkerError, match="document 1: the text already contains the marker '@@'"):
        to_instruction_dataset([DOCS[2], {"text": "mail@@x", "entities": []}])
    with pytest.raises(KeyError, match="text_column="):
        to_instruction_dataset([{"sentence": "x", "entities": []}])
    with pytest.raises(ValueError, match="overlap"):
        to_instruction_dataset([{"text": "abcdef", "entities": [(0, 3), (2, 5)]}])


# --- what TRL builds -------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [d["text"] for d in DOCS] + [JA_TEMPLATE, EN_TEMPLATE] + list(to_instruction_dataset(DOCS)["completion"])
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<s>", "</s>", "<|user|>", "<|bot|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts * 3, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    hf.chat_template = ("{% for m in messages %}{{ '<|user|>' if m.role == 'user' else '<|bot|>' }}{{ m.content }}"
                        "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
                        "{% if add_generation_prompt %}<|bot|>{% endif %}")
    return hf


def sft_trainer(ds: Dataset, tmp_path) -> SFTTrainer:
    tok = tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    args = SFTConfig(output_dir=str(tmp_path), bf16=False, report_to=[], use_cpu=True, max_length=None,
                     activation_checkpointing=False)
    return SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)


@pytest.mark.parametrize("conversational", [False, True])
def test_trl_completion_only_loss_covers_exactly_the_completion(tmp_path, conversational):
    ds = to_instruction_dataset(DOCS, template="ja", conversational=conversational)
    trainer = sft_trainer(ds, tmp_path)
    tok = tokenizer()
    assert trainer.completion_only_loss is True
    prepared = trainer.train_dataset
    assert {"source", "entities", "offset"} <= set(prepared.column_names)  # kept for evaluation
    batch = trainer.data_collator([prepared[i] for i in range(len(prepared))])
    for i, row in enumerate(ds):
        ids, labels = batch["input_ids"][i], batch["labels"][i]
        real = batch["attention_mask"][i].bool()
        loss = labels != -100
        assert torch.equal(labels[loss], ids[loss])
        completion = row["completion"][0]["content"] if conversational else row["completion"]
        prompt = tok.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True) \
            if conversational else row["prompt"]
        # the loss positions are one contiguous block at the end: the completion and its EOS, nothing else
        positions = torch.nonzero(loss).flatten()
        assert positions.tolist() == list(range(int(positions[0]), int(real.sum())))
        assert tok.decode(ids[loss]) == completion + tok.eos_token
        assert tok.decode(ids[real & ~loss]) == prompt


def test_system_prompt_and_pretokenised_decimals():
    docs = [{"text": "p < 0 . 01 . No fever .", "entities": [{"start": 16, "end": 21, "label": "C"}]}]
    ds = to_instruction_dataset(docs, template="Find: {input}", conversational=True, system_prompt="Be exact.")
    assert ds[0]["prompt"] == [{"role": "system", "content": "Be exact."},
                               {"role": "user", "content": "Find: p < 0 . 01 ."}]
    assert list(ds["source"]) == ["p < 0 . 01 .", "No fever ."]
    assert ds[1]["completion"] == [{"role": "assistant", "content": "No @@fever## ."}]
    with pytest.raises(ValueError, match="conversational=True"):
        to_instruction_dataset(docs, template="Find: {input}", system_prompt="Be exact.")
