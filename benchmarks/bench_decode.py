"""Throughput of ``ecr_hf.spans.decode`` and how its alignment scales with document length.

    python benchmarks/bench_decode.py [--n 10000] [--length 600] [--rate 0.02] [--seed 0] [--only-large]

CPU time is reported beside wall time: on a shared machine it is the steadier figure.

1. Decodes ``--n`` generations of ``--length`` characters in which ``--rate`` of the characters were
   randomly inserted, deleted or substituted (target: under 1 s for 10,000 x 600 characters).
2. Times one decode of documents of 1,000, 5,000, 10,000 and 20,000 characters with the same edit
   rate: as configured (plain alignment below ``_ANCHOR_MIN_CELLS``, anchored above), always anchored,
   always plain (one LCS alignment of the whole, past ``max_cells``); prints the time ratio per
   doubling of the length (2.0 means linear).
3. Decodes two hard 100,000-character inputs, each in a fresh process, and reports time and peak
   memory (peak RSS over the start, from /proc: everything, rapidfuzz's matrices included;
   tracemalloc: Python objects only): a marked generation of a text unrelated to its source (no
   anchors; too different to align within ``max_cells``: spans dropped and counted), and a repetitive
   source (one sentence repeated: no unique anchors) copied with one edit per 1,000 characters
   (aligned in a band: spans kept). Before ``max_cells`` (issue 8), on the project's 2-core machine
   under load: 4.1 s and 1.8-2.0 s CPU, +1,200 MiB peak RSS each; after: 0.07-0.09 s, +9 MiB.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import time
import tracemalloc
from unittest import mock

from ecr_hf.spans import decode
from ecr_hf.spans import decode_corpus, decode_marked

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


def mark(rng: random.Random, text: str) -> str:
    """``text`` with spans of 2-12 characters marked every ~30 characters."""
    out, pos = [], 0
    while (start := pos + rng.randint(5, 40)) < len(text):
        end = min(start + rng.randint(2, 12), len(text))
        out += [text[pos:start], "@@", text[start:end], "##"]
        pos = end
    return "".join(out) + text[pos:]


def large_inputs(seed: int, length: int = 100_000) -> dict[str, tuple[str, str]]:
    """The two hard inputs of part 3: (generation, source) by name."""
    rng = random.Random(seed)
    unrelated = "".join(rng.choice(ALPHABET) for _ in range(length))
    source = "".join(rng.choice(ALPHABET) for _ in range(length))
    sentence = "The patient had high fever and cough; CRP was elevated. "
    repetitive = (sentence * (length // len(sentence) + 1))[:length]
    copy = list(repetitive)
    for k in range(length - 500, 0, -1000):  # one insertion, deletion or substitution per 1,000 characters
        op = rng.randrange(3)
        if op == 0:
            copy.insert(k, rng.choice(ALPHABET))
        elif op == 1:
            del copy[k]
        else:
            copy[k] = rng.choice(ALPHABET)
    return {"unrelated": (mark(rng, unrelated), source), "repetitive": (mark(rng, "".join(copy)), repetitive)}


def _memory_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc (Linux): unlike ru_maxrss, the
    peak is not inherited from the parent across fork and exec."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _measure_large(name: str, seed: int) -> str:
    """Run in a fresh process: decode one large input (timed, then traced), return a report line."""
    generation, source = large_inputs(seed)[name]
    base = _memory_kib("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    result = decode_marked(generation, source)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss = _memory_kib("VmHWM") - base
    tracemalloc.start()  # a second run: tracing slows Python allocations down
    decode_marked(generation, source)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (f"{name:>10}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, peak +{rss / 2**10:7.1f} MiB RSS, "
            f"{traced / 2**20:6.1f} MiB traced; spans found {result.n_spans_found}, dropped "
            f"{result.n_spans_dropped}, capped {getattr(result, 'capped', '-')}")


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
    parser.add_argument("--only-large", action="store_true", help="run part 3 only")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times suffer when shared)")
    if not args.only_large:
        throughput(args, rng)
        scaling(args, rng)
    print("\nlarge inputs, 100,000 characters, each in a fresh process (default max_cells)")
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for name in ("unrelated", "repetitive"):
            print(pool.apply(_measure_large, (name, args.seed)), flush=True)


def throughput(args: argparse.Namespace, rng: random.Random) -> None:
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


def scaling(args: argparse.Namespace, rng: random.Random) -> None:
    print(f"\nscaling, {args.rate:.0%} edits, CPU ms per document (best of 5); x2 = time ratio per doubling")
    print(f"{'length':>8} {'default':>9} {'x2':>5} {'anchored':>9} {'x2':>5} {'plain':>9} {'x2':>5}")
    # (_ANCHOR_MIN_CELLS, max_cells): plain means one LCS alignment of the whole, past the default cap
    modes = {"default": (decode._ANCHOR_MIN_CELLS, decode.MAX_CELLS), "anchored": (0, decode.MAX_CELLS),
             "plain": (math.inf, 2**62)}
    previous = None
    for length in (1_000, 5_000, 10_000, 20_000):
        g, s = make_document(rng, length, args.rate)
        times = {}
        for mode, (min_cells, max_cells) in modes.items():
            with mock.patch.object(decode, "_ANCHOR_MIN_CELLS", min_cells):
                times[mode] = best_time(lambda: decode_marked(g, s, max_cells=max_cells), 5, clock=time.process_time)
        row = f"{length:>8}"
        for mode, t in times.items():
            ratio = "" if previous is None else \
                f"{(t / previous[1][mode]) ** (1 / math.log2(length / previous[0])):.2f}"
            row += f" {t * 1e3:>9.2f} {ratio:>5}"
        print(row)
        previous = (length, times)


if __name__ == "__main__":
    main()
