"""Time to first table of the leaderboard app under concurrent visitors, and the server's peak RSS.

Builds a leaderboard folder of synthetic but schema-valid results (``--systems`` systems on
``--datasets`` data sets, 3 folds of ``--docs`` documents each, scored by
:func:`ecr_hf.leaderboard.cross_validate`, with per-document counts beside the references, so
the "vs best F1" column's paired tests run too), serves :func:`ecr_hf.leaderboard.app.build_app`
on a local port in a subprocess, and starts ``--visitors`` visitors at once with ``gradio_client``.
Each loads the page (its load event: the tables, ties and figures of the first data set; the
time to first table) and then switches to every other data set (the dropdown's change event).
Prints p50/p95 of both and the server's peak RSS (psutil, else /proc), sampled every 50 ms.

    python benchmarks/bench_leaderboard_load.py            # 50 systems x 5 data sets, 20 visitors
    python benchmarks/bench_leaderboard_load.py --quick    # 10 systems x 2 data sets, 5 visitors
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ecr_hf.leaderboard import cross_validate
from ecr_hf.leaderboard.app import FAMILIES
from ecr_hf.leaderboard.results import cross_validation_counts, results_file_name
from ecr_hf.scoring.significance import save_counts

_WORDS = ["fever", "acute", "renal", "failure", "of", "the", "patient", "with", "chronic", "pain", "and",
          "cisplatin", "induced", "nephrotoxicity", "in", "mice", "was", "observed", "after", "dose"]
_LABELS = ["Disease", "Chemical"]


def _document(rng: np.random.Generator, n_words: int) -> tuple[str, list[dict]]:
    """A text of random words and gold spans of 1-3 whole words, apart from each other."""
    words = rng.choice(_WORDS, n_words).tolist()
    starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]]).tolist()
    spans, i = [], int(rng.integers(0, 3))
    while i < n_words:
        j = min(n_words, i + int(rng.integers(1, 4)))
        spans.append({"start": starts[i], "end": starts[j - 1] + len(words[j - 1]), "label": str(rng.choice(_LABELS))})
        i = j + int(rng.integers(1, 5))
    return " ".join(words), spans


def _predict(rng: np.random.Generator, gold: list[dict], skill: float) -> list[dict]:
    """Gold spans, some dropped and some cut short (a fragment), as a system of the given skill would find them."""
    out = []
    for span in gold:
        if rng.random() > skill:
            continue
        end = span["end"] if rng.random() < skill else max(span["start"] + 1, span["end"] - 3)
        out.append({**span, "end": end})
    return out


def build_folder(root: Path, n_systems: int, n_datasets: int, n_docs: int, seed: int = 0) -> tuple[Path, Path]:
    """``root/results`` and ``root/references`` (with ``counts``) of the synthetic leaderboard."""
    rng = np.random.default_rng(seed)
    results, references = root / "results", root / "references"
    results.mkdir(parents=True)
    families = list(FAMILIES)
    for d in range(n_datasets):
        dataset = f"synthetic_{d}"
        folds = [[(f"d{d}-f{k}-{i}", *_document(rng, int(rng.integers(30, 80)))) for i in range(n_docs)]
                 for k in range(3)]
        for k, fold in enumerate(folds):
            (references / dataset / f"fold{k}").mkdir(parents=True)
            lines = [json.dumps({"doc_id": key, "text": text, "entities": spans}) for key, text, spans in fold]
            (references / dataset / f"fold{k}" / "test.jsonl").write_text("\n".join(lines) + "\n")
        refs = [[spans for _, _, spans in fold] for fold in folds]
        texts = [[text for _, text, _ in fold] for fold in folds]
        doc_ids = [[key for key, _, _ in fold] for fold in folds]
        for s in range(n_systems):
            skill = 0.6 + 0.35 * s / max(1, n_systems - 1)
            preds = [[_predict(rng, spans, skill) for spans in fold] for fold in refs]
            result = cross_validate(refs, preds, texts=texts, typed=True, doc_ids=doc_ids)
            family = families[s % len(families)]
            kind = {"constrained": bool(s % 2)} if family == "instruction-tuned" else {}
            name = f"system-{s:03d}"
            path = result.save(results / results_file_name(dataset, name), model_name=name, dataset=dataset,
                               method=f"synthetic skill {skill:.2f}", family=family, **kind)
            counts = cross_validation_counts(refs, preds, texts=texts, typed=True, doc_ids=doc_ids)
            save_counts(counts, references / dataset / "counts" / f"{path.stem}.counts.json")
    return results, references


_SERVER = """
import sys
from ecr_hf.leaderboard.app import build_app
build_app(sys.argv[1], sys.argv[2]).launch(server_name="127.0.0.1", server_port=int(sys.argv[3]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its children."""
    try:
        import psutil
    except ImportError:
        with open(f"/proc/{pid}/status") as file:
            return next(int(line.split()[1]) * 1024 for line in file if line.startswith("VmRSS:"))
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def _wait_up(url: str, server: subprocess.Popen, timeout: float = 300) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no server at {url} after {timeout} s")


def _visit(url: str, datasets: list[str], families: list[str], start: threading.Barrier) -> tuple[float, list[float]]:
    """One visitor: the page's load event (time to first table), then each other data set in turn."""
    from gradio_client import Client
    client = Client(url, verbose=False)  # fetches the app's config: not timed, a browser has it with the page
    start.wait()
    t0 = time.perf_counter()
    client.predict(datasets[0], families, families, api_name="/refresh")
    first = time.perf_counter() - t0
    switches = []
    for dataset in datasets[1:]:
        t0 = time.perf_counter()
        client.predict(dataset, families, api_name="/tables")
        switches.append(time.perf_counter() - t0)
    return first, switches


def _percentiles(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):6.2f} s  p95 {np.percentile(values, 95):6.2f} s  (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 systems x 2 data sets, 5 visitors")
    parser.add_argument("--systems", type=int, default=50)
    parser.add_argument("--datasets", type=int, default=5)
    parser.add_argument("--docs", type=int, default=40, help="test documents per fold")
    parser.add_argument("--visitors", type=int, default=20)
    args = parser.parse_args()
    if args.quick:
        args.systems, args.datasets, args.visitors = 10, 2, 5
    with tempfile.TemporaryDirectory(prefix="ecr-hf-bench-") as tmp:
        t0 = time.perf_counter()
        results, references = build_folder(Path(tmp), args.systems, args.datasets, args.docs)
        print(f"{args.systems} systems x {args.datasets} data sets, 3 folds x {args.docs} documents: "
              f"built in {time.perf_counter() - t0:.1f} s")
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "MPLBACKEND": "Agg"}
        server = subprocess.Popen([sys.executable, "-c", _SERVER, str(results), str(references), str(port)], env=env,
                                  cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            t0 = time.perf_counter()
            _wait_up(url, server)
            print(f"server up in {time.perf_counter() - t0:.1f} s (start-up: build_app and its first tables)")
            peak, done = _rss(server.pid), threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.wait(0.05):
                    peak = max(peak, _rss(server.pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            datasets = [f"synthetic_{d}" for d in range(args.datasets)]
            families = [FAMILIES["encoder"], FAMILIES["decoder"], "instruction-tuned, unconstrained",
                        "instruction-tuned, constrained"]
            start = threading.Barrier(args.visitors)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.visitors) as pool:
                visits = list(pool.map(lambda _: _visit(url, datasets, families, start), range(args.visitors)))
            wall = time.perf_counter() - t0
            done.set()
            sampler.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.visitors} visitors at once, {wall:.1f} s in all (clients' set-up included)")
    print(f"time to first table (page load): {_percentiles([first for first, _ in visits])}")
    if args.datasets > 1:
        print(f"data set switch:                  {_percentiles([s for _, switches in visits for s in switches])}")
    print(f"server peak RSS: {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
