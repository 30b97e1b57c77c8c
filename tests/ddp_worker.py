"""One rank of a 2-process CPU (gloo) evaluation, started by ``torchrun`` from the tests.

Usage: ``torchrun --nproc_per_node 2 ddp_worker.py token-classification|sft|cli MODEL_DIR OUT_DIR``;
each rank writes what it measured to ``OUT_DIR/rank{k}.json``.
"""

import json
import os
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

import ecr_hf.instruct.generation as generation
from ecr_hf.token_classification import ECRTokenClassifier
from ecr_hf.token_classification import ECRTrainer

EVAL_DOCS = 21  # an odd count: the last batch is evened out with repeated windows


def token_classification(model_dir: str, out_dir: str) -> dict:
    """``ECRTrainer.evaluate()`` metrics and ``predict()`` spans of the toy test set, and the metrics
    of its first document alone (fewer windows than processes)."""
    from test_trainer import args_for, toy_documents

    trainer = ECRTrainer(model=ECRTokenClassifier.from_pretrained(model_dir),
                         args=args_for(Path(out_dir), ddp_backend="gloo"),
                         processing_class=AutoTokenizer.from_pretrained(model_dir))
    metrics = trainer.evaluate(toy_documents(EVAL_DOCS, seed=2))
    spans = [[s._asdict() for s in doc] for doc in trainer.predict(toy_documents(EVAL_DOCS, seed=2)).predictions]
    one_doc = trainer.evaluate(toy_documents(EVAL_DOCS, seed=2)[:1], metric_key_prefix="one")  # one window
    return {"metrics": metrics, "spans": spans, "one_doc": one_doc}


def sft(model_dir: str, out_dir: str) -> dict:
    """``ECRSFTTrainer.evaluate()`` metrics on 5 rows and on 1, and how many rows this rank generated for."""
    from test_generation_eval import sft_eval_rows, sft_eval_setup

    rows, generate = [], generation.generate_predictions

    def counting(model, tokenizer, dataset, **kwargs):
        rows.append(len(dataset))
        return generate(model, tokenizer, dataset, **kwargs)

    generation.generate_predictions = counting
    trainer = sft_eval_setup(AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir),
                             out_dir, ddp_backend="gloo")
    metrics = trainer.evaluate()
    one_row = trainer.evaluate(sft_eval_rows().select([0]), metric_key_prefix="one")  # fewer rows than ranks
    return {"metrics": metrics, "one_row": one_row, "rows": rows}


def cli(model_dir: str, out_dir: str) -> dict:
    """``ecr-hf predict`` and ``ecr-hf evaluate`` as a user runs them under torchrun (data: OUT_DIR/data)."""
    from ecr_hf.cli import main
    from ecr_hf.token_classification import ECRExtractor

    extracted, call = [], ECRExtractor.__call__

    def counting(self, texts, **kwargs):
        extracted.append(len(texts))
        return call(self, texts, **kwargs)

    ECRExtractor.__call__ = counting
    data = Path(out_dir) / "data"
    predict = main(["predict", "--model", model_dir, "--data", str(data / "fold0" / "test.jsonl"), "--output",
                    str(Path(out_dir) / "predicted.jsonl"), "--max-length", "12", "--batch-size", "2"])
    evaluate = main(["evaluate", "--model", model_dir, "--data", str(data), "--output", str(Path(out_dir) / "evaluated"),
                     "--max-length", "12", "--batch-size", "2"])
    return {"predict": predict, "evaluate": evaluate, "extracted": sum(extracted)}


if __name__ == "__main__":
    mode, model_dir, out_dir = sys.argv[1:4]
    result = {"token-classification": token_classification, "sft": sft, "cli": cli}[mode](model_dir, out_dir)
    (Path(out_dir) / f"rank{os.environ['RANK']}.json").write_text(json.dumps(result))
