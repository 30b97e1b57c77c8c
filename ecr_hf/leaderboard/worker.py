"""The leaderboard's evaluation worker: queued model requests to results files, one at a time.

:func:`run_worker` claims the oldest PENDING request (:class:`~ecr_hf.leaderboard.requests.RequestQueue`),
evaluates its model on every fold of each requested data set (:func:`~ecr_hf.leaderboard.evaluate_model`,
scored with the settings of that data set's other results), and only when every data set succeeded
puts the results files in the results folder and their per-document counts beside the references,
where the leaderboard app reads them. A request fails with a reason the app shows: a model folder
that is not a model, labels the data set does not have, a name already taken, the time limit, or
the evaluation killed (out of memory). The evaluation runs in a child process, so a crash or a
time limit never takes the worker down, and a failed request leaves no results.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..scoring import DEFAULT_P_VALUES
from ..spans import LabelMap
from ..utils import atomic_write_text
from .app import name_keys
from .requests import EvaluationRequest, RequestQueue
from .results import load_results, results_file_name, scoring_settings

__all__ = ["DEFAULT_TIME_LIMIT", "WorkerConfig", "process_request", "run_worker"]

logger = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 3600.0
"""Seconds one request may take, all its data sets together."""


@dataclass(frozen=True)
class WorkerConfig:
    """Where a worker reads and writes, and its limits."""

    requests_dir: Path
    results_dir: Path
    references_dir: Path
    time_limit: float = DEFAULT_TIME_LIMIT
    batch_size: int = 32

    def __post_init__(self):
        for name in ("requests_dir", "results_dir", "references_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {self.time_limit!r}")

    def counts_path(self, dataset: str, results_file: str) -> Path:
        """Where the app looks for a results file's counts (:meth:`ecr_hf.leaderboard.app.Leaderboard.counts_path`)."""
        return self.references_dir / dataset / "counts" / f"{Path(results_file).stem}.counts.json"


class RequestError(ValueError):
    """A request that cannot run; the message is the reason shown to the user."""


def _plan(request: EvaluationRequest, config: WorkerConfig) -> list[dict[str, Any]]:
    """One evaluation per data set, with its settings and targets; checked before any model is loaded."""
    files = sorted(config.results_dir.glob("*.json"))
    rows = load_results(files).to_list() if files else []
    plans = []
    for dataset in request.datasets:
        if not (config.references_dir / dataset).is_dir():
            raise RequestError(f"this server holds no references for data set {dataset!r}")
        taken = [row for row in rows if row.get("dataset") == dataset and row.get("request_id") != request.id
                 and name_keys(str(row.get("model_name"))) & name_keys(request.model_name)]
        if taken:
            raise RequestError(f"a system named {request.model_name!r} already has results on {dataset}")
        target = results_file_name(dataset, request.model_name)
        existing = config.results_dir / target
        if existing.exists() and json.loads(existing.read_text(encoding="utf-8"))["config"].get(
                "request_id") != request.id:
            raise RequestError(f"a results file {target} exists already; choose another name")
        settings = scoring_settings([row for row in rows if row.get("dataset") == dataset])
        plans.append({"dataset": dataset, "target": target, "settings": settings})
    return plans


def _evaluate(request: dict[str, Any], plans: list[dict[str, Any]], references_dir: str, work_dir: str,
              batch_size: int, connection: Any) -> None:
    """The child process: evaluate every data set into ``work_dir/<data set>``; send None or the reason."""
    try:
        from .evaluation import GenerationOptions, evaluate_model

        label_map = LabelMap.from_dict(request["label_map"]) if request.get("label_map") else None
        generation = GenerationOptions(**request["generation"]) if request.get("generation") else None
        for plan in plans:
            settings = dict(plan["settings"])
            evaluate_model(request["model"], Path(references_dir) / plan["dataset"], Path(work_dir) / plan["dataset"],
                           kind=request.get("kind"), label_map=label_map, model_name=request["model_name"],
                           dataset=plan["dataset"], method=request.get("method"), family=request.get("family"),
                           batch_size=batch_size, p_values=settings.pop("p_values", DEFAULT_P_VALUES),
                           generation=generation, **settings, description={"request_id": request["id"]})
        connection.send(None)
    except MemoryError:
        connection.send("out of memory while evaluating")
    except (ValueError, OSError, KeyError) as e:
        connection.send(str(e) or type(e).__name__)
    except Exception as e:  # an unexpected failure still gets a reason, with its type
        connection.send(f"{type(e).__name__}: {e}")
    finally:
        connection.close()


def _run_child(request: EvaluationRequest, plans: list[dict[str, Any]], config: WorkerConfig, work_dir: Path) -> None:
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch threads
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_evaluate, args=(vars(request), plans, str(config.references_dir),
                                                    str(work_dir), config.batch_size, send), daemon=True)
    child.start()
    send.close()
    child.join(config.time_limit)
    if child.is_alive():
        child.kill()
        child.join()
        raise RequestError(f"time limit of {config.time_limit:g} s exceeded")
    reason = receive.recv() if receive.poll() else None
    if child.exitcode != 0 and reason is None:
        if child.exitcode is not None and -child.exitcode == signal.SIGKILL:
            raise RequestError("the evaluation was killed (SIGKILL; most often out of memory)")
        raise RequestError(f"the evaluation process exited with code {child.exitcode}")
    if reason is not None:
        raise RequestError(reason)


def process_request(queue: RequestQueue, config: WorkerConfig) -> EvaluationRequest | None:
    """Claim and run the oldest PENDING request; the request as it ended, or None if none was pending."""
    with queue.claim() as request:
        if request is None:
            return None
        work_dir = config.requests_dir / f".{request.id}.work"
        shutil.rmtree(work_dir, ignore_errors=True)  # what an earlier, interrupted attempt left
        try:
            plans = _plan(request, config)
            _run_child(request, plans, config, work_dir)
            written = []
            for plan in plans:  # counts first: a results file never appears without its counts
                out = work_dir / plan["dataset"]
                counts = config.counts_path(plan["dataset"], plan["target"])
                counts.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(counts, (out / "counts.json").read_text(encoding="utf-8"), overwrite=True)
            for plan in plans:
                text = (work_dir / plan["dataset"] / "results.json").read_text(encoding="utf-8")
                written.append(str(atomic_write_text(config.results_dir / plan["target"], text, overwrite=True)))
        except RequestError as e:
            queue.fail(request, str(e))
            logger.warning("request %s failed: %s", request.id, e)
            return request
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        queue.finish(request, written)
        logger.info("request %s finished: %s", request.id, ", ".join(written))
        return request


def run_worker(config: WorkerConfig, *, once: bool = False, poll: float = 10.0,
               max_requests: int | None = None) -> int:
    """Process requests until stopped (``once``: until none is pending; ``max_requests``: at most so
    many); the number processed. Requests of a worker that died are requeued first."""
    queue = RequestQueue(config.requests_dir)
    config.results_dir.mkdir(parents=True, exist_ok=True)
    if requeued := queue.requeue_orphans():
        logger.warning("requeued %d request(s) whose worker stopped: %s", len(requeued), ", ".join(requeued))
    done = 0
    while max_requests is None or done < max_requests:
        if process_request(queue, config) is not None:
            done += 1
        elif once:
            break
        else:
            time.sleep(poll)
    return done
