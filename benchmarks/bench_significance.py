"""Time of document-level bootstrap intervals and the paired randomisation test on BC5CDR-sized input.

Scores a system once per document (:func:`ecr_hf.scoring.document_counts`), then times
``bootstrap`` and ``paired_test`` with 1,000 resamples each (target: under 1 s each) on:

* BC5CDR as 1,500 documents (its ~14k sentences grouped into 1,500 consecutive blocks, the size of the
  corpus in abstracts, 29k gold spans);
* BC5CDR as its ~14k sentences (the shared file's rows: more documents, a larger weight matrix).

Predictions are the seeded perturbations of ``_data.py`` (two seeds: systems A and B). Times are the
best of 3; the load average is printed with them because the machine may be shared.

    python benchmarks/bench_significance.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import load_bc5cdr, perturb  # noqa: E402

from ecr_hf.scoring.significance import bootstrap, document_counts, paired_test  # noqa: E402

N_RESAMPLES, TARGET = 1000, 1.0


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def grouped(spans: list[list[dict]], tok_lengths: np.ndarray, n_docs: int) -> list[list[dict]]:
    """Sentences joined into ``n_docs`` consecutive documents (offsets shifted, one space between)."""
    bounds = np.linspace(0, len(spans), n_docs + 1).astype(int)
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        shift = np.r_[0, np.cumsum(tok_lengths[a:b] + 1)[:-1]]
        out.append([{**s, "start": s["start"] + int(d), "end": s["end"] + int(d)}
                    for sent, d in zip(spans[a:b], shift) for s in sent])
    return out


def main() -> None:
    corpus = load_bc5cdr()
    b = corpus.char_spans("pred")
    corpus.pred = perturb(corpus.gold, corpus.n_tokens, len(corpus.labels), seed=1)
    gold, a = corpus.char_spans("gold"), corpus.char_spans("pred")
    text_len = np.add.reduceat(corpus.tok_end - corpus.tok_start + 1, corpus.tok_base) - 1
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} CPUs; {N_RESAMPLES} resamples, best of 3")
    for name, docs in (("1,500 documents", lambda x: grouped(x, text_len, 1500)), ("sentences", lambda x: x)):
        g, pa, pb = docs(gold), docs(a), docs(b)
        t0 = time.perf_counter()
        ca, cb = document_counts(g, pa), document_counts(g, pb)
        t_counts = (time.perf_counter() - t0) / 2
        t_boot = best_of(lambda: bootstrap(ca, n_resamples=N_RESAMPLES, rng=0))
        t_test = best_of(lambda: paired_test(ca, cb, n_resamples=N_RESAMPLES, rng=0))
        ci = bootstrap(ca, n_resamples=N_RESAMPLES, rng=0).intervals["f1"]
        test = paired_test(ca, cb, n_resamples=N_RESAMPLES, rng=0)
        n_spans = sum(map(len, g))
        print(f"BC5CDR {name}: {len(g):,} documents, {n_spans:,} gold spans, {len(ca.keys)} scores")
        print(f"  document_counts (once per system) {t_counts:.3f} s")
        print(f"  bootstrap    {t_boot:.3f} s  [{'ok' if t_boot < TARGET else 'SLOW'}: target < {TARGET} s]"
              f"  f1 {ci.estimate:.4f} [{ci.low:.4f}, {ci.high:.4f}]")
        print(f"  paired_test  {t_test:.3f} s  [{'ok' if t_test < TARGET else 'SLOW'}: target < {TARGET} s]"
              f"  f1 A-B {test.difference['f1']:+.4f}, p = {test.p_value['f1']:.4f}")


if __name__ == "__main__":
    main()
