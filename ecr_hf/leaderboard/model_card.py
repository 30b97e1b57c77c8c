"""E-CCR scores as Hugging Face Hub model-card metadata.

A model page shows evaluation results from two places, and :func:`write_model_card` writes both,
built with ``huggingface_hub``'s own classes so that the Hub parses them as it parses any card:

* the ``model-index`` of ``README.md`` (:class:`huggingface_hub.EvalResult`), one metric per score
  with a type and name that say what it is: ``weighted_soft_match_f1`` "Weighted soft match F1
  (p=2)" with ``args: {p: 2, typed: false}``, ``strict_span_f1``, ``character_f1``...;
* ``.eval_results/<dataset>.yaml`` (:class:`huggingface_hub.EvalResultEntry`, the Hub's newer
  format): one entry per score, ``task_id`` the same metric id with its p (``weighted_soft_match_f1_p2``).
  That format has no metric name or SD field: the name, the number of folds and the SD go in ``notes``.
  The Hub ranks such entries on a leaderboard only when ``dataset.id`` is a registered Benchmark
  data set whose ``eval.yaml`` defines the task id; elsewhere the file is the structured record.

A cross-validated result's ``metric_value`` is the mean over folds (a number, so leaderboards can
sort it); its sample SD (``ddof=1``) is a metric of its own, type ``<type>_sd`` ("... SD over 5
folds"), never mixed into a value string such as ``"0.81 ± 0.02"``. ``args`` also carries
``n_folds``. A test-set score (one :func:`ecr_hf.scoring.span_metrics` dict) has no SD entries.
No result sets ``verified`` (the Hub sets it for its own evaluation service only).

An existing ``README.md`` keeps its prose byte for byte and every metadata key; only
``model-index`` metrics of the same type, args and data set are replaced, and the file is
rewritten atomically. (YAML comments inside the metadata block are not kept: the block is
re-serialised, as ``huggingface_hub`` does.)
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from huggingface_hub import EvalResult
from huggingface_hub.repocard import REGEX_YAML_BLOCK
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results
from huggingface_hub.utils import yaml_dump

from .. import __version__
from .results import CrossValidationResult, load_results
from ..utils.outputs import atomic_write_text
from ..scoring.soft_match import format_p

if TYPE_CHECKING:
    from huggingface_hub import EvalResultEntry

__all__ = ["ModelCardError", "CardMetric", "read_scores", "card_metrics", "model_index_results", "eval_result_entries",
           "write_model_card"]

TASK_TYPE = "token-classification"
TASK_NAME = "Clinical concept recognition (character spans)"
_KINDS = {"f1": "F1", "precision": "precision", "recall": "recall"}
_P_KEY = re.compile(r"^p(\d+(?:\.\d+)?|inf)_(f1|precision|recall)$")


class ModelCardError(ValueError):
    """Scores or an existing model card that cannot be turned into (merged with) card metadata."""


def _eval_results_api() -> tuple[Any, Any, Any]:
    """huggingface_hub's ``.eval_results`` classes (>= 1.4); the ``model-index`` needs only older ones,
    so an older huggingface_hub (which transformers < 5 requires) still writes that."""
    try:
        from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml, parse_eval_result_entries
    except ImportError:
        import huggingface_hub

        raise ModelCardError(f"the .eval_results format needs huggingface_hub >= 1.4 (installed: "
                             f"{huggingface_hub.__version__}): upgrade it, or write the README model-index "
                             "alone (eval_results=False, --no-eval-results)") from None
    return EvalResultEntry, eval_result_entries_to_yaml, parse_eval_result_entries


@dataclass(frozen=True)
class CardMetric:
    """One score as it goes on a card: ``metric_type``/``name``/``args`` say what it is, ``value``
    is the mean over folds (or the test-set score), ``sd`` the fold SD (None: one test set, or
    undefined from a single fold)."""

    key: str  # the ecr-hf result key, e.g. "p2_f1"
    metric_type: str
    name: str
    args: dict[str, Any]
    value: float
    sd: float | None = None

    @property
    def task_id(self) -> str:
        """The ``.eval_results`` task id: the type, and the p where it has one."""
        return self.metric_type + (f"_p{format_p(self.args['p'])}" if "p" in self.args else "")


def read_scores(path: str | os.PathLike, *, typed: bool | None = None) -> dict[str, Any]:
    """One system's scores from a JSON file, as one flat dict (a :func:`load_results` row's layout):
    a leaderboard results file (checked by :func:`load_results`), or one test set's flat scores
    (``ecr-hf score --format json``, a :func:`~ecr_hf.scoring.span_metrics` dict saved as JSON).

    ``typed`` says how flat scores were computed (they do not record it); for a leaderboard file,
    whose config records it, a different ``typed`` is an error.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelCardError(f"{path}: cannot read scores JSON ({e})") from None
    if not isinstance(data, dict):
        raise ModelCardError(f"{path}: holds a JSON {type(data).__name__}, not an object of scores")
    if "config" in data:
        (flat,) = load_results(path).to_list()  # one file: one row, or ResultsFileError naming the file
        if typed is not None and bool(flat["typed"]) != typed:
            raise ModelCardError(f"{path}: the run was scored with typed={flat['typed']}, not typed={typed}")
        return flat
    return {**data, "typed": bool(typed)}


def _flat(results: CrossValidationResult | Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """One system's config and scores as one flat dict (a :func:`load_results` row's layout)."""
    if isinstance(results, CrossValidationResult):
        data = results.to_dict()
        return {**data["config"], **data["results"]}
    if isinstance(results, (str, os.PathLike)):
        return read_scores(results)
    if isinstance(results, Mapping):
        if "config" in results and "results" in results:  # a leaderboard file's content
            return {**results["config"], **results["results"]}
        return dict(results)
    raise TypeError(f"expected a CrossValidationResult, a scores file or a score dict, got {type(results).__name__}")


def _number(flat: Mapping[str, Any], key: str, *, score: bool) -> float | None:
    """A finite score in [0, 1] (a SD in [0, 1] too), None where undefined (null / NaN)."""
    value = flat.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ModelCardError(f"{key} is {value!r}, not a number")
    if math.isnan(value):
        return None
    if not 0.0 <= value <= 1.0:
        raise ModelCardError(f"{key} = {value} is outside [0, 1]" + (" (a percentage?)" if score else ""))
    return float(value)


def _p_values(flat: Mapping[str, Any]) -> list[float]:
    """The run's ``p_values`` where its config records them (the p it chose to report), else
    every p the keys hold."""
    chosen = flat.get("p_values")
    if chosen is not None:
        return [float(p) for p in (json.loads(chosen) if isinstance(chosen, str) else chosen)]
    return sorted({float(m.group(1)) for k in flat if (m := _P_KEY.match(k))})


def card_metrics(results: CrossValidationResult | Mapping[str, Any] | str | os.PathLike, *,
                 metrics: Sequence[str] = ("f1", "precision", "recall")) -> list[CardMetric]:
    """The scores of ``results`` that go on a card, in card order: the weighted soft match at
    every p computed, then strict span and character-level scores, each as ``metrics``.

    ``results``: a :class:`~ecr_hf.leaderboard.CrossValidationResult`, a leaderboard file (path),
    its loaded content or a :func:`~ecr_hf.leaderboard.load_results` row, or one
    :func:`~ecr_hf.scoring.span_metrics` dict (its ``typed`` key, default false, says how it was
    scored). The p values are the run's ``p_values`` where recorded. A score that is undefined
    (null) is left out; a value that is not a number in [0, 1] is an error.
    """
    unknown = [m for m in metrics if m not in _KINDS]
    if unknown or not metrics:
        raise ModelCardError(f"metrics must be among {list(_KINDS)}, got {list(metrics)}")
    flat = _flat(results)
    typed = bool(flat.get("typed", False))
    n_folds = flat.get("n_folds")
    folds = {"n_folds": int(n_folds)} if n_folds is not None else {}
    p_values = _p_values(flat)
    specs = [(f"p{format_p(p)}_{m}", f"weighted_soft_match_{m}",
              f"Weighted soft match {_KINDS[m]} (p={format_p(p)}{', typed' if typed else ''})",
              {"p": int(p) if p.is_integer() else p, "typed": typed, **folds}) for p in p_values for m in metrics]
    specs += [(f"strict_{m}", f"strict_span_{m}", f"Strict span {_KINDS[m]} (exact boundaries and label)",
               dict(folds)) for m in metrics]
    specs += [(f"char_{m}", f"character_{m}", f"Character-level {_KINDS[m]} (untyped)", dict(folds))
              for m in metrics]
    out = []
    for key, metric_type, name, args in specs:
        value = _number(flat, key, score=True)
        if value is not None:
            out.append(CardMetric(key, metric_type, name, args, value, _number(flat, f"{key}_sd", score=False)))
    if not out:
        raise ModelCardError(f"no {'/'.join(metrics)} scores found (expected keys such as 'p1_f1', 'strict_f1')")
    return out


def _dataset_id(flat: Mapping[str, Any], dataset_id: str | None) -> str:
    dataset_id = dataset_id or flat.get("dataset")
    if not dataset_id:
        raise ModelCardError("no data set named: pass dataset_id (--dataset-id), e.g. the Hub id 'bigbio/ncbi_disease'")
    return str(dataset_id)


def model_index_results(
    results: CrossValidationResult | Mapping[str, Any] | str | os.PathLike,
    *,
    dataset_id: str | None = None,
    dataset_name: str | None = None,
    split: str | None = None,
    metrics: Sequence[str] = ("f1", "precision", "recall"),
    sd: bool = True,
    source_name: str | None = None,
    source_url: str | None = None,
) -> list[EvalResult]:
    """``model-index`` entries (:class:`huggingface_hub.EvalResult`) of :func:`card_metrics`: the
    mean as ``metric_value``, and with ``sd`` a ``<type>_sd`` entry for each defined fold SD.

    ``dataset_id`` (default: the results' ``dataset``) is the Hub data set id; ``dataset_name`` its
    display name (default: the id); ``split`` the split scored, if any.
    """
    flat = _flat(results)
    dataset_id = _dataset_id(flat, dataset_id)
    common = dict(task_type=TASK_TYPE, task_name=TASK_NAME, dataset_type=dataset_id,
                  dataset_name=dataset_name or dataset_id, dataset_split=split,
                  source_name=source_name, source_url=source_url)
    out = []
    for m in card_metrics(flat, metrics=metrics):
        folds = m.args.get("n_folds")
        out.append(EvalResult(metric_type=m.metric_type, metric_value=m.value,
                              metric_name=m.name + (f", mean of {folds} folds" if folds else ""),
                              metric_args=m.args or None, **common))
        if sd and m.sd is not None:
            out.append(EvalResult(metric_type=f"{m.metric_type}_sd", metric_value=m.sd,
                                  metric_name=f"{m.name}, SD over {folds or 'the'} folds",
                                  metric_args=m.args or None, **common))
    return out


def eval_result_entries(
    results: CrossValidationResult | Mapping[str, Any] | str | os.PathLike,
    *,
    dataset_id: str | None = None,
    metrics: Sequence[str] = ("f1", "precision", "recall"),
    date: str | None = None,
    source_url: str | None = None,
    source_name: str | None = None,
) -> list[EvalResultEntry]:
    """``.eval_results/*.yaml`` entries (:class:`huggingface_hub.EvalResultEntry`): ``task_id`` the
    metric id (:attr:`CardMetric.task_id`), ``value`` the mean, ``notes`` the metric's name, the
    folds and the SD (the format has no field for them). ``date``: ISO-8601; None leaves it to the
    Hub (the commit time). Needs huggingface_hub >= 1.4 (:class:`ModelCardError` otherwise)."""
    entry = _eval_results_api()[0]
    flat = _flat(results)
    dataset_id = _dataset_id(flat, dataset_id)
    version = flat.get("ecr_hf_version") or __version__
    out = []
    for m in card_metrics(flat, metrics=metrics):
        folds = m.args.get("n_folds")
        notes = m.name + (f", mean of {folds} cross-validation folds" if folds else "")
        notes += (f" (SD {m.sd:.4f})" if m.sd is not None else "") + f", scored with ecr-hf {version}"
        out.append(entry(dataset_id=dataset_id, task_id=m.task_id, value=m.value, date=date,
                         source_url=source_url, source_name=source_name, notes=notes))
    return out


def _metric_key(metric: Mapping[str, Any]) -> tuple:
    return metric.get("type"), repr(metric.get("args")), metric.get("config")


def _result_key(result: Mapping[str, Any]) -> tuple:
    dataset = result.get("dataset") or {}
    return ((result.get("task") or {}).get("type"), dataset.get("type"), dataset.get("config"),
            dataset.get("split"), dataset.get("revision"))


def _merge_model_index(existing: Any, new: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """``existing`` model-index with ``new``'s metrics added; a metric of the same type, args and
    config on the same task and data set is replaced, everything else kept in its place."""
    if existing is None:
        return new
    try:  # huggingface_hub's own parser: what it cannot read, the Hub cannot show, and we cannot merge
        if not isinstance(existing, list):
            raise TypeError(f"a {type(existing).__name__}, not a list")
        model_index_to_eval_results(existing)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise ModelCardError(f"{where}: its model-index is malformed ({type(e).__name__}: {e}); fix it by hand "
                             "first") from None
    merged = [dict(e) for e in existing]
    for model in new:
        target = next((e for e in merged if e.get("name") == model["name"]), None)
        if target is None:
            merged.append(model)
            continue
        target["results"] = [dict(r) for r in target.get("results", [])]
        for result in model["results"]:
            same = next((r for r in target["results"] if _result_key(r) == _result_key(result)), None)
            if same is None:
                target["results"].append(result)
                continue
            metrics = list(same.get("metrics") or [])
            for metric in result["metrics"]:
                at = next((i for i, m in enumerate(metrics) if _metric_key(m) == _metric_key(metric)), None)
                if at is None:
                    metrics.append(metric)
                else:
                    metrics[at] = metric
            same["metrics"] = metrics
    return merged


def _eval_results_name(dataset_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", dataset_id).strip("._") + ".yaml"


def write_model_card(
    folder: str | Path,
    results: CrossValidationResult | Mapping[str, Any] | str | os.PathLike,
    *,
    model_name: str | None = None,
    dataset_id: str | None = None,
    dataset_name: str | None = None,
    split: str | None = None,
    metrics: Sequence[str] = ("f1", "precision", "recall"),
    sd: bool = True,
    eval_results: bool = True,
    date: str | None = None,
    source_name: str | None = None,
    source_url: str | None = None,
) -> list[Path]:
    """Add ``results`` to the model card of the model folder ``folder``: its ``README.md``
    ``model-index`` (created with a short body if there is no README) and, with ``eval_results``,
    ``.eval_results/<dataset id>.yaml`` (merged the same way: entries with the same data set and
    task id are replaced). Returns the paths written.

    ``model_name`` (default: the name in the README's model-index, if it has one entry; else the
    results' ``model_name``; else the folder name) names the model-index entry. An existing README whose metadata is not valid YAML,
    or whose model-index is malformed, is an error and is left untouched.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ModelCardError(f"{folder} is not a folder")
    flat = _flat(results)
    dataset_id = _dataset_id(flat, dataset_id)
    readme = folder / "README.md"
    content, metadata, match = "", {}, None
    if readme.exists():
        with open(readme, encoding="utf-8-sig", newline="") as f:  # keep the prose's line endings
            content = f.read()
        match = REGEX_YAML_BLOCK.search(content)
        if match:
            try:
                metadata = yaml.safe_load(match.group(2)) or {}
            except yaml.YAMLError as e:
                raise ModelCardError(f"{readme}: the metadata block is not valid YAML ({e})") from None
            if not isinstance(metadata, dict):
                raise ModelCardError(f"{readme}: the metadata block is not a mapping")
    existing = metadata.get("model-index")
    default_name = existing[0].get("name") if isinstance(existing, list) and len(existing) == 1 \
        and isinstance(existing[0], dict) else None
    name = model_name or default_name or flat.get("model_name") or folder.resolve().name
    entries = model_index_results(flat, dataset_id=dataset_id, dataset_name=dataset_name, split=split,
                                  metrics=metrics, sd=sd, source_name=source_name, source_url=source_url)
    metadata["model-index"] = _merge_model_index(existing, eval_results_to_model_index(str(name), entries),
                                                 str(readme))
    line_break = "\r\n" if "\r\n" in content else "\n"
    block = f"---{line_break}{yaml_dump(metadata, sort_keys=False, line_break=line_break)}---{line_break}"
    if match:
        text = content[: match.start()] + block + content[match.end():]
    elif content:
        text = block + content
    else:
        text = block + _default_body(str(name), flat, dataset_id)
    written = []
    if eval_results:
        path = folder / ".eval_results" / _eval_results_name(dataset_id)
        new = eval_result_entries(flat, dataset_id=dataset_id, metrics=metrics, date=date,
                                  source_url=source_url, source_name=source_name)
        written.append(_write_eval_results(path, new))
    written.insert(0, atomic_write_text(readme, text, overwrite=True))
    return written


def _write_eval_results(path: Path, new: list[EvalResultEntry]) -> Path:
    """Merge at the YAML level: an entry of another task keeps every field it has, known to
    huggingface_hub or not; one of the same data set and task id is replaced."""
    _, to_yaml, parse = _eval_results_api()
    keys = {(e.dataset_id, e.task_id) for e in new}
    kept: list[Any] = []
    if path.exists():
        try:
            old = yaml.safe_load(path.read_text(encoding="utf-8")) or []
            if not isinstance(old, list) or not all(isinstance(raw, dict) for raw in old):
                raise TypeError("not a list of entries")
            for raw in old:
                entry = parse([raw])  # huggingface_hub's parser checks it
                if not entry or (entry[0].dataset_id, entry[0].task_id) not in keys:
                    kept.append(raw)
        except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as e:
            raise ModelCardError(f"{path}: not a valid .eval_results file ({type(e).__name__}: {e}); "
                                 "fix or remove it first") from None
    return atomic_write_text(path, yaml_dump(kept + to_yaml(new), sort_keys=False), overwrite=True)


def _default_body(name: str, flat: Mapping[str, Any], dataset_id: str) -> str:
    """A new card's prose: what the numbers are, where they come from."""
    folds = flat.get("n_folds")
    how = f"the mean over {folds} cross-validation folds, with the SD as its own `*_sd` metric" if folds \
        else "one test set"
    return (f"\n# {name}\n\nClinical concept recognition scores on `{dataset_id}` from "
            f"ecr-hf: {how}. *Weighted soft match* F1 at p credits partial overlaps of character "
            "spans (at p=1 it equals character-level F1; a larger p punishes fragmented extraction); "
            "*strict span* F1 counts exact boundaries and label only; *character-level* F1 scores "
            "characters, untyped. See the `model-index` metadata for every value.\n")
