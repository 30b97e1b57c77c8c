"""Constrained vs unconstrained generation time, same model, inputs and number of decoding steps.

    python benchmarks/bench_constrained.py                  # tiny random Llama, SmolLM2's 49k vocabulary
    python benchmarks/bench_constrained.py --model smollm2  # the real SmolLM2-135M-Instruct
    python benchmarks/bench_constrained.py --model tiny --tokenizer trained   # no offline package needed

Each batch is generated constrained (greedy) once to count its decoding steps; then, timed, both
modes run back to back in alternating order, the unconstrained one forced to take exactly as many
steps (EOS suppressed, ``max_new_tokens`` = those steps), so the ratio measures the cost of the logits processor
and nothing else. Inputs are sentences of the Japanese MRNER-disease corpus (``../shared/data`` when
present) and of the NCBI-disease sample the package ships, in the paper's Japanese prompt.
Target: ratio <= 1.3. The processor's own time per step is printed too: on a loaded machine it is
the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from ecr_hf.instruct import ByteVocabulary, FaithfulMarkerLogitsProcessor
from ecr_hf.instruct import sentence_units
from ecr_hf.instruct import render_prompt

ROOT = Path(__file__).resolve().parents[1]
JA_CORPUS = ROOT.parent / "shared" / "data" / "jmedllm_ner" / "mrner_disease_spans.jsonl"
EN_CORPUS = ROOT / "ecr_hf" / "data" / "ncbi_disease_sample.jsonl"


def sentences(path: Path, n: int, min_chars: int = 20) -> list[str]:
    out = []
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            out += [text[a:b] for a, b in sentence_units(text) if b - a >= min_chars]
            if len(out) >= n:
                break
    return out[:n]


def trained_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4000, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def load(args, texts):
    if args.model == "smollm2" or args.tokenizer == "smollm2":
        from ecr_hf.utils import offline_model_path

        path = offline_model_path("smollm2")
        tokenizer = AutoTokenizer.from_pretrained(path)
    else:
        path, tokenizer = None, trained_tokenizer(texts * 5)
    if args.model == "smollm2":
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    else:
        torch.manual_seed(0)
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=args.hidden,
                                             intermediate_size=4 * args.hidden, num_hidden_layers=args.layers,
                                             num_attention_heads=4, num_key_value_heads=4,
                                             max_position_embeddings=4096))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


class Timed:
    """Wraps a logits processor and adds up the time spent in it."""

    def __init__(self, processor):
        self.processor, self.seconds, self.calls = processor, 0.0, 0

    def __call__(self, input_ids, scores):
        t = time.perf_counter()
        out = self.processor(input_ids, scores)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out


class NoEOS:
    """Keeps the unconstrained run going for the same number of steps (one indexing op per step;
    ``min_new_tokens`` would add a vocabulary-sized ``isin`` per step and bias the comparison)."""

    def __init__(self, eos_token_id: int):
        self.eos_token_id = eos_token_id

    def __call__(self, input_ids, scores):
        scores[:, self.eos_token_id] = float("-inf")
        return scores


def generate(model, tokenizer, vocab, sources, enc, budget, steps=None):
    """One batch: constrained when ``steps`` is None, else unconstrained and forced to ``steps`` steps.

    Returns (seconds, steps taken, seconds inside the processor, processor calls)."""
    kwargs = dict(max_new_tokens=budget, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                  eos_token_id=tokenizer.eos_token_id)
    timed = None
    if steps is None:
        timed = Timed(FaithfulMarkerLogitsProcessor(sources, vocab, max_new_tokens=budget))
        kwargs["logits_processor"] = [timed]
    else:
        kwargs.update(max_new_tokens=steps, logits_processor=[NoEOS(tokenizer.eos_token_id)])
    t = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, **kwargs)
    seconds = time.perf_counter() - t
    new = out[:, enc["input_ids"].shape[1]:]
    if timed is None:
        return seconds, new.shape[1], 0.0, 0
    texts = [vocab.decode(row) for row in new.tolist()]
    assert [t.replace("@@", "").replace("##", "") for t in texts] == sources, "not faithful"
    return seconds, new.shape[1], timed.seconds, timed.calls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--tokenizer", choices=["smollm2", "trained"], default="smollm2",
                        help="vocabulary of the tiny model: SmolLM2's (49k, byte-level) or a 4k BPE trained here")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--n", type=int, default=16, help="sentences (half Japanese, half English)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    japanese = sentences(JA_CORPUS, args.n // 2)
    texts = japanese + sentences(EN_CORPUS, args.n - len(japanese))
    model, tokenizer = load(args, texts)
    t = time.perf_counter()
    vocab = ByteVocabulary.from_tokenizer(tokenizer)
    build = time.perf_counter() - t
    template = "ja"
    batches, budgets = [], []
    for k in range(0, len(texts), args.batch_size):
        sources = texts[k:k + args.batch_size]
        tokenizer.padding_side = "left"
        enc = tokenizer([render_prompt(template, s) for s in sources], return_tensors="pt", padding=True)
        batches.append((sources, enc))
        longest = max(len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in sources)
        budgets.append(int(1.5 * longest) + 16)

    # per batch: an untimed constrained run counts the decoding steps (and warms up); then both modes
    # run back to back for as many steps, in alternating order, so load drift on a shared machine and
    # order effects hit both alike
    steps_of = [generate(model, tokenizer, vocab, s, e, b)[1] for (s, e), b in zip(batches, budgets)]
    steps = sum(steps_of)
    constrained, unconstrained, overhead = [], [], []
    for rep in range(args.repeats):
        c_total = u_total = p_total = 0.0
        calls = 0
        for (sources, enc), budget, taken in zip(batches, budgets, steps_of):
            for mode in ("u", "c") if rep % 2 == 0 else ("c", "u"):
                if mode == "c":
                    seconds, n, p_s, n_calls = generate(model, tokenizer, vocab, sources, enc, budget)
                    c_total, p_total, calls = c_total + seconds, p_total + p_s, calls + n_calls
                else:
                    seconds, n, _, _ = generate(model, tokenizer, vocab, sources, enc, budget, steps=taken)
                    u_total += seconds
                assert n == taken
        constrained.append(c_total)
        unconstrained.append(u_total)
        overhead.append(p_total / calls)
    c, u = statistics.median(constrained), statistics.median(unconstrained)
    print(f"model={args.model} vocab={len(tokenizer)} sentences={len(texts)} (ja+en) batch={args.batch_size} "
          f"threads={args.threads} decoding steps={steps} vocabulary build={build:.2f}s")
    print(f"unconstrained: {u:.3f}s  ({1000 * u / steps:.2f} ms/step)")
    print(f"constrained:   {c:.3f}s  ({1000 * c / steps:.2f} ms/step; processor "
          f"{1000 * statistics.median(overhead):.2f} ms/step)")
    print(f"ratio constrained/unconstrained: {c / u:.3f}  (target <= 1.3); processor share of the constrained "
          f"time: {statistics.median(overhead) * steps / c:.1%}")


if __name__ == "__main__":
    main()
