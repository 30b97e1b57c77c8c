"""Throughput of ``ecr_hf.decode`` and how its alignment scales with document length.

    python benchmarks/bench_decode.py [--n 10000] [--length 600] [--rate 0.02] [--seed 0]

CPU time is reported beside wall time: on a shared machine it is the steadier figure.

1. Decodes ``--n`` generations of ``--length`` characters in which ``--rate`` of the characters were
   randomly inserted, deleted or substituted (target: under 1 s for 10,000 x 600 characters).
2. Times one decode of documents of 1,000, 5,000, 10,000 and 20,000 characters with the same edit
   rate: as configured (plain alignment below ``_ANCHOR_MIN_CELLS``, anchored above), always anchored,
   always plain; prints the time ratio per doubling of the length (2.0 means linear).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from unittest import mock

from ecr_hf import decode
from ecr_hf.decode import decode_corpus, decode_marked

ALPHABET = "abcdefghijklmnopqrstuvwxyz      ,.感染性心内膜炎はその経過発熱咳嗽を認めた。、"


def make_document(rng: random.Random, length: int, rate: float) -> tuple[str, str]:
    """A source and its marked, edited copy: spans of 2-12 characters every ~30 characters."""
    source = "".join(rng.choice(ALPHABET) for _ in range(length))
    out, pos = [], 0
    while pos < length:
        start = pos + rng.randint(5, 40)
        end = min(start + rng.randint(2, 12), length)
        if start >= length:
            break
        out += [source[pos:start], "@@", source[start:end], "##"]
        pos = end
    out.append(source[pos:])
    marked = list("".join(out))
    for _ in range(round(rate * length)):
        k = rng.randrange(len(marked))
        op = rng.randrange(3)
        if op == 0:
            marked.insert(k, rng.choice(ALPHABET))
        elif op == 1 and marked[k] not in "@#":
            del marked[k]
        elif marked[k] not in "@#":
            marked[k] = rng.choice(ALPHABET)
    return "".join(marked), source


def best_time(fn, repeats: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=600)
    parser.add_argument("--rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times suffer when shared)")

    docs = [make_document(rng, args.length, args.rate) for _ in range(args.n)]
    generations, sources = [g for g, _ in docs], [s for _, s in docs]
    exact_docs = [(s, s) for s in sources[:1000]]
    decode_corpus(generations[:100], sources[:100])  # warm caches
    t = best_time(lambda: decode_corpus(generations, sources), 3)
    cpu = best_time(lambda: decode_corpus(generations, sources), 3, clock=time.process_time)
    _, report = decode_corpus(generations, sources)
    print(f"throughput: {args.n} generations x {args.length} chars, {args.rate:.0%} edits: {t:.3f} s wall, "
          f"{cpu:.3f} s CPU ({t / args.n * 1e6:.1f} us each; best of 3)")
    print("  " + ", ".join(f"{k}={v:.4g}" for k, v in report.to_dict(prefix="").items()))
    t_exact = best_time(lambda: [decode_marked(g, s) for g, s in exact_docs], 3)
    print(f"  exact copies (fast path): {t_exact / len(exact_docs) * 1e6:.1f} us each")

    print(f"\nscaling, {args.rate:.0%} edits, CPU ms per document (best of 5); x2 = time ratio per doubling")
    print(f"{'length':>8} {'default':>9} {'x2':>5} {'anchored':>9} {'x2':>5} {'plain':>9} {'x2':>5}")
    modes = {"default": decode._ANCHOR_MIN_CELLS, "anchored": 0, "plain": math.inf}
    previous = None
    for length in (1_000, 5_000, 10_000, 20_000):
        g, s = make_document(rng, length, args.rate)
        times = {}
        for mode, min_cells in modes.items():
            with mock.patch.object(decode, "_ANCHOR_MIN_CELLS", min_cells):
                times[mode] = best_time(lambda: decode_marked(g, s), 5, clock=time.process_time)
        row = f"{length:>8}"
        for mode, t in times.items():
            ratio = "" if previous is None else \
                f"{(t / previous[1][mode]) ** (1 / math.log2(length / previous[0])):.2f}"
            row += f" {t * 1e3:>9.2f} {ratio:>5}"
        print(row)
        previous = (length, times)


if __name__ == "__main__":
    main()
