"""The evaluation request queue: one small JSON file per request in a requests folder.

A request asks for a model to be evaluated on data sets the server holds. Its ``status`` goes
``PENDING`` -> ``RUNNING`` -> ``FINISHED`` or ``FAILED`` (with the ``reason`` shown to the user),
as in the Hub's leaderboard template. Every change rewrites the file atomically, so a reader sees
the old state or the new one, never a torn file.

Claiming: a worker takes an exclusive ``flock`` on ``<id>.lock`` (never deleted) and holds it while
it runs the request, then reads the status again under the lock. So two workers on one folder never
run one request twice, and a request whose worker died (the kernel releases its lock) is found
``RUNNING`` with a free lock: it is put back to ``PENDING`` (:func:`requeue_orphans`) and runs
again, not lost. ``flock`` is reliable on a local file system, not on NFS: keep the requests
folder local to the workers. On the Hub, the same folder is a data set repository that the Space
and the worker sync with ``huggingface_hub`` (``snapshot_download`` / ``upload_file``); ecr-hf
itself reads and writes only the local folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..utils import atomic_write_text

__all__ = ["STATUSES", "EvaluationRequest", "RequestQueue"]

STATUSES = ("PENDING", "RUNNING", "FINISHED", "FAILED")
_KINDS = (None, "token-classifier", "causal-lm", "predictions")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class EvaluationRequest:
    """One request (the JSON file's fields)."""

    model: str = field(metadata={"help": "a model folder or predictions file on the server ({k}: one per fold)"})
    model_name: str = field(metadata={"help": "the system's name on the leaderboard"})
    datasets: list[str] = field(metadata={"help": "the data sets (reference folders) to evaluate on"})
    kind: str | None = field(default=None, metadata={"help": "a model kind of ecr_hf.leaderboard.MODEL_KINDS; "
                                                             "None: detected"})
    family: str | None = field(default=None, metadata={"help": "encoder, decoder or instruction-tuned"})
    method: str | None = field(default=None, metadata={"help": "how the system was built (free text)"})
    label_map: dict[str, Any] | None = field(default=None, metadata={"help": "ecr_hf.spans.LabelMap.to_dict()"})
    generation: dict[str, Any] | None = field(default=None, metadata={
        "help": "causal LMs: fields of ecr_hf.leaderboard.GenerationOptions (template, shots, typed, constrained, "
                "max_new_tokens, chat); None: its defaults"})
    id: str = field(default="", metadata={"help": "set when the request is submitted"})
    status: str = "PENDING"
    reason: str | None = field(default=None, metadata={"help": "why a request FAILED"})
    submitted_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = field(default=0, metadata={"help": "times a worker started it (> 1 after a requeue)"})
    results: list[str] = field(default_factory=list, metadata={"help": "results files written, when FINISHED"})
    history: list[str] = field(default_factory=list, metadata={"help": "what happened to it, oldest first"})

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("a request needs a model (a local folder or predictions file)")
        if not isinstance(self.model_name, str) or not self.model_name.strip():
            raise ValueError("a request needs a model_name")
        if isinstance(self.datasets, str) or not self.datasets or not all(isinstance(d, str) and d
                                                                           for d in self.datasets):
            raise ValueError(f"datasets must be a non-empty list of data set names, got {self.datasets!r}")
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {list(_KINDS)}, got {self.kind!r}")
        if self.generation is not None:  # checked now, not hours later in the worker
            from .evaluation import GenerationOptions

            if not isinstance(self.generation, dict):
                raise ValueError(f"generation must be an object of GenerationOptions fields, got {self.generation!r}")
            try:
                GenerationOptions(**self.generation)
            except TypeError as e:
                raise ValueError(f"generation: {e}") from None
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}, got {self.status!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvaluationRequest":
        names = {f.name for f in fields(cls)}
        if unknown := sorted(set(data) - names):
            raise ValueError(f"unknown request fields {unknown}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n"


class RequestQueue:
    """The requests folder: submit, list, claim, finish (module docstring)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, request_id: str) -> Path:
        return self.folder / f"{request_id}.json"

    def submit(self, request: EvaluationRequest) -> EvaluationRequest:
        """Save ``request`` as a new PENDING request with a fresh id (time-ordered, so the oldest runs first)."""
        request.id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"
        request.status, request.reason, request.attempts, request.results = "PENDING", None, 0, []
        request.submitted_at = _now()
        request.history = [f"{request.submitted_at} submitted"]
        atomic_write_text(self.path(request.id), request.to_json())
        return request

    def read(self, request_id: str) -> EvaluationRequest:
        path = self.path(request_id)
        try:
            return EvaluationRequest.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: not a request file: {e}") from None

    def list(self) -> list[EvaluationRequest]:
        """Every request, oldest first; a file that is not a request is skipped."""
        out = []
        for path in sorted(self.folder.glob("*.json")):
            with contextlib.suppress(ValueError, OSError):
                out.append(self.read(path.stem))
        return out

    def _write(self, request: EvaluationRequest, event: str) -> None:
        request.history.append(f"{_now()} {event}")
        atomic_write_text(self.path(request.id), request.to_json(), overwrite=True)

    @contextlib.contextmanager
    def _locked(self, request_id: str) -> Iterator[bool]:
        """Try the request's lock without waiting: True while held by this process, False if another holds it."""
        fd = os.open(self.folder / f"{request_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def requeue_orphans(self) -> list[str]:
        """Put RUNNING requests whose worker is gone (their lock is free) back to PENDING; their ids."""
        done = []
        for request in self.list():
            if request.status != "RUNNING":
                continue
            with self._locked(request.id) as held:
                if held and (current := self.read(request.id)).status == "RUNNING":
                    current.status = "PENDING"
                    self._write(current, "requeued: its worker stopped before finishing")
                    done.append(current.id)
        return done

    @contextlib.contextmanager
    def claim(self) -> Iterator[EvaluationRequest | None]:
        """The oldest PENDING request, marked RUNNING and locked for the ``with`` block (None: nothing
        to do). Finish it with :meth:`finish` or :meth:`fail` inside the block; leaving the block
        otherwise (an exception) marks it FAILED with the exception as the reason."""
        self.requeue_orphans()
        for candidate in self.list():
            if candidate.status != "PENDING":
                continue
            with self._locked(candidate.id) as held:
                if not held:
                    continue
                request = self.read(candidate.id)  # again, under the lock: another worker may have run it
                if request.status != "PENDING":
                    continue
                request.status, request.started_at, request.reason = "RUNNING", _now(), None
                request.attempts += 1
                self._write(request, f"running (attempt {request.attempts}, pid {os.getpid()})")
                try:
                    yield request
                except Exception as e:
                    self.fail(request, f"{type(e).__name__}: {e}")
                    raise
                if request.status == "RUNNING":
                    self.fail(request, "the worker returned without finishing the request")
                return
        yield None

    def finish(self, request: EvaluationRequest, results: list[str]) -> None:
        request.status, request.results, request.finished_at = "FINISHED", list(results), _now()
        self._write(request, "finished")

    def fail(self, request: EvaluationRequest, reason: str) -> None:
        request.status, request.reason, request.finished_at = "FAILED", reason, _now()
        self._write(request, f"failed: {reason}")

