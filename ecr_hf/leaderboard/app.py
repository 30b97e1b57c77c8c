"""A Gradio leaderboard over leaderboard files, with a submission form scored by the same core.

:func:`build_app` shows the leaderboard files of a folder (:func:`ecr_hf.leaderboard.load_results`)
as the paper's tables, one data set at a time: mean (SD) over folds of F1/R/P at each p (Table 2),
by gold span length (Tables S19-S21), per label, and the faithfulness of decoded generations
(Table S18), best mean of each column in bold, sortable, filtered by system family. With
``references_dir`` it also takes submissions: a predictions JSONL scored against gold files that
the server holds and never shows, saved as a new leaderboard file (see :func:`score_submission`).

Results files say what a system is in their ``config``: ``family`` is one of :data:`FAMILIES`
(``encoder``, ``decoder`` or ``instruction-tuned``; missing: "unspecified") and ``constrained``
(true/false) whether an instruction-tuned decoder generated under constrained decoding; ``method``
stays free text (``LoRA r=8``...).

References layout: ``references_dir/<data set>/fold{k}/test.jsonl`` for k = 0 .. n-1 (what
``ecr-hf cv-split`` writes; the other split files are ignored) or one
``references_dir/<data set>/test.jsonl``; lines ``{"doc_id", "text", "entities"}``. ``<data set>``
is the ``dataset`` of the results files it extends.

Significance: ``references_dir/<data set>/counts/<results file stem>.counts.json`` holds the
per-document counts of a results file (:func:`ecr_hf.scoring.save_counts`; ``ecr-hf cv-score
--counts``; a submission writes its own). They derive from the gold spans, so they stay with the
references, never in the public results folder. Where the best shown system of a data set (by F1 at
its main p) and at least one other have counts, the "By p" table gets a "vs best F1" column: the
p-value of a paired approximate randomisation test against the best (:func:`ecr_hf.scoring.significance.
compare_to_best`, :data:`SIGNIFICANCE_RESAMPLES` swaps, seed 0, so a page always shows the same
marks) and ``≈`` where it is >= 0.05 (not significantly worse). Without counts the page makes no
claim about significance. A counts file that does not match its results file (other documents or
another F1) is left out with a logged warning.

Model submissions: with ``requests_dir`` (and references), the Submit tab also takes a model that
is on the server's disk (a token-classifier folder or a predictions file; ``{k}`` in the path: one
per fold) and the data sets to evaluate it on. :meth:`Leaderboard.submit_model` checks at once what
it can (name rules and names taken, as for a file; the path; the kind when detected; the label map)
and writes a PENDING request (:class:`~ecr_hf.leaderboard.requests.RequestQueue`); a worker
(:func:`~ecr_hf.leaderboard.worker.run_worker`, ``ecr-hf leaderboard-worker``) evaluates it and
writes its results files. The "Requests" tab lists the requests, newest first, with the whole
reason of a failed one; it and the tables read their folders again on each page load and on its
Refresh, so the worker's results show without a restart.

Precomputed views: the tables, "vs best F1" marks and figures of a (data set, families) choice are built
once and served from a cache (:meth:`Leaderboard.view`; a figure as its image, drawn once). Each request
compares the (name, mtime_ns, size) of the results and counts files with those of the last read, and reads
the folder again and empties the cache only when they differ, so a page load that changes nothing computes
nothing, and a file that a worker, a submission or a hand writes shows on the next one.

Allow-list: a public page must not make the worker read any path of the server's disk, so a model
is taken only from inside ``models_dir`` (relative paths are read in it; the path is resolved, so
``..`` or a symlink that leads out is refused, and so is every fold's path of a ``{k}`` path).
Without ``models_dir`` the server takes no model submissions, whatever ``requests_dir`` says.

Bounds (a public form must not let one stranger's text slow every page or tell anything about the hidden
references): text fields are counted in characters after Unicode NFKC normalisation, stripped, and refuse
control, format and unassigned characters: a system name is 1-:data:`MAX_NAME_CHARS` letters, digits, spaces
or ``. - / ( ) + = , :``, a method at most :data:`MAX_METHOD_CHARS`. A predictions file has at most as many
lines as the data set has test documents, at most :data:`MAX_SPANS_PER_DOCUMENT` spans (or ``@@`` marks) a
line, and only labels that the references have (a model's labels pass its request's label map first, in the
worker). Messages never tell a fact of the hidden references beyond what the rules above name: an offset past
a hidden text is "out of range of the document" (no length), and a prediction line's ``text`` is ignored, so
it cannot be tested against the reference text. Names are compared by :func:`name_keys` (NFKC, case fold and
the UTS #39 confusables skeleton, ICU's, from PyICU): ``bаse`` with a Cyrillic ``а`` or a fullwidth ``ｂａｓｅ``
is taken when ``base`` is.

Errors: the "Errors" tab shows the error browser (:mod:`ecr_hf.error_analysis.browser`) of a references
file and a predictions file that the user uploads (:func:`error_report_page`: JSONL, PubTator, BioC
XML/JSON, detected per file; not BRAT, a folder, nor compressed spaCy DocBin); it never reads the server's
references, which stay private.

Demo: the package ships a worked leaderboard (:data:`DEMO_DIR`: ``results/`` of three systems on
two data sets, made by ``examples/demo_leaderboard.py``; ``references/`` with the per-document
counts of the public-domain NCBI sample only, so its "vs best F1" column shows). :func:`copy_demo`
copies it to a writable folder, so that submissions to the demo never write into the package.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..corpora.pairing import locate_error, pair_documents, pair_files
from ..corpora import detect_format, read_documents, read_jsonl
from ..error_analysis.browser import error_report_html
from ..spans import LabelMap, LabelMapError, SpanError, to_span
from .evaluation import MODEL_KINDS, detect_kind
from .requests import EvaluationRequest, RequestQueue
from .results import (CrossValidationResult, cross_validate, cross_validation_counts, load_results,
                      results_file_name, scoring_settings)
from ..utils.outputs import OutputExistsError, atomic_write_text
from ..scoring.significance import DocumentCounts, compare_to_best, load_counts, save_counts
from ..scoring.soft_match import DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, bin_name, format_p

if TYPE_CHECKING:
    import gradio as gr

__all__ = ["DEMO_DIR", "copy_demo", "FAMILIES", "MAX_SUBMISSION_BYTES", "ERROR_PAGE_MAX_AGE", "SIGNIFICANCE_RESAMPLES",
           "SIGNIFICANCE_LEVEL", "SubmissionError", "ReferenceSet", "load_references", "score_submission",
           "error_report_page", "Leaderboard", "build_app", "serve", "MAX_NAME_CHARS", "MAX_METHOD_CHARS",
           "MAX_SPANS_PER_DOCUMENT", "name_keys"]

MAX_SUBMISSION_BYTES = 16 * 2**20
"""Largest predictions file a submission may upload (16 MiB; also the server's upload limit)."""

FAMILIES = {"encoder": "encoder token classifier", "decoder": "decoder token classifier",
            "instruction-tuned": "instruction-tuned"}
"""``config["family"]`` values and their names in the app."""

SIGNIFICANCE_RESAMPLES = 10_000
"""Swaps of the paired test behind the "vs best" column (p-values near 0.05 good to about ±0.004)."""

SIGNIFICANCE_LEVEL = 0.05
"""A system whose p-value against the best is at least this is marked ``≈`` (not significantly worse)."""

MAX_NAME_CHARS = 100
"""Longest system name, in characters after NFKC (it is drawn in every table and plot legend)."""

MAX_METHOD_CHARS = 200
"""Longest method text, in characters after NFKC (a 20,000-character one made every page load take 33 s)."""

MAX_SPANS_PER_DOCUMENT = 1_000
"""Most spans (or ``@@`` marks of a generation) one prediction line may hold."""

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "leaderboard_demo"
"""The shipped demo leaderboard: ``results/`` and ``references/`` (module docstring)."""

_LOG = logging.getLogger(__name__)
_METRICS = (("F1", "f1"), ("R", "recall"), ("P", "precision"))
_FAITHFULNESS = (("exact copies", "faithfulness_exact_match_rate"), ("similarity", "faithfulness_mean_similarity"),
                 ("spans found", "faithfulness_n_spans_found"), ("spans dropped", "faithfulness_n_spans_dropped"))
_NAME = re.compile(rf"[\w.\-/ ()+=,:]{{1,{MAX_NAME_CHARS}}}")
_SHOWN_UNKNOWN = 5
"""Unknown labels a message quotes (with their count)."""


def copy_demo(target: str | Path) -> tuple[Path, Path]:
    """Copy the demo (:data:`DEMO_DIR`) into the new folder ``target``; its ``(results, references)``
    folders, for :func:`serve`. An existing ``target`` raises :class:`~ecr_hf.utils.OutputExistsError`."""
    target = Path(target)
    if target.exists():
        raise OutputExistsError(f"{target} exists; copy_demo writes a new folder")
    shutil.copytree(DEMO_DIR, target, ignore=shutil.ignore_patterns("*.md"))
    return target / "results", target / "references"


class SubmissionError(ValueError):
    """A refused upload (a submission, or the Errors tab's files); the message says which file, line
    (or fold) and what is wrong."""


@dataclass
class ReferenceSet:
    """The gold test documents of one data set, per fold (``{doc_id: document}``)."""

    dataset: str
    folds: list[dict[str, dict[str, Any]]]

    def fold_of(self) -> dict[str, int]:
        return {key: k for k, fold in enumerate(self.folds) for key in fold}

    @functools.cached_property
    def labels(self) -> frozenset[str | None]:
        """The labels of the gold spans: the only ones a submission may predict (untyped spans always pass)."""
        return frozenset({None} | {to_span(e).label for fold in self.folds for doc in fold.values()
                                   for e in doc.get("entities") or ()})


def name_keys(name: str) -> frozenset[str]:
    """Two system names are the same when these keys meet: NFKC, then the UTS #39 confusables skeleton,
    case folded, then the skeleton again, of the name as given, case folded and upper-cased, so that
    ``bаse`` (Cyrillic ``а``), ``ｂａｓｅ``, ``BASE`` and ``ВАЅЕ`` all meet ``base``. One key is not enough:
    the skeleton tells some capitals from their small letters (``I`` is ``l``, ``i`` stays), and case
    folding loses capital homoglyphs (Cyrillic ``В`` looks like ``B``, its ``в`` not like ``b``)."""
    skeleton = _spoof_checker().getSkeleton
    name = unicodedata.normalize("NFKC", name)
    return frozenset(skeleton(0, skeleton(0, form).casefold()) for form in (name, name.casefold(), name.upper()))


@functools.cache
def _spoof_checker() -> Any:
    """ICU's UTS #39 checker (PyICU, the ``leaderboard`` extra), made once: its skeleton uses Unicode's
    confusables data of the ICU it ships."""
    try:
        import icu
    except ImportError as e:
        raise ImportError("comparing system names needs PyICU: pip install 'ecr-hf[leaderboard]'") from e
    return icu.SpoofChecker()


def _free_text(value: str | None, field: str, limit: int) -> str:
    """``value`` NFKC-normalised and stripped, at most ``limit`` characters and without control, format
    or unassigned characters. A raw text over four times the limit is refused before normalising: NFKC
    can expand one character into 18, and composes at most a few into one."""
    raw = (value or "").strip()
    if len(raw) > 4 * limit:
        raise SubmissionError(f"{field}: {len(raw):,} characters; the limit is {limit:,}")
    text = unicodedata.normalize("NFKC", raw).strip()
    if len(text) > limit:
        raise SubmissionError(f"{field}: {len(text):,} characters (after Unicode NFKC normalisation); "
                              f"the limit is {limit:,}")
    if bad := next((c for c in text if unicodedata.category(c).startswith("C")), None):
        raise SubmissionError(f"{field}: control or invisible character U+{ord(bad):04X} at position "
                              f"{text.index(bad) + 1}; use plain text on one line")
    return text


def load_references(references_dir: str | Path) -> dict[str, ReferenceSet]:
    """Every data set folder of ``references_dir`` (layout in the module docstring). A folder with
    neither layout, a gap in the fold numbers, or a doc_id in two folds' test sets is an error."""
    sets = {}
    for folder in sorted(p for p in Path(references_dir).iterdir() if p.is_dir()):
        numbers = sorted(int(p.name[4:]) for p in folder.glob("fold*") if p.name[4:].isdigit())
        if numbers:
            if numbers != list(range(len(numbers))):
                raise ValueError(f"{folder}: fold folders must be fold0 .. fold{len(numbers) - 1}, got {numbers}")
            paths = [folder / f"fold{k}" / "test.jsonl" for k in numbers]
        else:
            paths = [folder / "test.jsonl"]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"{folder}: no reference file {missing[0]} (layout: <data set>/fold{{k}}/test.jsonl "
                             "or <data set>/test.jsonl)")
        folds = [read_jsonl(p).docs for p in paths]
        seen: dict[str, int] = {}
        for k, fold in enumerate(folds):
            for key in fold:
                if seen.setdefault(key, k) != k:
                    raise ValueError(f"{folder}: doc_id {key!r} is a test document of fold {seen[key]} and fold {k}")
        sets[folder.name] = ReferenceSet(folder.name, folds)
    return sets


def score_submission(
    path: str | Path,
    references: ReferenceSet,
    *,
    p_values: Sequence[float] = DEFAULT_P_VALUES,
    score_p: float = 1.0,
    typed: bool = False,
    length_bins: Sequence[tuple[int, int | None]] = DEFAULT_LENGTH_BINS,
    max_bytes: int = MAX_SUBMISSION_BYTES,
    n_resamples: int | None = None,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> CrossValidationResult:
    """Score one predictions JSONL against every fold of ``references``, as ``ecr-hf cv-score`` does;
    with ``n_resamples``, bootstrap intervals too (:func:`~ecr_hf.leaderboard.cross_validate`). The
    result's ``counts`` always holds the per-document counts (doc_ids in fold order), for the paired
    tests of the "vs best" column.

    The file holds one line per test document of every fold, ``{"doc_id", "entities"}`` spans or
    ``{"doc_id", "marked"}`` ``@@...##`` generations (decoded onto the reference text, with
    ``faithfulness_*`` keys), in any order: each line goes to the fold whose test set holds its
    doc_id, and an optional ``"fold"`` key must name that fold; a line's ``text`` is ignored (the
    references are hidden: comparing it would tell whether a guess of their text is right). Raises
    :class:`SubmissionError` naming the line (or the fold and doc_ids) for a file over ``max_bytes``
    or with more lines than test documents, a malformed line, an unknown, repeated or missing doc_id,
    a wrong fold, more than :data:`MAX_SPANS_PER_DOCUMENT` spans, a label the references do not have,
    or a span out of range of its document; all before any scoring, and never telling a text's length.
    """
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise SubmissionError(f"the file has {size:,} bytes; the limit is {max_bytes:,}")
    n_docs = sum(len(fold) for fold in references.folds)
    with open(path, "rb") as file:  # before parsing: a file cannot make the server read more than it scores
        n_lines = sum(1 for line in file if line.strip())
    if n_lines > n_docs:
        raise SubmissionError(f"the file has {n_lines:,} lines but {references.dataset} has {n_docs:,} test "
                              "documents; give one line per test document")
    try:  # the checked JSONL reader: it keeps the line each doc_id came from
        submitted = read_jsonl(path, marked=True)
    except ValueError as e:
        raise SubmissionError(str(e).replace(f"{path}:", "line ", 1)) from None
    predictions, line_of = submitted.docs, submitted.lines
    if not predictions:
        raise SubmissionError("the file holds no prediction lines")
    fold_of = references.fold_of()
    for key, doc in predictions.items():
        if key not in fold_of:
            raise SubmissionError(f"line {line_of[key]}: doc_id {key!r} is not a test document of {references.dataset}")
        if "fold" in doc and doc["fold"] != fold_of[key]:
            raise SubmissionError(f"line {line_of[key]}: doc_id {key!r} is a test document of fold {fold_of[key]}, "
                                  f"not of fold {doc['fold']!r}")
    _check_spans(predictions, line_of, references)
    predictions = {key: {k: v for k, v in doc.items() if k != "text"} for key, doc in predictions.items()}
    refs, preds, texts, faithfulness = [], [], [], []
    for k, fold in enumerate(references.folds):
        missing = [key for key in fold if key not in predictions]
        if missing:
            raise SubmissionError(f"fold {k}: no prediction line for {len(missing)} of its {len(fold)} test documents "
                                  f"(doc_ids {missing[:5]}); give one line per document, with an empty 'entities' "
                                  "list where nothing was found")
        try:
            paired = pair_documents(fold, {key: predictions[key] for key in fold}, typed)
        except ValueError as e:
            raise SubmissionError(_locate(str(e), fold, line_of)) from None
        for out, value in zip((refs, preds, texts, faithfulness), paired):
            out.append(value)
    try:
        doc_ids = [list(fold) for fold in references.folds]
        result = cross_validate(refs, preds, texts=texts, p_values=p_values, score_p=score_p, typed=typed,
                                length_bins=length_bins, n_resamples=n_resamples, confidence_level=confidence_level,
                                rng=seed, doc_ids=doc_ids)
        if result.counts is None:
            result.counts = cross_validation_counts(refs, preds, texts=texts, p_values=p_values, score_p=score_p,
                                                    typed=typed, doc_ids=doc_ids)
    except ValueError as e:
        match = re.match(r"fold (\d+): (.*)", str(e), re.S)
        message = _locate(match[2], references.folds[int(match[1])], line_of) if match else str(e)
        raise SubmissionError(message) from None
    for scores, report in zip(result.folds, faithfulness):
        scores.update(report)
    return result


def _check_spans(predictions: Mapping[str, Mapping[str, Any]], line_of: Mapping[str, int],
                 references: ReferenceSet) -> None:
    """Refuse, before scoring, a line with too many spans, a malformed span or one out of range of its
    reference text (without telling the text's length), and labels the references lack (all of
    them counted, a few quoted: thousands of made-up labels would make thousands of table columns)."""
    fold_of = references.fold_of()
    unknown: dict[str, int] = {}
    for key, doc in predictions.items():
        where = f"line {line_of[key]} (doc_id {key!r})"
        spans = doc.get("entities")
        n_spans = doc["marked"].count("@@") if spans is None else len(spans)
        if n_spans > MAX_SPANS_PER_DOCUMENT:
            raise SubmissionError(f"{where}: {n_spans:,} spans; the limit is {MAX_SPANS_PER_DOCUMENT:,} a document")
        text = references.folds[fold_of[key]][key].get("text")
        for i, obj in enumerate(spans or ()):
            try:
                span = to_span(obj)
            except SpanError as e:
                raise SubmissionError(f"{where}, span {i}: {e}") from None
            if isinstance(text, str) and span.end > len(text):
                raise SubmissionError(f"{where}, span {i}: offset {span.end} is out of range of the document "
                                      "(offsets are Python code-point indices into the reference text)")
            if span.label not in references.labels:
                unknown.setdefault(span.label, line_of[key])
    if unknown:
        shown = ", ".join(f"{label!r} (line {line})" for label, line in list(unknown.items())[:_SHOWN_UNKNOWN])
        more = ", ..." if len(unknown) > _SHOWN_UNKNOWN else ""
        raise SubmissionError(f"{len(unknown):,} predicted label{'s' if len(unknown) > 1 else ''} that "
                              f"{references.dataset} does not have: {shown}{more}; predict the data set's labels "
                              "(its By label table lists them)")


def _uploaded(text: str, path: str, name: str) -> str:
    """A reader's message or place with the upload's name for the server's temporary path
    (``/tmp/.../x.pubtator:12`` reads ``predictions, line 12``)."""
    return re.sub(re.escape(path) + r"(?::(\d+))?", lambda m: f"{name}, line {m[1]}" if m[1] else name, text)


ERROR_PAGE_MAX_AGE = 3600
"""Seconds an Errors-tab page stays on the server to download (here and in Gradio's file cache)."""


def _keep_error_page(folder: Path, page: str, *, max_age: float = ERROR_PAGE_MAX_AGE) -> Path:
    """Write one Errors-tab page to download into ``folder`` under a name of its own, and delete the
    pages there older than ``max_age`` seconds, so a public server's disk does not fill up click by
    click (Gradio copies a returned file into its cache when it answers, and ``build_app`` has it
    clean that cache on the same schedule)."""
    cutoff = time.time() - max_age
    for old in folder.glob("report-*.html"):
        with contextlib.suppress(FileNotFoundError):  # another click may have pruned it first
            if old.stat().st_mtime < cutoff:
                old.unlink()
    return atomic_write_text(folder / f"report-{uuid.uuid4().hex}.html", page)


def error_report_page(references: str | Path, predictions: str | Path, *, typed: bool = False,
                      max_bytes: int = MAX_SUBMISSION_BYTES) -> str:
    """The error browser page (:func:`ecr_hf.error_analysis.error_report_html`) of two uploaded
    files, read and paired as ``ecr-hf errors`` reads them: each file's format is detected
    (:func:`ecr_hf.corpora.detect_format`: JSONL, whose predictions may be ``marked``
    generations, PubTator, BioC XML or JSON). BRAT, a folder of ``.txt`` and ``.ann`` files, is
    refused (one upload is one file), and so are spaCy's DocBin and Parquet (compressed: a small upload
    could unpack to gigabytes on a public server); BigBIO records as JSON are read. Raises
    :class:`SubmissionError` naming
    the file (``references`` or ``predictions``, never the server's temporary path) and the line
    or annotation: a file over ``max_bytes``, a malformed line, an offset that does not match the
    text, other documents on the two sides, a reference without its text, a bad span."""
    files = []
    for name, path, marked in (("references", references, False), ("predictions", predictions, True)):
        size = Path(path).stat().st_size if Path(path).is_file() else 0
        if size > max_bytes:
            raise SubmissionError(f"{name}: the file has {size:,} bytes; the limit is {max_bytes:,}")
        form = detect_format(path)
        if form == "brat":
            raise SubmissionError(f"{name}: BRAT standoff needs the .txt and .ann files side by side, which one "
                                  "upload cannot give; convert it (ecr_hf.corpora) or run `ecr-hf errors` locally")
        if form == "spacy":  # a DocBin is zlib-compressed msgpack: a small upload can unpack to gigabytes
            raise SubmissionError(f"{name}: spaCy DocBin files are not read on this server; convert them "
                                  "(ecr_hf.corpora.read_docbin, then save_corpus) or run `ecr-hf errors` locally")
        if form == "bigbio" and Path(path).suffix.lower() == ".parquet":  # compressed columns: the same risk
            raise SubmissionError(f"{name}: Parquet files are not read on this server; upload the BigBIO records "
                                  "as JSON Lines, or run `ecr-hf errors` locally")
        try:
            file = read_documents(path, marked=marked)
        except ValueError as e:
            raise SubmissionError(_uploaded(str(e), str(path), name)) from None
        file.path = name  # errors below name the upload, not its temporary path
        file.places = {key: place.replace(str(path), name) for key, place in file.places.items()}  # as JSONL's
        files.append(file)
    try:
        refs, preds, texts, _ = pair_files(*files, typed)
    except ValueError as e:
        raise SubmissionError(str(e)) from None
    if texts is None:
        raise SubmissionError("references: every line needs its 'text': the error browser shows the documents")
    try:
        return error_report_html(refs, preds, texts=texts, doc_ids=list(files[0].docs), typed=typed,
                                 title="E-CCR error browser")
    except ValueError as e:
        raise SubmissionError(str(locate_error(e, *files))) from None


def _locate(message: str, fold: Mapping[str, Any], line_of: Mapping[str, int]) -> str:
    """The scorer names a document by its place in the fold ("document 3, span 0: ...") or by
    doc_id: name the submission's line instead."""
    keys = list(fold)
    if (match := re.match(r"document (\d+)(.*)", message, re.S)) and int(match[1]) < len(keys):
        key = keys[int(match[1])]
        return f"line {line_of[key]} (doc_id {key!r}){match[2]}"
    if match := re.match(r"doc_id (.+?):", message):
        key = next((k for k in keys if repr(k) == match[1]), None)
        if key is not None:
            return f"line {line_of[key]}: {message}"
    return message


def _label_map(text: str | None) -> dict[str, Any] | None:
    """A request's label map from its JSON text (None if empty), checked now rather than by the worker."""
    if not (text or "").strip():
        return None
    try:
        return LabelMap.from_dict(json.loads(text)).to_dict()
    except json.JSONDecodeError as e:
        raise SubmissionError(f"label map: not valid JSON: {e}") from None
    except LabelMapError as e:
        raise SubmissionError(f"label map: {e}") from None


_REQUEST_COLUMNS = {"submitted": "11%", "request": "15%", "system": "11%", "data sets": "8%", "status": "8%",
                    "results": "14%", "reason": "33%"}
"""The Requests table's columns and widths: the reason, last, gets the most (it is what users need)."""
_STATUS_STYLES = {"PENDING": "", "RUNNING": "color: #b45309; font-weight: bold",
                  "FINISHED": "color: #15803d; font-weight: bold", "FAILED": "color: #b91c1c; font-weight: bold"}


def _family(row: Mapping[str, Any]) -> str:
    family = row.get("family")
    if not family:
        return "unspecified"
    name = FAMILIES.get(family, str(family))
    if family == "instruction-tuned" and row.get("constrained") is not None:
        name += ", constrained" if row["constrained"] else ", unconstrained"
    return name


def _listed(value: Any) -> list:
    return json.loads(value) if isinstance(value, str) else list(value)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class View:
    """The page of one data set and family filter, as :meth:`Leaderboard.view` built it."""

    tables: list[dict[str, Any]]
    figures: list[Any]


class Leaderboard:
    """The rows of a results folder, the reference sets submissions are scored against and, with
    ``requests_dir``, the queue of model submissions (``models_dir``: the allow-list, module docstring).

    :meth:`submit` and :meth:`submit_model` check names and write under one lock, so two submissions
    cannot take the same name. :meth:`view` serves the tables and figures from a cache that a change of
    the results or counts files empties; ``figure_image`` turns a figure into what the page shows
    (the app: its PNG, drawn once); ``warm`` builds every data set's view in the background after each
    (re)load (the app sets it)."""

    def __init__(self, results_dir: str | Path, references_dir: str | Path | None = None, *,
                 max_bytes: int = MAX_SUBMISSION_BYTES, requests_dir: str | Path | None = None,
                 models_dir: str | Path | None = None, figure_image: Callable[[Any], Any] | None = None,
                 warm: bool = False):
        self.results_dir = Path(results_dir)
        self.references_dir = None if references_dir is None else Path(references_dir)
        self.references = load_references(references_dir) if references_dir is not None else {}
        self.queue = None if requests_dir is None else RequestQueue(requests_dir)
        if models_dir is not None and not Path(models_dir).is_dir():
            raise ValueError(f"models_dir {models_dir} is not a folder")
        self.models_dir = None if models_dir is None else Path(models_dir).resolve()
        self._ties: dict[tuple, dict[Path, dict[str, Any]]] = {}
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._views_lock = threading.RLock()  # the rows, their snapshot and the views built from them change together
        self._views: dict[tuple[str, tuple[str, ...]], View] = {}
        self._seen: tuple = ()
        self.figure_image: Callable[[Any], Any] = figure_image or (lambda figure: figure)
        self.warm = warm
        self.rows: list[dict[str, Any]] = []
        self.files: list[tuple[Path, dict[str, Any]]] = []
        self.reload()
        for name, refs in self.references.items():
            folds = {row.get("n_folds") for row in self.rows if row.get("dataset") == name}
            if folds - {len(refs.folds)}:
                raise ValueError(f"references of {name!r} have {len(refs.folds)} folds but its results "
                                 f"have {sorted(folds)}: they are not the same split")

    def reload(self) -> list[dict[str, Any]]:
        """Read the results folder again (it is the truth; other processes may add files) and drop the
        views built from the old rows."""
        with self._views_lock:
            seen = self._snapshot()  # before reading: a file changed meanwhile shows as a change next time
            paths = sorted(self.results_dir.glob("*.json")) if self.results_dir.is_dir() else []
            rows = load_results(paths).to_list() if paths else []  # one row per file, in order
            self.rows, self.files = rows, list(zip(paths, rows))  # replaced together: pages read them meanwhile
            self._seen = seen
            self._views = {}
            if self.warm:
                self._warm(rows)
            return rows

    def _warm(self, rows: list[dict[str, Any]]) -> None:
        """Build every data set's view with all families in the background, so that after a start or a
        change the first visitor of each data set is not the one who waits for its tables and figures."""
        def build() -> None:
            for dataset in self.datasets():
                if self.rows is not rows:  # reloaded meanwhile: that reload warms its own rows
                    return
                self.view(dataset, self.families())

        threading.Thread(target=build, daemon=True, name="leaderboard-warm").start()

    def _snapshot(self) -> tuple:
        """(name, mtime_ns, size) of every results file and counts file: a few stat calls, so each request
        can tell whether a worker, a submission or a hand has changed the leaderboard."""
        folders = [self.results_dir]
        if self.references_dir is not None:
            folders += [self.references_dir / name / "counts" for name in self.references]
        entries = []
        for folder in folders:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(folder) as found:
                for entry in found:
                    if entry.name.endswith(".json"):
                        with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                            stat = entry.stat()
                            entries.append((entry.path, stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(entries))

    def sync(self) -> bool:
        """Reload when a results or counts file was added, changed or removed since the last read
        (:meth:`_snapshot`); whether it did."""
        if self._snapshot() == self._seen:
            return False
        with self._views_lock:
            if self._snapshot() == self._seen:  # another request reloaded meanwhile
                return False
            self.reload()
            return True

    def view(self, dataset: str, families: Sequence[str]) -> View:
        """Every table (:data:`_VIEWS`, in order) and figure (:attr:`figure_image` of :meth:`figures`) of
        ``dataset`` and ``families``, built once per (data set, families) until a results or counts file
        changes (:meth:`sync`): a page load that changes nothing computes nothing."""
        self.sync()
        known = self.datasets()
        key = (dataset if dataset in known else "", tuple(f for f in self.families() if f in families))
        if (found := self._views.get(key)) is not None:
            return found
        with self._views_lock:  # one build per key; a reload waits for it, so no view outlives its rows
            if (found := self._views.get(key)) is None:
                if len(self._views) >= 64:  # family filters seldom chosen: rebuilt on demand
                    self._views = {}
                found = View([self.table(view, *key) for view in _VIEWS],
                             [self.figure_image(figure) for figure in self.figures(*key)])
                self._views[key] = found
            return found

    def datasets(self) -> list[str]:
        return list(dict.fromkeys([*(str(row.get("dataset")) for row in self.rows), *self.references]))

    def families(self) -> list[str]:
        names = [_family({"family": f, "constrained": c}) for f in FAMILIES
                 for c in ((False, True) if f == "instruction-tuned" else (None,))]
        return list(dict.fromkeys([*names, *(_family(row) for row in self.rows)]))

    def counts_path(self, results_file: Path, dataset: str) -> Path | None:
        """Where the per-document counts of ``results_file`` live (module docstring); None without
        references."""
        if self.references_dir is None:
            return None
        return self.references_dir / dataset / "counts" / f"{results_file.stem}.counts.json"

    def submit(self, path: str | Path, *, dataset: str, model_name: str, family: str,
               constrained: bool = False, method: str | None = None) -> Path:
        """Score ``path`` against ``dataset``'s references with the settings of its results (p
        values, score_p, typed, length bins, bootstrap) and save a new leaderboard file, and its
        per-document counts beside the references (:meth:`counts_path`). A name that a system on that
        data set already has (by :func:`name_keys`) is refused; nothing is written on any error."""
        model_name = self._checked_entry(model_name, family, [dataset])
        method = _free_text(method, "method", MAX_METHOD_CHARS)
        with self._lock:
            self._check_name_free(model_name, [dataset])
            rows = [row for row in self.rows if row.get("dataset") == dataset]
            settings = scoring_settings(rows)
            target = self.results_dir / results_file_name(dataset, model_name)
            counts_target = self.counts_path(target, dataset)
            for file in (target, counts_target):
                if file.exists():
                    raise SubmissionError(f"a file {file.name} exists already; choose another name")
            result = score_submission(path, self.references[dataset], max_bytes=self.max_bytes, **settings)
            kind = {"constrained": bool(constrained)} if family == "instruction-tuned" else {}
            try:
                save_counts(result.counts, counts_target)
                try:
                    saved = result.save(target, model_name=model_name, dataset=dataset, method=method or None,
                                        family=family, **kind, submitted=True)
                except BaseException:
                    counts_target.unlink()  # no counts without their results file
                    raise
            except OutputExistsError:
                raise SubmissionError(f"a file {target.name} or {counts_target.name} exists already; choose "
                                      "another name") from None
            self.reload()
            return saved

    def _checked_entry(self, model_name: str | None, family: str, datasets: Sequence[str]) -> str:
        """``model_name`` NFKC-normalised and stripped, once the rules of every submission pass: data sets
        this server holds references of, a name of allowed characters, a known family."""
        model_name = _free_text(model_name, "system name", MAX_NAME_CHARS)
        if not datasets:
            raise SubmissionError("choose at least one data set")
        for dataset in datasets:
            if dataset not in self.references:
                raise SubmissionError(f"this server holds no references for data set {dataset!r}")
        if not _NAME.fullmatch(model_name):
            raise SubmissionError(f"give a system name of 1-{MAX_NAME_CHARS} letters, digits, spaces or "
                                  ". - / ( ) + = , :")
        if family not in FAMILIES:
            raise SubmissionError(f"family must be one of {list(FAMILIES)}, got {family!r}")
        return model_name

    def _check_name_free(self, model_name: str, datasets: Sequence[str]) -> None:
        """Refuse a name that a system on one of ``datasets`` has, or one that only looks like it
        (:func:`name_keys`), in the results folder read again or in a request still waiting or running.
        Call it holding the lock."""
        keys = name_keys(model_name)
        for row in self.reload():
            if row.get("dataset") in datasets and name_keys(str(row.get("model_name"))) & keys:
                taken = row.get("model_name")
                raise SubmissionError(f"a system named {taken!r} already has results on {row['dataset']}"
                                      + ("" if taken == model_name else f", and {model_name!r} looks like it")
                                      + "; choose another name")
        for request in self.queue.list() if self.queue is not None else []:
            if (request.status in ("PENDING", "RUNNING") and set(request.datasets) & set(datasets)
                    and name_keys(request.model_name) & keys):
                raise SubmissionError(f"request {request.id} for a system named {request.model_name!r} on "
                                      f"{', '.join(request.datasets)} is {request.status} already; choose another name")

    def submit_model(self, model: str, *, datasets: Sequence[str], model_name: str, family: str,
                     kind: str = "auto", method: str | None = None, label_map: str | None = None
                     ) -> EvaluationRequest:
        """Queue a model on the server's disk (``model``: a path in :attr:`models_dir`, module docstring)
        for the worker to evaluate on ``datasets``; the PENDING request. ``kind``: ``auto`` (detected
        now, as the worker will) or one of :data:`~ecr_hf.leaderboard.MODEL_KINDS`; ``label_map``: its
        JSON text (:meth:`~ecr_hf.spans.LabelMap.from_dict`) or empty. Raises :class:`SubmissionError`,
        and writes nothing, for what can be told now: a server without a models folder, a bad name or
        one taken, a method too long, a path outside the models folder or missing, an undetectable kind, a
        bad label map."""
        if self.queue is None or self.models_dir is None:
            raise SubmissionError("this server does not take model submissions; submit a predictions file instead")
        if kind not in ("auto", *MODEL_KINDS):
            raise SubmissionError(f"kind must be auto or one of {list(MODEL_KINDS)}, got {kind!r}")
        model_name = self._checked_entry(model_name, family, datasets)
        method = _free_text(method, "method", MAX_METHOD_CHARS)
        shown = (model or "").strip()
        path = self._model_path(shown, datasets)
        if kind == "auto":
            try:
                detect_kind(path)
            except ValueError as e:  # the user's path, not the server's absolute one
                raise SubmissionError(str(e).replace(path, shown)) from None
        request = EvaluationRequest(model=path, model_name=model_name, datasets=list(datasets),
                                    kind=None if kind == "auto" else kind, family=family,
                                    method=method or None, label_map=_label_map(label_map))
        with self._lock:
            self._check_name_free(model_name, datasets)
            return self.queue.submit(request)

    def _model_path(self, model: str, datasets: Sequence[str]) -> str:
        """The absolute path the worker will read: ``model`` inside :attr:`models_dir` (relative paths
        are read there), resolved, so that neither ``..`` nor a symlink leads out; with ``{k}``, every
        fold's path. Messages name ``model`` as given, never the server's folders."""
        if not model:
            raise SubmissionError("give the path of a model folder or predictions file in the server's models folder")
        if re.search(r"[{}]", model.replace("{k}", "")):
            raise SubmissionError(f"{model}: the only braces a model path may hold are {{k}} (one model per fold)")
        folds = {dataset: len(self.references[dataset].folds) for dataset in datasets}
        per_fold = "{k}" in model
        if per_fold and (single := [dataset for dataset, n in folds.items() if n == 1]):
            raise SubmissionError(f"{model}: {{k}} names one model per fold, but {', '.join(single)} has one test set")
        template = str(self.models_dir / model)
        for k in range(max(folds.values()) if per_fold else 1):
            try:
                path = Path(template.replace("{k}", str(k))).resolve()
            except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop, a name too long
                raise SubmissionError(f"{model}: not a usable path") from None
            if path == self.models_dir or not path.is_relative_to(self.models_dir):
                raise SubmissionError(f"{model}: not inside this server's models folder; only the models placed "
                                      "there can be submitted (give a path relative to it)")
            if not path.exists():
                raise SubmissionError(f"{model}: no such file or folder in the models folder"
                                      + (f" (fold {k})" if per_fold else ""))
        return template if per_fold else str(path)

    def requests_table(self) -> dict[str, Any]:
        """The requests, newest first, as a ``gr.Dataframe`` value: a finished one's F1 on each data set at
        its main p, a failed one's whole reason (what users most need to see; a path in the models folder
        as it was given)."""
        requests = self.queue.list()[::-1] if self.queue is not None else []  # ids are time-ordered
        rows = {path.name: row for path, row in self.files}
        data, styling = [], []
        for request in requests:
            results = []
            for name in (Path(p).name for p in request.results):
                row = rows.get(name)
                results.append(name if row is None else
                               f"{row['dataset']}: F1 {row['f1']:.3f} at p={format_p(row['score_p'])}")
            when = (request.submitted_at or "").replace("T", " ").replace("+00:00", " UTC")
            reason = request.reason or ""
            if self.models_dir is not None:  # the worker names the model by its path: the page, as it was given
                reason = reason.replace(f"{self.models_dir}{os.sep}", "")
            data.append([when, request.id, request.model_name, ", ".join(request.datasets), request.status,
                         "; ".join(results), reason])
            styling.append(["", "", "", "", _STATUS_STYLES[request.status], "", "overflow-wrap: anywhere"])
        return {"headers": list(_REQUEST_COLUMNS), "data": data, "metadata": {"styling": styling} if data else None}

    def ties(self, dataset: str, families: Sequence[str]) -> dict[Path, dict[str, Any]]:
        """:func:`~ecr_hf.scoring.compare_to_best` by F1 of the shown systems of ``dataset``
        that have counts, keyed by results file; empty (no claim) unless the best shown system and
        at least one other have counts. Cached until a results or counts file changes."""
        return self._ties_of(dataset, self._shown(dataset, families))

    def _ties_of(self, dataset: str, shown: list[tuple[Path, dict[str, Any]]]) -> dict[Path, dict[str, Any]]:
        found = []
        for path, row in shown:
            counts_file = self.counts_path(path, dataset)
            if counts_file is not None and counts_file.is_file():
                found.append((path, row, counts_file, path.stat().st_mtime_ns, counts_file.stat().st_mtime_ns))
        key = (dataset, tuple(path for path, _ in shown), tuple((p, c, m, n) for p, _, c, m, n in found))
        if key not in self._ties:
            if len(self._ties) >= 64:  # old keys: files since changed, or other filters
                self._ties.clear()
            self._ties[key] = self._compare(dataset, shown, found)
        return self._ties[key]

    def _compare(self, dataset: str, shown: list[tuple[Path, dict[str, Any]]], found: list[tuple]
                 ) -> dict[Path, dict[str, Any]]:
        systems: dict[Path, DocumentCounts] = {}
        for path, row, counts_file, *_ in found:
            try:
                systems[path] = self._checked_counts(counts_file, dataset, row)
            except ValueError as e:
                _LOG.warning("leaderboard: %s left out of the significance marks: %s", counts_file, e)
        best = max((_number(row.get("f1")) for _, row in shown), default=math.nan)
        best_paths = {path for path, row in shown if _number(row.get("f1")) == best}
        if len(systems) < 2 or not best_paths & set(systems):
            return {}
        ordered = {str(p): c for p, c in sorted(systems.items(), key=lambda item: item[0] not in best_paths)}
        try:  # a best row first: compare_to_best gives a tie for the best estimate to the first
            marks = compare_to_best(ordered, key="f1", alpha=SIGNIFICANCE_LEVEL, n_resamples=SIGNIFICANCE_RESAMPLES,
                                    rng=0)
            return {Path(name): mark for name, mark in marks.items()}
        except ValueError as e:  # e.g. counts against other references: no marks rather than wrong ones
            _LOG.warning("leaderboard: no significance marks on %s: %s", dataset, e)
            return {}

    def _checked_counts(self, counts_file: Path, dataset: str, row: Mapping[str, Any]) -> DocumentCounts:
        """The counts of one results file, refused unless they are of this data set's test documents
        (per fold, by doc_id where given) and reproduce the file's F1."""
        counts = load_counts(counts_file)
        folds = self.references[dataset].folds if dataset in self.references else None
        if folds is None or counts.strata is None or np.bincount(counts.strata).tolist() != [len(f) for f in folds]:
            raise ValueError("not the per-fold test documents of the references (ecr-hf cv-score --counts over "
                             "the same folds)")
        if counts.doc_ids is not None and list(counts.doc_ids) != [key for fold in folds for key in fold]:
            raise ValueError("its doc_ids are not the references' test documents in fold order")
        f1 = counts.estimate()["f1"]
        if not abs(f1 - _number(row.get("f1"))) <= 1e-9:
            raise ValueError(f"its F1 {f1!r} is not the results file's {row.get('f1')!r}")
        return counts

    # -- tables ------------------------------------------------------------------------------

    def figures(self, dataset: str, families: Sequence[str]) -> list[Any]:
        """Matplotlib figures (:mod:`ecr_hf.leaderboard.plots`) of the systems shown: F1 against p with a ±1 SD
        band, F1 by gold length bin, and every fold's F1; None where there is nothing to draw."""
        from .plots import PlotError, plot_f1_by_length, plot_f1_by_p, plot_fold_scatter

        files = [path for path, row in self.files if str(row.get("dataset")) == dataset and _family(row) in families]
        out = []
        for plot in (plot_f1_by_p, plot_f1_by_length, plot_fold_scatter):
            try:
                out.append(plot(files, dataset=dataset) if files else None)
            except PlotError:  # e.g. runs of one data set at different score_p: the tables still show them
                out.append(None)
        return out

    def _shown(self, dataset: str, families: Sequence[str]) -> list[tuple[Path, dict[str, Any]]]:
        """(results file, row) of the systems shown, from one snapshot of the folder."""
        return [(path, row) for path, row in self.files if str(row.get("dataset")) == dataset
                and _family(row) in families]

    def table(self, view: str, dataset: str, families: Sequence[str], digits: int = 3) -> dict[str, Any]:
        """One view (``p``, ``length``, ``label`` or ``faithfulness``) of one data set, as a
        ``gr.Dataframe`` value (see :func:`_frame`)."""
        shown = self._shown(dataset, families)
        rows = [row for _, row in shown]
        if view == "faithfulness":
            rows = [row for row in rows if any(row.get(key) is not None for _, key in _FAITHFULNESS)]
        lead: list[tuple] = [("system", [str(row.get("model_name")) for row in rows]),
                                             ("family", [_family(row) for row in rows])]
        if view == "label":
            labels = sorted({k[6:-7] for row in rows for k in row if k.startswith("label_") and k.endswith("_n_gold")
                             and row[k] is not None})
            pairs = [(row, label) for label in labels for row in rows if row.get(f"label_{label}_n_gold") is not None]
            rows = [row for row, _ in pairs]
            lead = [("label", [label for _, label in pairs]), ("system", [str(row.get("model_name")) for row in rows]),
                    ("family", [_family(row) for row in rows]),
                    ("gold spans", [row.get(f"label_{label}_n_gold") for row, label in pairs])]
            columns = [(title, [f"label_{label}_{key}" for _, label in pairs]) for title, key in _METRICS]
        else:
            columns = [(title, [key] * len(rows)) for title, key in self._columns(view, rows)]
        if view == "p" and (ties := self._ties_of(dataset, shown)):
            marks = [ties.get(path) for path, _ in shown]
            lead.append(("vs best F1", [None if m is None else m["p_value"] for m in marks],
                         [_mark(m) for m in marks]))
        return _frame(rows, lead, columns, digits, group=view == "label")

    @staticmethod
    def _columns(view: str, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
        if view == "faithfulness":
            return list(_FAITHFULNESS)
        if not rows:
            return []
        if view == "p":
            groups = [(f"p={format_p(p)}", f"p{format_p(p)}") for p in _listed(rows[0]["p_values"])]
        elif view == "length":
            groups = [(bin_name(*b), f"len_{bin_name(*b)}") for b in _listed(rows[0]["length_bins"])]
        else:
            raise ValueError(f"unknown view {view!r}")
        return [(f"{title} {metric}", f"{prefix}_{key}") for title, prefix in groups for metric, key in _METRICS]


def _mark(mark: Mapping[str, Any] | None) -> str:
    """A "vs best F1" cell: ``best``, ``≈ p=0.31`` (not significantly worse), ``p=0.002``, or ``-``
    (no counts for that system)."""
    if mark is None:
        return "-"
    if mark["best"]:
        return "best"
    return f"{'≈ ' if mark['tied_with_best'] else ''}p={mark['p_value']:.2g}"


def _frame(rows: Sequence[Mapping[str, Any]], lead: list[tuple],
           columns: list[tuple[str, list[str]]], digits: int, group: bool) -> dict[str, Any]:
    """A ``gr.Dataframe`` value: the data are the means (so columns sort by number), the shown
    cells read ``mean (SD)``, then ``[low, high]`` where the file has a bootstrap interval (``-``
    where no fold defines the value), the best mean of each column (per label when ``group``) in
    bold; rows sorted by the first value column. A ``lead`` column is ``(title, values)`` or
    ``(title, values, shown texts)``."""
    n = len(rows)
    means = np.array([[_number(row.get(key)) for row, key in zip(rows, keys)] for _, keys in columns],
                     dtype=np.float64).reshape(len(columns), n).T
    sds, lows, highs = (np.array([[_number(row.get(f"{key}{suffix}")) for row, key in zip(rows, keys)]
                                  for _, keys in columns], dtype=np.float64).reshape(len(columns), n).T
                        for suffix in ("_sd", "_ci_low", "_ci_high"))
    groups = np.unique(np.array([str(v) for v in lead[0][1]] if group else [""] * n, dtype=object),
                       return_inverse=True)[1].reshape(n)
    first = np.nan_to_num(-means[:, 0], nan=np.inf) if columns else np.zeros(n)
    order = np.lexsort((first, groups))
    means, sds, lows, highs, groups = means[order], sds[order], lows[order], highs[order], groups[order]
    bold = np.zeros(means.shape, dtype=bool)
    for g in np.unique(groups):
        mask = groups == g
        if mask.sum() > 1:
            best = np.max(np.where(mask[:, None] & ~np.isnan(means), means, -np.inf), axis=0)
            bold |= mask[:, None] & (means == best)
    data, shown, styling = [], [], []
    for i, k in enumerate(order.tolist()):
        head = [column[1][k] for column in lead]
        data.append([*head, *(None if math.isnan(m) else float(m) for m in means[i])])
        cells = [_cell(*values, digits) for values in zip(means[i], sds[i], lows[i], highs[i])]
        shown.append([*(column[2][k] if len(column) > 2 else "" if v is None else str(v)
                        for column, v in zip(lead, head)), *cells])
        styling.append([""] * len(lead) + ["font-weight: bold" if b else "" for b in bold[i]])
    return {"headers": [column[0] for column in lead] + [title for title, _ in columns], "data": data,
            "metadata": {"display_value": shown, "styling": styling} if data else None}


def _cell(mean: float, sd: float, low: float, high: float, digits: int) -> str:
    if math.isnan(mean):
        return "-"
    text = f"{mean:.{digits}f}" if math.isnan(sd) else f"{mean:.{digits}f} ({sd:.{digits}f})"
    return text if math.isnan(low) or math.isnan(high) else f"{text} [{low:.{digits}f}, {high:.{digits}f}]"


_VIEWS = {
    "p": ("By p", "Weighted soft match F1 / recall / precision at each fragmentation penalty p (paper Table 2); "
                  "p = 1 is character-level scoring, a larger p punishes finding one concept in fragments."),
    "length": ("By gold length", "The same at the runs' main p, by span length in characters (Tables S19-S21): "
                                 "recall from the gold spans of a bin, precision from the predicted spans of it."),
    "label": ("By label", "Per entity label at the main p: recall over that label's gold spans, precision over "
                          "its predicted spans (gold spans: mean per fold)."),
    "faithfulness": ("Faithfulness", "Generative systems, whose 'marked' generations were decoded onto the source "
                                     "text (Table S18): share of exact copies, mean similarity, spans found and "
                                     "dropped per fold."),
}
_INTRO = f"""# E-CCR leaderboard
Mean (SD) over cross-validation folds (SD: sample SD, ddof = 1; no SD from one test set). Best mean of each
column in **bold**; sort by a column from the ⋮ menu of its header. `-`: no fold defines the value (e.g. no
span of that length). `[low, high]`: bootstrap interval of the mean (documents resampled within each fold;
95% unless the results file says otherwise), where the results file has one.
**vs best F1** (By p; only where the server holds per-document counts of the best system and another):
p-value of a paired approximate randomisation test against the best F1 (documents' outputs swapped between
the two systems within each fold, {SIGNIFICANCE_RESAMPLES:,} swaps); `≈`: p ≥ {SIGNIFICANCE_LEVEL:g}, not
significantly worse than the best (no correction for several comparisons); `-`: no counts for that system.
Without the column, the page makes no claim about significance."""
_SUBMIT = """### Submit a predictions file
Upload one predictions JSONL for every test document of the chosen data set (all its folds in one
file): one line per document, `{{"doc_id": ..., "entities": [{{"start", "end", "label"}}]}}` character spans
or `{{"doc_id": ..., "marked": "@@...## text"}}` generations (decoded onto the reference text); an optional
`"fold"` must name the fold whose test set holds the document. It is scored with the data set's p values and
length bins and added as a new system; a name already on that data set, or one that only looks like it, is
refused. Limits: {limit} MiB, one line per test document, {spans:,} spans a line, the data set's labels only;
a name of at most {name} characters, a method of at most {method}. The reference files are never shown."""


_SUBMIT_MODEL = """### Or submit a model
A model already on this server, in its models folder: a token-classification model folder (as `ecr-hf train`
saves it, or a `transformers` checkpoint) or a predictions file (any format ecr-hf reads). Give its path
relative to the models folder; `{k}` in it names one model per fold (`cv/fold{k}/model`). Nothing outside the
models folder is taken. The name, path and label map are checked now; a worker then evaluates the model on
every fold of each chosen data set, with that data set's settings, and adds a row per data set. Follow it in
the **Requests** tab. The optional label map maps the model's labels onto the data set's:
`{"map": {"DISEASE": "Disease"}, "drop": ["GENE"], "untyped": false}`; without one, a predicted label that
the data set does not have fails the request."""
_NO_MODELS = """### Model submissions
This server does not take model submissions (it has no models folder): submit a predictions file above."""
_REQUESTS = """Model submissions, newest first. **PENDING**: waiting for the worker; **RUNNING**: being evaluated;
**FINISHED**: its rows are on the leaderboard (F1 at the data set's main p); **FAILED**: the reason says why,
and nothing was added. **Refresh** reads the requests and the results again (so does reloading the page)."""
_KINDS = [("auto (detected)", "auto"), ("token classifier (model folder)", "token-classifier"),
          ("predictions file", "predictions")]


_ERRORS = """Upload a references file (with the texts) and a predictions file of the same documents to see every
error: missed, spurious, fragmented, merged, wrong type, boundary, sorted by the characters each costs the weighted
soft match score at p = 1 (as `ecr-hf errors` writes it), beside the SemEval-2013 counts of the spans as given.
Each file's format is detected: JSONL (`.jsonl`: `{{"doc_id", "text", "entities"}}` per line; predictions may give
`{{"doc_id", "marked"}}` generations), PubTator (`.pubtator`, or `.txt` starting `PMID|t|`), BioC XML (`.xml`) or
JSON (`.json`), BigBIO kb records as JSON or JSON Lines. BRAT needs a folder of `.txt` and `.ann` files, which one
upload cannot give, and spaCy DocBin and Parquet files are not read here: convert them first, or run `ecr-hf errors`
locally. Only the files you upload are read;
the leaderboard's own references are never used here. Limit: {limit} MiB per file; the page stays an hour to
download."""

_UPLOAD_TYPES = [".jsonl", ".json", ".pubtator", ".txt", ".xml"]


def build_app(results_dir: str | Path, references_dir: str | Path | None = None, *,
              max_submission_bytes: int = MAX_SUBMISSION_BYTES, requests_dir: str | Path | None = None,
              models_dir: str | Path | None = None) -> gr.Blocks:
    """The leaderboard page over ``results_dir``, with a "Submit" tab when ``references_dir`` is
    given (submissions are saved into ``results_dir``) and an "Errors" tab (the error browser of two
    uploaded files, :func:`error_report_page`). With ``requests_dir`` too, the Submit tab also queues
    models found in ``models_dir`` for the worker, and a "Requests" tab shows the queue (module
    docstring). Launch it with ``max_file_size=max_submission_bytes`` so that the server refuses
    larger uploads too (:func:`serve` does)."""
    try:
        import gradio as gr
    except ImportError as e:
        raise ImportError("the leaderboard app needs gradio: pip install 'ecr-hf[leaderboard]'") from e
    # a figure becomes its image once, when its view is built, not on every answer that shows it
    board = Leaderboard(results_dir, references_dir, max_bytes=max_submission_bytes, requests_dir=requests_dir,
                        models_dir=models_dir, figure_image=gr.Plot(render=False).postprocess, warm=True)
    datasets, families = board.datasets(), board.families()
    first = board.view(datasets[0] if datasets else "", families)

    def tables(dataset: str | None, chosen: list[str]) -> list[Any]:
        """Every table and figure of the page, for one data set and the chosen families (cached)."""
        view = board.view(dataset or "", chosen or [])
        return [*view.tables, *view.figures]

    def refresh(dataset: str | None, chosen: list[str], known: list[str]) -> list[Any]:
        """The page, with the results folder read again if it changed; a family that this page has not
        seen yet (a new file's) is shown, or its rows would stay hidden behind the filter."""
        board.sync()
        names, now = board.datasets(), board.families()
        dataset = dataset if dataset in names else (names[0] if names else None)
        chosen = [f for f in now if f in (chosen or []) or f not in known]
        return [gr.Dropdown(choices=names, value=dataset), gr.CheckboxGroup(choices=now, value=chosen), now,
                *tables(dataset, chosen)]

    def refresh_all(dataset: str | None, chosen: list[str], known: list[str]) -> list[Any]:
        """:func:`refresh`, and the Requests tab's table read again."""
        return [*refresh(dataset, chosen, known), board.requests_table()]

    error_pages = Path(tempfile.mkdtemp(prefix="ecr-hf-errors-"))  # the Errors tab's pages to download
    # Gradio's cache holds every upload and every returned file: clean it hourly of files over an hour old
    with gr.Blocks(title="E-CCR leaderboard", delete_cache=(ERROR_PAGE_MAX_AGE, ERROR_PAGE_MAX_AGE)) as demo:
        gr.Markdown(_INTRO)
        with gr.Row():
            dataset = gr.Dropdown(datasets, value=datasets[0] if datasets else None, label="data set",
                                  elem_id="dataset")
            chosen = gr.CheckboxGroup(families, value=families, label="system family", elem_id="families")
        known = gr.State(families)  # the families this page has offered, to tell a new one
        frames = []
        with gr.Tabs():
            for view, (title, note) in _VIEWS.items():
                with gr.Tab(title, id=view, elem_id=f"tab-{view}"):
                    gr.Markdown(note)
                    frames.append(gr.Dataframe(first.tables[len(frames)], interactive=False,
                                               elem_id=f"table-{view}", max_height=700))
            with gr.Tab("Plots", id="plots", elem_id="tab-plots"):
                gr.Markdown("F1 against p (mean over folds, ±1 SD band), F1 by gold length, and every "
                            "fold's F1 per system (bar: mean, whiskers: ±1 SD).")
                frames += [gr.Plot(figure, elem_id=f"plot-{name}", show_label=False) for name, figure in
                           zip(("p", "length", "folds"), first.figures)]
            refreshed = [dataset, chosen, known, *frames]  # what refresh() gives
            if board.references:
                with gr.Tab("Submit", id="submit", elem_id="tab-submit"):
                    gr.Markdown(_SUBMIT.format(limit=f"{max_submission_bytes / 2**20:g}", spans=MAX_SPANS_PER_DOCUMENT,
                                                name=MAX_NAME_CHARS, method=MAX_METHOD_CHARS))
                    with gr.Row():
                        target = gr.Dropdown(list(board.references), value=next(iter(board.references)),
                                             label="data set", elem_id="submit-dataset")
                        name = gr.Textbox(label="system name", max_length=MAX_NAME_CHARS, elem_id="submit-name")
                        family = gr.Dropdown([(label, key) for key, label in FAMILIES.items()], value="encoder",
                                             label="family", elem_id="submit-family")
                        constrained = gr.Checkbox(label="constrained decoding (instruction-tuned)",
                                                  elem_id="submit-constrained")
                        method = gr.Textbox(label="method (optional, e.g. LoRA r=8)", max_length=MAX_METHOD_CHARS,
                                            elem_id="submit-method")
                    upload = gr.File(label="predictions JSONL", file_types=[".jsonl"], type="filepath",
                                     elem_id="submit-file")
                    button = gr.Button("Submit", variant="primary", elem_id="submit-button")
                    status = gr.Textbox(label="result", interactive=False, elem_id="submit-status")
                    if board.queue is not None and board.models_dir is None:
                        gr.Markdown(_NO_MODELS)
                    elif board.queue is not None:
                        gr.Markdown(_SUBMIT_MODEL)
                        with gr.Row():
                            model_path = gr.Textbox(label="model path (in the models folder)",
                                                    placeholder="my-model  or  cv/fold{k}/model  or  preds.jsonl",
                                                    elem_id="model-path")
                            model_kind = gr.Dropdown(_KINDS, value="auto", label="kind", elem_id="model-kind")
                            model_name = gr.Textbox(label="system name", max_length=MAX_NAME_CHARS,
                                                    elem_id="model-name")
                            model_family = gr.Dropdown([(label, key) for key, label in FAMILIES.items()],
                                                       value="encoder", label="family", elem_id="model-family")
                            model_method = gr.Textbox(label="method (optional)", max_length=MAX_METHOD_CHARS,
                                                      elem_id="model-method")
                        model_datasets = gr.CheckboxGroup(list(board.references), value=list(board.references),
                                                          label="data sets to evaluate on", elem_id="model-datasets")
                        model_labels = gr.Textbox(label="label map (optional JSON)", lines=2,
                                                  placeholder='{"map": {"DISEASE": "Disease"}, "drop": ["GENE"]}',
                                                  elem_id="model-label-map")
                        model_button = gr.Button("Submit model", variant="primary", elem_id="model-button")
                        model_status = gr.Textbox(label="request", interactive=False, elem_id="model-status")

                def submit(target: str, name: str, family: str, constrained: bool, method: str, upload: str | None,
                           dataset: str | None, chosen: list[str], known: list[str]) -> list[Any]:
                    try:
                        if not upload:
                            raise SubmissionError("choose a predictions file to upload")
                        path = board.submit(upload, dataset=target, model_name=name, family=family,
                                            constrained=constrained, method=method)
                    except SubmissionError as e:  # the upload is cleared either way: a new try is a new file
                        return [f"not added: {e}", None, *refresh(dataset, chosen, known)]
                    row = next(r for file, r in board.files if file.name == path.name)
                    message = (f"added {row['model_name']!r} on {target} ({path.name}): "
                               f"F1 {row['f1']:.3f} at p={format_p(row['score_p'])}")
                    return [message, None, *refresh(target, chosen, known)]

                button.click(submit, [target, name, family, constrained, method, upload, *refreshed[:3]],
                             [status, upload, *refreshed])
            if board.queue is not None:
                with gr.Tab("Requests", id="requests", elem_id="tab-requests"):
                    gr.Markdown(_REQUESTS)
                    requests_button = gr.Button("Refresh", size="sm", elem_id="requests-refresh")
                    requests = gr.Dataframe(board.requests_table(), interactive=False, wrap=True, max_height=700,
                                            column_widths=list(_REQUEST_COLUMNS.values()), elem_id="requests-table")
                refreshed.append(requests)

                if board.references and board.models_dir is not None:
                    def submit_model(path: str, kind: str, name: str, family: str, method: str,
                                     targets: list[str], label_map: str) -> list[Any]:
                        try:
                            request = board.submit_model(path, datasets=targets or [], model_name=name,
                                                         family=family, kind=kind, method=method,
                                                         label_map=label_map)
                        except SubmissionError as e:
                            return [f"not queued: {e}", board.requests_table()]
                        return [f"queued as request {request.id}: a worker will evaluate {request.model_name!r} on "
                                f"{', '.join(request.datasets)}; follow it in the Requests tab",
                                board.requests_table()]

                    model_button.click(submit_model, [model_path, model_kind, model_name, model_family,
                                                      model_method, model_datasets, model_labels],
                                       [model_status, requests])

                requests_button.click(refresh_all, refreshed[:3], refreshed)
            with gr.Tab("Errors", id="errors", elem_id="tab-errors"):
                gr.Markdown(_ERRORS.format(limit=f"{max_submission_bytes / 2**20:g}"))
                with gr.Row():
                    # an upload keeps its file name (gradio's cache folder per file), so its suffix tells the format
                    error_refs = gr.File(label="references (JSONL, PubTator, BioC)", file_types=_UPLOAD_TYPES,
                                         type="filepath", elem_id="errors-references")
                    error_preds = gr.File(label="predictions (JSONL, PubTator, BioC)",
                                          file_types=_UPLOAD_TYPES, type="filepath", elem_id="errors-predictions")
                error_typed = gr.Checkbox(label="typed (a fragment counts only where the labels agree)",
                                          elem_id="errors-typed")
                error_button = gr.Button("Show errors", variant="primary", elem_id="errors-button")
                error_status = gr.Textbox(label="result", interactive=False, elem_id="errors-status")
                error_view = gr.HTML(elem_id="errors-view")
                error_file = gr.File(label="the page, to keep (report.html)", interactive=False,
                                     elem_id="errors-download")

            def show_errors(references: str | None, predictions: str | None, typed: bool) -> list[Any]:
                try:
                    if not references or not predictions:
                        raise SubmissionError("choose a references file and a predictions file")
                    page = error_report_page(references, predictions, typed=typed, max_bytes=max_submission_bytes)
                except SubmissionError as e:
                    return [f"error: {e}", "", None]
                path = _keep_error_page(error_pages, page)
                # sandboxed: the page's script runs in an origin of its own, away from the app's
                frame = (f'<iframe title="error browser" sandbox="allow-scripts" '
                         f'srcdoc="{html.escape(page, quote=True)}" '
                         'style="width: 100%; height: 900px; border: 1px solid #ddd"></iframe>')
                return [f"{len(page):,} bytes; also to download below", frame, str(path)]

            error_button.click(show_errors, [error_refs, error_preds, error_typed],
                               [error_status, error_view, error_file])
        dataset.change(tables, [dataset, chosen], frames)
        chosen.change(tables, [dataset, chosen], frames)
        demo.load(refresh_all if board.queue is not None else refresh, refreshed[:3], refreshed)
    return demo


def serve(results_dir: str | Path, references_dir: str | Path | None = None, *, host: str = "127.0.0.1",
          port: int | None = None, max_submission_bytes: int = MAX_SUBMISSION_BYTES,
          requests_dir: str | Path | None = None, models_dir: str | Path | None = None) -> None:
    """Run the leaderboard page until interrupted (``ecr-hf leaderboard serve``); ``requests_dir`` and
    ``models_dir`` as in :func:`build_app`."""
    build_app(results_dir, references_dir, max_submission_bytes=max_submission_bytes, requests_dir=requests_dir,
              models_dir=models_dir).launch(server_name=host, server_port=port, max_file_size=max_submission_bytes)
