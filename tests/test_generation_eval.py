"""Evaluation by generation: scores worked out by hand, batched generation, and the trainer end to end."""

from __future__ import annotations

import math
import os
from functools import lru_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from trl import SFTConfig

from ecr_hf.spans import decode_corpus
from ecr_hf.instruct import to_instruction_dataset
from ecr_hf.instruct import (
    ECRSFTConfig,
    ECRSFTTrainer,
    default_lora_config,
    evaluate_generations,
    generate_predictions,
)

DOCS = [
    {"text": "発熱と咳嗽が見られた。", "entities": [{"start": 0, "end": 2, "label": "C"}, {"start": 3, "end": 5, "label": "C"}]},
    {"text": "胸部X線で浸潤影を認めた。", "entities": [{"start": 5, "end": 8, "label": "C"}]},
    {"text": "The patient had lung cancer.", "entities": [{"start": 16, "end": 27, "label": "C"}]},
    {"text": "No fever was reported.", "entities": [{"start": 3, "end": 8, "label": "C"}]},
]
TEMPLATE = "{input}\n=>"


@lru_cache(maxsize=None)
def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [d["text"] for d in DOCS] + list(to_instruction_dataset(DOCS, template=TEMPLATE)["completion"])
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<|user|>", "<|bot|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts * 3, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    hf.chat_template = ("{% for m in messages %}{{ '<|user|>' if m.role == 'user' else '<|bot|>' }}{{ m.content }}"
                        "{% endfor %}{% if add_generation_prompt %}<|bot|>{% endif %}")
    return hf


def tiny_llama(seed: int = 0, hidden: int = 64) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer()), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config)


def strip_markers(text: str) -> str:
    return text.replace("@@", "").replace("##", "")


# --- scoring -------------------------------------------------------------------------------------

def test_evaluate_generations_by_hand():
    rows = [{"source": DOCS[0]["text"], "entities": DOCS[0]["entities"]},
            {"source": DOCS[2]["text"], "entities": DOCS[2]["entities"]}]
    generations = ["@@発熱##と咳が見られた。",  # drops 嗽 (not faithful); misses 咳嗽
                   "The patient had @@lung## @@cancer##."]  # lung cancer in two fragments (4 + 6 of 11)
    m = evaluate_generations(rows, generations, p_values=[1, 2])
    # p = 1: recall = (2 + 0 + 10) / (2 + 2 + 11); precision = every predicted character is gold
    assert m["recall"] == pytest.approx(12 / 15) and m["precision"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(2 * 0.8 / 1.8)
    # p = 2: the fragmented gold span scores sqrt((4/11)^2 + (6/11)^2), weighted by its length 11
    assert m["p2_recall"] == pytest.approx((2 * 1 + 2 * 0 + math.sqrt(52)) / 15)
    assert m["faithfulness_exact_match_rate"] == 0.5 and m["faithfulness_n_exact"] == 1
    assert m["faithfulness_mean_edit_distance"] == 1 and m["faithfulness_mean_length_difference"] == -1
    assert not any(k.startswith("label_") for k in m)  # gold labels dropped: the format is untyped
    with pytest.raises(ValueError, match="one per row"):
        evaluate_generations(rows, generations[:1])


# --- generation ----------------------------------------------------------------------------------

def test_constrained_generation_is_faithful_ordered_and_batch_invariant():
    ds = to_instruction_dataset(DOCS, template=TEMPLATE)
    model = tiny_llama()
    # one budget for all (the default budget depends on the batch, and a tight one steers the answer)
    out1 = generate_predictions(model, tokenizer(), ds, batch_size=1, max_new_tokens=80, show_progress=False)
    out3 = generate_predictions(model, tokenizer(), ds, batch_size=3, max_new_tokens=80, show_progress=False)
    assert out1 == out3  # left padding does not change greedy answers
    assert [strip_markers(g) for g in out1] == list(ds["source"])  # faithful, in the dataset's order
    # template= renders prompts from the sources instead of the prompt column
    rows = [{"source": d["text"]} for d in DOCS]
    assert generate_predictions(model, tokenizer(), rows, template=TEMPLATE, batch_size=2, max_new_tokens=80,
                                show_progress=False) == out1
    # chat prompts go through the chat template
    chat = to_instruction_dataset(DOCS, template=TEMPLATE, conversational=True)
    chat_out = generate_predictions(model, tokenizer(), chat, batch_size=4, do_sample=True, show_progress=False)
    assert [strip_markers(g) for g in chat_out] == list(ds["source"])
    with pytest.raises(ValueError, match="beam search"):
        generate_predictions(model, tokenizer(), ds, generation_kwargs={"num_beams": 2}, show_progress=False)
    with pytest.raises(KeyError, match="prompt"):
        generate_predictions(model, tokenizer(), rows, show_progress=False)


def test_unconstrained_generation_is_decoded_and_scored():
    ds = to_instruction_dataset(DOCS, template=TEMPLATE)
    model = tiny_llama(seed=1)
    out = generate_predictions(model, tokenizer(), ds, constrained=False, max_new_tokens=12, show_progress=False)
    assert len(out) == 4 and all("<|bot|>" not in g for g in out)  # special tokens are not text
    m = evaluate_generations(ds, out)
    assert m["faithfulness_exact_match_rate"] < 1  # a random model does not copy on its own
    assert 0 <= m["f1"] <= 1


# --- the trainer ---------------------------------------------------------------------------------

def config(tmp_path, **kwargs) -> ECRSFTConfig:
    defaults = dict(output_dir=str(tmp_path), bf16=False, report_to=[], use_cpu=True, activation_checkpointing=False,
                    per_device_train_batch_size=4, per_device_eval_batch_size=4, save_strategy="no",
                    eval_strategy="no", disable_tqdm=True, lr_scheduler_type="constant", logging_steps=10)
    return ECRSFTConfig(**{**defaults, **kwargs})


def test_trainer_learns_and_logs_span_metrics(tmp_path):
    ds = to_instruction_dataset(DOCS, template=TEMPLATE)
    trainer = ECRSFTTrainer(tiny_llama(), args=config(tmp_path, learning_rate=1e-2, max_steps=60),
                            train_dataset=ds, eval_dataset=ds, processing_class=tokenizer())
    before = trainer.evaluate()
    for key in ("eval_loss", "eval_f1", "eval_precision", "eval_recall", "eval_p2_f1", "eval_marker_f1",
                "eval_faithfulness_exact_match_rate", "eval_faithfulness_n_spans_dropped"):
        assert key in before, key
    assert before["eval_faithfulness_exact_match_rate"] == 1.0  # constrained: faithful by construction
    assert before["eval_f1"] < 0.9
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < 0.1 * losses[0]
    after = trainer.evaluate()
    assert after["eval_loss"] < before["eval_loss"]
    assert after["eval_f1"] == pytest.approx(1.0) and after["eval_p100_f1"] == pytest.approx(1.0)
    # the answers decode to exactly the gold character spans, inside the sources
    answers = generate_predictions(trainer.model, tokenizer(), ds, show_progress=False)
    spans, report = decode_corpus(answers, list(ds["source"]))
    assert report.exact_match_rate == 1.0
    assert [[(s.start, s.end) for s in doc] for doc in spans] == \
        [[(e["start"], e["end"]) for e in row] for row in ds["entities"]]
    assert any(e["eval_f1"] == after["eval_f1"] for e in trainer.state.log_history if "eval_f1" in e)


def test_evaluation_generates_as_standalone_does(tmp_path):
    """Issue 8 item 23: evaluation-time generation must not inherit the training setup.

    After ``train()`` with TRL's defaults (bf16 on the CPU, activation checkpointing), the model is in
    training mode, ``config.use_cache`` is False and its forward is accelerate's bf16 autocast wrapper.
    Generation at ``evaluate()`` runs in eval mode, in full precision and with the KV cache (one new
    token per decoding step after the prompt), even with a generation config that turns the cache off,
    and gives the standalone answers; the training setup is restored afterwards."""
    ds = to_instruction_dataset(DOCS, template=TEMPLATE)
    model = tiny_llama()
    standalone = generate_predictions(tiny_llama(), tokenizer(), ds, batch_size=4, show_progress=False)
    args = config(tmp_path, bf16=True, activation_checkpointing=True, learning_rate=0.0, max_steps=1,
                  generation_batch_size=4)
    trainer = ECRSFTTrainer(model, args=args, train_dataset=ds, eval_dataset=ds, processing_class=tokenizer())
    trainer.train()
    assert model.training and not model.config.use_cache and "_original_forward" in model.__dict__
    model.generation_config.use_cache = False
    wrapper = model.forward
    calls = []

    def record(module, args, kwargs):
        calls.append((kwargs["input_ids"].shape[1] if kwargs.get("input_ids") is not None else None,
                      torch.is_autocast_enabled("cpu"), any(m.training for m in model.modules())))

    hook = model.model.register_forward_pre_hook(record, with_kwargs=True)
    generated = {}
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("ecr_hf.instruct.generation.generate_predictions",
                       lambda *a, **k: generated.setdefault("answers", generate_predictions(*a, **k)))
            trainer.evaluate()
    finally:
        hook.remove()
    assert generated["answers"] == standalone
    steps = calls[1:]  # calls[0]: the eval-loss forward pass of the evaluation loop
    assert steps and not any(autocast or training for _, autocast, training in steps)
    assert sum(length != 1 for length, _, _ in steps) == 1  # the prompt; then one token per step (KV cache)
    assert model.forward == wrapper and not model.config.use_cache  # the training setup is back


def test_trainer_with_lora_and_named_eval_sets(tmp_path):
    ds = to_instruction_dataset(DOCS, template=TEMPLATE)
    args = config(tmp_path, max_steps=1, generation_max_samples=2, generation_batch_size=1,
                  generation_constrained=False, generation_max_new_tokens=8, soft_match_p_values=[2.0, 1.0])
    trainer = ECRSFTTrainer(tiny_llama(hidden=32), args=args, train_dataset=ds,
                            eval_dataset={"ja": ds.select([0, 1]), "en": ds.select([2, 3])},
                            processing_class=tokenizer(), peft_config=default_lora_config(r=4))
    assert type(trainer.model).__name__.startswith("Peft")
    metrics = trainer.evaluate()
    for name in ("ja", "en"):
        assert f"eval_{name}_loss" in metrics and f"eval_{name}_f1" in metrics
        assert metrics[f"eval_{name}_faithfulness_n_documents"] == 2
        assert metrics[f"eval_{name}_f1"] == metrics[f"eval_{name}_p2_f1"]  # the first p is the headline
    # a raw (unprepared) dataset passed to evaluate is generated for as well
    assert trainer.evaluate(ds.select([3]), metric_key_prefix="test")["test_faithfulness_n_documents"] == 1


def sft_eval_rows():
    return to_instruction_dataset([*DOCS, DOCS[0]], template=TEMPLATE)


def sft_eval_setup(model, tok, out_dir, **kwargs) -> ECRSFTTrainer:
    """An untrained trainer whose evaluation generates freely for 5 rows (2 processes: 3 + 2)."""
    ds = sft_eval_rows()
    args = config(out_dir, generation_constrained=False, generation_max_new_tokens=12, generation_batch_size=2, **kwargs)
    return ECRSFTTrainer(model, args=args, train_dataset=ds, eval_dataset=ds, processing_class=tok)


def test_two_process_generation_is_sharded_and_gathered_in_order(tmp_path):
    """torchrun on 2 CPU processes: each rank generates for its share and scores the whole set."""
    from test_trainer import run_two_processes

    tiny_llama().save_pretrained(tmp_path / "model")
    tokenizer().save_pretrained(tmp_path / "model")
    trainer = sft_eval_setup(tiny_llama(), tokenizer(), tmp_path)
    single = trainer.evaluate()
    one_row = trainer.evaluate(sft_eval_rows().select([0]), metric_key_prefix="one")  # fewer rows than ranks
    assert 0.0 < single["eval_faithfulness_mean_similarity"] < 1.0  # free generation: pairing matters
    ranks = run_two_processes("sft", tmp_path / "model", tmp_path)
    assert [got["rows"] for got in ranks] == [[3, 1], [2, 0]]
    trl_keys = ("runtime", "per_second", "_time", "loss", "entropy", "mean_token_accuracy", "num_tokens")
    for got in ranks:  # the span metrics are equal; TRL's token metrics are averaged in another order
        for expected, metrics in ((single, got["metrics"]), (one_row, got["one_row"])):
            for key, value in expected.items():
                if not key.endswith(trl_keys):
                    assert metrics[key] == pytest.approx(value, abs=1e-12), key


def test_config_and_trainer_errors(tmp_path):
    for bad in [dict(generation_batch_size=0), dict(open_marker="##"), dict(soft_match_p_values=[0.5]),
                dict(eval_packing=True)]:
        with pytest.raises(ValueError):
            config(tmp_path, **bad)
    ds = to_instruction_dataset(DOCS[:1], template=TEMPLATE)
    with pytest.raises(TypeError, match="ECRSFTConfig"):
        sft = SFTConfig(str(tmp_path), bf16=False, use_cpu=True, activation_checkpointing=False)
        ECRSFTTrainer(tiny_llama(hidden=32), args=sft, train_dataset=ds, processing_class=tokenizer())
    lora = default_lora_config(r=16, lora_alpha=32)
    assert (lora.r, lora.lora_alpha, lora.task_type) == (16, 32, "CAUSAL_LM")
