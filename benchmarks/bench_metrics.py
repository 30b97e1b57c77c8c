"""Speed of the ecr-hf scoring core against seqeval and nervaluate, as ratios measured in one run.

Every tool scores the same gold and perturbed predictions (see ``_data.py``): ecr-hf and the
``evaluate`` module get character span lists, seqeval and nervaluate get the same spans as token
BIO tags. Times are the best of a few repeats (``time.perf_counter``, garbage collector off during
a run as in :mod:`timeit`); ``ratio`` is seqeval strict time / this row's time on the same data.

    python benchmarks/bench_metrics.py            # full run (BC5CDR + 1M synthetic spans), 4-6 min
    python benchmarks/bench_metrics.py --quick    # smoke run, 15-30 s (mostly `import evaluate`)
    python benchmarks/bench_metrics.py --size 5000 --sections speed
    python benchmarks/bench_metrics.py --sections profile  # cProfile of the core on the synthetic corpus
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import io
import math
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import Corpus, load_bc5cdr, synthetic  # noqa: E402

from ecr_hf.scoring.report import seqeval_scores  # noqa: E402
from ecr_hf.scoring.soft_match import score_arrays, soft_match_scores  # noqa: E402
from ecr_hf.spans.span import SpanArrays  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORE_TARGET, MODULE_TARGET, LINEAR_TARGET = 50.0, 10.0, 2.2


def best_of(fn: Callable[[], object], repeat: int, budget: float) -> tuple[float, int, object]:
    """Best wall time of ``fn`` over up to ``repeat`` runs, stopping once ``budget`` seconds are spent."""
    times, out = [], None
    while len(times) < repeat and (not times or sum(times) < budget):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return min(times), len(times), out


@functools.lru_cache(maxsize=None)
def load_evaluate_module():
    """The ``weighted_soft_match`` evaluate module from the checkout, or None while it is not there."""
    path = ROOT / "metrics" / "weighted_soft_match"
    if not (path / "weighted_soft_match.py").exists():
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import evaluate

    return evaluate.load(str(path))


def load_semeval():
    try:
        from ecr_hf.scoring import semeval_scores
    except ImportError:
        return None
    return semeval_scores


class Table:
    """Rows of (corpus, tool, seconds, runs, ratio to seqeval strict on that corpus, note)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, int, str]] = []
        self.base: dict[str, float] = {}

    def add(self, corpus: str, tool: str, seconds: float, runs: int, note: str = "") -> None:
        self.rows.append((corpus, tool, seconds, runs, note))
        print(f"  {tool:<52} {seconds:9.3f} s  ({runs} run{'s' * (runs > 1)}) {note}", flush=True)

    def render(self) -> str:
        lines = [f"{'corpus':<28} {'tool':<52} {'seconds':>9} {'runs':>4} {'ratio':>8}  note",
                 "-" * 116]
        for corpus, tool, seconds, runs, note in self.rows:
            base = self.base.get(corpus)
            ratio = f"{base / seconds:7.1f}x" if base else "       -"
            lines.append(f"{corpus:<28} {tool:<52} {seconds:9.3f} {runs:>4} {ratio}  {note}")
        return "\n".join(lines)


def speed(table: Table, corpus: Corpus, args, *, nervaluate: bool = True, others: bool = True) -> dict[str, float]:
    """Time the tools on ``corpus`` (``others=False``: only seqeval strict, the core and nervaluate);
    returns each tool's typed exact-match F1 for the agreement check."""
    from seqeval.metrics import classification_report, f1_score
    from seqeval.scheme import IOB2

    print(f"\n[{corpus.name}] {corpus.n_docs:,} docs, {int(corpus.n_tokens.sum()):,} tokens, "
          f"{len(corpus.gold):,} gold / {len(corpus.pred):,} predicted spans", flush=True)
    gold, pred = corpus.char_spans("gold"), corpus.char_spans("pred")
    tags_gold, tags_pred = corpus.tags("gold"), corpus.tags("pred")
    name, rep, budget = corpus.name, args.repeat, args.budget
    f1 = {"exact match (numpy, reference)": corpus.exact_f1()}

    t, n, out = best_of(lambda: f1_score(tags_gold, tags_pred, mode="strict", scheme=IOB2), rep, budget)
    table.base[name] = t
    table.add(name, "seqeval f1_score(mode='strict', IOB2)", t, n, "baseline")
    f1["seqeval strict"] = out

    for typed in (False, True) if others else (False,):
        t, n, out = best_of(lambda: soft_match_scores(gold, pred, typed=typed), rep, budget)
        met = "MET" if table.base[name] / t >= CORE_TARGET else "MISSED"
        table.add(name, f"ecr-hf soft_match_scores {'typed' if typed else 'untyped'} (4 p, bins)", t, n,
                  f"target >= {CORE_TARGET:.0f}x {met}")
    if others:
        import datasets

        columns = datasets.Dataset.from_dict({"gold": gold, "pred": pred})
        t, n, _ = best_of(lambda: soft_match_scores(columns["gold"], columns["pred"]), rep, budget)
        met = "MET" if table.base[name] / t >= CORE_TARGET else "MISSED"
        table.add(name, "ecr-hf soft_match_scores, datasets columns in (Arrow)", t, n,
                  f"target >= {CORE_TARGET:.0f}x {met}")
        g_arr, p_arr = SpanArrays.from_documents(gold), SpanArrays.from_documents(pred)
        t, n, _ = best_of(lambda: score_arrays(g_arr, p_arr, corpus.n_docs), rep, budget)
        table.add(name, "  of which score_arrays (untyped, arrays in)", t, n, "no input coercion")

        module = load_evaluate_module()
        if module is not None:
            t, n, _ = best_of(lambda: module.compute(predictions=pred, references=gold), rep, budget)
            met = "MET" if table.base[name] / t >= MODULE_TARGET else "MISSED"
            table.add(name, "evaluate weighted_soft_match .compute()", t, n, f"target >= {MODULE_TARGET:.0f}x {met}")

            def streamed():  # evaluate's storage: Arrow written per batch, read back at compute
                for k in range(0, len(gold), 1_000):
                    module.add_batch(predictions=pred[k:k + 1_000], references=gold[k:k + 1_000])
                return module.compute()

            t, n, _ = best_of(streamed, rep, budget)
            table.add(name, "evaluate .add_batch(1,000 docs) x N + .compute()", t, n, "storage path")
        semeval_scores = load_semeval()
        if semeval_scores is not None:
            t, n, out = best_of(lambda: semeval_scores(gold, pred), rep, budget)
            table.add(name, "ecr-hf semeval_scores (4 schemas, per label)", t, n)
            f1["ecr-hf semeval strict"] = out["strict"]["f1"]

        report = {}
        for mode, scheme in (("strict", IOB2), (None, None)):
            t, n, _ = best_of(lambda: classification_report(tags_gold, tags_pred, mode=mode, scheme=scheme,
                                                            output_dict=True), rep, budget)
            report[mode] = t
            table.add(name, f"seqeval classification_report({mode or 'default'} mode)", t, n)
        t, n, out = best_of(lambda: f1_score(tags_gold, tags_pred), rep, budget)
        table.add(name, "seqeval f1_score (default mode)", t, n)
        f1["seqeval default"] = out
        for mode in ("strict", None):  # the drop-in: tags in, evaluate's seqeval output (accuracy too) out
            t, n, out = best_of(lambda: seqeval_scores(tags_gold, tags_pred, mode=mode, scheme="IOB2",
                                                       zero_division=0), rep, budget)
            table.add(name, f"ecr-hf seqeval_scores ({mode or 'default'} mode, drop-in)", t, n,
                      f"{report[mode] / t:.1f}x seqeval classification_report")
            f1[f"ecr-hf seqeval_scores {mode or 'default'}"] = out["overall_f1"]

    if nervaluate:
        from nervaluate import Evaluator

        def nerv():
            return Evaluator(tags_gold, tags_pred, tags=list(corpus.labels), loader="list").evaluate()

        t, n, out = best_of(nerv, rep, budget)
        table.add(name, "nervaluate Evaluator(loader='list').evaluate()", t, n)
        f1["nervaluate strict"] = out["overall"]["strict"].f1
    return f1


def agreement(f1: dict[str, float]) -> None:
    """All tools see the same spans: their typed exact-match F1 must agree."""
    ref = f1["exact match (numpy, reference)"]
    ok = all(math.isclose(v, ref, rel_tol=1e-9) for v in f1.values())
    print("  typed exact-match F1: " + ", ".join(f"{k} {v:.6f}" for k, v in f1.items())
          + ("  -> all agree" if ok else "  -> DISAGREE"))
    if not ok:
        raise SystemExit("the tools did not score the same spans; the benchmark is not comparing like with like")


def linearity(args) -> list[str]:
    """Core time as the corpus grows (more documents) and as documents grow (more spans each)."""
    lines = []
    rep, budget = args.repeat, args.budget

    def run(series: str, corpora: list[Corpus]) -> None:
        lines.append(f"{series}")
        prev = None
        for c in corpora:
            gold, pred = c.char_spans("gold"), c.char_spans("pred")
            t, n, _ = best_of(lambda: soft_match_scores(gold, pred), rep, budget)
            step = ""
            if prev is not None:
                r = t / prev
                step = f"x{r:5.2f} time for x2 data ({'ok' if r <= LINEAR_TARGET else 'ABOVE'} target <= {LINEAR_TARGET})"
            lines.append(f"  {c.name:<28} {len(c.gold):>10,} gold spans {t:8.3f} s "
                         f"{t / len(c.gold) * 1e6:6.2f} us/span  {step}")
            print(lines[-1], flush=True)
            prev = t

    big = synthetic(args.size, 50, seed=args.seed)
    print("\n[linearity: more documents, 50 spans each]", flush=True)
    run("more documents (prefixes of one corpus, 50 spans/doc):",
        [big.head(args.size // 4), big.head(args.size // 2), big])
    n_docs = max(args.size // 8, 1)
    print("\n[linearity: longer documents with more spans]", flush=True)
    run(f"longer documents ({n_docs:,} docs, spans/doc doubled):",
        [synthetic(n_docs, k, seed=args.seed) for k in (50, 100, 200)])
    return lines


def profile(args) -> None:
    corpus = synthetic(args.size, 50, seed=args.seed)
    gold, pred = corpus.char_spans("gold"), corpus.char_spans("pred")
    soft_match_scores(gold, pred)  # warm
    prof = cProfile.Profile()
    prof.enable()
    soft_match_scores(gold, pred)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(20)
    print(f"\ncProfile of soft_match_scores on {corpus.name} ({len(corpus.gold):,} gold spans):")
    print(out.getvalue())


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    return ",".join(str(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas") or "none"


def run(args, sections: set[str]) -> None:
    t_start = time.perf_counter()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, BLAS threads {blas_threads()}, "
          f"{os.cpu_count()} CPUs (load {os.getloadavg()[0]:.1f}); size={args.size} repeat={args.repeat} "
          f"budget={args.budget}s" + (" (quick)" if args.quick else ""))
    table, lines = Table(), []
    if "speed" in sections:
        bc5 = load_bc5cdr(seed=args.seed)
        if args.quick:
            bc5 = bc5.head(1_000)
        agreement(speed(table, bc5, args))
        syn = synthetic(args.size, 50, seed=args.seed)
        # nervaluate is pure Python; score it on the full corpus only if a 10% probe says it is quick
        subset = syn.head(max(args.size // 10, 1))
        subset.name = f"synthetic 10% ({subset.n_docs:,} docs)"
        agreement(speed(table, subset, args, others=False))
        nerv_full = table.rows[-1][2] * 10 <= 60.0
        agreement(speed(table, syn, args, nervaluate=nerv_full))
        if not nerv_full:
            print("  nervaluate skipped on the full synthetic corpus (10% probe x10 > 60 s); see the 10% rows")
    if "linearity" in sections:
        lines = linearity(args)
    if "profile" in sections:
        profile(args)
    if table.rows:
        print("\n" + table.render())
    if lines:
        print("\nLinearity (soft_match_scores, untyped, 4 p, bins):\n" + "\n".join(lines))
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s (load {os.getloadavg()[0]:.1f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run (15-30 s, mostly importing evaluate)")
    parser.add_argument("--size", type=int, default=None,
                        help="synthetic documents (50 spans each); default 20000, i.e. 1M gold spans")
    parser.add_argument("--repeat", type=int, default=None, help="most repeats per measurement (best is kept)")
    parser.add_argument("--budget", type=float, default=None,
                        help="stop repeating a measurement once this many seconds are spent on it")
    parser.add_argument("--sections", default="speed,linearity",
                        help="comma-separated: speed, linearity, profile")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="cap BLAS threads (threadpoolctl); default: leave numpy's BLAS as users get it")
    args = parser.parse_args(argv)
    args.size = args.size or (200 if args.quick else 20_000)
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.budget = args.budget if args.budget is not None else (0.2 if args.quick else 15.0)
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - {"speed", "linearity", "profile"}
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from speed, linearity, profile")

    limit = contextlib.nullcontext()
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(args.blas_threads, user_api="blas")
    with limit:
        run(args, sections)


if __name__ == "__main__":
    main()
