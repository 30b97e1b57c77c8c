"""The packaged ``evaluate`` modules of ecr-hf and their registration for loading by bare name.

The module scripts live in the repository's top-level ``metrics/<name>/`` folders (each can be
pushed to the Hub as a Space unchanged) and ship inside the installed package as ``ecr_hf._metrics``.

``evaluate.load("weighted_soft_match")`` first looks for ``./weighted_soft_match/weighted_soft_match.py``,
then asks the Hub for ``evaluate-metric/weighted_soft_match``, and when that fails (offline, no
network, or no such repository) it imports the newest copy in its module cache,
``$HF_MODULES_CACHE/evaluate_modules/metrics/evaluate-metric--<name>/<sha256>/<name>.py``.
:func:`register_metrics` writes the packaged script there, under the hash ``evaluate`` itself would
give it, and deletes every other hash folder of that name, so a stale copy left by an older ecr-hf
can never be the one picked. It must run with the same ``HF_HOME`` / ``HF_MODULES_CACHE`` as the
processes that load, once per cache and again after upgrading ecr-hf (``ecr-hf register-metrics``).
Each file is written to a temporary name in its folder and renamed into place
(:func:`ecr_hf.utils.atomic_write_text`), so a process importing the module while another one
registers reads the old file or the new one, never a truncated one.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..utils.outputs import atomic_write_text

if TYPE_CHECKING:
    import evaluate

__all__ = ["METRIC_NAMES", "metric_script", "load_metric", "register_metrics"]

METRIC_NAMES: tuple[str, ...] = ("weighted_soft_match", "span_metrics")
# evaluate's cache fallback tries the "evaluate-metric" namespace first for a bare name
_NAMESPACE = "evaluate-metric"


def _metrics_root() -> Path:
    """``ecr_hf/_metrics`` in an installed wheel; the checkout's ``metrics/`` folder in a source tree
    or an editable install (whose finder cannot map a package directory without ``__init__.py``)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_metrics"
    return installed if installed.is_dir() else package.parent / "metrics"


def metric_script(name: str) -> Path:
    """Path of the packaged module script ``<name>/<name>.py``.

    Examples:
        >>> metric_script("weighted_soft_match").name
        'weighted_soft_match.py'
    """
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown ecr-hf metric {name!r}; the packaged metrics are {list(METRIC_NAMES)}")
    path = _metrics_root() / name / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"the module script of {name!r} is missing at {path}; reinstall ecr-hf")
    return path


def load_metric(name: str, **kwargs: Any) -> "evaluate.EvaluationModule":
    """``evaluate.load`` of a packaged module by its file path: no Hub lookup, no registration needed.

    ``kwargs`` go to :func:`evaluate.load` (``num_process``, ``process_id``, ``experiment_id``, ...).

    Examples:
        >>> metric = load_metric("weighted_soft_match")
        >>> metric.compute(predictions=[[{"start": 0, "end": 4}]], references=[[{"start": 0, "end": 8}]])["recall"]
        0.5
    """
    import evaluate

    return evaluate.load(str(metric_script(name)), **kwargs)


def register_metrics(
    names: tuple[str, ...] | list[str] = METRIC_NAMES, modules_cache: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Make ``evaluate.load(name)`` find the packaged modules offline, by bare name, from any directory.

    Idempotent; replaces any other cached version of the same name. ``modules_cache`` defaults to
    evaluate's ``HF_MODULES_CACHE`` (``$HF_HOME/modules``). Returns the registered script per name.
    """
    from datasets.utils.filelock import FileLock
    from evaluate import config
    from evaluate.loading import files_to_hash

    # the package layout evaluate's init_dynamic_modules() creates, without touching sys.path
    root = Path(config.HF_MODULES_CACHE if modules_cache is None else modules_cache)
    metrics = root / config.MODULE_NAME_FOR_DYNAMIC_MODULES / "metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    for package in (root, metrics.parent, metrics):
        (package / "__init__.py").touch()
    out = {}
    for name in names:
        source = metric_script(name)
        digest = files_to_hash([str(source)])
        home = metrics / f"{_NAMESPACE}--{name}"
        with FileLock(str(home) + ".lock"):  # the lock evaluate takes for this folder
            home.mkdir(exist_ok=True)
            (home / "__init__.py").touch()
            for old in home.iterdir():
                if old.is_dir() and old.name != digest and len(old.name) == 64:
                    shutil.rmtree(old)
            target = home / digest
            target.mkdir(exist_ok=True)
            (target / "__init__.py").touch()
            script = target / f"{name}.py"
            atomic_write_text(script, source.read_text(encoding="utf-8"), overwrite=True)
            atomic_write_text(target / f"{name}.json", json.dumps({"original file path": str(source),
                                                                   "local file path": str(script)}), overwrite=True)
        out[name] = script
    importlib.invalidate_caches()
    return out
