"""One rank of a 2-process CPU (gloo) evaluation, started by ``torchrun`` from test_trainer.py.

Usage: ``torchrun --nproc_per_node 2 ddp_eval_worker.py MODEL_DIR OUT_DIR``; writes each rank's
``evaluate()`` metrics and ``predict()`` spans to ``OUT_DIR/rank{k}.json``.
"""

import json
import os
import sys
from pathlib import Path

from test_trainer import args_for, toy_documents
from transformers import AutoTokenizer

from ecr_hf.modeling import ECRTokenClassifier
from ecr_hf.trainer import ECRTrainer


def main(model_dir: str, out_dir: str) -> None:
    model = ECRTokenClassifier.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    args = args_for(Path(out_dir), ddp_backend="gloo")
    trainer = ECRTrainer(model=model, args=args, processing_class=tokenizer)
    metrics = trainer.evaluate(toy_documents(EVAL_DOCS, seed=2))
    spans = [[s._asdict() for s in doc] for doc in trainer.predict(toy_documents(EVAL_DOCS, seed=2)).predictions]
    rank = int(os.environ["RANK"])
    (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps({"metrics": metrics, "spans": spans}))


EVAL_DOCS = 21  # an odd count: the last batch is evened out with repeated windows

if __name__ == "__main__":
    main(*sys.argv[1:3])
