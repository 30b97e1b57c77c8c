"""One rank of a 2-process CPU (gloo) evaluation, started by ``torchrun`` from the tests.

Usage: ``torchrun --nproc_per_node 2 ddp_worker.py token-classification|sft MODEL_DIR OUT_DIR``;
each rank writes what it measured to ``OUT_DIR/rank{k}.json``.
"""

import json
import os
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

import ecr_hf.instruct.generation as generation
from ecr_hf.modeling import ECRTokenClassifier
from ecr_hf.trainer import ECRTrainer

EVAL_DOCS = 21  # an odd count: the last batch is evened out with repeated windows


def token_classification(model_dir: str, out_dir: str) -> dict:
    """``ECRTrainer.evaluate()`` metrics and ``predict()`` spans of the toy test set."""
    from test_trainer import args_for, toy_documents

    trainer = ECRTrainer(model=ECRTokenClassifier.from_pretrained(model_dir), args=args_for(Path(out_dir), ddp_backend="gloo"),
                         processing_class=AutoTokenizer.from_pretrained(model_dir))
    metrics = trainer.evaluate(toy_documents(EVAL_DOCS, seed=2))
    spans = [[s._asdict() for s in doc] for doc in trainer.predict(toy_documents(EVAL_DOCS, seed=2)).predictions]
    return {"metrics": metrics, "spans": spans}


def sft(model_dir: str, out_dir: str) -> dict:
    """``ECRSFTTrainer.evaluate()`` metrics, and how many rows this rank generated for."""
    from test_generation_eval import sft_eval_setup

    rows, generate = [], generation.generate_predictions

    def counting(model, tokenizer, dataset, **kwargs):
        rows.append(len(dataset))
        return generate(model, tokenizer, dataset, **kwargs)

    generation.generate_predictions = counting
    trainer = sft_eval_setup(AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir),
                             out_dir, ddp_backend="gloo")
    return {"metrics": trainer.evaluate(), "rows": rows}


if __name__ == "__main__":
    mode, model_dir, out_dir = sys.argv[1:4]
    result = {"token-classification": token_classification, "sft": sft}[mode](model_dir, out_dir)
    (Path(out_dir) / f"rank{os.environ['RANK']}.json").write_text(json.dumps(result))
