"""Build the small NCBI-disease sample that ecr-hf ships (public domain, see ecr_hf/data/README.md).

    python examples/build_sample_data.py --source ../shared/data/ncbi_disease/ncbi_disease.conll.jsonl

Writes ``ecr_hf/data/ncbi_disease_sample.jsonl``: 800 training and 200 test sentences, sampled with a
fixed seed (two thirds with at least one disease mention), each ``{"doc_id", "split", "text",
"entities"}`` with character offsets.
"""

import argparse
import json
import random
from pathlib import Path

from ecr_hf.utils import atomic_write_text

OUT = Path(__file__).resolve().parents[1] / "ecr_hf" / "data" / "ncbi_disease_sample.jsonl"


def pick(rows, n, rng):
    with_ents = [r for r in rows if r["entities"]]
    without = [r for r in rows if not r["entities"]]
    k = (2 * n) // 3
    chosen = rng.sample(with_ents, k) + rng.sample(without, n - k)
    return sorted(chosen, key=lambda r: r["doc_id"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="../shared/data/ncbi_disease/ncbi_disease.conll.jsonl")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.source, encoding="utf-8")]
    rng = random.Random(0)
    sample = pick([r for r in rows if r["split"] == "train"], 800, rng) + pick(
        [r for r in rows if r["split"] == "test"], 200, rng
    )
    lines = []
    for r in sample:
        ents = [{k: e[k] for k in ("start", "end", "label", "text")} for e in r["entities"]]
        lines.append(json.dumps({"doc_id": r["doc_id"], "split": r["split"], "text": r["text"], "entities": ents},
                                ensure_ascii=False) + "\n")
    atomic_write_text(OUT, "".join(lines), overwrite=True)  # regenerating the shipped file is the point
    print(f"wrote {len(sample)} sentences to {OUT}")


if __name__ == "__main__":
    main()
