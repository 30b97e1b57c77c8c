"""Evaluation-time generation inside ``ECRSFTTrainer.evaluate()`` against ``generate_predictions`` alone.

    python benchmarks/bench_sft_eval_generation.py                 # SmolLM2-135M-shaped random Llama
    python benchmarks/bench_sft_eval_generation.py --size tiny     # 2 layers of 64: a smoke run in seconds
    python benchmarks/bench_sft_eval_generation.py --size smollm2  # the real SmolLM2-135M-Instruct, chat prompts
    python benchmarks/bench_sft_eval_generation.py --lora 0        # full fine-tuning
    python benchmarks/bench_sft_eval_generation.py --bf16 0 --checkpointing 0   # the CPU-friendly settings

Both sides generate (constrained, greedy, one batch) the answers for the same NCBI-disease sentences
(the sample the package ships, English template) with the same weights: a random Llama, by default
with LoRA adapters (r=16, all linear layers, as in ``examples/sft_smollm2_ncbi.py``); ``--size
smollm2`` takes the real SmolLM2-135M-Instruct (``ecr_hf.utils.offline_models``) and its chat template instead. The trainer
side is what an evaluation runs: ``ECRSFTTrainer(..., ECRSFTConfig(use_cpu=True))`` with TRL's
defaults otherwise (``bf16=True``, activation checkpointing on), after ``train()`` (one step at
learning rate 0, which leaves the model in training mode with checkpointing enabled and
accelerate's mixed-precision wrapper on its forward), then ``evaluate()`` with the generation timed
alone. The standalone side is ``generate_predictions`` on a fresh copy of the same model. The two
alternate for ``--repeat`` rounds and each keeps its best time. ratio = trainer time / standalone
time; target <= 1.2, and both sides must give the same answers. On a shared machine compare ratios
from one run, not seconds across runs.

Before the fix in ``generate_predictions`` (eval mode, KV cache forced on, accelerate's autocast
wrapper lifted for the duration), a fully fine-tuned model generated under bf16 autocast at
evaluation; a PEFT model's ``generate`` bypasses the wrapped forward, so LoRA runs were not affected.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from peft import get_peft_model
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from transformers.utils import logging as hf_logging

import ecr_hf.instruct.generation as generation
from ecr_hf.instruct import ECRSFTConfig, ECRSFTTrainer, default_lora_config, to_instruction_dataset

CORPUS = Path(__file__).resolve().parents[1] / "ecr_hf" / "data" / "ncbi_disease_sample.jsonl"
SIZES = {"smol": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                      num_key_value_heads=3),  # SmolLM2-135M's shape
         "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=4)}


def documents(n: int) -> list[dict]:
    with CORPUS.open(encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    return [d for d in docs if d["entities"]][:n]


def bpe_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2000, special_tokens=["<pad>", "<s>", "</s>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=[*sorted(SIZES), "smollm2"], default="smol")
    ap.add_argument("--rows", type=int, default=4, help="eval sentences (one generate batch)")
    ap.add_argument("--bf16", type=int, choices=[0, 1], default=1, help="ECRSFTConfig bf16 (TRL's default: 1)")
    ap.add_argument("--checkpointing", type=int, choices=[0, 1], default=1,
                    help="activation checkpointing (TRL's default: 1)")
    ap.add_argument("--lora", type=int, choices=[0, 1], default=1, help="LoRA adapters (1) or full fine-tuning (0)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2, help="rounds; the best time of each side is kept")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()

    docs = documents(args.rows)
    if args.size == "smollm2":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ecr_hf.utils import offline_model_path

        rows = to_instruction_dataset(docs, template="en", unit="document", conversational=True)
        tokenizer = AutoTokenizer.from_pretrained(offline_model_path("smollm2"))
        base = AutoModelForCausalLM.from_pretrained(offline_model_path("smollm2"), dtype=torch.float32)
    else:
        rows = to_instruction_dataset(docs, template="en", unit="document")
        tokenizer = bpe_tokenizer([d["text"] for d in docs] * 5 + list(rows["prompt"]) + list(rows["completion"]))
        torch.manual_seed(0)
        base = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), pad_token_id=0, bos_token_id=1,
                                            eos_token_id=2, **SIZES[args.size]))
    lora = default_lora_config(r=16, lora_alpha=32) if args.lora else None
    standalone_model = get_peft_model(copy.deepcopy(base), lora) if lora else copy.deepcopy(base)

    output_dir = tempfile.TemporaryDirectory(prefix="bench-sft-eval-")  # removed at exit; nothing is saved
    config = ECRSFTConfig(output_dir.name, use_cpu=True, bf16=bool(args.bf16),
                          activation_checkpointing=bool(args.checkpointing),
                          learning_rate=0.0, max_steps=1, per_device_train_batch_size=args.rows,
                          per_device_eval_batch_size=args.rows, save_strategy="no", eval_strategy="no",
                          report_to=[], disable_tqdm=True)
    trainer = ECRSFTTrainer(base, args=config, train_dataset=rows, eval_dataset=rows, processing_class=tokenizer,
                            peft_config=lora)
    trainer.train()  # lr 0: the weights stay those of standalone_model

    timed: dict[str, list] = {"seconds": [], "answers": []}
    inner = generation.generate_predictions

    def timed_generate(*a, **k):
        start = time.perf_counter()
        answers = inner(*a, **k)
        timed["seconds"].append(time.perf_counter() - start)
        timed["answers"].append(answers)
        return answers

    alone_times, answers = [], None
    for _ in range(args.repeat):  # alternating, best of each side: a load spike spoils a round, not a side
        generation.generate_predictions = timed_generate
        try:
            trainer.evaluate()
        finally:
            generation.generate_predictions = inner
        start = time.perf_counter()
        answers = inner(standalone_model, tokenizer, rows, batch_size=args.rows, show_progress=False)
        alone_times.append(time.perf_counter() - start)
    in_trainer, alone = min(timed["seconds"]), min(alone_times)
    print(f"{args.size} {'+ LoRA r=16' if lora else '(full fine-tuning)'}, {args.rows} rows, "
          f"bf16={args.bf16}, checkpointing={args.checkpointing}, {args.threads} thread(s), torch {torch.__version__}")
    print(f"  ECRSFTTrainer.evaluate() generation: {in_trainer:8.2f} s")
    print(f"  generate_predictions alone:          {alone:8.2f} s")
    same = all(a == answers for a in timed["answers"])
    print(f"  ratio: {in_trainer / alone:.2f}   same answers: {same}   (best of {args.repeat})")


if __name__ == "__main__":
    main()
