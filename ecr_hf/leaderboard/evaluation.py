"""From a model to a leaderboard row: predict every test set, score it, write it all or nothing.

:func:`evaluate_model` runs a model (or reads a system's predictions) on one test set or on every
fold of a cross-validation layout, scores the predictions as ``ecr-hf cv-score`` does, and writes
one output folder that appears whole (:func:`ecr_hf.utils.atomic_write_folder`): a failed fold
leaves nothing behind. The folder holds

* ``results.json``: the leaderboard file (``ecr-hf leaderboard`` / ``leaderboard-serve`` read it);
* ``counts.json``: per-document counts, for paired tests (they hold gold-derived counts: keep them
  with the references when the results are published);
* ``predictions/fold{k}.jsonl`` (``predictions/test.jsonl`` for one test set): ``{doc_id, entities}``
  per document, after the label map, the input of ``ecr-hf score`` / ``cv-score``.

Model kinds (:data:`MODEL_KINDS`, detected by :func:`detect_kind`):

* ``"token-classifier"``: a folder saved by ``ecr-hf train`` / ``ECRTrainer``, or any ``transformers``
  token-classification checkpoint (:class:`ecr_hf.token_classification.ECRExtractor`, windows for long
  documents, batched over windows);
* ``"predictions"``: a predictions file (JSONL ``{doc_id, entities}`` or ``{doc_id, marked}``
  generations, or any corpus format ecr-hf reads), so that systems run elsewhere (GLiNER, an API)
  get a row by the same command.

Under ``torchrun`` or ``accelerate launch`` a token classifier's documents are shared out over the
processes (:meth:`~ecr_hf.token_classification.ECRExtractor.extract_sharded`) and only the first
process writes the folder.

A path with ``{k}`` is one path per fold (a model trained on each fold's training part, or one
predictions file per fold); without it, one model serves every fold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..corpora import DocumentFile, json_line, locate_error, pair_files, read_documents
from ..scoring import DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES
from ..spans import LabelMap
from ..token_classification.config import CONFIG_NAME
from ..utils import atomic_write_folder, is_main_process
from .results import CrossValidationResult, cross_validate, cross_validation_counts

__all__ = ["MODEL_KINDS", "TestSets", "detect_kind", "find_test_sets", "evaluate_model"]

MODEL_KINDS = ("token-classifier", "predictions")
_FOLD = re.compile(r"fold(\d+)")


@dataclass(frozen=True)
class TestSets:
    """The test files of a data set: one per fold (``folds``), or one test set (``folds`` is None)."""

    files: tuple[Path, ...]
    folds: bool

    def name(self, k: int) -> str:
        """The predictions file name of test set ``k``."""
        return f"fold{k}.jsonl" if self.folds else "test.jsonl"


def find_test_sets(data: str | Path) -> TestSets:
    """The test files of ``data``: a file (one test set); a ``cv-split`` folder (``fold{k}/test.jsonl``,
    k = 0, 1, ... without gaps); a folder with ``test.jsonl``; or a path pattern with ``{k}``.

    Examples:
        >>> find_test_sets("missing/fold{k}/test.jsonl")
        Traceback (most recent call last):
        ...
        ValueError: no test file matches missing/fold{k}/test.jsonl (none for k = 0)
    """
    text = str(data)
    if "{k}" in text:
        files = []
        while Path(text.format(k=len(files))).exists():
            files.append(Path(text.format(k=len(files))))
        if not files:
            raise ValueError(f"no test file matches {text} (none for k = 0)")
        return TestSets(tuple(files), True)
    path = Path(data)
    if path.is_file():
        return TestSets((path,), False)
    if not path.is_dir():
        raise ValueError(f"{path}: no such file or folder")
    folds = sorted(int(m.group(1)) for p in path.iterdir() if (m := _FOLD.fullmatch(p.name)) and p.is_dir())
    if folds:
        if folds != list(range(len(folds))):
            raise ValueError(f"{path}: fold folders {[f'fold{k}' for k in folds]} are not fold0 .. "
                             f"fold{len(folds) - 1}")
        files = tuple(path / f"fold{k}" / "test.jsonl" for k in folds)
        if missing := [str(f) for f in files if not f.is_file()]:
            raise ValueError(f"{path}: fold folders without test.jsonl: {missing}")
        return TestSets(files, True)
    if (path / "test.jsonl").is_file():
        return TestSets((path / "test.jsonl",), False)
    raise ValueError(f"{path}: neither fold0/test.jsonl ... (ecr-hf cv-split) nor test.jsonl is in this folder")


def detect_kind(model: str | Path) -> str:
    """The kind of ``model`` (module docstring); a path with ``{k}`` is read for fold 0."""
    path = Path(str(model).replace("{k}", "0"))
    if path.is_file():
        return "predictions"
    config = path / "config.json"
    if not path.is_dir():
        raise ValueError(f"model {model}: no such file or folder (a local model folder or a predictions file; "
                         "Hub ids are not fetched: download the model first)")
    if not config.is_file():
        raise ValueError(f"model {model}: a folder without config.json is not a model folder")
    try:
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise ValueError(f"model {model}: config.json is not a JSON object: {e}") from None
    if any(a.endswith("ForTokenClassification") for a in architectures) or (path / CONFIG_NAME).is_file():
        return "token-classifier"
    if any(a.endswith("ForCausalLM") for a in architectures):
        raise ValueError(f"model {model}: a causal language model ({architectures}); generative evaluation is not "
                         "available in ecr-hf evaluate yet: generate @@...## outputs and evaluate them as a "
                         "predictions file ({doc_id, marked} lines)")
    raise ValueError(f"model {model}: architectures {architectures} are not a token classifier")


def evaluate_model(
    model: str | Path,
    data: str | Path,
    output_dir: str | Path,
    *,
    kind: str | None = None,
    label_map: LabelMap | None = None,
    model_name: str | None = None,
    dataset: str | None = None,
    method: str | None = None,
    family: str | None = None,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float | None = None,
    typed: bool = False,
    length_bins: Sequence[tuple[int, int | None]] = DEFAULT_LENGTH_BINS,
    empty_spans: str = "error",
    batch_size: int = 32,
    max_length: int | None = None,
    n_resamples: int | None = None,
    confidence_level: float = 0.95,
    seed: int = 0,
    input_format: str | None = None,
    read_options: Mapping[str, Any] | None = None,
    description: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> CrossValidationResult:
    """Evaluate ``model`` on the test sets of ``data`` (:func:`find_test_sets`) into ``output_dir``.

    Args:
        model: a model folder or a predictions file (module docstring); ``{k}`` for one per fold.
        kind: one of :data:`MODEL_KINDS` (None: :func:`detect_kind`).
        label_map: applied to the predictions before scoring and writing (:class:`ecr_hf.spans.LabelMap`);
            None: the identity, so a predicted label the data set does not have is an error that lists it.
        model_name, dataset: the leaderboard row's names (None: the model's and the data's folder names).
        method, family: the results file's description (``family``: encoder, decoder, instruction-tuned).
        p_values, score_p, typed, length_bins, empty_spans, n_resamples, confidence_level, seed: as in
            :func:`ecr_hf.leaderboard.cross_validate` (``score_p`` None: the first p).
        batch_size, max_length: token classifiers: windows per forward pass, tokens per window.
        input_format, read_options: the format of the test files and predictions files (None: detected)
            and :func:`ecr_hf.corpora.read_documents`' other options (``discontinuous``, ``label_key``).
        description: more entries for the results file's ``config`` (e.g. the request id of a worker).
        overwrite: replace a non-empty ``output_dir`` whole.

    Returns:
        The scores (the ``results.json`` written); an error in any fold raises before anything is written.
    """
    kind = detect_kind(model) if kind is None else kind
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {list(MODEL_KINDS)}, got {kind!r}")
    output_dir = Path(output_dir)
    main = is_main_process()  # under torchrun / accelerate launch every process predicts, the first one writes
    if main and output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:  # before hours of inference
        raise ValueError(f"{output_dir} is not empty; pass overwrite=True (--overwrite) to replace it whole")
    tests = find_test_sets(data)
    per_fold = "{k}" in str(model)
    if per_fold and not tests.folds:
        raise ValueError(f"model {model} has {{k}} (one per fold) but {data} is one test set")
    read_options = dict(read_options or {})
    predict = _predictor(kind, batch_size=batch_size, max_length=max_length, progress=progress)
    files = []
    for k, test in enumerate(tests.files):
        refs = read_documents(test, input_format, **read_options)
        preds = predict(str(model).format(k=k) if per_fold else str(model), refs, input_format, read_options)
        files.append((refs, preds))
    paired = [pair_files(r, p, typed) for r, p in files]
    refs, preds, texts, faithfulness = (list(x) for x in zip(*paired))
    labels = {s.get("label") if isinstance(s, dict) else s[2] for fold in refs for doc in fold for s in doc or ()}
    mapping = label_map or LabelMap()  # none given: every predicted label must be a label of the data set
    refs, preds = (list(x) for x in zip(*(mapping.apply(r, p, labels=labels) for r, p in zip(refs, preds))))
    typed = typed and not mapping.untyped
    doc_ids = [list(r.docs) for r, _ in files]
    options = dict(texts=texts, p_values=p_values, score_p=p_values[0] if score_p is None else score_p, typed=typed,
                   empty_spans=empty_spans)
    try:
        result = cross_validate(refs, preds, **options, length_bins=length_bins, n_resamples=n_resamples,
                                confidence_level=confidence_level, rng=seed, doc_ids=doc_ids)
        counts = result.counts or cross_validation_counts(refs, preds, **options, doc_ids=doc_ids)
    except ValueError as e:
        fold = re.match(r"fold (\d+): (.*)", str(e), re.DOTALL)
        if fold is None:
            raise
        raise locate_error(ValueError(fold.group(2)), *files[int(fold.group(1))]) from e
    for scores, report in zip(result.folds, faithfulness):
        scores.update(report)
    description = dict(description or {}, model=str(model), kind=kind)
    if label_map is not None:
        description["label_map"] = label_map.to_dict()
    if family is not None:
        description["family"] = family
    out = {"results.json": result.to_json(model_name=model_name or _stem(model), dataset=dataset or _stem(data),
                                          method=method, **description),
           "counts.json": json.dumps(counts.to_dict(), allow_nan=False) + "\n"}
    for k, (ids, spans) in enumerate(zip(doc_ids, preds)):
        out[f"predictions/{tests.name(k)}"] = "".join(json_line({"doc_id": key, "entities": found})
                                                      for key, found in zip(ids, spans))
    if main:
        atomic_write_folder(output_dir, out, overwrite=overwrite)
    return result


def _stem(path: str | Path) -> str:
    """A readable name for a path: the folder or file name, ``{k}`` and fold parts left out."""
    parts = [p for p in Path(str(path)).parts if "{k}" not in p and not _FOLD.fullmatch(p)]
    name = Path(*parts).name if parts else str(path)
    return Path(name).stem if Path(name).suffix in (".jsonl", ".json") else name


def _predictor(kind: str, *, batch_size: int, max_length: int | None, progress: bool):
    """``predict(model path, reference file, input format, read options) -> DocumentFile`` of predictions
    for one test set."""
    if kind == "predictions":
        def read(path: str, refs: DocumentFile, input_format: str | None, options: dict[str, Any]) -> DocumentFile:
            return read_documents(path, input_format, marked=True, **options)
        return read

    from ..token_classification import ECRExtractor

    loaded: dict[str, Any] = {}

    def extract(path: str, refs: DocumentFile, input_format: str | None, options: dict[str, Any]) -> DocumentFile:
        if path not in loaded:  # one model for every fold is loaded once
            loaded.clear()
            loaded[path] = ECRExtractor.from_pretrained(path, batch_size=batch_size, max_length=max_length)
        if missing := [key for key, doc in refs.docs.items() if not isinstance(doc.get("text"), str)]:
            raise ValueError(f"{refs.where(missing[0])}: a model reads the documents' text; {len(missing)} "
                             f"document(s) have none (first: doc_id {missing[0]!r})")
        spans = loaded[path].extract_sharded([doc["text"] for doc in refs.docs.values()], progress=progress)
        docs = {key: {"doc_id": key, "entities": [{k: s[k] for k in ("start", "end", "label")} for s in found]}
                for key, found in zip(refs.docs, spans)}
        return DocumentFile(f"{path} (predictions)", docs, {}, {key: f"{path}: doc_id {key!r}" for key in docs})
    return extract
