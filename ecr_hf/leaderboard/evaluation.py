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
* ``"causal-lm"``: a ``*ForCausalLM`` folder, or a PEFT LoRA adapter folder whose base model is a local
  folder (:class:`CausalLMExtractor`): each test document is prompted whole (:class:`GenerationOptions`:
  template, k-shot examples from the fold's training part, typed markers or per-label queries,
  constrained decoding), generated for in length-sorted batches and decoded onto its text by the
  shared decoder; the ``faithfulness_*`` report joins the fold's scores as for ``{doc_id, marked}`` files;
* ``"predictions"``: a predictions file (JSONL ``{doc_id, entities}`` or ``{doc_id, marked}``
  generations, or any corpus format ecr-hf reads), so that systems run elsewhere (GLiNER, an API)
  get a row by the same command.

Under ``torchrun`` or ``accelerate launch`` a model's documents (a causal LM's prompts) are shared
out over the processes as
:meth:`~ecr_hf.token_classification.ECRExtractor.extract_sharded` does, and only the first process
writes the folder.

A path with ``{k}`` is one path per fold (a model trained on each fold's training part, or one
predictions file per fold); without it, one model serves every fold.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..corpora import DocumentFile, json_line, locate_error, pair_files, read_documents
from ..instruct.templates import TYPED_MODES, resolve_template
from ..scoring import DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES
from ..spans import LabelMap, to_spans
from ..token_classification.config import CONFIG_NAME
from ..utils import atomic_write_folder, is_main_process, run_sharded
from .results import CrossValidationResult, cross_validate, cross_validation_counts

__all__ = ["MODEL_KINDS", "TestSets", "GenerationOptions", "CausalLMExtractor", "adapter_base", "detect_kind",
           "draw_shots", "find_test_sets", "evaluate_model", "score_fold_files"]

MODEL_KINDS = ("token-classifier", "causal-lm", "predictions")
SHOT_SEPARATOR = "\n\n"
"""What follows each example answer before the next prompt, when examples are prefixed to a plain prompt."""
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
    if not path.is_dir():
        raise ValueError(f"model {model}: no such file or folder (a local model folder or a predictions file; "
                         "Hub ids are not fetched: download the model first)")
    if (path / CONFIG_NAME).is_file():
        return "token-classifier"
    if (path / "adapter_config.json").is_file():  # a PEFT adapter: what it adapts decides
        base = adapter_base(path)
        if any(a.endswith("ForCausalLM") for a in _architectures(base, f"model {model}: the adapter's base {base}")):
            return "causal-lm"
        raise ValueError(f"model {model}: a PEFT adapter whose base model {base} is not a *ForCausalLM model; "
                         "adapters are evaluated on causal language models only")
    architectures = _architectures(path, f"model {model}")
    if any(a.endswith("ForTokenClassification") for a in architectures):
        return "token-classifier"
    if any(a.endswith("ForCausalLM") for a in architectures):
        return "causal-lm"
    raise ValueError(f"model {model}: architectures {architectures} are neither a token classifier nor a causal "
                     "language model")


def _architectures(path: Path, what: str) -> list[str]:
    """``architectures`` of the ``config.json`` in ``path`` (``what`` names the folder in errors)."""
    config = path / "config.json"
    if not config.is_file():
        raise ValueError(f"{what}: a folder without config.json is not a model folder")
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise ValueError(f"{what}: config.json is not a JSON object: {e}") from None


def adapter_base(adapter: str | Path) -> Path:
    """The local base model folder a PEFT adapter names (``base_model_name_or_path`` of its
    ``adapter_config.json``; a relative path is tried from the working folder, then from the adapter's).
    Hub ids are not fetched, so the evaluation runs offline and on the weights one names."""
    adapter = Path(adapter)
    try:
        base = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{adapter}/adapter_config.json: no base_model_name_or_path ({e!r})") from None
    for folder in (Path(base), adapter / base):
        if folder.is_dir():
            return folder
    raise ValueError(f"{adapter}: the adapter's base model {base!r} is not a local folder (Hub ids are not fetched); "
                     "download the base model and set base_model_name_or_path in adapter_config.json to its path")


@dataclass(frozen=True)
class GenerationOptions:
    """How a causal LM is prompted and read (``ecr-hf evaluate`` / ``predict`` options of the same names).

    Attributes:
        template: ``"en"``, ``"ja"`` or a template holding ``{input}`` (:func:`ecr_hf.instruct.resolve_template`;
            typed: ``{labels}`` or ``{label}`` too).
        shots: examples before each prompt, drawn (seeded) from the fold's training part; 0: zero-shot.
        typed: None (untyped markers), ``"markers"`` or ``"queries"`` (see README "Typed extraction").
        constrained: faithful constrained decoding (:class:`ecr_hf.instruct.FaithfulMarkerLogitsProcessor`).
        max_new_tokens: the generation budget (None: per batch, as :func:`ecr_hf.instruct.generate_predictions`).
        chat: prompts through the tokenizer's chat template (None: when the tokenizer has one).
    """

    template: str = "en"
    shots: int = 0
    typed: str | None = None
    constrained: bool = False
    max_new_tokens: int | None = None
    chat: bool | None = None

    def __post_init__(self) -> None:
        if self.typed is not None and self.typed not in TYPED_MODES:
            raise ValueError(f"typed must be None or one of {list(TYPED_MODES)}, got {self.typed!r}")
        resolve_template(self.template, self.typed)
        if self.shots < 0:
            raise ValueError(f"shots must be >= 0, got {self.shots}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1 or None, got {self.max_new_tokens}")

    def describe(self) -> dict[str, Any]:
        """The options as results-file ``config`` entries (what a reader needs to reproduce the row)."""
        return {"template": self.template, "shots": self.shots, "typed_generation": self.typed,
                "constrained": self.constrained, "max_new_tokens": self.max_new_tokens}


class CausalLMExtractor:
    """A causal LM as an extractor: prompt each text whole, generate its marked copy, decode it onto the text.

    Prompts are those of :func:`ecr_hf.instruct.to_instruction_dataset` (``unit="document"``); k-shot
    examples come before them, as earlier user/assistant turns through the chat template, or prefixed
    to a plain prompt as ``prompt + answer + SHOT_SEPARATOR`` (the layout the model was tuned on, repeated).
    Generation is :func:`ecr_hf.instruct.generate_predictions` (length-sorted batches, a progress bar),
    decoding :func:`ecr_hf.instruct.decode_generations` (the decoder marked predictions files go through).
    """

    def __init__(self, model: Any, tokenizer: Any, options: GenerationOptions = GenerationOptions(), *,
                 labels: Sequence[str] | None = None, batch_size: int = 8) -> None:
        if options.typed is not None and not labels:
            raise ValueError(f"typed generation ({options.typed!r}) needs the label set: the data set's labels "
                             "(evaluate) or --labels (predict)")
        self.model, self.tokenizer, self.options, self.batch_size = model, tokenizer, options, batch_size
        self.labels = None if options.typed is None else list(labels)
        self.chat = getattr(tokenizer, "chat_template", None) is not None if options.chat is None else options.chat

    @classmethod
    def from_pretrained(cls, path: str | Path, options: GenerationOptions = GenerationOptions(), *,
                        labels: Sequence[str] | None = None, batch_size: int = 8) -> CausalLMExtractor:
        """Load a ``*ForCausalLM`` folder, or a LoRA adapter folder on its local base model (merged into it:
        faster generation, the same answers), on the GPU when there is one."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if (path / "adapter_config.json").is_file():
            from peft import PeftModel

            base = adapter_base(path)
            model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype="auto"), path)
            model = model.merge_and_unload()
            tokenizer = AutoTokenizer.from_pretrained(path if (path / "tokenizer_config.json").is_file() else base)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, dtype="auto")
            tokenizer = AutoTokenizer.from_pretrained(path)
        model.to("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model, tokenizer, options, labels=labels, batch_size=batch_size)

    def rows(self, texts: Sequence[str], examples: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """The generation rows of ``texts`` (one per text; per text and label for queries), each prompt
        after the ``examples`` (``{text, entities}`` documents; for queries, those of the row's label)."""
        if not texts:
            return []
        rows = self._format([{"text": t, "entities": []} for t in texts])
        if not examples:
            return rows
        shots = self._format(examples)
        for row in rows:
            mine = [s for s in shots if s.get("query_label") == row.get("query_label")]
            if self.chat:
                row["prompt"] = [m for s in mine for m in (*s["prompt"], *s["completion"])] + row["prompt"]
            else:
                row["prompt"] = "".join(s["prompt"] + s["completion"] + SHOT_SEPARATOR for s in mine) + row["prompt"]
        return rows

    def _format(self, docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        from ..instruct.formatting import to_instruction_dataset

        return to_instruction_dataset([dict(d) for d in docs], template=self.options.template, unit="document",
                                      conversational=self.chat, typed=self.options.typed,
                                      labels=self.labels).to_list()

    def generate(self, rows: Sequence[Mapping[str, Any]], *, progress: bool = False) -> list[str]:
        """The marked answer of every row, in order."""
        from ..instruct.generation import generate_predictions

        return generate_predictions(self.model, self.tokenizer, rows, batch_size=self.batch_size,
                                    max_new_tokens=self.options.max_new_tokens, constrained=self.options.constrained,
                                    show_progress=progress)

    def extract(self, texts: Sequence[str], examples: Sequence[Mapping[str, Any]] = (), *,
                progress: bool = False) -> tuple[list[list[dict[str, Any]]], dict[str, float]]:
        """``({start, end, label}`` span lists, one per text; the ``faithfulness_*`` report of the generations).
        Under ``torchrun`` / ``accelerate launch`` the rows are shared out over the processes and every
        process gets all the answers back, in order; decoding then runs on all of them."""
        from ..instruct.generation import decode_generations

        rows = self.rows(texts, examples)
        generations = run_sharded(len(rows), lambda mine, main: self.generate([rows[i] for i in mine],
                                                                           progress=progress and main), self.model)
        units, report = decode_generations(rows, generations)
        return [[s.to_dict() for s in unit["spans"]] for unit in units], report.to_dict(prefix="faithfulness_")


def draw_shots(train: str | Path, k: int, seed: int = 0, input_format: str | None = None,
               **read_options: Any) -> list[dict[str, Any]]:
    """``k`` documents ``{text, entities}`` of the file ``train``, drawn without replacement with ``seed``."""
    if k == 0:
        return []
    path = Path(train)
    if not path.is_file():
        raise ValueError(f"--shots {k} draws examples from the training part of the fold, {path}, which does not "
                         f"exist; give --data a cv-split folder (fold{{k}}/train.jsonl beside fold{{k}}/test.jsonl), "
                         "or --shots 0")
    file = read_documents(path, input_format, **read_options)
    if missing := [key for key, doc in file.docs.items() if not isinstance(doc.get("text"), str)]:
        raise ValueError(f"{file.where(missing[0])}: an example needs its 'text'")
    docs = list(file.docs.values())
    if len(docs) < k:
        raise ValueError(f"--shots {k}: {path} holds only {len(docs)} documents")
    drawn = [docs[i] for i in random.Random(seed).sample(range(len(docs)), k)]
    return [{"text": d["text"], "entities": [s.to_dict() for s in to_spans(d.get("entities") or [], text=d["text"])]}
            for d in drawn]


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
    generation: GenerationOptions | None = None,
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
        batch_size, max_length: token classifiers: windows per forward pass, tokens per window; causal LMs:
            prompts per ``generate`` call (``max_length`` unused).
        seed: also draws the k-shot examples of a causal LM.
        input_format, read_options: the format of the test files and predictions files (None: detected)
            and :func:`ecr_hf.corpora.read_documents`' other options (``discontinuous``, ``label_key``).
        generation: causal LMs: prompting and decoding (None: ``GenerationOptions()``, zero-shot, untyped,
            unconstrained). Untyped generation gives unlabelled spans, scored untyped (``typed`` is refused).
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
    generation = generation or GenerationOptions()
    untyped_generation = kind == "causal-lm" and generation.typed is None
    if untyped_generation and typed and not (label_map is not None and label_map.untyped):
        raise ValueError("typed scores need labelled spans, and untyped generation gives none: pass "
                         "typed_generation 'markers' or 'queries' (--typed-generation), or score untyped")
    read_options = dict(read_options or {})
    references = [read_documents(test, input_format, **read_options) for test in tests.files]
    labels = {s.get("label") if isinstance(s, dict) else s[2]
              for file in references for doc in file.docs.values() for s in doc.get("entities") or ()}
    predict = _predictor(kind, batch_size=batch_size, max_length=max_length, progress=progress,
                         generation=generation, labels=sorted(x for x in labels if x is not None), seed=seed)
    files, reports = [], []
    for k, (test, refs) in enumerate(zip(tests.files, references)):
        preds, report = predict(str(model).format(k=k) if per_fold else str(model), refs, test, input_format,
                                read_options)
        files.append((refs, preds))
        reports.append(report)
    paired = [pair_files(r, p, typed) for r, p in files]
    refs, preds, texts, faithfulness = (list(x) for x in zip(*paired))
    faithfulness = [{**decoded, **generated} for decoded, generated in zip(faithfulness, reports)]
    mapping = label_map or LabelMap()  # none given: every predicted label must be a label of the data set
    known = labels | {None} if untyped_generation else labels  # unlabelled spans, scored untyped as by cv-score
    refs, preds = (list(x) for x in zip(*(mapping.apply(r, p, labels=known) for r, p in zip(refs, preds))))
    typed = typed and not mapping.untyped
    doc_ids = [list(r.docs) for r, _ in files]
    options = dict(texts=texts, p_values=p_values, score_p=p_values[0] if score_p is None else score_p, typed=typed,
                   empty_spans=empty_spans)
    result = score_fold_files(files, refs, preds, faithfulness, **options, length_bins=length_bins,
                              n_resamples=n_resamples, confidence_level=confidence_level, seed=seed)
    counts = result.counts
    description = dict(description or {}, model=str(model), kind=kind)
    if kind == "causal-lm":
        description.update(generation.describe())
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


def score_fold_files(files: Sequence[tuple[DocumentFile, DocumentFile]], references: list, predictions: list,
                     faithfulness: Sequence[Mapping[str, float]], *, counts: bool = True,
                     seed: int | None = 0, **options: Any) -> CrossValidationResult:
    """:func:`cross_validate` of fold files already paired (:func:`ecr_hf.corpora.pair_files`), as
    ``ecr-hf cv-score`` and :func:`evaluate_model` score them: an error of fold k names the doc_id and the
    lines of its files, each fold's ``faithfulness_*`` report joins its scores, and ``counts`` (the default)
    fills :attr:`~CrossValidationResult.counts` even without intervals. ``options``: of :func:`cross_validate`."""
    doc_ids = [list(r.docs) for r, _ in files]  # the order pair_files scores them in
    try:
        result = cross_validate(references, predictions, **options, rng=seed, doc_ids=doc_ids)
        if counts and result.counts is None:
            shared = {k: v for k, v in options.items() if k not in ("length_bins", "n_resamples", "confidence_level")}
            result.counts = cross_validation_counts(references, predictions, **shared, doc_ids=doc_ids)
    except ValueError as e:
        fold = re.match(r"fold (\d+): (.*)", str(e), re.DOTALL)
        if fold is None:
            raise
        raise locate_error(ValueError(fold.group(2)), *files[int(fold.group(1))]) from e
    for scores, report in zip(result.folds, faithfulness):
        scores.update(report)
    return result


def _stem(path: str | Path) -> str:
    """A readable name for a path: the folder or file name, ``{k}`` and fold parts left out."""
    parts = [p for p in Path(str(path)).parts if "{k}" not in p and not _FOLD.fullmatch(p)]
    name = Path(*parts).name if parts else str(path)
    return Path(name).stem if Path(name).suffix in (".jsonl", ".json") else name


Predictor = Callable[[str, DocumentFile, Path, str | None, dict[str, Any]], tuple[DocumentFile, dict[str, float]]]


def _predictor(kind: str, *, batch_size: int, max_length: int | None, progress: bool, generation: GenerationOptions,
               labels: list[str], seed: int) -> Predictor:
    """``predict(model path, reference file, its path, input format, read options)`` for one test set: the
    predictions, and the ``faithfulness_*`` report of a causal LM's generations (else empty)."""
    if kind == "predictions":
        def read(path: str, refs: DocumentFile, test: Path, input_format: str | None,
                 options: dict[str, Any]) -> tuple[DocumentFile, dict[str, float]]:
            return read_documents(path, input_format, marked=True, **options), {}
        return read

    loaded: dict[str, Any] = {}

    def load(path: str) -> Any:
        if path not in loaded:  # one model for every fold is loaded once
            loaded.clear()
            if kind == "causal-lm":
                loaded[path] = CausalLMExtractor.from_pretrained(path, generation, labels=labels,
                                                                 batch_size=batch_size)
            else:
                from ..token_classification import ECRExtractor

                loaded[path] = ECRExtractor.from_pretrained(path, batch_size=batch_size, max_length=max_length)
        return loaded[path]

    def extract(path: str, refs: DocumentFile, test: Path, input_format: str | None,
                options: dict[str, Any]) -> tuple[DocumentFile, dict[str, float]]:
        if missing := [key for key, doc in refs.docs.items() if not isinstance(doc.get("text"), str)]:
            raise ValueError(f"{refs.where(missing[0])}: a model reads the documents' text; {len(missing)} "
                             f"document(s) have none (first: doc_id {missing[0]!r})")
        texts = [doc["text"] for doc in refs.docs.values()]
        report: dict[str, float] = {}
        if kind == "causal-lm":  # the examples of a fold come from its own training part
            examples = draw_shots(test.parent / "train.jsonl", generation.shots, seed, input_format, **options)
            spans, report = load(path).extract(texts, examples, progress=progress)
        else:
            spans = load(path).extract_sharded(texts, progress=progress)
        docs = {key: {"doc_id": key, "entities": [{k: s[k] for k in ("start", "end", "label")} for s in found]}
                for key, found in zip(refs.docs, spans)}
        return DocumentFile(f"{path} (predictions)", docs, {}, {key: f"{path}: doc_id {key!r}" for key in docs}), report
    return extract
